//! # emis — Education Management Information System
//!
//! Will be an axum application built only on the relying-party SDK, with its own database:
//! schools, students keyed by CID, enrolment, grades and report cards signed by the school.
//! Not implemented yet (see the relying-party issue).
#![forbid(unsafe_code)]

fn main() {
    eprintln!("emis is not implemented yet; see the relying-party issue");
    std::process::exit(2);
}
