//! # epis — electronic Patient Information System
//!
//! Will be an axum application built only on the relying-party SDK, with its own database: the
//! 236 health facilities, health workers with roles, patient records keyed by CID, encounters,
//! diagnoses, prescriptions, the patient's own view with its access log, and flagged, audited
//! emergency access. Not implemented yet (see the relying-party issue).
#![forbid(unsafe_code)]

fn main() {
    eprintln!("epis is not implemented yet; see the relying-party issue");
    std::process::exit(2);
}
