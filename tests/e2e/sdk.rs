//! The relying-party SDK against the real identity provider: an agency application built from
//! the SDK's documented example (`relying-party-sdk/examples/agency.rs`) logs a citizen in with
//! a software passkey (private_key_jwt and PAR, or a client secret), refreshes, logs out
//! (RP-initiated and back-channel), steps up to `urn:drukyul:loa:high`, and serves an API to
//! another agency's client_credentials token across a key rotation. Then the attacks, each
//! shown to fail.
//!
//! The provider sits behind a small reverse proxy at its issuer URL, which counts every
//! request reaching it (a page that needs the citizen must add none) and can rewrite the token
//! endpoint's answer into what a malicious or compromised network would send (ID tokens with
//! the wrong audience, nonce, expiry, algorithm...), re-signed with the provider's real key
//! where a signature is needed, so only the SDK's checks stand in the way.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use axum::{Router, extract::State};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use idp::domain::{
    client::{AuthMethod, RedirectUri},
    keys::SigningAlg,
};
use relying_party_sdk::{ClientAuth, ClientKey, ClientSecret, Config, RelyingParty, ServiceClient, SqlStore};
use serde_json::{Value, json};

use crate::{
    authenticator::ResidentSoftPasskey,
    both_backends,
    citizen::{self, Browser},
    support::{self, Backend, TestDb, TestIdp},
};

#[allow(dead_code, clippy::all)]
#[path = "../../relying-party-sdk/examples/agency.rs"]
mod agency_example;

type Tamper = Box<dyn Fn(Value) -> Value + Send + Sync>;

/// A reverse proxy in front of the provider: counts requests, optionally rewrites `/token`.
struct Proxy {
    upstream: Mutex<String>,
    hits: AtomicUsize,
    tamper: Mutex<Option<Tamper>>,
    http: reqwest::Client,
}

async fn forward(State(p): State<Arc<Proxy>>, req: axum::extract::Request) -> axum::response::Response {
    p.hits.fetch_add(1, Ordering::SeqCst);
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let upstream = p.upstream.lock().unwrap().clone();
    let path = parts.uri.path_and_query().map(|x| x.as_str()).unwrap_or("/").to_string();
    let mut rb = p.http.request(parts.method.clone(), format!("{upstream}{path}")).body(body);
    for (k, v) in &parts.headers {
        if k != http::header::HOST && k != http::header::CONTENT_LENGTH {
            rb = rb.header(k, v);
        }
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let mut bytes = resp.bytes().await.unwrap().to_vec();
    if parts.uri.path() == "/token"
        && status == 200
        && let Some(t) = p.tamper.lock().unwrap().as_ref()
    {
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        bytes = serde_json::to_vec(&t(v)).unwrap();
    }
    let mut out = axum::response::Response::new(axum::body::Body::from(bytes));
    *out.status_mut() = status;
    for (k, v) in &headers {
        if k != http::header::CONTENT_LENGTH && k != http::header::TRANSFER_ENCODING {
            out.headers_mut().append(k, v.clone());
        }
    }
    out
}

/// Everything one test needs: the provider behind its proxy, a citizen with a passkey and a
/// browser, and the agency application on the SDK.
struct Rig {
    idp: TestIdp,
    proxy: Arc<Proxy>,
    issuer: String,
    app: String,
    rp: RelyingParty,
    client_id: String,
    b: Browser,
    key: ResidentSoftPasskey,
    _store_db: TestDb,
}

#[derive(Clone, Copy, PartialEq)]
enum Auth {
    /// private_key_jwt, with PAR.
    KeyAndPar,
    /// client_secret_basic, no PAR.
    Secret,
}

async fn rig(backend: Backend, auth: Auth) -> Option<Rig> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let proxy_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://localhost:{}", proxy_listener.local_addr().unwrap().port());
    let iss = issuer.clone();
    let idp = support::start_with(backend, move |c| c.issuer = url::Url::parse(&iss).unwrap()).await?;
    let proxy = Arc::new(Proxy {
        upstream: Mutex::new(idp.base.clone()),
        hits: AtomicUsize::new(0),
        tamper: Mutex::new(None),
        http: support::http(),
    });
    let p = proxy.clone();
    tokio::spawn(async move { axum::serve(proxy_listener, Router::new().fallback(forward).with_state(p)).await });

    // The citizen activates their digital ID at the provider (through the proxy: its issuer).
    let code = citizen::import_and_issue(&idp, "10101001234").await;
    let mut key = ResidentSoftPasskey::new();
    let b = Browser::new(&issuer);
    citizen::activate(&b, &mut key, "10101001234", &code).await;

    // The agency registers its client and starts its application.
    let app_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = format!("http://localhost:{}", app_listener.local_addr().unwrap().port());
    let mut meta = citizen::web_client(&format!("{app}/auth/callback"));
    meta.post_logout_redirect_uris = vec![RedirectUri::parse(&format!("{app}/")).unwrap()];
    meta.backchannel_logout_uri = Some(url::Url::parse(&format!("{app}/auth/backchannel-logout")).unwrap());
    let (client_key, _) = ClientKey::generate("agency-key-1").unwrap();
    if auth == Auth::KeyAndPar {
        meta.token_endpoint_auth_method = AuthMethod::PrivateKeyJwt;
        meta.jwks = Some(json!({"keys": [client_key.public_jwk()]}));
        meta.require_pushed_authorization_requests = true;
    }
    let (client_id, secret) = support::register(&idp, meta).await;
    let client_auth = match auth {
        Auth::KeyAndPar => ClientAuth::PrivateKeyJwt(client_key),
        Auth::Secret => ClientAuth::SecretBasic(ClientSecret::new(secret.unwrap())),
    };
    let mut cfg = Config::new(&issuer, &client_id, client_auth, format!("{app}/auth/callback"));
    cfg.scopes = vec!["profile".into()];
    cfg.use_par = auth == Auth::KeyAndPar;
    cfg.post_logout_redirect_uri = Some(format!("{app}/"));
    cfg.api_audience = Some(format!("{app}/api"));
    // The agency's own database, of the same kind as the provider's in this run.
    let store_db = support::fresh_db(backend).await.unwrap();
    let store = SqlStore::connect(&store_db.url).await.unwrap();
    let rp = RelyingParty::new(cfg, store).await.unwrap();
    let router = agency_example::pages()
        .route("/test/refresh", axum::routing::get(refresh_page))
        .merge(rp.routes())
        .layer(rp.session_layer());
    tokio::spawn(async move { axum::serve(app_listener, router).await });
    Some(Rig { idp, proxy, issuer, app, rp, client_id, b, key, _store_db: store_db })
}

/// A test page: refreshes the citizen's tokens and says whether the access token changed.
async fn refresh_page(mut s: relying_party_sdk::CitizenSession) -> String {
    let before = s.access_token().await.unwrap();
    s.refresh().await.unwrap();
    let after = s.access_token().await.unwrap();
    if before == after { "same".into() } else { "refreshed".into() }
}

impl Rig {
    fn hits(&self) -> usize {
        self.proxy.hits.load(Ordering::SeqCst)
    }

    fn tamper(&self, f: Option<Tamper>) {
        *self.proxy.tamper.lock().unwrap() = f;
    }

    /// Opens `page`, is sent to the provider, logs in there; returns the callback URL.
    async fn login_to_callback(&mut self, page: &str) -> String {
        let (mut s, mut loc, mut body) = self.b.get(&format!("{}{page}", self.app)).await;
        if s == 200 {
            // Already logged in here: log in again through the SDK's login route.
            (s, loc, body) = self.b.get(&format!("{}/auth/login?return_to={page}", self.app)).await;
        }
        assert_eq!(s, 303, "{page}: {body}");
        let loc = loc.unwrap();
        assert!(loc.starts_with(&format!("{}/authorize", self.issuer)), "{loc}");
        let cb = citizen::login_through(&self.b, &mut self.key, &loc, true).await;
        assert!(cb.starts_with(&format!("{}/auth/callback", self.app)), "{cb}");
        cb
    }

    /// A whole login: returns the page's status and body afterwards.
    async fn login(&mut self, page: &str) -> (u16, String) {
        let cb = self.login_to_callback(page).await;
        let (s, loc, body) = self.b.get(&cb).await;
        assert_eq!(s, 303, "callback: {body}");
        assert_eq!(loc.as_deref(), Some(page));
        let (s, _, body) = self.b.get(&format!("{}{page}", self.app)).await;
        (s, body)
    }

    async fn page(&self, page: &str) -> (u16, Option<String>, String) {
        self.b.get(&format!("{}{page}", self.app)).await
    }

    fn idp_public_jwk(&self) -> Value {
        let keys = self.idp.state().keyring.snapshot();
        keys.signing_key(SigningAlg::ES256, idp::domain::now()).unwrap().public_jwk().clone()
    }
}

fn payload(jwt: &str) -> Value {
    serde_json::from_slice(&B64.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

fn header(jwt: &str) -> Value {
    serde_json::from_slice(&B64.decode(jwt.split('.').next().unwrap()).unwrap()).unwrap()
}

/// An HS256 token whose key is the provider's public key (the classic algorithm confusion).
fn hs256_with_public_key(jwk: &Value, kid: &str, typ: &str, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        B64.encode(json!({"alg": "HS256", "kid": kid, "typ": typ}).to_string()),
        B64.encode(claims.to_string())
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, jwk.to_string().as_bytes());
    format!("{input}.{}", B64.encode(ring::hmac::sign(&key, input.as_bytes()).as_ref()))
}

/// `url` with query parameter `key` removed, then set to `value` if given.
fn set_param(url: &str, key: &str, value: Option<&str>) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u.query_pairs().into_owned().filter(|(k, _)| k != key).collect();
    {
        let mut q = u.query_pairs_mut();
        q.clear();
        for (k, v) in &pairs {
            q.append_pair(k, v);
        }
        if let Some(v) = value {
            q.append_pair(key, v);
        }
    }
    u.to_string()
}

fn unsigned(typ: &str, claims: &Value) -> String {
    format!("{}.{}.", B64.encode(json!({"alg": "none", "typ": typ}).to_string()), B64.encode(claims.to_string()))
}

async fn sdk_login_refresh_and_logout(backend: Backend) {
    let Some(mut r) = rig(backend, Auth::KeyAndPar).await else { return };

    // An anonymous visitor of a page needing the citizen is sent to log in (PAR: the browser
    // carries only client_id and request_uri), and comes back to the page.
    let (s, loc, _) = r.page("/records").await;
    assert_eq!(s, 303);
    let loc = loc.unwrap();
    assert!(loc.contains("request_uri=") && !loc.contains("code_challenge"), "PAR is used: {loc}");
    let (s, body) = r.login("/records").await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("Records of Karma Wangchuk") && body.contains("urn:drukyul:loa:substantial"), "{body}");
    let (_, _, home) = r.page("/").await;
    assert!(home.contains("Kuzuzangpo, Karma Wangchuk"), "{home}");

    // After login, pages needing the citizen make no request to the provider.
    let before = r.hits();
    for _ in 0..20 {
        let (s, _, _) = r.page("/records").await;
        assert_eq!(s, 200);
    }
    assert_eq!(r.hits(), before, "no call to the identity provider per page");

    // Userinfo on the citizen's behalf, then a refresh (rotating the refresh token).
    let (s, _, info) = r.page("/profile").await;
    assert_eq!(s, 200, "{info}");
    let info: Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["name"], "Karma Wangchuk");
    let (s, _, body) = r.page("/test/refresh").await;
    assert_eq!((s, body.as_str()), (200, "refreshed"));
    let (s, _, _) = r.page("/profile").await;
    assert_eq!(s, 200, "the refreshed access token works");

    // RP-initiated logout: the SDK session ends at once and the provider logs out without
    // asking (the ID token is the hint), then sends the browser back.
    let resp = r.b.http.post(format!("{}/auth/logout", r.app)).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    let to_idp = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(to_idp.starts_with(&format!("{}/logout?", r.issuer)) && to_idp.contains("id_token_hint="), "{to_idp}");
    let (s, back, _) = r.b.get(&to_idp).await;
    assert_eq!(s, 303);
    assert!(back.unwrap().starts_with(&format!("{}/?state=", r.app)));
    let (s, loc, _) = r.page("/records").await;
    assert_eq!(s, 303, "the agency session is gone");
    assert!(loc.unwrap().starts_with(&r.issuer));
    let (s, loc, _) = r.b.get(&format!("{}/account", r.issuer)).await;
    assert_eq!((s, loc.as_deref()), (303, Some("/login")), "and so is the provider's");
    r.idp.stop().await;
}
both_backends!(sdk_login_refresh_and_logout);

async fn sdk_backchannel_logout_and_step_up(backend: Backend) {
    let Some(mut r) = rig(backend, Auth::Secret).await else { return };
    let (s, _) = r.login("/records").await;
    assert_eq!(s, 200);

    // Step-up: the session is "substantial"; the high page asks the provider for "high" as an
    // essential acr. This digital ID cannot reach it: refused, and the page stays closed.
    let cb = r.login_to_callback("/certificate").await;
    assert!(cb.contains("error=access_denied"), "{cb}");
    let (s, _, _) = r.b.get(&cb).await;
    assert_eq!(s, 403);
    // After biometric enrolment (simulated) the account is "high": the same page now logs in
    // again at high and opens.
    let pool = sqlx::AnyPool::connect(&r.idp.db.url).await.unwrap();
    sqlx::query("UPDATE accounts SET assurance = 'urn:drukyul:loa:high'").execute(&pool).await.unwrap();
    pool.close().await;
    let (s, body) = r.login("/certificate").await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("high assurance"));

    // The citizen logs out at the provider: it notifies the agency over the back channel, and
    // the agency's session ends.
    let (_, _, page) = r.b.get(&format!("{}/account", r.issuer)).await;
    let csrf = citizen::csrf_of(&page);
    let (s, _, _) = r.b.post_form(&format!("{}/account/logout", r.issuer), &[("csrf", &csrf)]).await;
    assert_eq!(s, 200);
    let mut ended = false;
    for _ in 0..50 {
        let (s, _, _) = r.page("/records").await;
        if s == 303 {
            ended = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ended, "back-channel logout ended the SDK session");
    r.idp.stop().await;
}
both_backends!(sdk_backchannel_logout_and_step_up);

async fn sdk_api_with_client_credentials_and_key_rotation(backend: Backend) {
    let Some(r) = rig(backend, Auth::Secret).await else { return };
    let api = format!("{}/api/records", r.app);
    // Another agency's API client, allowed to call this API (its resource).
    let mut meta = support::api_client("EMIS sync", "records.read records.write");
    meta.token_endpoint_auth_method = AuthMethod::ClientSecretPost;
    meta.resources = vec![format!("{}/api", r.app)];
    let (caller, secret) = support::register(&r.idp, meta).await;
    let secret = secret.unwrap();
    let service =
        ServiceClient::new(r.rp.provider(), &caller, ClientAuth::SecretPost(ClientSecret::new(&secret))).unwrap();
    let now = idp::domain::now();
    let token = service.token("records.read", None, now).await.unwrap();
    assert_eq!(service.token("records.read", None, now).await.unwrap(), token, "cached");
    let http = support::http();
    let before = r.hits();
    for _ in 0..5 {
        let resp = http.get(&api).bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["caller"], caller.as_str());
    }
    assert_eq!(r.hits(), before, "validated offline");

    // A token without the scope: 403 insufficient_scope. No token: 401 with a bare challenge.
    let write_only = service.token("records.write", None, now).await.unwrap();
    let resp = http.get(&api).bearer_auth(&write_only).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    let h = resp.headers()["www-authenticate"].to_str().unwrap();
    assert!(h.contains("insufficient_scope") && h.contains("scope=\"records.read\""), "{h}");
    let resp = http.get(&api).send().await.unwrap();
    assert_eq!((resp.status().as_u16(), resp.headers()["www-authenticate"].to_str().unwrap()), (401, "Bearer"));

    // `idp keys rotate --now`: tokens are signed by a key the SDK has not seen; it fetches the
    // keys once and accepts them.
    let old_kid = header(&token)["kid"].as_str().unwrap().to_string();
    let (new_kid, _) =
        r.idp.state().rotate_keys(SigningAlg::ES256, true, "operator", idp::domain::now()).await.unwrap();
    let mut fresh = String::new();
    for _ in 0..50 {
        // A new client each time: the cache would hand back the token signed by the old key.
        let s =
            ServiceClient::new(r.rp.provider(), &caller, ClientAuth::SecretPost(ClientSecret::new(&secret))).unwrap();
        let t = s.token("records.read", None, idp::domain::now()).await.unwrap();
        if header(&t)["kid"] == new_kid.as_str() {
            fresh = t;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(!fresh.is_empty(), "the provider signs with the new key");
    assert_ne!(old_kid, new_kid);
    let before = r.hits();
    let resp = http.get(&api).bearer_auth(&fresh).send().await.unwrap();
    assert_eq!(resp.status(), 200, "a token signed by the rotated-in key is accepted");
    assert_eq!(r.hits(), before + 1, "after exactly one JWKS fetch");
    r.idp.stop().await;
}
both_backends!(sdk_api_with_client_credentials_and_key_rotation);

async fn sdk_attacks_fail(backend: Backend) {
    let Some(mut r) = rig(backend, Auth::Secret).await else { return };
    let (s, _) = r.login("/records").await;
    assert_eq!(s, 200);
    let resp = r.b.http.post(format!("{}/auth/logout", r.app)).send().await.unwrap();
    assert_eq!(resp.status(), 303, "{:?}", resp.headers());

    // --- the callback ---
    // state missing or not this browser's, iss missing or naming another issuer: refused, and
    // the genuine answer still completes the login afterwards (nothing was consumed).
    let cb = r.login_to_callback("/records").await;
    for forged in [
        set_param(&cb, "state", None),
        set_param(&cb, "state", Some("not-the-state")),
        set_param(&cb, "iss", None),
        set_param(&cb, "iss", Some("https://evil.example")),
    ] {
        let (s, loc, _) = r.b.get(&forged).await;
        assert_eq!((s, loc), (400, None), "{forged}");
    }
    let (s, _, _) = r.b.get(&cb).await;
    assert_eq!(s, 303, "the genuine callback completes");
    // Replaying it (nonce and state already used) fails.
    let (s, _, _) = r.b.get(&cb).await;
    assert_eq!(s, 400, "a replayed callback is refused");
    let (s, _, _) = r.page("/records").await;
    assert_eq!(s, 200, "and does not disturb the session");

    // --- the ID token, rewritten on the wire and re-signed with the provider's real key ---
    let idp_state = r.idp.state().clone();
    let sign = move |typ: &str, c: &Value| {
        let keys = idp_state.keyring.snapshot();
        keys.signing_key(SigningAlg::ES256, idp::domain::now()).unwrap().sign_jwt(typ, c).unwrap()
    };
    let jwk = r.idp_public_jwk();
    let kid = jwk["kid"].as_str().unwrap().to_string();
    let old_id_token = Arc::new(Mutex::new(None::<String>));
    type Rewrite = Box<dyn Fn(&Value, &Value) -> String + Send + Sync>;
    let s2 = sign.clone();
    let resign = move |f: fn(&mut Value)| -> Rewrite {
        let s = s2.clone();
        Box::new(move |c: &Value, _t: &Value| {
            let mut c = c.clone();
            f(&mut c);
            s("JWT", &c)
        })
    };
    let (jwk2, kid2) = (jwk.clone(), kid.clone());
    let old = old_id_token.clone();
    let cases: Vec<(&str, Rewrite)> = vec![
        ("another audience", resign(|c| c["aud"] = "someone-else".into())),
        ("another audience beside ours", resign(|c| c["aud"] = json!([c["aud"].clone(), "someone-else"]))),
        ("azp of another client", resign(|c| c["azp"] = "someone-else".into())),
        ("another issuer", resign(|c| c["iss"] = "https://evil.example".into())),
        ("nonce mismatch", resign(|c| c["nonce"] = "attacker-nonce".into())),
        (
            "nonce missing",
            resign(|c| {
                c.as_object_mut().unwrap().remove("nonce");
            }),
        ),
        (
            "expired",
            resign(|c| {
                c["exp"] = (idp::domain::now() - 120).into();
                c["iat"] = (idp::domain::now() - 400).into();
            }),
        ),
        ("issued in the future", resign(|c| c["iat"] = (idp::domain::now() + 3600).into())),
        ("wrong at_hash", resign(|c| c["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA".into())),
        ("alg none", Box::new(|c: &Value, _: &Value| unsigned("JWT", c))),
        (
            "HS256 with the public key",
            Box::new(move |c: &Value, _: &Value| hs256_with_public_key(&jwk2, &kid2, "JWT", c)),
        ),
        ("access token as ID token", Box::new(|_: &Value, t: &Value| t["access_token"].as_str().unwrap().to_string())),
        (
            "replayed ID token of an earlier login",
            Box::new(move |_: &Value, _: &Value| old.lock().unwrap().clone().unwrap()),
        ),
        (
            "tampered payload",
            Box::new(|c: &Value, t: &Value| {
                let orig = t["id_token"].as_str().unwrap();
                let mut parts: Vec<String> = orig.split('.').map(str::to_string).collect();
                let mut c = c.clone();
                c["sub"] = "someone-else".into();
                parts[1] = B64.encode(c.to_string());
                parts.join(".")
            }),
        ),
    ];
    // An ID token of a successful login, to replay later.
    let grab = old_id_token.clone();
    r.tamper(Some(Box::new(move |t: Value| {
        *grab.lock().unwrap() = t["id_token"].as_str().map(str::to_string);
        t
    })));
    let cb = r.login_to_callback("/records").await;
    assert_eq!(r.b.get(&cb).await.0, 303);
    for (name, rewrite) in cases {
        let rewrite = Arc::new(rewrite);
        let rw = rewrite.clone();
        r.tamper(Some(Box::new(move |mut t: Value| {
            let c = payload(t["id_token"].as_str().unwrap());
            let new = rw(&c, &t);
            t["id_token"] = new.into();
            t
        })));
        let cb = r.login_to_callback("/records").await;
        let (s, loc, _) = r.b.get(&cb).await;
        assert_eq!((s, loc), (400, None), "{name} is refused");
    }
    r.tamper(None);
    let cb = r.login_to_callback("/records").await;
    assert_eq!(r.b.get(&cb).await.0, 303, "an untouched login still works");
    let (s, _, _) = r.page("/records").await;
    assert_eq!(s, 200);

    // --- access tokens at the API ---
    let api = format!("{}/api/records", r.app);
    let http = support::http();
    let good = json!({"iss": r.issuer, "sub": "emis", "aud": format!("{}/api", r.app), "client_id": "emis",
                      "exp": idp::domain::now() + 300, "iat": idp::domain::now(), "jti": "j-1", "scope": "records.read"});
    assert_eq!(http.get(&api).bearer_auth(sign("at+jwt", &good)).send().await.unwrap().status(), 200, "baseline");
    let mut other_aud = good.clone();
    other_aud["aud"] = r.issuer.clone().into();
    let mut expired = good.clone();
    expired["exp"] = (idp::domain::now() - 120).into();
    let id_token = old_id_token.lock().unwrap().clone().unwrap();
    let attacks = [
        ("an ID token", id_token),
        ("a token for another audience (the provider's own)", sign("at+jwt", &other_aud)),
        ("an expired token", sign("at+jwt", &expired)),
        ("a token typed JWT", sign("JWT", &good)),
        ("alg none", unsigned("at+jwt", &good)),
        ("HS256 with the public key", hs256_with_public_key(&jwk, &kid, "at+jwt", &good)),
    ];
    for (name, t) in attacks {
        let resp = http.get(&api).bearer_auth(&t).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{name}");
        assert!(resp.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"), "{name}");
    }

    // --- logout tokens ---
    let (_, _, _) = r.page("/records").await;
    let sid = {
        let id = old_id_token.lock().unwrap().clone().unwrap();
        payload(&id)
    };
    let logout_claims = |extra: Option<(&str, Value)>| {
        let mut c = json!({"iss": r.issuer, "aud": r.client_id, "iat": idp::domain::now(), "exp": idp::domain::now() + 120,
                           "jti": format!("lt-{}", idp::domain::secrets::random_id().unwrap()), "sub": sid["sub"], "sid": "no-such-session",
                           "events": {"http://schemas.openid.net/event/backchannel-logout": {}}});
        if let Some((k, v)) = extra {
            c[k] = v;
        }
        c
    };
    let post = |t: String| {
        let url = format!("{}/auth/backchannel-logout", r.app);
        async move { support::http().post(url).form(&[("logout_token", t)]).send().await.unwrap().status().as_u16() }
    };
    let lt = sign("logout+jwt", &logout_claims(None));
    assert_eq!(post(lt.clone()).await, 200, "a valid logout token is accepted");
    assert_eq!(post(lt).await, 400, "a replayed logout token is refused");
    assert_eq!(post(sign("logout+jwt", &logout_claims(Some(("nonce", "n".into()))))).await, 400, "nonce");
    assert_eq!(post(sign("JWT", &logout_claims(None))).await, 400, "typed as an ID token");
    assert_eq!(post(unsigned("logout+jwt", &logout_claims(None))).await, 400, "alg none");
    assert_eq!(post(sign("logout+jwt", &logout_claims(Some(("aud", "other".into()))))).await, 400, "audience");
    let (s, _, _) = r.page("/records").await;
    assert_eq!(s, 200, "none of that ended the citizen's session (its sid was not named)");

    // --- a forged session cookie ---
    let anon = support::http();
    for forged in [B64.encode([7u8; 32]), "../../etc".into(), "A".repeat(43)] {
        let resp = anon
            .get(format!("{}/records", r.app))
            .header("cookie", format!("drukyul-session={forged}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303, "a forged cookie is no session");
        assert!(resp.headers()["location"].to_str().unwrap().starts_with(&r.issuer));
    }
    r.idp.stop().await;
}
both_backends!(sdk_attacks_fail);
