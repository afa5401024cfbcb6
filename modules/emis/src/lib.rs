//! # emis — the Education Management Information System
//!
//! An agency application of the Ministry of Education on Drukyul ID, built only on the
//! `relying-party-sdk` (login with `openid profile national_id`, sessions, the bearer-token
//! extractor) and the `agency-kit` (its own database — SQLite by default, PostgreSQL by
//! configuration —, audit log, staff roles, page layout and server layers).
//!
//! What it does:
//! - **Schools**: each with a code, name, dzongkhag and level (primary, lower, middle or higher
//!   secondary, central), which fixes the classes it enrols. A short seed list of well-known
//!   schools (`data/schools.csv`) is loaded into an empty database so the system can be tried at
//!   once; **its codes are ours and its names, as publicly known, are to be checked**: every
//!   seeded school is marked provisional. `emis schools import LIST.csv` (columns
//!   `code,name,dzongkhag,level`) loads the Ministry's list all-or-nothing and removes the
//!   provisional schools it does not name (unless already used).
//! - **Staff**: the kit's roles `teacher` and `principal` with the school code as their unit,
//!   and `administrator`, granted by `emis staff add CID --role ROLE --school CODE --name N` or
//!   by an administrator on `/admin/staff`. Checked on every request; a refusal is a 403 and an
//!   audit entry, flagged against the student it concerned.
//! - **Students** keyed by CID. The principal enrols a child (the CID the family gives, the
//!   name and date of birth, one or two guardians by CID) in a class the school teaches, for an
//!   academic year (the calendar year in Bhutan). A student attends one school a year: a second
//!   school is refused until the first ends the enrolment (a transfer), then enrols them. A
//!   known student is enrolled again only with the name and date of birth first recorded and at
//!   least one recorded guardian, so a mistyped CID cannot enrol another child and a school
//!   cannot attach strangers as guardians (guardians added later are shown to the family).
//! - **Marks**: a teacher (or the principal) at the school records a mark (0–100) per subject per
//!   term for a student enrolled there, from the subjects taught in the student's class
//!   ([`domain::SUBJECTS`]). Every change is audited with the previous mark; a correction is
//!   flagged. Every view of a record by staff is audited.
//! - **Report cards**: the principal issues one for a student's term; it keeps the marks as
//!   issued, its number (`RC-2025-…`, unguessable) opens a public verification page
//!   (`/report-cards/{number}`: school, student, term, marks, valid or superseded by a later
//!   card, and whether a sealed PDF exists).
//! - **Sealed report cards** ([`seal`]): at issue the card is rendered as a one-page PDF (school,
//!   student, class, year, term, marks and average, number, a QR code to its public page) and
//!   sealed by EMIS's own seal certificate at Drukyul ID (`POST /sign/seal` through the SDK's
//!   `SigningClient::seal_pdf`; a client-credentials token with the scope `seal`, from
//!   `service_client_id` or else the web client). Anyone can check the seal with a PDF reader
//!   that trusts the Drukyul ID root, or with `SigningClient::verify_pdf` (which names the
//!   client as `agency`). If the identity provider cannot seal at issue, the card stands, the
//!   error is recorded, and a retry loop ([`App::retry_pending`], every minute) seals it. The
//!   student and their guardians download it, logged in, at `/report-cards/{number}/pdf` (also
//!   linked from `/me`); anyone else gets the same 404 as for an unknown number, and the refusal
//!   is audited against the student. A superseded card keeps its PDF (its seal stays valid: it
//!   is what was issued), and the public page says it is superseded; a card superseded before
//!   it could be sealed is not sealed any more.
//! - **Students and guardians see their records** (`/me`): a logged-in citizen sees their own
//!   student record and those of the children whose guardian they are — enrolments, marks (and
//!   who recorded them), report cards — and who at a school, or which agency, viewed, changed or
//!   tried to open the record.
//! - **Agency API**: `GET /api/students/{cid}/enrolment[?year=YYYY]` tells another agency
//!   (scholarships, citizen services) whether and where a student is enrolled — nothing of
//!   marks or guardians; a JWT access token with scope `emis.enrolment` for the audience
//!   `{public_url}/api`, validated offline by the SDK (no token 401, another scope 403). Each
//!   answer is audited against the student.
//!
//! Not yet: a seal per school (every card carries EMIS's seal, with the school written on the
//! card; the identity provider issues one seal per client); Dzongkha text on the PDF (the kit's
//! PDFs use the standard fonts, so Dzongkha prints as `?` while the public page shows it); the
//! child's name and date of birth checked against the civil registry (no registry look-up API
//! for agencies yet); attendance, timetables, examinations board results (BCSE/BHSEC).
#![forbid(unsafe_code)]

pub mod domain;
pub mod seal;
mod web;

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use agency_kit::{
    Error, Result,
    db::{Db, Migrations},
};
use relying_party_sdk::{ClientAuth, ClientKey, ClientSecret, RelyingParty, ServiceClient, SqlStore};
use serde::Deserialize;

pub use web::routes;

/// EMIS's configuration (TOML file and `EMIS_*` environment variables, see `main.rs`).
#[derive(Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listen address.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The public base URL (`https://emis.education.gov.bt`); the redirect URI is
    /// `{public_url}/auth/callback` and the API's audience `{public_url}/api`.
    #[serde(default = "default_public_url")]
    pub public_url: String,
    /// `sqlite://...` or `postgres://...` (default: `sqlite://{data_dir}/emis.db`).
    #[serde(default)]
    pub database_url: Option<String>,
    /// Where the embedded database lives.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The identity provider's issuer.
    #[serde(default = "default_issuer")]
    pub issuer: String,
    /// This client's id at the identity provider.
    #[serde(default)]
    pub client_id: String,
    /// Its secret (or use `client_key_file`).
    #[serde(default)]
    pub client_secret: Option<String>,
    /// PKCS#8 PEM of its ES256 key for `private_key_jwt` (preferred).
    #[serde(default)]
    pub client_key_file: Option<PathBuf>,
    /// The key's `kid` as registered.
    #[serde(default)]
    pub client_key_id: Option<String>,
    /// The client-credentials client whose seal is on the report cards (scope `seal`); when
    /// not set, the web client's own credentials, which must then also be registered with the
    /// `client_credentials` grant and the `seal` scope.
    #[serde(default)]
    pub service_client_id: Option<String>,
    /// Its secret.
    #[serde(default)]
    pub service_client_secret: Option<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("service_client_id", &self.service_client_id)
            .finish_non_exhaustive()
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8083))
}
fn default_public_url() -> String {
    "http://localhost:8083".into()
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}
fn default_issuer() -> String {
    "http://localhost:8080".into()
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            public_url: default_public_url(),
            database_url: None,
            data_dir: default_data_dir(),
            issuer: default_issuer(),
            client_id: String::new(),
            client_secret: None,
            client_key_file: None,
            client_key_id: None,
            service_client_id: None,
            service_client_secret: None,
        }
    }
}

impl Config {
    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| agency_kit::db::default_url(&self.data_dir, "emis"))
    }
    /// The public URL without a trailing slash.
    pub fn base(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }
}

/// EMIS's migrations (numbered from 0100, after the kit's).
pub fn migrations() -> Migrations {
    Migrations { sqlite: sqlx::migrate!("./migrations/sqlite"), postgres: sqlx::migrate!("./migrations/postgres") }
}

/// Opens (creating and migrating) the database and loads the seed schools into an empty one.
pub async fn open_db(url: &str) -> Result<Db> {
    // The embedded database's folder is created on first start (`data/` by default).
    if let Some(path) = url.strip_prefix("sqlite://").and_then(|p| std::path::Path::new(p.split('?').next()?).parent())
        && !path.as_os_str().is_empty()
    {
        std::fs::create_dir_all(path).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    }
    let db = Db::connect(url, migrations()).await?;
    let added = domain::seed_schools(&db, agency_kit::now()).await?;
    if added > 0 {
        tracing::info!(added, "seed schools loaded (provisional: import the Ministry's list)");
    }
    Ok(db)
}

/// The relying party: discovers the identity provider and keeps its sessions in EMIS's own
/// database.
pub async fn relying_party(cfg: &Config, db: &Db) -> Result<RelyingParty> {
    if cfg.client_id.is_empty() {
        return Err(Error::Config("client_id is not set (EMIS_CLIENT_ID)".into()));
    }
    let auth = match (&cfg.client_key_file, &cfg.client_secret) {
        (Some(path), _) => {
            let pem = std::fs::read_to_string(path).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
            let kid = cfg.client_key_id.clone().ok_or_else(|| Error::Config("client_key_id is not set".into()))?;
            ClientAuth::PrivateKeyJwt(ClientKey::from_pkcs8_pem(kid, &pem).map_err(|e| Error::Config(e.to_string()))?)
        }
        (None, Some(secret)) => ClientAuth::SecretBasic(ClientSecret::new(secret.clone())),
        (None, None) => return Err(Error::Config("set client_secret or client_key_file".into())),
    };
    let base = cfg.base();
    let mut rp_cfg = relying_party_sdk::Config::new(&cfg.issuer, &cfg.client_id, auth, format!("{base}/auth/callback"));
    rp_cfg.scopes = vec!["profile".into(), "national_id".into()];
    rp_cfg.post_logout_redirect_uri = Some(format!("{base}/"));
    rp_cfg.api_audience = Some(format!("{base}/api"));
    let store = SqlStore::new(db.pool().clone()).await.map_err(|e| Error::Config(format!("session store: {e}")))?;
    RelyingParty::new(rp_cfg, store).await.map_err(|e| Error::Upstream(format!("identity provider: {e}")))
}

/// The client whose seal goes on the report cards: the configured service client, else the
/// web client's own credentials.
fn seal_client(cfg: &Config, rp: &RelyingParty) -> Result<ServiceClient> {
    match (&cfg.service_client_id, &cfg.service_client_secret) {
        (Some(id), Some(secret)) => {
            ServiceClient::new(rp.provider(), id, ClientAuth::SecretBasic(ClientSecret::new(secret.clone())))
                .map_err(|e| Error::Config(format!("service client: {e}")))
        }
        (None, None) => Ok(rp.service_client().clone()),
        _ => Err(Error::Config("set both service_client_id and service_client_secret (or neither)".into())),
    }
}

/// How often the retry loop seals the report cards left unsealed.
pub const RETRY_EVERY: Duration = Duration::from_secs(60);

/// The running application's parts.
#[derive(Clone, Debug)]
pub struct App {
    state: web::AppState,
    rp: RelyingParty,
}

impl App {
    /// Opens the database, connects to the identity provider and prepares the sealer.
    pub async fn build(cfg: &Config) -> Result<Self> {
        let db = open_db(&cfg.database_url()).await?;
        let rp = relying_party(cfg, &db).await?;
        let sealer = seal::Sealer::new(seal_client(cfg, &rp)?, rp.provider().issuer(), cfg.base())?;
        Ok(Self { state: web::AppState { db, sealer: Arc::new(sealer) }, rp })
    }

    /// The whole application: EMIS's routes, the SDK's, the session layer and the kit's layers.
    pub fn router(&self) -> axum::Router {
        let routes = routes(self.state.clone()).merge(self.rp.routes()).layer(self.rp.session_layer());
        agency_kit::server::wrap(routes, self.state.db.clone(), "EMIS")
    }

    /// The module's database.
    pub fn db(&self) -> &Db {
        &self.state.db
    }

    /// Seals every report card in force left unsealed (the identity provider was unreachable
    /// when it was issued) once; how many are still unsealed.
    pub async fn retry_pending(&self, now: i64) -> Result<usize> {
        self.state.sealer.seal_pending(&self.state.db, now).await
    }

    /// Runs [`App::retry_pending`] every [`RETRY_EVERY`] in the background, for as long as the
    /// runtime lives.
    pub fn spawn_retry_loop(&self) {
        let app = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RETRY_EVERY).await;
                match app.retry_pending(agency_kit::now()).await {
                    Ok(0) => {}
                    Ok(left) => tracing::warn!(left, "report cards still unsealed"),
                    Err(e) => tracing::warn!(error = %e, "sealing the pending report cards failed"),
                }
            }
        });
    }
}

/// Builds the application (for `main`, tests and the all-in-one demo) and starts its retry
/// loop; the router and the database.
pub async fn build(cfg: &Config) -> Result<(axum::Router, Db)> {
    let app = App::build(cfg).await?;
    app.spawn_retry_loop();
    Ok((app.router(), app.state.db.clone()))
}
