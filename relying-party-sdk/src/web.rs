//! The axum integration: a session layer, the extractors a page or an API handler asks for,
//! and the routes the SDK serves (callback, login, logout, back-channel logout).
//!
//! ```text
//! Router::new()
//!     .route("/records", get(records))          // AuthenticatedCitizen: login if needed
//!     .route("/prescriptions", get(sign))       // Assured<LoaHigh>: step-up if needed
//!     .route("/api/patients", get(api))         // Bearer<ReadPatients>: offline JWT check
//!     .merge(rp.routes())                       // /auth/callback, /auth/login, /auth/logout, ...
//!     .layer(rp.session_layer())                // last: wraps every route above
//! ```
//!
//! Pages never call the provider per request: the session layer reads the session from the
//! agency's own store, and the citizen in it was validated once, at login.

use std::{
    convert::Infallible,
    marker::PhantomData,
    sync::Arc,
    task::{Context, Poll},
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    Form, Router,
    body::Body,
    extract::{DefaultBodyLimit, FromRequestParts, Query},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header, request::Parts};
use serde::Deserialize;

use crate::{
    access_token::{AccessClaims, AccessTokenValidator, BearerError, bearer_from_headers},
    error::{Error, Result},
    login::{Acr, Citizen, LoginOptions, MAX_PENDING, RelyingParty, Tokens, find_pending, is_local_path},
    session::{PENDING_TTL, SessionId, SessionKey, StoredSession},
};

/// A session's `last_seen_at` is written at most this often (seconds), not on every request.
const TOUCH_EVERY: i64 = 60;
/// Largest back-channel logout request body.
const LOGOUT_BODY_LIMIT: usize = 16 * 1024;

/// The wall clock, read here and passed down as `now`.
fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

struct Loaded {
    key: SessionKey,
    session: StoredSession,
}

/// What the session layer puts in a request's extensions.
#[derive(Clone)]
struct SessionCtx {
    rp: RelyingParty,
    current: Option<Arc<Loaded>>,
}

impl SessionCtx {
    fn from_parts(parts: &Parts) -> Result<Self, MissingLayer> {
        parts.extensions.get::<SessionCtx>().cloned().ok_or(MissingLayer)
    }

    fn citizen(&self) -> Option<&Citizen> {
        self.current.as_ref().and_then(|l| l.session.citizen.as_ref())
    }
}

/// An SDK extractor on a route the [`SessionLayer`] does not wrap: a programming error.
struct MissingLayer;

impl IntoResponse for MissingLayer {
    fn into_response(self) -> Response {
        tracing::error!("a relying-party extractor was used on a route outside the SessionLayer");
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    }
}

impl RelyingParty {
    /// The session layer: loads the browser's session (if its cookie names a live one) for the
    /// extractors, and makes the API validator available to [`Bearer`]. Add it last, so it
    /// wraps every route.
    pub fn session_layer(&self) -> SessionLayer {
        SessionLayer { rp: self.clone() }
    }

    /// The routes the SDK serves: the callback (at the redirect URI's path), `GET /auth/login`
    /// (`?return_to=/path`), `POST /auth/logout` and `POST /auth/backchannel-logout` (register
    /// its absolute URL as the client's `backchannel_logout_uri`).
    pub fn routes<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        Router::new()
            .route(&self.inner.callback_path, get(callback))
            .route("/auth/login", get(login))
            .route("/auth/logout", post(logout))
            .route("/auth/backchannel-logout", post(backchannel_logout).layer(DefaultBodyLimit::max(LOGOUT_BODY_LIMIT)))
    }

    fn cookie(&self, value: &str, max_age: i64) -> HeaderValue {
        let m = &self.inner.cookie;
        let secure = if m.secure { "; Secure" } else { "" };
        let v = format!("{}={value}; Path=/; HttpOnly; SameSite=Lax{secure}; Max-Age={max_age}", m.name);
        HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    async fn load_session(&self, headers: &HeaderMap, now: i64) -> Result<Option<Arc<Loaded>>> {
        let Some(id) = cookie_value(headers, self.inner.cookie.name).and_then(SessionId::parse) else {
            return Ok(None);
        };
        let key = id.key();
        let Some(mut session) = self.inner.store.load(&key).await? else {
            return Ok(None);
        };
        if !session.is_live(now, self.inner.cfg.session.idle) {
            self.inner.store.delete(&key).await?;
            return Ok(None);
        }
        if now - session.last_seen_at >= TOUCH_EVERY {
            session.last_seen_at = now;
            self.inner.store.save(&key, &session).await?;
        }
        Ok(Some(Arc::new(Loaded { key, session })))
    }

    /// Starts a login from this browser: remembers it in the session (creating one if needed)
    /// and redirects to the provider.
    async fn start_login(
        &self,
        current: Option<&Loaded>,
        opts: &LoginOptions,
        return_to: &str,
        now: i64,
    ) -> Result<Response> {
        let return_to = if is_local_path(return_to) { return_to } else { "/" };
        let (url, pending) = self.authorization_request(opts, return_to, now).await?;
        let (new_id, key, mut session) = match current {
            Some(l) => (None, l.key.clone(), l.session.clone()),
            None => {
                let id = SessionId::generate()?;
                let key = id.key();
                let s = StoredSession {
                    citizen: None,
                    tokens: None,
                    pending: vec![],
                    created_at: now,
                    last_seen_at: now,
                    expires_at: now + PENDING_TTL,
                };
                (Some(id), key, s)
            }
        };
        session.pending.retain(|p| now - p.created_at < PENDING_TTL);
        session.pending.push(pending);
        if session.pending.len() > MAX_PENDING {
            session.pending.remove(0);
        }
        session.last_seen_at = now;
        if session.citizen.is_none() {
            session.expires_at = now + PENDING_TTL;
        }
        self.inner.store.save(&key, &session).await?;
        let mut r = Redirect::to(url.as_str()).into_response();
        if let Some(id) = new_id {
            r.headers_mut().insert(header::SET_COOKIE, self.cookie(id.as_str(), PENDING_TTL));
        }
        r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(r)
    }
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// See [`RelyingParty::session_layer`].
#[derive(Clone, Debug)]
pub struct SessionLayer {
    rp: RelyingParty,
}

impl<S> tower::Layer<S> for SessionLayer {
    type Service = SessionService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        SessionService { rp: self.rp.clone(), inner }
    }
}

/// The service [`SessionLayer`] wraps routes in.
#[derive(Clone, Debug)]
pub struct SessionService<S> {
    rp: RelyingParty,
    inner: S,
}

impl<S> tower::Service<Request<Body>> for SessionService<S>
where
    S: tower::Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        // The clone that was polled ready is the one that must be called.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let rp = self.rp.clone();
        Box::pin(async move {
            let current = match rp.load_session(req.headers(), now()).await {
                Ok(c) => c,
                Err(e) => return Ok(e.into_response()),
            };
            if let Some(v) = rp.access_tokens() {
                req.extensions_mut().insert(v.clone());
            }
            req.extensions_mut().insert(SessionCtx { rp, current });
            inner.call(req).await
        })
    }
}

/// What a page does when the citizen is not (sufficiently) logged in: a GET or HEAD is
/// redirected to the provider and comes back afterwards; anything else gets 401 (a form post
/// cannot be replayed after a login).
async fn login_or_refuse(ctx: &SessionCtx, parts: &Parts, opts: LoginOptions) -> Response {
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let return_to = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    match ctx.rp.start_login(ctx.current.as_deref(), &opts, return_to, now()).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// The logged-in citizen. A page taking it sends an anonymous browser to log in first.
#[derive(Clone, Debug)]
pub struct AuthenticatedCitizen(pub Citizen);

impl<S: Send + Sync> FromRequestParts<S> for AuthenticatedCitizen {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        let ctx = SessionCtx::from_parts(parts).map_err(IntoResponse::into_response)?;
        match ctx.citizen() {
            Some(c) => Ok(Self(c.clone())),
            None => Err(login_or_refuse(&ctx, parts, LoginOptions::default()).await),
        }
    }
}

/// The citizen if logged in, for pages that also serve anonymous visitors. Never redirects.
#[derive(Clone, Debug)]
pub struct MaybeCitizen(pub Option<Citizen>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeCitizen {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        Ok(Self(SessionCtx::from_parts(parts).map_err(IntoResponse::into_response)?.citizen().cloned()))
    }
}

/// An assurance level, as a type, for [`Assured`].
pub trait AssuranceLevel: Send + Sync + 'static {
    /// The level.
    const ACR: Acr;
}

/// `urn:drukyul:loa:substantial`.
#[derive(Debug)]
pub struct LoaSubstantial;
impl AssuranceLevel for LoaSubstantial {
    const ACR: Acr = Acr::Substantial;
}

/// `urn:drukyul:loa:high`.
#[derive(Debug)]
pub struct LoaHigh;
impl AssuranceLevel for LoaHigh {
    const ACR: Acr = Acr::High;
}

/// The citizen, logged in at level `L` or higher. A lower session triggers step-up: a new
/// authorization request with `L` as an essential `acr`, after which the page is shown again.
/// (A citizen whose digital ID cannot reach `L` gets the provider's refusal, shown as 403.)
#[derive(Debug)]
pub struct Assured<L: AssuranceLevel>(pub Citizen, PhantomData<L>);

impl<L: AssuranceLevel> Assured<L> {
    /// The citizen.
    pub fn citizen(&self) -> &Citizen {
        &self.0
    }
}

impl<S: Send + Sync, L: AssuranceLevel> FromRequestParts<S> for Assured<L> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        let ctx = SessionCtx::from_parts(parts).map_err(IntoResponse::into_response)?;
        match ctx.citizen() {
            Some(c) if c.has_acr(L::ACR) => Ok(Self(c.clone(), PhantomData)),
            _ => {
                let opts = LoginOptions { require_acr: Some(L::ACR), ..Default::default() };
                Err(login_or_refuse(&ctx, parts, opts).await)
            }
        }
    }
}

/// The logged-in citizen with their tokens, for handlers that call the provider or another
/// agency on the citizen's behalf.
pub struct CitizenSession {
    ctx: SessionCtx,
    citizen: Citizen,
    tokens: Option<Tokens>,
}

impl std::fmt::Debug for CitizenSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CitizenSession").field("citizen", &self.citizen.sub).finish_non_exhaustive()
    }
}

impl CitizenSession {
    /// The citizen.
    pub fn citizen(&self) -> &Citizen {
        &self.citizen
    }

    /// A valid access token: the stored one, or a refreshed one when it expires within 30 s.
    pub async fn access_token(&mut self) -> Result<String> {
        let now = now();
        match &self.tokens {
            Some(t) if t.expires_at - 30 > now => Ok(t.access_token.clone()),
            _ => {
                self.refresh().await?;
                self.tokens.as_ref().map(|t| t.access_token.clone()).ok_or_else(|| Error::Token("no tokens".into()))
            }
        }
    }

    /// Refreshes the tokens now (rotating the refresh token) and stores them in the session.
    pub async fn refresh(&mut self) -> Result<()> {
        let now = now();
        let loaded = self.ctx.current.clone().ok_or_else(|| Error::Token("no session".into()))?;
        let old = self.tokens.as_ref().ok_or_else(|| Error::Token("no tokens".into()))?;
        let fresh = self.ctx.rp.refresh(old, &self.citizen, now).await?;
        // Re-read the session so a concurrent change (a logout) is not undone.
        let store = &self.ctx.rp.inner.store;
        let Some(mut s) = store.load(&loaded.key).await? else {
            return Err(Error::Token("the session ended".into()));
        };
        s.tokens = Some(fresh.clone());
        store.save(&loaded.key, &s).await?;
        self.tokens = Some(fresh);
        Ok(())
    }

    /// The provider's userinfo for this citizen.
    pub async fn userinfo(&mut self) -> Result<serde_json::Map<String, serde_json::Value>> {
        let at = self.access_token().await?;
        self.ctx.rp.userinfo(&at, &self.citizen.sub).await
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CitizenSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        let ctx = SessionCtx::from_parts(parts).map_err(IntoResponse::into_response)?;
        match ctx.current.as_ref().and_then(|l| l.session.citizen.clone().map(|c| (c, l.session.tokens.clone()))) {
            Some((citizen, tokens)) => Ok(Self { ctx, citizen, tokens }),
            None => Err(login_or_refuse(&ctx, parts, LoginOptions::default()).await),
        }
    }
}

/// Scopes an API endpoint needs, as a type, for [`Bearer`].
pub trait RequiredScopes: Send + Sync + 'static {
    /// Every one of these must be granted.
    const SCOPES: &'static [&'static str];
}

/// No particular scope.
#[derive(Debug)]
pub struct AnyScope;
impl RequiredScopes for AnyScope {
    const SCOPES: &'static [&'static str] = &[];
}

/// A caller of an agency API, authenticated by a JWT access token validated offline (see
/// [`AccessTokenValidator`]) and holding the scopes `S` names. Refusals are RFC 6750 answers.
/// Needs an [`AccessTokenValidator`] in the request extensions: the session layer adds one
/// when `api_audience` is configured, or add `axum::Extension(validator)` yourself.
#[derive(Debug)]
pub struct Bearer<S: RequiredScopes = AnyScope>(pub AccessClaims, PhantomData<S>);

impl<S: RequiredScopes> Bearer<S> {
    /// The token's claims.
    pub fn claims(&self) -> &AccessClaims {
        &self.0
    }
}

impl<St: Send + Sync, S: RequiredScopes> FromRequestParts<St> for Bearer<S> {
    type Rejection = BearerError;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, BearerError> {
        let v = parts.extensions.get::<AccessTokenValidator>().cloned().ok_or(BearerError::NotConfigured)?;
        let token = bearer_from_headers(&parts.headers)?;
        let claims = v.validate(token, now()).await?;
        claims.require_scopes(S::SCOPES)?;
        Ok(Self(claims, PhantomData))
    }
}

// ---- the SDK's routes ----

struct Ctx(SessionCtx);

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        SessionCtx::from_parts(parts).map(Ctx).map_err(IntoResponse::into_response)
    }
}

async fn callback(Ctx(ctx): Ctx, Query(cb): Query<crate::login::CallbackParams>) -> Response {
    match finish_login(&ctx, &cb, now()).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// The callback: the state must match a login this browser started (and is consumed before
/// the code is redeemed, so a replayed callback finds nothing); a successful login gets a new
/// session id.
async fn finish_login(ctx: &SessionCtx, cb: &crate::login::CallbackParams, now: i64) -> Result<Response> {
    let Some(loaded) = &ctx.current else {
        return Err(Error::Callback("no session: the login was not started from this browser".into()));
    };
    let Some(i) = find_pending(&loaded.session.pending, cb.state.as_deref(), now) else {
        return Err(Error::Callback("state is missing or does not match a login in progress".into()));
    };
    let store = &ctx.rp.inner.store;
    let mut old = loaded.session.clone();
    if let Err(e) = ctx.rp.check_callback(cb) {
        // A provider error ends the login it answers; a forged `iss` leaves it to the real answer.
        if matches!(e, Error::Denied { .. }) {
            old.pending.remove(i);
            store.save(&loaded.key, &old).await?;
        }
        return Err(e);
    }
    let pending = old.pending.remove(i);
    store.save(&loaded.key, &old).await?;
    let (citizen, tokens) = ctx.rp.complete_login(cb, &pending, now).await?;
    let absolute = ctx.rp.inner.cfg.session.absolute.as_secs() as i64;
    let fresh = StoredSession {
        citizen: Some(citizen),
        tokens: Some(tokens),
        pending: old.pending,
        created_at: now,
        last_seen_at: now,
        expires_at: now + absolute,
    };
    let id = SessionId::generate()?;
    store.save(&id.key(), &fresh).await?;
    store.delete(&loaded.key).await?;
    let mut r = Redirect::to(&pending.return_to).into_response();
    r.headers_mut().insert(header::SET_COOKIE, ctx.rp.cookie(id.as_str(), absolute));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

#[derive(Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
}

async fn login(Ctx(ctx): Ctx, Query(q): Query<LoginQuery>) -> Response {
    let return_to = q.return_to.unwrap_or_else(|| "/".into());
    match ctx.rp.start_login(ctx.current.as_deref(), &LoginOptions::default(), &return_to, now()).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// Ends the local session and sends the browser to the provider's logout with the ID token as
/// hint. Cross-site posts are refused (and carry no SameSite=Lax cookie anyway).
async fn logout(Ctx(ctx): Ctx, headers: HeaderMap) -> Response {
    if headers.get("sec-fetch-site").is_some_and(|v| v.as_bytes() == b"cross-site") {
        return StatusCode::FORBIDDEN.into_response();
    }
    let mut id_token = None;
    if let Some(l) = &ctx.current {
        id_token = l.session.tokens.as_ref().map(|t| t.id_token.clone());
        if let Err(e) = ctx.rp.inner.store.delete(&l.key).await {
            return e.into_response();
        }
    }
    let state = match SessionId::generate() {
        Ok(s) => s.as_str().to_string(),
        Err(e) => return e.into_response(),
    };
    let target = match ctx.rp.logout_url(id_token.as_deref(), &state) {
        Some(u) => u.to_string(),
        None => ctx.rp.inner.cfg.post_logout_redirect_uri.clone().unwrap_or_else(|| "/".into()),
    };
    let mut r = Redirect::to(&target).into_response();
    r.headers_mut().insert(header::SET_COOKIE, ctx.rp.cookie("", 0));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[derive(Deserialize)]
struct LogoutForm {
    logout_token: String,
}

/// OIDC Back-Channel Logout 1.0, 2.8: 200 when the sessions ended, 400 for a token refused.
async fn backchannel_logout(
    Ctx(ctx): Ctx,
    form: Result<Form<LogoutForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let no_store = |mut r: Response| {
        r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    };
    let Ok(Form(form)) = form else {
        return no_store(
            (StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({"error": "invalid_request"}))).into_response(),
        );
    };
    let now = now();
    let token = match ctx.rp.verify_logout_token(&form.logout_token, now).await {
        Ok(t) => t,
        Err(Error::Store(e)) => {
            tracing::error!(error = %e, "back-channel logout: store failed");
            return no_store(StatusCode::INTERNAL_SERVER_ERROR.into_response());
        }
        Err(e) => {
            tracing::warn!(error = %e, "back-channel logout refused");
            let body =
                serde_json::json!({"error": "invalid_request", "error_description": "the logout token is not valid"});
            return no_store((StatusCode::BAD_REQUEST, axum::Json(body)).into_response());
        }
    };
    match ctx.rp.end_sessions(&token).await {
        Ok(n) => {
            tracing::info!(sessions = n, "back-channel logout ended sessions");
            no_store(StatusCode::OK.into_response())
        }
        Err(e) => {
            tracing::error!(error = %e, "back-channel logout: sessions could not be ended");
            no_store(StatusCode::NOT_IMPLEMENTED.into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; __Host-drukyul-session=abc; b=2"));
        assert_eq!(cookie_value(&h, "__Host-drukyul-session"), Some("abc"));
        assert_eq!(cookie_value(&h, "drukyul-session"), None);
    }
}
