//! `/token`, `/introspect`, `/revoke`: thin handlers over `client_auth`, `domain::tokens` and
//! the store.

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

use super::extract::{AuthHeader, ClientIp, OAuthForm};
use crate::{
    app::{AppState, Idp},
    client_auth::{self, Authenticated},
    domain::{
        self, UnixTime,
        audit::{Event, NewEntry},
        client::{AuthMethod, GrantType},
        tokens::{self, AccessTokenClaims},
    },
    error::{Error, OAuthError, OAuthErrorKind, Result},
    metrics, store,
};

/// JSON with `Cache-Control: no-store` (RFC 6749 5.1).
fn no_store(v: serde_json::Value) -> Response {
    let mut r = Json(v).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Authenticates the calling client for `endpoint` (its path), applying the rate limit first
/// so that guessing is throttled too.
async fn authenticate(
    idp: &Idp,
    form: &OAuthForm,
    auth: &AuthHeader,
    ip: &ClientIp,
    endpoint: &str,
    now: UnixTime,
) -> Result<Authenticated> {
    let presented = form.presented(auth.0.as_deref())?;
    let key = presented
        .basic
        .as_ref()
        .map(|(id, _)| id.clone())
        .or_else(|| presented.client_id.clone())
        .unwrap_or_else(|| format!("ip:{}", ip.0));
    if let Err(not_until) = idp.token_limiter.check_key(&key) {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
        return Err(Error::RateLimited { retry_after: wait.as_secs() + 1 });
    }
    client_auth::authenticate(idp, &presented, endpoint, &ip.0, now).await
}

/// `POST /token`.
pub async fn token(State(idp): State<AppState>, auth: AuthHeader, ip: ClientIp, form: OAuthForm) -> Result<Response> {
    let now = domain::now();
    let grant = form.get("grant_type").ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    let grant = GrantType::parse(grant)
        .ok_or_else(|| OAuthError::new(OAuthErrorKind::UnsupportedGrantType, "grant_type is not supported"))?;
    let client = authenticate(&idp, &form, &auth, &ip, "/token", now).await?;
    match grant {
        GrantType::ClientCredentials => client_credentials(&idp, &client, &form, now).await,
        GrantType::AuthorizationCode => {
            Ok(no_store(crate::oidc::exchange_code(&idp, &client, &form.0, &ip.0, now).await?))
        }
        GrantType::RefreshToken => Ok(no_store(crate::oidc::refresh(&idp, &client, &form.0, &ip.0, now).await?)),
    }
}

async fn client_credentials(idp: &Idp, client: &Authenticated, form: &OAuthForm, now: UnixTime) -> Result<Response> {
    let c = client.client();
    let resources: Vec<String> = form.get("resource").map(|r| vec![r.to_string()]).unwrap_or_default();
    let grant = tokens::client_credentials(c, form.get("scope"), &resources, idp.issuer())?;
    let ttl = idp.config.tokens.access_token_ttl as i64;
    let claims = tokens::client_credentials_claims(c, grant, idp.issuer(), domain::secrets::random_id()?, now, ttl);
    let keys = idp.keyring.snapshot();
    let key = keys
        .signing_key(domain::keys::SigningAlg::ES256, now)
        .ok_or_else(|| Error::internal("no active ES256 signing key"))?;
    let at = key.sign_jwt("at+jwt", &claims)?;
    metrics::token_issued("client_credentials");
    Ok(no_store(serde_json::json!({
        "access_token": at,
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": claims.scope,
    })))
}

/// Verifies a JWT access token this server issued: signature by a published key, `typ`,
/// issuer. Expiry and revocation are the caller's to judge with `now`.
pub fn verify_access_token(idp: &Idp, token: &str) -> Option<AccessTokenClaims> {
    let keys = idp.keyring.snapshot();
    let claims: AccessTokenClaims = domain::keys::verify_own(token, Some("at+jwt"), |kid| keys.by_kid(kid))?;
    (claims.iss == idp.issuer()).then_some(claims)
}

/// `POST /introspect` (RFC 7662). Confidential clients only; inactive for anything unknown,
/// expired, revoked, or issued to a client that no longer exists.
pub async fn introspect(
    State(idp): State<AppState>,
    auth: AuthHeader,
    ip: ClientIp,
    form: OAuthForm,
) -> Result<Response> {
    let now = domain::now();
    let caller = authenticate(&idp, &form, &auth, &ip, "/introspect", now).await?;
    if caller.client().metadata.token_endpoint_auth_method == AuthMethod::None {
        return Err(OAuthError::unauthorized_client("public clients cannot introspect").into());
    }
    let token = form.get("token").ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let Some(claims) = verify_access_token(&idp, token) else {
        if let Some(v) = crate::oidc::introspect_refresh(&idp, caller.client(), token, now).await? {
            return Ok(no_store(v));
        }
        return Ok(no_store(serde_json::json!({"active": false})));
    };
    let grant_revoked = match &claims.grant_id {
        Some(g) => !store::login::grant_active(&idp.db, g, now).await?,
        None => false,
    };
    let revoked = grant_revoked
        || store::tokens::is_revoked(&idp.db, &claims.jti).await?
        || idp.client(&claims.client_id).await?.is_none();
    Ok(no_store(tokens::introspect_access_token(&claims, revoked, now)))
}

/// `POST /revoke` (RFC 7009). A client may revoke only its own tokens; anything else, including
/// an unknown token, gets the same 200 so the endpoint reveals nothing.
pub async fn revoke(State(idp): State<AppState>, auth: AuthHeader, ip: ClientIp, form: OAuthForm) -> Result<Response> {
    let now = domain::now();
    let caller = authenticate(&idp, &form, &auth, &ip, "/revoke", now).await?;
    let token = form.get("token").ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    if let Some(hint) = form.get("token_type_hint")
        && !matches!(hint, "access_token" | "refresh_token")
    {
        return Err(OAuthError::new(OAuthErrorKind::UnsupportedTokenType, "token_type_hint is not supported").into());
    }
    let me = caller.client().client_id.as_str();
    if crate::oidc::revoke_refresh(&idp, caller.client(), token, now).await? {
        idp.audit(
            NewEntry::new(Event::TokenRevoked, format!("client:{me}"), format!("client:{me}"))
                .client(me)
                .detail(serde_json::json!({"kind": "refresh_token"})),
            now,
        )
        .await?;
    } else if let Some(claims) = verify_access_token(&idp, token)
        && claims.client_id == me
        && claims.exp > now
    {
        store::tokens::revoke_jti(&idp.db, &claims.jti, claims.exp).await?;
        idp.audit(
            NewEntry::new(
                Event::TokenRevoked,
                format!("client:{}", claims.client_id),
                format!("client:{}", claims.client_id),
            )
            .client(claims.client_id.as_str())
            .detail(serde_json::json!({"jti": claims.jti, "kind": "access_token"})),
            now,
        )
        .await?;
    }
    Ok(no_store(serde_json::json!({})))
}

/// `POST /par` (RFC 9126).
pub async fn par(State(idp): State<AppState>, auth: AuthHeader, ip: ClientIp, form: OAuthForm) -> Result<Response> {
    let now = domain::now();
    let client = authenticate(&idp, &form, &auth, &ip, "/par", now).await?;
    let mut params = form.0.clone();
    for k in ["client_secret", "client_assertion", "client_assertion_type"] {
        params.remove(k);
    }
    params.insert("client_id".into(), client.client().client_id.as_str().to_string());
    let v = crate::oidc::par(&idp, &client, &params, now).await?;
    let mut r = no_store(v);
    *r.status_mut() = axum::http::StatusCode::CREATED;
    Ok(r)
}

/// `GET|POST /userinfo` (OIDC Core 5.3) with a bearer access token in the header or, for POST,
/// the form body (RFC 6750 2.2).
pub async fn userinfo(State(idp): State<AppState>, auth: AuthHeader, body: axum::body::Bytes) -> Result<Response> {
    let now = domain::now();
    let from_header = auth.bearer().map(str::to_string);
    let from_body = if body.is_empty() {
        None
    } else {
        OAuthForm::parse(&body).ok().and_then(|f| f.get("access_token").map(str::to_string))
    };
    let token = match (from_header, from_body) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request("send the access token once").into());
        }
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => return Err(OAuthError::invalid_token("an access token is required").into()),
    };
    Ok(no_store(crate::oidc::userinfo(&idp, token.trim(), now).await?))
}
