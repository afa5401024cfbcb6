//! `citizen-services`: runs Integrated Citizen Services, and the operator's commands (staff
//! roles, migrations, catalogue checks). Configuration: a TOML file (`--config`, default
//! `citizen-services.toml` when present), overridden by `CITIZEN_SERVICES_*` variables
//! (`CITIZEN_SERVICES_CLIENT_SECRET`, ...). See `--help`.
#![forbid(unsafe_code)]

use std::{path::PathBuf, process::ExitCode, time::Duration};

use citizen_services::{App, Settings};
use clap::{Parser, Subcommand};
use figment::{
    Figment,
    providers::{Env, Format, Toml},
};

const SETTINGS_HELP: &str = "\
Settings (TOML keys; each also as CITIZEN_SERVICES_<KEY>, e.g. CITIZEN_SERVICES_CLIENT_SECRET):
  listen                 address to listen on (default 127.0.0.1:8081)
  public_url             the module's public URL (default http://localhost:8081); the identity
                         provider must know <public_url>/auth/callback and <public_url>/signed
                         as redirect URIs of the web client
  database_url           sqlite://PATH (default sqlite://data/citizen-services.db) or postgres://...
  issuer                 the identity provider (default http://localhost:8080)
  client_id, client_secret
                         the web client: authorization_code, scopes openid profile national_id,
                         allowed to release the CID (idp client add ... --allow-national-id);
                         also grant client_credentials with scope sign: it asks citizens to sign
                         applications of services with citizen_signs (the signing request returns
                         to <public_url>/signed, a redirect URI of the client that makes it) and
                         has their signatures verified (naming the signer's CID)
  service_client_id, service_client_secret
                         the client_credentials client with registry.births registry.deaths
                         epis.patients seal (default: the web client's credentials)
  epis_url               ePIS's base URL; unset: ePIS notifications of births stay pending
  epis_audience          ePIS's API resource identifier (default <epis_url>/api)
  catalogue              a service catalogue file instead of the built-in one";

/// Integrated Citizen Services: apply for government services with Drukyul ID.
#[derive(Parser)]
#[command(version, after_help = SETTINGS_HELP)]
struct Cli {
    /// The TOML settings file (default: citizen-services.toml if it exists).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Create or upgrade the database, then exit.
    Migrate,
    /// Staff roles: who reviews which office's applications.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// Check a service catalogue file (or the built-in one) and list its services.
    Catalogue {
        /// The file; the built-in catalogue when omitted.
        file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Give a citizen (by CID) a role at an office, e.g. `--role registrar --unit DCRC`.
    Add {
        /// The officer's CID (11 digits).
        cid: String,
        /// The role, as the catalogue's `office.role` names it.
        #[arg(long)]
        role: String,
        /// The office, as the catalogue's `office.unit` names it.
        #[arg(long)]
        unit: String,
        /// The officer's name.
        #[arg(long)]
        name: String,
    },
    /// List the roles a CID holds.
    List {
        /// The CID.
        cid: String,
    },
}

fn figment(cli: &Cli) -> Figment {
    let file = cli.config.clone().unwrap_or_else(|| PathBuf::from("citizen-services.toml"));
    Figment::new().merge(Toml::file(file)).merge(Env::prefixed("CITIZEN_SERVICES_"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    agency_kit::server::init_logging();
    match run(&cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("citizen-services: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: &Cli) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(cfg) = &cli.config
        && !cfg.exists()
    {
        return Err(format!("no such settings file: {}", cfg.display()).into());
    }
    let fig = figment(cli);
    let database_url = || -> String {
        fig.extract_inner::<String>("database_url").unwrap_or_else(|_| "sqlite://data/citizen-services.db".into())
    };
    match &cli.command {
        None | Some(Command::Serve) => {
            let settings: Settings = fig.extract()?;
            let app = App::build(&settings).await?;
            let retry = app.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(60));
                loop {
                    every.tick().await;
                    if let Err(e) = retry.retry_pending(agency_kit::now()).await {
                        tracing::warn!(error = %e, "retrying notifications failed");
                    }
                }
            });
            agency_kit::server::run(app.router(), settings.listen).await?;
        }
        Some(Command::Migrate) => {
            citizen_services::open_db(&database_url()).await?;
            println!("database is up to date");
        }
        Some(Command::Staff { command: StaffCommand::Add { cid, role, unit, name } }) => {
            let db = citizen_services::open_db(&database_url()).await?;
            let settings_catalogue = fig.extract_inner::<PathBuf>("catalogue").ok();
            let catalogue = citizen_services::load_catalogue(settings_catalogue.as_deref())?;
            if !catalogue.offices().iter().any(|o| &o.role == role && &o.unit == unit) {
                let known: Vec<String> =
                    catalogue.offices().iter().map(|o| format!("--role {} --unit {:?}", o.role, o.unit)).collect();
                return Err(format!("no service is reviewed by {role} at {unit}; offices: {}", known.join(", ")).into());
            }
            let r = agency_kit::staff::StaffRole {
                cid: cid.clone(),
                role: role.clone(),
                unit: unit.clone(),
                name: name.clone(),
            };
            agency_kit::staff::grant(&db, &r, "operator", agency_kit::now()).await?;
            println!("{cid} is now {role} at {unit}");
        }
        Some(Command::Staff { command: StaffCommand::List { cid } }) => {
            let db = citizen_services::open_db(&database_url()).await?;
            for r in agency_kit::staff::roles_of(&db, cid).await? {
                println!("{}\t{}\t{}", r.role, r.unit, r.name);
            }
        }
        Some(Command::Catalogue { file }) => {
            let c = citizen_services::load_catalogue(file.as_deref())?;
            for s in c.services() {
                println!(
                    "{}\t{}\t{}\t{} at {}\t{} fields",
                    s.id,
                    s.title,
                    s.assurance.as_str(),
                    s.office.role,
                    s.office.unit,
                    s.fields.len()
                );
            }
        }
    }
    Ok(())
}
