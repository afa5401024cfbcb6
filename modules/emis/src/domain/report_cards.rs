//! Report cards: the principal issues one for a student's term, from the marks as they stand;
//! the card keeps that snapshot, so a later correction needs a new card, which supersedes the
//! old one. Anyone holding the number can check it on the public verification page.

use agency_kit::{
    Error, Result,
    audit::{self, Entry},
    db::Db,
    staff::StaffRole,
};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{
    records::{detail, student},
    schools::School,
    values::{AcademicYear, Cid, Class, Subject, Term},
};

/// One line of a report card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardMark {
    /// The subject's code.
    pub subject: String,
    /// The subject's name.
    pub name: String,
    /// The mark.
    pub mark: i64,
}

/// An issued report card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReportCard {
    /// Its number (`RC-2025-...`), which the verification page is found by.
    pub number: String,
    /// The student's CID (never shown on the public page).
    pub student_cid: String,
    /// The student's name.
    pub student_name: String,
    /// The school's code.
    pub school: String,
    /// The school's name.
    pub school_name: String,
    /// The year.
    pub year: i64,
    /// `term1` or `term2`.
    pub term: String,
    /// The class (0 is PP).
    pub class: i64,
    /// The marks as issued.
    pub marks: Vec<CardMark>,
    /// When it was issued.
    pub issued_at: i64,
    /// The principal who issued it.
    pub issuer_name: String,
    /// The card that replaced it, if any.
    pub superseded_by: Option<String>,
    /// Whether its PDF sealed by EMIS is there ([`pdf`]).
    pub sealed: bool,
    /// Why it is not sealed yet, if sealing failed (for the operator; never shown publicly).
    #[serde(skip)]
    pub seal_error: String,
}

impl ReportCard {
    /// The term's label.
    pub fn term_label(&self) -> &'static str {
        Term::parse(&self.term).map_or("", Term::label)
    }
    /// `PP` or `Class 7`.
    pub fn class_label(&self) -> String {
        Class::from_stored(self.class).map(Class::label).unwrap_or_else(|_| self.class.to_string())
    }
    /// The average mark, one decimal (none without marks).
    pub fn average(&self) -> Option<f64> {
        average(&self.marks)
    }
}

/// The average of `marks`, rounded to one decimal.
pub fn average(marks: &[CardMark]) -> Option<f64> {
    if marks.is_empty() {
        return None;
    }
    let sum: i64 = marks.iter().map(|m| m.mark).sum();
    #[allow(clippy::cast_precision_loss)] // at most 17 marks of at most 100
    let avg = sum as f64 / marks.len() as f64;
    Some((avg * 10.0).round() / 10.0)
}

/// A new report card number: the year and 80 random bits (unguessable, so the number is what a
/// holder shows to let someone verify the card).
pub fn new_number(year: AcademicYear) -> String {
    let mut hex = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    hex.truncate(20);
    format!("RC-{year}-{hex}")
}

/// Whether `s` can be a report card number (checked before any look-up).
pub fn is_number(s: &str) -> bool {
    !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

/// Issues a report card for the student's `term` of `year` at `school` (the caller has checked
/// the principal's role), from the marks recorded for it; any card issued before for the same
/// term at this school is marked superseded by the new one.
pub async fn issue(
    db: &Db,
    principal: &StaffRole,
    school: &School,
    cid: &Cid,
    year: AcademicYear,
    term: Term,
    now: i64,
) -> Result<ReportCard> {
    let st = student(db, cid).await?.ok_or_else(|| Error::NotFound("EMIS has no student with this CID.".into()))?;
    // The enrolment at this school for that year: the current one, else the latest that ended
    // (a card is still due for a term completed before a transfer).
    let enrolment = sqlx::query(
        "SELECT id, class FROM enrolments WHERE student_cid = $1 AND school = $2 AND year = $3 \
         ORDER BY (CASE WHEN ended_at IS NULL THEN 1 ELSE 0 END) DESC, started_at DESC, id DESC LIMIT 1",
    )
    .bind(cid.as_str())
    .bind(&school.code)
    .bind(year.get())
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| Error::BadRequest(format!("This student was not enrolled here in {year}.")))?;
    let enrolment_id: i64 = enrolment.try_get("id")?;
    let class: i64 = enrolment.try_get("class")?;
    let rows = sqlx::query("SELECT subject, mark FROM marks WHERE enrolment_id = $1 AND term = $2 ORDER BY subject")
        .bind(enrolment_id)
        .bind(term.as_str())
        .fetch_all(db.pool())
        .await?;
    let mut marks = rows
        .iter()
        .map(|r| {
            let subject: String = r.try_get("subject")?;
            Ok(CardMark { name: Subject::name_of(&subject).to_owned(), subject, mark: r.try_get("mark")? })
        })
        .collect::<Result<Vec<_>>>()?;
    if marks.is_empty() {
        return Err(Error::BadRequest(format!("No marks are recorded for {} of {year} yet.", term.label())));
    }
    // In the curriculum's order, as a report card lists them.
    marks.sort_by_key(|m| crate::domain::SUBJECTS.iter().position(|s| s.0 == m.subject));
    let number = new_number(year);
    let snapshot = serde_json::to_string(&marks).map_err(|e| Error::Internal(e.to_string()))?;
    let mut tx = db.pool().begin().await?;
    let superseded = sqlx::query(
        "UPDATE report_cards SET superseded_by = $1 WHERE enrolment_id = $2 AND term = $3 AND superseded_by IS NULL",
    )
    .bind(&number)
    .bind(enrolment_id)
    .bind(term.as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query(
        "INSERT INTO report_cards (number, enrolment_id, student_cid, student_name, school, school_name, year, term, \
         class, marks, issued_at, issued_by, issuer_name) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&number)
    .bind(enrolment_id)
    .bind(cid.as_str())
    .bind(&st.name)
    .bind(&school.code)
    .bind(&school.name)
    .bind(year.get())
    .bind(term.as_str())
    .bind(class)
    .bind(&snapshot)
    .bind(now)
    .bind(format!("staff:{}", principal.cid))
    .bind(&principal.name)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    audit::record(
        db,
        &Entry::new(format!("staff:{}", principal.cid), "report_card_issued", cid.subject()).detail(detail(
            principal,
            school,
            serde_json::json!({"number": number, "year": year.get(), "term": term.as_str(), "superseded": superseded}),
        )),
        now,
    )
    .await?;
    Ok(ReportCard {
        number,
        student_cid: cid.as_str().to_owned(),
        student_name: st.name,
        school: school.code.clone(),
        school_name: school.name.clone(),
        year: year.get(),
        term: term.as_str().to_owned(),
        class,
        marks,
        issued_at: now,
        issuer_name: principal.name.clone(),
        superseded_by: None,
        sealed: false,
        seal_error: String::new(),
    })
}

macro_rules! select_cards {
    () => {
        "SELECT number, student_cid, student_name, school, school_name, year, term, class, marks, issued_at, \
         issuer_name, superseded_by, sealed_at, seal_error FROM report_cards"
    };
}

fn card_row(r: &sqlx::any::AnyRow) -> Result<ReportCard> {
    let marks: String = r.try_get("marks")?;
    Ok(ReportCard {
        number: r.try_get("number")?,
        student_cid: r.try_get("student_cid")?,
        student_name: r.try_get("student_name")?,
        school: r.try_get("school")?,
        school_name: r.try_get("school_name")?,
        year: r.try_get("year")?,
        term: r.try_get("term")?,
        class: r.try_get("class")?,
        marks: serde_json::from_str(&marks).map_err(|e| Error::Internal(format!("report card marks: {e}")))?,
        issued_at: r.try_get("issued_at")?,
        issuer_name: r.try_get("issuer_name")?,
        superseded_by: r.try_get("superseded_by")?,
        sealed: r.try_get::<Option<i64>, _>("sealed_at")?.is_some(),
        seal_error: r.try_get("seal_error")?,
    })
}

/// The report card numbered `number`.
pub async fn report_card(db: &Db, number: &str) -> Result<Option<ReportCard>> {
    let r = sqlx::query(concat!(select_cards!(), " WHERE number = $1")).bind(number).fetch_optional(db.pool()).await?;
    r.as_ref().map(card_row).transpose()
}

/// The student's report cards, newest first.
pub async fn report_cards_of(db: &Db, cid: &Cid) -> Result<Vec<ReportCard>> {
    let rows =
        sqlx::query(concat!(select_cards!(), " WHERE student_cid = $1 ORDER BY issued_at DESC, number LIMIT 200"))
            .bind(cid.as_str())
            .fetch_all(db.pool())
            .await?;
    rows.iter().map(card_row).collect()
}

/// The sealed PDF of report card `number`, once it is sealed.
pub async fn pdf(db: &Db, number: &str) -> Result<Option<Vec<u8>>> {
    let row = sqlx::query("SELECT pdf FROM report_cards WHERE number = $1 AND sealed_at IS NOT NULL")
        .bind(number)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.map(|r| r.try_get::<Vec<u8>, _>("pdf")).transpose()?)
}

/// Records the outcome of sealing `number`: the sealed PDF (kept once made: a card is sealed
/// at most once), or why not.
pub async fn record_seal(db: &Db, number: &str, pdf: Option<&[u8]>, error: &str, now: i64) -> Result<()> {
    let q = match pdf {
        Some(pdf) => sqlx::query(
            "UPDATE report_cards SET pdf = $1, sealed_at = $2, seal_error = '' WHERE number = $3 AND sealed_at IS NULL",
        )
        .bind(pdf.to_vec())
        .bind(now),
        None => sqlx::query("UPDATE report_cards SET seal_error = $1 WHERE number = $2 AND sealed_at IS NULL")
            .bind(error.to_owned()),
    };
    q.bind(number).execute(db.pool()).await?;
    Ok(())
}

/// Report cards in force but not sealed yet, oldest first (at most 100 a round). A card
/// superseded before it was sealed is left unsealed: nobody should be handed it any more.
pub async fn unsealed_cards(db: &Db) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT number FROM report_cards WHERE sealed_at IS NULL AND superseded_by IS NULL \
         ORDER BY issued_at, number LIMIT 100",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(|r| Ok(r.try_get("number")?)).collect()
}
