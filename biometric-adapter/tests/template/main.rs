//! Tests of the `template` module and the `biometric-adapter` binary, in one test binary.
//!
//! The published vectors are in `tests/fixtures/iso19794-2` (copied unchanged from the
//! programme's shared fixtures; sources and licences in `tests/fixtures/README.md`). Should they
//! be missing, the tests that need them say SKIPPED (and fail under `IDP_REQUIRE_ALL_SUITES=1`).
// Test helpers outside #[test] functions may panic too (clippy.toml only covers the tests).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod builder;
mod cli;
mod fixtures;
mod fuzz;
mod malformed;
mod support;
mod synthetic;
