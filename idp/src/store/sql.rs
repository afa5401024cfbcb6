//! The query layer the repository modules are written against: one SQL text, two engines.
//!
//! PostgreSQL runs through sqlx (pooled, asynchronous). SQLite runs through rusqlite, *inline*:
//! a read of SQLite's page cache takes microseconds, far less than handing the statement to
//! another thread and being woken with the answer, which is what an asynchronous SQLite driver
//! must do (measured: that handoff was about half of the server's CPU time under login load).
//! SQLite writes go to the group-commit writer thread (`writer`), so no request ever waits for
//! an fsync on a runtime thread.
//!
//! The API mirrors the part of sqlx's the repositories use (`query(..).bind(..).fetch_optional(..)`,
//! `row.try_get("column")`), so a repository reads like ordinary sqlx code.

use std::sync::{Arc, Mutex};

use rusqlite::{
    OpenFlags, ToSql,
    types::{ToSqlOutput, ValueRef},
};
use sqlx::{Any, AnyConnection, pool::PoolConnection};

use crate::error::{Error, Result};

/// A bound parameter or a column value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    /// SQL NULL.
    Null,
    /// An integer (also booleans, stored as 0/1, and Unix times).
    Int(i64),
    /// A real number (never written by us; read back faithfully).
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}
impl<T: Clone + Into<Value>> From<&Option<T>> for Value {
    fn from(v: &Option<T>) -> Self {
        v.clone().map_or(Value::Null, Into::into)
    }
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// A connection a query can run on: a SQLite connection used in place, or a sqlx one.
pub(crate) enum Conn<'a> {
    /// SQLite (rusqlite), synchronous: the writer's connection inside a write.
    Lite(&'a mut rusqlite::Connection),
    /// SQLite readers: each statement borrows an idle reader for its duration.
    LitePool(&'a LitePool),
    /// PostgreSQL (sqlx).
    Any(&'a mut AnyConnection),
}

/// Something that lends a [`Conn`]: a connection inside a write, or a reader.
pub(crate) trait Exec: Send {
    /// The connection, reborrowed.
    fn conn(&mut self) -> Conn<'_>;
}

impl Exec for Conn<'_> {
    fn conn(&mut self) -> Conn<'_> {
        match self {
            Conn::Lite(c) => Conn::Lite(c),
            Conn::LitePool(p) => Conn::LitePool(p),
            Conn::Any(c) => Conn::Any(c),
        }
    }
}

/// Where reads go.
pub(crate) enum Reader {
    /// SQLite's reader connections.
    Lite(Arc<LitePool>),
    /// A pooled sqlx connection.
    Any(PoolConnection<Any>),
}

impl Exec for Reader {
    fn conn(&mut self) -> Conn<'_> {
        match self {
            Reader::Lite(p) => Conn::LitePool(p),
            Reader::Any(c) => Conn::Any(c),
        }
    }
}

/// The outcome of a statement that returns no rows.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Done(u64);

impl Done {
    /// Rows inserted, updated or deleted.
    pub(crate) fn rows_affected(&self) -> u64 {
        self.0
    }
}

/// A statement and its parameters. Placeholders are `$1`, `$2`, ... (both engines accept them).
#[must_use = "a query does nothing until it is executed or fetched"]
pub(crate) struct Query {
    sql: &'static str,
    args: Vec<Value>,
}

/// Starts a query.
pub(crate) fn query(sql: &'static str) -> Query {
    Query { sql, args: Vec::new() }
}

impl Query {
    /// Binds the next parameter (`$1` first).
    pub(crate) fn bind(mut self, v: impl Into<Value>) -> Self {
        self.args.push(v.into());
        self
    }

    fn to_sqlx(&self) -> sqlx::query::Query<'static, Any, sqlx::any::AnyArguments> {
        let mut q = sqlx::query(self.sql);
        for a in &self.args {
            q = match a {
                Value::Null => q.bind(None::<String>),
                Value::Int(i) => q.bind(*i),
                Value::Real(f) => q.bind(*f),
                Value::Text(s) => q.bind(s.clone()),
                Value::Blob(b) => q.bind(b.clone()),
            };
        }
        q
    }

    /// Runs a statement that returns no rows.
    pub(crate) async fn execute<E: Exec + ?Sized>(self, e: &mut E) -> Result<Done> {
        match e.conn() {
            Conn::Lite(c) => lite_execute(c, self.sql, &self.args),
            Conn::LitePool(p) => p.with(|c| lite_execute(c, self.sql, &self.args)),
            Conn::Any(c) => Ok(Done(self.to_sqlx().execute(c).await?.rows_affected())),
        }
    }

    /// Every row.
    pub(crate) async fn fetch_all<E: Exec + ?Sized>(self, e: &mut E) -> Result<Vec<Row>> {
        match e.conn() {
            Conn::Lite(c) => lite_rows(c, self.sql, &self.args, usize::MAX),
            Conn::LitePool(p) => p.with(|c| lite_rows(c, self.sql, &self.args, usize::MAX)),
            Conn::Any(c) => Ok(self.to_sqlx().fetch_all(c).await?.into_iter().map(Row::Any).collect()),
        }
    }

    /// The first row, if any. A statement with `RETURNING` still runs to completion.
    pub(crate) async fn fetch_optional<E: Exec + ?Sized>(self, e: &mut E) -> Result<Option<Row>> {
        match e.conn() {
            Conn::Lite(c) => Ok(lite_rows(c, self.sql, &self.args, 1)?.pop()),
            Conn::LitePool(p) => Ok(p.with(|c| lite_rows(c, self.sql, &self.args, 1))?.pop()),
            Conn::Any(c) => Ok(self.to_sqlx().fetch_optional(c).await?.map(Row::Any)),
        }
    }

    /// Exactly one row.
    pub(crate) async fn fetch_one<E: Exec + ?Sized>(self, e: &mut E) -> Result<Row> {
        self.fetch_optional(e).await?.ok_or_else(|| Error::internal("query returned no row"))
    }
}

/// Binds `$n` placeholders by name, so a parameter may be used several times and in any order.
fn bind(st: &mut rusqlite::CachedStatement<'_>, args: &[Value]) -> Result<()> {
    for i in 1..=st.parameter_count() {
        let n = st
            .parameter_name(i)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| Error::internal("SQL placeholders must be $1, $2, ..."))?;
        let v = args.get(n.wrapping_sub(1)).ok_or_else(|| Error::internal(format!("no value bound for ${n}")))?;
        st.raw_bind_parameter(i, v)?;
    }
    Ok(())
}

fn lite_execute(c: &mut rusqlite::Connection, sql: &str, args: &[Value]) -> Result<Done> {
    let mut st = c.prepare_cached(sql)?;
    bind(&mut st, args)?;
    Ok(Done(st.raw_execute()? as u64))
}

/// Runs a SQLite statement and keeps up to `keep` rows (the statement always runs to the end,
/// which matters for `UPDATE ... RETURNING`).
fn lite_rows(c: &mut rusqlite::Connection, sql: &str, args: &[Value], keep: usize) -> Result<Vec<Row>> {
    let mut st = c.prepare_cached(sql)?;
    bind(&mut st, args)?;
    let names: Arc<[String]> = st.column_names().into_iter().map(str::to_owned).collect();
    let width = names.len();
    let mut rows = st.raw_query();
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        if out.len() >= keep {
            continue;
        }
        let mut vals = Vec::with_capacity(width);
        for i in 0..width {
            vals.push(match r.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(n) => Value::Int(n),
                ValueRef::Real(f) => Value::Real(f),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            });
        }
        out.push(Row::Lite { names: names.clone(), vals });
    }
    Ok(out)
}

/// A result row of either engine.
pub(crate) enum Row {
    /// From SQLite.
    Lite {
        /// Column names (shared by the rows of one statement).
        names: Arc<[String]>,
        /// Values, in column order.
        vals: Vec<Value>,
    },
    /// From sqlx.
    Any(sqlx::any::AnyRow),
}

/// A Rust type a column can be read as.
pub(crate) trait Col: Sized + sqlx::Type<Any> + for<'r> sqlx::Decode<'r, Any> {
    /// From a SQLite value; `None` if the type does not fit.
    fn from_lite(v: &Value) -> Option<Self>;
}

impl Col for i64 {
    fn from_lite(v: &Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}
impl Col for String {
    fn from_lite(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}
impl Col for Vec<u8> {
    fn from_lite(v: &Value) -> Option<Self> {
        match v {
            Value::Blob(b) => Some(b.clone()),
            Value::Text(s) => Some(s.as_bytes().to_vec()),
            _ => None,
        }
    }
}
impl<T: Col> Col for Option<T> {
    fn from_lite(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => T::from_lite(v).map(Some),
        }
    }
}

impl Row {
    /// The value of column `name`.
    pub(crate) fn try_get<T: Col>(&self, name: &str) -> Result<T> {
        match self {
            Row::Lite { names, vals } => {
                let i = names
                    .iter()
                    .position(|n| n == name)
                    .ok_or_else(|| Error::internal(format!("no column {name} in the result")))?;
                vals.get(i)
                    .and_then(T::from_lite)
                    .ok_or_else(|| Error::internal(format!("column {name} holds an unexpected type")))
            }
            Row::Any(r) => Ok(sqlx::Row::try_get(r, name)?),
        }
    }
}

// ---- SQLite connections ----

/// How SQLite connections are opened: the file and the pragmas every connection gets.
#[derive(Clone, Debug)]
pub(crate) struct LiteTarget {
    /// The database file.
    pub(crate) path: std::path::PathBuf,
    /// `PRAGMA synchronous` value.
    pub(crate) synchronous: &'static str,
}

impl LiteTarget {
    /// Opens a connection: WAL (readers never wait for the writer), the configured durability,
    /// foreign keys, and a busy timeout for the moments another process (the CLI) writes.
    pub(crate) fn open(&self) -> Result<rusqlite::Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let c = rusqlite::Connection::open_with_flags(&self.path, flags)?;
        c.execute_batch(&pragmas(self.synchronous))?;
        c.set_prepared_statement_cache_capacity(128);
        Ok(c)
    }
}

/// What every SQLite connection (ours and sqlx's) is set up with: WAL, the chosen durability
/// (`FULL` or `NORMAL`), foreign keys, and a busy timeout for the moments another process (the
/// CLI) holds the write lock.
pub(crate) fn pragmas(synchronous: &str) -> String {
    format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous}; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;"
    )
}

/// Idle SQLite reader connections. A statement borrows one for its duration (synchronously,
/// so no connection is ever held across an `await`); new ones are opened on demand, and at
/// most `MAX_IDLE` are kept.
#[derive(Debug)]
pub(crate) struct LitePool {
    target: LiteTarget,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

const MAX_IDLE: usize = 16;

impl LitePool {
    pub(crate) fn new(target: LiteTarget) -> Arc<Self> {
        Arc::new(Self { target, idle: Mutex::new(Vec::new()) })
    }

    /// Runs `f` on an idle reader connection.
    fn with<T>(&self, f: impl FnOnce(&mut rusqlite::Connection) -> Result<T>) -> Result<T> {
        let idle = self.idle.lock().map_err(|_| Error::internal("reader pool poisoned"))?.pop();
        let mut conn = match idle {
            Some(c) => c,
            None => self.target.open()?,
        };
        let out = f(&mut conn);
        // A connection left inside a transaction (it should never be) is not reused.
        if conn.is_autocommit()
            && let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(conn);
        }
        out
    }
}
