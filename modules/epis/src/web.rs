//! ePIS's pages and API: thin handlers that check who is asking, call the domain and render.
//! Every text shown is escaped ([`esc`]); forms carry the kit's CSRF token.

use agency_kit::{
    ApiError, Error, Result,
    db::Db,
    staff::{self, StaffRole},
    web::{CsrfToken, Page, escape as esc, when},
};
use axum::{
    Form, Json, Router,
    extract::{Path, State, rejection::JsonRejection},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use relying_party_sdk::{AuthenticatedCitizen, Bearer, Citizen, MaybeCitizen, RequiredScopes};
use serde::Deserialize;

use crate::domain::{self, Access, Cid, Facility};

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct AppState {
    pub(crate) db: Db,
}

/// The scope another agency needs to create patient records.
pub struct PatientsScope;
impl RequiredScopes for PatientsScope {
    const SCOPES: &'static [&'static str] = &["epis.patients"];
}

/// ePIS's own routes (without the SDK's and the kit's layers; see [`crate::app`]).
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(|| async { Redirect::to("/auth/login?return_to=/") }))
        .route("/logout", post(logout))
        .route("/me", get(my_record))
        .route("/me/visit-code", post(visit_code))
        .route("/facility/{code}", get(facility_page))
        .route("/facility/{code}/open", post(open_record))
        .route("/facility/{code}/patients/{cid}", get(patient_page))
        .route("/facility/{code}/patients/{cid}/encounters", post(add_encounter))
        .route("/admin/staff", get(staff_page).post(add_staff))
        .route("/api/patients", post(api_create_patient))
        .with_state(state)
}

/// The logged-in person's CID (released under `national_id`); without it ePIS cannot work.
fn cid_of(c: &Citizen) -> Result<Cid> {
    c.claim("cid").map(Cid::parse).transpose()?.ok_or_else(|| {
        Error::Forbidden("ePIS needs your CID: log in again and allow the national ID to be shared.".into())
    })
}

fn display_name(c: &Citizen) -> String {
    c.claim("name").unwrap_or("citizen").to_owned()
}

/// The worker's role at `code` (checked on every request; a refusal is audited) and the
/// facility.
async fn worker_at(db: &Db, who: &Cid, code: &str, what: &str) -> Result<(StaffRole, Facility)> {
    let now = agency_kit::now();
    let role = staff::require(db, who.as_str(), domain::HEALTH_WORKER, Some(code), what, now).await?;
    let f = domain::facility(db, code).await?.ok_or_else(|| Error::NotFound("No such facility.".into()))?;
    Ok((role, f))
}

async fn home(State(s): State<AppState>, MaybeCitizen(c): MaybeCitizen, csrf: CsrfToken) -> Result<Page> {
    let Some(c) = c else {
        return Ok(Page::new("Your health record")
            .paragraph(
                "ePIS keeps your health record: your visits, diagnoses and prescriptions, and who looked at them.",
            )
            .link("/auth/login?return_to=/", "Log in with Drukyul ID"));
    };
    let cid = cid_of(&c)?;
    let mut html = String::from("<ul><li><a href=\"/me\">My health record</a></li>");
    for r in staff::roles_of(&s.db, cid.as_str()).await? {
        if r.role == domain::HEALTH_WORKER {
            let name = domain::facility(&s.db, &r.unit).await?.map(|f| f.name).unwrap_or_else(|| r.unit.clone());
            html.push_str(&format!("<li><a href=\"/facility/{}\">Work at {}</a></li>", esc(&r.unit), esc(&name)));
        } else if r.role == domain::ADMINISTRATOR {
            html.push_str("<li><a href=\"/admin/staff\">Health workers (administrator)</a></li>");
        }
    }
    html.push_str("</ul>");
    Ok(Page::new("ePIS").html(&html).for_user(&display_name(&c), &csrf))
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// The layout's log-out button: checks the form, then hands over to the SDK's logout.
async fn logout(csrf: CsrfToken, Form(f): Form<CsrfForm>) -> Result<Response> {
    csrf.check(&f.csrf)?;
    Ok(Redirect::temporary("/auth/logout").into_response())
}

fn encounters_html(list: &[domain::Encounter]) -> String {
    if list.is_empty() {
        return "<p class=\"muted\">No visits recorded yet.</p>".into();
    }
    let mut h = String::from(
        "<table><thead><tr><th>When</th><th>Where, by whom</th><th>Diagnosis</th><th>Prescription</th><th>Notes</th></tr></thead><tbody>",
    );
    for e in list {
        let dx: Vec<String> = e.diagnoses.iter().map(|(c, t)| format!("{} {}", esc(c), esc(t))).collect();
        let rx: Vec<String> = e
            .prescriptions
            .iter()
            .map(|(m, d, i)| {
                format!(
                    "{} — {}{}",
                    esc(m),
                    esc(d),
                    if i.is_empty() { String::new() } else { format!(" ({})", esc(i)) }
                )
            })
            .collect();
        h.push_str(&format!(
            "<tr><td>{}</td><td>{} · {}{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&when(e.at)),
            esc(&e.facility_name),
            esc(&e.worker_name),
            if e.emergency { " <span class=\"flag\">(emergency)</span>" } else { "" },
            dx.join("<br>"),
            rx.join("<br>"),
            esc(&e.notes)
        ));
    }
    h.push_str("</tbody></table>");
    h
}

fn access_log_html(log: &[agency_kit::audit::Recorded]) -> String {
    if log.is_empty() {
        return "<p class=\"muted\">Nobody has opened your record.</p>".into();
    }
    let mut h =
        String::from("<table><thead><tr><th>When</th><th>Who</th><th>Where</th><th>What</th></tr></thead><tbody>");
    for e in log {
        let d = &e.detail;
        let s = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
        let who =
            if e.actor.starts_with("client:") { format!("agency client {}", &e.actor[7..]) } else { s("worker_name") };
        let what = match e.action.as_str() {
            "record_opened" => "opened your record (you gave your visit code)".to_owned(),
            "record_viewed" => "viewed your record".into(),
            "emergency_access" => format!("EMERGENCY ACCESS without you present: {}", s("reason")),
            "encounter_recorded" => "recorded a visit".into(),
            "record_created" => "created your record (birth registered)".into(),
            "record_access_refused" | "visit_code_refused" => "tried to open your record and was refused".into(),
            "role_denied" => "someone without a health-worker role tried to open your record (refused)".into(),
            other => other.to_owned(),
        };
        let emergency = d.get("emergency").and_then(|v| v.as_bool()).unwrap_or(false) || e.action == "emergency_access";
        h.push_str(&format!(
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
            if e.flagged { " class=\"flag\"" } else { "" },
            esc(&when(e.at)),
            esc(&who),
            esc(&s("facility_name")),
            if emergency && e.action != "emergency_access" { "[emergency] " } else { "" },
            esc(&what)
        ));
    }
    h.push_str("</tbody></table>");
    h
}

/// The patient's own record and who looked at it.
async fn my_record(
    State(s): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
) -> Result<Page> {
    let cid = cid_of(&c)?;
    let db = &s.db;
    let patient = domain::patient(db, &cid).await?;
    let mut html = String::new();
    match &patient {
        Some(p) => html.push_str(&format!(
            "<p>{} · CID {}{}</p>",
            esc(&p.name),
            esc(&p.cid),
            p.date_of_birth.as_deref().map(|d| format!(" · born {}", esc(d))).unwrap_or_default()
        )),
        None => html.push_str("<p class=\"muted\">ePIS has no record for you yet; it starts at your first visit.</p>"),
    }
    html.push_str(&format!(
        "<h2>At the health facility</h2><p>Give the health worker a visit code so they can open your record. \
         It works once, for 15 minutes.</p><form method=\"post\" action=\"/me/visit-code\">{}<button>Get a visit code</button></form>",
        &csrf.hidden_field()
    ));
    html.push_str("<h2>My visits</h2>");
    html.push_str(&encounters_html(&domain::encounters(db, &cid).await?));
    html.push_str("<h2>Who looked at my record</h2><p>Emergency accesses, made without you present, are marked.</p>");
    html.push_str(&access_log_html(&domain::access_log(db, &cid).await?));
    Ok(Page::new("My health record").html(&html).for_user(&display_name(&c), &csrf))
}

async fn visit_code(
    State(s): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Form(f): Form<CsrfForm>,
) -> Result<Page> {
    csrf.check(&f.csrf)?;
    let cid = cid_of(&c)?;
    let code = domain::issue_visit_code(&s.db, &cid, &display_name(&c), agency_kit::now()).await?;
    Ok(Page::new("Your visit code")
        .html(&format!("<p class=\"code\">Visit code: <strong id=\"visit-code\">{}</strong></p>", esc(&code)))
        .paragraph("Tell it to the health worker. It opens your record once, within 15 minutes.")
        .link("/me", "Back to my record")
        .for_user(&display_name(&c), &csrf))
}

async fn facility_page(
    State(s): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path(code): Path<String>,
) -> Result<Page> {
    let who = cid_of(&c)?;
    let (_, f) = worker_at(&s.db, &who, &code, &format!("facility:{code}")).await?;
    let action = format!("/facility/{}/open", esc(&f.code));
    let html = format!(
        "<p>{} · {}</p>\
         <h2>Open a patient's record</h2><form method=\"post\" action=\"{action}\">{csrf}\
         <label for=\"cid\">Patient's CID</label><input id=\"cid\" name=\"cid\" inputmode=\"numeric\" maxlength=\"11\" required>\
         <label for=\"visit_code\">Visit code from the patient</label><input id=\"visit_code\" name=\"visit_code\" inputmode=\"numeric\" maxlength=\"8\" required>\
         <button>Open</button></form>\
         <h2>Emergency: the patient cannot give a code</h2>\
         <p>The patient will see this access, with your name and reason.</p>\
         <form method=\"post\" action=\"{action}\">{csrf}<input type=\"hidden\" name=\"emergency\" value=\"1\">\
         <label for=\"ecid\">Patient's CID</label><input id=\"ecid\" name=\"cid\" inputmode=\"numeric\" maxlength=\"11\" required>\
         <label for=\"reason\">Reason</label><textarea id=\"reason\" name=\"reason\" maxlength=\"500\" required></textarea>\
         <button>Declare an emergency and open</button></form>",
        esc(&f.name),
        esc(&f.dzongkhag),
        csrf = &csrf.hidden_field(),
    );
    Ok(Page::new("Health worker").html(&html).for_user(&display_name(&c), &csrf))
}

#[derive(Deserialize)]
struct OpenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    cid: String,
    #[serde(default)]
    visit_code: String,
    #[serde(default)]
    emergency: String,
    #[serde(default)]
    reason: String,
}

async fn open_record(
    State(s): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path(code): Path<String>,
    Form(f): Form<OpenForm>,
) -> Result<Response> {
    csrf.check(&f.csrf)?;
    let who = cid_of(&c)?;
    let patient = Cid::parse(&f.cid)?;
    let (worker, facility) = worker_at(&s.db, &who, &code, &patient.subject()).await?;
    let access = if f.emergency == "1" { Access::Emergency(f.reason) } else { Access::VisitCode(f.visit_code) };
    domain::open_record(&s.db, &worker, &facility, &patient, &access, agency_kit::now()).await?;
    Ok(Redirect::to(&format!("/facility/{}/patients/{}", facility.code, patient)).into_response())
}

async fn patient_page(
    State(s): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path((code, cid)): Path<(String, String)>,
) -> Result<Page> {
    let who = cid_of(&c)?;
    let patient_cid = Cid::parse(&cid)?;
    let (worker, facility) = worker_at(&s.db, &who, &code, &patient_cid.subject()).await?;
    let now = agency_kit::now();
    let grant = domain::require_grant(&s.db, &worker, &facility, &patient_cid, now).await?;
    let p = domain::patient(&s.db, &patient_cid).await?.ok_or_else(|| Error::NotFound("No such patient.".into()))?;
    domain::record_view(&s.db, &worker, &facility, &patient_cid, &grant, now).await?;
    let mut html = format!(
        "<p>{} · CID {}{}{}</p>",
        esc(&p.name),
        esc(&p.cid),
        p.date_of_birth.as_deref().map(|d| format!(" · born {}", esc(d))).unwrap_or_default(),
        p.mother_cid.as_deref().map(|m| format!(" · mother's CID {}", esc(m))).unwrap_or_default(),
    );
    if grant.emergency {
        html.push_str(&format!(
            "<p class=\"flag\">Emergency access: {}. The patient will see it.</p>",
            esc(&grant.reason)
        ));
    }
    html.push_str("<h2>Visits</h2>");
    html.push_str(&encounters_html(&domain::encounters(&s.db, &patient_cid).await?));
    html.push_str(&format!(
        "<h2>Record this visit</h2><form method=\"post\" action=\"/facility/{}/patients/{}/encounters\">{}\
         <label for=\"notes\">Notes</label><textarea id=\"notes\" name=\"notes\" maxlength=\"{}\"></textarea>\
         <label for=\"icd10\">Diagnosis: ICD-10 code</label><input id=\"icd10\" name=\"icd10\" maxlength=\"8\" required>\
         <label for=\"diagnosis\">Diagnosis</label><input id=\"diagnosis\" name=\"diagnosis\" maxlength=\"{}\" required>\
         <label for=\"medicine\">Medicine (optional)</label><input id=\"medicine\" name=\"medicine\" maxlength=\"{}\">\
         <label for=\"dosage\">Dosage</label><input id=\"dosage\" name=\"dosage\" maxlength=\"{}\">\
         <label for=\"instructions\">Instructions</label><input id=\"instructions\" name=\"instructions\" maxlength=\"{}\">\
         <button>Record</button></form>",
        esc(&facility.code),
        esc(patient_cid.as_str()),
        &csrf.hidden_field(),
        domain::MAX_NOTES,
        domain::MAX_TEXT,
        domain::MAX_TEXT,
        domain::MAX_TEXT,
        domain::MAX_TEXT,
    ));
    Ok(Page::new("Patient record").html(&html).for_user(&display_name(&c), &csrf))
}

#[derive(Deserialize)]
struct EncounterForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    encounter: domain::EncounterIn,
}

async fn add_encounter(
    State(s): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path((code, cid)): Path<(String, String)>,
    Form(f): Form<EncounterForm>,
) -> Result<Response> {
    csrf.check(&f.csrf)?;
    let who = cid_of(&c)?;
    let patient_cid = Cid::parse(&cid)?;
    let (worker, facility) = worker_at(&s.db, &who, &code, &patient_cid.subject()).await?;
    let now = agency_kit::now();
    let grant = domain::require_grant(&s.db, &worker, &facility, &patient_cid, now).await?;
    domain::record_encounter(&s.db, &worker, &facility, &patient_cid, &grant, &f.encounter, now).await?;
    Ok(Redirect::to(&format!("/facility/{}/patients/{}", facility.code, patient_cid)).into_response())
}

async fn staff_page(
    State(s): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
) -> Result<Page> {
    let who = cid_of(&c)?;
    staff::require(&s.db, who.as_str(), domain::ADMINISTRATOR, Some(""), "staff", agency_kit::now()).await?;
    let mut html = format!(
        "<h2>Add a health worker</h2><form method=\"post\" action=\"/admin/staff\">{}\
         <label for=\"cid\">CID</label><input id=\"cid\" name=\"cid\" inputmode=\"numeric\" maxlength=\"11\" required>\
         <label for=\"name\">Name</label><input id=\"name\" name=\"name\" maxlength=\"200\" required>\
         <label for=\"facility\">Facility code</label><input id=\"facility\" name=\"facility\" maxlength=\"40\" required>\
         <button>Add</button></form><h2>Staff</h2><table><thead><tr><th>CID</th><th>Name</th><th>Role</th><th>Facility</th></tr></thead><tbody>",
        &csrf.hidden_field()
    );
    for r in domain::all_staff(&s.db).await? {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.cid),
            esc(&r.name),
            esc(&r.role),
            esc(&r.unit)
        ));
    }
    html.push_str("</tbody></table>");
    Ok(Page::new("Health workers").html(&html).for_user(&display_name(&c), &csrf))
}

#[derive(Deserialize)]
struct StaffForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    cid: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    facility: String,
}

async fn add_staff(
    State(s): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Form(f): Form<StaffForm>,
) -> Result<Response> {
    csrf.check(&f.csrf)?;
    let who = cid_of(&c)?;
    let now = agency_kit::now();
    staff::require(&s.db, who.as_str(), domain::ADMINISTRATOR, Some(""), "staff", now).await?;
    if f.facility.trim().is_empty() {
        return Err(Error::BadRequest("A health worker needs a facility code.".into()));
    }
    domain::add_staff(&s.db, &f.cid, Some(&f.facility), &f.name, &format!("staff:{who}"), now).await?;
    Ok(Redirect::to("/admin/staff").into_response())
}

/// For other agencies (citizen services, on a registered birth): creates a newborn's record.
/// 201 when created, 200 when the same child was sent before.
async fn api_create_patient(
    State(s): State<AppState>,
    caller: Bearer<PatientsScope>,
    body: std::result::Result<Json<domain::NewbornIn>, JsonRejection>,
) -> std::result::Result<Response, ApiError> {
    let Json(input) = body.map_err(|e| {
        Error::BadRequest(format!(
            "the body must be JSON with cid, name, date_of_birth and mother_cid: {}",
            e.body_text()
        ))
    })?;
    let (p, created) = domain::create_newborn(&s.db, &input, &caller.claims().client_id, agency_kit::now()).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(serde_json::json!({"cid": p.cid, "created": created, "patient": p}))).into_response())
}
