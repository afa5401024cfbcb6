//! The citizen's pages: authorization front door, login, activation, consent, account,
//! logout, and the JSON endpoints their script calls. Cookies, CSRF and language live here.
//!
//! Cookies: `idp_browser` (random, binds CSRF tokens and in-flight authorization requests to
//! this browser), `idp_session` (random; only its hash is stored), `idp_lang`. All HttpOnly,
//! SameSite=Lax, Secure unless the issuer is http://localhost.

use std::collections::HashMap;

use askama::Template;
use axum::{
    Json,
    extract::{FromRequestParts, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{Html, IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::extract::{ClientIp, OAuthForm};
use crate::{
    app::{AppState, Idp},
    domain::{self, secrets},
    error::{Error, Result},
    i18n::{Lang, T},
    login,
    oidc::{self, Step},
    store::{self, login::SessionRow},
};

const BROWSER: &str = "idp_browser";
const SESSION: &str = "idp_session";
const LANG: &str = "idp_lang";

/// What every page handler knows about the browser.
#[derive(Debug, Clone)]
pub struct Browser {
    /// The browser cookie (new when `fresh`).
    pub id: String,
    /// Whether the cookie must be set on the response.
    pub fresh: bool,
    session: Option<String>,
    lang_cookie: Option<String>,
    accept_language: Option<String>,
    /// The request path with query, for the language switch.
    pub path: String,
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

impl<S: Send + Sync> FromRequestParts<S> for Browser {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let existing = cookie(&parts.headers, BROWSER)
            .filter(|v| v.len() == 43 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let (id, fresh) = match existing {
            Some(v) => (v, false),
            None => (secrets::random_token().unwrap_or_default(), true),
        };
        Ok(Browser {
            id,
            fresh,
            session: cookie(&parts.headers, SESSION),
            lang_cookie: cookie(&parts.headers, LANG),
            accept_language: parts
                .headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            path: parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into()),
        })
    }
}

impl Browser {
    pub(super) fn lang(&self, ui_locales: Option<&str>) -> Lang {
        Lang::negotiate(ui_locales, self.lang_cookie.as_deref(), self.accept_language.as_deref())
    }
    pub(super) async fn session(&self, idp: &Idp, now: i64) -> Result<Option<SessionRow>> {
        login::session(idp, self.session.as_deref(), now).await
    }
}

fn cookie_attrs(idp: &Idp, max_age: i64) -> String {
    let secure = if idp.config.is_localhost() { "" } else { "; Secure" };
    format!("; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

fn set_cookie(resp: &mut Response, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Finishes a page response: sets the browser cookie when new, forbids caching.
pub(super) fn finish(idp: &Idp, b: &Browser, mut resp: Response) -> Response {
    if b.fresh {
        set_cookie(&mut resp, format!("{BROWSER}={}{}", b.id, cookie_attrs(idp, 400 * 24 * 3600)));
    }
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The CSRF token of a browser: a MAC of its cookie, so it is useless in another browser.
pub(super) fn csrf_token(idp: &Idp, b: &Browser) -> String {
    secrets::mac_hex(&idp.csrf_key, &b.id)
}

pub(super) fn csrf_ok(idp: &Idp, b: &Browser, presented: Option<&str>) -> bool {
    !b.fresh && presented.is_some_and(|p| p.as_bytes().ct_eq(csrf_token(idp, b).as_bytes()).into())
}

/// Lets this page's form redirect to `target` (see `middleware::csp_with_form_target`).
fn with_form_target(resp: &mut Response, target: &str) {
    if let Ok(v) = HeaderValue::from_str(&super::middleware::csp_with_form_target(target)) {
        resp.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
}

/// The 403 page for a form whose CSRF token is missing or not this browser's.
pub(super) fn csrf_refused(idp: &Idp, b: &Browser) -> Response {
    message(idp, b, StatusCode::FORBIDDEN, "error.title", idp.i18n.t(b.lang(None)).get("error.csrf").to_string(), "")
}

pub(super) fn render(tpl: impl Template) -> Response {
    match tpl.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    t: T<'a>,
    csrf: String,
    script: bool,
    back: String,
    heading: String,
    message: String,
    hint: String,
    confirm_logout: bool,
    hidden: Vec<(String, String)>,
}

/// An error page (never a redirect).
pub(super) fn message(
    idp: &Idp,
    b: &Browser,
    status: StatusCode,
    heading_key: &str,
    message: String,
    hint_key: &str,
) -> Response {
    let t = idp.i18n.t(b.lang(None));
    let page = MessagePage {
        t,
        csrf: csrf_token(idp, b),
        script: false,
        back: b.path.clone(),
        heading: t.get(heading_key).to_string(),
        message,
        hint: if hint_key.is_empty() { String::new() } else { t.get(hint_key).to_string() },
        confirm_logout: false,
        hidden: vec![],
    };
    let mut r = render(page);
    *r.status_mut() = status;
    finish(idp, b, r)
}

fn error_page(idp: &Idp, b: &Browser, msg: &str) -> Response {
    let t = idp.i18n.t(b.lang(None));
    if msg == "expired" {
        return message(idp, b, StatusCode::BAD_REQUEST, "error.title", t.get("error.expired").to_string(), "");
    }
    message(idp, b, StatusCode::BAD_REQUEST, "error.title", msg.to_string(), "error.back")
}

/// `path?req=<id>` with the id percent-encoded: it may come from the query string, and a raw
/// value could break the Location header.
fn with_req(path: &str, id: &str) -> String {
    let enc: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("{path}?req={enc}")
}

/// A path safe to redirect to: local, absolute, and without anything a browser would
/// reinterpret (backslashes, control characters or whitespace that it strips to form `//host`).
fn local_path(p: &str) -> Option<&str> {
    let ok = p.starts_with('/')
        && !p.starts_with("//")
        && p.len() < 2048
        && !p.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace());
    ok.then_some(p)
}

fn step_response(idp: &Idp, b: &Browser, step: Step) -> Response {
    let r = match step {
        Step::Redirect(url) => Redirect::to(&url).into_response(),
        Step::ErrorPage(msg) => return error_page(idp, b, &msg),
        Step::Login(id) => Redirect::to(&with_req("/login", &id)).into_response(),
        Step::Consent(id) => Redirect::to(&with_req("/consent", &id)).into_response(),
    };
    finish(idp, b, r)
}

// ---- /authorize ----

/// `GET /authorize`.
pub async fn authorize_get(
    State(idp): State<AppState>,
    b: Browser,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response> {
    authorize(idp, b, q).await
}

/// `POST /authorize` (form-encoded, OIDC Core 3.1.2.1).
pub async fn authorize_post(State(idp): State<AppState>, b: Browser, form: OAuthForm) -> Result<Response> {
    authorize(idp, b, form.0.into_iter().collect()).await
}

async fn authorize(idp: AppState, b: Browser, pairs: Vec<(String, String)>) -> Result<Response> {
    let now = domain::now();
    let mut params = HashMap::new();
    for (k, v) in pairs {
        if params.insert(k.clone(), v).is_some() {
            return Ok(error_page(&idp, &b, &format!("parameter {k} is repeated")));
        }
    }
    let session = b.session(&idp, now).await?;
    let step = oidc::authorize(&idp, params, &b.id, session.as_ref(), now).await?;
    Ok(step_response(&idp, &b, step))
}

#[derive(Deserialize)]
/// `?req=` of the interaction pages.
pub struct ReqQuery {
    req: String,
}

/// `GET /authorize/continue?req=`: after login, re-evaluates the request.
pub async fn authorize_continue(
    State(idp): State<AppState>,
    b: Browser,
    Query(q): Query<ReqQuery>,
) -> Result<Response> {
    let now = domain::now();
    let session = b.session(&idp, now).await?;
    let step = oidc::continue_request(&idp, &q.req, &b.id, session.as_ref(), now).await?;
    Ok(step_response(&idp, &b, step))
}

// ---- login ----

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    t: T<'a>,
    csrf: String,
    script: bool,
    back: String,
    req: String,
    client_name: String,
    login_hint: String,
}

/// `GET /login?req=`.
pub async fn login_page(
    State(idp): State<AppState>,
    b: Browser,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let now = domain::now();
    let req_id = q.get("req").cloned().unwrap_or_default();
    let (client_name, hint, locales) = if req_id.is_empty() {
        (idp.i18n.t(b.lang(None)).get("site.name").to_string(), String::new(), None)
    } else {
        match oidc::load_request(&idp, &req_id, &b.id, now).await? {
            Some((req, client)) => (
                client.metadata.client_name.clone(),
                req.login_hint.clone().filter(|h| domain::cid::Cid::parse(h).is_ok()).unwrap_or_default(),
                req.ui_locales.clone(),
            ),
            None => return Ok(error_page(&idp, &b, "expired")),
        }
    };
    let page = LoginPage {
        t: idp.i18n.t(b.lang(locales.as_deref())),
        csrf: csrf_token(&idp, &b),
        script: true,
        back: b.path.clone(),
        req: req_id,
        client_name,
        login_hint: hint,
    };
    Ok(finish(&idp, &b, render(page)))
}

pub(super) fn json_error(status: StatusCode, msg: &str) -> Response {
    let mut r = (status, Json(serde_json::json!({"error": msg}))).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Maps an error of a JSON page endpoint: user-facing messages for what the user can fix,
/// 429 with Retry-After for limits, and the generic mapping otherwise.
pub(super) fn json_fail(e: Error) -> Response {
    match e {
        Error::Invalid(m) => json_error(StatusCode::BAD_REQUEST, &m),
        Error::NotFound(m) => json_error(StatusCode::NOT_FOUND, &m),
        Error::RateLimited { retry_after } => {
            let mut r = json_error(StatusCode::TOO_MANY_REQUESTS, "too many attempts; wait a minute and try again");
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        other => other.into_response(),
    }
}

pub(super) fn csrf_header(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-csrf-token").and_then(|v| v.to_str().ok())
}

/// Parses a JSON body with a size already bounded by the body limit.
pub(super) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| Error::Invalid(format!("malformed request: {e}")))
}

#[derive(Deserialize)]
struct LoginStart {
    #[serde(default)]
    cid: Option<String>,
}

/// `POST /login/passkey/start`.
pub async fn login_start(
    State(idp): State<AppState>,
    b: Browser,
    ip: ClientIp,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !csrf_ok(&idp, &b, csrf_header(&headers)) {
        return json_error(StatusCode::FORBIDDEN, "the page has expired; reload it");
    }
    let r = async {
        let req: LoginStart = parse_json(&body)?;
        let cid = req.cid.as_deref().filter(|c| !c.is_empty());
        login::login_start(&idp, cid, &ip.0, domain::now()).await
    }
    .await;
    match r {
        Ok((ceremony, options)) => Json(serde_json::json!({"ceremony": ceremony, "options": options})).into_response(),
        Err(e) => json_fail(e),
    }
}

#[derive(Deserialize)]
struct LoginFinish {
    ceremony: String,
    #[serde(default)]
    req: Option<String>,
    credential: webauthn_rs::prelude::PublicKeyCredential,
}

fn session_cookie(idp: &Idp, s: &login::NewSession, now: i64) -> String {
    format!("{SESSION}={}{}", s.token, cookie_attrs(idp, (s.expires_at - now).max(0)))
}

/// `POST /login/passkey/finish`: on success sets the session cookie and says where to go.
pub async fn login_finish(
    State(idp): State<AppState>,
    b: Browser,
    ip: ClientIp,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !csrf_ok(&idp, &b, csrf_header(&headers)) {
        return json_error(StatusCode::FORBIDDEN, "the page has expired; reload it");
    }
    let now = domain::now();
    let r = async {
        let req: LoginFinish = parse_json(&body)?;
        let v = login::login_verify(&idp, &req.ceremony, &req.credential, &ip.0, now).await?;
        let session = v.session_row(now)?;
        // The authorization request is answered (code, consent or error) while the login is
        // recorded; if either fails, no cookie is set and no redirect is given.
        let next = async {
            Ok(match req.req.as_deref().filter(|r| !r.is_empty()) {
                Some(id) => match oidc::after_login(&idp, id, &b.id, &session, now).await? {
                    Some(Step::Redirect(to)) => to,
                    Some(Step::Consent(id)) => with_req("/consent", &id),
                    Some(Step::Login(id)) => with_req("/login", &id),
                    // A request finished meanwhile (a double submit): its page says so.
                    Some(Step::ErrorPage(_)) => with_req("/authorize/continue", id),
                    None => "/account".to_string(),
                },
                None => "/account".to_string(),
            })
        };
        let ((), next) = tokio::try_join!(login::login_record(&idp, &v, &ip.0, now), next)?;
        Ok::<_, Error>((v.session, next))
    }
    .await;
    match r {
        Ok((s, next)) => {
            let mut resp = Json(serde_json::json!({"redirect": next})).into_response();
            set_cookie(&mut resp, session_cookie(&idp, &s, now));
            resp
        }
        Err(e) => json_fail(e),
    }
}

// ---- activation ----

#[derive(Template)]
#[template(path = "activate.html")]
struct ActivatePage<'a> {
    t: T<'a>,
    csrf: String,
    script: bool,
    back: String,
}

/// `GET /activate`.
pub async fn activate_page(State(idp): State<AppState>, b: Browser) -> Response {
    let page =
        ActivatePage { t: idp.i18n.t(b.lang(None)), csrf: csrf_token(&idp, &b), script: true, back: b.path.clone() };
    finish(&idp, &b, render(page))
}

#[derive(Deserialize)]
struct ActivateStart {
    cid: String,
    code: String,
}

/// `POST /activate/start`.
pub async fn activate_start(
    State(idp): State<AppState>,
    b: Browser,
    ip: ClientIp,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !csrf_ok(&idp, &b, csrf_header(&headers)) {
        return json_error(StatusCode::FORBIDDEN, "the page has expired; reload it");
    }
    let r = async {
        let req: ActivateStart = parse_json(&body)?;
        login::activation_start(&idp, &req.cid, &req.code, &ip.0, domain::now()).await
    }
    .await;
    match r {
        Ok((ceremony, options)) => Json(serde_json::json!({"ceremony": ceremony, "options": options})).into_response(),
        Err(e) => json_fail(e),
    }
}

#[derive(Deserialize)]
struct RegisterFinish {
    ceremony: String,
    #[serde(default)]
    name: String,
    credential: webauthn_rs::prelude::RegisterPublicKeyCredential,
}

/// `POST /activate/finish`.
pub async fn activate_finish(
    State(idp): State<AppState>,
    b: Browser,
    ip: ClientIp,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !csrf_ok(&idp, &b, csrf_header(&headers)) {
        return json_error(StatusCode::FORBIDDEN, "the page has expired; reload it");
    }
    let now = domain::now();
    let r = async {
        let req: RegisterFinish = parse_json(&body)?;
        login::activation_finish(&idp, &req.ceremony, &req.credential, &req.name, &ip.0, now).await
    }
    .await;
    match r {
        Ok(s) => {
            let mut resp = Json(serde_json::json!({"redirect": "/account"})).into_response();
            set_cookie(&mut resp, session_cookie(&idp, &s, now));
            resp
        }
        Err(e) => json_fail(e),
    }
}

// ---- consent ----

struct ClaimLine {
    label: String,
    value: String,
    verified: bool,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    t: T<'a>,
    csrf: String,
    script: bool,
    back: String,
    req: String,
    client_name: String,
    claims: Vec<ClaimLine>,
}

/// `GET /consent?req=`.
pub async fn consent_page(State(idp): State<AppState>, b: Browser, Query(q): Query<ReqQuery>) -> Result<Response> {
    let now = domain::now();
    let Some(s) = b.session(&idp, now).await? else {
        return Ok(finish(&idp, &b, Redirect::to(&with_req("/login", &q.req)).into_response()));
    };
    let Some(view) = oidc::consent_view(&idp, &q.req, &b.id, now).await? else {
        return Ok(error_page(&idp, &b, "expired"));
    };
    let person = person_of(&idp, &s.account_id).await?;
    let view_redirect = view.redirect_uri.clone();
    let t = idp.i18n.t(b.lang(view.ui_locales.as_deref()));
    let claims = view
        .claims
        .iter()
        .map(|c| {
            let (name, verified) = match c.strip_prefix("verified:") {
                Some(n) => (n, true),
                None => (c.as_str(), false),
            };
            let value = person
                .as_ref()
                .and_then(|p| domain::claims::value(name, p))
                .map(|v| match v {
                    serde_json::Value::String(s) => s,
                    other => other.get("formatted").and_then(|f| f.as_str()).map(str::to_string).unwrap_or_default(),
                })
                .unwrap_or_default();
            ClaimLine { label: t.get(&format!("claim.{name}")).to_string(), value, verified }
        })
        .collect();
    let page = ConsentPage {
        t,
        csrf: csrf_token(&idp, &b),
        script: false,
        back: b.path.clone(),
        req: q.req,
        client_name: view.client_name.clone(),
        claims,
    };
    let mut resp = render(page);
    with_form_target(&mut resp, &view_redirect);
    Ok(finish(&idp, &b, resp))
}

async fn person_of(idp: &Idp, account_id: &str) -> Result<Option<domain::registry::Person>> {
    let Some(a) = store::login::account(&idp.db, account_id).await? else {
        return Ok(None);
    };
    let Ok(cid) = domain::cid::Cid::parse(&a.cid) else {
        return Ok(None);
    };
    store::registry::person(&idp.db, &cid).await
}

/// `POST /consent`.
pub async fn consent_submit(State(idp): State<AppState>, b: Browser, form: OAuthForm) -> Result<Response> {
    let now = domain::now();
    if !csrf_ok(&idp, &b, form.get("csrf")) {
        return Ok(csrf_refused(&idp, &b));
    }
    let req = form.get("req").unwrap_or("").to_string();
    let Some(s) = b.session(&idp, now).await? else {
        return Ok(finish(&idp, &b, Redirect::to(&with_req("/login", &req)).into_response()));
    };
    let allow = match form.get("decision") {
        Some("allow") => true,
        Some("deny") => false,
        _ => return Ok(error_page(&idp, &b, "decision must be allow or deny")),
    };
    let step = oidc::consent_decision(&idp, &req, &b.id, &s, allow, now).await?;
    Ok(step_response(&idp, &b, step))
}

// ---- signing approval ----

/// A document line on the approval page: the digest in groups of eight hex digits, so a
/// citizen (or the agency's clerk beside them) can compare it.
struct SignLine {
    title: String,
    digest: String,
}

#[derive(Template)]
#[template(path = "sign.html")]
struct SignPage<'a> {
    t: T<'a>,
    csrf: String,
    script: bool,
    back: String,
    req: String,
    client_name: String,
    documents: Vec<SignLine>,
    expires: String,
    cid_bound: bool,
}

/// `GET /sign/approve?req=`: what the agency asks the citizen to sign.
pub async fn sign_page(State(idp): State<AppState>, b: Browser, Query(q): Query<ReqQuery>) -> Result<Response> {
    let now = domain::now();
    let view = match crate::signing::view(&idp, &q.req, now).await {
        Ok(v) => v,
        Err(Error::Invalid(m)) => return Ok(error_page(&idp, &b, &m)),
        Err(e) => return Err(e),
    };
    let documents = view
        .documents
        .iter()
        .map(|d| SignLine {
            title: d.title.clone(),
            digest: d
                .digest
                .as_bytes()
                .chunks(8)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(" "),
        })
        .collect();
    let page = SignPage {
        t: idp.i18n.t(b.lang(None)),
        csrf: csrf_token(&idp, &b),
        script: true,
        back: b.path.clone(),
        req: q.req,
        client_name: view.client_name,
        documents,
        expires: date(view.expires_at),
        cid_bound: view.cid_bound,
    };
    let mut resp = render(page);
    // Refusing posts the form and is redirected to the agency.
    with_form_target(&mut resp, &view.return_url);
    Ok(finish(&idp, &b, resp))
}

#[derive(Deserialize)]
struct SignStart {
    req: String,
}

/// `POST /sign/approve/start`: the passkey challenge, bound to the documents.
pub async fn sign_start(
    State(idp): State<AppState>,
    b: Browser,
    ip: ClientIp,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !csrf_ok(&idp, &b, csrf_header(&headers)) {
        return json_error(StatusCode::FORBIDDEN, "the page has expired; reload it");
    }
    let r = async {
        login::login_limit(&idp, &ip.0)?;
        let req: SignStart = parse_json(&body)?;
        crate::signing::approve_start(&idp, &req.req, domain::now()).await
    }
    .await;
    match r {
        Ok((ceremony, options)) => Json(serde_json::json!({"ceremony": ceremony, "options": options})).into_response(),
        Err(e) => json_fail(e),
    }
}

#[derive(Deserialize)]
struct SignFinish {
    ceremony: String,
    req: String,
    credential: webauthn_rs::prelude::PublicKeyCredential,
}

/// `POST /sign/approve/finish`: verifies the approval, signs, and says where to go.
pub async fn sign_finish(
    State(idp): State<AppState>,
    b: Browser,
    ip: ClientIp,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !csrf_ok(&idp, &b, csrf_header(&headers)) {
        return json_error(StatusCode::FORBIDDEN, "the page has expired; reload it");
    }
    let r = async {
        login::login_limit(&idp, &ip.0)?;
        let req: SignFinish = parse_json(&body)?;
        crate::signing::approve_finish(&idp, &req.ceremony, &req.req, &req.credential, &ip.0, domain::now()).await
    }
    .await;
    match r {
        Ok(next) => Json(serde_json::json!({"redirect": next})).into_response(),
        Err(e) => json_fail(e),
    }
}

/// `POST /sign/refuse` (form: csrf, req): back to the agency with `status=refused`.
pub async fn sign_refuse(State(idp): State<AppState>, b: Browser, ip: ClientIp, form: OAuthForm) -> Result<Response> {
    if !csrf_ok(&idp, &b, form.get("csrf")) {
        return Ok(csrf_refused(&idp, &b));
    }
    let req = form.get("req").unwrap_or("").to_string();
    match crate::signing::refuse(&idp, &req, &ip.0, domain::now()).await {
        Ok(to) => Ok(finish(&idp, &b, Redirect::to(&to).into_response())),
        Err(Error::Invalid(m)) => Ok(error_page(&idp, &b, &m)),
        Err(e) => Err(e),
    }
}

// ---- account ----

struct PasskeyLine {
    id: String,
    name: String,
    added: String,
    used: String,
    rename_label: String,
    remove_label: String,
}

struct ConsentLine {
    client_id: String,
    client_name: String,
    since: String,
    claims: String,
    revoke_label: String,
}

struct ActivityLine {
    when: String,
    what: String,
    service: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    t: T<'a>,
    csrf: String,
    script: bool,
    back: String,
    name: String,
    cid: String,
    assurance: String,
    passkeys: Vec<PasskeyLine>,
    consents: Vec<ConsentLine>,
    activity: Vec<ActivityLine>,
}

pub(super) fn date(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC")).ok())
        .unwrap_or_default()
}

/// `GET /account`.
pub async fn account_page(State(idp): State<AppState>, b: Browser) -> Result<Response> {
    let now = domain::now();
    let Some(s) = b.session(&idp, now).await? else {
        return Ok(finish(&idp, &b, Redirect::to("/login").into_response()));
    };
    let t = idp.i18n.t(b.lang(None));
    let account =
        store::login::account(&idp.db, &s.account_id).await?.ok_or_else(|| Error::internal("account vanished"))?;
    let person = person_of(&idp, &s.account_id).await?;
    let passkeys = store::login::credentials_of(&idp.db, &s.account_id)
        .await?
        .into_iter()
        .map(|c| PasskeyLine {
            added: t.fmt("account.passkey_added", "date", &date(c.created_at)),
            used: match c.last_used_at {
                Some(u) => t.fmt("account.passkey_used", "date", &date(u)),
                None => t.get("account.passkey_never").to_string(),
            },
            rename_label: t.fmt("account.rename_label", "name", &c.name),
            remove_label: t.fmt("account.remove_label", "name", &c.name),
            id: c.cred_id,
            name: c.name,
        })
        .collect();
    let mut consents = vec![];
    for c in store::login::consents_of(&idp.db, &s.account_id).await? {
        let name = idp
            .client(&c.client_id)
            .await?
            .map(|cl| cl.metadata.client_name.clone())
            .unwrap_or_else(|| c.client_id.clone());
        let names: Vec<String> = serde_json::from_str(&c.claims).unwrap_or_default();
        let claims = names
            .iter()
            .map(|n| t.get(&format!("claim.{}", n.strip_prefix("verified:").unwrap_or(n))).to_string())
            .collect::<Vec<_>>()
            .join(", ");
        consents.push(ConsentLine {
            since: t.fmt("account.consent_since", "date", &date(c.granted_at)),
            revoke_label: t.fmt("account.revoke_label", "client", &name),
            client_id: c.client_id,
            client_name: name,
            claims,
        });
    }
    let mut activity = vec![];
    for e in store::audit::for_subject(&idp.db, &format!("account:{}", s.account_id), 20).await? {
        let key = format!("event.{}", e.body.event);
        let what = match t.get(&key) {
            "?" => t.get("event.other").to_string(),
            w => w.to_string(),
        };
        let service = if e.body.client_id.is_empty() {
            String::new()
        } else {
            idp.client(&e.body.client_id)
                .await?
                .map(|c| c.metadata.client_name.clone())
                .unwrap_or(e.body.client_id.clone())
        };
        activity.push(ActivityLine { when: date(e.at), what, service });
    }
    let page = AccountPage {
        t,
        csrf: csrf_token(&idp, &b),
        script: true,
        back: b.path.clone(),
        name: person.as_ref().map(|p| p.full_name()).unwrap_or_default(),
        cid: account.cid.clone(),
        assurance: account.assurance.clone(),
        passkeys,
        consents,
        activity,
    };
    Ok(finish(&idp, &b, render(page)))
}

async fn account_form(
    idp: &AppState,
    b: &Browser,
    form: &OAuthForm,
) -> Result<std::result::Result<SessionRow, Response>> {
    if !csrf_ok(idp, b, form.get("csrf")) {
        return Ok(Err(csrf_refused(idp, b)));
    }
    match b.session(idp, domain::now()).await? {
        Some(s) => Ok(Ok(s)),
        None => Ok(Err(finish(idp, b, Redirect::to("/login").into_response()))),
    }
}

fn back_to_account(idp: &Idp, b: &Browser, r: Result<()>) -> Result<Response> {
    match r {
        Ok(()) => Ok(finish(idp, b, Redirect::to("/account").into_response())),
        Err(Error::Invalid(m)) | Err(Error::NotFound(m)) => {
            Ok(message(idp, b, StatusCode::BAD_REQUEST, "error.title", m, ""))
        }
        Err(e) => Err(e),
    }
}

/// `POST /account/passkeys/rename`.
pub async fn passkey_rename(
    State(idp): State<AppState>,
    b: Browser,
    ip: ClientIp,
    form: OAuthForm,
) -> Result<Response> {
    let s = match account_form(&idp, &b, &form).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    let r = login::rename_passkey(
        &idp,
        &s,
        form.get("id").unwrap_or(""),
        form.get("name").unwrap_or(""),
        &ip.0,
        domain::now(),
    )
    .await;
    back_to_account(&idp, &b, r)
}

/// `POST /account/passkeys/remove`.
pub async fn passkey_remove(
    State(idp): State<AppState>,
    b: Browser,
    ip: ClientIp,
    form: OAuthForm,
) -> Result<Response> {
    let s = match account_form(&idp, &b, &form).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    let r = login::remove_passkey(&idp, &s, form.get("id").unwrap_or(""), &ip.0, domain::now()).await;
    back_to_account(&idp, &b, r)
}

/// `POST /account/consents/revoke`.
pub async fn consent_revoke(
    State(idp): State<AppState>,
    b: Browser,
    ip: ClientIp,
    form: OAuthForm,
) -> Result<Response> {
    let s = match account_form(&idp, &b, &form).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    let r = login::revoke_consent(&idp, &s, form.get("client_id").unwrap_or(""), &ip.0, domain::now()).await;
    back_to_account(&idp, &b, r)
}

/// `POST /account/passkeys/start`.
pub async fn passkey_add_start(State(idp): State<AppState>, b: Browser, headers: HeaderMap) -> Result<Response> {
    if !csrf_ok(&idp, &b, csrf_header(&headers)) {
        return Ok(json_error(StatusCode::FORBIDDEN, "the page has expired; reload it"));
    }
    let now = domain::now();
    let Some(s) = b.session(&idp, now).await? else {
        return Ok(json_error(StatusCode::UNAUTHORIZED, "please sign in again"));
    };
    Ok(match login::add_passkey_start(&idp, &s, now).await {
        Ok((ceremony, options)) => Json(serde_json::json!({"ceremony": ceremony, "options": options})).into_response(),
        Err(e) => json_fail(e),
    })
}

/// `POST /account/passkeys/finish`.
pub async fn passkey_add_finish(
    State(idp): State<AppState>,
    b: Browser,
    ip: ClientIp,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response> {
    if !csrf_ok(&idp, &b, csrf_header(&headers)) {
        return Ok(json_error(StatusCode::FORBIDDEN, "the page has expired; reload it"));
    }
    let now = domain::now();
    let Some(s) = b.session(&idp, now).await? else {
        return Ok(json_error(StatusCode::UNAUTHORIZED, "please sign in again"));
    };
    let r = async {
        let req: RegisterFinish = parse_json(&body)?;
        login::add_passkey_finish(&idp, &s, &req.ceremony, &req.credential, &req.name, &ip.0, now).await
    }
    .await;
    Ok(match r {
        Ok(()) => Json(serde_json::json!({"redirect": "/account"})).into_response(),
        Err(e) => json_fail(e),
    })
}

// ---- logout ----

fn clear_session(idp: &Idp, resp: &mut Response) {
    set_cookie(resp, format!("{SESSION}={}", cookie_attrs(idp, 0)));
}

/// `POST /account/logout`.
pub async fn account_logout(
    State(idp): State<AppState>,
    b: Browser,
    ip: ClientIp,
    form: OAuthForm,
) -> Result<Response> {
    let s = match account_form(&idp, &b, &form).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    oidc::end_session(&idp, &s, &ip.0, domain::now()).await?;
    let t = idp.i18n.t(b.lang(None));
    let mut r = message(&idp, &b, StatusCode::OK, "logout.title", t.get("logout.done").to_string(), "");
    clear_session(&idp, &mut r);
    Ok(r)
}

/// `GET /logout` (RP-initiated logout).
pub async fn logout_get(
    State(idp): State<AppState>,
    b: Browser,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    logout(idp, b, q, None).await
}

/// `POST /logout`: RP-initiated logout by form, or the citizen's confirmation.
pub async fn logout_post(State(idp): State<AppState>, b: Browser, ip: ClientIp, form: OAuthForm) -> Result<Response> {
    let confirmed = form.get("csrf").is_some();
    if confirmed && !csrf_ok(&idp, &b, form.get("csrf")) {
        return Ok(csrf_refused(&idp, &b));
    }
    let mut params = form.0;
    params.remove("csrf");
    logout(idp, b, params, confirmed.then_some(ip)).await
}

async fn logout(
    idp: AppState,
    b: Browser,
    params: HashMap<String, String>,
    confirmed_from: Option<ClientIp>,
) -> Result<Response> {
    let now = domain::now();
    let t = idp.i18n.t(b.lang(params.get("ui_locales").map(String::as_str)));
    let req = match oidc::logout_request(&idp, &params).await? {
        Ok(r) => r,
        Err(msg) => {
            return Ok(message(&idp, &b, StatusCode::BAD_REQUEST, "error.title", msg, ""));
        }
    };
    let session = b.session(&idp, now).await?;
    if let Some(s) = &session {
        // Log out at once when the RP proved it knows this session (its ID token names it) or
        // the citizen confirmed on our page; otherwise ask, so a forged link cannot sign
        // anyone out.
        let hinted = req.hinted_sid.as_deref() == Some(s.sid.as_str());
        if !hinted && confirmed_from.is_none() {
            let page = MessagePage {
                t,
                csrf: csrf_token(&idp, &b),
                script: false,
                back: b.path.clone(),
                heading: t.get("logout.title").to_string(),
                message: t.get("logout.confirm").to_string(),
                hint: String::new(),
                confirm_logout: true,
                hidden: params.into_iter().filter(|(k, _)| k != "csrf").collect(),
            };
            let mut resp = render(page);
            if let Some(target) = &req.post_logout_redirect_uri {
                with_form_target(&mut resp, target);
            }
            return Ok(finish(&idp, &b, resp));
        }
        let ip = confirmed_from.map(|i| i.0).unwrap_or_default();
        oidc::end_session(&idp, s, &ip, now).await?;
    }
    let mut resp = match oidc::after_logout(&req) {
        Some(url) => finish(&idp, &b, Redirect::to(&url).into_response()),
        None => message(&idp, &b, StatusCode::OK, "logout.title", t.get("logout.done").to_string(), ""),
    };
    clear_session(&idp, &mut resp);
    Ok(resp)
}

// ---- language ----

/// `GET /lang?to=dz&back=/path`: remembers the language choice.
pub async fn set_lang(State(idp): State<AppState>, b: Browser, Query(q): Query<HashMap<String, String>>) -> Response {
    let to = match q.get("to").map(String::as_str) {
        Some("dz") => "dz",
        _ => "en",
    };
    // Only local paths: never an open redirect.
    let back = q.get("back").and_then(|p| local_path(p)).unwrap_or("/account").to_string();
    let mut r = Redirect::to(&back).into_response();
    set_cookie(&mut r, format!("{LANG}={to}{}", cookie_attrs(&idp, 400 * 24 * 3600)));
    finish(&idp, &b, r)
}

/// Fallback for unknown paths: a small 404 page.
pub async fn not_found(State(idp): State<AppState>, b: Browser) -> Response {
    let t = idp.i18n.t(b.lang(None));
    message(&idp, &b, StatusCode::NOT_FOUND, "error.title", t.get("error.not_found").to_string(), "")
}

/// `GET /` : the account page for citizens.
pub async fn home() -> Redirect {
    Redirect::to("/account")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_targets_stay_local() {
        assert_eq!(local_path("/account"), Some("/account"));
        for bad in ["//evil.example", "/\\evil.example", "/\t/evil.example", "https://evil.example", "/a b", "/\n"] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
        assert_eq!(with_req("/login", "a\r\nb&c"), "/login?req=a%0D%0Ab%26c");
    }
}
