//! Biometric enrolment end to end, with the device simulator over real HTTP (MOSIP SBI) and the
//! identity provider's console API, on SQLite and PostgreSQL: an officer captures ten fingers
//! per person exactly as the console's script does (start → RCAPTURE at the device → submit),
//! the server verifies every device signature and de-duplicates. A population with planted
//! duplicates (the same person presenting under another CID) must send every duplicate to
//! adjudication and almost nobody else; a supervisor decides; an issued citizen activates a
//! passkey and logs in at `urn:drukyul:loa:high`. Then every kind of bad input is refused with
//! nothing stored.
//!
//! `TEST_ENROL_PEOPLE` sets the population (default 1,000 distinct people plus 20 duplicates, on
//! each backend).

use std::{io::Write, sync::Arc};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use biometric_adapter::sbi::{
    jws::JwsAlg,
    messages::{CaptureData, CaptureRequest, Purpose},
    simulator::{DeviceCredentials, DeviceProvider, Simulator, SimulatorConfig},
};
use serde_json::{Value, json};

use crate::{
    authenticator::ResidentSoftPasskey,
    both_backends,
    citizen::{self, Browser},
    flows,
    support::{self, Backend, TestIdp},
};

const OFFICER: &str = "10101001234";
const SUPERVISOR: &str = "11512000123";

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

pub(crate) struct Devices {
    pub(crate) provider: DeviceProvider,
    pub(crate) device: DeviceCredentials,
    rogue: DeviceCredentials,
}

/// A trusted device provider with one device, and a rogue provider's device.
pub(crate) fn devices() -> Devices {
    let provider = DeviceProvider::generate("Drukyul test device provider", now()).unwrap();
    let device = provider
        .issue_device("SIM-E2E-1", JwsAlg::ES256, now() - time::Duration::days(1), now() + time::Duration::days(30))
        .unwrap();
    let rogue_provider = DeviceProvider::generate("Rogue device provider", now()).unwrap();
    let rogue = rogue_provider
        .issue_device("SIM-ROGUE", JwsAlg::ES256, now() - time::Duration::days(1), now() + time::Duration::days(30))
        .unwrap();
    Devices { provider, device, rogue }
}

/// A simulator on a free port. The console's discovery scans the SBI range (4501-4600), so the
/// browser test (`discoverable`) takes a port there; the API tests call the device directly and
/// stay out of it, so a concurrently running browser test finds only its own device.
pub(crate) async fn simulator(
    config: SimulatorConfig,
    device: &DeviceCredentials,
    ca_pem: &str,
    discoverable: bool,
) -> (u16, Arc<Simulator>) {
    let ports: Vec<u16> = if discoverable { (4501..=4600).collect() } else { vec![0] };
    for port in ports {
        let Ok(listener) = tokio::net::TcpListener::bind(("127.0.0.1", port)).await else { continue };
        let port = listener.local_addr().unwrap().port();
        let sim = Arc::new(Simulator::new(SimulatorConfig { port, ..config.clone() }, device, ca_pem.into()).unwrap());
        tokio::spawn(biometric_adapter::sbi::simulator::serve(listener, Arc::clone(&sim)));
        return (port, sim);
    }
    panic!("no free port in 4501-4600");
}

/// A registry CSV with the officers and `n` synthetic people (CIDs 3000000000 + i).
fn registry_csv(n: u64) -> String {
    let mut csv = citizen::CSV.to_string();
    for i in 0..n {
        csv.push_str(&format!(
            "{},Person{i},,Test,19{:02}-0{}-1{},{},Thimphu,Chang,Motithang,HH-{i},alive\n",
            30_000_000_000u64 + i,
            50 + i % 50,
            1 + i % 9,
            i % 10,
            if i % 2 == 0 { "F" } else { "M" }
        ));
    }
    csv
}

fn person_cid(i: u64) -> String {
    (30_000_000_000u64 + i).to_string()
}

/// An officer's browser: activated digital ID, logged in, with the console's CSRF token.
async fn officer_browser(idp: &TestIdp, cid: &str) -> (Browser, String) {
    let code = idp
        .state()
        .issue_citizen(&idp::domain::cid::Cid::parse(cid).unwrap(), "operator", idp::domain::now())
        .await
        .unwrap();
    let b = Browser::new(&idp.base);
    citizen::activate(&b, &mut ResidentSoftPasskey::new(), cid, &code.activation_code).await;
    (b, String::new())
}

struct Console<'a> {
    b: &'a Browser,
    csrf: String,
    device: String,
    /// One client for every call to the device service, as the console's browser keeps its
    /// connection (a client per call would reload the system's root certificates each time).
    http: reqwest::Client,
    /// The face request of each capture started (by its fingers' transactionId), and the photo
    /// once the camera took it: a retried upload sends the same photo again.
    faces: std::sync::Mutex<std::collections::HashMap<String, (Value, Option<Value>)>>,
}

impl<'a> Console<'a> {
    /// The officer's console page (its CSRF token) and the device service on `port`.
    async fn open(b: &'a Browser, port: u16) -> Console<'a> {
        let (_, _, page) = b.get("/enrol").await;
        Console {
            b,
            csrf: citizen::csrf_of(&page),
            device: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            faces: Default::default(),
        }
    }

    /// Start, capture at the device, submit: what the console's script does — and, like an
    /// officer, capture again (up to five times) when the server says a finger's quality is too
    /// low. The outcome (or the error).
    async fn enrol(&self, cid: &str, kind: &str) -> (u16, Value) {
        let mut last = (0, Value::Null);
        for _ in 0..5 {
            let (s, start) = self.start(cid, kind).await;
            if s != 200 {
                return (s, start);
            }
            let response = self.capture(&start["request"]).await;
            last = self.submit(&uuid(), &start["request"]["transactionId"], &response).await;
            let low_quality = last.0 == 400 && last.1["error"].as_str().is_some_and(|e| e.contains("recapture needed"));
            if !low_quality {
                break;
            }
        }
        last
    }

    /// `POST /enrol/capture/start`, remembering the face request that comes with the fingers'.
    async fn start(&self, cid: &str, kind: &str) -> (u16, Value) {
        let (s, start) = self.b.post_json("/enrol/capture/start", &self.csrf, json!({"cid": cid, "kind": kind})).await;
        if s == 200 {
            let fingers = start["request"]["transactionId"].as_str().unwrap().to_owned();
            assert!(start["face"]["bio"][0]["type"] == "Face", "a face request comes with the fingers: {start}");
            self.faces.lock().unwrap().insert(fingers, (start["face"].clone(), None));
        }
        (s, start)
    }

    /// The face request and the camera's photo for the capture whose fingers' transactionId is
    /// `transaction` (taken at the first call), or `None` for a transaction not started here.
    async fn photo(&self, transaction: &Value) -> Option<(Value, Value)> {
        let key = transaction.as_str()?.to_owned();
        let (request, photo) = self.faces.lock().unwrap().get(&key).cloned()?;
        let photo = match photo {
            Some(p) => p,
            None => {
                let p = self.capture(&request).await;
                if let Some(entry) = self.faces.lock().unwrap().get_mut(&key) {
                    entry.1 = Some(p.clone());
                }
                p
            }
        };
        Some((request, photo))
    }

    async fn capture(&self, request: &Value) -> Value {
        let r = self
            .http
            .request(reqwest::Method::from_bytes(b"RCAPTURE").unwrap(), format!("{}/capture", self.device))
            .json(request)
            .send()
            .await
            .unwrap();
        r.json().await.unwrap()
    }

    /// Submits the fingers with the face photo of the same capture (when it was started here).
    async fn submit(&self, packet: &str, transaction: &Value, response: &Value) -> (u16, Value) {
        let mut body = json!({"packet_id": packet, "transaction_id": transaction, "response": response});
        if let Some((request, photo)) = self.photo(transaction).await {
            body["face"] = json!({"transaction_id": request["transactionId"], "response": photo});
        }
        self.post_submission(body).await
    }

    async fn post_submission(&self, body: Value) -> (u16, Value) {
        self.b.post_json("/enrol/submit", &self.csrf, body).await
    }

    async fn present(&self, subject: u64) {
        let r = self
            .http
            .post(format!("{}/simulator/present", self.device))
            .json(&json!({"subject": subject}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
}

fn uuid() -> String {
    hex::encode(idp::domain::secrets::random_bytes::<16>().unwrap())
}

async fn count(idp: &TestIdp, table: &'static str) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&idp.db.url).await.unwrap();
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

/// Sets up an IdP trusting `devices`, a registry, a centre, an officer and a supervisor.
async fn setup(backend: Backend, devices: &Devices, people: u64) -> Option<(TestIdp, tempfile::TempDir)> {
    setup_with(backend, devices, people, true).await
}

/// [`setup`], with `enrolment.require_face` as given.
async fn setup_with(
    backend: Backend,
    devices: &Devices,
    people: u64,
    require_face: bool,
) -> Option<(TestIdp, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("device-cas.pem");
    std::fs::write(&ca, devices.provider.ca_pem()).unwrap();
    let idp = support::start_with(backend, |c| {
        c.enrolment.trusted_device_cas = ca.clone();
        c.enrolment.require_face = require_face;
    })
    .await?;
    let state = idp.state();
    let now = idp::domain::now();
    let people = idp::domain::registry::parse_csv(registry_csv(people).as_bytes(), now_date(), 100);
    state.import_registry(people, "e2e.csv", "operator", now, &mut |_| {}).await.unwrap().unwrap();
    let centre = idp::enrolment::CentreCode::parse("THI-01").unwrap();
    idp::enrolment::add_centre(state, &centre, "Thimphu", "Thimphu", now).await.unwrap();
    Some((idp, dir))
}

fn now_date() -> time::Date {
    now().date()
}

async fn make_officer(idp: &TestIdp, cid: &str, role: idp::enrolment::Role) -> Browser {
    let (b, _) = officer_browser(idp, cid).await;
    let centre = idp::enrolment::CentreCode::parse("THI-01").unwrap();
    let c = idp::domain::cid::Cid::parse(cid).unwrap();
    idp::enrolment::add_officer(idp.state(), &c, &centre, role, "operator", idp::domain::now()).await.unwrap();
    b
}

async fn enrol_a_population(backend: Backend) {
    let distinct: u64 = std::env::var("TEST_ENROL_PEOPLE").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let duplicates = 20;
    let devices = devices();
    let Some((idp, _dir)) = setup(backend, &devices, distinct + duplicates).await else { return };
    let config = SimulatorConfig { seed: 2026, subjects: distinct, duplicates, ..SimulatorConfig::default() };
    let (port, sim) = simulator(config, &devices.device, devices.provider.ca_pem(), false).await;
    let officer = make_officer(&idp, OFFICER, idp::enrolment::Role::EnrolmentOfficer).await;
    let (s, _, page) = officer.get("/enrol").await;
    assert_eq!(s, 200, "{page}");
    let console = Console::open(&officer, port).await;
    let roster = sim.roster();
    assert_eq!(roster.duplicates.len() as u64, duplicates);

    // Subject i presents as person i; a planted duplicate presents under its own new CID.
    let started = std::time::Instant::now();
    let mut issued = Vec::new();
    let mut false_cases = Vec::new();
    let mut duplicate_cases = Vec::new();
    let mut outcomes = std::collections::HashMap::new();
    for subject in 0..distinct + duplicates {
        console.present(subject).await;
        let (s, mut outcome) = console.enrol(&person_cid(subject), "enrolment").await;
        assert_eq!(s, 200, "subject {subject}: {outcome}");
        let qr = outcome.as_object_mut().unwrap().remove("qr");
        outcomes.insert(subject, outcome["outcome"].as_str().unwrap().to_string());
        if let Some(qr) = qr {
            outcome["qr"] = qr;
        }
        let planted = roster.duplicates.iter().find(|d| d.subject == subject);
        match (outcome["outcome"].as_str().unwrap(), planted) {
            ("issued", None) => issued.push((subject, outcome)),
            ("adjudication", Some(d)) => duplicate_cases.push((subject, d.same_person_as, outcome)),
            ("adjudication", None) => false_cases.push((subject, outcome)),
            ("issued", Some(d)) => panic!(
                "planted duplicate {subject} (= {}, whose enrolment was {:?}) was issued",
                d.same_person_as,
                outcomes.get(&d.same_person_as)
            ),
            (other, _) => panic!("subject {subject}: {other} {outcome}"),
        }
    }
    // Straight to the process's stderr (libtest keeps eprintln! of passing tests): CI logs it.
    let _ = writeln!(
        std::io::stderr(),
        "enrol_a_population: enrolled {} people ({} duplicates) in {:.1} s: {} issued, {} duplicates to adjudication, {} false cases",
        distinct + duplicates,
        duplicates,
        started.elapsed().as_secs_f64(),
        issued.len(),
        duplicate_cases.len(),
        false_cases.len()
    );
    assert_eq!(duplicate_cases.len() as u64, duplicates, "every planted duplicate goes to adjudication");
    assert!(false_cases.len() <= 1, "at most one false case: {false_cases:?}");
    assert_eq!(count(&idp, "enrolment_packets").await as u64, distinct + duplicates);
    assert_eq!(count(&idp, "adjudication_cases").await as usize, duplicates as usize + false_cases.len());

    // The case names the person the duplicate really is.
    let (dup_subject, same_as, outcome) = &duplicate_cases[0];
    let case_id = outcome["case_id"].as_str().unwrap();
    let supervisor = make_officer(&idp, SUPERVISOR, idp::enrolment::Role::Supervisor).await;
    let (s, _, list) = supervisor.get("/enrol/cases").await;
    assert_eq!(s, 200);
    assert!(list.contains(case_id), "the queue lists the case");
    let (s, _, case_page) = supervisor.get(&format!("/enrol/cases/{case_id}")).await;
    assert_eq!(s, 200);
    assert!(case_page.contains(&person_cid(*dup_subject)) && case_page.contains(&person_cid(*same_as)), "{case_page}");
    // An enrolment officer may not decide (403, audited); the supervisor decides "same person".
    let (s, _, _) = officer.get(&format!("/enrol/cases/{case_id}")).await;
    assert_eq!(s, 403);
    let csrf = citizen::csrf_of(&case_page);
    let (s, _, done) = supervisor
        .post_form(&format!("/enrol/cases/{case_id}"), &[("csrf", &csrf), ("verdict", "same"), ("note", "same face")])
        .await;
    assert_eq!(s, 200, "{done}");
    assert!(done.contains("refused and flagged"), "{done}");
    let (s, _, again) = supervisor
        .post_form(&format!("/enrol/cases/{case_id}"), &[("csrf", &csrf), ("verdict", "different"), ("note", "")])
        .await;
    assert_eq!(s, 400, "decided once: {again}");
    assert!(idp::store::login::account_by_cid(&idp.state().db, &person_cid(*dup_subject)).await.unwrap().is_none());
    // Another case decided "different people": the ID is issued with an activation code.
    let (_, _, outcome2) = &duplicate_cases[1];
    let case2 = outcome2["case_id"].as_str().unwrap();
    let (_, _, page2) = supervisor.get(&format!("/enrol/cases/{case2}")).await;
    let (s, _, done) = supervisor
        .post_form(
            &format!("/enrol/cases/{case2}"),
            &[("csrf", &citizen::csrf_of(&page2)), ("verdict", "different"), ("note", "twins")],
        )
        .await;
    assert_eq!(s, 200, "{done}");
    assert!(done.contains("Activation code"), "{done}");

    // An issued citizen activates a passkey and logs in at loa:high.
    let (subject, outcome) = &issued[0];
    assert_eq!(outcome["cid"], person_cid(*subject));
    assert!(outcome["qr"].as_str().unwrap().starts_with("data:image/svg+xml;base64,"));
    let citizen_b = Browser::new(&idp.base);
    let mut key = ResidentSoftPasskey::new();
    citizen::activate(&citizen_b, &mut key, &person_cid(*subject), outcome["activation_code"].as_str().unwrap()).await;
    let redirect = "http://localhost:9/cb";
    let (id, secret) = support::register(&idp, citizen::web_client(redirect)).await;
    let (verifier, challenge) = flows::pkce();
    let url = flows::authorize_url(
        &idp.base,
        &id,
        redirect,
        "openid",
        &challenge,
        &[(
            "claims",
            r#"{"id_token":{"acr":{"essential":true,"value":"urn:drukyul:loa:high"},"verified_claims":{"verification":{"trust_framework":null},"claims":{"given_name":null}}}}"#,
        )],
    );
    let b2 = Browser::new(&idp.base);
    let callback = citizen::login_through(&b2, &mut key, &url, true).await;
    let tokens = flows::redeem(&idp, &id, &secret.unwrap(), &flows::code_of(&callback), redirect, &verifier).await;
    let claims = flows::payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["acr"], "urn:drukyul:loa:high", "{claims}");
    // verified_claims carries the enrolment as evidence: the centre, the in-person check and the
    // biometric de-duplication, and the packet an auditor can re-verify.
    let v = &claims["verified_claims"]["verification"];
    assert_eq!(v["assurance_level"], "high", "{claims}");
    assert_eq!(v["verification_process"], outcome["packet_id"]);
    let checks = v["evidence"][0]["check_details"].as_array().unwrap();
    assert!(checks.iter().any(|c| c["check_method"] == "bvr" && c["organization"] == "THI-01"), "{claims}");
    assert_eq!(claims["verified_claims"]["claims"]["given_name"], format!("Person{subject}"));

    let events: Vec<String> =
        idp::store::audit::page(&idp.state().db, 0, 100_000).await.unwrap().into_iter().map(|e| e.body.event).collect();
    for e in ["enrolment_issued", "enrolment_adjudication", "adjudication_decided", "officer_denied"] {
        assert!(events.iter().any(|x| x == e), "{e} audited");
    }
    idp.stop().await;
}
both_backends!(enrol_a_population);

/// Signs capture payloads as `device` would, chaining hashes from the request.
fn signed_response(device: &DeviceCredentials, data: &[CaptureData], request: &CaptureRequest) -> Value {
    let signer = device.signer().unwrap();
    let mut previous = request.bio[0].previous_hash.clone();
    let mut biometrics = Vec::new();
    for d in data {
        let bio = URL_SAFE_NO_PAD.decode(&d.bio_value).unwrap();
        let hash = biometric_adapter::sbi::verify::chain_next(&previous, &bio);
        biometrics.push(json!({
            "specVersion": "0.9.5",
            "data": signer.sign(&serde_json::to_vec(d).unwrap()).unwrap(),
            "hash": hash,
            "error": {"errorCode": "0", "errorInfo": "Success"},
        }));
        previous = hash;
    }
    json!({"biometrics": biometrics})
}

async fn bad_captures_are_refused(backend: Backend) {
    let devices = devices();
    let Some((idp, _dir)) = setup(backend, &devices, 10).await else { return };
    let config = SimulatorConfig { seed: 9, subjects: 10, duplicates: 0, ..SimulatorConfig::default() };
    let (port, sim) = simulator(config.clone(), &devices.device, devices.provider.ca_pem(), false).await;
    let officer = make_officer(&idp, OFFICER, idp::enrolment::Role::EnrolmentOfficer).await;
    let console = Console::open(&officer, port).await;
    let cid = person_cid(3);
    console.present(3).await;
    // Looking a person up shows the registry data and is audited; a bad CID says why.
    let (s, _, found) = officer.get(&format!("/enrol?cid={cid}")).await;
    assert_eq!(s, 200);
    assert!(found.contains("Person3") && found.contains("id=\"capture\""), "{found}");
    let (_, _, bad) = officer.get("/enrol?cid=12345").await;
    assert!(bad.contains("find-error") && bad.contains("11 digits"), "{bad}");
    let events: Vec<String> =
        idp::store::audit::page(&idp.state().db, 0, 1000).await.unwrap().into_iter().map(|e| e.body.event).collect();
    assert!(events.iter().any(|e| e == "registry_lookup"));
    let stored = || async {
        (
            count(&idp, "enrolment_packets").await,
            count(&idp, "biometric_templates").await,
            count(&idp, "accounts").await,
        )
    };
    let before = stored().await;

    // Each case: a fresh transaction, a doctored answer, a clear refusal, nothing stored.
    let start = |kind: &'static str| {
        let console = &console;
        let cid = cid.clone();
        async move {
            let (s, start) = console.start(&cid, kind).await;
            assert_eq!(s, 200, "{start}");
            start["request"].clone()
        }
    };
    let refused = |what: &'static str, expect: &'static str| {
        move |(s, body): (u16, Value)| {
            assert_eq!(s, 400, "{what}: {body}");
            let msg = body["error"].as_str().unwrap_or_default().to_lowercase();
            assert!(msg.contains(expect), "{what}: {msg}");
        }
    };

    // 1. A forged answer: one capture's payload changed after signing.
    let request = start("enrolment").await;
    let mut response = console.capture(&request).await;
    let data = response["biometrics"][0]["data"].as_str().unwrap().to_string();
    let parts: Vec<&str> = data.split('.').collect();
    let mut payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["qualityScore"] = json!(99);
    let forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(payload.to_string()), parts[2]);
    response["biometrics"][0]["data"] = forged.into();
    refused("forged", "signature")(console.submit(&uuid(), &request["transactionId"], &response).await);

    // 2. Re-signed by a device whose provider is not trusted.
    let request = start("enrolment").await;
    let req: CaptureRequest = serde_json::from_value(request.clone()).unwrap();
    let data = sim.capture_data(&req, Purpose::Registration, now()).unwrap();
    let response = signed_response(&devices.rogue, &data, &req);
    refused("untrusted device", "trusted")(console.submit(&uuid(), &request["transactionId"], &response).await);

    assert_eq!(stored().await, before, "a forged or untrusted answer stores nothing");

    // 3. A replayed transactionId: a good answer submitted twice, the second under a new packet.
    let (request, response, packet, first) = loop {
        let request = start("enrolment").await;
        let response = console.capture(&request).await;
        let packet = uuid();
        let (s, first) = console.submit(&packet, &request["transactionId"], &response).await;
        if s == 400 && first["error"].as_str().is_some_and(|e| e.contains("recapture needed")) {
            continue; // as an officer would
        }
        assert_eq!(s, 200, "{first}");
        break (request, response, packet, first);
    };
    assert_eq!(first["outcome"], "issued");
    let after_first = stored().await;
    refused("replayed transaction", "transactionid")(
        console.submit(&uuid(), &request["transactionId"], &response).await,
    );
    // The same packet again is a retry, not a second enrolment: the same outcome, nothing new.
    let (s, retry) = console.submit(&packet, &request["transactionId"], &response).await;
    assert_eq!((s, retry["outcome"].as_str()), (200, Some("issued")), "{retry}");
    assert_eq!(stored().await, after_first);
    // The same packet id with something else in it is refused.
    let mut other = response.clone();
    other["biometrics"].as_array_mut().unwrap().pop();
    refused("packet id reuse", "packet_id")(console.submit(&packet, &request["transactionId"], &other).await);
    // And this person, now enrolled, can only be re-verified.
    let (s, body) =
        officer.post_json("/enrol/capture/start", &console.csrf, json!({"cid": cid, "kind": "enrolment"})).await;
    assert!(s == 400 && body["error"].as_str().unwrap().contains("already"), "{body}");

    // The rest on a person not yet enrolled.
    let cid2 = person_cid(4);
    console.present(4).await;
    let before = stored().await;
    let start2 = || async {
        let (s, start) = console.start(&cid2, "enrolment").await;
        assert_eq!(s, 200, "{start}");
        start["request"].clone()
    };
    // 4. A capture for the wrong purpose (an authentication capture, signed by the trusted device).
    let request = start2().await;
    let mut req: CaptureRequest = serde_json::from_value(request.clone()).unwrap();
    req.purpose = Purpose::Auth;
    let auth_sim = Simulator::new(
        SimulatorConfig { purpose: Purpose::Auth, ..config.clone() },
        &devices.device,
        devices.provider.ca_pem().into(),
    )
    .unwrap();
    auth_sim.present(4).unwrap();
    let data = auth_sim.capture_data(&req, Purpose::Auth, now()).unwrap();
    let response = signed_response(&devices.device, &data, &req);
    refused("wrong purpose", "purpose")(console.submit(&uuid(), &request["transactionId"], &response).await);

    // 5. A truncated template inside a validly signed capture.
    let request = start2().await;
    let req: CaptureRequest = serde_json::from_value(request.clone()).unwrap();
    let mut data = sim.capture_data(&req, Purpose::Registration, now()).unwrap();
    let mut bio = URL_SAFE_NO_PAD.decode(&data[2].bio_value).unwrap();
    bio.truncate(bio.len() - 7);
    data[2].bio_value = URL_SAFE_NO_PAD.encode(&bio);
    let response = signed_response(&devices.device, &data, &req);
    refused("truncated template", "record")(console.submit(&uuid(), &request["transactionId"], &response).await);

    // 6. A capture below the configured quality: the refusal names the finger and the score.
    let request = start2().await;
    let req: CaptureRequest = serde_json::from_value(request.clone()).unwrap();
    let mut data = sim.capture_data(&req, Purpose::Registration, now()).unwrap();
    data[5].quality_score = 12.0;
    let response = signed_response(&devices.device, &data, &req);
    let (s, body) = console.submit(&uuid(), &request["transactionId"], &response).await;
    assert_eq!(s, 400, "{body}");
    let msg = body["error"].as_str().unwrap();
    assert!(msg.contains("scored 12, below the minimum 30"), "low quality names finger and score: {msg}");

    // 7. A capture whose transactionId is not the one asked for, and one nobody asked for.
    let request = start2().await;
    let mut req: CaptureRequest = serde_json::from_value(request.clone()).unwrap();
    req.transaction_id = "made-up-transaction".into();
    let response = console.capture(&serde_json::to_value(&req).unwrap()).await;
    refused("echo mismatch", "transaction")(console.submit(&uuid(), &request["transactionId"], &response).await);
    refused("unknown transaction", "transactionid")(
        console.submit(&uuid(), &json!("made-up-transaction"), &response).await,
    );

    // 8. Not an officer: refused, audited; a deceased person cannot be enrolled.
    let stranger = Browser::new(&idp.base);
    let (s, _) = stranger.post_json("/enrol/capture/start", "x", json!({"cid": cid2, "kind": "enrolment"})).await;
    assert_eq!(s, 403, "no CSRF token, no session");
    let (s, _, _) = stranger.get("/enrol").await;
    assert_eq!(s, 303, "to the login page");

    assert_eq!(stored().await, before, "nothing stored by any refused capture");
    assert_eq!(stored().await.0, after_first.0);

    // Re-verification of the enrolled person: matching fingers revoke the passkeys and issue a
    // new activation code; another person's fingers do not match.
    let enrolled_cid = cid;
    console.present(7).await;
    let (s, no) = console.enrol(&enrolled_cid, "reverification").await;
    assert_eq!((s, no["outcome"].as_str()), (200, Some("not_matched")), "{no}");
    console.present(3).await;
    let (s, yes) = console.enrol(&enrolled_cid, "reverification").await;
    assert_eq!((s, yes["outcome"].as_str()), (200, Some("verified")), "{yes}");
    assert!(yes["activation_code"].as_str().is_some_and(|c| !c.is_empty()));
    idp.stop().await;
}
both_backends!(bad_captures_are_refused);

/// With an external ABIS configured (MOSIP contract), the server lends it the biometrics of a
/// request in flight at `/abis/references/<id>` only against its token; an unreachable ABIS
/// fails the enrolment with a clear error and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_abis_is_used_and_guarded() {
    let devices = devices();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("device-cas.pem");
    std::fs::write(&ca, devices.provider.ca_pem()).unwrap();
    let token = "t".repeat(40);
    let Some(idp) = support::start_with(Backend::Sqlite, |c| {
        c.enrolment.trusted_device_cas = ca.clone();
        c.enrolment.abis_url = "http://127.0.0.1:9/abis".into();
        c.enrolment.abis_token = idp::config::Secret::new(token.clone());
    })
    .await
    else {
        return;
    };
    let get = |auth: Option<String>| {
        let mut r = support::http().get(idp.url("/abis/references/probe-1"));
        if let Some(a) = auth {
            r = r.bearer_auth(a);
        }
        async move { r.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get(None).await, 401);
    assert_eq!(get(Some("t".repeat(39))).await, 401);
    assert_eq!(get(Some(token.clone())).await, 404, "nothing in flight");

    let state = idp.state();
    let now = idp::domain::now();
    let people = idp::domain::registry::parse_csv(registry_csv(3).as_bytes(), now_date(), 100);
    state.import_registry(people, "e2e.csv", "operator", now, &mut |_| {}).await.unwrap().unwrap();
    let centre = idp::enrolment::CentreCode::parse("THI-01").unwrap();
    idp::enrolment::add_centre(state, &centre, "Thimphu", "Thimphu", now).await.unwrap();
    let config = SimulatorConfig { seed: 4, subjects: 3, duplicates: 0, ..SimulatorConfig::default() };
    let (port, _sim) = simulator(config, &devices.device, devices.provider.ca_pem(), false).await;
    let officer = make_officer(&idp, OFFICER, idp::enrolment::Role::EnrolmentOfficer).await;
    let console = Console::open(&officer, port).await;
    console.present(1).await;
    let (s, body) = console.enrol(&person_cid(1), "enrolment").await;
    assert_eq!(s, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("ABIS could not be reached"), "{body}");
    assert_eq!(count(&idp, "enrolment_packets").await, 0);
    assert!(idp::store::login::account_by_cid(&state.db, &person_cid(1)).await.unwrap().is_none());
    idp.stop().await;
}

/// The console speaks the officer's language (issue 2: English and Dzongkha, by `ui_locales`,
/// then the language cookie, then `Accept-Language`): its pages, the strings its script shows and
/// the refusals the server sends it. English without a preference.
async fn the_console_speaks_dzongkha(backend: Backend) {
    let devices = devices();
    let Some((idp, _dir)) = setup(backend, &devices, 3).await else { return };
    let officer = make_officer(&idp, OFFICER, idp::enrolment::Role::EnrolmentOfficer).await;
    let supervisor = make_officer(&idp, SUPERVISOR, idp::enrolment::Role::Supervisor).await;
    let get = |b: &Browser, path: String, lang: Option<&'static str>| {
        let mut r = b.http.get(b.abs(&path));
        if let Some(l) = lang {
            r = r.header("accept-language", l);
        }
        async move {
            let r = r.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let cid = person_cid(1);

    let (s, en) = get(&officer, format!("/enrol?cid={cid}"), None).await;
    assert_eq!(s, 200, "{en}");
    assert!(en.contains("<h1>Enrolment</h1>") && en.contains("Capture fingers and enrol"), "{en}");
    assert!(en.contains("lang=\"en\""));

    let (s, dz) = get(&officer, format!("/enrol?cid={cid}"), Some("dz, en;q=0.5")).await;
    assert_eq!(s, 200, "{dz}");
    assert!(dz.contains("lang=\"dz\""), "{dz}");
    assert!(dz.contains("<h1>ཐོ་བཀོད།</h1>"), "the Dzongkha heading: {dz}");
    assert!(dz.contains("མཛུབ་རིས་ལེན་ཞིནམ་ལས་ ཐོ་བཀོད་འབད།"), "the capture button in Dzongkha");
    assert!(dz.contains("མོ།") || dz.contains("ཕོ།"), "the registry's sex as a Dzongkha label");
    for english in ["<h1>Enrolment</h1>", "Capture fingers", "Find in the registry", "Registered at", "Activation code"]
    {
        assert!(!dz.contains(english), "English \"{english}\" left on the Dzongkha console");
    }
    // The script's strings travel in a data attribute (the CSP allows no inline script).
    let text = dz.split("data-text=\"").nth(1).and_then(|t| t.split('"').next()).unwrap().replace("&quot;", "\"");
    let text: Value = serde_json::from_str(&text.replace("&#34;", "\"")).unwrap();
    assert_eq!(text["issued_title"], "ཌི་ཇི་ཊཱལ་ ཨའི་ཌི་ སྤྲོད་ཡི།", "{text}");
    assert_eq!(text["fingers"]["LF_INDEX"], "གཡོན་གྱི་ མཛུབ་མོ།", "{text}");

    // A refusal the server sends the script, in the officer's language.
    let csrf = citizen::csrf_of(&dz);
    let post = |lang: Option<&'static str>, body: Value| {
        let mut r = officer.http.post(officer.abs("/enrol/capture/start")).header("x-csrf-token", &csrf).json(&body);
        if let Some(l) = lang {
            r = r.header("accept-language", l);
        }
        async move {
            let r = r.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (s, body) = post(Some("dz"), json!({"cid": "12345", "kind": "enrolment"})).await;
    assert_eq!(s, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("ཨང་ ༡༡"), "{body}");
    let (s, body) = post(None, json!({"cid": "12345", "kind": "enrolment"})).await;
    assert_eq!(s, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("11 digits"), "{body}");
    let (s, body) = post(Some("dz"), json!({"cid": person_cid(2), "kind": "reverification"})).await;
    assert_eq!(s, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("ལོག་བདེན་དཔྱད་འབད་ནིའི་"), "{body}");

    // The supervisor's queue and the refusal of an officer who is not one.
    let (s, queue) = get(&supervisor, "/enrol/cases".into(), Some("dz")).await;
    assert_eq!(s, 200, "{queue}");
    assert!(queue.contains("<h1>ཐག་བཅད།</h1>") && !queue.contains("<h1>Adjudication</h1>"), "{queue}");
    let (s, queue) = get(&supervisor, "/enrol/cases".into(), None).await;
    assert!(s == 200 && queue.contains("<h1>Adjudication</h1>"), "{queue}");
    let (s, denied) = get(&officer, "/enrol/cases".into(), Some("dz")).await;
    assert_eq!(s, 403);
    assert!(denied.contains("ལྟ་རྟོག་པ།") && !denied.contains("needs the"), "{denied}");
    idp.stop().await;
}
both_backends!(the_console_speaks_dzongkha);

/// Starts a capture of `cid`, captures the fingers at the device, and submits them with what
/// `face` makes of the server's face request: the face transactionId and the camera's answer
/// to send (`None`: no photo).
async fn submit_with_face(
    console: &Console<'_>,
    cid: &str,
    face: impl FnOnce(&Value) -> Option<(Value, Value)>,
) -> (u16, Value) {
    submit_kind_with_face(console, cid, "enrolment", face).await
}

/// [`submit_with_face`] for `kind` (`enrolment`, `reverification`).
async fn submit_kind_with_face(
    console: &Console<'_>,
    cid: &str,
    kind: &str,
    face: impl FnOnce(&Value) -> Option<(Value, Value)>,
) -> (u16, Value) {
    let (s, start) = console.start(cid, kind).await;
    assert_eq!(s, 200, "{start}");
    let fingers = console.capture(&start["request"]).await;
    let mut body =
        json!({"packet_id": uuid(), "transaction_id": start["request"]["transactionId"], "response": fingers});
    if let Some((transaction, response)) = face(&start["face"]) {
        body["face"] = json!({"transaction_id": transaction, "response": response});
    }
    console.post_submission(body).await
}

/// The simulator's face capture for the server's face `request`, `change`d, then signed by
/// `device` (the hash chain recomputed): a device that signs whatever it is given.
fn face_signed_by(
    sim: &Simulator,
    device: &DeviceCredentials,
    request: &Value,
    change: impl FnOnce(&mut CaptureData),
) -> (Value, Value) {
    let req: CaptureRequest = serde_json::from_value(request.clone()).unwrap();
    let mut data = sim.capture_data(&req, Purpose::Registration, now()).unwrap();
    assert_eq!(data.len(), 1);
    change(&mut data[0]);
    (request["transactionId"].clone(), signed_response(device, &data, &req))
}

/// GET with the response's headers and raw bytes.
async fn get_raw(b: &Browser, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let r = b.http.get(b.abs(path)).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.bytes().await.unwrap().to_vec())
}

/// The face photo at enrolment (issue 3 item 9): captured with the fingers and submitted in the
/// same packet, its device signature verified like theirs. A forged photo, one signed by an
/// untrusted device, a replayed or another capture's face transactionId, a record that does not
/// parse, a photo over the limits and a missing photo are each refused with a clear reason and
/// nothing stored. Supervisors see the applicant's and the candidates' photos on the case page;
/// an enrolment officer gets 403 (audited) and no image.
async fn face_photos_are_verified_and_shown_to_supervisors(backend: Backend) {
    use biometric_adapter::sbi::face::{self, FaceImage, FaceImageType};
    let devices = devices();
    let Some((idp, _dir)) = setup(backend, &devices, 10).await else { return };
    let config = SimulatorConfig { seed: 11, subjects: 8, duplicates: 1, ..SimulatorConfig::default() };
    let (port, sim) = simulator(config, &devices.device, devices.provider.ca_pem(), false).await;
    let officer = make_officer(&idp, OFFICER, idp::enrolment::Role::EnrolmentOfficer).await;
    let console = Console::open(&officer, port).await;
    let duplicate = sim.roster().duplicates[0];
    let (original, copy) = (duplicate.same_person_as, duplicate.subject);
    let stored = || async {
        (
            count(&idp, "enrolment_packets").await,
            count(&idp, "biometric_templates").await,
            count(&idp, "accounts").await,
        )
    };

    // The original enrols with fingers and photo (capturing again on low finger quality).
    console.present(original).await;
    let (first_face, first_photo) = loop {
        let (s, start) = console.start(&person_cid(original), "enrolment").await;
        assert_eq!(s, 200, "{start}");
        assert_eq!(start["face_required"], true, "{start}");
        let fingers = console.capture(&start["request"]).await;
        let photo = console.capture(&start["face"]).await;
        let (s, outcome) = console
            .post_submission(json!({
                "packet_id": uuid(),
                "transaction_id": start["request"]["transactionId"],
                "response": fingers,
                "face": {"transaction_id": start["face"]["transactionId"], "response": photo},
            }))
            .await;
        if s == 400 && outcome["error"].as_str().is_some_and(|e| e.contains("recapture needed")) {
            continue;
        }
        assert_eq!((s, outcome["outcome"].as_str()), (200, Some("issued")), "{outcome}");
        break (start["face"]["transactionId"].clone(), photo);
    };

    // The refusals, on the copy's CID: each says why, none stores anything.
    let cid = person_cid(copy);
    console.present(copy).await;
    let before = stored().await;
    let refused = |what: &'static str, expect: &'static str| {
        move |(s, body): (u16, Value)| {
            assert_eq!(s, 400, "{what}: {body}");
            let msg = body["error"].as_str().unwrap_or_default().to_lowercase();
            assert!(msg.contains(&expect.to_lowercase()), "{what}: {msg}");
        }
    };
    // 1. Forged: the signed payload changed after signing.
    let forged = submit_with_face(&console, &cid, |req| {
        let (tx, mut response) = face_signed_by(&sim, &devices.device, req, |_| {});
        let jws = response["biometrics"][0]["data"].as_str().unwrap().to_owned();
        let parts: Vec<&str> = jws.split('.').collect();
        let mut payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        let other = face::write_record(&face::synthetic_photo(5).unwrap());
        payload["bioValue"] = URL_SAFE_NO_PAD.encode(&other).into();
        response["biometrics"][0]["data"] =
            format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(payload.to_string()), parts[2]).into();
        Some((tx, response))
    })
    .await;
    refused("forged photo", "signature")(forged.clone());
    assert!(forged.1["error"].as_str().unwrap().starts_with("The face photo was refused"), "{forged:?}");
    // 2. Re-signed by a device whose provider is not trusted.
    refused("untrusted camera", "trusted")(
        submit_with_face(&console, &cid, |req| Some(face_signed_by(&sim, &devices.rogue, req, |_| {}))).await,
    );
    // 3. A face transactionId used before (the original's, with its photo).
    refused("replayed face transaction", "transactionid of the face photo")(
        submit_with_face(&console, &cid, |_| Some((first_face.clone(), first_photo.clone()))).await,
    );
    // 4. The face of another capture: its own genuine photo, but issued with other fingers.
    let (s, other_start) = console.start(&cid, "enrolment").await;
    assert_eq!(s, 200);
    let other_photo = console.capture(&other_start["face"]).await;
    refused("another capture's face", "another capture")(
        submit_with_face(&console, &cid, |_| Some((other_start["face"]["transactionId"].clone(), other_photo))).await,
    );
    // 5. A record that does not parse (its JPEG cut short), validly signed.
    refused("truncated photo", "19794-5")(
        submit_with_face(&console, &cid, |req| {
            Some(face_signed_by(&sim, &devices.device, req, |d| {
                let mut photo = face::synthetic_photo(copy).unwrap();
                photo.data.truncate(photo.data.len() / 2);
                d.bio_value = URL_SAFE_NO_PAD.encode(face::write_record(&photo));
            }))
        })
        .await,
    );
    refused("not a face record", "19794-5")(
        submit_with_face(&console, &cid, |req| {
            Some(face_signed_by(&sim, &devices.device, req, |d| {
                d.bio_value = URL_SAFE_NO_PAD.encode(b"FMR\0not a face")
            }))
        })
        .await,
    );
    // 6. Over the limits: more than a megabyte, and 5000 pixels a side.
    refused("photo too large", "larger than the limit of 1024 kb")(
        submit_with_face(&console, &cid, |req| {
            Some(face_signed_by(&sim, &devices.device, req, |d| {
                let huge = FaceImage {
                    kind: FaceImageType::Jpeg,
                    width: 120,
                    height: 150,
                    data: vec![0xff; idp::enrolment::MAX_FACE_BYTES + 1],
                };
                d.bio_value = URL_SAFE_NO_PAD.encode(face::write_record(&huge));
            }))
        })
        .await,
    );
    refused("photo too wide", "5000×5000")(
        submit_with_face(&console, &cid, |req| {
            Some(face_signed_by(&sim, &devices.device, req, |d| {
                let photo = face::synthetic_photo(copy).unwrap();
                let wide = FaceImage { width: 5000, height: 5000, ..photo };
                d.bio_value = URL_SAFE_NO_PAD.encode(face::write_record(&wide));
            }))
        })
        .await,
    );
    // 7. No photo at all (`enrolment.require_face` is on by default).
    refused("no photo", "needs a face photo")(submit_with_face(&console, &cid, |_| None).await);
    // A fingers' capture sent as the face.
    refused("fingers as the face", "face photo was refused")(
        submit_with_face(&console, &cid, |req| {
            let req: CaptureRequest = serde_json::from_value(req.clone()).unwrap();
            let mut fingers = req.clone();
            fingers.bio = vec![biometric_adapter::sbi::messages::BioRequest {
                bio_type: "Finger".into(),
                count: 2,
                bio_sub_type: Vec::new(),
                exception: Vec::new(),
                requested_score: 60,
                device_id: "1".into(),
                device_sub_id: "3".into(),
                previous_hash: req.bio[0].previous_hash.clone(),
            }];
            let data = sim.capture_data(&fingers, Purpose::Registration, now()).unwrap();
            Some((json!(req.transaction_id), signed_response(&devices.device, &data, &req)))
        })
        .await,
    );
    assert_eq!(stored().await, before, "nothing stored by any refused photo");

    // The copy, with a genuine photo, goes to adjudication.
    let (s, outcome) = console.enrol(&cid, "enrolment").await;
    assert_eq!((s, outcome["outcome"].as_str()), (200, Some("adjudication")), "{outcome}");
    let case = outcome["case_id"].as_str().unwrap().to_owned();

    // A supervisor sees both photos, served from this origin under a policy allowing no other.
    let supervisor = make_officer(&idp, SUPERVISOR, idp::enrolment::Role::Supervisor).await;
    let r = supervisor.http.get(supervisor.abs(&format!("/enrol/cases/{case}"))).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("img-src 'self';") && !csp.contains("unsafe-inline") && !csp.contains("data:"), "{csp}");
    let case_page = r.text().await.unwrap();
    let applicant = format!("/enrol/cases/{case}/face");
    let candidate = format!("/enrol/cases/{case}/candidates/0/face");
    assert!(case_page.contains(&format!("src=\"{applicant}\"")), "{case_page}");
    assert!(case_page.contains(&format!("src=\"{candidate}\"")), "{case_page}");
    assert!(!case_page.contains("<script>") && !case_page.contains("data:image"), "{case_page}");
    let person = sim.person_of(copy).unwrap();
    for path in [&applicant, &candidate] {
        let (s, headers, body) = get_raw(&supervisor, path).await;
        assert_eq!(s, 200, "{path}");
        assert_eq!(headers["content-type"], "image/jpeg");
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        // The copy and the original are the same person: the camera's photo of them.
        assert_eq!(body, face::synthetic_photo(person).unwrap().data, "{path}");
    }
    assert_eq!(get_raw(&supervisor, &format!("/enrol/cases/{case}/candidates/1/face")).await.0, 404);
    assert_eq!(get_raw(&supervisor, "/enrol/cases/no-such-case/face").await.0, 404);

    // An enrolment officer, or nobody signed in, gets no photo; the officer's refusal is audited.
    let denied_before = audit_count(&idp, "officer_denied").await;
    for path in [&applicant, &candidate] {
        let (s, headers, body) = get_raw(&officer, path).await;
        assert_eq!(s, 403, "{path}");
        assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"), "{path}");
        assert!(!body.windows(2).any(|w| w == [0xff, 0xd8]), "no JPEG in the refusal");
        let (s, _, _) = get_raw(&Browser::new(&idp.base), path).await;
        assert_eq!(s, 303, "to the login page");
    }
    assert_eq!(audit_count(&idp, "officer_denied").await, denied_before + 2);
    assert_eq!(audit_count(&idp, "face_photo_viewed").await, 2, "each view by the supervisor is recorded");

    // Re-verification needs no photo (and takes one when sent: `bad_captures_are_refused`).
    console.present(original).await;
    let mut last = (0, Value::Null);
    for _ in 0..5 {
        last = submit_kind_with_face(&console, &person_cid(original), "reverification", |_| None).await;
        if !(last.0 == 400 && last.1["error"].as_str().is_some_and(|e| e.contains("recapture needed"))) {
            break;
        }
    }
    assert_eq!((last.0, last.1["outcome"].as_str()), (200, Some("verified")), "{last:?}");
    idp.stop().await;
}
both_backends!(face_photos_are_verified_and_shown_to_supervisors);

async fn audit_count(idp: &TestIdp, event: &str) -> usize {
    idp::store::audit::page(&idp.state().db, 0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.body.event == event)
        .count()
}

/// With `enrolment.require_face = false` the photo is optional: the console is told so, an
/// enrolment without one is issued, and one with a photo still has it verified.
async fn the_face_is_optional_when_configured(backend: Backend) {
    let devices = devices();
    let Some((idp, _dir)) = setup_with(backend, &devices, 4, false).await else { return };
    let config = SimulatorConfig { seed: 12, subjects: 4, duplicates: 0, ..SimulatorConfig::default() };
    let (port, sim) = simulator(config, &devices.device, devices.provider.ca_pem(), false).await;
    let officer = make_officer(&idp, OFFICER, idp::enrolment::Role::EnrolmentOfficer).await;
    let console = Console::open(&officer, port).await;
    console.present(1).await;
    let (s, start) = console.start(&person_cid(1), "enrolment").await;
    assert_eq!((s, &start["face_required"]), (200, &json!(false)), "{start}");
    let mut last = (0, Value::Null);
    for _ in 0..5 {
        last = submit_with_face(&console, &person_cid(1), |_| None).await;
        if !(last.0 == 400 && last.1["error"].as_str().is_some_and(|e| e.contains("recapture needed"))) {
            break;
        }
    }
    assert_eq!((last.0, last.1["outcome"].as_str()), (200, Some("issued")), "{last:?}");
    // A photo that is sent is still verified.
    console.present(2).await;
    let (s, body) =
        submit_with_face(&console, &person_cid(2), |req| Some(face_signed_by(&sim, &devices.rogue, req, |_| {}))).await;
    assert!(s == 400 && body["error"].as_str().unwrap().contains("trusted"), "{body}");
    let (s, outcome) = console.enrol(&person_cid(2), "enrolment").await;
    assert_eq!((s, outcome["outcome"].as_str()), (200, Some("issued")), "{outcome}");
    idp.stop().await;
}
both_backends!(the_face_is_optional_when_configured);
