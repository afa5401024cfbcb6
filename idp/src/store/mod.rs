//! Storage: one repository layer over SQLite (embedded default) or PostgreSQL.
//!
//! Queries are written once, in the SQL both engines accept (`$1` placeholders, `RETURNING`,
//! `ON CONFLICT`), and run through sqlx's runtime-generic `Any` driver. Integers are `BIGINT`
//! (PostgreSQL) / `INTEGER` (SQLite) and decoded as `i64`; booleans are stored as 0/1 integers
//! because `Any` does not map SQLite integers to `bool`; times are Unix seconds. Each backend has
//! its own migration folder under `migrations/`.

pub mod audit;
pub mod clients;
pub mod enrolment;
pub mod keys;
pub mod life_events;
pub mod login;
pub mod pki;
pub mod registry;
pub(crate) mod sql;
pub mod tokens;
mod writer;

use std::{path::PathBuf, str::FromStr, sync::Arc, time::Duration};

use futures_util::future::BoxFuture;
pub(crate) use sql::{Conn, Row, query};
use sqlx::{
    AnyPool, Executor,
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::Migrator,
};

use crate::error::{Error, Result};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// SQLite durability (`PRAGMA synchronous` in WAL mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    /// Every commit is on disk before it is acknowledged, through a power loss too (the default).
    Full,
    /// Commits survive a crash of the process (the write-ahead log is written before the commit
    /// returns) but the last ones may be lost if the machine itself loses power; several times
    /// the write throughput, since commits no longer wait for the disk.
    Normal,
}

impl SqliteSync {
    /// The `PRAGMA synchronous` value.
    fn pragma(self) -> &'static str {
        match self {
            SqliteSync::Full => "FULL",
            SqliteSync::Normal => "NORMAL",
        }
    }
}

/// Which engine is behind the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (WAL mode).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    /// sqlx pool: every query on PostgreSQL; on SQLite only migrations and the registry import
    /// (one connection).
    pool: AnyPool,
    backend: Backend,
    /// SQLite only: the reader connections and the group-commit writer (see `sql`, `writer`).
    lite: Option<(Arc<sql::LitePool>, writer::Writer)>,
}

impl Db {
    /// Connects to `url` (`sqlite://...` or `postgres://...`). For SQLite, creates the file's
    /// folder, and sets WAL mode, foreign keys and a busy timeout on every connection.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, SqliteSync::Full).await
    }

    /// Like [`Db::connect`], choosing SQLite's durability (ignored for PostgreSQL).
    pub async fn connect_with(url: &str, sync: SqliteSync) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(Error::Config("database_url must start with sqlite: or postgres:".into()));
        };
        let opts = AnyConnectOptions::from_str(url).map_err(|e| Error::Config(format!("database_url: {e}")))?;
        let (pool, lite) = match backend {
            Backend::Sqlite => {
                let path = sqlite_file(url).ok_or_else(|| {
                    Error::Config(
                        "database_url: SQLite needs a file (sqlite://PATH); in-memory is not supported".into(),
                    )
                })?;
                if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| Error::Config(format!("cannot create {}: {e}", dir.display())))?;
                }
                let target = sql::LiteTarget { path, synchronous: sync.pragma() };
                let pool = sqlite_pool(1, sync).connect_with(opts).await?;
                let writer = writer::Writer::start(&target)?;
                (pool, Some((sql::LitePool::new(target), writer)))
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await?;
                (pool, None)
            }
        };
        Ok(Self { pool, backend, lite })
    }

    /// Applies pending migrations for this backend.
    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// Runs `f` in a write transaction: on SQLite through the group-commit writer, on
    /// PostgreSQL in a transaction of its own (PostgreSQL groups concurrent commits itself).
    /// `f`'s writes are kept only if it returns `Ok`; the value comes back once they are
    /// committed.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(Conn<'c>) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        match &self.lite {
            Some((_, w)) => w.write(f).await,
            None => {
                let mut tx = self.pool.begin().await?;
                let v = f(Conn::Any(&mut tx)).await?;
                tx.commit().await?;
                Ok(v)
            }
        }
    }

    /// One write statement in a transaction of its own (group-committed on SQLite). A
    /// [`Query`](sql::Query) owns its parameters, so it can travel to the writer as it is.
    pub(crate) async fn execute(&self, q: sql::Query) -> Result<sql::Done> {
        self.write(move |mut c| Box::pin(async move { q.execute(&mut c).await })).await
    }

    /// One write statement that returns a row (`UPDATE/DELETE/INSERT ... RETURNING`).
    pub(crate) async fn execute_returning(&self, q: sql::Query) -> Result<Option<Row>> {
        self.write(move |mut c| Box::pin(async move { q.fetch_optional(&mut c).await })).await
    }

    /// A connection to read with.
    pub(crate) async fn reader(&self) -> Result<sql::Reader> {
        Ok(match &self.lite {
            Some((readers, _)) => sql::Reader::Lite(readers.clone()),
            None => sql::Reader::Any(self.pool.acquire().await?),
        })
    }

    /// The sqlx pool (migrations, bulk import).
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A cheap round trip, for `/readyz`.
    pub async fn ping(&self) -> Result<()> {
        sql::query("SELECT 1 AS one").fetch_one(&mut self.reader().await?).await?;
        Ok(())
    }

    /// Closes every connection (graceful shutdown). SQLite's writer finishes the jobs it
    /// holds and stops when the last handle is dropped.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Options for a SQLite pool of `size` connections: WAL, the chosen durability, foreign keys,
/// and a busy timeout (other processes, such as the CLI, may hold the write lock briefly).
fn sqlite_pool(size: u32, sync: SqliteSync) -> AnyPoolOptions {
    AnyPoolOptions::new().max_connections(size).acquire_timeout(Duration::from_secs(10)).after_connect(
        move |conn, _| {
            Box::pin(async move {
                conn.execute(sqlx::AssertSqlSafe(sql::pragmas(sync.pragma()))).await?;
                Ok(())
            })
        },
    )
}

/// The file of a `sqlite://path?...` URL; `None` for an in-memory database.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(PathBuf::from(path))
}

/// True when the error is a unique-constraint violation (both engines).
pub(crate) fn is_unique_violation(e: &Error) -> bool {
    match e {
        Error::Db(sqlx::Error::Database(db)) => db.is_unique_violation(),
        Error::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
            f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_dir_is_found() {
        assert_eq!(sqlite_file("sqlite://data/idp.db?mode=rwc"), Some("data/idp.db".into()));
        assert_eq!(sqlite_file("sqlite://idp.db"), Some("idp.db".into()));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
    }
}
