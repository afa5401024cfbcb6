//! A [`SessionStore`] on sqlx's `Any` driver: SQLite or PostgreSQL, whichever database the
//! agency module already has. It creates its own tables (`rp_sessions`, `rp_logout_jtis`) in
//! SQL both engines accept, and purges expired rows now and then as it writes.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use futures_util::future::BoxFuture;
use sqlx::{AnyPool, Row, any::AnyPoolOptions};

use super::{SessionKey, SessionStore, StoredSession};
use crate::error::{Error, Result};

const SCHEMA: [&str; 5] = [
    "CREATE TABLE IF NOT EXISTS rp_sessions (
        id_hash TEXT PRIMARY KEY,
        sub TEXT,
        oidc_sid TEXT,
        data TEXT NOT NULL,
        expires_at BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS rp_sessions_sub ON rp_sessions (sub)",
    "CREATE INDEX IF NOT EXISTS rp_sessions_sid ON rp_sessions (oidc_sid)",
    "CREATE INDEX IF NOT EXISTS rp_sessions_expiry ON rp_sessions (expires_at)",
    "CREATE TABLE IF NOT EXISTS rp_logout_jtis (jti TEXT PRIMARY KEY, expires_at BIGINT NOT NULL)",
];

/// How often (seconds) expired rows are purged.
const PURGE_EVERY: i64 = 300;

/// Sessions in SQLite or PostgreSQL.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pool: AnyPool,
    last_purge: Arc<AtomicI64>,
}

impl SqlStore {
    /// Connects to `url` (`sqlite://...`, `sqlite::memory:`, `postgres://...`) and creates the
    /// tables if needed.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        // Every connection to an in-memory SQLite database is a database of its own.
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = AnyPoolOptions::new().max_connections(if memory { 1 } else { 8 }).connect(url).await?;
        Self::new(pool).await
    }

    /// Uses an existing pool (the module's own database) and creates the tables if needed.
    pub async fn new(pool: AnyPool) -> Result<Self> {
        for stmt in SCHEMA {
            sqlx::query(stmt).execute(&pool).await?;
        }
        Ok(Self { pool, last_purge: Arc::default() })
    }

    async fn purge_now_and_then(&self, now: i64) -> Result<()> {
        let last = self.last_purge.load(Ordering::Relaxed);
        if now - last < PURGE_EVERY
            || self.last_purge.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return Ok(());
        }
        sqlx::query("DELETE FROM rp_sessions WHERE expires_at <= $1").bind(now).execute(&self.pool).await?;
        sqlx::query("DELETE FROM rp_logout_jtis WHERE expires_at <= $1").bind(now).execute(&self.pool).await?;
        Ok(())
    }
}

impl SessionStore for SqlStore {
    fn load<'a>(&'a self, key: &'a SessionKey) -> BoxFuture<'a, Result<Option<StoredSession>>> {
        Box::pin(async move {
            let row = sqlx::query("SELECT data FROM rp_sessions WHERE id_hash = $1")
                .bind(key.as_str())
                .fetch_optional(&self.pool)
                .await?;
            match row {
                None => Ok(None),
                Some(r) => {
                    let data: String = r.try_get("data")?;
                    serde_json::from_str(&data).map(Some).map_err(|e| Error::Store(format!("stored session: {e}")))
                }
            }
        })
    }

    fn save<'a>(&'a self, key: &'a SessionKey, s: &'a StoredSession) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let data = serde_json::to_string(s).map_err(|e| Error::Store(e.to_string()))?;
            sqlx::query(
                "INSERT INTO rp_sessions (id_hash, sub, oidc_sid, data, expires_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (id_hash) DO UPDATE SET sub = excluded.sub, oidc_sid = excluded.oidc_sid,
                 data = excluded.data, expires_at = excluded.expires_at",
            )
            .bind(key.as_str())
            .bind(s.sub())
            .bind(s.oidc_sid())
            .bind(data)
            .bind(s.expires_at)
            .execute(&self.pool)
            .await?;
            self.purge_now_and_then(s.last_seen_at).await
        })
    }

    fn delete<'a>(&'a self, key: &'a SessionKey) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            sqlx::query("DELETE FROM rp_sessions WHERE id_hash = $1").bind(key.as_str()).execute(&self.pool).await?;
            Ok(())
        })
    }

    fn delete_by_logout<'a>(&'a self, sub: Option<&'a str>, sid: Option<&'a str>) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let q = match (sub, sid) {
                (Some(sub), Some(sid)) => {
                    sqlx::query("DELETE FROM rp_sessions WHERE sub = $1 AND oidc_sid = $2").bind(sub).bind(sid)
                }
                (Some(sub), None) => sqlx::query("DELETE FROM rp_sessions WHERE sub = $1").bind(sub),
                (None, Some(sid)) => sqlx::query("DELETE FROM rp_sessions WHERE oidc_sid = $1").bind(sid),
                (None, None) => return Ok(0),
            };
            Ok(q.execute(&self.pool).await?.rows_affected())
        })
    }

    fn first_use_of_jti<'a>(&'a self, jti: &'a str, expires_at: i64, now: i64) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            self.purge_now_and_then(now).await?;
            let r = sqlx::query(
                "INSERT INTO rp_logout_jtis (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
            )
            .bind(jti)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
            Ok(r.rows_affected() == 1)
        })
    }
}
