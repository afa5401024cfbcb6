//! # e-business — business licensing and the single customs-trade window
//!
//! Will be an axum application built only on the relying-party SDK, with its own database:
//! licence applications signed by the applicant, officer review with signature verification,
//! licences with a public verification page, and export/import clearances.
//! Not implemented yet (see the relying-party issue).
#![forbid(unsafe_code)]

fn main() {
    eprintln!("e-business is not implemented yet; see the relying-party issue");
    std::process::exit(2);
}
