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

/// An enrolment or re-verification packet: everything submitted, verbatim.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PacketRow {
    /// Chosen by the console before the first upload.
    pub id: String,
    /// `enrolment` or `reverification`.
    pub kind: String,
    /// Whose.
    pub cid: String,
    /// The officer's account.
    pub officer: String,
    /// The centre.
    pub centre: String,
    /// The submission (JSON: the capture request and the device's signed response).
    pub captures: String,
    /// SHA-256 (hex) of the submission.
    pub digest: String,
    /// `issued`, `adjudication`, `refused`, `verified`, `not_matched`.
    pub outcome: String,
    /// The digital ID it issued or re-verified.
    pub account_id: Option<String>,
    /// When.
    pub submitted_at: UnixTime,
}

fn packet_row(r: &Row) -> Result<PacketRow> {
    Ok(PacketRow {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        cid: r.try_get("cid")?,
        officer: r.try_get("officer")?,
        centre: r.try_get("centre")?,
        captures: r.try_get("captures")?,
        digest: r.try_get("digest")?,
        outcome: r.try_get("outcome")?,
        account_id: r.try_get("account_id")?,
        submitted_at: r.try_get("submitted_at")?,
    })
}

/// `SELECT <every packet column> FROM enrolment_packets <rest>`, as one literal (the statement
/// cache keys on `&'static str`).
macro_rules! select_packets {
    ($rest:literal) => {
        concat!(
            "SELECT id, kind, cid, officer, centre, captures, digest, outcome, account_id, submitted_at \
             FROM enrolment_packets ",
            $rest
        )
    };
}

/// A packet by id.
pub async fn packet(db: &Db, id: &str) -> Result<Option<PacketRow>> {
    let r = query(select_packets!("WHERE id = $1")).bind(id).fetch_optional(&mut db.reader().await?).await?;
    r.as_ref().map(packet_row).transpose()
}

/// The packet that issued a digital ID: the evidence of its enrolment.
pub async fn issuing_packet(db: &Db, account_id: &str) -> Result<Option<PacketRow>> {
    let r = query(select_packets!(
        "WHERE account_id = $1 AND kind = 'enrolment' AND outcome = 'issued' ORDER BY submitted_at DESC LIMIT 1"
    ))
    .bind(account_id)
    .fetch_optional(&mut db.reader().await?)
    .await?;
    r.as_ref().map(packet_row).transpose()
}

/// One sealed template of a finger.
#[derive(Clone, Debug)]
pub struct TemplateRow {
    /// Whose.
    pub account_id: String,
    /// ISO finger position code (1-10).
    pub finger: i64,
    /// The ISO 19794-2 record, sealed under the KEK.
    pub sealed: Vec<u8>,
    /// From which packet.
    pub packet_id: String,
    /// When.
    pub created_at: UnixTime,
}

fn template_row(r: &Row) -> Result<TemplateRow> {
    Ok(TemplateRow {
        account_id: r.try_get("account_id")?,
        finger: r.try_get("finger")?,
        sealed: r.try_get("template")?,
        packet_id: r.try_get("packet_id")?,
        created_at: r.try_get("created_at")?,
    })
}

/// What an enrolment decision writes, all in one transaction.
#[derive(Clone, Debug)]
pub struct Decision {
    /// The packet (inserted, or updated when it was waiting in adjudication).
    pub packet: PacketRow,
    /// Insert the packet (`true`) or only update its outcome and account (`false`).
    pub new_packet: bool,
    /// Templates to enrol.
    pub templates: Vec<TemplateRow>,
    /// An adjudication case to open: (id, candidates JSON).
    pub open_case: Option<(String, String)>,
    /// Raise the account's assurance (it was enrolled biometrically).
    pub raise_assurance: Option<String>,
    /// Close an open case. Checked first: if the case is no longer open, nothing is written.
    pub decide_case: Option<CaseDecision>,
}

/// A supervisor's decision on a case.
#[derive(Clone, Debug)]
pub struct CaseDecision {
    /// The case.
    pub id: String,
    /// `different` or `same`.
    pub status: String,
    /// The supervisor's account.
    pub by: String,
    /// Their note.
    pub note: String,
    /// When.
    pub at: UnixTime,
}

/// Writes a decision; `false` (nothing written) when the packet id is already taken by another
/// writer (a concurrent retry of the same upload).
pub async fn record_decision(db: &Db, d: Decision) -> Result<bool> {
    db.write(move |mut tx| {
        Box::pin(async move {
            let p = &d.packet;
            if let Some(c) = &d.decide_case {
                let done = query(
                    "UPDATE adjudication_cases SET status = $1, decided_by = $2, decided_at = $3, note = $4 \
                     WHERE id = $5 AND status = 'open'",
                )
                .bind(&c.status)
                .bind(&c.by)
                .bind(c.at)
                .bind(&c.note)
                .bind(&c.id)
                .execute(&mut tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
            }
            if d.new_packet {
                if query("SELECT 1 FROM enrolment_packets WHERE id = $1").bind(&p.id).fetch_optional(&mut tx).await?.is_some()
                {
                    return Ok(false);
                }
                query(
                    "INSERT INTO enrolment_packets (id, kind, cid, officer, centre, captures, digest, outcome, account_id, submitted_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(&p.id)
                .bind(&p.kind)
                .bind(&p.cid)
                .bind(&p.officer)
                .bind(&p.centre)
                .bind(&p.captures)
                .bind(&p.digest)
                .bind(&p.outcome)
                .bind(&p.account_id)
                .bind(p.submitted_at)
                .execute(&mut tx)
                .await?;
            } else {
                query("UPDATE enrolment_packets SET outcome = $1, account_id = $2 WHERE id = $3")
                    .bind(&p.outcome)
                    .bind(&p.account_id)
                    .bind(&p.id)
                    .execute(&mut tx)
                    .await?;
            }
            for t in &d.templates {
                query("DELETE FROM biometric_templates WHERE account_id = $1 AND finger = $2")
                    .bind(&t.account_id)
                    .bind(t.finger)
                    .execute(&mut tx)
                    .await?;
                query(
                    "INSERT INTO biometric_templates (account_id, finger, template, packet_id, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&t.account_id)
                .bind(t.finger)
                .bind(t.sealed.clone())
                .bind(&t.packet_id)
                .bind(t.created_at)
                .execute(&mut tx)
                .await?;
            }
            if let Some((id, candidates)) = &d.open_case {
                query(
                    "INSERT INTO adjudication_cases (id, packet_id, candidates, status, created_at) VALUES ($1, $2, $3, 'open', $4)",
                )
                .bind(id)
                .bind(&p.id)
                .bind(candidates)
                .bind(p.submitted_at)
                .execute(&mut tx)
                .await?;
            }
            if let (Some(acr), Some(account)) = (&d.raise_assurance, &p.account_id) {
                query("UPDATE accounts SET assurance = $1 WHERE id = $2").bind(acr).bind(account).execute(&mut tx).await?;
            }
            Ok(true)
        })
    })
    .await
}

/// Templates created at or after `since` (Unix seconds), for loading the ABIS: all of them at
/// start, then the new ones other instances wrote.
pub async fn templates_since(db: &Db, since: UnixTime) -> Result<Vec<TemplateRow>> {
    let rows = query(
        "SELECT account_id, finger, template, packet_id, created_at FROM biometric_templates \
         WHERE created_at >= $1 ORDER BY created_at, account_id, finger",
    )
    .bind(since)
    .fetch_all(&mut db.reader().await?)
    .await?;
    rows.iter().map(template_row).collect()
}

/// The templates of one digital ID.
pub async fn templates_of(db: &Db, account_id: &str) -> Result<Vec<TemplateRow>> {
    let rows = query(
        "SELECT account_id, finger, template, packet_id, created_at FROM biometric_templates WHERE account_id = $1 ORDER BY finger",
    )
    .bind(account_id)
    .fetch_all(&mut db.reader().await?)
    .await?;
    rows.iter().map(template_row).collect()
}

/// An adjudication case.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CaseRow {
    /// Its id.
    pub id: String,
    /// The packet waiting on it.
    pub packet_id: String,
    /// JSON list of candidates.
    pub candidates: String,
    /// `open`, `different` or `same`.
    pub status: String,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<UnixTime>,
    /// The supervisor's note.
    pub note: Option<String>,
    /// Opened.
    pub created_at: UnixTime,
}

fn case_row(r: &Row) -> Result<CaseRow> {
    Ok(CaseRow {
        id: r.try_get("id")?,
        packet_id: r.try_get("packet_id")?,
        candidates: r.try_get("candidates")?,
        status: r.try_get("status")?,
        decided_by: r.try_get("decided_by")?,
        decided_at: r.try_get("decided_at")?,
        note: r.try_get("note")?,
        created_at: r.try_get("created_at")?,
    })
}

/// `SELECT <every case column> FROM adjudication_cases <rest>`, as one literal.
macro_rules! select_cases {
    ($rest:literal) => {
        concat!(
            "SELECT id, packet_id, candidates, status, decided_by, decided_at, note, created_at FROM adjudication_cases ",
            $rest
        )
    };
}

/// Open cases, oldest first.
pub async fn open_cases(db: &Db, limit: i64) -> Result<Vec<CaseRow>> {
    let rows = query(select_cases!("WHERE status = 'open' ORDER BY created_at, id LIMIT $1"))
        .bind(limit)
        .fetch_all(&mut db.reader().await?)
        .await?;
    rows.iter().map(case_row).collect()
}

/// One case.
pub async fn case(db: &Db, id: &str) -> Result<Option<CaseRow>> {
    let r = query(select_cases!("WHERE id = $1")).bind(id).fetch_optional(&mut db.reader().await?).await?;
    r.as_ref().map(case_row).transpose()
}

/// The case a packet opened, if any.
pub async fn case_of_packet(db: &Db, packet_id: &str) -> Result<Option<CaseRow>> {
    let r =
        query(select_cases!("WHERE packet_id = $1")).bind(packet_id).fetch_optional(&mut db.reader().await?).await?;
    r.as_ref().map(case_row).transpose()
}
