//! The citizen's signature on applications of services whose catalogue entry says
//! `citizen_signs` (a death registration, a marriage certificate, permits, construction
//! approval, ...): the applicant signs exactly the application the office will read, with their
//! digital signature at Drukyul ID, before it reaches the office.
//!
//! What is signed is the application's canonical document ([`ApplicationDocument`]), stored
//! byte for byte with the application when it is submitted. After submitting, the applicant is
//! shown its title and SHA-256 and sent through the identity provider's signing flow
//! (remote signing: the provider holds the key, the citizen approves with a passkey). On
//! return the module asks the provider for the outcome (the return URL's query is never
//! trusted), has the provider verify the signature over the stored bytes, and accepts it only
//! if it is valid and names the applicant's own CID ([`judge`]); only then does the application
//! go to the office's queue. The officer's review page verifies it again, and so does the
//! approval: a signature that no longer verifies (or a document that no longer matches the
//! application) stops the approval.
//!
//! Every call is made with the module's own client-credentials token (scope `sign`) of its
//! **web client**: the identity provider requires a signing request's return URL
//! (`{public_url}/signed`) to be one of the requesting client's registered redirect URIs, and
//! only an authorization-code client may have redirect URIs — the web client already has them,
//! and is the one allowed to receive national identifiers, so the verification names the
//! signer's CID. The service client keeps the calls to other agencies' APIs and the seal.

use std::collections::BTreeMap;

use agency_kit::{
    Error, Result,
    audit::{self, Entry},
    db::Db,
};
use base64::Engine;
use relying_party_sdk::{
    ServiceClient,
    signing::{CreatedRequest, Document, Outcome, SignRequest, SigningClient, SigningError, Verification},
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::{
    applications::{self, Applicant, Application, Status},
    catalogue::Service,
};

/// The scope of the identity provider's signing API.
pub const SIGN_SCOPE: &str = "sign";
/// What [`ApplicationDocument::document`] says, so that the bytes cannot be mistaken for
/// another kind of document signed with the same key.
pub const DOCUMENT_KIND: &str = "drukyul:citizen-services:application:v1";

/// The application as the applicant signs it.
///
/// Its bytes ([`ApplicationDocument::to_bytes`]) are canonical JSON: UTF-8, no insignificant
/// white space, object keys in lexicographic order (the struct's fields are declared in that
/// order, the form is a `BTreeMap`), strings escaped by `serde_json`'s fixed rules. So the same
/// application always gives the same bytes, anyone can recompute the digest from the content
/// with any JSON parser, and [`ApplicationDocument::from_bytes`] refuses any other spelling of
/// it. It holds everything the office decides on: the application's number (so a signature
/// cannot be moved to another application), the service (id and the title the applicant read),
/// the applicant's CID and name, every form field as checked, and the submission time. JSON
/// rather than a PDF because the module and other agencies read it back with an ordinary
/// parser; the certificate issued on approval is the PDF, sealed by the agency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationDocument {
    /// The applicant's CID.
    pub applicant_cid: String,
    /// The applicant's name.
    pub applicant_name: String,
    /// The application's number.
    pub application: String,
    /// [`DOCUMENT_KIND`].
    pub document: String,
    /// The checked form: field name to value.
    pub fields: BTreeMap<String, String>,
    /// The catalogue service's id.
    pub service: String,
    /// The service's title, as the applicant read it.
    pub service_title: String,
    /// When it was submitted (RFC 3339, UTC).
    pub submitted_at: String,
}

impl ApplicationDocument {
    /// The document of application `id` for `service`, by `who`, with the checked `fields`,
    /// submitted at `now`.
    pub fn new(id: &str, service: &Service, who: &Applicant, fields: &BTreeMap<String, String>, now: i64) -> Self {
        Self {
            applicant_cid: who.cid().to_owned(),
            applicant_name: who.name().to_owned(),
            application: id.to_owned(),
            document: DOCUMENT_KIND.to_owned(),
            fields: fields.clone(),
            service: service.id.clone(),
            service_title: service.title.clone(),
            submitted_at: rfc3339(now),
        }
    }

    /// The canonical bytes: what is stored, hashed and signed.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| Error::Internal(format!("application document: {e}")))
    }

    /// Reads stored bytes back; refuses anything that is not exactly the canonical form of a
    /// document of this kind (so two different byte strings never read as the same
    /// application).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let d: Self = serde_json::from_slice(bytes)
            .map_err(|_| Error::Conflict("The stored application document is not readable.".into()))?;
        if d.document != DOCUMENT_KIND || d.to_bytes()? != bytes {
            return Err(Error::Conflict("The stored application document is not in canonical form.".into()));
        }
        Ok(d)
    }

    /// The title shown on the identity provider's signing page.
    pub fn title(&self) -> String {
        format!("{}: application {}", self.service_title, self.application).chars().take(200).collect()
    }

    /// Whether this document is the one of `app` as stored (number, service, applicant and
    /// every field): what the office reads and what life events use must be what was signed.
    pub fn matches(&self, app: &Application) -> bool {
        self.application == app.id
            && self.service == app.service
            && self.applicant_cid == app.applicant_cid
            && self.fields == app.data
    }
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha256(bytes))
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref());
    out
}

/// `now` as RFC 3339 UTC.
pub fn rfc3339(now: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(now)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| now.to_string())
}

/// Proof that an application's signature was judged good: made only by [`judge`], and required
/// by [`applications::decide`] to approve an application of a signing service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureAccepted {
    application: String,
    sha256: String,
    /// The signer's name.
    pub signer: String,
    /// The trusted signing time.
    pub signing_time: i64,
}

impl SignatureAccepted {
    /// Whether this proof is for `app` as it is stored now.
    pub fn covers(&self, app: &Application) -> bool {
        self.application == app.id && self.sha256 == sha256_hex(app.document.as_bytes())
    }
}

/// Whether `v` (the provider's verification of `app`'s signature over its stored bytes) is
/// good enough: the stored document is canonical and is this application; the signature is
/// valid, by a certificate that was good when it signed (a later revocation does not undo a
/// signature made before it), names the applicant's own CID, and has a trusted time. Anything
/// missing counts against it; the error says why, for the applicant or the officer.
pub fn judge(v: &Verification, app: &Application) -> std::result::Result<SignatureAccepted, String> {
    match ApplicationDocument::from_bytes(app.document.as_bytes()) {
        Ok(d) if d.matches(app) => {}
        Ok(_) => return Err("The signed document is not this application as stored.".into()),
        Err(e) => return Err(e.to_string()),
    }
    if !v.valid {
        return Err(format!(
            "The signature does not verify for this application: {}.",
            v.reason.as_deref().unwrap_or("no reason given")
        ));
    }
    let status = v.certificate_status.as_deref().unwrap_or("unknown");
    if status != "good" && !status.starts_with("revoked later") {
        return Err(format!("The signing certificate was not good at the signing time ({status})."));
    }
    match v.cid.as_deref() {
        Some(c) if c == app.applicant_cid => {}
        Some(_) => return Err("The application was signed by someone else, not the applicant.".into()),
        None => return Err("The identity provider did not say whose signature this is.".into()),
    }
    let signing_time = v.signing_time.ok_or("The signature has no trusted signing time.")?;
    Ok(SignatureAccepted {
        application: app.id.clone(),
        sha256: sha256_hex(app.document.as_bytes()),
        signer: v.signer.clone().unwrap_or_default(),
        signing_time,
    })
}

/// The identity provider's signing API, with the module's own client-credentials token.
#[derive(Clone, Debug)]
pub struct Signatures {
    service: ServiceClient,
    signing: SigningClient,
    issuer: String,
    return_url: Url,
}

fn upstream(e: impl std::fmt::Display) -> Error {
    Error::Upstream(format!("Drukyul ID's signing service: {e}"))
}

impl Signatures {
    /// A client for the provider at `issuer` using `client`'s tokens; citizens come back to
    /// `return_url`, which must be a registered redirect URI of that client.
    pub fn new(client: ServiceClient, issuer: &str, return_url: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        let base = Url::parse(issuer).map_err(|e| Error::Config(format!("issuer: {e}")))?;
        let return_url = Url::parse(return_url).map_err(|e| Error::Config(format!("return URL: {e}")))?;
        Ok(Self { service: client, signing: SigningClient::new(base, http), issuer: issuer.to_owned(), return_url })
    }

    async fn token(&self, now: i64) -> Result<String> {
        self.service.token(SIGN_SCOPE, Some(&self.issuer), now).await.map_err(upstream)
    }

    /// Asks `signer` (and only them) to sign `bytes`, titled `title`.
    pub async fn request(&self, title: &str, bytes: &[u8], signer: &str, now: i64) -> Result<CreatedRequest> {
        let req = SignRequest::new(vec![Document::cms(title, bytes)], self.return_url.clone()).only_for(signer);
        self.signing.create(&self.token(now).await?, &req).await.map_err(|e| match e {
            SigningError::Refused { status, description } if status < 500 => {
                Error::Upstream(format!("Drukyul ID refused the signing request: {description}"))
            }
            other => upstream(other),
        })
    }

    /// Where signing request `id` stands.
    pub async fn outcome(&self, id: &str, now: i64) -> Result<Outcome> {
        self.signing.outcome(&self.token(now).await?, id).await.map_err(upstream)
    }

    /// Has the provider verify the detached CMS `signature` over `document` now. A signature
    /// the provider cannot parse is an invalid one, not an error.
    pub async fn verify(&self, signature: &[u8], document: &[u8], now: i64) -> Result<Verification> {
        match self.signing.verify(Some(&self.token(now).await?), signature, sha256(document)).await {
            Ok(v) => Ok(v),
            Err(SigningError::Refused { status: 400, description }) => Ok(Verification {
                valid: false,
                reason: Some(description),
                signer: None,
                cid: None,
                agency: None,
                certificate_serial: None,
                signing_time: None,
                certificate_status: None,
            }),
            Err(e) => Err(upstream(e)),
        }
    }
}

fn citizen(who: &Applicant) -> String {
    format!("citizen:{}", who.cid())
}

/// Opens a signing request at Drukyul ID for `who`'s own application `app` (only they may
/// approve it) and returns where to send their browser.
pub async fn start(db: &Db, sigs: &Signatures, who: &Applicant, app: &Application, now: i64) -> Result<Url> {
    if app.status != Status::AwaitingSignature {
        return Err(Error::Conflict("This application does not wait for your signature.".into()));
    }
    let doc = ApplicationDocument::from_bytes(app.document.as_bytes())?;
    let created = sigs.request(&doc.title(), app.document.as_bytes(), who.cid(), now).await?;
    applications::set_sign_request(db, &app.id, &created.id).await?;
    audit::record(
        db,
        &Entry::new(citizen(who), "signature_requested", format!("application:{}", app.id))
            .detail(serde_json::json!({"sign_request": created.id, "sha256": sha256_hex(app.document.as_bytes())})),
        now,
    )
    .await?;
    Ok(created.approve_url)
}

/// What collecting a signature came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Collected {
    /// Signed and verified as the applicant's: sent to the office.
    Submitted,
    /// The applicant has not decided at Drukyul ID yet.
    Pending,
    /// No usable signature; the application waits for another attempt. Why, for the applicant.
    Failed(String),
}

/// Collects the outcome of signing request `request` for `who`, coming back from Drukyul ID
/// (whatever the return URL said, the outcome is asked of the provider): the signature is
/// stored, and the application submitted to the office, only once the provider has verified it
/// over the stored bytes and named the applicant's CID. Returns the application's number.
pub async fn collect(
    db: &Db,
    sigs: &Signatures,
    who: &Applicant,
    request: &str,
    now: i64,
) -> Result<(String, Collected)> {
    let app = applications::by_sign_request(db, request).await?.filter(|a| a.applicant_cid == who.cid()).ok_or_else(
        || Error::NotFound("No application of yours waits for this signature; see your applications.".into()),
    )?;
    if app.status != Status::AwaitingSignature {
        // Collected already (a reload of the return URL).
        return Ok((app.id, Collected::Submitted));
    }
    let subject = format!("application:{}", app.id);
    let failed = |note: String, action: &'static str| {
        let subject = subject.clone();
        let id = app.id.clone();
        async move {
            applications::signing_failed(db, &id, request, &note).await?;
            audit::record(
                db,
                &Entry::new(citizen(who), action, subject)
                    .detail(serde_json::json!({"sign_request": request, "why": note})),
                now,
            )
            .await?;
            Ok::<_, Error>((id, Collected::Failed(note)))
        }
    };
    match sigs.outcome(request, now).await? {
        Outcome::Pending => Ok((app.id, Collected::Pending)),
        Outcome::Refused => {
            failed(
                "You refused to sign at Drukyul ID; the application was not sent to the office. Sign it to send it."
                    .into(),
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
            let v = sigs.verify(signature, app.document.as_bytes(), now).await?;
            match judge(&v, &app) {
                Ok(accepted) => {
                    let b64 = base64::engine::general_purpose::STANDARD.encode(signature);
                    if applications::submit_signed(db, &app.id, request, &b64, &accepted).await? {
                        audit::record(
                            db,
                            &Entry::new(citizen(who), "application_signed", subject.clone()).detail(
                                serde_json::json!({
                                    "signer": accepted.signer,
                                    "signing_time": accepted.signing_time,
                                    "certificate_serial": v.certificate_serial,
                                    "sha256": sha256_hex(app.document.as_bytes()),
                                }),
                            ),
                            now,
                        )
                        .await?;
                    }
                    Ok((app.id, Collected::Submitted))
                }
                Err(why) => failed(why, "signature_rejected").await,
            }
        }
    }
}

/// A stored signature as checked just now.
#[derive(Clone, Debug)]
pub struct Review {
    /// What Drukyul ID said (`None`: there is no signature).
    pub verification: Option<Verification>,
    /// Whether it is the applicant's good signature over this application as stored, or why not.
    pub judged: std::result::Result<SignatureAccepted, String>,
}

/// Verifies `app`'s stored signature over its stored bytes again, now (a certificate may have
/// been revoked since, the bytes or the form may have been changed in the database).
pub async fn reverify(sigs: &Signatures, app: &Application, now: i64) -> Result<Review> {
    let Some(sig) = app.signature.as_deref() else {
        return Ok(Review { verification: None, judged: Err("The applicant has not signed the application.".into()) });
    };
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig)
        .map_err(|_| Error::Internal(format!("the stored signature of {} is not base64", app.id)))?;
    let v = sigs.verify(&sig, app.document.as_bytes(), now).await?;
    let judged = judge(&v, app);
    Ok(Review { verification: Some(v), judged })
}

/// Before an approval of a signing service's application: the signature must verify again now
/// (else 409, audited and flagged, nothing issued).
pub async fn check_for_approval(
    db: &Db,
    sigs: &Signatures,
    app: &Application,
    actor: &str,
    now: i64,
) -> Result<SignatureAccepted> {
    let review = reverify(sigs, app, now).await?;
    match review.judged {
        Ok(accepted) => Ok(accepted),
        Err(why) => {
            audit::record(
                db,
                &Entry::new(actor, "approval_refused", format!("application:{}", app.id))
                    .detail(serde_json::json!({"why": why, "verification": review.verification}))
                    .flagged(),
                now,
            )
            .await?;
            Err(Error::Conflict(format!("This application cannot be approved: {why}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    fn document() -> ApplicationDocument {
        let catalogue = Catalogue::built_in().unwrap();
        let service = catalogue.get("death-registration").unwrap();
        let who = Applicant::new("11512000123", "Pema \"Choden\"").unwrap();
        let fields = BTreeMap::from([
            ("place_of_death".to_owned(), "Paro".to_owned()),
            ("deceased_cid".to_owned(), "10305006007".to_owned()),
            ("date_of_death".to_owned(), "2025-03-01".to_owned()),
        ]);
        ApplicationDocument::new("ICS-0123456789ABCDEF0123", service, &who, &fields, 1_740_830_400)
    }

    #[test]
    fn the_canonical_bytes_are_exactly_these() {
        let d = document();
        let bytes = d.to_bytes().unwrap();
        let expected = concat!(
            r#"{"applicant_cid":"11512000123","applicant_name":"Pema \"Choden\"","#,
            r#""application":"ICS-0123456789ABCDEF0123","document":"drukyul:citizen-services:application:v1","#,
            r#""fields":{"date_of_death":"2025-03-01","deceased_cid":"10305006007","place_of_death":"Paro"},"#,
            r#""service":"death-registration","service_title":"Death registration","#,
            r#""submitted_at":"2025-03-01T12:00:00Z"}"#
        );
        assert_eq!(String::from_utf8(bytes.clone()).unwrap(), expected);
        // The same application gives the same bytes, whatever order the form came in.
        assert_eq!(document().to_bytes().unwrap(), bytes);
        assert_eq!(ApplicationDocument::from_bytes(&bytes).unwrap(), d);
        assert_eq!(sha256_hex(&bytes).len(), 64);
        assert_eq!(d.title(), "Death registration: application ICS-0123456789ABCDEF0123");
    }

    #[test]
    fn any_other_spelling_or_content_is_refused_or_differs() {
        let d = document();
        let bytes = d.to_bytes().unwrap();
        // Another spelling of the same JSON: white space, another key order.
        let spaced = serde_json::to_vec_pretty(&d).unwrap();
        assert!(ApplicationDocument::from_bytes(&spaced).is_err());
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let reordered = format!(
            "{{\"submitted_at\":{},{}",
            v["submitted_at"],
            &String::from_utf8(bytes.clone()).unwrap()[1..].replace(",\"submitted_at\":\"2025-03-01T12:00:00Z\"", "")
        );
        assert!(ApplicationDocument::from_bytes(reordered.as_bytes()).is_err());
        // Another kind of document, an unknown field: refused.
        v["document"] = "something-else".into();
        assert!(ApplicationDocument::from_bytes(&serde_json::to_vec(&v).unwrap()).is_err());
        let mut extra = bytes.clone();
        extra.truncate(extra.len() - 1);
        extra.extend_from_slice(b",\"zz\":\"1\"}");
        assert!(ApplicationDocument::from_bytes(&extra).is_err());
        // One changed field changes the digest.
        let mut other = d.clone();
        other.fields.insert("deceased_cid".into(), "10305006008".into());
        assert_ne!(sha256_hex(&other.to_bytes().unwrap()), sha256_hex(&bytes));
    }
}
