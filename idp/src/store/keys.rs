//! The signing-key table.

use super::{Db, query};
use crate::{domain::UnixTime, error::Result};

/// A stored key row (private part still sealed).
#[derive(Clone, Debug)]
pub struct KeyRow {
    /// Key id.
    pub kid: String,
    /// JOSE algorithm name.
    pub alg: String,
    /// Sealed PKCS#8.
    pub private_key: Vec<u8>,
    /// Public JWK (JSON).
    pub public_jwk: String,
    /// Created (and published in JWKS).
    pub created_at: UnixTime,
    /// Starts signing.
    pub activates_at: UnixTime,
    /// Stops signing.
    pub retires_at: Option<UnixTime>,
    /// Leaves JWKS.
    pub removed_at: Option<UnixTime>,
}

/// Every key not yet removed from JWKS at `now`.
pub async fn live(db: &Db, now: UnixTime) -> Result<Vec<KeyRow>> {
    let rows = query(
        "SELECT kid, alg, private_key, public_jwk, created_at, activates_at, retires_at, removed_at \
         FROM signing_keys WHERE removed_at IS NULL OR removed_at > $1 ORDER BY activates_at, kid",
    )
    .bind(now)
    .fetch_all(&mut db.reader().await?)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(KeyRow {
                kid: r.try_get("kid")?,
                alg: r.try_get("alg")?,
                private_key: r.try_get("private_key")?,
                public_jwk: r.try_get("public_jwk")?,
                created_at: r.try_get("created_at")?,
                activates_at: r.try_get("activates_at")?,
                retires_at: r.try_get("retires_at")?,
                removed_at: r.try_get("removed_at")?,
            })
        })
        .collect()
}

/// Every key ever made (for `idp keys list`), newest first.
pub async fn all(db: &Db) -> Result<Vec<KeyRow>> {
    let rows = query(
        "SELECT kid, alg, private_key, public_jwk, created_at, activates_at, retires_at, removed_at \
         FROM signing_keys ORDER BY created_at DESC, kid",
    )
    .fetch_all(&mut db.reader().await?)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(KeyRow {
                kid: r.try_get("kid")?,
                alg: r.try_get("alg")?,
                private_key: Vec::new(),
                public_jwk: r.try_get("public_jwk")?,
                created_at: r.try_get("created_at")?,
                activates_at: r.try_get("activates_at")?,
                retires_at: r.try_get("retires_at")?,
                removed_at: r.try_get("removed_at")?,
            })
        })
        .collect()
}

/// Adds a key and, in the same transaction, schedules the retirement of the keys of the same
/// algorithm that are still signing: they stop when the new one starts, and leave JWKS once
/// every token they signed has expired.
pub async fn insert_rotating(db: &Db, row: &KeyRow, retire_after: i64) -> Result<()> {
    let row = row.clone();
    db.write(move |mut tx| Box::pin(async move {
    query(
        "UPDATE signing_keys SET retires_at = $1, removed_at = $2 \
         WHERE alg = $3 AND (retires_at IS NULL OR retires_at > $1)",
    )
    .bind(row.activates_at)
    .bind(row.activates_at + retire_after)
    .bind(&row.alg)
    .execute(&mut tx)
    .await?;
    query(
        "INSERT INTO signing_keys (kid, alg, private_key, public_jwk, created_at, activates_at, retires_at, removed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL)",
    )
    .bind(&row.kid)
    .bind(&row.alg)
    .bind(row.private_key.clone())
    .bind(&row.public_jwk)
    .bind(row.created_at)
    .bind(row.activates_at)
    .execute(&mut tx)
    .await?;
    Ok(())
    }))
    .await
}

/// Adds the first key of an algorithm unless one exists (first start, possibly racing with
/// another instance). True if this call inserted it.
pub async fn insert_first(db: &Db, row: &KeyRow) -> Result<bool> {
    let row = row.clone();
    db.write(move |mut tx| Box::pin(async move {
    let exists = query("SELECT 1 FROM signing_keys WHERE alg = $1 AND retires_at IS NULL")
        .bind(&row.alg)
        .fetch_optional(&mut tx)
        .await?
        .is_some();
    if exists {
        return Ok(false);
    }
    query(
        "INSERT INTO signing_keys (kid, alg, private_key, public_jwk, created_at, activates_at, retires_at, removed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL)",
    )
    .bind(&row.kid)
    .bind(&row.alg)
    .bind(row.private_key.clone())
    .bind(&row.public_jwk)
    .bind(row.created_at)
    .bind(row.activates_at)
    .execute(&mut tx)
    .await?;
    Ok(true)
    }))
    .await
}
