//! EMIS against the real identity provider, with software passkeys (`openid profile
//! national_id`): a principal enrols a child with a guardian; a teacher records marks and
//! corrects one; bad input is refused clearly and changes nothing; a teacher of another school
//! (and a teacher asking for a principal's action) gets 403 and an audit entry; the principal
//! issues a report card that anyone with its number can verify; the card is a PDF sealed by
//! EMIS's seal (sealed later by the retry when the identity provider could not seal it at
//! issue), which the guardian downloads and Drukyul ID verifies (a changed byte does not), and
//! which nobody else can download; the guardian logs in and sees the child's marks and who
//! recorded and changed them; the agency API
//! (`GET /api/students/{cid}/enrolment`) answers only a caller with `emis.enrolment`; a
//! transfer ends one enrolment and starts another. SQLite and PostgreSQL.

use agency_kit::audit;
use emis::domain::{self, Cid};
use idp::domain::client::{GrantType, RedirectUri, Scope};
use relying_party_sdk::{ClientAuth, ClientSecret, Provider, ProviderOptions, ServiceClient};
use serde_json::Value;

use crate::{
    authenticator::ResidentSoftPasskey,
    both_backends,
    citizen::{self, Browser},
    support::{self, Backend},
};

const PRINCIPAL: &str = "10101001234";
const GUARDIAN: &str = "11512000123";
const TEACHER: &str = "10203004005";
const OTHER_TEACHER: &str = "10406007008";
/// The child: no digital ID of their own (the school enters the CID the family gives).
const CHILD: &str = "10101009876";

/// The module's CSRF field in a page.
fn csrf_of(page: &str) -> String {
    let i = page.find("name=\"csrf\" value=\"").expect("page has a form") + 19;
    page[i..].split('"').next().unwrap().to_string()
}

/// One person's browser and passkey, with a digital ID at the provider.
struct Person {
    b: Browser,
    key: ResidentSoftPasskey,
}

impl Person {
    /// Opens `url` on EMIS; if sent to log in, logs in through the provider and comes back.
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

/// Posts the mark form.
async fn post_mark(p: &Person, url: &str, form: [(&'static str, String); 5]) -> (u16, Option<String>, String) {
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    p.post(url, &form).await
}

/// The marks EMIS holds for the child, as (subject, mark).
async fn marks_of(db: &agency_kit::db::Db) -> Vec<(String, i64)> {
    let child = Cid::parse(CHILD).unwrap();
    let mut v: Vec<_> = domain::marks(db, &child).await.unwrap().into_iter().map(|m| (m.subject, m.mark)).collect();
    v.sort();
    v
}

async fn emis_story(backend: Backend) {
    let Some(idp) = support::start(backend).await else { return };
    let _ = rustls::crypto::ring::default_provider().install_default();

    // The registry has the two people of the shared CSV and two teachers; four digital IDs.
    let mut codes = Vec::new();
    for cid in [PRINCIPAL, GUARDIAN] {
        codes.push(citizen::import_and_issue(&idp, cid).await);
    }
    let today = time::OffsetDateTime::now_utc().date();
    let csv = format!(
        "{}{TEACHER},Sonam,,Dorji,1988-05-05,M,Thimphu,Chang,Motithang,HH-3,alive\n\
         {OTHER_TEACHER},Deki,,Yangzom,1992-07-07,F,Thimphu,Chang,Motithang,HH-9,alive\n",
        citizen::CSV
    );
    let people = idp::domain::registry::parse_csv(csv.as_bytes(), today, 100);
    let now = idp::domain::now();
    idp.state().import_registry(people, "emis.csv", "operator", now, &mut |_| {}).await.unwrap().unwrap();
    for cid in [TEACHER, OTHER_TEACHER] {
        let cid = idp::domain::cid::Cid::parse(cid).unwrap();
        codes.push(idp.state().issue_citizen(&cid, "operator", now).await.unwrap().activation_code);
    }
    let mut persons = Vec::new();
    for (cid, code) in [PRINCIPAL, GUARDIAN, TEACHER, OTHER_TEACHER].into_iter().zip(&codes) {
        let mut key = ResidentSoftPasskey::new();
        let b = Browser::new(&idp.base);
        citizen::activate(&b, &mut key, cid, code).await;
        persons.push(Person { b, key });
    }
    let mut other = persons.pop().unwrap();
    let mut teacher = persons.pop().unwrap();
    let mut guardian = persons.pop().unwrap();
    let mut principal = persons.pop().unwrap();

    // EMIS is registered (with the CID released under national_id; client credentials with the
    // scope seal, for its seal on the report cards) and started in-process.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let mut meta = citizen::web_client(&format!("{app}/auth/callback"));
    meta.client_name = "EMIS".into();
    meta.scope = Scope::parse("openid profile national_id seal").unwrap();
    meta.grant_types.push(GrantType::ClientCredentials);
    meta.allow_national_id = true;
    meta.post_logout_redirect_uris = vec![RedirectUri::parse(&format!("{app}/")).unwrap()];
    let (client_id, secret) = support::register(&idp, meta).await;
    let emis_db = support::fresh_db(backend).await.unwrap();
    let cfg = emis::Config {
        public_url: app.clone(),
        database_url: Some(emis_db.url.clone()),
        issuer: idp.base.clone(),
        client_id: client_id.clone(),
        client_secret: secret,
        ..emis::Config::default()
    };
    let emis_app = emis::App::build(&cfg).await.unwrap();
    let db = emis_app.db().clone();
    let running = agency_kit::server::spawn(emis_app.router(), listener).unwrap();
    // The operator's commands: `emis staff add CID --role principal --school THI-LMSS --name ...`.
    let now = agency_kit::now();
    let year = domain::current_year(now).unwrap().to_string();
    domain::add_staff(&db, PRINCIPAL, domain::PRINCIPAL, Some("THI-LMSS"), "Karma Wangchuk", "operator", now)
        .await
        .unwrap();
    domain::add_staff(&db, TEACHER, domain::TEACHER, Some("THI-LMSS"), "Sonam Dorji", "operator", now).await.unwrap();
    domain::add_staff(&db, OTHER_TEACHER, domain::TEACHER, Some("THI-CMSS"), "Deki Yangzom", "operator", now)
        .await
        .unwrap();
    let bad = domain::add_staff(&db, TEACHER, domain::TEACHER, Some("NOWHERE"), "X", "operator", now).await;
    assert!(bad.unwrap_err().to_string().contains("no school"));

    // The principal enrols the child with the mother as guardian; bad input changes nothing.
    let school = format!("{app}/school/THI-LMSS");
    let (s, page) = principal.open(&school).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("Lungtenzampa Middle Secondary School") && page.contains("Enrol a student"), "{page}");
    let csrf = csrf_of(&page);
    let good = [
        ("csrf", csrf.as_str()),
        ("cid", CHILD),
        ("name", "Tashi Dema"),
        ("date_of_birth", "2013-03-04"),
        ("year", &year),
        ("class", "6"),
        ("guardian_cid", GUARDIAN),
        ("guardian_relationship", "mother"),
        ("guardian2_cid", ""),
        ("guardian2_relationship", "father"),
    ];
    let with = |field: &str, value: &'static str| -> Vec<(&'static str, String)> {
        good.iter().map(|&(k, v)| (k, if k == field { value.to_string() } else { v.to_string() })).collect()
    };
    let enrol = format!("{school}/enrol");
    for (field, value, says) in [
        ("cid", "123", "The child&#39;s CID must be 11 digits."),
        ("class", "11", "A Middle Secondary School teaches PP to Class 10, not Class 11."),
        ("guardian_cid", "", "A guardian&#39;s CID (11 digits) is required."),
        ("guardian_cid", CHILD, "cannot be their own guardian"),
        ("date_of_birth", "2999-01-01", "The date of birth is in the future."),
        ("name", "<script>x</script>\u{7}", "control characters"),
        ("year", "1999", "The academic year must be"),
    ] {
        let form = with(field, value);
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (s, _, body) = principal.post(&enrol, &form).await;
        assert_eq!(s, 400, "{field}: {body}");
        assert!(body.contains(says), "{field}: {body}");
        assert!(!body.contains("<script>"), "escaped");
    }
    let child = Cid::parse(CHILD).unwrap();
    assert!(domain::student(&db, &child).await.unwrap().is_none(), "the refused enrolments stored nothing");
    assert!(audit::with_action(&db, "student_enrolled", 10).await.unwrap().is_empty());
    let forged: Vec<(&str, &str)> =
        good.iter().map(|&(k, v)| if k == "csrf" { (k, "forged") } else { (k, v) }).collect();
    let (s, _, _) = principal.post(&enrol, &forged).await;
    assert_eq!(s, 403, "no CSRF token, no enrolment");
    let (s, loc, body) = principal.post(&enrol, &good).await;
    assert_eq!(s, 303, "{body}");
    let record = format!("{school}/students/{CHILD}");
    assert_eq!(loc.as_deref(), Some(format!("/school/THI-LMSS/students/{CHILD}").as_str()));
    let (s, _, body) = principal.post(&enrol, &good).await;
    assert_eq!(s, 409, "{body}");
    assert!(body.contains("already enrolled here"), "{body}");
    let (_, page) = principal.open(&school).await;
    assert!(page.contains("Tashi Dema") && page.contains("Class 6"), "on the class roll: {page}");

    // The teacher records marks and corrects one; bad marks change nothing.
    let (s, page) = teacher.open(&record).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("Tashi Dema") && page.contains("Record a mark"), "{page}");
    assert!(!page.contains("Issue a report card"), "a principal's form");
    let csrf = csrf_of(&page);
    let marks = format!("{record}/marks");
    let mark = |subject: &'static str, value: &'static str| {
        [
            ("csrf", csrf.clone()),
            ("year", year.clone()),
            ("term", "term1".into()),
            ("subject", subject.into()),
            ("mark", value.into()),
        ]
    };
    for (subject, value) in [("ENG", "78"), ("MAT", "91")] {
        let (s, _, body) = post_mark(&teacher, &marks, mark(subject, value)).await;
        assert_eq!(s, 303, "{body}");
    }
    for (form, says) in [
        (mark("MAT", "101"), "A mark is a whole number from 0 to 100."),
        (mark("MAT", "-1"), "whole number from 0 to 100"),
        (mark("MAT", "ninety"), "whole number from 0 to 100"),
        (mark("MAT", "92.5"), "whole number from 0 to 100"),
        (mark("PHY", "80"), "Physics is not taught in Class 6."),
        (mark("XYZ", "80"), "There is no subject with that code"),
        (
            {
                let mut f = mark("MAT", "80");
                f[2].1 = "term3".into();
                f
            },
            "The term must be term1 (mid-year) or term2 (annual).",
        ),
    ] {
        let (s, _, body) = post_mark(&teacher, &marks, form).await;
        assert_eq!(s, 400, "{body}");
        assert!(body.contains(says), "{says}: {body}");
    }
    assert_eq!(marks_of(&db).await, [("ENG".to_string(), 78), ("MAT".to_string(), 91)], "nothing changed");
    let (s, _, _) = post_mark(&teacher, &marks, mark("MAT", "93")).await;
    assert_eq!(s, 303);
    assert_eq!(marks_of(&db).await, [("ENG".to_string(), 78), ("MAT".to_string(), 93)]);
    let changed = audit::with_action(&db, "mark_changed", 10).await.unwrap();
    assert_eq!(changed.len(), 1);
    assert!(changed[0].flagged && changed[0].actor == format!("staff:{TEACHER}"));
    assert_eq!((changed[0].detail["previous"].as_i64(), changed[0].detail["mark"].as_i64()), (Some(91), Some(93)));
    assert_eq!(audit::with_action(&db, "mark_recorded", 10).await.unwrap().len(), 2);

    // Without the role: a teacher of another school, and a teacher doing a principal's work.
    let (s, body) = other.open(&record).await;
    assert_eq!(s, 403, "{body}");
    assert!(body.contains("teacher role at THI-LMSS"), "{body}");
    let (_, page) = other.open(&format!("{app}/me")).await;
    let mut form = mark("MAT", "0");
    form[0].1 = csrf_of(&page);
    let (s, _, body) = post_mark(&other, &marks, form).await;
    assert_eq!(s, 403);
    assert!(body.contains("teacher role at THI-LMSS"), "refused for the role, not the form: {body}");
    let (s, body) = other.open(&format!("{app}/school/THI-CMSS/students/{CHILD}")).await;
    assert_eq!(s, 403, "her own school, but the child is not enrolled there");
    assert!(body.contains("not enrolled at your school"), "{body}");
    let (s, _, _) =
        teacher.post(&format!("{record}/report-cards"), &[("csrf", &csrf), ("year", &year), ("term", "term1")]).await;
    assert_eq!(s, 403, "a principal's action");
    assert_eq!(marks_of(&db).await, [("ENG".to_string(), 78), ("MAT".to_string(), 93)], "nothing changed");
    let denied = audit::with_action(&db, "role_denied", 10).await.unwrap();
    let about_child: Vec<_> = denied.iter().filter(|e| e.subject == child.subject()).collect();
    assert_eq!(about_child.len(), 3, "{denied:?}");
    assert!(about_child.iter().all(|e| e.flagged));
    assert_eq!(about_child.iter().filter(|e| e.actor == format!("citizen:{OTHER_TEACHER}")).count(), 2);
    assert_eq!(about_child.iter().filter(|e| e.actor == format!("citizen:{TEACHER}")).count(), 1);
    let refused = audit::with_action(&db, "record_access_refused", 10).await.unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(
        (refused[0].actor.as_str(), refused[0].detail["school"].as_str()),
        ("staff:10406007008", Some("THI-CMSS"))
    );
    assert!(domain::report_cards_of(&db, &child).await.unwrap().is_empty());

    // The principal issues the term's report card; anyone with its number can check it.
    let (_, page) = principal.open(&record).await;
    let csrf = csrf_of(&page);
    let issue = format!("{record}/report-cards");
    let (s, _, body) = principal.post(&issue, &[("csrf", &csrf), ("year", &year), ("term", "term2")]).await;
    assert_eq!(s, 400, "no marks for term 2 yet: {body}");
    let (s, loc, body) = principal.post(&issue, &[("csrf", &csrf), ("year", &year), ("term", "term1")]).await;
    assert_eq!(s, 303, "{body}");
    let first = loc.unwrap();
    let number = first.strip_prefix("/report-cards/").unwrap().to_string();
    let http = support::http();
    let card = http.get(format!("{app}{first}")).send().await.unwrap();
    assert_eq!(card.status(), 200);
    let card = card.text().await.unwrap();
    for says in [
        "Valid.",
        "Lungtenzampa Middle Secondary School",
        "Tashi Dema",
        "Term 1 (mid-year examination)",
        "Mathematics",
        "<td>93</td>",
        "85.5",
        "Karma Wangchuk",
    ] {
        assert!(card.contains(says), "{says}: {card}");
    }
    assert!(!card.contains(CHILD), "the public page never shows the CID");
    // The identity provider has no CA yet, so it could not seal the card: the card stands, the
    // error is recorded, and the retry seals it once the CA is there.
    let stored = domain::report_card(&db, &number).await.unwrap().unwrap();
    assert!(!stored.sealed && stored.seal_error.contains("no CA"), "{}", stored.seal_error);
    assert!(card.contains("being prepared"), "{card}");
    assert!(domain::pdf(&db, &number).await.unwrap().is_none());
    assert_eq!(emis_app.retry_pending(agency_kit::now()).await.unwrap(), 1, "still no CA");
    idp::pki::init(idp.state(), idp::domain::now()).await.unwrap();
    assert_eq!(emis_app.retry_pending(agency_kit::now()).await.unwrap(), 0);
    let stored = domain::report_card(&db, &number).await.unwrap().unwrap();
    assert!(stored.sealed && stored.seal_error.is_empty(), "{}", stored.seal_error);
    let card = http.get(format!("{app}{first}")).send().await.unwrap().text().await.unwrap();
    assert!(card.contains("A PDF of this card sealed by EMIS exists"), "{card}");
    for bad in ["RC-2025-0000000000", "rc-<x>"] {
        let r = http.get(format!("{app}/report-cards/{bad}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{bad}");
    }
    // A correction after issue: the re-issued card supersedes the first.
    let (s, _, _) = post_mark(&teacher, &marks, mark("ENG", "80")).await;
    assert_eq!(s, 303);
    let (s, loc, _) = principal.post(&issue, &[("csrf", &csrf), ("year", &year), ("term", "term1")]).await;
    assert_eq!(s, 303);
    let second = loc.unwrap();
    let old = http.get(format!("{app}{first}")).send().await.unwrap().text().await.unwrap();
    assert!(
        old.contains("Not valid: superseded") && old.contains(second.trim_start_matches("/report-cards/")),
        "{old}"
    );
    assert!(old.contains("A PDF of this card sealed by EMIS exists"), "a superseded card keeps its PDF: {old}");
    let new = http.get(format!("{app}{second}")).send().await.unwrap().text().await.unwrap();
    assert!(new.contains("Valid.") && new.contains("<td>80</td>"), "{new}");
    let second_number = second.trim_start_matches("/report-cards/").to_string();
    assert!(domain::report_card(&db, &second_number).await.unwrap().unwrap().sealed, "sealed at issue now");

    // The guardian logs in with her passkey and sees the child's record and who changed it.
    let (s, page) = guardian.open(&format!("{app}/me")).await;
    assert_eq!(s, 200, "{page}");
    for says in [
        "Tashi Dema (you are their guardian)",
        "Lungtenzampa Middle Secondary School",
        "<td>93</td>",
        "Sonam Dorji",
        "CHANGED Mathematics for Term 1 (mid-year examination)",
        "from 91 to 93",
        &number,
        "superseded",
        "Karma Wangchuk (principal)",
        &format!("enrolled the student in Class 6 for {year}; guardians recorded: {GUARDIAN} (mother)"),
        "without the teacher role at THI-LMSS (refused)",
        "without the principal role at THI-LMSS (refused)",
        "the student is not enrolled there (refused)",
        "<tr class=\"flag\">",
    ] {
        assert!(page.contains(says), "{says}: {page}");
    }
    // The guardian downloads the card as a PDF sealed by EMIS: Drukyul ID verifies it and names
    // EMIS's client as the sealing agency; the same PDF with one changed byte does not verify.
    let pdf_url = format!("{app}{second}/pdf");
    assert!(page.contains(&format!("{second}/pdf")), "the download is linked: {page}");
    let r = guardian.b.http.get(&pdf_url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let pdf = r.bytes().await.unwrap().to_vec();
    assert!(pdf.starts_with(b"%PDF-"));
    let sdk = relying_party_sdk::signing::SigningClient::new(idp.base.parse().unwrap(), support::http());
    let v = sdk.verify_pdf(None, &pdf).await.unwrap();
    assert!(v.valid, "{v:?}");
    assert_eq!(v.agency.as_deref(), Some(client_id.as_str()));
    assert_eq!(v.signer.as_deref(), Some("EMIS"));
    assert_eq!(v.certificate_status.as_deref(), Some("good"));
    for shows in [&second_number as &str, "Tashi Dema", "Lungtenzampa Middle Secondary School", "Mathematics"] {
        assert!(pdf.windows(shows.len()).any(|w| w == shows.as_bytes()), "the PDF shows {shows}");
    }
    assert!(!pdf.windows(CHILD.len()).any(|w| w == CHILD.as_bytes()), "no CID on the card");
    let mut changed = pdf.clone();
    let at = pdf.windows(5).position(|w| w == b"Tashi").unwrap();
    changed[at] = b't';
    assert!(!sdk.verify_pdf(None, &changed).await.unwrap().valid, "a changed card does not verify");
    // The superseded card keeps its sealed PDF (what was issued; the public page says superseded).
    let r = guardian.b.http.get(format!("{app}{first}/pdf")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(sdk.verify_pdf(None, &r.bytes().await.unwrap()).await.unwrap().valid);
    // Nobody else downloads it: a logged-in teacher (not the student or a guardian) gets the
    // same 404 as for a number that does not exist, and the attempt is audited; without a login
    // the browser is sent to log in.
    let (s, _, body) = teacher.b.get(&pdf_url).await;
    assert_eq!(s, 404, "{body}");
    let (s2, _, body2) = teacher.b.get(&format!("{app}/report-cards/RC-2025-00000000000000000000/pdf")).await;
    assert_eq!(s2, 404);
    assert_eq!(
        body.replace(&second_number, ""),
        body2.replace("RC-2025-00000000000000000000", ""),
        "indistinguishable"
    );
    let refused = audit::with_action(&db, "report_card_download_refused", 10).await.unwrap();
    assert_eq!(refused.len(), 1);
    assert!(
        refused[0].flagged && refused[0].actor == format!("citizen:{TEACHER}") && refused[0].subject == child.subject()
    );
    let r = http.get(&pdf_url).send().await.unwrap();
    assert_eq!(r.status(), 303, "no login, no PDF");
    assert!(r.headers()["location"].to_str().unwrap().contains("/authorize"));

    // The teacher is no student or guardian: nothing to see, and nobody else's record.
    let (s, page) = teacher.open(&format!("{app}/me")).await;
    assert_eq!(s, 200);
    assert!(page.contains("EMIS has no student record for you") && !page.contains("Tashi Dema"), "{page}");

    // The agency API: a scholarship agency (scope emis.enrolment) asks; others are refused.
    let provider = Provider::discover(&idp.base, ProviderOptions::default()).await.unwrap();
    let caller = |name: &str, scope: &str| {
        let mut m = support::api_client(name, scope);
        m.resources = vec![format!("{app}/api")];
        m
    };
    let (sch_id, sch_secret) = support::register(&idp, caller("Scholarships", "emis.enrolment")).await;
    let (ot_id, ot_secret) = support::register(&idp, caller("ePIS", "epis.patients")).await;
    let scholarships =
        ServiceClient::new(&provider, &sch_id, ClientAuth::SecretBasic(ClientSecret::new(sch_secret.unwrap())))
            .unwrap();
    let epis_client =
        ServiceClient::new(&provider, &ot_id, ClientAuth::SecretBasic(ClientSecret::new(ot_secret.unwrap()))).unwrap();
    let now = agency_kit::now();
    let token = scholarships.token("emis.enrolment", None, now).await.unwrap();
    let wrong = epis_client.token("epis.patients", None, now).await.unwrap();
    let api = format!("{app}/api/students/{CHILD}/enrolment");
    let checks = || async { audit::with_action(&db, "enrolment_checked", 10).await.unwrap().len() };
    let r = http.get(&api).send().await.unwrap();
    assert_eq!(r.status(), 401, "no token");
    let r = http.get(&api).bearer_auth("not-a-token").send().await.unwrap();
    assert_eq!(r.status(), 401, "a bad token");
    let r = http.get(&api).bearer_auth(&wrong).send().await.unwrap();
    assert_eq!(r.status(), 403, "another agency's scope");
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("insufficient_scope"));
    assert_eq!(checks().await, 0, "the refused calls learnt nothing and were not answered");
    let r = http.get(&api).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["enrolled"], true, "{v}");
    assert_eq!((v["school"]["code"].as_str(), v["class"].as_str()), (Some("THI-LMSS"), Some("Class 6")), "{v}");
    assert_eq!(v["name"], "Tashi Dema");
    assert!(v.get("marks").is_none() && v.get("guardians").is_none(), "only the enrolment: {v}");
    for (url, status) in [
        (format!("{app}/api/students/123/enrolment"), 400),
        (format!("{api}?year=next"), 400),
        (format!("{app}/api/students/10101000000/enrolment"), 404),
    ] {
        let r = http.get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), status, "{url}");
        let v: Value = r.json().await.unwrap();
        assert!(v["error_description"].is_string(), "{v}");
    }
    let log = domain::access_log(&db, &child).await.unwrap();
    assert!(log.iter().any(|e| e.action == "enrolment_checked" && e.actor == format!("client:{sch_id}")));

    // A transfer: a second school cannot enrol the child until the first ends the enrolment.
    let cmss = domain::school(&db, "THI-CMSS").await.unwrap().unwrap();
    let cmss_principal =
        domain::add_staff(&db, OTHER_TEACHER, domain::PRINCIPAL, Some("THI-CMSS"), "Deki Yangzom", "operator", now)
            .await
            .unwrap();
    let input = domain::EnrolIn {
        cid: CHILD.into(),
        name: "Tashi Dema".into(),
        date_of_birth: "2013-03-04".into(),
        year: year.clone(),
        class: "6".into(),
        guardian_cid: GUARDIAN.into(),
        guardian_relationship: "mother".into(),
        ..domain::EnrolIn::default()
    };
    let v = input.validate(&cmss, now).unwrap();
    let e = domain::enrol(&db, &cmss_principal, &cmss, &v, now).await.unwrap_err();
    assert!(e.to_string().contains("enrolled at Lungtenzampa Middle Secondary School"), "{e}");
    let (s, _, body) =
        principal.post(&format!("{record}/end"), &[("csrf", &csrf), ("year", &year), ("reason", "transferred")]).await;
    assert_eq!(s, 303, "{body}");
    let v2: Value = http.get(&api).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(v2["enrolled"], false, "{v2}");
    domain::enrol(&db, &cmss_principal, &cmss, &v, now).await.unwrap();
    let v3: Value = http.get(&api).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(v3["school"]["code"], "THI-CMSS", "{v3}");
    let (s, _) = teacher.open(&record).await;
    assert_eq!(s, 403, "the old school's teacher no longer opens the record");
    let (s, page) = other.open(&format!("{app}/school/THI-CMSS/students/{CHILD}")).await;
    assert_eq!(s, 200, "the new school's staff do");
    assert!(page.contains("transferred"), "{page}");

    running.stop().await;
    idp.stop().await;
}
both_backends!(emis_story);
