//! Offline validation of RFC 9068 JWT access tokens, for agency APIs.
//!
//! No call to the identity provider per request: the signature is checked against the cached
//! JWKS (re-fetched, rate limited, when a token names a new key after a rotation), then `typ`
//! (`at+jwt`, so an ID token or logout token signed by the same key is not an access token),
//! `iss`, `aud` (this API's own resource identifier, never the issuer: a token for the
//! provider's userinfo endpoint is not a token for us), `exp`/`nbf`/`iat` with a small leeway,
//! and the scopes the endpoint needs. Refusals map to RFC 6750 answers: 401 `invalid_token`,
//! 403 `insufficient_scope`, 400 `invalid_request`, each with `WWW-Authenticate`.
//!
//! The ES256 verification is nearly all the cost. The provider's keys are few and long-lived, so
//! each is prepared once, on first use, into a table of its multiples (`signer::es256`; about
//! 2 ms and 270 KB per key): a verification then takes a third of a general verifier's time. A
//! token that verified once is remembered by its SHA-256 (up to 4096 per validator) and
//! re-checked only against the clock and audience, so a caller reusing its token costs well
//! under a microsecond after the first call.
//!
//! What offline validation cannot see is a revocation at the provider before `exp`; Drukyul ID
//! keeps access tokens short-lived (minutes) for that reason. An API that must know at once can
//! introspect instead.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::{Deserialize, Deserializer};

use crate::{
    jose::{JoseError, Jws, SigningAlg},
    provider::{Keys, Provider},
};

/// Default clock leeway for `exp`, `nbf` and `iat`, in seconds.
pub const DEFAULT_LEEWAY: i64 = 30;

/// The validated claims of an access token.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// The citizen's pairwise subject, or the calling client's id for client_credentials.
    pub sub: String,
    /// Audiences.
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Not before, if set.
    #[serde(default)]
    pub nbf: Option<i64>,
    /// Issued at.
    pub iat: i64,
    /// Token id.
    pub jti: String,
    /// The client the token was issued to (the caller).
    pub client_id: String,
    /// Granted scope, space-separated.
    #[serde(default)]
    pub scope: String,
    /// Assurance level of the citizen's login, for a citizen's token.
    #[serde(default)]
    pub acr: Option<String>,
    /// Authentication methods, for a citizen's token.
    #[serde(default)]
    pub amr: Option<Vec<String>>,
    /// When the citizen authenticated, for a citizen's token.
    #[serde(default)]
    pub auth_time: Option<i64>,
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Aud {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Aud::deserialize(d)? {
        Aud::One(s) => vec![s],
        Aud::Many(v) => v,
    })
}

impl AccessClaims {
    /// The granted scopes.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split(' ').filter(|s| !s.is_empty())
    }

    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }

    /// Refuses with 403 `insufficient_scope` unless every one of `needed` was granted.
    pub fn require_scopes(&self, needed: &[&str]) -> Result<(), BearerError> {
        if needed.iter().all(|n| self.has_scope(n)) {
            Ok(())
        } else {
            Err(BearerError::InsufficientScope(needed.join(" ")))
        }
    }

    /// True for a token issued to a client on its own behalf (client_credentials), false for a
    /// citizen's token.
    pub fn is_client_credentials(&self) -> bool {
        self.acr.is_none() && self.sub == self.client_id
    }
}

/// Why a bearer token was refused; each maps to its RFC 6750 answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    /// No token was presented (401, no error code, per RFC 6750 3.1).
    #[error("no access token")]
    Missing,
    /// The request carried the token wrongly (400 `invalid_request`).
    #[error("malformed request: {0}")]
    InvalidRequest(&'static str),
    /// The token is not valid here (401 `invalid_token`).
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    /// The token lacks scopes (403 `insufficient_scope`); carries the scopes needed.
    #[error("insufficient scope, needs {0}")]
    InsufficientScope(String),
    /// The API was not given a validator (a programming error; 500).
    #[error("no access-token validator is installed")]
    NotConfigured,
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        let (status, challenge) = match &self {
            BearerError::Missing => (StatusCode::UNAUTHORIZED, "Bearer".to_string()),
            BearerError::InvalidRequest(d) => {
                (StatusCode::BAD_REQUEST, format!("Bearer error=\"invalid_request\", error_description=\"{d}\""))
            }
            BearerError::InvalidToken(d) => {
                (StatusCode::UNAUTHORIZED, format!("Bearer error=\"invalid_token\", error_description=\"{d}\""))
            }
            BearerError::InsufficientScope(s) => (
                StatusCode::FORBIDDEN,
                format!(
                    "Bearer error=\"insufficient_scope\", error_description=\"the token lacks a required scope\", scope=\"{s}\""
                ),
            ),
            BearerError::NotConfigured => {
                tracing::error!("Bearer extractor used without an AccessTokenValidator extension");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        };
        let mut r = status.into_response();
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}

/// Validates access tokens for one API (one audience). Cheap to clone; clones share the cache
/// of verified tokens.
#[derive(Clone, Debug)]
pub struct AccessTokenValidator {
    inner: Arc<ValidatorInner>,
}

struct ValidatorInner {
    provider: Provider,
    audience: String,
    leeway: i64,
    /// Tokens whose signature already verified, by SHA-256 of the whole token: a caller
    /// reuses its token for minutes, and the ES256 verification is nearly all the cost. Every
    /// hit is still checked against `now` (expiry) and the audience.
    verified: Mutex<HashMap<[u8; 32], AccessClaims>>,
}

impl std::fmt::Debug for ValidatorInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokenValidator").field("audience", &self.audience).finish_non_exhaustive()
    }
}

/// Most verified tokens remembered per validator.
const VERIFIED_CACHE: usize = 4096;

/// Access tokens are signed with ES256 by Drukyul ID; nothing else is accepted.
const ACCESS_TOKEN_ALGS: [SigningAlg; 1] = [SigningAlg::ES256];

impl AccessTokenValidator {
    /// A validator for tokens whose `aud` names `audience` (this API's resource identifier, as
    /// registered in the calling clients' `resources`).
    pub fn new(provider: Provider, audience: impl Into<String>) -> Self {
        Self::with_leeway(provider, audience, DEFAULT_LEEWAY)
    }

    /// Like [`AccessTokenValidator::new`] with another clock leeway (seconds).
    pub fn with_leeway(provider: Provider, audience: impl Into<String>, leeway: i64) -> Self {
        Self {
            inner: Arc::new(ValidatorInner {
                provider,
                audience: audience.into(),
                leeway,
                verified: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The audience this validator accepts.
    pub fn audience(&self) -> &str {
        &self.inner.audience
    }

    /// Validates `token` at `now` (Unix seconds). Suspends only when the token names a key the
    /// cache does not know (a rotation): then the keys are re-fetched, within the rate limit.
    pub async fn validate(&self, token: &str, now: i64) -> Result<AccessClaims, BearerError> {
        let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(digest.as_ref());
        let hit = self.inner.verified.lock().ok().and_then(|m| m.get(&key).cloned());
        if let Some(c) = hit {
            check_claims(&c, self.inner.provider.issuer(), &self.inner.audience, now, self.inner.leeway)?;
            return Ok(c);
        }
        let claims = self.validate_uncached(token, now).await?;
        if let Ok(mut m) = self.inner.verified.lock() {
            if m.len() >= VERIFIED_CACHE {
                m.retain(|_, c| c.exp + self.inner.leeway > now);
                if m.len() >= VERIFIED_CACHE {
                    m.clear();
                }
            }
            m.insert(key, claims.clone());
        }
        Ok(claims)
    }

    async fn validate_uncached(&self, token: &str, now: i64) -> Result<AccessClaims, BearerError> {
        let keys = self.inner.provider.keys();
        match self.validate_with(&keys, token, now) {
            Err(BearerError::InvalidToken(UNKNOWN_KEY)) => {
                let jws = Jws::parse(token, &ACCESS_TOKEN_ALGS).map_err(map_jose)?;
                match self.inner.provider.keys_after_unknown_kid(&keys).await {
                    Some(fresh) if fresh.fast.has(jws.kid()) => self.validate_with(&fresh, token, now),
                    _ => Err(BearerError::InvalidToken(UNKNOWN_KEY)),
                }
            }
            other => other,
        }
    }

    fn validate_with(&self, keys: &Keys, token: &str, now: i64) -> Result<AccessClaims, BearerError> {
        let jws = Jws::parse(token, &ACCESS_TOKEN_ALGS).map_err(map_jose)?;
        jws.check_typ("at+jwt", true).map_err(map_jose)?;
        jws.verify(&keys.fast).map_err(map_jose)?;
        let c: AccessClaims = jws.claims().map_err(map_jose)?;
        check_claims(&c, self.inner.provider.issuer(), &self.inner.audience, now, self.inner.leeway)?;
        Ok(c)
    }
}

const UNKNOWN_KEY: &str = "the token is signed by an unknown key";

fn map_jose(e: JoseError) -> BearerError {
    BearerError::InvalidToken(match e {
        JoseError::Malformed | JoseError::BadClaims => "the token is malformed",
        JoseError::AlgNotAllowed => "the token's algorithm is not accepted",
        JoseError::WrongType => "the token is not an access token (typ at+jwt)",
        JoseError::UnknownKey => UNKNOWN_KEY,
        JoseError::BadSignature => "the token's signature does not verify",
    })
}

/// The claim checks, as a plain function of `now`.
fn check_claims(c: &AccessClaims, issuer: &str, audience: &str, now: i64, leeway: i64) -> Result<(), BearerError> {
    if c.iss != issuer {
        return Err(BearerError::InvalidToken("the token is from another issuer"));
    }
    if !c.aud.iter().any(|a| a == audience) {
        return Err(BearerError::InvalidToken("the token is for another audience"));
    }
    if c.exp + leeway <= now {
        return Err(BearerError::InvalidToken("the token has expired"));
    }
    if c.nbf.is_some_and(|nbf| nbf > now + leeway) || c.iat > now + leeway {
        return Err(BearerError::InvalidToken("the token is not valid yet"));
    }
    if c.jti.is_empty() || c.client_id.is_empty() || c.sub.is_empty() {
        return Err(BearerError::InvalidToken("the token lacks required claims"));
    }
    Ok(())
}

/// Reads the bearer token from `Authorization` (RFC 6750 2.1; the query and body forms are not
/// accepted: they leak into logs).
pub(crate) fn bearer_from_headers(headers: &http::HeaderMap) -> Result<&str, BearerError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(v) = values.next() else {
        return Err(BearerError::Missing);
    };
    if values.next().is_some() {
        return Err(BearerError::InvalidRequest("several Authorization headers"));
    }
    let v = v.to_str().map_err(|_| BearerError::InvalidRequest("malformed Authorization header"))?;
    let (scheme, token) = v.split_once(' ').ok_or(BearerError::InvalidRequest("malformed Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(BearerError::Missing);
    }
    let token = token.trim();
    let b64token = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=');
    if token.is_empty() || !token.bytes().all(b64token) {
        return Err(BearerError::InvalidRequest("malformed bearer token"));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> AccessClaims {
        AccessClaims {
            iss: "https://id.gov.bt".into(),
            sub: "epis".into(),
            aud: vec!["https://emis.gov.bt/api".into()],
            exp: 1300,
            nbf: None,
            iat: 1000,
            jti: "j".into(),
            client_id: "epis".into(),
            scope: "emis.read emis.write".into(),
            acr: None,
            amr: None,
            auth_time: None,
        }
    }

    #[test]
    fn claims_are_checked_against_issuer_audience_and_time() {
        let (iss, aud) = ("https://id.gov.bt", "https://emis.gov.bt/api");
        assert!(check_claims(&claims(), iss, aud, 1100, 30).is_ok());
        assert!(check_claims(&claims(), iss, aud, 1320, 30).is_ok(), "within the leeway");
        assert!(check_claims(&claims(), iss, aud, 1330, 30).is_err(), "expired");
        assert!(check_claims(&claims(), "https://evil", aud, 1100, 30).is_err());
        assert!(check_claims(&claims(), iss, "https://id.gov.bt", 1100, 30).is_err(), "the issuer is not our audience");
        let future = AccessClaims { iat: 2000, ..claims() };
        assert!(check_claims(&future, iss, aud, 1100, 30).is_err());
        let nbf = AccessClaims { nbf: Some(1200), ..claims() };
        assert!(check_claims(&nbf, iss, aud, 1100, 30).is_err());
    }

    #[test]
    fn scopes_and_rfc6750_answers() {
        let c = claims();
        assert!(c.require_scopes(&["emis.read"]).is_ok());
        let e = c.require_scopes(&["emis.read", "emis.admin"]).unwrap_err();
        let r = e.into_response();
        assert_eq!(r.status(), 403);
        let h = r.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(h.contains("error=\"insufficient_scope\"") && h.contains("scope=\"emis.read emis.admin\""), "{h}");
        let r = BearerError::Missing.into_response();
        assert_eq!(
            (r.status(), r.headers()[header::WWW_AUTHENTICATE].to_str().unwrap()),
            (StatusCode::UNAUTHORIZED, "Bearer")
        );
        let r = BearerError::InvalidToken("x").into_response();
        assert!(r.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().contains("invalid_token"));
        assert!(c.is_client_credentials());
    }

    #[test]
    fn the_token_comes_from_one_authorization_header() {
        let mut h = http::HeaderMap::new();
        assert_eq!(bearer_from_headers(&h), Err(BearerError::Missing));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_from_headers(&h), Err(BearerError::Missing));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer a.b.c"));
        assert_eq!(bearer_from_headers(&h), Ok("a.b.c"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer a b"));
        assert!(matches!(bearer_from_headers(&h), Err(BearerError::InvalidRequest(_))));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer a.b.c"));
        h.append(header::AUTHORIZATION, HeaderValue::from_static("Bearer d.e.f"));
        assert!(matches!(bearer_from_headers(&h), Err(BearerError::InvalidRequest(_))));
    }
}
