//! The module's own database: embedded SQLite by default, PostgreSQL by configuration, through
//! one sqlx `AnyPool` so a module writes its SQL once (`$1` placeholders work on both).

use std::{str::FromStr, time::Duration};

use sqlx::{
    AnyPool,
    any::AnyPoolOptions,
    migrate::Migrator,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous},
};

use crate::error::{Error, Result};

/// A module's migrations for each backend, numbered from 100 so they never collide with the
/// kit's own (staff roles, audit log; numbered below 100). Build it with `sqlx::migrate!`:
///
/// ```ignore
/// Migrations { sqlite: sqlx::migrate!("./migrations/sqlite"), postgres: sqlx::migrate!("./migrations/postgres") }
/// ```
pub struct Migrations {
    /// For SQLite.
    pub sqlite: Migrator,
    /// For PostgreSQL.
    pub postgres: Migrator,
}

/// The database of one module.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    postgres: bool,
}

impl Db {
    /// Connects to `url` (`sqlite://path` — created if missing — or `postgres://...`) and
    /// applies the kit's and the module's migrations.
    pub async fn connect(url: &str, migrations: Migrations) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
        if !postgres && !url.starts_with("sqlite:") {
            return Err(Error::Config(format!("database_url must be sqlite://... or postgres://..., not {url:?}")));
        }
        if !postgres {
            // Create the file with WAL and full durability first (AnyPool cannot say so).
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|e| Error::Config(format!("database_url: {e}")))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full);
            let c = sqlx::ConnectOptions::connect(&opts).await?;
            sqlx::Connection::close(c).await.ok();
        }
        let pool = AnyPoolOptions::new()
            .max_connections(if postgres { 16 } else { 8 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if !postgres {
                        // Every connection: wait for the writer instead of failing, keep
                        // foreign keys honest, and make every commit durable.
                        sqlx::Executor::execute(
                            &mut *conn,
                            "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        let db = Self { pool, postgres };
        let (kit, module) = if postgres {
            (sqlx::migrate!("./migrations/postgres"), migrations.postgres)
        } else {
            (sqlx::migrate!("./migrations/sqlite"), migrations.sqlite)
        };
        for mut m in [kit, module] {
            // Two migrators share `_sqlx_migrations`: each ignores the other's versions.
            m.set_ignore_missing(true);
            m.run(&db.pool).await?;
        }
        Ok(db)
    }

    /// The pool, for queries.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Whether this is PostgreSQL (for the few statements that differ).
    pub fn is_postgres(&self) -> bool {
        self.postgres
    }
}

/// The default database of a module named `name`: `sqlite://<data_dir>/<name>.db`.
pub fn default_url(data_dir: &std::path::Path, name: &str) -> String {
    format!("sqlite://{}", data_dir.join(format!("{name}.db")).display())
}
