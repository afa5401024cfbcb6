//! The finer points of the login flow: the national_id scope, per-client ID-token algorithms,
//! a private_key_jwt web client, step-up to a higher assurance level, max_age, consent
//! withdrawal, and back-channel logout.

use std::sync::{Arc, Mutex};

use base64::Engine;
use idp::domain::{
    client::{AuthMethod, Scope},
    keys::SigningAlg,
};
use openidconnect::{OAuth2TokenResponse, TokenResponse};
use serde_json::{Value, json};

use crate::{
    authenticator::{ResidentSoftPasskey, RingPasskey},
    both_backends,
    citizen::{self, Browser},
    rp,
    support::{self, Backend, TestIdp},
};

pub(crate) fn payload(jwt: &str) -> Value {
    let p = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
}

pub(crate) fn pkce() -> (String, String) {
    let verifier = idp::domain::secrets::random_token().unwrap();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()));
    (verifier, challenge)
}

pub(crate) fn authorize_url(
    base: &str,
    client_id: &str,
    redirect: &str,
    scope: &str,
    challenge: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut u = url::Url::parse(&format!("{base}/authorize")).unwrap();
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", scope)
        .append_pair("state", "s")
        .append_pair("nonce", "n")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        u.query_pairs_mut().append_pair(k, v);
    }
    u.to_string()
}

pub(crate) fn code_of(callback: &str) -> String {
    let u = url::Url::parse(callback).unwrap();
    if let Some((_, e)) = u.query_pairs().find(|(k, _)| k == "error") {
        panic!("authorization error {e}: {callback}");
    }
    u.query_pairs().find(|(k, _)| k == "code").unwrap().1.to_string()
}

pub(crate) async fn redeem(idp: &TestIdp, id: &str, secret: &str, code: &str, redirect: &str, verifier: &str) -> Value {
    let r = support::http()
        .post(idp.url("/token"))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// A logged-in citizen (Karma) with a browser and passkey.
async fn citizen(idp: &TestIdp) -> (Browser, ResidentSoftPasskey) {
    let code = citizen::import_and_issue(idp, "10101001234").await;
    let mut key = ResidentSoftPasskey::new();
    let b = Browser::new(&idp.base);
    citizen::activate(&b, &mut key, "10101001234", &code).await;
    (b, key)
}

/// The load generator's ring-based authenticator is a real WebAuthn authenticator to the
/// server: its "none" attestation registers, its discoverable assertions log in (twice, so the
/// signature counter moves), and a tampered assertion is refused.
async fn ring_passkey_is_a_real_authenticator(backend: Backend) {
    let Some(idp) = support::start(backend).await else { return };
    let code = citizen::import_and_issue(&idp, "10101001234").await;
    let mut key = RingPasskey::new();
    let b = Browser::new(&idp.base);
    citizen::activate(&b, &mut key, "10101001234", &code).await;
    let redirect = "https://registry.gov.bt/cb";
    let (id, secret) = support::register(&idp, citizen::web_client(redirect)).await;
    for _ in 0..2 {
        let (verifier, challenge) = pkce();
        let url = authorize_url(&idp.base, &id, redirect, "openid profile", &challenge, &[("prompt", "login")]);
        let cb = citizen::login_through(&b, &mut key, &url, true).await;
        let t = redeem(&idp, &id, secret.as_deref().unwrap(), &code_of(&cb), redirect, &verifier).await;
        assert_eq!(payload(t["id_token"].as_str().unwrap())["amr"], json!(["hwk", "user", "mfa"]));
    }
    // A signature over other data is refused.
    let (_, challenge) = pkce();
    let url = authorize_url(&idp.base, &id, redirect, "openid", &challenge, &[("prompt", "login")]);
    let (_, loc, _) = b.get(&url).await;
    let loc = loc.unwrap();
    let req = loc.split("req=").nth(1).unwrap().to_string();
    let csrf = b.csrf(&loc).await;
    let (_, start) = b.post_json("/login/passkey/start", &csrf, json!({"req": req})).await;
    let mut cred = crate::authenticator::Authenticator::get(&mut key, &b.base, &start["options"]);
    let sig = cred["response"]["signature"].as_str().unwrap().to_string();
    let flipped = match sig.strip_prefix('A') {
        Some(rest) => format!("B{rest}"),
        None => format!("A{}", &sig[1..]),
    };
    cred["response"]["signature"] = json!(flipped);
    let (s, _) = b
        .post_json(
            "/login/passkey/finish",
            &csrf,
            json!({"ceremony": start["ceremony"], "req": req, "credential": cred}),
        )
        .await;
    assert_eq!(s, 400, "a tampered assertion is refused");
}
both_backends!(ring_passkey_is_a_real_authenticator);

async fn national_id_and_algorithms(backend: Backend) {
    let Some(idp) = support::start(backend).await else { return };
    let (b, mut key) = citizen(&idp).await;
    let redirect = "https://registry.gov.bt/cb";
    for alg in [SigningAlg::RS256, SigningAlg::EdDSA] {
        let mut meta = citizen::web_client(redirect);
        meta.scope = Scope::parse("openid profile national_id").unwrap();
        meta.allow_national_id = true;
        meta.id_token_signed_response_alg = alg;
        let (id, secret) = support::register(&idp, meta).await;
        let (verifier, challenge) = pkce();
        let url = authorize_url(&idp.base, &id, redirect, "openid national_id", &challenge, &[]);
        let (_, _, _) = b.get("/account").await;
        let cb = citizen::login_through(&b, &mut key, &url, true).await;
        let t = redeem(&idp, &id, secret.as_deref().unwrap(), &code_of(&cb), redirect, &verifier).await;
        let id_token = t["id_token"].as_str().unwrap();
        let header = jsonwebtoken::decode_header(id_token).unwrap();
        assert_eq!(format!("{:?}", header.alg), alg.as_str());
        // Verify against the published JWKS.
        let jwks: jsonwebtoken::jwk::JwkSet =
            support::http().get(idp.url("/jwks")).send().await.unwrap().json().await.unwrap();
        let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
        let mut v = jsonwebtoken::Validation::new(header.alg);
        v.set_audience(&[id.as_str()]);
        v.set_issuer(&[idp.base.as_str()]);
        jsonwebtoken::decode::<Value>(id_token, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &v).unwrap();
        let info: Value = support::http()
            .get(idp.url("/userinfo"))
            .bearer_auth(t["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["cid"], "10101001234", "national_id releases the CID to an allowed client");
        assert!(info.get("name").is_none(), "only what the scopes ask for");
    }
    // The claims parameter: verified_claims in the ID token.
    let mut meta = citizen::web_client(redirect);
    meta.scope = Scope::parse("openid profile").unwrap();
    let (id, secret) = support::register(&idp, meta).await;
    let (verifier, challenge) = pkce();
    let claims = r#"{"id_token":{"verified_claims":{"verification":{"trust_framework":null},"claims":{"given_name":null,"birthdate":null}}}}"#;
    let url = authorize_url(&idp.base, &id, redirect, "openid", &challenge, &[("claims", claims)]);
    let cb = citizen::login_through(&b, &mut key, &url, true).await;
    let t = redeem(&idp, &id, secret.as_deref().unwrap(), &code_of(&cb), redirect, &verifier).await;
    let c = payload(t["id_token"].as_str().unwrap());
    assert_eq!(c["verified_claims"]["verification"]["trust_framework"], "bt_drukyul_id");
    assert_eq!(c["verified_claims"]["claims"]["given_name"], "Karma");
    assert_eq!(c["verified_claims"]["claims"]["birthdate"], "1990-04-01");
    idp.stop().await;
}
both_backends!(national_id_and_algorithms);

async fn private_key_jwt_web_client(backend: Backend) {
    let Some(idp) = support::start(backend).await else { return };
    let (_, mut key) = citizen(&idp).await;
    let redirect = "https://business.gov.bt/cb";
    let ck = rp::generate_es256_key("rp-1").unwrap();
    let mut meta = citizen::web_client(redirect);
    meta.token_endpoint_auth_method = AuthMethod::PrivateKeyJwt;
    meta.jwks = Some(json!({"keys": [ck.public_jwk]}));
    meta.require_pushed_authorization_requests = true;
    let (client_id, secret) = support::register(&idp, meta).await;
    assert!(secret.is_none());

    let http = rp::build_http().unwrap();
    let meta = rp::discover(&http, &idp.base).await.unwrap();
    let client = rp::build_client(&meta, &client_id, None, redirect).unwrap();
    let start = rp::authorization_url(&client, &["profile"]);
    let par = meta.additional_metadata().pushed_authorization_request_endpoint.clone().unwrap();
    let assertion = rp::client_assertion(&ck, &client_id, &idp.base).unwrap();
    let (_, url) = rp::pushed_authorization(
        &http,
        par.as_str(),
        meta.authorization_endpoint().as_str(),
        &client_id,
        &start,
        None,
        &assertion,
    )
    .await
    .unwrap();
    let browser = Browser::new(&idp.base);
    let cb = citizen::login_through(&browser, &mut key, url.as_str(), true).await;
    let code = rp::parse_callback(&cb, &start.state).unwrap();
    let assertion = rp::client_assertion(&ck, &client_id, &idp.url("/token")).unwrap();
    let (tokens, _) = rp::exchange_code(&http, &client, code, start, Some(assertion)).await.unwrap();
    assert!(tokens.id_token().is_some());
    let assertion = rp::client_assertion(&ck, &client_id, &idp.url("/token")).unwrap();
    rp::refresh(&http, &client, tokens.refresh_token().unwrap(), Some(assertion)).await.unwrap();
    idp.stop().await;
}
both_backends!(private_key_jwt_web_client);

async fn step_up_and_max_age(backend: Backend) {
    let Some(idp) = support::start(backend).await else { return };
    let (b, mut key) = citizen(&idp).await;
    let redirect = "https://epis.gov.bt/cb";
    let (id, secret) = support::register(&idp, citizen::web_client(redirect)).await;
    let secret = secret.unwrap();
    let high = r#"{"id_token":{"acr":{"essential":true,"value":"urn:drukyul:loa:high"}}}"#;

    // An account proven only at "substantial" cannot reach "high": access_denied after a fresh login.
    let (_, challenge) = pkce();
    let cb = citizen::login_through(
        &b,
        &mut key,
        &authorize_url(&idp.base, &id, redirect, "openid", &challenge, &[("claims", high)]),
        true,
    )
    .await;
    assert!(cb.contains("error=access_denied"), "{cb}");

    // After biometric enrolment (simulated here) the account is "high"; the existing session is
    // still "substantial", so the essential acr forces authentication again.
    let pool = sqlx::AnyPool::connect(&idp.db.url).await.unwrap();
    sqlx::query("UPDATE accounts SET assurance = 'urn:drukyul:loa:high'").execute(&pool).await.unwrap();
    let (verifier, challenge) = pkce();
    let url = authorize_url(&idp.base, &id, redirect, "openid", &challenge, &[("claims", high)]);
    let (s, loc, _) = b.get(&url).await;
    assert_eq!(s, 303);
    assert!(loc.unwrap().starts_with("/login"), "step-up requires a new login");
    let cb = citizen::login_through(&b, &mut key, &url, true).await;
    let t = redeem(&idp, &id, &secret, &code_of(&cb), redirect, &verifier).await;
    assert_eq!(payload(t["id_token"].as_str().unwrap())["acr"], "urn:drukyul:loa:high");

    // max_age=0 always asks for a fresh login; prompt=none then reports login_required.
    let (_, challenge) = pkce();
    let (s, loc, _) = b.get(&authorize_url(&idp.base, &id, redirect, "openid", &challenge, &[("max_age", "0")])).await;
    assert_eq!((s, loc.as_deref().map(|l| l.starts_with("/login"))), (303, Some(true)));
    let (s, loc, _) = b
        .get(&authorize_url(&idp.base, &id, redirect, "openid", &challenge, &[("max_age", "0"), ("prompt", "none")]))
        .await;
    assert_eq!(s, 303);
    assert!(loc.unwrap().contains("error=login_required"));
    pool.close().await;
    idp.stop().await;
}
both_backends!(step_up_and_max_age);

async fn consent_withdrawal_and_backchannel_logout(backend: Backend) {
    let Some(idp) = support::start(backend).await else { return };
    // A relying party that receives back-channel logout tokens; it is "restarting" when the
    // first one arrives (503), so the IdP must retry.
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/backchannel",
        axum::routing::post(move |body: String| {
            let sink = sink.clone();
            async move {
                let token = url::form_urlencoded::parse(body.as_bytes())
                    .find(|(k, _)| k == "logout_token")
                    .unwrap()
                    .1
                    .to_string();
                let mut got = sink.lock().unwrap();
                got.push(token);
                if got.len() == 1 { axum::http::StatusCode::SERVICE_UNAVAILABLE } else { axum::http::StatusCode::OK }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rp_port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (b, mut key) = citizen(&idp).await;
    let redirect = "http://localhost:9/cb";
    let mut meta = citizen::web_client(redirect);
    meta.backchannel_logout_uri = Some(url::Url::parse(&format!("http://localhost:{rp_port}/backchannel")).unwrap());
    let (id, secret) = support::register(&idp, meta).await;
    let secret = secret.unwrap();

    let (verifier, challenge) = pkce();
    let cb = citizen::login_through(
        &b,
        &mut key,
        &authorize_url(&idp.base, &id, redirect, "openid profile", &challenge, &[]),
        true,
    )
    .await;
    let t = redeem(&idp, &id, &secret, &code_of(&cb), redirect, &verifier).await;
    let rt = t["refresh_token"].as_str().unwrap().to_string();

    // The account page lists the consent; withdrawing it revokes the client's refresh tokens.
    let (_, _, page) = b.get("/account").await;
    assert!(page.contains("ePIS Patient Portal"), "{page}");
    let csrf = citizen::csrf_of(&page);
    let (s, loc, _) = b.post_form("/account/consents/revoke", &[("csrf", &csrf), ("client_id", &id)]).await;
    assert_eq!((s, loc.as_deref()), (303, Some("/account")));
    let r = support::http()
        .post(idp.url("/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &rt)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Next login asks for consent again.
    let (verifier, challenge) = pkce();
    let url = authorize_url(&idp.base, &id, redirect, "openid profile", &challenge, &[]);
    let (_, loc, _) = b.get(&url).await;
    assert!(loc.unwrap().starts_with("/consent"));
    let cb = citizen::login_through(&b, &mut key, &url, true).await;
    let t = redeem(&idp, &id, &secret, &code_of(&cb), redirect, &verifier).await;
    let sid = payload(t["id_token"].as_str().unwrap())["sid"].as_str().unwrap().to_string();

    // Signing out at the account page notifies the RP over the back channel.
    let (_, _, page) = b.get("/account").await;
    let csrf = citizen::csrf_of(&page);
    let (s, _, _) = b.post_form("/account/logout", &[("csrf", &csrf)]).await;
    assert_eq!(s, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while received.lock().unwrap().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "the logout token was not delivered again after a 503");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let deliveries = received.lock().unwrap().clone();
    assert_eq!(deliveries.len(), 2, "retried once after the 503, then no more once accepted");
    assert_eq!(deliveries[0], deliveries[1], "the retry carries the same token");
    let token = deliveries[0].clone();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let jwks: jsonwebtoken::jwk::JwkSet =
        support::http().get(idp.url("/jwks")).send().await.unwrap().json().await.unwrap();
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&[id.as_str()]);
    v.set_issuer(&[idp.base.as_str()]);
    v.set_required_spec_claims(&["iat", "aud", "iss"]);
    let key = jsonwebtoken::DecodingKey::from_jwk(jwks.find(header.kid.as_deref().unwrap()).unwrap()).unwrap();
    let claims = jsonwebtoken::decode::<Value>(&token, &key, &v).unwrap().claims;
    assert_eq!(claims["sid"], sid.as_str());
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims.get("nonce").is_none());
    idp.stop().await;
}
both_backends!(consent_withdrawal_and_backchannel_logout);

/// Activity the citizen can see on the account page includes the logins and consents.
async fn account_shows_activity_and_manages_passkeys(backend: Backend) {
    let Some(idp) = support::start(backend).await else { return };
    let (b, _key) = citizen(&idp).await;
    let (_, _, page) = b.get("/account").await;
    assert!(page.contains("Digital ID activated") && page.contains("Signed in"), "{page}");
    let csrf = citizen::csrf_of(&page);
    // The only passkey cannot be removed; renaming works.
    let creds = idp::store::login::credentials_of(&idp.state().db, &{
        let pool = sqlx::AnyPool::connect(&idp.db.url).await.unwrap();
        let row: (String,) = sqlx::query_as("SELECT id FROM accounts").fetch_one(&pool).await.unwrap();
        pool.close().await;
        row.0
    })
    .await
    .unwrap();
    assert_eq!(creds.len(), 1);
    let (s, _, _) = b.post_form("/account/passkeys/remove", &[("csrf", &csrf), ("id", &creds[0].cred_id)]).await;
    assert_eq!(s, 400, "the last passkey stays");
    let (s, _, _) = b
        .post_form("/account/passkeys/rename", &[("csrf", &csrf), ("id", &creds[0].cred_id), ("name", "Work laptop")])
        .await;
    assert_eq!(s, 303);
    let (_, _, page) = b.get("/account").await;
    assert!(page.contains("Work laptop"));
    // Dzongkha by Accept-Language.
    let r = b.http.get(idp.url("/account")).header("accept-language", "dz, en;q=0.5").send().await.unwrap();
    let dz = r.text().await.unwrap();
    assert!(dz.contains("lang=\"dz\"") && dz.contains("ཌི་ཇི་ཊཱལ་"), "Dzongkha page");
    assert!(dz.len() < 50 * 1024, "pages stay under 50 KB");
    idp.stop().await;
}
both_backends!(account_shows_activity_and_manages_passkeys);

/// The CID-first login path, a `private_key_jwt` client whose keys are fetched from its
/// `jwks_uri`, and client management through the admin API.
async fn cid_first_jwks_uri_and_admin_api(backend: Backend) {
    let Some(idp) = support::start(backend).await else { return };
    let (b, mut key) = citizen(&idp).await;

    // An agency publishing its keys at a jwks_uri, registered through the admin API.
    let ck = rp::generate_es256_key("rp-uri").unwrap();
    let jwks = json!({"keys": [ck.public_jwk]});
    let app = axum::Router::new().route("/jwks", axum::routing::get(move || async move { axum::Json(jwks.clone()) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let redirect = "https://trade.gov.bt/cb";
    let body = json!({
        "client_name": "Customs single window",
        "token_endpoint_auth_method": "private_key_jwt",
        "redirect_uris": [redirect],
        "grant_types": ["authorization_code"],
        "scope": "openid profile",
        "jwks_uri": format!("http://localhost:{port}/jwks"),
    });
    let admin = |req: reqwest::RequestBuilder| req.bearer_auth("test-admin-token");
    let r = support::http().post(idp.url("/admin/clients")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401, "the admin API needs its token");
    let r = admin(support::http().post(idp.url("/admin/clients"))).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let client_id = created["client_id"].as_str().unwrap().to_string();
    assert!(created.get("client_secret").is_none());
    let bad = json!({"client_name": "x", "token_endpoint_auth_method": "none", "grant_types": ["client_credentials"], "scope": "a"});
    let r = admin(support::http().post(idp.url("/admin/clients"))).json(&bad).send().await.unwrap();
    assert_eq!(r.status(), 400, "invalid registrations are refused");
    let list: Value = admin(support::http().get(idp.url("/admin/clients"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);

    // CID-first login: the page's CID form asks only for that citizen's passkeys.
    let (verifier, challenge) = pkce();
    let url = authorize_url(&idp.base, &client_id, redirect, "openid profile", &challenge, &[("prompt", "login")]);
    let (s, loc, _) = b.get(&url).await;
    assert_eq!(s, 303);
    let loc = loc.unwrap();
    let req = loc.split("req=").nth(1).unwrap().to_string();
    let csrf = b.csrf(&loc).await;
    let (s, start) = b.post_json("/login/passkey/start", &csrf, json!({"req": req, "cid": "10101001234"})).await;
    assert_eq!(s, 200);
    assert_eq!(start["options"]["publicKey"]["allowCredentials"].as_array().unwrap().len(), 1);
    let cred = crate::authenticator::get(&mut key, &b.base, &start["options"]);
    let (s, fin) = b
        .post_json(
            "/login/passkey/finish",
            &csrf,
            json!({"ceremony": start["ceremony"], "req": req, "credential": cred}),
        )
        .await;
    assert_eq!(s, 200, "{fin}");
    let loc = fin["redirect"].as_str().unwrap().to_string();
    assert!(loc.starts_with("/consent"), "{loc}");
    let (_, _, page) = b.get(&loc).await;
    let (s, cb, _) =
        b.post_form("/consent", &[("csrf", &citizen::csrf_of(&page)), ("req", &req), ("decision", "allow")]).await;
    assert_eq!(s, 303);
    let code = code_of(&cb.unwrap());

    // The token request authenticates with a key fetched from the jwks_uri.
    let assertion = rp::client_assertion(&ck, &client_id, &idp.url("/token")).unwrap();
    let mut form = vec![
        ("grant_type".to_string(), "authorization_code".to_string()),
        ("code".into(), code),
        ("redirect_uri".into(), redirect.into()),
        ("code_verifier".into(), verifier),
    ];
    form.extend(assertion);
    let r = support::http().post(idp.url("/token")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 200);

    let r = admin(support::http().delete(idp.url(&format!("/admin/clients/{client_id}")))).send().await.unwrap();
    assert_eq!(r.status(), 204);
    idp.stop().await;
}
both_backends!(cid_first_jwks_uri_and_admin_api);
