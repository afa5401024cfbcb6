//! Client authentication at the token, PAR, introspection and revocation endpoints
//! (RFC 6749 2.3, RFC 7523 for `private_key_jwt`, OIDC Core 9).
//!
//! The only way to obtain an [`Authenticated`] is [`authenticate`]; handlers that mint tokens
//! take one, so a path that skips authentication does not compile.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};

use crate::{
    app::Idp,
    domain::{
        UnixTime,
        audit::{Event, NewEntry},
        client::{AuthMethod, Client},
        secrets,
    },
    error::{Error, OAuthError, Result},
    metrics, store,
};

/// The `client_assertion_type` of RFC 7523.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Algorithms accepted on client assertions: asymmetric only.
const ASSERTION_ALGS: [Algorithm; 6] =
    [Algorithm::ES256, Algorithm::ES384, Algorithm::PS256, Algorithm::RS256, Algorithm::PS384, Algorithm::EdDSA];

/// What a request presented as client credentials, before any checking.
#[derive(Debug, Default, Clone)]
pub struct Presented {
    /// From `Authorization: Basic`, already form-decoded (RFC 6749 2.3.1).
    pub basic: Option<(String, String)>,
    /// `client_id` form parameter.
    pub client_id: Option<String>,
    /// `client_secret` form parameter.
    pub client_secret: Option<String>,
    /// `client_assertion_type` form parameter.
    pub assertion_type: Option<String>,
    /// `client_assertion` form parameter.
    pub assertion: Option<String>,
}

impl Presented {
    /// Parses an `Authorization` header value if it is Basic.
    pub fn parse_basic(header: &str) -> Result<Option<(String, String)>, OAuthError> {
        let Some(b64) = header.strip_prefix("Basic ").or_else(|| header.strip_prefix("basic ")) else {
            return Ok(None);
        };
        let bad = || OAuthError::invalid_client("malformed Basic authorization header");
        let raw = STANDARD.decode(b64.trim()).map_err(|_| bad())?;
        let text = String::from_utf8(raw).map_err(|_| bad())?;
        let (id, secret) = text.split_once(':').ok_or_else(bad)?;
        let dec = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).ok_or_else(bad)
        };
        Ok(Some((dec(id)?, dec(secret)?)))
    }
}

/// Proof that the client authenticated by its registered method. Only [`authenticate`] makes one.
#[derive(Debug, Clone)]
pub struct Authenticated {
    client: Arc<Client>,
}

impl Authenticated {
    /// The authenticated client.
    pub fn client(&self) -> &Arc<Client> {
        &self.client
    }
}

/// Checks the presented credentials against the client's registration. `endpoint` is the path
/// called; a client assertion's `aud` may be it, the token endpoint, or the issuer.
pub async fn authenticate(idp: &Idp, p: &Presented, endpoint: &str, ip: &str, now: UnixTime) -> Result<Authenticated> {
    let methods = [p.basic.is_some(), p.client_secret.is_some(), p.assertion.is_some() || p.assertion_type.is_some()];
    if methods.iter().filter(|m| **m).count() > 1 {
        metrics::client_auth_failed("several_methods");
        return Err(OAuthError::invalid_request("use exactly one client authentication method").into());
    }

    // Which client is this?
    let assertion_iss = match &p.assertion {
        Some(a) => Some(unverified_iss(a)?),
        None => None,
    };
    let claimed = p
        .basic
        .as_ref()
        .map(|(id, _)| id.clone())
        .or_else(|| assertion_iss.clone())
        .or_else(|| p.client_id.clone())
        .ok_or_else(|| OAuthError::invalid_client("client authentication is required"))?;
    if let Some(form_id) = &p.client_id
        && *form_id != claimed
    {
        metrics::client_auth_failed("id_mismatch");
        return Err(OAuthError::invalid_client("client_id does not match the authenticated client").into());
    }
    let Some(client) = idp.client(&claimed).await? else {
        metrics::client_auth_failed("unknown_client");
        return Err(OAuthError::invalid_client("unknown client or bad credentials").into());
    };

    let method = client.metadata.token_endpoint_auth_method;
    let outcome: Result<(), (&'static str, OAuthError)> = match method {
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => {
            let presented = match method {
                AuthMethod::ClientSecretBasic => p.basic.as_ref().map(|(_, s)| s.as_str()),
                _ => p.client_secret.as_deref(),
            };
            match (presented, &client.secret_hash) {
                (Some(s), Some(h)) if secrets::verify_secret(s, h) => Ok(()),
                (None, _) => Err((
                    "wrong_method",
                    OAuthError::invalid_client(format!("this client authenticates with {}", method.as_str())),
                )),
                _ => Err(("bad_secret", OAuthError::invalid_client("unknown client or bad credentials"))),
            }
        }
        AuthMethod::PrivateKeyJwt => match (&p.assertion_type, &p.assertion) {
            (Some(t), Some(a)) if t == JWT_BEARER => {
                verify_assertion(
                    idp,
                    &client,
                    a,
                    &[idp.issuer().to_string(), idp.url(endpoint), idp.url("/token")],
                    now,
                )
                .await
            }
            (Some(_), Some(_)) => {
                Err(("bad_assertion_type", OAuthError::invalid_client("unsupported client_assertion_type")))
            }
            _ => Err(("wrong_method", OAuthError::invalid_client("this client authenticates with private_key_jwt"))),
        },
        AuthMethod::None => {
            if p.basic.is_some() || p.client_secret.is_some() || p.assertion.is_some() {
                Err(("wrong_method", OAuthError::invalid_client("this is a public client; it has no credentials")))
            } else {
                Ok(())
            }
        }
    };
    match outcome {
        Ok(()) => Ok(Authenticated { client }),
        Err((reason, err)) => {
            metrics::client_auth_failed(reason);
            let event = if reason == "replayed" { Event::AssertionReplayed } else { Event::ClientAuthFailed };
            idp.audit(
                NewEntry::new(event, format!("client:{claimed}"), format!("client:{claimed}"))
                    .client(claimed.as_str())
                    .ip(ip)
                    .detail(serde_json::json!({"reason": reason})),
                now,
            )
            .await?;
            Err(err.into())
        }
    }
}

/// Reads `iss` from an assertion without verifying it, only to find whose keys verify it.
fn unverified_iss(assertion: &str) -> Result<String, OAuthError> {
    let bad = || OAuthError::invalid_client("client_assertion is not a well-formed JWT");
    if assertion.len() > 16 * 1024 {
        return Err(bad());
    }
    let payload = assertion.split('.').nth(1).ok_or_else(bad)?;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).map_err(|_| bad())?;
    let v: serde_json::Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    v.get("iss").and_then(|s| s.as_str()).map(str::to_string).ok_or_else(bad)
}

#[derive(serde::Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
    jti: String,
}

async fn verify_assertion(
    idp: &Idp,
    client: &Client,
    assertion: &str,
    audiences: &[String],
    now: UnixTime,
) -> Result<(), (&'static str, OAuthError)> {
    let bad = |why: &'static str, msg: &'static str| (why, OAuthError::invalid_client(msg));
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| bad("bad_assertion", "client_assertion header is malformed"))?;
    if !ASSERTION_ALGS.contains(&header.alg) {
        return Err(bad("bad_assertion", "client_assertion algorithm is not accepted"));
    }
    let jwks = client_jwks(idp, client, header.kid.as_deref(), now)
        .await
        .map_err(|_| bad("jwks_unavailable", "the client's keys could not be obtained"))?;
    let candidates: Vec<_> = jwks
        .keys
        .iter()
        .filter(|k| header.kid.is_none() || k.common.key_id == header.kid)
        .filter_map(|k| DecodingKey::from_jwk(k).ok())
        .collect();
    if candidates.is_empty() {
        return Err(bad("unknown_key", "no registered key matches the client_assertion"));
    }
    let mut v = Validation::new(header.alg);
    v.set_audience(audiences);
    v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    v.set_issuer(&[client.client_id.as_str()]);
    v.leeway = 30;
    let mut claims = None;
    for key in &candidates {
        // `Validation` checks exp/nbf against the wall clock; we re-check them against `now` below.
        if let Ok(d) = jsonwebtoken::decode::<AssertionClaims>(assertion, key, &v) {
            claims = Some(d.claims);
            break;
        }
    }
    let c =
        claims.ok_or_else(|| bad("bad_assertion", "client_assertion signature, audience or lifetime is not valid"))?;
    if c.sub != client.client_id.as_str() || c.iss != c.sub {
        return Err(bad("bad_assertion", "client_assertion iss and sub must be the client_id"));
    }
    let max_ttl = idp.config.tokens.client_assertion_max_ttl as i64;
    if c.exp <= now - 30 || c.exp > now + max_ttl + 30 {
        return Err(bad("bad_assertion", "client_assertion exp is out of the accepted window"));
    }
    if c.iat.is_some_and(|iat| iat > now + 30) || c.nbf.is_some_and(|nbf| nbf > now + 30) {
        return Err(bad("bad_assertion", "client_assertion is not valid yet"));
    }
    if c.jti.is_empty() || c.jti.len() > 256 {
        return Err(bad("bad_assertion", "client_assertion needs a jti"));
    }
    match store::tokens::use_assertion_jti(&idp.db, client.client_id.as_str(), &c.jti, c.exp + 60).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(bad("replayed", "client_assertion was already used")),
        Err(_) => Err(bad("db", "client_assertion could not be checked")),
    }
}

/// Fetched JWK Sets of clients that registered a `jwks_uri`.
#[derive(Debug, Default)]
pub struct JwksCache {
    map: Mutex<HashMap<String, (Instant, Arc<JwkSet>)>>,
}

/// How long a fetched JWK Set is used before it is fetched again.
const JWKS_TTL: Duration = Duration::from_secs(300);
/// An unknown `kid` forces a re-fetch, but not more often than this.
const JWKS_MIN_REFETCH: Duration = Duration::from_secs(30);
/// Largest JWK Set accepted.
const JWKS_MAX_BYTES: usize = 64 * 1024;

async fn client_jwks(idp: &Idp, client: &Client, kid: Option<&str>, _now: UnixTime) -> Result<Arc<JwkSet>> {
    if let Some(inline) = &client.metadata.jwks {
        let set: JwkSet =
            serde_json::from_value(inline.clone()).map_err(|e| Error::internal(format!("stored jwks: {e}")))?;
        return Ok(Arc::new(set));
    }
    let uri = client.metadata.jwks_uri.as_ref().ok_or_else(|| Error::internal("client has no keys"))?;
    let key = client.client_id.as_str().to_string();
    let cached = idp.jwks_cache.map.lock().ok().and_then(|m| m.get(&key).cloned());
    if let Some((at, set)) = &cached {
        let has_kid = kid.is_none_or(|k| set.find(k).is_some());
        if at.elapsed() < JWKS_TTL && (has_kid || at.elapsed() < JWKS_MIN_REFETCH) {
            return Ok(set.clone());
        }
    }
    let resp = idp.http.get(uri.as_str()).send().await.map_err(|e| Error::internal(format!("jwks_uri: {e}")))?;
    if !resp.status().is_success() {
        return Err(Error::internal(format!("jwks_uri answered {}", resp.status())));
    }
    if resp.content_length().is_some_and(|l| l as usize > JWKS_MAX_BYTES) {
        return Err(Error::internal("jwks_uri document too large"));
    }
    let body = resp.bytes().await.map_err(|e| Error::internal(format!("jwks_uri: {e}")))?;
    if body.len() > JWKS_MAX_BYTES {
        return Err(Error::internal("jwks_uri document too large"));
    }
    let set: Arc<JwkSet> =
        Arc::new(serde_json::from_slice(&body).map_err(|e| Error::internal(format!("jwks_uri: {e}")))?);
    if let Ok(mut m) = idp.jwks_cache.map.lock() {
        m.insert(key, (Instant::now(), set.clone()));
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_is_form_decoded() {
        let h = format!("Basic {}", STANDARD.encode("my%3Aclient:p%40ss+word"));
        assert_eq!(Presented::parse_basic(&h).unwrap(), Some(("my:client".into(), "p@ss word".into())));
        assert!(Presented::parse_basic("Basic !!!").is_err());
        assert_eq!(Presented::parse_basic("Bearer x").unwrap(), None);
    }
}
