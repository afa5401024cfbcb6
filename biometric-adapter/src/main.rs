//! `biometric-adapter`: command-line tools over the biometric-adapter library.
//!
//! - `template show FILE` validates a finger minutiae record and prints it as JSON;
//! - `template compare A B` compares two records' fingers with the matcher and prints the score
//!   and the decision at a target false match rate (`--json` for machines). Like `cmp`, it exits
//!   with 0 for a match, 1 for no match and 2 when something is wrong with the input;
//! - `template extract IMAGE [-o OUT]` decodes a finger image (an ISO/IEC 19794-4 record, a WSQ,
//!   PNG, JPEG or JPEG 2000 file, or an SBI capture whose `bioValue` is one), extracts its minutiae with
//!   NIST's MINDTCT and writes them as an ISO/IEC 19794-2:2005 record.
#![forbid(unsafe_code)]

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    process::ExitCode,
};

use biometric_adapter::{
    extract,
    finger_image::{self, Capture, SbiField},
    matcher::{self, FalseMatchRate, FingerTemplate, Subject},
    template,
};
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
    /// Compare the fingers of two records and decide: match or no match at the target false match
    /// rate. Fingers are paired by position; two single-finger records are compared whatever
    /// their positions say. Exit status: 0 match, 1 no match, 2 error.
    Compare {
        /// The probe record.
        a: PathBuf,
        /// The record to compare it with.
        b: PathBuf,
        /// Target false match rate (the share of different fingers, or people, that may match).
        #[arg(long, default_value_t = FalseMatchRate::default().value())]
        fmr: f64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Extract minutiae from a finger image with NIST's MINDTCT and write them as an ISO/IEC
    /// 19794-2:2005 record. The input is an ISO/IEC 19794-4 record (2005 or 2011; WSQ, JPEG 2000,
    /// PNG, JPEG or uncompressed inside), a WSQ, PNG, JPEG or JPEG 2000 file, or an SBI capture data element
    /// (a compact JWS, its base64url payload, or the payload's JSON) whose bioValue is one of
    /// those. The SBI signature is not checked here.
    Extract {
        /// The image, record or SBI capture.
        image: PathBuf,
        /// Where to write the record (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Read an SBI capture's bioExtract instead of its bioValue (MOSIP's mock device service
        /// puts the ISO/IEC 19794-4 record there).
        #[arg(long)]
        bio_extract: bool,
        /// Resolution of image files that do not carry one, in pixels per inch.
        #[arg(long, default_value_t = finger_image::DEFAULT_PPI)]
        ppi: u16,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Template(TemplateCmd::Show { file }) => show(&file),
        Command::Template(TemplateCmd::Compare { a, b, fmr, json }) => compare(&a, &b, fmr, json),
        Command::Template(TemplateCmd::Extract { image, output, bio_extract, ppi }) => {
            let field = if bio_extract { SbiField::BioExtract } else { SbiField::BioValue };
            match extract_file(&image, output.as_deref(), field, ppi) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn extract_file(input: &Path, output: Option<&Path>, field: SbiField, ppi: u16) -> Result<(), String> {
    let size = std::fs::metadata(input).map_err(|e| format!("{}: {e}", input.display()))?.len();
    if size > finger_image::MAX_INPUT as u64 {
        return Err(format!("{}: {size} bytes is above the {}-byte limit", input.display(), finger_image::MAX_INPUT));
    }
    let bytes = std::fs::read(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let capture = Capture::from_bytes(&bytes, field, ppi).map_err(|e| format!("{}: {e}", input.display()))?;
    let record = extract::extract(&capture).map_err(|e| format!("{}: {e}", input.display()))?;
    let encoded = template::write(&record);
    match output {
        Some(path) => std::fs::write(path, &encoded).map_err(|e| format!("{}: {e}", path.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&encoded).and_then(|()| out.flush()).map_err(|e| format!("writing the record: {e}"))?;
        }
    }
    let view = &record.views()[0];
    eprintln!(
        "{:?}: {} minutiae from a {}x{} image at {} ppi ({:?}), quality {}",
        view.finger_position(),
        view.minutiae().len(),
        record.width(),
        record.height(),
        capture.image.ppi(),
        capture.source,
        view.quality()
    );
    Ok(())
}

fn read_record(file: &Path) -> Result<template::Record, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    template::parse(&bytes).map_err(|e| format!("{}: not a valid finger minutiae record: {e}", file.display()))
}

fn show(file: &Path) -> ExitCode {
    let record = match read_record(file) {
        Ok(record) => record,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let json = match serde_json::to_string_pretty(&record) {
        Ok(json) => json,
        Err(e) => {
            eprintln!("error: writing the JSON: {e}");
            return ExitCode::FAILURE;
        }
    };
    match print(&json) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: writing the JSON: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Exit status of `compare` when the input is unusable (1 means "no match").
const TROUBLE: u8 = 2;

fn compare(a: &Path, b: &Path, fmr: f64, json: bool) -> ExitCode {
    let target = match FalseMatchRate::new(fmr) {
        Ok(target) => target,
        Err(e) => {
            eprintln!("error: --fmr: {e}");
            return ExitCode::from(TROUBLE);
        }
    };
    let records = match (read_record(a), read_record(b)) {
        (Ok(ra), Ok(rb)) => (ra, rb),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(TROUBLE);
        }
    };
    let verification = match verify(&records, target) {
        Ok(verification) => verification,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(TROUBLE);
        }
    };
    if verification.fingers.is_empty() {
        eprintln!("error: the records have no finger position in common");
        return ExitCode::from(TROUBLE);
    }
    let decision = if verification.is_match { "match" } else { "no match" };
    let text = if json {
        let fingers: Vec<serde_json::Value> = verification
            .fingers
            .iter()
            .map(|(finger, score)| serde_json::json!({"finger": finger, "score": score.value()}))
            .collect();
        serde_json::json!({
            "fingers": fingers,
            "false_match_rate": verification.false_match_rate,
            "target_fmr": target.value(),
            "threshold": target.threshold().value(),
            "decision": decision,
        })
        .to_string()
    } else {
        let mut text = String::new();
        for (finger, score) in &verification.fingers {
            let finger =
                serde_json::to_value(finger).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            text.push_str(&format!(
                "{finger}: score {:.1} (single-finger threshold {:.1})\n",
                score.value(),
                target.threshold().value()
            ));
        }
        text.push_str(&format!(
            "{decision} at FMR {:e} (estimated false match rate {:.1e})",
            target.value(),
            verification.false_match_rate
        ));
        text
    };
    match print(&text) {
        Ok(()) if verification.is_match => ExitCode::SUCCESS,
        Ok(()) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: writing the result: {e}");
            ExitCode::from(TROUBLE)
        }
    }
}

/// Two single-finger records are compared whatever their positions say (an operator comparing
/// two files means those two fingers); otherwise fingers are paired by position and fused.
fn verify(
    (a, b): &(template::Record, template::Record),
    target: FalseMatchRate,
) -> Result<matcher::Verification, biometric_adapter::Error> {
    if let ([va], [vb]) = (a.views(), b.views()) {
        let (ta, tb) = (FingerTemplate::from_view(a, va)?, FingerTemplate::from_view(b, vb)?);
        let fingers = vec![(vb.finger_position(), matcher::compare(&ta, &tb))];
        let false_match_rate = matcher::fuse(&fingers);
        return Ok(matcher::Verification { is_match: false_match_rate <= target.value(), fingers, false_match_rate });
    }
    Ok(matcher::verify(&Subject::from_record(a)?, &Subject::from_record(b)?, target))
}

/// Prints `text` and a newline. Written by hand rather than with println!, which panics when
/// stdout is closed (`| head`); a closed pipe is not an error for the user.
fn print(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let written = writeln!(out, "{text}").and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
