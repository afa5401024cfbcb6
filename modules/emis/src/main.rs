//! `emis`: serve EMIS, or operate on its database (schools, staff).
//!
//! Configuration, later wins: built-in defaults, the TOML file given by `--config` (or
//! `./emis.toml` if present), then `EMIS_*` environment variables (`EMIS_LISTEN`,
//! `EMIS_PUBLIC_URL`, `EMIS_DATABASE_URL`, `EMIS_DATA_DIR`, `EMIS_ISSUER`, `EMIS_CLIENT_ID`,
//! `EMIS_CLIENT_SECRET`, `EMIS_CLIENT_KEY_FILE`, `EMIS_CLIENT_KEY_ID`, `EMIS_SERVICE_CLIENT_ID`,
//! `EMIS_SERVICE_CLIENT_SECRET`).
#![forbid(unsafe_code)]

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand, ValueEnum};
use emis::{Config, domain};
use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};

/// EMIS, the Education Management Information System of the Ministry of Education, on Drukyul ID:
/// schools, students by CID, enrolment, marks and report cards.
#[derive(Parser)]
#[command(
    version,
    after_help = "Configuration: --config FILE (TOML; default ./emis.toml if present) and EMIS_* \
environment variables: EMIS_LISTEN (default 127.0.0.1:8083), EMIS_PUBLIC_URL (default http://localhost:8083), \
EMIS_DATABASE_URL (default sqlite://data/emis.db; postgres://... for PostgreSQL), EMIS_DATA_DIR, EMIS_ISSUER \
(default http://localhost:8080), EMIS_CLIENT_ID, EMIS_CLIENT_SECRET or EMIS_CLIENT_KEY_FILE + EMIS_CLIENT_KEY_ID; \
EMIS_SERVICE_CLIENT_ID + EMIS_SERVICE_CLIENT_SECRET: the client_credentials client whose seal (scope seal) is on \
the report card PDFs (default: the web client's own credentials).\n\
Register the client at the identity provider first; one client can log people in and seal the report cards, e.g.:\n  \
idp client add --name EMIS --grant authorization_code --grant refresh_token --grant client_credentials \
--redirect-uri {PUBLIC_URL}/auth/callback --scope \"openid profile national_id seal\" --allow-national-id\n\
The seal names the client (O=<client name>), so name it as the cards should say. A report card the identity \
provider cannot seal when issued (unreachable, no CA yet) stays valid and is sealed by a retry every minute.\n\
Agencies calling GET {PUBLIC_URL}/api/students/CID/enrolment need a client_credentials client with the scope \
emis.enrolment and --resource {PUBLIC_URL}/api."
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
    /// Create or upgrade the database (and load the seed schools into an empty one), then exit.
    Migrate,
    /// Teachers, principals and administrators.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// The schools.
    Schools {
        #[command(subcommand)]
        command: SchoolCommand,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Role {
    /// Records marks at a school.
    Teacher,
    /// Enrols students and issues report cards at a school (and does what a teacher does).
    Principal,
    /// Grants teachers' and principals' roles on /admin/staff.
    Administrator,
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Give CID a role: teacher or principal at a school, or administrator.
    Add {
        /// The person's CID (11 digits).
        cid: String,
        /// The role.
        #[arg(long, value_enum)]
        role: Role,
        /// The school's code (see `emis schools list`); for teacher and principal.
        #[arg(long, required_if_eq_any = [("role", "teacher"), ("role", "principal")])]
        school: Option<String>,
        /// Their name.
        #[arg(long)]
        name: String,
    },
    /// List every role.
    List,
}

#[derive(Subcommand)]
enum SchoolCommand {
    /// List the schools (provisional ones marked).
    List,
    /// Import the Ministry's school list (CSV: code,name,dzongkhag,level; level is primary,
    /// lower_secondary, middle_secondary, higher_secondary or central). All-or-nothing;
    /// replaces the provisional seed schools it does not name, unless they are in use.
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
        None if std::path::Path::new("emis.toml").exists() => f = f.merge(Toml::file("emis.toml")),
        None => {}
    }
    f.merge(Env::prefixed("EMIS_")).extract().map_err(|e| format!("configuration: {e}"))
}

async fn run(cli: Cli) -> Result<(), String> {
    let cfg = load_config(cli.config.as_ref())?;
    let now = agency_kit::now();
    let e = |e: agency_kit::Error| e.to_string();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            agency_kit::server::init_logging();
            let _ = rustls::crypto::ring::default_provider().install_default();
            let (app, _db) = emis::build(&cfg).await.map_err(e)?;
            agency_kit::server::run(app, cfg.listen).await.map_err(|e| e.to_string())
        }
        Command::Migrate => {
            emis::open_db(&cfg.database_url()).await.map_err(e)?;
            println!("database ready");
            Ok(())
        }
        Command::Staff { command: StaffCommand::Add { cid, role, school, name } } => {
            let role = match role {
                Role::Teacher => domain::TEACHER,
                Role::Principal => domain::PRINCIPAL,
                Role::Administrator => domain::ADMINISTRATOR,
            };
            let db = emis::open_db(&cfg.database_url()).await.map_err(e)?;
            let r = domain::add_staff(&db, &cid, role, school.as_deref(), &name, "operator", now).await.map_err(e)?;
            println!(
                "{} is {}{}",
                r.name,
                r.role,
                if r.unit.is_empty() { String::new() } else { format!(" at {}", r.unit) }
            );
            Ok(())
        }
        Command::Staff { command: StaffCommand::List } => {
            let db = emis::open_db(&cfg.database_url()).await.map_err(e)?;
            for r in domain::all_staff(&db).await.map_err(e)? {
                println!("{}\t{}\t{}\t{}", r.cid, r.role, r.unit, r.name);
            }
            Ok(())
        }
        Command::Schools { command: SchoolCommand::List } => {
            let db = emis::open_db(&cfg.database_url()).await.map_err(e)?;
            for s in domain::schools(&db).await.map_err(e)? {
                println!(
                    "{}\t{}\t{}\t{}{}",
                    s.code,
                    s.level.as_str(),
                    s.dzongkhag,
                    s.name,
                    if s.provisional { "\t(provisional: to be checked)" } else { "" }
                );
            }
            Ok(())
        }
        Command::Schools { command: SchoolCommand::Import { file } } => {
            let bytes = std::fs::read(&file).map_err(|err| format!("{}: {err}", file.display()))?;
            let list = domain::parse_schools(&bytes).map_err(e)?;
            let db = emis::open_db(&cfg.database_url()).await.map_err(e)?;
            let r = domain::import_schools(&db, &list, "operator", now).await.map_err(e)?;
            println!(
                "added {}, updated {}, provisional removed {}, provisional kept (in use): {}",
                r.added,
                r.updated,
                r.provisional_removed,
                r.provisional_kept.join(", ")
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
            eprintln!("emis: {m}");
            ExitCode::FAILURE
        }
    }
}
