//! The module's audit log: append-only, one row per thing that happened, readable per subject
//! (so a patient can see who looked at their record).

use serde::Serialize;
use sqlx::Row;

use crate::{db::Db, error::Result};

/// One entry to record.
#[derive(Clone, Debug, Default)]
pub struct Entry {
    /// Who: `citizen:<CID>`, `staff:<CID>`, `client:<id>`, `system`.
    pub actor: String,
    /// What, as a stable name (`record_viewed`, `application_approved`, `role_denied`).
    pub action: String,
    /// About whom or what: `patient:<CID>`, `application:<id>`.
    pub subject: String,
    /// Something the subject is entitled to be told about (emergency access, a refusal).
    pub flagged: bool,
    /// Details (JSON object).
    pub detail: serde_json::Value,
}

impl Entry {
    /// An entry.
    pub fn new(actor: impl Into<String>, action: &str, subject: impl Into<String>) -> Self {
        Self { actor: actor.into(), action: action.into(), subject: subject.into(), ..Self::default() }
    }
    /// With details.
    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
    /// Flagged for the subject's attention.
    pub fn flagged(mut self) -> Self {
        self.flagged = true;
        self
    }
}

/// A recorded entry.
#[derive(Clone, Debug, Serialize)]
pub struct Recorded {
    /// Sequence number.
    pub id: i64,
    /// When (Unix seconds).
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// About whom.
    pub subject: String,
    /// Flagged.
    pub flagged: bool,
    /// Details.
    pub detail: serde_json::Value,
}

/// Appends `entry` at `now`.
pub async fn record(db: &Db, entry: &Entry, now: i64) -> Result<()> {
    let detail = if entry.detail.is_null() { "{}".to_string() } else { entry.detail.to_string() };
    sqlx::query("INSERT INTO audit_log (at, actor, action, subject, flagged, detail) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(now)
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(&entry.subject)
        .bind(i64::from(entry.flagged))
        .bind(detail)
        .execute(db.pool())
        .await?;
    Ok(())
}

fn recorded(r: &sqlx::any::AnyRow) -> Result<Recorded> {
    let detail: String = r.try_get("detail")?;
    Ok(Recorded {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        subject: r.try_get("subject")?,
        flagged: r.try_get::<i64, _>("flagged")? != 0,
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
    })
}

/// The newest `limit` entries about `subject`, newest first.
pub async fn about(db: &Db, subject: &str, limit: i64) -> Result<Vec<Recorded>> {
    let rows = sqlx::query(
        "SELECT id, at, actor, action, subject, flagged, detail FROM audit_log WHERE subject = $1 \
         ORDER BY id DESC LIMIT $2",
    )
    .bind(subject)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(recorded).collect()
}

/// The newest `limit` entries with `action`, newest first (for tests and operators).
pub async fn with_action(db: &Db, action: &str, limit: i64) -> Result<Vec<Recorded>> {
    let rows = sqlx::query(
        "SELECT id, at, actor, action, subject, flagged, detail FROM audit_log WHERE action = $1 \
         ORDER BY id DESC LIMIT $2",
    )
    .bind(action)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(recorded).collect()
}
