//! ePIS's domain: facilities, patients, visit codes, access grants and what health workers
//! record. Plain functions over the module's database that take `now`; the web layer only
//! parses requests and renders answers.

use agency_kit::{
    Error, Result,
    audit::{self, Entry},
    db::Db,
    staff::StaffRole,
};
use serde::Serialize;
use sqlx::Row;

/// The role of a health worker; its unit is the facility code.
pub const HEALTH_WORKER: &str = "health_worker";
/// The agency-wide role that grants health workers their roles.
pub const ADMINISTRATOR: &str = "administrator";

/// How long a visit code lives (the patient shows it at the counter).
pub const VISIT_CODE_TTL: i64 = 15 * 60;
/// Wrong codes tried against one patient's live codes before they all stop working.
pub const VISIT_CODE_MAX_FAILURES: i64 = 5;
/// How long a record opened with the patient present stays open to that worker.
pub const GRANT_TTL: i64 = 8 * 3600;
/// How long an emergency access lasts (declare again after that).
pub const EMERGENCY_TTL: i64 = 3600;

/// Longest clinical notes.
pub const MAX_NOTES: usize = 2000;
/// Longest diagnosis text, medicine, dosage, instructions, reason.
pub const MAX_TEXT: usize = 500;
/// Longest name.
pub const MAX_NAME: usize = 200;

// ---- validated values ----

/// A citizen identity number: 11 digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Cid(String);

impl Cid {
    /// Parses a CID (surrounding spaces ignored).
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.len() == 11 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::BadRequest("A CID is 11 digits.".into()))
        }
    }
    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The audit subject for this person's record.
    pub fn subject(&self) -> String {
        format!("patient:{}", self.0)
    }
}

impl std::fmt::Display for Cid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An ICD-10 code: a letter, two digits, optionally a dot and up to four more characters
/// (`J06.9`, `A09`, `O80.0`). Stored upper-case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Icd10(String);

impl Icd10 {
    /// Parses a code.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        let head = b.len() >= 3 && b[0].is_ascii_uppercase() && b[1].is_ascii_digit() && b[2].is_ascii_alphanumeric();
        let tail = match &b.get(3..) {
            None | Some([]) => true,
            Some([b'.', rest @ ..]) => (1..=4).contains(&rest.len()) && rest.iter().all(u8::is_ascii_alphanumeric),
            Some(_) => false,
        };
        if head && tail {
            Ok(Self(s))
        } else {
            Err(Error::BadRequest(
                "An ICD-10 code is a letter, two digits and an optional part after a dot (J06.9).".into(),
            ))
        }
    }
    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks free text: `min..=max` characters (after trimming), no control characters except
/// line breaks and tabs. Returns it trimmed.
pub fn text(field: &str, s: &str, min: usize, max: usize) -> Result<String> {
    let t = s.trim();
    let n = t.chars().count();
    if n < min {
        return Err(Error::BadRequest(format!("{field} must not be empty.")));
    }
    if n > max {
        return Err(Error::BadRequest(format!("{field} is too long: at most {max} characters, not {n}.")));
    }
    if t.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(Error::BadRequest(format!("{field} contains control characters.")));
    }
    Ok(t.to_owned())
}

/// A date `YYYY-MM-DD`, not after `now`.
pub fn past_date(field: &str, s: &str, now: i64) -> Result<String> {
    let f = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(s.trim(), f)
        .map_err(|_| Error::BadRequest(format!("{field} must be a date written YYYY-MM-DD.")))?;
    let today = time::OffsetDateTime::from_unix_timestamp(now).map_err(|e| Error::Internal(e.to_string()))?.date();
    if d > today {
        return Err(Error::BadRequest(format!("{field} is in the future.")));
    }
    d.format(f).map_err(|e| Error::Internal(e.to_string()))
}

// ---- facilities ----

/// A health facility of the programme.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Facility {
    /// Its code (the unit of its health workers' roles).
    pub code: String,
    /// Its name.
    pub name: String,
    /// `hospital`, `bhu1` (Basic Health Unit grade I) or `bhu2`.
    pub kind: String,
    /// The dzongkhag it is in.
    pub dzongkhag: String,
    /// Whether the name is a generated placeholder awaiting the Ministry's master list.
    pub placeholder: bool,
}

/// The programme's 236 facilities as shipped (see the crate docs on placeholder names).
pub const SEED_FACILITIES: &str = include_str!("../data/facilities.csv");

/// The 20 dzongkhags, spelt as the census spells them.
pub const DZONGKHAGS: [&str; 20] = [
    "Bumthang",
    "Chhukha",
    "Dagana",
    "Gasa",
    "Haa",
    "Lhuentse",
    "Mongar",
    "Paro",
    "Pemagatshel",
    "Punakha",
    "Samdrup Jongkhar",
    "Samtse",
    "Sarpang",
    "Thimphu",
    "Trashigang",
    "Trashiyangtse",
    "Trongsa",
    "Tsirang",
    "Wangdue Phodrang",
    "Zhemgang",
];

/// Parses a facility list (CSV with the header `code,name,kind,dzongkhag` and optionally
/// `placeholder`, any order). Every row is checked; all problems are reported with their line
/// numbers, and nothing is returned unless every row is good.
pub fn parse_facilities(csv_text: &[u8]) -> Result<Vec<Facility>> {
    let mut rdr = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(csv_text);
    let headers = rdr.headers().map_err(|e| Error::BadRequest(format!("header: {e}")))?.clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(code), Some(name), Some(kind), Some(dz)) = (col("code"), col("name"), col("kind"), col("dzongkhag"))
    else {
        return Err(Error::BadRequest("the header must name code, name, kind and dzongkhag".into()));
    };
    let placeholder = col("placeholder");
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let get = |c: usize| rec.get(c).unwrap_or("").to_string();
        let f = Facility {
            code: get(code),
            name: get(name),
            kind: get(kind).to_ascii_lowercase(),
            dzongkhag: get(dz),
            placeholder: placeholder.is_some_and(|p| rec.get(p) == Some("1")),
        };
        let mut why = Vec::new();
        if f.code.is_empty() || f.code.len() > 40 || !f.code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            why.push("code must be 1 to 40 letters, digits or dashes".to_string());
        }
        if let Err(e) = text("name", &f.name, 1, MAX_NAME) {
            why.push(e.to_string());
        }
        if !matches!(f.kind.as_str(), "hospital" | "bhu1" | "bhu2") {
            why.push("kind must be hospital, bhu1 or bhu2".into());
        }
        if !DZONGKHAGS.contains(&f.dzongkhag.as_str()) {
            why.push(format!("{:?} is not one of the 20 dzongkhags", f.dzongkhag));
        }
        if !seen.insert(f.code.clone()) {
            why.push(format!("code {} appears twice", f.code));
        }
        if why.is_empty() {
            out.push(f);
        } else {
            problems.push(format!("line {line}: {}", why.join("; ")));
        }
    }
    if !problems.is_empty() {
        return Err(Error::BadRequest(problems.join("\n")));
    }
    if out.is_empty() {
        return Err(Error::BadRequest("the file lists no facility".into()));
    }
    Ok(out)
}

/// Loads the shipped facilities if the table is empty (idempotent: a database that already has
/// facilities, seeded or imported, is left alone). Returns how many were added.
pub async fn seed_facilities(db: &Db, now: i64) -> Result<usize> {
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM facilities").fetch_one(db.pool()).await?.try_get("n")?;
    if n > 0 {
        return Ok(0);
    }
    let list = parse_facilities(SEED_FACILITIES.as_bytes())?;
    let mut tx = db.pool().begin().await?;
    for f in &list {
        sqlx::query(
            "INSERT INTO facilities (code, name, kind, dzongkhag, placeholder, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (code) DO NOTHING",
        )
        .bind(&f.code)
        .bind(&f.name)
        .bind(&f.kind)
        .bind(&f.dzongkhag)
        .bind(i64::from(f.placeholder))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(list.len())
}

/// What an import of the master list did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Facilities new to the database.
    pub added: usize,
    /// Facilities whose name, kind or dzongkhag the file changed (or confirmed a placeholder).
    pub updated: usize,
    /// Placeholder facilities not in the file and never used, removed.
    pub placeholders_removed: usize,
    /// Placeholder facilities not in the file but already used (roles, records), kept.
    pub placeholders_kept: Vec<String>,
}

/// Imports the Ministry's master facility list (all-or-nothing): every row becomes a real
/// (non-placeholder) facility; placeholders the file does not name are removed unless a role
/// or a record already refers to them. Importing the same file again changes nothing.
pub async fn import_facilities(db: &Db, list: &[Facility], actor: &str, now: i64) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    let mut tx = db.pool().begin().await?;
    for f in list {
        let old = sqlx::query("SELECT name, kind, dzongkhag, placeholder FROM facilities WHERE code = $1")
            .bind(&f.code)
            .fetch_optional(&mut *tx)
            .await?;
        match old {
            None => report.added += 1,
            Some(r) => {
                let same = r.try_get::<String, _>("name")? == f.name
                    && r.try_get::<String, _>("kind")? == f.kind
                    && r.try_get::<String, _>("dzongkhag")? == f.dzongkhag
                    && r.try_get::<i64, _>("placeholder")? == 0;
                if same {
                    continue;
                }
                report.updated += 1;
            }
        }
        sqlx::query(
            "INSERT INTO facilities (code, name, kind, dzongkhag, placeholder, updated_at) VALUES ($1, $2, $3, $4, 0, $5) \
             ON CONFLICT (code) DO UPDATE SET name = $2, kind = $3, dzongkhag = $4, placeholder = 0, updated_at = $5",
        )
        .bind(&f.code)
        .bind(&f.name)
        .bind(&f.kind)
        .bind(&f.dzongkhag)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    let codes: std::collections::HashSet<&str> = list.iter().map(|f| f.code.as_str()).collect();
    let placeholders = sqlx::query("SELECT code FROM facilities WHERE placeholder = 1").fetch_all(&mut *tx).await?;
    for r in placeholders {
        let code: String = r.try_get("code")?;
        if codes.contains(code.as_str()) {
            continue;
        }
        let used: i64 = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM staff WHERE unit = $1) + (SELECT COUNT(*) FROM encounters WHERE facility = $1) \
             + (SELECT COUNT(*) FROM access_grants WHERE facility = $1) AS n",
        )
        .bind(&code)
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
        if used > 0 {
            report.placeholders_kept.push(code);
        } else {
            sqlx::query("DELETE FROM facilities WHERE code = $1").bind(&code).execute(&mut *tx).await?;
            report.placeholders_removed += 1;
        }
    }
    tx.commit().await?;
    audit::record(
        db,
        &Entry::new(actor, "facilities_imported", "facilities").detail(serde_json::json!({
            "added": report.added, "updated": report.updated,
            "placeholders_removed": report.placeholders_removed, "placeholders_kept": report.placeholders_kept,
        })),
        now,
    )
    .await?;
    Ok(report)
}

fn facility_row(r: &sqlx::any::AnyRow) -> Result<Facility> {
    Ok(Facility {
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        dzongkhag: r.try_get("dzongkhag")?,
        placeholder: r.try_get::<i64, _>("placeholder")? != 0,
    })
}

/// One facility.
pub async fn facility(db: &Db, code: &str) -> Result<Option<Facility>> {
    let r = sqlx::query("SELECT code, name, kind, dzongkhag, placeholder FROM facilities WHERE code = $1")
        .bind(code)
        .fetch_optional(db.pool())
        .await?;
    r.as_ref().map(facility_row).transpose()
}

/// Every facility, hospitals first.
pub async fn facilities(db: &Db) -> Result<Vec<Facility>> {
    let rows = sqlx::query(
        "SELECT code, name, kind, dzongkhag, placeholder FROM facilities ORDER BY kind DESC, dzongkhag, code",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(facility_row).collect()
}

// ---- patients ----

/// A patient's identity as ePIS holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Patient {
    /// The CID.
    pub cid: String,
    /// The name.
    pub name: String,
    /// Date of birth, when known (newborns registered by citizen services).
    pub date_of_birth: Option<String>,
    /// The mother's CID, when known.
    pub mother_cid: Option<String>,
}

/// The patient with `cid`, if ePIS has a record.
pub async fn patient(db: &Db, cid: &Cid) -> Result<Option<Patient>> {
    let r = sqlx::query("SELECT cid, name, date_of_birth, mother_cid FROM patients WHERE cid = $1")
        .bind(cid.as_str())
        .fetch_optional(db.pool())
        .await?;
    r.map(|r| {
        Ok(Patient {
            cid: r.try_get("cid")?,
            name: r.try_get("name")?,
            date_of_birth: r.try_get("date_of_birth")?,
            mother_cid: r.try_get("mother_cid")?,
        })
    })
    .transpose()
}

/// A newborn's record, as another agency (citizen services, on a registered birth) sends it.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct NewbornIn {
    /// The child's new CID.
    pub cid: String,
    /// The child's name.
    pub name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// The mother's CID.
    #[serde(default)]
    pub mother_cid: Option<String>,
}

/// Creates a newborn's record. Idempotent per CID: the same child sent again answers
/// `Ok(false)` and changes nothing; a different child under the same CID is a conflict.
pub async fn create_newborn(db: &Db, input: &NewbornIn, client_id: &str, now: i64) -> Result<(Patient, bool)> {
    let cid = Cid::parse(&input.cid)?;
    let name = text("name", &input.name, 1, MAX_NAME)?;
    let dob = past_date("date_of_birth", &input.date_of_birth, now)?;
    let mother = match input.mother_cid.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(m) => {
            let m = Cid::parse(m).map_err(|_| Error::BadRequest("mother_cid: a CID is 11 digits.".into()))?;
            if m == cid {
                return Err(Error::BadRequest("mother_cid is the child's own CID.".into()));
            }
            Some(m.0)
        }
        None => None,
    };
    let wanted = Patient { cid: cid.0.clone(), name, date_of_birth: Some(dob), mother_cid: mother };
    if let Some(existing) = patient(db, &cid).await? {
        if existing == wanted {
            return Ok((existing, false));
        }
        return Err(Error::Conflict("ePIS already has a different record under this CID.".into()));
    }
    let done = sqlx::query(
        "INSERT INTO patients (cid, name, date_of_birth, mother_cid, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (cid) DO NOTHING",
    )
    .bind(&wanted.cid)
    .bind(&wanted.name)
    .bind(&wanted.date_of_birth)
    .bind(&wanted.mother_cid)
    .bind(format!("client:{client_id}"))
    .bind(now)
    .execute(db.pool())
    .await?;
    if done.rows_affected() == 0 {
        // A concurrent call created it first: answer as a repeat would.
        return match patient(db, &cid).await? {
            Some(p) if p == wanted => Ok((p, false)),
            _ => Err(Error::Conflict("ePIS already has a different record under this CID.".into())),
        };
    }
    audit::record(
        db,
        &Entry::new(format!("client:{client_id}"), "record_created", cid.subject())
            .detail(serde_json::json!({"reason": "birth registered", "mother_cid": wanted.mother_cid})),
        now,
    )
    .await?;
    Ok((wanted, true))
}

// ---- visit codes and access grants ----

fn hash_code(cid: &Cid, code: &str) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, format!("{}:{code}", cid.0).as_bytes()))
}

/// Issues a visit code for the patient `cid` (logged in as themselves), who shows it to a
/// health worker to open their record. Eight random digits, single use, 15 minutes.
pub async fn issue_visit_code(db: &Db, cid: &Cid, name: &str, now: i64) -> Result<String> {
    let mut b = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
        .map_err(|_| Error::Internal("no randomness".into()))?;
    let code = format!("{:08}", u64::from_be_bytes(b) % 100_000_000);
    let name = text("name", name, 1, MAX_NAME).unwrap_or_else(|_| "(name not released)".into());
    sqlx::query("DELETE FROM visit_codes WHERE expires_at <= $1").bind(now).execute(db.pool()).await?;
    sqlx::query("INSERT INTO visit_codes (code_hash, cid, name, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(hash_code(cid, &code))
        .bind(cid.as_str())
        .bind(&name)
        .bind(now + VISIT_CODE_TTL)
        .execute(db.pool())
        .await?;
    audit::record(db, &Entry::new(format!("citizen:{cid}"), "visit_code_issued", cid.subject()), now).await?;
    Ok(code)
}

/// How a worker asks to open a record.
#[derive(Clone, Debug)]
pub enum Access {
    /// The patient is present and gave their visit code.
    VisitCode(String),
    /// The patient is not present; the worker declares an emergency, with this reason.
    Emergency(String),
}

/// An open record: this worker may see and add to this patient's record at this facility
/// until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Whether it was opened in an emergency.
    pub emergency: bool,
    /// The declared reason (emergencies).
    pub reason: String,
    /// Until when.
    pub expires_at: i64,
}

fn detail(worker: &StaffRole, facility: &Facility, extra: serde_json::Value) -> serde_json::Value {
    let mut d = serde_json::json!({
        "worker_cid": worker.cid, "worker_name": worker.name,
        "facility": facility.code, "facility_name": facility.name,
    });
    if let (Some(d), serde_json::Value::Object(e)) = (d.as_object_mut(), extra) {
        d.extend(e);
    }
    d
}

/// Opens `patient`'s record for `worker` (who holds the health-worker role at `facility`;
/// checked by the caller). With a visit code the patient must be present: the code must be
/// theirs, live and unused (a wrong code counts against all their live codes, which stop
/// working after five). In an emergency a reason is required, and the access is flagged for
/// the patient. Either way it is audited with the facility and the worker.
pub async fn open_record(
    db: &Db,
    worker: &StaffRole,
    facility: &Facility,
    patient_cid: &Cid,
    access: &Access,
    now: i64,
) -> Result<Grant> {
    let actor = format!("staff:{}", worker.cid);
    let grant = match access {
        Access::VisitCode(code) => {
            let code = code.trim();
            if code.len() != 8 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::BadRequest("A visit code is 8 digits.".into()));
            }
            let mut tx = db.pool().begin().await?;
            let row = sqlx::query(
                "SELECT name FROM visit_codes WHERE code_hash = $1 AND cid = $2 AND used = 0 AND expires_at > $3 AND failures < $4",
            )
            .bind(hash_code(patient_cid, code))
            .bind(patient_cid.as_str())
            .bind(now)
            .bind(VISIT_CODE_MAX_FAILURES)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                sqlx::query("UPDATE visit_codes SET failures = failures + 1 WHERE cid = $1 AND used = 0")
                    .bind(patient_cid.as_str())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                audit::record(
                    db,
                    &Entry::new(&actor, "visit_code_refused", patient_cid.subject())
                        .detail(detail(worker, facility, serde_json::json!({})))
                        .flagged(),
                    now,
                )
                .await?;
                return Err(Error::Forbidden(
                    "That visit code is wrong, used or expired. Ask the patient for a new one.".into(),
                ));
            };
            let name: String = row.try_get("name")?;
            sqlx::query("UPDATE visit_codes SET used = 1 WHERE code_hash = $1")
                .bind(hash_code(patient_cid, code))
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO patients (cid, name, created_by, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (cid) DO NOTHING",
            )
            .bind(patient_cid.as_str())
            .bind(&name)
            .bind(&actor)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Grant { emergency: false, reason: String::new(), expires_at: now + GRANT_TTL }
        }
        Access::Emergency(reason) => {
            let reason = text("The reason for emergency access", reason, 1, MAX_TEXT)?;
            if patient(db, patient_cid).await?.is_none() {
                return Err(Error::NotFound("ePIS has no record for this CID.".into()));
            }
            Grant { emergency: true, reason, expires_at: now + EMERGENCY_TTL }
        }
    };
    sqlx::query(
        "INSERT INTO access_grants (worker_cid, patient_cid, facility, emergency, reason, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&worker.cid)
    .bind(patient_cid.as_str())
    .bind(&facility.code)
    .bind(i64::from(grant.emergency))
    .bind(&grant.reason)
    .bind(now)
    .bind(grant.expires_at)
    .execute(db.pool())
    .await?;
    let mut e =
        Entry::new(&actor, if grant.emergency { "emergency_access" } else { "record_opened" }, patient_cid.subject())
            .detail(detail(
                worker,
                facility,
                serde_json::json!({"emergency": grant.emergency, "reason": grant.reason}),
            ));
    if grant.emergency {
        e = e.flagged();
    }
    audit::record(db, &e, now).await?;
    Ok(grant)
}

/// The worker's live grant on this patient at this facility (emergency grants first, so a
/// view under an emergency is flagged as one). Without one, the refusal is audited.
pub async fn require_grant(
    db: &Db,
    worker: &StaffRole,
    facility: &Facility,
    patient_cid: &Cid,
    now: i64,
) -> Result<Grant> {
    let r = sqlx::query(
        "SELECT emergency, reason, expires_at FROM access_grants WHERE worker_cid = $1 AND patient_cid = $2 \
         AND facility = $3 AND expires_at > $4 ORDER BY emergency DESC, expires_at DESC LIMIT 1",
    )
    .bind(&worker.cid)
    .bind(patient_cid.as_str())
    .bind(&facility.code)
    .bind(now)
    .fetch_optional(db.pool())
    .await?;
    match r {
        Some(r) => Ok(Grant {
            emergency: r.try_get::<i64, _>("emergency")? != 0,
            reason: r.try_get("reason")?,
            expires_at: r.try_get("expires_at")?,
        }),
        None => {
            audit::record(
                db,
                &Entry::new(format!("staff:{}", worker.cid), "record_access_refused", patient_cid.subject())
                    .detail(detail(worker, facility, serde_json::json!({})))
                    .flagged(),
                now,
            )
            .await?;
            Err(Error::Forbidden(
                "Open this record first: with the patient's visit code, or by declaring an emergency.".into(),
            ))
        }
    }
}

/// Records that `worker` viewed the record (every view is audited; views under an emergency
/// are flagged).
pub async fn record_view(
    db: &Db,
    worker: &StaffRole,
    facility: &Facility,
    patient_cid: &Cid,
    grant: &Grant,
    now: i64,
) -> Result<()> {
    let mut e = Entry::new(format!("staff:{}", worker.cid), "record_viewed", patient_cid.subject()).detail(detail(
        worker,
        facility,
        serde_json::json!({"emergency": grant.emergency, "reason": grant.reason}),
    ));
    if grant.emergency {
        e = e.flagged();
    }
    audit::record(db, &e, now).await
}

// ---- encounters ----

/// What a health worker records at a visit.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct EncounterIn {
    /// Clinical notes (may be empty).
    #[serde(default)]
    pub notes: String,
    /// ICD-10 code of the diagnosis.
    #[serde(default)]
    pub icd10: String,
    /// The diagnosis in words.
    #[serde(default)]
    pub diagnosis: String,
    /// A medicine prescribed (may be empty: none).
    #[serde(default)]
    pub medicine: String,
    /// Its dosage (required with a medicine).
    #[serde(default)]
    pub dosage: String,
    /// Instructions for the patient.
    #[serde(default)]
    pub instructions: String,
}

/// Records an encounter with its diagnosis and prescription, all or nothing. The caller has
/// checked the role and the grant.
pub async fn record_encounter(
    db: &Db,
    worker: &StaffRole,
    facility: &Facility,
    patient_cid: &Cid,
    grant: &Grant,
    input: &EncounterIn,
    now: i64,
) -> Result<i64> {
    let notes = text("Notes", &input.notes, 0, MAX_NOTES)?;
    let icd = Icd10::parse(&input.icd10)?;
    let diagnosis = text("The diagnosis", &input.diagnosis, 1, MAX_TEXT)?;
    let medicine = text("Medicine", &input.medicine, 0, MAX_TEXT)?;
    let (dosage, instructions) = if medicine.is_empty() {
        (String::new(), String::new())
    } else {
        (text("Dosage", &input.dosage, 1, MAX_TEXT)?, text("Instructions", &input.instructions, 0, MAX_TEXT)?)
    };
    let mut tx = db.pool().begin().await?;
    let id: i64 = sqlx::query(
        "INSERT INTO encounters (patient_cid, facility, worker_cid, worker_name, at, notes, emergency) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(patient_cid.as_str())
    .bind(&facility.code)
    .bind(&worker.cid)
    .bind(&worker.name)
    .bind(now)
    .bind(&notes)
    .bind(i64::from(grant.emergency))
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    sqlx::query("INSERT INTO diagnoses (encounter_id, icd10, description) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(icd.as_str())
        .bind(&diagnosis)
        .execute(&mut *tx)
        .await?;
    if !medicine.is_empty() {
        sqlx::query("INSERT INTO prescriptions (encounter_id, medicine, dosage, instructions) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(&medicine)
            .bind(&dosage)
            .bind(&instructions)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    let mut e = Entry::new(format!("staff:{}", worker.cid), "encounter_recorded", patient_cid.subject())
        .detail(detail(worker, facility, serde_json::json!({"encounter": id, "emergency": grant.emergency})));
    if grant.emergency {
        e = e.flagged();
    }
    audit::record(db, &e, now).await?;
    Ok(id)
}

/// One encounter with what was recorded at it.
#[derive(Clone, Debug, Serialize)]
pub struct Encounter {
    /// Its id.
    pub id: i64,
    /// When.
    pub at: i64,
    /// Facility code and name.
    pub facility: String,
    /// The facility's name.
    pub facility_name: String,
    /// Who recorded it.
    pub worker_name: String,
    /// Notes.
    pub notes: String,
    /// Recorded under emergency access.
    pub emergency: bool,
    /// (ICD-10 code, text).
    pub diagnoses: Vec<(String, String)>,
    /// (medicine, dosage, instructions).
    pub prescriptions: Vec<(String, String, String)>,
}

/// The patient's encounters, newest first (at most 200).
pub async fn encounters(db: &Db, patient_cid: &Cid) -> Result<Vec<Encounter>> {
    let rows = sqlx::query(
        "SELECT e.id, e.at, e.facility, f.name AS facility_name, e.worker_name, e.notes, e.emergency \
         FROM encounters e JOIN facilities f ON f.code = e.facility WHERE e.patient_cid = $1 ORDER BY e.at DESC, e.id DESC LIMIT 200",
    )
    .bind(patient_cid.as_str())
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id: i64 = r.try_get("id")?;
        let diagnoses = sqlx::query("SELECT icd10, description FROM diagnoses WHERE encounter_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(db.pool())
            .await?
            .iter()
            .map(|d| Ok((d.try_get("icd10")?, d.try_get("description")?)))
            .collect::<Result<Vec<_>>>()?;
        let prescriptions =
            sqlx::query("SELECT medicine, dosage, instructions FROM prescriptions WHERE encounter_id = $1 ORDER BY id")
                .bind(id)
                .fetch_all(db.pool())
                .await?
                .iter()
                .map(|d| Ok((d.try_get("medicine")?, d.try_get("dosage")?, d.try_get("instructions")?)))
                .collect::<Result<Vec<_>>>()?;
        out.push(Encounter {
            id,
            at: r.try_get("at")?,
            facility: r.try_get("facility")?,
            facility_name: r.try_get("facility_name")?,
            worker_name: r.try_get("worker_name")?,
            notes: r.try_get("notes")?,
            emergency: r.try_get::<i64, _>("emergency")? != 0,
            diagnoses,
            prescriptions,
        })
    }
    Ok(out)
}

/// Who looked at (or tried to look at, or added to) the patient's record, newest first: the
/// patient's access log, from the audit log.
pub async fn access_log(db: &Db, patient_cid: &Cid) -> Result<Vec<audit::Recorded>> {
    Ok(audit::about(db, &patient_cid.subject(), 500)
        .await?
        .into_iter()
        .filter(|e| e.actor.starts_with("staff:") || e.actor.starts_with("client:") || e.flagged)
        .collect())
}

/// Every staff role, for the administrator's page.
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

/// Gives `cid` the health-worker role at `facility` (which must exist) or, without a
/// facility, the administrator role.
pub async fn add_staff(
    db: &Db,
    cid: &str,
    facility_code: Option<&str>,
    name: &str,
    added_by: &str,
    now: i64,
) -> Result<StaffRole> {
    let cid = Cid::parse(cid)?;
    let name = text("Name", name, 1, MAX_NAME)?;
    let role = match facility_code.map(str::trim).filter(|f| !f.is_empty()) {
        Some(code) => {
            let f = facility(db, code)
                .await?
                .ok_or_else(|| Error::NotFound(format!("There is no facility with the code {code:?}.")))?;
            StaffRole { cid: cid.0, role: HEALTH_WORKER.into(), unit: f.code, name }
        }
        None => StaffRole { cid: cid.0, role: ADMINISTRATOR.into(), unit: String::new(), name },
    };
    agency_kit::staff::grant(db, &role, added_by, now).await?;
    Ok(role)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_validate_on_construction() {
        assert!(Cid::parse("10101001234").is_ok());
        for bad in ["", "1010100123", "101010012345", "1010100123a", "１０１０１００１２３４"] {
            assert!(Cid::parse(bad).is_err(), "{bad}");
        }
        for good in ["J06.9", "a09", "O80.0", "S72.001A"] {
            assert!(Icd10::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "J6", "06.9", "J06.", "J06.12345", "J06-9", "J06.9;DROP"] {
            assert!(Icd10::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Icd10::parse(" j06.9 ").unwrap().as_str(), "J06.9");
        assert!(text("x", "  ", 1, 10).is_err());
        assert!(text("x", &"a".repeat(11), 1, 10).is_err());
        assert!(text("x", "a\u{0}b", 1, 10).is_err());
        assert_eq!(text("x", " a\nb ", 1, 10).unwrap(), "a\nb");
        let now = 1_700_000_000; // 2023-11-14
        assert_eq!(past_date("d", "2023-11-14", now).unwrap(), "2023-11-14");
        assert!(past_date("d", "2023-11-15", now).is_err());
        assert!(past_date("d", "2023-02-30", now).is_err());
    }

    #[test]
    fn the_shipped_list_has_the_programmes_236_facilities() {
        let list = parse_facilities(SEED_FACILITIES.as_bytes()).unwrap();
        assert_eq!(list.len(), 236);
        let count = |k: &str| list.iter().filter(|f| f.kind == k).count();
        assert_eq!((count("hospital"), count("bhu1"), count("bhu2")), (27, 23, 186));
        assert!(list.iter().filter(|f| f.kind == "hospital").all(|f| !f.placeholder));
        assert!(
            list.iter().filter(|f| f.kind != "hospital").all(|f| f.placeholder && f.name.starts_with("[placeholder]"))
        );
        assert!(list.iter().any(|f| f.code == "JDWNRH"));
        for dz in DZONGKHAGS {
            assert!(list.iter().any(|f| f.dzongkhag == dz), "{dz} has a facility");
        }
    }

    #[test]
    fn a_bad_master_list_is_refused_whole_with_line_numbers() {
        let csv = "code,name,kind,dzongkhag\nBHU2-X,Good BHU,bhu2,Paro\nBHU2-Y,,bhu2,Paro\nBHU2-Z,Z,clinic,Narnia\nBHU2-X,Again,bhu2,Paro\n";
        let e = parse_facilities(csv.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("line 4") && e.contains("line 5") && !e.contains("line 2"), "{e}");
        assert!(parse_facilities(b"code,name\nA,B\n").is_err());
        assert!(parse_facilities(b"code,name,kind,dzongkhag\n").is_err());
    }
}
