//! # relying-party-sdk — what an agency links to use Drukyul ID
//!
//! Every agency service (ePIS, EMIS, e-business, the integrated citizen services) is a relying
//! party of the Drukyul ID identity provider. This crate makes the secure path the easy one:
//! an agency developer writes handlers that take the citizen as an argument, and the SDK does
//! the OpenID Connect protocol, the sessions and the token checks.
//!
//! ## What it does
//! - **Login** ([`RelyingParty`], on the `openidconnect` crate): discovery (cached; the
//!   provider's keys are re-fetched when a token names an unknown `kid`, at most once a minute),
//!   the authorization-code flow with PKCE S256, `state` and `nonce` (pushed with PAR when
//!   [`Config::use_par`] is set), optional `acr_values`, `prompt`, `max_age` and `claims`
//!   ([`LoginOptions`]); the callback checks `state`, the RFC 9207 `iss` parameter, exchanges the
//!   code and validates the ID token (`iss`, `aud`, `azp`, `exp`, `iat`, `nonce`, algorithm
//!   allow-list, `at_hash`) into a typed [`Citizen`] (`sub`, [`Acr`], `amr`, `auth_time`, `sid`,
//!   claims). Also userinfo, refresh, the RP-initiated logout URL, and back-channel logout
//!   ([`RelyingParty::verify_logout_token`]: `iss`, `aud`, `iat`, single-use `jti`, `events`, `sid`
//!   and/or `sub`, no `nonce`, `typ` `logout+jwt`).
//! - **Client authentication** ([`ClientAuth`]): `private_key_jwt` with the agency's ES256 key
//!   ([`ClientKey`]), or `client_secret_basic` / `client_secret_post`.
//! - **Sessions** ([`session`]): server-side; the browser holds a random 256-bit id in an
//!   `HttpOnly`, `SameSite=Lax`, `Secure`, `__Host-` cookie (plain `http://localhost` drops the
//!   last two); the store keeps only its SHA-256; idle and absolute lifetimes; a new id at each
//!   login. Stores: [`SqlStore`] (SQLite or PostgreSQL, creates its tables) and [`MemoryStore`].
//! - **axum** ([`RelyingParty::session_layer`], [`RelyingParty::routes`]): extractors
//!   [`AuthenticatedCitizen`] (redirects to login when absent), [`Assured<LoaHigh>`](Assured)
//!   (step-up: a new authorization request with the level as an essential `acr`),
//!   [`MaybeCitizen`], [`CitizenSession`] (tokens, refresh, userinfo); the routes
//!   `/auth/callback` (the redirect URI's path), `/auth/login`, `/auth/logout`,
//!   `/auth/backchannel-logout`. A page needing the citizen makes no call to the provider.
//! - **Agency APIs**: [`Bearer<S>`](Bearer) validates RFC 9068 JWT access tokens offline
//!   ([`AccessTokenValidator`]: `typ` `at+jwt`, `iss`, `aud`, `exp`/`nbf`/`iat` with a 30 s
//!   leeway, the scopes `S` names, key rotation through the cached JWKS) and answers 401/403 with
//!   RFC 6750 `WWW-Authenticate`. Calling another agency: [`ServiceClient`] (client_credentials,
//!   tokens cached until shortly before expiry).
//!
//! ## A complete example
//! `examples/agency.rs`, built by `cargo test` and driven end to end by the workspace's tests:
#![doc = concat!("```no_run\n", include_str!("../examples/agency.rs"), "\n```")]

//! ## Registering the client
//! With the identity provider's CLI: redirect URI `https://agency.gov.bt/auth/callback`,
//! post-logout redirect URI, back-channel logout URI `https://agency.gov.bt/auth/backchannel-logout`,
//! the scopes the service needs, `token_endpoint_auth_method` `private_key_jwt` with
//! [`ClientKey::public_jwk`] as its key, and, for an API, the API's URL as a `resource` of each
//! client allowed to call it (that URL is [`Config::api_audience`]).
#![forbid(unsafe_code)]

mod access_token;
mod client_auth;
mod error;
mod http_client;
mod jose;
mod login;
mod logout;
mod provider;
mod service;
pub mod session;
pub mod signing;
mod web;

pub use access_token::{AccessClaims, AccessTokenValidator, BearerError, DEFAULT_LEEWAY};
pub use client_auth::{ClientAuth, ClientKey, ClientSecret};
pub use error::{Error, Result};
pub use jose::SigningAlg;
pub use login::{Acr, CallbackParams, Citizen, Config, LoginOptions, PendingLogin, Prompt, RelyingParty, Tokens};
pub use logout::LogoutToken;
pub use provider::{Provider, ProviderOptions};
pub use service::ServiceClient;
pub use session::{MemoryStore, SessionConfig, SessionStore, SqlStore};
pub use web::{
    AnyScope, AssuranceLevel, Assured, AuthenticatedCitizen, Bearer, CitizenSession, LoaHigh, LoaSubstantial,
    MaybeCitizen, RequiredScopes, SessionLayer, SessionService,
};

/// The crate's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
