//! The module's storage: applications, licences and clearances in its own database (SQLite or
//! PostgreSQL through the kit's pool; the same SQL for both). One row mapper per table. State
//! changes are conditional updates (`... WHERE status = ...`), so two officers deciding at once
//! cannot both win.

use agency_kit::{Error, Result, db::Db};
use sqlx::Row;

use crate::domain::{
    ApplicationDocument, ClearanceStatus, Declaration, Direction, LicenceState, SignatureAccepted, Status, Verification,
};

// ---- applications ----

/// A stored application.
#[derive(Clone, Debug)]
pub struct Application {
    /// Its number.
    pub id: String,
    /// The licence type.
    pub licence_type: String,
    /// The applicant's CID.
    pub applicant_cid: String,
    /// The applicant's name.
    pub applicant_name: String,
    /// The business's name.
    pub business_name: String,
    /// The reviewing office's dzongkhag.
    pub dzongkhag: String,
    /// The exact bytes the applicant signs (canonical JSON).
    pub document: String,
    /// Where it stands.
    pub status: Status,
    /// The open signing request at the identity provider.
    pub sign_request: Option<String>,
    /// Why the last signing attempt did not go through.
    pub sign_note: String,
    /// The signature (base64 DER CMS), once verified.
    pub signature: Option<String>,
    /// Who signed (the certificate's name).
    pub signer_name: Option<String>,
    /// The trusted signing time.
    pub signed_at: Option<i64>,
    /// The verification at submission.
    pub verification: Verification,
    /// The deciding officer (`staff:<CID>`).
    pub decided_by: Option<String>,
    /// Their reason or note.
    pub decision_note: Option<String>,
    /// When.
    pub decided_at: Option<i64>,
    /// When it was written.
    pub created_at: i64,
}

impl Application {
    /// Its audit subject.
    pub fn subject(&self) -> String {
        format!("application:{}", self.id)
    }
}

const APP_COLUMNS: &str = "id, licence_type, applicant_cid, applicant_name, business_name, dzongkhag, document, \
status, sign_request, sign_note, signature, signer_name, signed_at, verification, decided_by, decision_note, \
decided_at, created_at";

fn application(r: &sqlx::any::AnyRow) -> Result<Application> {
    let status: String = r.try_get("status")?;
    let verification: String = r.try_get("verification")?;
    Ok(Application {
        id: r.try_get("id")?,
        licence_type: r.try_get("licence_type")?,
        applicant_cid: r.try_get("applicant_cid")?,
        applicant_name: r.try_get("applicant_name")?,
        business_name: r.try_get("business_name")?,
        dzongkhag: r.try_get("dzongkhag")?,
        document: r.try_get("document")?,
        status: Status::parse(&status)?,
        sign_request: r.try_get("sign_request")?,
        sign_note: r.try_get("sign_note")?,
        signature: r.try_get("signature")?,
        signer_name: r.try_get("signer_name")?,
        signed_at: r.try_get("signed_at")?,
        verification: serde_json::from_str(&verification)
            .unwrap_or_else(|_| crate::domain::unverified("not verified yet")),
        decided_by: r.try_get("decided_by")?,
        decision_note: r.try_get("decision_note")?,
        decided_at: r.try_get("decided_at")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Stores a new application (waiting for its signature) with its document's exact bytes.
pub async fn insert_application(db: &Db, doc: &ApplicationDocument, bytes: &[u8], now: i64) -> Result<()> {
    let text = std::str::from_utf8(bytes).map_err(|e| Error::Internal(format!("document: {e}")))?;
    sqlx::query(
        "INSERT INTO applications (id, licence_type, applicant_cid, applicant_name, business_name, dzongkhag, \
         document, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'awaiting_signature', $8, $8)",
    )
    .bind(&doc.application)
    .bind(&doc.licence_type)
    .bind(&doc.applicant_cid)
    .bind(&doc.applicant_name)
    .bind(&doc.business_name)
    .bind(&doc.dzongkhag)
    .bind(text)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The application `id`.
pub async fn application_by_id(db: &Db, id: &str) -> Result<Option<Application>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {APP_COLUMNS} FROM applications WHERE id = $1")))
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(application).transpose()
}

/// The application waiting on signing request `request`.
pub async fn application_by_sign_request(db: &Db, request: &str) -> Result<Option<Application>> {
    let row =
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {APP_COLUMNS} FROM applications WHERE sign_request = $1")))
            .bind(request)
            .fetch_optional(db.pool())
            .await?;
    row.as_ref().map(application).transpose()
}

/// A citizen's applications, newest first.
pub async fn applications_of(db: &Db, cid: &str) -> Result<Vec<Application>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {APP_COLUMNS} FROM applications WHERE applicant_cid = $1 ORDER BY created_at DESC, id LIMIT 200"
    )))
    .bind(cid)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(application).collect()
}

/// What waits for the licensing office of `dzongkhag`, oldest first.
pub async fn queue(db: &Db, dzongkhag: &str) -> Result<Vec<Application>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {APP_COLUMNS} FROM applications WHERE dzongkhag = $1 AND status = 'submitted' \
         ORDER BY created_at, id LIMIT 500"
    )))
    .bind(dzongkhag)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(application).collect()
}

/// Records the signing request opened for an application still waiting for its signature.
pub async fn set_sign_request(db: &Db, id: &str, request: &str, now: i64) -> Result<()> {
    let n = sqlx::query(
        "UPDATE applications SET sign_request = $1, sign_note = '', updated_at = $2 \
         WHERE id = $3 AND status = 'awaiting_signature'",
    )
    .bind(request)
    .bind(now)
    .bind(id)
    .execute(db.pool())
    .await?
    .rows_affected();
    if n != 1 {
        return Err(Error::Conflict("This application is no longer waiting for a signature.".into()));
    }
    Ok(())
}

/// Closes the signing request `request` of application `id` without a signature: `note` says
/// why (refused, expired, did not verify).
pub async fn signing_failed(db: &Db, id: &str, request: &str, note: &str, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE applications SET sign_request = NULL, sign_note = $1, updated_at = $2 \
         WHERE id = $3 AND sign_request = $4 AND status = 'awaiting_signature'",
    )
    .bind(note)
    .bind(now)
    .bind(id)
    .bind(request)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Stores the verified signature of request `request` and sends the application to review;
/// `false` when it was no longer waiting on that request (collected before).
pub async fn submit_signed(
    db: &Db,
    id: &str,
    request: &str,
    signature_b64: &str,
    accepted: &SignatureAccepted,
    verification: &Verification,
    now: i64,
) -> Result<bool> {
    let v = serde_json::to_string(verification).map_err(|e| Error::Internal(e.to_string()))?;
    let n = sqlx::query(
        "UPDATE applications SET status = 'submitted', signature = $1, signer_name = $2, signed_at = $3, \
         verification = $4, sign_request = NULL, sign_note = '', updated_at = $5 \
         WHERE id = $6 AND sign_request = $7 AND status = 'awaiting_signature'",
    )
    .bind(signature_b64)
    .bind(&accepted.signer)
    .bind(accepted.signing_time)
    .bind(v)
    .bind(now)
    .bind(id)
    .bind(request)
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// What a licence being issued says.
#[derive(Clone, Debug)]
pub struct NewLicence {
    /// Its number.
    pub number: String,
    /// The licence type's title.
    pub title: String,
    /// Whether the holder may file clearances.
    pub trade: bool,
    /// Which way (`import`, `export`, `import and export`), for a trade licence.
    pub trade_direction: String,
    /// The issuing office (dzongkhag).
    pub issued_by: String,
    /// Until when.
    pub valid_until: i64,
}

/// Decides a submitted application (one transaction): the status, and for an approval the
/// licence. `Conflict` when it was decided already.
pub async fn decide(
    db: &Db,
    app: &Application,
    officer: &str,
    approved: bool,
    note: &str,
    licence: Option<&NewLicence>,
    now: i64,
) -> Result<()> {
    let mut tx = db.pool().begin().await?;
    let n = sqlx::query(
        "UPDATE applications SET status = $1, decided_by = $2, decision_note = $3, decided_at = $4, updated_at = $4 \
         WHERE id = $5 AND status = 'submitted'",
    )
    .bind(if approved { Status::Approved.as_str() } else { Status::Rejected.as_str() })
    .bind(officer)
    .bind(note)
    .bind(now)
    .bind(&app.id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n != 1 {
        return Err(Error::Conflict("This application has already been decided.".into()));
    }
    if let Some(l) = licence {
        sqlx::query(
            "INSERT INTO licences (number, application_id, licence_type, licence_title, holder_cid, holder_name, \
             business_name, dzongkhag, trade, trade_direction, issued_by, issued_at, valid_until) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&l.number)
        .bind(&app.id)
        .bind(&app.licence_type)
        .bind(&l.title)
        .bind(&app.applicant_cid)
        .bind(&app.applicant_name)
        .bind(&app.business_name)
        .bind(&app.dzongkhag)
        .bind(i64::from(l.trade))
        .bind(&l.trade_direction)
        .bind(&l.issued_by)
        .bind(now)
        .bind(l.valid_until)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

// ---- licences ----

/// An issued licence.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Licence {
    /// Its number.
    pub number: String,
    /// The application it came from.
    #[serde(skip)]
    pub application_id: String,
    /// The licence type's id.
    pub licence_type: String,
    /// Its title.
    pub licence_title: String,
    /// The holder's CID (never on the public page).
    #[serde(skip)]
    pub holder_cid: String,
    /// The holder's name.
    #[serde(skip)]
    pub holder_name: String,
    /// The business.
    pub business_name: String,
    /// Where.
    pub dzongkhag: String,
    /// Whether the holder may file clearances.
    pub trade: bool,
    /// Which way.
    pub trade_direction: String,
    /// The issuing office.
    pub issued_by: String,
    /// When.
    pub issued_at: i64,
    /// Until when.
    pub valid_until: i64,
    /// Withdrawn.
    #[serde(skip)]
    pub revoked: bool,
    /// Whether its PDF sealed by the Ministry is there ([`licence_pdf`]).
    #[serde(skip)]
    pub sealed: bool,
    /// Why it is not sealed yet, if sealing failed (for the operator).
    #[serde(skip)]
    pub seal_error: String,
}

impl Licence {
    /// Its state at `now`.
    pub fn state(&self, now: i64) -> LicenceState {
        LicenceState::at(self.revoked, self.valid_until, now)
    }
}

const LICENCE_COLUMNS: &str = "number, application_id, licence_type, licence_title, holder_cid, holder_name, \
business_name, dzongkhag, trade, trade_direction, issued_by, issued_at, valid_until, revoked, sealed_at, seal_error";

fn licence(r: &sqlx::any::AnyRow) -> Result<Licence> {
    Ok(Licence {
        number: r.try_get("number")?,
        application_id: r.try_get("application_id")?,
        licence_type: r.try_get("licence_type")?,
        licence_title: r.try_get("licence_title")?,
        holder_cid: r.try_get("holder_cid")?,
        holder_name: r.try_get("holder_name")?,
        business_name: r.try_get("business_name")?,
        dzongkhag: r.try_get("dzongkhag")?,
        trade: r.try_get::<i64, _>("trade")? != 0,
        trade_direction: r.try_get("trade_direction")?,
        issued_by: r.try_get("issued_by")?,
        issued_at: r.try_get("issued_at")?,
        valid_until: r.try_get("valid_until")?,
        revoked: r.try_get::<i64, _>("revoked")? != 0,
        sealed: r.try_get::<Option<i64>, _>("sealed_at")?.is_some(),
        seal_error: r.try_get("seal_error")?,
    })
}

/// The licence numbered `number`.
pub async fn licence_by_number(db: &Db, number: &str) -> Result<Option<Licence>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {LICENCE_COLUMNS} FROM licences WHERE number = $1")))
        .bind(number)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(licence).transpose()
}

/// The licence issued for application `id`.
pub async fn licence_of_application(db: &Db, id: &str) -> Result<Option<Licence>> {
    let row =
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {LICENCE_COLUMNS} FROM licences WHERE application_id = $1")))
            .bind(id)
            .fetch_optional(db.pool())
            .await?;
    row.as_ref().map(licence).transpose()
}

/// A holder's licences, newest first.
pub async fn licences_of(db: &Db, cid: &str) -> Result<Vec<Licence>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {LICENCE_COLUMNS} FROM licences WHERE holder_cid = $1 ORDER BY issued_at DESC, number LIMIT 200"
    )))
    .bind(cid)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(licence).collect()
}

/// The sealed PDF of licence `number`, once it is sealed.
pub async fn licence_pdf(db: &Db, number: &str) -> Result<Option<Vec<u8>>> {
    let row = sqlx::query("SELECT pdf FROM licences WHERE number = $1 AND sealed_at IS NOT NULL")
        .bind(number)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.map(|r| r.try_get::<Vec<u8>, _>("pdf")).transpose()?)
}

/// Records the outcome of sealing licence `number`: the sealed PDF (kept once made: a licence
/// is sealed at most once), or why not.
pub async fn record_licence_seal(db: &Db, number: &str, pdf: Option<&[u8]>, error: &str, now: i64) -> Result<()> {
    let q = match pdf {
        Some(pdf) => sqlx::query(
            "UPDATE licences SET pdf = $1, sealed_at = $2, seal_error = '' WHERE number = $3 AND sealed_at IS NULL",
        )
        .bind(pdf.to_vec())
        .bind(now),
        None => sqlx::query("UPDATE licences SET seal_error = $1 WHERE number = $2 AND sealed_at IS NULL")
            .bind(error.to_owned()),
    };
    q.bind(number).execute(db.pool()).await?;
    Ok(())
}

/// Licences not sealed yet, oldest first (at most 100 a round).
pub async fn unsealed_licences(db: &Db) -> Result<Vec<String>> {
    let rows = sqlx::query("SELECT number FROM licences WHERE sealed_at IS NULL ORDER BY issued_at, number LIMIT 100")
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(|r| Ok(r.try_get("number")?)).collect()
}

// ---- clearances ----

/// A clearance declaration.
#[derive(Clone, Debug)]
pub struct Clearance {
    /// Its number.
    pub id: String,
    /// The trader's licence.
    pub licence_number: String,
    /// The trader.
    pub trader_cid: String,
    /// Their name.
    pub trader_name: String,
    /// Which way.
    pub direction: Direction,
    /// HS code.
    pub hs_code: String,
    /// The goods.
    pub description: String,
    /// How many.
    pub quantity: i64,
    /// Of what.
    pub unit: String,
    /// Value, chhertum.
    pub value_chhertum: i64,
    /// Origin or destination.
    pub country: String,
    /// The customs office.
    pub port: String,
    /// Where it stands.
    pub status: ClearanceStatus,
    /// The deciding officer.
    pub decided_by: Option<String>,
    /// Their note.
    pub decision_note: Option<String>,
    /// When.
    pub decided_at: Option<i64>,
    /// When it was filed.
    pub created_at: i64,
}

const CLEARANCE_COLUMNS: &str = "id, licence_number, trader_cid, trader_name, direction, hs_code, description, \
quantity, unit, value_chhertum, country, port, status, decided_by, decision_note, decided_at, created_at";

fn clearance(r: &sqlx::any::AnyRow) -> Result<Clearance> {
    let direction: String = r.try_get("direction")?;
    let status: String = r.try_get("status")?;
    Ok(Clearance {
        id: r.try_get("id")?,
        licence_number: r.try_get("licence_number")?,
        trader_cid: r.try_get("trader_cid")?,
        trader_name: r.try_get("trader_name")?,
        direction: Direction::parse(&direction).ok_or_else(|| Error::Internal(format!("direction {direction:?}")))?,
        hs_code: r.try_get("hs_code")?,
        description: r.try_get("description")?,
        quantity: r.try_get("quantity")?,
        unit: r.try_get("unit")?,
        value_chhertum: r.try_get("value_chhertum")?,
        country: r.try_get("country")?,
        port: r.try_get("port")?,
        status: ClearanceStatus::parse(&status)?,
        decided_by: r.try_get("decided_by")?,
        decision_note: r.try_get("decision_note")?,
        decided_at: r.try_get("decided_at")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Files a checked declaration.
pub async fn insert_clearance(
    db: &Db,
    id: &str,
    d: &Declaration,
    trader_cid: &str,
    trader_name: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO clearances (id, licence_number, trader_cid, trader_name, direction, hs_code, description, \
         quantity, unit, value_chhertum, country, port, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'filed', $13)",
    )
    .bind(id)
    .bind(&d.licence)
    .bind(trader_cid)
    .bind(trader_name)
    .bind(d.direction.as_str())
    .bind(d.hs_code.as_str())
    .bind(&d.description)
    .bind(d.quantity)
    .bind(&d.unit)
    .bind(d.value_chhertum)
    .bind(&d.country)
    .bind(&d.port)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The declaration `id`.
pub async fn clearance_by_id(db: &Db, id: &str) -> Result<Option<Clearance>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {CLEARANCE_COLUMNS} FROM clearances WHERE id = $1")))
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(clearance).transpose()
}

/// A trader's declarations, newest first.
pub async fn clearances_of(db: &Db, cid: &str) -> Result<Vec<Clearance>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CLEARANCE_COLUMNS} FROM clearances WHERE trader_cid = $1 ORDER BY created_at DESC, id LIMIT 200"
    )))
    .bind(cid)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(clearance).collect()
}

/// What waits at customs office `port` (filed or held), oldest first.
pub async fn port_queue(db: &Db, port: &str) -> Result<Vec<Clearance>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CLEARANCE_COLUMNS} FROM clearances WHERE port = $1 AND status IN ('filed', 'held') \
         ORDER BY created_at, id LIMIT 500"
    )))
    .bind(port)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(clearance).collect()
}

/// Moves a declaration from `from` to `to`; `Conflict` if someone else moved it first.
pub async fn decide_clearance(
    db: &Db,
    id: &str,
    from: ClearanceStatus,
    to: ClearanceStatus,
    officer: &str,
    note: &str,
    now: i64,
) -> Result<()> {
    let n = sqlx::query(
        "UPDATE clearances SET status = $1, decided_by = $2, decision_note = $3, decided_at = $4 \
         WHERE id = $5 AND status = $6",
    )
    .bind(to.as_str())
    .bind(officer)
    .bind(note)
    .bind(now)
    .bind(id)
    .bind(from.as_str())
    .execute(db.pool())
    .await?
    .rows_affected();
    if n != 1 {
        return Err(Error::Conflict("This declaration was decided by someone else meanwhile.".into()));
    }
    Ok(())
}

/// Counts rows of a table the module owns (for operators and tests).
pub async fn count(db: &Db, table: &str) -> Result<i64> {
    if !["applications", "licences", "clearances"].contains(&table) {
        return Err(Error::BadRequest(format!("no table {table}")));
    }
    Ok(sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM {table}")))
        .fetch_one(db.pool())
        .await?
        .try_get::<i64, _>("n")?)
}
