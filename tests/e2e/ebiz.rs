//! e-business against the real identity provider, with software passkeys, on SQLite and
//! PostgreSQL: a citizen applies for an import/export licence, signs the application through
//! Drukyul ID's signing flow, and the signature verifies and names the applicant; a licensing
//! officer of the dzongkhag approves and the licence's public page (with its QR code) is open to
//! anyone, with the licence as a PDF sealed by the Ministry's seal that Drukyul ID verifies (a
//! changed byte does not). A refused signature is told to the applicant. An application whose stored bytes are
//! changed after signing fails verification and cannot be approved. Bad input changes nothing;
//! a user without the role gets 403 and an audit entry; the agency API answers only a token with
//! its scope; a trader with an import/export licence files a clearance that customs clears, and
//! one without is refused.

use agency_kit::audit;
use e_business::{App, Config, store};
use idp::domain::client::{GrantType, RedirectUri, Scope};
use relying_party_sdk::{ClientAuth, ClientSecret, Provider, ProviderOptions, ServiceClient};
use serde_json::Value;

use crate::{
    authenticator::ResidentSoftPasskey,
    both_backends,
    citizen::{self, Browser},
    signing,
    support::{self, Backend},
};

/// The applicant (and, later, a licensed trader).
const PEMA: &str = "11512000123";
/// A licensing officer of Paro.
const KARMA: &str = "10101001234";
/// A customs officer at Phuentsholing; no licensing role.
const DORJI: &str = "10305006007";

/// The module's CSRF field in a page.
fn form_csrf(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").expect("the page has a form") + 19;
    html[i..].split('"').next().unwrap().to_string()
}

/// One person: a browser and a passkey.
struct Person {
    b: Browser,
    key: ResidentSoftPasskey,
}

impl Person {
    /// Opens `page` at the module, logging in at the provider on the way when sent there.
    async fn open(&mut self, app: &str, page: &str) -> (u16, String) {
        let mut url = format!("{app}{page}");
        for _ in 0..8 {
            let (s, loc, body) = self.b.get(&url).await;
            if s != 303 {
                return (s, body);
            }
            let loc = loc.unwrap();
            url = if loc.starts_with('/') {
                format!("{app}{loc}")
            } else if loc.starts_with(app) {
                loc
            } else {
                citizen::login_through(&self.b, &mut self.key, &loc, true).await
            };
        }
        panic!("too many redirects opening {page}");
    }
    async fn post(&self, url: &str, form: &[(&str, &str)]) -> (u16, Option<String>, String) {
        self.b.post_form(url, form).await
    }
    /// Signs application `id` through the provider; returns where the module sent the browser
    /// after collecting the outcome.
    async fn sign(&mut self, app: &str, id: &str) -> String {
        let (s, page) = self.open(app, &format!("/applications/{id}")).await;
        assert_eq!(s, 200, "{page}");
        let (s, loc, body) = self.post(&format!("{app}/applications/{id}/sign"), &[("csrf", &form_csrf(&page))]).await;
        assert_eq!(s, 303, "{body}");
        let approve_url = loc.unwrap();
        let (s, fin) = signing::approve(&self.b, &mut self.key, &approve_url).await;
        assert_eq!(s, 200, "{fin}");
        let back = fin["redirect"].as_str().unwrap().to_string();
        assert!(back.starts_with(&format!("{app}/signed?")), "{back}");
        let (s, loc, body) = self.b.get(&back).await;
        assert_eq!(s, 303, "{body}");
        loc.unwrap()
    }
}

async fn count(app: &App, table: &str) -> i64 {
    store::count(app.db(), table).await.unwrap()
}

/// Writes an application of `kind` through the form; returns its number.
async fn apply(p: &mut Person, app: &str, kind: &str, fields: &[(&str, &str)]) -> String {
    let (s, form) = p.open(app, &format!("/apply/{kind}")).await;
    assert_eq!(s, 200, "{form}");
    let csrf = form_csrf(&form);
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    let (s, loc, body) = p.post(&format!("{app}/apply/{kind}"), &all).await;
    assert_eq!(s, 303, "{body}");
    loc.unwrap().strip_prefix("/applications/").unwrap().to_string()
}

async fn ebiz_story(backend: Backend) {
    let Some(idp) = support::start(backend).await else { return };
    let state = idp.state();
    let now = idp::domain::now();

    // The registry (three people), their digital IDs, the CA. The applicant's digital ID was
    // enrolled biometrically at a centre (signing needs loa:high).
    let mut codes = vec![citizen::import_and_issue(&idp, PEMA).await, citizen::import_and_issue(&idp, KARMA).await];
    let today = time::OffsetDateTime::now_utc().date();
    let csv =
        format!("{}{DORJI},Dorji,,Tshering,1980-02-02,M,Chhukha,Phuentsholing,Rinchending,9,alive\n", citizen::CSV);
    let people = idp::domain::registry::parse_csv(csv.as_bytes(), today, 100);
    state.import_registry(people, "more.csv", "operator", now, &mut |_| {}).await.unwrap().unwrap();
    let cid = idp::domain::cid::Cid::parse(DORJI).unwrap();
    codes.push(state.issue_citizen(&cid, "operator", now).await.unwrap().activation_code);
    let mut people = Vec::new();
    for (cid, code) in [PEMA, KARMA, DORJI].into_iter().zip(&codes) {
        let p = Person { b: Browser::new(&idp.base), key: ResidentSoftPasskey::new() };
        let mut p = p;
        citizen::activate(&p.b, &mut p.key, cid, code).await;
        people.push(p);
    }
    let mut dorji = people.pop().unwrap();
    let mut karma = people.pop().unwrap();
    let mut pema = people.pop().unwrap();
    citizen::raise_to_high(&idp, PEMA).await;
    idp::pki::init(state, now).await.unwrap();

    // The operator registers e-business: one client logs citizens in (releasing the CID), asks
    // them to sign (client credentials, `sign`), verifies signatures, and seals the licences it
    // issues (`seal`).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let mut web = citizen::web_client(&format!("{app}/auth/callback"));
    web.client_name = "e-business".into();
    web.redirect_uris.push(RedirectUri::parse(&format!("{app}/signed")).unwrap());
    web.grant_types.push(GrantType::ClientCredentials);
    web.scope = Scope::parse("openid profile national_id sign seal").unwrap();
    web.allow_national_id = true;
    web.post_logout_redirect_uris = vec![RedirectUri::parse(&format!("{app}/")).unwrap()];
    let (client_id, secret) = support::register(&idp, web).await;
    let db = support::fresh_db(backend).await.unwrap();
    let cfg = Config {
        public_url: app.clone(),
        database_url: Some(db.url.clone()),
        issuer: idp.base.clone(),
        client_id: client_id.clone(),
        client_secret: secret,
        ..Config::default()
    };
    let ebiz = App::build(&cfg).await.unwrap();
    let running = agency_kit::server::spawn(ebiz.router(), listener).unwrap();
    let catalogue = e_business::Catalogue::built_in().unwrap();
    e_business::add_staff(ebiz.db(), &catalogue, KARMA, "licensing_officer", "Paro", "Karma Wangchuk", "operator", now)
        .await
        .unwrap();
    e_business::add_staff(ebiz.db(), &catalogue, DORJI, "customs_officer", "PLG", "Dorji Tshering", "operator", now)
        .await
        .unwrap();
    assert!(
        e_business::add_staff(ebiz.db(), &catalogue, DORJI, "customs_officer", "Atlantis", "D", "operator", now)
            .await
            .is_err(),
        "a unit that is no customs office"
    );

    // Pema applies for an import/export licence. Bad input: a message per field, nothing stored;
    // a forged CSRF token: refused.
    let (s, form) = pema.open(&app, "/apply/import-export").await;
    assert_eq!(s, 200, "{form}");
    assert!(form.contains("Import/export trade licence") && form.contains("Principal goods traded"), "{form}");
    let csrf = form_csrf(&form);
    let good = [
        ("csrf", csrf.as_str()),
        ("business_name", "Pema Trading"),
        ("activity", "Importing tea and spices, exporting handicrafts"),
        ("dzongkhag", "Paro"),
        ("location", "Paro town, Norzin Lam, plot 12"),
        ("trade_direction", "import and export"),
        ("principal_goods", "Tea, spices, handicrafts"),
    ];
    let url = format!("{app}/apply/import-export");
    let mut bad = good.to_vec();
    bad[1] = ("business_name", "");
    bad[3] = ("dzongkhag", "Atlantis");
    bad[5] = ("trade_direction", "smuggling");
    let (s, _, page) = pema.post(&url, &bad).await;
    assert_eq!(s, 400, "{page}");
    for message in ["Business name is required", "Choose the dzongkhag", "Trade: choose one of", "nothing was saved"] {
        assert!(page.contains(message), "{message}: {page}");
    }
    let mut forged = good.to_vec();
    forged[0] = ("csrf", "forged");
    assert_eq!(pema.post(&url, &forged).await.0, 403);
    assert_eq!(count(&ebiz, "applications").await, 0, "bad input stores nothing");

    let (s, loc, body) = pema.post(&url, &good).await;
    assert_eq!(s, 303, "{body}");
    let id = loc.unwrap().strip_prefix("/applications/").unwrap().to_string();
    let stored = store::application_by_id(ebiz.db(), &id).await.unwrap().unwrap();
    assert_eq!(stored.status.as_str(), "awaiting_signature");
    let (s, page) = pema.open(&app, &format!("/applications/{id}")).await;
    assert_eq!(s, 200);
    assert!(page.contains("awaiting your signature") && page.contains("Pema Trading"), "{page}");
    assert!(page.contains(&e_business::domain::sha256_hex(stored.document.as_bytes())), "the digest that is signed");

    // She signs it through Drukyul ID; the module collects the signature, has it verified (the
    // signer's CID is hers) and sends the application to the licensing office.
    let back = pema.sign(&app, &id).await;
    assert_eq!(back, format!("/applications/{id}"));
    let signed = store::application_by_id(ebiz.db(), &id).await.unwrap().unwrap();
    assert_eq!(signed.status.as_str(), "submitted", "{}", signed.sign_note);
    assert_eq!(signed.signer_name.as_deref(), Some("Pema Choden"));
    assert!(signed.verification.valid);
    assert_eq!(signed.verification.cid.as_deref(), Some(PEMA), "the signature names the applicant");
    assert_eq!(signed.verification.certificate_status.as_deref(), Some("good"));
    assert_eq!(signed.document, stored.document, "the signed bytes are the stored bytes");
    let entries = audit::about(ebiz.db(), &format!("application:{id}"), 20).await.unwrap();
    assert!(entries.iter().any(|e| e.action == "application_signed" && e.actor == format!("citizen:{PEMA}")));
    let (s, page) = pema.open(&app, &format!("/applications/{id}")).await;
    assert_eq!(s, 200);
    assert!(page.contains("Signed by Pema Choden"), "{page}");

    // A second application (a retail licence); she refuses to sign at Drukyul ID: told so, and
    // it stays unsent.
    let retail = apply(
        &mut pema,
        &app,
        "retail",
        &[
            ("business_name", "Pema General Shop"),
            ("activity", "Groceries"),
            ("dzongkhag", "Paro"),
            ("location", "Paro town"),
            ("goods_category", "grocery"),
            ("floor_area", "40"),
        ],
    )
    .await;
    let (_, page) = pema.open(&app, &format!("/applications/{retail}")).await;
    let (s, loc, _) = pema.post(&format!("{app}/applications/{retail}/sign"), &[("csrf", &form_csrf(&page))]).await;
    assert_eq!(s, 303);
    let approve = loc.unwrap();
    let req = approve.split("req=").nth(1).unwrap().to_string();
    let idp_csrf = pema.b.csrf(&format!("/sign/approve?req={req}")).await;
    let (s, loc, _) = pema.b.post_form("/sign/refuse", &[("csrf", &idp_csrf), ("req", &req)]).await;
    assert_eq!(s, 303);
    let (s, loc, body) = pema.b.get(&loc.unwrap()).await;
    assert_eq!(s, 303, "{body}");
    assert_eq!(loc.unwrap(), format!("/applications/{retail}"));
    let (_, page) = pema.open(&app, &format!("/applications/{retail}")).await;
    assert!(page.contains("You refused to sign") && page.contains("awaiting your signature"), "{page}");
    assert_eq!(
        store::application_by_id(ebiz.db(), &retail).await.unwrap().unwrap().status.as_str(),
        "awaiting_signature"
    );

    // She tries again but comes back before deciding (told to wait), and then lets the request
    // expire at Drukyul ID (told so; still unsent).
    let (_, page) = pema.open(&app, &format!("/applications/{retail}")).await;
    let (s, loc, _) = pema.post(&format!("{app}/applications/{retail}/sign"), &[("csrf", &form_csrf(&page))]).await;
    assert_eq!(s, 303);
    let req = loc.unwrap().split("req=").nth(1).unwrap().to_string();
    let (s, page) = pema.open(&app, &format!("/signed?sign_request={req}")).await;
    assert_eq!(s, 200);
    assert!(page.contains("has not recorded your decision yet"), "{page}");
    sqlx::any::install_default_drivers();
    let idp_pool = sqlx::AnyPool::connect(&idp.db.url).await.unwrap();
    sqlx::query("UPDATE sign_requests SET expires_at = 0 WHERE id = $1").bind(&req).execute(&idp_pool).await.unwrap();
    idp_pool.close().await;
    let (s, page) = pema.open(&app, &format!("/signed?sign_request={req}")).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("The signing request expired") && page.contains("awaiting your signature"), "{page}");
    assert_eq!(pema.open(&app, &format!("/signed?sign_request={req}")).await.0, 404, "collected once");
    assert_eq!(pema.open(&app, "/signed?sign_request=../etc").await.0, 400);
    let trail = audit::about(ebiz.db(), &format!("application:{retail}"), 20).await.unwrap();
    assert!(
        ["signature_refused", "signature_expired"].iter().all(|a| trail.iter().any(|e| e.action == *a)),
        "{trail:?}"
    );

    // Without the licensing role at Paro: 403 and an audit entry (the page and the decision).
    let review = format!("/office/applications/{id}");
    assert_eq!(dorji.open(&app, &review).await.0, 403, "a customs officer is no licensing officer");
    assert_eq!(pema.open(&app, "/office").await.0, 403, "a citizen without any role");
    let (s, _, _) = pema.post(&format!("{app}{review}/decision"), &[("csrf", &csrf), ("decision", "approve")]).await;
    assert_eq!(s, 403);
    let denied = audit::with_action(ebiz.db(), "role_denied", 20).await.unwrap();
    assert!(denied.iter().any(|e| e.actor == format!("citizen:{DORJI}") && e.subject == format!("application:{id}")));
    assert!(denied.iter().any(|e| e.actor == format!("citizen:{PEMA}") && e.flagged), "{denied:?}");
    assert_eq!(count(&ebiz, "licences").await, 0);

    // The licensing officer sees the queue and the signature verified again, and approves.
    let (s, queue) = karma.open(&app, "/office").await;
    assert_eq!(s, 200, "{queue}");
    assert!(queue.contains(&id) && !queue.contains(&retail), "only signed applications wait: {queue}");
    let (s, page) = karma.open(&app, &review).await;
    assert_eq!(s, 200, "{page}");
    for shown in [
        "Valid: the applicant",
        "Pema Choden",
        "Signer is the applicant</th><td>yes",
        "Certificate status</th><td>good",
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    assert!(
        page.contains("value=\"approve\"") && page.contains("Principal goods traded"),
        "labels from the licence type: {page}"
    );
    let kcsrf = form_csrf(&page);
    let (s, _, page) =
        karma.post(&format!("{app}{review}/decision"), &[("csrf", &kcsrf), ("decision", "reject")]).await;
    assert_eq!(s, 400, "a rejection needs its reason: {page}");
    let (s, _, _) = karma.post(&format!("{app}{review}/decision"), &[("csrf", &kcsrf), ("decision", "maybe")]).await;
    assert_eq!(s, 400);
    let (s, _, body) = karma
        .post(
            &format!("{app}{review}/decision"),
            &[("csrf", &kcsrf), ("decision", "approve"), ("note", "Premises inspected")],
        )
        .await;
    assert_eq!(s, 303, "{body}");
    let licence = store::licence_of_application(ebiz.db(), &id).await.unwrap().expect("a licence is issued");
    assert!(e_business::domain::is_licence_number(&licence.number), "{}", licence.number);
    assert!(licence.trade && licence.trade_direction == "import and export");
    let (s, _, _) = karma
        .post(&format!("{app}{review}/decision"), &[("csrf", &kcsrf), ("decision", "reject"), ("note", "again")])
        .await;
    assert_eq!(s, 409, "decided once");

    // The licence's public page: no login, the business and its validity, a QR code, no CID.
    let anon = Browser::new(&app);
    let r = support::http().get(format!("{app}/licences/{}", licence.number)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"), "{csp}");
    let page = r.text().await.unwrap();
    for shown in ["Pema Trading", "Import/export trade licence", "active", "Paro", &licence.number] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    assert!(!page.contains(PEMA) && !page.contains("<script"), "no CID, no script: {page}");
    assert!(page.contains(&format!("src=\"/licences/{}/qr.svg\"", licence.number)), "{page}");
    let r = support::http().get(format!("{app}/licences/{}/qr.svg", licence.number)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    let svg = r.text().await.unwrap();
    assert!(svg.contains("<svg") && svg.contains("<path"), "{svg}");
    assert_eq!(anon.get("/licences/BL-2025-0000000000").await.0, 404);
    assert_eq!(anon.get("/licences/nonsense").await.0, 404);
    let (s, loc, _) = anon.get(&format!("/licences?number={}", licence.number.to_lowercase())).await;
    assert_eq!((s, loc), (303, Some(format!("/licences/{}", licence.number))));
    // The licence as a PDF sealed by the Ministry at approval, as public as its page: Drukyul
    // ID verifies it and names e-business's client as the sealing agency; the same PDF with
    // one changed byte does not verify.
    assert!(licence.sealed, "sealed at approval: {}", licence.seal_error);
    assert!(page.contains(&format!("href=\"/licences/{}/pdf\"", licence.number)), "{page}");
    let r = support::http().get(format!("{app}/licences/{}/pdf", licence.number)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let pdf = r.bytes().await.unwrap().to_vec();
    let sdk = relying_party_sdk::signing::SigningClient::new(idp.base.parse().unwrap(), support::http());
    let v = sdk.verify_pdf(None, &pdf).await.unwrap();
    assert!(v.valid, "{v:?}");
    assert_eq!(v.agency.as_deref(), Some(client_id.as_str()));
    assert_eq!(v.signer.as_deref(), Some("e-business"));
    assert_eq!(v.certificate_status.as_deref(), Some("good"));
    for shown in [licence.number.as_str(), "Pema Trading", "Import/export trade licence", "Paro"] {
        assert!(pdf.windows(shown.len()).any(|w| w == shown.as_bytes()), "the PDF shows {shown}");
    }
    assert!(!pdf.windows(PEMA.len()).any(|w| w == PEMA.as_bytes()), "no CID on the licence");
    let mut changed = pdf.clone();
    let at = pdf.windows(5).position(|w| w == b"Pema ").unwrap();
    changed[at] = b'p';
    assert!(!sdk.verify_pdf(None, &changed).await.unwrap().valid, "a changed licence does not verify");
    assert_eq!(anon.get("/licences/BL-2025-0000000000/pdf").await.0, 404);
    assert_eq!(anon.get("/licences/nonsense/pdf").await.0, 404);
    assert_eq!(ebiz.retry_pending(idp::domain::now()).await.unwrap(), 0, "nothing left to seal");
    // A licence left unsealed (the identity provider was unreachable at approval, or it was
    // issued before sealing existed): the page says so, there is no PDF, and the retry seals it.
    sqlx::query("UPDATE licences SET pdf = NULL, sealed_at = NULL, seal_error = 'unreachable' WHERE number = $1")
        .bind(&licence.number)
        .execute(ebiz.db().pool())
        .await
        .unwrap();
    let (_, _, page) = anon.get(&format!("/licences/{}", licence.number)).await;
    assert!(page.contains("being prepared") && !page.contains("/pdf\""), "{page}");
    assert_eq!(anon.get(&format!("/licences/{}/pdf", licence.number)).await.0, 404);
    assert_eq!(ebiz.retry_pending(idp::domain::now()).await.unwrap(), 0);
    let again = store::licence_by_number(ebiz.db(), &licence.number).await.unwrap().unwrap();
    assert!(again.sealed && again.seal_error.is_empty(), "{}", again.seal_error);
    let r = support::http().get(format!("{app}/licences/{}/pdf", licence.number)).send().await.unwrap();
    assert!(sdk.verify_pdf(None, &r.bytes().await.unwrap()).await.unwrap().valid);

    // A third application, signed; then its stored bytes are changed (by someone with access to
    // the database). The signature no longer verifies and the application cannot be approved.
    let cafe = apply(
        &mut pema,
        &app,
        "restaurant",
        &[
            ("business_name", "Pema Cafe"),
            ("activity", "Cafe and bakery"),
            ("dzongkhag", "Paro"),
            ("location", "Paro town"),
            ("seating_capacity", "24"),
            ("food_safety_certificate", "BFDA-FH-0042"),
        ],
    )
    .await;
    pema.sign(&app, &cafe).await;
    assert_eq!(store::application_by_id(ebiz.db(), &cafe).await.unwrap().unwrap().status.as_str(), "submitted");
    sqlx::query("UPDATE applications SET document = REPLACE(document, '\"24\"', '\"240\"') WHERE id = $1")
        .bind(&cafe)
        .execute(ebiz.db().pool())
        .await
        .unwrap();
    let (s, page) = karma.open(&app, &format!("/office/applications/{cafe}")).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("Not acceptable") && page.contains("240"), "{page}");
    assert!(!page.contains("value=\"approve\""), "no approve button for a signature that does not verify");
    let (s, _, body) = karma
        .post(
            &format!("{app}/office/applications/{cafe}/decision"),
            &[("csrf", &form_csrf(&page)), ("decision", "approve")],
        )
        .await;
    assert_eq!(s, 409, "{body}");
    assert!(body.contains("cannot be approved"), "{body}");
    assert_eq!(store::application_by_id(ebiz.db(), &cafe).await.unwrap().unwrap().status.as_str(), "submitted");
    assert!(store::licence_of_application(ebiz.db(), &cafe).await.unwrap().is_none());
    assert_eq!(count(&ebiz, "licences").await, 1);
    let refused = audit::with_action(ebiz.db(), "approval_refused", 5).await.unwrap();
    assert!(refused.iter().any(|e| e.subject == format!("application:{cafe}") && e.flagged), "{refused:?}");

    // The agency API: a bank looks the licence up with ebiz.licences; no token 401, another
    // agency's scope 403.
    let provider = Provider::discover(&idp.base, ProviderOptions::default()).await.unwrap();
    let caller = |name: &str, scope: &str| {
        let mut m = support::api_client(name, scope);
        m.resources = vec![format!("{app}/api")];
        m
    };
    let (bank_id, bank_secret) = support::register(&idp, caller("Bank of Bhutan", "ebiz.licences")).await;
    let (emis_id, emis_secret) = support::register(&idp, caller("EMIS", "emis.students")).await;
    let bank =
        ServiceClient::new(&provider, &bank_id, ClientAuth::SecretBasic(ClientSecret::new(bank_secret.unwrap())))
            .unwrap();
    let emis =
        ServiceClient::new(&provider, &emis_id, ClientAuth::SecretBasic(ClientSecret::new(emis_secret.unwrap())))
            .unwrap();
    let token = bank.token("ebiz.licences", None, now).await.unwrap();
    let other = emis.token("emis.students", None, now).await.unwrap();
    let api = format!("{app}/api/licences/{}", licence.number);
    let http = support::http();
    assert_eq!(http.get(&api).send().await.unwrap().status(), 401, "no token");
    let r = http.get(&api).bearer_auth(&other).send().await.unwrap();
    assert_eq!(r.status(), 403, "another agency's scope");
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("insufficient_scope"));
    let r = http.get(&api).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!((v["business_name"].as_str(), v["status"].as_str()), (Some("Pema Trading"), Some("active")), "{v}");
    assert!(v.get("holder_cid").is_none() && !v.to_string().contains(PEMA), "{v}");
    let r = http.get(format!("{app}/api/licences/BL-2025-0000000000")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = http.get(format!("{app}/api/licences/xyz")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    let looked = audit::with_action(ebiz.db(), "licence_looked_up", 5).await.unwrap();
    assert!(looked.iter().any(|e| e.actor == format!("client:{bank_id}")), "{looked:?}");

    // The single window: Pema (an import/export licence in force) files a declaration; bad input
    // is refused with nothing filed.
    let (s, page) = pema.open(&app, "/clearances/new").await;
    assert_eq!(s, 200, "{page}");
    let pcsrf = form_csrf(&page);
    let declaration = [
        ("csrf", pcsrf.as_str()),
        ("licence", licence.number.as_str()),
        ("direction", "import"),
        ("hs_code", "0902.30"),
        ("description", "Black tea in packets"),
        ("quantity", "500"),
        ("unit", "kg"),
        ("value", "125000.50"),
        ("country", "IN"),
        ("port", "PLG"),
    ];
    let mut bad = declaration.to_vec();
    bad[3] = ("hs_code", "09");
    bad[7] = ("value", "-1");
    let (s, _, page) = pema.post(&format!("{app}/clearances/new"), &bad).await;
    assert_eq!(s, 400, "{page}");
    assert!(page.contains("6 to 10 digits") && page.contains("nothing was filed"), "{page}");
    assert_eq!(count(&ebiz, "clearances").await, 0);
    let (s, loc, body) = pema.post(&format!("{app}/clearances/new"), &declaration).await;
    assert_eq!((s, loc.as_deref()), (303, Some("/clearances")), "{body}");
    let filed = store::clearances_of(ebiz.db(), PEMA).await.unwrap();
    assert_eq!(filed.len(), 1);
    let clearance = filed[0].id.clone();
    assert_eq!((filed[0].hs_code.as_str(), filed[0].value_chhertum), ("090230", 12_500_050));

    // Karma holds no import/export licence: refused (the form and a forged post), audited.
    let (s, _) = karma.open(&app, "/clearances/new").await;
    assert_eq!(s, 403);
    let (_, home) = karma.open(&app, "/").await;
    let kc = form_csrf(&home);
    let mut theirs = declaration.to_vec();
    theirs[0] = ("csrf", kc.as_str());
    let (s, _, body) = karma.post(&format!("{app}/clearances/new"), &theirs).await;
    assert_eq!(s, 403, "someone else's licence: {body}");
    assert_eq!(count(&ebiz, "clearances").await, 1);
    let refusals = audit::with_action(ebiz.db(), "clearance_refused", 5).await.unwrap();
    assert!(refusals.iter().filter(|e| e.actor == format!("citizen:{KARMA}")).count() >= 2, "{refusals:?}");

    // Customs at Phuentsholing: the licensing officer may not decide it; the customs officer
    // holds it only with a reason, then clears it.
    let customs = format!("/customs/clearances/{clearance}");
    assert_eq!(karma.open(&app, &customs).await.0, 403);
    let (s, page) = dorji.open(&app, &customs).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("Black tea") && page.contains("Nu. 125000.50"), "{page}");
    let dcsrf = form_csrf(&page);
    let decide = format!("{app}{customs}/decision");
    assert_eq!(dorji.post(&decide, &[("csrf", &dcsrf), ("action", "hold")]).await.0, 400, "a hold needs its reason");
    assert_eq!(dorji.post(&decide, &[("csrf", &dcsrf), ("action", "hold"), ("note", "Invoice missing")]).await.0, 303);
    assert_eq!(dorji.post(&decide, &[("csrf", &dcsrf), ("action", "clear")]).await.0, 303);
    let done = store::clearance_by_id(ebiz.db(), &clearance).await.unwrap().unwrap();
    assert_eq!(done.status.as_str(), "cleared");
    assert_eq!(done.decided_by.as_deref(), Some(format!("staff:{DORJI}").as_str()));
    assert_eq!(dorji.post(&decide, &[("csrf", &dcsrf), ("action", "hold"), ("note", "x")]).await.0, 409);
    let trail = audit::about(ebiz.db(), &format!("clearance:{clearance}"), 20).await.unwrap();
    for action in ["clearance_filed", "clearance_held", "clearance_cleared", "role_denied"] {
        assert!(trail.iter().any(|e| e.action == action), "{action}: {trail:?}");
    }

    // Officers are added by an administrator: anyone else is refused (audited); a unit that is
    // no dzongkhag or customs office is refused with nothing granted.
    assert_eq!(pema.open(&app, "/admin/staff").await.0, 403);
    assert!(audit::with_action(ebiz.db(), "role_denied", 50).await.unwrap().iter().any(|e| e.subject == "staff"));
    e_business::add_staff(ebiz.db(), &catalogue, KARMA, "administrator", "", "Karma Wangchuk", "operator", now)
        .await
        .unwrap();
    let (s, page) = karma.open(&app, "/admin/staff").await;
    assert_eq!(s, 200, "{page}");
    let acsrf = form_csrf(&page);
    let add = |role: &'static str, unit: &'static str| {
        [
            ("csrf", acsrf.clone()),
            ("cid", DORJI.into()),
            ("name", "Dorji Tshering".into()),
            ("role", role.into()),
            ("unit", unit.into()),
        ]
    };
    let before = agency_kit::staff::roles_of(ebiz.db(), DORJI).await.unwrap();
    for (role, unit) in
        [("licensing_officer", "Atlantis"), ("customs_officer", "XYZ"), ("administrator", ""), ("king", "Paro")]
    {
        let form = add(role, unit);
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(karma.post(&format!("{app}/admin/staff"), &form).await.0, 400, "{role} at {unit}");
    }
    assert_eq!(agency_kit::staff::roles_of(ebiz.db(), DORJI).await.unwrap(), before, "nothing granted");
    let form = add("licensing_officer", "Chhukha");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(karma.post(&format!("{app}/admin/staff"), &form).await.0, 303);
    let roles = agency_kit::staff::roles_of(ebiz.db(), DORJI).await.unwrap();
    assert!(roles.iter().any(|r| r.role == "licensing_officer" && r.unit == "Chhukha"), "{roles:?}");

    running.stop().await;
    idp.stop().await;
}
both_backends!(ebiz_story);
