//! The licence types and the customs offices, as data (`data/licence_types.toml`, or another
//! file by configuration), checked once at start; and the checking of an application form
//! against its type. Nothing here touches the database or HTTP.

use std::collections::{BTreeMap, HashMap, HashSet};

use agency_kit::{Error, Result};
use serde::Deserialize;

/// The built-in licence types and customs offices.
pub const BUILT_IN: &str = include_str!("../data/licence_types.toml");

/// The 20 dzongkhags, spelt as the census spells them: where a business is, and so which
/// licensing office reviews it.
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

/// Longest business name.
pub const MAX_BUSINESS_NAME: usize = 120;
/// Longest activity description.
pub const MAX_ACTIVITY: usize = 300;
/// Longest location (town, gewog, street, plot).
pub const MAX_LOCATION: usize = 200;

/// What kind of value a field takes.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    /// Free text up to `max_length` characters.
    Text,
    /// A whole number from `min` to `max`.
    Number,
    /// One of `options`.
    Select,
}

/// A field particular to a licence type.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Its name in the form and the application document (`[a-z_]`).
    pub name: String,
    /// What the applicant reads.
    pub label: String,
    /// Its kind.
    pub kind: FieldKind,
    /// Text: the most characters.
    #[serde(default = "default_max_length")]
    pub max_length: usize,
    /// Number: the least.
    #[serde(default)]
    pub min: i64,
    /// Number: the most.
    #[serde(default = "default_max")]
    pub max: i64,
    /// Select: the choices.
    #[serde(default)]
    pub options: Vec<String>,
}

fn default_max_length() -> usize {
    200
}
fn default_max() -> i64 {
    i64::from(u32::MAX)
}

/// A licence type.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenceType {
    /// Its id in URLs and records (`[a-z-]`).
    pub id: String,
    /// Its name.
    pub title: String,
    /// What it allows.
    pub description: String,
    /// How long an issued licence is valid.
    pub validity_years: u8,
    /// Whether its holder may file export/import clearances.
    #[serde(default)]
    pub trade: bool,
    /// The fields particular to it.
    #[serde(default, rename = "field")]
    pub fields: Vec<Field>,
}

/// A customs office of the single window.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// Its code (a customs officer's unit).
    pub code: String,
    /// Its name.
    pub name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(rename = "licence")]
    licences: Vec<LicenceType>,
    #[serde(default, rename = "port")]
    ports: Vec<Port>,
}

/// The licence types and customs offices.
#[derive(Clone, Debug)]
pub struct Catalogue {
    licences: Vec<LicenceType>,
    ports: Vec<Port>,
}

fn is_id(s: &str, extra: u8) -> bool {
    !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == extra)
}

/// Field names every application has; a licence type may not reuse them.
const COMMON: [&str; 4] = ["business_name", "activity", "dzongkhag", "location"];

impl Catalogue {
    /// The built-in catalogue.
    pub fn built_in() -> Result<Self> {
        Self::parse(BUILT_IN)
    }

    /// Parses and checks a catalogue file: unique ids and field names, each kind with what it
    /// needs, at least one customs office. Every problem stops the module at start.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |m: String| Error::Config(format!("licence types: {m}"));
        let f: File = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        if f.licences.is_empty() {
            return Err(bad("no licence type".into()));
        }
        let mut ids = HashSet::new();
        for l in &f.licences {
            if !is_id(&l.id, b'-') || !ids.insert(l.id.as_str()) {
                return Err(bad(format!("licence id {:?} must be unique, lower-case letters, digits and '-'", l.id)));
            }
            if l.title.trim().is_empty() || l.title.chars().count() > 100 {
                return Err(bad(format!("{}: a title of 1 to 100 characters", l.id)));
            }
            if !(1..=10).contains(&l.validity_years) {
                return Err(bad(format!("{}: validity_years must be 1 to 10", l.id)));
            }
            let mut names: HashSet<&str> = COMMON.into_iter().collect();
            for fd in &l.fields {
                if !is_id(&fd.name, b'_') || !names.insert(fd.name.as_str()) {
                    return Err(bad(format!("{}: field {:?} must be unique, [a-z0-9_]", l.id, fd.name)));
                }
                let ok = match fd.kind {
                    FieldKind::Text => (1..=1000).contains(&fd.max_length),
                    FieldKind::Number => fd.min <= fd.max && fd.min >= 0,
                    FieldKind::Select => !fd.options.is_empty() && fd.options.iter().all(|o| !o.trim().is_empty()),
                };
                if !ok || fd.label.trim().is_empty() {
                    return Err(bad(format!(
                        "{}.{}: a label, and max_length 1-1000 / 0 <= min <= max / options",
                        l.id, fd.name
                    )));
                }
            }
        }
        let mut codes = HashSet::new();
        for p in &f.ports {
            if p.code.is_empty()
                || p.code.len() > 10
                || !p.code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                || !codes.insert(p.code.as_str())
                || p.name.trim().is_empty()
            {
                return Err(bad(format!("customs office {:?}: a unique upper-case code and a name", p.code)));
            }
        }
        if f.ports.is_empty() {
            return Err(bad("no customs office".into()));
        }
        Ok(Self { licences: f.licences, ports: f.ports })
    }

    /// Every licence type.
    pub fn licences(&self) -> &[LicenceType] {
        &self.licences
    }

    /// The licence type `id`.
    pub fn licence(&self, id: &str) -> Option<&LicenceType> {
        self.licences.iter().find(|l| l.id == id)
    }

    /// Every customs office.
    pub fn ports(&self) -> &[Port] {
        &self.ports
    }

    /// The customs office `code`.
    pub fn port(&self, code: &str) -> Option<&Port> {
        self.ports.iter().find(|p| p.code == code)
    }
}

/// Problems with a submitted form, one message per field name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(pub BTreeMap<String, String>);

impl FieldErrors {
    fn add(&mut self, field: &str, message: String) {
        self.0.entry(field.to_owned()).or_insert(message);
    }
    /// The message for `field`.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }
    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An application form that passed every check: the common fields and the type's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidForm {
    /// The business's name.
    pub business_name: String,
    /// What it does.
    pub activity: String,
    /// Where it is (one of [`DZONGKHAGS`]): the reviewing licensing office.
    pub dzongkhag: String,
    /// Town, gewog, street or plot.
    pub location: String,
    /// The type's own fields, by name.
    pub details: BTreeMap<String, String>,
}

/// Checks free text: required, at most `max` characters, no control characters. Trimmed;
/// inner runs of white space are kept as typed.
fn text(errors: &mut FieldErrors, name: &str, label: &str, value: Option<&String>, max: usize) -> String {
    let v = value.map(|s| s.trim()).unwrap_or_default();
    if v.is_empty() {
        errors.add(name, format!("{label} is required."));
    } else if v.chars().count() > max {
        errors.add(name, format!("{label} must be at most {max} characters."));
    } else if v.chars().any(char::is_control) {
        errors.add(name, format!("{label} must not contain control characters."));
    }
    v.to_owned()
}

impl LicenceType {
    /// Checks a submitted form (field name to value; unknown names are ignored): every field
    /// is required. On any problem, every message at once and nothing else.
    pub fn validate(&self, form: &HashMap<String, String>) -> Result<ValidForm, FieldErrors> {
        let mut errors = FieldErrors::default();
        let business_name =
            text(&mut errors, "business_name", "Business name", form.get("business_name"), MAX_BUSINESS_NAME);
        let activity = text(&mut errors, "activity", "Business activity", form.get("activity"), MAX_ACTIVITY);
        let location = text(&mut errors, "location", "Location", form.get("location"), MAX_LOCATION);
        let dzongkhag = form.get("dzongkhag").map(|s| s.trim()).unwrap_or_default().to_owned();
        if !DZONGKHAGS.contains(&dzongkhag.as_str()) {
            errors.add("dzongkhag", "Choose the dzongkhag where the business is.".into());
        }
        let mut details = BTreeMap::new();
        for f in &self.fields {
            let raw = form.get(&f.name);
            let value = match f.kind {
                FieldKind::Text => text(&mut errors, &f.name, &f.label, raw, f.max_length),
                FieldKind::Number => {
                    let v = raw.map(|s| s.trim()).unwrap_or_default();
                    match v.parse::<i64>() {
                        Ok(n) if (f.min..=f.max).contains(&n) && v.bytes().all(|b| b.is_ascii_digit()) => n.to_string(),
                        _ if v.is_empty() => {
                            errors.add(&f.name, format!("{} is required.", f.label));
                            String::new()
                        }
                        _ => {
                            errors.add(
                                &f.name,
                                format!("{} must be a whole number from {} to {}.", f.label, f.min, f.max),
                            );
                            String::new()
                        }
                    }
                }
                FieldKind::Select => {
                    let v = raw.map(|s| s.trim()).unwrap_or_default();
                    if !f.options.iter().any(|o| o == v) {
                        errors.add(&f.name, format!("{}: choose one of {}.", f.label, f.options.join(", ")));
                    }
                    v.to_owned()
                }
            };
            details.insert(f.name.clone(), value);
        }
        if errors.is_empty() {
            Ok(ValidForm { business_name, activity, dzongkhag, location, details })
        } else {
            Err(errors)
        }
    }
}
