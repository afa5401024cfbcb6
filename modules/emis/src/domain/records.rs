//! Students, their guardians, enrolments and marks: what a school records and what the student
//! and their guardians see. Every read by staff and every change is audited against the
//! student (`student:<CID>`).

use agency_kit::{
    Error, Result,
    audit::{self, Entry},
    db::Db,
    staff::StaffRole,
};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{
    schools::School,
    values::{AcademicYear, Cid, Class, EndReason, MAX_NAME, Mark, Relationship, Subject, Term, past_date, text},
};

/// The audit details every staff action carries: who, in which role, at which school.
pub(crate) fn detail(staff: &StaffRole, school: &School, extra: serde_json::Value) -> serde_json::Value {
    let mut d = serde_json::json!({
        "school": school.code, "school_name": school.name, "staff_name": staff.name, "role": staff.role,
    });
    if let (Some(d), serde_json::Value::Object(extra)) = (d.as_object_mut(), extra) {
        d.extend(extra);
    }
    d
}

fn actor(staff: &StaffRole) -> String {
    format!("staff:{}", staff.cid)
}

// ---- students and guardians ----

/// A student as EMIS holds them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Student {
    /// The CID.
    pub cid: String,
    /// The name, as the school entered it at the first enrolment.
    pub name: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub date_of_birth: String,
}

/// A guardian of a student.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Guardian {
    /// The guardian's CID (they see the student's record when they log in).
    pub cid: String,
    /// `mother`, `father` or `guardian`.
    pub relationship: String,
}

/// The student with `cid`, if EMIS has one.
pub async fn student(db: &Db, cid: &Cid) -> Result<Option<Student>> {
    let r = sqlx::query("SELECT cid, name, date_of_birth FROM students WHERE cid = $1")
        .bind(cid.as_str())
        .fetch_optional(db.pool())
        .await?;
    r.map(|r| {
        Ok(Student { cid: r.try_get("cid")?, name: r.try_get("name")?, date_of_birth: r.try_get("date_of_birth")? })
    })
    .transpose()
}

/// The student's guardians.
pub async fn guardians(db: &Db, student_cid: &Cid) -> Result<Vec<Guardian>> {
    let rows = sqlx::query(
        "SELECT guardian_cid, relationship FROM guardians WHERE student_cid = $1 ORDER BY added_at, guardian_cid",
    )
    .bind(student_cid.as_str())
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| Ok(Guardian { cid: r.try_get("guardian_cid")?, relationship: r.try_get("relationship")? }))
        .collect()
}

/// The students whose guardian `guardian_cid` is.
pub async fn children_of(db: &Db, guardian_cid: &Cid) -> Result<Vec<Student>> {
    let rows = sqlx::query(
        "SELECT s.cid, s.name, s.date_of_birth FROM guardians g JOIN students s ON s.cid = g.student_cid \
         WHERE g.guardian_cid = $1 ORDER BY s.date_of_birth, s.cid",
    )
    .bind(guardian_cid.as_str())
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Student { cid: r.try_get("cid")?, name: r.try_get("name")?, date_of_birth: r.try_get("date_of_birth")? })
        })
        .collect()
}

// ---- enrolment ----

/// An enrolment as the principal's form sends it (unchecked strings).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct EnrolIn {
    /// The child's CID.
    #[serde(default)]
    pub cid: String,
    /// The child's name.
    #[serde(default)]
    pub name: String,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub date_of_birth: String,
    /// The academic year.
    #[serde(default)]
    pub year: String,
    /// `PP` or 1 to 12.
    #[serde(default)]
    pub class: String,
    /// A guardian's CID (required).
    #[serde(default)]
    pub guardian_cid: String,
    /// `mother`, `father` or `guardian`.
    #[serde(default)]
    pub guardian_relationship: String,
    /// A second guardian's CID (optional).
    #[serde(default)]
    pub guardian2_cid: String,
    /// Their relationship.
    #[serde(default)]
    pub guardian2_relationship: String,
}

/// An enrolment whose every field has been checked against the school and the clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidEnrolment {
    /// The child.
    pub cid: Cid,
    /// Their name.
    pub name: String,
    /// Their date of birth.
    pub date_of_birth: String,
    /// The year.
    pub year: AcademicYear,
    /// The class, one the school teaches.
    pub class: Class,
    /// One or two guardians, none of them the child.
    pub guardians: Vec<(Cid, Relationship)>,
}

impl EnrolIn {
    /// Checks every field (the first problem is reported). Pure: the school and `now` are
    /// given.
    pub fn validate(&self, school: &School, now: i64) -> Result<ValidEnrolment> {
        let cid = Cid::parse(&self.cid).map_err(|_| Error::BadRequest("The child's CID must be 11 digits.".into()))?;
        let name = text("The child's name", &self.name, 1, MAX_NAME)?;
        let date_of_birth = past_date("The date of birth", &self.date_of_birth, now)?;
        let year = AcademicYear::parse(&self.year, now)?;
        let class = Class::parse(&self.class)?.offered_by(school.level)?;
        let mut guardians = Vec::new();
        for (n, c, r) in [
            (1, &self.guardian_cid, &self.guardian_relationship),
            (2, &self.guardian2_cid, &self.guardian2_relationship),
        ] {
            if n == 2 && c.trim().is_empty() {
                continue;
            }
            let g = Cid::parse(c).map_err(|_| {
                Error::BadRequest(if n == 1 {
                    "A guardian's CID (11 digits) is required.".into()
                } else {
                    "The second guardian's CID must be 11 digits (or leave it empty).".into()
                })
            })?;
            if g == cid {
                return Err(Error::BadRequest("A child cannot be their own guardian.".into()));
            }
            if guardians.iter().any(|(o, _)| *o == g) {
                return Err(Error::BadRequest("The two guardians have the same CID.".into()));
            }
            guardians.push((g, Relationship::parse(r)?));
        }
        Ok(ValidEnrolment { cid, name, date_of_birth, year, class, guardians })
    }
}

/// One enrolment of a student at a school for a year.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Enrolment {
    /// Its id.
    pub id: i64,
    /// The student's CID.
    pub student_cid: String,
    /// The school's code.
    pub school: String,
    /// The school's name.
    pub school_name: String,
    /// The academic year.
    pub year: i64,
    /// The class (0 is PP).
    pub class: i64,
    /// When it started.
    pub started_at: i64,
    /// When it ended, if it has.
    pub ended_at: Option<i64>,
    /// Why it ended.
    pub end_reason: Option<String>,
}

impl Enrolment {
    /// Whether it is current (not ended).
    pub fn active(&self) -> bool {
        self.ended_at.is_none()
    }
    /// `PP` or `Class 7`.
    pub fn class_label(&self) -> String {
        Class::from_stored(self.class).map(Class::label).unwrap_or_else(|_| self.class.to_string())
    }
}

/// The columns [`enrolment_row`] reads, with the school's name.
macro_rules! select_enrolments {
    () => {
        "SELECT e.id, e.student_cid, e.school, s.name AS school_name, e.year, e.class, e.started_at, e.ended_at, \
         e.end_reason FROM enrolments e JOIN schools s ON s.code = e.school"
    };
}

fn enrolment_row(r: &sqlx::any::AnyRow) -> Result<Enrolment> {
    Ok(Enrolment {
        id: r.try_get("id")?,
        student_cid: r.try_get("student_cid")?,
        school: r.try_get("school")?,
        school_name: r.try_get("school_name")?,
        year: r.try_get("year")?,
        class: r.try_get("class")?,
        started_at: r.try_get("started_at")?,
        ended_at: r.try_get("ended_at")?,
        end_reason: r.try_get("end_reason")?,
    })
}

/// The student's enrolments, newest year first.
pub async fn enrolments(db: &Db, cid: &Cid) -> Result<Vec<Enrolment>> {
    let rows = sqlx::query(concat!(
        select_enrolments!(),
        " WHERE e.student_cid = $1 ORDER BY e.year DESC, e.started_at DESC, e.id DESC"
    ))
    .bind(cid.as_str())
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(enrolment_row).collect()
}

/// The student's current (not ended) enrolment for `year`, at whichever school.
pub async fn current_enrolment(db: &Db, cid: &Cid, year: AcademicYear) -> Result<Option<Enrolment>> {
    let r =
        sqlx::query(concat!(select_enrolments!(), " WHERE e.student_cid = $1 AND e.year = $2 AND e.ended_at IS NULL"))
            .bind(cid.as_str())
            .bind(year.get())
            .fetch_optional(db.pool())
            .await?;
    r.as_ref().map(enrolment_row).transpose()
}

/// The students currently enrolled at `school` for `year` (the class roll), by class and name.
pub async fn roll(db: &Db, school: &School, year: AcademicYear) -> Result<Vec<(Enrolment, String)>> {
    let rows = sqlx::query(
        "SELECT e.id, e.student_cid, e.school, s.name AS school_name, e.year, e.class, e.started_at, e.ended_at, \
         e.end_reason, st.name AS student_name FROM enrolments e JOIN schools s ON s.code = e.school \
         JOIN students st ON st.cid = e.student_cid WHERE e.school = $1 AND e.year = $2 AND e.ended_at IS NULL \
         ORDER BY e.class, st.name LIMIT 5000",
    )
    .bind(&school.code)
    .bind(year.get())
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(|r| Ok((enrolment_row(r)?, r.try_get("student_name")?))).collect()
}

/// Enrols a checked student at `school` (the caller has checked the principal's role), all or
/// nothing: creates the student record and records the guardians on the first enrolment; a
/// known student must be given with the name and date of birth first recorded and at least one
/// recorded guardian (other guardians given are then added, and the guardians see it). Refuses
/// a second school for the same year until the first ends the enrolment (a transfer).
pub async fn enrol(db: &Db, principal: &StaffRole, school: &School, v: &ValidEnrolment, now: i64) -> Result<Enrolment> {
    if let Some(e) = current_enrolment(db, &v.cid, v.year).await? {
        return Err(Error::Conflict(if e.school == school.code {
            format!("This student is already enrolled here for {} ({}).", v.year, e.class_label())
        } else {
            format!(
                "This student is enrolled at {} for {}. A student attends one school a year: {} must first end \
                 that enrolment (a transfer), then enrol them here.",
                e.school_name, v.year, e.school_name
            )
        }));
    }
    let mut tx = db.pool().begin().await?;
    let existing = sqlx::query("SELECT name, date_of_birth FROM students WHERE cid = $1")
        .bind(v.cid.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    let known = existing.is_some();
    let mut new_guardians = v.guardians.clone();
    if let Some(r) = existing {
        // A mistyped CID must not enrol another child, nor let a school attach new guardians
        // to a child it does not know: the record's identity and a recorded guardian must match.
        let name: String = r.try_get("name")?;
        let dob: String = r.try_get("date_of_birth")?;
        if !name.trim().eq_ignore_ascii_case(&v.name) || dob != v.date_of_birth {
            return Err(Error::Conflict(
                "EMIS already has a student with this CID but another name or date of birth. Check the CID with \
                 the family; the name and date of birth must be as first recorded."
                    .into(),
            ));
        }
        let recorded = guardians(db, &v.cid).await?;
        if !v.guardians.iter().any(|(g, _)| recorded.iter().any(|r| r.cid == g.as_str())) {
            return Err(Error::Conflict(
                "None of the guardians given is recorded for this student. Give the CID of a parent or guardian \
                 the student's first school recorded."
                    .into(),
            ));
        }
        new_guardians.retain(|(g, _)| !recorded.iter().any(|r| r.cid == g.as_str()));
    }
    if !known {
        sqlx::query(
            "INSERT INTO students (cid, name, date_of_birth, created_by, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(v.cid.as_str())
        .bind(&v.name)
        .bind(&v.date_of_birth)
        .bind(actor(principal))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    for (g, rel) in &new_guardians {
        sqlx::query(
            "INSERT INTO guardians (student_cid, guardian_cid, relationship, added_by, added_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (student_cid, guardian_cid) DO NOTHING",
        )
        .bind(v.cid.as_str())
        .bind(g.as_str())
        .bind(rel.as_str())
        .bind(actor(principal))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    let inserted = sqlx::query(
        "INSERT INTO enrolments (student_cid, school, year, class, started_at, started_by) VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING id",
    )
    .bind(v.cid.as_str())
    .bind(&school.code)
    .bind(v.year.get())
    .bind(i64::from(v.class.number()))
    .bind(now)
    .bind(actor(principal))
    .fetch_one(&mut *tx)
    .await;
    let id: i64 = match inserted {
        Ok(r) => r.try_get("id")?,
        // Another enrolment for the same year won a race with the check above.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(Error::Conflict(format!("This student was just enrolled elsewhere for {}.", v.year)));
        }
        Err(e) => return Err(e.into()),
    };
    tx.commit().await?;
    let added: Vec<_> =
        new_guardians.iter().map(|(g, r)| serde_json::json!({"cid": g.as_str(), "relationship": r.as_str()})).collect();
    audit::record(
        db,
        &Entry::new(actor(principal), "student_enrolled", v.cid.subject()).detail(detail(
            principal,
            school,
            serde_json::json!({"enrolment": id, "year": v.year.get(), "class": v.class.label(),
                "new_student": !known, "guardians_added": added}),
        )),
        now,
    )
    .await?;
    Ok(Enrolment {
        id,
        student_cid: v.cid.as_str().to_owned(),
        school: school.code.clone(),
        school_name: school.name.clone(),
        year: v.year.get(),
        class: i64::from(v.class.number()),
        started_at: now,
        ended_at: None,
        end_reason: None,
    })
}

/// Ends the student's current enrolment at `school` for `year` (a transfer out, a completed
/// year, a withdrawal). The caller has checked the principal's role.
pub async fn end_enrolment(
    db: &Db,
    principal: &StaffRole,
    school: &School,
    cid: &Cid,
    year: AcademicYear,
    reason: EndReason,
    now: i64,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE enrolments SET ended_at = $1, end_reason = $2, ended_by = $3 \
         WHERE student_cid = $4 AND school = $5 AND year = $6 AND ended_at IS NULL",
    )
    .bind(now)
    .bind(reason.as_str())
    .bind(actor(principal))
    .bind(cid.as_str())
    .bind(&school.code)
    .bind(year.get())
    .execute(db.pool())
    .await?
    .rows_affected();
    if done == 0 {
        return Err(Error::NotFound(format!("This student has no current enrolment here for {year}.")));
    }
    audit::record(
        db,
        &Entry::new(actor(principal), "enrolment_ended", cid.subject()).detail(detail(
            principal,
            school,
            serde_json::json!({"year": year.get(), "reason": reason.as_str()}),
        )),
        now,
    )
    .await
}

/// Staff at `school` may open a student's record only while the student is enrolled there
/// (any year, not ended). Without that the refusal is audited against the student, flagged.
pub async fn require_enrolled_here(db: &Db, staff: &StaffRole, school: &School, cid: &Cid, now: i64) -> Result<()> {
    let n: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM enrolments WHERE student_cid = $1 AND school = $2 AND ended_at IS NULL")
            .bind(cid.as_str())
            .bind(&school.code)
            .fetch_one(db.pool())
            .await?
            .try_get("n")?;
    if n > 0 {
        return Ok(());
    }
    audit::record(
        db,
        &Entry::new(actor(staff), "record_access_refused", cid.subject())
            .detail(detail(staff, school, serde_json::json!({})))
            .flagged(),
        now,
    )
    .await?;
    Err(Error::Forbidden("This student is not enrolled at your school.".into()))
}

/// Records that `staff` viewed the student's record (every view by staff is audited).
pub async fn record_view(db: &Db, staff: &StaffRole, school: &School, cid: &Cid, now: i64) -> Result<()> {
    audit::record(
        db,
        &Entry::new(actor(staff), "record_viewed", cid.subject()).detail(detail(staff, school, serde_json::json!({}))),
        now,
    )
    .await
}

// ---- marks ----

/// A mark as a teacher's form sends it (unchecked strings).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct MarkIn {
    /// The academic year.
    #[serde(default)]
    pub year: String,
    /// `term1` or `term2`.
    #[serde(default)]
    pub term: String,
    /// The subject's code.
    #[serde(default)]
    pub subject: String,
    /// 0 to 100.
    #[serde(default)]
    pub mark: String,
}

/// A checked mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidMark {
    /// The year.
    pub year: AcademicYear,
    /// The term.
    pub term: Term,
    /// The subject, taught in the student's class.
    pub subject: Subject,
    /// The mark.
    pub mark: Mark,
}

impl MarkIn {
    /// Checks the year and term (pure). The subject needs the class, which needs the
    /// enrolment: see [`MarkIn::validate`].
    pub fn year_and_term(&self, now: i64) -> Result<(AcademicYear, Term)> {
        Ok((AcademicYear::parse(&self.year, now)?, Term::parse(&self.term)?))
    }
    /// Checks every field for a student in `class`.
    pub fn validate(&self, class: Class, now: i64) -> Result<ValidMark> {
        let (year, term) = self.year_and_term(now)?;
        Ok(ValidMark { year, term, subject: Subject::parse(&self.subject, class)?, mark: Mark::parse(&self.mark)? })
    }
}

/// What recording a mark did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkChange {
    /// A first mark for that subject and term.
    Recorded,
    /// A different mark replaced this one.
    Changed {
        /// The mark before.
        previous: u8,
    },
    /// The same mark again: nothing changed.
    Unchanged,
}

/// Records (or corrects) a mark for a student enrolled at `school` in the mark's year. The
/// caller has checked the teacher's role at the school. Every change is audited with the mark
/// before; a correction is flagged for the student and guardians.
pub async fn record_mark(
    db: &Db,
    teacher: &StaffRole,
    school: &School,
    cid: &Cid,
    input: &MarkIn,
    now: i64,
) -> Result<MarkChange> {
    let (year, _) = input.year_and_term(now)?;
    let Some(enrolment) = current_enrolment(db, cid, year).await?.filter(|e| e.school == school.code) else {
        return Err(Error::BadRequest(format!("This student is not enrolled here for {year}.")));
    };
    let class = Class::from_stored(enrolment.class)?;
    let m = input.validate(class, now)?;
    let mut tx = db.pool().begin().await?;
    let old = sqlx::query("SELECT mark FROM marks WHERE enrolment_id = $1 AND term = $2 AND subject = $3")
        .bind(enrolment.id)
        .bind(m.term.as_str())
        .bind(m.subject.code)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get::<i64, _>("mark"))
        .transpose()?;
    let change = match old {
        Some(p) if p == i64::from(m.mark.get()) => return Ok(MarkChange::Unchanged),
        Some(p) => MarkChange::Changed { previous: u8::try_from(p).map_err(|e| Error::Internal(e.to_string()))? },
        None => MarkChange::Recorded,
    };
    sqlx::query(
        "INSERT INTO marks (enrolment_id, student_cid, term, subject, mark, recorded_by, recorder_name, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (enrolment_id, term, subject) \
         DO UPDATE SET mark = $5, recorded_by = $6, recorder_name = $7, recorded_at = $8",
    )
    .bind(enrolment.id)
    .bind(cid.as_str())
    .bind(m.term.as_str())
    .bind(m.subject.code)
    .bind(i64::from(m.mark.get()))
    .bind(actor(teacher))
    .bind(&teacher.name)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let extra = serde_json::json!({
        "year": year.get(), "term": m.term.as_str(), "subject": m.subject.code, "subject_name": m.subject.name,
        "mark": m.mark.get(),
        "previous": match change { MarkChange::Changed { previous } => Some(previous), _ => None },
    });
    let mut e = Entry::new(
        actor(teacher),
        if matches!(change, MarkChange::Changed { .. }) { "mark_changed" } else { "mark_recorded" },
        cid.subject(),
    )
    .detail(detail(teacher, school, extra));
    if matches!(change, MarkChange::Changed { .. }) {
        e = e.flagged();
    }
    audit::record(db, &e, now).await?;
    Ok(change)
}

/// One recorded mark.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MarkRow {
    /// The enrolment it belongs to.
    pub enrolment_id: i64,
    /// The school's name.
    pub school_name: String,
    /// The year.
    pub year: i64,
    /// `term1` or `term2`.
    pub term: String,
    /// The subject's code.
    pub subject: String,
    /// The mark.
    pub mark: i64,
    /// Who recorded it last.
    pub recorder_name: String,
    /// When.
    pub recorded_at: i64,
}

/// The student's marks, newest year first, then term and subject.
pub async fn marks(db: &Db, cid: &Cid) -> Result<Vec<MarkRow>> {
    let rows = sqlx::query(
        "SELECT m.enrolment_id, s.name AS school_name, e.year, m.term, m.subject, m.mark, m.recorder_name, m.recorded_at \
         FROM marks m JOIN enrolments e ON e.id = m.enrolment_id JOIN schools s ON s.code = e.school \
         WHERE m.student_cid = $1 ORDER BY e.year DESC, m.term, m.subject LIMIT 2000",
    )
    .bind(cid.as_str())
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MarkRow {
                enrolment_id: r.try_get("enrolment_id")?,
                school_name: r.try_get("school_name")?,
                year: r.try_get("year")?,
                term: r.try_get("term")?,
                subject: r.try_get("subject")?,
                mark: r.try_get("mark")?,
                recorder_name: r.try_get("recorder_name")?,
                recorded_at: r.try_get("recorded_at")?,
            })
        })
        .collect()
}

/// Who at a school (or which agency) looked at, changed or tried to open the student's
/// record, newest first: the student's and guardians' view of the audit log.
pub async fn access_log(db: &Db, cid: &Cid) -> Result<Vec<audit::Recorded>> {
    Ok(audit::about(db, &cid.subject(), 500)
        .await?
        .into_iter()
        .filter(|e| e.actor.starts_with("staff:") || e.actor.starts_with("client:") || e.flagged)
        .collect())
}
