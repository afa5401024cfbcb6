//! The citizen's story in a real browser: redeem an activation code and create a passkey, then
//! sign in to an agency's site with that passkey alone and consent to sharing the profile.
//!
//! What the pages must offer (ids are the contract with idp/src/http):
//! - `GET /activate`: inputs `#cid` and `#code`, button `#activate`; clicking it redeems the code,
//!   registers a discoverable passkey (WebAuthn, user verification required) and lands on
//!   `/account`, whose `#passkeys` element lists each passkey as an `li`.
//! - `GET /authorize?...` without a session shows the login page with button `#passkey-login`
//!   (discoverable passkey sign-in, nothing to type); then the consent page with button
//!   `#consent-allow`; then a redirect to the client's redirect URI with `code`, `state` and
//!   `iss` (RFC 9207).

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, extract, response::Html, routing::get};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use idp::domain::{
    cid::Cid,
    client::{AuthMethod, ClientMetadata, GrantType, RedirectUri, Scope},
    keys::SigningAlg,
    registry::parse_csv,
};
use serde_json::Value;

use super::{Browser, Page, chromium, js_str, serve};
use crate::support::{self, Backend, TestIdp, http, register};

const CID: &str = "10101001234";
const REGISTRY_CSV: &str = "\
cid,given_name,middle_name,family_name,date_of_birth,sex,dzongkhag,gewog,village,household_number,status
10101001234,Karma,,Wangchuk,1990-04-01,M,Thimphu,Chang,Motithang,HH-12,alive
";

/// How long one page transition may take.
pub(super) const STEP: Duration = Duration::from_secs(20);

/// Puts the citizen in the registry and issues a digital ID; returns the activation code.
async fn issue_citizen(idp: &TestIdp) -> String {
    let now = idp::domain::now();
    let today = time::OffsetDateTime::now_utc().date();
    idp.state()
        .import_registry(
            parse_csv(REGISTRY_CSV.as_bytes(), today, 100),
            "browser-test.csv",
            "operator",
            now,
            &mut |_| {},
        )
        .await
        .unwrap()
        .unwrap();
    idp.state().issue_citizen(&Cid::parse(CID).unwrap(), "operator", now).await.unwrap().activation_code
}

/// The query parameters of one request, in order.
type Query = Vec<(String, String)>;

/// An agency's website: a code-flow client whose `/cb` records the query it was sent.
struct RelyingParty {
    redirect_uri: String,
    callbacks: Arc<Mutex<Vec<Query>>>,
}

async fn relying_party() -> RelyingParty {
    let callbacks: Arc<Mutex<Vec<Query>>> = Arc::default();
    let seen = callbacks.clone();
    let app = Router::new().route(
        "/cb",
        get(move |extract::Query(q): extract::Query<Query>| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(q);
                Html("<!doctype html><title>RP</title><p id=rp-callback>Signed in.</p>")
            }
        }),
    );
    let port = serve(app).await;
    RelyingParty { redirect_uri: format!("http://localhost:{port}/cb"), callbacks }
}

fn web_client(redirect_uri: &str) -> ClientMetadata {
    ClientMetadata {
        client_name: "Ministry of Health ePIS".into(),
        token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
        redirect_uris: vec![RedirectUri::parse(redirect_uri).unwrap()],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scope: Scope::parse("openid profile").unwrap(),
        jwks: None,
        jwks_uri: None,
        sector_identifier: None,
        require_pushed_authorization_requests: false,
        allow_national_id: false,
        id_token_signed_response_alg: SigningAlg::ES256,
        backchannel_logout_uri: None,
        default_acr: None,
        resources: vec![],
    }
}

/// A PKCE verifier and its S256 challenge.
fn pkce() -> (String, String) {
    let verifier = idp::domain::secrets::random_token().unwrap();
    let challenge = B64URL.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()));
    (verifier, challenge)
}

/// Redeems the activation code on `/activate`; the page creates a passkey and shows the account.
pub(super) async fn activate(page: &Page, base: &str, cid: &str, code: &str) -> anyhow::Result<()> {
    page.navigate(&format!("{base}/activate")).await?;
    page.type_text("#cid", cid).await?;
    page.type_text("#code", code).await?;
    page.click("#activate").await?;
    page.wait_for(&format!("location.href.startsWith({})", js_str(&format!("{base}/account"))), STEP).await?;
    page.wait_for("document.querySelectorAll('#passkeys li').length === 1", STEP).await?;
    Ok(())
}

/// Follows `authorize_url` logged out: passkey sign-in, consent, and back to the client; returns
/// the URL the browser ends at.
async fn login(page: &Page, authorize_url: &str, redirect_uri: &str) -> anyhow::Result<String> {
    page.clear_cookies().await?;
    page.navigate(authorize_url).await?;
    page.wait_for_selector("#passkey-login", STEP).await?;
    page.click("#passkey-login").await?;
    page.wait_for_selector("#consent-allow", STEP).await?;
    page.click("#consent-allow").await?;
    page.wait_for(
        &format!("location.href.startsWith({}) && location.search.length > 1", js_str(&format!("{redirect_uri}?"))),
        STEP,
    )
    .await?;
    page.current_url().await
}

/// Activation in the browser, then a passkey login through the code flow with PKCE, then the
/// code redeemed for an ID token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_activation_and_login() {
    let Some(chromium) = chromium() else { return };
    let Some(idp) = support::start(Backend::Sqlite).await else {
        return;
    };
    let base = idp.base.clone();
    let code = issue_citizen(&idp).await;
    let rp = relying_party().await;
    let (client_id, secret) = register(&idp, web_client(&rp.redirect_uri)).await;
    let secret = secret.unwrap();

    let browser = Browser::launch(&chromium).await.unwrap();
    let page = browser.new_page().await.unwrap();
    let auth = page.add_virtual_authenticator().await.unwrap();

    // (c) The citizen activates the digital ID: one passkey, held by the authenticator.
    page.guard(activate(&page, &base, CID, &code)).await;
    let creds = page.credentials(&auth).await.unwrap();
    assert_eq!(creds.len(), 1, "one passkey was created: {creds:?}");
    assert_eq!(creds[0]["rpId"], "localhost");
    assert_eq!(creds[0]["isResidentCredential"], true, "a discoverable passkey");

    // (d) An agency's site sends the citizen to sign in, with cookies cleared.
    let (verifier, challenge) = pkce();
    let state = idp::domain::secrets::random_id().unwrap();
    let nonce = idp::domain::secrets::random_id().unwrap();
    let mut authorize = url::Url::parse(&format!("{base}/authorize")).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", &rp.redirect_uri)
        .append_pair("scope", "openid profile")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let landed = page.guard(login(&page, authorize.as_str(), &rp.redirect_uri)).await;
    eprintln!("browser_activation_and_login: landed at {landed}");

    let calls = rp.callbacks.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "the client's /cb was called once: {calls:?}");
    let param = |name: &str| {
        calls[0]
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("/cb without {name}: {calls:?}"))
    };
    let auth_code = param("code");
    assert_eq!(param("state"), state);
    assert_eq!(param("iss"), base);
    assert!(calls[0].iter().all(|(k, _)| k != "error"), "error redirect: {calls:?}");

    // (e) The agency's server redeems the code with its secret and the PKCE verifier.
    let r = http()
        .post(format!("{base}/token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", auth_code.as_str()),
            ("redirect_uri", rp.redirect_uri.as_str()),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let status = r.status();
    let tokens: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["access_token"].is_string(), "{tokens}");
    let id_token = tokens["id_token"].as_str().expect("an id_token");

    // The ID token validates against the published keys and carries the nonce.
    let jwks: jsonwebtoken::jwk::JwkSet =
        http().get(format!("{base}/jwks")).send().await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&[client_id.as_str()]);
    v.set_issuer(&[base.as_str()]);
    let claims =
        jsonwebtoken::decode::<Value>(id_token, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &v).unwrap().claims;
    assert_eq!(claims["nonce"], nonce.as_str());
    assert!(claims["sub"].as_str().is_some_and(|s| !s.is_empty()));

    drop(page);
    drop(browser);
    idp.stop().await;
}
