//! The rules of business licensing and of the customs single window, as plain types and
//! functions that know nothing of HTTP or the database and take `now` (Unix seconds) where time
//! matters: the application document that the applicant signs, the judgement of a signature
//! verification, licence numbers, validity and state, and clearance declarations.

use std::collections::{BTreeMap, HashMap};

use agency_kit::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::catalogue::{FieldErrors, LicenceType, ValidForm};

/// Reviews licence applications at the licensing office of a dzongkhag (the unit).
pub const LICENSING_OFFICER: &str = "licensing_officer";
/// Clears or holds declarations at a customs office (the unit: the office's code).
pub const CUSTOMS_OFFICER: &str = "customs_officer";
/// Adds licensing and customs officers (the whole agency: unit `''`).
pub const ADMINISTRATOR: &str = "administrator";
/// The roles, for the command line and the administrator's page.
pub const ROLES: [&str; 3] = [LICENSING_OFFICER, CUSTOMS_OFFICER, ADMINISTRATOR];

/// Longest officer's note or reason.
pub const MAX_NOTE: usize = 1000;

/// What the signed bytes say they are; a document of another kind or version is not read.
pub const DOCUMENT_KIND: &str = "drukyul-ebiz/licence-application/v1";

// ---- people ----

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
}

impl std::fmt::Display for Cid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The logged-in citizen, by the CID the identity provider released under `national_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// Their CID.
    pub cid: Cid,
    /// Their name (control characters dropped, at most 200 characters).
    pub name: String,
}

impl Person {
    /// A person; without a CID the module cannot work for them.
    pub fn new(cid: Option<&str>, name: &str) -> Result<Self> {
        let cid = cid.map(Cid::parse).transpose().ok().flatten().ok_or_else(|| {
            Error::Forbidden("e-business needs your CID: log in again and allow your national ID to be shared.".into())
        })?;
        let name: String = name.chars().filter(|c| !c.is_control()).take(200).collect();
        Ok(Self { cid, name: if name.trim().is_empty() { "Citizen".into() } else { name.trim().to_owned() } })
    }
}

// ---- the application document ----

/// The application as the applicant signs it. Its bytes ([`ApplicationDocument::to_bytes`])
/// are stored exactly as signed and are what every page shows, so what an officer reads is
/// what the applicant signed, and a change to one byte breaks the signature.
///
/// Canonical JSON: UTF-8, no insignificant white space, object keys in lexicographic order
/// (struct fields are declared in that order; maps are `BTreeMap`s), strings escaped by
/// `serde_json`'s fixed rules. We chose JSON over a PDF because the module reads its own
/// document back (to show it, to find the business and the licence type) and a second agency
/// can too, with any JSON parser; the canonical form means the same application always
/// produces the same bytes, so the digest can be recomputed from the content by anyone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationDocument {
    /// The business's activity.
    pub activity: String,
    /// The applicant's CID.
    pub applicant_cid: String,
    /// The applicant's name.
    pub applicant_name: String,
    /// The application's number.
    pub application: String,
    /// The business's name.
    pub business_name: String,
    /// The type's own fields.
    pub details: BTreeMap<String, String>,
    /// [`DOCUMENT_KIND`].
    pub document: String,
    /// The dzongkhag.
    pub dzongkhag: String,
    /// The licence type's id.
    pub licence_type: String,
    /// The licence type's title, as the applicant read it.
    pub licence_title: String,
    /// Town, gewog, street or plot.
    pub location: String,
    /// When it was written (RFC 3339, UTC).
    pub prepared_at: String,
}

impl ApplicationDocument {
    /// The document for a checked form.
    pub fn new(id: &str, licence: &LicenceType, who: &Person, form: ValidForm, now: i64) -> Self {
        Self {
            activity: form.activity,
            applicant_cid: who.cid.as_str().to_owned(),
            applicant_name: who.name.clone(),
            application: id.to_owned(),
            business_name: form.business_name,
            details: form.details,
            document: DOCUMENT_KIND.to_owned(),
            dzongkhag: form.dzongkhag,
            licence_type: licence.id.clone(),
            licence_title: licence.title.clone(),
            location: form.location,
            prepared_at: rfc3339(now),
        }
    }

    /// The canonical bytes: what is signed and stored.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| Error::Internal(format!("application document: {e}")))
    }

    /// Reads stored bytes back; refuses anything that is not exactly a canonical document of
    /// this kind (so two different byte strings never read as the same application).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let d: Self = serde_json::from_slice(bytes)
            .map_err(|_| Error::Conflict("The stored application document is not readable.".into()))?;
        if d.document != DOCUMENT_KIND || d.to_bytes()? != bytes {
            return Err(Error::Conflict("The stored application document is not in canonical form.".into()));
        }
        Ok(d)
    }

    /// The title the applicant sees on the signing page.
    pub fn title(&self) -> String {
        let t = format!("{}: {} ({})", self.licence_title, self.business_name, self.application);
        t.chars().take(200).collect()
    }
}

/// SHA-256 of `bytes`, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

/// `now` as RFC 3339 UTC (`2025-03-01T10:00:00Z`).
pub fn rfc3339(now: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(now)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| now.to_string())
}

/// `at` as a date (`2025-03-01`).
pub fn date(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at).map(|t| t.date().to_string()).unwrap_or_else(|_| at.to_string())
}

// ---- applications ----

/// Where an application stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Written, waiting for the applicant's signature (also after a refused or failed one).
    AwaitingSignature,
    /// Signed, the signature verified: waiting for the licensing office.
    Submitted,
    /// Approved: the licence is issued.
    Approved,
    /// Rejected, with the officer's reason.
    Rejected,
}

impl Status {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingSignature => "awaiting_signature",
            Self::Submitted => "submitted",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }
    /// As shown.
    pub fn label(self) -> &'static str {
        match self {
            Self::AwaitingSignature => "awaiting your signature",
            Self::Submitted => "signed, waiting for review",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }
    /// From storage.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "awaiting_signature" => Self::AwaitingSignature,
            "submitted" => Self::Submitted,
            "approved" => Self::Approved,
            "rejected" => Self::Rejected,
            other => return Err(Error::Internal(format!("unknown application status {other:?}"))),
        })
    }
}

/// An officer's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Approve and issue the licence.
    Approve,
    /// Reject (a reason is required).
    Reject,
}

impl Decision {
    /// From the form's `decision` field.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "approve" => Ok(Self::Approve),
            "reject" => Ok(Self::Reject),
            _ => Err(Error::BadRequest("Choose approve or reject.".into())),
        }
    }
}

/// An officer's note: at most [`MAX_NOTE`] characters, no control characters but line
/// breaks, required when `required` (a rejection, a hold).
pub fn check_note(note: &str, required: bool) -> Result<String> {
    let note = note.trim();
    if note.chars().count() > MAX_NOTE {
        return Err(Error::BadRequest(format!("The note must be at most {MAX_NOTE} characters.")));
    }
    if note.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
        return Err(Error::BadRequest("The note must not contain control characters.".into()));
    }
    if required && note.is_empty() {
        return Err(Error::BadRequest("Give the reason: the applicant will read it.".into()));
    }
    Ok(note.to_owned())
}

// ---- the signature ----

/// What Drukyul ID found checking a signature: the SDK's answer of `POST /sign/verify`.
pub use relying_party_sdk::signing::Verification;

/// A verification that found nothing valid, with `reason` (no signature to check, or a stored
/// answer that cannot be read).
pub fn unverified(reason: &str) -> Verification {
    Verification {
        valid: false,
        reason: Some(reason.to_owned()),
        signer: None,
        cid: None,
        agency: None,
        certificate_serial: None,
        signing_time: None,
        certificate_status: None,
    }
}

/// Proof that a signature was judged good for an application: made only by [`judge`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureAccepted {
    /// The signer's name.
    pub signer: String,
    /// The trusted signing time.
    pub signing_time: i64,
}

/// Whether a verification is good enough for the application of `applicant`: valid for the
/// stored bytes, by a certificate that was good when it signed (a later revocation does not
/// undo a signature made before it), naming the applicant's own CID, with a trusted time.
/// Anything missing counts against it.
pub fn judge(v: &Verification, applicant: &Cid) -> std::result::Result<SignatureAccepted, String> {
    if !v.valid {
        return Err(format!(
            "The signature does not verify for this application: {}.",
            v.reason.as_deref().unwrap_or("no reason given")
        ));
    }
    let status = v.certificate_status.as_deref().unwrap_or("unknown");
    if status != "good" && !status.starts_with("revoked later") {
        return Err(format!("The signing certificate was not good at the signing time ({status})."));
    }
    match v.cid.as_deref() {
        Some(c) if c == applicant.as_str() => {}
        Some(_) => return Err("The application was signed by someone else, not the applicant.".into()),
        None => return Err("The identity provider did not say whose signature this is.".into()),
    }
    let signing_time = v.signing_time.ok_or("The signature has no trusted signing time.")?;
    Ok(SignatureAccepted { signer: v.signer.clone().unwrap_or_default(), signing_time })
}

// ---- licences ----

/// A licence number: `BL` (business licence), the year of issue, and ten random upper-case
/// hexadecimal characters, e.g. `BL-2025-4F0A9C31B2` — unguessable, so the public register
/// cannot be walked, and short enough to read out over the phone.
pub fn licence_number(now: i64, random: &[u8; 5]) -> String {
    let year = time::OffsetDateTime::from_unix_timestamp(now).map(|t| t.year()).unwrap_or(1970);
    format!("BL-{year}-{}", hex::encode_upper(random))
}

/// Whether `s` looks like a licence number (before any lookup).
pub fn is_licence_number(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 18
        && s.starts_with("BL-")
        && b[3..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..].iter().all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
}

/// The end of a licence issued at `issued_at` for `years`: the same day and time `years`
/// later (29 February becomes 28 February).
pub fn valid_until(issued_at: i64, years: u8) -> i64 {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(issued_at) else { return issued_at };
    let d = t.date();
    let year = d.year() + i32::from(years);
    let end = time::Date::from_calendar_date(year, d.month(), d.day())
        .or_else(|_| time::Date::from_calendar_date(year, d.month(), 28))
        .map(|nd| t.replace_date(nd).unix_timestamp());
    end.unwrap_or(issued_at + i64::from(years) * 365 * 86_400)
}

/// A licence's state at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenceState {
    /// In force.
    Active,
    /// Past its validity.
    Expired,
    /// Withdrawn by the licensing office.
    Revoked,
}

impl LicenceState {
    /// At `now`, for a licence recorded as `revoked` or not and valid until `valid_until`.
    pub fn at(revoked: bool, valid_until: i64, now: i64) -> Self {
        if revoked {
            Self::Revoked
        } else if now >= valid_until {
            Self::Expired
        } else {
            Self::Active
        }
    }
    /// As shown and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

// ---- clearances ----

/// Which way goods cross the border.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Into Bhutan.
    Import,
    /// Out of Bhutan.
    Export,
}

impl Direction {
    /// From a form or storage.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "import" => Some(Self::Import),
            "export" => Some(Self::Export),
            _ => None,
        }
    }
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Import => "import",
            Self::Export => "export",
        }
    }
    /// Whether a licence for `trade_direction` (the import/export licence's field) covers it.
    pub fn allowed_by(self, trade_direction: &str) -> bool {
        trade_direction == "import and export" || trade_direction == self.as_str()
    }
}

/// A Harmonized System commodity code: 6 digits (the international heading and subheading),
/// up to 10 with the national tariff lines; dots and spaces as people write them
/// (`0902.30`, `8703 23 91`) are dropped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HsCode(String);

impl HsCode {
    /// Parses a code.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        let digits: String = s.chars().filter(|c| !matches!(c, '.' | ' ')).collect();
        if (6..=10).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            let chapter: u32 = digits[..2].parse().unwrap_or(0);
            if (1..=97).contains(&chapter) && chapter != 77 {
                return Ok(Self(digits));
            }
            return Err("An HS code starts with a chapter from 01 to 97.".into());
        }
        Err("An HS code is 6 to 10 digits (e.g. 0902.30 or 09023000).".into())
    }
    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Units goods are counted in.
pub const UNITS: [&str; 7] = ["kg", "tonne", "litre", "piece", "metre", "cubic metre", "set"];
/// The most a declaration may be worth, in ngultrum.
pub const MAX_VALUE_NU: i64 = 1_000_000_000_000;
/// The most of anything one declaration may count.
pub const MAX_QUANTITY: i64 = 1_000_000_000;

/// A checked clearance declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declaration {
    /// The trader's import/export licence.
    pub licence: String,
    /// Which way.
    pub direction: Direction,
    /// The goods' HS code.
    pub hs_code: HsCode,
    /// What the goods are.
    pub description: String,
    /// How many.
    pub quantity: i64,
    /// Of what unit ([`UNITS`]).
    pub unit: String,
    /// Declared value, in chhertum (1/100 ngultrum).
    pub value_chhertum: i64,
    /// Country of origin (import) or destination (export): ISO 3166-1 alpha-2, not `BT`.
    pub country: String,
    /// The customs office (its code).
    pub port: String,
}

/// Parses an amount of ngultrum (`125000`, `125000.50`) into chhertum.
pub fn parse_nu(s: &str) -> Option<i64> {
    let s = s.trim().replace(',', "");
    let (whole, frac) = s.split_once('.').unwrap_or((&s, ""));
    if whole.is_empty()
        || whole.len() > 13
        || frac.len() > 2
        || !whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().ok()? };
    let v = whole.checked_mul(100)?.checked_add(frac)?;
    (v > 0 && v <= MAX_VALUE_NU * 100).then_some(v)
}

/// Chhertum as ngultrum (`Nu. 125000.50`).
pub fn format_nu(chhertum: i64) -> String {
    format!("Nu. {}.{:02}", chhertum / 100, chhertum % 100)
}

impl Declaration {
    /// Checks a declaration form; `ports` are the customs offices' codes. Every problem at
    /// once, per field.
    pub fn parse(form: &HashMap<String, String>, ports: &[&str]) -> std::result::Result<Self, FieldErrors> {
        let mut e = BTreeMap::new();
        let get = |k: &str| form.get(k).map(|s| s.trim()).unwrap_or_default();
        let licence = get("licence").to_owned();
        if !is_licence_number(&licence) {
            e.insert("licence".into(), "Choose your import/export licence.".into());
        }
        let direction = Direction::parse(get("direction"));
        if direction.is_none() {
            e.insert("direction".into(), "Choose import or export.".into());
        }
        let hs_code = HsCode::parse(get("hs_code")).map_err(|m| e.insert("hs_code".into(), m)).ok();
        let description = get("description").to_owned();
        if description.is_empty() || description.chars().count() > 300 || description.chars().any(char::is_control) {
            e.insert("description".into(), "Describe the goods in 1 to 300 characters.".into());
        }
        let quantity = get("quantity").parse::<i64>().ok().filter(|q| (1..=MAX_QUANTITY).contains(q));
        if quantity.is_none() {
            e.insert("quantity".into(), format!("The quantity is a whole number from 1 to {MAX_QUANTITY}."));
        }
        let unit = get("unit").to_owned();
        if !UNITS.contains(&unit.as_str()) {
            e.insert("unit".into(), format!("Choose a unit: {}.", UNITS.join(", ")));
        }
        let value = parse_nu(get("value"));
        if value.is_none() {
            e.insert("value".into(), "The value is an amount of ngultrum above zero, e.g. 125000.50.".into());
        }
        let country = get("country").to_ascii_uppercase();
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) || country == "BT" {
            e.insert(
                "country".into(),
                "The country of origin or destination is its two-letter ISO code (IN, BD, TH ...), not BT.".into(),
            );
        }
        let port = get("port").to_owned();
        if !ports.contains(&port.as_str()) {
            e.insert("port".into(), "Choose the customs office.".into());
        }
        match (direction, hs_code, quantity, value) {
            (Some(direction), Some(hs_code), Some(quantity), Some(value_chhertum)) if e.is_empty() => {
                Ok(Self { licence, direction, hs_code, description, quantity, unit, value_chhertum, country, port })
            }
            _ => Err(FieldErrors(e)),
        }
    }
}

/// Where a declaration stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClearanceStatus {
    /// Waiting for customs.
    Filed,
    /// Cleared: the goods may cross.
    Cleared,
    /// Held by customs, with the reason (may still be cleared later).
    Held,
}

impl ClearanceStatus {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Filed => "filed",
            Self::Cleared => "cleared",
            Self::Held => "held",
        }
    }
    /// From storage.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "filed" => Self::Filed,
            "cleared" => Self::Cleared,
            "held" => Self::Held,
            other => return Err(Error::Internal(format!("unknown clearance status {other:?}"))),
        })
    }
    /// What a customs officer's `action` (`clear`, `hold`) makes of a declaration in this
    /// state: a filed one may be cleared or held, a held one cleared; a cleared one is final.
    pub fn next(self, action: &str) -> Result<Self> {
        match (self, action) {
            (Self::Filed | Self::Held, "clear") => Ok(Self::Cleared),
            (Self::Filed, "hold") => Ok(Self::Held),
            (_, "clear" | "hold") => Err(Error::Conflict(format!("This declaration is already {}.", self.as_str()))),
            _ => Err(Error::BadRequest("Choose clear or hold.".into())),
        }
    }
}
