//! Domain logic: plain types and functions that know nothing of HTTP or SQL and take `now`.

pub mod audit;
pub mod authorize;
pub mod cid;
pub mod claims;
pub mod client;
pub mod keys;
pub mod registry;
pub mod secrets;
pub mod tokens;

/// The assurance levels, lowest first (DESIGN.md, "Assurance").
pub const ACR_VALUES: [&str; 2] = ["urn:drukyul:loa:substantial", "urn:drukyul:loa:high"];

/// Unix time in seconds; the type every domain function takes as `now`.
pub type UnixTime = i64;

/// The wall clock, read only at the edges (handlers, CLI) and passed inward.
pub fn now() -> UnixTime {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
