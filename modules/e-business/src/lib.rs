//! # e-business — business licensing and the single customs-trade window
//!
//! An agency application of the Ministry of Industry, Commerce and Employment on Drukyul ID,
//! built only on the `relying-party-sdk` (login with `openid profile national_id`, sessions,
//! the bearer-token extractor, the client-credentials client and the signing client, which
//! also seals and verifies) and the
//! `agency-kit` (its own database — SQLite by default, PostgreSQL by configuration —, audit
//! log, staff roles, page layout and server layers).
//!
//! What it does:
//! - **Licence types as data** ([`catalogue`], `data/licence_types.toml`): retail trade,
//!   restaurant, manufacturing, construction contractor, import/export trader — each with its
//!   own fields (text, whole numbers in a range, choices), its validity, and whether it lets
//!   the holder trade across the border; and the customs offices of the single window. Checked
//!   at start; another file by configuration (`licence_types`).
//! - **Applying** (Integrated Business Licensing): a logged-in citizen fills the form (every
//!   field checked, a message per field, nothing stored on bad input); the application is
//!   written as a canonical JSON document ([`domain::ApplicationDocument`]) whose exact bytes
//!   are stored and shown.
//! - **The applicant's signature**: the module opens a signing request at Drukyul ID for that
//!   document's SHA-256, bound to the applicant's CID ([`idp`], the SDK's `SigningClient`,
//!   the module's own client-credentials token with scope `sign`); the applicant approves with
//!   their passkey at Drukyul ID (which requires a digital ID enrolled at a centre,
//!   `urn:drukyul:loa:high`) and comes back to `/signed`. The module collects the CAdES-B-T
//!   signature, has Drukyul ID verify it over the stored bytes (`POST /sign/verify`, through
//!   the SDK's `SigningClient::verify`), and
//!   accepts it only when valid, the certificate good at the signing time, and the signer's CID
//!   the applicant's ([`domain::judge`]); only then does the application go to review.
//!   A refusal, an expiry or a signature that does not verify is told to the applicant, and
//!   they may sign again.
//! - **Review**: a `licensing_officer` of the business's dzongkhag (kit staff roles) sees the
//!   application and the signature verified again at that moment (valid, signer, whether it is
//!   the applicant, signing time, certificate status); approves (only if the signature still
//!   verifies: bytes changed after signing cannot be approved) or rejects with a reason. An
//!   officer never decides their own application. Anyone else gets 403 and a flagged audit
//!   entry.
//! - **Licences**: an approval issues a licence (number `BL-<year>-<10 hex>`, validity from
//!   its type) with a public verification page `/licences/{number}` (business, type,
//!   dzongkhag, validity, state; no CID) and a QR code to it rendered as SVG on the server.
//! - **Sealed licences** ([`seal`]): at approval the licence is rendered as a one-page PDF
//!   (what the public page says, and a QR code to it) and sealed with the Ministry's own seal
//!   certificate at Drukyul ID (`POST /sign/seal`, the SDK's `SigningClient::seal_pdf`, the
//!   same client's token with the scope `seal`). Anyone downloads it at
//!   `/licences/{number}/pdf` and checks the seal with a PDF reader that trusts the Drukyul ID
//!   root (or `SigningClient::verify_pdf`, which names this client as `agency`); whether it is
//!   still in force, the public page says. If the identity provider cannot seal at approval,
//!   the licence stands, the error is recorded, and a retry loop ([`App::retry_pending`], every
//!   minute under `e-business serve`) seals it.
//! - **The single window**: a holder of an active import/export licence files a clearance
//!   declaration (direction, HS code of 6 to 10 digits, goods, quantity and unit, value in
//!   ngultrum, country, customs office); a `customs_officer` of that office clears or holds it
//!   (a hold needs a reason). A trader without such a licence is refused (403, audited).
//! - **Agency API**: `GET /api/licences/{number}` for other agencies (customs, banks): a JWT
//!   access token with scope `ebiz.licences` for the audience `{public_url}/api`, validated
//!   offline by the SDK (no token 401, another scope 403); every call audited.
//! - **Operators**: `e-business staff add CID --role licensing_officer --unit Thimphu --name N`
//!   (roles `licensing_officer` by dzongkhag, `customs_officer` by office code, `administrator`
//!   who adds officers on `/admin/staff`), `e-business migrate`, `e-business licence-types`.
//!
//! Not yet: licence renewal, amendment and revocation by the office (the `revoked` column and
//! the public page's "revoked" state are there), fees and payment, attachments (premises
//! photos, NOC from the dzongkhag), a new sealed PDF when a licence is amended (there is no
//! amendment yet), Dzongkha text on the PDF (the kit's standard fonts print it as `?`), the
//! clearance as a signed document or its exchange with the customs system (ASYCUDA), HS codes
//! checked against the tariff schedule (only their form is checked), and the holder's CID in
//! the agency API (left out until an agency needs it and the privacy case is made).
#![forbid(unsafe_code)]

pub mod catalogue;
pub mod domain;
pub mod idp;
pub mod licensing;
pub mod seal;
pub mod store;
mod web;

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use agency_kit::{
    Error, Result,
    db::{Db, Migrations},
    staff::StaffRole,
};
use relying_party_sdk::{ClientAuth, ClientKey, ClientSecret, RelyingParty, SqlStore};
use serde::Deserialize;

pub use catalogue::Catalogue;
pub use licensing::Agency;

/// e-business's configuration (TOML file and `EBIZ_*` environment variables, see `main.rs`).
#[derive(Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listen address.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The public base URL (`https://ebiz.moice.gov.bt`): redirect URIs
    /// `{public_url}/auth/callback` and `{public_url}/signed`, API audience `{public_url}/api`,
    /// and the address the licences' QR codes carry.
    #[serde(default = "default_public_url")]
    pub public_url: String,
    /// `sqlite://...` or `postgres://...` (default: `sqlite://{data_dir}/e-business.db`).
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
    /// Another licence-types file instead of the built-in one.
    #[serde(default)]
    pub licence_types: Option<PathBuf>,
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
    SocketAddr::from(([127, 0, 0, 1], 8084))
}
fn default_public_url() -> String {
    "http://localhost:8084".into()
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
            licence_types: None,
        }
    }
}

impl Config {
    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| agency_kit::db::default_url(&self.data_dir, "e-business"))
    }
    /// The public URL without a trailing slash.
    pub fn base(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }
}

/// e-business's migrations (numbered from 0100, after the kit's).
pub fn migrations() -> Migrations {
    Migrations { sqlite: sqlx::migrate!("./migrations/sqlite"), postgres: sqlx::migrate!("./migrations/postgres") }
}

/// Opens (creating and migrating) the database.
pub async fn open_db(url: &str) -> Result<Db> {
    // The embedded database's folder is created on first start (`data/` by default).
    if let Some(path) = url.strip_prefix("sqlite://").and_then(|p| std::path::Path::new(p.split('?').next()?).parent())
        && !path.as_os_str().is_empty()
    {
        std::fs::create_dir_all(path).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    }
    Db::connect(url, migrations()).await
}

/// Loads the configured licence types (or the built-in ones).
pub fn load_catalogue(path: Option<&std::path::Path>) -> Result<Catalogue> {
    match path {
        Some(p) => Catalogue::parse(
            &std::fs::read_to_string(p).map_err(|e| Error::Config(format!("licence types {}: {e}", p.display())))?,
        ),
        None => Catalogue::built_in(),
    }
}

/// Gives `cid` a role: `licensing_officer` at a dzongkhag, `customs_officer` at a customs
/// office's code, or `administrator` (no unit). Anything else is refused with the choices.
#[allow(clippy::too_many_arguments)]
pub async fn add_staff(
    db: &Db,
    catalogue: &Catalogue,
    cid: &str,
    role: &str,
    unit: &str,
    name: &str,
    added_by: &str,
    now: i64,
) -> Result<StaffRole> {
    let cid = domain::Cid::parse(cid)?;
    let unit = unit.trim();
    match role {
        domain::LICENSING_OFFICER if !catalogue::DZONGKHAGS.contains(&unit) => {
            return Err(Error::BadRequest(format!(
                "A licensing officer's unit is a dzongkhag: {}.",
                catalogue::DZONGKHAGS.join(", ")
            )));
        }
        domain::CUSTOMS_OFFICER if catalogue.port(unit).is_none() => {
            let codes: Vec<&str> = catalogue.ports().iter().map(|p| p.code.as_str()).collect();
            return Err(Error::BadRequest(format!(
                "A customs officer's unit is a customs office: {}.",
                codes.join(", ")
            )));
        }
        domain::ADMINISTRATOR if !unit.is_empty() => {
            return Err(Error::BadRequest("An administrator has no unit.".into()));
        }
        r if !domain::ROLES.contains(&r) => {
            return Err(Error::BadRequest(format!("The role is one of {}.", domain::ROLES.join(", "))));
        }
        _ => {}
    }
    let r =
        StaffRole { cid: cid.to_string(), role: role.to_owned(), unit: unit.to_owned(), name: name.trim().to_owned() };
    agency_kit::staff::grant(db, &r, added_by, now).await?;
    Ok(r)
}

/// The relying party: discovers the identity provider and keeps its sessions in e-business's
/// own database.
pub async fn relying_party(cfg: &Config, db: &Db) -> Result<RelyingParty> {
    if cfg.client_id.is_empty() {
        return Err(Error::Config("client_id is not set (EBIZ_CLIENT_ID)".into()));
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

/// The running application's parts.
#[derive(Clone, Debug)]
pub struct App {
    agency: Agency,
    rp: RelyingParty,
    public_url: String,
}

impl App {
    /// Builds the application: licence types, database, the relying party (discovers the
    /// identity provider) and the signing client.
    pub async fn build(cfg: &Config) -> Result<Self> {
        let catalogue = load_catalogue(cfg.licence_types.as_deref())?;
        let db = open_db(&cfg.database_url()).await?;
        let rp = relying_party(cfg, &db).await?;
        let signatures = idp::Signatures::new(
            rp.service_client().clone(),
            rp.provider().issuer(),
            &format!("{}/signed", cfg.base()),
        )?;
        let agency = Agency {
            db,
            catalogue: Arc::new(catalogue),
            signatures: Arc::new(signatures),
            public_url: cfg.base().to_owned(),
        };
        Ok(Self { agency, rp, public_url: cfg.base().to_owned() })
    }

    /// The whole router: the module's pages and API, the SDK's routes inside its session
    /// layer, and the kit's layers around everything.
    pub fn router(&self) -> axum::Router {
        let app = web::routes(self.agency.clone(), self.public_url.clone())
            .merge(self.rp.routes())
            .layer(self.rp.session_layer());
        agency_kit::server::wrap(app, self.agency.db.clone(), "e-business")
    }

    /// The module's database.
    pub fn db(&self) -> &Db {
        &self.agency.db
    }

    /// The workflows' shared parts.
    pub fn agency(&self) -> &Agency {
        &self.agency
    }

    /// Seals every licence left unsealed (the identity provider was unreachable when it was
    /// issued) once; how many are still unsealed.
    pub async fn retry_pending(&self, now: i64) -> Result<usize> {
        seal::seal_pending(&self.agency, now).await
    }

    /// Runs [`App::retry_pending`] every [`RETRY_EVERY`] in the background, for as long as the
    /// runtime lives (`e-business serve` starts it).
    pub fn spawn_retry_loop(&self) {
        let app = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RETRY_EVERY).await;
                match app.retry_pending(agency_kit::now()).await {
                    Ok(0) => {}
                    Ok(left) => tracing::warn!(left, "licences still unsealed"),
                    Err(e) => tracing::warn!(error = %e, "sealing the pending licences failed"),
                }
            }
        });
    }
}

/// How often the retry loop seals the licences left unsealed.
pub const RETRY_EVERY: Duration = Duration::from_secs(60);
