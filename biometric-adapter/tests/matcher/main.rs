//! Tests of the synthetic population and the matcher together, in one test binary.
//!
//! The heavier ones scale with the build: a debug build (`cargo test`) runs them on a smaller
//! population so the suite stays quick, a release build (`cargo test --release`) on the full
//! sizes the enrolment issue's acceptance criteria name.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod calibration;
mod dedup;
mod fixtures;
mod matching;
mod support;
