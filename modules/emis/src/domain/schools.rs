//! Schools: the shipped seed list, the Ministry's list imported all-or-nothing, look-ups.

use agency_kit::{
    Error, Result,
    audit::{self, Entry},
    db::Db,
};
use serde::Serialize;
use sqlx::Row;

use super::values::{DZONGKHAGS, Level, MAX_NAME, school_code, text};

/// A school.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct School {
    /// Its code (the unit of its teachers' and principal's roles).
    pub code: String,
    /// Its name.
    pub name: String,
    /// The dzongkhag it is in.
    pub dzongkhag: String,
    /// Its level, which fixes the classes it enrols.
    pub level: Level,
    /// From the shipped seed list, not yet confirmed by an import of the Ministry's list.
    pub provisional: bool,
}

/// The shipped seed list: a few well-known schools, one or more in most dzongkhags, so that a
/// new installation can be tried at once. **Codes are ours and names are as publicly known, to be
/// checked**: every row is `provisional` until `emis schools import` loads the Ministry's list.
pub const SEED_SCHOOLS: &str = include_str!("../../data/schools.csv");

/// Parses a school list (CSV with the header `code,name,dzongkhag,level` and optionally
/// `provisional`, any order). Every row is checked; all problems are reported with their line
/// numbers, and nothing is returned unless every row is good.
pub fn parse_schools(csv_text: &[u8]) -> Result<Vec<School>> {
    let mut rdr = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(csv_text);
    let headers = rdr.headers().map_err(|e| Error::BadRequest(format!("header: {e}")))?.clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(code), Some(name), Some(dz), Some(level)) = (col("code"), col("name"), col("dzongkhag"), col("level"))
    else {
        return Err(Error::BadRequest("the header must name code, name, dzongkhag and level".into()));
    };
    let provisional = col("provisional");
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
        let get = |c: usize| rec.get(c).unwrap_or("");
        let mut why = Vec::new();
        let code = school_code(get(code)).map_err(|e| why.push(e.to_string())).unwrap_or_default();
        let name = text("name", get(name), 1, MAX_NAME).map_err(|e| why.push(e.to_string())).ok();
        let level = Level::parse(get(level)).map_err(|e| why.push(e.to_string())).ok();
        let dzongkhag = get(dz).to_owned();
        if !DZONGKHAGS.contains(&dzongkhag.as_str()) {
            why.push(format!("{dzongkhag:?} is not one of the 20 dzongkhags"));
        }
        if !code.is_empty() && !seen.insert(code.clone()) {
            why.push(format!("code {code} appears twice"));
        }
        match (name, level) {
            (Some(name), Some(level)) if why.is_empty() => out.push(School {
                code,
                name,
                dzongkhag,
                level,
                provisional: provisional.is_some_and(|p| rec.get(p) == Some("1")),
            }),
            _ => problems.push(format!("line {line}: {}", why.join("; "))),
        }
    }
    if !problems.is_empty() {
        return Err(Error::BadRequest(problems.join("\n")));
    }
    if out.is_empty() {
        return Err(Error::BadRequest("the file lists no school".into()));
    }
    Ok(out)
}

/// Loads the shipped schools if the table is empty (a database that already has schools,
/// seeded or imported, is left alone). Returns how many were added.
pub async fn seed_schools(db: &Db, now: i64) -> Result<usize> {
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM schools").fetch_one(db.pool()).await?.try_get("n")?;
    if n > 0 {
        return Ok(0);
    }
    let list = parse_schools(SEED_SCHOOLS.as_bytes())?;
    let mut tx = db.pool().begin().await?;
    for s in &list {
        sqlx::query(
            "INSERT INTO schools (code, name, dzongkhag, level, provisional, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (code) DO NOTHING",
        )
        .bind(&s.code)
        .bind(&s.name)
        .bind(&s.dzongkhag)
        .bind(s.level.as_str())
        .bind(i64::from(s.provisional))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(list.len())
}

/// What an import of the Ministry's list did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Schools new to the database.
    pub added: usize,
    /// Schools whose name, dzongkhag or level the file changed (or confirmed a provisional one).
    pub updated: usize,
    /// Provisional schools not in the file and never used, removed.
    pub provisional_removed: usize,
    /// Provisional schools not in the file but already used (roles, enrolments), kept.
    pub provisional_kept: Vec<String>,
}

/// Imports the Ministry's school list in one transaction: every row becomes a confirmed school;
/// provisional schools the file does not name are removed unless a role or an enrolment refers
/// to them. Importing the same file again changes nothing.
pub async fn import_schools(db: &Db, list: &[School], actor: &str, now: i64) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    let mut tx = db.pool().begin().await?;
    for s in list {
        let old = sqlx::query("SELECT name, dzongkhag, level, provisional FROM schools WHERE code = $1")
            .bind(&s.code)
            .fetch_optional(&mut *tx)
            .await?;
        match old {
            None => report.added += 1,
            Some(r) => {
                let same = r.try_get::<String, _>("name")? == s.name
                    && r.try_get::<String, _>("dzongkhag")? == s.dzongkhag
                    && r.try_get::<String, _>("level")? == s.level.as_str()
                    && r.try_get::<i64, _>("provisional")? == 0;
                if same {
                    continue;
                }
                report.updated += 1;
            }
        }
        sqlx::query(
            "INSERT INTO schools (code, name, dzongkhag, level, provisional, updated_at) VALUES ($1, $2, $3, $4, 0, $5) \
             ON CONFLICT (code) DO UPDATE SET name = $2, dzongkhag = $3, level = $4, provisional = 0, updated_at = $5",
        )
        .bind(&s.code)
        .bind(&s.name)
        .bind(&s.dzongkhag)
        .bind(s.level.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    let codes: std::collections::HashSet<&str> = list.iter().map(|s| s.code.as_str()).collect();
    let provisional = sqlx::query("SELECT code FROM schools WHERE provisional = 1").fetch_all(&mut *tx).await?;
    for r in provisional {
        let code: String = r.try_get("code")?;
        if codes.contains(code.as_str()) {
            continue;
        }
        let used: i64 = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM staff WHERE unit = $1) + (SELECT COUNT(*) FROM enrolments WHERE school = $1) AS n",
        )
        .bind(&code)
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
        if used > 0 {
            report.provisional_kept.push(code);
        } else {
            sqlx::query("DELETE FROM schools WHERE code = $1").bind(&code).execute(&mut *tx).await?;
            report.provisional_removed += 1;
        }
    }
    tx.commit().await?;
    audit::record(
        db,
        &Entry::new(actor, "schools_imported", "schools").detail(serde_json::json!({
            "added": report.added, "updated": report.updated,
            "provisional_removed": report.provisional_removed, "provisional_kept": report.provisional_kept,
        })),
        now,
    )
    .await?;
    Ok(report)
}

fn school_row(r: &sqlx::any::AnyRow) -> Result<School> {
    Ok(School {
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        dzongkhag: r.try_get("dzongkhag")?,
        level: Level::parse(&r.try_get::<String, _>("level")?)?,
        provisional: r.try_get::<i64, _>("provisional")? != 0,
    })
}

/// One school.
pub async fn school(db: &Db, code: &str) -> Result<Option<School>> {
    let r = sqlx::query("SELECT code, name, dzongkhag, level, provisional FROM schools WHERE code = $1")
        .bind(code)
        .fetch_optional(db.pool())
        .await?;
    r.as_ref().map(school_row).transpose()
}

/// Every school, by dzongkhag and name.
pub async fn schools(db: &Db) -> Result<Vec<School>> {
    let rows = sqlx::query("SELECT code, name, dzongkhag, level, provisional FROM schools ORDER BY dzongkhag, name")
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(school_row).collect()
}
