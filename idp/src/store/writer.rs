//! Group commit for SQLite: one task owns the only write connection and commits the writes of
//! many requests in one transaction.
//!
//! Why: SQLite has one writer at a time, and with `synchronous=FULL` every commit waits for an
//! fsync. Letting each request commit on its own pool connection made writers queue on SQLite's
//! lock, whose busy handler *sleeps* (1, 2, 5, 10 ... ms) between retries, and paid one fsync per
//! statement group: complete logins topped out near 120/s. Here writes are jobs sent to one task;
//! it takes every job waiting (up to [`MAX_BATCH`]), runs each inside its own `SAVEPOINT` of one
//! `BEGIN IMMEDIATE` transaction (a job that fails is rolled back alone), commits once, and only
//! then answers each caller. Durability is unchanged: no caller hears "done" before its write
//! is on disk, but one fsync now covers the whole batch. Under light load a batch is one job and
//! the latency is that of a plain transaction.
//!
//! Readers keep their own pool: in WAL mode they never wait for the writer.

use std::panic::AssertUnwindSafe;

use futures_util::{FutureExt, future::BoxFuture};
use sqlx::{AnyConnection, AnyPool, Executor};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};

/// At most this many jobs share one transaction (bounds the work lost to one failed commit and
/// the time a batch holds the lock).
const MAX_BATCH: usize = 256;

/// Jobs waiting for the writer; callers wait (backpressure) when it is full.
const QUEUE: usize = 4096;

/// What a job reports after running: whether it succeeded (so the batch knows whether to keep
/// or roll back its savepoint), and how to hand the caller its outcome once the commit is known.
struct Ran {
    ok: bool,
    deliver: Box<dyn FnOnce(Result<()>) + Send>,
}

/// A unit of work: runs against the writer's connection, inside a transaction.
type Job = Box<dyn for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Ran> + Send>;

/// Handle to the writer task; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Job>,
    pool: AnyPool,
}

impl Writer {
    /// Starts the writer task on `pool` (a pool of one connection reserved for writing).
    pub(crate) fn start(pool: AnyPool) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool.clone(), rx));
        Self { tx, pool }
    }

    /// Closes the write connection (graceful shutdown, after the last request).
    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    /// Runs `f` inside a write transaction and returns its value once the transaction that
    /// holds it has committed. If `f` fails, none of its writes are kept.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |conn| {
            Box::pin(async move {
                let out = match AssertUnwindSafe(f(conn)).catch_unwind().await {
                    Ok(out) => out,
                    Err(_) => Err(Error::internal("a database write panicked")),
                };
                match out {
                    Ok(value) => Ran {
                        ok: true,
                        deliver: Box::new(move |committed: Result<()>| {
                            let _ = reply.send(committed.map(|()| value));
                        }),
                    },
                    Err(e) => Ran {
                        ok: false,
                        deliver: Box::new(move |_| {
                            let _ = reply.send(Err(e));
                        }),
                    },
                }
            })
        });
        self.tx.send(job).await.map_err(|_| Error::unavailable("the database writer has stopped"))?;
        // A dropped job (the batch could not start) is an unavailable database, not a bug.
        answer.await.map_err(|_| Error::unavailable("the write was not carried out"))?
    }
}

async fn run(pool: AnyPool, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs = std::mem::take(&mut batch);
        match pool.acquire().await {
            Ok(mut conn) => commit_batch(&mut conn, jobs).await,
            // Dropping the jobs answers their callers with "unavailable"; the pool reconnects
            // by itself, so the next batch tries again.
            Err(e) => tracing::error!(error = %e, jobs = jobs.len(), "database writer cannot get a connection"),
        }
    }
}

/// Runs `jobs` in one transaction and answers each: either the transaction commits and every
/// job gets its own outcome, or nothing is kept and every job gets an error.
async fn commit_batch(conn: &mut AnyConnection, jobs: Vec<Job>) {
    if let Err(e) = conn.execute("BEGIN IMMEDIATE").await {
        tracing::error!(error = %e, jobs = jobs.len(), "database writer cannot begin a transaction");
        return;
    }
    let mut ran = Vec::with_capacity(jobs.len());
    let mut failed = None;
    for job in jobs {
        if let Err(e) = conn.execute("SAVEPOINT job").await {
            failed = Some(e);
            break;
        }
        let r = job(conn).await;
        let end = if r.ok { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
        ran.push(r);
        if let Err(e) = conn.execute(end).await {
            failed = Some(e);
            break;
        }
    }
    let committed = match failed {
        None => conn.execute("COMMIT").await.map(drop),
        Some(e) => Err(e),
    };
    if let Err(e) = &committed {
        tracing::error!(error = %e, jobs = ran.len(), "database writer: the batch is rolled back");
        let _ = conn.execute("ROLLBACK").await;
    }
    let committed = committed.map_err(|e| e.to_string());
    for r in ran {
        (r.deliver)(committed.clone().map_err(Error::unavailable));
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use crate::{error::Error, store::Db};

    /// Many concurrent jobs share batches; a job that fails after writing leaves nothing
    /// behind, and the others in its batch are kept and answered with their own values.
    #[tokio::test]
    async fn failing_job_is_rolled_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/w.db?mode=rwc", dir.path().display())).await.unwrap();
        db.write(|c| {
            Box::pin(
                async move { Ok(sqlx::query("CREATE TABLE t (n INTEGER PRIMARY KEY)").execute(c).await.map(drop)?) },
            )
        })
        .await
        .unwrap();
        let mut tasks = vec![];
        for n in 0..200i64 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.write(move |c| {
                    Box::pin(async move {
                        sqlx::query("INSERT INTO t (n) VALUES ($1)").bind(n).execute(&mut *c).await?;
                        if n % 3 == 0 { Err(Error::Invalid(format!("job {n} refuses"))) } else { Ok(n * 10) }
                    })
                })
                .await
            }));
        }
        for (n, t) in tasks.into_iter().enumerate() {
            let n = n as i64;
            match t.await.unwrap() {
                Ok(v) => assert!(n % 3 != 0 && v == n * 10),
                Err(Error::Invalid(m)) => assert!(n % 3 == 0 && m == format!("job {n} refuses")),
                Err(e) => panic!("unexpected {e}"),
            }
        }
        let rows = sqlx::query("SELECT n FROM t ORDER BY n").fetch_all(db.pool()).await.unwrap();
        let kept: Vec<i64> = rows.iter().map(|r| r.try_get::<i64, _>("n").unwrap()).collect();
        assert_eq!(kept, (0..200).filter(|n| n % 3 != 0).collect::<Vec<_>>());
    }

    /// A constraint violation inside a job is that job's error; the batch goes on.
    #[tokio::test]
    async fn constraint_violation_fails_only_its_job() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/w.db?mode=rwc", dir.path().display())).await.unwrap();
        db.write(|c| {
            Box::pin(
                async move { Ok(sqlx::query("CREATE TABLE t (n INTEGER PRIMARY KEY)").execute(c).await.map(drop)?) },
            )
        })
        .await
        .unwrap();
        let ins = |n: i64| {
            let db = db.clone();
            async move {
                db.write(move |c| {
                    Box::pin(async move {
                        Ok(sqlx::query("INSERT INTO t (n) VALUES ($1)").bind(n).execute(c).await.map(drop)?)
                    })
                })
                .await
            }
        };
        let (a, b, c) = tokio::join!(ins(1), ins(1), ins(2));
        assert_eq!([a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(), 1, "exactly one of the duplicates wins");
        assert!(c.is_ok());
        let n: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM t").fetch_one(db.pool()).await.unwrap().try_get("n").unwrap();
        assert_eq!(n, 2);
    }
}
