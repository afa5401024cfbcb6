//! The civil registry: persons as exported by the census system, and the CSV import format.
//!
//! The CSV has a header row naming these columns (any order, all required):
//!
//! | column | content |
//! |---|---|
//! | `cid` | Citizenship ID, 11 digits |
//! | `given_name` | first name (required) |
//! | `middle_name` | may be empty |
//! | `family_name` | may be empty (many Bhutanese names have none) |
//! | `date_of_birth` | `YYYY-MM-DD`, not in the future |
//! | `sex` | `M`, `F` or `X` |
//! | `dzongkhag` | one of the 20 dzongkhags |
//! | `gewog` | required |
//! | `village` | required |
//! | `household_number` | required |
//! | `status` | `alive` or `deceased` |
//!
//! Parsing checks every row and reports every bad one with its line number; nothing is written
//! unless the whole file is good.

use std::collections::HashMap;

use serde::Serialize;
use time::{Date, macros::format_description};

use super::cid::Cid;

/// The columns, in the documented order.
pub const COLUMNS: [&str; 11] = [
    "cid",
    "given_name",
    "middle_name",
    "family_name",
    "date_of_birth",
    "sex",
    "dzongkhag",
    "gewog",
    "village",
    "household_number",
    "status",
];

/// The 20 dzongkhags, as written in the census.
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

/// Common alternative spellings, mapped to the census spelling.
const DZONGKHAG_ALIASES: [(&str, &str); 6] = [
    ("chukha", "Chhukha"),
    ("pema gatshel", "Pemagatshel"),
    ("trashi yangtse", "Trashiyangtse"),
    ("wangdi phodrang", "Wangdue Phodrang"),
    ("lhuntse", "Lhuentse"),
    ("monggar", "Mongar"),
];

/// A person's record in the civil registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Person {
    /// Citizenship ID.
    pub cid: Cid,
    /// Given name.
    pub given_name: String,
    /// Middle name, possibly empty.
    pub middle_name: String,
    /// Family name, possibly empty.
    pub family_name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// `M`, `F` or `X`.
    pub sex: String,
    /// Dzongkhag (district).
    pub dzongkhag: String,
    /// Gewog (block).
    pub gewog: String,
    /// Village.
    pub village: String,
    /// Household number.
    pub household_number: String,
    /// `alive` or `deceased`.
    pub status: String,
}

impl Person {
    /// The full name as shown on pages and in the `name` claim.
    pub fn full_name(&self) -> String {
        [&self.given_name, &self.middle_name, &self.family_name]
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// True when the registry records the person as alive.
    pub fn is_alive(&self) -> bool {
        self.status == "alive"
    }
}

/// One bad row: its line in the file (1 is the header) and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// Line number in the file.
    pub line: u64,
    /// What is wrong.
    pub reason: String,
}

/// Reads a whole registry CSV. `today` bounds dates of birth. Returns every person, or every
/// problem found (capped at `max_errors`).
pub fn parse_csv<R: std::io::Read>(input: R, today: Date, max_errors: usize) -> Result<Vec<Person>, Vec<RowError>> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(input);
    let headers = match rdr.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return Err(vec![RowError { line: 1, reason: format!("cannot read the header: {e}") }]);
        }
    };
    let mut idx = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        if idx.insert(h.to_ascii_lowercase(), i).is_some() {
            return Err(vec![RowError { line: 1, reason: format!("column {h:?} appears twice") }]);
        }
    }
    let missing: Vec<&str> = COLUMNS.iter().copied().filter(|c| !idx.contains_key(*c)).collect();
    if !missing.is_empty() {
        return Err(vec![RowError { line: 1, reason: format!("missing columns: {}", missing.join(", ")) }]);
    }
    let unknown: Vec<&str> = headers.iter().filter(|h| !COLUMNS.contains(&h.to_ascii_lowercase().as_str())).collect();
    if !unknown.is_empty() {
        return Err(vec![RowError { line: 1, reason: format!("unknown columns: {}", unknown.join(", ")) }]);
    }

    let mut people = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for rec in rdr.records() {
        if errors.len() >= max_errors {
            break;
        }
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(RowError { line, reason: format!("malformed CSV: {e}") });
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line());
        let get = |c: &str| idx.get(c).and_then(|&i| rec.get(i)).unwrap_or("").to_string();
        match parse_row(&get, today) {
            Ok(p) => {
                if let Some(first) = seen.insert(p.cid.as_str().to_string(), line) {
                    errors.push(RowError { line, reason: format!("CID {} already appears on line {first}", p.cid) });
                } else {
                    people.push(p);
                }
            }
            Err(reason) => errors.push(RowError { line, reason }),
        }
    }
    if errors.is_empty() { Ok(people) } else { Err(errors) }
}

pub(crate) fn parse_row(get: &dyn Fn(&str) -> String, today: Date) -> Result<Person, String> {
    let cid = Cid::parse(&get("cid")).map_err(|e| format!("cid: {e}"))?;
    let text = |c: &str, required: bool| -> Result<String, String> {
        let v = get(c);
        if required && v.is_empty() {
            return Err(format!("{c} is empty"));
        }
        if v.chars().count() > 100 {
            return Err(format!("{c} is longer than 100 characters"));
        }
        if v.chars().any(char::is_control) {
            return Err(format!("{c} contains control characters"));
        }
        Ok(v)
    };
    let given_name = text("given_name", true)?;
    let middle_name = text("middle_name", false)?;
    let family_name = text("family_name", false)?;
    let dob_s = get("date_of_birth");
    let dob = Date::parse(&dob_s, format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("date_of_birth {dob_s:?} is not a YYYY-MM-DD date"))?;
    if dob > today {
        return Err(format!("date_of_birth {dob_s} is in the future"));
    }
    if dob.year() < 1880 {
        return Err(format!("date_of_birth {dob_s} is implausibly early"));
    }
    let sex = match get("sex").to_ascii_uppercase().as_str() {
        s @ ("M" | "F" | "X") => s.to_string(),
        other => return Err(format!("sex {other:?} must be M, F or X")),
    };
    let dz_in = get("dzongkhag");
    let dzongkhag =
        canonical_dzongkhag(&dz_in).ok_or_else(|| format!("dzongkhag {dz_in:?} is not one of the 20 dzongkhags"))?;
    let status = match get("status").to_ascii_lowercase().as_str() {
        s @ ("alive" | "deceased") => s.to_string(),
        other => return Err(format!("status {other:?} must be alive or deceased")),
    };
    Ok(Person {
        cid,
        given_name,
        middle_name,
        family_name,
        date_of_birth: dob_s,
        sex,
        dzongkhag: dzongkhag.to_string(),
        gewog: text("gewog", true)?,
        village: text("village", true)?,
        household_number: text("household_number", true)?,
        status,
    })
}

/// The census spelling of a dzongkhag name, accepting case differences and common variants.
pub fn canonical_dzongkhag(s: &str) -> Option<&'static str> {
    let lower = s.trim().to_lowercase();
    DZONGKHAGS
        .iter()
        .copied()
        .find(|d| d.to_lowercase() == lower)
        .or_else(|| DZONGKHAG_ALIASES.iter().find(|(a, _)| *a == lower).map(|(_, d)| *d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const HEADER: &str =
        "cid,given_name,middle_name,family_name,date_of_birth,sex,dzongkhag,gewog,village,household_number,status\n";

    #[test]
    fn good_file_parses() {
        let csv = format!(
            "{HEADER}10101001234,Karma,,Wangchuk,1990-04-01,M,Thimphu,Chang,Motithang,HH-12,alive\n11512000123,Pema,Choden,,1985-12-31,f,pema gatshel,Shumar,Pemagatshel,7,deceased\n"
        );
        let p = parse_csv(csv.as_bytes(), date!(2026 - 11 - 28), 100).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].full_name(), "Karma Wangchuk");
        assert_eq!(p[1].dzongkhag, "Pemagatshel");
        assert_eq!(p[1].sex, "F");
        assert!(!p[1].is_alive());
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let csv = format!(
            "{HEADER}10101001234,Karma,,Wangchuk,1990-04-01,M,Thimphu,Chang,Motithang,HH-12,alive\n\
             123,Dorji,,,1990-01-01,M,Paro,Lungnyi,Jiwna,1,alive\n\
             10101001235,,,,1990-01-01,M,Paro,Lungnyi,Jiwna,1,alive\n\
             10101001236,Sonam,,,2030-01-01,M,Paro,Lungnyi,Jiwna,1,alive\n\
             10101001237,Sonam,,,1990-01-01,Q,Atlantis,Lungnyi,Jiwna,1,alive\n\
             10101001234,Karma,,Wangchuk,1990-04-01,M,Thimphu,Chang,Motithang,HH-12,alive\n"
        );
        let errs = parse_csv(csv.as_bytes(), date!(2026 - 11 - 28), 100).unwrap_err();
        let lines: Vec<u64> = errs.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6, 7], "{errs:?}");
        assert!(errs[0].reason.contains("cid"));
        assert!(errs[1].reason.contains("given_name"));
        assert!(errs[2].reason.contains("future"));
        assert!(errs[3].reason.contains("sex"));
        assert!(errs[4].reason.contains("line 2"));
    }

    #[test]
    fn header_problems_are_reported() {
        let errs = parse_csv("cid,given_name\n".as_bytes(), date!(2026 - 11 - 28), 100).unwrap_err();
        assert!(errs[0].reason.contains("missing columns"));
        let errs = parse_csv(format!("{},extra\n", HEADER.trim()).as_bytes(), date!(2026 - 11 - 28), 100).unwrap_err();
        assert!(errs[0].reason.contains("unknown columns"));
    }
}
