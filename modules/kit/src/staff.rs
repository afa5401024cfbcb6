//! Staff roles: which citizen (by CID, which the module receives under the `national_id`
//! scope) holds which role, and where (a facility, a school, an office). Checked on every
//! request; a refusal is audited.

use serde::Serialize;
use sqlx::Row;

use crate::{
    audit::{self, Entry},
    db::Db,
    error::{Error, Result},
};

/// One role held by one person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StaffRole {
    /// The person's CID.
    pub cid: String,
    /// The role (each module names its own: `health_worker`, `registrar`, ...).
    pub role: String,
    /// Where it applies; empty for the whole agency.
    pub unit: String,
    /// The person's name, for pages and logs.
    pub name: String,
}

fn check(field: &str, s: &str, max: usize) -> Result<()> {
    if s.is_empty() || s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(Error::BadRequest(format!("{field} must be 1 to {max} characters without control characters")));
    }
    Ok(())
}

/// Gives `cid` the `role` at `unit` (idempotent).
pub async fn grant(db: &Db, role: &StaffRole, added_by: &str, now: i64) -> Result<()> {
    if role.cid.len() != 11 || !role.cid.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::BadRequest("a CID is 11 digits".into()));
    }
    check("role", &role.role, 40)?;
    check("name", &role.name, 200)?;
    if role.unit.chars().count() > 80 || role.unit.chars().any(char::is_control) {
        return Err(Error::BadRequest("unit must be at most 80 characters".into()));
    }
    let mut tx = db.pool().begin().await?;
    sqlx::query("DELETE FROM staff WHERE cid = $1 AND role = $2 AND unit = $3")
        .bind(&role.cid)
        .bind(&role.role)
        .bind(&role.unit)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO staff (cid, role, unit, name, added_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&role.cid)
        .bind(&role.role)
        .bind(&role.unit)
        .bind(&role.name)
        .bind(added_by)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    audit::record(
        db,
        &Entry::new(added_by, "role_granted", format!("staff:{}", role.cid))
            .detail(serde_json::json!({"role": role.role, "unit": role.unit})),
        now,
    )
    .await
}

/// Every role `cid` holds.
pub async fn roles_of(db: &Db, cid: &str) -> Result<Vec<StaffRole>> {
    let rows = sqlx::query("SELECT cid, role, unit, name FROM staff WHERE cid = $1 ORDER BY role, unit")
        .bind(cid)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(StaffRole {
                cid: r.try_get("cid")?,
                role: r.try_get("role")?,
                unit: r.try_get("unit")?,
                name: r.try_get("name")?,
            })
        })
        .collect()
}

/// The role `cid` holds as `role` (at `unit`, when given; any unit otherwise). Without it the
/// refusal is audited (flagged, against the person who tried) and `Forbidden` returned.
pub async fn require(db: &Db, cid: &str, role: &str, unit: Option<&str>, what: &str, now: i64) -> Result<StaffRole> {
    let held = roles_of(db, cid).await?;
    if let Some(r) = held.into_iter().find(|r| r.role == role && unit.is_none_or(|u| r.unit == u)) {
        return Ok(r);
    }
    audit::record(
        db,
        &Entry::new(format!("citizen:{cid}"), "role_denied", what)
            .detail(serde_json::json!({"needed": role, "unit": unit}))
            .flagged(),
        now,
    )
    .await?;
    Err(Error::Forbidden(format!(
        "This needs the {role} role{}.",
        unit.map(|u| format!(" at {u}")).unwrap_or_default()
    )))
}
