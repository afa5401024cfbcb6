//! # citizen-services — Integrated Citizen Services
//!
//! Will be an axum application built only on the relying-party SDK, with its own database: a
//! catalogue of services described as data (birth, death, marriage, pension, vehicle services,
//! permits, construction approval, utility connection), citizen applications, officer review,
//! signed certificates, and life events sent to other agencies over OAuth-protected APIs.
//! Not implemented yet (see the relying-party issue).
#![forbid(unsafe_code)]

fn main() {
    eprintln!("citizen-services is not implemented yet; see the relying-party issue");
    std::process::exit(2);
}
