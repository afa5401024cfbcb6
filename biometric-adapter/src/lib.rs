//! # biometric-adapter — fingerprints for enrolment and de-duplication
//!
//! What is here now:
//! - [`template`]: ISO/IEC 19794-2:2005 and ANSI INCITS 378-2004 finger minutiae records, parsed
//!   with strict validation (errors name the byte offset), written back byte-exact, and built from
//!   values with [`template::Record::new`], which checks the same rules;
//! - [`population`]: a synthetic, seeded population — ten fingers per person with stable "master"
//!   minutiae traced along a ridge-flow field, and captures degraded as [`population::NoiseParams`]
//!   says (rotation, translation, elastic distortion, noise, lost and spurious minutiae, a crop)
//!   with a quality score that tracks the damage — turned into ISO records;
//! - one error type, [`Error`];
//! - the `biometric-adapter` binary: `biometric-adapter template show FILE` prints a record as JSON.
//!
//! Still to come (see the enrolment issue and `DESIGN.md`, "Enrolment and biometrics"), and not
//! pretended here:
//! - ISO/IEC 19794-4 finger image decoding and minutiae extraction;
//! - the MOSIP SBI 0.9.5 device protocol client (discovery, device info, RCAPTURE, CAPTURE) that
//!   verifies the device's JWS signatures against trusted device-provider CAs;
//! - the device simulator binary: an SBI HTTP service over [`population`];
//! - the 1:1 / 1:N matcher with multi-finger fusion and quality checks, the `Abis` trait with a
//!   built-in implementation and an HTTP connector for an external ABIS — and with it
//!   `template compare`, which the binary deliberately does not offer yet.
#![forbid(unsafe_code)]

mod error;
pub mod population;
pub mod template;

pub use error::Error;

/// The crate's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
