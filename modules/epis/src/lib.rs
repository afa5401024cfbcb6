//! # epis — the electronic Patient Information System
//!
//! An agency application of the Ministry of Health on Drukyul ID, built only on the
//! `relying-party-sdk` (login with `openid profile national_id`, sessions, the bearer-token
//! extractor) and the `agency-kit` (its own database — SQLite by default, PostgreSQL by
//! configuration —, audit log, staff roles, page layout and server layers).
//!
//! What it does:
//! - **Facilities**: the programme's 236 (27 hospitals, 23 BHU-I, 186 BHU-II) from
//!   `data/facilities.csv`, loaded at start into an empty database. The hospital names are the
//!   real ones as publicly known (JDWNRH, the Eastern and Central Regional Referral Hospitals,
//!   the district and general hospitals) and should still be checked against the Ministry's
//!   list. **The BHU names are not known to us**: they are generated placeholders per
//!   dzongkhag, named `[placeholder] BHU-II Paro 03` and flagged `placeholder=1`.
//!   `epis facilities import MASTER.csv` (columns `code,name,kind,dzongkhag`; kind `hospital`,
//!   `bhu1` or `bhu2`) imports the Ministry's master facility list all-or-nothing and removes
//!   the placeholders it does not name (unless already used).
//! - **Health workers**: the kit's staff role `health_worker` with the facility code as its
//!   unit, granted by `epis staff add CID --facility CODE --name NAME` or by an
//!   `administrator` on `/admin/staff`. Every page checks the role on every request; a refusal
//!   is a 403 and a flagged audit entry.
//! - **Patient records** keyed by CID (released by the identity provider under the
//!   `national_id` scope): a health worker opens a record at their facility with the visit code
//!   the patient shows them (8 digits from the patient's own page, single use, 15 minutes —
//!   the patient is present), then records encounters with an ICD-10 diagnosis and a
//!   prescription. Every view is audited with the facility and the worker.
//! - **Emergency access**: without the patient, a worker opens an existing record only by
//!   declaring an emergency with a reason; allowed for an hour, flagged and audited.
//! - **The patient's view** (`/me`): their record and everyone who looked at it, emergencies
//!   flagged with the declared reason.
//! - **Agency API**: `POST /api/patients` creates a newborn's record (`cid`, `name`,
//!   `date_of_birth`, `mother_cid`), idempotent per CID; a JWT access token with scope
//!   `epis.patients` for the audience `{public_url}/api`, validated offline by the SDK (no
//!   token 401, another scope 403).
//!
//! Not yet: the newborn's own visit codes (a child has no digital ID; its records are opened
//! in an emergency or, later, through the parent), referral between facilities, lab results.
#![forbid(unsafe_code)]

pub mod domain;
mod web;

use std::{net::SocketAddr, path::PathBuf};

use agency_kit::{
    Error, Result,
    db::{Db, Migrations},
};
use relying_party_sdk::{ClientAuth, ClientKey, ClientSecret, RelyingParty, SqlStore};
use serde::Deserialize;

pub use web::routes;

/// ePIS's configuration (TOML file and `EPIS_*` environment variables, see `main.rs`).
#[derive(Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listen address.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The public base URL (`https://epis.health.gov.bt`); the redirect URI is
    /// `{public_url}/auth/callback` and the API's audience `{public_url}/api`.
    #[serde(default = "default_public_url")]
    pub public_url: String,
    /// `sqlite://...` or `postgres://...` (default: `sqlite://{data_dir}/epis.db`).
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
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8082))
}
fn default_public_url() -> String {
    "http://localhost:8082".into()
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
        }
    }
}

impl Config {
    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| agency_kit::db::default_url(&self.data_dir, "epis"))
    }
    /// The public URL without a trailing slash.
    pub fn base(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }
}

/// ePIS's migrations (numbered from 0100, after the kit's).
pub fn migrations() -> Migrations {
    Migrations { sqlite: sqlx::migrate!("./migrations/sqlite"), postgres: sqlx::migrate!("./migrations/postgres") }
}

/// Opens (creating and migrating) the database and loads the facilities into an empty one.
pub async fn open_db(url: &str) -> Result<Db> {
    // The embedded database's folder is created on first start (`data/` by default).
    if let Some(path) = url.strip_prefix("sqlite://").and_then(|p| std::path::Path::new(p.split('?').next()?).parent())
        && !path.as_os_str().is_empty()
    {
        std::fs::create_dir_all(path).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    }
    let db = Db::connect(url, migrations()).await?;
    let added = domain::seed_facilities(&db, agency_kit::now()).await?;
    if added > 0 {
        tracing::info!(added, "facilities loaded");
    }
    Ok(db)
}

/// The relying party: discovers the identity provider and keeps its sessions in ePIS's own
/// database.
pub async fn relying_party(cfg: &Config, db: &Db) -> Result<RelyingParty> {
    if cfg.client_id.is_empty() {
        return Err(Error::Config("client_id is not set (EPIS_CLIENT_ID)".into()));
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

/// The whole application: ePIS's routes, the SDK's, the session layer and the kit's layers.
pub fn app(db: Db, rp: &RelyingParty) -> axum::Router {
    let routes = routes(web::AppState { db: db.clone() }).merge(rp.routes()).layer(rp.session_layer());
    agency_kit::server::wrap(routes, db, "ePIS")
}

/// Opens the database, connects to the identity provider and builds the application (for
/// `main`, tests and the all-in-one demo).
pub async fn build(cfg: &Config) -> Result<(axum::Router, Db)> {
    let db = open_db(&cfg.database_url()).await?;
    let rp = relying_party(cfg, &db).await?;
    Ok((app(db.clone(), &rp), db))
}
