//! The citizen's story: the registry is imported, a digital ID is issued and activated with a
//! software passkey, and an agency's relying party built on the `openidconnect` crate logs the
//! citizen in (discovery, PAR, code flow with PKCE and nonce), validates the ID token, calls
//! userinfo, refreshes (a reused refresh token revokes the family), introspects, revokes and
//! logs out.

use openidconnect::{OAuth2TokenResponse, TokenIntrospectionResponse, TokenResponse};
use serde_json::{Value, json};

use crate::{
    authenticator::{Authenticator, ResidentSoftPasskey},
    both_backends, rp,
    support::{self, Backend, TestIdp},
};

pub const CSV: &str = "cid,given_name,middle_name,family_name,date_of_birth,sex,dzongkhag,gewog,village,household_number,status\n\
10101001234,Karma,,Wangchuk,1990-04-01,M,Thimphu,Chang,Motithang,HH-12,alive\n\
11512000123,Pema,,Choden,1985-12-31,F,Paro,Lungnyi,Jiwna,7,alive\n";

/// Imports the registry and issues a digital ID for `cid`; returns the activation code.
pub async fn import_and_issue(idp: &TestIdp, cid: &str) -> String {
    let today = time::OffsetDateTime::now_utc().date();
    let people = idp::domain::registry::parse_csv(CSV.as_bytes(), today, 100);
    let now = idp::domain::now();
    idp.state().import_registry(people, "test.csv", "operator", now, &mut |_| {}).await.unwrap().unwrap();
    let cid = idp::domain::cid::Cid::parse(cid).unwrap();
    idp.state().issue_citizen(&cid, "operator", now).await.unwrap().activation_code
}

/// A browser without JavaScript: a cookie jar and no automatic redirects; the test plays the
/// page script's part.
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true).build().unwrap();
        Self { http, base: base.to_string() }
    }
    pub fn abs(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http") { path_or_url.to_string() } else { format!("{}{}", self.base, path_or_url) }
    }
    /// GET; returns (status, Location, body).
    pub async fn get(&self, url: &str) -> (u16, Option<String>, String) {
        let r = self.http.get(self.abs(url)).send().await.unwrap();
        let status = r.status().as_u16();
        let loc = r.headers().get("location").map(|v| v.to_str().unwrap().to_string());
        (status, loc, r.text().await.unwrap())
    }
    /// The CSRF token of a page.
    pub async fn csrf(&self, path: &str) -> String {
        let (s, _, body) = self.get(path).await;
        assert_eq!(s, 200, "{path}: {body}");
        csrf_of(&body)
    }
    pub async fn post_json(&self, path: &str, csrf: &str, body: Value) -> (u16, Value) {
        let r = self.http.post(self.abs(path)).header("x-csrf-token", csrf).json(&body).send().await.unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(json!({})))
    }
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> (u16, Option<String>, String) {
        let r = self.http.post(self.abs(path)).form(form).send().await.unwrap();
        let status = r.status().as_u16();
        let loc = r.headers().get("location").map(|v| v.to_str().unwrap().to_string());
        (status, loc, r.text().await.unwrap())
    }
}

pub fn csrf_of(html: &str) -> String {
    let i = html.find("name=\"csrf\" content=\"").expect("page has a CSRF token") + 21;
    html[i..i + 64].to_string()
}

/// Activation with the code and a new passkey; leaves the browser logged in.
pub async fn activate(b: &Browser, key: &mut impl Authenticator, cid: &str, code: &str) {
    let csrf = b.csrf("/activate").await;
    let (s, start) = b.post_json("/activate/start", &csrf, json!({"cid": cid, "code": code})).await;
    assert_eq!(s, 200, "{start}");
    let cred = key.create(&b.base, &start["options"]);
    let (s, fin) = b
        .post_json(
            "/activate/finish",
            &csrf,
            json!({"ceremony": start["ceremony"], "name": "My phone", "credential": cred}),
        )
        .await;
    assert_eq!(s, 200, "{fin}");
    assert_eq!(fin["redirect"], "/account");
}

/// Follows an authorization URL through login and consent to the client's redirect; returns
/// the final Location.
pub async fn login_through(b: &Browser, key: &mut impl Authenticator, authorize_url: &str, consent: bool) -> String {
    let (s, loc, body) = b.get(authorize_url).await;
    assert_eq!(s, 303, "{body}");
    let mut loc = loc.unwrap();
    if loc.starts_with("/login") {
        let csrf = b.csrf(&loc).await;
        let req = loc.split("req=").nth(1).unwrap().to_string();
        let (s, start) = b.post_json("/login/passkey/start", &csrf, json!({"req": req})).await;
        assert_eq!(s, 200, "{start}");
        assert_eq!(start["options"]["publicKey"]["userVerification"], "required");
        let cred = key.get(&b.base, &start["options"]);
        let (s, fin) = b
            .post_json(
                "/login/passkey/finish",
                &csrf,
                json!({"ceremony": start["ceremony"], "req": req, "credential": cred}),
            )
            .await;
        assert_eq!(s, 200, "{fin}");
        // The login answers the request itself: the client's redirect, or consent.
        loc = fin["redirect"].as_str().unwrap().to_string();
        assert!(!loc.starts_with("/authorize/continue"), "{loc}");
    }
    if loc.starts_with("/consent") {
        let (s, _, page) = b.get(&loc).await;
        assert_eq!(s, 200);
        let req = loc.split("req=").nth(1).unwrap().to_string();
        let csrf = csrf_of(&page);
        let decision = if consent { "allow" } else { "deny" };
        let (s, l, body) = b.post_form("/consent", &[("csrf", &csrf), ("req", &req), ("decision", decision)]).await;
        assert_eq!(s, 303, "{body}");
        loc = l.unwrap();
    }
    loc
}

pub fn web_client(redirect: &str) -> idp::domain::client::ClientMetadata {
    use idp::domain::client::*;
    ClientMetadata {
        client_name: "ePIS Patient Portal".into(),
        token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
        redirect_uris: vec![RedirectUri::parse(redirect).unwrap()],
        post_logout_redirect_uris: vec![RedirectUri::parse("http://localhost:9/after-logout").unwrap()],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scope: Scope::parse("openid profile address").unwrap(),
        jwks: None,
        jwks_uri: None,
        sector_identifier: None,
        require_pushed_authorization_requests: false,
        allow_national_id: false,
        id_token_signed_response_alg: idp::domain::keys::SigningAlg::ES256,
        backchannel_logout_uri: None,
        default_acr: None,
        resources: vec![],
    }
}

async fn whole_story(backend: Backend) {
    let Some(idp) = support::start(backend).await else {
        return;
    };
    let code = import_and_issue(&idp, "10101001234").await;
    let mut key = ResidentSoftPasskey::new();

    // Activation: CID + code -> passkey -> account page.
    let b = Browser::new(&idp.base);
    activate(&b, &mut key, "10101001234", &code).await;
    let (s, _, account) = b.get("/account").await;
    assert_eq!(s, 200);
    assert!(account.contains("Karma Wangchuk") && account.contains("My phone"), "{account}");
    // The code is single use.
    let other = Browser::new(&idp.base);
    let csrf = other.csrf("/activate").await;
    let (s, _) = other.post_json("/activate/start", &csrf, json!({"cid": "10101001234", "code": code})).await;
    assert_eq!(s, 400);

    // The agency registers its relying party.
    let redirect = "http://localhost:9/cb";
    let (client_id, secret) = support::register(&idp, web_client(redirect)).await;
    let secret = secret.unwrap();

    // Discovery, PAR, and the code flow with PKCE and nonce, through a fresh browser.
    let http = rp::build_http().unwrap();
    let meta = rp::discover(&http, &idp.base).await.unwrap();
    let client = rp::build_client(&meta, &client_id, Some(&secret), redirect).unwrap();
    let start = rp::authorization_url(&client, &["profile", "address"]);
    let par = meta.additional_metadata().pushed_authorization_request_endpoint.clone().unwrap();
    let (_, url) = rp::pushed_authorization(
        &http,
        par.as_str(),
        meta.authorization_endpoint().as_str(),
        &client_id,
        &start,
        Some((&client_id, &secret)),
        &[],
    )
    .await
    .unwrap();
    let browser = Browser::new(&idp.base);
    let callback = login_through(&browser, &mut key, url.as_str(), true).await;
    assert!(callback.starts_with(redirect), "{callback}");
    let cb = url::Url::parse(&callback).unwrap();
    assert_eq!(cb.query_pairs().find(|(k, _)| k == "iss").unwrap().1, idp.base.as_str(), "RFC 9207 iss");
    let code = rp::parse_callback(&callback, &start.state).unwrap();
    let nonce = start.nonce.clone();
    let (tokens, sub) = rp::exchange_code(&http, &client, code.clone(), start, None).await.unwrap();
    assert!(!sub.as_str().is_empty());
    let id_claims: Value = {
        let id = tokens.id_token().unwrap().to_string();
        let payload = id.split('.').nth(1).unwrap();
        use base64::Engine;
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    };
    assert_eq!(id_claims["nonce"], nonce.secret().as_str());
    assert_eq!(id_claims["acr"], "urn:drukyul:loa:substantial");
    assert!(id_claims["amr"].as_array().unwrap().contains(&json!("user")));
    assert!(id_claims.get("cid").is_none(), "no cid without the national_id scope");

    // Userinfo: exactly the consented claims; pairwise sub.
    let info = rp::userinfo(&http, &client, tokens.access_token(), Some(sub.clone())).await.unwrap();
    let info = serde_json::to_value(&info).unwrap();
    assert_eq!(info["name"], "Karma Wangchuk");
    assert_eq!(info["birthdate"], "1990-04-01");
    assert_eq!(info["address"]["region"], "Thimphu");
    assert!(info.get("cid").is_none());
    assert_ne!(sub.as_str(), "10101001234");

    // The code is single use: a replay fails and revokes what it issued.
    let replay = client
        .exchange_code(code)
        .set_pkce_verifier(openidconnect::PkceCodeVerifier::new("x".repeat(43)))
        .request_async(&http)
        .await;
    assert!(replay.is_err());
    let intro = rp::introspect(&http, &client, tokens.access_token(), "access_token").await.unwrap();
    assert!(!intro.active(), "a replayed code revokes the tokens it issued");

    // A second login at the same agency: consent is remembered, no page.
    let start = rp::authorization_url(&client, &["profile", "address"]);
    let callback = login_through(&browser, &mut key, start.url.as_str(), true).await;
    let code = rp::parse_callback(&callback, &start.state).unwrap();
    let (tokens, sub2) = rp::exchange_code(&http, &client, code, start, None).await.unwrap();
    assert_eq!(sub, sub2, "the same pairwise sub for the same sector");
    let intro = rp::introspect(&http, &client, tokens.access_token(), "access_token").await.unwrap();
    assert!(intro.active());

    // Refresh rotates; reusing the old refresh token revokes the whole family.
    let rt1 = tokens.refresh_token().unwrap().clone();
    let refreshed = rp::refresh(&http, &client, &rt1, None).await.unwrap();
    let rt2 = refreshed.refresh_token().unwrap().clone();
    assert_ne!(rt1.secret(), rt2.secret());
    assert!(rp::refresh(&http, &client, &rt1, None).await.is_err(), "reuse is refused");
    assert!(rp::refresh(&http, &client, &rt2, None).await.is_err(), "and the family is revoked");
    let intro = rp::introspect(&http, &client, refreshed.access_token(), "access_token").await.unwrap();
    assert!(!intro.active(), "access tokens of a revoked family are inactive");
    let events = idp::store::audit::page(&idp.state().db, 0, 1000).await.unwrap();
    assert!(events.iter().any(|e| e.body.event == "token_reuse"));

    // A fresh grant, then revocation (RFC 7009) of its refresh token.
    let start = rp::authorization_url(&client, &["profile"]);
    let callback = login_through(&browser, &mut key, start.url.as_str(), true).await;
    let code = rp::parse_callback(&callback, &start.state).unwrap();
    let (tokens, _) = rp::exchange_code(&http, &client, code, start, None).await.unwrap();
    let rt = tokens.refresh_token().unwrap().secret().clone();
    let status =
        rp::revoke_manual(&http, &idp.url("/revoke"), &rt, Some("refresh_token"), Some((&client_id, &secret)), &[])
            .await
            .unwrap();
    assert_eq!(status, 200);
    assert!(rp::refresh(&http, &client, tokens.refresh_token().unwrap(), None).await.is_err());
    assert!(
        rp::userinfo(&http, &client, tokens.access_token(), None).await.is_err(),
        "revoking the grant ends its access tokens"
    );

    // RP-initiated logout with the ID token as hint: the session ends, the browser returns.
    let start = rp::authorization_url(&client, &["profile"]);
    let callback = login_through(&browser, &mut key, start.url.as_str(), true).await;
    let code = rp::parse_callback(&callback, &start.state).unwrap();
    let (tokens, _) = rp::exchange_code(&http, &client, code, start, None).await.unwrap();
    let logout = rp::logout_url(&meta, &tokens, &client_id, "http://localhost:9/after-logout", "bye").unwrap();
    let (s, loc, _) = browser.get(logout.as_str()).await;
    assert_eq!(s, 303);
    assert_eq!(loc.unwrap(), "http://localhost:9/after-logout?state=bye");
    let (s, loc, _) = browser.get("/account").await;
    assert_eq!((s, loc.as_deref()), (303, Some("/login")), "logged out");
    assert!(
        rp::userinfo(&http, &client, tokens.access_token(), None).await.is_err(),
        "logout revokes the session's grants"
    );
    idp.stop().await;
}
both_backends!(whole_story);

/// Raises a digital ID to `urn:drukyul:loa:high`, as a biometric enrolment at a centre does
/// (tests/e2e/enrol.rs drives the real thing): for suites about what comes after.
pub async fn raise_to_high(idp: &TestIdp, cid: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&idp.db.url).await.unwrap();
    sqlx::query("UPDATE accounts SET assurance = 'urn:drukyul:loa:high' WHERE cid = $1")
        .bind(cid)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}
