//! The identity provider's shared state and the operations that need storage: what the HTTP
//! handlers, the CLI and the admin API all call.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    path::Path,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::{
    config::Config,
    domain::{
        UnixTime,
        audit::{self, Event, NewEntry, Verdict},
        cid::Cid,
        client::{Client, ClientId, ClientMetadata},
        keys::{Kek, SigningAlg},
        registry::{Person, RowError},
        secrets,
    },
    error::{Error, Result},
    keyring::{self, Keyring},
    metrics::Metrics,
    store::{self, Db, registry::ImportStats},
};

/// Why a digital ID is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The registry records the person as deceased.
    Deceased,
    /// The citizen's passkeys or identity were compromised.
    Compromised,
    /// The citizen asked.
    Requested,
}

impl CloseReason {
    /// Parses `deceased`, `compromised` or `requested`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "deceased" => Ok(Self::Deceased),
            "compromised" => Ok(Self::Compromised),
            "requested" => Ok(Self::Requested),
            _ => Err(Error::Invalid("reason must be deceased, compromised or requested".into())),
        }
    }

    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deceased => "deceased",
            Self::Compromised => "compromised",
            Self::Requested => "requested",
        }
    }
}

/// Everything a request handler needs; shared behind an `Arc`.
#[derive(Debug)]
pub struct Idp {
    /// Configuration.
    pub config: Config,
    /// The database.
    pub db: Db,
    /// Signing keys.
    pub keyring: Keyring,
    /// The key-encryption key.
    kek: Kek,
    /// MAC key of the audit chain.
    audit_key: [u8; 32],
    /// Pepper for activation-code hashes.
    code_pepper: [u8; 32],
    /// Key of pairwise subject identifiers.
    pub(crate) pairwise_key: [u8; 32],
    /// Key that binds CSRF tokens to the browser cookie.
    pub(crate) csrf_key: [u8; 32],
    /// WebAuthn relying party.
    pub passkeys: crate::passkeys::Passkeys,
    /// Page strings in English and Dzongkha.
    pub i18n: crate::i18n::Catalogue,
    clients: ClientCache,
    /// Serializes this instance's audit appends, so concurrent events queue instead of racing
    /// for the chain head (other instances are handled by the store's retry).
    audit_lock: tokio::sync::Mutex<()>,
    /// Per-IP login limiter (in memory: a passkey cannot be guessed, so this guards
    /// availability, and a per-instance count is enough).
    pub login_limiter: DefaultKeyedRateLimiter<String>,
    /// Per-client token-endpoint limiter.
    pub token_limiter: DefaultKeyedRateLimiter<String>,
    /// Per-IP limiter of OCSP and timestamp requests (each costs a signature).
    pub pki_limiter: DefaultKeyedRateLimiter<String>,
    /// The loaded PKI, once a CA exists (see [`crate::pki::current`]).
    pub(crate) pki: arc_swap::ArcSwapOption<crate::pki::Pki>,
    /// One (re)load of the PKI at a time.
    pub(crate) pki_reload: tokio::sync::Mutex<()>,
    /// The built-in ABIS: every enrolled person's fingers, searchable 1:N (loaded from the
    /// database; see [`crate::enrolment::sync_abis`]).
    pub(crate) abis: std::sync::Arc<dyn biometric_adapter::abis::Abis>,
    /// The external ABIS connector, when one is configured (its shelf is served to the ABIS).
    pub(crate) mosip_abis: Option<biometric_adapter::abis::mosip::MosipAbis>,
    /// Accounts already in the ABIS, and the newest template time loaded.
    pub(crate) abis_known: tokio::sync::Mutex<std::collections::HashSet<String>>,
    pub(crate) abis_watermark: tokio::sync::Mutex<i64>,
    /// The trusted device-provider CAs (`enrolment.trusted_device_cas`), parsed on first use.
    pub(crate) device_trust: std::sync::OnceLock<biometric_adapter::sbi::trust::TrustStore>,
    /// One de-duplication decision at a time on this instance.
    pub(crate) enrol_lock: tokio::sync::Mutex<()>,
    /// The PKCS#11 token holding CA keys, logged in on first use and kept (one session per
    /// process; every key found in it shares that session).
    pkcs11: std::sync::Mutex<Option<signer::Pkcs11Token>>,
    /// Metrics registry.
    pub metrics: Metrics,
    /// Outbound HTTP (client JWKS, back-channel logout); no redirects, short timeouts.
    pub http: reqwest::Client,
    /// The issuer string, computed once.
    issuer: String,
    /// `Cache-Control` of discovery and JWKS, computed once.
    pub public_cache_control: http::HeaderValue,
    /// Cache of clients' fetched JWK Sets.
    pub jwks_cache: crate::client_auth::JwksCache,
}

/// Shared state handle.
pub type AppState = Arc<Idp>;

/// A new client's credentials, shown once.
#[derive(Debug, serde::Serialize)]
pub struct NewClient {
    /// The client id.
    pub client_id: String,
    /// The secret, for secret-based methods; it is stored only as a hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// An issued digital ID awaiting activation.
#[derive(Debug, serde::Serialize)]
pub struct Issued {
    /// Account id.
    pub account_id: String,
    /// The one-time activation code (shown once, stored as a MAC).
    pub activation_code: String,
    /// Where the citizen redeems it.
    pub activation_url: String,
    /// When the code stops working.
    pub expires_at: UnixTime,
}

impl Idp {
    /// Opens everything: resolves the key-encryption key, loads signing keys.
    pub async fn new(config: Config, db: Db) -> Result<AppState> {
        let now = crate::domain::now();
        let kek = resolve_kek(&config, &db)?;
        let keyring = Keyring::open(db.clone(), kek.clone(), now).await?;
        let rl = &config.rate_limits;
        let quota = Quota::per_second(NonZeroU32::new(rl.token_per_second).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(rl.token_burst.max(rl.token_per_second)).unwrap_or(NonZeroU32::MIN));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| Error::internal(format!("HTTP client: {e}")))?;
        // The ABIS: built in (an in-memory index over this database), or a vendor's following
        // MOSIP's contract, which fetches biometrics from /abis/references/<id>.
        let (abis, mosip_abis): (Arc<dyn biometric_adapter::abis::Abis>, _) = if config.enrolment.abis_url.is_empty() {
            (Arc::new(biometric_adapter::abis::MemoryAbis::new()), None)
        } else {
            let endpoint = url::Url::parse(&config.enrolment.abis_url)
                .map_err(|e| Error::Config(format!("enrolment.abis_url: {e}")))?;
            let base = url::Url::parse(&format!("{}/abis/references/", config.issuer_str()))
                .map_err(|e| Error::Config(format!("issuer: {e}")))?;
            let m = biometric_adapter::abis::mosip::MosipAbis::new(endpoint, base, Duration::from_secs(60))
                .map_err(|e| Error::Config(e.to_string()))?;
            (Arc::new(m.clone()), Some(m))
        };
        Ok(Arc::new(Self {
            audit_key: kek.derive("audit-chain-v1"),
            code_pepper: kek.derive("activation-code-v1"),
            pairwise_key: kek.derive("pairwise-sub-v1"),
            csrf_key: kek.derive("csrf-v1"),
            passkeys: crate::passkeys::Passkeys::new(&config.issuer)?,
            i18n: crate::i18n::Catalogue::load()?,
            clients: ClientCache::new(Duration::from_secs(config.client_cache_ttl)),
            token_limiter: DefaultKeyedRateLimiter::keyed(quota),
            pki_limiter: DefaultKeyedRateLimiter::keyed(
                Quota::per_second(NonZeroU32::new(rl.pki_per_second).unwrap_or(NonZeroU32::MIN))
                    .allow_burst(NonZeroU32::new(rl.pki_per_second.saturating_mul(2)).unwrap_or(NonZeroU32::MIN)),
            ),
            pki: arc_swap::ArcSwapOption::empty(),
            pki_reload: tokio::sync::Mutex::new(()),
            pkcs11: std::sync::Mutex::new(None),
            abis: abis.clone(),
            mosip_abis,
            abis_known: tokio::sync::Mutex::new(Default::default()),
            abis_watermark: tokio::sync::Mutex::new(0),
            device_trust: std::sync::OnceLock::new(),
            enrol_lock: tokio::sync::Mutex::new(()),
            login_limiter: DefaultKeyedRateLimiter::keyed(Quota::per_minute(
                NonZeroU32::new(rl.login_per_minute).unwrap_or(NonZeroU32::MIN),
            )),
            audit_lock: tokio::sync::Mutex::new(()),
            metrics: Metrics::global(),
            jwks_cache: crate::client_auth::JwksCache::default(),
            http,
            issuer: config.issuer_str(),
            public_cache_control: http::HeaderValue::from_str(&format!("public, max-age={}", config.keys.jwks_max_age))
                .map_err(|e| Error::Config(e.to_string()))?,
            config,
            db,
            keyring,
            kek,
        }))
    }

    /// The issuer string (`iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// An absolute URL on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer(), path)
    }

    /// The key-encryption key, for the modules that seal private keys (the PKI).
    pub(crate) fn kek(&self) -> &Kek {
        &self.kek
    }

    /// Appends to the audit chain. Failure to audit fails the operation: a security event that
    /// cannot be recorded must not happen silently.
    pub async fn audit(&self, entry: NewEntry, now: UnixTime) -> Result<()> {
        // On PostgreSQL, appends from one instance queue here rather than collide on the chain's
        // head (instances still may, and retry); on SQLite the group-commit writer already
        // serialises them, and holding a lock across its commit would allow one audit per batch.
        let _one_at_a_time = match self.db.backend() {
            store::Backend::Postgres => Some(self.audit_lock.lock().await),
            store::Backend::Sqlite => None,
        };
        store::audit::append(&self.db, &self.audit_key, &entry, now).await?;
        Ok(())
    }

    /// Walks the whole chain; `progress` is called with the count checked so far.
    pub async fn verify_audit(&self, progress: &mut dyn FnMut(i64)) -> Result<Verdict> {
        let mut v = audit::Verifier::new(self.audit_key);
        let mut after = 0;
        loop {
            let page = store::audit::page(&self.db, after, 5000).await?;
            if page.is_empty() {
                return Ok(v.finish());
            }
            for e in &page {
                if let Err(b) = v.check(e) {
                    return Ok(b);
                }
                after = e.seq;
            }
            progress(after);
        }
    }

    // ---- clients ----

    /// A client by id, from a short-lived cache.
    pub async fn client(&self, id: &str) -> Result<Option<Arc<Client>>> {
        if let Some(hit) = self.clients.get(id) {
            return Ok(hit);
        }
        let c = store::clients::get(&self.db, id).await?.map(Arc::new);
        self.clients.put(id, c.clone());
        Ok(c)
    }

    /// Registers a client. A secret is generated for the secret-based methods and returned once.
    pub async fn register_client(
        &self,
        client_id: Option<&str>,
        metadata: ClientMetadata,
        actor: &str,
        now: UnixTime,
    ) -> Result<NewClient> {
        metadata.validate()?;
        let client_id = match client_id {
            Some(id) => ClientId::parse(id)?,
            None => ClientId::parse(&secrets::random_id()?)?,
        };
        let secret =
            if metadata.token_endpoint_auth_method.uses_secret() { Some(secrets::random_token()?) } else { None };
        // Make sure the client's ID-token algorithm has a key before the first login needs it.
        self.keyring.signing_key_for(metadata.id_token_signed_response_alg, now).await?;
        let client =
            Client { client_id: client_id.clone(), secret_hash: secret.as_deref().map(secrets::hash_secret), metadata };
        store::clients::insert(&self.db, &client, now).await?;
        self.clients.forget(client_id.as_str());
        self.audit(
            NewEntry::new(Event::ClientAdded, actor, format!("client:{client_id}")).client(client_id.as_str()).detail(
                serde_json::json!({"name": client.metadata.client_name, "auth_method": client.metadata.token_endpoint_auth_method.as_str()}),
            ),
            now,
        )
        .await?;
        Ok(NewClient { client_id: client_id.to_string(), client_secret: secret })
    }

    /// Replaces a client's secret and returns the new one.
    pub async fn rotate_client_secret(&self, id: &str, actor: &str, now: UnixTime) -> Result<String> {
        let client = store::clients::get(&self.db, id).await?.ok_or_else(|| Error::NotFound(format!("client {id}")))?;
        if !client.metadata.token_endpoint_auth_method.uses_secret() {
            return Err(Error::Invalid("this client does not authenticate with a secret".into()));
        }
        let secret = secrets::random_token()?;
        store::clients::set_secret_hash(&self.db, &client.client_id, &secrets::hash_secret(&secret), now).await?;
        self.clients.forget(id);
        self.audit(NewEntry::new(Event::ClientSecretRotated, actor, format!("client:{id}")).client(id), now).await?;
        Ok(secret)
    }

    /// Removes a client.
    pub async fn remove_client(&self, id: &str, actor: &str, now: UnixTime) -> Result<()> {
        if !store::clients::remove(&self.db, id).await? {
            return Err(Error::NotFound(format!("client {id}")));
        }
        self.clients.forget(id);
        self.audit(NewEntry::new(Event::ClientRemoved, actor, format!("client:{id}")).client(id), now).await?;
        // What it sealed stays verifiable ("revoked later"), but it seals nothing more.
        crate::pki::revoke_seals(self, id, crate::pki::Reason::CessationOfOperation, actor, now).await?;
        Ok(())
    }

    // ---- registry and accounts ----

    /// Imports a registry CSV: every row checked first, then one transaction.
    pub async fn import_registry(
        &self,
        people: Result<Vec<Person>, Vec<RowError>>,
        source: &str,
        actor: &str,
        now: UnixTime,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Result<ImportStats, Vec<RowError>>> {
        let people = match people {
            Ok(p) => p,
            Err(errors) => return Ok(Err(errors)),
        };
        let stats = store::registry::import(&self.db, &people, now, progress).await?;
        self.audit(
            NewEntry::new(Event::RegistryImported, actor, "registry")
                .detail(serde_json::json!({"source": source, "rows": stats.rows, "written": stats.written, "unchanged": stats.unchanged})),
            now,
        )
        .await?;
        // The registry is the authority on death: a death it records closes the digital ID
        // and revokes the signing certificate, here and not at some later login.
        for cid in store::registry::deceased_with_open_accounts(&self.db).await? {
            let cid = Cid::parse(&cid).map_err(|e| Error::internal(e.to_string()))?;
            self.close_citizen(&cid, CloseReason::Deceased, "registry", now).await?;
        }
        Ok(Ok(stats))
    }

    /// Closes a digital ID: the account can no longer log in or be re-issued, its sessions end,
    /// its grants are revoked and its signing certificates are revoked (CRL and OCSP say so at
    /// once). Closing an already closed ID changes nothing and is not an error.
    pub async fn close_citizen(
        &self,
        cid: &Cid,
        reason: CloseReason,
        actor: &str,
        now: UnixTime,
    ) -> Result<Vec<String>> {
        let account = store::login::account_by_cid(&self.db, cid.as_str())
            .await?
            .ok_or_else(|| Error::NotFound(format!("CID {cid} has no digital ID")))?;
        let closed = store::registry::close_account(&self.db, &account.id, now).await?;
        let revocation = match reason {
            CloseReason::Deceased => crate::pki::Reason::CessationOfOperation,
            CloseReason::Compromised => crate::pki::Reason::KeyCompromise,
            CloseReason::Requested => crate::pki::Reason::AffiliationChanged,
        };
        let serials = crate::pki::revoke_account(self, &account.id, revocation, actor, now).await?;
        if closed {
            self.audit(
                NewEntry::new(Event::CitizenClosed, actor, format!("account:{}", account.id))
                    .detail(serde_json::json!({"reason": reason.as_str(), "certificates_revoked": serials})),
                now,
            )
            .await?;
        }
        Ok(serials)
    }

    /// Issues a digital ID for a registry person: creates the account if needed and a fresh
    /// one-time activation code (earlier unused codes stop working). The enrolment flow calls
    /// this after de-duplication; until then `idp citizen issue` does.
    pub async fn issue_citizen(&self, cid: &Cid, actor: &str, now: UnixTime) -> Result<Issued> {
        let person = store::registry::person(&self.db, cid)
            .await?
            .ok_or_else(|| Error::NotFound(format!("CID {cid} is not in the civil registry")))?;
        if !person.is_alive() {
            return Err(Error::Invalid(format!("the registry records CID {cid} as deceased")));
        }
        let code = secrets::human_code(4)?;
        let code_hash = self.activation_code_hash(cid, &code);
        let expires_at = now + self.config.tokens.activation_code_ttl as i64;
        let candidate = store::registry::Account {
            id: secrets::random_id()?,
            cid: cid.clone(),
            status: "pending".into(),
            user_handle: crate::passkeys::new_user_handle()?.to_string(),
            created_at: now,
        };
        let account = store::registry::issue(&self.db, &candidate, &code_hash, now, expires_at).await?;
        self.audit(
            NewEntry::new(Event::CitizenIssued, actor, format!("account:{}", account.id))
                .detail(serde_json::json!({"expires_at": expires_at})),
            now,
        )
        .await?;
        Ok(Issued { account_id: account.id, activation_code: code, activation_url: self.url("/activate"), expires_at })
    }

    /// After a successful re-verification at a centre: the citizen's passkeys are revoked, their
    /// sessions end, and a new one-time activation code is issued for them to register new ones.
    pub async fn reset_passkeys(&self, cid: &Cid, actor: &str, now: UnixTime) -> Result<Issued> {
        let account = store::login::account_by_cid(&self.db, cid.as_str())
            .await?
            .ok_or_else(|| Error::NotFound(format!("CID {cid} has no digital ID")))?;
        if !store::registry::reset_passkeys(&self.db, &account.id, now).await? {
            return Err(Error::Invalid(format!("the digital ID of CID {cid} is closed")));
        }
        self.audit(NewEntry::new(Event::PasskeysReset, actor, format!("account:{}", account.id)), now).await?;
        self.issue_citizen(cid, actor, now).await
    }

    /// The stored form of an activation code: a MAC over the CID and the normalized code, so a
    /// code is useless with another CID and a database dump does not reveal codes.
    pub fn activation_code_hash(&self, cid: &Cid, code: &str) -> String {
        secrets::mac_hex(&self.code_pepper, &format!("{}:{}", cid.as_str(), secrets::normalize_code(code)))
    }

    // ---- keys ----

    /// Stages a key rotation for `alg`.
    pub async fn rotate_keys(
        &self,
        alg: SigningAlg,
        immediate: bool,
        actor: &str,
        now: UnixTime,
    ) -> Result<(String, UnixTime)> {
        let t = &self.config.tokens;
        let longest = t.access_token_ttl.max(t.id_token_ttl) as i64 + 60;
        let ahead = if immediate { 0 } else { self.config.keys.publish_ahead as i64 };
        // An emergency rotation (compromised key) also drops the old key from JWKS at once.
        let retire_after = if immediate { 0 } else { longest };
        let (kid, at) = keyring::rotate(&self.db, &self.kek, alg, now, ahead, retire_after).await?;
        self.keyring.refresh(now).await?;
        self.audit(
            NewEntry::new(Event::KeyRotated, actor, format!("key:{kid}"))
                .detail(serde_json::json!({"alg": alg.as_str(), "activates_at": at, "immediate": immediate})),
            now,
        )
        .await?;
        Ok((kid, at))
    }

    /// The configured PKCS#11 token, opened and logged in on first use (`pki.pkcs11`).
    pub(crate) fn pkcs11_token(&self) -> Result<signer::Pkcs11Token> {
        let mut slot = self.pkcs11.lock().map_err(|_| Error::internal("the PKCS#11 token lock is poisoned"))?;
        if let Some(token) = slot.as_ref() {
            return Ok(token.clone());
        }
        let c = &self.config.pki.pkcs11;
        if c.token.is_empty() {
            return Err(Error::Config("a CA key is in a PKCS#11 token but pki.pkcs11 names none".into()));
        }
        let pin = signer::UserPin::new(c.pin.expose().to_owned());
        let token = signer::Pkcs11Token::open(&c.module, &c.token, &pin)?;
        *slot = Some(token.clone());
        Ok(token)
    }

    /// Background upkeep: key refresh and purge of expired bookkeeping; runs until `shutdown`.
    pub fn spawn_upkeep(
        self: &Arc<Self>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let every = Duration::from_secs(this.config.keys.refresh_interval.max(1));
            let mut last_purge = Instant::now();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = shutdown.changed() => return,
                }
                let now = crate::domain::now();
                if let Err(e) = this.keyring.refresh(now).await {
                    tracing::warn!(error = %e, "key refresh failed; keeping the previous key set");
                }
                if last_purge.elapsed() > Duration::from_secs(300) {
                    last_purge = Instant::now();
                    if let Err(e) = store::login::purge(&this.db, now).await {
                        tracing::warn!(error = %e, "purge of login rows failed");
                    }
                    match store::tokens::purge_expired(&this.db, now).await {
                        Ok(n) if n > 0 => {
                            tracing::info!(rows = n, "purged expired token bookkeeping")
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "purge failed"),
                    }
                }
            }
        })
    }
}

/// The configured key-encryption key; for an embedded SQLite deployment without one, a key
/// generated once into `data_dir/kek` (mode 0600). PostgreSQL deployments (several instances)
/// must configure it: each instance generating its own would make the others' keys unreadable.
fn resolve_kek(config: &Config, db: &Db) -> Result<Kek> {
    if let Some(k) = config.kek_bytes()? {
        return Ok(Kek::new(k));
    }
    if db.backend() != store::Backend::Sqlite {
        return Err(Error::Config("kek (IDP_KEK) is required with PostgreSQL: 32 random bytes, base64".into()));
    }
    let path = config.data_dir.join("kek");
    if path.exists() {
        let text = std::fs::read_to_string(&path).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        let raw =
            STANDARD.decode(text.trim()).map_err(|_| Error::Config(format!("{} is not base64", path.display())))?;
        let arr: [u8; 32] =
            raw.try_into().map_err(|_| Error::Config(format!("{} must hold 32 bytes", path.display())))?;
        return Ok(Kek::new(arr));
    }
    let kek = Kek::generate()?;
    write_private_file(&path, &STANDARD.encode(kek.to_bytes()))?;
    tracing::warn!(path = %path.display(), "generated a key-encryption key for this embedded deployment; set IDP_KEK in production and keep it outside the data directory");
    Ok(kek)
}

fn write_private_file(path: &Path, content: &str) -> Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::Config(format!("{}: {e}", dir.display())))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    f.write_all(content.as_bytes()).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    f.sync_all().map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    Ok(())
}

/// A small TTL cache of client registrations (including "no such client"), bounded so a flood
/// of random client ids cannot grow it without limit.
#[derive(Debug)]
struct ClientCache {
    ttl: Duration,
    map: RwLock<HashMap<String, CacheEntry>>,
}

/// When an entry was read, and the client (or its absence).
type CacheEntry = (Instant, Option<Arc<Client>>);

const CLIENT_CACHE_MAX: usize = 10_000;

impl ClientCache {
    fn new(ttl: Duration) -> Self {
        Self { ttl, map: RwLock::new(HashMap::new()) }
    }
    fn get(&self, id: &str) -> Option<Option<Arc<Client>>> {
        let map = self.map.read().ok()?;
        let (at, c) = map.get(id)?;
        (at.elapsed() < self.ttl).then(|| c.clone())
    }
    fn put(&self, id: &str, c: Option<Arc<Client>>) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut map) = self.map.write() {
            if map.len() >= CLIENT_CACHE_MAX {
                map.clear();
            }
            map.insert(id.to_string(), (Instant::now(), c));
        }
    }
    fn forget(&self, id: &str) {
        if let Ok(mut map) = self.map.write() {
            map.remove(id);
        }
    }
}
