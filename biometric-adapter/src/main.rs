//! `biometric-adapter`: command-line tools over the biometric-adapter library.
//!
//! `template show FILE` validates a finger minutiae record and prints it as JSON. There is no
//! `template compare`: comparing needs the matcher, which is a later slice, and a command that
//! printed a made-up score would be worse than none.
#![forbid(unsafe_code)]

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    process::ExitCode,
};

use biometric_adapter::template;
use clap::{Parser, Subcommand};

/// Drukyul ID biometric tools.
#[derive(Parser, Debug)]
#[command(name = "biometric-adapter", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Finger minutiae records (ISO/IEC 19794-2:2005, ANSI INCITS 378-2004).
    #[command(subcommand)]
    Template(TemplateCmd),
}

#[derive(Subcommand, Debug)]
enum TemplateCmd {
    /// Validate a record and print it as JSON; on a malformed record, say at which byte and why.
    Show {
        /// The record file (zero padding after the record is allowed).
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Template(TemplateCmd::Show { file }) => show(&file),
    }
}

fn show(file: &Path) -> ExitCode {
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    let record = match template::parse(&bytes) {
        Ok(record) => record,
        Err(e) => {
            eprintln!("error: {}: not a valid finger minutiae record: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    // Written by hand rather than with println!, which panics when stdout is closed (`| head`).
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer_pretty(&mut out, &record).map_err(std::io::Error::from).and_then(|()| {
        writeln!(out)?;
        out.flush()
    });
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: writing the JSON: {e}");
            ExitCode::FAILURE
        }
    }
}
