//! The workflows: an application is written, signed by the applicant through Drukyul ID,
//! verified, reviewed and decided; a licence is issued; a licensed trader files clearances and
//! customs decides them. Each step checks the domain rules, changes the database through
//! [`crate::store`] and is audited. The web layer only finds out who is asking and renders.

use std::{collections::HashMap, sync::Arc};

use agency_kit::{
    Error, Result,
    audit::{self, Entry},
    db::Db,
    staff::StaffRole,
};
use base64::Engine;
use relying_party_sdk::signing::Outcome;

use crate::{
    catalogue::{Catalogue, FieldErrors, LicenceType, ValidForm},
    domain::{
        self, ApplicationDocument, ClearanceStatus, Decision, Declaration, LicenceState, Person, SignatureAccepted,
        Status, Verification,
    },
    idp::Signatures,
    store::{self, Application, Clearance, NewLicence},
};

/// What the workflows need.
#[derive(Clone, Debug)]
pub struct Agency {
    /// The module's database.
    pub db: Db,
    /// Licence types and customs offices.
    pub catalogue: Arc<Catalogue>,
    /// Drukyul ID's signing service (and the Ministry's seal).
    pub signatures: Arc<Signatures>,
    /// The module's public base URL, which the licences' QR codes point into.
    pub public_url: String,
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut b = vec![0u8; bytes];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
        .map_err(|_| Error::Internal("no randomness".into()))?;
    Ok(hex::encode_upper(b))
}

fn citizen(who: &Person) -> String {
    format!("citizen:{}", who.cid)
}

/// Writes an application for `licence` from a checked form; it then waits for the applicant's
/// signature.
pub async fn apply(db: &Db, licence: &LicenceType, who: &Person, form: ValidForm, now: i64) -> Result<Application> {
    let id = format!("EBZ-{}", random_hex(8)?);
    let doc = ApplicationDocument::new(&id, licence, who, form, now);
    let bytes = doc.to_bytes()?;
    store::insert_application(db, &doc, &bytes, now).await?;
    audit::record(
        db,
        &Entry::new(citizen(who), "application_written", format!("application:{id}"))
            .detail(serde_json::json!({"licence_type": licence.id, "sha256": domain::sha256_hex(&bytes)})),
        now,
    )
    .await?;
    store::application_by_id(db, &id).await?.ok_or_else(|| Error::Internal("the application vanished".into()))
}

/// `who`'s own application `id`; another's is "not found" (not theirs to know about).
pub async fn own_application(db: &Db, who: &Person, id: &str) -> Result<Application> {
    store::application_by_id(db, id)
        .await?
        .filter(|a| a.applicant_cid == who.cid.as_str())
        .ok_or_else(|| Error::NotFound("You have no application with this number.".into()))
}

/// Opens a signing request at Drukyul ID for `who`'s application `id` (only they may approve
/// it) and returns where to send their browser.
pub async fn start_signing(ag: &Agency, who: &Person, id: &str, now: i64) -> Result<url::Url> {
    let app = own_application(&ag.db, who, id).await?;
    if app.status != Status::AwaitingSignature {
        return Err(Error::Conflict("This application is already signed.".into()));
    }
    let doc = ApplicationDocument::from_bytes(app.document.as_bytes())?;
    let created = ag.signatures.request(&doc.title(), app.document.as_bytes(), &who.cid, now).await?;
    store::set_sign_request(&ag.db, &app.id, &created.id, now).await?;
    audit::record(
        &ag.db,
        &Entry::new(citizen(who), "signature_requested", app.subject())
            .detail(serde_json::json!({"sign_request": created.id})),
        now,
    )
    .await?;
    Ok(created.approve_url)
}

/// What collecting a signature came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Collected {
    /// Signed, verified as the applicant's: sent to the licensing office.
    Submitted,
    /// The applicant has not decided at Drukyul ID yet.
    Pending,
    /// No usable signature; the application waits for another attempt. Why, for the applicant.
    Failed(String),
}

/// Collects the outcome of signing request `request` for `who` (coming back from Drukyul ID;
/// whatever the return URL said, the outcome is asked of the provider): a signature is stored
/// only once the provider verified it over the stored bytes and named the applicant's CID.
pub async fn collect_signature(ag: &Agency, who: &Person, request: &str, now: i64) -> Result<(String, Collected)> {
    let app = store::application_by_sign_request(&ag.db, request)
        .await?
        .filter(|a| a.applicant_cid == who.cid.as_str())
        .ok_or_else(|| {
            Error::NotFound("No application of yours waits for this signature; see your applications.".into())
        })?;
    let failed = |note: String, action: &'static str| {
        let (db, id, subject) = (ag.db.clone(), app.id.clone(), app.subject());
        let actor = citizen(who);
        async move {
            store::signing_failed(&db, &id, request, &note, now).await?;
            audit::record(
                &db,
                &Entry::new(actor, action, subject).detail(serde_json::json!({"sign_request": request, "why": note})),
                now,
            )
            .await?;
            Ok::<_, Error>((id, Collected::Failed(note)))
        }
    };
    match ag.signatures.outcome(request, now).await? {
        Outcome::Pending => Ok((app.id, Collected::Pending)),
        Outcome::Refused => {
            failed(
                "You refused to sign at Drukyul ID; the application was not sent. Sign it to send it.".into(),
                "signature_refused",
            )
            .await
        }
        Outcome::Expired => {
            failed(
                "The signing request expired before you approved it; sign again to send the application.".into(),
                "signature_expired",
            )
            .await
        }
        Outcome::Signed { signatures, .. } => {
            let [signature] = signatures.as_slice() else {
                return failed("Drukyul ID returned an unexpected number of signatures.".into(), "signature_rejected")
                    .await;
            };
            let v = ag.signatures.verify(signature, app.document.as_bytes(), now).await?;
            match domain::judge(&v, &who.cid) {
                Ok(accepted) => {
                    let b64 = base64::engine::general_purpose::STANDARD.encode(signature);
                    if !store::submit_signed(&ag.db, &app.id, request, &b64, &accepted, &v, now).await? {
                        return Ok((app.id, Collected::Submitted));
                    }
                    audit::record(
                        &ag.db,
                        &Entry::new(citizen(who), "application_signed", app.subject()).detail(serde_json::json!({
                            "signer": accepted.signer,
                            "signing_time": accepted.signing_time,
                            "certificate_serial": v.certificate_serial,
                            "sha256": domain::sha256_hex(app.document.as_bytes()),
                        })),
                        now,
                    )
                    .await?;
                    Ok((app.id, Collected::Submitted))
                }
                Err(why) => failed(why, "signature_rejected").await,
            }
        }
    }
}

/// A signature as checked at review time.
#[derive(Clone, Debug)]
pub struct Review {
    /// What Drukyul ID said just now.
    pub verification: Verification,
    /// Whether it is the applicant's good signature over the stored bytes, or why not.
    pub judged: std::result::Result<SignatureAccepted, String>,
}

/// Verifies the stored signature over the stored bytes again, now (a certificate may have
/// been revoked since, the bytes may have been changed).
pub async fn reverify(ag: &Agency, app: &Application, now: i64) -> Result<Review> {
    let Some(sig) = app.signature.as_deref() else {
        let judged = Err("The application is not signed.".into());
        return Ok(Review { verification: domain::unverified("The application is not signed."), judged });
    };
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig)
        .map_err(|_| Error::Internal(format!("the stored signature of {} is not base64", app.id)))?;
    let verification = ag.signatures.verify(&sig, app.document.as_bytes(), now).await?;
    let cid = domain::Cid::parse(&app.applicant_cid)?;
    let mut judged = domain::judge(&verification, &cid);
    if judged.is_ok()
        && let Err(e) = ApplicationDocument::from_bytes(app.document.as_bytes())
    {
        judged = Err(e.to_string());
    }
    Ok(Review { verification, judged })
}

/// An officer's decision on a submitted application. `officer` has been checked to hold the
/// licensing role at the application's dzongkhag. An approval needs the signature to verify
/// again now, and issues the licence; a rejection needs a reason. Returns the licence number.
pub async fn decide(
    ag: &Agency,
    app: &Application,
    officer: &StaffRole,
    decision: Decision,
    note: &str,
    now: i64,
) -> Result<Option<String>> {
    let note = domain::check_note(note, decision == Decision::Reject)?;
    let actor = format!("staff:{}", officer.cid);
    if officer.cid == app.applicant_cid {
        audit::record(&ag.db, &Entry::new(&actor, "own_application_refused", app.subject()).flagged(), now).await?;
        return Err(Error::Forbidden("You cannot decide your own application.".into()));
    }
    if app.status != Status::Submitted {
        return Err(Error::Conflict(format!(
            "This application is {}; only a signed one can be decided.",
            app.status.label()
        )));
    }
    let licence = match decision {
        Decision::Reject => None,
        Decision::Approve => {
            let review = reverify(ag, app, now).await?;
            if let Err(why) = &review.judged {
                audit::record(
                    &ag.db,
                    &Entry::new(&actor, "approval_refused", app.subject())
                        .detail(serde_json::json!({"why": why, "verification": review.verification}))
                        .flagged(),
                    now,
                )
                .await?;
                return Err(Error::Conflict(format!("This application cannot be approved: {why}")));
            }
            let doc = ApplicationDocument::from_bytes(app.document.as_bytes())?;
            let kind = ag
                .catalogue
                .licence(&app.licence_type)
                .ok_or_else(|| Error::Internal(format!("licence type {} is no longer offered", app.licence_type)))?;
            let mut random = [0u8; 5];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random)
                .map_err(|_| Error::Internal("no randomness".into()))?;
            Some(NewLicence {
                number: domain::licence_number(now, &random),
                title: kind.title.clone(),
                trade: kind.trade,
                trade_direction: if kind.trade {
                    doc.details.get("trade_direction").cloned().unwrap_or_default()
                } else {
                    String::new()
                },
                issued_by: format!("Licensing office, {}", app.dzongkhag),
                valid_until: domain::valid_until(now, kind.validity_years),
            })
        }
    };
    store::decide(&ag.db, app, &actor, licence.is_some(), &note, licence.as_ref(), now).await?;
    let action = if licence.is_some() { "application_approved" } else { "application_rejected" };
    let number = licence.map(|l| l.number);
    audit::record(
        &ag.db,
        &Entry::new(actor, action, app.subject()).detail(serde_json::json!({"note": note, "licence": number})),
        now,
    )
    .await?;
    Ok(number)
}

/// `who`'s licences that allow clearances now (active trade licences).
pub async fn trade_licences(db: &Db, who: &Person, now: i64) -> Result<Vec<store::Licence>> {
    Ok(store::licences_of(db, who.cid.as_str())
        .await?
        .into_iter()
        .filter(|l| l.trade && l.state(now) == LicenceState::Active)
        .collect())
}

/// Refuses `who` the single window (no active import/export licence): audited, flagged.
pub async fn refuse_trader(db: &Db, who: &Person, why: &str, now: i64) -> Result<Error> {
    audit::record(
        db,
        &Entry::new(citizen(who), "clearance_refused", format!("trader:{}", who.cid))
            .detail(serde_json::json!({"why": why}))
            .flagged(),
        now,
    )
    .await?;
    Ok(Error::Forbidden(format!("{why} Apply for an import/export trade licence first.")))
}

/// Files a declaration for `who`: the form must be good (else every field's problem, nothing
/// stored), and the licence it names must be `who`'s active import/export licence covering
/// that direction (else 403, audited).
pub async fn file_clearance(
    ag: &Agency,
    who: &Person,
    form: &HashMap<String, String>,
    now: i64,
) -> Result<std::result::Result<String, FieldErrors>> {
    let ports: Vec<&str> = ag.catalogue.ports().iter().map(|p| p.code.as_str()).collect();
    let d = match Declaration::parse(form, &ports) {
        Ok(d) => d,
        Err(errors) => return Ok(Err(errors)),
    };
    let licence = store::licence_by_number(&ag.db, &d.licence).await?.filter(|l| l.holder_cid == who.cid.as_str());
    let why = match &licence {
        None => Some("You hold no licence with this number."),
        Some(l) if !l.trade => Some("This licence does not allow export or import."),
        Some(l) if l.state(now) != LicenceState::Active => Some("This licence is not in force."),
        Some(l) if !d.direction.allowed_by(&l.trade_direction) => Some("This licence does not cover that direction."),
        Some(_) => None,
    };
    if let Some(why) = why {
        return Err(refuse_trader(&ag.db, who, why, now).await?);
    }
    let id = format!("CLR-{}", random_hex(8)?);
    store::insert_clearance(&ag.db, &id, &d, who.cid.as_str(), &who.name, now).await?;
    audit::record(
        &ag.db,
        &Entry::new(citizen(who), "clearance_filed", format!("clearance:{id}")).detail(serde_json::json!({
            "licence": d.licence, "direction": d.direction.as_str(), "hs_code": d.hs_code.as_str(), "port": d.port,
        })),
        now,
    )
    .await?;
    Ok(Ok(id))
}

/// A customs officer's action (`clear`, `hold`) on a declaration at their office; a hold
/// needs the reason.
pub async fn decide_clearance(
    db: &Db,
    c: &Clearance,
    officer: &StaffRole,
    action: &str,
    note: &str,
    now: i64,
) -> Result<ClearanceStatus> {
    let next = c.status.next(action)?;
    let note = domain::check_note(note, next == ClearanceStatus::Held)?;
    let actor = format!("staff:{}", officer.cid);
    if officer.cid == c.trader_cid {
        audit::record(db, &Entry::new(&actor, "own_clearance_refused", format!("clearance:{}", c.id)).flagged(), now)
            .await?;
        return Err(Error::Forbidden("You cannot decide your own declaration.".into()));
    }
    store::decide_clearance(db, &c.id, c.status, next, &actor, &note, now).await?;
    audit::record(
        db,
        &Entry::new(actor, &format!("clearance_{}", next.as_str()), format!("clearance:{}", c.id))
            .detail(serde_json::json!({"note": note, "port": c.port})),
        now,
    )
    .await?;
    Ok(next)
}
