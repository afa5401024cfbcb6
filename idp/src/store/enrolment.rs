//! Enrolment records: registration centres and their officers (packets, templates and
//! adjudication cases follow with the enrolment console).

use super::{Db, Row, query};
use crate::{domain::UnixTime, error::Result};

/// A registration centre.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CentreRow {
    /// Its code (`THI-01`).
    pub code: String,
    /// Its name.
    pub name: String,
    /// The dzongkhag it is in.
    pub dzongkhag: String,
    /// When it was added.
    pub created_at: UnixTime,
}

fn centre_row(r: &Row) -> Result<CentreRow> {
    Ok(CentreRow {
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        dzongkhag: r.try_get("dzongkhag")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Adds a centre; `false` if the code is taken (nothing changed).
pub async fn insert_centre(db: &Db, c: &CentreRow) -> Result<bool> {
    let c = c.clone();
    db.write(move |mut tx| {
        Box::pin(async move {
            if query("SELECT 1 FROM centres WHERE code = $1").bind(&c.code).fetch_optional(&mut tx).await?.is_some() {
                return Ok(false);
            }
            query("INSERT INTO centres (code, name, dzongkhag, created_at) VALUES ($1, $2, $3, $4)")
                .bind(&c.code)
                .bind(&c.name)
                .bind(&c.dzongkhag)
                .bind(c.created_at)
                .execute(&mut tx)
                .await?;
            Ok(true)
        })
    })
    .await
}

/// Every centre, by code.
pub async fn centres(db: &Db) -> Result<Vec<CentreRow>> {
    let rows = query("SELECT code, name, dzongkhag, created_at FROM centres ORDER BY code")
        .fetch_all(&mut db.reader().await?)
        .await?;
    rows.iter().map(centre_row).collect()
}

/// One centre.
pub async fn centre(db: &Db, code: &str) -> Result<Option<CentreRow>> {
    let r = query("SELECT code, name, dzongkhag, created_at FROM centres WHERE code = $1")
        .bind(code)
        .fetch_optional(&mut db.reader().await?)
        .await?;
    r.as_ref().map(centre_row).transpose()
}

/// An officer: a digital ID with a role at a centre.
#[derive(Clone, Debug, serde::Serialize)]
pub struct OfficerRow {
    /// Their account.
    pub account_id: String,
    /// Their CID.
    pub cid: String,
    /// Their centre's code.
    pub centre: String,
    /// `enrolment_officer`, `supervisor` or `administrator`.
    pub role: String,
    /// Who gave them the role.
    pub added_by: String,
    /// When.
    pub created_at: UnixTime,
}

fn officer_row(r: &Row) -> Result<OfficerRow> {
    Ok(OfficerRow {
        account_id: r.try_get("account_id")?,
        cid: r.try_get("cid")?,
        centre: r.try_get("centre")?,
        role: r.try_get("role")?,
        added_by: r.try_get("added_by")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Gives an account a role at a centre, replacing any role it had (a removed officer can be
/// added again).
pub async fn put_officer(db: &Db, o: &OfficerRow) -> Result<()> {
    let o = o.clone();
    db.write(move |mut tx| {
        Box::pin(async move {
            query("DELETE FROM officers WHERE account_id = $1").bind(&o.account_id).execute(&mut tx).await?;
            query("INSERT INTO officers (account_id, centre, role, added_by, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(&o.account_id)
                .bind(&o.centre)
                .bind(&o.role)
                .bind(&o.added_by)
                .bind(o.created_at)
                .execute(&mut tx)
                .await?;
            Ok(())
        })
    })
    .await
}

/// Ends an officer's role; `false` if they had none.
pub async fn remove_officer(db: &Db, account_id: &str, now: UnixTime) -> Result<bool> {
    let done = db
        .execute(
            query("UPDATE officers SET removed_at = $1 WHERE account_id = $2 AND removed_at IS NULL")
                .bind(now)
                .bind(account_id),
        )
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The current role of an account, if it has one — and only while its digital ID is active.
pub async fn officer(db: &Db, account_id: &str) -> Result<Option<OfficerRow>> {
    let r = query(
        "SELECT o.account_id, a.cid, o.centre, o.role, o.added_by, o.created_at FROM officers o \
         JOIN accounts a ON a.id = o.account_id \
         WHERE o.account_id = $1 AND o.removed_at IS NULL AND a.status = 'active'",
    )
    .bind(account_id)
    .fetch_optional(&mut db.reader().await?)
    .await?;
    r.as_ref().map(officer_row).transpose()
}

/// Every current officer, by centre and CID.
pub async fn officers(db: &Db) -> Result<Vec<OfficerRow>> {
    let rows = query(
        "SELECT o.account_id, a.cid, o.centre, o.role, o.added_by, o.created_at FROM officers o \
         JOIN accounts a ON a.id = o.account_id WHERE o.removed_at IS NULL ORDER BY o.centre, a.cid",
    )
    .fetch_all(&mut db.reader().await?)
    .await?;
    rows.iter().map(officer_row).collect()
}
