//! The attacker's story (issue item 12): every rule of the front and back channel is attacked
//! and must hold. Exact redirect URI matching and error pages that never redirect; single-use
//! codes bound to client, redirect URI and PKCE verifier, whose replay revokes what they
//! issued; pushed requests bound to their client and used once; CSRF on every form; security
//! headers and hardened cookies; rate limits; body limits; and malformed input on every
//! endpoint. Each attack checks the refusal *and* that nothing was stored or issued.

use std::collections::HashMap;

use base64::Engine;
use serde_json::{Value, json};

use crate::{
    authenticator::{self, ResidentSoftPasskey},
    both_backends,
    citizen::{Browser, activate, csrf_of, import_and_issue, login_through, web_client},
    support::{self, Backend, TestIdp, api_client, http, register},
};

const CID: &str = "10101001234";
const REDIRECT: &str = "http://localhost:9/cb";
const STATE: &str = "st-42";

// ---- helpers ----

/// Rows of `table` (with an optional `WHERE` clause), through a second connection.
async fn count(idp: &TestIdp, table_and_filter: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&idp.db.url).await.unwrap();
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table_and_filter}")))
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

/// A PKCE pair (verifier, S256 challenge).
fn pkce() -> (String, String) {
    let verifier = format!("{}-v", idp::domain::secrets::random_token().unwrap());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()));
    (verifier, challenge)
}

type Params = Vec<(String, String)>;

/// A well-formed authorization request for `client_id`.
fn params(client_id: &str, challenge: &str) -> Params {
    [
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid profile"),
        ("state", STATE),
        ("nonce", "n-42"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// `p` with `k` replaced by `v` (or removed when `None`).
fn set(p: &Params, k: &str, v: Option<&str>) -> Params {
    let mut p: Params = p.iter().filter(|(x, _)| x != k).cloned().collect();
    if let Some(v) = v {
        p.push((k.to_string(), v.to_string()));
    }
    p
}

fn encode(p: &Params) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in p {
        s.append_pair(k, v);
    }
    s.finish()
}

fn authz_url(p: &Params) -> String {
    format!("/authorize?{}", encode(p))
}

fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

/// An error page of the IdP: 400, HTML, and no redirect anywhere.
fn assert_error_page(r: (u16, Option<String>, String), what: &str) {
    let (s, loc, body) = r;
    assert_eq!(s, 400, "{what}: expected an error page, got {s} {loc:?} {body}");
    assert!(loc.is_none(), "{what}: an error page never redirects, got Location {loc:?}");
    assert!(body.contains("<html"), "{what}: {body}");
}

/// An error sent back to the (trusted) redirect URI with `state` and `iss`, and no code.
fn assert_error_redirect(idp: &TestIdp, r: (u16, Option<String>, String), error: &str, what: &str) {
    let (s, loc, body) = r;
    assert_eq!(s, 303, "{what}: {body}");
    let loc = loc.unwrap_or_default();
    assert!(loc.starts_with(&format!("{REDIRECT}?")), "{what}: {loc}");
    let q = query_of(&loc);
    assert_eq!(q.get("error").map(String::as_str), Some(error), "{what}: {loc}");
    assert_eq!(q.get("state").map(String::as_str), Some(STATE), "{what}: {loc}");
    assert_eq!(q.get("iss").map(String::as_str), Some(idp.base.as_str()), "{what}: {loc}");
    assert!(!q.contains_key("code"), "{what}: no code with an error: {loc}");
}

/// A citizen with an activated digital ID, logged in in the returned browser.
async fn citizen(idp: &TestIdp) -> (Browser, ResidentSoftPasskey) {
    let code = import_and_issue(idp, CID).await;
    let b = Browser::new(&idp.base);
    let mut key = ResidentSoftPasskey::new();
    activate(&b, &mut key, CID, &code).await;
    (b, key)
}

/// A web client named `name` redirecting to [`REDIRECT`]: (id, secret).
async fn web(idp: &TestIdp, name: &str) -> (String, String) {
    let mut m = web_client(REDIRECT);
    m.client_name = name.into();
    let (id, secret) = register(idp, m).await;
    (id, secret.unwrap())
}

/// Runs the browser through an authorization for `client_id`: (code, PKCE verifier).
async fn get_code(b: &Browser, key: &mut ResidentSoftPasskey, client_id: &str) -> (String, String) {
    let (verifier, challenge) = pkce();
    let loc = login_through(b, key, &authz_url(&params(client_id, &challenge)), true).await;
    assert!(loc.starts_with(&format!("{REDIRECT}?")), "{loc}");
    let q = query_of(&loc);
    assert_eq!(q["state"], STATE);
    (q["code"].clone(), verifier)
}

async fn token_form(idp: &TestIdp, auth: Option<(&str, &str)>, form: &[(&str, &str)]) -> (u16, Value) {
    let mut r = http().post(idp.url("/token")).form(form);
    if let Some((id, secret)) = auth {
        r = r.basic_auth(id, Some(secret));
    }
    let r = r.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(json!({})))
}

async fn redeem(idp: &TestIdp, (id, secret): (&str, &str), code: &str, redirect: &str, verifier: &str) -> (u16, Value) {
    token_form(
        idp,
        Some((id, secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// An OAuth error response that issued nothing.
fn assert_oauth_error(r: &(u16, Value), status: u16, error: &str, what: &str) {
    let (s, v) = r;
    assert_eq!((*s, v["error"].as_str().unwrap_or("")), (status, error), "{what}: {v}");
    for k in ["access_token", "id_token", "refresh_token", "request_uri"] {
        assert!(v.get(k).is_none(), "{what}: nothing is issued with an error: {v}");
    }
}

async fn introspect(idp: &TestIdp, (id, secret): (&str, &str), token: &str) -> Value {
    http()
        .post(idp.url("/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn userinfo(idp: &TestIdp, authorization: Option<&str>) -> reqwest::Response {
    let mut r = http().get(idp.url("/userinfo"));
    if let Some(a) = authorization {
        r = r.header("authorization", a);
    }
    r.send().await.unwrap()
}

/// Asserts a refused bearer request: `status` and a `WWW-Authenticate: Bearer` challenge.
async fn assert_bearer_refused(r: reqwest::Response, status: u16, what: &str) {
    assert_eq!(r.status().as_u16(), status, "{what}");
    let www = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    assert!(www.starts_with("Bearer"), "{what}: WWW-Authenticate {www:?}");
    let v: Value = r.json().await.unwrap_or(json!({}));
    assert!(v.get("sub").is_none(), "{what}: no claims: {v}");
}

/// POST with a raw JSON body through the browser, with or without the CSRF header.
async fn post_raw(b: &Browser, path: &str, csrf: Option<&str>, body: impl Into<String>) -> reqwest::Response {
    let mut r = b.http.post(b.abs(path)).header("content-type", "application/json").body(body.into());
    if let Some(c) = csrf {
        r = r.header("x-csrf-token", c);
    }
    r.send().await.unwrap()
}

/// The `Set-Cookie` header value for cookie `name`, if the response sets it.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(json!({})))
}

/// The account of the test citizen.
async fn account_id(idp: &TestIdp) -> String {
    idp::store::login::account_by_cid(&idp.state().db, CID).await.unwrap().unwrap().id
}

// ---- /authorize ----

async fn authorize_refuses_untrusted_and_malformed_requests(backend: Backend) {
    let Some(idp) = support::start(backend).await else {
        return;
    };
    let (id, _) = web(&idp, "ePIS").await;
    let (_, challenge) = pkce();
    let good = params(&id, &challenge);
    let b = Browser::new(&idp.base);

    // Until the client and its redirect URI are genuine: our own error page, never a redirect.
    let untrusted = [
        ("unknown client_id", set(&good, "client_id", Some("no-such-client"))),
        ("missing client_id", set(&good, "client_id", None)),
        ("empty client_id", set(&good, "client_id", Some(""))),
        ("missing redirect_uri", set(&good, "redirect_uri", None)),
        ("unregistered redirect_uri", set(&good, "redirect_uri", Some("https://evil.example/cb"))),
        ("trailing slash", set(&good, "redirect_uri", Some("http://localhost:9/cb/"))),
        ("path case", set(&good, "redirect_uri", Some("http://localhost:9/CB"))),
        ("host case", set(&good, "redirect_uri", Some("http://LOCALHOST:9/cb"))),
        ("extra query", set(&good, "redirect_uri", Some("http://localhost:9/cb?x=1"))),
        ("fragment", set(&good, "redirect_uri", Some("http://localhost:9/cb#x"))),
        ("other port", set(&good, "redirect_uri", Some("http://localhost:10/cb"))),
        ("userinfo trick", set(&good, "redirect_uri", Some("http://localhost:9@evil.example/cb"))),
        (
            "bad redirect and bad response_type",
            set(&set(&good, "redirect_uri", Some("https://evil.example/cb")), "response_type", Some("token")),
        ),
    ];
    for (what, p) in &untrusted {
        assert_error_page(b.get(&authz_url(p)).await, what);
        let (s, loc, body) =
            b.post_form("/authorize", &p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>()).await;
        assert_error_page((s, loc, body), &format!("POST {what}"));
    }
    // Repeated parameters are refused outright.
    assert_error_page(b.get(&format!("{}&state=again", authz_url(&good))).await, "repeated state");
    assert_error_page(
        b.get(&format!("{}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb", authz_url(&good))).await,
        "repeated redirect_uri",
    );
    assert_eq!(count(&idp, "auth_requests").await, 0, "nothing stored for refused requests");

    // With a trusted redirect URI, errors go back to the client with state and iss.
    let redirected = [
        ("response_type=token", set(&good, "response_type", Some("token")), "unsupported_response_type"),
        ("missing response_type", set(&good, "response_type", None), "invalid_request"),
        ("no code_challenge", set(&good, "code_challenge", None), "invalid_request"),
        ("code_challenge_method=plain", set(&good, "code_challenge_method", Some("plain")), "invalid_request"),
        ("no code_challenge_method", set(&good, "code_challenge_method", None), "invalid_request"),
        ("short code_challenge", set(&good, "code_challenge", Some("abc")), "invalid_request"),
        ("scope without openid", set(&good, "scope", Some("profile")), "invalid_scope"),
        ("unregistered scope", set(&good, "scope", Some("openid national_id")), "invalid_scope"),
        ("unknown scope", set(&good, "scope", Some("openid admin")), "invalid_scope"),
        ("request object", set(&good, "request", Some("eyJhbGciOiJub25lIn0.e30.")), "invalid_request"),
        ("response_mode=fragment", set(&good, "response_mode", Some("fragment")), "invalid_request"),
        ("unknown prompt", set(&good, "prompt", Some("bogus")), "invalid_request"),
        ("prompt=none login", set(&good, "prompt", Some("none login")), "invalid_request"),
        ("negative max_age", set(&good, "max_age", Some("-1")), "invalid_request"),
        ("malformed claims", set(&good, "claims", Some("{not json")), "invalid_request"),
        ("oversized nonce", set(&good, "nonce", Some(&"n".repeat(3000))), "invalid_request"),
        ("prompt=none without a session", set(&good, "prompt", Some("none")), "login_required"),
    ];
    for (what, p, err) in &redirected {
        assert_error_redirect(&idp, b.get(&authz_url(p)).await, err, what);
    }
    assert_eq!(count(&idp, "codes").await, 0);
    assert_eq!(count(&idp, "grants").await, 0);
    idp.stop().await;
}
both_backends!(authorize_refuses_untrusted_and_malformed_requests);

// ---- /par ----

async fn push(idp: &TestIdp, auth: Option<(&str, &str)>, p: &Params) -> (u16, Value) {
    let mut r = http().post(idp.url("/par")).form(p);
    if let Some((id, secret)) = auth {
        r = r.basic_auth(id, Some(secret));
    }
    json_of(r.send().await.unwrap()).await
}

async fn pushed_requests_are_bound_and_single_use(backend: Backend) {
    let Some(idp) = support::start(backend).await else {
        return;
    };
    let (a, a_secret) = web(&idp, "ePIS").await;
    let (bid, b_secret) = web(&idp, "EMIS").await;
    let (_, challenge) = pkce();
    let pa = params(&a, &challenge);

    // Client authentication is required; bad parameters are refused as JSON errors.
    assert_oauth_error(&push(&idp, None, &pa).await, 401, "invalid_client", "PAR without client auth");
    assert_oauth_error(&push(&idp, Some((&a, "wrong")), &pa).await, 401, "invalid_client", "PAR wrong secret");
    assert_oauth_error(
        &push(&idp, Some((&a, &b_secret)), &pa).await,
        401,
        "invalid_client",
        "PAR with another client's secret",
    );
    assert_oauth_error(
        &push(&idp, Some((&a, &a_secret)), &set(&pa, "redirect_uri", Some("https://evil.example/cb"))).await,
        400,
        "invalid_request",
        "PAR bad redirect_uri",
    );
    assert_oauth_error(
        &push(&idp, Some((&a, &a_secret)), &set(&pa, "redirect_uri", Some("http://localhost:9/cb/"))).await,
        400,
        "invalid_request",
        "PAR redirect_uri with trailing slash",
    );
    assert_oauth_error(
        &push(&idp, Some((&a, &a_secret)), &set(&pa, "response_type", Some("token"))).await,
        400,
        "unsupported_response_type",
        "PAR response_type=token",
    );
    assert_oauth_error(
        &push(&idp, Some((&a, &a_secret)), &set(&pa, "request_uri", Some("urn:ietf:params:oauth:request_uri:x"))).await,
        400,
        "invalid_request",
        "PAR pushing a request_uri",
    );
    assert_oauth_error(
        &push(&idp, Some((&a, &a_secret)), &set(&pa, "code_challenge_method", Some("plain"))).await,
        400,
        "invalid_request",
        "PAR plain PKCE",
    );
    // A client_id in the body that differs from the authenticated client.
    assert_oauth_error(
        &push(&idp, Some((&a, &a_secret)), &set(&pa, "client_id", Some(&bid))).await,
        401,
        "invalid_client",
        "PAR client_id differs from Basic",
    );
    assert_eq!(count(&idp, "auth_requests").await, 0, "nothing stored for refused pushes");

    // A pushed request works once, for the client that pushed it only.
    let (s, v) = push(&idp, Some((&a, &a_secret)), &pa).await;
    assert_eq!(s, 201, "{v}");
    let uri = v["request_uri"].as_str().unwrap().to_string();
    assert!(uri.starts_with("urn:ietf:params:oauth:request_uri:"), "{uri}");
    let b = Browser::new(&idp.base);
    let with = |client: &str, uri: &str| {
        authz_url(&vec![("client_id".into(), client.into()), ("request_uri".into(), uri.into())])
    };
    assert_error_page(b.get(&with(&bid, &uri)).await, "request_uri of client A used by client B");
    assert_error_page(
        b.get(&with(&a, "https://evil.example/request.jwt")).await,
        "request_uri not issued by this server",
    );
    assert_error_page(b.get(&with(&a, "urn:ietf:params:oauth:request_uri:made-up")).await, "unknown request_uri");
    let (s, loc, body) = b.get(&with(&a, &uri)).await;
    assert_eq!(s, 303, "{body}");
    assert!(loc.unwrap().starts_with("/login?req="));
    assert_error_page(b.get(&with(&a, &uri)).await, "request_uri used twice");
    let other = Browser::new(&idp.base);
    assert_error_page(other.get(&with(&a, &uri)).await, "request_uri used twice, other browser");

    // A client that must use PAR cannot go to /authorize directly.
    let mut m = web_client(REDIRECT);
    m.client_name = "Customs".into();
    m.require_pushed_authorization_requests = true;
    let (c, c_secret) = register(&idp, m).await;
    let c_secret = c_secret.unwrap();
    let before = count(&idp, "auth_requests").await;
    assert_error_redirect(
        &idp,
        b.get(&authz_url(&params(&c, &challenge))).await,
        "invalid_request",
        "PAR-only client without PAR",
    );
    assert_eq!(count(&idp, "auth_requests").await, before);
    let (s, v) = push(&idp, Some((&c, &c_secret)), &params(&c, &challenge)).await;
    assert_eq!(s, 201, "the same client through PAR works: {v}");
    assert_eq!(count(&idp, "codes").await, 0);
    idp.stop().await;
}
both_backends!(pushed_requests_are_bound_and_single_use);

// ---- /token, authorization_code ----

async fn codes_are_bound_single_use_and_replay_revokes(backend: Backend) {
    let Some(idp) = support::start(backend).await else {
        return;
    };
    let (b, mut key) = citizen(&idp).await;
    let (a, a_secret) = web(&idp, "ePIS").await;
    let (bid, b_secret) = web(&idp, "EMIS").await;
    let ca = (a.as_str(), a_secret.as_str());
    let cb = (bid.as_str(), b_secret.as_str());

    // Malformed exchanges.
    let (code, verifier) = get_code(&b, &mut key, &a).await;
    let grants = count(&idp, "grants").await;
    assert_oauth_error(
        &token_form(
            &idp,
            Some(ca),
            &[("grant_type", "authorization_code"), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)],
        )
        .await,
        400,
        "invalid_request",
        "no code",
    );
    assert_oauth_error(
        &token_form(
            &idp,
            Some(ca),
            &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)],
        )
        .await,
        400,
        "invalid_request",
        "no code_verifier",
    );
    assert_oauth_error(
        &token_form(
            &idp,
            Some(ca),
            &[("grant_type", "authorization_code"), ("code", &code), ("code_verifier", &verifier)],
        )
        .await,
        400,
        "invalid_request",
        "no redirect_uri",
    );
    assert_oauth_error(
        &token_form(
            &idp,
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &a),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ],
        )
        .await,
        401,
        "invalid_client",
        "no client authentication",
    );
    assert_oauth_error(
        &redeem(&idp, ca, "made-up-code", REDIRECT, &verifier).await,
        400,
        "invalid_grant",
        "unknown code",
    );

    // Wrong PKCE verifier.
    let (wrong, _) = pkce();
    assert_oauth_error(&redeem(&idp, ca, &code, REDIRECT, &wrong).await, 400, "invalid_grant", "wrong PKCE verifier");
    assert_oauth_error(
        &redeem(&idp, ca, &code, REDIRECT, "short").await,
        400,
        "invalid_grant",
        "malformed PKCE verifier",
    );
    assert_eq!(count(&idp, "grants").await, grants, "failed exchanges create no grant");

    // A code redeemed by another client: refused, and the grant is revoked for its owner too.
    let (code, verifier) = get_code(&b, &mut key, &a).await;
    assert_oauth_error(
        &redeem(&idp, cb, &code, REDIRECT, &verifier).await,
        400,
        "invalid_grant",
        "code of A redeemed by B",
    );
    assert_oauth_error(
        &redeem(&idp, ca, &code, REDIRECT, &verifier).await,
        400,
        "invalid_grant",
        "A after B tried its code",
    );

    // redirect_uri must match the authorization request exactly.
    for other in ["http://localhost:9/cb/", "http://localhost:9/CB", "http://localhost:9/cb?x=1"] {
        let (code, verifier) = get_code(&b, &mut key, &a).await;
        assert_oauth_error(&redeem(&idp, ca, &code, other, &verifier).await, 400, "invalid_grant", other);
    }

    // Replay: the second redemption fails and revokes what the first issued.
    let (code, verifier) = get_code(&b, &mut key, &a).await;
    let (s, t) = redeem(&idp, ca, &code, REDIRECT, &verifier).await;
    assert_eq!(s, 200, "{t}");
    let at = t["access_token"].as_str().unwrap().to_string();
    let rt = t["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(introspect(&idp, ca, &at).await["active"], true);
    assert_eq!(userinfo(&idp, Some(&format!("Bearer {at}"))).await.status(), 200);
    assert_oauth_error(&redeem(&idp, ca, &code, REDIRECT, &verifier).await, 400, "invalid_grant", "replayed code");
    assert_eq!(introspect(&idp, ca, &at).await["active"], false, "a replayed code revokes its access token");
    assert_eq!(introspect(&idp, ca, &rt).await["active"], false, "and its refresh token");
    assert_bearer_refused(userinfo(&idp, Some(&format!("Bearer {at}"))).await, 401, "userinfo after replay").await;
    assert_oauth_error(
        &token_form(&idp, Some(ca), &[("grant_type", "refresh_token"), ("refresh_token", &rt)]).await,
        400,
        "invalid_grant",
        "refresh after replay",
    );
    let events = idp::store::audit::page(&idp.state().db, 0, 1000).await.unwrap();
    assert!(events.iter().any(|e| e.body.event == "code_replayed"), "the replay is audited");
    idp.stop().await;
}
both_backends!(codes_are_bound_single_use_and_replay_revokes);

async fn expired_codes_are_refused(backend: Backend) {
    let Some(idp) = support::start_with(backend, |c| c.tokens.code_ttl = 1).await else {
        return;
    };
    let (b, mut key) = citizen(&idp).await;
    let (a, a_secret) = web(&idp, "ePIS").await;
    let (code, verifier) = get_code(&b, &mut key, &a).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_oauth_error(
        &redeem(&idp, (&a, &a_secret), &code, REDIRECT, &verifier).await,
        400,
        "invalid_grant",
        "expired code",
    );
    idp.stop().await;
}
both_backends!(expired_codes_are_refused);

// ---- CSRF ----

async fn every_form_demands_its_csrf_token(backend: Backend) {
    let Some(idp) = support::start(backend).await else {
        return;
    };
    let (b, _key) = citizen(&idp).await;
    let (a, _) = web(&idp, "ePIS").await;
    let attacker = Browser::new(&idp.base);
    let foreign = attacker.csrf("/activate").await;
    let mine = b.csrf("/account").await;
    assert_ne!(foreign, mine, "a CSRF token is bound to its browser");

    // Consent: without the token or with another browser's, 403 and no code.
    let (_, challenge) = pkce();
    let (s, loc, _) = b.get(&authz_url(&params(&a, &challenge))).await;
    assert_eq!(s, 303);
    let loc = loc.unwrap();
    assert!(loc.starts_with("/consent?req="), "{loc}");
    let req = loc.split("req=").nth(1).unwrap().to_string();
    for (what, form) in [
        ("consent without csrf", vec![("req", req.as_str()), ("decision", "allow")]),
        ("consent with another browser's csrf", vec![("csrf", foreign.as_str()), ("req", &req), ("decision", "allow")]),
        ("consent with a made-up csrf", vec![("csrf", &"0".repeat(64)), ("req", &req), ("decision", "allow")]),
    ] {
        let (s, loc, body) = b.post_form("/consent", &form).await;
        assert_eq!(s, 403, "{what}: {body}");
        assert!(loc.is_none(), "{what}: {loc:?}");
    }
    assert_eq!(count(&idp, "consents").await, 0);
    assert_eq!(count(&idp, "grants").await, 0);
    assert_eq!(count(&idp, "codes").await, 0);
    // The genuine form still works (the request was not consumed by the forgeries).
    let (s, loc, body) = b.post_form("/consent", &[("csrf", &mine), ("req", &req), ("decision", "allow")]).await;
    assert_eq!(s, 303, "{body}");
    assert!(query_of(&loc.unwrap()).contains_key("code"));

    // JSON endpoints without the header, or with another browser's token.
    for path in [
        "/login/passkey/start",
        "/login/passkey/finish",
        "/activate/start",
        "/activate/finish",
        "/account/passkeys/start",
        "/account/passkeys/finish",
    ] {
        let r = post_raw(&b, path, None, json!({"cid": CID, "code": "x"}).to_string()).await;
        assert_eq!(r.status(), 403, "{path} without x-csrf-token");
        assert!(set_cookie(&r, "idp_session").is_none());
        let r = post_raw(&b, path, Some(&foreign), json!({"cid": CID, "code": "x"}).to_string()).await;
        assert_eq!(r.status(), 403, "{path} with another browser's token");
    }
    // A first visit (no browser cookie yet) cannot carry a valid token either.
    let fresh = Browser::new(&idp.base);
    let r = post_raw(&fresh, "/activate/start", Some(&foreign), json!({"cid": CID, "code": "x"}).to_string()).await;
    assert_eq!(r.status(), 403, "fresh browser");
    assert_eq!(count(&idp, "ceremonies").await, 0, "no ceremony started without CSRF");

    // Account forms: a second passkey, so that removal would be possible.
    let (s, start) = b.post_json("/account/passkeys/start", &mine, json!({})).await;
    assert_eq!(s, 200, "{start}");
    let mut key2 = ResidentSoftPasskey::new();
    let cred = authenticator::create(&mut key2, &b.base, &start["options"]);
    let (s, fin) = b
        .post_json(
            "/account/passkeys/finish",
            &mine,
            json!({"ceremony": start["ceremony"], "name": "Tablet", "credential": cred}),
        )
        .await;
    assert_eq!(s, 200, "{fin}");
    let account = account_id(&idp).await;
    let creds = idp::store::login::credentials_of(&idp.state().db, &account).await.unwrap();
    assert_eq!(creds.len(), 2);
    let cred_id = creds[1].cred_id.clone();
    let sessions = count(&idp, "sessions WHERE ended_at IS NULL").await;
    for (path, form) in [
        ("/account/passkeys/remove", vec![("id", cred_id.as_str())]),
        ("/account/passkeys/rename", vec![("id", cred_id.as_str()), ("name", "pwned")]),
        ("/account/consents/revoke", vec![("client_id", a.as_str())]),
        ("/account/logout", vec![]),
    ] {
        let (s, loc, body) = b.post_form(path, &form).await;
        assert_eq!(s, 403, "{path} without csrf: {body}");
        assert!(loc.is_none());
        let mut with_foreign = form.clone();
        with_foreign.push(("csrf", foreign.as_str()));
        let (s, _, body) = b.post_form(path, &with_foreign).await;
        assert_eq!(s, 403, "{path} with another browser's csrf: {body}");
    }
    let after = idp::store::login::credentials_of(&idp.state().db, &account).await.unwrap();
    assert_eq!(after.len(), 2, "no passkey removed");
    assert!(after.iter().all(|c| c.name != "pwned"), "no passkey renamed");
    assert!(idp::store::login::consent(&idp.state().db, &account, &a).await.unwrap().is_some(), "the consent stands");
    assert_eq!(count(&idp, "sessions WHERE ended_at IS NULL").await, sessions, "the session stands");
    let (s, _, page) = b.get("/account").await;
    assert_eq!(s, 200, "still logged in");
    assert!(page.contains("Tablet"));
    idp.stop().await;
}
both_backends!(every_form_demands_its_csrf_token);

// ---- headers and cookies ----

fn assert_security_headers(r: &reqwest::Response, what: &str) {
    let h = |k: &str| r.headers().get(k).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let csp = h("content-security-policy");
    assert!(csp.contains("default-src 'none'"), "{what}: CSP {csp:?}");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: CSP {csp:?}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{what}: CSP {csp:?}");
    assert_eq!(h("x-frame-options"), "DENY", "{what}");
    assert_eq!(h("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(h("referrer-policy"), "no-referrer", "{what}");
}

async fn responses_carry_security_headers(backend: Backend) {
    let Some(idp) = support::start(backend).await else {
        return;
    };
    for path in ["/activate", "/login", "/authorize?client_id=nobody"] {
        let r = http().get(idp.url(path)).send().await.unwrap();
        assert_security_headers(&r, path);
        assert_eq!(r.headers()["cache-control"], "no-store", "{path}");
        let html = r.text().await.unwrap();
        assert!(html.contains("<html"), "{path}");
        // No inline script: every <script> element loads its code from src.
        let mut scripts = 0;
        for (i, _) in html.match_indices("<script") {
            let tag = &html[i..i + html[i..].find('>').unwrap()];
            assert!(tag.contains(" src="), "{path}: inline script {tag}");
            let rest = &html[i + tag.len() + 1..];
            assert!(rest.starts_with("</script>"), "{path}: script with a body");
            scripts += 1;
        }
        assert!(!html.to_ascii_lowercase().contains("javascript:"), "{path}");
        assert!(!html.contains(" onclick=") && !html.contains(" onload="), "{path}: inline handler");
        if path == "/activate" {
            assert_eq!(scripts, 1, "the activation page loads its one script");
        }
    }
    let (id, secret) = register(&idp, api_client("EMIS", "registry.read")).await;
    for (what, auth) in
        [("token error 401", None), ("token error 400", Some((id.as_str(), secret.as_deref().unwrap())))]
    {
        let mut r = http().post(idp.url("/token")).form(&[("grant_type", "password")]);
        if let Some((i, s)) = auth {
            r = r.basic_auth(i, Some(s));
        }
        let r = r.send().await.unwrap();
        assert!(r.status().is_client_error(), "{what}");
        assert_security_headers(&r, what);
        assert_eq!(r.headers()["cache-control"], "no-store", "{what}");
    }
    let r = http().post(idp.url("/token")).form(&[("grant_type", "authorization_code")]).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_security_headers(&r, "token 401");
    idp.stop().await;
}
both_backends!(responses_carry_security_headers);

fn assert_cookie_hardened(set_cookie: &str, what: &str) {
    let attrs: Vec<String> = set_cookie.split(';').skip(1).map(|a| a.trim().to_ascii_lowercase()).collect();
    assert!(attrs.iter().any(|a| a == "httponly"), "{what}: {set_cookie}");
    assert!(attrs.iter().any(|a| a == "samesite=lax"), "{what}: {set_cookie}");
    assert!(attrs.iter().any(|a| a == "path=/"), "{what}: {set_cookie}");
    assert!(!attrs.iter().any(|a| a == "secure"), "{what}: no Secure on http://localhost: {set_cookie}");
    assert!(!attrs.iter().any(|a| a.starts_with("domain")), "{what}: host-only: {set_cookie}");
}

async fn cookies_are_httponly_and_samesite(backend: Backend) {
    let Some(idp) = support::start(backend).await else {
        return;
    };
    let code = import_and_issue(&idp, CID).await;
    let b = Browser::new(&idp.base);
    let r = b.http.get(b.abs("/activate")).send().await.unwrap();
    let browser_cookie = set_cookie(&r, "idp_browser").expect("the first visit sets idp_browser");
    assert_cookie_hardened(&browser_cookie, "idp_browser");
    let csrf = csrf_of(&r.text().await.unwrap());
    let (s, start) = b.post_json("/activate/start", &csrf, json!({"cid": CID, "code": code})).await;
    assert_eq!(s, 200, "{start}");
    let mut key = ResidentSoftPasskey::new();
    let cred = authenticator::create(&mut key, &b.base, &start["options"]);
    let r = post_raw(
        &b,
        "/activate/finish",
        Some(&csrf),
        json!({"ceremony": start["ceremony"], "name": "My phone", "credential": cred}).to_string(),
    )
    .await;
    assert_eq!(r.status(), 200);
    let session = set_cookie(&r, "idp_session").expect("activation logs in");
    assert_cookie_hardened(&session, "idp_session");
    assert!(set_cookie(&r, "idp_browser").is_none(), "the browser cookie is set once");
    let r = b.http.get(b.abs("/lang?to=dz&back=/account")).send().await.unwrap();
    assert_cookie_hardened(&set_cookie(&r, "idp_lang").unwrap(), "idp_lang");
    // Logging out clears the session cookie with the same attributes.
    let mine = b.csrf("/account").await;
    let r = b.http.post(b.abs("/account/logout")).form(&[("csrf", mine.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let cleared = set_cookie(&r, "idp_session").unwrap();
    assert_cookie_hardened(&cleared, "cleared idp_session");
    assert!(cleared.to_ascii_lowercase().contains("max-age=0"), "{cleared}");
    idp.stop().await;
}
both_backends!(cookies_are_httponly_and_samesite);

// ---- rate limits ----

/// Sends `n` requests; returns their statuses and the Retry-After of the first 429.
async fn hammer(b: &Browser, path: &str, csrf: &str, body: &Value, n: usize) -> (Vec<u16>, Option<u64>) {
    let mut statuses = vec![];
    let mut retry = None;
    for _ in 0..n {
        let r = post_raw(b, path, Some(csrf), body.to_string()).await;
        let s = r.status().as_u16();
        if s == 429 && retry.is_none() {
            retry = Some(
                r.headers()
                    .get("retry-after")
                    .expect("429 carries Retry-After")
                    .to_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap(),
            );
            assert!(set_cookie(&r, "idp_session").is_none());
        }
        statuses.push(s);
    }
    (statuses, retry)
}

async fn login_and_activation_are_rate_limited(backend: Backend) {
    let Some(idp) = support::start_with(backend, |c| {
        c.rate_limits.activation_per_minute = 3;
        c.rate_limits.login_per_minute = 3;
    })
    .await
    else {
        return;
    };
    let code = import_and_issue(&idp, CID).await;
    let b = Browser::new(&idp.base);
    let csrf = b.csrf("/activate").await;
    let (statuses, retry) =
        hammer(&b, "/activate/start", &csrf, &json!({"cid": CID, "code": "WRONG-CODE-0000"}), 7).await;
    assert_eq!(statuses[0], 400, "{statuses:?}");
    assert!(statuses.contains(&429), "activation guessing is limited: {statuses:?}");
    // Within one window (the usual case) the 4th attempt is the first refused.
    assert!(statuses[..3].iter().all(|s| *s == 400), "{statuses:?}");
    let retry = retry.unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    // Once limited, even the right code is refused: no oracle for a guesser.
    let r = post_raw(&b, "/activate/start", Some(&csrf), json!({"cid": CID, "code": code}).to_string()).await;
    assert_eq!(r.status(), 429);
    assert_eq!(count(&idp, "ceremonies").await, 0);

    let csrf = b.csrf("/login").await;
    let (statuses, retry) = hammer(&b, "/login/passkey/start", &csrf, &json!({}), 7).await;
    assert_eq!(statuses[0], 200, "{statuses:?}");
    assert!(statuses.contains(&429), "login is limited: {statuses:?}");
    assert!(statuses[..3].iter().all(|s| *s == 200), "{statuses:?}");
    assert!((1..=60).contains(&retry.unwrap()));
    // The finish step counts against the same limit.
    let r = post_raw(&b, "/login/passkey/finish", Some(&csrf), json!({"ceremony": "x", "credential": {}}).to_string())
        .await;
    assert!(r.status() == 429 || r.status() == 400, "{}", r.status());
    idp.stop().await;
}
both_backends!(login_and_activation_are_rate_limited);

// ---- activation ----

async fn activation_attacks_fail(backend: Backend) {
    let Some(idp) = support::start(backend).await else {
        return;
    };
    let code = import_and_issue(&idp, CID).await;
    let pema_code = import_and_issue(&idp, "11512000123").await;
    let b = Browser::new(&idp.base);
    let csrf = b.csrf("/activate").await;
    let start = |body: Value| {
        let b = &b;
        let csrf = csrf.clone();
        async move { post_raw(b, "/activate/start", Some(&csrf), body.to_string()).await }
    };
    let credentials = count(&idp, "credentials").await;

    // Wrong code, right code with another CID: the same generic message, no session.
    let mut messages = vec![];
    for (what, body) in [
        ("wrong code", json!({"cid": CID, "code": "AAAA-BBBB-CCCC-DDDD"})),
        ("code of another CID", json!({"cid": "11512000123", "code": code})),
        ("CID without a digital ID", json!({"cid": "10101001235", "code": code})),
        ("empty code", json!({"cid": CID, "code": ""})),
    ] {
        let r = start(body).await;
        assert!(set_cookie(&r, "idp_session").is_none(), "{what}");
        let (s, v) = json_of(r).await;
        assert_eq!(s, 400, "{what}: {v}");
        assert!(v.get("ceremony").is_none(), "{what}: {v}");
        messages.push(v["error"].as_str().unwrap_or("").to_string());
    }
    assert_eq!(messages[0], idp::login::ACTIVATION_REFUSED);
    assert_eq!(messages[1], messages[0], "no oracle: wrong code and wrong CID read the same");

    // Malformed CID and malformed bodies.
    for (what, body) in [
        ("malformed CID", json!({"cid": "123", "code": code}).to_string()),
        ("CID with letters", json!({"cid": "1010100123x", "code": code}).to_string()),
        ("missing code", json!({"cid": CID}).to_string()),
        ("wrong types", json!({"cid": 10101001234u64, "code": ["x"]}).to_string()),
        ("not JSON", "cid=10101001234&code=x".to_string()),
        ("empty body", String::new()),
    ] {
        let r = post_raw(&b, "/activate/start", Some(&csrf), body).await;
        assert_eq!(r.status(), 400, "{what}");
        assert!(set_cookie(&r, "idp_session").is_none(), "{what}");
    }
    // Finish with an unknown ceremony or a garbage credential.
    let r = post_raw(
        &b,
        "/activate/finish",
        Some(&csrf),
        json!({"ceremony": "nope", "name": "x", "credential": {"id": "x"}}).to_string(),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(count(&idp, "ceremonies").await, 0, "no ceremony for a refused activation");

    // The genuine code still works after all these attempts (they did not consume it).
    let mut key = ResidentSoftPasskey::new();
    activate(&b, &mut key, CID, &code).await;
    assert_eq!(count(&idp, "credentials").await, credentials + 1);
    assert_eq!(count(&idp, "sessions").await, 1);
    let b = Browser::new(&idp.base);
    let csrf = b.csrf("/activate").await;
    let start = |body: Value| {
        let b = &b;
        let csrf = csrf.clone();
        async move { post_raw(b, "/activate/start", Some(&csrf), body.to_string()).await }
    };

    // The registry records a death after the code was issued: the code no longer activates.
    let today = time::OffsetDateTime::now_utc().date();
    let csv = crate::citizen::CSV.replace("7,alive", "7,deceased");
    let people = idp::domain::registry::parse_csv(csv.as_bytes(), today, 100);
    idp.state()
        .import_registry(people, "deaths.csv", "operator", idp::domain::now(), &mut |_| {})
        .await
        .unwrap()
        .unwrap();
    let r = start(json!({"cid": "11512000123", "code": pema_code})).await;
    let (s, v) = json_of(r).await;
    let mut finished = None;
    if s == 200 {
        // Play on, to show how far it gets.
        let mut k = ResidentSoftPasskey::new();
        let cred = authenticator::create(&mut k, &b.base, &v["options"]);
        let r = post_raw(
            &b,
            "/activate/finish",
            Some(&csrf),
            json!({"ceremony": v["ceremony"], "name": "x", "credential": cred}).to_string(),
        )
        .await;
        finished = Some((r.status().as_u16(), set_cookie(&r, "idp_session").is_some()));
    }
    assert_eq!(
        s, 400,
        "a deceased person's digital ID must not be activated; /activate/finish then gave \
         (status, session cookie) {finished:?}"
    );
    assert_eq!(count(&idp, "ceremonies").await, 0, "no ceremony for a deceased person");
    assert_eq!(count(&idp, "credentials").await, credentials + 1, "no passkey stored");
    assert_eq!(count(&idp, "sessions").await, 1, "no session created");

    idp.stop().await;
}
both_backends!(activation_attacks_fail);

// ---- login ----

async fn login_attacks_fail(backend: Backend) {
    let Some(idp) = support::start(backend).await else {
        return;
    };
    let (_, mut key) = citizen(&idp).await;
    let b = Browser::new(&idp.base);
    let csrf = b.csrf("/login").await;
    let sessions = count(&idp, "sessions").await;

    let (s, start) = b.post_json("/login/passkey/start", &csrf, json!({})).await;
    assert_eq!(s, 200, "{start}");
    let cred = authenticator::get(&mut key, &b.base, &start["options"]);

    // Unknown ceremony, garbage credential, malformed body.
    for (what, body) in [
        ("unknown ceremony", json!({"ceremony": "made-up", "credential": cred}).to_string()),
        (
            "garbage credential",
            json!({"ceremony": start["ceremony"], "credential": {"id": "x", "type": "public-key"}}).to_string(),
        ),
        ("credential missing", json!({"ceremony": start["ceremony"]}).to_string()),
        ("not JSON", "{".to_string()),
    ] {
        let r = post_raw(&b, "/login/passkey/finish", Some(&csrf), body).await;
        assert_eq!(r.status(), 400, "{what}");
        assert!(set_cookie(&r, "idp_session").is_none(), "{what}");
    }
    assert_eq!(count(&idp, "sessions").await, sessions);

    // A tampered assertion (signature over other data) fails and burns the ceremony.
    let (s, start2) = b.post_json("/login/passkey/start", &csrf, json!({})).await;
    assert_eq!(s, 200);
    let mut tampered = authenticator::get(&mut key, &b.base, &start2["options"]);
    let sig = tampered["response"]["signature"].as_str().unwrap().to_string();
    let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sig.trim_end_matches('=')).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    tampered["response"]["signature"] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes).into();
    let r = post_raw(
        &b,
        "/login/passkey/finish",
        Some(&csrf),
        json!({"ceremony": start2["ceremony"], "credential": tampered}).to_string(),
    )
    .await;
    assert_eq!(r.status(), 400, "tampered signature");
    assert!(set_cookie(&r, "idp_session").is_none());

    // A genuine login, then its assertion replayed.
    let (s, start3) = b.post_json("/login/passkey/start", &csrf, json!({})).await;
    assert_eq!(s, 200);
    let cred = authenticator::get(&mut key, &b.base, &start3["options"]);
    let body = json!({"ceremony": start3["ceremony"], "credential": cred}).to_string();
    let r = post_raw(&b, "/login/passkey/finish", Some(&csrf), body.clone()).await;
    assert_eq!(r.status(), 200);
    assert!(set_cookie(&r, "idp_session").is_some());
    assert_eq!(count(&idp, "sessions").await, sessions + 1);
    // Replayed as is (same ceremony) ...
    let replay = Browser::new(&idp.base);
    let rcsrf = replay.csrf("/login").await;
    let r = post_raw(&replay, "/login/passkey/finish", Some(&rcsrf), body.clone()).await;
    assert_eq!(r.status(), 400, "replayed assertion, same ceremony");
    assert!(set_cookie(&r, "idp_session").is_none());
    // ... and with a fresh ceremony (the challenge differs).
    let (s, start4) = replay.post_json("/login/passkey/start", &rcsrf, json!({})).await;
    assert_eq!(s, 200);
    let r = post_raw(
        &replay,
        "/login/passkey/finish",
        Some(&rcsrf),
        json!({"ceremony": start4["ceremony"], "credential": cred}).to_string(),
    )
    .await;
    assert_eq!(r.status(), 400, "replayed assertion, new ceremony");
    assert!(set_cookie(&r, "idp_session").is_none());
    assert_eq!(count(&idp, "sessions").await, sessions + 1, "no session from a replay");
    let (s, loc, _) = replay.get("/account").await;
    assert_eq!((s, loc.as_deref()), (303, Some("/login")));

    // CID-first login with a malformed CID.
    let r = post_raw(&b, "/login/passkey/start", Some(&csrf), json!({"cid": "12x"}).to_string()).await;
    assert_eq!(r.status(), 400);
    let events = idp::store::audit::page(&idp.state().db, 0, 1000).await.unwrap();
    assert!(events.iter().any(|e| e.body.event == "login_failed"), "failed logins are audited");
    idp.stop().await;
}
both_backends!(login_attacks_fail);

// ---- /userinfo ----

async fn userinfo_refuses_bad_tokens(backend: Backend) {
    let Some(idp) = support::start(backend).await else {
        return;
    };
    assert_bearer_refused(userinfo(&idp, None).await, 401, "no token").await;
    assert_bearer_refused(userinfo(&idp, Some("Bearer garbage")).await, 401, "garbage token").await;
    assert_bearer_refused(userinfo(&idp, Some("Bearer ")).await, 401, "empty token").await;
    assert_bearer_refused(userinfo(&idp, Some("Basic Zm9vOmJhcg==")).await, 401, "Basic instead of Bearer").await;
    assert_bearer_refused(
        userinfo(&idp, Some("Bearer eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.e30.")).await,
        401,
        "alg none",
    )
    .await;
    let (id, secret) = register(&idp, api_client("EMIS", "registry.read")).await;
    let t: Value = http()
        .post(idp.url("/token"))
        .basic_auth(&id, secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let at = t["access_token"].as_str().unwrap();
    let r = userinfo(&idp, Some(&format!("Bearer {at}"))).await;
    let s = r.status().as_u16();
    assert!(s == 401 || s == 403, "a client_credentials token is not for userinfo: {s}");
    assert_bearer_refused(r, s, "client_credentials token").await;
    // Through POST with the token in the body too.
    let r = http().post(idp.url("/userinfo")).form(&[("access_token", at)]).send().await.unwrap();
    let s = r.status().as_u16();
    assert!(s == 401 || s == 403, "{s}");
    assert_bearer_refused(r, s, "client_credentials token in body").await;
    idp.stop().await;
}
both_backends!(userinfo_refuses_bad_tokens);

// ---- /logout ----

async fn logout_attacks_fail(backend: Backend) {
    let Some(idp) = support::start(backend).await else {
        return;
    };
    let (b, mut key) = citizen(&idp).await;
    let (a, a_secret) = web(&idp, "ePIS").await;
    let (bid, _) = web(&idp, "EMIS").await;
    let (code, verifier) = get_code(&b, &mut key, &a).await;
    let (s, t) = redeem(&idp, (&a, &a_secret), &code, REDIRECT, &verifier).await;
    assert_eq!(s, 200, "{t}");
    let id_token = t["id_token"].as_str().unwrap().to_string();
    let alive = |b: &Browser| {
        let b = b.http.clone();
        let url = idp.url("/account");
        async move { b.get(url).send().await.unwrap().status() == 200 }
    };
    let lo = |p: &[(&str, &str)]| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in p {
            s.append_pair(k, v);
        }
        format!("/logout?{}", s.finish())
    };

    for (what, url) in [
        ("garbage id_token_hint", lo(&[("id_token_hint", "garbage")])),
        ("forged id_token_hint", lo(&[("id_token_hint", "eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0.")])),
        (
            "unregistered post_logout_redirect_uri",
            lo(&[("client_id", &a), ("post_logout_redirect_uri", "https://evil.example/bye")]),
        ),
        (
            "post_logout_redirect_uri with trailing slash",
            lo(&[("id_token_hint", &id_token), ("post_logout_redirect_uri", "http://localhost:9/after-logout/")]),
        ),
        (
            "post_logout_redirect_uri without client",
            lo(&[("post_logout_redirect_uri", "http://localhost:9/after-logout")]),
        ),
        (
            "client_id differs from the hint's audience",
            lo(&[
                ("id_token_hint", &id_token),
                ("client_id", &bid),
                ("post_logout_redirect_uri", "http://localhost:9/after-logout"),
            ]),
        ),
        (
            "unknown client",
            lo(&[("client_id", "nobody"), ("post_logout_redirect_uri", "http://localhost:9/after-logout")]),
        ),
    ] {
        assert_error_page(b.get(&url).await, what);
        assert!(alive(&b).await, "{what}: the session survives");
    }

    // No hint: a confirmation page with a CSRF-protected form; nothing ends yet.
    let (s, loc, page) =
        b.get(&lo(&[("client_id", &a), ("post_logout_redirect_uri", "http://localhost:9/after-logout")])).await;
    assert_eq!(s, 200, "{page}");
    assert!(loc.is_none());
    assert!(page.contains("<form method=\"post\" action=\"/logout\""), "{page}");
    let csrf = csrf_of(&page);
    assert!(page.contains(&format!("name=\"csrf\" value=\"{csrf}\"")), "{page}");
    assert!(alive(&b).await, "a link without a hint does not log out");
    // A forged cross-site form without the token gets the same page; a wrong token 403.
    let (s, loc, _) = b.post_form("/logout", &[("client_id", &a)]).await;
    assert_eq!((s, loc), (200, None));
    assert!(alive(&b).await);
    let attacker = Browser::new(&idp.base);
    let foreign = attacker.csrf("/activate").await;
    let (s, loc, _) = b.post_form("/logout", &[("csrf", &foreign), ("client_id", &a)]).await;
    assert_eq!((s, loc), (403, None));
    assert!(alive(&b).await);

    // A valid hint for this browser's session, presented in another browser with its own
    // session, must not log that other session out without asking.
    let b2 = Browser::new(&idp.base);
    let (_, challenge2) = pkce();
    let loc = login_through(&b2, &mut key, &authz_url(&params(&a, &challenge2)), true).await;
    assert!(query_of(&loc).contains_key("code"));
    let (s, _, page) = b2.get(&lo(&[("id_token_hint", &id_token)])).await;
    assert_eq!(s, 200, "a hint for another session asks first: {page}");
    assert!(page.contains("action=\"/logout\""));
    assert!(alive(&b2).await);

    // Sanity: the genuine RP-initiated logout works.
    let (s, loc, _) = b
        .get(&lo(&[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", "http://localhost:9/after-logout"),
            ("state", "bye"),
        ]))
        .await;
    assert_eq!((s, loc.as_deref()), (303, Some("http://localhost:9/after-logout?state=bye")));
    assert!(!alive(&b).await);
    idp.stop().await;
}
both_backends!(logout_attacks_fail);

// ---- /lang ----

async fn lang_never_redirects_off_site(backend: Backend) {
    let Some(idp) = support::start(backend).await else {
        return;
    };
    let b = Browser::new(&idp.base);
    let mut open = vec![];
    for back in [
        "//evil.example",
        "//evil.example/account",
        "https://evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "///evil.example",
        "javascript:alert(1)",
        "evil.example",
        "",
    ] {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.append_pair("to", "dz").append_pair("back", back);
        let (st, loc, body) = b.get(&format!("/lang?{}", s.finish())).await;
        if st != 303 {
            open.push(format!("back={back:?}: status {st} {body}"));
            continue;
        }
        let loc = loc.unwrap();
        // What a browser makes of it: tabs and newlines are stripped (WHATWG URL), and a
        // backslash counts as a slash.
        let seen: String =
            loc.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect::<String>().replace('\\', "/");
        if !seen.starts_with('/') || seen.starts_with("//") {
            open.push(format!("back={back:?}: Location {loc:?}"));
        }
    }
    let (_, loc, _) = b.get("/lang?to=en&back=/account").await;
    assert_eq!(loc.as_deref(), Some("/account"), "local paths are kept");
    assert!(open.is_empty(), "/lang must redirect locally only: {open:#?}");
    idp.stop().await;
}
both_backends!(lang_never_redirects_off_site);

// ---- bodies and malformed input ----

async fn oversized_bodies_are_refused(backend: Backend) {
    let Some(idp) = support::start(backend).await else {
        return;
    };
    let (a, a_secret) = web(&idp, "ePIS").await;
    let (_, challenge) = pkce();
    let big = "a".repeat(200_000);
    let mut p = params(&a, &challenge);
    p.push(("pad".into(), big.clone()));
    let r = http()
        .post(idp.url("/par"))
        .basic_auth(&a, Some(&a_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(&p))
        .send()
        .await;
    if let Ok(r) = r {
        assert!(r.status() == 413 || r.status() == 400, "oversized PAR: {}", r.status());
    }
    let b = Browser::new(&idp.base);
    let csrf = b.csrf("/activate").await;
    let body = json!({"cid": CID, "code": big}).to_string();
    let r = b
        .http
        .post(b.abs("/activate/start"))
        .header("x-csrf-token", &csrf)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    if let Ok(r) = r {
        assert!(r.status() == 413 || r.status() == 400, "oversized activation: {}", r.status());
    }
    assert_eq!(count(&idp, "auth_requests").await, 0);
    assert_eq!(count(&idp, "ceremonies").await, 0);
    idp.stop().await;
}
both_backends!(oversized_bodies_are_refused);

async fn malformed_input_is_a_client_error(backend: Backend) {
    let Some(idp) = support::start(backend).await else {
        return;
    };
    let (b, _key) = citizen(&idp).await;
    let csrf = b.csrf("/account").await;
    let (a, a_secret) = web(&idp, "ePIS").await;
    let anon = Browser::new(&idp.base);
    let get = |path: &'static str| {
        let c = anon.http.clone();
        let url = idp.url(path);
        async move { c.get(url).send().await.unwrap().status().as_u16() }
    };
    for (path, want) in [
        ("/authorize", 400),
        ("/authorize?client_id=%FF%FE", 400),
        ("/authorize?%zz=1", 400),
        ("/authorize/continue", 400),
        ("/authorize/continue?req=nope", 400),
        ("/login?req=nope", 400),
        ("/logout?id_token_hint=a.b.c", 400),
        ("/nope", 404),
    ] {
        assert_eq!(get(path).await, want, "GET {path}");
    }
    // A request id of another browser is useless.
    let (_, challenge) = pkce();
    let (s, loc, _) = b.get(&authz_url(&set(&params(&a, &challenge), "scope", Some("openid address")))).await;
    assert_eq!(s, 303);
    let req = loc.unwrap().split("req=").nth(1).unwrap().to_string();
    let (s, _, _) = anon.get(&format!("/authorize/continue?req={req}")).await;
    assert_eq!(s, 400, "a request is bound to its browser");
    let (s, loc, _) = b.post_form("/consent", &[("csrf", &csrf), ("req", "nope"), ("decision", "allow")]).await;
    assert_eq!((s, loc), (400, None), "unknown consent request");
    let (s, loc, _) = b.post_form("/consent", &[("csrf", &csrf), ("req", &req), ("decision", "maybe")]).await;
    assert_eq!((s, loc), (400, None), "decision must be allow or deny");
    let (s, loc, _) =
        b.post_form("/consent", &[("csrf", &csrf), ("csrf", &csrf), ("req", &req), ("decision", "allow")]).await;
    assert!(s == 400 && loc.is_none(), "repeated form parameters: {s}");
    assert_eq!(count(&idp, "codes").await, 0);

    // Back-channel endpoints.
    let post = |path: &'static str, ct: &'static str, body: &'static str| {
        let url = idp.url(path);
        let (a, s) = (a.clone(), a_secret.clone());
        async move {
            json_of(http().post(url).basic_auth(a, Some(s)).header("content-type", ct).body(body).send().await.unwrap())
                .await
        }
    };
    let form = "application/x-www-form-urlencoded";
    for (path, ct, body, status, error) in [
        ("/token", form, "%%%", 400, "invalid_request"),
        ("/token", "text/plain", "grant_type=authorization_code", 400, "invalid_request"),
        ("/token", form, "grant_type=authorization_code&code=x&code=y", 400, "invalid_request"),
        ("/token", form, "grant_type=implicit", 400, "unsupported_grant_type"),
        ("/token", form, "grant_type=refresh_token", 400, "invalid_request"),
        ("/token", form, "grant_type=refresh_token&refresh_token=nope", 400, "invalid_grant"),
        ("/token", form, "grant_type=client_credentials", 400, "unauthorized_client"),
        ("/par", "application/json", "{\"client_id\":\"x\"}", 400, "invalid_request"),
        ("/par", form, "", 400, "invalid_request"),
        ("/introspect", "application/json", "{}", 400, "invalid_request"),
        ("/introspect", form, "token_type_hint=access_token", 400, "invalid_request"),
        ("/revoke", form, "token=x&token_type_hint=id_token", 400, "unsupported_token_type"),
    ] {
        let r = post(path, ct, body).await;
        assert_oauth_error(&r, status, error, &format!("{path} {body:?}"));
    }
    let r = http()
        .post(idp.url("/userinfo"))
        .header("authorization", "Bearer x")
        .form(&[("access_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "token sent twice");
    let r = http().post(idp.url("/logout")).header("content-type", form).body("state=a&state=b").send().await.unwrap();
    assert_eq!(r.status(), 400, "repeated logout parameter");
    assert_eq!(count(&idp, "auth_requests WHERE used_at IS NULL").await, 1, "only the one genuine request");
    // Values that cannot go into a header must not crash the pages that redirect with them.
    let mut crashes = vec![];
    for path in ["/consent?req=%0d%0aSet-Cookie:%20x=1", "/consent?req=%0a"] {
        let s = get(path).await;
        if !(300..500).contains(&s) {
            crashes.push(format!("GET {path}: {s}"));
        }
    }
    let r = anon.http.post(anon.abs("/consent")).form(&[("csrf", "x"), ("req", "x")]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(crashes.is_empty(), "{crashes:#?}");
    idp.stop().await;
}
both_backends!(malformed_input_is_a_client_error);
