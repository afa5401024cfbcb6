//! Applications and what deciding them produces: the stored application with its status, the
//! certificate an approval issues, and pensions. Plain functions over the module's database
//! that take `now`; every step is audited.

use std::collections::BTreeMap;

use agency_kit::{
    Error, Result,
    audit::{self, Entry},
    db::Db,
    staff::StaffRole,
};
use serde::Serialize;
use sqlx::Row;

use crate::{
    catalogue::{Catalogue, LifeEvent, Service, ValidForm, is_cid},
    signing::{ApplicationDocument, SignatureAccepted, sha256_hex},
};

/// Longest officer's note.
pub const MAX_NOTE: usize = 1000;

/// Who applies: the logged-in citizen, by the CID the identity provider released.
#[derive(Clone, Debug)]
pub struct Applicant {
    cid: String,
    name: String,
}

impl Applicant {
    /// An applicant; the CID must be 11 digits.
    pub fn new(cid: &str, name: &str) -> Result<Self> {
        if !is_cid(cid) {
            return Err(Error::Forbidden("Your Drukyul ID login did not release your CID.".into()));
        }
        let name: String = name.chars().filter(|c| !c.is_control()).take(200).collect();
        Ok(Self { cid: cid.to_owned(), name: if name.trim().is_empty() { "Citizen".into() } else { name } })
    }
    /// The CID.
    pub fn cid(&self) -> &str {
        &self.cid
    }
    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Where an application stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Of a service the citizen signs: written, waiting for the applicant's verified signature
    /// before it goes to the office (see [`crate::signing`]).
    AwaitingSignature,
    /// Waiting for the office.
    Submitted,
    /// Approved: the certificate is issued.
    Approved,
    /// Rejected, with the officer's note.
    Rejected,
}

impl Status {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingSignature => "awaiting_signature",
            Self::Submitted => "submitted",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }
    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "awaiting_signature" => Self::AwaitingSignature,
            "submitted" => Self::Submitted,
            "approved" => Self::Approved,
            "rejected" => Self::Rejected,
            other => return Err(Error::Internal(format!("unknown status {other:?}"))),
        })
    }
}

/// Whether the other agencies an approval concerns have been told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Notify {
    /// Nothing to tell anyone.
    None,
    /// Approved, but some agency has not been told yet (a call failed, or ePIS is not
    /// configured); retried, never lost.
    Pending,
    /// Every agency concerned has been told.
    Done,
}

impl Notify {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Pending => "pending",
            Self::Done => "done",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "pending" => Self::Pending,
            "done" => Self::Done,
            _ => Self::None,
        }
    }
}

/// A stored application.
#[derive(Clone, Debug, Serialize)]
pub struct Application {
    /// Its number (also the reference sent to other agencies).
    pub id: String,
    /// The catalogue service.
    pub service: String,
    /// The applicant's CID.
    pub applicant_cid: String,
    /// The applicant's name.
    pub applicant_name: String,
    /// The reviewing office.
    pub office: StaffRole,
    /// The checked form.
    pub data: BTreeMap<String, String>,
    /// Where it stands.
    pub status: Status,
    /// The deciding officer (`staff:<CID>`).
    pub decided_by: Option<String>,
    /// Their note.
    pub decision_note: Option<String>,
    /// When.
    pub decided_at: Option<i64>,
    /// Whether other agencies have been told.
    pub notify: Notify,
    /// What they answered.
    pub notify_detail: serde_json::Map<String, serde_json::Value>,
    /// How many times telling them was tried.
    pub notify_attempts: i64,
    /// The last failure, if the last try failed.
    pub notify_error: String,
    /// When it was submitted.
    pub created_at: i64,
    /// The canonical document's exact bytes (UTF-8 JSON, see
    /// [`crate::signing::ApplicationDocument`]): what the applicant signs. Empty for
    /// applications stored before documents were kept.
    pub document: String,
    /// The open (or, once signed, the last) signing request at the identity provider.
    pub sign_request: Option<String>,
    /// The applicant's detached CMS signature over `document`, base64, once verified.
    pub signature: Option<String>,
    /// The signer's name, as the provider's verification gave it.
    pub signer_name: Option<String>,
    /// The trusted signing time.
    pub signed_at: Option<i64>,
    /// Why the last signing attempt failed, for the applicant.
    pub sign_note: String,
}

impl Application {
    /// The SHA-256 (hex) of the stored document: what the applicant is shown and signs.
    pub fn document_sha256(&self) -> String {
        sha256_hex(self.document.as_bytes())
    }
}

const COLUMNS: &str = "id, service, applicant_cid, applicant_name, office_role, office_unit, data, status, \
decided_by, decision_note, decided_at, notify_state, notify_detail, notify_attempts, notify_error, created_at, document, sign_request, signature, \
signer_name, signed_at, sign_note";

fn application(r: &sqlx::any::AnyRow) -> Result<Application> {
    let data: String = r.try_get("data")?;
    let detail: String = r.try_get("notify_detail")?;
    let status: String = r.try_get("status")?;
    let notify: String = r.try_get("notify_state")?;
    Ok(Application {
        id: r.try_get("id")?,
        service: r.try_get("service")?,
        applicant_cid: r.try_get("applicant_cid")?,
        applicant_name: r.try_get("applicant_name")?,
        office: StaffRole {
            cid: String::new(),
            role: r.try_get("office_role")?,
            unit: r.try_get("office_unit")?,
            name: String::new(),
        },
        data: serde_json::from_str(&data).map_err(|e| Error::Internal(format!("application data: {e}")))?,
        status: Status::parse(&status)?,
        decided_by: r.try_get("decided_by")?,
        decision_note: r.try_get("decision_note")?,
        decided_at: r.try_get("decided_at")?,
        notify: Notify::parse(&notify),
        notify_detail: serde_json::from_str(&detail).unwrap_or_default(),
        notify_attempts: r.try_get("notify_attempts")?,
        notify_error: r.try_get("notify_error")?,
        created_at: r.try_get("created_at")?,
        document: r.try_get("document")?,
        sign_request: r.try_get("sign_request")?,
        signature: r.try_get("signature")?,
        signer_name: r.try_get("signer_name")?,
        signed_at: r.try_get("signed_at")?,
        sign_note: r.try_get("sign_note")?,
    })
}

fn random_hex(n: usize) -> String {
    let mut s = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    s.truncate(n);
    s
}

/// Stores a checked application for `service` at `now`, with its canonical document. Of a
/// service the citizen signs it waits for the applicant's signature; otherwise it goes to the
/// office at once.
pub async fn submit(db: &Db, service: &Service, who: &Applicant, form: ValidForm, now: i64) -> Result<Application> {
    let id = format!("ICS-{}", random_hex(20));
    let data = serde_json::to_string(form.values()).map_err(|e| Error::Internal(e.to_string()))?;
    let document = ApplicationDocument::new(&id, service, who, form.values(), now).to_bytes()?;
    let sha256 = sha256_hex(&document);
    let document = String::from_utf8(document).map_err(|e| Error::Internal(e.to_string()))?;
    let status = if service.citizen_signs { Status::AwaitingSignature } else { Status::Submitted };
    sqlx::query(
        "INSERT INTO applications (id, service, applicant_cid, applicant_name, office_role, office_unit, data, \
         status, created_at, document) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(&service.id)
    .bind(&who.cid)
    .bind(&who.name)
    .bind(&service.office.role)
    .bind(&service.office.unit)
    .bind(&data)
    .bind(status.as_str())
    .bind(now)
    .bind(&document)
    .execute(db.pool())
    .await?;
    audit::record(
        db,
        &Entry::new(format!("citizen:{}", who.cid), "application_submitted", format!("application:{id}"))
            .detail(serde_json::json!({"service": service.id, "sha256": sha256, "status": status.as_str()})),
        now,
    )
    .await?;
    get(db, &id).await?.ok_or_else(|| Error::Internal("the application vanished".into()))
}

/// The application `id`.
pub async fn get(db: &Db, id: &str) -> Result<Option<Application>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM applications WHERE id = $1")))
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(application).transpose()
}

/// The application whose signing request is `request`.
pub async fn by_sign_request(db: &Db, request: &str) -> Result<Option<Application>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM applications WHERE sign_request = $1")))
        .bind(request)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(application).transpose()
}

/// Records the signing request just opened for application `id` (still waiting for its
/// signature); an earlier failure's note is cleared.
pub async fn set_sign_request(db: &Db, id: &str, request: &str) -> Result<()> {
    let n = sqlx::query(
        "UPDATE applications SET sign_request = $1, sign_note = '' WHERE id = $2 AND status = 'awaiting_signature'",
    )
    .bind(request)
    .bind(id)
    .execute(db.pool())
    .await?
    .rows_affected();
    if n != 1 {
        return Err(Error::Conflict("This application does not wait for a signature.".into()));
    }
    Ok(())
}

/// Signing request `request` of application `id` gave no usable signature: the request is
/// forgotten (collected once) and `note` tells the applicant why; it can be signed again.
pub async fn signing_failed(db: &Db, id: &str, request: &str, note: &str) -> Result<()> {
    sqlx::query(
        "UPDATE applications SET sign_request = NULL, sign_note = $1 \
         WHERE id = $2 AND sign_request = $3 AND status = 'awaiting_signature'",
    )
    .bind(note)
    .bind(id)
    .bind(request)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Stores the applicant's verified signature and sends application `id` to the office; false
/// when it was no longer waiting for this request (collected already).
pub async fn submit_signed(
    db: &Db,
    id: &str,
    request: &str,
    signature_b64: &str,
    accepted: &SignatureAccepted,
) -> Result<bool> {
    let n = sqlx::query(
        "UPDATE applications SET status = 'submitted', signature = $1, signer_name = $2, signed_at = $3, \
         sign_note = '' WHERE id = $4 AND sign_request = $5 AND status = 'awaiting_signature'",
    )
    .bind(signature_b64)
    .bind(&accepted.signer)
    .bind(accepted.signing_time)
    .bind(id)
    .bind(request)
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// A citizen's own applications, newest first.
pub async fn of_applicant(db: &Db, cid: &str) -> Result<Vec<Application>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM applications WHERE applicant_cid = $1 ORDER BY created_at DESC, id LIMIT 200"
    )))
    .bind(cid)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(application).collect()
}

/// An office's queue: what waits for a decision, and approvals whose notifications are pending.
pub async fn queue(db: &Db, role: &str, unit: &str) -> Result<Vec<Application>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM applications WHERE office_role = $1 AND office_unit = $2 \
         AND (status = 'submitted' OR notify_state = 'pending') ORDER BY created_at, id LIMIT 500"
    )))
    .bind(role)
    .bind(unit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(application).collect()
}

/// Every approved application whose notifications are pending (for the retry loop).
pub async fn pending_notifications(db: &Db) -> Result<Vec<Application>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM applications WHERE notify_state = 'pending' ORDER BY decided_at, id LIMIT 100"
    )))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(application).collect()
}

/// An officer's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Approve: issue the certificate, set off the life event.
    Approve,
    /// Reject (a note is required).
    Reject,
}

impl Decision {
    /// From the form's `decision` field.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "approve" => Ok(Self::Approve),
            "reject" => Ok(Self::Reject),
            _ => Err(Error::BadRequest("Choose approve or reject.".into())),
        }
    }
}

/// The officer's note, checked: at most [`MAX_NOTE`] characters, no control characters except
/// line breaks, required for a rejection.
pub fn check_note(decision: Decision, note: &str) -> Result<String> {
    let note = note.trim();
    if note.chars().count() > MAX_NOTE {
        return Err(Error::BadRequest(format!("The note must be at most {MAX_NOTE} characters.")));
    }
    if note.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
        return Err(Error::BadRequest("The note must not contain control characters.".into()));
    }
    if decision == Decision::Reject && note.is_empty() {
        return Err(Error::BadRequest("Say why the application is rejected.".into()));
    }
    Ok(note.to_owned())
}

/// What the certificate's public page says (names and dates, never a CID).
fn summary(service: &Service, app: &Application) -> String {
    let v = |k: &str| app.data.get(k).map(String::as_str).unwrap_or_default();
    match service.life_event {
        Some(LifeEvent::RegisterBirth) => {
            let name: Vec<&str> =
                [v("given_name"), v("middle_name"), v("family_name")].into_iter().filter(|s| !s.is_empty()).collect();
            format!("Birth of {}, {}, on {} in {}", name.join(" "), v("sex"), v("date_of_birth"), v("dzongkhag"))
        }
        Some(LifeEvent::RegisterDeath) => {
            format!("Death on {} at {}, registered by {}", v("date_of_death"), v("place_of_death"), app.applicant_name)
        }
        _ => format!("{} for {}", service.title, app.applicant_name),
    }
}

/// Decides a submitted application. `officer` must already have been checked to hold the
/// application's office (see [`crate::web`]); an officer may not decide their own application.
/// An application still waiting for the applicant's signature cannot be decided; one of a
/// service the citizen signs is approved only with `signature`, the proof that its signature
/// verified just now ([`crate::signing::check_for_approval`]). An approval issues the
/// certificate and, for a service with a life event, marks the notification pending (the
/// caller then runs it); a pension starts at once.
#[allow(clippy::too_many_arguments)]
pub async fn decide(
    db: &Db,
    catalogue: &Catalogue,
    app: &Application,
    officer: &StaffRole,
    decision: Decision,
    note: &str,
    signature: Option<&SignatureAccepted>,
    now: i64,
) -> Result<Application> {
    let note = check_note(decision, note)?;
    if officer.cid == app.applicant_cid {
        audit::record(
            db,
            &Entry::new(format!("staff:{}", officer.cid), "own_application_refused", format!("application:{}", app.id))
                .flagged(),
            now,
        )
        .await?;
        return Err(Error::Forbidden("You cannot decide your own application.".into()));
    }
    if app.status == Status::AwaitingSignature {
        return Err(Error::Conflict(
            "This application is not signed by the applicant yet; it cannot be decided.".into(),
        ));
    }
    let service = catalogue
        .get(&app.service)
        .ok_or_else(|| Error::Internal(format!("service {} is no longer in the catalogue", app.service)))?;
    if decision == Decision::Approve && service.citizen_signs && !signature.is_some_and(|s| s.covers(app)) {
        return Err(Error::Conflict(
            "This application cannot be approved: the applicant's signature has not been verified.".into(),
        ));
    }
    let (status, notify) = match decision {
        Decision::Reject => (Status::Rejected, Notify::None),
        Decision::Approve => match service.life_event {
            Some(LifeEvent::RegisterBirth | LifeEvent::RegisterDeath) => (Status::Approved, Notify::Pending),
            _ => (Status::Approved, Notify::None),
        },
    };
    let actor = format!("staff:{}", officer.cid);
    let mut tx = db.pool().begin().await?;
    let changed = sqlx::query(
        "UPDATE applications SET status = $1, decided_by = $2, decision_note = $3, decided_at = $4, \
         notify_state = $5 WHERE id = $6 AND status = 'submitted'",
    )
    .bind(status.as_str())
    .bind(&actor)
    .bind(&note)
    .bind(now)
    .bind(notify.as_str())
    .bind(&app.id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed != 1 {
        return Err(Error::Conflict("This application has already been decided.".into()));
    }
    let mut certificate = None;
    if status == Status::Approved {
        let number = format!("BT-{}", random_hex(16));
        sqlx::query(
            "INSERT INTO certificates (number, application_id, service, title, holder_cid, holder_name, summary, \
             issued_by, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&number)
        .bind(&app.id)
        .bind(&service.id)
        .bind(&service.issues)
        .bind(&app.applicant_cid)
        .bind(&app.applicant_name)
        .bind(summary(service, app))
        .bind(&service.office.unit)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if service.life_event == Some(LifeEvent::StartPension) {
            sqlx::query("DELETE FROM pensions WHERE cid = $1 AND status = 'stopped'")
                .bind(&app.applicant_cid)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO pensions (cid, application_id, status, started_at) VALUES ($1, $2, 'active', $3) \
                 ON CONFLICT (cid) DO NOTHING",
            )
            .bind(&app.applicant_cid)
            .bind(&app.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        certificate = Some(number);
    }
    tx.commit().await?;
    let action = if status == Status::Approved { "application_approved" } else { "application_rejected" };
    audit::record(
        db,
        &Entry::new(actor, action, format!("application:{}", app.id))
            .detail(serde_json::json!({"service": service.id, "note": note, "certificate": certificate})),
        now,
    )
    .await?;
    get(db, &app.id).await?.ok_or_else(|| Error::Internal("the application vanished".into()))
}

/// Records the outcome of telling other agencies about `id`.
pub async fn record_notification(
    db: &Db,
    id: &str,
    state: Notify,
    detail: &serde_json::Map<String, serde_json::Value>,
    error: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE applications SET notify_state = $1, notify_detail = $2, notify_error = $3, \
         notify_attempts = notify_attempts + 1 WHERE id = $4",
    )
    .bind(state.as_str())
    .bind(serde_json::Value::Object(detail.clone()).to_string())
    .bind(error)
    .bind(id)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// A pension.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Pension {
    /// The pensioner.
    pub cid: String,
    /// `active` or `stopped`.
    pub status: String,
    /// Why it stopped.
    pub stop_reason: Option<String>,
}

/// `cid`'s pension, if any.
pub async fn pension(db: &Db, cid: &str) -> Result<Option<Pension>> {
    let row = sqlx::query("SELECT cid, status, stop_reason FROM pensions WHERE cid = $1")
        .bind(cid)
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| {
        Ok(Pension { cid: r.try_get("cid")?, status: r.try_get("status")?, stop_reason: r.try_get("stop_reason")? })
    })
    .transpose()
}

/// Stops `cid`'s pension (a registered death); whether one was active. Idempotent.
pub async fn stop_pension(db: &Db, cid: &str, reason: &str, actor: &str, now: i64) -> Result<bool> {
    let n = sqlx::query(
        "UPDATE pensions SET status = 'stopped', stopped_at = $1, stop_reason = $2 WHERE cid = $3 AND status = 'active'",
    )
    .bind(now)
    .bind(reason)
    .bind(cid)
    .execute(db.pool())
    .await?
    .rows_affected();
    if n > 0 {
        audit::record(
            db,
            &Entry::new(actor, "pension_stopped", format!("pension:{cid}"))
                .detail(serde_json::json!({"reason": reason})),
            now,
        )
        .await?;
    }
    Ok(n > 0)
}

/// An issued certificate.
#[derive(Clone, Debug, Serialize)]
pub struct Certificate {
    /// Its number (what the public page is found by).
    pub number: String,
    /// The application it came from.
    pub application_id: String,
    /// What it is.
    pub title: String,
    /// To whom it was issued.
    pub holder_name: String,
    /// What it says.
    pub summary: String,
    /// The office that issued it.
    pub issued_by: String,
    /// When.
    pub issued_at: i64,
    /// Whether the sealed PDF is there ([`pdf`]).
    pub sealed: bool,
    /// Why it is not sealed yet, if sealing failed.
    pub seal_error: String,
}

/// The certificate numbered `number`, or the one issued for application `application_id`.
pub async fn certificate(db: &Db, number: Option<&str>, application_id: Option<&str>) -> Result<Option<Certificate>> {
    let row = sqlx::query(
        "SELECT number, application_id, title, holder_name, summary, issued_by, issued_at, \
         sealed_at, seal_error FROM certificates \
         WHERE number = $1 OR application_id = $2",
    )
    .bind(number.unwrap_or("\u{1}"))
    .bind(application_id.unwrap_or("\u{1}"))
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| {
        Ok(Certificate {
            number: r.try_get("number")?,
            application_id: r.try_get("application_id")?,
            title: r.try_get("title")?,
            holder_name: r.try_get("holder_name")?,
            summary: r.try_get("summary")?,
            issued_by: r.try_get("issued_by")?,
            issued_at: r.try_get("issued_at")?,
            sealed: r.try_get::<Option<i64>, _>("sealed_at")?.is_some(),
            seal_error: r.try_get("seal_error")?,
        })
    })
    .transpose()
}

/// The sealed PDF of certificate `number`, once it is sealed.
pub async fn pdf(db: &Db, number: &str) -> Result<Option<Vec<u8>>> {
    let row = sqlx::query("SELECT pdf FROM certificates WHERE number = $1 AND sealed_at IS NOT NULL")
        .bind(number)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.map(|r| r.try_get::<Vec<u8>, _>("pdf")).transpose()?)
}

/// Records the outcome of sealing `number`: the sealed PDF, or why not.
pub async fn record_seal(db: &Db, number: &str, pdf: Option<&[u8]>, error: &str, now: i64) -> Result<()> {
    let q = match pdf {
        Some(pdf) => sqlx::query(
            "UPDATE certificates SET pdf = $1, sealed_at = $2, seal_error = '' WHERE number = $3 AND sealed_at IS NULL",
        )
        .bind(pdf.to_vec())
        .bind(now),
        None => sqlx::query("UPDATE certificates SET seal_error = $1 WHERE number = $2").bind(error.to_owned()),
    };
    q.bind(number).execute(db.pool()).await?;
    Ok(())
}

/// Certificates issued but not sealed yet, oldest first.
pub async fn unsealed_certificates(db: &Db) -> Result<Vec<String>> {
    let rows = sqlx::query("SELECT number FROM certificates WHERE sealed_at IS NULL ORDER BY issued_at LIMIT 100")
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(|r| Ok(r.try_get("number")?)).collect()
}
