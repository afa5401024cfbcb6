//! Tests of the `template` module and the `biometric-adapter` binary, in one test binary.
//!
//! The published vectors are read from `../shared/fixtures/iso19794-2` next to the repository;
//! when that is missing the tests that need it say SKIPPED (and fail under
//! `IDP_REQUIRE_ALL_SUITES=1`).
// Test helpers outside #[test] functions may panic too (clippy.toml only covers the tests).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod cli;
mod fixtures;
mod fuzz;
mod malformed;
mod support;
mod synthetic;
