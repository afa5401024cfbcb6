//! Group commit for SQLite: one thread owns the only write connection and commits the writes
//! of many requests in one transaction.
//!
//! Why: SQLite has one writer at a time, and with `synchronous=FULL` every commit waits for an
//! fsync. Letting each request commit on its own pool connection made writers queue on SQLite's
//! lock, whose busy handler *sleeps* (1, 2, 5, 10 ... ms) between retries, and paid one fsync per
//! statement group: complete logins topped out near 120/s. Here writes are jobs sent to one
//! thread; it takes every job waiting (up to [`MAX_BATCH`]), runs each inside its own
//! `SAVEPOINT` of one `BEGIN IMMEDIATE` transaction (a job that fails is rolled back alone),
//! commits once, and only then answers each caller. Durability is unchanged: no caller hears
//! "done" before its write is on disk, but one fsync now covers the whole batch. Under light
//! load a batch is one job and the latency is that of a plain transaction. The fsync happens on
//! this thread, never on a runtime thread.
//!
//! Readers keep their own connections: in WAL mode they never wait for the writer.

use std::panic::AssertUnwindSafe;

use futures_util::{FutureExt, future::BoxFuture};
use tokio::sync::{mpsc, oneshot};

use super::sql::{Conn, LiteTarget};
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

/// A unit of work: runs on the writer's connection, inside a transaction. Its future never
/// waits (a SQLite connection answers synchronously), so the thread polls it to completion.
type Job = Box<dyn for<'c> FnOnce(Conn<'c>) -> BoxFuture<'c, Ran> + Send>;

/// Handle to the writer thread; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Job>,
}

impl Writer {
    /// Opens the write connection and starts the writer thread.
    pub(crate) fn start(target: &LiteTarget) -> Result<Self> {
        let conn = target.open()?;
        let (tx, rx) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, rx))
            .map_err(|e| Error::internal(format!("cannot start the database writer: {e}")))?;
        Ok(Self { tx })
    }

    /// Runs `f` inside a write transaction and returns its value once the transaction that
    /// holds it has committed. If `f` fails, none of its writes are kept.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(Conn<'c>) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |conn| {
            Box::pin(async move {
                match f(conn).await {
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
        // A dropped job (its batch could not start) is an unavailable database, not a bug.
        answer.await.map_err(|_| Error::unavailable("the write was not carried out"))?
    }
}

fn run(mut conn: rusqlite::Connection, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&mut conn, std::mem::take(&mut batch));
    }
}

/// Runs one job to completion on this thread; a panic or a job that tries to wait is that
/// job's failure, not the writer's.
fn run_job(conn: &mut rusqlite::Connection, job: Job) -> Option<Ran> {
    let polled = std::panic::catch_unwind(AssertUnwindSafe(|| job(Conn::Lite(conn)).now_or_never()));
    match polled {
        Ok(Some(ran)) => Some(ran),
        Ok(None) => {
            tracing::error!("a database write waited on something other than the database; it is abandoned");
            None
        }
        Err(_) => {
            tracing::error!("a database write panicked; it is abandoned");
            None
        }
    }
}

/// Runs one transaction-control statement, prepared once per connection (they run several
/// times per job, and parsing them each time showed in profiles).
fn exec(conn: &rusqlite::Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.raw_execute().map(drop)
}

/// Runs `jobs` in one transaction and answers each: either the transaction commits and every
/// job gets its own outcome, or nothing is kept and every job gets an error.
fn commit_batch(conn: &mut rusqlite::Connection, jobs: Vec<Job>) {
    let started = std::time::Instant::now();
    let count = jobs.len();
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        // Dropping the jobs answers their callers with "unavailable".
        tracing::error!(error = %e, jobs = jobs.len(), "database writer cannot begin a transaction");
        return;
    }
    let mut ran = Vec::with_capacity(jobs.len());
    let mut failed = None;
    for job in jobs {
        if let Err(e) = exec(conn, "SAVEPOINT job") {
            failed = Some(e.to_string());
            break;
        }
        let r = run_job(conn, job);
        let kept = r.as_ref().is_some_and(|r| r.ok);
        ran.extend(r);
        let end =
            if kept { exec(conn, "RELEASE job") } else { exec(conn, "ROLLBACK TO job").and(exec(conn, "RELEASE job")) };
        if let Err(e) = end {
            failed = Some(e.to_string());
            break;
        }
    }
    let committing = std::time::Instant::now();
    let committed = match failed {
        None => exec(conn, "COMMIT").map_err(|e| e.to_string()),
        Some(e) => Err(e),
    };
    crate::metrics::db_batch(count, started.elapsed().as_secs_f64(), committing.elapsed().as_secs_f64());
    if let Err(e) = &committed {
        tracing::error!(error = %e, jobs = ran.len(), "database writer: the batch is rolled back");
        let _ = exec(conn, "ROLLBACK");
    }
    for r in ran {
        (r.deliver)(committed.clone().map_err(Error::unavailable));
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        error::Error,
        store::{Db, query},
    };

    /// Many concurrent jobs share batches; a job that fails after writing leaves nothing
    /// behind, and the others in its batch are kept and answered with their own values.
    #[tokio::test]
    async fn failing_job_is_rolled_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/w.db?mode=rwc", dir.path().display())).await.unwrap();
        db.write(|mut c| {
            Box::pin(async move { query("CREATE TABLE t (n INTEGER PRIMARY KEY)").execute(&mut c).await.map(drop) })
        })
        .await
        .unwrap();
        let mut tasks = vec![];
        for n in 0..200i64 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.write(move |mut c| {
                    Box::pin(async move {
                        query("INSERT INTO t (n) VALUES ($1)").bind(n).execute(&mut c).await?;
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
        let rows = query("SELECT n FROM t ORDER BY n").fetch_all(&mut db.reader().await.unwrap()).await.unwrap();
        let kept: Vec<i64> = rows.iter().map(|r| r.try_get::<i64>("n").unwrap()).collect();
        assert_eq!(kept, (0..200).filter(|n| n % 3 != 0).collect::<Vec<_>>());
    }

    /// A constraint violation inside a job is that job's error; the batch goes on.
    #[tokio::test]
    async fn constraint_violation_fails_only_its_job() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/w.db?mode=rwc", dir.path().display())).await.unwrap();
        db.write(|mut c| {
            Box::pin(async move { query("CREATE TABLE t (n INTEGER PRIMARY KEY)").execute(&mut c).await.map(drop) })
        })
        .await
        .unwrap();
        let ins = |n: i64| {
            let db = db.clone();
            async move {
                db.write(move |mut c| {
                    Box::pin(
                        async move { query("INSERT INTO t (n) VALUES ($1)").bind(n).execute(&mut c).await.map(drop) },
                    )
                })
                .await
            }
        };
        let (a, b, c) = tokio::join!(ins(1), ins(1), ins(2));
        assert_eq!([a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(), 1, "exactly one of the duplicates wins");
        assert!(c.is_ok());
        let n: i64 = query("SELECT COUNT(*) AS n FROM t")
            .fetch_one(&mut db.reader().await.unwrap())
            .await
            .unwrap()
            .try_get("n")
            .unwrap();
        assert_eq!(n, 2);
    }
}
