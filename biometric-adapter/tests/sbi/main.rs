//! The SBI 0.9.5 client, verifier and device simulator, over real HTTP on 127.0.0.1: the happy
//! path (discover, info, ten fingers, quality) and every refusal the enrolment issue lists.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod attacks;
mod fixture;
mod flow;
mod support;
