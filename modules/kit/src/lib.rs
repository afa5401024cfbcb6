//! # agency-kit — what every Drukyul ID agency module shares
//!
//! The four agency modules (citizen-services, epis, emis, e-business) are ordinary agency
//! applications: they reach Drukyul ID only through the `relying-party-sdk`, and each keeps its
//! own database. What they have in common, and what any new agency service would need too, is
//! here so that each module is only its own domain:
//!
//! - [`db`]: the module's database — embedded SQLite by default, PostgreSQL by configuration —
//!   with the kit's migrations (numbered below 100) and the module's (from 100);
//! - [`audit`]: an append-only log per subject, with entries flagged for the person they concern
//!   (so a patient sees who opened their record);
//! - [`staff`]: roles by CID and unit (facility, school, office), checked on every request, with
//!   refusals audited;
//! - [`web`]: the page layout (askama), a strict CSP and security headers, refusal of
//!   cross-site form posts, and double-submit CSRF tokens;
//! - [`server`]: the layers around a module's routes, logs and graceful shutdown;
//! - [`pdf`]: the one-page documents an agency issues (certificates, report cards, licences),
//!   with a QR code to their public verification page, ready to be sealed;
//! - one error type, [`Error`], rendered as a clear page (or JSON through [`ApiError`]).
#![forbid(unsafe_code)]

pub mod audit;
pub mod db;
mod error;
pub mod pdf;
pub mod server;
pub mod staff;
pub mod web;

pub use error::{ApiError, Error, Result};

/// The current time, Unix seconds: the one clock modules read (domain functions take `now`).
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
