//! EMIS's pages and API: thin handlers that check who is asking, call the domain and render.
//! Every text shown is escaped ([`esc`]); forms carry the kit's CSRF token.

use agency_kit::{
    ApiError, Error, Result,
    audit::{self, Entry, Recorded},
    db::Db,
    staff::{self, StaffRole},
    web::{CsrfToken, Page, escape as esc, when},
};
use axum::{
    Form, Json, Router,
    extract::{Path, Query, State},
    http::header,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use relying_party_sdk::{AuthenticatedCitizen, Bearer, Citizen, MaybeCitizen, RequiredScopes};
use serde::Deserialize;

use std::sync::Arc;

use crate::{
    domain::{self, AcademicYear, Cid, Class, School, Subject, Term},
    seal::Sealer,
};

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct AppState {
    pub(crate) db: Db,
    /// Seals the report cards the principals issue.
    pub(crate) sealer: Arc<Sealer>,
}

/// The scope another agency needs to ask about a student's enrolment.
pub struct EnrolmentScope;
impl RequiredScopes for EnrolmentScope {
    const SCOPES: &'static [&'static str] = &["emis.enrolment"];
}

/// EMIS's own routes (without the SDK's and the kit's layers; see [`crate::app`]).
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(|| async { Redirect::to("/auth/login?return_to=/") }))
        .route("/logout", post(logout))
        .route("/me", get(my_records))
        .route("/school/{code}", get(school_page))
        .route("/school/{code}/enrol", post(enrol))
        .route("/school/{code}/students/{cid}", get(student_page))
        .route("/school/{code}/students/{cid}/marks", post(record_mark))
        .route("/school/{code}/students/{cid}/report-cards", post(issue_report_card))
        .route("/school/{code}/students/{cid}/end", post(end_enrolment))
        .route("/report-cards", get(find_report_card))
        .route("/report-cards/{number}", get(report_card_page))
        .route("/report-cards/{number}/pdf", get(report_card_pdf))
        .route("/admin/staff", get(staff_page).post(add_staff))
        .route("/api/students/{cid}/enrolment", get(api_enrolment))
        .with_state(state)
}

/// The logged-in person's CID (released under `national_id`); without it EMIS cannot work.
fn cid_of(c: &Citizen) -> Result<Cid> {
    c.claim("cid").map(Cid::parse).transpose()?.ok_or_else(|| {
        Error::Forbidden("EMIS needs your CID: log in again and allow the national ID to be shared.".into())
    })
}

fn display_name(c: &Citizen) -> String {
    c.claim("name").unwrap_or("citizen").to_owned()
}

fn term_label(stored: &str) -> &'static str {
    Term::parse(stored).map_or("(unknown term)", Term::label)
}

/// The caller's role at school `code`: one of `roles` (checked on every request). Without one
/// the kit audits the refusal (flagged, about `what`) and answers 403.
async fn staff_at(db: &Db, who: &Cid, code: &str, roles: &[&str], what: &str) -> Result<(StaffRole, School)> {
    let held = staff::roles_of(db, who.as_str()).await?;
    let role = match held.into_iter().find(|r| r.unit == code && roles.contains(&r.role.as_str())) {
        Some(r) => r,
        None => {
            let needed = roles.first().copied().unwrap_or(domain::PRINCIPAL);
            staff::require(db, who.as_str(), needed, Some(code), what, agency_kit::now()).await?
        }
    };
    let school = domain::school(db, code).await?.ok_or_else(|| Error::NotFound("No such school.".into()))?;
    Ok((role, school))
}

/// Teachers and the principal.
const SCHOOL_STAFF: &[&str] = &[domain::TEACHER, domain::PRINCIPAL];
/// The principal alone.
const PRINCIPAL_ONLY: &[&str] = &[domain::PRINCIPAL];

async fn home(State(s): State<AppState>, MaybeCitizen(c): MaybeCitizen, csrf: CsrfToken) -> Result<Page> {
    let verify = "<h2>Check a report card</h2><form method=\"get\" action=\"/report-cards\">\
        <label for=\"number\">Report card number</label><input id=\"number\" name=\"number\" maxlength=\"40\" required>\
        <button>Check</button></form>";
    let Some(c) = c else {
        return Ok(Page::new("School records")
            .paragraph(
                "EMIS keeps students' school records: enrolment, marks and report cards. Students and their \
                 parents or guardians see them here, with who at the school looked at or changed them.",
            )
            .link("/auth/login?return_to=/", "Log in with Drukyul ID")
            .html(verify));
    };
    let cid = cid_of(&c)?;
    let mut html = String::from("<ul><li><a href=\"/me\">My school records and my children's</a></li>");
    for r in staff::roles_of(&s.db, cid.as_str()).await? {
        if r.role == domain::TEACHER || r.role == domain::PRINCIPAL {
            let name = domain::school(&s.db, &r.unit).await?.map(|f| f.name).unwrap_or_else(|| r.unit.clone());
            html.push_str(&format!(
                "<li><a href=\"/school/{}\">{} ({})</a></li>",
                esc(&r.unit),
                esc(&name),
                esc(&r.role)
            ));
        } else if r.role == domain::ADMINISTRATOR {
            html.push_str("<li><a href=\"/admin/staff\">Teachers and principals (administrator)</a></li>");
        }
    }
    html.push_str("</ul>");
    html.push_str(verify);
    Ok(Page::new("EMIS").html(&html).for_user(&display_name(&c), &csrf))
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

// ---- pieces of pages ----

fn enrolments_html(list: &[domain::Enrolment]) -> String {
    if list.is_empty() {
        return "<p class=\"muted\">Not enrolled at any school in EMIS.</p>".into();
    }
    let mut h = String::from(
        "<table><thead><tr><th>Year</th><th>School</th><th>Class</th><th>Since</th><th>Status</th></tr></thead><tbody>",
    );
    for e in list {
        let status = match (&e.ended_at, &e.end_reason) {
            (None, _) => "enrolled".to_owned(),
            (Some(at), reason) => format!("{} on {}", reason.as_deref().unwrap_or("ended"), when(*at)),
        };
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e.year,
            esc(&e.school_name),
            esc(&e.class_label()),
            esc(&when(e.started_at)),
            esc(&status)
        ));
    }
    h.push_str("</tbody></table>");
    h
}

fn marks_html(list: &[domain::MarkRow]) -> String {
    if list.is_empty() {
        return "<p class=\"muted\">No marks recorded yet.</p>".into();
    }
    let mut h = String::from(
        "<table><thead><tr><th>Year</th><th>Term</th><th>Subject</th><th>Mark</th><th>Recorded by</th><th>When</th>\
         <th>School</th></tr></thead><tbody>",
    );
    for m in list {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            m.year,
            esc(term_label(&m.term)),
            esc(Subject::name_of(&m.subject)),
            m.mark,
            esc(&m.recorder_name),
            esc(&when(m.recorded_at)),
            esc(&m.school_name)
        ));
    }
    h.push_str("</tbody></table>");
    h
}

/// The report cards; `downloads` adds the sealed PDFs' links (for the student and guardians,
/// the only ones who may download them).
fn cards_html(list: &[domain::ReportCard], downloads: bool) -> String {
    if list.is_empty() {
        return "<p class=\"muted\">No report cards issued yet.</p>".into();
    }
    let mut h = String::from(
        "<table><thead><tr><th>Number</th><th>Year</th><th>Term</th><th>School</th><th>Issued</th><th>Status</th><th>Sealed PDF</th></tr>\
         </thead><tbody>",
    );
    for c in list {
        h.push_str(&format!(
            "<tr><td><a href=\"/report-cards/{n}\">{n}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            c.year,
            esc(c.term_label()),
            esc(&c.school_name),
            esc(&when(c.issued_at)),
            if c.superseded_by.is_some() { "superseded" } else { "valid" },
            match (c.sealed, downloads) {
                (true, true) => format!("<a href=\"/report-cards/{}/pdf\">Download</a>", esc(&c.number)),
                (true, false) => "sealed".to_owned(),
                (false, _) => "being prepared".to_owned(),
            },
            n = esc(&c.number),
        ));
    }
    h.push_str("</tbody></table>");
    h
}

/// One audit entry in words, for the student and guardians.
fn describe(e: &Recorded) -> (String, String) {
    let d = &e.detail;
    let s = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
    let n = |k: &str| d.get(k).and_then(serde_json::Value::as_i64).map(|v| v.to_string()).unwrap_or_default();
    let who = if let Some(client) = e.actor.strip_prefix("client:") {
        format!("agency client {client}")
    } else if e.actor.starts_with("staff:") {
        format!("{} ({})", s("staff_name"), s("role"))
    } else if e.action == "report_card_download_refused" {
        "someone who is not the student or a guardian".into()
    } else {
        "someone without that role".into()
    };
    let what = match e.action.as_str() {
        "record_viewed" => "viewed the record".to_owned(),
        "student_enrolled" => {
            let added: Vec<String> = d
                .get("guardians_added")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|g| {
                            Some(format!("{} ({})", g.get("cid")?.as_str()?, g.get("relationship")?.as_str()?))
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "enrolled the student in {} for {}{}",
                s("class"),
                n("year"),
                if added.is_empty() { String::new() } else { format!("; guardians recorded: {}", added.join(", ")) }
            )
        }
        "enrolment_ended" => format!("ended the enrolment for {} ({})", n("year"), s("reason")),
        "mark_recorded" => {
            format!("recorded {} for {} {}: {}", s("subject_name"), term_label(&s("term")), n("year"), n("mark"))
        }
        "mark_changed" => format!(
            "CHANGED {} for {} {} from {} to {}",
            s("subject_name"),
            term_label(&s("term")),
            n("year"),
            n("previous"),
            n("mark")
        ),
        "report_card_issued" => format!("issued report card {}", s("number")),
        "report_card_download_refused" => format!("tried to download report card {} (refused)", s("number")),
        "enrolment_checked" => format!("checked whether the student is enrolled in {}", n("year")),
        "record_access_refused" => "tried to open the record, but the student is not enrolled there (refused)".into(),
        "role_denied" => format!(
            "tried to open or change the record without the {} role at {} (refused)",
            s("needed"),
            if s("unit").is_empty() { "the school".to_owned() } else { s("unit") }
        ),
        other => other.to_owned(),
    };
    (who, what)
}

fn access_log_html(log: &[Recorded]) -> String {
    if log.is_empty() {
        return "<p class=\"muted\">Nobody at a school has opened this record.</p>".into();
    }
    let mut h =
        String::from("<table><thead><tr><th>When</th><th>Who</th><th>School</th><th>What</th></tr></thead><tbody>");
    for e in log {
        let (who, what) = describe(e);
        let school = e.detail.get("school_name").and_then(|v| v.as_str()).unwrap_or("");
        h.push_str(&format!(
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if e.flagged { " class=\"flag\"" } else { "" },
            esc(&when(e.at)),
            esc(&who),
            esc(school),
            esc(&what)
        ));
    }
    h.push_str("</tbody></table>");
    h
}

/// Everything EMIS shows a student or guardian about one student.
async fn student_section(db: &Db, st: &domain::Student, heading: &str) -> Result<String> {
    let cid = Cid::parse(&st.cid)?;
    let mut h = format!(
        "<section><h2>{}</h2><p>{} · CID {} · born {}</p><h3>Enrolment</h3>",
        esc(heading),
        esc(&st.name),
        esc(&st.cid),
        esc(&st.date_of_birth)
    );
    h.push_str(&enrolments_html(&domain::enrolments(db, &cid).await?));
    h.push_str("<h3>Marks</h3>");
    h.push_str(&marks_html(&domain::marks(db, &cid).await?));
    h.push_str("<h3>Report cards</h3>");
    h.push_str(&cards_html(&domain::report_cards_of(db, &cid).await?, true));
    h.push_str(
        "<h3>Who looked at or changed this record</h3><p>Corrections of marks and refused attempts are marked.</p>",
    );
    h.push_str(&access_log_html(&domain::access_log(db, &cid).await?));
    h.push_str("</section>");
    Ok(h)
}

/// The citizen's own student record and their children's.
async fn my_records(
    State(s): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
) -> Result<Page> {
    let cid = cid_of(&c)?;
    let db = &s.db;
    let mut html = String::new();
    if let Some(me) = domain::student(db, &cid).await? {
        html.push_str(&student_section(db, &me, "My record").await?);
    }
    for child in domain::children_of(db, &cid).await? {
        let heading = format!("{} (you are their guardian)", child.name);
        html.push_str(&student_section(db, &child, &heading).await?);
    }
    if html.is_empty() {
        html.push_str(
            "<p class=\"muted\">EMIS has no student record for you, and you are not recorded as the guardian of \
             a student. A school records you as a guardian when it enrols your child.</p>",
        );
    }
    Ok(Page::new("School records").html(&html).for_user(&display_name(&c), &csrf))
}

// ---- the school's pages ----

fn options(pairs: &[(String, String)], selected: &str) -> String {
    pairs
        .iter()
        .map(|(v, l)| {
            format!("<option value=\"{}\"{}>{}</option>", esc(v), if v == selected { " selected" } else { "" }, esc(l))
        })
        .collect()
}

fn year_options(now: i64) -> Result<String> {
    let y = domain::current_year(now)?.get();
    let years: Vec<(String, String)> = (y - 1..=y + 1).map(|v| (v.to_string(), v.to_string())).collect();
    Ok(options(&years, &y.to_string()))
}

fn term_options() -> String {
    let terms: Vec<(String, String)> =
        Term::ALL.iter().map(|t| (t.as_str().to_owned(), t.label().to_owned())).collect();
    options(&terms, "term1")
}

async fn school_page(
    State(s): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path(code): Path<String>,
) -> Result<Page> {
    let who = cid_of(&c)?;
    let (role, school) = staff_at(&s.db, &who, &code, SCHOOL_STAFF, &format!("school:{code}")).await?;
    let now = agency_kit::now();
    let year = domain::current_year(now)?;
    let mut html = format!(
        "<p>{} · {} · {}{}</p><h2>Students enrolled for {year}</h2>",
        esc(&school.name),
        esc(&school.dzongkhag),
        esc(school.level.label()),
        if school.provisional { " · <span class=\"muted\">(from the seed list: to be checked)</span>" } else { "" },
    );
    let roll = domain::roll(&s.db, &school, year).await?;
    if roll.is_empty() {
        html.push_str("<p class=\"muted\">No students enrolled yet.</p>");
    } else {
        html.push_str("<table><thead><tr><th>Class</th><th>Name</th><th>CID</th></tr></thead><tbody>");
        for (e, name) in &roll {
            html.push_str(&format!(
                "<tr><td>{}</td><td><a href=\"/school/{}/students/{}\">{}</a></td><td>{}</td></tr>",
                esc(&e.class_label()),
                esc(&school.code),
                esc(&e.student_cid),
                esc(name),
                esc(&e.student_cid)
            ));
        }
        html.push_str("</tbody></table>");
    }
    if role.role == domain::PRINCIPAL {
        let (lo, hi) = school.level.classes();
        let classes: Vec<(String, String)> = (lo..=hi)
            .filter_map(|n| Class::parse(&n.to_string()).ok())
            .map(|c| (if c.number() == 0 { "PP".into() } else { c.number().to_string() }, c.label()))
            .collect();
        let rel = "<option value=\"mother\">mother</option><option value=\"father\">father</option>\
                   <option value=\"guardian\">guardian</option>";
        html.push_str(&format!(
            "<h2>Enrol a student</h2><form method=\"post\" action=\"/school/{}/enrol\">{}\
             <label for=\"cid\">Child's CID</label><input id=\"cid\" name=\"cid\" inputmode=\"numeric\" maxlength=\"11\" required>\
             <label for=\"name\">Child's name</label><input id=\"name\" name=\"name\" maxlength=\"{}\" required>\
             <label for=\"dob\">Date of birth (YYYY-MM-DD)</label><input id=\"dob\" name=\"date_of_birth\" maxlength=\"10\" required>\
             <label for=\"year\">Academic year</label><select id=\"year\" name=\"year\">{}</select>\
             <label for=\"class\">Class</label><select id=\"class\" name=\"class\">{}</select>\
             <label for=\"g1\">Guardian's CID</label><input id=\"g1\" name=\"guardian_cid\" inputmode=\"numeric\" maxlength=\"11\" required>\
             <label for=\"g1r\">Relationship</label><select id=\"g1r\" name=\"guardian_relationship\">{rel}</select>\
             <label for=\"g2\">Second guardian's CID (optional)</label><input id=\"g2\" name=\"guardian2_cid\" inputmode=\"numeric\" maxlength=\"11\">\
             <label for=\"g2r\">Relationship</label><select id=\"g2r\" name=\"guardian2_relationship\">{rel}</select>\
             <button>Enrol</button></form>",
            esc(&school.code),
            &csrf.hidden_field(),
            domain::MAX_NAME,
            year_options(now)?,
            options(&classes, ""),
        ));
    }
    Ok(Page::new(if role.role == domain::PRINCIPAL { "Principal" } else { "Teacher" })
        .html(&html)
        .for_user(&display_name(&c), &csrf))
}

#[derive(Deserialize)]
struct EnrolForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    enrolment: domain::EnrolIn,
}

async fn enrol(
    State(s): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path(code): Path<String>,
    Form(f): Form<EnrolForm>,
) -> Result<Response> {
    csrf.check(&f.csrf)?;
    let who = cid_of(&c)?;
    let what = Cid::parse(&f.enrolment.cid).map_or_else(|_| format!("school:{code}"), |c| c.subject());
    let (principal, school) = staff_at(&s.db, &who, &code, PRINCIPAL_ONLY, &what).await?;
    let now = agency_kit::now();
    let v = f.enrolment.validate(&school, now)?;
    domain::enrol(&s.db, &principal, &school, &v, now).await?;
    Ok(Redirect::to(&format!("/school/{}/students/{}", school.code, v.cid)).into_response())
}

async fn student_page(
    State(s): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path((code, cid)): Path<(String, String)>,
) -> Result<Page> {
    let who = cid_of(&c)?;
    let student_cid = Cid::parse(&cid)?;
    let (staff, school) = staff_at(&s.db, &who, &code, SCHOOL_STAFF, &student_cid.subject()).await?;
    let now = agency_kit::now();
    domain::require_enrolled_here(&s.db, &staff, &school, &student_cid, now).await?;
    let st = domain::student(&s.db, &student_cid).await?.ok_or_else(|| Error::NotFound("No such student.".into()))?;
    domain::record_view(&s.db, &staff, &school, &student_cid, now).await?;
    let enrolments = domain::enrolments(&s.db, &student_cid).await?;
    let guardians = domain::guardians(&s.db, &student_cid).await?;
    let mut html = format!(
        "<p>{} · CID {} · born {}</p><p>Guardians: {}</p><h2>Enrolment</h2>",
        esc(&st.name),
        esc(&st.cid),
        esc(&st.date_of_birth),
        esc(&guardians.iter().map(|g| format!("{} ({})", g.cid, g.relationship)).collect::<Vec<_>>().join(", "))
    );
    html.push_str(&enrolments_html(&enrolments));
    html.push_str("<h2>Marks</h2>");
    html.push_str(&marks_html(&domain::marks(&s.db, &student_cid).await?));
    html.push_str("<h2>Report cards</h2>");
    html.push_str(&cards_html(&domain::report_cards_of(&s.db, &student_cid).await?, false));
    let base = format!("/school/{}/students/{}", esc(&school.code), esc(student_cid.as_str()));
    // The newest current enrolment here fixes the class, hence the subjects offered.
    if let Some(here) = enrolments.iter().find(|e| e.active() && e.school == school.code) {
        let class = Class::from_stored(here.class)?;
        let subjects: Vec<(String, String)> =
            Subject::taught_in(class).iter().map(|s| (s.code.to_owned(), s.name.to_owned())).collect();
        let year_opt = format!("<option value=\"{y}\" selected>{y}</option>", y = here.year);
        html.push_str(&format!(
            "<h2>Record a mark ({} {})</h2><form method=\"post\" action=\"{base}/marks\">{csrf}\
             <input type=\"hidden\" name=\"year\" value=\"{}\">\
             <label for=\"term\">Term</label><select id=\"term\" name=\"term\">{}</select>\
             <label for=\"subject\">Subject</label><select id=\"subject\" name=\"subject\">{}</select>\
             <label for=\"mark\">Mark (0 to 100)</label><input id=\"mark\" name=\"mark\" inputmode=\"numeric\" maxlength=\"3\" required>\
             <button>Record</button></form>",
            esc(&here.class_label()),
            here.year,
            here.year,
            term_options(),
            options(&subjects, ""),
            csrf = &csrf.hidden_field(),
        ));
        if staff.role == domain::PRINCIPAL {
            html.push_str(&format!(
                "<h2>Issue a report card</h2><p>The card keeps the marks as they are now; issuing again after a \
                 correction supersedes the earlier card.</p><form method=\"post\" action=\"{base}/report-cards\">{csrf}\
                 <label for=\"ryear\">Year</label><select id=\"ryear\" name=\"year\">{year_opt}</select>\
                 <label for=\"rterm\">Term</label><select id=\"rterm\" name=\"term\">{}</select>\
                 <button>Issue</button></form>\
                 <h2>End the enrolment</h2><form method=\"post\" action=\"{base}/end\">{csrf}\
                 <input type=\"hidden\" name=\"year\" value=\"{}\">\
                 <label for=\"reason\">Reason</label><select id=\"reason\" name=\"reason\">\
                 <option value=\"transferred\">transferred to another school</option>\
                 <option value=\"completed\">completed</option><option value=\"withdrawn\">withdrawn</option></select>\
                 <button>End the enrolment</button></form>",
                term_options(),
                here.year,
                csrf = &csrf.hidden_field(),
            ));
        }
    }
    Ok(Page::new("Student record").html(&html).for_user(&display_name(&c), &csrf))
}

#[derive(Deserialize)]
struct MarkForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    mark: domain::MarkIn,
}

async fn record_mark(
    State(s): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path((code, cid)): Path<(String, String)>,
    Form(f): Form<MarkForm>,
) -> Result<Response> {
    csrf.check(&f.csrf)?;
    let who = cid_of(&c)?;
    let student_cid = Cid::parse(&cid)?;
    let (teacher, school) = staff_at(&s.db, &who, &code, SCHOOL_STAFF, &student_cid.subject()).await?;
    let now = agency_kit::now();
    domain::require_enrolled_here(&s.db, &teacher, &school, &student_cid, now).await?;
    domain::record_mark(&s.db, &teacher, &school, &student_cid, &f.mark, now).await?;
    Ok(Redirect::to(&format!("/school/{}/students/{}", school.code, student_cid)).into_response())
}

#[derive(Deserialize)]
struct TermForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    year: String,
    #[serde(default)]
    term: String,
}

async fn issue_report_card(
    State(s): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path((code, cid)): Path<(String, String)>,
    Form(f): Form<TermForm>,
) -> Result<Response> {
    csrf.check(&f.csrf)?;
    let who = cid_of(&c)?;
    let student_cid = Cid::parse(&cid)?;
    let (principal, school) = staff_at(&s.db, &who, &code, PRINCIPAL_ONLY, &student_cid.subject()).await?;
    let now = agency_kit::now();
    let year = AcademicYear::parse(&f.year, now)?;
    let term = Term::parse(&f.term)?;
    let card = domain::issue(&s.db, &principal, &school, &student_cid, year, term, now).await?;
    // A failure is recorded on the card and retried by the retry loop; the card stands.
    s.sealer.seal(&s.db, &card.number, now).await?;
    Ok(Redirect::to(&format!("/report-cards/{}", card.number)).into_response())
}

#[derive(Deserialize)]
struct EndForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    year: String,
    #[serde(default)]
    reason: String,
}

async fn end_enrolment(
    State(s): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
    Path((code, cid)): Path<(String, String)>,
    Form(f): Form<EndForm>,
) -> Result<Response> {
    csrf.check(&f.csrf)?;
    let who = cid_of(&c)?;
    let student_cid = Cid::parse(&cid)?;
    let (principal, school) = staff_at(&s.db, &who, &code, PRINCIPAL_ONLY, &student_cid.subject()).await?;
    let now = agency_kit::now();
    let year = AcademicYear::parse(&f.year, now)?;
    let reason = domain::EndReason::parse(&f.reason)?;
    domain::end_enrolment(&s.db, &principal, &school, &student_cid, year, reason, now).await?;
    Ok(Redirect::to(&format!("/school/{}", school.code)).into_response())
}

// ---- report card verification (public) ----

#[derive(Deserialize)]
struct NumberQuery {
    #[serde(default)]
    number: String,
}

async fn find_report_card(Query(q): Query<NumberQuery>) -> Result<Response> {
    let n = q.number.trim().to_ascii_uppercase();
    if !domain::is_number(&n) {
        return Err(Error::BadRequest("A report card number is letters, digits and '-' (RC-2025-…).".into()));
    }
    Ok(Redirect::to(&format!("/report-cards/{n}")).into_response())
}

/// Anyone holding a report card's number may check it: the school, the student's name, the
/// term and the marks as issued, and whether a later card superseded it. Never the CID.
async fn report_card_page(State(s): State<AppState>, Path(number): Path<String>) -> Result<Page> {
    let not_found = || Error::NotFound("No report card has this number.".into());
    if !domain::is_number(&number) {
        return Err(not_found());
    }
    let card = domain::report_card(&s.db, &number).await?.ok_or_else(not_found)?;
    let mut html = match &card.superseded_by {
        None => format!(
            "<p class=\"ok\"><strong>Valid.</strong> This report card was issued by {} through EMIS.</p>",
            esc(&card.school_name)
        ),
        Some(newer) => format!(
            "<p class=\"flag\"><strong>Not valid: superseded.</strong> The school issued a corrected card, \
             <a href=\"/report-cards/{n}\">{n}</a>.</p>",
            n = esc(newer)
        ),
    };
    html.push_str(&format!(
        "<table><tr><th scope=\"row\">Number</th><td>{}</td></tr><tr><th scope=\"row\">School</th><td>{}</td></tr>\
         <tr><th scope=\"row\">Student</th><td>{}</td></tr><tr><th scope=\"row\">Class</th><td>{}</td></tr>\
         <tr><th scope=\"row\">Year</th><td>{}</td></tr><tr><th scope=\"row\">Term</th><td>{}</td></tr>\
         <tr><th scope=\"row\">Issued by</th><td>{}, principal</td></tr><tr><th scope=\"row\">Issued on</th><td>{}</td></tr></table>\
         <h2>Marks</h2><table><thead><tr><th>Subject</th><th>Mark</th></tr></thead><tbody>",
        esc(&card.number),
        esc(&card.school_name),
        esc(&card.student_name),
        esc(&card.class_label()),
        card.year,
        esc(card.term_label()),
        esc(&card.issuer_name),
        esc(&when(card.issued_at)),
    ));
    for m in &card.marks {
        html.push_str(&format!("<tr><td>{}</td><td>{}</td></tr>", esc(&m.name), m.mark));
    }
    if let Some(avg) = card.average() {
        html.push_str(&format!("<tr><th scope=\"row\">Average</th><td>{avg:.1}</td></tr>"));
    }
    html.push_str("</tbody></table>");
    html.push_str(match (card.sealed, card.superseded_by.is_some()) {
        (true, _) => {
            "<p>A PDF of this card sealed by EMIS exists: the student and their guardians download it after \
             logging in, and any PDF reader that trusts the Drukyul ID root checks its seal.</p>"
        }
        (false, false) => "<p>The PDF sealed by EMIS is being prepared.</p>",
        (false, true) => "<p>No sealed PDF was made of this card: it was superseded first.</p>",
    });
    Ok(Page::new("Report card verification").html(&html))
}

/// The sealed PDF of a report card, for the student and their guardians only (logged in).
/// Anyone else — and a number that does not exist, or a card not sealed yet — gets the same
/// 404, so the answer does not tell whose card a number is; a refused attempt on an existing
/// card is audited against the student (flagged), so the family sees it. (The public page
/// shows the card's content to whoever has its number; the sealed file is what the family
/// hands over, so it stays theirs.)
async fn report_card_pdf(
    State(s): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    Path(number): Path<String>,
) -> Result<Response> {
    let missing = || Error::NotFound("You have no sealed report card with this number.".into());
    if !domain::is_number(&number) {
        return Err(missing());
    }
    let who = cid_of(&c)?;
    let card = domain::report_card(&s.db, &number).await?.ok_or_else(missing)?;
    let student = Cid::parse(&card.student_cid)?;
    let family = who == student || domain::guardians(&s.db, &student).await?.iter().any(|g| g.cid == who.as_str());
    if !family {
        audit::record(
            &s.db,
            &Entry::new(format!("citizen:{who}"), "report_card_download_refused", student.subject())
                .detail(serde_json::json!({"number": card.number}))
                .flagged(),
            agency_kit::now(),
        )
        .await?;
        return Err(missing());
    }
    let pdf = domain::pdf(&s.db, &card.number).await?.ok_or_else(missing)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}.pdf\"", card.number)),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        pdf,
    )
        .into_response())
}

// ---- administrator ----

async fn staff_page(
    State(s): State<AppState>,
    AuthenticatedCitizen(c): AuthenticatedCitizen,
    csrf: CsrfToken,
) -> Result<Page> {
    let who = cid_of(&c)?;
    staff::require(&s.db, who.as_str(), domain::ADMINISTRATOR, Some(""), "staff", agency_kit::now()).await?;
    let mut html = format!(
        "<h2>Add a teacher or principal</h2><form method=\"post\" action=\"/admin/staff\">{}\
         <label for=\"cid\">CID</label><input id=\"cid\" name=\"cid\" inputmode=\"numeric\" maxlength=\"11\" required>\
         <label for=\"name\">Name</label><input id=\"name\" name=\"name\" maxlength=\"200\" required>\
         <label for=\"role\">Role</label><select id=\"role\" name=\"role\"><option value=\"teacher\">teacher</option>\
         <option value=\"principal\">principal</option></select>\
         <label for=\"school\">School code</label><input id=\"school\" name=\"school\" maxlength=\"40\" required>\
         <button>Add</button></form><h2>Staff</h2><table><thead><tr><th>CID</th><th>Name</th><th>Role</th><th>School</th></tr></thead><tbody>",
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
    Ok(Page::new("Teachers and principals").html(&html).for_user(&display_name(&c), &csrf))
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
    school: String,
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
    if f.role != domain::TEACHER && f.role != domain::PRINCIPAL {
        return Err(Error::BadRequest("Add a teacher or a principal here (administrators: emis staff add).".into()));
    }
    domain::add_staff(&s.db, &f.cid, &f.role, Some(&f.school), &f.name, &format!("staff:{who}"), now).await?;
    Ok(Redirect::to("/admin/staff").into_response())
}

// ---- agency API ----

#[derive(Deserialize)]
struct YearQuery {
    #[serde(default)]
    year: Option<String>,
}

/// For other agencies (scholarships, citizen services): whether and where a student is
/// enrolled in a year (default: the running one). 404 when EMIS has no such student.
async fn api_enrolment(
    State(s): State<AppState>,
    caller: Bearer<EnrolmentScope>,
    Path(cid): Path<String>,
    Query(q): Query<YearQuery>,
) -> std::result::Result<Response, ApiError> {
    let cid = Cid::parse(&cid)?;
    let now = agency_kit::now();
    let year = match q.year.as_deref() {
        None => domain::current_year(now)?,
        Some(y) => y
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|y| (2000..=2100).contains(y))
            .map(AcademicYear::from_stored)
            .ok_or_else(|| Error::BadRequest("year must be a year such as 2025.".into()))?,
    };
    let status = domain::enrolment_status(&s.db, &cid, year, &caller.claims().client_id, now)
        .await?
        .ok_or_else(|| Error::NotFound("EMIS has no student with this CID.".into()))?;
    Ok(Json(status).into_response())
}
