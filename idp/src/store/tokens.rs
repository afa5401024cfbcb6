//! Token bookkeeping: revoked access-token ids and used client-assertion ids.

use super::{Db, query};
use crate::{domain::UnixTime, error::Result};

/// Records an access token's `jti` as revoked until it would have expired anyway.
pub async fn revoke_jti(db: &Db, jti: &str, expires_at: UnixTime) -> Result<()> {
    db.execute(
        query("INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
            .bind(jti)
            .bind(expires_at),
    )
    .await?;
    Ok(())
}

/// True when the `jti` was revoked.
pub async fn is_revoked(db: &Db, jti: &str) -> Result<bool> {
    Ok(query("SELECT 1 FROM revoked_tokens WHERE jti = $1")
        .bind(jti)
        .fetch_optional(&mut db.reader().await?)
        .await?
        .is_some())
}

/// Records a client assertion's `jti`; false when it was already used (a replay).
pub async fn use_assertion_jti(db: &Db, client_id: &str, jti: &str, expires_at: UnixTime) -> Result<bool> {
    // ON CONFLICT rather than catching the violation: on PostgreSQL a failed statement would
    // abort the surrounding transaction.
    let r = db
        .execute(
            query(
                "INSERT INTO used_client_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (client_id, jti) DO NOTHING",
            )
            .bind(client_id)
            .bind(jti)
            .bind(expires_at),
        )
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Deletes bookkeeping rows that can no longer matter.
pub async fn purge_expired(db: &Db, now: UnixTime) -> Result<u64> {
    db.write(move |mut c| {
        Box::pin(async move {
            let a = query("DELETE FROM revoked_tokens WHERE expires_at < $1").bind(now).execute(&mut c).await?;
            let b = query("DELETE FROM used_client_assertions WHERE expires_at < $1").bind(now).execute(&mut c).await?;
            Ok(a.rows_affected() + b.rows_affected())
        })
    })
    .await
}
