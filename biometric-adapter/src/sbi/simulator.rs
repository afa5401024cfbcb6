//! The device simulator: a finger-slap scanner's SBI 0.9.5 device service over the synthetic
//! population, so enrolment runs end to end without hardware. The `sbi-simulator` binary serves
//! it; tests and the enrolment console's demo drive it over real HTTP.
//!
//! **Keys.** [`DeviceProvider::generate`] creates a simulated device-provider CA (ECDSA P-256,
//! ten years); [`DeviceProvider::issue_device`] a device key (RS256 as the specification says, or
//! ES256) with its certificate under that CA. The CA certificate is what a deployment configures
//! as trusted ([`super::trust::TrustStore::from_pem`]); the device signs its device info, its
//! digital id (an L0 device signs it with the device key) and every capture.
//!
//! **Who is presenting.** Subjects `0..subjects` are distinct people of the population (subject
//! `s` is person `s`). The planted duplicates are subjects `subjects..subjects+duplicates`: each
//! is the same person as an earlier subject, presenting again (under another CID in the enrolment
//! tests); [`Simulator::roster`] (`GET /simulator/roster`) lists which. The presenting subject is
//! set with `POST /simulator/present {"subject": N}` (read with `GET`), or per request with the
//! capture request's `customOpts` `{"drukyul.subject": "N"}` — the specification's place for
//! vendor parameters, and safe when several captures run at once.
//!
//! **Captures.** Every capture is a fresh impression ([`crate::population`]'s noise model, the
//! issue's defaults unless configured otherwise) of the subject's finger, numbered by a counter so
//! no two are alike; bioValue is an ISO/IEC 19794-2:2005 minutiae record of it and qualityScore
//! its quality, which falls with the noise. A real scanner's bioValue is an ISO/IEC 19794-4
//! finger *image*; the verifier accepts both, and the image extractor turns images into minutiae.
//!
//! **Face.** The same service hosts a face camera (`MOSIPDISC` with type `Face`, deviceId
//! [`FACE_DEVICE_ID`]): a `Face` capture's bioValue is an ISO/IEC 19794-5 record of a JPEG
//! portrait drawn for the presenting person ([`face::synthetic_photo`]), the same for every
//! capture of the same person, signed with the device key like the fingers.
//!
//! The control endpoints have no authentication: the simulator binds to 127.0.0.1 only, as the
//! specification requires of device services, and is a test and demonstration tool.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicU32, Ordering},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::any,
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_RSA_SHA256,
};
use serde::{Deserialize, Serialize};

use super::{
    SbiError, face,
    jws::{JwsAlg, JwsSigner},
    messages::{
        BiometricEntry, CaptureData, CaptureRequest, CaptureResponse, DeviceErrorBody, DeviceInfo, DeviceInfoEntry,
        DigitalId, DiscoverRequest, DiscoveredDevice, Env, Purpose, SPEC_VERSION, finger_from_sub_type, slap_fingers,
        sub_type_name,
    },
    verify::chain_next,
};
use crate::{
    population::{NoiseParams, Population},
    template::{self, FingerPosition},
};

/// A simulated device provider: its CA key and certificate.
pub struct DeviceProvider {
    key: KeyPair,
    params: CertificateParams,
    cert_pem: String,
    cert_der: Vec<u8>,
}

impl std::fmt::Debug for DeviceProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceProvider").finish_non_exhaustive()
    }
}

/// A device's key and certificate.
#[derive(Clone)]
pub struct DeviceCredentials {
    /// The signing algorithm.
    pub alg: JwsAlg,
    /// PKCS#8 PEM private key.
    pub key_pem: String,
    /// The device certificate, PEM.
    pub cert_pem: String,
    /// The device certificate, DER.
    pub cert_der: Vec<u8>,
}

impl std::fmt::Debug for DeviceCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCredentials").field("alg", &self.alg).finish_non_exhaustive()
    }
}

fn keys(e: impl std::fmt::Display) -> SbiError {
    SbiError::Keys { reason: e.to_string() }
}

impl DeviceProvider {
    /// A new CA named `name`, valid from a day before `now` for ten years.
    pub fn generate(name: &str, now: time::OffsetDateTime) -> Result<Self, SbiError> {
        let key = KeyPair::generate().map_err(keys)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(keys)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        dn.push(DnType::OrganizationName, "Drukyul ID device simulator");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(3650);
        let cert = params.self_signed(&key).map_err(keys)?;
        Ok(DeviceProvider { cert_pem: cert.pem(), cert_der: cert.der().to_vec(), key, params })
    }

    /// The CA certificate, PEM: what deployments configure as trusted.
    pub fn ca_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate, DER.
    pub fn ca_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The CA's private key, PKCS#8 PEM (for the simulator's state directory).
    pub fn ca_key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// Issues a device key and certificate (subject `CN=<serial>`), valid over the given period.
    pub fn issue_device(
        &self,
        serial: &str,
        alg: JwsAlg,
        not_before: time::OffsetDateTime,
        not_after: time::OffsetDateTime,
    ) -> Result<DeviceCredentials, SbiError> {
        let (key, key_pem) = match alg {
            JwsAlg::ES256 => {
                let key = KeyPair::generate().map_err(keys)?;
                let pem = key.serialize_pem();
                (key, pem)
            }
            JwsAlg::RS256 => {
                use rsa::pkcs8::EncodePrivateKey as _;
                let mut rng = rsa::rand_core::UnwrapErr(getrandom::SysRng);
                let rsa_key = rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(keys)?;
                let pem = rsa_key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).map_err(keys)?.to_string();
                (KeyPair::from_pkcs8_pem_and_sign_algo(&pem, &PKCS_RSA_SHA256).map_err(keys)?, pem)
            }
        };
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(keys)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, serial);
        dn.push(DnType::OrganizationName, "Drukyul ID device simulator");
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.not_before = not_before;
        params.not_after = not_after;
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).map_err(keys)?;
        Ok(DeviceCredentials { alg, key_pem, cert_pem: cert.pem(), cert_der: cert.der().to_vec() })
    }
}

impl DeviceCredentials {
    /// The JWS signer (x5c: the device certificate).
    pub fn signer(&self) -> Result<JwsSigner, SbiError> {
        JwsSigner::from_pem(self.alg, &self.key_pem, std::slice::from_ref(&self.cert_der))
    }
}

/// How the simulator behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatorConfig {
    /// Population seed.
    pub seed: u64,
    /// Distinct people who can present.
    pub subjects: u64,
    /// Planted duplicates: subjects after the distinct ones who are earlier subjects again.
    pub duplicates: u64,
    /// How hard captures are.
    pub noise: NoiseParams,
    /// The environment the device is registered in.
    pub env: Env,
    /// Registration (RCAPTURE) or Auth (CAPTURE).
    pub purpose: Purpose,
    /// The port (for callbackId).
    pub port: u16,
    /// The device's serial number.
    pub serial: String,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            seed: 1,
            subjects: 1000,
            duplicates: 0,
            noise: NoiseParams::default(),
            env: Env::Developer,
            purpose: Purpose::Registration,
            port: 4501,
            serial: "SIM-0000000001".into(),
        }
    }
}

/// Who is who among the subjects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    /// Distinct people: subjects `0..subjects`.
    pub subjects: u64,
    /// The planted duplicates.
    pub duplicates: Vec<PlantedDuplicate>,
}

/// A subject who is an earlier subject presenting again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlantedDuplicate {
    /// The duplicate subject.
    pub subject: u64,
    /// The subject it is the same person as.
    pub same_person_as: u64,
}

/// The device service.
pub struct Simulator {
    config: SimulatorConfig,
    population: Population,
    signer: JwsSigner,
    device_code: String,
    presenting: Mutex<u64>,
    captures: AtomicU32,
    trust_pem: String,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The vendor parameter naming the presenting subject.
pub const SUBJECT_OPT: &str = "drukyul.subject";

/// The face camera's deviceId in this device service (the finger scanner is "1").
pub const FACE_DEVICE_ID: &str = "2";

impl Simulator {
    /// A simulator signing with `credentials`; `trust_pem` (the CA) is served at
    /// `/simulator/ca.pem` for demos.
    pub fn new(config: SimulatorConfig, credentials: &DeviceCredentials, trust_pem: String) -> Result<Self, SbiError> {
        config.noise.validate().map_err(keys)?;
        if config.subjects == 0 {
            return Err(keys("the simulator needs at least one subject"));
        }
        let device_code = format!("{:016x}", mix(config.seed ^ 0x5b1));
        Ok(Simulator {
            population: Population::new(config.seed),
            signer: credentials.signer()?,
            device_code,
            presenting: Mutex::new(0),
            captures: AtomicU32::new(0),
            trust_pem,
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SimulatorConfig {
        &self.config
    }

    /// The registration code the device reports.
    pub fn device_code(&self) -> &str {
        &self.device_code
    }

    /// Which subjects are planted duplicates of which.
    pub fn roster(&self) -> Roster {
        let n = self.config.subjects;
        let duplicates = (0..self.config.duplicates)
            .map(|k| PlantedDuplicate { subject: n + k, same_person_as: mix(self.config.seed ^ (k + 1)) % n })
            .collect();
        Roster { subjects: n, duplicates }
    }

    /// The population person a subject is.
    pub fn person_of(&self, subject: u64) -> Result<u64, SbiError> {
        let n = self.config.subjects;
        if subject < n {
            return Ok(subject);
        }
        let k = subject - n;
        if k < self.config.duplicates {
            return Ok(mix(self.config.seed ^ (k + 1)) % n);
        }
        Err(keys(format!("subject {subject} is not in the roster (0..{})", n + self.config.duplicates)))
    }

    /// Sets who is presenting.
    pub fn present(&self, subject: u64) -> Result<u64, SbiError> {
        let person = self.person_of(subject)?;
        *self.presenting.lock().map_err(|_| keys("state lock poisoned"))? = subject;
        Ok(person)
    }

    fn presenting(&self) -> u64 {
        self.presenting.lock().map(|g| *g).unwrap_or(0)
    }

    /// The device's digital id (unsigned payload).
    pub fn digital_id(&self, now: time::OffsetDateTime) -> DigitalId {
        DigitalId {
            serial_no: self.config.serial.clone(),
            make: "Drukyul".into(),
            model: "SIM-SLAP-10".into(),
            device_type: "Finger".into(),
            device_sub_type: "Slap".into(),
            device_provider: "Drukyul ID device simulator".into(),
            device_provider_id: "DRUKYUL.SIM".into(),
            date_time: timestamp(now),
        }
    }

    fn signed_digital_id(&self, now: time::OffsetDateTime) -> Result<String, SbiError> {
        let payload = serde_json::to_vec(&self.digital_id(now)).map_err(keys)?;
        self.signer.sign(&payload)
    }

    /// The face camera's digital id (unsigned payload): the same service hosts it as device 2.
    pub fn face_digital_id(&self, now: time::OffsetDateTime) -> DigitalId {
        DigitalId {
            serial_no: format!("{}-FACE", self.config.serial),
            model: "SIM-FACE-1".into(),
            device_type: "Face".into(),
            device_sub_type: "Full face".into(),
            ..self.digital_id(now)
        }
    }

    fn signed_face_digital_id(&self, now: time::OffsetDateTime) -> Result<String, SbiError> {
        let payload = serde_json::to_vec(&self.face_digital_id(now)).map_err(keys)?;
        self.signer.sign(&payload)
    }

    /// One device as MOSIPDISC lists it: the finger scanner (device id 1, sub-ids for the left
    /// slap, the right slap and the thumbs) or the camera ([`FACE_DEVICE_ID`], one sub-id).
    fn listed_device(&self, id: &str, sub_ids: &[&str], digital_id: &DigitalId) -> DiscoveredDevice {
        let digital_id = serde_json::to_vec(digital_id).map(|p| URL_SAFE_NO_PAD.encode(p)).unwrap_or_default();
        DiscoveredDevice {
            device_id: id.into(),
            device_status: "Ready".into(),
            certification: "L0".into(),
            service_version: SPEC_VERSION.into(),
            device_sub_id: sub_ids.iter().map(|&s| s.into()).collect(),
            callback_id: format!("http://127.0.0.1:{}", self.config.port),
            digital_id,
            device_code: self.device_code.clone(),
            spec_version: vec![SPEC_VERSION.into()],
            purpose: self.config.purpose.as_str().into(),
            error: Some(DeviceErrorBody { errorcode: "0".into(), errorinfo: "Success".into() }),
        }
    }

    /// The MOSIPDISC answer.
    pub fn discover(&self, request: &DiscoverRequest, now: time::OffsetDateTime) -> Vec<DiscoveredDevice> {
        match request.device_type.as_str() {
            "Face" => vec![self.listed_device(FACE_DEVICE_ID, &["0"], &self.face_digital_id(now))],
            "Biometric Device" | "Fingerprint" | "Finger" => {
                vec![self.listed_device("1", &["1", "2", "3"], &self.digital_id(now))]
            }
            _ => Vec::new(),
        }
    }

    /// The MOSIPDINFO answer (signed).
    pub fn device_info(&self, now: time::OffsetDateTime) -> Result<Vec<DeviceInfoEntry>, SbiError> {
        let info = DeviceInfo {
            device_status: "Ready".into(),
            device_id: "1".into(),
            firmware: "DRUKYUL.SIM.1".into(),
            certification: "L0".into(),
            service_version: SPEC_VERSION.into(),
            device_sub_id: vec!["1".into(), "2".into(), "3".into()],
            callback_id: format!("http://127.0.0.1:{}", self.config.port),
            digital_id: self.signed_digital_id(now)?,
            device_code: self.device_code.clone(),
            env: self.config.env.as_str().into(),
            purpose: self.config.purpose.as_str().into(),
            spec_version: vec![SPEC_VERSION.into()],
        };
        let payload = serde_json::to_vec(&info).map_err(keys)?;
        Ok(vec![DeviceInfoEntry {
            device_info: self.signer.sign(&payload)?,
            error: Some(DeviceErrorBody { errorcode: "0".into(), errorinfo: "Success".into() }),
        }])
    }

    /// The unsigned capture payloads for a request: what [`Simulator::capture`] signs. Refuses
    /// (with the specification's error codes, or 5xx for the simulator's own) a request for
    /// another environment or purpose, an unknown finger or a count that does not match.
    pub fn capture_data(
        &self,
        request: &CaptureRequest,
        method: Purpose,
        now: time::OffsetDateTime,
    ) -> Result<Vec<CaptureData>, DeviceErrorBody> {
        let refuse = |code: &str, info: String| DeviceErrorBody { errorcode: code.into(), errorinfo: info };
        if request.env != self.config.env {
            return Err(refuse("501", format!("this device is registered for {}", self.config.env.as_str())));
        }
        if request.purpose != method || method != self.config.purpose {
            return Err(refuse("502", format!("this device is registered for {}", self.config.purpose.as_str())));
        }
        if request.bio.is_empty() || request.custom_opts.len() > 50 {
            return Err(refuse("503", "invalid request: no bio, or more than 50 customOpts".into()));
        }
        let subject = match request.custom_opts.get(SUBJECT_OPT) {
            Some(s) => s.parse::<u64>().map_err(|_| refuse("503", format!("{SUBJECT_OPT} is not a number")))?,
            None => self.presenting(),
        };
        let person = self.person_of(subject).map_err(|e| refuse("503", e.to_string()))?;
        let digital_id = self.signed_digital_id(now).map_err(|e| refuse("102", e.to_string()))?;
        let mut out = Vec::new();
        for bio in &request.bio {
            if bio.bio_type == "Face" {
                if bio.count != 1 || !bio.bio_sub_type.is_empty() {
                    return Err(refuse("109", "one face photo per request, bioSubType empty".into()));
                }
                let face_id = self.signed_face_digital_id(now).map_err(|e| refuse("102", e.to_string()))?;
                let photo = face::synthetic_photo(person).map_err(|e| refuse("102", e.to_string()))?;
                out.push(CaptureData {
                    digital_id: face_id,
                    device_code: self.device_code.clone(),
                    device_service_version: "DRUKYUL.SIM.1".into(),
                    bio_type: Some("Face".into()),
                    bio_sub_type: String::new(),
                    purpose: method.as_str().into(),
                    env: self.config.env.as_str().into(),
                    bio_value: URL_SAFE_NO_PAD.encode(face::write_record(&photo)),
                    bio_extract: None,
                    transaction_id: Some(request.transaction_id.clone()),
                    registration_id: request.registration_id.clone(),
                    domain_uri: request.domain_uri.clone(),
                    timestamp: timestamp(now),
                    requested_score: Some(bio.requested_score as f64),
                    quality_score: 80.0 + (mix(person ^ 0xface) % 15) as f64,
                });
                continue;
            }
            if !matches!(bio.bio_type.as_str(), "Finger" | "FIR" | "FMR") {
                return Err(refuse("106", format!("no {} device here", bio.bio_type)));
            }
            let fingers: Vec<FingerPosition> = if bio.bio_sub_type.is_empty() {
                let slap = slap_fingers(&bio.device_sub_id)
                    .ok_or_else(|| refuse("106", format!("no sub-device {}", bio.device_sub_id)))?;
                let exceptions: Vec<FingerPosition> =
                    bio.exception.iter().filter_map(|n| finger_from_sub_type(n)).collect();
                slap.iter().copied().filter(|f| !exceptions.contains(f)).collect()
            } else {
                bio.bio_sub_type
                    .iter()
                    .map(|n| finger_from_sub_type(n).ok_or_else(|| refuse("109", format!("unknown finger \"{n}\""))))
                    .collect::<Result<_, _>>()?
            };
            if fingers.len() as u64 != bio.count {
                return Err(refuse("109", format!("count {} but {} fingers", bio.count, fingers.len())));
            }
            for finger in fingers {
                let number = self.captures.fetch_add(1, Ordering::Relaxed);
                let impression = self
                    .population
                    .capture_rng(person, finger, number)
                    .and_then(|mut rng| self.population.impression(person, finger, &self.config.noise, &mut rng))
                    .and_then(|i| i.to_record().map(|r| (i.quality(), template::write(&r))))
                    .map_err(|e| refuse("102", e.to_string()))?;
                let (quality, record) = impression;
                out.push(CaptureData {
                    digital_id: digital_id.clone(),
                    device_code: self.device_code.clone(),
                    device_service_version: "DRUKYUL.SIM.1".into(),
                    bio_type: Some("Finger".into()),
                    bio_sub_type: sub_type_name(finger).into(),
                    purpose: method.as_str().into(),
                    env: self.config.env.as_str().into(),
                    bio_value: URL_SAFE_NO_PAD.encode(record),
                    bio_extract: None,
                    transaction_id: Some(request.transaction_id.clone()),
                    registration_id: request.registration_id.clone(),
                    domain_uri: request.domain_uri.clone(),
                    timestamp: timestamp(now),
                    requested_score: Some(bio.requested_score as f64),
                    quality_score: f64::from(quality),
                });
            }
        }
        Ok(out)
    }

    /// Signs capture payloads into a response, chaining their hashes from `previous_hash`.
    pub fn sign_captures(&self, data: &[CaptureData], previous_hash: &str) -> Result<CaptureResponse, SbiError> {
        let mut previous = previous_hash.to_owned();
        let mut biometrics = Vec::with_capacity(data.len());
        for d in data {
            let bio = URL_SAFE_NO_PAD.decode(&d.bio_value).map_err(keys)?;
            let hash = chain_next(&previous, &bio);
            let payload = serde_json::to_vec(d).map_err(keys)?;
            biometrics.push(BiometricEntry {
                spec_version: Some(SPEC_VERSION.into()),
                data: Some(self.signer.sign(&payload)?),
                hash: Some(hash.clone()),
                session_key: None,
                thumbprint: None,
                error: Some(DeviceErrorBody { errorcode: "0".into(), errorinfo: "Success".into() }),
            });
            previous = hash;
        }
        Ok(CaptureResponse { biometrics, error: None })
    }

    /// The RCAPTURE (`method` Registration) or CAPTURE (Auth) answer.
    pub fn capture(&self, request: &CaptureRequest, method: Purpose, now: time::OffsetDateTime) -> CaptureResponse {
        let refused = |error| CaptureResponse { biometrics: Vec::new(), error: Some(error) };
        let data = match self.capture_data(request, method, now) {
            Ok(data) => data,
            Err(error) => return refused(error),
        };
        let start = request.bio.first().map(|b| b.previous_hash.as_str()).unwrap_or_default();
        match self.sign_captures(&data, start) {
            Ok(response) => response,
            Err(e) => refused(DeviceErrorBody { errorcode: "102".into(), errorinfo: e.to_string() }),
        }
    }

    /// The HTTP service: `/device` (MOSIPDISC), `/info` (MOSIPDINFO), `/capture` (RCAPTURE,
    /// CAPTURE), and the control endpoints under `/simulator/`.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/device", any(device))
            .route("/info", any(info))
            .route("/capture", any(capture))
            .route("/simulator/present", any(present))
            .route("/simulator/roster", any(roster))
            .route("/simulator/ca.pem", any(ca_pem))
            .with_state(self)
    }
}

/// Serves the simulator on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, simulator: Arc<Simulator>) -> std::io::Result<()> {
    axum::serve(listener, simulator.router()).await
}

fn timestamp(now: time::OffsetDateTime) -> String {
    // RFC 3339 with milliseconds, as the specification's examples.
    let t = now.replace_nanosecond(now.millisecond() as u32 * 1_000_000).unwrap_or(now);
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// The browser of an enrolment console on another origin calls the device directly.
fn cors(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("MOSIPDISC, MOSIPDINFO, RCAPTURE, CAPTURE, GET, POST, OPTIONS"),
    );
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Content-Type, EXT"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn not_allowed() -> Response {
    cors((StatusCode::METHOD_NOT_ALLOWED, "method not allowed").into_response())
}

fn bad(text: String) -> Response {
    cors((StatusCode::BAD_REQUEST, Json(DeviceErrorBody { errorcode: "503".into(), errorinfo: text })).into_response())
}

async fn device(State(sim): State<Arc<Simulator>>, method: Method, body: Bytes) -> Response {
    match method.as_str() {
        "OPTIONS" => cors(StatusCode::NO_CONTENT.into_response()),
        "MOSIPDISC" => {
            let request = if body.is_empty() {
                DiscoverRequest { device_type: "Biometric Device".into() }
            } else {
                match serde_json::from_slice(&body) {
                    Ok(r) => r,
                    Err(e) => return bad(format!("invalid discovery request: {e}")),
                }
            };
            cors(Json(sim.discover(&request, now())).into_response())
        }
        _ => not_allowed(),
    }
}

async fn info(State(sim): State<Arc<Simulator>>, method: Method) -> Response {
    match method.as_str() {
        "OPTIONS" => cors(StatusCode::NO_CONTENT.into_response()),
        "MOSIPDINFO" => match sim.device_info(now()) {
            Ok(info) => cors(Json(info).into_response()),
            Err(e) => cors((StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()),
        },
        _ => not_allowed(),
    }
}

async fn capture(State(sim): State<Arc<Simulator>>, method: Method, body: Bytes) -> Response {
    let purpose = match method.as_str() {
        "OPTIONS" => return cors(StatusCode::NO_CONTENT.into_response()),
        "RCAPTURE" => Purpose::Registration,
        "CAPTURE" => Purpose::Auth,
        _ => return not_allowed(),
    };
    let request: CaptureRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad(format!("invalid capture request: {e}")),
    };
    let sim2 = Arc::clone(&sim);
    // Impressions and signatures are CPU work: off the async threads.
    match tokio::task::spawn_blocking(move || sim2.capture(&request, purpose, now())).await {
        Ok(response) => cors(Json(response).into_response()),
        Err(e) => cors((StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()),
    }
}

#[derive(Deserialize)]
struct PresentBody {
    subject: u64,
}

async fn present(State(sim): State<Arc<Simulator>>, method: Method, body: Bytes) -> Response {
    match method.as_str() {
        "GET" => {
            let subject = sim.presenting();
            let person = sim.person_of(subject).unwrap_or(subject);
            cors(Json(serde_json::json!({"subject": subject, "person": person})).into_response())
        }
        "POST" => {
            let body: PresentBody = match serde_json::from_slice(&body) {
                Ok(b) => b,
                Err(e) => return bad(format!("expected {{\"subject\": N}}: {e}")),
            };
            match sim.present(body.subject) {
                Ok(person) => {
                    cors(Json(serde_json::json!({"subject": body.subject, "person": person})).into_response())
                }
                Err(e) => bad(e.to_string()),
            }
        }
        "OPTIONS" => cors(StatusCode::NO_CONTENT.into_response()),
        _ => not_allowed(),
    }
}

async fn roster(State(sim): State<Arc<Simulator>>) -> Response {
    cors(Json(sim.roster()).into_response())
}

async fn ca_pem(State(sim): State<Arc<Simulator>>) -> Response {
    cors(([(header::CONTENT_TYPE, "application/x-pem-file")], sim.trust_pem.clone()).into_response())
}
