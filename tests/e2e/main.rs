//! End-to-end tests of Drukyul ID: one test binary that tells the whole story, each test on
//! SQLite and, when `TEST_POSTGRES_URL` is set, on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

mod agency_api;
mod attacks;
mod authenticator;
mod citizen;
mod citizen_services;
mod cluster;
mod ebiz;
mod emis;
mod enrol;
mod enrolment;
mod epis;
mod flows;
mod life_events;
mod pades;
mod pki;
mod recovery;
mod rp;
mod sdk;
mod seal;
mod signing;

#[path = "../browser/mod.rs"]
mod browser;
