//! Configuration: defaults, then a TOML file, then `IDP_*` environment variables.
//!
//! Nested keys are reached from the environment with a double underscore:
//! `IDP_TOKENS__ACCESS_TOKEN_TTL=600` sets `[tokens] access_token_ttl`. `DATABASE_URL` is also
//! honoured because every sqlx tool uses it. Secrets (the key-encryption key) are held in
//! [`Secret`], which never prints its contents.

use std::{fmt, net::SocketAddr, path::PathBuf};

use base64::{Engine, engine::general_purpose::STANDARD};
use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{Error, Result};

/// A secret configuration value: deserializes like a string, never shows itself in `Debug`.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Everything the identity provider can be told at start-up.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The issuer identifier (`iss`), also the public base URL of every endpoint. WebAuthn
    /// refuses IP-address origins, so the local default is `http://localhost:8080`.
    pub issuer: Url,
    /// Address the HTTP listener binds.
    pub listen: SocketAddr,
    /// `sqlite://...` (embedded, the default) or `postgres://...`. Empty means a SQLite file
    /// `idp.db` in `data_dir`.
    pub database_url: String,
    /// SQLite durability: `full` (default) or `normal` (see `store::SqliteSync`).
    pub sqlite_synchronous: crate::store::SqliteSync,
    /// Where the embedded database and a generated development key-encryption key live.
    pub data_dir: PathBuf,
    /// The key-encryption key (32 bytes, base64) that protects private keys at rest. When empty,
    /// a SQLite deployment generates `data_dir/kek` on first start; PostgreSQL refuses to start.
    pub kek: Secret,
    /// Token and code lifetimes.
    pub tokens: TokenConfig,
    /// Rate limits.
    pub rate_limits: RateLimitConfig,
    /// Signing-key lifecycle.
    pub keys: KeyConfig,
    /// Biometric enrolment at registration centres.
    pub enrolment: EnrolmentConfig,
    /// The signer's PKI: policies and lifetimes of what it issues.
    pub pki: PkiConfig,
    /// Maximum accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Seconds a client registration is cached in memory before it is read again. Removing or
    /// changing a client takes effect on every instance within this time.
    pub client_cache_ttl: u64,
    /// Bearer token that authorizes the admin API (`/admin/*`). Empty disables the admin API.
    pub admin_token: Secret,
    /// Log format: `json` (default) or `pretty`.
    pub log_format: String,
}

/// Lifetimes, in seconds.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenConfig {
    /// JWT access tokens.
    pub access_token_ttl: u64,
    /// ID tokens.
    pub id_token_ttl: u64,
    /// Refresh tokens (each rotation starts a new lifetime, bounded by the family's).
    pub refresh_token_ttl: u64,
    /// Authorization codes (RFC 9700 asks for short; DESIGN.md fixes 60 s).
    pub code_ttl: u64,
    /// Pushed authorization requests (`request_uri` lifetime).
    pub par_ttl: u64,
    /// Browser sessions.
    pub session_ttl: u64,
    /// One-time activation codes.
    pub activation_code_ttl: u64,
    /// Longest accepted lifetime of a `private_key_jwt` client assertion (`exp - now`).
    pub client_assertion_max_ttl: u64,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            access_token_ttl: 300,
            id_token_ttl: 300,
            refresh_token_ttl: 30 * 24 * 3600,
            code_ttl: 60,
            par_ttl: 60,
            session_ttl: 8 * 3600,
            activation_code_ttl: 7 * 24 * 3600,
            client_assertion_max_ttl: 300,
        }
    }
}

/// Rate limits. Token-endpoint and login limits are enforced in each instance's memory (they
/// guard availability: secrets and passkeys cannot be guessed); activation limits, where a
/// short code could be guessed, are counted in the database so that every instance sees them.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Token-endpoint requests per second per client (and per IP for unauthenticated failures).
    pub token_per_second: u32,
    /// Burst allowed above `token_per_second`.
    pub token_burst: u32,
    /// Passkey login requests per IP per minute (per instance).
    pub login_per_minute: u32,
    /// Activation attempts per IP per minute.
    pub activation_per_minute: u32,
    /// OCSP and timestamp requests per second per IP (each costs a signature).
    pub pki_per_second: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            token_per_second: 200,
            token_burst: 400,
            login_per_minute: 30,
            activation_per_minute: 10,
            pki_per_second: 100,
        }
    }
}

/// The signer's PKI.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PkiConfig {
    /// The policy OID in every timestamp (RFC 3161 requires one). The default is ETSI EN 319 421's
    /// best-practices time-stamp policy, 0.4.0.2023.1.1.
    pub tsa_policy: String,
    /// The certificate policy OID written into the issuing CA and citizen certificates; empty
    /// writes none. It must come from an arc the programme has registered.
    pub citizen_policy: String,
    /// Lifetime of a citizen's signing certificate, in days.
    pub certificate_days: u32,
    /// How long a CRL is valid (its nextUpdate), in hours; a new one is made halfway through, or
    /// at once after a revocation.
    pub crl_hours: u32,
    /// Where `idp ca init` makes the CA's four keys: `software` (sealed under the key-encryption
    /// key, the default) or `pkcs11` (inside the token `[pki.pkcs11]` names; they never leave
    /// it). Recorded per key, so a hierarchy keeps working with the store it was made in.
    pub key_store: CaKeyStore,
    /// The PKCS#11 token (an HSM; SoftHSM2 in tests) for `key_store = "pkcs11"`.
    pub pkcs11: Pkcs11Config,
    /// Whether only digital IDs enrolled biometrically (`urn:drukyul:loa:high`) may approve
    /// signing requests. On by default: a signature is a legal act.
    pub signing_requires_high_assurance: bool,
    /// The key a citizen's new signing certificate gets: `ecdsa-p256` (the default) or
    /// `rsa-3072` (RSASSA-PKCS1-v1_5 with SHA-256, for relying parties whose validators predate
    /// ECDSA). Existing certificates keep their keys; the CA hierarchy stays ECDSA P-256.
    pub citizen_key: CitizenKey,
}

/// The algorithm of citizens' signing keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum CitizenKey {
    /// ECDSA over P-256 with SHA-256.
    #[default]
    #[serde(rename = "ecdsa-p256")]
    EcdsaP256,
    /// RSA, 3072 bits (NIST SP 800-57: 128-bit security, like P-256), PKCS#1 v1.5 with SHA-256.
    #[serde(rename = "rsa-3072")]
    Rsa3072,
}

/// Where the CA keys are made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CaKeyStore {
    /// In software, sealed under the key-encryption key.
    #[default]
    Software,
    /// In a PKCS#11 token.
    Pkcs11,
}

/// A PKCS#11 token holding CA keys.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Pkcs11Config {
    /// The PKCS#11 library (for SoftHSM2 on Debian `/usr/lib/softhsm/libsofthsm2.so`).
    pub module: PathBuf,
    /// The token's label (tokens are found by label: slot numbers change).
    pub token: String,
    /// The token user's PIN (`IDP_PKI__PKCS11__PIN`; never logged).
    pub pin: Secret,
    /// Prefix of the key labels `idp ca init` makes (`<prefix>-root`, `-issuing`, `-ocsp`,
    /// `-tsa`); one per hierarchy, e.g. with the year of the key ceremony.
    pub label_prefix: String,
}

impl Default for Pkcs11Config {
    fn default() -> Self {
        Self {
            module: PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"),
            token: String::new(),
            pin: Secret::default(),
            label_prefix: "drukyul-ca".into(),
        }
    }
}

impl Default for PkiConfig {
    fn default() -> Self {
        Self {
            tsa_policy: "0.4.0.2023.1.1".into(),
            citizen_policy: String::new(),
            certificate_days: 730,
            crl_hours: 24,
            key_store: CaKeyStore::Software,
            pkcs11: Pkcs11Config::default(),
            signing_requires_high_assurance: true,
            citizen_key: CitizenKey::EcdsaP256,
        }
    }
}

/// Biometric enrolment: which scanners are trusted and how strict captures and
/// de-duplication are.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnrolmentConfig {
    /// PEM file of the device-provider CA certificates whose scanners are trusted (MOSIP SBI:
    /// every capture is signed by a device key certified under one of them). Empty: enrolment
    /// is off and its pages say so.
    pub trusted_device_cas: PathBuf,
    /// The SBI environment the scanners must be registered for: `Staging`, `Developer`,
    /// `Pre-Production` or `Production`.
    pub device_env: String,
    /// The lowest quality score (0-100) a finger capture may have; below it the officer is
    /// told which finger to capture again. The default, 30, passes 99.5% of ten-finger captures
    /// of the simulator's default (hard) noise and refuses the badly damaged ones; at 40 only
    /// 15% of ten-finger captures would pass at once.
    pub min_quality: f64,
    /// The de-duplication threshold: the false match rate per enrolled person compared above
    /// which a candidate goes to adjudication (1e-6: about one false case per million pairs).
    pub dedup_fmr: f64,
    /// The 1:1 threshold of re-verification at a centre (a false match rate).
    pub verify_fmr: f64,
    /// How long a capture request (its transactionId) stays usable, in seconds.
    pub capture_ttl: i64,
    /// Whether an enrolment must carry a face photo (captured by the officer's camera through
    /// its SBI device service, signed and verified like the fingers). On by default: the photo
    /// is what a supervisor compares in an adjudication case. Off, a photo is still verified
    /// and kept when one is submitted. Re-verifications never need one.
    pub require_face: bool,
    /// An external ABIS following MOSIP's ABIS contract over HTTP (its endpoint URL); empty
    /// uses the built-in in-memory ABIS over this database.
    pub abis_url: String,
    /// The bearer token the external ABIS presents to fetch biometrics from
    /// `<issuer>/abis/references/<id>` (`IDP_ENROLMENT__ABIS_TOKEN`; at least 32 characters).
    pub abis_token: Secret,
}

impl Default for EnrolmentConfig {
    fn default() -> Self {
        Self {
            trusted_device_cas: PathBuf::new(),
            device_env: "Developer".into(),
            min_quality: 30.0,
            dedup_fmr: 1e-6,
            verify_fmr: 1e-5,
            capture_ttl: 600,
            require_face: true,
            abis_url: String::new(),
            abis_token: Secret::default(),
        }
    }
}

/// Signing-key lifecycle.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyConfig {
    /// Seconds a rotated-in key is published in JWKS before it signs, so relying parties that
    /// cache JWKS (for at most `jwks_max_age`) know it before they see it.
    pub publish_ahead: u64,
    /// `Cache-Control: max-age` of the JWKS and discovery documents.
    pub jwks_max_age: u64,
    /// Seconds between re-reads of the key table; how fast a rotation through one instance
    /// reaches the others.
    pub refresh_interval: u64,
}

impl Default for KeyConfig {
    fn default() -> Self {
        Self { publish_ahead: 600, jwks_max_age: 300, refresh_interval: 10 }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            issuer: default_issuer(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: String::new(),
            sqlite_synchronous: crate::store::SqliteSync::Full,
            data_dir: PathBuf::from("data"),
            kek: Secret::default(),
            tokens: TokenConfig::default(),
            rate_limits: RateLimitConfig::default(),
            keys: KeyConfig::default(),
            enrolment: EnrolmentConfig::default(),
            pki: PkiConfig::default(),
            max_body_bytes: 64 * 1024,
            client_cache_ttl: 5,
            admin_token: Secret::default(),
            log_format: "json".into(),
        }
    }
}

#[allow(clippy::expect_used)]
fn default_issuer() -> Url {
    // A literal that is known to parse; checked by a unit test.
    Url::parse("http://localhost:8080").expect("literal URL")
}

/// Secret settings and the environment variables that set them, read as strings whatever they
/// look like.
const SECRET_VARS: [(&str, &str); 4] = [
    ("IDP_KEK", "kek"),
    ("IDP_ADMIN_TOKEN", "admin_token"),
    ("IDP_PKI__PKCS11__PIN", "pki.pkcs11.pin"),
    ("IDP_ENROLMENT__ABIS_TOKEN", "enrolment.abis_token"),
];

/// The configuration's top-level keys (what an `IDP_*` variable may name).
const TOP_LEVEL_KEYS: [&str; 15] = [
    "issuer",
    "listen",
    "database_url",
    "sqlite_synchronous",
    "data_dir",
    "kek",
    "tokens",
    "rate_limits",
    "keys",
    "enrolment",
    "pki",
    "max_body_bytes",
    "client_cache_ttl",
    "admin_token",
    "log_format",
];

impl Config {
    /// Loads defaults, then `file` (if given; else `idp.toml` when present), then the
    /// environment. Validates the result.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                if !path.exists() {
                    return Err(Error::Config(format!("configuration file {} not found", path.display())));
                }
                fig = fig.merge(Toml::file(path));
            }
            None => fig = fig.merge(Toml::file("idp.toml")),
        }
        // Only variables naming a configuration section or key: IDP_CONFIG, IDP_LOG and other
        // IDP_* variables of the environment are not configuration. A typo inside a known
        // section (IDP_TOKENS__ACESS_TOKEN_TTL) is still refused.
        fig = fig.merge(
            Env::prefixed("IDP_")
                .filter(|k| {
                    let top = k.as_str().split("__").next().unwrap_or("").to_ascii_lowercase();
                    TOP_LEVEL_KEYS.contains(&top.as_str())
                })
                .split("__"),
        );
        // Secrets are taken verbatim: figment would read a PIN like `012345` as the number 12345.
        for (var, key) in SECRET_VARS {
            if let Ok(value) = std::env::var(var) {
                fig = fig.merge(Serialized::default(key, value));
            }
        }
        if let Ok(url) = std::env::var("DATABASE_URL")
            && std::env::var_os("IDP_DATABASE_URL").is_none()
        {
            fig = fig.merge(Serialized::default("database_url", url));
        }
        let cfg: Config = fig.extract().map_err(|e| Error::Config(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks what serde cannot: the issuer's shape, lifetimes and limits.
    pub fn validate(&self) -> Result<()> {
        let iss = &self.issuer;
        if iss.query().is_some() || iss.fragment().is_some() {
            return Err(Error::Config("issuer must not have a query or fragment".into()));
        }
        if iss.scheme() != "https" && !self.is_localhost() {
            return Err(Error::Config("issuer must be https (http is allowed only for localhost)".into()));
        }
        let t = &self.tokens;
        for (name, v) in [
            ("access_token_ttl", t.access_token_ttl),
            ("id_token_ttl", t.id_token_ttl),
            ("code_ttl", t.code_ttl),
            ("par_ttl", t.par_ttl),
            ("session_ttl", t.session_ttl),
            ("activation_code_ttl", t.activation_code_ttl),
            ("refresh_token_ttl", t.refresh_token_ttl),
        ] {
            if v == 0 {
                return Err(Error::Config(format!("tokens.{name} must be positive")));
            }
        }
        if t.code_ttl > 600 {
            return Err(Error::Config("tokens.code_ttl must be at most 600 s (RFC 6749 4.1.2)".into()));
        }
        if self.rate_limits.token_per_second == 0 {
            return Err(Error::Config("rate_limits.token_per_second must be positive".into()));
        }
        if self.rate_limits.pki_per_second == 0 {
            return Err(Error::Config("rate_limits.pki_per_second must be positive".into()));
        }
        let p = &self.pki;
        if p.tsa_policy.parse::<signer::x509_cert::der::asn1::ObjectIdentifier>().is_err() {
            return Err(Error::Config("pki.tsa_policy must be an OID (dotted decimal)".into()));
        }
        if !p.citizen_policy.is_empty()
            && p.citizen_policy.parse::<signer::x509_cert::der::asn1::ObjectIdentifier>().is_err()
        {
            return Err(Error::Config("pki.citizen_policy must be empty or an OID (dotted decimal)".into()));
        }
        if p.certificate_days == 0 || p.certificate_days > 3650 {
            return Err(Error::Config("pki.certificate_days must be between 1 and 3650".into()));
        }
        if p.crl_hours == 0 || p.crl_hours > 24 * 31 {
            return Err(Error::Config("pki.crl_hours must be between 1 and 744".into()));
        }
        if p.key_store == CaKeyStore::Pkcs11 {
            let t = &p.pkcs11;
            if t.module.as_os_str().is_empty() || t.token.is_empty() || t.pin.expose().is_empty() {
                return Err(Error::Config(
                    "pki.key_store = \"pkcs11\" needs pki.pkcs11.module, pki.pkcs11.token and pki.pkcs11.pin".into(),
                ));
            }
            if t.label_prefix.is_empty() || t.label_prefix.len() > 64 {
                return Err(Error::Config("pki.pkcs11.label_prefix must be 1 to 64 characters".into()));
            }
        }
        let e = &self.enrolment;
        if biometric_adapter::sbi::messages::Env::parse(&e.device_env).is_none() {
            return Err(Error::Config(
                "enrolment.device_env must be Staging, Developer, Pre-Production or Production".into(),
            ));
        }
        if !(0.0..=100.0).contains(&e.min_quality) {
            return Err(Error::Config("enrolment.min_quality must be between 0 and 100".into()));
        }
        for (name, v) in [("dedup_fmr", e.dedup_fmr), ("verify_fmr", e.verify_fmr)] {
            if !(v > 0.0 && v < 0.1) {
                return Err(Error::Config(format!("enrolment.{name} must be a false match rate below 0.1")));
            }
        }
        if !e.abis_url.is_empty() {
            if Url::parse(&e.abis_url).is_err() {
                return Err(Error::Config("enrolment.abis_url must be a URL".into()));
            }
            if e.abis_token.expose().len() < 32 {
                return Err(Error::Config(
                    "an external ABIS needs enrolment.abis_token of at least 32 characters".into(),
                ));
            }
        }
        if !(60..=3600).contains(&e.capture_ttl) {
            return Err(Error::Config("enrolment.capture_ttl must be between 60 and 3600 seconds".into()));
        }
        if self.max_body_bytes < 1024 {
            return Err(Error::Config("max_body_bytes must be at least 1024".into()));
        }
        if !matches!(self.log_format.as_str(), "json" | "pretty") {
            return Err(Error::Config("log_format must be json or pretty".into()));
        }
        Ok(())
    }

    /// True when the issuer is a loopback development URL; the only case in which cookies drop
    /// the `Secure` attribute and http is accepted.
    pub fn is_localhost(&self) -> bool {
        self.issuer.scheme() == "http" && matches!(self.issuer.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
    }

    /// The issuer as a string without a trailing slash (what goes into `iss`).
    pub fn issuer_str(&self) -> String {
        self.issuer.as_str().trim_end_matches('/').to_string()
    }

    /// The database URL to use: the configured one, or the embedded SQLite file.
    pub fn effective_database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}?mode=rwc", self.data_dir.join("idp.db").display())
        } else {
            self.database_url.clone()
        }
    }

    /// Decodes the configured key-encryption key, if any.
    pub fn kek_bytes(&self) -> Result<Option<[u8; 32]>> {
        if self.kek.expose().is_empty() {
            return Ok(None);
        }
        let raw = STANDARD.decode(self.kek.expose().trim()).map_err(|_| Error::Config("kek must be base64".into()))?;
        let arr: [u8; 32] = raw.try_into().map_err(|_| Error::Config("kek must be exactly 32 bytes".into()))?;
        Ok(Some(arr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(c.issuer_str(), "http://localhost:8080");
        assert!(c.is_localhost());
    }

    #[test]
    fn http_issuer_outside_localhost_is_refused() {
        let c = Config { issuer: Url::parse("http://id.example.bt").unwrap(), ..Config::default() };
        assert!(c.validate().is_err());
    }

    #[test]
    fn kek_must_be_32_bytes() {
        let c = Config { kek: Secret::new(STANDARD.encode([1u8; 16])), ..Config::default() };
        assert!(c.kek_bytes().is_err());
        let c = Config { kek: Secret::new(STANDARD.encode([1u8; 32])), ..Config::default() };
        assert_eq!(c.kek_bytes().unwrap(), Some([1u8; 32]));
    }

    #[test]
    fn every_field_is_reachable_from_the_environment() {
        let v = serde_json::to_value(Config::default()).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        let mut known = TOP_LEVEL_KEYS.to_vec();
        known.sort();
        assert_eq!(keys, known);
    }

    #[test]
    fn a_pkcs11_key_store_needs_its_token() {
        let mut c = Config::default();
        c.pki.key_store = CaKeyStore::Pkcs11;
        assert!(c.validate().is_err(), "no token, no PIN");
        c.pki.pkcs11.token = "drukyul-ca".into();
        assert!(c.validate().is_err(), "no PIN");
        c.pki.pkcs11.pin = Secret::new("024680");
        c.validate().unwrap();
        c.pki.pkcs11.label_prefix = String::new();
        assert!(c.validate().is_err());
    }

    #[test]
    fn secret_does_not_print() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
