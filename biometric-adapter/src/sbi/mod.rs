//! MOSIP SBI 0.9.5 — the protocol of the scanners' local device services — and a device
//! simulator that speaks it.
//!
//! ```text
//! officer's machine                                   identity provider
//! device service on 127.0.0.1:4501-4600  ◀─ HTTP ─▶  SbiClient (or the browser, forwarding)
//!   MOSIPDISC /device   → DiscoveredDevice[]          discover
//!   MOSIPDINFO /info    → JWS(DeviceInfo)[]           verify_device_info
//!   RCAPTURE /capture   → {biometrics: [JWS(CaptureData), hash]}   verify_capture_response
//!   CAPTURE /capture    (authentication)                            + QualityPolicy::check
//! ```
//!
//! - [`messages`]: the wire types, field for field as the specification names them;
//! - [`jws`] and [`trust`]: compact JWS with `x5c`, verified against the configured trusted
//!   device-provider CAs with full X.509 path validation at `now`;
//! - [`verify`]: device info, digital id, the capture hash chain, transactionId echo, purpose and
//!   environment, fingers requested vs returned, timestamps, the biometric inside bioValue; and
//!   [`verify::TransactionGuard`], which refuses a transactionId seen before;
//! - [`quality`]: per-finger minimum quality, refused with the finger and the score;
//! - [`client`]: the HTTP client (timeouts on every call, response size limits);
//! - [`simulator`]: the simulated device provider, device and service (binary `sbi-simulator`).
//!
//! Not implemented: CAPTURE responses whose bioValue is encrypted under a MOSIP domain key
//! (`sessionKey`): they are refused as unsupported. The simulator answers CAPTURE unencrypted.

pub mod client;
mod error;
pub mod face;
pub mod jws;
pub mod messages;
pub mod quality;
pub mod simulator;
pub mod trust;
pub mod verify;

pub use error::{QualityShortfall, SbiError};
