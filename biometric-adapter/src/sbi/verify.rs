//! Verification of what a device returns: every signed element, the hash chain, the echoes and
//! the biometric inside. These functions take the raw response bytes and the request that was
//! sent, so the identity provider can re-verify what an officer's browser forwards, exactly as the
//! HTTP client verifies what it received.
//!
//! **Hash chain.** SBI 0.9.5 chains the captures of a transaction: the request's `previousHash`
//! starts the chain (the hex SHA-256 of the empty string for the first capture), and each
//! capture's `hash` is `hex(SHA-256(previousHash ‖ hex(SHA-256(bioValue))))` — the hex strings
//! concatenated as ASCII, the specification's "sha256 hash in hex format of the previous data
//! block + sha256 hash in hex format of the current data block", with the data block taken as the
//! decoded bioValue (the biometric before any encryption). Each capture's `hash` becomes the
//! next's `previousHash`, so a capture removed, added, reordered or swapped for another breaks
//! the chain. (MOSIP's mock device hashes the JWS text instead for RCAPTURE and the JSON payload
//! for CAPTURE; the specification's wording and the simulator follow the bioValue.)

use std::{collections::HashMap, sync::Mutex, time::Duration};

use sha2::{Digest as _, Sha256};

use super::{
    SbiError,
    jws::{self, decode_unsigned},
    messages::{
        CaptureData, CaptureRequest, CaptureResponse, DeviceInfo, DeviceInfoEntry, DigitalId, error_meaning,
        finger_from_sub_type, slap_fingers,
    },
    trust::TrustStore,
};
use crate::template::{self, FingerPosition, Record};

/// Limits and tolerances for verification.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VerifyOptions {
    /// Largest response body accepted.
    pub max_response_bytes: usize,
    /// Most captures in one response.
    pub max_captures: usize,
    /// Largest decoded bioValue.
    pub max_bio_value_bytes: usize,
    /// How far a capture's timestamp may be from `now` (device clocks drift; a capture older than
    /// this is stale).
    pub max_clock_skew: Duration,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            max_response_bytes: 16 << 20,
            max_captures: 10,
            max_bio_value_bytes: 2 << 20,
            max_clock_skew: Duration::from_secs(600),
        }
    }
}

/// A device whose signed information checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedDeviceInfo {
    /// The signed device information.
    pub info: DeviceInfo,
    /// Its signed digital id.
    pub digital_id: DigitalId,
    /// Subject of the certificate that signed the device information.
    pub signer: String,
}

/// The biometric a capture carries.
#[derive(Debug, Clone, PartialEq)]
pub enum BioFormat {
    /// An ISO/IEC 19794-2 (or ANSI 378) minutiae record, parsed: what the simulator sends.
    MinutiaeRecord(Box<Record>),
    /// An ISO/IEC 19794-4 finger image record ("FIR"): what a real scanner sends; the image
    /// extractor turns it into minutiae.
    FingerImage,
}

/// One capture that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedCapture {
    /// Which finger.
    pub finger: FingerPosition,
    /// The bioSubType as the device spelled it.
    pub bio_sub_type: String,
    /// The biometric (decoded bioValue, or bioExtract when bioValue is a bare image).
    pub biometric: Vec<u8>,
    /// What it is.
    pub format: BioFormat,
    /// The device's quality score (0-100).
    pub quality: f64,
    /// The score the request asked for, as the device echoed it.
    pub requested_score: Option<f64>,
    /// Device time of the capture.
    pub timestamp: time::OffsetDateTime,
    /// The transaction.
    pub transaction_id: String,
    /// The device's registration code.
    pub device_code: String,
    /// The device's digital id (verified).
    pub digital_id: DigitalId,
    /// Subject of the certificate that signed the capture.
    pub signer: String,
    /// This capture's hash-chain value.
    pub hash: String,
    /// The signed `data` JWS as received, kept so an auditor can re-verify the enrolment packet.
    pub signed_data: String,
}

/// The hex SHA-256 of the empty string: where a transaction's hash chain starts.
pub fn chain_start() -> String {
    hex::encode(Sha256::digest(b""))
}

/// The next hash-chain value after `previous` for a capture whose decoded bioValue is `bio_value`.
pub fn chain_next(previous: &str, bio_value: &[u8]) -> String {
    let current = hex::encode(Sha256::digest(bio_value));
    let mut h = Sha256::new();
    h.update(previous.as_bytes());
    h.update(current.as_bytes());
    hex::encode(h.finalize())
}

fn device_error(code: &str, info: &str) -> SbiError {
    let info: String = info.chars().filter(|c| !c.is_control()).take(200).collect();
    SbiError::Device { code: code.to_owned(), meaning: error_meaning(code), info }
}

fn failed(error: &Option<super::messages::DeviceErrorBody>) -> Option<SbiError> {
    error.as_ref().filter(|e| e.errorcode.trim() != "0").map(|e| device_error(e.errorcode.trim(), &e.errorinfo))
}

fn verify_digital_id(jws_text: &str, trust: &TrustStore, now: time::OffsetDateTime) -> Result<DigitalId, SbiError> {
    if jws_text.matches('.').count() != 2 {
        return Err(SbiError::Untrusted {
            what: "the digital id".into(),
            reason: "it is not signed (an unsigned digital id proves nothing about the device)".into(),
        });
    }
    let verified = jws::parse("the digital id", jws_text)?.verify("the digital id", trust, now)?;
    serde_json::from_slice(&verified.payload).map_err(|e| SbiError::malformed("the digital id", e))
}

/// Verifies a MOSIPDINFO response body: each entry's JWS and its digital id.
pub fn verify_device_info(
    body: &[u8],
    trust: &TrustStore,
    options: &VerifyOptions,
    now: time::OffsetDateTime,
) -> Result<Vec<VerifiedDeviceInfo>, SbiError> {
    if body.len() > options.max_response_bytes {
        return Err(SbiError::TooLarge { what: "the device info response".into(), limit: options.max_response_bytes });
    }
    let entries: Vec<DeviceInfoEntry> =
        serde_json::from_slice(body).map_err(|e| SbiError::malformed("the device info response", e))?;
    if entries.is_empty() {
        return Err(SbiError::malformed("the device info response", "no device"));
    }
    entries
        .iter()
        .map(|entry| {
            if let Some(e) = failed(&entry.error) {
                return Err(e);
            }
            let verified = jws::parse("the device info", &entry.device_info)?.verify("the device info", trust, now)?;
            let info: DeviceInfo =
                serde_json::from_slice(&verified.payload).map_err(|e| SbiError::malformed("the device info", e))?;
            let digital_id = verify_digital_id(&info.digital_id, trust, now)?;
            Ok(VerifiedDeviceInfo { info, digital_id, signer: verified.signer })
        })
        .collect()
}

/// The fingers a request asks for, in order, when the request names them or the sub-device
/// implies them; `None` when it leaves the choice to the device ("UNKNOWN").
fn expected_fingers(request: &CaptureRequest) -> Result<Option<Vec<FingerPosition>>, SbiError> {
    let mut all = Vec::new();
    for bio in &request.bio {
        let fingers = if bio.bio_sub_type.is_empty() {
            let Some(slap) = slap_fingers(&bio.device_sub_id) else { return Ok(None) };
            let exceptions: Vec<FingerPosition> =
                bio.exception.iter().filter_map(|n| finger_from_sub_type(n)).collect();
            slap.iter().copied().filter(|f| !exceptions.contains(f)).collect::<Vec<_>>()
        } else {
            let mut named = Vec::new();
            for name in &bio.bio_sub_type {
                match finger_from_sub_type(name) {
                    Some(f) => named.push(f),
                    None => return Ok(None),
                }
            }
            named
        };
        all.extend(fingers);
    }
    Ok(Some(all))
}

/// The size limit, the JSON and the device's own error code: what every capture answer passes
/// before its signatures are looked at.
fn read_capture_response(body: &[u8], what: &str, options: &VerifyOptions) -> Result<CaptureResponse, SbiError> {
    if body.len() > options.max_response_bytes {
        return Err(SbiError::TooLarge { what: what.into(), limit: options.max_response_bytes });
    }
    let response: CaptureResponse = serde_json::from_slice(body).map_err(|e| SbiError::malformed(what, e))?;
    match failed(&response.error) {
        Some(e) => Err(e),
        None => Ok(response),
    }
}

/// Verifies an RCAPTURE or CAPTURE response body against the request that produced it.
///
/// Checks, in order, and stops at the first failure: size; the device's error codes; for each
/// capture the JWS over `data` (the x5c chain to a trusted CA, the signature), the purpose and
/// environment, the transactionId echo, the signed digital id (and that it names the same device
/// as `device`, when given), the finger, the hash chain, the timestamp, the quality score's range
/// and the biometric itself (a record that parses and names the same finger); then that the
/// device returned exactly the fingers and the number requested.
pub fn verify_capture_response(
    body: &[u8],
    request: &CaptureRequest,
    trust: &TrustStore,
    device: Option<&VerifiedDeviceInfo>,
    options: &VerifyOptions,
    now: time::OffsetDateTime,
) -> Result<Vec<VerifiedCapture>, SbiError> {
    let response = read_capture_response(body, "the capture response", options)?;
    if response.biometrics.len() > options.max_captures {
        return Err(SbiError::Mismatch {
            reason: format!("{} captures, more than the {} accepted", response.biometrics.len(), options.max_captures),
        });
    }
    let Some(first) = request.bio.first() else {
        return Err(SbiError::malformed("the capture request", "it asks for nothing"));
    };
    let mut previous = first.previous_hash.clone();
    let mut captures = Vec::with_capacity(response.biometrics.len());
    for (index, entry) in response.biometrics.iter().enumerate() {
        if let Some(e) = failed(&entry.error) {
            return Err(e);
        }
        let what = format!("capture {index}");
        let (Some(data), Some(hash)) = (&entry.data, &entry.hash) else {
            return Err(SbiError::malformed(&what, "no data or no hash"));
        };
        if entry.session_key.as_deref().is_some_and(|k| !k.is_empty()) {
            return Err(SbiError::Unsupported {
                reason: "an encrypted bioValue (sessionKey): decrypting needs the domain's private key".into(),
            });
        }
        let verified = jws::parse(&what, data)?.verify(&what, trust, now)?;
        let payload: CaptureData =
            serde_json::from_slice(&verified.payload).map_err(|e| SbiError::malformed(&what, e))?;
        captures.push(check_capture(index, &payload, hash, &mut previous, request, trust, device, options, now)?);
        if let Some(c) = captures.last_mut() {
            c.signer = verified.signer;
            c.signed_data = data.clone();
        }
    }
    let requested: u64 = request.bio.iter().map(|b| b.count).sum();
    if captures.len() as u64 != requested {
        return Err(SbiError::Mismatch { reason: format!("{} captures for {requested} requested", captures.len()) });
    }
    if let Some(expected) = expected_fingers(request)? {
        let mut got: Vec<u8> = captures.iter().map(|c| c.finger.code()).collect();
        let mut want: Vec<u8> = expected.iter().map(|f| f.code()).collect();
        got.sort_unstable();
        want.sort_unstable();
        if got != want {
            let names = |v: &[VerifiedCapture]| v.iter().map(|c| c.bio_sub_type.clone()).collect::<Vec<_>>().join(", ");
            return Err(SbiError::Mismatch {
                reason: format!(
                    "requested {}, received {}",
                    expected.iter().map(|f| super::messages::sub_type_name(*f)).collect::<Vec<_>>().join(", "),
                    names(&captures)
                ),
            });
        }
    }
    Ok(captures)
}

#[allow(clippy::too_many_arguments)]
fn check_capture(
    index: usize,
    data: &CaptureData,
    hash: &str,
    previous: &mut String,
    request: &CaptureRequest,
    trust: &TrustStore,
    device: Option<&VerifiedDeviceInfo>,
    options: &VerifyOptions,
    now: time::OffsetDateTime,
) -> Result<VerifiedCapture, SbiError> {
    let what = format!("capture {index}");
    let digital_id = check_origin(data, request, trust, device, now)?;
    let Some(finger) = finger_from_sub_type(&data.bio_sub_type) else {
        return Err(SbiError::Mismatch { reason: format!("{what}: \"{}\" is not a finger", data.bio_sub_type) });
    };
    let (bio_value, expected_hash, timestamp) = check_content(index, data, hash, previous, options, now)?;
    let (biometric, format) = read_biometric(finger, bio_value, data.bio_extract.as_deref())?;
    Ok(VerifiedCapture {
        finger,
        bio_sub_type: data.bio_sub_type.clone(),
        biometric,
        format,
        quality: data.quality_score,
        requested_score: data.requested_score,
        timestamp,
        transaction_id: request.transaction_id.clone(),
        device_code: data.device_code.clone(),
        digital_id,
        signer: String::new(),
        hash: expected_hash,
        signed_data: String::new(),
    })
}

/// Where a (signature-checked) capture comes from: the requested purpose, environment and
/// transaction, and a digital id signed under a trusted provider (the announced device's, if
/// known). Shared by fingers and faces.
pub(crate) fn check_origin(
    data: &CaptureData,
    request: &CaptureRequest,
    trust: &TrustStore,
    device: Option<&VerifiedDeviceInfo>,
    now: time::OffsetDateTime,
) -> Result<DigitalId, SbiError> {
    if data.purpose != request.purpose.as_str() {
        return Err(SbiError::WrongPurpose { expected: request.purpose.as_str().into(), got: data.purpose.clone() });
    }
    if data.env != request.env.as_str() {
        return Err(SbiError::WrongEnvironment { expected: request.env.as_str().into(), got: data.env.clone() });
    }
    let transaction_id = data.transaction_id.clone().unwrap_or_default();
    if transaction_id != request.transaction_id {
        return Err(SbiError::TransactionMismatch { expected: request.transaction_id.clone(), got: transaction_id });
    }
    let digital_id = verify_digital_id(&data.digital_id, trust, now)?;
    if let Some(device) = device {
        device.digital_id.same_device(&digital_id).map_err(|reason| SbiError::DeviceMismatch { reason })?;
        if device.info.device_code != data.device_code {
            return Err(SbiError::DeviceMismatch {
                reason: format!(
                    "deviceCode is \"{}\", the device info says \"{}\"",
                    data.device_code, device.info.device_code
                ),
            });
        }
        if device.info.purpose != data.purpose {
            return Err(SbiError::WrongPurpose { expected: device.info.purpose.clone(), got: data.purpose.clone() });
        }
    }
    Ok(digital_id)
}

/// The checks of a capture's content that do not depend on what it captures: bioValue's size,
/// the hash chain, the timestamp and the quality's range. Returns bioValue, its chained hash
/// and the capture's time. Shared by fingers and faces.
pub(crate) fn check_content(
    index: usize,
    data: &CaptureData,
    hash: &str,
    previous: &mut String,
    options: &VerifyOptions,
    now: time::OffsetDateTime,
) -> Result<(Vec<u8>, String, time::OffsetDateTime), SbiError> {
    let what = format!("capture {index}");
    if data.bio_value.len() > options.max_bio_value_bytes.saturating_mul(4) / 3 + 4 {
        return Err(SbiError::TooLarge { what: format!("{what}: bioValue"), limit: options.max_bio_value_bytes });
    }
    let bio_value = decode_unsigned(&format!("{what}: bioValue"), &data.bio_value)?;
    let expected_hash = chain_next(previous, &bio_value);
    if !hash.eq_ignore_ascii_case(&expected_hash) {
        return Err(SbiError::HashChain {
            index,
            reason: "its hash is not SHA-256(previous hash ‖ SHA-256(bioValue)): a capture was changed, removed or reordered"
                .into(),
        });
    }
    previous.clone_from(&expected_hash);
    let timestamp = time::OffsetDateTime::parse(&data.timestamp, &time::format_description::well_known::Rfc3339)
        .map_err(|e| SbiError::malformed(format!("{what}: timestamp"), e))?;
    let skew = (now - timestamp).unsigned_abs();
    if skew > options.max_clock_skew {
        return Err(SbiError::Stale {
            reason: format!(
                "{what} was taken at {timestamp}, {} s from now (at most {} s)",
                skew.as_secs(),
                options.max_clock_skew.as_secs()
            ),
        });
    }
    if !(0.0..=100.0).contains(&data.quality_score) {
        return Err(SbiError::malformed(
            format!("{what}: qualityScore"),
            format!("{} is outside 0-100", data.quality_score),
        ));
    }
    Ok((bio_value, expected_hash, timestamp))
}

/// A verified face capture.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedFace {
    /// The ISO/IEC 19794-5 record, as the camera signed it.
    pub record: Vec<u8>,
    /// The photo inside it.
    pub image: super::face::FaceImage,
    /// The device's quality score (0-100).
    pub quality: f64,
    /// When the camera says it took the photo.
    pub timestamp: time::OffsetDateTime,
    /// The camera's registration code.
    pub device_code: String,
    /// The camera's verified digital id.
    pub digital_id: DigitalId,
    /// Who signed the capture (the certificate's subject).
    pub signer: String,
    /// The chained hash.
    pub hash: String,
}

/// Verifies a camera's answer to a face capture request (one `Face` capture, `bioSubType`
/// empty): the same JWS, certificate-chain, digital-id, purpose, environment, transaction,
/// hash-chain and freshness checks as fingers, then the 19794-5 record and the photo in it.
pub fn verify_face_response(
    body: &[u8],
    request: &CaptureRequest,
    trust: &TrustStore,
    device: Option<&VerifiedDeviceInfo>,
    options: &VerifyOptions,
    now: time::OffsetDateTime,
) -> Result<VerifiedFace, SbiError> {
    if !super::face::is_face_request(request) {
        return Err(SbiError::malformed("the face capture request", "it must ask for exactly one Face capture"));
    }
    let response = read_capture_response(body, "the face capture response", options)?;
    let [entry] = response.biometrics.as_slice() else {
        return Err(SbiError::Mismatch {
            reason: format!("{} face captures for the one requested", response.biometrics.len()),
        });
    };
    if let Some(e) = failed(&entry.error) {
        return Err(e);
    }
    let what = "the face capture";
    let (Some(data), Some(hash)) = (&entry.data, &entry.hash) else {
        return Err(SbiError::malformed(what, "no data or no hash"));
    };
    if entry.session_key.as_deref().is_some_and(|k| !k.is_empty()) {
        return Err(SbiError::Unsupported {
            reason: "an encrypted bioValue (sessionKey): decrypting needs the domain's private key".into(),
        });
    }
    let verified = jws::parse(what, data)?.verify(what, trust, now)?;
    let payload: CaptureData = serde_json::from_slice(&verified.payload).map_err(|e| SbiError::malformed(what, e))?;
    let digital_id = check_origin(&payload, request, trust, device, now)?;
    if payload.bio_type.as_deref() != Some("Face") || !payload.bio_sub_type.is_empty() {
        return Err(SbiError::Mismatch {
            reason: format!(
                "a Face capture was requested, the device sent {} \"{}\"",
                payload.bio_type.as_deref().unwrap_or("no bioType"),
                payload.bio_sub_type
            ),
        });
    }
    let mut previous = request.bio[0].previous_hash.clone();
    let (record, hash, timestamp) = check_content(0, &payload, hash, &mut previous, options, now)?;
    let image = super::face::parse_record(&record)?;
    Ok(VerifiedFace {
        record,
        image,
        quality: payload.quality_score,
        timestamp,
        device_code: payload.device_code,
        digital_id,
        signer: verified.signer,
        hash,
    })
}

/// Reads the biometric: an ISO minutiae record (parsed, and its finger must be the capture's) or
/// an ISO finger image record (its length field must match); a bare image in bioValue is allowed
/// only with an ISO record in bioExtract.
pub fn read_biometric(
    finger: FingerPosition,
    bio_value: Vec<u8>,
    bio_extract: Option<&str>,
) -> Result<(Vec<u8>, BioFormat), SbiError> {
    let bad = |reason: String| SbiError::Template { finger, reason };
    let bytes = if is_iso(&bio_value) {
        bio_value
    } else if let Some(extract) = bio_extract {
        let extract = decode_unsigned("bioExtract", extract)?;
        if !is_iso(&extract) {
            return Err(bad("neither bioValue nor bioExtract is an ISO/IEC 19794-2 or 19794-4 record".into()));
        }
        extract
    } else {
        return Err(bad(
            "bioValue is neither an ISO/IEC 19794-2 minutiae record nor a 19794-4 finger image record".into()
        ));
    };
    if bytes.starts_with(b"FMR\0") {
        let record = template::parse(&bytes).map_err(|e| bad(format!("the minutiae record: {e}")))?;
        if record.views().is_empty() {
            return Err(bad("the minutiae record holds no finger".into()));
        }
        if let Some(view) = record.views().iter().find(|v| v.finger_position() != finger) {
            return Err(bad(format!(
                "the minutiae record is of the {:?}, but the capture says {:?}",
                view.finger_position(),
                finger
            )));
        }
        return Ok((bytes, BioFormat::MinutiaeRecord(Box::new(record))));
    }
    // ISO/IEC 19794-4: "FIR\0", version "010\0" (2005: 6-byte length) or "020\0" (2011: 4-byte).
    let declared = match bytes.get(4..8) {
        Some(b"010\0") => bytes.get(8..14).map(|b| b.iter().fold(0u64, |acc, &x| acc << 8 | u64::from(x))),
        Some(b"020\0") => bytes.get(8..12).map(|b| b.iter().fold(0u64, |acc, &x| acc << 8 | u64::from(x))),
        _ => return Err(bad("the finger image record has an unknown version".into())),
    };
    match declared {
        Some(n) if n == bytes.len() as u64 => Ok((bytes, BioFormat::FingerImage)),
        Some(n) => Err(bad(format!("the finger image record declares {n} bytes but has {}", bytes.len()))),
        None => Err(bad("the finger image record is truncated in its header".into())),
    }
}

fn is_iso(bytes: &[u8]) -> bool {
    bytes.starts_with(b"FMR\0") || bytes.starts_with(b"FIR\0")
}

/// Refuses a transactionId seen before, so a captured response cannot be submitted twice.
/// Ids are remembered for `ttl` (longer than any capture's clock-skew window); the guard holds at
/// most `capacity` ids and, when full of live ids, refuses new ones rather than forget old ones.
#[derive(Debug)]
pub struct TransactionGuard {
    seen: Mutex<HashMap<String, time::OffsetDateTime>>,
    ttl: Duration,
    capacity: usize,
}

impl TransactionGuard {
    /// A guard remembering ids for `ttl`, at most `capacity` at once.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        TransactionGuard { seen: Mutex::new(HashMap::new()), ttl, capacity }
    }

    /// Records `transaction_id` as used at `now`; refuses it if it was used within the ttl.
    pub fn check_and_record(&self, transaction_id: &str, now: time::OffsetDateTime) -> Result<(), SbiError> {
        if transaction_id.is_empty() || transaction_id.len() > 128 {
            return Err(SbiError::malformed("transactionId", "empty or longer than 128 characters"));
        }
        let mut seen = self.seen.lock().map_err(|_| SbiError::malformed("transaction guard", "poisoned"))?;
        if let Some(at) = seen.get(transaction_id)
            && now - *at <= self.ttl
        {
            return Err(SbiError::Replay { transaction_id: transaction_id.to_owned() });
        }
        if seen.len() >= self.capacity {
            let ttl = self.ttl;
            seen.retain(|_, at| now - *at <= ttl);
            if seen.len() >= self.capacity {
                return Err(SbiError::TooLarge { what: "the set of live transactions".into(), limit: self.capacity });
            }
        }
        seen.insert(transaction_id.to_owned(), now);
        Ok(())
    }
}

/// A fresh, unguessable transactionId (128 random bits, hex).
pub fn new_transaction_id() -> Result<String, SbiError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| SbiError::Keys { reason: format!("random source: {e}") })?;
    Ok(hex::encode(bytes))
}

/// Parses one capture's signed payload without verifying anything (MOSIP's mock device files,
/// diagnostics, fuzzing): the base64url JSON of a [`CaptureData`].
pub fn parse_capture_payload(text: &str) -> Result<CaptureData, SbiError> {
    let bytes = decode_unsigned("capture payload", text.trim())?;
    serde_json::from_slice(&bytes).map_err(|e| SbiError::malformed("capture payload", e))
}

/// Decodes a digital id that came unsigned (discovery, MOSIP's mock files).
pub fn parse_unsigned_digital_id(text: &str) -> Result<DigitalId, SbiError> {
    let bytes = decode_unsigned("digital id", text)?;
    serde_json::from_slice(&bytes).map_err(|e| SbiError::malformed("digital id", e))
}
