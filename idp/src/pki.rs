//! The signer's PKI inside the identity provider: the CA hierarchy (`idp ca init`), citizens'
//! signing certificates and their revocation, and what the public PKI endpoints answer — the
//! chain, CRLs, OCSP (RFC 6960) and timestamps (RFC 3161).
//!
//! The `signer` crate makes every certificate, CRL, response and token; this module decides
//! when, keeps the records, and seals private keys under the key-encryption key (bound to their
//! role or serial, so a sealed key cannot be moved to another row).
//!
//! The root CA's key is opened only by the operator's CLI (`idp ca init`, `idp ca root-crl`):
//! the running server signs with the issuing CA, the OCSP responder and the TSA only.

use std::{sync::Arc, time::Duration};

use signer::{
    CaKey, Hierarchy, HierarchyParams, IssuingCa, KeyRef, KeySources, SoftwareKey,
    crl::{RevocationReason, RevokedCertificate},
    ocsp::{CertStatus, OcspResponder},
    tsa::TimestampAuthority,
    x509_cert::{
        Certificate,
        der::{Decode, Encode, asn1::ObjectIdentifier},
        serial_number::SerialNumber,
    },
};

use crate::{
    app::Idp,
    config::CaKeyStore,
    domain::{
        UnixTime,
        audit::{Event, NewEntry},
    },
    error::{Error, Result},
    store::{self, pki::CredentialRow},
};

const ROOT: &str = "root";
const ISSUING: &str = "issuing";
const OCSP: &str = "ocsp";
const TSA: &str = "tsa";
const SOFTWARE: &str = "software";
const PKCS11: &str = "pkcs11";

/// Where a token key is, as `ca_credentials.key_ref` records it.
#[derive(serde::Serialize, serde::Deserialize)]
struct TokenKeyRef {
    token: String,
    label: String,
}

/// How long the root's CRL is valid: it is signed offline (`idp ca root-crl`), so rarely.
const ROOT_CRL_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// Lifetime of an OCSP responder certificate (it carries `ocsp-nocheck`: expiry is its only
/// revocation, so it is short) ...
const OCSP_VALIDITY: Duration = Duration::from_secs(30 * 24 * 3600);
/// ... and it is replaced this long before it expires.
const OCSP_RENEW_BEFORE: Duration = Duration::from_secs(10 * 24 * 3600);
/// How long an OCSP answer may be cached (its nextUpdate).
const OCSP_UPDATE: Duration = Duration::from_secs(3600);

/// Why a certificate is revoked, in RFC 5280's words (the stored and displayed name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// No reason given.
    Unspecified,
    /// The key (or the passkeys that activate it) may be in someone else's hands.
    KeyCompromise,
    /// The person's details changed (name), or the digital ID was closed.
    AffiliationChanged,
    /// Replaced by a new certificate.
    Superseded,
    /// The holder died or the digital ID ceased.
    CessationOfOperation,
}

impl Reason {
    /// Parses the RFC 5280 name.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "unspecified" => Self::Unspecified,
            "keyCompromise" => Self::KeyCompromise,
            "affiliationChanged" => Self::AffiliationChanged,
            "superseded" => Self::Superseded,
            "cessationOfOperation" => Self::CessationOfOperation,
            _ => {
                return Err(Error::Invalid(
                    "reason must be one of unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation"
                        .into(),
                ));
            }
        })
    }

    /// The RFC 5280 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::KeyCompromise => "keyCompromise",
            Self::AffiliationChanged => "affiliationChanged",
            Self::Superseded => "superseded",
            Self::CessationOfOperation => "cessationOfOperation",
        }
    }

    fn signer(self) -> RevocationReason {
        match self {
            Self::Unspecified => RevocationReason::Unspecified,
            Self::KeyCompromise => RevocationReason::KeyCompromise,
            Self::AffiliationChanged => RevocationReason::AffiliationChanged,
            Self::Superseded => RevocationReason::Superseded,
            Self::CessationOfOperation => RevocationReason::CessationOfOperation,
        }
    }
}

/// What a stored reason means to the CRL and OCSP (an unknown name, which only a manual edit
/// could leave, is still a revocation).
fn stored_reason(s: &str) -> RevocationReason {
    Reason::parse(s).map(Reason::signer).unwrap_or(RevocationReason::Unspecified)
}

/// A citizen certificate's status from [`store::pki::statuses`] rows: unknown if it was never
/// issued here.
fn recorded_status(found: &[(String, Option<UnixTime>, Option<String>)], serial: &str) -> CertStatus {
    match found.iter().find(|(s, _, _)| s == serial) {
        None => CertStatus::Unknown,
        Some((_, None, _)) => CertStatus::Good,
        Some((_, Some(at), reason)) => {
            CertStatus::Revoked { revoked_at: *at, reason: stored_reason(reason.as_deref().unwrap_or_default()) }
        }
    }
}

/// The loaded PKI of a running server.
pub struct Pki {
    root: Certificate,
    issuing: IssuingCa,
    ocsp: OcspResponder,
    /// When the OCSP responder certificate was stored (to replace exactly that one).
    ocsp_created_at: UnixTime,
    /// When to replace the OCSP responder certificate.
    ocsp_renew_at: UnixTime,
    tsa: TimestampAuthority,
    root_der: Vec<u8>,
    issuing_der: Vec<u8>,
    chain_pem: String,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki").finish_non_exhaustive()
    }
}

impl Pki {
    /// The chain (issuing CA, then root) as PEM.
    pub fn chain_pem(&self) -> &str {
        &self.chain_pem
    }
    /// The root certificate (DER).
    pub fn root_der(&self) -> &[u8] {
        &self.root_der
    }
    /// The issuing CA certificate (DER).
    pub fn issuing_der(&self) -> &[u8] {
        &self.issuing_der
    }
}

fn aad(role: &str) -> Vec<u8> {
    format!("drukyul-ca-key:{role}").into_bytes()
}

fn citizen_aad(serial: &str) -> Vec<u8> {
    format!("drukyul-citizen-key:{serial}").into_bytes()
}

fn seal_aad(serial: &str) -> Vec<u8> {
    format!("drukyul-seal-key:{serial}").into_bytes()
}

fn endpoints(idp: &Idp) -> Result<signer::Endpoints> {
    Ok(signer::Endpoints::from_base_url(idp.issuer())?)
}

fn citizen_policy(idp: &Idp) -> Result<Option<ObjectIdentifier>> {
    let p = &idp.config.pki.citizen_policy;
    if p.is_empty() {
        return Ok(None);
    }
    p.parse().map(Some).map_err(|_| Error::Config("pki.citizen_policy is not an OID".into()))
}

fn parse_certificate(der: &[u8]) -> Result<Certificate> {
    Certificate::from_der(der).map_err(|e| Error::internal(format!("stored certificate unreadable: {e}")))
}

fn to_der<T: Encode>(v: &T) -> Result<Vec<u8>> {
    v.to_der().map_err(|e| Error::internal(format!("DER encoding: {e}")))
}

fn seconds(t: &signer::x509_cert::time::Time) -> UnixTime {
    t.to_unix_duration().as_secs() as i64
}

/// Lower-case hex of a serial number's DER content, the form records and the CLI use.
pub fn serial_hex(serial: &SerialNumber) -> String {
    hex::encode(serial.as_bytes())
}

/// Opens the key a credential row names.
fn open_key(idp: &Idp, row: &CredentialRow) -> Result<Box<dyn CaKey>> {
    match row.key_store.as_str() {
        SOFTWARE => {
            let der = zeroize::Zeroizing::new(idp.kek().open(&aad(&row.role), &row.key_ref)?);
            Ok(Box::new(SoftwareKey::from_pkcs8_der(&der)?))
        }
        PKCS11 => {
            let at: TokenKeyRef = serde_json::from_slice(&row.key_ref)
                .map_err(|_| Error::internal(format!("the {} CA key's token reference is unreadable", row.role)))?;
            let token = idp.pkcs11_token()?;
            if token.label() != at.token {
                return Err(Error::Config(format!(
                    "the {} CA key is in token {:?}, but pki.pkcs11.token is {:?}",
                    row.role,
                    at.token,
                    token.label()
                )));
            }
            Ok(Box::new(token.find_key(&at.label)?))
        }
        other => {
            Err(Error::Config(format!("the {} CA key is in a {other} key store this server cannot open", row.role)))
        }
    }
}

/// A summary line of a CA certificate, for the CLI.
#[derive(Debug, serde::Serialize)]
pub struct CertificateSummary {
    /// `root`, `issuing`, `ocsp`, `tsa`, or `citizen`.
    pub role: String,
    /// Subject DN.
    pub subject: String,
    /// Serial (hex).
    pub serial: String,
    /// Not after (Unix seconds).
    pub not_after: UnixTime,
    /// SHA-256 of the DER certificate (hex), to compare out of band.
    pub sha256: String,
    /// Where its key is: `software` (sealed under the KEK) or `pkcs11` (in the token).
    pub key_store: String,
}

fn summary(role: &str, cert: &Certificate) -> Result<CertificateSummary> {
    let tbs = cert.tbs_certificate();
    Ok(CertificateSummary {
        role: role.to_string(),
        subject: tbs.subject().to_string(),
        serial: serial_hex(tbs.serial_number()),
        not_after: seconds(&tbs.validity().not_after),
        sha256: hex::encode(ring::digest::digest(&ring::digest::SHA256, &to_der(cert)?)),
        key_store: String::new(),
    })
}

/// How a freshly made key is recorded: `(key_store, key_ref)`, a software key sealed under the
/// KEK (bound to its role), a token key by token and label.
fn record_key(idp: &Idp, role: &str, key: &KeyRef) -> Result<(String, Vec<u8>)> {
    match key {
        KeyRef::Software(der) => Ok((SOFTWARE.into(), idp.kek().seal(&aad(role), der.as_bytes())?)),
        KeyRef::Pkcs11 { token, label } => {
            let at = TokenKeyRef { token: token.clone(), label: label.clone() };
            Ok((PKCS11.into(), serde_json::to_vec(&at).map_err(|e| Error::internal(e.to_string()))?))
        }
    }
}

/// Where `idp ca init` makes the four keys, from `pki.key_store`.
fn key_sources(idp: &Idp) -> Result<KeySources> {
    Ok(match idp.config.pki.key_store {
        CaKeyStore::Software => KeySources::software(),
        CaKeyStore::Pkcs11 => KeySources::pkcs11(&idp.pkcs11_token()?, &idp.config.pki.pkcs11.label_prefix),
    })
}

/// `idp ca init`: makes the hierarchy (software keys, sealed under the KEK), the root's first
/// CRL, and stores them in one go. Refuses if a hierarchy exists: a CA is made once.
pub async fn init(idp: &Idp, now: UnixTime) -> Result<Vec<CertificateSummary>> {
    if !store::pki::credentials(&idp.db).await?.is_empty() {
        return Err(Error::Invalid("a CA hierarchy already exists (see `idp ca show`)".into()));
    }
    let mut params = HierarchyParams::new(endpoints(idp)?);
    params.citizen_policy = citizen_policy(idp)?;
    let h = Hierarchy::generate_with(&params, &key_sources(idp)?, now)?;
    let mut rows = Vec::with_capacity(4);
    let mut out = Vec::with_capacity(4);
    for (role, cred) in [(ROOT, h.root()), (ISSUING, h.issuing()), (OCSP, h.ocsp()), (TSA, h.tsa())] {
        let (key_store, key_ref) = record_key(idp, role, cred.key())?;
        rows.push(CredentialRow {
            role: role.into(),
            certificate: to_der(cred.certificate())?,
            key_store,
            key_ref,
            created_at: now,
        });
        out.push(CertificateSummary {
            key_store: rows[rows.len() - 1].key_store.clone(),
            ..summary(role, cred.certificate())?
        });
    }
    let root_row = rows[0].clone();
    if !store::pki::insert_hierarchy(&idp.db, rows).await? {
        return Err(Error::Invalid("a CA hierarchy already exists (see `idp ca show`)".into()));
    }
    let root_key = open_key(idp, &root_row)?;
    issue_root_crl(idp, h.root().certificate(), root_key.as_ref(), now).await?;
    idp.audit(
        NewEntry::new(Event::CaInitialized, "operator", format!("ca:{}", out[0].sha256))
            .detail(serde_json::json!({"certificates": out})),
        now,
    )
    .await?;
    Ok(out)
}

/// The stored hierarchy, for `idp ca show`.
pub async fn show(idp: &Idp) -> Result<Vec<CertificateSummary>> {
    store::pki::credentials(&idp.db)
        .await?
        .iter()
        .map(|r| {
            Ok(CertificateSummary {
                key_store: r.key_store.clone(),
                ..summary(&r.role, &parse_certificate(&r.certificate)?)?
            })
        })
        .collect()
}

async fn issue_root_crl(idp: &Idp, root: &Certificate, key: &dyn CaKey, now: UnixTime) -> Result<()> {
    let number = store::pki::crl(&idp.db, ROOT).await?.map_or(1, |c| c.number + 1);
    // The root certifies only the issuing CA, which is never revoked here: the list is empty.
    let crl = signer::crl::issue_crl(root, key, number as u64, &[], now, ROOT_CRL_VALIDITY)?;
    let row = store::pki::CrlRow {
        role: ROOT.into(),
        number,
        revocations: 0,
        this_update: now,
        next_update: now + ROOT_CRL_VALIDITY.as_secs() as i64,
        der: to_der(&crl)?,
    };
    if !store::pki::put_crl(&idp.db, &row).await? {
        return Err(Error::Invalid("another root CRL was issued at the same time; run it again".into()));
    }
    Ok(())
}

/// `idp ca root-crl`: a new CRL from the root (an operator ceremony, before the last expires).
pub async fn reissue_root_crl(idp: &Idp, now: UnixTime) -> Result<i64> {
    let rows = store::pki::credentials(&idp.db).await?;
    let row = rows.iter().find(|r| r.role == ROOT).ok_or_else(|| Error::NotFound("no CA: run `idp ca init`".into()))?;
    let key = open_key(idp, row)?;
    issue_root_crl(idp, &parse_certificate(&row.certificate)?, key.as_ref(), now).await?;
    idp.audit(NewEntry::new(Event::RootCrlIssued, "operator", "ca:root"), now).await?;
    Ok(now + ROOT_CRL_VALIDITY.as_secs() as i64)
}

/// Loads the PKI from its rows; replaces the OCSP responder's certificate first if it is due.
async fn load(idp: &Idp, rows: Vec<CredentialRow>, now: UnixTime) -> Result<Pki> {
    let get = |role: &str| {
        rows.iter().find(|r| r.role == role).ok_or_else(|| Error::internal(format!("the CA has no {role} credential")))
    };
    let (root_row, issuing_row, tsa_row) = (get(ROOT)?, get(ISSUING)?, get(TSA)?);
    let mut ocsp_row = get(OCSP)?.clone();
    let root = parse_certificate(&root_row.certificate)?;
    let issuing_cert = parse_certificate(&issuing_row.certificate)?;
    let issuing =
        IssuingCa::new(issuing_cert.clone(), open_key(idp, issuing_row)?, endpoints(idp)?, citizen_policy(idp)?)?;
    let mut ocsp_cert = parse_certificate(&ocsp_row.certificate)?;
    if seconds(&ocsp_cert.tbs_certificate().validity().not_after) - now < OCSP_RENEW_BEFORE.as_secs() as i64 {
        // The new key goes where the old one was: an HSM deployment keeps every CA key in it.
        let (public_key, key) = if ocsp_row.key_store == PKCS11 {
            let token = idp.pkcs11_token()?;
            let label = format!("{}-ocsp-{now}", idp.config.pki.pkcs11.label_prefix);
            let key = token.generate_key(&label)?;
            (key.public_key().clone(), KeyRef::Pkcs11 { token: token.label().to_owned(), label })
        } else {
            let key = SoftwareKey::generate()?;
            (key.public_key().clone(), KeyRef::Software(key.to_pkcs8_der()?))
        };
        let cert = issuing.issue_ocsp_responder("Drukyul ID OCSP Responder", public_key, now, OCSP_VALIDITY)?;
        let (key_store, key_ref) = record_key(idp, OCSP, &key)?;
        let new_row =
            CredentialRow { role: OCSP.into(), certificate: to_der(&cert)?, key_store, key_ref, created_at: now };
        if store::pki::replace_credential(&idp.db, &new_row, ocsp_row.created_at).await? {
            idp.audit(
                NewEntry::new(Event::CaCredentialRenewed, "system", "ca:ocsp")
                    .detail(serde_json::json!({"serial": serial_hex(cert.tbs_certificate().serial_number())})),
                now,
            )
            .await?;
            ocsp_row = new_row;
            ocsp_cert = cert;
        } else if let Some(r) = store::pki::credentials(&idp.db).await?.into_iter().find(|r| r.role == OCSP) {
            // Another instance renewed it first: use theirs.
            ocsp_cert = parse_certificate(&r.certificate)?;
            ocsp_row = r;
        }
    }
    let ocsp_renew_at = seconds(&ocsp_cert.tbs_certificate().validity().not_after) - OCSP_RENEW_BEFORE.as_secs() as i64;
    let ocsp = OcspResponder::new(ocsp_cert, open_key(idp, &ocsp_row)?, &issuing_cert, OCSP_UPDATE)?;
    let policy: ObjectIdentifier =
        idp.config.pki.tsa_policy.parse().map_err(|_| Error::Config("pki.tsa_policy is not an OID".into()))?;
    let tsa = TimestampAuthority::new(parse_certificate(&tsa_row.certificate)?, open_key(idp, tsa_row)?, policy)?
        .with_chain(vec![issuing_cert.clone()]);
    let chain_pem = format!("{}{}", signer::certificate_pem(&issuing_cert)?, signer::certificate_pem(&root)?);
    Ok(Pki {
        root_der: root_row.certificate.clone(),
        issuing_der: issuing_row.certificate.clone(),
        root,
        issuing,
        ocsp,
        ocsp_created_at: ocsp_row.created_at,
        ocsp_renew_at,
        tsa,
        chain_pem,
    })
}

/// The running PKI: loaded on first use (a CA may be made while the server runs), reloaded when
/// the OCSP responder's certificate is due for renewal. `NotFound` until `idp ca init`.
pub async fn current(idp: &Idp, now: UnixTime) -> Result<Arc<Pki>> {
    if let Some(p) = idp.pki.load_full()
        && now < p.ocsp_renew_at
    {
        return Ok(p);
    }
    let _one = idp.pki_reload.lock().await;
    if let Some(p) = idp.pki.load_full()
        && now < p.ocsp_renew_at
    {
        return Ok(p);
    }
    let rows = store::pki::credentials(&idp.db).await?;
    if rows.is_empty() {
        return Err(Error::NotFound("this server has no CA yet (the operator runs `idp ca init`)".into()));
    }
    let p = Arc::new(load(idp, rows, now).await?);
    tracing::info!(ocsp_created_at = p.ocsp_created_at, "PKI loaded");
    idp.pki.store(Some(p.clone()));
    Ok(p)
}

/// The issuing CA's current CRL (DER): the stored one while it is fresh and lists every
/// revocation, else a new one with the next number.
pub async fn crl(idp: &Idp, now: UnixTime) -> Result<Vec<u8>> {
    let validity = Duration::from_secs(u64::from(idp.config.pki.crl_hours) * 3600);
    let (stored, count) = tokio::try_join!(store::pki::crl(&idp.db, ISSUING), store::pki::revocation_count(&idp.db))?;
    if let Some(c) = &stored
        && c.revocations >= count
        && now < c.this_update + validity.as_secs() as i64 / 2
    {
        return Ok(c.der.clone());
    }
    let pki = current(idp, now).await?;
    let revoked = store::pki::revocations(&idp.db, now)
        .await?
        .into_iter()
        .map(|(serial, revoked_at, reason)| {
            let bytes = hex::decode(&serial).map_err(|_| Error::internal("stored serial is not hex"))?;
            Ok(RevokedCertificate {
                serial: SerialNumber::new(&bytes).map_err(|e| Error::internal(format!("stored serial: {e}")))?,
                revoked_at,
                reason: stored_reason(&reason),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let number = stored.as_ref().map_or(1, |c| c.number + 1);
    let list = pki.issuing.issue_crl(number as u64, &revoked, now, validity)?;
    let row = store::pki::CrlRow {
        role: ISSUING.into(),
        number,
        revocations: count,
        this_update: now,
        next_update: now + validity.as_secs() as i64,
        der: to_der(&list)?,
    };
    if store::pki::put_crl(&idp.db, &row).await? {
        return Ok(row.der);
    }
    // Another instance stored this number first; theirs is as fresh.
    store::pki::crl(&idp.db, ISSUING).await?.map(|c| c.der).ok_or_else(|| Error::internal("CRL vanished"))
}

/// The root's CRL (DER), as last signed by `idp ca root-crl` or `idp ca init`.
pub async fn root_crl(idp: &Idp) -> Result<Vec<u8>> {
    store::pki::crl(&idp.db, ROOT)
        .await?
        .map(|c| c.der)
        .ok_or_else(|| Error::NotFound("this server has no CA yet (the operator runs `idp ca init`)".into()))
}

/// Answers a DER OCSP request (RFC 6960) from the records. Protocol failures (malformed
/// request, a certificate of another CA) are OCSP responses, not errors.
pub async fn ocsp(idp: &Idp, request: &[u8], now: UnixTime) -> Result<Vec<u8>> {
    let pki = current(idp, now).await?;
    let serials: Vec<String> = pki.ocsp.requested_serials(request).iter().map(serial_hex).collect();
    let found = store::pki::statuses(&idp.db, &serials).await?;
    Ok(pki.ocsp.respond(request, now, |serial| recorded_status(&found, &serial_hex(serial)))?)
}

/// Answers a DER RFC 3161 timestamp request.
pub async fn timestamp(idp: &Idp, request: &[u8], now: UnixTime) -> Result<Vec<u8>> {
    Ok(current(idp, now).await?.tsa.respond(request, now)?)
}

/// A citizen's signing certificate as the CLI and the signing flow see it.
#[derive(Debug, serde::Serialize)]
pub struct CitizenCertificate {
    /// Serial (hex).
    pub serial: String,
    /// The certificate, PEM.
    pub pem: String,
    /// Not after (Unix seconds).
    pub not_after: UnixTime,
    /// Whether this call issued it (false: an existing live one).
    pub issued: bool,
}

/// The account's live signing certificate, issuing one (with a new key, sealed at once) if it
/// has none. Refused for a digital ID that is not active or a person not alive.
pub async fn citizen_certificate(
    idp: &Idp,
    account_id: &str,
    actor: &str,
    now: UnixTime,
) -> Result<CitizenCertificate> {
    let (row, cert, issued) = live_or_issue(idp, account_id, actor, now).await?;
    Ok(CitizenCertificate {
        serial: row.serial,
        pem: signer::certificate_pem(&cert)?,
        not_after: row.not_after,
        issued,
    })
}

async fn live_or_issue(
    idp: &Idp,
    account_id: &str,
    actor: &str,
    now: UnixTime,
) -> Result<(store::pki::CertificateRow, Certificate, bool)> {
    if let Some(row) = store::pki::live_certificate(&idp.db, account_id, now).await? {
        let cert = parse_certificate(&row.certificate)?;
        return Ok((row, cert, false));
    }
    let (account, person) = store::login::account_with_person(&idp.db, account_id)
        .await?
        .ok_or_else(|| Error::NotFound("no such digital ID".into()))?;
    if account.status != "active" || !person.is_alive() {
        return Err(Error::Invalid("this digital ID is not active; no signing certificate is issued".into()));
    }
    let pki = current(idp, now).await?;
    let holder = signer::citizen::Person::new(&person.given_name, &person.family_name, person.cid.as_str())?;
    let key = match idp.config.pki.citizen_key {
        crate::config::CitizenKey::EcdsaP256 => signer::citizen::generate_key()?,
        // Seconds of CPU: off the async workers.
        crate::config::CitizenKey::Rsa3072 => tokio::task::spawn_blocking(|| signer::citizen::generate_rsa_key(3072))
            .await
            .map_err(|e| Error::internal(format!("key generation: {e}")))??,
    };
    let lifetime = Duration::from_secs(u64::from(idp.config.pki.certificate_days) * 24 * 3600);
    let cert = signer::citizen::issue_signing_certificate(&pki.issuing, &key.public_key, &holder, now, lifetime)?;
    let serial = serial_hex(cert.tbs_certificate().serial_number());
    let not_after = seconds(&cert.tbs_certificate().validity().not_after);
    let row = store::pki::CertificateRow {
        serial: serial.clone(),
        account_id: account_id.to_string(),
        certificate: to_der(&cert)?,
        sealed_key: idp.kek().seal(&citizen_aad(&serial), key.private_key.as_bytes())?,
        not_after,
        created_at: now,
        revoked_at: None,
        reason: None,
    };
    store::pki::insert_certificate(&idp.db, &row).await?;
    idp.audit(
        NewEntry::new(Event::CertificateIssued, actor, format!("account:{account_id}"))
            .detail(serde_json::json!({"serial": serial, "not_after": not_after})),
        now,
    )
    .await?;
    Ok((row, cert, true))
}

/// Signs document digests with the account's signing key (its certificate is issued on first
/// use): a detached CAdES-B-T signature per digest — CMS SignedData with the CAdES-B-B signed
/// attributes, the signer's and the issuing CA's certificates, and a timestamp from the
/// built-in TSA over the signature. Only the signing flow calls this, after the citizen's
/// approval. Returns the certificate's serial and the DER signatures, in order.
pub async fn sign_digests(
    idp: &Idp,
    account_id: &str,
    digests: &[(signer::Sha256Digest, crate::signing::SignatureFormat)],
    now: UnixTime,
) -> Result<(String, Vec<Vec<u8>>)> {
    let pki = current(idp, now).await?;
    let (row, cert, _) = live_or_issue(idp, account_id, &format!("account:{account_id}"), now).await?;
    let der = zeroize::Zeroizing::new(idp.kek().open(&citizen_aad(&row.serial), &row.sealed_key)?);
    let key = signer::software_key_from_pkcs8(&der)?;
    Ok((row.serial, sign_with(&pki, &cert, key.as_ref(), digests, now)?))
}

/// CAdES-B-T (or PAdES B-T CMS) over each digest with this certificate and key: the signed
/// attributes, the signer's and the issuing CA's certificates, and a timestamp from the
/// built-in TSA over the signature.
fn sign_with(
    pki: &Pki,
    cert: &Certificate,
    key: &dyn CaKey,
    digests: &[(signer::Sha256Digest, crate::signing::SignatureFormat)],
    now: UnixTime,
) -> Result<Vec<Vec<u8>>> {
    let chain = [pki.issuing.certificate().clone()];
    let cades = signer::cms::CmsSigner::new(cert, key)?.with_chain(&chain);
    let pades = signer::cms::CmsSigner::new(cert, key)?.with_chain(&chain).for_pades();
    let mut out = Vec::with_capacity(digests.len());
    for (d, format) in digests {
        let cms = match format {
            crate::signing::SignatureFormat::Cades => &cades,
            crate::signing::SignatureFormat::Pades => &pades,
        };
        let mut sig = cms.sign_digest(d, now)?;
        let token = pki.tsa.timestamp(&sig.timestamp_imprint()?, now)?;
        sig.add_signature_timestamp(&token)?;
        out.push(sig.to_der()?);
    }
    Ok(out)
}

/// The scope an agency's client needs to seal documents.
pub const SEAL_SCOPE: &str = "seal";

/// Seals document digests with the agency's seal certificate (issued on first use, with a new
/// key sealed at once): what an agency does when it issues a certificate, a report card or a
/// licence. The agency activates its seal by authenticating as itself (client credentials,
/// scope [`SEAL_SCOPE`]); no person approves, which is what distinguishes a seal from a
/// citizen's signature. Returns the certificate's serial and the DER signatures, in order.
pub async fn seal_digests(
    idp: &Idp,
    client: &crate::domain::client::Client,
    documents: &[crate::signing::Document],
    now: UnixTime,
) -> Result<(String, Vec<Vec<u8>>)> {
    let pki = current(idp, now).await?;
    let client_id = client.client_id.as_str();
    let (row, cert) = match store::pki::live_seal(&idp.db, client_id, now).await? {
        Some(row) => {
            let cert = parse_certificate(&row.certificate)?;
            (row, cert)
        }
        None => {
            let agency = signer::seal::Agency::new(client.metadata.client_name.trim(), client_id)?;
            let key = signer::citizen::generate_key()?;
            let lifetime = Duration::from_secs(u64::from(idp.config.pki.certificate_days) * 24 * 3600);
            let cert = signer::seal::issue_seal_certificate(&pki.issuing, &key.public_key, &agency, now, lifetime)?;
            let serial = serial_hex(cert.tbs_certificate().serial_number());
            let row = store::pki::SealRow {
                serial: serial.clone(),
                client_id: client_id.to_string(),
                certificate: to_der(&cert)?,
                sealed_key: idp.kek().seal(&seal_aad(&serial), key.private_key.as_bytes())?,
                not_after: seconds(&cert.tbs_certificate().validity().not_after),
                created_at: now,
            };
            store::pki::insert_seal(&idp.db, &row).await?;
            idp.audit(
                NewEntry::new(Event::CertificateIssued, format!("client:{client_id}"), format!("client:{client_id}"))
                    .client(client_id)
                    .detail(serde_json::json!({"serial": serial, "kind": "seal", "not_after": row.not_after})),
                now,
            )
            .await?;
            (row, cert)
        }
    };
    let der = zeroize::Zeroizing::new(idp.kek().open(&seal_aad(&row.serial), &row.sealed_key)?);
    let key = SoftwareKey::from_pkcs8_der(&der)?;
    let digests = documents
        .iter()
        .map(|d| Ok((signer::Sha256Digest::from_bytes(&d.digest_bytes()?)?, d.format)))
        .collect::<Result<Vec<_>>>()?;
    let signatures = sign_with(&pki, &cert, &key, &digests, now)?;
    idp.audit(
        NewEntry::new(Event::DocumentsSealed, format!("client:{client_id}"), format!("client:{client_id}"))
            .client(client_id)
            .detail(serde_json::json!({
                "serial": row.serial,
                "documents": documents.iter().map(|d| serde_json::json!({"title": d.title, "digest": d.digest})).collect::<Vec<_>>(),
            })),
        now,
    )
    .await?;
    Ok((row.serial, signatures))
}

/// Revokes an agency's seal certificates (its client was removed, or its seal compromised).
pub async fn revoke_seals(
    idp: &Idp,
    client_id: &str,
    reason: Reason,
    actor: &str,
    now: UnixTime,
) -> Result<Vec<String>> {
    let serials = store::pki::revoke_seals(&idp.db, client_id, reason.as_str(), now).await?;
    if !serials.is_empty() {
        idp.audit(
            NewEntry::new(Event::CertificateRevoked, actor, format!("client:{client_id}"))
                .client(client_id)
                .detail(serde_json::json!({"serials": serials, "kind": "seal", "reason": reason.as_str()})),
            now,
        )
        .await?;
    }
    Ok(serials)
}

/// Revokes one certificate (on the citizen's or an operator's request). `NotFound` if no such
/// certificate; revoking twice keeps the first revocation and is refused.
pub async fn revoke(idp: &Idp, serial: &str, reason: Reason, actor: &str, now: UnixTime) -> Result<()> {
    let serial = serial.trim().to_ascii_lowercase();
    let Some(row) = store::pki::certificate(&idp.db, &serial).await? else {
        // Not a citizen's: perhaps an agency's seal.
        return match store::pki::revoke_seal(&idp.db, &serial, reason.as_str(), now).await? {
            Some(client_id) => {
                idp.audit(
                    NewEntry::new(Event::CertificateRevoked, actor, format!("client:{client_id}"))
                        .client(&client_id)
                        .detail(serde_json::json!({"serial": serial, "kind": "seal", "reason": reason.as_str()})),
                    now,
                )
                .await
            }
            None if store::pki::statuses(&idp.db, std::slice::from_ref(&serial)).await?.is_empty() => {
                Err(Error::NotFound("no such certificate".into()))
            }
            None => Err(Error::Invalid("the certificate is already revoked".into())),
        };
    };
    if !store::pki::revoke(&idp.db, &serial, reason.as_str(), now).await? {
        return Err(Error::Invalid("the certificate is already revoked".into()));
    }
    idp.audit(
        NewEntry::new(Event::CertificateRevoked, actor, format!("account:{}", row.account_id))
            .detail(serde_json::json!({"serial": serial, "reason": reason.as_str()})),
        now,
    )
    .await
}

/// Revokes every certificate of an account, for when the digital ID is closed (death,
/// compromise). Returns the serials revoked.
pub async fn revoke_account(
    idp: &Idp,
    account_id: &str,
    reason: Reason,
    actor: &str,
    now: UnixTime,
) -> Result<Vec<String>> {
    let serials = store::pki::revoke_account(&idp.db, account_id, reason.as_str(), now).await?;
    if !serials.is_empty() {
        idp.audit(
            NewEntry::new(Event::CertificateRevoked, actor, format!("account:{account_id}"))
                .detail(serde_json::json!({"serials": serials, "reason": reason.as_str()})),
            now,
        )
        .await?;
    }
    Ok(serials)
}

/// A verified (or refused) signature, as the verification API and `idp verify` report it.
#[derive(Debug, serde::Serialize)]
pub struct Verification {
    /// Whether the signature is valid for the document.
    pub valid: bool,
    /// Why not, when it is not.
    pub reason: Option<String>,
    /// The signer's name (the certificate's common name).
    pub signer: Option<String>,
    /// The signer's CID: only for callers allowed national identifiers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
    /// For an agency's seal: the agency's client id at Drukyul ID (its certificate's
    /// `organizationIdentifier` is `GV:BT-<client id>`). Public: a seal names an institution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    /// The signing certificate's serial (hex).
    pub certificate_serial: Option<String>,
    /// The trusted signing time: the timestamp's, else the time the signer claimed.
    pub signing_time: Option<UnixTime>,
    /// The time the signer claimed (CMS signing-time).
    pub claimed_signing_time: Option<UnixTime>,
    /// The signature timestamp (CAdES-B-T), if any: its time and the TSA.
    pub timestamp: Option<serde_json::Value>,
    /// The certificate's status at the signing time: `good`, `revoked later (...)`,
    /// `revoked (...)` or `unknown`.
    pub certificate_status: Option<String>,
}

fn verifier(v: signer::verify::Verifier<'_>, pades: bool) -> signer::verify::Verifier<'_> {
    if pades { v.for_pades() } else { v }
}

/// Verifies a detached CMS signature (or, with `pades`, a PDF signature's CMS) over a
/// document's SHA-256 against this CA, with the
/// records' revocation status of each certificate on the way (citizen certificates from the
/// database; this CA's own issuing and TSA certificates are never revoked here).
pub async fn verify(
    idp: &Idp,
    signature: &[u8],
    document: &signer::Sha256Digest,
    pades: bool,
    reveal_cid: bool,
    now: UnixTime,
) -> Result<Verification> {
    use signer::verify::{StatusAtSigningTime, Verifier};
    let pki = current(idp, now).await?;
    let roots = [pki.root.clone()];
    let intermediates = [pki.issuing.certificate().clone()];
    let ours = [
        serial_hex(pki.issuing.certificate().tbs_certificate().serial_number()),
        serial_hex(pki.tsa.certificate().tbs_certificate().serial_number()),
    ];
    // The verifier asks synchronously; the records are async. A first pass learns which
    // certificates it asks about, the second answers from the records.
    let wanted: Vec<String> = {
        let asked = std::cell::RefCell::new(Vec::new());
        let probe = |serial: &SerialNumber, _: &signer::x509_cert::name::Name| {
            asked.borrow_mut().push(serial_hex(serial));
            CertStatus::Good
        };
        verifier(Verifier::new(&roots, &probe).with_intermediates(&intermediates), pades)
            .verify(signature, document, now);
        asked.into_inner().into_iter().filter(|s| !ours.contains(s)).collect()
    };
    let found = store::pki::statuses(&idp.db, &wanted).await?;
    let issuing_name = pki.issuing.certificate().tbs_certificate().subject().clone();
    let lookup = |serial: &SerialNumber, issuer: &signer::x509_cert::name::Name| {
        let hex = serial_hex(serial);
        if ours.contains(&hex) {
            return CertStatus::Good;
        }
        if *issuer != issuing_name { CertStatus::Unknown } else { recorded_status(&found, &hex) }
    };
    let report = verifier(Verifier::new(&roots, &lookup).with_intermediates(&intermediates), pades)
        .verify(signature, document, now);
    let status = report.status_at_signing_time.map(|s| match s {
        StatusAtSigningTime::Good => "good".to_string(),
        StatusAtSigningTime::RevokedLater { revoked_at, reason } => {
            format!("revoked later, at {revoked_at} ({reason:?})")
        }
        StatusAtSigningTime::Revoked { revoked_at, reason } => format!("revoked at {revoked_at} ({reason:?})"),
        StatusAtSigningTime::Unknown => "unknown".to_string(),
    });
    let cid = report
        .signer
        .as_ref()
        .and_then(|n| n.serial_number.as_deref())
        .and_then(|s| s.strip_prefix("IDCBT-"))
        .filter(|_| reveal_cid)
        .map(str::to_string);
    Ok(Verification {
        valid: report.is_valid(),
        reason: report.verdict.as_ref().err().map(|f| f.to_string()),
        signer: report.signer.as_ref().and_then(|n| n.common_name.clone()),
        cid,
        agency: report
            .signer
            .as_ref()
            .and_then(|n| n.organization_identifier.as_deref())
            .and_then(|s| s.strip_prefix(signer::seal::IDENTIFIER_PREFIX))
            .map(str::to_string),
        certificate_serial: report.certificate_serial.as_ref().map(serial_hex),
        signing_time: report.signing_time(),
        claimed_signing_time: report.claimed_signing_time,
        timestamp: report.timestamp.as_ref().map(|t| serde_json::json!({"time": t.gen_time, "tsa": t.tsa})),
        certificate_status: status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_and_unknown_ones_are_refused() {
        for r in [
            Reason::Unspecified,
            Reason::KeyCompromise,
            Reason::AffiliationChanged,
            Reason::Superseded,
            Reason::CessationOfOperation,
        ] {
            assert_eq!(Reason::parse(r.as_str()).unwrap(), r);
        }
        assert!(Reason::parse("certificateHold").is_err(), "holds are not offered: revocation is final");
        assert!(Reason::parse("").is_err());
        assert_eq!(stored_reason("nonsense"), RevocationReason::Unspecified);
    }
}
