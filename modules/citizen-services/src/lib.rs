//! # citizen-services — Integrated Citizen Services
//!
//! An agency application on Drukyul ID, built only on the `relying-party-sdk` (login,
//! sessions, step-up, client-credentials calls to other agencies) and the `agency-kit` (its own
//! database, audit log, staff roles, pages and server layers). Citizens apply for government
//! services once; an office reviews; an approval issues a certificate and tells the other
//! agencies concerned.
//!
//! - [`catalogue`]: the services as data (`catalogue.toml`: birth and death registration,
//!   marriage certificate, pension, vehicle services, permits, construction approval, utility
//!   connection), each with its form fields, assurance level, reviewing office, whether the
//!   citizen signs, what is issued and its life event; checked at start. One generic form and
//!   one generic review page serve them all; a service needing `urn:drukyul:loa:high` sends the
//!   citizen through the SDK's step-up.
//! - [`applications`]: stored applications and their status, officers' decisions (an officer
//!   of the service's office only, never on their own application; refusals audited), the
//!   certificate an approval issues (a record with a public verification page by number) and
//!   pensions.
//! - [`signing`]: the citizen's signature on applications of services that say
//!   `citizen_signs`. The application is stored as its canonical document (canonical JSON of
//!   the number, service, applicant, fields and submission time); after submitting, the
//!   applicant sees its title and SHA-256 and signs it through Drukyul ID's signing flow
//!   (`/sign/requests`, only they may approve, passkey at the provider); back at `/signed` the
//!   module asks the provider for the outcome, has the signature verified over the stored bytes
//!   and accepts only a valid one naming the applicant's CID; only then does the application
//!   reach the office. The officer's review page and the approval verify it again: no approval
//!   unsigned or with a signature that no longer verifies (409, nothing issued).
//! - [`life`]: life events through OAuth-protected APIs: a birth creates the child in the
//!   identity provider's civil registry (a new CID) and in ePIS; a death closes the digital ID
//!   and stops the pension. Failures leave the approval standing with its notification pending,
//!   retried with the same reference (idempotent on the other side).
//!
//! Not yet: attachments (hospital records, photos) signed with the application.
#![forbid(unsafe_code)]

pub mod applications;
pub mod catalogue;
pub mod life;
pub mod seal;
pub mod signing;
pub mod web;

use std::{path::PathBuf, sync::Arc};

use agency_kit::{
    Error, Result,
    db::{Db, Migrations},
};
use relying_party_sdk::{ClientAuth, ClientSecret, Config, RelyingParty, ServiceClient, SqlStore};
use serde::Deserialize;

pub use catalogue::Catalogue;

/// A secret from the configuration; never printed.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The module's settings (TOML file and `CITIZEN_SERVICES_*` variables, see `main.rs`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where to listen.
    #[serde(default = "default_listen")]
    pub listen: std::net::SocketAddr,
    /// The module's public URL (the web client's redirect URIs are `<public_url>/auth/callback`
    /// and `<public_url>/signed`, where citizens come back from signing).
    #[serde(default = "default_public_url")]
    pub public_url: String,
    /// `sqlite://...` (default `sqlite://data/citizen-services.db`) or `postgres://...`.
    #[serde(default = "default_database_url")]
    pub database_url: String,
    /// The identity provider's issuer URL.
    #[serde(default = "default_issuer")]
    pub issuer: String,
    /// The web client (authorization code; scopes `openid profile national_id`). It also asks
    /// citizens to sign their applications and has signatures verified, with its own
    /// client-credentials token (grant `client_credentials`, scope `sign`): the identity
    /// provider sends the citizen back to a redirect URI of the client that made the signing
    /// request, and only an authorization-code client has redirect URIs.
    pub client_id: String,
    /// Its secret.
    pub client_secret: Secret,
    /// The service client (client credentials; scopes `registry.births registry.deaths
    /// epis.patients seal`); the web client's own credentials when not set.
    #[serde(default)]
    pub service_client_id: Option<String>,
    /// Its secret.
    #[serde(default)]
    pub service_client_secret: Option<Secret>,
    /// ePIS's base URL; without it birth notifications to ePIS stay pending.
    #[serde(default)]
    pub epis_url: Option<String>,
    /// ePIS's API resource identifier (default `<epis_url>/api`).
    #[serde(default)]
    pub epis_audience: Option<String>,
    /// Another catalogue file instead of the built-in one.
    #[serde(default)]
    pub catalogue: Option<PathBuf>,
}

fn default_listen() -> std::net::SocketAddr {
    ([127, 0, 0, 1], 8081).into()
}
fn default_public_url() -> String {
    "http://localhost:8081".into()
}
fn default_database_url() -> String {
    "sqlite://data/citizen-services.db".into()
}
fn default_issuer() -> String {
    "http://localhost:8080".into()
}

/// The module's migrations.
pub fn migrations() -> Migrations {
    Migrations { sqlite: sqlx::migrate!("./migrations/sqlite"), postgres: sqlx::migrate!("./migrations/postgres") }
}

/// Opens (and migrates) the module's database.
pub async fn open_db(url: &str) -> Result<Db> {
    if let Some(path) = url.strip_prefix("sqlite://")
        && let Some(dir) = std::path::Path::new(path.split('?').next().unwrap_or(path)).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| Error::Config(format!("database directory: {e}")))?;
    }
    Db::connect(url, migrations()).await
}

/// Loads the configured catalogue (or the built-in one).
pub fn load_catalogue(path: Option<&std::path::Path>) -> Result<Catalogue> {
    match path {
        Some(p) => Catalogue::parse(
            &std::fs::read_to_string(p).map_err(|e| Error::Config(format!("catalogue {}: {e}", p.display())))?,
        ),
        None => Catalogue::built_in(),
    }
}

/// The running application's parts.
#[derive(Clone, Debug)]
pub struct App {
    state: web::AppState,
    rp: RelyingParty,
}

impl App {
    /// Builds the application: catalogue, database, the relying party (discovers the identity
    /// provider), the service client.
    pub async fn build(settings: &Settings) -> Result<Self> {
        let catalogue = load_catalogue(settings.catalogue.as_deref())?;
        let db = open_db(&settings.database_url).await?;
        let public = settings.public_url.trim_end_matches('/');
        let auth = ClientAuth::SecretBasic(ClientSecret::new(settings.client_secret.expose()));
        let mut cfg = Config::new(&settings.issuer, &settings.client_id, auth, format!("{public}/auth/callback"));
        cfg.scopes = vec!["profile".into(), "national_id".into()];
        cfg.post_logout_redirect_uri = Some(format!("{public}/"));
        let store = SqlStore::new(db.pool().clone()).await.map_err(|e| Error::Config(format!("sessions: {e}")))?;
        let rp = RelyingParty::new(cfg, store).await.map_err(|e| Error::Config(format!("identity provider: {e}")))?;
        let service = match (&settings.service_client_id, &settings.service_client_secret) {
            (Some(id), Some(secret)) => {
                ServiceClient::new(rp.provider(), id, ClientAuth::SecretBasic(ClientSecret::new(secret.expose())))
                    .map_err(|e| Error::Config(format!("service client: {e}")))?
            }
            (None, None) => rp.service_client().clone(),
            _ => return Err(Error::Config("set both service_client_id and service_client_secret".into())),
        };
        let epis = settings.epis_url.as_ref().map(|u| life::Epis {
            url: u.trim_end_matches('/').to_owned(),
            audience: settings.epis_audience.clone().unwrap_or_else(|| format!("{}/api", u.trim_end_matches('/'))),
        });
        let sealer = seal::Sealer::new(service.clone(), &settings.issuer, public)?;
        let signatures =
            signing::Signatures::new(rp.service_client().clone(), &settings.issuer, &format!("{public}/signed"))?;
        let notifier = life::Notifier::new(service, &settings.issuer, epis)?;
        let state = web::AppState {
            db,
            catalogue: Arc::new(catalogue),
            notifier: Arc::new(notifier),
            sealer: Arc::new(sealer),
            signatures: Arc::new(signatures),
        };
        Ok(Self { state, rp })
    }

    /// The whole router: the module's pages, the SDK's routes inside its session layer, and the
    /// kit's layers around everything.
    pub fn router(&self) -> axum::Router {
        let app = web::routes(self.state.clone()).merge(self.rp.routes()).layer(self.rp.session_layer());
        agency_kit::server::wrap(app, self.state.db.clone(), "Integrated Citizen Services")
    }

    /// The module's database.
    pub fn db(&self) -> &Db {
        &self.state.db
    }

    /// Retries every pending notification and unsealed certificate once; how many of either
    /// are still pending.
    pub async fn retry_pending(&self, now: i64) -> Result<usize> {
        let mut left = self.state.sealer.seal_pending(&self.state.db, now).await?;
        for app in applications::pending_notifications(&self.state.db).await? {
            let after = self.state.notifier.notify(&self.state.db, &self.state.catalogue, &app, now).await?;
            if after.notify == applications::Notify::Pending {
                left += 1;
            }
        }
        Ok(left)
    }
}
