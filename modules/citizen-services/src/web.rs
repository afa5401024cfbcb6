//! The pages: thin handlers that extract the citizen (the SDK), check the role (the kit), call
//! one domain function and render. One generic form page and one generic review page serve
//! every service of the catalogue.

use std::{collections::HashMap, sync::Arc};

use agency_kit::{
    Error, Result,
    audit::{self, Entry},
    db::Db,
    staff::{self, StaffRole},
    web::{CsrfToken, Page, escape, render},
};
use askama::Template;
use axum::{
    Form, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use relying_party_sdk::{Acr, Assured, AuthenticatedCitizen, Citizen, LoaHigh, MaybeCitizen};
use serde::Deserialize;

use crate::{
    applications::{self, Applicant, Application, Decision, Notify, Status},
    catalogue::{Catalogue, FieldErrors, FieldKind, Service},
    life::Notifier,
    signing::{self, Collected, Signatures},
};

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The module's database.
    pub db: Db,
    /// The services.
    pub catalogue: Arc<Catalogue>,
    /// Tells other agencies.
    pub notifier: Arc<Notifier>,
    /// Seals issued certificates.
    pub sealer: Arc<crate::seal::Sealer>,
    /// Drukyul ID's signing service, for applications the citizen signs.
    pub signatures: Arc<Signatures>,
}

/// The module's own routes (the SDK's and the kit's are added by [`crate::App::router`]).
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/services/{id}", get(form_page).post(submit))
        .route("/step-up", get(step_up))
        .route("/applications", get(my_applications))
        .route("/applications/{id}", get(my_application))
        .route("/applications/{id}/sign", post(sign))
        .route("/signed", get(signed))
        .route("/office", get(office))
        .route("/office/applications/{id}", get(review))
        .route("/office/applications/{id}/decision", post(decide))
        .route("/office/applications/{id}/retry", post(retry))
        .route("/certificates", get(find_certificate))
        .route("/certificates/{number}", get(certificate))
        .route("/certificates/{number}/pdf", get(certificate_pdf))
        .route("/logout", post(logout))
        .with_state(state)
}

fn now() -> i64 {
    agency_kit::now()
}

fn today(now: i64) -> time::Date {
    time::OffsetDateTime::from_unix_timestamp(now).map(|t| t.date()).unwrap_or(time::Date::MIN)
}

fn date(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// The citizen as an applicant: the CID released under the `national_id` scope.
fn applicant(c: &Citizen) -> Result<Applicant> {
    let name = c.claim("name").map(str::to_owned).unwrap_or_else(|| {
        [c.claim("given_name"), c.claim("family_name")].into_iter().flatten().collect::<Vec<_>>().join(" ")
    });
    Applicant::new(c.claim("cid").unwrap_or_default(), &name)
}

fn page(title: &str, who: Option<&Applicant>, csrf: &CsrfToken) -> Page {
    match who {
        Some(a) => Page::new(title).for_user(a.name(), csrf),
        None => Page::new(title),
    }
}

async fn home(State(st): State<AppState>, MaybeCitizen(c): MaybeCitizen, csrf: CsrfToken) -> Response {
    let who = c.as_ref().and_then(|c| applicant(c).ok());
    let mut html = String::from("<p>Apply for government services once, with your Drukyul ID.</p><ul>");
    for s in st.catalogue.services() {
        html.push_str(&format!(
            "<li><a href=\"/services/{}\">{}</a> <span class=\"muted\">— {}</span></li>",
            escape(&s.id),
            escape(&s.title),
            escape(&s.description)
        ));
    }
    html.push_str("</ul>");
    html.push_str(if who.is_some() {
        "<p><a href=\"/applications\">My applications</a> · <a href=\"/office\">Office queue</a></p>"
    } else {
        "<p><a href=\"/auth/login?return_to=/applications\">Log in with Drukyul ID</a></p>"
    });
    html.push_str(
        "<form method=\"get\" action=\"/certificates\"><label for=\"number\">Verify a certificate by its number</label>\
         <input id=\"number\" name=\"number\" maxlength=\"40\"><button>Verify</button></form>",
    );
    page("Integrated Citizen Services", who.as_ref(), &csrf).html(&html).into_response()
}

#[derive(Template)]
#[template(path = "form.html")]
struct FormTemplate<'a> {
    id: &'a str,
    description: &'a str,
    office: String,
    issues: &'a str,
    assurance: &'a str,
    signs: bool,
    csrf: &'a str,
    general_error: Option<&'a str>,
    has_errors: bool,
    fields: Vec<FieldView>,
}

struct Opt {
    value: String,
    selected: bool,
}

struct FieldView {
    name: String,
    label: String,
    required: bool,
    is_select: bool,
    input_type: &'static str,
    max_length: usize,
    value: String,
    options: Vec<Opt>,
    error: Option<String>,
}

fn render_form(
    service: &Service,
    who: &Applicant,
    csrf: &CsrfToken,
    values: &HashMap<String, String>,
    errors: &FieldErrors,
) -> Result<Response> {
    let fields = service
        .fields
        .iter()
        .map(|f| {
            let value = values.get(&f.name).cloned().unwrap_or_default();
            FieldView {
                name: f.name.clone(),
                label: f.label.clone(),
                required: f.required,
                is_select: f.kind == FieldKind::Select,
                input_type: match f.kind {
                    FieldKind::Date => "date",
                    FieldKind::Number => "number",
                    _ => "text",
                },
                max_length: f.max_length,
                options: f.options.iter().map(|o| Opt { value: o.clone(), selected: *o == value }).collect(),
                value,
                error: errors.get(&f.name).map(str::to_owned),
            }
        })
        .collect();
    let t = FormTemplate {
        id: &service.id,
        description: &service.description,
        office: format!("{} ({})", service.office.unit, service.office.role),
        issues: &service.issues,
        assurance: service.assurance.as_str(),
        signs: service.citizen_signs,
        csrf: csrf.value(),
        general_error: errors.get(""),
        has_errors: !errors.0.is_empty(),
        fields,
    };
    let mut r = page(&service.title, Some(who), csrf).html(&render(&t)?).render();
    if !errors.0.is_empty() {
        *r.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(r)
}

fn service<'a>(st: &'a AppState, id: &str) -> Result<&'a Service> {
    st.catalogue.get(id).ok_or_else(|| Error::NotFound("There is no such service.".into()))
}

/// The generic form of any service. A service needing `loa:high` sends a citizen logged in
/// lower through the SDK's step-up first.
async fn form_page(
    State(st): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path(id): Path<String>,
) -> Result<Response> {
    let service = service(&st, &id)?;
    if service.assurance == Acr::High && !c.has_acr(Acr::High) {
        return Ok(Redirect::to(&format!("/step-up?return_to=/services/{}", service.id)).into_response());
    }
    let who = applicant(&c)?;
    render_form(service, &who, &csrf, &HashMap::new(), &FieldErrors::default())
}

#[derive(Deserialize)]
struct ReturnTo {
    return_to: String,
}

/// Step-up to `loa:high` through the SDK's [`Assured`] extractor, then back to the form.
async fn step_up(_high: Assured<LoaHigh>, Query(q): Query<ReturnTo>) -> Response {
    let ok = q.return_to.starts_with("/services/")
        && q.return_to[10..].bytes().all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_');
    Redirect::to(if ok { &q.return_to } else { "/" }).into_response()
}

/// A submitted form: checked against the catalogue; on any error the form comes back with a
/// message per field and nothing is stored.
async fn submit(
    State(st): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response> {
    csrf.check(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let service = service(&st, &id)?;
    if service.assurance == Acr::High && !c.has_acr(Acr::High) {
        return Err(Error::Forbidden(format!(
            "{} needs a login at assurance level high; open the form again to step up.",
            service.title
        )));
    }
    let who = applicant(&c)?;
    let now = now();
    match service.validate(&form, today(now)) {
        Ok(valid) => {
            let app = applications::submit(&st.db, service, &who, valid, now).await?;
            Ok(Redirect::to(&format!("/applications/{}", app.id)).into_response())
        }
        Err(errors) => render_form(service, &who, &csrf, &form, &errors),
    }
}

async fn my_applications(
    State(st): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
) -> Result<Response> {
    let who = applicant(&c)?;
    let apps = applications::of_applicant(&st.db, who.cid()).await?;
    let mut html = String::from("<table><tr><th>Application</th><th>Service</th><th>Status</th></tr>");
    for a in &apps {
        html.push_str(&format!(
            "<tr><td><a href=\"/applications/{0}\">{0}</a></td><td>{1}</td><td>{2}</td></tr>",
            escape(&a.id),
            escape(st.catalogue.get(&a.service).map_or(a.service.as_str(), |s| s.title.as_str())),
            a.status.as_str()
        ));
    }
    html.push_str("</table><p><a href=\"/\">Apply for a service</a></p>");
    Ok(page("My applications", Some(&who), &csrf).html(&html).into_response())
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewTemplate<'a> {
    id: &'a str,
    service: &'a str,
    status: &'a str,
    status_class: &'a str,
    applicant: &'a str,
    applicant_cid: &'a str,
    rows: Vec<Row>,
    submitted: String,
    decision: Option<String>,
    certificate: Option<String>,
    notification: Option<String>,
    officer: bool,
    can_decide: bool,
    can_approve: bool,
    can_retry: bool,
    csrf: &'a str,
}

struct Row {
    label: String,
    value: String,
}

/// The generic review page of any application (the citizen's view without the buttons).
/// `signature_ok`: whether an approval may be offered (the signature verified just now, or the
/// service needs none).
async fn render_application(
    st: &AppState,
    app: &Application,
    officer: bool,
    signature_ok: bool,
    csrf: &CsrfToken,
) -> Result<String> {
    let service = st.catalogue.get(&app.service);
    let rows = match service {
        Some(s) => s
            .fields
            .iter()
            .map(|f| Row { label: f.label.clone(), value: app.data.get(&f.name).cloned().unwrap_or_default() })
            .collect(),
        None => app.data.iter().map(|(k, v)| Row { label: k.clone(), value: v.clone() }).collect(),
    };
    let certificate = applications::certificate(&st.db, None, Some(&app.id)).await?.map(|c| c.number);
    let decision = app.decided_at.map(|at| {
        format!(
            "{} on {} by {}{}",
            app.status.as_str(),
            date(at),
            app.decided_by.as_deref().unwrap_or_default(),
            app.decision_note.as_deref().filter(|n| !n.is_empty()).map(|n| format!(": {n}")).unwrap_or_default()
        )
    });
    let notification = match app.notify {
        Notify::None => None,
        n => {
            let mut parts: Vec<String> = app.notify_detail.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            if !app.notify_error.is_empty() {
                parts.push(format!("last error: {}", app.notify_error));
            }
            Some(format!(
                "{} after {} attempt(s){}{}",
                if n == Notify::Done { "done" } else { "pending" },
                app.notify_attempts,
                if parts.is_empty() { "" } else { " — " },
                parts.join("; ")
            ))
        }
    };
    let t = ReviewTemplate {
        id: &app.id,
        service: service.map_or(app.service.as_str(), |s| s.title.as_str()),
        status: app.status.as_str(),
        status_class: match app.status {
            Status::Approved => "ok",
            Status::Rejected => "flag",
            Status::Submitted | Status::AwaitingSignature => "muted",
        },
        applicant: &app.applicant_name,
        applicant_cid: &app.applicant_cid,
        rows,
        submitted: date(app.created_at),
        decision,
        certificate,
        notification,
        officer,
        can_decide: app.status == Status::Submitted,
        can_approve: app.status == Status::Submitted && signature_ok,
        can_retry: app.notify == Notify::Pending,
        csrf: csrf.value(),
    };
    render(&t)
}

/// A citizen's own application; another's is "not found" (it is not theirs to know about).
async fn my_application(
    State(st): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path(id): Path<String>,
) -> Result<Response> {
    let who = applicant(&c)?;
    let app = applications::get(&st.db, &id)
        .await?
        .filter(|a| a.applicant_cid == who.cid())
        .ok_or_else(|| Error::NotFound("You have no application with this number.".into()))?;
    let mut html = render_application(&st, &app, false, false, &csrf).await?;
    html.push_str(&signing_block(&app, &csrf));
    Ok(page("Your application", Some(&who), &csrf).html(&html).into_response())
}

/// What the applicant sees about signing: while the application waits for their signature,
/// exactly what they will sign (the title and SHA-256 Drukyul ID will show them) and the
/// button; afterwards who signed and when.
fn signing_block(app: &Application, csrf: &CsrfToken) -> String {
    let mut html = String::new();
    if app.status == Status::AwaitingSignature {
        if !app.sign_note.is_empty() {
            html.push_str(&format!("<p class=\"flag\" role=\"alert\">{}</p>", escape(&app.sign_note)));
        }
        let title = signing::ApplicationDocument::from_bytes(app.document.as_bytes())
            .map(|d| d.title())
            .unwrap_or_else(|_| app.id.clone());
        html.push_str(&format!(
            "<h2>Sign your application</h2><p>This application goes to the office only once you have signed it \
             with your digital signature. You sign exactly the application shown above:</p><table>\
             <tr><th scope=\"row\">Document</th><td>{}</td></tr>\
             <tr><th scope=\"row\">SHA-256</th><td><code>{}</code></td></tr></table>\
             <p>Drukyul ID shows you the same title and SHA-256; you approve with your passkey.</p>\
             <form method=\"post\" action=\"/applications/{}/sign\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button>Sign with my digital signature</button></form>",
            escape(&title),
            escape(&app.document_sha256()),
            escape(&app.id),
            escape(csrf.value()),
        ));
    } else if let (Some(signer), Some(at)) = (&app.signer_name, app.signed_at) {
        html.push_str(&format!(
            "<p class=\"ok\">Signed by {} on {} (SHA-256 <code>{}</code>).</p>",
            escape(signer),
            escape(&date(at)),
            escape(&app.document_sha256())
        ));
    }
    html
}

/// The applicant's own application, waiting for their signature: opens the signing request at
/// Drukyul ID and sends them there.
async fn sign(
    State(st): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response> {
    csrf.check(&f.csrf)?;
    let who = applicant(&c)?;
    let app = applications::get(&st.db, &id)
        .await?
        .filter(|a| a.applicant_cid == who.cid())
        .ok_or_else(|| Error::NotFound("You have no application with this number.".into()))?;
    let url = signing::start(&st.db, &st.signatures, &who, &app, now()).await?;
    Ok(Redirect::to(url.as_str()).into_response())
}

#[derive(Deserialize)]
struct SignedQuery {
    #[serde(default)]
    sign_request: String,
}

/// Back from Drukyul ID: the outcome is fetched from the provider (the query's `status` is not
/// trusted), the signature verified and stored, and the applicant sent to the application,
/// which tells them what happened.
async fn signed(
    State(st): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Query(q): Query<SignedQuery>,
) -> Result<Response> {
    let who = applicant(&c)?;
    let r = &q.sign_request;
    if r.is_empty() || r.len() > 100 || !r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(Error::BadRequest("This is not a signing request of Integrated Citizen Services.".into()));
    }
    let (id, collected) = signing::collect(&st.db, &st.signatures, &who, r, now()).await?;
    if collected == Collected::Pending {
        let html = format!(
            "<p>Drukyul ID has not recorded your decision yet.</p><p><a href=\"/signed?sign_request={0}\">Check again</a> · \
             <a href=\"/applications/{1}\">Back to the application</a></p>",
            escape(r),
            escape(&id)
        );
        return Ok(page("Waiting for your signature", Some(&who), &csrf).html(&html).into_response());
    }
    Ok(Redirect::to(&format!("/applications/{id}")).into_response())
}

/// The roles `who` holds at an office of the catalogue; none is a refusal, audited.
async fn office_roles(st: &AppState, who: &Applicant, now: i64) -> Result<Vec<StaffRole>> {
    let offices = st.catalogue.offices();
    let held: Vec<StaffRole> = staff::roles_of(&st.db, who.cid())
        .await?
        .into_iter()
        .filter(|r| offices.iter().any(|o| o.role == r.role && o.unit == r.unit))
        .collect();
    if held.is_empty() {
        audit::record(
            &st.db,
            &Entry::new(format!("citizen:{}", who.cid()), "role_denied", "office:queue")
                .detail(serde_json::json!({"needed": "a reviewing office"}))
                .flagged(),
            now,
        )
        .await?;
        return Err(Error::Forbidden("This page is for officers of a reviewing office.".into()));
    }
    Ok(held)
}

async fn office(
    State(st): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
) -> Result<Response> {
    let who = applicant(&c)?;
    let roles = office_roles(&st, &who, now()).await?;
    let mut html = String::new();
    for r in &roles {
        html.push_str(&format!(
            "<h2>{} ({})</h2><table><tr><th>Application</th><th>Service</th><th>Applicant</th><th>Status</th></tr>",
            escape(&r.unit),
            escape(&r.role)
        ));
        for a in applications::queue(&st.db, &r.role, &r.unit).await? {
            html.push_str(&format!(
                "<tr><td><a href=\"/office/applications/{0}\">{0}</a></td><td>{1}</td><td>{2}</td><td>{3}{4}</td></tr>",
                escape(&a.id),
                escape(st.catalogue.get(&a.service).map_or(a.service.as_str(), |s| s.title.as_str())),
                escape(&a.applicant_name),
                a.status.as_str(),
                if a.notify == Notify::Pending { ", notification pending" } else { "" }
            ));
        }
        html.push_str("</table>");
    }
    Ok(page("Office queue", Some(&who), &csrf).html(&html).into_response())
}

/// The application, for an officer holding its office's role at its unit (else 403, audited).
async fn as_officer(st: &AppState, c: &Citizen, id: &str, now: i64) -> Result<(Applicant, StaffRole, Application)> {
    let who = applicant(c)?;
    let subject = format!("application:{id}");
    let Some(app) = applications::get(&st.db, id).await? else {
        // Only an officer learns that no such application exists; anyone else is refused.
        office_roles(st, &who, now).await?;
        return Err(Error::NotFound("No such application.".into()));
    };
    let officer = staff::require(&st.db, who.cid(), &app.office.role, Some(&app.office.unit), &subject, now).await?;
    Ok((who, officer, app))
}

async fn review(
    State(st): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path(id): Path<String>,
) -> Result<Response> {
    let now = now();
    let (who, officer, app) = as_officer(&st, &c, &id, now).await?;
    audit::record(
        &st.db,
        &Entry::new(format!("staff:{}", officer.cid), "application_viewed", format!("application:{id}")),
        now,
    )
    .await?;
    let signs = st.catalogue.get(&app.service).is_some_and(|s| s.citizen_signs);
    let (signature_ok, signature_html) =
        if signs { signature_review(&st, &app, now).await? } else { (true, String::new()) };
    let mut html = render_application(&st, &app, true, signature_ok, &csrf).await?;
    html.push_str(&signature_html);
    Ok(page("Review an application", Some(&who), &csrf).html(&html).into_response())
}

/// The applicant's signature, verified again by Drukyul ID now: whether it is acceptable, and
/// what the officer reads about it.
async fn signature_review(st: &AppState, app: &Application, now: i64) -> Result<(bool, String)> {
    let r = signing::reverify(&st.signatures, app, now).await?;
    let (class, verdict) = match &r.judged {
        Ok(_) => ("ok", "Valid: the applicant's own signature over exactly this application.".to_owned()),
        Err(why) => ("flag", format!("Not acceptable: {why}")),
    };
    let mut html = format!(
        "<h2>The applicant's signature (verified by Drukyul ID just now)</h2><p class=\"{class}\"><strong>{}</strong></p>",
        escape(&verdict)
    );
    if let Some(v) = &r.verification {
        html.push_str(&format!(
            "<table><tr><th scope=\"row\">Valid</th><td>{}</td></tr><tr><th scope=\"row\">Signer</th><td>{}</td></tr>\
             <tr><th scope=\"row\">Signer is the applicant</th><td>{}</td></tr>\
             <tr><th scope=\"row\">Signing time</th><td>{}</td></tr>\
             <tr><th scope=\"row\">Certificate status</th><td>{}</td></tr>\
             <tr><th scope=\"row\">Certificate serial</th><td>{}</td></tr>\
             <tr><th scope=\"row\">Signed document SHA-256</th><td><code>{}</code></td></tr></table>",
            if v.valid { "yes" } else { "no" },
            escape(v.signer.as_deref().unwrap_or("—")),
            if v.cid.as_deref() == Some(app.applicant_cid.as_str()) { "yes" } else { "no" },
            escape(&v.signing_time.map(date).unwrap_or_else(|| "—".into())),
            escape(v.certificate_status.as_deref().unwrap_or("—")),
            escape(v.certificate_serial.as_deref().unwrap_or("—")),
            escape(&app.document_sha256()),
        ));
    }
    Ok((r.judged.is_ok(), html))
}

#[derive(Deserialize)]
struct DecisionForm {
    csrf: String,
    decision: String,
    #[serde(default)]
    note: String,
}

async fn decide(
    State(st): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path(id): Path<String>,
    Form(f): Form<DecisionForm>,
) -> Result<Response> {
    csrf.check(&f.csrf)?;
    let now = now();
    let (_, officer, app) = as_officer(&st, &c, &id, now).await?;
    let decision = Decision::parse(&f.decision)?;
    let signs = st.catalogue.get(&app.service).is_some_and(|s| s.citizen_signs);
    // An application of a service the citizen signs is approved only with its signature
    // verified again now (a 409, audited, otherwise; nothing issued).
    let signature = if decision == Decision::Approve && signs && app.status == Status::Submitted {
        let actor = format!("staff:{}", officer.cid);
        Some(signing::check_for_approval(&st.db, &st.signatures, &app, &actor, now).await?)
    } else {
        None
    };
    let decided =
        applications::decide(&st.db, &st.catalogue, &app, &officer, decision, &f.note, signature.as_ref(), now).await?;
    if let Some(c) = applications::certificate(&st.db, None, Some(&decided.id)).await? {
        // A failure is recorded on the certificate and retried; the approval stands.
        st.sealer.seal(&st.db, &c.number, now).await?;
    }
    st.notifier.notify(&st.db, &st.catalogue, &decided, now).await?;
    Ok(Redirect::to(&format!("/office/applications/{id}")).into_response())
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn retry(
    State(st): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response> {
    csrf.check(&f.csrf)?;
    let now = now();
    let (_, _, app) = as_officer(&st, &c, &id, now).await?;
    if let Some(c) = applications::certificate(&st.db, None, Some(&app.id)).await? {
        st.sealer.seal(&st.db, &c.number, now).await?;
    }
    st.notifier.notify(&st.db, &st.catalogue, &app, now).await?;
    Ok(Redirect::to(&format!("/office/applications/{id}")).into_response())
}

#[derive(Deserialize)]
struct NumberQuery {
    #[serde(default)]
    number: String,
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

async fn find_certificate(Query(q): Query<NumberQuery>) -> Result<Response> {
    let n = q.number.trim().to_uppercase();
    if !is_number(&n) {
        return Err(Error::BadRequest("A certificate number is letters, digits and '-'.".into()));
    }
    Ok(Redirect::to(&format!("/certificates/{n}")).into_response())
}

/// Anyone may check a certificate by its number: what it says and who issued it, never a CID.
async fn certificate(State(st): State<AppState>, Path(number): Path<String>) -> Result<Response> {
    if !is_number(&number) {
        return Err(Error::NotFound("No certificate has this number.".into()));
    }
    let c = applications::certificate(&st.db, Some(&number), None)
        .await?
        .ok_or_else(|| Error::NotFound("No certificate has this number.".into()))?;
    let html = format!(
        "<p class=\"ok\"><strong>Valid.</strong> This certificate was issued by Integrated Citizen Services.</p>\
         <table><tr><th scope=\"row\">Certificate</th><td>{}</td></tr><tr><th scope=\"row\">Number</th><td>{}</td></tr>\
         <tr><th scope=\"row\">Issued to</th><td>{}</td></tr><tr><th scope=\"row\">States</th><td>{}</td></tr>\
         <tr><th scope=\"row\">Issued by</th><td>{}</td></tr><tr><th scope=\"row\">Issued on</th><td>{}</td></tr></table>{}",
        escape(&c.title),
        escape(&c.number),
        escape(&c.holder_name),
        escape(&c.summary),
        escape(&c.issued_by),
        escape(&date(c.issued_at)),
        if c.sealed {
            format!(
                "<p><a href=\"/certificates/{}/pdf\">The certificate as a PDF sealed by the agency</a> \
                 (any PDF reader that trusts the Drukyul ID root checks its seal).</p>",
                escape(&c.number)
            )
        } else {
            "<p>The sealed PDF is being prepared.</p>".to_owned()
        }
    );
    Ok(Page::new("Certificate verification").html(&html).into_response())
}

/// The sealed PDF of a certificate: as public as its verification page (the number is the
/// secret a holder shares), and it carries no CID either.
async fn certificate_pdf(State(st): State<AppState>, Path(number): Path<String>) -> Result<Response> {
    let missing = || Error::NotFound("No sealed certificate has this number.".into());
    if !is_number(&number) {
        return Err(missing());
    }
    let pdf = applications::pdf(&st.db, &number).await?.ok_or_else(missing)?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/pdf".to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{number}.pdf\"")),
        ],
        pdf,
    )
        .into_response())
}

/// The layout's log-out button: checks the form's CSRF token, then hands the same POST to the
/// SDK's logout (307 keeps the method).
async fn logout(csrf: CsrfToken, Form(f): Form<CsrfForm>) -> Result<Response> {
    csrf.check(&f.csrf)?;
    Ok(Redirect::temporary("/auth/logout").into_response())
}
