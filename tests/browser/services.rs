//! One complete story through the real pages of the identity provider and an agency module, in
//! Chromium with virtual authenticators: a parent and a registrar each activate a digital ID
//! (passkey), the parent signs in to Integrated Citizen Services through the provider's login
//! and consent pages and registers a birth with the module's form, the registrar signs in in
//! their own browser and approves it on the review page, and the parent then sees the approved
//! application, the certificate's public page and its sealed PDF.
//!
//! What the module's pages must offer (the contract with modules/citizen-services): the form at
//! `/services/{id}` with inputs `#f-<field>` and a submit button in `form[action^="/services/"]`;
//! the review page with `button[value=approve]`; the certificate page linking `/pdf`.

use citizen_services::{App, Secret, Settings};
use idp::domain::{
    cid::Cid,
    client::{RedirectUri, Scope},
    registry::parse_csv,
};

use super::{Browser, Page, chromium, js_str, story::STEP};
use crate::{
    citizen,
    support::{self, Backend, register},
};

const PARENT: &str = "11512000123";
const REGISTRAR: &str = "10101001234";

/// Opens `path` of the module logged out (no provider session either, as on a fresh visit):
/// the provider's passkey login and consent, then back.
async fn sign_in(page: &Page, app: &str, path: &str) -> anyhow::Result<()> {
    page.clear_cookies().await?;
    page.navigate(&format!("{app}{path}")).await?;
    page.wait_for_selector("#passkey-login", STEP).await?;
    page.click("#passkey-login").await?;
    page.wait_for_selector("#consent-allow", STEP).await?;
    page.click("#consent-allow").await?;
    page.wait_for(&format!("location.href === {}", js_str(&format!("{app}{path}"))), STEP).await?;
    Ok(())
}

async fn parent_applies(page: &Page, app: &str) -> anyhow::Result<String> {
    sign_in(page, app, "/services/birth-registration").await?;
    let dob = (time::OffsetDateTime::now_utc().date() - time::Duration::days(2)).to_string();
    for (field, value) in [
        ("given_name", "Sonam"),
        ("family_name", "Wangmo"),
        ("date_of_birth", dob.as_str()),
        ("sex", "F"),
        ("dzongkhag", "Paro"),
        ("gewog", "Lungnyi"),
        ("village", "Jiwna"),
        ("household_number", "7"),
        ("mother_cid", PARENT),
        ("place_of_birth", "Paro Hospital"),
    ] {
        page.type_text(&format!("#f-{field}"), value).await?;
    }
    page.click("form[action^='/services/'] button").await?;
    page.wait_for("location.pathname.startsWith('/applications/')", STEP).await?;
    let body = page.body_text().await?;
    anyhow::ensure!(body.contains("submitted") && body.contains("Sonam"), "after submitting: {body}");
    let url = page.current_url().await?;
    Ok(url.rsplit('/').next().unwrap_or_default().to_string())
}

async fn registrar_approves(page: &Page, app: &str, id: &str) -> anyhow::Result<()> {
    sign_in(page, app, &format!("/office/applications/{id}")).await?;
    page.type_text("textarea[name=note], input[name=note]", "Hospital record checked").await?;
    page.click("button[value=approve]").await?;
    page.wait_for("document.body.innerText.includes('approved')", STEP).await?;
    Ok(())
}

async fn parent_sees_the_certificate(page: &Page, app: &str, id: &str) -> anyhow::Result<String> {
    page.navigate(&format!("{app}/applications/{id}")).await?;
    page.wait_for("document.body.innerText.includes('approved')", STEP).await?;
    page.click("a[href^='/certificates/']").await?;
    page.wait_for("document.body.innerText.includes('Valid.')", STEP).await?;
    let body = page.body_text().await?;
    anyhow::ensure!(body.contains("Birth certificate") && !body.contains(PARENT), "certificate page: {body}");
    page.wait_for_selector("a[href$='/pdf']", STEP).await?;
    let href = page.evaluate("document.querySelector(\"a[href$='/pdf']\").href").await?;
    Ok(href.as_str().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_birth_registration_through_idp_and_module() {
    let Some(chromium) = chromium() else { return };
    let Some(idp) = support::start(Backend::Sqlite).await else { return };
    let state = idp.state();
    let now = idp::domain::now();
    let today = time::OffsetDateTime::now_utc().date();
    state
        .import_registry(parse_csv(citizen::CSV.as_bytes(), today, 100), "browser.csv", "operator", now, &mut |_| {})
        .await
        .unwrap()
        .unwrap();
    idp::pki::init(state, now).await.unwrap();
    let code = |cid: &'static str| async move {
        state.issue_citizen(&Cid::parse(cid).unwrap(), "operator", now).await.unwrap().activation_code
    };
    let (parent_code, registrar_code) = (code(PARENT).await, code(REGISTRAR).await);

    // The module, registered and started as an operator would.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_url = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let mut web = citizen::web_client(&format!("{app_url}/auth/callback"));
    web.client_name = "Integrated Citizen Services".into();
    web.scope = Scope::parse("openid profile national_id").unwrap();
    web.allow_national_id = true;
    web.post_logout_redirect_uris = vec![RedirectUri::parse(&format!("{app_url}/")).unwrap()];
    let (client_id, client_secret) = register(&idp, web).await;
    let (service_id, service_secret) =
        register(&idp, support::api_client("Civil Registration", "registry.births registry.deaths seal")).await;
    let db = support::fresh_db(Backend::Sqlite).await.unwrap();
    let app = App::build(&Settings {
        listen: ([127, 0, 0, 1], 0).into(),
        public_url: app_url.clone(),
        database_url: db.url.clone(),
        issuer: idp.base.clone(),
        client_id,
        client_secret: Secret::new(client_secret.unwrap()),
        service_client_id: Some(service_id),
        service_client_secret: Some(Secret::new(service_secret.unwrap())),
        epis_url: None,
        epis_audience: None,
        catalogue: None,
    })
    .await
    .unwrap();
    let registrar = agency_kit::staff::StaffRole {
        cid: REGISTRAR.into(),
        role: "registrar".into(),
        unit: "DCRC".into(),
        name: "Karma Wangchuk".into(),
    };
    agency_kit::staff::grant(app.db(), &registrar, "operator", now).await.unwrap();
    let running = agency_kit::server::spawn(app.router(), listener).unwrap();

    // Two people, two browsers (each its own cookies and authenticator).
    let (parent_browser, registrar_browser) =
        (Browser::launch(&chromium).await.unwrap(), Browser::launch(&chromium).await.unwrap());
    let parent = parent_browser.new_page().await.unwrap();
    parent.add_virtual_authenticator().await.unwrap();
    let officer = registrar_browser.new_page().await.unwrap();
    officer.add_virtual_authenticator().await.unwrap();
    parent.guard(super::story::activate(&parent, &idp.base, PARENT, &parent_code)).await;
    officer.guard(super::story::activate(&officer, &idp.base, REGISTRAR, &registrar_code)).await;

    let id = parent.guard(parent_applies(&parent, &app_url)).await;
    officer.guard(registrar_approves(&officer, &app_url, &id)).await;
    let pdf_url = parent.guard(parent_sees_the_certificate(&parent, &app_url, &id)).await;

    // The module's records agree with what the pages showed; the PDF the page links verifies.
    let stored = citizen_services::applications::get(app.db(), &id).await.unwrap().unwrap();
    assert_eq!(stored.status, citizen_services::applications::Status::Approved);
    assert!(
        stored.notify_detail["registry_cid"].is_string(),
        "the child is in the registry: {:?}",
        stored.notify_detail
    );
    let pdf = support::http().get(&pdf_url).send().await.unwrap().bytes().await.unwrap();
    let sdk = relying_party_sdk::signing::SigningClient::new(idp.base.parse().unwrap(), support::http());
    assert!(sdk.verify_pdf(None, &pdf).await.unwrap().valid);

    drop(parent);
    drop(officer);
    drop(parent_browser);
    drop(registrar_browser);
    running.stop().await;
    idp.stop().await;
}
