//! # relying-party-sdk — what an agency links to use Drukyul ID
//!
//! This crate will hold (see the relying-party issue and `DESIGN.md`, "Relying parties"):
//! - login built on the `openidconnect` crate: discovery (cached, refreshed on an unknown `kid`),
//!   the authorization-code flow with PKCE, state and nonce (PAR when configured), ID-token
//!   validation, userinfo, refresh, RP-initiated and back-channel logout;
//! - axum extractors: the authenticated citizen, a required assurance level with step-up, and a
//!   bearer-token extractor validating RFC 9068 JWT access tokens offline;
//! - a client for the signing API and a PAdES helper.
//!
//! Nothing is implemented yet: this crate only reserves its place in the workspace.
#![forbid(unsafe_code)]

pub mod signing;

/// The crate's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
