//! `epis`: serve ePIS, or operate on its database (facilities, staff).
//!
//! Configuration, later wins: built-in defaults, the TOML file given by `--config` (or
//! `./epis.toml` if present), then `EPIS_*` environment variables (`EPIS_LISTEN`,
//! `EPIS_PUBLIC_URL`, `EPIS_DATABASE_URL`, `EPIS_DATA_DIR`, `EPIS_ISSUER`, `EPIS_CLIENT_ID`,
//! `EPIS_CLIENT_SECRET`, `EPIS_CLIENT_KEY_FILE`, `EPIS_CLIENT_KEY_ID`).
#![forbid(unsafe_code)]

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use epis::{Config, domain};
use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};

/// ePIS, the electronic Patient Information System of the Ministry of Health, on Drukyul ID.
#[derive(Parser)]
#[command(
    version,
    after_help = "Configuration: --config FILE (TOML; default ./epis.toml if present) and EPIS_* \
environment variables: EPIS_LISTEN, EPIS_PUBLIC_URL, EPIS_DATABASE_URL, EPIS_DATA_DIR, EPIS_ISSUER, \
EPIS_CLIENT_ID, EPIS_CLIENT_SECRET or EPIS_CLIENT_KEY_FILE + EPIS_CLIENT_KEY_ID.\n\
Register the client at the identity provider first, e.g.:\n  idp client add --name ePIS --grant authorization_code \
--grant refresh_token --redirect-uri {PUBLIC_URL}/auth/callback --scope \"openid profile national_id\" --allow-national-id"
)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Create or upgrade the database (and load the facilities into an empty one), then exit.
    Migrate,
    /// Health workers and administrators.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// The health facilities.
    Facilities {
        #[command(subcommand)]
        command: FacilityCommand,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Give CID the health_worker role at a facility, or (with --administrator) the
    /// administrator role.
    Add {
        /// The person's CID (11 digits).
        cid: String,
        /// The facility's code (see `epis facilities list`).
        #[arg(long, required_unless_present = "administrator")]
        facility: Option<String>,
        /// Make them an administrator (who adds health workers on /admin/staff).
        #[arg(long, conflicts_with = "facility")]
        administrator: bool,
        /// Their name.
        #[arg(long)]
        name: String,
    },
    /// List every role.
    List,
}

#[derive(Subcommand)]
enum FacilityCommand {
    /// List the facilities (placeholders marked).
    List,
    /// Import the Ministry's master facility list (CSV: code,name,kind,dzongkhag; kind is
    /// hospital, bhu1 or bhu2). All-or-nothing; replaces the placeholder names.
    Import {
        /// The CSV file.
        file: PathBuf,
    },
}

fn load_config(path: Option<&PathBuf>) -> Result<Config, String> {
    let mut f = Figment::from(Serialized::defaults(Config::default()));
    match path {
        Some(p) if !p.exists() => return Err(format!("{}: no such file", p.display())),
        Some(p) => f = f.merge(Toml::file(p)),
        None if std::path::Path::new("epis.toml").exists() => f = f.merge(Toml::file("epis.toml")),
        None => {}
    }
    f.merge(Env::prefixed("EPIS_")).extract().map_err(|e| format!("configuration: {e}"))
}

async fn run(cli: Cli) -> Result<(), String> {
    let cfg = load_config(cli.config.as_ref())?;
    let now = agency_kit::now();
    let e = |e: agency_kit::Error| e.to_string();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            agency_kit::server::init_logging();
            let _ = rustls::crypto::ring::default_provider().install_default();
            let (app, _db) = epis::build(&cfg).await.map_err(e)?;
            agency_kit::server::run(app, cfg.listen).await.map_err(|e| e.to_string())
        }
        Command::Migrate => {
            epis::open_db(&cfg.database_url()).await.map_err(e)?;
            println!("database ready");
            Ok(())
        }
        Command::Staff { command: StaffCommand::Add { cid, facility, administrator: _, name } } => {
            let db = epis::open_db(&cfg.database_url()).await.map_err(e)?;
            let r = domain::add_staff(&db, &cid, facility.as_deref(), &name, "operator", now).await.map_err(e)?;
            println!(
                "{} is {} {}",
                r.name,
                r.role,
                if r.unit.is_empty() { String::new() } else { format!("at {}", r.unit) }
            );
            Ok(())
        }
        Command::Staff { command: StaffCommand::List } => {
            let db = epis::open_db(&cfg.database_url()).await.map_err(e)?;
            for r in domain::all_staff(&db).await.map_err(e)? {
                println!("{}\t{}\t{}\t{}", r.cid, r.role, r.unit, r.name);
            }
            Ok(())
        }
        Command::Facilities { command: FacilityCommand::List } => {
            let db = epis::open_db(&cfg.database_url()).await.map_err(e)?;
            for f in domain::facilities(&db).await.map_err(e)? {
                println!(
                    "{}\t{}\t{}\t{}{}",
                    f.code,
                    f.kind,
                    f.dzongkhag,
                    f.name,
                    if f.placeholder { "\t(placeholder)" } else { "" }
                );
            }
            Ok(())
        }
        Command::Facilities { command: FacilityCommand::Import { file } } => {
            let bytes = std::fs::read(&file).map_err(|err| format!("{}: {err}", file.display()))?;
            let list = domain::parse_facilities(&bytes).map_err(e)?;
            let db = epis::open_db(&cfg.database_url()).await.map_err(e)?;
            let r = domain::import_facilities(&db, &list, "operator", now).await.map_err(e)?;
            println!(
                "added {}, updated {}, placeholders removed {}, placeholders kept (in use): {}",
                r.added,
                r.updated,
                r.placeholders_removed,
                r.placeholders_kept.join(", ")
            );
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(m) => {
            eprintln!("epis: {m}");
            ExitCode::FAILURE
        }
    }
}
