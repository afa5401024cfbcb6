//! The audit table: appends entries to the chain and reads them back.

use super::{Conn, Db, Row, is_unique_violation, query};
use crate::{
    domain::{
        UnixTime,
        audit::{Entry, GENESIS, NewEntry, chain_hash},
    },
    error::{Error, Result},
};

/// Appends `entry` at the head of the chain. Two writers racing for the same position (two
/// instances on PostgreSQL) collide on the primary key; the loser re-reads the head and tries
/// again, so the chain never forks. On SQLite the single writer never collides.
pub async fn append(db: &Db, key: &[u8; 32], entry: &NewEntry, now: UnixTime) -> Result<i64> {
    for _ in 0..50 {
        let (key, entry) = (*key, entry.clone());
        match db.write(move |mut c| Box::pin(async move { append_in(&mut c, &key, &entry, now).await })).await {
            Ok(seq) => return Ok(seq),
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::internal("audit chain append kept colliding"))
}

async fn append_in(c: &mut Conn<'_>, key: &[u8; 32], entry: &NewEntry, now: UnixTime) -> Result<i64> {
    let head = query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetch_optional(&mut *c).await?;
    let (prev_seq, prev_hash) = match head {
        Some(r) => (r.try_get::<i64>("seq")?, r.try_get::<String>("hash")?),
        None => (0, GENESIS.to_string()),
    };
    let seq = prev_seq + 1;
    let hash = chain_hash(key, &prev_hash, seq, now, entry);
    query(
        "INSERT INTO audit_log (seq, at, event, actor, subject, client_id, ip, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(seq)
    .bind(now)
    .bind(&entry.event)
    .bind(&entry.actor)
    .bind(&entry.subject)
    .bind(&entry.client_id)
    .bind(&entry.ip)
    .bind(entry.detail.to_string())
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut *c)
    .await?;
    Ok(seq)
}

fn row_to_entry(r: &Row) -> Result<Entry> {
    let detail: String = r.try_get("detail")?;
    Ok(Entry {
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        body: NewEntry {
            event: r.try_get("event")?,
            actor: r.try_get("actor")?,
            subject: r.try_get("subject")?,
            client_id: r.try_get("client_id")?,
            ip: r.try_get("ip")?,
            detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
        },
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

/// Entries with `seq > after`, oldest first, at most `limit`.
pub async fn page(db: &Db, after: i64, limit: i64) -> Result<Vec<Entry>> {
    let rows = query("SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2")
        .bind(after)
        .bind(limit)
        .fetch_all(&mut db.reader().await?)
        .await?;
    rows.iter().map(row_to_entry).collect()
}

/// The newest entries about `subject`, newest first.
pub async fn for_subject(db: &Db, subject: &str, limit: i64) -> Result<Vec<Entry>> {
    let rows = query("SELECT * FROM audit_log WHERE subject = $1 ORDER BY seq DESC LIMIT $2")
        .bind(subject)
        .bind(limit)
        .fetch_all(&mut db.reader().await?)
        .await?;
    rows.iter().map(row_to_entry).collect()
}
