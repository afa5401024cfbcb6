//! Enrolment: the registration centres, the officers who work at them and what each role may
//! do. (Biometric capture, de-duplication, adjudication and re-verification build on this.)
//!
//! Officers are citizens with a digital ID of their own: they log in with their passkeys like
//! anyone, and the enrolment pages look their role up on every request, so removing a role (or
//! closing the officer's digital ID) takes effect at once.

use crate::{
    app::Idp,
    domain::{
        UnixTime,
        audit::{Event, NewEntry},
        cid::Cid,
    },
    error::{Error, Result},
    store::{
        self,
        enrolment::{CentreRow, OfficerRow},
    },
};

/// What an officer may do; each role may do everything the ones before it may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Finds people in the registry, captures and submits enrolments and re-verifications.
    EnrolmentOfficer,
    /// Also decides adjudication cases.
    Supervisor,
    /// Also manages the officers of the centre.
    Administrator,
}

impl Role {
    /// From the stored / command-line name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "enrolment_officer" | "officer" => Ok(Self::EnrolmentOfficer),
            "supervisor" => Ok(Self::Supervisor),
            "administrator" | "admin" => Ok(Self::Administrator),
            _ => Err(Error::Invalid("role must be enrolment_officer, supervisor or administrator".into())),
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EnrolmentOfficer => "enrolment_officer",
            Self::Supervisor => "supervisor",
            Self::Administrator => "administrator",
        }
    }
}

/// A registration centre's code: 2 to 16 upper-case letters, digits and hyphens (`THI-01`), so
/// it is safe in URLs, logs and printed slips.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CentreCode(String);

impl CentreCode {
    /// Validates a code.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        let ok = (2..=16).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::Invalid("a centre code is 2 to 16 upper-case letters, digits and inner hyphens (THI-01)".into()))
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_text(field: &str, s: &str) -> Result<String> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control) {
        return Err(Error::Invalid(format!("{field} must be 1 to 100 characters without control characters")));
    }
    Ok(s.to_owned())
}

/// `idp centre add`.
pub async fn add_centre(idp: &Idp, code: &CentreCode, name: &str, dzongkhag: &str, now: UnixTime) -> Result<CentreRow> {
    let row = CentreRow {
        code: code.as_str().to_owned(),
        name: check_text("name", name)?,
        dzongkhag: check_text("dzongkhag", dzongkhag)?,
        created_at: now,
    };
    if !store::enrolment::insert_centre(&idp.db, &row).await? {
        return Err(Error::Invalid(format!("centre {} already exists", row.code)));
    }
    idp.audit(
        NewEntry::new(Event::CentreAdded, "operator", format!("centre:{}", row.code))
            .detail(serde_json::json!({"name": row.name, "dzongkhag": row.dzongkhag})),
        now,
    )
    .await?;
    Ok(row)
}

/// `idp officer add`: gives the holder of an active digital ID a role at a centre.
pub async fn add_officer(
    idp: &Idp,
    cid: &Cid,
    centre: &CentreCode,
    role: Role,
    actor: &str,
    now: UnixTime,
) -> Result<OfficerRow> {
    let account = store::login::account_by_cid(&idp.db, cid.as_str())
        .await?
        .ok_or_else(|| Error::NotFound(format!("CID {} has no digital ID (issue one first)", cid.as_str())))?;
    if account.status != "active" {
        return Err(Error::Invalid(format!(
            "the digital ID of CID {} is {}: an officer logs in with their own passkeys",
            cid.as_str(),
            account.status
        )));
    }
    if store::enrolment::centre(&idp.db, centre.as_str()).await?.is_none() {
        return Err(Error::NotFound(format!("no centre {} (see `idp centre list`)", centre.as_str())));
    }
    let row = OfficerRow {
        account_id: account.id.clone(),
        cid: account.cid.clone(),
        centre: centre.as_str().to_owned(),
        role: role.as_str().to_owned(),
        added_by: actor.to_owned(),
        created_at: now,
    };
    store::enrolment::put_officer(&idp.db, &row).await?;
    idp.audit(
        NewEntry::new(Event::OfficerAdded, actor, format!("account:{}", account.id))
            .detail(serde_json::json!({"centre": row.centre, "role": row.role})),
        now,
    )
    .await?;
    Ok(row)
}

/// `idp officer remove`.
pub async fn remove_officer(idp: &Idp, cid: &Cid, actor: &str, now: UnixTime) -> Result<()> {
    let account = store::login::account_by_cid(&idp.db, cid.as_str())
        .await?
        .ok_or_else(|| Error::NotFound(format!("CID {} has no digital ID", cid.as_str())))?;
    if !store::enrolment::remove_officer(&idp.db, &account.id, now).await? {
        return Err(Error::NotFound(format!("CID {} is not an officer", cid.as_str())))?;
    }
    idp.audit(NewEntry::new(Event::OfficerRemoved, actor, format!("account:{}", account.id)), now).await?;
    Ok(())
}

/// The officer behind a session, if their role allows `needed`; otherwise the refusal is
/// audited and `Forbidden` returned (fail closed: no role, a removed role, a closed digital ID).
pub async fn require(idp: &Idp, account_id: &str, needed: Role, what: &str, now: UnixTime) -> Result<OfficerRow> {
    if let Some(o) = store::enrolment::officer(&idp.db, account_id).await?
        && Role::parse(&o.role).is_ok_and(|r| r >= needed)
    {
        return Ok(o);
    }
    idp.audit(
        NewEntry::new(Event::OfficerDenied, format!("account:{account_id}"), what.to_owned())
            .detail(serde_json::json!({"needed": needed.as_str()})),
        now,
    )
    .await?;
    Err(Error::Forbidden(format!("this needs the {} role at a registration centre", needed.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_parse_both_ways() {
        assert!(Role::Administrator > Role::Supervisor && Role::Supervisor > Role::EnrolmentOfficer);
        for r in [Role::EnrolmentOfficer, Role::Supervisor, Role::Administrator] {
            assert_eq!(Role::parse(r.as_str()).unwrap(), r);
        }
        assert!(Role::parse("root").is_err());
        assert!(Role::parse("").is_err());
    }

    #[test]
    fn centre_codes_are_checked() {
        assert_eq!(CentreCode::parse(" THI-01 ").unwrap().as_str(), "THI-01");
        for bad in ["", "T", "thi-01", "THI_01", "-THI", "THI-", "THI/01", "A234567890123456X", "THI 01"] {
            assert!(CentreCode::parse(bad).is_err(), "{bad}");
        }
    }

    /// The console's submission: the photo is optional in the format (the server decides
    /// whether it is required), and nothing unexpected is accepted beside it.
    #[test]
    fn a_submission_may_carry_a_face_and_nothing_else() {
        let without: Submission =
            serde_json::from_str(r#"{"packet_id":"p","transaction_id":"t","response":{"biometrics":[]}}"#).unwrap();
        assert!(without.face.is_none());
        let with: Submission = serde_json::from_str(
            r#"{"packet_id":"p","transaction_id":"t","response":{},"face":{"transaction_id":"f","response":{"biometrics":[]}}}"#,
        )
        .unwrap();
        let face = with.face.unwrap();
        assert_eq!((face.transaction_id.as_str(), face.response.get()), ("f", r#"{"biometrics":[]}"#), "verbatim");
        for bad in [
            r#"{"packet_id":"p","transaction_id":"t","response":{},"photo":{}}"#,
            r#"{"packet_id":"p","transaction_id":"t","response":{},"face":{"transaction_id":"f","response":{},"x":1}}"#,
            r#"{"packet_id":"p","transaction_id":"t","response":{},"face":{"response":{}}}"#,
        ] {
            assert!(serde_json::from_str::<Submission>(bad).is_err(), "{bad}");
        }
        let request = face_photo_request();
        assert_eq!((request.len(), request[0].bio_type.as_str(), request[0].count), (1, "Face", 1));
        assert_eq!(request[0].previous_hash, sbi::verify::chain_start(), "the photo's own hash chain");
    }

    /// A real scanner's capture (MOSIP's mock device: an ISO/IEC 19794-4 record with JPEG 2000
    /// inside) becomes minutiae through MINDTCT; a mislabelled one is refused.
    #[tokio::test]
    async fn a_finger_image_becomes_minutiae() {
        use base64::Engine;
        use biometric_adapter::template::FingerPosition;
        let payload = include_str!("../../biometric-adapter/tests/fixtures/sbi/mosip-mock-rcapture-left-index.txt");
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let data: serde_json::Value = serde_json::from_slice(&e.decode(payload.trim()).unwrap()).unwrap();
        let record = e.decode(data["bioExtract"].as_str().unwrap().trim_end_matches('=')).unwrap();
        assert!(record.starts_with(b"FIR\0"));
        let minutiae = extract_image(record.clone(), FingerPosition::LeftIndex, "Left IndexFinger").await.unwrap();
        assert!(minutiae.views()[0].minutiae().len() > 20, "MINDTCT finds the minutiae");
        assert!(extract_image(record, FingerPosition::RightThumb, "Right Thumb").await.is_err(), "another finger");
        assert!(extract_image(b"FIR\0garbage".to_vec(), FingerPosition::LeftIndex, "x").await.is_err());
    }
}

// ---- biometric enrolment ----

use base64::Engine as _;
use biometric_adapter::{
    abis::IdentifyRequest,
    matcher::FalseMatchRate,
    sbi::{
        self,
        messages::{BioRequest, CaptureRequest, Env, Purpose},
        verify::{BioFormat, VerifiedCapture, VerifyOptions},
    },
    template::Record,
};

use crate::{
    i18n::{Lang, T},
    store::enrolment::{CaseDecision, Decision, PacketRow, TemplateRow},
};

/// The ceremony kind of a pending capture request (its id is the transactionId).
const CAPTURE_KIND: &str = "sbi-rcapture";
/// The ceremony kind of the face photo's capture request that goes with a finger capture.
const FACE_CAPTURE_KIND: &str = "sbi-rcapture-face";
/// What a biometric enrolment proves.
pub const ACR_HIGH: &str = "urn:drukyul:loa:high";
/// The largest device response accepted (ten finger images with their signatures).
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// The largest face photo accepted: the 19794-5 record inside the camera's bioValue. A
/// full-frontal portrait for a supervisor's comparison is a few tens of kilobytes as JPEG; a
/// megabyte leaves room for a high-resolution camera without letting a device fill the store.
pub const MAX_FACE_BYTES: usize = 1024 * 1024;
/// The largest camera response accepted: the photo, base64url inside the JWS payload, itself
/// base64url (16/9 of the photo), the signature and certificate chain.
pub const MAX_FACE_RESPONSE_BYTES: usize = MAX_FACE_BYTES * 16 / 9 + 64 * 1024;

/// Why a packet is submitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PacketKind {
    /// First enrolment: de-duplication, then a digital ID (or an adjudication case).
    Enrolment,
    /// A citizen who lost their passkeys proves it is them (1:1) and gets a new activation code.
    Reverification,
}

impl PacketKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enrolment => "enrolment",
            Self::Reverification => "reverification",
        }
    }
}

/// A capture request the console forwards to the officer's scanner (MOSIP SBI RCAPTURE).
#[derive(Debug, serde::Serialize)]
pub struct CaptureStart {
    /// The request, exactly as the device must receive it (the console may only fill in
    /// `deviceId` from discovery).
    pub request: CaptureRequest,
    /// The face photo's request for the officer's camera (one `Face` capture, its own
    /// single-use transactionId), submitted with the fingers.
    pub face: CaptureRequest,
    /// Whether the submission must carry the photo (`enrolment.require_face`, enrolments only).
    pub face_required: bool,
    /// Until when the capture can be submitted.
    pub expires_at: UnixTime,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CaptureContext {
    cid: String,
    kind: PacketKind,
}

/// What a face capture request is bound to: the finger capture it was issued with, so a photo
/// of one capture cannot be submitted with the fingers of another.
#[derive(serde::Serialize, serde::Deserialize)]
struct FaceContext {
    cid: String,
    kind: PacketKind,
    fingers: String,
}

/// The ten fingers, as three slaps (left four, right four, two thumbs), in one transaction.
fn ten_fingers() -> Vec<BioRequest> {
    [("1", 4), ("2", 4), ("3", 2)]
        .into_iter()
        .enumerate()
        .map(|(i, (slap, count))| BioRequest {
            bio_type: "Finger".into(),
            count,
            bio_sub_type: Vec::new(),
            exception: Vec::new(),
            requested_score: 60,
            device_id: "1".into(),
            device_sub_id: slap.into(),
            previous_hash: if i == 0 { sbi::verify::chain_start() } else { String::new() },
        })
        .collect()
}

/// One face photo from the officer's camera (SBI `Face`, `bioSubType` empty), its own chain.
/// `deviceId` is the simulator's camera until the console fills in the discovered one.
fn face_photo_request() -> Vec<BioRequest> {
    vec![BioRequest {
        bio_type: "Face".into(),
        count: 1,
        bio_sub_type: Vec::new(),
        exception: Vec::new(),
        requested_score: 60,
        device_id: sbi::simulator::FACE_DEVICE_ID.into(),
        device_sub_id: "0".into(),
        previous_hash: sbi::verify::chain_start(),
    }]
}

fn json(v: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::internal(e.to_string()))
}

/// Whether a packet of `kind` must carry a face photo.
fn face_required(idp: &Idp, kind: PacketKind) -> bool {
    kind == PacketKind::Enrolment && idp.config.enrolment.require_face
}

fn rfc3339(now: UnixTime) -> Result<String> {
    time::OffsetDateTime::from_unix_timestamp(now)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .ok_or_else(|| Error::internal("time"))
}

fn device_env(idp: &Idp) -> Result<Env> {
    Env::parse(&idp.config.enrolment.device_env).ok_or_else(|| Error::Config("enrolment.device_env".into()))
}

/// Checks that `cid` can be enrolled (alive, not already biometrically enrolled) or
/// re-verified (an open digital ID with enrolled fingers); returns the account, if any.
async fn eligible(
    idp: &Idp,
    cid: &Cid,
    kind: PacketKind,
) -> std::result::Result<Option<store::login::AccountRow>, Stop> {
    let c = [("cid", cid.as_str())];
    let Some(person) = store::registry::person(&idp.db, cid).await? else {
        return Err(Refusal::new("enrol.refusal.not_in_registry", &c).not_found().into());
    };
    if !person.is_alive() {
        return refuse("enrol.refusal.deceased", &c);
    }
    let account = store::login::account_by_cid(&idp.db, cid.as_str()).await?;
    let enrolled = match &account {
        Some(a) => !store::enrolment::templates_of(&idp.db, &a.id).await?.is_empty(),
        None => false,
    };
    if account.as_ref().is_some_and(|a| a.status == "closed") {
        return refuse("enrol.refusal.closed", &c);
    }
    match kind {
        PacketKind::Enrolment if enrolled => refuse("enrol.refusal.already_enrolled", &c),
        PacketKind::Reverification if !enrolled => refuse("enrol.refusal.nothing_to_reverify", &c),
        _ => Ok(account),
    }
}

/// What the console can do for `cid`: enrol them, or re-verify an enrolled digital ID; the
/// reason otherwise (deceased, closed, not in the registry).
pub async fn check_eligible(idp: &Idp, cid: &Cid) -> std::result::Result<PacketKind, Stop> {
    match eligible(idp, cid, PacketKind::Enrolment).await {
        Ok(_) => Ok(PacketKind::Enrolment),
        Err(Stop::Failed(e)) => Err(Stop::Failed(e)),
        Err(e) => match eligible(idp, cid, PacketKind::Reverification).await {
            Ok(_) => Ok(PacketKind::Reverification),
            Err(Stop::Failed(f)) => Err(Stop::Failed(f)),
            Err(_) => Err(e),
        },
    }
}

/// The first step of a capture: checks the person and makes the request the scanner signs.
pub async fn start_capture(
    idp: &Idp,
    officer: &OfficerRow,
    cid: &Cid,
    kind: PacketKind,
    now: UnixTime,
) -> Result<CaptureStart> {
    try_start_capture(idp, officer, cid, kind, now).await.map_err(|s| s.into_error(idp))
}

/// [`start_capture`], with the refusals for the console to say in the officer's language.
pub async fn try_start_capture(
    idp: &Idp,
    officer: &OfficerRow,
    cid: &Cid,
    kind: PacketKind,
    now: UnixTime,
) -> std::result::Result<CaptureStart, Stop> {
    trust_store(idp)?;
    eligible(idp, cid, kind).await?;
    let request = CaptureRequest {
        env: device_env(idp)?,
        purpose: Purpose::Registration,
        spec_version: sbi::messages::SPEC_VERSION.into(),
        timeout: 30_000,
        capture_time: rfc3339(now)?,
        domain_uri: None,
        transaction_id: crate::domain::secrets::random_token()?,
        registration_id: None,
        bio: ten_fingers(),
        custom_opts: Default::default(),
    };
    let face = CaptureRequest {
        transaction_id: crate::domain::secrets::random_token()?,
        bio: face_photo_request(),
        ..request.clone()
    };
    let expires_at = now + idp.config.enrolment.capture_ttl;
    let state = json(&request)?;
    let context = json(&CaptureContext { cid: cid.as_str().to_owned(), kind })?;
    store::login::put_ceremony(
        &idp.db,
        &request.transaction_id,
        CAPTURE_KIND,
        &state,
        Some(&officer.account_id),
        &context,
        now,
        expires_at,
    )
    .await?;
    let face_context =
        json(&FaceContext { cid: cid.as_str().to_owned(), kind, fingers: request.transaction_id.clone() })?;
    store::login::put_ceremony(
        &idp.db,
        &face.transaction_id,
        FACE_CAPTURE_KIND,
        &json(&face)?,
        Some(&officer.account_id),
        &face_context,
        now,
        expires_at,
    )
    .await?;
    Ok(CaptureStart { request, face, face_required: face_required(idp, kind), expires_at })
}

/// The trusted device-provider CAs, from `enrolment.trusted_device_cas`: read and parsed once
/// per process (a changed file takes a restart, like the rest of the configuration).
fn trust_store(idp: &Idp) -> std::result::Result<&sbi::trust::TrustStore, Stop> {
    if let Some(t) = idp.device_trust.get() {
        return Ok(t);
    }
    let path = &idp.config.enrolment.trusted_device_cas;
    if path.as_os_str().is_empty() {
        return refuse("enrol.refusal.not_configured", &[]);
    }
    let pem = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("enrolment.trusted_device_cas {}: {e}", path.display())))?;
    let store = sbi::trust::TrustStore::from_pem(&pem)
        .map_err(|e| Error::Config(format!("enrolment.trusted_device_cas: {e}")))?;
    Ok(idp.device_trust.get_or_init(|| store))
}

/// What the console submits: the packet id it chose, the transaction and the device's answer.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// Chosen by the console before the first upload (16 to 64 URL-safe characters): a retry
    /// of the same upload is recognised by it.
    pub packet_id: String,
    /// The transactionId of [`start_capture`].
    pub transaction_id: String,
    /// The scanner's RCAPTURE response, verbatim.
    pub response: Box<serde_json::value::RawValue>,
    /// The face photo (required for enrolments unless `enrolment.require_face` is off).
    #[serde(default)]
    pub face: Option<FaceSubmission>,
}

/// The camera's answer to the face request of [`CaptureStart`].
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaceSubmission {
    /// The transactionId of [`CaptureStart::face`].
    pub transaction_id: String,
    /// The camera's RCAPTURE response, verbatim.
    pub response: Box<serde_json::value::RawValue>,
}

/// What became of a packet.
#[derive(Debug, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// A digital ID was issued (or an existing one enrolled): the activation code to hand over.
    Issued {
        /// The packet.
        packet_id: String,
        /// Whose.
        cid: String,
        /// One-time activation code (to print for the citizen).
        activation_code: Option<String>,
        /// Where to activate.
        activation_url: String,
        /// Until when.
        expires_at: Option<UnixTime>,
    },
    /// Possible duplicates: a supervisor decides.
    Adjudication {
        /// The packet.
        packet_id: String,
        /// The case.
        case_id: String,
        /// How many enrolled people matched.
        candidates: usize,
    },
    /// A supervisor decided this is someone already enrolled.
    Refused {
        /// The packet.
        packet_id: String,
    },
    /// Re-verified: the passkeys were revoked and a new activation code issued.
    Verified {
        /// The packet.
        packet_id: String,
        /// Whose.
        cid: String,
        /// One-time activation code.
        activation_code: String,
        /// Where to activate.
        activation_url: String,
        /// Until when.
        expires_at: UnixTime,
    },
    /// Re-verification failed: the fingers do not match the enrolled ones.
    NotMatched {
        /// The packet.
        packet_id: String,
    },
}

/// Why the console cannot go on, in words the officer can act on: a catalogue key
/// (`enrol.refusal.*`) and the values of its placeholders, so the console says it in the
/// officer's language. The CLI, the log and the API get the English of the same entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The catalogue key.
    pub key: &'static str,
    /// `{name}` → value, filled in after the translation.
    pub args: Vec<(&'static str, String)>,
    /// Answered as 404 (a CID or a case that does not exist) rather than 400.
    pub not_found: bool,
    /// Fingers under the quality minimum (finger, score, minimum): the `{fingers}` placeholder,
    /// each named in the officer's language (`enrol.finger.*`, `enrol.refusal.quality_finger`).
    pub shortfalls: Vec<(biometric_adapter::template::FingerPosition, f64, f64)>,
}

impl Refusal {
    fn new(key: &'static str, args: &[(&'static str, &str)]) -> Self {
        Self {
            key,
            args: args.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
            not_found: false,
            shortfalls: Vec::new(),
        }
    }

    fn not_found(mut self) -> Self {
        self.not_found = true;
        self
    }

    /// The refusal in `t`'s language.
    pub fn text(&self, t: T<'_>) -> String {
        let mut args = self.args.clone();
        if !self.shortfalls.is_empty() {
            let fingers = self
                .shortfalls
                .iter()
                .map(|(finger, score, minimum)| {
                    fill(
                        t.get("enrol.refusal.quality_finger"),
                        &[
                            ("finger", finger_name(t, *finger).to_owned()),
                            ("score", format!("{score:.0}")),
                            ("minimum", format!("{minimum:.0}")),
                        ],
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            args.push(("fingers", fingers));
        }
        fill(t.get(self.key), &args)
    }
}

/// A finger's name in `t`'s language (`enrol.finger.LF_INDEX`, ...).
pub fn finger_name<'a>(t: T<'a>, finger: biometric_adapter::template::FingerPosition) -> &'a str {
    t.get(&format!("enrol.finger.{}", sbi::messages::sub_type_name(finger)))
}

/// `template` with each `{name}` replaced by its value (values are not searched again).
pub fn fill(template: &str, args: &[(&'static str, String)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').and_then(|close| {
            let name = &after[..close];
            args.iter().find(|(k, _)| *k == name).map(|(_, v)| (close, v))
        }) {
            Some((close, v)) => {
                out.push_str(v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// How a console step ends when it does not succeed: a refusal the officer can act on, or a
/// failure (database, configuration, a bug) mapped like any other error.
#[derive(Debug)]
pub enum Stop {
    /// Said to the officer in their language.
    Refused(Refusal),
    /// Everything else.
    Failed(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Failed(e)
    }
}

impl From<Refusal> for Stop {
    fn from(r: Refusal) -> Self {
        Stop::Refused(r)
    }
}

impl Stop {
    /// The crate error, a refusal in English (for the CLI, the demo and the API).
    pub fn into_error(self, idp: &Idp) -> Error {
        match self {
            Stop::Refused(r) if r.not_found => Error::NotFound(r.text(idp.i18n.t(Lang::En))),
            Stop::Refused(r) => Error::Invalid(r.text(idp.i18n.t(Lang::En))),
            Stop::Failed(e) => e,
        }
    }
}

fn refuse<T>(key: &'static str, args: &[(&'static str, &str)]) -> std::result::Result<T, Stop> {
    Err(Stop::Refused(Refusal::new(key, args)))
}

fn check_packet_id(id: &str) -> std::result::Result<(), Stop> {
    if !(16..=64).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return refuse("enrol.refusal.packet_id", &[]);
    }
    Ok(())
}

fn packet_aad(id: &str) -> Vec<u8> {
    format!("enrolment-packet:{id}").into_bytes()
}

fn template_aad(account_id: &str, finger: u8) -> Vec<u8> {
    format!("biometric:{account_id}:{finger}").into_bytes()
}

/// The minutiae records of verified captures: the simulator's (and some scanners') minutiae
/// records as they are; a real scanner's finger images (ISO/IEC 19794-4) through NIST's MINDTCT.
/// Extraction is CPU work (tens of milliseconds a finger), so it runs off the async threads.
/// Every finger under its minimum, named with its score: the officer recaptures exactly those.
fn quality_refusal(shortfalls: &[(biometric_adapter::template::FingerPosition, f64, f64)]) -> Refusal {
    Refusal { shortfalls: shortfalls.to_vec(), ..Refusal::new("enrol.refusal.quality", &[]) }
}

async fn records(captures: &[VerifiedCapture]) -> Result<Vec<Record>> {
    let mut out = Vec::with_capacity(captures.len());
    for c in captures {
        out.push(match &c.format {
            BioFormat::MinutiaeRecord(r) => (**r).clone(),
            BioFormat::FingerImage => extract_image(c.biometric.clone(), c.finger, &c.bio_sub_type).await?,
        });
    }
    Ok(out)
}

async fn extract_image(
    image: Vec<u8>,
    finger: biometric_adapter::template::FingerPosition,
    name: &str,
) -> Result<Record> {
    use biometric_adapter::finger_image::{Capture, SbiField};
    let name = name.to_owned();
    tokio::task::spawn_blocking(move || {
        let capture = Capture::from_bytes(&image, SbiField::BioValue, 500)
            .map_err(|e| Error::Invalid(format!("the {name} finger image: {e}")))?;
        if capture.finger != finger && capture.finger != biometric_adapter::template::FingerPosition::Unknown {
            return Err(Error::Invalid(format!("the {name} finger image is labelled as another finger")));
        }
        biometric_adapter::extract::extract(&capture)
            .map_err(|e| Error::Invalid(format!("the {name} finger image: {e}")))
    })
    .await
    .map_err(|e| Error::internal(format!("extraction failed: {e}")))?
}

/// `POST /enrol/submit`: re-verifies every device signature of the capture, checks quality,
/// then de-duplicates (enrolment) or compares 1:1 (re-verification). A packet id seen before
/// with the same content returns the first outcome.
pub async fn submit(idp: &Idp, officer: &OfficerRow, sub: &Submission, now: UnixTime) -> Result<Outcome> {
    try_submit(idp, officer, sub, now).await.map_err(|s| s.into_error(idp))
}

/// [`submit`], with the refusals for the console to say in the officer's language.
pub async fn try_submit(
    idp: &Idp,
    officer: &OfficerRow,
    sub: &Submission,
    now: UnixTime,
) -> std::result::Result<Outcome, Stop> {
    check_packet_id(&sub.packet_id)?;
    let body = sub.response.get().as_bytes();
    if body.len() > MAX_RESPONSE_BYTES {
        return refuse("enrol.refusal.too_large", &[]);
    }
    let face_limit = (MAX_FACE_BYTES / 1024).to_string();
    if sub.face.as_ref().is_some_and(|f| f.response.get().len() > MAX_FACE_RESPONSE_BYTES) {
        return refuse("enrol.refusal.face_too_large", &[("limit", &face_limit)]);
    }
    let digest = {
        let mut c = ring::digest::Context::new(&ring::digest::SHA256);
        c.update(sub.transaction_id.as_bytes());
        c.update(&[0]);
        c.update(body);
        // A packet without a photo keeps the digest it always had.
        if let Some(f) = &sub.face {
            c.update(&[0]);
            c.update(f.transaction_id.as_bytes());
            c.update(&[0]);
            c.update(f.response.get().as_bytes());
        }
        hex::encode(c.finish())
    };
    if let Some(p) = store::enrolment::packet(&idp.db, &sub.packet_id).await? {
        if p.digest != digest || p.officer != officer.account_id {
            return refuse("enrol.refusal.packet_reused", &[]);
        }
        return Ok(replay_outcome(idp, &p, now).await?);
    }
    // The transaction: issued by us, to this officer, unexpired, and now consumed (a replayed
    // transactionId finds nothing).
    let Some(ceremony) = store::login::take_ceremony(&idp.db, &sub.transaction_id, &[CAPTURE_KIND], now).await? else {
        return refuse("enrol.refusal.transaction", &[]);
    };
    if ceremony.account_id.as_deref() != Some(officer.account_id.as_str()) {
        return refuse("enrol.refusal.other_officer", &[]);
    }
    let request: CaptureRequest = serde_json::from_str(&ceremony.state).map_err(|e| Error::internal(e.to_string()))?;
    let context: CaptureContext =
        serde_json::from_str(&ceremony.context).map_err(|e| Error::internal(e.to_string()))?;
    let cid = Cid::parse(&context.cid).map_err(|e| Error::internal(e.to_string()))?;
    let at = time::OffsetDateTime::from_unix_timestamp(now).map_err(|e| Error::internal(e.to_string()))?;
    // The photo's transaction: issued with this finger capture, to this officer, and now
    // consumed too.
    let face = match &sub.face {
        Some(f) => Some(take_face_request(idp, officer, f, &sub.transaction_id, now).await?),
        None if face_required(idp, context.kind) => return refuse("enrol.refusal.face_missing", &[]),
        None => None,
    };
    let options = VerifyOptions { max_response_bytes: MAX_RESPONSE_BYTES, ..VerifyOptions::default() };
    let captures = match sbi::verify::verify_capture_response(body, &request, trust_store(idp)?, None, &options, at) {
        Ok(c) => c,
        Err(e) => return refuse("enrol.refusal.device", &[("reason", &e.to_string())]),
    };
    let face = match (&sub.face, face) {
        (Some(f), Some(face_request)) => {
            let verified = verify_face(idp, f, &face_request, at)?;
            Some((face_request, verified))
        }
        _ => None,
    };
    let policy =
        sbi::quality::QualityPolicy::new(idp.config.enrolment.min_quality).map_err(|e| Error::Config(e.to_string()))?;
    let shortfalls: Vec<_> = captures
        .iter()
        .filter(|c| c.quality < policy.minimum(c.finger))
        .map(|c| (c.finger, c.quality, policy.minimum(c.finger)))
        .collect();
    if !shortfalls.is_empty() {
        return Err(Stop::Refused(quality_refusal(&shortfalls)));
    }
    let records = records(&captures).await?;
    let account = eligible(idp, &cid, context.kind).await?;

    let mut evidence = serde_json::json!({
        "request": request,
        "response": serde_json::from_str::<serde_json::Value>(sub.response.get()).map_err(|e| Error::internal(e.to_string()))?,
        "devices": captures.iter().map(|c| &c.device_code).collect::<std::collections::BTreeSet<_>>(),
        "officer_cid": officer.cid,
    });
    if let (Some(f), Some((face_request, verified))) = (&sub.face, &face) {
        // The camera's signed answer as it came, for an auditor to verify again; the photo is
        // read from it (see [`face_photo`]).
        evidence["face"] = serde_json::json!({
            "request": face_request,
            "response": serde_json::from_str::<serde_json::Value>(f.response.get()).map_err(|e| Error::internal(e.to_string()))?,
            "device": verified.device_code,
            "signer": verified.signer,
            "quality": verified.quality,
        });
    }
    let sealed = idp.kek().seal(&packet_aad(&sub.packet_id), evidence.to_string().as_bytes())?;
    let packet = PacketRow {
        id: sub.packet_id.clone(),
        kind: context.kind.as_str().into(),
        cid: cid.as_str().into(),
        officer: officer.account_id.clone(),
        centre: officer.centre.clone(),
        captures: base64::engine::general_purpose::STANDARD.encode(sealed),
        digest,
        outcome: String::new(),
        account_id: None,
        submitted_at: now,
    };
    match context.kind {
        PacketKind::Enrolment => Ok(enrol(idp, packet, &records, account, now).await?),
        PacketKind::Reverification => Ok(reverify(idp, packet, &records, account, now).await?),
    }
}

/// Takes the face photo's capture request: issued by us with the finger capture `fingers`, to
/// this officer, unexpired and unused (it is consumed here).
async fn take_face_request(
    idp: &Idp,
    officer: &OfficerRow,
    face: &FaceSubmission,
    fingers: &str,
    now: UnixTime,
) -> std::result::Result<CaptureRequest, Stop> {
    let Some(ceremony) = store::login::take_ceremony(&idp.db, &face.transaction_id, &[FACE_CAPTURE_KIND], now).await?
    else {
        return refuse("enrol.refusal.face_transaction", &[]);
    };
    if ceremony.account_id.as_deref() != Some(officer.account_id.as_str()) {
        return refuse("enrol.refusal.other_officer", &[]);
    }
    let context: FaceContext = serde_json::from_str(&ceremony.context).map_err(|e| Error::internal(e.to_string()))?;
    if context.fingers != fingers {
        return refuse("enrol.refusal.face_transaction", &[]);
    }
    Ok(serde_json::from_str(&ceremony.state).map_err(|e| Error::internal(e.to_string()))?)
}

/// Verifies the camera's answer exactly as the fingers are verified (the same trusted
/// device-provider CAs, the request's transactionId, purpose and environment, the hash chain,
/// freshness), then the 19794-5 record and the photo in it, within [`MAX_FACE_BYTES`].
fn verify_face(
    idp: &Idp,
    face: &FaceSubmission,
    request: &CaptureRequest,
    at: time::OffsetDateTime,
) -> std::result::Result<sbi::verify::VerifiedFace, Stop> {
    let options = VerifyOptions {
        max_response_bytes: MAX_FACE_RESPONSE_BYTES,
        max_captures: 1,
        max_bio_value_bytes: MAX_FACE_BYTES,
        ..VerifyOptions::default()
    };
    let body = face.response.get().as_bytes();
    match sbi::verify::verify_face_response(body, request, trust_store(idp)?, None, &options, at) {
        Ok(v) => Ok(v),
        Err(sbi::SbiError::TooLarge { .. }) => {
            refuse("enrol.refusal.face_too_large", &[("limit", &(MAX_FACE_BYTES / 1024).to_string())])
        }
        Err(sbi::SbiError::Malformed { what, reason }) if what == "the face image record" => {
            refuse("enrol.refusal.face_record", &[("reason", &reason)])
        }
        Err(e) => refuse("enrol.refusal.face_device", &[("reason", &e.to_string())]),
    }
}

/// The sealed evidence of a packet, opened.
fn open_evidence(idp: &Idp, packet: &PacketRow) -> Result<serde_json::Value> {
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(&packet.captures)
        .map_err(|_| Error::internal("packet encoding"))?;
    serde_json::from_slice(&idp.kek().open(&packet_aad(&packet.id), &sealed)?)
        .map_err(|e| Error::internal(e.to_string()))
}

/// The face photo of a stored packet, if it has one: read from the camera's signed answer kept
/// in the packet (verified when the packet was submitted; read again here without the signature
/// checks, whose certificates may since have expired).
pub fn face_photo(idp: &Idp, packet: &PacketRow) -> Result<Option<sbi::face::FaceImage>> {
    let evidence = open_evidence(idp, packet)?;
    let Some(response) = evidence.get("face").and_then(|f| f.get("response")) else {
        return Ok(None);
    };
    let response: sbi::messages::CaptureResponse =
        serde_json::from_value(response.clone()).map_err(|e| Error::internal(e.to_string()))?;
    let data = response
        .biometrics
        .first()
        .and_then(|b| b.data.as_deref())
        .ok_or_else(|| Error::internal("a stored face capture without data"))?;
    let payload = sbi::jws::parse("stored face capture", data).map_err(|e| Error::internal(e.to_string()))?;
    let c: sbi::messages::CaptureData =
        serde_json::from_slice(payload.payload_unverified()).map_err(|e| Error::internal(e.to_string()))?;
    let record = sbi::jws::decode_unsigned("bioValue", &c.bio_value).map_err(|e| Error::internal(e.to_string()))?;
    Ok(Some(sbi::face::parse_record(&record).map_err(|e| Error::internal(e.to_string()))?))
}

/// The face photo an enrolled person was issued with (their issuing packet's), if any.
pub async fn enrolled_face_photo(idp: &Idp, account_id: &str) -> Result<Option<sbi::face::FaceImage>> {
    match store::enrolment::issuing_packet(&idp.db, account_id).await? {
        Some(p) => face_photo(idp, &p),
        None => Ok(None),
    }
}

/// Keeps the built-in ABIS in step with the database (other instances enrol too).
pub async fn sync_abis(idp: &Idp) -> Result<()> {
    if idp.mosip_abis.is_some() {
        // An external ABIS keeps its own gallery.
        return Ok(());
    }
    let mut seen = idp.abis_watermark.lock().await;
    let mut known = idp.abis_known.lock().await;
    let rows = store::enrolment::templates_since(&idp.db, *seen - 1).await?;
    let mut by_account: std::collections::BTreeMap<String, Vec<Record>> = Default::default();
    let mut newest = *seen;
    for r in rows {
        newest = newest.max(r.created_at);
        if known.contains(&r.account_id) {
            continue;
        }
        let finger = u8::try_from(r.finger).map_err(|_| Error::internal("finger code"))?;
        let plain = idp.kek().open(&template_aad(&r.account_id, finger), &r.sealed)?;
        let record = biometric_adapter::template::parse(&plain).map_err(|e| Error::internal(e.to_string()))?;
        by_account.entry(r.account_id).or_default().push(record);
    }
    for (account, records) in by_account {
        idp.abis.insert(&account, &records).await.map_err(|e| Error::internal(e.to_string()))?;
        known.insert(account);
    }
    *seen = newest;
    Ok(())
}

fn fmr(rate: f64) -> Result<FalseMatchRate> {
    FalseMatchRate::new(rate).map_err(|e| Error::Config(e.to_string()))
}

async fn enrol(
    idp: &Idp,
    mut packet: PacketRow,
    records: &[Record],
    account: Option<store::login::AccountRow>,
    now: UnixTime,
) -> Result<Outcome> {
    // One de-duplication at a time per instance: two people enrolled at once must each be
    // searched against the other.
    let _one = idp.enrol_lock.lock().await;
    sync_abis(idp).await?;
    let request = IdentifyRequest { target: fmr(idp.config.enrolment.dedup_fmr)?, max_results: 10, gallery: None };
    let found = idp.abis.identify(records, &request).await.map_err(|e| Error::Invalid(e.to_string()))?;
    if found.is_empty() {
        return issue(idp, packet, records, account, true, None, now).await;
    }
    let mut candidates = Vec::new();
    for c in &found {
        let cid = store::login::account(&idp.db, &c.reference_id).await?.map(|a| a.cid).unwrap_or_default();
        candidates.push(serde_json::json!({
            "account_id": c.reference_id, "cid": cid, "false_match_rate": c.false_match_rate, "fingers": c.fingers,
        }));
    }
    let case_id = crate::domain::secrets::random_id()?;
    packet.outcome = "adjudication".into();
    let decision = Decision {
        packet: packet.clone(),
        new_packet: true,
        templates: Vec::new(),
        open_case: Some((case_id.clone(), serde_json::Value::Array(candidates).to_string())),
        raise_assurance: None,
        decide_case: None,
    };
    if !store::enrolment::record_decision(&idp.db, decision).await? {
        return Err(Error::Invalid("this packet was submitted at the same time by another upload".into()));
    }
    idp.audit(
        NewEntry::new(
            Event::EnrolmentAdjudication,
            format!("account:{}", packet.officer),
            format!("packet:{}", packet.id),
        )
        .detail(serde_json::json!({"case": case_id, "candidates": found.len(), "centre": packet.centre})),
        now,
    )
    .await?;
    Ok(Outcome::Adjudication { packet_id: packet.id, case_id, candidates: found.len() })
}

/// Issues (or enrols an existing, not yet enrolled) digital ID for the packet's person, stores
/// the fingers and adds them to the ABIS.
async fn issue(
    idp: &Idp,
    mut packet: PacketRow,
    records: &[Record],
    account: Option<store::login::AccountRow>,
    new_packet: bool,
    decide_case: Option<CaseDecision>,
    now: UnixTime,
) -> Result<Outcome> {
    let cid = Cid::parse(&packet.cid).map_err(|e| Error::internal(e.to_string()))?;
    let actor = format!("account:{}", packet.officer);
    // A digital ID that is already active keeps its passkeys: it only gains the evidence.
    let (account_id, code) = match account.filter(|a| a.status == "active") {
        Some(a) => (a.id, None),
        None => {
            let issued = idp.issue_citizen(&cid, &actor, now).await?;
            (issued.account_id.clone(), Some(issued))
        }
    };
    // Each SBI capture is one finger's record (the verifier checked that its views are that
    // finger), stored as it came, sealed and bound to the account and finger.
    let mut templates = Vec::new();
    for r in records {
        let finger =
            r.views().first().map(|v| v.finger_position().code()).ok_or_else(|| Error::internal("empty record"))?;
        let bytes = biometric_adapter::template::write(r);
        templates.push(TemplateRow {
            account_id: account_id.clone(),
            finger: i64::from(finger),
            sealed: idp.kek().seal(&template_aad(&account_id, finger), &bytes)?,
            packet_id: packet.id.clone(),
            created_at: now,
        });
    }
    packet.outcome = "issued".into();
    packet.account_id = Some(account_id.clone());
    let decision = Decision {
        packet: packet.clone(),
        new_packet,
        templates,
        open_case: None,
        raise_assurance: Some(ACR_HIGH.into()),
        decide_case,
    };
    if !store::enrolment::record_decision(&idp.db, decision).await? {
        return Err(Error::Invalid("this packet or case was decided at the same time by someone else".into()));
    }
    idp.abis.insert(&account_id, records).await.map_err(|e| Error::internal(e.to_string()))?;
    idp.abis_known.lock().await.insert(account_id.clone());
    idp.audit(
        NewEntry::new(Event::EnrolmentIssued, actor, format!("account:{account_id}"))
            .detail(serde_json::json!({"packet": packet.id, "centre": packet.centre, "fingers": records.len()})),
        now,
    )
    .await?;
    Ok(Outcome::Issued {
        packet_id: packet.id,
        cid: cid.as_str().into(),
        activation_url: idp.url("/activate"),
        expires_at: code.as_ref().map(|c| c.expires_at),
        activation_code: code.map(|c| c.activation_code),
    })
}

async fn reverify(
    idp: &Idp,
    mut packet: PacketRow,
    records: &[Record],
    account: Option<store::login::AccountRow>,
    now: UnixTime,
) -> Result<Outcome> {
    let account = account.ok_or_else(|| Error::internal("re-verification without an account"))?;
    let mut enrolled = Vec::new();
    for t in store::enrolment::templates_of(&idp.db, &account.id).await? {
        let finger = u8::try_from(t.finger).map_err(|_| Error::internal("finger code"))?;
        let plain = idp.kek().open(&template_aad(&account.id, finger), &t.sealed)?;
        enrolled.push(biometric_adapter::template::parse(&plain).map_err(|e| Error::internal(e.to_string()))?);
    }
    let (probe, gallery) = (
        biometric_adapter::abis::subject_of(records).map_err(|e| Error::Invalid(e.to_string()))?,
        biometric_adapter::abis::subject_of(&enrolled).map_err(|e| Error::internal(e.to_string()))?,
    );
    let v = biometric_adapter::matcher::verify(&probe, &gallery, fmr(idp.config.enrolment.verify_fmr)?);
    let actor = format!("account:{}", packet.officer);
    packet.account_id = Some(account.id.clone());
    packet.outcome = if v.is_match { "verified" } else { "not_matched" }.into();
    let decision = Decision {
        packet: packet.clone(),
        new_packet: true,
        templates: Vec::new(),
        open_case: None,
        raise_assurance: None,
        decide_case: None,
    };
    if !store::enrolment::record_decision(&idp.db, decision).await? {
        return Err(Error::Invalid("this packet was submitted at the same time by another upload".into()));
    }
    idp.audit(
        NewEntry::new(Event::EnrolmentReverified, actor.clone(), format!("account:{}", account.id)).detail(
            serde_json::json!({"packet": packet.id, "matched": v.is_match, "false_match_rate": v.false_match_rate}),
        ),
        now,
    )
    .await?;
    if !v.is_match {
        return Ok(Outcome::NotMatched { packet_id: packet.id });
    }
    let cid = Cid::parse(&account.cid).map_err(|e| Error::internal(e.to_string()))?;
    let issued = idp.reset_passkeys(&cid, &actor, now).await?;
    Ok(Outcome::Verified {
        packet_id: packet.id,
        cid: account.cid,
        activation_code: issued.activation_code,
        activation_url: issued.activation_url,
        expires_at: issued.expires_at,
    })
}

/// A retried upload: the first outcome again (an issued ID that is still waiting for
/// activation gets a fresh code, since the officer may never have seen the first).
async fn replay_outcome(idp: &Idp, p: &PacketRow, now: UnixTime) -> Result<Outcome> {
    let id = p.id.clone();
    Ok(match p.outcome.as_str() {
        "issued" => {
            let cid = Cid::parse(&p.cid).map_err(|e| Error::internal(e.to_string()))?;
            let pending = match &p.account_id {
                Some(a) => store::login::account(&idp.db, a).await?.is_some_and(|a| a.status == "pending"),
                None => false,
            };
            let code = if pending {
                Some(idp.issue_citizen(&cid, &format!("account:{}", p.officer), now).await?)
            } else {
                None
            };
            Outcome::Issued {
                packet_id: id,
                cid: p.cid.clone(),
                activation_url: idp.url("/activate"),
                expires_at: code.as_ref().map(|c| c.expires_at),
                activation_code: code.map(|c| c.activation_code),
            }
        }
        "adjudication" => {
            let case = store::enrolment::case_of_packet(&idp.db, &p.id).await?;
            let candidates = case
                .as_ref()
                .and_then(|c| serde_json::from_str::<Vec<serde_json::Value>>(&c.candidates).ok())
                .map_or(0, |v| v.len());
            Outcome::Adjudication { packet_id: id, case_id: case.map(|c| c.id).unwrap_or_default(), candidates }
        }
        "refused" => Outcome::Refused { packet_id: id },
        "not_matched" => Outcome::NotMatched { packet_id: id },
        _ => return Err(Error::Invalid("this packet was already processed; start a new capture".into())),
    })
}

/// A supervisor's decision on an adjudication case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The candidates are other people: issue the digital ID.
    Different,
    /// The person is already enrolled: refuse, and flag.
    Same,
}

/// Decides a case (supervisors).
pub async fn decide(
    idp: &Idp,
    supervisor: &OfficerRow,
    case_id: &str,
    verdict: Verdict,
    note: &str,
    now: UnixTime,
) -> std::result::Result<Outcome, Stop> {
    let note = note.trim();
    if note.chars().count() > 500 || note.chars().any(|c| c.is_control() && c != '\n') {
        return refuse("case.refusal.note", &[]);
    }
    let Some(case) = store::enrolment::case(&idp.db, case_id).await? else {
        return Err(Refusal::new("case.refusal.no_case", &[]).not_found().into());
    };
    if case.status != "open" {
        return refuse("case.refusal.decided", &[]);
    }
    let packet = store::enrolment::packet(&idp.db, &case.packet_id)
        .await?
        .ok_or_else(|| Error::internal("a case without its packet"))?;
    if packet.officer == supervisor.account_id {
        return refuse("case.refusal.own", &[]);
    }
    let status = match verdict {
        Verdict::Different => "different",
        Verdict::Same => "same",
    };
    let decision = CaseDecision {
        id: case.id.clone(),
        status: status.into(),
        by: supervisor.account_id.clone(),
        note: note.into(),
        at: now,
    };
    idp.audit(
        NewEntry::new(Event::AdjudicationDecided, format!("account:{}", supervisor.account_id), format!("case:{}", case.id))
            .detail(serde_json::json!({"verdict": status, "packet": packet.id, "cid": packet.cid, "candidates": serde_json::from_str::<serde_json::Value>(&case.candidates).unwrap_or_default(), "note": note})),
        now,
    )
    .await?;
    match verdict {
        Verdict::Different => {
            let evidence = open_evidence(idp, &packet)?;
            let records = records_from_evidence(&evidence).await?;
            let cid = Cid::parse(&packet.cid).map_err(|e| Error::internal(e.to_string()))?;
            let account = eligible(idp, &cid, PacketKind::Enrolment).await?;
            let _one = idp.enrol_lock.lock().await;
            Ok(issue(idp, packet, &records, account, false, Some(decision), now).await?)
        }
        Verdict::Same => {
            let mut packet = packet;
            packet.outcome = "refused".into();
            let d = Decision {
                packet: packet.clone(),
                new_packet: false,
                templates: Vec::new(),
                open_case: None,
                raise_assurance: None,
                decide_case: Some(decision),
            };
            if !store::enrolment::record_decision(&idp.db, d).await? {
                return refuse("case.refusal.decided", &[]);
            }
            Ok(Outcome::Refused { packet_id: packet.id })
        }
    }
}

/// The records inside a stored packet (verified when it was submitted; read again here
/// without the signature checks, whose certificates may since have expired).
async fn records_from_evidence(evidence: &serde_json::Value) -> Result<Vec<Record>> {
    let response: sbi::messages::CaptureResponse =
        serde_json::from_value(evidence["response"].clone()).map_err(|e| Error::internal(e.to_string()))?;
    let mut out = Vec::new();
    for entry in response.biometrics {
        let data = entry.data.ok_or_else(|| Error::internal("a stored capture without data"))?;
        let payload = sbi::jws::parse("stored capture", &data)
            .map_err(|e| Error::internal(e.to_string()))?
            .payload_unverified()
            .to_vec();
        let c: sbi::messages::CaptureData =
            serde_json::from_slice(&payload).map_err(|e| Error::internal(e.to_string()))?;
        let finger = sbi::messages::finger_from_sub_type(&c.bio_sub_type).ok_or_else(|| Error::internal("finger"))?;
        let value = sbi::jws::decode_unsigned("bioValue", &c.bio_value).map_err(|e| Error::internal(e.to_string()))?;
        match sbi::verify::read_biometric(finger, value, c.bio_extract.as_deref())
            .map_err(|e| Error::internal(e.to_string()))?
        {
            (_, BioFormat::MinutiaeRecord(r)) => out.push(*r),
            (_, BioFormat::FingerImage) => return Err(Error::internal("finger images are not supported yet")),
        }
    }
    Ok(out)
}
