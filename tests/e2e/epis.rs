//! ePIS against the real identity provider: a health worker and a patient log in with software
//! passkeys (`openid profile national_id`); the patient gives a visit code, the worker opens the
//! record and records an encounter; bad input changes nothing; a user without the role gets 403
//! and an audit entry; an emergency access shows up flagged in the patient's view; and the
//! agency API (`POST /api/patients`) creates a newborn's record for a caller with
//! `epis.patients` only.

use idp::domain::client::RedirectUri;
use relying_party_sdk::{ClientAuth, ClientSecret, Provider, ProviderOptions, ServiceClient};
use serde_json::{Value, json};

use crate::{
    authenticator::ResidentSoftPasskey,
    both_backends,
    citizen::{self, Browser},
    support::{self, Backend},
};

const NURSE: &str = "10101001234";
const PATIENT: &str = "11512000123";

/// The module's CSRF field in a page.
fn csrf_of(page: &str) -> String {
    let i = page.find("name=\"csrf\" value=\"").expect("page has a form") + 19;
    page[i..].split('"').next().unwrap().to_string()
}

/// One person's browser and passkey, logged in at the provider.
struct Person {
    b: Browser,
    key: ResidentSoftPasskey,
}

impl Person {
    /// Opens `url` on ePIS; if sent to log in, logs in through the provider and comes back.
    async fn open(&mut self, url: &str) -> (u16, String) {
        let (s, loc, body) = self.b.get(url).await;
        if s != 303 || !loc.as_deref().is_some_and(|l| l.contains("/authorize")) {
            return (s, body);
        }
        let cb = citizen::login_through(&self.b, &mut self.key, &loc.unwrap(), true).await;
        let (s, _, body) = self.b.get(&cb).await;
        assert_eq!(s, 303, "callback: {body}");
        let (s, _, body) = self.b.get(url).await;
        (s, body)
    }
    async fn post(&self, url: &str, form: &[(&str, &str)]) -> (u16, Option<String>, String) {
        self.b.post_form(url, form).await
    }
}

async fn epis_story(backend: Backend) {
    let Some(idp) = support::start(backend).await else { return };
    let _ = rustls::crypto::ring::default_provider().install_default();

    // Two citizens with activated digital IDs: a nurse and a patient.
    let mut people = Vec::new();
    for cid in [NURSE, PATIENT] {
        let code = citizen::import_and_issue(&idp, cid).await;
        let mut key = ResidentSoftPasskey::new();
        let b = Browser::new(&idp.base);
        citizen::activate(&b, &mut key, cid, &code).await;
        people.push(Person { b, key });
    }
    let mut patient = people.pop().unwrap();
    let mut nurse = people.pop().unwrap();

    // ePIS is registered (with the CID released under national_id) and started in-process.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let mut meta = citizen::web_client(&format!("{app}/auth/callback"));
    meta.client_name = "ePIS".into();
    meta.scope = idp::domain::client::Scope::parse("openid profile national_id").unwrap();
    meta.allow_national_id = true;
    meta.post_logout_redirect_uris = vec![RedirectUri::parse(&format!("{app}/")).unwrap()];
    let (client_id, secret) = support::register(&idp, meta).await;
    let epis_db = support::fresh_db(backend).await.unwrap();
    let cfg = epis::Config {
        public_url: app.clone(),
        database_url: Some(epis_db.url.clone()),
        issuer: idp.base.clone(),
        client_id,
        client_secret: secret,
        ..epis::Config::default()
    };
    let (router, db) = epis::build(&cfg).await.unwrap();
    let running = agency_kit::server::spawn(router, listener).unwrap();
    // The operator's command: `epis staff add CID --facility JDWNRH --name ...`.
    let now = agency_kit::now();
    epis::domain::add_staff(&db, NURSE, Some("JDWNRH"), "Karma Wangchuk", "operator", now).await.unwrap();
    epis::domain::add_staff(&db, NURSE, Some("H-PARO"), "Karma Wangchuk", "operator", now).await.unwrap();

    // The patient logs in and gets a visit code.
    let (s, page) = patient.open(&format!("{app}/me")).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("no record for you yet"), "{page}");
    let (s, _, page) = patient.post(&format!("{app}/me/visit-code"), &[("csrf", &csrf_of(&page))]).await;
    assert_eq!(s, 200, "{page}");
    let i = page.find("id=\"visit-code\">").unwrap() + 16;
    let visit_code = page[i..i + 8].to_string();

    // A user without the role (the patient) at the facility's pages: 403 and an audit entry.
    let (s, body) = patient.open(&format!("{app}/facility/JDWNRH")).await;
    assert_eq!(s, 403, "{body}");
    assert!(body.contains("health_worker"), "{body}");
    let (s, _) = patient.open(&format!("{app}/facility/JDWNRH/patients/{PATIENT}")).await;
    assert_eq!(s, 403);
    let denied = agency_kit::audit::with_action(&db, "role_denied", 10).await.unwrap();
    assert_eq!(denied.len(), 2);
    assert!(denied.iter().all(|e| e.actor == format!("citizen:{PATIENT}") && e.flagged));

    // The nurse logs in, opens the record with the visit code and records an encounter.
    let (s, page) = nurse.open(&format!("{app}/facility/JDWNRH")).await;
    assert_eq!(s, 200, "{page}");
    let csrf = csrf_of(&page);
    let open = format!("{app}/facility/JDWNRH/open");
    // Bad CID: a clear error, nothing opened.
    let (s, _, body) = nurse.post(&open, &[("csrf", &csrf), ("cid", "1234"), ("visit_code", &visit_code)]).await;
    assert_eq!(s, 400);
    assert!(body.contains("A CID is 11 digits"), "{body}");
    // Without a CSRF token: refused.
    let (s, _, _) = nurse.post(&open, &[("csrf", "forged"), ("cid", PATIENT), ("visit_code", &visit_code)]).await;
    assert_eq!(s, 403);
    let record = format!("{app}/facility/JDWNRH/patients/{PATIENT}");
    let (s, _) = nurse.open(&record).await;
    assert_eq!(s, 403, "not opened yet");
    let (s, loc, body) = nurse.post(&open, &[("csrf", &csrf), ("cid", PATIENT), ("visit_code", &visit_code)]).await;
    assert_eq!(s, 303, "{body}");
    assert_eq!(loc.as_deref(), Some(format!("/facility/JDWNRH/patients/{PATIENT}").as_str()));
    let (s, page) = nurse.open(&record).await;
    assert_eq!(s, 200, "{page}");
    let encounter = format!("{record}/encounters");
    let good = [
        ("csrf", csrf.as_str()),
        ("notes", "Fever for three days"),
        ("icd10", "J06.9"),
        ("diagnosis", "Acute upper respiratory infection"),
        ("medicine", "Paracetamol 500 mg"),
        ("dosage", "1 tablet three times a day"),
        ("instructions", "for 5 days"),
    ];
    let (s, _, body) = nurse.post(&encounter, &good).await;
    assert_eq!(s, 303, "{body}");
    let (_, page) = nurse.open(&record).await;
    assert!(page.contains("J06.9") && page.contains("Paracetamol 500 mg"), "{page}");

    // Bad input: each a clear 400, and nothing recorded.
    let long = "x".repeat(epis::domain::MAX_NOTES + 1);
    let cases: [(&str, &str, &str); 4] = [
        ("icd10", "J6", "ICD-10"),
        ("diagnosis", "   ", "must not be empty"),
        ("notes", &long, "too long"),
        ("diagnosis", "<script>alert(1)</script>\u{1}", "control characters"),
    ];
    for (field, value, says) in cases {
        let form: Vec<(&str, &str)> = good.iter().map(|&(k, v)| if k == field { (k, value) } else { (k, v) }).collect();
        let (s, _, body) = nurse.post(&encounter, &form).await;
        assert_eq!(s, 400, "{field}");
        assert!(body.contains(says), "{field}: {body}");
        assert!(!body.contains("<script>"), "escaped");
    }
    assert_eq!(epis::domain::encounters(&db, &epis::domain::Cid::parse(PATIENT).unwrap()).await.unwrap().len(), 1);

    // Emergency access at another facility, without the patient: a reason is required.
    let (_, page) = nurse.open(&format!("{app}/facility/H-PARO")).await;
    let csrf = csrf_of(&page);
    let open = format!("{app}/facility/H-PARO/open");
    let (s, _, body) =
        nurse.post(&open, &[("csrf", &csrf), ("cid", PATIENT), ("emergency", "1"), ("reason", "")]).await;
    assert_eq!(s, 400, "{body}");
    let reason = "Brought in unconscious after a road accident";
    let (s, _, body) =
        nurse.post(&open, &[("csrf", &csrf), ("cid", PATIENT), ("emergency", "1"), ("reason", reason)]).await;
    assert_eq!(s, 303, "{body}");
    let (s, page) = nurse.open(&format!("{app}/facility/H-PARO/patients/{PATIENT}")).await;
    assert_eq!(s, 200);
    assert!(page.contains("Emergency access") && page.contains("Acute upper respiratory infection"), "{page}");

    // The patient sees their record and who looked at it, the emergency flagged.
    let (s, page) = patient.open(&format!("{app}/me")).await;
    assert_eq!(s, 200);
    assert!(page.contains("J06.9") && page.contains("Jigme Dorji Wangchuck National Referral Hospital"), "{page}");
    assert!(page.contains(&format!("EMERGENCY ACCESS without you present: {reason}")), "{page}");
    assert!(page.contains("<tr class=\"flag\">"), "{page}");
    assert!(page.contains("Karma Wangchuk") && page.contains("Paro Hospital"), "{page}");
    let log = epis::domain::access_log(&db, &epis::domain::Cid::parse(PATIENT).unwrap()).await.unwrap();
    let e = log.iter().find(|e| e.action == "emergency_access").unwrap();
    assert!(e.flagged);
    assert_eq!((e.detail["facility"].as_str(), e.actor.as_str()), (Some("H-PARO"), "staff:10101001234"));
    assert!(log.iter().filter(|e| e.action == "record_viewed").count() >= 3, "every view is audited");

    // The agency API: citizen services (scope epis.patients) creates a newborn's record.
    let provider = Provider::discover(&idp.base, ProviderOptions::default()).await.unwrap();
    let api = format!("{app}/api/patients");
    let caller = |name: &str, scope: &str| {
        let mut m = support::api_client(name, scope);
        m.resources = vec![format!("{app}/api")];
        m
    };
    let (cs_id, cs_secret) = support::register(&idp, caller("Citizen services", "epis.patients")).await;
    let (emis_id, emis_secret) = support::register(&idp, caller("EMIS", "emis.students")).await;
    let cs =
        ServiceClient::new(&provider, &cs_id, ClientAuth::SecretBasic(ClientSecret::new(cs_secret.unwrap()))).unwrap();
    let emis =
        ServiceClient::new(&provider, &emis_id, ClientAuth::SecretBasic(ClientSecret::new(emis_secret.unwrap())))
            .unwrap();
    let now = agency_kit::now();
    let token = cs.token("epis.patients", None, now).await.unwrap();
    let other = emis.token("emis.students", None, now).await.unwrap();
    let http = support::http();
    let baby =
        json!({"cid": "10101007777", "name": "Dorji Wangmo", "date_of_birth": "2025-01-15", "mother_cid": PATIENT});
    let resp = http.post(&api).json(&baby).send().await.unwrap();
    assert_eq!(resp.status(), 401, "no token");
    let resp = http.post(&api).bearer_auth(&other).json(&baby).send().await.unwrap();
    assert_eq!(resp.status(), 403, "another agency's scope");
    assert!(resp.headers()["www-authenticate"].to_str().unwrap().contains("insufficient_scope"));
    let baby_cid = epis::domain::Cid::parse("10101007777").unwrap();
    assert!(epis::domain::patient(&db, &baby_cid).await.unwrap().is_none(), "the refused calls created nothing");
    for bad in [
        json!({"cid": "123", "name": "X", "date_of_birth": "2025-01-15"}),
        json!({"cid": "10101007778", "name": "X", "date_of_birth": "2999-01-01"}),
        json!({"cid": "10101007778", "name": "", "date_of_birth": "2025-01-15"}),
        json!({"cid": "10101007778", "name": "x".repeat(201), "date_of_birth": "2025-01-15"}),
        json!({"nothing": true}),
    ] {
        let resp = http.post(&api).bearer_auth(&token).json(&bad).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{bad}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"], "invalid_request", "{v}");
    }
    let resp = http.post(&api).bearer_auth(&token).json(&baby).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let resp = http.post(&api).bearer_auth(&token).json(&baby).send().await.unwrap();
    assert_eq!(resp.status(), 200, "idempotent per CID");
    let v: Value = resp.json().await.unwrap();
    assert_eq!((v["cid"].as_str(), v["created"].as_bool()), (Some("10101007777"), Some(false)));
    let p = epis::domain::patient(&db, &baby_cid).await.unwrap().unwrap();
    assert_eq!(p.mother_cid.as_deref(), Some(PATIENT));

    // The layout's log-out button (CSRF-checked) hands over to the SDK's logout; the session ends.
    let (_, _, page) = patient.b.get(&format!("{app}/me")).await;
    let (s, _, _) = patient.post(&format!("{app}/logout"), &[("csrf", "forged")]).await;
    assert_eq!(s, 403);
    let (s, loc, _) = patient.post(&format!("{app}/logout"), &[("csrf", &csrf_of(&page))]).await;
    assert_eq!((s, loc.as_deref()), (307, Some("/auth/logout")));
    let r = patient.b.http.post(format!("{app}/auth/logout")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let (s, loc, _) = patient.b.get(&format!("{app}/me")).await;
    assert_eq!(s, 303);
    assert!(loc.unwrap().contains("/authorize"), "logged out of ePIS");

    running.stop().await;
    idp.stop().await;
}
both_backends!(epis_story);
