//! EMIS's domain: schools, students and guardians, enrolments, marks and report cards. Plain
//! functions over the module's database that take `now`; the web layer only parses requests,
//! checks roles and renders answers.

mod records;
mod report_cards;
mod schools;
mod values;

use agency_kit::{
    Error, Result,
    audit::{self, Entry},
    db::Db,
    staff::StaffRole,
};
use serde::Serialize;
use sqlx::Row;

pub use records::{
    EnrolIn, Enrolment, Guardian, MarkChange, MarkIn, MarkRow, Student, ValidEnrolment, ValidMark, access_log,
    children_of, current_enrolment, end_enrolment, enrol, enrolments, guardians, marks, record_mark, record_view,
    require_enrolled_here, roll, student,
};
pub use report_cards::{
    CardMark, ReportCard, average, is_number, issue, new_number, pdf, record_seal, report_card, report_cards_of,
    unsealed_cards,
};
pub use schools::{ImportReport, SEED_SCHOOLS, School, import_schools, parse_schools, school, schools, seed_schools};
pub use values::{
    AcademicYear, Cid, Class, DZONGKHAGS, EndReason, Level, MAX_NAME, Mark, Relationship, SUBJECTS, Subject, Term,
    bhutan_date, current_year, past_date, school_code, text,
};

/// A teacher at a school (the role's unit is the school code): records marks.
pub const TEACHER: &str = "teacher";
/// The head of a school: enrols and transfers students, issues report cards, and may do what a
/// teacher does at that school.
pub const PRINCIPAL: &str = "principal";
/// The Ministry's EMIS administrator: grants teachers' and principals' roles.
pub const ADMINISTRATOR: &str = "administrator";

/// Every staff role, for the administrator's page and the CLI.
pub async fn all_staff(db: &Db) -> Result<Vec<StaffRole>> {
    let rows = sqlx::query("SELECT cid, role, unit, name FROM staff ORDER BY role, unit, name LIMIT 5000")
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

/// Gives `cid` the role `role`: `teacher` or `principal` at `school` (which must exist), or
/// `administrator` (no school).
pub async fn add_staff(
    db: &Db,
    cid: &str,
    role: &str,
    school_code_in: Option<&str>,
    name: &str,
    added_by: &str,
    now: i64,
) -> Result<StaffRole> {
    let cid = Cid::parse(cid)?;
    let name = text("Name", name, 1, MAX_NAME)?;
    let school_code_in = school_code_in.map(str::trim).filter(|s| !s.is_empty());
    let unit = match (role.trim(), school_code_in) {
        (TEACHER | PRINCIPAL, Some(code)) => {
            let code = school_code(code)?;
            school(db, &code)
                .await?
                .ok_or_else(|| Error::NotFound(format!("There is no school with the code {code:?}.")))?
                .code
        }
        (TEACHER | PRINCIPAL, None) => {
            return Err(Error::BadRequest("A teacher or principal needs a school code.".into()));
        }
        (ADMINISTRATOR, None) => String::new(),
        (ADMINISTRATOR, Some(_)) => {
            return Err(Error::BadRequest("An administrator works for the whole Ministry, not a school.".into()));
        }
        _ => return Err(Error::BadRequest("The role must be teacher, principal or administrator.".into())),
    };
    let role = StaffRole { cid: cid.as_str().to_owned(), role: role.trim().to_owned(), unit, name };
    agency_kit::staff::grant(db, &role, added_by, now).await?;
    Ok(role)
}

/// What another agency learns from `GET /api/students/{cid}/enrolment`: only whether and where
/// the student is enrolled in a year, nothing of their marks or guardians.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EnrolmentStatus {
    /// The CID asked about.
    pub cid: String,
    /// The student's name as the school recorded it.
    pub name: String,
    /// The year asked about.
    pub year: i64,
    /// Whether the student is enrolled (not ended) that year.
    pub enrolled: bool,
    /// The school, when enrolled.
    pub school: Option<StatusSchool>,
    /// `PP` or `Class 7`, when enrolled.
    pub class: Option<String>,
    /// Since when (Unix seconds), when enrolled.
    pub since: Option<i64>,
}

/// The school part of an [`EnrolmentStatus`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusSchool {
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its dzongkhag.
    pub dzongkhag: String,
}

/// The enrolment status of `cid` in `year` for an agency client (audited against the student,
/// so they and their guardians see which agency asked). `None` when EMIS has no such student.
pub async fn enrolment_status(
    db: &Db,
    cid: &Cid,
    year: AcademicYear,
    client_id: &str,
    now: i64,
) -> Result<Option<EnrolmentStatus>> {
    let Some(st) = student(db, cid).await? else {
        return Ok(None);
    };
    let current = current_enrolment(db, cid, year).await?;
    let school = match &current {
        Some(e) => {
            school(db, &e.school).await?.map(|s| StatusSchool { code: s.code, name: s.name, dzongkhag: s.dzongkhag })
        }
        None => None,
    };
    audit::record(
        db,
        &Entry::new(format!("client:{client_id}"), "enrolment_checked", cid.subject())
            .detail(serde_json::json!({"year": year.get(), "enrolled": current.is_some()})),
        now,
    )
    .await?;
    Ok(Some(EnrolmentStatus {
        cid: st.cid,
        name: st.name,
        year: year.get(),
        enrolled: current.is_some(),
        class: current.as_ref().map(Enrolment::class_label),
        since: current.as_ref().map(|e| e.started_at),
        school,
    }))
}

#[cfg(test)]
mod tests;
