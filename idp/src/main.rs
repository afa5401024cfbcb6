//! `idp`: the Drukyul ID identity provider server and its operator CLI.
#![forbid(unsafe_code)]

use std::{path::PathBuf, process::ExitCode};

use clap::{Args, Parser, Subcommand};
use idp::{
    Config, Error,
    domain::{
        self,
        audit::Verdict,
        cid::Cid,
        client::{AuthMethod, ClientMetadata, GrantType, RedirectUri, Scope},
        keys::SigningAlg,
        registry,
    },
    server, store,
};

/// Drukyul ID identity provider.
///
/// Configuration comes from defaults, then the TOML file (--config, or ./idp.toml when present),
/// then IDP_* environment variables (IDP_TOKENS__ACCESS_TOKEN_TTL=600 sets [tokens]
/// access_token_ttl) and DATABASE_URL. See README.md for every key.
#[derive(Parser, Debug)]
#[command(name = "idp", version, about, long_about)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true, env = "IDP_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Run the server (the default when no command is given).
    Serve,
    /// Create the database if needed and apply pending migrations, then exit.
    Migrate,
    /// Manage OAuth clients (agency applications).
    #[command(subcommand)]
    Client(ClientCmd),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// The civil registry.
    #[command(subcommand)]
    Registry(RegistryCmd),
    /// Digital-ID accounts.
    #[command(subcommand)]
    Citizen(CitizenCmd),
    /// Registration centres (where people are enrolled).
    #[command(subcommand)]
    Centre(CentreCmd),
    /// Enrolment officers, supervisors and administrators.
    #[command(subcommand)]
    Officer(OfficerCmd),
    /// The audit chain.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// The signer's certificate authority.
    #[command(subcommand)]
    Ca(CaCmd),
    /// Verify a detached CMS signature (DER or PEM) over a document against this CA: valid or
    /// invalid with the reason, the signer, signing time, timestamp and the certificate's
    /// status at that time. Exits 0 when valid, 1 when not.
    Verify {
        /// The signed document (a signed or sealed PDF alone: its last signature is checked).
        document: PathBuf,
        /// The detached signature (.p7s, DER or PEM); omit for a PDF.
        signature: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum CaCmd {
    /// Create the CA hierarchy (root, issuing CA, OCSP responder, TSA) with keys sealed under
    /// the key-encryption key, and the root's first CRL. Done once; refused if a CA exists.
    Init {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the CA certificates and their SHA-256 fingerprints.
    Show {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a citizen's signing certificate, issuing one if they have none (normally issued
    /// on first signature).
    Issue {
        /// Citizenship ID (11 digits).
        cid: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List a citizen's signing certificates.
    Certificates {
        /// Citizenship ID (11 digits).
        cid: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a signing certificate; CRL and OCSP report it at once. Revocation is final.
    Revoke {
        /// Serial number (hex, as `ca certificates` prints it).
        serial: String,
        /// unspecified, keyCompromise, affiliationChanged, superseded or cessationOfOperation.
        #[arg(long, default_value = "unspecified")]
        reason: String,
    },
    /// Sign a new CRL with the root key (a ceremony: do it before the last one expires, a year
    /// after the previous).
    RootCrl,
}

#[derive(Subcommand, Debug)]
enum ClientCmd {
    /// Register a client. Prints the client_id and, for secret-based methods, the secret (once).
    Add(Box<ClientAdd>),
    /// List clients.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one client's registration.
    Show {
        /// The client_id.
        client_id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a client; its tokens stop being accepted.
    Remove {
        /// The client_id.
        client_id: String,
    },
    /// Replace a client's secret; prints the new one (once).
    RotateSecret {
        /// The client_id.
        client_id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
struct ClientAdd {
    /// Name shown to citizens on the consent page.
    #[arg(long)]
    name: String,
    /// client_id to use (default: random).
    #[arg(long)]
    client_id: Option<String>,
    /// private_key_jwt, client_secret_basic, client_secret_post or none (public client).
    #[arg(long, default_value = "client_secret_basic")]
    auth_method: String,
    /// Grant types (repeatable): authorization_code, refresh_token, client_credentials.
    #[arg(long = "grant", required = true)]
    grants: Vec<String>,
    /// Redirect URI (repeatable); matched exactly.
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Post-logout redirect URI (repeatable).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Space-separated scopes the client may request.
    #[arg(long, default_value = "openid profile")]
    scope: String,
    /// File holding the client's JWK Set (private_key_jwt).
    #[arg(long)]
    jwks: Option<PathBuf>,
    /// URL of the client's JWK Set (private_key_jwt).
    #[arg(long)]
    jwks_uri: Option<url::Url>,
    /// Sector identifier for pairwise subjects.
    #[arg(long)]
    sector: Option<String>,
    /// Require pushed authorization requests.
    #[arg(long)]
    require_par: bool,
    /// Allow the national_id scope (the cid claim).
    #[arg(long)]
    allow_national_id: bool,
    /// ID token signing algorithm: ES256, RS256 or EdDSA.
    #[arg(long, default_value = "ES256")]
    id_token_alg: String,
    /// Back-channel logout URI.
    #[arg(long)]
    backchannel_logout_uri: Option<url::Url>,
    /// Assurance level every login must reach.
    #[arg(long)]
    acr: Option<String>,
    /// Resource (audience) the client's access tokens may target (repeatable).
    #[arg(long = "resource")]
    resources: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum KeysCmd {
    /// List signing keys and their schedule.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stage a new key: published in JWKS now, signing after `keys.publish_ahead` seconds; the
    /// old key retires then and leaves JWKS when its tokens have expired.
    Rotate {
        /// Algorithm: ES256, RS256 or EdDSA.
        #[arg(long, default_value = "ES256")]
        alg: String,
        /// Emergency (compromised key): sign with the new key at once and unpublish the old.
        #[arg(long)]
        now: bool,
    },
}

#[derive(Subcommand, Debug)]
enum RegistryCmd {
    /// Import a census CSV export (columns: cid, given_name, middle_name, family_name,
    /// date_of_birth, sex, dzongkhag, gewog, village, household_number, status). All rows are
    /// checked first; nothing is written unless every row is good. Re-importing is harmless.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum CitizenCmd {
    /// Close a digital ID: no more logins, sessions end, grants and signing certificates are
    /// revoked. (A death recorded by a registry import closes it automatically.)
    Close {
        /// Citizenship ID (11 digits).
        cid: String,
        /// deceased, compromised or requested.
        #[arg(long)]
        reason: String,
    },
    /// Issue a digital ID for a registry person: prints a one-time activation code and URL.
    Issue {
        /// Citizenship ID (11 digits).
        cid: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum CentreCmd {
    /// Add a registration centre.
    Add {
        /// Its code: 2 to 16 upper-case letters, digits and hyphens (THI-01).
        code: String,
        /// Its name.
        #[arg(long)]
        name: String,
        /// The dzongkhag it is in.
        #[arg(long)]
        dzongkhag: String,
    },
    /// List the centres.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum OfficerCmd {
    /// Give the holder of an active digital ID a role at a centre (replacing any role they had).
    /// They log in with their own passkeys.
    Add {
        /// Citizenship ID (11 digits).
        cid: String,
        /// The centre's code.
        #[arg(long)]
        centre: String,
        /// enrolment_officer, supervisor or administrator (each may do what the ones before it may).
        #[arg(long, default_value = "enrolment_officer")]
        role: String,
    },
    /// End an officer's role.
    Remove {
        /// Citizenship ID (11 digits).
        cid: String,
    },
    /// List the current officers.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCmd {
    /// Check the whole audit chain; exits non-zero if any entry was edited or deleted.
    Verify {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("IDP_LOG").unwrap_or_else(|_| "info".into());
    let b = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "pretty" {
        b.init();
    } else {
        b.json().flatten_event(true).with_current_span(true).init();
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("idp: {e}");
            return ExitCode::from(2);
        }
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let is_serve = matches!(cli.command, None | Some(Command::Serve));
    init_logging(if is_serve { &config.log_format } else { "pretty" });
    match run(cli.command.unwrap_or(Command::Serve), config).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("idp: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn centre_cmd(idp: &idp::Idp, c: CentreCmd, now: i64) -> Result<ExitCode, Error> {
    use idp::enrolment::{self, CentreCode};
    match c {
        CentreCmd::Add { code, name, dzongkhag } => {
            let row = enrolment::add_centre(idp, &CentreCode::parse(&code)?, &name, &dzongkhag, now).await?;
            println!("centre {} ({}, {}) added", row.code, row.name, row.dzongkhag);
        }
        CentreCmd::List { json } => {
            let rows = idp::store::enrolment::centres(&idp.db).await?;
            if json {
                print_json(&rows)?;
            } else if rows.is_empty() {
                println!("no centres (add one with `idp centre add`)");
            } else {
                for r in rows {
                    println!("{:<16} {} ({})", r.code, r.name, r.dzongkhag);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn officer_cmd(idp: &idp::Idp, c: OfficerCmd, now: i64) -> Result<ExitCode, Error> {
    use idp::enrolment::{self, CentreCode, Role};
    let cid = |s: &str| Cid::parse(s).map_err(|e| Error::Invalid(e.to_string()));
    match c {
        OfficerCmd::Add { cid: c, centre, role } => {
            let row = enrolment::add_officer(
                idp,
                &cid(&c)?,
                &CentreCode::parse(&centre)?,
                Role::parse(&role)?,
                "operator",
                now,
            )
            .await?;
            println!("{} is now {} at {}", row.cid, row.role, row.centre);
        }
        OfficerCmd::Remove { cid: c } => {
            enrolment::remove_officer(idp, &cid(&c)?, "operator", now).await?;
            println!("{c} is no longer an officer");
        }
        OfficerCmd::List { json } => {
            let rows = idp::store::enrolment::officers(&idp.db).await?;
            if json {
                print_json(&rows)?;
            } else if rows.is_empty() {
                println!("no officers (add one with `idp officer add`)");
            } else {
                for r in rows {
                    println!("{:<16} {} {}", r.centre, r.cid, r.role);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_json(v: &impl serde::Serialize) -> Result<(), Error> {
    println!("{}", serde_json::to_string_pretty(v).map_err(|e| Error::internal(e.to_string()))?);
    Ok(())
}

fn time_str(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| t.to_string())
}

async fn run(cmd: Command, config: Config) -> Result<ExitCode, Error> {
    if let Command::Serve = cmd {
        server::serve(config).await?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Migrate = cmd {
        let db = store::Db::connect_with(&config.effective_database_url(), config.sqlite_synchronous).await?;
        db.migrate().await?;
        eprintln!("database is up to date");
        return Ok(ExitCode::SUCCESS);
    }
    let idp = server::build(config).await?;
    let now = domain::now();
    match cmd {
        Command::Serve | Command::Migrate => unreachable_cmd(),
        Command::Client(c) => client_cmd(&idp, c, now).await,
        Command::Keys(KeysCmd::List { json }) => {
            let rows = store::keys::all(&idp.db).await?;
            if json {
                let v: Vec<_> = rows
                    .iter()
                    .map(|r| serde_json::json!({"kid": r.kid, "alg": r.alg, "created_at": r.created_at, "activates_at": r.activates_at, "retires_at": r.retires_at, "removed_at": r.removed_at}))
                    .collect();
                print_json(&v)?;
            } else {
                println!("{:<45} {:<6} {:<10} SCHEDULE", "KID", "ALG", "STATE");
                for r in rows {
                    let state = if r.removed_at.is_some_and(|t| t <= now) {
                        "removed"
                    } else if r.retires_at.is_some_and(|t| t <= now) {
                        "retired"
                    } else if r.activates_at > now {
                        "next"
                    } else {
                        "active"
                    };
                    let mut sched = format!("signs from {}", time_str(r.activates_at));
                    if let Some(t) = r.retires_at {
                        sched.push_str(&format!(" until {}", time_str(t)));
                    }
                    if let Some(t) = r.removed_at {
                        sched.push_str(&format!(", unpublished {}", time_str(t)));
                    }
                    println!("{:<45} {:<6} {:<10} {}", r.kid, r.alg, state, sched);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys(KeysCmd::Rotate { alg, now: immediate }) => {
            let alg = SigningAlg::parse(&alg)?;
            let (kid, at) = idp.rotate_keys(alg, immediate, "operator", now).await?;
            println!("new {alg} key {kid}: published now, signs from {}", time_str(at));
            Ok(ExitCode::SUCCESS)
        }
        Command::Registry(RegistryCmd::Import { file, json }) => {
            let f = std::fs::File::open(&file).map_err(|e| Error::Invalid(format!("{}: {e}", file.display())))?;
            let today = time::OffsetDateTime::now_utc().date();
            eprintln!("checking {} ...", file.display());
            let parsed = registry::parse_csv(std::io::BufReader::new(f), today, 1000);
            let mut progress = |n: u64| eprintln!("  {n} rows written ...");
            match idp.import_registry(parsed, &file.display().to_string(), "operator", now, &mut progress).await? {
                Ok(stats) => {
                    if json {
                        print_json(&stats)?;
                    } else {
                        println!(
                            "imported {} rows: {} new or changed, {} unchanged",
                            stats.rows, stats.written, stats.unchanged
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(errors) => {
                    if json {
                        print_json(&serde_json::json!({"errors": errors}))?;
                    } else {
                        eprintln!("nothing was imported: {} bad row(s)", errors.len());
                        for e in &errors {
                            eprintln!("  line {}: {}", e.line, e.reason);
                        }
                    }
                    Ok(ExitCode::from(3))
                }
            }
        }
        Command::Citizen(CitizenCmd::Close { cid, reason }) => {
            let cid = Cid::parse(&cid).map_err(|e| Error::Invalid(e.to_string()))?;
            let reason = idp::app::CloseReason::parse(&reason)?;
            let revoked = idp.close_citizen(&cid, reason, "operator", now).await?;
            println!(
                "digital ID {} closed ({}); {} signing certificate(s) revoked",
                cid.as_str(),
                reason.as_str(),
                revoked.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Citizen(CitizenCmd::Issue { cid, json }) => {
            let cid = Cid::parse(&cid).map_err(|e| Error::Invalid(e.to_string()))?;
            let issued = idp.issue_citizen(&cid, "operator", now).await?;
            if json {
                print_json(&issued)?;
            } else {
                println!("activation code: {}", issued.activation_code);
                println!("activate at:     {}", issued.activation_url);
                println!("valid until:     {}", time_str(issued.expires_at));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Ca(c) => ca_cmd(&idp, c, now).await,
        Command::Centre(c) => centre_cmd(&idp, c, now).await,
        Command::Officer(c) => officer_cmd(&idp, c, now).await,
        Command::Verify { document, signature, json } => {
            let read = |p: &PathBuf| std::fs::read(p).map_err(|e| Error::Invalid(format!("{}: {e}", p.display())));
            let doc = read(&document)?;
            let v = match signature {
                None => {
                    let (sig, digest) = signer::pades::signed_parts(&doc).map_err(|e| {
                        Error::Invalid(format!(
                            "{}: give the detached signature too, or a signed PDF: {e}",
                            document.display()
                        ))
                    })?;
                    idp::pki::verify(&idp, &sig, &digest, true, true, now).await?
                }
                Some(signature) => {
                    let sig = read(&signature)?;
                    let sig = match std::str::from_utf8(&sig).ok().filter(|t| t.trim_start().starts_with("-----BEGIN"))
                    {
                        Some(pem) => {
                            use base64::Engine;
                            let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
                            base64::engine::general_purpose::STANDARD
                                .decode(b64.trim())
                                .map_err(|_| Error::Invalid("the PEM signature is not base64".into()))?
                        }
                        None => sig,
                    };
                    idp::pki::verify(&idp, &sig, &signer::Sha256Digest::of(&doc), false, true, now).await?
                }
            };
            if json {
                print_json(&v)?;
            } else {
                println!("{}", if v.valid { "VALID" } else { "INVALID" });
                if let Some(r) = &v.reason {
                    println!("reason:       {r}");
                }
                if let Some(s) = &v.signer {
                    println!(
                        "signer:       {s}{}",
                        v.cid.as_deref().map(|c| format!(" (CID {c})")).unwrap_or_default()
                    );
                }
                if let Some(t) = v.signing_time {
                    println!(
                        "signed at:    {}{}",
                        time_str(t),
                        if v.timestamp.is_some() { " (timestamped)" } else { " (claimed by the signer)" }
                    );
                }
                if let Some(s) = &v.certificate_status {
                    println!("certificate:  {} {s}", v.certificate_serial.as_deref().unwrap_or(""));
                }
            }
            Ok(if v.valid { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Audit(AuditCmd::Verify { json }) => {
            let mut progress = |n: i64| {
                if n % 100_000 == 0 {
                    eprintln!("  {n} entries checked ...");
                }
            };
            let verdict = idp.verify_audit(&mut progress).await?;
            if json {
                print_json(&verdict)?;
            }
            match verdict {
                Verdict::Intact { entries, head } => {
                    if !json {
                        println!("audit chain intact: {entries} entries; head {head}");
                        println!("record the head elsewhere: a later verify showing fewer entries means truncation");
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Verdict::Broken { seq, reason } => {
                    if !json {
                        println!("AUDIT CHAIN BROKEN at entry {seq}: {reason}");
                    }
                    Ok(ExitCode::from(4))
                }
            }
        }
    }
}

async fn account_of(idp: &idp::Idp, cid: &str) -> Result<String, Error> {
    let cid = Cid::parse(cid).map_err(|e| Error::Invalid(e.to_string()))?;
    Ok(store::login::account_by_cid(&idp.db, cid.as_str())
        .await?
        .ok_or_else(|| Error::NotFound(format!("{} has no digital ID", cid.as_str())))?
        .id)
}

async fn ca_cmd(idp: &idp::Idp, cmd: CaCmd, now: i64) -> Result<ExitCode, Error> {
    let table = |rows: &[idp::pki::CertificateSummary]| {
        for r in rows {
            println!("{:<8} {}", r.role, r.subject);
            println!("         serial {}  until {}", r.serial, time_str(r.not_after));
            println!("         sha256 {}", r.sha256);
        }
    };
    match cmd {
        CaCmd::Init { json } => {
            eprintln!("generating the CA hierarchy ...");
            let rows = idp::pki::init(idp, now).await?;
            if json {
                print_json(&rows)?;
            } else {
                table(&rows);
                println!(
                    "publish the root's SHA-256 fingerprint out of band; the chain is served at {}",
                    idp.url("/ca/chain.pem")
                );
            }
        }
        CaCmd::Show { json } => {
            let rows = idp::pki::show(idp).await?;
            if rows.is_empty() {
                return Err(Error::NotFound("no CA yet: run `idp ca init`".into()));
            }
            if json {
                print_json(&rows)?;
            } else {
                table(&rows);
            }
        }
        CaCmd::Issue { cid, json } => {
            let account = account_of(idp, &cid).await?;
            let c = idp::pki::citizen_certificate(idp, &account, "operator", now).await?;
            if json {
                print_json(&c)?;
            } else {
                eprintln!(
                    "{} certificate {} valid until {}",
                    if c.issued { "issued" } else { "existing" },
                    c.serial,
                    time_str(c.not_after)
                );
                print!("{}", c.pem);
            }
        }
        CaCmd::Certificates { cid, json } => {
            let account = account_of(idp, &cid).await?;
            let rows = store::pki::certificates_of(&idp.db, &account).await?;
            let v: Vec<_> = rows
                .iter()
                .map(|r| serde_json::json!({"serial": r.serial, "issued_at": r.created_at, "not_after": r.not_after, "revoked_at": r.revoked_at, "reason": r.reason}))
                .collect();
            if json {
                print_json(&v)?;
            } else {
                println!("{:<42} {:<21} {:<21} STATUS", "SERIAL", "ISSUED", "UNTIL");
                for r in rows {
                    let status = match (r.revoked_at, r.reason) {
                        (Some(t), reason) => format!("revoked {} ({})", time_str(t), reason.unwrap_or_default()),
                        _ if r.not_after <= now => "expired".into(),
                        _ => "good".into(),
                    };
                    println!("{:<42} {:<21} {:<21} {status}", r.serial, time_str(r.created_at), time_str(r.not_after));
                }
            }
        }
        CaCmd::Revoke { serial, reason } => {
            let reason = idp::pki::Reason::parse(&reason)?;
            idp::pki::revoke(idp, &serial, reason, "operator", now).await?;
            println!("revoked {serial} ({})", reason.as_str());
        }
        CaCmd::RootCrl => {
            let until = idp::pki::reissue_root_crl(idp, now).await?;
            println!("new root CRL, valid until {}", time_str(until));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn unreachable_cmd() -> Result<ExitCode, Error> {
    Err(Error::internal("command handled earlier"))
}

async fn client_cmd(idp: &idp::Idp, cmd: ClientCmd, now: i64) -> Result<ExitCode, Error> {
    match cmd {
        ClientCmd::Add(a) => {
            let jwks = match &a.jwks {
                Some(p) => {
                    let text =
                        std::fs::read_to_string(p).map_err(|e| Error::Invalid(format!("{}: {e}", p.display())))?;
                    Some(serde_json::from_str(&text).map_err(|e| Error::Invalid(format!("{}: {e}", p.display())))?)
                }
                None => None,
            };
            let grants = a
                .grants
                .iter()
                .map(|g| GrantType::parse(g).ok_or_else(|| Error::Invalid(format!("unknown grant {g:?}"))))
                .collect::<Result<Vec<_>, _>>()?;
            let metadata = ClientMetadata {
                client_name: a.name,
                token_endpoint_auth_method: AuthMethod::parse(&a.auth_method)?,
                redirect_uris: a.redirect_uris.iter().map(|u| RedirectUri::parse(u)).collect::<Result<_, _>>()?,
                post_logout_redirect_uris: a
                    .post_logout_redirect_uris
                    .iter()
                    .map(|u| RedirectUri::parse(u))
                    .collect::<Result<_, _>>()?,
                grant_types: grants,
                scope: Scope::parse(&a.scope)?,
                jwks,
                jwks_uri: a.jwks_uri,
                sector_identifier: a.sector,
                require_pushed_authorization_requests: a.require_par,
                allow_national_id: a.allow_national_id,
                id_token_signed_response_alg: SigningAlg::parse(&a.id_token_alg)?,
                backchannel_logout_uri: a.backchannel_logout_uri,
                default_acr: a.acr,
                resources: a.resources,
            };
            let created = idp.register_client(a.client_id.as_deref(), metadata, "operator", now).await?;
            if a.json {
                print_json(&created)?;
            } else {
                println!("client_id:     {}", created.client_id);
                if let Some(s) = &created.client_secret {
                    println!("client_secret: {s}");
                    println!("(the secret is shown only now; it is stored hashed)");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ClientCmd::List { json } => {
            let clients = store::clients::list(&idp.db).await?;
            if json {
                let v: Vec<_> = clients
                    .iter()
                    .map(|c| {
                        let mut v = serde_json::to_value(&c.metadata).unwrap_or_default();
                        v["client_id"] = c.client_id.as_str().into();
                        v
                    })
                    .collect();
                print_json(&v)?;
            } else {
                println!("{:<30} {:<22} {:<40}", "CLIENT_ID", "AUTH", "NAME");
                for c in clients {
                    println!(
                        "{:<30} {:<22} {:<40}",
                        c.client_id,
                        c.metadata.token_endpoint_auth_method.as_str(),
                        c.metadata.client_name
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ClientCmd::Show { client_id, json } => {
            let c = store::clients::get(&idp.db, &client_id)
                .await?
                .ok_or_else(|| Error::NotFound(format!("client {client_id}")))?;
            let mut v = serde_json::to_value(&c.metadata).map_err(|e| Error::internal(e.to_string()))?;
            v["client_id"] = c.client_id.as_str().into();
            if json {
                print_json(&v)?;
            } else {
                println!("{}", toml::to_string_pretty(&v).unwrap_or_else(|_| v.to_string()));
            }
            Ok(ExitCode::SUCCESS)
        }
        ClientCmd::Remove { client_id } => {
            idp.remove_client(&client_id, "operator", now).await?;
            println!("removed {client_id}");
            Ok(ExitCode::SUCCESS)
        }
        ClientCmd::RotateSecret { client_id, json } => {
            let secret = idp.rotate_client_secret(&client_id, "operator", now).await?;
            if json {
                print_json(&serde_json::json!({"client_id": client_id, "client_secret": secret}))?;
            } else {
                println!("client_secret: {secret}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
