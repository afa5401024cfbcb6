//! The pages and the agency API: thin handlers that find out who is asking (the SDK's
//! extractors), check roles (the kit), call one workflow of [`crate::licensing`] and render.
//! Every text shown is escaped ([`esc`]); every form carries the kit's CSRF token.

use std::collections::HashMap;

use agency_kit::{
    ApiError, Error, Result,
    audit::{self, Entry},
    staff::{self, StaffRole},
    web::{CsrfToken, Page, escape as esc, when},
};
use axum::{
    Form, Json, Router,
    extract::{Path, Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use relying_party_sdk::{AuthenticatedCitizen, Bearer, Citizen, MaybeCitizen, RequiredScopes};
use serde::Deserialize;

use crate::{
    catalogue::{DZONGKHAGS, FieldErrors, FieldKind, LicenceType},
    domain::{
        self, ADMINISTRATOR, ApplicationDocument, CUSTOMS_OFFICER, Decision, LICENSING_OFFICER, Person, Status, UNITS,
        date, format_nu,
    },
    licensing::{self, Agency, Collected},
    store::{self, Application},
};

/// The scope another agency (customs, a bank) needs to look licences up.
pub struct LicencesScope;
impl RequiredScopes for LicencesScope {
    const SCOPES: &'static [&'static str] = &["ebiz.licences"];
}

/// The module's own routes (the SDK's and the kit's are added by [`crate::App::router`]).
pub fn routes(state: Agency, public_url: String) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(|| async { Redirect::to("/auth/login?return_to=/") }))
        .route("/logout", post(logout))
        .route("/apply/{kind}", get(apply_page).post(apply))
        .route("/applications", get(my_applications))
        .route("/applications/{id}", get(my_application))
        .route("/applications/{id}/sign", post(sign))
        .route("/signed", get(signed))
        .route("/office", get(office))
        .route("/office/applications/{id}", get(review))
        .route("/office/applications/{id}/decision", post(decide))
        .route("/licences", get(find_licence))
        .route("/licences/{number}", get(licence_page))
        .route("/licences/{number}/qr.svg", get(licence_qr))
        .route("/licences/{number}/pdf", get(licence_pdf))
        .route("/clearances", get(my_clearances))
        .route("/clearances/new", get(clearance_page).post(file_clearance))
        .route("/customs/clearances/{id}", get(customs_clearance))
        .route("/customs/clearances/{id}/decision", post(decide_clearance))
        .route("/admin/staff", get(staff_page).post(add_staff))
        .route("/api/licences/{number}", get(api_licence))
        .layer(axum::Extension(PublicUrl(public_url)))
        .with_state(state)
}

/// The module's public base URL (for the QR code's link).
#[derive(Clone, Debug)]
struct PublicUrl(String);

fn now() -> i64 {
    agency_kit::now()
}

fn person(c: &Citizen) -> Result<Person> {
    let name = c.claim("name").map(str::to_owned).unwrap_or_else(|| {
        [c.claim("given_name"), c.claim("family_name")].into_iter().flatten().collect::<Vec<_>>().join(" ")
    });
    Person::new(c.claim("cid"), &name)
}

fn page(title: &str, who: &Person, csrf: &CsrfToken) -> Page {
    Page::new(title).for_user(&who.name, csrf)
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// The layout's log-out button: checks the form, then hands the POST to the SDK's logout.
async fn logout(csrf: CsrfToken, Form(f): Form<CsrfForm>) -> Result<Response> {
    csrf.check(&f.csrf)?;
    Ok(Redirect::temporary("/auth/logout").into_response())
}

async fn home(State(ag): State<Agency>, MaybeCitizen(c): MaybeCitizen, csrf: CsrfToken) -> Result<Page> {
    let mut html = String::from(
        "<p>Apply for a business licence and sign the application with your Drukyul ID digital signature; \
         file export and import clearances at the customs single window.</p><h2>Licences</h2><ul>",
    );
    for l in ag.catalogue.licences() {
        html.push_str(&format!(
            "<li><a href=\"/apply/{}\">{}</a> <span class=\"muted\">— {} Valid {} year(s).</span></li>",
            esc(&l.id),
            esc(&l.title),
            esc(&l.description),
            l.validity_years
        ));
    }
    html.push_str(
        "</ul><form method=\"get\" action=\"/licences\"><label for=\"number\">Check a licence by its number</label>\
         <input id=\"number\" name=\"number\" maxlength=\"18\" placeholder=\"BL-2025-0123456789\"><button>Check</button></form>",
    );
    let Some(c) = c else {
        html.push_str("<p><a href=\"/auth/login?return_to=/\">Log in with Drukyul ID</a></p>");
        return Ok(Page::new("e-business").html(&html));
    };
    let who = person(&c)?;
    html.push_str(
        "<h2>Yours</h2><ul><li><a href=\"/applications\">My applications and licences</a></li>\
                   <li><a href=\"/clearances\">My export/import clearances</a></li>",
    );
    let roles = staff::roles_of(&ag.db, who.cid.as_str()).await?;
    if roles.iter().any(|r| r.role == LICENSING_OFFICER || r.role == CUSTOMS_OFFICER) {
        html.push_str("<li><a href=\"/office\">Office work</a></li>");
    }
    if roles.iter().any(|r| r.role == ADMINISTRATOR) {
        html.push_str("<li><a href=\"/admin/staff\">Officers (administrator)</a></li>");
    }
    html.push_str("</ul>");
    Ok(page("e-business", &who, &csrf).html(&html))
}

// ---- applying ----

fn licence_type<'a>(ag: &'a Agency, id: &str) -> Result<&'a LicenceType> {
    ag.catalogue.licence(id).ok_or_else(|| Error::NotFound("There is no such licence type.".into()))
}

fn input(name: &str, label: &str, value: &str, errors: &FieldErrors, control: &str) -> String {
    let err = errors.get(name);
    format!(
        "<label for=\"f-{n}\">{l}</label>{c}{e}",
        n = esc(name),
        l = esc(label),
        c = control
            .replace("{aria}", if err.is_some() { " aria-invalid=\"true\"" } else { "" })
            .replace("{v}", &esc(value)),
        e = err.map(|m| format!("<p class=\"flag\" id=\"e-{}\">{}</p>", esc(name), esc(m))).unwrap_or_default()
    )
}

fn select(name: &str, options: &[&str], value: &str) -> String {
    let mut s = format!("<select id=\"f-{0}\" name=\"{0}\"{{aria}}><option value=\"\">Choose…</option>", esc(name));
    for o in options {
        s.push_str(&format!("<option{}>{}</option>", if *o == value { " selected" } else { "" }, esc(o)));
    }
    s.push_str("</select>");
    s
}

fn text_input(name: &str, max: usize, kind: &str) -> String {
    format!(
        "<input id=\"f-{0}\" name=\"{0}\" type=\"{kind}\" maxlength=\"{max}\" value=\"{{v}}\" required{{aria}}>",
        esc(name)
    )
}

fn apply_form(
    l: &LicenceType,
    who: &Person,
    csrf: &CsrfToken,
    values: &HashMap<String, String>,
    errors: &FieldErrors,
) -> Response {
    let v = |k: &str| values.get(k).map(String::as_str).unwrap_or_default();
    let mut html = format!(
        "<p>{}</p><p class=\"muted\">Reviewed by the licensing office of the business's dzongkhag. After you submit, \
         you will see the application as it will be signed, and sign it with your Drukyul ID digital signature \
         (this needs a digital ID enrolled at a registration centre). Valid {} year(s).</p>",
        esc(&l.description),
        l.validity_years
    );
    if !errors.is_empty() {
        html.push_str(
            "<p class=\"flag\" role=\"alert\">Please correct the fields marked below; nothing was saved.</p>",
        );
    }
    html.push_str(&format!(
        "<form method=\"post\" action=\"/apply/{}\" novalidate>{}",
        esc(&l.id),
        csrf.hidden_field()
    ));
    html.push_str(&input(
        "business_name",
        "Business name",
        v("business_name"),
        errors,
        &text_input("business_name", 120, "text"),
    ));
    html.push_str(&input("activity", "Business activity", v("activity"), errors, &text_input("activity", 300, "text")));
    html.push_str(&input(
        "dzongkhag",
        "Dzongkhag",
        v("dzongkhag"),
        errors,
        &select("dzongkhag", &DZONGKHAGS, v("dzongkhag")),
    ));
    html.push_str(&input(
        "location",
        "Location (town, gewog, street, plot)",
        v("location"),
        errors,
        &text_input("location", 200, "text"),
    ));
    for f in &l.fields {
        let control = match f.kind {
            FieldKind::Select => select(&f.name, &f.options.iter().map(String::as_str).collect::<Vec<_>>(), v(&f.name)),
            FieldKind::Number => format!(
                "<input id=\"f-{0}\" name=\"{0}\" type=\"number\" min=\"{1}\" max=\"{2}\" value=\"{{v}}\" required{{aria}}>",
                esc(&f.name),
                f.min,
                f.max
            ),
            FieldKind::Text => text_input(&f.name, f.max_length, "text"),
        };
        html.push_str(&input(&f.name, &f.label, v(&f.name), errors, &control));
    }
    html.push_str("<button>Continue to signing</button></form>");
    let mut r = page(&l.title, who, csrf).html(&html).render();
    if !errors.is_empty() {
        *r.status_mut() = StatusCode::BAD_REQUEST;
    }
    r
}

async fn apply_page(
    State(ag): State<Agency>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path(kind): Path<String>,
) -> Result<Response> {
    let l = licence_type(&ag, &kind)?;
    Ok(apply_form(l, &person(&c)?, &csrf, &HashMap::new(), &FieldErrors::default()))
}

/// A submitted application form: every field checked; on any problem the form comes back with
/// a message per field and nothing is stored.
async fn apply(
    State(ag): State<Agency>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path(kind): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response> {
    csrf.check(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let l = licence_type(&ag, &kind)?;
    let who = person(&c)?;
    match l.validate(&form) {
        Ok(valid) => {
            let app = licensing::apply(&ag.db, l, &who, valid, now()).await?;
            Ok(Redirect::to(&format!("/applications/{}", app.id)).into_response())
        }
        Err(errors) => Ok(apply_form(l, &who, &csrf, &form, &errors)),
    }
}

/// The application document's contents as a table, read from the stored (signed) bytes.
fn document_html(app: &Application, kind: Option<&LicenceType>) -> String {
    match ApplicationDocument::from_bytes(app.document.as_bytes()) {
        Ok(d) => {
            let mut h = format!(
                "<table><tr><th scope=\"row\">Licence</th><td>{}</td></tr><tr><th scope=\"row\">Applicant</th><td>{} (CID {})</td></tr>\
                 <tr><th scope=\"row\">Business name</th><td>{}</td></tr><tr><th scope=\"row\">Activity</th><td>{}</td></tr>\
                 <tr><th scope=\"row\">Dzongkhag</th><td>{}</td></tr><tr><th scope=\"row\">Location</th><td>{}</td></tr>",
                esc(&d.licence_title),
                esc(&d.applicant_name),
                esc(&d.applicant_cid),
                esc(&d.business_name),
                esc(&d.activity),
                esc(&d.dzongkhag),
                esc(&d.location)
            );
            for (k, v) in &d.details {
                h.push_str(&format!(
                    "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
                    esc(&kind
                        .and_then(|l| l.fields.iter().find(|f| &f.name == k))
                        .map_or_else(|| k.replace('_', " "), |f| f.label.clone())),
                    esc(v)
                ));
            }
            h.push_str(&format!(
                "<tr><th scope=\"row\">Written</th><td>{}</td></tr><tr><th scope=\"row\">SHA-256</th><td><code>{}</code></td></tr></table>",
                esc(&d.prepared_at),
                domain::sha256_hex(app.document.as_bytes())
            ));
            h
        }
        Err(e) => format!("<p class=\"flag\">{}</p>", esc(&e.to_string())),
    }
}

fn status_line(app: &Application) -> String {
    let class = match app.status {
        Status::Approved => "ok",
        Status::Rejected => "flag",
        _ => "muted",
    };
    format!(
        "<p>Application <strong>{}</strong> · <span class=\"{class}\">{}</span></p>",
        esc(&app.id),
        app.status.label()
    )
}

fn decision_html(app: &Application) -> String {
    app.decided_at
        .map(|at| {
            format!(
                "<p>{} on {}{}.</p>",
                if app.status == Status::Approved { "Approved" } else { "Rejected" },
                esc(&date(at)),
                app.decision_note
                    .as_deref()
                    .filter(|n| !n.is_empty())
                    .map(|n| format!(": {}", esc(n)))
                    .unwrap_or_default()
            )
        })
        .unwrap_or_default()
}

async fn my_applications(
    State(ag): State<Agency>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
) -> Result<Page> {
    let who = person(&c)?;
    let now = now();
    let mut html =
        String::from("<h2>Applications</h2><table><tr><th>Application</th><th>Business</th><th>Status</th></tr>");
    for a in store::applications_of(&ag.db, who.cid.as_str()).await? {
        html.push_str(&format!(
            "<tr><td><a href=\"/applications/{0}\">{0}</a></td><td>{1}</td><td>{2}</td></tr>",
            esc(&a.id),
            esc(&a.business_name),
            a.status.label()
        ));
    }
    html.push_str("</table><h2>Licences</h2><table><tr><th>Licence</th><th>Business</th><th>Type</th><th>Valid until</th><th>State</th></tr>");
    for l in store::licences_of(&ag.db, who.cid.as_str()).await? {
        html.push_str(&format!(
            "<tr><td><a href=\"/licences/{0}\">{0}</a></td><td>{1}</td><td>{2}</td><td>{3}</td><td>{4}</td></tr>",
            esc(&l.number),
            esc(&l.business_name),
            esc(&l.licence_title),
            esc(&date(l.valid_until)),
            l.state(now).as_str()
        ));
    }
    html.push_str("</table><p><a href=\"/\">Apply for a licence</a></p>");
    Ok(page("My applications and licences", &who, &csrf).html(&html))
}

async fn my_application(
    State(ag): State<Agency>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path(id): Path<String>,
) -> Result<Page> {
    let who = person(&c)?;
    let app = licensing::own_application(&ag.db, &who, &id).await?;
    let mut html = status_line(&app);
    if !app.sign_note.is_empty() {
        html.push_str(&format!("<p class=\"flag\" role=\"alert\">{}</p>", esc(&app.sign_note)));
    }
    html.push_str(&document_html(&app, ag.catalogue.licence(&app.licence_type)));
    match app.status {
        Status::AwaitingSignature => html.push_str(&format!(
            "<p>This is exactly what you will sign. Signing sends you to Drukyul ID, where you approve with your passkey; \
             the application goes to the licensing office of {} once your signature is verified.</p>\
             <form method=\"post\" action=\"/applications/{}/sign\">{}<button>Sign with my digital signature</button></form>",
            esc(&app.dzongkhag),
            esc(&app.id),
            &csrf.hidden_field()
        )),
        _ => {
            if let (Some(signer), Some(at)) = (&app.signer_name, app.signed_at) {
                html.push_str(&format!("<p class=\"ok\">Signed by {} on {}.</p>", esc(signer), esc(&when(at))));
            }
        }
    }
    html.push_str(&decision_html(&app));
    if let Some(l) = store::licence_of_application(&ag.db, &app.id).await? {
        html.push_str(&format!("<p>Licence <a href=\"/licences/{0}\">{0}</a>.</p>", esc(&l.number)));
    }
    Ok(page("Your application", &who, &csrf).html(&html))
}

/// Opens the signing request and sends the applicant to Drukyul ID.
async fn sign(
    State(ag): State<Agency>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response> {
    csrf.check(&f.csrf)?;
    let who = person(&c)?;
    let url = licensing::start_signing(&ag, &who, &id, now()).await?;
    Ok(Redirect::to(url.as_str()).into_response())
}

#[derive(Deserialize)]
struct SignedQuery {
    #[serde(default)]
    sign_request: String,
}

/// Back from Drukyul ID: the outcome is collected from the provider (the query's `status` is
/// not trusted), the signature verified and stored, and the applicant sent to the application.
async fn signed(
    State(ag): State<Agency>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Query(q): Query<SignedQuery>,
) -> Result<Response> {
    let who = person(&c)?;
    if q.sign_request.is_empty()
        || q.sign_request.len() > 100
        || !q.sign_request.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::BadRequest("This is not a signing request of e-business.".into()));
    }
    let (id, collected) = licensing::collect_signature(&ag, &who, &q.sign_request, now()).await?;
    if collected == Collected::Pending {
        let html = format!(
            "<p>Drukyul ID has not recorded your decision yet.</p><p><a href=\"/signed?sign_request={0}\">Check again</a> · \
             <a href=\"/applications/{1}\">Back to the application</a></p>",
            esc(&q.sign_request),
            esc(&id)
        );
        return Ok(page("Waiting for your signature", &who, &csrf).html(&html).into_response());
    }
    Ok(Redirect::to(&format!("/applications/{id}")).into_response())
}

// ---- the offices ----

/// The licensing and customs roles `who` holds; none is a refusal, audited.
async fn office_roles(ag: &Agency, who: &Person, now: i64) -> Result<Vec<StaffRole>> {
    let held: Vec<StaffRole> = staff::roles_of(&ag.db, who.cid.as_str())
        .await?
        .into_iter()
        .filter(|r| r.role == LICENSING_OFFICER || r.role == CUSTOMS_OFFICER)
        .collect();
    if held.is_empty() {
        audit::record(
            &ag.db,
            &Entry::new(format!("citizen:{}", who.cid), "role_denied", "office:queue")
                .detail(serde_json::json!({"needed": "licensing_officer or customs_officer"}))
                .flagged(),
            now,
        )
        .await?;
        return Err(Error::Forbidden("This page is for licensing and customs officers.".into()));
    }
    Ok(held)
}

async fn office(
    State(ag): State<Agency>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
) -> Result<Page> {
    let who = person(&c)?;
    let now = now();
    let mut html = String::new();
    for r in office_roles(&ag, &who, now).await? {
        if r.role == LICENSING_OFFICER {
            html.push_str(&format!(
                "<h2>Licensing office, {}</h2><table><tr><th>Application</th><th>Business</th><th>Applicant</th><th>Signed</th></tr>",
                esc(&r.unit)
            ));
            for a in store::queue(&ag.db, &r.unit).await? {
                html.push_str(&format!(
                    "<tr><td><a href=\"/office/applications/{0}\">{0}</a></td><td>{1}</td><td>{2}</td><td>{3}</td></tr>",
                    esc(&a.id),
                    esc(&a.business_name),
                    esc(&a.applicant_name),
                    esc(&a.signed_at.map(when).unwrap_or_default())
                ));
            }
        } else {
            let name = ag.catalogue.port(&r.unit).map_or(r.unit.as_str(), |p| p.name.as_str());
            html.push_str(&format!(
                "<h2>Customs, {}</h2><table><tr><th>Declaration</th><th>Trader</th><th>Direction</th><th>HS code</th><th>Status</th></tr>",
                esc(name)
            ));
            for d in store::port_queue(&ag.db, &r.unit).await? {
                html.push_str(&format!(
                    "<tr><td><a href=\"/customs/clearances/{0}\">{0}</a></td><td>{1}</td><td>{2}</td><td>{3}</td><td>{4}</td></tr>",
                    esc(&d.id),
                    esc(&d.trader_name),
                    d.direction.as_str(),
                    esc(&d.hs_code),
                    d.status.as_str()
                ));
            }
        }
        html.push_str("</table>");
    }
    Ok(page("Office work", &who, &csrf).html(&html))
}

/// The application, for a licensing officer of its dzongkhag (anyone else: 403, audited).
async fn as_officer(ag: &Agency, c: &Citizen, id: &str, now: i64) -> Result<(Person, StaffRole, Application)> {
    let who = person(c)?;
    let Some(app) = store::application_by_id(&ag.db, id).await? else {
        // Only an officer learns that no such application exists; anyone else is refused.
        office_roles(ag, &who, now).await?;
        return Err(Error::NotFound("No such application.".into()));
    };
    let officer =
        staff::require(&ag.db, who.cid.as_str(), LICENSING_OFFICER, Some(&app.dzongkhag), &app.subject(), now).await?;
    Ok((who, officer, app))
}

async fn review(
    State(ag): State<Agency>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path(id): Path<String>,
) -> Result<Page> {
    let now = now();
    let (who, officer, app) = as_officer(&ag, &c, &id, now).await?;
    audit::record(&ag.db, &Entry::new(format!("staff:{}", officer.cid), "application_viewed", app.subject()), now)
        .await?;
    let mut html = status_line(&app);
    html.push_str(&document_html(&app, ag.catalogue.licence(&app.licence_type)));
    let mut acceptable = false;
    if app.signature.is_some() {
        let r = licensing::reverify(&ag, &app, now).await?;
        acceptable = r.judged.is_ok();
        let v = &r.verification;
        let (class, verdict) = match &r.judged {
            Ok(_) => ("ok", "Valid: the applicant's own signature over exactly this application.".to_owned()),
            Err(why) => ("flag", format!("Not acceptable: {why}")),
        };
        html.push_str(&format!(
            "<h2>Signature (verified by Drukyul ID just now)</h2><p class=\"{class}\"><strong>{}</strong></p><table>\
             <tr><th scope=\"row\">Valid</th><td>{}</td></tr><tr><th scope=\"row\">Signer</th><td>{}</td></tr>\
             <tr><th scope=\"row\">Signer is the applicant</th><td>{}</td></tr><tr><th scope=\"row\">Signing time</th><td>{}</td></tr>\
             <tr><th scope=\"row\">Certificate status</th><td>{}</td></tr><tr><th scope=\"row\">Certificate serial</th><td>{}</td></tr></table>",
            esc(&verdict),
            if v.valid { "yes" } else { "no" },
            esc(v.signer.as_deref().unwrap_or("—")),
            if v.cid.as_deref() == Some(app.applicant_cid.as_str()) { "yes" } else { "no" },
            esc(&v.signing_time.map(when).unwrap_or_else(|| "—".into())),
            esc(v.certificate_status.as_deref().unwrap_or("—")),
            esc(v.certificate_serial.as_deref().unwrap_or("—")),
        ));
    }
    html.push_str(&decision_html(&app));
    if app.status == Status::Submitted {
        html.push_str(&format!(
            "<form method=\"post\" action=\"/office/applications/{}/decision\">{}\
             <label for=\"note\">Note (required to reject; the applicant reads it)</label>\
             <textarea id=\"note\" name=\"note\" maxlength=\"{}\" rows=\"3\"></textarea><p>{}\
             <button name=\"decision\" value=\"reject\">Reject</button></p></form>",
            esc(&app.id),
            &csrf.hidden_field(),
            domain::MAX_NOTE,
            if acceptable {
                "<button name=\"decision\" value=\"approve\">Approve and issue the licence</button> "
            } else {
                "<span class=\"flag\">It cannot be approved while its signature does not verify.</span> "
            }
        ));
    }
    if let Some(l) = store::licence_of_application(&ag.db, &app.id).await? {
        html.push_str(&format!("<p>Licence <a href=\"/licences/{0}\">{0}</a>.</p>", esc(&l.number)));
    }
    Ok(page("Review a licence application", &who, &csrf).html(&html))
}

#[derive(Deserialize)]
struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
}

async fn decide(
    State(ag): State<Agency>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path(id): Path<String>,
    Form(f): Form<DecisionForm>,
) -> Result<Response> {
    csrf.check(&f.csrf)?;
    let now = now();
    let (_, officer, app) = as_officer(&ag, &c, &id, now).await?;
    let decision = Decision::parse(&f.decision)?;
    if let Some(number) = licensing::decide(&ag, &app, &officer, decision, &f.note, now).await? {
        // A failure is recorded on the licence and retried by the retry loop; the licence stands.
        crate::seal::seal(&ag, &number, now).await?;
    }
    Ok(Redirect::to(&format!("/office/applications/{id}")).into_response())
}

// ---- the public register ----

#[derive(Deserialize)]
struct NumberQuery {
    #[serde(default)]
    number: String,
}

async fn find_licence(Query(q): Query<NumberQuery>) -> Result<Response> {
    let n = q.number.trim().to_uppercase();
    if !domain::is_licence_number(&n) {
        return Err(Error::BadRequest("A licence number looks like BL-2025-0123456789.".into()));
    }
    Ok(Redirect::to(&format!("/licences/{n}")).into_response())
}

async fn public_licence(ag: &Agency, number: &str) -> Result<store::Licence> {
    if !domain::is_licence_number(number) {
        return Err(Error::NotFound("No licence has this number.".into()));
    }
    store::licence_by_number(&ag.db, number).await?.ok_or_else(|| Error::NotFound("No licence has this number.".into()))
}

/// Anyone may check a licence: the business, its type, validity and state — never the
/// holder's CID or anything from the application.
async fn licence_page(State(ag): State<Agency>, Path(number): Path<String>) -> Result<Page> {
    let l = public_licence(&ag, &number).await?;
    let state = l.state(now());
    let (class, verdict) = match state {
        domain::LicenceState::Active => ("ok", "In force."),
        domain::LicenceState::Expired => ("flag", "Expired: this licence is no longer in force."),
        domain::LicenceState::Revoked => ("flag", "Revoked: this licence is no longer in force."),
    };
    let html = format!(
        "<p class=\"{class}\"><strong>{verdict}</strong> Issued by e-business, Ministry of Industry, Commerce and Employment.</p>\
         <table><tr><th scope=\"row\">Licence number</th><td>{}</td></tr><tr><th scope=\"row\">Business</th><td>{}</td></tr>\
         <tr><th scope=\"row\">Licence</th><td>{}</td></tr><tr><th scope=\"row\">Dzongkhag</th><td>{}</td></tr>\
         <tr><th scope=\"row\">Issued</th><td>{}</td></tr><tr><th scope=\"row\">Valid until</th><td>{}</td></tr>\
         <tr><th scope=\"row\">Status</th><td>{}</td></tr></table>\
         <p><img src=\"/licences/{0}/qr.svg\" width=\"160\" height=\"160\" alt=\"QR code linking to this verification page\"></p>{}",
        esc(&l.number),
        esc(&l.business_name),
        esc(&l.licence_title),
        esc(&l.dzongkhag),
        esc(&date(l.issued_at)),
        esc(&date(l.valid_until)),
        state.as_str(),
        if l.sealed {
            format!(
                "<p><a href=\"/licences/{}/pdf\">The licence as a PDF sealed by the Ministry</a> (any PDF reader that \
                 trusts the Drukyul ID root checks its seal; this page says whether it is still in force).</p>",
                esc(&l.number)
            )
        } else {
            "<p>The sealed PDF of this licence is being prepared.</p>".to_owned()
        },
    );
    Ok(Page::new("Licence verification").html(&html))
}

/// The sealed PDF of a licence: as public as its verification page (the number is what the
/// holder shows), and it says no more than that page.
async fn licence_pdf(State(ag): State<Agency>, Path(number): Path<String>) -> Result<Response> {
    let missing = || Error::NotFound("No sealed licence has this number.".into());
    if !domain::is_licence_number(&number) {
        return Err(missing());
    }
    let pdf = store::licence_pdf(&ag.db, &number).await?.ok_or_else(missing)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{number}.pdf\"")),
        ],
        pdf,
    )
        .into_response())
}

/// The QR code printed on the licence: this verification page's address, as SVG.
async fn licence_qr(
    State(ag): State<Agency>,
    axum::Extension(PublicUrl(base)): axum::Extension<PublicUrl>,
    Path(number): Path<String>,
) -> Result<Response> {
    let l = public_licence(&ag, &number).await?;
    let url = format!("{}/licences/{}", base.trim_end_matches('/'), l.number);
    let qr = qrcode::QrCode::new(url.as_bytes()).map_err(|e| Error::Internal(format!("QR code: {e}")))?;
    let svg = qr.render::<qrcode::render::svg::Color<'_>>().min_dimensions(160, 160).build();
    Ok(([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=300")], svg).into_response())
}

// ---- the single window ----

async fn my_clearances(
    State(ag): State<Agency>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
) -> Result<Page> {
    let who = person(&c)?;
    let mut html = String::from(
        "<table><tr><th>Declaration</th><th>Licence</th><th>Direction</th><th>HS code</th><th>Goods</th><th>Value</th><th>Customs office</th><th>Status</th></tr>",
    );
    for d in store::clearances_of(&ag.db, who.cid.as_str()).await? {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({} {})</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
            esc(&d.id),
            esc(&d.licence_number),
            d.direction.as_str(),
            esc(&d.hs_code),
            esc(&d.description),
            d.quantity,
            esc(&d.unit),
            format_nu(d.value_chhertum),
            esc(ag.catalogue.port(&d.port).map_or(d.port.as_str(), |p| p.name.as_str())),
            d.status.as_str(),
            d.decision_note.as_deref().filter(|n| !n.is_empty()).map(|n| format!(": {}", esc(n))).unwrap_or_default()
        ));
    }
    html.push_str(
        "</table><p><a href=\"/clearances/new\">File a declaration</a> (needs an import/export trade licence)</p>",
    );
    Ok(page("My export/import clearances", &who, &csrf).html(&html))
}

fn clearance_form(
    ag: &Agency,
    who: &Person,
    csrf: &CsrfToken,
    licences: &[store::Licence],
    values: &HashMap<String, String>,
    errors: &FieldErrors,
) -> Response {
    let v = |k: &str| values.get(k).map(String::as_str).unwrap_or_default();
    let mut html = String::new();
    if !errors.is_empty() {
        html.push_str(
            "<p class=\"flag\" role=\"alert\">Please correct the fields marked below; nothing was filed.</p>",
        );
    }
    html.push_str(&format!("<form method=\"post\" action=\"/clearances/new\" novalidate>{}", csrf.hidden_field()));
    let numbers: Vec<&str> = licences.iter().map(|l| l.number.as_str()).collect();
    html.push_str(&input(
        "licence",
        "Import/export licence",
        v("licence"),
        errors,
        &select("licence", &numbers, v("licence")),
    ));
    html.push_str(&input(
        "direction",
        "Direction",
        v("direction"),
        errors,
        &select("direction", &["import", "export"], v("direction")),
    ));
    html.push_str(&input(
        "hs_code",
        "HS code (6 to 10 digits)",
        v("hs_code"),
        errors,
        &text_input("hs_code", 14, "text"),
    ));
    html.push_str(&input(
        "description",
        "Description of the goods",
        v("description"),
        errors,
        &text_input("description", 300, "text"),
    ));
    html.push_str(&input("quantity", "Quantity", v("quantity"), errors, &text_input("quantity", 10, "text")));
    html.push_str(&input("unit", "Unit", v("unit"), errors, &select("unit", &UNITS, v("unit"))));
    html.push_str(&input("value", "Declared value (Nu.)", v("value"), errors, &text_input("value", 20, "text")));
    html.push_str(&input(
        "country",
        "Country of origin or destination (ISO code, e.g. IN)",
        v("country"),
        errors,
        &text_input("country", 2, "text"),
    ));
    let ports: Vec<&str> = ag.catalogue.ports().iter().map(|p| p.code.as_str()).collect();
    html.push_str(&input("port", "Customs office (code)", v("port"), errors, &select("port", &ports, v("port"))));
    html.push_str("<p class=\"muted\">");
    for p in ag.catalogue.ports() {
        html.push_str(&format!("{} = {}; ", esc(&p.code), esc(&p.name)));
    }
    html.push_str("</p><button>File the declaration</button></form>");
    let mut r = page("Export/import clearance", who, csrf).html(&html).render();
    if !errors.is_empty() {
        *r.status_mut() = StatusCode::BAD_REQUEST;
    }
    r
}

async fn clearance_page(
    State(ag): State<Agency>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
) -> Result<Response> {
    let who = person(&c)?;
    let now = now();
    let licences = licensing::trade_licences(&ag.db, &who, now).await?;
    if licences.is_empty() {
        return Err(licensing::refuse_trader(&ag.db, &who, "You hold no import/export licence in force.", now).await?);
    }
    Ok(clearance_form(&ag, &who, &csrf, &licences, &HashMap::new(), &FieldErrors::default()))
}

async fn file_clearance(
    State(ag): State<Agency>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response> {
    csrf.check(form.get("csrf").map(String::as_str).unwrap_or_default())?;
    let who = person(&c)?;
    let now = now();
    match licensing::file_clearance(&ag, &who, &form, now).await? {
        Ok(_) => Ok(Redirect::to("/clearances").into_response()),
        Err(errors) => {
            let licences = licensing::trade_licences(&ag.db, &who, now).await?;
            Ok(clearance_form(&ag, &who, &csrf, &licences, &form, &errors))
        }
    }
}

/// The declaration, for a customs officer of its office (anyone else: 403, audited).
async fn as_customs(ag: &Agency, c: &Citizen, id: &str, now: i64) -> Result<(Person, StaffRole, store::Clearance)> {
    let who = person(c)?;
    let Some(d) = store::clearance_by_id(&ag.db, id).await? else {
        office_roles(ag, &who, now).await?;
        return Err(Error::NotFound("No such declaration.".into()));
    };
    let officer =
        staff::require(&ag.db, who.cid.as_str(), CUSTOMS_OFFICER, Some(&d.port), &format!("clearance:{id}"), now)
            .await?;
    Ok((who, officer, d))
}

async fn customs_clearance(
    State(ag): State<Agency>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path(id): Path<String>,
) -> Result<Page> {
    let now = now();
    let (who, officer, d) = as_customs(&ag, &c, &id, now).await?;
    audit::record(
        &ag.db,
        &Entry::new(format!("staff:{}", officer.cid), "clearance_viewed", format!("clearance:{id}")),
        now,
    )
    .await?;
    let licence = store::licence_by_number(&ag.db, &d.licence_number).await?;
    let mut html = format!(
        "<table><tr><th scope=\"row\">Declaration</th><td>{id}</td></tr><tr><th scope=\"row\">Status</th><td>{status}</td></tr>\
         <tr><th scope=\"row\">Trader</th><td>{trader} (CID {cid})</td></tr>\
         <tr><th scope=\"row\">Licence</th><td><a href=\"/licences/{number}\">{number}</a> {licence}</td></tr>\
         <tr><th scope=\"row\">Direction</th><td>{direction}</td></tr><tr><th scope=\"row\">HS code</th><td>{hs}</td></tr>\
         <tr><th scope=\"row\">Goods</th><td>{goods}</td></tr><tr><th scope=\"row\">Quantity</th><td>{quantity} {unit}</td></tr>\
         <tr><th scope=\"row\">Declared value</th><td>{value}</td></tr><tr><th scope=\"row\">Country</th><td>{country}</td></tr>\
         <tr><th scope=\"row\">Filed</th><td>{filed}</td></tr></table>",
        id = esc(&d.id),
        status = d.status.as_str(),
        trader = esc(&d.trader_name),
        cid = esc(&d.trader_cid),
        number = esc(&d.licence_number),
        licence =
            licence.map(|l| format!("({}, {})", esc(&l.business_name), l.state(now).as_str())).unwrap_or_default(),
        direction = d.direction.as_str(),
        hs = esc(&d.hs_code),
        goods = esc(&d.description),
        quantity = d.quantity,
        unit = esc(&d.unit),
        value = format_nu(d.value_chhertum),
        country = esc(&d.country),
        filed = esc(&when(d.created_at)),
    );
    if let Some(n) = d.decision_note.as_deref().filter(|n| !n.is_empty()) {
        html.push_str(&format!("<p>Note: {}</p>", esc(n)));
    }
    if d.status != domain::ClearanceStatus::Cleared {
        html.push_str(&format!(
            "<form method=\"post\" action=\"/customs/clearances/{}/decision\">{}\
             <label for=\"note\">Note (required to hold; the trader reads it)</label>\
             <textarea id=\"note\" name=\"note\" maxlength=\"{}\" rows=\"3\"></textarea>\
             <p><button name=\"action\" value=\"clear\">Clear</button> <button name=\"action\" value=\"hold\">Hold</button></p></form>",
            esc(&d.id),
            &csrf.hidden_field(),
            domain::MAX_NOTE
        ));
    }
    Ok(page("Clearance declaration", &who, &csrf).html(&html))
}

#[derive(Deserialize)]
struct CustomsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    note: String,
}

async fn decide_clearance(
    State(ag): State<Agency>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path(id): Path<String>,
    Form(f): Form<CustomsForm>,
) -> Result<Response> {
    csrf.check(&f.csrf)?;
    let now = now();
    let (_, officer, d) = as_customs(&ag, &c, &id, now).await?;
    licensing::decide_clearance(&ag.db, &d, &officer, &f.action, &f.note, now).await?;
    Ok(Redirect::to(&format!("/customs/clearances/{id}")).into_response())
}

// ---- administration ----

async fn staff_page(
    State(ag): State<Agency>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
) -> Result<Page> {
    let who = person(&c)?;
    staff::require(&ag.db, who.cid.as_str(), ADMINISTRATOR, Some(""), "staff", now()).await?;
    let ports: Vec<String> = ag.catalogue.ports().iter().map(|p| format!("{} ({})", p.code, p.name)).collect();
    let html = format!(
        "<h2>Add an officer</h2><form method=\"post\" action=\"/admin/staff\">{}\
         <label for=\"cid\">CID</label><input id=\"cid\" name=\"cid\" inputmode=\"numeric\" maxlength=\"11\" required>\
         <label for=\"name\">Name</label><input id=\"name\" name=\"name\" maxlength=\"200\" required>\
         <label for=\"f-role\">Role</label>{}\
         <label for=\"unit\">Unit: the dzongkhag (licensing officer) or customs office code (customs officer)</label>\
         <input id=\"unit\" name=\"unit\" maxlength=\"40\" required><button>Add</button></form>\
         <p class=\"muted\">Customs offices: {}</p>",
        &csrf.hidden_field(),
        select("role", &[LICENSING_OFFICER, CUSTOMS_OFFICER], "").replace("{aria}", ""),
        esc(&ports.join(", "))
    );
    Ok(page("Officers", &who, &csrf).html(&html))
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
    role: String,
    #[serde(default)]
    unit: String,
}

async fn add_staff(
    State(ag): State<Agency>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Form(f): Form<StaffForm>,
) -> Result<Response> {
    csrf.check(&f.csrf)?;
    let who = person(&c)?;
    let now = now();
    staff::require(&ag.db, who.cid.as_str(), ADMINISTRATOR, Some(""), "staff", now).await?;
    if f.role == ADMINISTRATOR {
        return Err(Error::BadRequest("Administrators are added by the operator (e-business staff add).".into()));
    }
    crate::add_staff(&ag.db, &ag.catalogue, &f.cid, &f.role, &f.unit, &f.name, &format!("staff:{}", who.cid), now)
        .await?;
    Ok(Redirect::to("/admin/staff").into_response())
}

// ---- the agency API ----

/// For other agencies (customs, banks): a licence by its number, with a client-credentials
/// token carrying `ebiz.licences` for the audience `{public_url}/api` (no token 401, another
/// scope 403). Answers what the public page shows, as JSON; every call is audited.
async fn api_licence(
    State(ag): State<Agency>,
    caller: Bearer<LicencesScope>,
    Path(number): Path<String>,
) -> std::result::Result<Response, ApiError> {
    let now = now();
    let number = number.trim().to_uppercase();
    if !domain::is_licence_number(&number) {
        return Err(Error::BadRequest("a licence number looks like BL-2025-0123456789".into()).into());
    }
    let l = store::licence_by_number(&ag.db, &number).await?;
    audit::record(
        &ag.db,
        &Entry::new(format!("client:{}", caller.claims().client_id), "licence_looked_up", format!("licence:{number}"))
            .detail(serde_json::json!({"found": l.is_some()})),
        now,
    )
    .await?;
    let l = l.ok_or_else(|| Error::NotFound("no licence has this number".into()))?;
    let state = l.state(now);
    Ok(Json(serde_json::json!({
        "number": l.number,
        "licence_type": l.licence_type,
        "licence_title": l.licence_title,
        "business_name": l.business_name,
        "dzongkhag": l.dzongkhag,
        "trade": l.trade,
        "trade_direction": l.trade_direction,
        "issued_at": l.issued_at,
        "valid_until": l.valid_until,
        "status": state.as_str(),
    }))
    .into_response())
}
