//! The enrolment console: officers find a person in the registry, capture ten fingers through
//! their own scanner's device service (the page's script talks to it on 127.0.0.1 and forwards
//! the signed answer, which the server verifies again), and read the activation code to print;
//! supervisors decide adjudication cases. Every page checks the officer's role on every request.

use std::collections::HashMap;

use askama::Template;
use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use base64::Engine;

use super::{
    extract::OAuthForm,
    pages::{
        Browser, csrf_header, csrf_ok, csrf_refused, csrf_token, date, finish, json_error, json_fail, message,
        parse_json, render,
    },
};
use crate::{
    app::{AppState, Idp},
    domain::{self, cid::Cid},
    enrolment::{self, Outcome, PacketKind, Role, Stop, Verdict, fill},
    error::{Error, Result},
    i18n::T,
    store::{self, enrolment::OfficerRow},
};

/// What the console may connect to besides this origin: the officer's own device service on
/// 127.0.0.1 (MOSIP SBI, ports 4501-4600).
const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self' http://127.0.0.1:* http://localhost:*; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The signed-in officer with at least `needed`, or the response to send instead (the login
/// page, or a 403 page — the refusal is audited by [`enrolment::require`]).
async fn officer(
    idp: &Idp,
    b: &Browser,
    needed: Role,
    what: &str,
    now: i64,
) -> Result<std::result::Result<OfficerRow, Response>> {
    let Some(s) = b.session(idp, now).await? else {
        return Ok(Err(finish(idp, b, Redirect::to("/login").into_response())));
    };
    match enrolment::require(idp, &s.account_id, needed, what, now).await {
        Ok(o) => Ok(Ok(o)),
        Err(Error::Forbidden(_)) => {
            let m = role_refusal(idp.i18n.t(b.lang(None)), needed);
            Ok(Err(message(idp, b, StatusCode::FORBIDDEN, "error.title", m, "")))
        }
        Err(e) => Err(e),
    }
}

/// "This needs the supervisor role", in the page's language.
fn role_refusal(t: T<'_>, needed: Role) -> String {
    t.fmt("enrol.refusal.role", "role", t.get(&format!("enrol.role.{}", needed.as_str())))
}

/// A console step that did not succeed, for the console's script: a refusal in the officer's
/// language; another bad-input error (a matcher's, an extractor's) framed in it, its technical
/// detail as it is; anything else mapped as usual.
fn console_fail(t: T<'_>, stop: Stop) -> Response {
    match stop {
        Stop::Refused(r) if r.not_found => json_error(StatusCode::NOT_FOUND, &r.text(t)),
        Stop::Refused(r) => json_error(StatusCode::BAD_REQUEST, &r.text(t)),
        Stop::Failed(Error::Invalid(m)) => {
            json_error(StatusCode::BAD_REQUEST, &t.fmt("enrol.refusal.other", "reason", &m))
        }
        Stop::Failed(Error::Forbidden(_)) => {
            json_error(StatusCode::FORBIDDEN, &role_refusal(t, Role::EnrolmentOfficer))
        }
        Stop::Failed(e) => json_fail(e),
    }
}

/// The same for the console's JSON calls.
async fn officer_json(
    idp: &Idp,
    b: &Browser,
    headers: &HeaderMap,
    now: i64,
) -> std::result::Result<OfficerRow, Response> {
    let t = idp.i18n.t(b.lang(None));
    if !csrf_ok(idp, b, csrf_header(headers)) {
        return Err(json_error(StatusCode::FORBIDDEN, t.get("error.csrf")));
    }
    let s = match b.session(idp, now).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(json_error(StatusCode::UNAUTHORIZED, t.get("error.session"))),
        Err(e) => return Err(json_fail(e)),
    };
    enrolment::require(idp, &s.account_id, Role::EnrolmentOfficer, "enrolment:capture", now)
        .await
        .map_err(|e| console_fail(t, Stop::Failed(e)))
}

fn console_csp(mut r: Response) -> Response {
    r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONSOLE_CSP));
    r
}

struct PersonView {
    cid: String,
    name: String,
    born: String,
    sex: String,
    place: String,
}

impl PersonView {
    /// The registry's record, its labels in the page's language (names stay as registered).
    fn of(t: T<'_>, p: &crate::domain::registry::Person) -> Self {
        let sex = match p.sex.as_str() {
            "M" | "m" => t.get("enrol.sex_m").to_owned(),
            "F" | "f" => t.get("enrol.sex_f").to_owned(),
            other => other.to_owned(),
        };
        PersonView {
            cid: p.cid.as_str().to_owned(),
            name: p.full_name(),
            born: p.date_of_birth.clone(),
            sex,
            place: fill(
                t.get("enrol.place"),
                &[("village", p.village.clone()), ("gewog", p.gewog.clone()), ("dzongkhag", p.dzongkhag.clone())],
            ),
        }
    }
}

/// What the console's script says, in the page's language: its messages (`enrol.js.*`) and the
/// fingers by the names the scanner gives them (SBI `bioSubType`). Handed over in a data
/// attribute, as JSON: the console's CSP allows no inline script.
fn console_text(t: T<'_>) -> String {
    const MESSAGES: &[&str] = &[
        "looking",
        "no_scanner",
        "server_refused",
        "place_fingers",
        "not_capture",
        "scanner_refused",
        "checking",
        "unreachable",
        "quality",
        "no_code",
        "none",
        "issued_title",
        "issued_text",
        "verified_title",
        "verified_text",
        "adjudication_title",
        "adjudication_text",
        "not_matched_title",
        "not_matched_text",
        "refused_title",
        "refused_text",
        "looking_camera",
        "no_camera",
        "look_at_camera",
        "camera_refused",
        "face_quality",
        "no_preview",
    ];
    let mut text = serde_json::Map::new();
    for m in MESSAGES {
        text.insert((*m).to_owned(), t.get(&format!("enrol.js.{m}")).into());
    }
    let mut fingers = serde_json::Map::new();
    // Both spellings a device may use: the specification's (`LF_INDEX`) and MOSIP's (`Left IndexFinger`).
    for (side, short) in [("Left", "LF"), ("Right", "RF")] {
        for (finger, code) in [
            ("Thumb", "THUMB"),
            ("IndexFinger", "INDEX"),
            ("MiddleFinger", "MIDDLE"),
            ("RingFinger", "RING"),
            ("LittleFinger", "LITTLE"),
        ] {
            for name in [format!("{side} {finger}"), format!("{short}_{code}")] {
                if let Some(f) = biometric_adapter::sbi::messages::finger_from_sub_type(&name) {
                    fingers.insert(name, enrolment::finger_name(t, f).into());
                }
            }
        }
    }
    text.insert("fingers".into(), fingers.into());
    serde_json::Value::Object(text).to_string()
}

#[derive(Template)]
#[template(path = "enrol.html")]
struct ConsolePage<'a> {
    t: T<'a>,
    csrf: String,
    script: bool,
    back: String,
    officer: String,
    role: String,
    centre: String,
    query: String,
    error: String,
    person: Option<PersonView>,
    /// `enrolment`, `reverification`, or empty when the person cannot be captured.
    action: String,
    refusal: String,
    supervisor: bool,
    open_cases: usize,
    /// The script's strings ([`console_text`]).
    text: String,
}

/// `GET /enrol[?cid=...]`.
pub async fn console(
    State(idp): State<AppState>,
    b: Browser,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let now = domain::now();
    let o = match officer(&idp, &b, Role::EnrolmentOfficer, "enrolment:console", now).await? {
        Ok(o) => o,
        Err(r) => return Ok(r),
    };
    let t = idp.i18n.t(b.lang(None));
    let officer_name = person_name(&idp, &o.cid).await?;
    let query = q.get("cid").map(|c| c.trim().to_owned()).unwrap_or_default();
    let (mut error, mut person, mut action, mut refusal) = (String::new(), None, String::new(), String::new());
    if !query.is_empty() {
        match Cid::parse(&query) {
            Err(_) => error = t.get("enrol.refusal.bad_cid").to_owned(),
            Ok(cid) => match store::registry::person(&idp.db, &cid).await? {
                None => error = t.fmt("enrol.refusal.not_in_registry", "cid", cid.as_str()),
                Some(p) => {
                    // Who looked whom up is part of the record: officers see registry data.
                    idp.audit(
                        crate::domain::audit::NewEntry::new(
                            crate::domain::audit::Event::RegistryLookup,
                            format!("account:{}", o.account_id),
                            format!("person:{}", cid.as_str()),
                        )
                        .detail(serde_json::json!({"centre": o.centre})),
                        now,
                    )
                    .await?;
                    person = Some(PersonView::of(t, &p));
                    match enrolment::check_eligible(&idp, &cid).await {
                        Ok(kind) => action = kind.as_str().to_owned(),
                        Err(Stop::Refused(r)) => refusal = r.text(t),
                        Err(Stop::Failed(e)) => return Err(e),
                    }
                }
            },
        }
    }
    let supervisor = Role::parse(&o.role).is_ok_and(|r| r >= Role::Supervisor);
    let open_cases = if supervisor { store::enrolment::open_cases(&idp.db, 1000).await?.len() } else { 0 };
    let page = ConsolePage {
        t,
        csrf: csrf_token(&idp, &b),
        script: false,
        back: b.path.clone(),
        officer: officer_name,
        role: t
            .get(&format!("enrol.role.{}", Role::parse(&o.role).map_or("enrolment_officer", Role::as_str)))
            .to_owned(),
        centre: o.centre.clone(),
        query,
        error,
        person,
        action,
        refusal,
        supervisor,
        open_cases,
        text: console_text(t),
    };
    Ok(console_csp(finish(&idp, &b, render(page))))
}

async fn person_name(idp: &Idp, cid: &str) -> Result<String> {
    let cid = Cid::parse(cid).map_err(|e| Error::internal(e.to_string()))?;
    Ok(store::registry::person(&idp.db, &cid).await?.map(|p| p.full_name()).unwrap_or_default())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    cid: String,
    kind: PacketKind,
}

/// `POST /enrol/capture/start` (JSON, `x-csrf-token`): the RCAPTURE request for the scanner.
pub async fn capture_start(State(idp): State<AppState>, b: Browser, headers: HeaderMap, body: Bytes) -> Response {
    let now = domain::now();
    let o = match officer_json(&idp, &b, &headers, now).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let t = idp.i18n.t(b.lang(None));
    let body: StartBody = match parse_json(&body) {
        Ok(body) => body,
        Err(e) => return json_fail(e),
    };
    let Ok(cid) = Cid::parse(&body.cid) else {
        return json_error(StatusCode::BAD_REQUEST, t.get("enrol.refusal.bad_cid"));
    };
    match enrolment::try_start_capture(&idp, &o, &cid, body.kind, now).await {
        Ok(start) => no_store(Json(start).into_response()),
        Err(s) => console_fail(t, s),
    }
}

/// `POST /enrol/submit` (JSON, `x-csrf-token`): the scanner's signed answer; the outcome, with
/// the activation code (and its QR code) when a digital ID was issued.
pub async fn submit(State(idp): State<AppState>, b: Browser, headers: HeaderMap, body: Bytes) -> Response {
    let now = domain::now();
    let o = match officer_json(&idp, &b, &headers, now).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let t = idp.i18n.t(b.lang(None));
    let run = async {
        let sub: enrolment::Submission = parse_json(&body)?;
        enrolment::try_submit(&idp, &o, &sub, now).await
    };
    match run.await {
        Ok(outcome) => {
            let mut v = serde_json::to_value(&outcome).unwrap_or_default();
            if let Some(qr) = qr_of(&outcome) {
                v["qr"] = qr.into();
            }
            no_store(Json(v).into_response())
        }
        Err(s) => console_fail(t, s),
    }
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The activation code as a QR code (an SVG data URL), for the slip the citizen takes home.
fn qr_of(outcome: &Outcome) -> Option<String> {
    let (url, code) = match outcome {
        Outcome::Issued { activation_url, activation_code: Some(code), .. } => (activation_url, code),
        Outcome::Verified { activation_url, activation_code, .. } => (activation_url, activation_code),
        _ => return None,
    };
    let text = format!("{url}#code={code}");
    let qr = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = qr.render::<qrcode::render::svg::Color<'_>>().min_dimensions(160, 160).build();
    Some(format!("data:image/svg+xml;base64,{}", base64::engine::general_purpose::STANDARD.encode(svg)))
}

struct CaseLine {
    id: String,
    cid: String,
    name: String,
    opened: String,
    candidates: usize,
}

#[derive(Template)]
#[template(path = "cases.html")]
struct CasesPage<'a> {
    t: T<'a>,
    csrf: String,
    script: bool,
    back: String,
    cases: Vec<CaseLine>,
}

/// `GET /enrol/cases` (supervisors): the open adjudication cases, oldest first.
pub async fn cases(State(idp): State<AppState>, b: Browser) -> Result<Response> {
    let now = domain::now();
    if let Err(r) = officer(&idp, &b, Role::Supervisor, "enrolment:cases", now).await? {
        return Ok(r);
    }
    let mut lines = Vec::new();
    for c in store::enrolment::open_cases(&idp.db, 200).await? {
        let Some(p) = store::enrolment::packet(&idp.db, &c.packet_id).await? else { continue };
        lines.push(CaseLine {
            name: person_name(&idp, &p.cid).await?,
            cid: p.cid,
            opened: date(c.created_at),
            candidates: serde_json::from_str::<Vec<serde_json::Value>>(&c.candidates).map_or(0, |v| v.len()),
            id: c.id,
        });
    }
    let page = CasesPage {
        t: idp.i18n.t(b.lang(None)),
        csrf: csrf_token(&idp, &b),
        script: false,
        back: b.path.clone(),
        cases: lines,
    };
    Ok(finish(&idp, &b, render(page)))
}

struct CandidateLine {
    /// The candidate's enrolled photo (`/enrol/cases/{id}/candidates/{n}/face`), if any.
    photo: Option<String>,
    cid: String,
    name: String,
    born: String,
    place: String,
    fmr: String,
    fingers: String,
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage<'a> {
    t: T<'a>,
    csrf: String,
    script: bool,
    back: String,
    id: String,
    person: PersonView,
    /// When and where, in the page's language.
    submitted: String,
    /// Whether the packet carries a face photo (`/enrol/cases/{id}/face`).
    photo: bool,
    candidates: Vec<CandidateLine>,
}

/// The case page's policy: the global one with images from this origin only (the photos are
/// served by the routes below; nothing else on the page is an image).
const CASE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// `GET /enrol/cases/{id}`: the person, the candidates with their registry data and scores.
pub async fn case_page(State(idp): State<AppState>, b: Browser, Path(id): Path<String>) -> Result<Response> {
    let now = domain::now();
    if let Err(r) = officer(&idp, &b, Role::Supervisor, "enrolment:cases", now).await? {
        return Ok(r);
    }
    let t = idp.i18n.t(b.lang(None));
    let Some(c) = store::enrolment::case(&idp.db, &id).await?.filter(|c| c.status == "open") else {
        return Ok(message(&idp, &b, StatusCode::NOT_FOUND, "error.title", t.get("case.not_found").into(), ""));
    };
    let p =
        store::enrolment::packet(&idp.db, &c.packet_id).await?.ok_or_else(|| Error::internal("case without packet"))?;
    let view = |p: &crate::domain::registry::Person| PersonView::of(t, p);
    let cid = Cid::parse(&p.cid).map_err(|e| Error::internal(e.to_string()))?;
    let person =
        store::registry::person(&idp.db, &cid).await?.map(|p| view(&p)).ok_or_else(|| Error::internal("person"))?;
    let mut candidates = Vec::new();
    for (n, cand) in
        serde_json::from_str::<Vec<serde_json::Value>>(&c.candidates).unwrap_or_default().iter().enumerate()
    {
        let ccid = cand["cid"].as_str().unwrap_or_default();
        let photo = match cand["account_id"].as_str() {
            Some(a) => enrolment::enrolled_face_photo(&idp, a)
                .await?
                .map(|_| format!("/enrol/cases/{}/candidates/{n}/face", c.id)),
            None => None,
        };
        let registry = match Cid::parse(ccid) {
            Ok(x) => store::registry::person(&idp.db, &x).await?.map(|p| view(&p)),
            Err(_) => None,
        };
        let fingers = cand["fingers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| Some(format!("{}: {:.1}", f.get(0)?.as_u64()?, f.get(1)?.as_f64()?)))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        candidates.push(CandidateLine {
            photo,
            cid: ccid.to_owned(),
            name: registry.as_ref().map(|r| r.name.clone()).unwrap_or_default(),
            born: registry.as_ref().map(|r| r.born.clone()).unwrap_or_default(),
            place: registry.map(|r| r.place).unwrap_or_default(),
            fmr: format!("{:.1e}", cand["false_match_rate"].as_f64().unwrap_or(1.0)),
            fingers,
        });
    }
    let page = CasePage {
        t,
        csrf: csrf_token(&idp, &b),
        script: false,
        back: b.path.clone(),
        id: c.id,
        person,
        photo: enrolment::face_photo(&idp, &p)?.is_some(),
        submitted: fill(t.get("case.submitted_at"), &[("date", date(p.submitted_at)), ("centre", p.centre.clone())]),
        candidates,
    };
    let mut r = finish(&idp, &b, render(page));
    r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CASE_CSP));
    Ok(r)
}

/// `GET /enrol/cases/{id}/face`: the applicant's face photo, for the supervisors who decide the
/// case (anyone else: 403, audited, no image). Each view is audited: a photo is biometric data.
pub async fn case_face(State(idp): State<AppState>, b: Browser, Path(id): Path<String>) -> Result<Response> {
    face_of_case(&idp, &b, &id, None).await
}

/// `GET /enrol/cases/{id}/candidates/{n}/face`: the enrolled photo of the case's `n`-th
/// candidate, under the same rules. Only the candidates a case names can be fetched this way.
pub async fn candidate_face(
    State(idp): State<AppState>,
    b: Browser,
    Path((id, n)): Path<(String, usize)>,
) -> Result<Response> {
    face_of_case(&idp, &b, &id, Some(n)).await
}

async fn face_of_case(idp: &Idp, b: &Browser, id: &str, candidate: Option<usize>) -> Result<Response> {
    let now = domain::now();
    let o = match officer(idp, b, Role::Supervisor, "enrolment:face", now).await? {
        Ok(o) => o,
        Err(r) => return Ok(r),
    };
    let not_found = || no_store(StatusCode::NOT_FOUND.into_response());
    let Some(c) = store::enrolment::case(&idp.db, id).await?.filter(|c| c.status == "open") else {
        return Ok(not_found());
    };
    let (photo, whose) = match candidate {
        None => {
            let p = store::enrolment::packet(&idp.db, &c.packet_id)
                .await?
                .ok_or_else(|| Error::internal("case without packet"))?;
            (enrolment::face_photo(idp, &p)?, format!("person:{}", p.cid))
        }
        Some(n) => {
            let candidates = serde_json::from_str::<Vec<serde_json::Value>>(&c.candidates).unwrap_or_default();
            let Some(account) = candidates.get(n).and_then(|v| v["account_id"].as_str()).map(str::to_owned) else {
                return Ok(not_found());
            };
            (enrolment::enrolled_face_photo(idp, &account).await?, format!("account:{account}"))
        }
    };
    let Some(photo) = photo else { return Ok(not_found()) };
    idp.audit(
        crate::domain::audit::NewEntry::new(
            crate::domain::audit::Event::FacePhotoViewed,
            format!("account:{}", o.account_id),
            whose,
        )
        .detail(serde_json::json!({"case": c.id, "candidate": candidate, "centre": o.centre})),
        now,
    )
    .await?;
    let mut r = photo.data.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(photo.kind.media_type()));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline"));
    Ok(r)
}

/// `POST /enrol/cases/{id}` (form: csrf, verdict `different` or `same`, note).
pub async fn case_decide(
    State(idp): State<AppState>,
    b: Browser,
    Path(id): Path<String>,
    form: OAuthForm,
) -> Result<Response> {
    let now = domain::now();
    if !csrf_ok(&idp, &b, form.get("csrf")) {
        return Ok(csrf_refused(&idp, &b));
    }
    let o = match officer(&idp, &b, Role::Supervisor, "enrolment:decide", now).await? {
        Ok(o) => o,
        Err(r) => return Ok(r),
    };
    let t = idp.i18n.t(b.lang(None));
    let verdict = match form.get("verdict") {
        Some("different") => Verdict::Different,
        Some("same") => Verdict::Same,
        _ => return Ok(message(&idp, &b, StatusCode::BAD_REQUEST, "error.title", t.get("case.choose").into(), "")),
    };
    let text = match enrolment::decide(&idp, &o, &id, verdict, form.get("note").unwrap_or_default(), now).await {
        Ok(Outcome::Issued { cid, activation_code: Some(code), .. }) => {
            fill(t.get("case.issued_code"), &[("cid", cid), ("code", code)])
        }
        Ok(Outcome::Issued { cid, .. }) => t.fmt("case.issued", "cid", &cid),
        Ok(_) => t.get("case.refused").to_owned(),
        Err(Stop::Refused(r)) => {
            return Ok(message(&idp, &b, StatusCode::BAD_REQUEST, "error.title", r.text(t), ""));
        }
        Err(Stop::Failed(Error::Invalid(m) | Error::NotFound(m) | Error::Forbidden(m))) => {
            let m = t.fmt("enrol.refusal.other", "reason", &m);
            return Ok(message(&idp, &b, StatusCode::BAD_REQUEST, "error.title", m, ""));
        }
        Err(Stop::Failed(e)) => return Err(e),
    };
    Ok(message(&idp, &b, StatusCode::OK, "enrol.decided", text, ""))
}

/// `GET /abis/references/{id}`: the CBEFF document of a request in flight, for the external
/// ABIS only (its bearer token, compared in constant time); 404 for anything else.
pub async fn abis_reference(State(idp): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    use subtle::ConstantTimeEq;
    let Some(abis) = idp.mosip_abis.as_ref() else { return StatusCode::NOT_FOUND.into_response() };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let expected = idp.config.enrolment.abis_token.expose();
    if expected.is_empty() || !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    }
    match abis.shelf().get(&id) {
        Some(xml) => no_store(([(header::CONTENT_TYPE, "application/xml")], xml).into_response()),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
