//! What the SBI client and verifier refuse, and why, in words an enrolment officer's console can
//! show and an auditor can read. Nested in the crate's [`crate::Error`] as [`crate::Error::Sbi`].

use crate::template::FingerPosition;

/// One finger whose capture scored under the policy's minimum.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QualityShortfall {
    /// Which finger.
    pub finger: FingerPosition,
    /// The score the device reported (0-100).
    pub score: f64,
    /// The minimum the policy asks for this finger.
    pub minimum: f64,
}

impl Eq for QualityShortfall {}

/// Everything the device protocol can go wrong with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SbiError {
    /// The device service could not be reached (nothing listening, connection reset).
    #[error("{operation} on 127.0.0.1:{port}: the device service could not be reached: {reason}")]
    Unreachable {
        /// MOSIPDISC, MOSIPDINFO, RCAPTURE or CAPTURE.
        operation: &'static str,
        /// The port.
        port: u16,
        /// What the connection said.
        reason: String,
    },
    /// The device service did not answer in time.
    #[error("{operation} on 127.0.0.1:{port}: no answer within {after_ms} ms")]
    Timeout {
        /// The method.
        operation: &'static str,
        /// The port.
        port: u16,
        /// The limit that ran out.
        after_ms: u64,
    },
    /// A response (or a part of it) is larger than we accept.
    #[error("{what} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// Which part.
        what: String,
        /// The limit.
        limit: usize,
    },
    /// Not the JSON, base64 or JWS structure the specification defines.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// Which part.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// The device answered with one of the specification's error codes.
    #[error("the device reported error {code}: {meaning}{}", detail(info))]
    Device {
        /// The code (0 is success; 100-109 are the specification's; 5xx the vendor's).
        code: String,
        /// What the specification says the code means.
        meaning: String,
        /// The device's own text, shortened.
        info: String,
    },
    /// A JWS signature does not verify: the signed content was changed, or signed by another key.
    #[error("the signature on {what} does not verify: {reason}")]
    BadSignature {
        /// Which signed element.
        what: String,
        /// Why.
        reason: String,
    },
    /// A certificate chain that does not lead to a configured, trusted device-provider CA.
    #[error("{what} is not signed by a trusted device provider: {reason}")]
    Untrusted {
        /// Which signed element.
        what: String,
        /// Why.
        reason: String,
    },
    /// A certificate outside its validity period at the time of the check.
    #[error("certificate \"{subject}\" is not valid now: {reason}")]
    CertificateValidity {
        /// The certificate's subject.
        subject: String,
        /// Expired or not yet valid, and when.
        reason: String,
    },
    /// The response is for another transaction than the one requested.
    #[error("the capture is for transaction \"{got}\", not the requested \"{expected}\"")]
    TransactionMismatch {
        /// What we sent.
        expected: String,
        /// What came back.
        got: String,
    },
    /// A transaction id seen before: a replayed capture.
    #[error("transaction \"{transaction_id}\" was already used: a capture cannot be submitted twice")]
    Replay {
        /// The id.
        transaction_id: String,
    },
    /// A capture made for another purpose (Registration vs Auth).
    #[error("the capture was made for purpose \"{got}\", but \"{expected}\" is required")]
    WrongPurpose {
        /// Required.
        expected: String,
        /// Found.
        got: String,
    },
    /// A capture made in another environment (Staging, Developer, Pre-Production, Production).
    #[error("the capture was made in environment \"{got}\", but \"{expected}\" is required")]
    WrongEnvironment {
        /// Required.
        expected: String,
        /// Found.
        got: String,
    },
    /// The captures' hash chain is broken: a capture was removed, added, reordered or changed.
    #[error("the hash chain is broken at capture {index}: {reason}")]
    HashChain {
        /// Zero-based position of the first bad capture.
        index: usize,
        /// Why.
        reason: String,
    },
    /// The device returned other fingers, or another number of them, than requested.
    #[error("the device returned other captures than requested: {reason}")]
    Mismatch {
        /// What differs.
        reason: String,
    },
    /// The device identity in a capture differs from the one the device info announced.
    #[error("the capture's device identity does not match the device info: {reason}")]
    DeviceMismatch {
        /// Which field.
        reason: String,
    },
    /// The biometric inside bioValue is not a valid record, or contradicts the capture's metadata.
    #[error("the {finger:?} capture's bioValue is unusable: {reason}")]
    Template {
        /// The finger the metadata names.
        finger: FingerPosition,
        /// Why.
        reason: String,
    },
    /// A capture whose timestamp is too far from now.
    #[error("stale capture: {reason}")]
    Stale {
        /// By how much.
        reason: String,
    },
    /// One or more fingers scored under the quality policy: recapture them.
    #[error("recapture needed: {}", shortfalls(failures))]
    QualityTooLow {
        /// Every finger under its minimum, in capture order.
        failures: Vec<QualityShortfall>,
    },
    /// A feature of the protocol this client does not implement.
    #[error("not supported: {reason}")]
    Unsupported {
        /// What.
        reason: String,
    },
    /// The simulator could not create or load its keys and certificates.
    #[error("device keys: {reason}")]
    Keys {
        /// Why.
        reason: String,
    },
}

fn detail(info: &str) -> String {
    if info.is_empty() { String::new() } else { format!(" (device says: {info})") }
}

fn shortfalls(failures: &[QualityShortfall]) -> String {
    failures
        .iter()
        .map(|f| {
            format!(
                "{} scored {:.0}, below the minimum {:.0}",
                super::messages::finger_label(f.finger),
                f.score,
                f.minimum
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl SbiError {
    pub(crate) fn malformed(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        SbiError::Malformed { what: what.into(), reason: reason.to_string() }
    }
}
