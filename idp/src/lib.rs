//! # idp — the Drukyul ID identity provider
//!
//! An OpenID Connect provider for Bhutan's national digital identity: citizens proven once at
//! enrolment log in to every government service with passkeys; agencies integrate through
//! standard OpenID Connect and OAuth 2.0.
//!
//! How the parts fit:
//! - [`domain`]: plain types and functions that take `now` and know nothing of HTTP or SQL —
//!   `Cid`, clients and their validation, how a token is minted ([`domain::tokens`]), signing
//!   keys, the registry import format, the audit chain.
//! - [`store`]: the one repository layer, over SQLite (embedded default) or PostgreSQL.
//! - [`app`]: the shared state ([`app::Idp`]) and the operations that need storage, called by
//!   the HTTP handlers, the CLI and the admin API alike.
//! - [`client_auth`]: client authentication; its [`client_auth::Authenticated`] proof is what
//!   token-minting code requires.
//! - [`http`]: routes, extractors, middleware and the single error-to-response mapping.
//! - [`keyring`]: the in-memory, periodically refreshed view of the signing keys.
//!
//! The binary (`idp`) is the server and the operator's CLI.
#![forbid(unsafe_code)]

pub mod app;
pub mod client_auth;
pub mod config;
pub mod domain;
pub mod enrolment;
pub mod error;
pub mod http;
pub mod i18n;
pub mod keyring;
pub mod life_events;
pub mod login;
pub mod metrics;
pub mod oidc;
pub mod passkeys;
pub mod pki;
pub mod server;
pub mod signing;
pub mod store;

pub use app::{AppState, Idp};
pub use config::Config;
pub use error::{Error, Result};
