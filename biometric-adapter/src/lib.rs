//! # biometric-adapter — fingerprints for enrolment and de-duplication
//!
//! This crate will hold (see the enrolment issue and `DESIGN.md`, "Enrolment and biometrics"):
//! - ISO/IEC 19794-2:2005 and ANSI INCITS 378-2004 minutiae records, parsed and written byte-exact;
//! - ISO/IEC 19794-4 finger image decoding and minutiae extraction;
//! - a MOSIP SBI 0.9.5 device protocol client (discovery, device info, RCAPTURE, CAPTURE) that
//!   verifies the device's JWS signatures against trusted device-provider CAs;
//! - a device simulator binary over a synthetic, seeded population;
//! - a 1:1 / 1:N matcher with multi-finger fusion, quality checks, and the `Abis` trait with a
//!   built-in implementation and an HTTP connector for an external ABIS.
//!
//! Nothing is implemented yet: this crate only reserves its place in the workspace.
#![forbid(unsafe_code)]

/// The crate's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
