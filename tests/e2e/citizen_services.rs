//! Integrated Citizen Services against the real identity provider, with software passkeys: a
//! parent logs in and registers a birth, an officer of the registrar's office approves, and the
//! child exists in the civil registry with a new CID and in ePIS (running beside it, called with
//! a client-credentials token for its API; a retry calls nothing twice). A death registration (after
//! step-up to `loa:high`) is a service the citizen signs: it reaches the office only once the
//! applicant has signed it through the provider's signing flow with their passkey (a refusal is
//! told and they sign again), and the officer sees the signature verified and naming the
//! applicant; before that it cannot be approved. Approved, it closes the digital ID — the
//! person can no longer log in — and stops their pension. Bad input changes nothing; a user without the role gets 403 and an audit
//! entry. SQLite and PostgreSQL.

use agency_kit::{audit, staff::StaffRole};
use citizen_services::{App, Secret, Settings, applications};
use idp::domain::client::{GrantType, RedirectUri, Scope};
use serde_json::json;

use crate::{
    authenticator::{Authenticator, ResidentSoftPasskey},
    both_backends,
    citizen::{self, Browser},
    signing,
    support::{self, Backend},
};

const PARENT: &str = "11512000123";
const OFFICER: &str = "10101001234";
const ELDER: &str = "10305006007";

/// The form's CSRF field (the kit's double-submit token).
fn form_csrf(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").expect("the page has a form") + 19;
    html[i..].split('"').next().unwrap().to_string()
}

/// Opens `page` at the module, logging in (or stepping up) at the provider on the way when
/// asked; returns the final status and body.
async fn open(b: &Browser, key: &mut ResidentSoftPasskey, app: &str, page: &str) -> (u16, String) {
    let mut url = format!("{app}{page}");
    for _ in 0..8 {
        let (s, loc, body) = b.get(&url).await;
        if s != 303 {
            return (s, body);
        }
        let loc = loc.unwrap();
        url = if loc.starts_with('/') {
            format!("{app}{loc}")
        } else if loc.starts_with(app) {
            loc
        } else {
            citizen::login_through(b, key, &loc, true).await
        };
    }
    panic!("too many redirects opening {page}");
}

async fn post(b: &Browser, url: &str, form: &[(&str, &str)]) -> (u16, Option<String>, String) {
    b.post_form(url, form).await
}

async fn applications_count(app: &App) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM applications").fetch_one(app.db().pool()).await.unwrap()
}

async fn citizen_services_story(backend: Backend) {
    let Some(idp) = support::start(backend).await else { return };
    let state = idp.state();
    // The registry (two people, then a third), and three activated digital IDs.
    let parent_code = citizen::import_and_issue(&idp, PARENT).await;
    let officer_code = citizen::import_and_issue(&idp, OFFICER).await;
    let today = time::OffsetDateTime::now_utc().date();
    let csv = format!("{}{ELDER},Dorji,,Tshering,1940-02-02,M,Paro,Lungnyi,Jiwna,7,alive\n", citizen::CSV);
    let people = idp::domain::registry::parse_csv(csv.as_bytes(), today, 100);
    let now = idp::domain::now();
    state.import_registry(people, "more.csv", "operator", now, &mut |_| {}).await.unwrap().unwrap();
    // The CA, for the agency's seal on the certificates it issues.
    idp::pki::init(state, now).await.unwrap();
    let elder_code = state
        .issue_citizen(&idp::domain::cid::Cid::parse(ELDER).unwrap(), "operator", now)
        .await
        .unwrap()
        .activation_code;
    let (pb, ob, eb) = (Browser::new(&idp.base), Browser::new(&idp.base), Browser::new(&idp.base));
    let (mut pk, mut ok, mut ek) = (ResidentSoftPasskey::new(), ResidentSoftPasskey::new(), ResidentSoftPasskey::new());
    citizen::activate(&pb, &mut pk, PARENT, &parent_code).await;
    citizen::activate(&ob, &mut ok, OFFICER, &officer_code).await;
    citizen::activate(&eb, &mut ek, ELDER, &elder_code).await;
    // The elder has a signing certificate (issued on first use, as when signing).
    let elder_account = idp::store::login::account_by_cid(&state.db, ELDER).await.unwrap().unwrap();
    let elder_cert = idp::pki::citizen_certificate(state, &elder_account.id, "test", now).await.unwrap();

    // ePIS runs beside it (its own client and database): a registered birth reaches it.
    let epis_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let epis_url = format!("http://localhost:{}", epis_listener.local_addr().unwrap().port());
    let mut epis_web = citizen::web_client(&format!("{epis_url}/auth/callback"));
    epis_web.client_name = "ePIS".into();
    epis_web.scope = Scope::parse("openid profile national_id").unwrap();
    epis_web.allow_national_id = true;
    let (epis_id, epis_secret) = support::register(&idp, epis_web).await;
    let epis_db = support::fresh_db(backend).await.unwrap();
    let epis_cfg = epis::Config {
        public_url: epis_url.clone(),
        database_url: Some(epis_db.url.clone()),
        issuer: idp.base.clone(),
        client_id: epis_id,
        client_secret: epis_secret,
        ..epis::Config::default()
    };
    let (epis_router, epis_store) = epis::build(&epis_cfg).await.unwrap();
    let epis_running = agency_kit::server::spawn(epis_router, epis_listener).unwrap();
    // The operator registers the module's web client (releasing the CID; with its own
    // client-credentials token it asks citizens to sign, returning to `/signed`, and has their
    // signatures verified) and its service client (the registry's scopes); the module starts
    // on its own database.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_url = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let mut web = citizen::web_client(&format!("{app_url}/auth/callback"));
    web.client_name = "Integrated Citizen Services".into();
    web.scope = Scope::parse("openid profile national_id sign").unwrap();
    web.redirect_uris.push(RedirectUri::parse(&format!("{app_url}/signed")).unwrap());
    web.grant_types.push(GrantType::ClientCredentials);
    web.allow_national_id = true;
    web.post_logout_redirect_uris = vec![RedirectUri::parse(&format!("{app_url}/")).unwrap()];
    let (client_id, client_secret) = support::register(&idp, web).await;
    let (service_id, service_secret) = support::register(&idp, {
        let mut m = support::api_client(
            "Integrated Citizen Services (registry)",
            "registry.births registry.deaths epis.patients seal",
        );
        m.resources = vec![format!("{epis_url}/api")];
        m
    })
    .await;
    let db = support::fresh_db(backend).await.unwrap();
    let settings = Settings {
        listen: ([127, 0, 0, 1], 0).into(),
        public_url: app_url.clone(),
        database_url: db.url.clone(),
        issuer: idp.base.clone(),
        client_id,
        client_secret: Secret::new(client_secret.unwrap()),
        service_client_id: Some(service_id.clone()),
        service_client_secret: Some(Secret::new(service_secret.unwrap())),
        epis_url: Some(epis_url.clone()),
        epis_audience: None,
        catalogue: None,
    };
    let app = App::build(&settings).await.unwrap();
    let running = agency_kit::server::spawn(app.router(), listener).unwrap();
    let registrar =
        StaffRole { cid: OFFICER.into(), role: "registrar".into(), unit: "DCRC".into(), name: "Karma Wangchuk".into() };
    agency_kit::staff::grant(app.db(), &registrar, "operator", now).await.unwrap();
    let pension_officer = StaffRole {
        cid: PARENT.into(),
        role: "pension_officer".into(),
        unit: "NPPF".into(),
        name: "Pema Choden".into(),
    };
    agency_kit::staff::grant(app.db(), &pension_officer, "operator", now).await.unwrap();

    // The parent logs in through the provider and opens the birth registration form.
    let (s, form) = open(&pb, &mut pk, &app_url, "/services/birth-registration").await;
    assert_eq!(s, 200, "{form}");
    assert!(form.contains("Child&#39;s given name") || form.contains("Child's given name"), "{form}");
    let csrf = form_csrf(&form);
    let good = [
        ("csrf", csrf.as_str()),
        ("given_name", "Sonam"),
        ("family_name", "Wangmo"),
        ("date_of_birth", &(today - time::Duration::days(3)).to_string()),
        ("sex", "F"),
        ("dzongkhag", "Paro"),
        ("gewog", "Lungnyi"),
        ("village", "Jiwna"),
        ("household_number", "7"),
        ("mother_cid", PARENT),
        ("father_cid", ""),
        ("middle_name", ""),
        ("place_of_birth", "Paro Hospital"),
    ];
    let birth_url = format!("{app_url}/services/birth-registration");

    // Bad input: a clear error per field, nothing stored. A forged CSRF token: refused.
    let mut bad = good.to_vec();
    bad[1] = ("given_name", "");
    bad[3] = ("date_of_birth", "2999-01-01");
    bad[9] = ("mother_cid", "123");
    let (s, _, page) = post(&pb, &birth_url, &bad).await;
    assert_eq!(s, 400, "{page}");
    for message in ["given name is required", "cannot be in the future", "must be a CID: 11 digits"] {
        assert!(page.contains(message), "{message}: {page}");
    }
    let mut forged = good.to_vec();
    forged[0] = ("csrf", "forged");
    assert_eq!(post(&pb, &birth_url, &forged).await.0, 403);
    assert_eq!(applications_count(&app).await, 0, "bad input stores nothing");

    // The application.
    let (s, loc, body) = post(&pb, &birth_url, &good).await;
    assert_eq!(s, 303, "{body}");
    let loc = loc.unwrap();
    let id = loc.strip_prefix("/applications/").unwrap().to_string();
    let (s, mine) = open(&pb, &mut pk, &app_url, &loc).await;
    assert_eq!(s, 200);
    assert!(mine.contains("submitted") && mine.contains("Sonam"), "{mine}");

    // Not an officer of the registrar's office: refused and audited, on the page and the post.
    let review = format!("/office/applications/{id}");
    let (s, _) = open(&pb, &mut pk, &app_url, &review).await;
    assert_eq!(s, 403, "an officer of another office");
    let (s, _) = open(&eb, &mut ek, &app_url, "/office").await;
    assert_eq!(s, 403, "a citizen without any role");
    let (s, _, _) =
        post(&pb, &format!("{app_url}{review}/decision"), &[("csrf", &csrf), ("decision", "approve")]).await;
    assert_eq!(s, 403);
    let denied = audit::with_action(app.db(), "role_denied", 10).await.unwrap();
    assert!(denied.iter().filter(|e| e.subject == format!("application:{id}")).count() >= 2, "{denied:?}");
    assert!(denied.iter().any(|e| e.actor == format!("citizen:{ELDER}")));
    assert_eq!(applications::get(app.db(), &id).await.unwrap().unwrap().status, applications::Status::Submitted);

    // The officer sees the queue, opens the application and approves it.
    let (s, queue) = open(&ob, &mut ok, &app_url, "/office").await;
    assert_eq!(s, 200, "{queue}");
    assert!(queue.contains(&id), "{queue}");
    let (s, page) = open(&ob, &mut ok, &app_url, &review).await;
    assert_eq!(s, 200, "{page}");
    let ocsrf = form_csrf(&page);
    let persons_before: i64 = {
        let pool = sqlx::AnyPool::connect(&idp.db.url).await.unwrap();
        let n = sqlx::query_scalar("SELECT COUNT(*) FROM persons").fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    };
    let (s, _, body) = post(
        &ob,
        &format!("{app_url}{review}/decision"),
        &[("csrf", &ocsrf), ("decision", "approve"), ("note", "Hospital record checked")],
    )
    .await;
    assert_eq!(s, 303, "{body}");

    // The child is in the civil registry with a new CID, and has a patient record in ePIS.
    let approved = applications::get(app.db(), &id).await.unwrap().unwrap();
    assert_eq!(approved.status, applications::Status::Approved);
    assert_eq!(approved.notify, applications::Notify::Done, "{:?}", approved.notify_detail);
    let child = approved.notify_detail["registry_cid"].as_str().unwrap().to_string();
    assert_ne!(child, PARENT);
    let person = idp::store::registry::person(&state.db, &idp::domain::cid::Cid::parse(&child).unwrap())
        .await
        .unwrap()
        .expect("the child is in the registry");
    assert_eq!((person.given_name.as_str(), person.family_name.as_str()), ("Sonam", "Wangmo"));
    assert_eq!(approved.notify_detail["epis"], "done", "{:?}", approved.notify_detail);
    let patient = epis::domain::patient(&epis_store, &epis::domain::Cid::parse(&child).unwrap())
        .await
        .unwrap()
        .expect("the child has a patient record in ePIS");
    assert!(format!("{patient:?}").contains("Sonam Wangmo"), "{patient:?}");
    // A retry does not register the child twice (the reference is the application number).
    let (s, _, _) = post(&ob, &format!("{app_url}{review}/retry"), &[("csrf", &ocsrf)]).await;
    assert!(s == 303 || s == 400 || s == 409, "{s}");
    assert_eq!(app.retry_pending(idp::domain::now()).await.unwrap(), 0, "nothing is pending");
    let pool = sqlx::AnyPool::connect(&idp.db.url).await.unwrap();
    let persons_after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM persons").fetch_one(&pool).await.unwrap();
    assert_eq!(persons_after, persons_before + 1, "one child, however many retries");
    let again = applications::get(app.db(), &id).await.unwrap().unwrap();
    assert_eq!(again.notify_detail["registry_cid"].as_str(), Some(child.as_str()));
    // Deciding twice is refused.
    let (s, _, _) =
        post(&ob, &format!("{app_url}{review}/decision"), &[("csrf", &ocsrf), ("decision", "reject"), ("note", "x")])
            .await;
    assert_eq!(s, 409);

    // The certificate: anyone can verify it by its number (no CID shown).
    let cert = applications::certificate(app.db(), None, Some(&id)).await.unwrap().unwrap();
    let anon = Browser::new(&app_url);
    let (s, _, page) = anon.get(&format!("/certificates/{}", cert.number)).await;
    assert_eq!(s, 200);
    assert!(page.contains("Birth certificate") && page.contains("Sonam Wangmo") && !page.contains(&child), "{page}");
    assert_eq!(anon.get("/certificates/BT-0000000000000000").await.0, 404);
    // ... and as a PDF sealed by the agency, which verifies and names the agency; the same PDF
    // with one changed byte does not.
    assert!(cert.sealed, "sealed at approval: {}", cert.seal_error);
    assert!(page.contains(&format!("/certificates/{}/pdf", cert.number)), "{page}");
    let r = support::http().get(format!("{app_url}/certificates/{}/pdf", cert.number)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let pdf = r.bytes().await.unwrap().to_vec();
    let sdk = relying_party_sdk::signing::SigningClient::new(idp.base.parse().unwrap(), support::http());
    let v = sdk.verify_pdf(None, &pdf).await.unwrap();
    assert!(v.valid, "{v:?}");
    assert_eq!(v.agency.as_deref(), Some(service_id.as_str()));
    assert_eq!(v.signer.as_deref(), Some("Integrated Citizen Services (registry)"));
    let mut changed = pdf.clone();
    let at = pdf.windows(5).position(|w| w == b"Sonam").unwrap();
    changed[at] = b's';
    assert!(!sdk.verify_pdf(None, &changed).await.unwrap().valid);
    assert_eq!(
        support::http().get(format!("{app_url}/certificates/BT-0000000000000000/pdf")).send().await.unwrap().status(),
        404
    );

    // The elder's pension: applied for, approved by the pension office.
    let (s, form) = open(&eb, &mut ek, &app_url, "/services/pension").await;
    assert_eq!(s, 200);
    let ecsrf = form_csrf(&form);
    let (s, loc, body) = post(
        &eb,
        &format!("{app_url}/services/pension"),
        &[("csrf", &ecsrf), ("bank_account", "200111"), ("bank", "Bank of Bhutan"), ("years_of_service", "30")],
    )
    .await;
    assert_eq!(s, 303, "{body}");
    let pension_app = loc.unwrap().strip_prefix("/applications/").unwrap().to_string();
    let (s, page) = open(&pb, &mut pk, &app_url, &format!("/office/applications/{pension_app}")).await;
    assert_eq!(s, 200, "{page}");
    let (s, _, _) = post(
        &pb,
        &format!("{app_url}/office/applications/{pension_app}/decision"),
        &[("csrf", &form_csrf(&page)), ("decision", "approve")],
    )
    .await;
    assert_eq!(s, 303);
    assert_eq!(applications::pension(app.db(), ELDER).await.unwrap().unwrap().status, "active");

    // A death registration needs loa:high: the parent steps up (after biometric enrolment,
    // simulated here) and registers the elder's death.
    sqlx::query("UPDATE accounts SET assurance = 'urn:drukyul:loa:high'").execute(&pool).await.unwrap();
    pool.close().await;
    let (s, form) = open(&pb, &mut pk, &app_url, "/services/death-registration").await;
    assert_eq!(s, 200, "{form}");
    let pcsrf = form_csrf(&form);
    let yesterday = (today - time::Duration::days(1)).to_string();
    let (s, loc, body) = post(
        &pb,
        &format!("{app_url}/services/death-registration"),
        &[
            ("csrf", &pcsrf),
            ("deceased_cid", ELDER),
            ("date_of_death", &yesterday),
            ("place_of_death", "Paro"),
            ("relationship", "other relative"),
        ],
    )
    .await;
    assert_eq!(s, 303, "{body}");
    let death = loc.unwrap().strip_prefix("/applications/").unwrap().to_string();

    // The applicant signs it first: the page shows exactly what (the title and the SHA-256 of
    // the stored canonical document). Until then it is not in the office's queue and cannot be
    // approved; nothing is issued.
    let stored = applications::get(app.db(), &death).await.unwrap().unwrap();
    assert_eq!(stored.status, applications::Status::AwaitingSignature);
    let (s, mine) = open(&pb, &mut pk, &app_url, &format!("/applications/{death}")).await;
    assert_eq!(s, 200, "{mine}");
    assert!(mine.contains(&stored.document_sha256()), "the digest that is signed: {mine}");
    assert!(mine.contains(&format!("Death registration: application {death}")), "{mine}");
    assert!(mine.contains(&format!("action=\"/applications/{death}/sign\"")), "{mine}");
    let (s, queue) = open(&ob, &mut ok, &app_url, "/office").await;
    assert_eq!(s, 200);
    assert!(!queue.contains(&death), "an unsigned application does not reach the office: {queue}");
    let death_review = format!("/office/applications/{death}");
    let (s, page) = open(&ob, &mut ok, &app_url, &death_review).await;
    assert_eq!(s, 200, "{page}");
    assert!(!page.contains("value=\"approve\""), "{page}");
    let (s, _, body) =
        post(&ob, &format!("{app_url}{death_review}/decision"), &[("csrf", &ocsrf), ("decision", "approve")]).await;
    assert_eq!(s, 409, "{body}");
    assert!(applications::certificate(app.db(), None, Some(&death)).await.unwrap().is_none(), "nothing issued");
    // Another citizen cannot sign it (not theirs to know about).
    let (s, _, _) = post(&eb, &format!("{app_url}/applications/{death}/sign"), &[("csrf", &ecsrf)]).await;
    assert_eq!(s, 404);

    // She refuses at Drukyul ID: told so on the application, which still waits; the outcome is
    // collected once.
    let (s, loc, body) =
        post(&pb, &format!("{app_url}/applications/{death}/sign"), &[("csrf", &form_csrf(&mine))]).await;
    assert_eq!(s, 303, "{body}");
    let approve_url = loc.unwrap();
    let req = approve_url.split("req=").nth(1).unwrap().to_string();
    let idp_csrf = pb.csrf(&format!("/sign/approve?req={req}")).await;
    let (s, back, _) = pb.post_form("/sign/refuse", &[("csrf", &idp_csrf), ("req", &req)]).await;
    assert_eq!(s, 303);
    let back = back.unwrap();
    assert!(back.starts_with(&format!("{app_url}/signed?")), "{back}");
    let (s, loc, body) = pb.get(&back).await;
    assert_eq!(s, 303, "{body}");
    assert_eq!(loc.unwrap(), format!("/applications/{death}"));
    let (_, mine) = open(&pb, &mut pk, &app_url, &format!("/applications/{death}")).await;
    assert!(mine.contains("You refused to sign") && mine.contains("awaiting_signature"), "{mine}");
    assert_eq!(pb.get(&back).await.0, 404, "collected once");
    assert_eq!(open(&pb, &mut pk, &app_url, "/signed?sign_request=../etc").await.0, 400);

    // She signs it with her passkey; the module fetches the outcome, has the signature
    // verified (it names her CID) and sends the application to the office.
    let (s, loc, body) =
        post(&pb, &format!("{app_url}/applications/{death}/sign"), &[("csrf", &form_csrf(&mine))]).await;
    assert_eq!(s, 303, "{body}");
    let (s, fin) = signing::approve(&pb, &mut pk, &loc.unwrap()).await;
    assert_eq!(s, 200, "{fin}");
    let back = fin["redirect"].as_str().unwrap().to_string();
    assert!(back.starts_with(&format!("{app_url}/signed?")), "{back}");
    let (s, loc, body) = pb.get(&back).await;
    assert_eq!(s, 303, "{body}");
    assert_eq!(loc.unwrap(), format!("/applications/{death}"));
    let signed = applications::get(app.db(), &death).await.unwrap().unwrap();
    assert_eq!(signed.status, applications::Status::Submitted, "{}", signed.sign_note);
    assert_eq!(signed.signer_name.as_deref(), Some("Pema Choden"));
    assert_eq!(signed.document, stored.document, "the signed bytes are the stored bytes");
    let trail = audit::with_action(app.db(), "application_signed", 5).await.unwrap();
    assert!(
        trail.iter().any(|e| e.actor == format!("citizen:{PARENT}") && e.subject == format!("application:{death}"))
    );
    assert!(!audit::with_action(app.db(), "signature_refused", 5).await.unwrap().is_empty());

    // The officer finds it in the queue, sees the signature verified just now and naming the
    // applicant, and approves.
    let (_, queue) = open(&ob, &mut ok, &app_url, "/office").await;
    assert!(queue.contains(&death), "{queue}");
    let (s, page) = open(&ob, &mut ok, &app_url, &death_review).await;
    assert_eq!(s, 200);
    for shown in [
        "Valid: the applicant",
        "Signer</th><td>Pema Choden",
        "Signer is the applicant</th><td>yes",
        "Certificate status</th><td>good",
        "value=\"approve\"",
        &signed.document_sha256(),
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    let (s, _, _) = post(
        &ob,
        &format!("{app_url}/office/applications/{death}/decision"),
        &[("csrf", &form_csrf(&page)), ("decision", "approve")],
    )
    .await;
    assert_eq!(s, 303);
    let d = applications::get(app.db(), &death).await.unwrap().unwrap();
    assert_eq!(d.notify, applications::Notify::Done, "{:?} {}", d.notify_detail, d.notify_error);
    assert_eq!(d.notify_detail["digital_id_closed"], json!(true));
    let pension = applications::pension(app.db(), ELDER).await.unwrap().unwrap();
    assert_eq!(pension.status, "stopped", "the pension stops");
    let account = idp::store::login::account_by_cid(&state.db, ELDER).await.unwrap().unwrap();
    assert_eq!(account.status, "closed");

    // The elder's passkey no longer logs in.
    let lb = Browser::new(&idp.base);
    let csrf = lb.csrf("/login").await;
    let (s, start) = lb.post_json("/login/passkey/start", &csrf, json!({})).await;
    assert_eq!(s, 200, "{start}");
    let cred = ek.get(&lb.base, &start["options"]);
    let (s, fin) =
        lb.post_json("/login/passkey/finish", &csrf, json!({"ceremony": start["ceremony"], "credential": cred})).await;
    assert_ne!(s, 200, "a closed digital ID logs in no more: {fin}");
    // ... nor signs: the certificate is revoked and no new one is issued.
    let certs = idp::store::pki::certificates_of(&state.db, &elder_account.id).await.unwrap();
    assert!(certs.iter().any(|c| c.serial == elder_cert.serial && c.revoked_at.is_some()), "revoked at death");
    assert!(certs.iter().all(|c| c.revoked_at.is_some()));
    assert!(idp::pki::citizen_certificate(state, &elder_account.id, "test", idp::domain::now()).await.is_err());

    running.stop().await;
    epis_running.stop().await;
    idp.stop().await;
}
both_backends!(citizen_services_story);
