//! The MOSIP SBI 0.9.5 messages, field for field as the specification (MOSIP Device Service
//! Specification 0.9.5, sections 5.1-5.5 and 10) names them.
//!
//! Devices in the field differ in small ways the specification leaves open, and these types accept
//! those differences where they are harmless: error objects spelled `errorcode`/`errorinfo` (the
//! specification) or `errorCode`/`errorInfo` (MOSIP's own mock device); scores and counts as
//! numbers or numeric strings; finger names as the specification's `LF_INDEX` or the mock
//! device's `Left IndexFinger`. Everything else is strict, and every signed element is checked by
//! [`super::verify`], never trusted from these types alone.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::template::FingerPosition;

/// The SBI version this client speaks and the simulator implements.
pub const SPEC_VERSION: &str = "0.9.5";

/// What a capture is for: a device is registered for one purpose and signs it into every capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Purpose {
    /// Enrolment (RCAPTURE): unencrypted, signed images or templates.
    Registration,
    /// Authentication (CAPTURE).
    Auth,
}

impl Purpose {
    /// The word on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Registration => "Registration",
            Purpose::Auth => "Auth",
        }
    }
}

/// The environment a device is registered in (specification 5.2 `env`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Env {
    /// Staging.
    Staging,
    /// Developer.
    Developer,
    /// Pre-Production.
    #[serde(rename = "Pre-Production")]
    PreProduction,
    /// Production.
    Production,
}

impl Env {
    /// The word on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Env::Staging => "Staging",
            Env::Developer => "Developer",
            Env::PreProduction => "Pre-Production",
            Env::Production => "Production",
        }
    }

    /// Parses the word on the wire.
    pub fn parse(s: &str) -> Option<Env> {
        [Env::Staging, Env::Developer, Env::PreProduction, Env::Production].into_iter().find(|e| e.as_str() == s)
    }
}

/// The error object the device puts beside (or instead of) a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DeviceErrorBody {
    /// "0" for success.
    #[serde(alias = "errorCode", deserialize_with = "string_or_number")]
    pub errorcode: String,
    /// Text for the user.
    #[serde(alias = "errorInfo", default)]
    pub errorinfo: String,
}

/// MOSIPDISC request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoverRequest {
    /// "Biometric Device" (any), "Fingerprint", "Face" or "Iris".
    #[serde(rename = "type")]
    pub device_type: String,
}

/// One entry of the MOSIPDISC response (unsigned by design: discovery only finds devices).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveredDevice {
    /// Internal id of the device within the service.
    #[serde(deserialize_with = "string_or_number")]
    pub device_id: String,
    /// Ready, Busy, Not Ready, Not Registered.
    pub device_status: String,
    /// L0, L1, L2.
    #[serde(default)]
    pub certification: String,
    /// Service version.
    #[serde(default)]
    pub service_version: String,
    /// Sub-device ids (1 left slap, 2 right slap, 3 thumbs for a finger slap scanner).
    #[serde(default, deserialize_with = "strings_or_numbers")]
    pub device_sub_id: Vec<String>,
    /// Base URL of the device.
    #[serde(default)]
    pub callback_id: String,
    /// The digital id (unsigned payload or JWS).
    #[serde(default)]
    pub digital_id: String,
    /// The code MOSIP gave the device at registration.
    #[serde(default)]
    pub device_code: String,
    /// Supported specification versions.
    #[serde(default)]
    pub spec_version: Vec<String>,
    /// Registration, Auth or empty.
    #[serde(default)]
    pub purpose: String,
    /// Error, if any.
    #[serde(default)]
    pub error: Option<DeviceErrorBody>,
}

/// One entry of the MOSIPDINFO response: `deviceInfo` is a JWS over [`DeviceInfo`] (only an
/// unregistered device sends the bare payload, with error 100).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfoEntry {
    /// JWS (or bare base64url payload).
    pub device_info: String,
    /// Error, if any.
    #[serde(default)]
    pub error: Option<DeviceErrorBody>,
}

/// The signed device information (specification 5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    /// Ready, Busy, Not Ready, Not Registered.
    pub device_status: String,
    /// Internal id.
    #[serde(deserialize_with = "string_or_number")]
    pub device_id: String,
    /// Firmware version.
    #[serde(default)]
    pub firmware: String,
    /// L0, L1, L2.
    #[serde(default)]
    pub certification: String,
    /// Service version.
    #[serde(default)]
    pub service_version: String,
    /// Sub-device ids.
    #[serde(default, deserialize_with = "strings_or_numbers")]
    pub device_sub_id: Vec<String>,
    /// Base URL.
    #[serde(default)]
    pub callback_id: String,
    /// The signed digital id (a JWS over [`DigitalId`]).
    pub digital_id: String,
    /// Registration code.
    #[serde(default)]
    pub device_code: String,
    /// Staging, Developer, Pre-Production, Production, or None.
    pub env: String,
    /// Registration or Auth.
    pub purpose: String,
    /// Supported specification versions.
    #[serde(default)]
    pub spec_version: Vec<String>,
}

/// The device's identity (specification 4, "Digital Id").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DigitalId {
    /// Serial number printed on the device.
    pub serial_no: String,
    /// Brand.
    pub make: String,
    /// Model.
    pub model: String,
    /// Fingerprint, Iris, Face (MOSIP's mock says Finger).
    #[serde(rename = "type")]
    pub device_type: String,
    /// Slap, Single, Touchless ... (the mock device spells it `subType`).
    #[serde(alias = "subType", default)]
    pub device_sub_type: String,
    /// Device provider's legal name.
    pub device_provider: String,
    /// Device provider's id.
    pub device_provider_id: String,
    /// When this identity was issued.
    pub date_time: String,
}

impl DigitalId {
    /// Whether two digital ids name the same device (everything but the issuance time).
    pub fn same_device(&self, other: &DigitalId) -> Result<(), String> {
        let fields = [
            ("serialNo", &self.serial_no, &other.serial_no),
            ("make", &self.make, &other.make),
            ("model", &self.model, &other.model),
            ("type", &self.device_type, &other.device_type),
            ("deviceSubType", &self.device_sub_type, &other.device_sub_type),
            ("deviceProvider", &self.device_provider, &other.device_provider),
            ("deviceProviderId", &self.device_provider_id, &other.device_provider_id),
        ];
        for (name, a, b) in fields {
            if a != b {
                return Err(format!("{name} is \"{b}\", the device info says \"{a}\""));
            }
        }
        Ok(())
    }
}

/// An RCAPTURE or CAPTURE request (specification 5.3 and 5.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaptureRequest {
    /// Target environment.
    pub env: Env,
    /// Registration (RCAPTURE) or Auth (CAPTURE). 5.5 does not list it for RCAPTURE, but
    /// MOSIP's devices require it; a device echoes it into each capture.
    pub purpose: Purpose,
    /// The expected specification version.
    pub spec_version: String,
    /// Milliseconds the device may take.
    #[serde(deserialize_with = "u64_or_string")]
    pub timeout: u64,
    /// When the application asked, RFC 3339.
    pub capture_time: String,
    /// Auth server URI (CAPTURE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_uri: Option<String>,
    /// Unique per capture; the device echoes it into each capture and we check it.
    pub transaction_id: String,
    /// Registration id (RCAPTURE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_id: Option<String>,
    /// What to capture.
    pub bio: Vec<BioRequest>,
    /// Vendor parameters, at most 50 pairs. The simulator reads `drukyul.subject` here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_opts: BTreeMap<String, String>,
}

/// One modality to capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BioRequest {
    /// "Finger" (MOSIP devices) or "FIR"/"FMR" (specification wording).
    #[serde(rename = "type")]
    pub bio_type: String,
    /// How many captures.
    #[serde(deserialize_with = "u64_or_string")]
    pub count: u64,
    /// Which fingers, by name (empty: all of the sub-device's fingers, less the exceptions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bio_sub_type: Vec<String>,
    /// Fingers to leave out (missing or injured).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exception: Vec<String>,
    /// The quality at which the device should take the capture (1-100).
    #[serde(deserialize_with = "u64_or_string")]
    pub requested_score: u64,
    /// Device id from discovery.
    #[serde(deserialize_with = "string_or_number")]
    pub device_id: String,
    /// 1 left slap, 2 right slap, 3 thumbs, 0 any.
    #[serde(deserialize_with = "string_or_number")]
    pub device_sub_id: String,
    /// Where the hash chain starts: the hex SHA-256 of the empty string for the first capture of
    /// a transaction, else the last capture's `hash`.
    pub previous_hash: String,
}

/// The RCAPTURE/CAPTURE response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureResponse {
    /// One entry per capture.
    #[serde(default)]
    pub biometrics: Vec<BiometricEntry>,
    /// A request-level error (MOSIP's mock device puts it here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<DeviceErrorBody>,
}

/// One capture: `data` is a JWS over [`CaptureData`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BiometricEntry {
    /// Specification version.
    #[serde(default)]
    pub spec_version: Option<String>,
    /// Compact JWS.
    #[serde(default)]
    pub data: Option<String>,
    /// Hash chain value (hex).
    #[serde(default)]
    pub hash: Option<String>,
    /// CAPTURE: the encrypted session key (encrypted bioValue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    /// CAPTURE: thumbprint of the encryption certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbprint: Option<String>,
    /// Error, if any.
    #[serde(default)]
    pub error: Option<DeviceErrorBody>,
}

/// The signed capture payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaptureData {
    /// The device's digital id: a JWS (or, from devices that do not sign it, the bare payload).
    pub digital_id: String,
    /// Registration code.
    #[serde(default)]
    pub device_code: String,
    /// Service version.
    #[serde(default)]
    pub device_service_version: String,
    /// FIR, FMR, IIR, Face, Finger (MOSIP's mock leaves it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bio_type: Option<String>,
    /// Which finger.
    pub bio_sub_type: String,
    /// Registration or Auth.
    pub purpose: String,
    /// Environment.
    pub env: String,
    /// Base64url of the biometric: an ISO/IEC 19794-4 finger image or 19794-2 minutiae record.
    pub bio_value: String,
    /// Some devices put the extracted ISO record here and a raw image in bioValue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bio_extract: Option<String>,
    /// Echo of the request's transactionId.
    #[serde(default)]
    pub transaction_id: Option<String>,
    /// Echo of the request's registrationId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_id: Option<String>,
    /// Auth server URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_uri: Option<String>,
    /// Device time, RFC 3339.
    pub timestamp: String,
    /// The score the request asked for.
    #[serde(default, deserialize_with = "opt_f64_or_string")]
    pub requested_score: Option<f64>,
    /// The capture's quality, 0-100.
    #[serde(deserialize_with = "f64_or_string")]
    pub quality_score: f64,
}

/// The finger a `bioSubType` names, in either the specification's (`LF_INDEX`) or MOSIP's mock
/// device's (`Left IndexFinger`) spelling.
pub fn finger_from_sub_type(name: &str) -> Option<FingerPosition> {
    use FingerPosition as F;
    let finger = match name {
        "RF_THUMB" | "Right Thumb" => F::RightThumb,
        "RF_INDEX" | "Right IndexFinger" => F::RightIndex,
        "RF_MIDDLE" | "Right MiddleFinger" => F::RightMiddle,
        "RF_RING" | "Right RingFinger" => F::RightRing,
        "RF_LITTLE" | "Right LittleFinger" => F::RightLittle,
        "LF_THUMB" | "Left Thumb" => F::LeftThumb,
        "LF_INDEX" | "Left IndexFinger" => F::LeftIndex,
        "LF_MIDDLE" | "Left MiddleFinger" => F::LeftMiddle,
        "LF_RING" | "Left RingFinger" => F::LeftRing,
        "LF_LITTLE" | "Left LittleFinger" => F::LeftLittle,
        _ => return None,
    };
    Some(finger)
}

/// The specification's name for a finger (`LF_INDEX`).
pub fn sub_type_name(finger: FingerPosition) -> &'static str {
    use FingerPosition as F;
    match finger {
        F::RightThumb => "RF_THUMB",
        F::RightIndex => "RF_INDEX",
        F::RightMiddle => "RF_MIDDLE",
        F::RightRing => "RF_RING",
        F::RightLittle => "RF_LITTLE",
        F::LeftThumb => "LF_THUMB",
        F::LeftIndex => "LF_INDEX",
        F::LeftMiddle => "LF_MIDDLE",
        F::LeftRing => "LF_RING",
        F::LeftLittle => "LF_LITTLE",
        F::Unknown => "UNKNOWN",
    }
}

/// A finger in words, for messages to the officer ("left index").
pub fn finger_label(finger: FingerPosition) -> &'static str {
    use FingerPosition as F;
    match finger {
        F::RightThumb => "right thumb",
        F::RightIndex => "right index",
        F::RightMiddle => "right middle",
        F::RightRing => "right ring",
        F::RightLittle => "right little",
        F::LeftThumb => "left thumb",
        F::LeftIndex => "left index",
        F::LeftMiddle => "left middle",
        F::LeftRing => "left ring",
        F::LeftLittle => "left little",
        F::Unknown => "unknown finger",
    }
}

/// The fingers of a finger-slap scanner's sub-device (specification 5.5: 1 left, 2 right,
/// 3 thumbs); 0 ("any") covers all ten.
pub fn slap_fingers(device_sub_id: &str) -> Option<&'static [FingerPosition]> {
    use FingerPosition as F;
    const LEFT: [F; 4] = [F::LeftIndex, F::LeftMiddle, F::LeftRing, F::LeftLittle];
    const RIGHT: [F; 4] = [F::RightIndex, F::RightMiddle, F::RightRing, F::RightLittle];
    const THUMBS: [F; 2] = [F::LeftThumb, F::RightThumb];
    match device_sub_id {
        "1" => Some(&LEFT),
        "2" => Some(&RIGHT),
        "3" => Some(&THUMBS),
        "0" => Some(&crate::population::FINGERS),
        _ => None,
    }
}

/// What an error code means (specification section 10).
pub fn error_meaning(code: &str) -> String {
    let meaning = match code {
        "0" => "success",
        "100" => "device not registered",
        "101" => "unable to detect a biometric object",
        "102" => "technical error during extraction",
        "103" => "device tamper detected",
        "104" => "unable to connect to the management server",
        "105" => "image orientation error",
        "106" => "device not found",
        "107" => "device public key expired",
        "108" => "domain public key missing",
        "109" => "requested number of biometrics (finger/iris) not supported",
        c if c.len() == 3 && c.starts_with('5') => "device vendor's own error",
        _ => "unknown error code",
    };
    meaning.to_owned()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    S(String),
    U(u64),
    I(i64),
    F(f64),
}

impl Scalar {
    fn text(self) -> String {
        match self {
            Scalar::S(s) => s,
            Scalar::U(u) => u.to_string(),
            Scalar::I(i) => i.to_string(),
            Scalar::F(f) => f.to_string(),
        }
    }
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Scalar::deserialize(d)?.text())
}

fn strings_or_numbers<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<Scalar>),
        One(Scalar),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::Many(v) => v.into_iter().map(Scalar::text).collect(),
        OneOrMany::One(s) => vec![s.text()],
    })
}

fn u64_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let text = Scalar::deserialize(d)?.text();
    text.trim().parse().map_err(|_| serde::de::Error::custom(format!("\"{text}\" is not a whole number")))
}

fn f64_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let text = Scalar::deserialize(d)?.text();
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(serde::de::Error::custom(format!("\"{text}\" is not a number"))),
    }
}

fn opt_f64_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    f64_or_string(d).map(Some)
}
