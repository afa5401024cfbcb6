//! Token bookkeeping: revoked access-token ids and used client-assertion ids.

use super::{Db, is_unique_violation};
use crate::{domain::UnixTime, error::Result};

/// Records an access token's `jti` as revoked until it would have expired anyway.
pub async fn revoke_jti(db: &Db, jti: &str, expires_at: UnixTime) -> Result<()> {
    sqlx::query("INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
        .bind(jti)
        .bind(expires_at)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// True when the `jti` was revoked.
pub async fn is_revoked(db: &Db, jti: &str) -> Result<bool> {
    Ok(sqlx::query("SELECT 1 FROM revoked_tokens WHERE jti = $1").bind(jti).fetch_optional(db.pool()).await?.is_some())
}

/// Records a client assertion's `jti`; false when it was already used (a replay).
pub async fn use_assertion_jti(db: &Db, client_id: &str, jti: &str, expires_at: UnixTime) -> Result<bool> {
    let r = sqlx::query("INSERT INTO used_client_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3)")
        .bind(client_id)
        .bind(jti)
        .bind(expires_at)
        .execute(db.pool())
        .await;
    match r {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Deletes bookkeeping rows that can no longer matter.
pub async fn purge_expired(db: &Db, now: UnixTime) -> Result<u64> {
    let a = sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1").bind(now).execute(db.pool()).await?;
    let b =
        sqlx::query("DELETE FROM used_client_assertions WHERE expires_at < $1").bind(now).execute(db.pool()).await?;
    Ok(a.rows_affected() + b.rows_affected())
}
