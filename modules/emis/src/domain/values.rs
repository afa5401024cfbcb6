//! Validated values: each is built by a `parse` that says clearly what is wrong, so nothing
//! unchecked reaches the database. Pure functions; the clock is a parameter.

use agency_kit::{Error, Result};
use serde::Serialize;

/// Bhutan Time is UTC+06:00 all year: the academic year turns at local midnight on 1 January.
const BHUTAN_OFFSET_SECONDS: i64 = 6 * 3600;

/// Longest name (student, school, staff).
pub const MAX_NAME: usize = 200;

/// The calendar date in Bhutan at `now`.
pub fn bhutan_date(now: i64) -> Result<time::Date> {
    time::OffsetDateTime::from_unix_timestamp(now + BHUTAN_OFFSET_SECONDS)
        .map(|t| t.date())
        .map_err(|e| Error::Internal(e.to_string()))
}

/// The academic year running at `now`: Bhutan's school year is the calendar year (February
/// to December).
pub fn current_year(now: i64) -> Result<AcademicYear> {
    Ok(AcademicYear(i64::from(bhutan_date(now)?.year())))
}

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
    /// The audit subject for this person's student record: what the student and their
    /// guardians read as "who looked at or changed the record".
    pub fn subject(&self) -> String {
        format!("student:{}", self.0)
    }
}

impl std::fmt::Display for Cid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks free text: `min..=max` characters (after trimming), no control characters. Returns
/// it trimmed.
pub fn text(field: &str, s: &str, min: usize, max: usize) -> Result<String> {
    let t = s.trim();
    let n = t.chars().count();
    if n < min {
        return Err(Error::BadRequest(format!("{field} must not be empty.")));
    }
    if n > max {
        return Err(Error::BadRequest(format!("{field} is too long: at most {max} characters, not {n}.")));
    }
    if t.chars().any(char::is_control) {
        return Err(Error::BadRequest(format!("{field} contains control characters.")));
    }
    Ok(t.to_owned())
}

/// A date `YYYY-MM-DD`, not after today in Bhutan.
pub fn past_date(field: &str, s: &str, now: i64) -> Result<String> {
    let f = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(s.trim(), f)
        .map_err(|_| Error::BadRequest(format!("{field} must be a date written YYYY-MM-DD.")))?;
    if d > bhutan_date(now)? {
        return Err(Error::BadRequest(format!("{field} is in the future.")));
    }
    d.format(f).map_err(|e| Error::Internal(e.to_string()))
}

/// The kind of school, which fixes the classes it may enrol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Primary school: PP to Class VI.
    Primary,
    /// Lower secondary school: PP to Class VIII.
    LowerSecondary,
    /// Middle secondary school: PP to Class X.
    MiddleSecondary,
    /// Higher secondary school: Class VII to XII (most teach IX to XII; some still VII and VIII).
    HigherSecondary,
    /// Central school: PP to Class XII on one campus, boarding.
    Central,
}

impl Level {
    /// Every level.
    pub const ALL: [Level; 5] =
        [Self::Primary, Self::LowerSecondary, Self::MiddleSecondary, Self::HigherSecondary, Self::Central];

    /// Parses the stored name (`primary`, `lower_secondary`, `middle_secondary`,
    /// `higher_secondary`, `central`).
    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s.trim()).ok_or_else(|| {
            Error::BadRequest(
                "level must be primary, lower_secondary, middle_secondary, higher_secondary or central".into(),
            )
        })
    }
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::LowerSecondary => "lower_secondary",
            Self::MiddleSecondary => "middle_secondary",
            Self::HigherSecondary => "higher_secondary",
            Self::Central => "central",
        }
    }
    /// What people call it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Primary => "Primary School",
            Self::LowerSecondary => "Lower Secondary School",
            Self::MiddleSecondary => "Middle Secondary School",
            Self::HigherSecondary => "Higher Secondary School",
            Self::Central => "Central School",
        }
    }
    /// The lowest and highest class it enrols (0 is PP).
    pub fn classes(self) -> (u8, u8) {
        match self {
            Self::Primary => (0, 6),
            Self::LowerSecondary => (0, 8),
            Self::MiddleSecondary => (0, 10),
            Self::HigherSecondary => (7, 12),
            Self::Central => (0, 12),
        }
    }
}

/// A class (grade): PP (pre-primary, stored as 0) or Class I to XII.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Class(u8);

impl Class {
    /// Parses `PP` or a number from 1 to 12.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("PP") || s == "0" {
            return Ok(Self(0));
        }
        match s.parse::<u8>() {
            Ok(n @ 1..=12) if !s.starts_with('+') && !s.starts_with('0') => Ok(Self(n)),
            _ => Err(Error::BadRequest("A class is PP or a number from 1 to 12.".into())),
        }
    }
    /// From the stored number.
    pub fn from_stored(n: i64) -> Result<Self> {
        u8::try_from(n).ok().filter(|n| *n <= 12).map(Self).ok_or_else(|| Error::Internal(format!("class {n}")))
    }
    /// Checks that `school`'s level enrols this class.
    pub fn offered_by(self, level: Level) -> Result<Self> {
        let (lo, hi) = level.classes();
        if (lo..=hi).contains(&self.0) {
            Ok(self)
        } else {
            Err(Error::BadRequest(format!(
                "A {} teaches {} to {}, not {}.",
                level.label(),
                Self(lo).label(),
                Self(hi).label(),
                self.label()
            )))
        }
    }
    /// 0 for PP, else the class number.
    pub fn number(self) -> u8 {
        self.0
    }
    /// `PP` or `Class 7`.
    pub fn label(self) -> String {
        if self.0 == 0 { "PP".into() } else { format!("Class {}", self.0) }
    }
}

/// An academic year (the calendar year in Bhutan).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct AcademicYear(i64);

impl AcademicYear {
    /// Parses a year for new records: the running year, the one before (late entries) or the
    /// next (enrolment for the coming year opens in the winter break).
    pub fn parse(s: &str, now: i64) -> Result<Self> {
        let this = current_year(now)?.0;
        match s.trim().parse::<i64>() {
            Ok(y) if (this - 1..=this + 1).contains(&y) => Ok(Self(y)),
            _ => Err(Error::BadRequest(format!("The academic year must be {}, {} or {}.", this - 1, this, this + 1))),
        }
    }
    /// From the stored number.
    pub fn from_stored(y: i64) -> Self {
        Self(y)
    }
    /// The year.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for AcademicYear {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A term of the academic year: schools in Bhutan examine twice a year.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Term {
    /// The first term, ending with the mid-year examination.
    Term1,
    /// The second term, ending with the annual examination.
    Term2,
}

impl Term {
    /// Both, in order.
    pub const ALL: [Term; 2] = [Self::Term1, Self::Term2];

    /// Parses `term1` or `term2`.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim() {
            "term1" => Ok(Self::Term1),
            "term2" => Ok(Self::Term2),
            _ => Err(Error::BadRequest("The term must be term1 (mid-year) or term2 (annual).".into())),
        }
    }
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Term1 => "term1",
            Self::Term2 => "term2",
        }
    }
    /// What report cards say.
    pub fn label(self) -> &'static str {
        match self {
            Self::Term1 => "Term 1 (mid-year examination)",
            Self::Term2 => "Term 2 (annual examination)",
        }
    }
}

/// The subjects marks are recorded in: (code, name, first class, last class), 0 being PP.
///
/// After the national curriculum's subject list as we know it (Dzongkha, English and
/// Mathematics throughout; Environmental Studies to Class III; Science and Social Studies in
/// the middle years; the sciences, History, Geography and Economics from Class IX; Commerce and
/// Accountancy from Class XI). **To be checked against the curriculum framework** before
/// production; a change is one row here.
pub const SUBJECTS: &[(&str, &str, u8, u8)] = &[
    ("DZO", "Dzongkha", 0, 12),
    ("ENG", "English", 0, 12),
    ("MAT", "Mathematics", 0, 12),
    ("EVS", "Environmental Studies", 0, 3),
    ("SCI", "Science", 4, 8),
    ("SST", "Social Studies", 4, 6),
    ("HIS", "History and Civics", 7, 12),
    ("GEO", "Geography", 7, 12),
    ("PHY", "Physics", 9, 12),
    ("CHE", "Chemistry", 9, 12),
    ("BIO", "Biology", 9, 12),
    ("ECO", "Economics", 9, 12),
    ("ICT", "Information and Communication Technology", 7, 12),
    ("AGF", "Agriculture and Food Security", 9, 10),
    ("COM", "Commerce", 11, 12),
    ("ACC", "Accountancy", 11, 12),
    ("HPE", "Health and Physical Education", 0, 10),
];

/// A subject taught in a given class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Subject {
    /// Its code (`MAT`).
    pub code: &'static str,
    /// Its name.
    pub name: &'static str,
}

impl Subject {
    /// Parses a subject code and checks that it is taught in `class`.
    pub fn parse(code: &str, class: Class) -> Result<Self> {
        let code = code.trim().to_ascii_uppercase();
        let Some(&(code, name, lo, hi)) = SUBJECTS.iter().find(|s| s.0 == code) else {
            return Err(Error::BadRequest(format!(
                "There is no subject with that code; the codes are {}.",
                SUBJECTS.iter().map(|s| s.0).collect::<Vec<_>>().join(", ")
            )));
        };
        if !(lo..=hi).contains(&class.number()) {
            return Err(Error::BadRequest(format!("{name} is not taught in {}.", class.label())));
        }
        Ok(Self { code, name })
    }
    /// The subjects taught in `class`.
    pub fn taught_in(class: Class) -> Vec<Self> {
        SUBJECTS
            .iter()
            .filter(|s| (s.2..=s.3).contains(&class.number()))
            .map(|&(code, name, _, _)| Self { code, name })
            .collect()
    }
    /// A stored code's name (the code itself for one no longer in the list).
    pub fn name_of(code: &str) -> &str {
        SUBJECTS.iter().find(|s| s.0 == code).map_or(code, |s| s.1)
    }
}

/// A mark: a whole percentage from 0 to 100.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Mark(u8);

impl Mark {
    /// Parses a mark.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        match s.parse::<u8>() {
            Ok(m @ 0..=100) if s.bytes().all(|b| b.is_ascii_digit()) => Ok(Self(m)),
            _ => Err(Error::BadRequest("A mark is a whole number from 0 to 100.".into())),
        }
    }
    /// The percentage.
    pub fn get(self) -> u8 {
        self.0
    }
}

/// How a guardian is related to the student.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Relationship {
    /// The mother.
    Mother,
    /// The father.
    Father,
    /// Another legal guardian.
    Guardian,
}

impl Relationship {
    /// Parses `mother`, `father` or `guardian`.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim() {
            "mother" => Ok(Self::Mother),
            "father" => Ok(Self::Father),
            "guardian" => Ok(Self::Guardian),
            _ => Err(Error::BadRequest("The relationship must be mother, father or guardian.".into())),
        }
    }
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mother => "mother",
            Self::Father => "father",
            Self::Guardian => "guardian",
        }
    }
}

/// Why an enrolment ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The student moves to another school (which then enrols them).
    Transferred,
    /// The year, or the school's last class, is completed.
    Completed,
    /// The student left school.
    Withdrawn,
}

impl EndReason {
    /// Parses `transferred`, `completed` or `withdrawn`.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim() {
            "transferred" => Ok(Self::Transferred),
            "completed" => Ok(Self::Completed),
            "withdrawn" => Ok(Self::Withdrawn),
            _ => Err(Error::BadRequest("The reason must be transferred, completed or withdrawn.".into())),
        }
    }
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Transferred => "transferred",
            Self::Completed => "completed",
            Self::Withdrawn => "withdrawn",
        }
    }
}

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

/// A school code: 1 to 40 upper-case letters, digits or dashes.
pub fn school_code(s: &str) -> Result<String> {
    let s = s.trim().to_ascii_uppercase();
    if s.is_empty() || s.len() > 40 || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(Error::BadRequest("A school code is 1 to 40 letters, digits or dashes.".into()));
    }
    Ok(s)
}
