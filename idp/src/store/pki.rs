//! The signer's records: the CA hierarchy, citizens' signing certificates and their
//! revocations, and the last CRL of each CA.

use super::{Db, Row, query};
use crate::{domain::UnixTime, error::Result};

/// A CA credential: its certificate and where its private key is.
#[derive(Clone, Debug)]
pub struct CredentialRow {
    /// `root`, `issuing`, `ocsp` or `tsa`.
    pub role: String,
    /// The certificate (DER).
    pub certificate: Vec<u8>,
    /// `software` (sealed PKCS#8 in `key_ref`) or `pkcs11` (token key label in `key_ref`).
    pub key_store: String,
    /// The sealed key or the token label.
    pub key_ref: Vec<u8>,
    /// When it was stored.
    pub created_at: UnixTime,
}

fn credential_row(r: &Row) -> Result<CredentialRow> {
    Ok(CredentialRow {
        role: r.try_get("role")?,
        certificate: r.try_get("certificate")?,
        key_store: r.try_get("key_store")?,
        key_ref: r.try_get("key_ref")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Every stored CA credential.
pub async fn credentials(db: &Db) -> Result<Vec<CredentialRow>> {
    let rows = query("SELECT role, certificate, key_store, key_ref, created_at FROM ca_credentials ORDER BY role")
        .fetch_all(&mut db.reader().await?)
        .await?;
    rows.iter().map(credential_row).collect()
}

/// Stores a new hierarchy in one transaction unless one exists (`false` then, nothing written):
/// two `idp ca init` racing leave exactly one hierarchy.
pub async fn insert_hierarchy(db: &Db, rows: Vec<CredentialRow>) -> Result<bool> {
    db.write(move |mut tx| {
        Box::pin(async move {
            if query("SELECT 1 FROM ca_credentials").fetch_optional(&mut tx).await?.is_some() {
                return Ok(false);
            }
            for r in &rows {
                query(
                    "INSERT INTO ca_credentials (role, certificate, key_store, key_ref, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&r.role)
                .bind(r.certificate.clone())
                .bind(&r.key_store)
                .bind(r.key_ref.clone())
                .bind(r.created_at)
                .execute(&mut tx)
                .await?;
            }
            Ok(true)
        })
    })
    .await
}

/// Replaces the credential of `row.role` if it is still the one issued at `previous_created_at`
/// (so two instances renewing the OCSP responder at once keep one). `true` if replaced.
pub async fn replace_credential(db: &Db, row: &CredentialRow, previous_created_at: UnixTime) -> Result<bool> {
    let done = db
        .execute(
            query(
                "UPDATE ca_credentials SET certificate = $1, key_store = $2, key_ref = $3, created_at = $4 \
                 WHERE role = $5 AND created_at = $6",
            )
            .bind(row.certificate.clone())
            .bind(&row.key_store)
            .bind(row.key_ref.clone())
            .bind(row.created_at)
            .bind(&row.role)
            .bind(previous_created_at),
        )
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A citizen's signing certificate.
#[derive(Clone, Debug)]
pub struct CertificateRow {
    /// Serial number, lower-case hex.
    pub serial: String,
    /// The citizen's account.
    pub account_id: String,
    /// The certificate (DER).
    pub certificate: Vec<u8>,
    /// The private key, sealed under the key-encryption key.
    pub sealed_key: Vec<u8>,
    /// Expiry.
    pub not_after: UnixTime,
    /// Issued.
    pub created_at: UnixTime,
    /// Revoked, if it was.
    pub revoked_at: Option<UnixTime>,
    /// Why (RFC 5280 reason name), if revoked.
    pub reason: Option<String>,
}

fn certificate_row(r: &Row) -> Result<CertificateRow> {
    Ok(CertificateRow {
        serial: r.try_get("serial")?,
        account_id: r.try_get("account_id")?,
        certificate: r.try_get("certificate")?,
        sealed_key: r.try_get("sealed_key")?,
        not_after: r.try_get("not_after")?,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
        reason: r.try_get("reason")?,
    })
}

/// `SELECT <every certificate column> FROM signing_certificates <rest>`, as one literal (the
/// statement cache keys on `&'static str`).
macro_rules! select_certificates {
    ($rest:literal) => {
        concat!(
            "SELECT serial, account_id, certificate, sealed_key, not_after, created_at, revoked_at, reason \
             FROM signing_certificates ",
            $rest
        )
    };
}

/// Stores a newly issued certificate.
pub async fn insert_certificate(db: &Db, row: &CertificateRow) -> Result<()> {
    db.execute(
        query(
            "INSERT INTO signing_certificates (serial, account_id, certificate, sealed_key, not_after, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&row.serial)
        .bind(&row.account_id)
        .bind(row.certificate.clone())
        .bind(row.sealed_key.clone())
        .bind(row.not_after)
        .bind(row.created_at),
    )
    .await?;
    Ok(())
}

/// The account's newest certificate that is neither revoked nor expired at `now`.
pub async fn live_certificate(db: &Db, account_id: &str, now: UnixTime) -> Result<Option<CertificateRow>> {
    query(select_certificates!(
        "WHERE account_id = $1 AND revoked_at IS NULL AND not_after > $2 ORDER BY created_at DESC LIMIT 1"
    ))
    .bind(account_id)
    .bind(now)
    .fetch_optional(&mut db.reader().await?)
    .await?
    .as_ref()
    .map(certificate_row)
    .transpose()
}

/// Every certificate of an account, newest first.
pub async fn certificates_of(db: &Db, account_id: &str) -> Result<Vec<CertificateRow>> {
    query(select_certificates!("WHERE account_id = $1 ORDER BY created_at DESC"))
        .bind(account_id)
        .fetch_all(&mut db.reader().await?)
        .await?
        .iter()
        .map(certificate_row)
        .collect()
}

/// The certificate with this serial.
pub async fn certificate(db: &Db, serial: &str) -> Result<Option<CertificateRow>> {
    query(select_certificates!("WHERE serial = $1"))
        .bind(serial)
        .fetch_optional(&mut db.reader().await?)
        .await?
        .as_ref()
        .map(certificate_row)
        .transpose()
}

/// Revokes one certificate; `false` if it does not exist or was already revoked (the first
/// revocation's time and reason stand).
pub async fn revoke(db: &Db, serial: &str, reason: &str, now: UnixTime) -> Result<bool> {
    let done = db
        .execute(
            query(
                "UPDATE signing_certificates SET revoked_at = $1, reason = $2 WHERE serial = $3 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(reason)
            .bind(serial),
        )
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every unrevoked certificate of an account; returns their serials.
pub async fn revoke_account(db: &Db, account_id: &str, reason: &str, now: UnixTime) -> Result<Vec<String>> {
    let (account_id, reason) = (account_id.to_string(), reason.to_string());
    db.write(move |mut tx| {
        Box::pin(async move {
            let rows = query(
                "UPDATE signing_certificates SET revoked_at = $1, reason = $2 \
                 WHERE account_id = $3 AND revoked_at IS NULL RETURNING serial",
            )
            .bind(now)
            .bind(&reason)
            .bind(&account_id)
            .fetch_all(&mut tx)
            .await?;
            rows.iter().map(|r| r.try_get::<String>("serial")).collect()
        })
    })
    .await
}

/// The revocation status of these serials: `(serial, revoked_at, reason)` for each one issued.
pub async fn statuses(db: &Db, serials: &[String]) -> Result<Vec<(String, Option<UnixTime>, Option<String>)>> {
    let mut out = Vec::with_capacity(serials.len());
    let mut reader = db.reader().await?;
    for s in serials {
        if let Some(r) = query(
            "SELECT serial, revoked_at, reason FROM signing_certificates WHERE serial = $1 \
             UNION ALL SELECT serial, revoked_at, reason FROM seal_certificates WHERE serial = $1",
        )
        .bind(s)
        .fetch_optional(&mut reader)
        .await?
        {
            out.push((r.try_get("serial")?, r.try_get("revoked_at")?, r.try_get("reason")?));
        }
    }
    Ok(out)
}

/// Revocations a CRL at `now` lists: revoked certificates that have not yet expired (RFC 5280
/// 3.3 lets an expired certificate leave the CRL).
pub async fn revocations(db: &Db, now: UnixTime) -> Result<Vec<(String, UnixTime, String)>> {
    let rows = query(
        "SELECT serial, revoked_at, reason FROM signing_certificates \
         WHERE revoked_at IS NOT NULL AND not_after > $1 \
         UNION ALL SELECT serial, revoked_at, reason FROM seal_certificates \
         WHERE revoked_at IS NOT NULL AND not_after > $1 ORDER BY revoked_at, serial",
    )
    .bind(now)
    .fetch_all(&mut db.reader().await?)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("serial")?,
                r.try_get("revoked_at")?,
                r.try_get::<Option<String>>("reason")?.unwrap_or_default(),
            ))
        })
        .collect()
}

/// How many revocations were ever recorded: it only grows, so a CRL made when it was smaller
/// is stale.
pub async fn revocation_count(db: &Db) -> Result<i64> {
    let r = query(
        "SELECT (SELECT COUNT(*) FROM signing_certificates WHERE revoked_at IS NOT NULL) \
              + (SELECT COUNT(*) FROM seal_certificates WHERE revoked_at IS NOT NULL) AS n",
    )
    .fetch_one(&mut db.reader().await?)
    .await?;
    r.try_get("n")
}

/// An agency's seal certificate as stored.
#[derive(Clone)]
pub struct SealRow {
    /// Serial number, lower-case hex.
    pub serial: String,
    /// The agency's client id.
    pub client_id: String,
    /// The certificate (DER).
    pub certificate: Vec<u8>,
    /// The private key, sealed under the key-encryption key.
    pub sealed_key: Vec<u8>,
    /// Expiry.
    pub not_after: UnixTime,
    /// Issued.
    pub created_at: UnixTime,
}

/// Stores a newly issued seal certificate.
pub async fn insert_seal(db: &Db, row: &SealRow) -> Result<()> {
    db.execute(
        query(
            "INSERT INTO seal_certificates (serial, client_id, certificate, sealed_key, not_after, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&row.serial)
        .bind(&row.client_id)
        .bind(row.certificate.clone())
        .bind(row.sealed_key.clone())
        .bind(row.not_after)
        .bind(row.created_at),
    )
    .await?;
    Ok(())
}

/// The agency's newest seal certificate that is neither revoked nor expired at `now`.
pub async fn live_seal(db: &Db, client_id: &str, now: UnixTime) -> Result<Option<SealRow>> {
    let row = query(
        "SELECT serial, client_id, certificate, sealed_key, not_after, created_at FROM seal_certificates \
         WHERE client_id = $1 AND revoked_at IS NULL AND not_after > $2 ORDER BY created_at DESC LIMIT 1",
    )
    .bind(client_id)
    .bind(now)
    .fetch_optional(&mut db.reader().await?)
    .await?;
    row.map(|r| {
        Ok(SealRow {
            serial: r.try_get("serial")?,
            client_id: r.try_get("client_id")?,
            certificate: r.try_get("certificate")?,
            sealed_key: r.try_get("sealed_key")?,
            not_after: r.try_get("not_after")?,
            created_at: r.try_get("created_at")?,
        })
    })
    .transpose()
}

/// Revokes every unrevoked seal certificate of an agency; returns their serials.
pub async fn revoke_seals(db: &Db, client_id: &str, reason: &str, now: UnixTime) -> Result<Vec<String>> {
    let (client_id, reason) = (client_id.to_string(), reason.to_string());
    db.write(move |mut tx| {
        Box::pin(async move {
            let rows = query(
                "UPDATE seal_certificates SET revoked_at = $1, reason = $2 \
                 WHERE client_id = $3 AND revoked_at IS NULL RETURNING serial",
            )
            .bind(now)
            .bind(&reason)
            .bind(&client_id)
            .fetch_all(&mut tx)
            .await?;
            rows.iter().map(|r| r.try_get::<String>("serial")).collect()
        })
    })
    .await
}

/// Revokes one seal certificate; its agency's client id, or `None` if there is no such
/// unrevoked seal.
pub async fn revoke_seal(db: &Db, serial: &str, reason: &str, now: UnixTime) -> Result<Option<String>> {
    let (serial, reason) = (serial.to_string(), reason.to_string());
    db.write(move |mut tx| {
        Box::pin(async move {
            let row = query(
                "UPDATE seal_certificates SET revoked_at = $1, reason = $2 \
                 WHERE serial = $3 AND revoked_at IS NULL RETURNING client_id",
            )
            .bind(now)
            .bind(&reason)
            .bind(&serial)
            .fetch_optional(&mut tx)
            .await?;
            row.map(|r| r.try_get::<String>("client_id")).transpose()
        })
    })
    .await
}

/// A stored CRL.
#[derive(Clone, Debug)]
pub struct CrlRow {
    /// The CA (`issuing` or `root`).
    pub role: String,
    /// Its cRLNumber.
    pub number: i64,
    /// [`revocation_count`] when it was made.
    pub revocations: i64,
    /// thisUpdate.
    pub this_update: UnixTime,
    /// nextUpdate.
    pub next_update: UnixTime,
    /// The CRL (DER).
    pub der: Vec<u8>,
}

/// The last CRL of a CA.
pub async fn crl(db: &Db, role: &str) -> Result<Option<CrlRow>> {
    let r = query("SELECT role, number, revocations, this_update, next_update, der FROM ca_crls WHERE role = $1")
        .bind(role)
        .fetch_optional(&mut db.reader().await?)
        .await?;
    r.map(|r| {
        Ok(CrlRow {
            role: r.try_get("role")?,
            number: r.try_get("number")?,
            revocations: r.try_get("revocations")?,
            this_update: r.try_get("this_update")?,
            next_update: r.try_get("next_update")?,
            der: r.try_get("der")?,
        })
    })
    .transpose()
}

/// Stores a new CRL if its number is the next one (another instance may have stored it
/// first; `false` then, and the caller serves the stored one).
pub async fn put_crl(db: &Db, row: &CrlRow) -> Result<bool> {
    let done = db
        .execute(
            query(
                "INSERT INTO ca_crls (role, number, revocations, this_update, next_update, der) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (role) DO UPDATE SET number = excluded.number, revocations = excluded.revocations, \
                 this_update = excluded.this_update, next_update = excluded.next_update, der = excluded.der \
                 WHERE ca_crls.number < excluded.number",
            )
            .bind(&row.role)
            .bind(row.number)
            .bind(row.revocations)
            .bind(row.this_update)
            .bind(row.next_update)
            .bind(row.der.clone()),
        )
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A signing request.
#[derive(Clone, Debug)]
pub struct SignRequestRow {
    /// Its id (a random token; also the citizen's link).
    pub id: String,
    /// The agency that asked.
    pub client_id: String,
    /// Only this citizen may approve, if set.
    pub cid: Option<String>,
    /// The documents (JSON).
    pub documents: String,
    /// Where the citizen goes back to.
    pub return_url: String,
    /// `pending`, `signed` or `refused`.
    pub status: String,
    /// Who decided.
    pub account_id: Option<String>,
    /// The certificate that signed.
    pub certificate_serial: Option<String>,
    /// The signatures (JSON), once signed.
    pub signatures: Option<String>,
    /// The approving assertion (JSON).
    pub evidence: Option<String>,
    /// Created.
    pub created_at: UnixTime,
    /// Expires (while pending).
    pub expires_at: UnixTime,
    /// Decided.
    pub decided_at: Option<UnixTime>,
}

/// Stores a new signing request.
pub async fn insert_sign_request(db: &Db, r: &SignRequestRow) -> Result<()> {
    db.execute(
        query(
            "INSERT INTO sign_requests (id, client_id, cid, documents, return_url, status, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)",
        )
        .bind(&r.id)
        .bind(&r.client_id)
        .bind(&r.cid)
        .bind(&r.documents)
        .bind(&r.return_url)
        .bind(r.created_at)
        .bind(r.expires_at),
    )
    .await?;
    Ok(())
}

/// A signing request by id.
pub async fn sign_request(db: &Db, id: &str) -> Result<Option<SignRequestRow>> {
    let r = query(
        "SELECT id, client_id, cid, documents, return_url, status, account_id, certificate_serial, signatures, \
         evidence, created_at, expires_at, decided_at FROM sign_requests WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut db.reader().await?)
    .await?;
    r.map(|r| {
        Ok(SignRequestRow {
            id: r.try_get("id")?,
            client_id: r.try_get("client_id")?,
            cid: r.try_get("cid")?,
            documents: r.try_get("documents")?,
            return_url: r.try_get("return_url")?,
            status: r.try_get("status")?,
            account_id: r.try_get("account_id")?,
            certificate_serial: r.try_get("certificate_serial")?,
            signatures: r.try_get("signatures")?,
            evidence: r.try_get("evidence")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            decided_at: r.try_get("decided_at")?,
        })
    })
    .transpose()
}

/// Records the decision on a pending, unexpired request; `false` if it was already decided or
/// has expired (a second approval of the same request changes nothing).
#[allow(clippy::too_many_arguments)]
pub async fn decide_sign_request(
    db: &Db,
    id: &str,
    status: &str,
    account_id: Option<&str>,
    certificate_serial: Option<&str>,
    signatures: Option<&str>,
    evidence: Option<&str>,
    now: UnixTime,
) -> Result<bool> {
    let done = db
        .execute(
            query(
                "UPDATE sign_requests SET status = $1, account_id = $2, certificate_serial = $3, signatures = $4, \
                 evidence = $5, decided_at = $6 WHERE id = $7 AND status = 'pending' AND expires_at > $6",
            )
            .bind(status)
            .bind(account_id)
            .bind(certificate_serial)
            .bind(signatures)
            .bind(evidence)
            .bind(now)
            .bind(id),
        )
        .await?;
    Ok(done.rows_affected() == 1)
}
