//! The service catalogue, as data: each service's form fields, the assurance level it needs,
//! the office that reviews it, whether the citizen signs, what is issued and which life event
//! (if any) its approval sets off. Loaded from TOML and checked once at start, so a mistake in
//! the catalogue stops the module instead of showing a broken form; one generic form page and
//! one generic review page then serve every service.

use std::collections::{BTreeMap, HashMap, HashSet};

use relying_party_sdk::Acr;
use serde::Deserialize;

use agency_kit::{Error, Result};

/// The catalogue shipped with the module.
pub const BUILT_IN: &str = include_str!("../catalogue.toml");

/// Most services a catalogue may hold, and most fields per service (a form, not a database).
const MAX_SERVICES: usize = 100;
const MAX_FIELDS: usize = 40;
/// Longest value any field may declare.
const MAX_FIELD_LENGTH: usize = 2000;

/// What a field holds; decides how its value is checked and which input the form shows.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    /// Free text without control characters.
    Text,
    /// `YYYY-MM-DD`.
    Date,
    /// A citizen identity number: 11 digits.
    Cid,
    /// One of the field's options.
    Select,
    /// A whole number, within `min`..=`max` when given.
    Number,
}

/// One form field.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// The form's field name (`[a-z_]`, 1 to 40 characters).
    pub name: String,
    /// What the citizen reads.
    pub label: String,
    /// What it holds.
    pub kind: FieldKind,
    /// Whether it must be filled.
    #[serde(default)]
    pub required: bool,
    /// Longest value, in characters.
    pub max_length: usize,
    /// For `select`: the allowed values.
    #[serde(default)]
    pub options: Vec<String>,
    /// For `date`: the date may not be after today.
    #[serde(default)]
    pub not_future: bool,
    /// For `number`: smallest value.
    #[serde(default)]
    pub min: Option<i64>,
    /// For `number`: largest value.
    #[serde(default)]
    pub max: Option<i64>,
}

/// The staff role, and where it is held, that reviews a service's applications.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Office {
    /// The role (`registrar`, `pension_officer`, ...).
    pub role: String,
    /// The unit (office) holding it.
    pub unit: String,
}

/// What an approval sets off beyond the certificate.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LifeEvent {
    /// The child enters the civil registry (a new CID) and ePIS.
    RegisterBirth,
    /// The death is recorded, the digital ID closed, the pension stopped.
    RegisterDeath,
    /// The applicant's pension starts.
    StartPension,
}

impl LifeEvent {
    /// The fields a service with this event must define (the other agency's API needs them).
    fn required_fields(self) -> &'static [(&'static str, FieldKind)] {
        match self {
            Self::RegisterBirth => &[
                ("given_name", FieldKind::Text),
                ("date_of_birth", FieldKind::Date),
                ("sex", FieldKind::Select),
                ("dzongkhag", FieldKind::Select),
                ("gewog", FieldKind::Text),
                ("village", FieldKind::Text),
                ("household_number", FieldKind::Text),
            ],
            Self::RegisterDeath => &[("deceased_cid", FieldKind::Cid), ("date_of_death", FieldKind::Date)],
            Self::StartPension => &[],
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    id: String,
    title: String,
    description: String,
    assurance: String,
    office: Office,
    citizen_signs: bool,
    issues: String,
    #[serde(default)]
    life_event: Option<LifeEvent>,
    fields: Vec<Field>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    service: Vec<RawService>,
}

/// One service of the catalogue.
#[derive(Clone, Debug)]
pub struct Service {
    /// Its identifier (a URL path segment).
    pub id: String,
    /// Its name.
    pub title: String,
    /// What it is for.
    pub description: String,
    /// The assurance level the citizen must be logged in at to apply.
    pub assurance: Acr,
    /// Who reviews it.
    pub office: Office,
    /// Whether the citizen signs the application: with their digital signature at Drukyul ID,
    /// verified before the application reaches the office and again at approval (see
    /// [`crate::signing`]).
    pub citizen_signs: bool,
    /// What an approval issues.
    pub issues: String,
    /// What an approval sets off.
    pub life_event: Option<LifeEvent>,
    /// The form.
    pub fields: Vec<Field>,
}

/// The whole catalogue, in the file's order.
#[derive(Clone, Debug)]
pub struct Catalogue {
    services: Vec<Service>,
}

fn is_name(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'-')
}

fn is_text(s: &str, max: usize) -> bool {
    !s.trim().is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
}

impl Catalogue {
    /// Parses and checks a catalogue; the error names the service and field at fault.
    pub fn parse(toml_text: &str) -> Result<Self> {
        let raw: RawCatalogue =
            toml::from_str(toml_text).map_err(|e| Error::Config(format!("catalogue: {}", e.message())))?;
        if raw.service.is_empty() || raw.service.len() > MAX_SERVICES {
            return Err(Error::Config(format!("catalogue: 1 to {MAX_SERVICES} services")));
        }
        let mut ids = HashSet::new();
        let mut services = Vec::with_capacity(raw.service.len());
        for s in raw.service {
            let bad = |m: String| Error::Config(format!("catalogue: service {:?}: {m}", s.id));
            if !is_name(&s.id, 60) || !ids.insert(s.id.clone()) {
                return Err(bad("id must be unique, lowercase letters, '-' and '_'".into()));
            }
            for (what, v, max) in [
                ("title", &s.title, 120),
                ("description", &s.description, 1000),
                ("issues", &s.issues, 120),
                ("office.unit", &s.office.unit, 80),
            ] {
                if !is_text(v, max) {
                    return Err(bad(format!("{what} must be 1 to {max} characters")));
                }
            }
            if !is_name(&s.office.role, 40) {
                return Err(bad("office.role must be lowercase letters and '_'".into()));
            }
            let assurance = match Acr::parse(&s.assurance) {
                Some(a @ (Acr::Substantial | Acr::High)) => a,
                _ => return Err(bad("assurance must be urn:drukyul:loa:substantial or urn:drukyul:loa:high".into())),
            };
            if s.fields.is_empty() || s.fields.len() > MAX_FIELDS {
                return Err(bad(format!("1 to {MAX_FIELDS} fields")));
            }
            let mut names = HashSet::new();
            for f in &s.fields {
                check_field(f).map_err(|m| bad(format!("field {:?}: {m}", f.name)))?;
                if f.name == "csrf" || !names.insert(f.name.as_str()) {
                    return Err(bad(format!("field {:?} is reserved or defined twice", f.name)));
                }
            }
            // Drukyul ID lets only biometrically enrolled digital IDs sign (its default
            // `pki.signing_requires_high_assurance`): a signing service asked at a lower level
            // would send citizens to a signature they cannot give.
            if s.citizen_signs && assurance != Acr::High {
                return Err(bad("a service the citizen signs needs assurance urn:drukyul:loa:high".into()));
            }
            if let Some(ev) = s.life_event {
                for (name, kind) in ev.required_fields() {
                    let ok = s.fields.iter().any(|f| f.name == *name && f.kind == *kind);
                    let required = s.fields.iter().any(|f| f.name == *name && f.required);
                    if !ok || !required {
                        return Err(bad(format!("{ev:?} needs a required {kind:?} field {name:?}")));
                    }
                }
            }
            services.push(Service {
                id: s.id,
                title: s.title,
                description: s.description,
                assurance,
                office: s.office,
                citizen_signs: s.citizen_signs,
                issues: s.issues,
                life_event: s.life_event,
                fields: s.fields,
            });
        }
        Ok(Self { services })
    }

    /// The catalogue shipped with the module.
    pub fn built_in() -> Result<Self> {
        Self::parse(BUILT_IN)
    }

    /// Every service.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// The service `id`.
    pub fn get(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.id == id)
    }

    /// Every (role, unit) that reviews some service.
    pub fn offices(&self) -> Vec<&Office> {
        let mut out: Vec<&Office> = Vec::new();
        for s in &self.services {
            if !out.contains(&&s.office) {
                out.push(&s.office);
            }
        }
        out
    }
}

fn check_field(f: &Field) -> std::result::Result<(), String> {
    if !is_name(&f.name, 40) || f.name.contains('-') {
        return Err("name must be lowercase letters and '_'".into());
    }
    if !is_text(&f.label, 200) {
        return Err("label must be 1 to 200 characters".into());
    }
    if f.max_length == 0 || f.max_length > MAX_FIELD_LENGTH {
        return Err(format!("max_length must be 1 to {MAX_FIELD_LENGTH}"));
    }
    match f.kind {
        FieldKind::Select if f.options.is_empty() || f.options.iter().any(|o| !is_text(o, f.max_length)) => {
            return Err("a select needs options, each within max_length".into());
        }
        FieldKind::Select => {}
        _ if !f.options.is_empty() => return Err("only a select has options".into()),
        FieldKind::Cid if f.max_length != 11 => return Err("a cid field has max_length 11".into()),
        FieldKind::Date if f.max_length != 10 => return Err("a date field has max_length 10".into()),
        _ => {}
    }
    if f.not_future && f.kind != FieldKind::Date {
        return Err("only a date can be not_future".into());
    }
    if (f.min.is_some() || f.max.is_some()) && f.kind != FieldKind::Number {
        return Err("only a number has min and max".into());
    }
    if let (Some(lo), Some(hi)) = (f.min, f.max)
        && lo > hi
    {
        return Err("min is above max".into());
    }
    Ok(())
}

/// What was wrong with a submitted form, one message per field (in the form's order), and
/// messages about the form as a whole under the empty name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<(String, String)>);

impl FieldErrors {
    /// The message for `field`, if any.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|(f, _)| f == field).map(|(_, m)| m.as_str())
    }
}

/// A form's values after checking: every field of the service, empty when optional and not
/// given. Only [`Service::validate`] makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidForm(BTreeMap<String, String>);

impl ValidForm {
    /// The values.
    pub fn values(&self) -> &BTreeMap<String, String> {
        &self.0
    }
    /// Into the values.
    pub fn into_values(self) -> BTreeMap<String, String> {
        self.0
    }
}

fn parse_date(s: &str) -> Option<time::Date> {
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

/// Whether `s` is a CID: 11 digits.
pub fn is_cid(s: &str) -> bool {
    s.len() == 11 && s.bytes().all(|b| b.is_ascii_digit())
}

impl Service {
    /// Checks a submitted form against the field definitions. `today` bounds `not_future`
    /// dates. Fields the service does not define are refused (except `csrf`, the form's own).
    pub fn validate(&self, form: &HashMap<String, String>, today: time::Date) -> Result<ValidForm, FieldErrors> {
        let mut errors = Vec::new();
        let mut out = BTreeMap::new();
        for name in form.keys() {
            if name != "csrf" && !self.fields.iter().any(|f| &f.name == name) {
                errors.push((String::new(), "The form has a field this service does not have.".to_string()));
                break;
            }
        }
        for f in &self.fields {
            let v = form.get(&f.name).map(|v| v.trim()).unwrap_or_default();
            match check_value(f, v, today) {
                Ok(()) => {
                    out.insert(f.name.clone(), v.to_owned());
                }
                Err(m) => errors.push((f.name.clone(), m)),
            }
        }
        if errors.is_empty() { Ok(ValidForm(out)) } else { Err(FieldErrors(errors)) }
    }
}

fn check_value(f: &Field, v: &str, today: time::Date) -> std::result::Result<(), String> {
    if v.is_empty() {
        return if f.required { Err(format!("{} is required.", f.label)) } else { Ok(()) };
    }
    if v.chars().count() > f.max_length {
        return Err(format!("{} must be at most {} characters.", f.label, f.max_length));
    }
    if v.chars().any(char::is_control) {
        return Err(format!("{} must not contain control characters.", f.label));
    }
    match f.kind {
        FieldKind::Text => Ok(()),
        FieldKind::Cid if is_cid(v) => Ok(()),
        FieldKind::Cid => Err(format!("{} must be a CID: 11 digits.", f.label)),
        FieldKind::Date => match parse_date(v) {
            Some(d) if f.not_future && d > today => Err(format!("{} cannot be in the future.", f.label)),
            Some(_) => Ok(()),
            None => Err(format!("{} must be a date as YYYY-MM-DD.", f.label)),
        },
        FieldKind::Select if f.options.iter().any(|o| o == v) => Ok(()),
        FieldKind::Select => Err(format!("{} must be one of the listed choices.", f.label)),
        FieldKind::Number => {
            let n: i64 = v.parse().map_err(|_| format!("{} must be a whole number.", f.label))?;
            if f.min.is_some_and(|lo| n < lo) || f.max.is_some_and(|hi| n > hi) {
                return Err(format!(
                    "{} must be between {} and {}.",
                    f.label,
                    f.min.map_or("any".into(), |x| x.to_string()),
                    f.max.map_or("any".into(), |x| x.to_string())
                ));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> time::Date {
        time::macros::date!(2026 - 06 - 01)
    }

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_built_in_catalogue_names_every_service_of_the_programme() {
        let c = Catalogue::built_in().unwrap();
        for id in [
            "birth-registration",
            "death-registration",
            "marriage-certificate",
            "pension",
            "vehicle-registration",
            "permit",
            "construction-approval",
            "utility-connection",
        ] {
            assert!(c.get(id).is_some(), "{id}");
        }
        assert_eq!(c.get("birth-registration").unwrap().life_event, Some(LifeEvent::RegisterBirth));
        assert_eq!(c.get("death-registration").unwrap().assurance, Acr::High);
        assert!(c.offices().iter().any(|o| o.role == "registrar" && o.unit == "DCRC"));
    }

    #[test]
    fn a_broken_catalogue_is_refused_with_the_reason() {
        let good = r#"[[service]]
id = "x"
title = "X"
description = "d"
assurance = "urn:drukyul:loa:substantial"
office = { role = "clerk", unit = "HQ" }
citizen_signs = false
issues = "Paper"
fields = [ { name = "a", label = "A", kind = "text", required = true, max_length = 5 } ]
"#;
        Catalogue::parse(good).unwrap();
        for (from, to, why) in [
            ("loa:substantial", "loa:low", "assurance"),
            ("kind = \"text\"", "kind = \"blob\"", "unknown variant `blob`"),
            ("max_length = 5", "max_length = 0", "max_length"),
            ("max_length = 5", "max_length = 5, options = [\"a\"]", "options"),
            ("kind = \"text\"", "kind = \"select\"", "options"),
            ("name = \"a\"", "name = \"csrf\"", "reserved"),
            ("id = \"x\"", "id = \"X Y\"", "id"),
            ("fields = [", "life_event = \"register_birth\"\nfields = [", "given_name"),
            ("citizen_signs = false", "citizen_signs = false\nsurprise = 1", "unknown field"),
            ("role = \"clerk\"", "role = \"\"", "office.role"),
            ("citizen_signs = false", "citizen_signs = true", "loa:high"),
        ] {
            let e = Catalogue::parse(&good.replace(from, to)).unwrap_err().to_string();
            assert!(e.contains(why), "{why}: {e}");
        }
        let twice = format!("{good}\n{good}");
        assert!(Catalogue::parse(&twice).unwrap_err().to_string().contains("unique"));
        assert!(Catalogue::parse("").is_err());
    }

    #[test]
    fn forms_are_checked_field_by_field() {
        let c = Catalogue::built_in().unwrap();
        let birth = c.get("birth-registration").unwrap();
        let ok = form(&[
            ("csrf", "t"),
            ("given_name", " Sonam "),
            ("date_of_birth", "2026-05-20"),
            ("sex", "F"),
            ("dzongkhag", "Paro"),
            ("gewog", "Lungnyi"),
            ("village", "Jiwna"),
            ("household_number", "7"),
            ("mother_cid", "11512000123"),
            ("place_of_birth", "Paro Hospital"),
        ]);
        let v = birth.validate(&ok, today()).unwrap();
        assert_eq!(v.values()["given_name"], "Sonam", "trimmed");
        assert_eq!(v.values()["father_cid"], "", "optional and absent");
        assert!(!v.values().contains_key("csrf"));

        for (field, value, message) in [
            ("given_name", "", "is required"),
            ("given_name", &"x".repeat(61), "at most 60"),
            ("given_name", "a\u{0}b", "control"),
            ("date_of_birth", "2026-13-01", "YYYY-MM-DD"),
            ("date_of_birth", "2026-06-02", "future"),
            ("sex", "Q", "listed choices"),
            ("mother_cid", "1151200012", "11 digits"),
            ("mother_cid", "1151200012a", "11 digits"),
        ] {
            let mut bad = ok.clone();
            bad.insert(field.into(), value.into());
            let e = birth.validate(&bad, today()).unwrap_err();
            assert_eq!(e.0.len(), 1, "{field}: {e:?}");
            assert!(e.get(field).unwrap().contains(message), "{field}: {e:?}");
        }
        let mut extra = ok.clone();
        extra.insert("is_admin".into(), "1".into());
        assert!(birth.validate(&extra, today()).unwrap_err().get("").is_some());

        let vehicle = c.get("vehicle-registration").unwrap();
        let mut f = form(&[
            ("service", "renewal"),
            ("chassis_number", "MA3EWB22S00123456"),
            ("make_model", "Maruti Alto"),
            ("year", "2019"),
        ]);
        vehicle.validate(&f, today()).unwrap();
        for (y, bad) in [("1949", true), ("2100", false), ("20x9", true), ("-1", true)] {
            f.insert("year".into(), y.into());
            assert_eq!(vehicle.validate(&f, today()).is_err(), bad, "{y}");
        }
    }
}
