//! A complete agency application on Drukyul ID: a public home page, a page that needs the
//! logged-in citizen, a page that needs the `urn:drukyul:loa:high` assurance level (step-up),
//! a profile page that calls userinfo on the citizen's behalf, and an API protected by JWT
//! access tokens for other agencies.
//!
//! Register the client first (`idp client add`) with redirect URI `{AGENCY_URL}/auth/callback`,
//! post-logout redirect URI `{AGENCY_URL}/`, back-channel logout URI
//! `{AGENCY_URL}/auth/backchannel-logout`, then run:
//!
//! ```sh
//! DRUKYUL_ISSUER=http://localhost:8080 AGENCY_URL=http://localhost:3000 \
//! AGENCY_CLIENT_ID=... AGENCY_CLIENT_SECRET=... cargo run -p relying-party-sdk --example agency
//! ```
//!
//! (`AGENCY_CLIENT_KEY=key.pem` with `AGENCY_CLIENT_KEY_ID=...` instead of the secret uses
//! `private_key_jwt`, the better choice in production.)

use axum::{
    Json, Router,
    response::{Html, IntoResponse, Response},
    routing::get,
};
use relying_party_sdk::{
    Assured, AuthenticatedCitizen, Bearer, CitizenSession, ClientAuth, ClientKey, ClientSecret, Config, LoaHigh,
    MaybeCitizen, RelyingParty, RequiredScopes, SqlStore,
};

/// The scope other agencies need to read records through the API.
pub struct ReadRecords;
impl RequiredScopes for ReadRecords {
    const SCOPES: &'static [&'static str] = &["records.read"];
}

/// The application's own pages and API (no SDK wiring), so it can be extended and tested.
pub fn pages() -> Router {
    Router::new()
        .route("/", get(home))
        .route("/records", get(records))
        .route("/certificate", get(certificate))
        .route("/profile", get(profile))
        .route("/api/records", get(api_records))
}

/// The whole application: the pages, the SDK's routes, and the session layer around them all.
pub fn app(rp: &RelyingParty) -> Router {
    pages().merge(rp.routes()).layer(rp.session_layer())
}

/// Public page: shows who is logged in, if anyone.
async fn home(MaybeCitizen(citizen): MaybeCitizen) -> Html<String> {
    Html(match citizen {
        Some(c) => format!(
            "<p>Kuzuzangpo, {}!</p><p><a href=\"/records\">My records</a></p>\
             <form method=\"post\" action=\"/auth/logout\"><button>Log out</button></form>",
            esc(c.claim("name").unwrap_or("citizen"))
        ),
        None => "<p><a href=\"/auth/login?return_to=/records\">Log in with Drukyul ID</a></p>".into(),
    })
}

/// Needs a logged-in citizen: an anonymous visitor is sent to log in and comes back here.
async fn records(AuthenticatedCitizen(c): AuthenticatedCitizen) -> Html<String> {
    Html(format!(
        "<h1>Records of {}</h1><p>subject {} at {}</p>",
        esc(c.claim("name").unwrap_or("citizen")),
        esc(&c.sub),
        c.acr.map(|a| a.as_str()).unwrap_or("unknown assurance")
    ))
}

/// Needs assurance level high: a citizen logged in lower is asked to log in again at high.
async fn certificate(high: Assured<LoaHigh>) -> Html<String> {
    Html(format!("<h1>Certificate request</h1><p>for {} (high assurance)</p>", esc(&high.citizen().sub)))
}

/// Calls the provider's userinfo with the citizen's access token (refreshed when needed).
async fn profile(mut session: CitizenSession) -> Response {
    match session.userinfo().await {
        Ok(info) => Json(info).into_response(),
        Err(e) => e.into_response(),
    }
}

/// For other agencies: a JWT access token with `records.read`, validated offline.
async fn api_records(caller: Bearer<ReadRecords>) -> Json<serde_json::Value> {
    let c = caller.claims();
    Json(serde_json::json!({"caller": c.client_id, "scope": c.scope, "records": []}))
}

/// Minimal HTML escaping for text from the identity provider.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn env(name: &str, default: Option<&str>) -> Result<String, String> {
    std::env::var(name).or_else(|_| default.map(str::to_string).ok_or(format!("set {name}")))
}

/// The relying party, configured from the environment.
pub async fn relying_party_from_env() -> Result<RelyingParty, Box<dyn std::error::Error>> {
    let issuer = env("DRUKYUL_ISSUER", Some("http://localhost:8080"))?;
    let url = env("AGENCY_URL", Some("http://localhost:3000"))?;
    let client_id = env("AGENCY_CLIENT_ID", None)?;
    let auth = match (std::env::var("AGENCY_CLIENT_KEY"), std::env::var("AGENCY_CLIENT_SECRET")) {
        (Ok(path), _) => ClientAuth::PrivateKeyJwt(ClientKey::from_pkcs8_pem(
            env("AGENCY_CLIENT_KEY_ID", None)?,
            &std::fs::read_to_string(path)?,
        )?),
        (_, Ok(secret)) => ClientAuth::SecretBasic(ClientSecret::new(secret)),
        _ => return Err("set AGENCY_CLIENT_SECRET or AGENCY_CLIENT_KEY".into()),
    };
    let mut cfg = Config::new(issuer, client_id, auth, format!("{url}/auth/callback"));
    cfg.scopes = vec!["profile".into()];
    cfg.post_logout_redirect_uri = Some(format!("{url}/"));
    cfg.api_audience = Some(format!("{url}/api"));
    let store = SqlStore::connect(&env("AGENCY_DATABASE_URL", Some("sqlite://agency.db?mode=rwc"))?).await?;
    Ok(RelyingParty::new(cfg, store).await?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rp = relying_party_from_env().await?;
    let port: u16 = env("AGENCY_PORT", Some("3000"))?.parse()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("agency example on http://localhost:{port}/");
    axum::serve(listener, app(&rp)).await?;
    Ok(())
}
