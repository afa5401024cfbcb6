//! `e-business`: serve business licensing and the customs single window, or operate on its
//! database (officers, migrations, licence types).
//!
//! Configuration, later wins: built-in defaults, the TOML file given by `--config` (or
//! `./e-business.toml` if present), then `EBIZ_*` environment variables.
#![forbid(unsafe_code)]

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use e_business::Config;
use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};

const SETTINGS_HELP: &str = "\
Settings (TOML keys; each also as EBIZ_<KEY>, e.g. EBIZ_CLIENT_SECRET):
  listen           address to listen on (default 127.0.0.1:8084)
  public_url       the module's public URL (default http://localhost:8084)
  database_url     sqlite://PATH or postgres://... (default sqlite://<data_dir>/e-business.db)
  data_dir         where the embedded database lives (default data)
  issuer           the identity provider (default http://localhost:8080)
  client_id        the module's client at the identity provider
  client_secret    its secret, or client_key_file (PKCS#8 PEM, ES256) + client_key_id
  licence_types    a licence-types file instead of the built-in one (see `e-business licence-types`)

Register the client first (one client logs citizens in, asks them to sign, verifies, and seals
the licences it issues with its own seal, which names it: O=<client name>):
  idp client add --name e-business --grant authorization_code --grant refresh_token \\
    --grant client_credentials --redirect-uri {PUBLIC_URL}/auth/callback \\
    --redirect-uri {PUBLIC_URL}/signed --scope \"openid profile national_id sign seal\" --allow-national-id
A licence the identity provider cannot seal when issued stays valid; a retry every minute seals it.
Agencies that look licences up get a client_credentials client with scope ebiz.licences and
resource {PUBLIC_URL}/api.";

/// e-business: business licensing and the single customs-trade window of the Ministry of
/// Industry, Commerce and Employment, on Drukyul ID.
#[derive(Parser)]
#[command(version, after_help = SETTINGS_HELP)]
struct Cli {
    /// TOML configuration file (default ./e-business.toml if present).
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
    /// Officers: licensing officers by dzongkhag, customs officers by office, administrators.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// Check a licence-types file (or the configured or built-in one) and list it.
    LicenceTypes {
        /// The file; the configured or built-in one when omitted.
        file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Give a citizen (by CID) a role: `--role licensing_officer --unit Thimphu`,
    /// `--role customs_officer --unit PLG`, or `--role administrator` (no unit).
    Add {
        /// The officer's CID (11 digits).
        cid: String,
        /// licensing_officer, customs_officer or administrator.
        #[arg(long)]
        role: String,
        /// The dzongkhag (licensing officer) or customs office code (customs officer).
        #[arg(long, default_value = "")]
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

fn load_config(path: Option<&PathBuf>) -> Result<Config, String> {
    let mut f = Figment::from(Serialized::defaults(Config::default()));
    match path {
        Some(p) if !p.exists() => return Err(format!("{}: no such file", p.display())),
        Some(p) => f = f.merge(Toml::file(p)),
        None if std::path::Path::new("e-business.toml").exists() => f = f.merge(Toml::file("e-business.toml")),
        None => {}
    }
    f.merge(Env::prefixed("EBIZ_")).extract().map_err(|e| format!("configuration: {e}"))
}

async fn run(cli: Cli) -> Result<(), String> {
    let cfg = load_config(cli.config.as_ref())?;
    let e = |e: agency_kit::Error| e.to_string();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            agency_kit::server::init_logging();
            let _ = rustls::crypto::ring::default_provider().install_default();
            let app = e_business::App::build(&cfg).await.map_err(e)?;
            app.spawn_retry_loop();
            agency_kit::server::run(app.router(), cfg.listen).await.map_err(|e| e.to_string())
        }
        Command::Migrate => {
            e_business::open_db(&cfg.database_url()).await.map_err(e)?;
            println!("database ready");
            Ok(())
        }
        Command::Staff { command: StaffCommand::Add { cid, role, unit, name } } => {
            let catalogue = e_business::load_catalogue(cfg.licence_types.as_deref()).map_err(e)?;
            let db = e_business::open_db(&cfg.database_url()).await.map_err(e)?;
            let r = e_business::add_staff(&db, &catalogue, &cid, &role, &unit, &name, "operator", agency_kit::now())
                .await
                .map_err(e)?;
            println!(
                "{} ({}) is {}{}",
                r.name,
                r.cid,
                r.role,
                if r.unit.is_empty() { String::new() } else { format!(" at {}", r.unit) }
            );
            Ok(())
        }
        Command::Staff { command: StaffCommand::List { cid } } => {
            let db = e_business::open_db(&cfg.database_url()).await.map_err(e)?;
            for r in agency_kit::staff::roles_of(&db, &cid).await.map_err(e)? {
                println!("{}\t{}\t{}", r.role, r.unit, r.name);
            }
            Ok(())
        }
        Command::LicenceTypes { file } => {
            let c = e_business::load_catalogue(file.as_deref().or(cfg.licence_types.as_deref())).map_err(e)?;
            for l in c.licences() {
                println!(
                    "{}\t{}\t{} year(s)\t{}{} fields",
                    l.id,
                    l.title,
                    l.validity_years,
                    if l.trade { "trade\t" } else { "" },
                    l.fields.len()
                );
            }
            for p in c.ports() {
                println!("customs office {}\t{}", p.code, p.name);
            }
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(m) => {
            eprintln!("e-business: {m}");
            ExitCode::FAILURE
        }
    }
}
