//! Asking a citizen to sign documents with their digital signature.
//!
//! The model is remote signing as in the Cloud Signature Consortium API: the citizen's key is
//! held by Drukyul ID, and only their fresh approval with a passkey, for exactly the documents
//! they were shown, activates it. The agency never sees the document leave its own servers: it
//! sends SHA-256 digests with a title for each, sends the citizen to the approval page, and
//! collects detached CMS signatures (CAdES-B-T) when the citizen comes back.
//!
//! ```text
//! agency                                   Drukyul ID                      citizen
//!   | SigningClient::create(token, request) --> /sign/requests
//!   |<-- CreatedRequest { id, approve_url }
//!   | redirect the citizen to approve_url ------------------------------------> approves (passkey)
//!   |<------------------------------------------- back at return_url?sign_request=ID&status=signed
//!   | SigningClient::outcome(token, id) ------> /sign/requests/ID
//!   |<-- Outcome::Signed { signatures }
//! ```
//!
//! The access token is the agency's own (client credentials with the `sign` scope), never a
//! citizen's. What the agency itself issues it seals with its own seal certificate instead
//! ([`SigningClient::seal`], [`SigningClient::seal_pdf`]; scope `seal`), and anyone's
//! signature or seal is checked with [`SigningClient::verify`] / [`SigningClient::verify_pdf`]. PDFs are signed in place (PAdES B-T) with [`PreparedPdf`]: prepare the file,
//! ask for its [`PreparedPdf::digest`] with [`Document::pdf`], keep the prepared bytes while the
//! citizen decides ([`PreparedPdf::as_bytes`] / [`PreparedPdf::from_bytes`]), then
//! [`PreparedPdf::finish`] with the returned signature.
//!
//! ```no_run
//! # async fn run(token: &str, pdf: &[u8]) -> Result<(), relying_party_sdk::signing::SigningError> {
//! use relying_party_sdk::signing::{Document, Outcome, PreparedPdf, SignRequest, SigningClient};
//! let client = SigningClient::new("https://id.gov.bt".parse()?, reqwest::Client::new());
//! let prepared = PreparedPdf::prepare(pdf, "Applicant", "Trade licence application", 1_790_000_000)?;
//! let request = SignRequest::new(
//!     vec![Document::pdf("Trade licence application", &prepared)],
//!     "https://trade.gov.bt/signed".parse()?,
//! );
//! let created = client.create(token, &request).await?;
//! // ... store prepared.as_bytes() under created.id, redirect to created.approve_url ...
//! if let Outcome::Signed { signatures, .. } = client.outcome(token, &created.id).await? {
//!     let signed_pdf = prepared.finish(&signatures[0])?;
//! #   let _ = signed_pdf;
//! }
//! # Ok(()) }
//! ```

use base64::Engine;
use serde::{Deserialize, Serialize};
use url::Url;

/// The most a signing response may be (twenty CMS signatures with chains and timestamps fit
/// comfortably); a bigger one is refused rather than read into memory.
const MAX_RESPONSE_BYTES: usize = 2 * 1024 * 1024;

/// What can go wrong while asking for signatures.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The request was refused before it was sent (bad title, URL, ...).
    #[error("invalid signing request: {0}")]
    Invalid(String),
    /// The identity provider refused it (with its HTTP status and error description).
    #[error("the identity provider refused the signing request ({status}): {description}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The provider's `error_description`, or the body.
        description: String,
    },
    /// The provider could not be reached, or answered with something that is not the API.
    #[error("signing API: {0}")]
    Transport(String),
    /// A PDF could not be prepared or the signature could not be embedded.
    #[error("PDF signature: {0}")]
    Pdf(#[from] signer::Error),
}

impl From<url::ParseError> for SigningError {
    fn from(e: url::ParseError) -> Self {
        Self::Invalid(format!("URL: {e}"))
    }
}

/// The kind of signature a document gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A detached CAdES-B-T signature, kept beside the document (`.p7s`).
    Cades,
    /// A signature for a PDF's signature field (PAdES B-T).
    Pades,
}

/// One document to sign: a title the citizen reads and the document's SHA-256.
#[derive(Clone, Debug, Serialize)]
pub struct Document {
    title: String,
    digest: String,
    format: Format,
}

impl Document {
    /// A document to get a detached CAdES signature for; hashes `content` here.
    pub fn cms(title: &str, content: &[u8]) -> Self {
        Self::digest(title, sha256(content))
    }

    /// Like [`Document::cms`], for a document already hashed (SHA-256).
    pub fn digest(title: &str, sha256: [u8; 32]) -> Self {
        Self { title: title.to_owned(), digest: hex(&sha256), format: Format::Cades }
    }

    /// A prepared PDF, to be signed in place.
    pub fn pdf(title: &str, prepared: &PreparedPdf) -> Self {
        Self { title: title.to_owned(), digest: hex(&prepared.digest()), format: Format::Pades }
    }

    /// The title shown to the citizen.
    pub fn title(&self) -> &str {
        &self.title
    }
}

/// A signing request: the documents, in order, and where the citizen comes back to.
#[derive(Clone, Debug, Serialize)]
pub struct SignRequest {
    documents: Vec<Document>,
    return_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    cid: Option<String>,
}

impl SignRequest {
    /// Documents to sign and the return URL (one of the client's registered redirect URIs).
    pub fn new(documents: Vec<Document>, return_url: Url) -> Self {
        Self { documents, return_url: return_url.into(), cid: None }
    }

    /// Only the citizen with this CID may approve (for a client allowed national identifiers,
    /// when the agency already knows who must sign).
    pub fn only_for(mut self, cid: &str) -> Self {
        self.cid = Some(cid.to_owned());
        self
    }
}

/// A request the provider accepted.
#[derive(Clone, Debug, Deserialize)]
pub struct CreatedRequest {
    /// The request's id: keep it to collect the outcome.
    #[serde(rename = "request_id")]
    pub id: String,
    /// Where to send the citizen's browser.
    pub approve_url: Url,
    /// Until when (Unix seconds) the citizen can decide.
    pub expires_at: i64,
}

/// Where a request stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The citizen has not decided yet.
    Pending,
    /// Signed: one DER CMS `ContentInfo` per document, in the request's order.
    Signed {
        /// The signatures.
        signatures: Vec<Vec<u8>>,
        /// Serial (hex) of the citizen's signing certificate.
        certificate_serial: Option<String>,
    },
    /// The citizen refused.
    Refused,
    /// Nobody decided in time.
    Expired,
}

#[derive(Deserialize)]
struct RawOutcome {
    status: String,
    #[serde(default)]
    certificate_serial: Option<String>,
    #[serde(default)]
    signatures: Vec<RawSignature>,
}

#[derive(Deserialize)]
struct RawSignature {
    cms: String,
}

/// The client of Drukyul ID's signing API.
#[derive(Clone, Debug)]
pub struct SigningClient {
    base: Url,
    http: reqwest::Client,
}

impl SigningClient {
    /// A client for the provider at `issuer` (its issuer URL), over `http`.
    pub fn new(issuer: Url, http: reqwest::Client) -> Self {
        Self { base: issuer, http }
    }

    fn endpoint(&self, path: &str) -> Result<Url, SigningError> {
        let mut base = self.base.clone();
        let joined = format!("{}{path}", base.path().trim_end_matches('/'));
        base.set_path(&joined);
        Ok(base)
    }

    /// Creates a signing request with the agency's access token (scope `sign`).
    pub async fn create(&self, access_token: &str, request: &SignRequest) -> Result<CreatedRequest, SigningError> {
        if request.documents.is_empty() {
            return Err(SigningError::Invalid("a signing request needs at least one document".into()));
        }
        let response = self
            .http
            .post(self.endpoint("/sign/requests")?)
            .bearer_auth(access_token)
            .json(request)
            .send()
            .await
            .map_err(|e| SigningError::Transport(e.to_string()))?;
        read_json(response).await
    }

    /// The outcome of request `id` so far.
    pub async fn outcome(&self, access_token: &str, id: &str) -> Result<Outcome, SigningError> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(SigningError::Invalid("a request id is URL-safe base64".into()));
        }
        let response = self
            .http
            .get(self.endpoint(&format!("/sign/requests/{id}"))?)
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(|e| SigningError::Transport(e.to_string()))?;
        let raw: RawOutcome = read_json(response).await?;
        Ok(match raw.status.as_str() {
            "pending" => Outcome::Pending,
            "refused" => Outcome::Refused,
            "expired" => Outcome::Expired,
            "signed" => {
                let b64 = &base64::engine::general_purpose::STANDARD;
                let signatures = raw
                    .signatures
                    .iter()
                    .map(|s| b64.decode(&s.cms))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| SigningError::Transport("a signature is not base64".into()))?;
                Outcome::Signed { signatures, certificate_serial: raw.certificate_serial }
            }
            other => return Err(SigningError::Transport(format!("unknown request status {other:?}"))),
        })
    }
}

/// Documents sealed by the agency itself ([`SigningClient::seal`]).
#[derive(Clone, Debug, Deserialize)]
pub struct Sealed {
    /// One DER CMS `ContentInfo` per document, in order.
    #[serde(deserialize_with = "base64_list")]
    pub signatures: Vec<Vec<u8>>,
    /// Serial (hex) of the agency's seal certificate.
    pub certificate_serial: String,
}

/// What Drukyul ID found checking a signature ([`SigningClient::verify`]).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Verification {
    /// Whether the signature is valid for the document.
    pub valid: bool,
    /// Why not, when it is not.
    #[serde(default)]
    pub reason: Option<String>,
    /// The signer's name: the citizen's, or the agency's for a seal.
    #[serde(default)]
    pub signer: Option<String>,
    /// The signing citizen's CID (only for clients allowed national identifiers).
    #[serde(default)]
    pub cid: Option<String>,
    /// For a seal: the sealing agency's client id.
    #[serde(default)]
    pub agency: Option<String>,
    /// The certificate's serial (hex).
    #[serde(default)]
    pub certificate_serial: Option<String>,
    /// The trusted signing time (Unix seconds): the timestamp's, else the claimed one.
    #[serde(default)]
    pub signing_time: Option<i64>,
    /// The certificate's status at the signing time (`good`, `revoked ...`, `unknown`).
    #[serde(default)]
    pub certificate_status: Option<String>,
}

fn base64_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
    let b64 = &base64::engine::general_purpose::STANDARD;
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| b64.decode(s).map_err(|_| serde::de::Error::custom("a signature is not base64")))
        .collect()
}

impl SigningClient {
    /// Seals documents with the agency's own seal certificate (its access token needs the
    /// `seal` scope): for what the agency issues — certificates, report cards, licences. No
    /// person approves a seal; the signatures come back at once. Use [`Document::pdf`] to seal a
    /// PDF in place ([`PreparedPdf::finish`]).
    pub async fn seal(&self, access_token: &str, documents: &[Document]) -> Result<Sealed, SigningError> {
        if documents.is_empty() {
            return Err(SigningError::Invalid("sealing needs at least one document".into()));
        }
        let response = self
            .http
            .post(self.endpoint("/sign/seal")?)
            .bearer_auth(access_token)
            .json(&serde_json::json!({ "documents": documents }))
            .send()
            .await
            .map_err(|e| SigningError::Transport(e.to_string()))?;
        let sealed: Sealed = read_json(response).await?;
        if sealed.signatures.len() != documents.len() {
            return Err(SigningError::Transport("the provider returned another number of signatures".into()));
        }
        Ok(sealed)
    }

    /// Seals a PDF in place (PAdES B-T) with the agency's seal: prepares a signature field
    /// named "Seal" with `reason` ("Issued by the Department of ..."), seals its byte range and
    /// embeds the signature. `now` (Unix seconds) is the claimed signing time in the PDF.
    pub async fn seal_pdf(
        &self,
        access_token: &str,
        title: &str,
        reason: &str,
        pdf: &[u8],
        now: i64,
    ) -> Result<Vec<u8>, SigningError> {
        let prepared = PreparedPdf::prepare(pdf, "Seal", reason, now)?;
        let sealed = self.seal(access_token, &[Document::pdf(title, &prepared)]).await?;
        let cms = sealed.signatures.first().ok_or_else(|| SigningError::Transport("no signature returned".into()))?;
        prepared.finish(cms)
    }

    /// Has Drukyul ID check a detached signature over a document's SHA-256: chain, timestamp,
    /// and the certificate's status at the signing time. With the agency's access token (any
    /// scope) the answer names the signer's CID if the agency is allowed national identifiers.
    pub async fn verify(
        &self,
        access_token: Option<&str>,
        signature: &[u8],
        sha256: [u8; 32],
    ) -> Result<Verification, SigningError> {
        self.verify_as(access_token, signature, sha256, Format::Cades).await
    }

    async fn verify_as(
        &self,
        access_token: Option<&str>,
        signature: &[u8],
        sha256: [u8; 32],
        format: Format,
    ) -> Result<Verification, SigningError> {
        let b64 = &base64::engine::general_purpose::STANDARD;
        let mut request = self
            .http
            .post(self.endpoint("/sign/verify")?)
            .json(&serde_json::json!({ "signature": b64.encode(signature), "digest": hex(&sha256), "format": format }));
        if let Some(token) = access_token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| SigningError::Transport(e.to_string()))?;
        read_json(response).await
    }

    /// [`SigningClient::verify`] for a signed PDF's last signature (PAdES): it must cover the
    /// whole file, so a PDF changed after signing is refused here or reported invalid there.
    pub async fn verify_pdf(&self, access_token: Option<&str>, pdf: &[u8]) -> Result<Verification, SigningError> {
        let (cms, digest) = signer::pades::signed_parts(pdf)?;
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(digest.as_bytes());
        self.verify_as(access_token, &cms, sha256, Format::Pades).await
    }
}

/// Reads a JSON answer, or the provider's OAuth-style error.
async fn read_json<T: for<'de> Deserialize<'de>>(response: reqwest::Response) -> Result<T, SigningError> {
    let status = response.status();
    if response.content_length().is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
        return Err(SigningError::Transport("the answer is too large".into()));
    }
    let body = response.bytes().await.map_err(|e| SigningError::Transport(e.to_string()))?;
    if body.len() > MAX_RESPONSE_BYTES {
        return Err(SigningError::Transport("the answer is too large".into()));
    }
    if !status.is_success() {
        let description = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v.get("error_description").or_else(|| v.get("error")).and_then(|d| d.as_str()).map(str::to_owned)
            })
            .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
        return Err(SigningError::Refused { status: status.as_u16(), description });
    }
    serde_json::from_slice(&body).map_err(|e| SigningError::Transport(format!("unexpected answer: {e}")))
}

/// A PDF with an empty signature field added (an incremental update: the original bytes stay
/// as they were), waiting for the citizen's signature.
#[derive(Clone, Debug)]
pub struct PreparedPdf(signer::pades::Prepared);

impl PreparedPdf {
    /// Adds a signature field `field` to page 1 of `pdf`, with `reason` and the signing time
    /// `now` (Unix seconds; it is inside the signed bytes, so it is fixed here).
    pub fn prepare(pdf: &[u8], field: &str, reason: &str, now: i64) -> Result<Self, SigningError> {
        let field = signer::pades::SignatureField::new(field)?.with_reason(reason)?;
        Ok(Self(signer::pades::prepare(pdf, &field, now)?))
    }

    /// The SHA-256 of the PDF's signed byte range: what the citizen signs.
    pub fn digest(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.0.digest().as_bytes());
        out
    }

    /// The prepared file, to keep while the citizen decides.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// A prepared file kept earlier; refuses anything that is not one.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, SigningError> {
        Ok(Self(signer::pades::Prepared::from_bytes(bytes)?))
    }

    /// Embeds `cms` (the signature [`Outcome::Signed`] returned for this document) and returns
    /// the signed PDF. Refuses a signature made for any other bytes.
    pub fn finish(&self, cms: &[u8]) -> Result<Vec<u8>, SigningError> {
        Ok(signer::pades::embed(&self.0, cms)?)
    }
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, data).as_ref());
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_carry_the_sha256_and_format() {
        let d = Document::cms("Licence", b"abc");
        assert_eq!(d.digest, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(d.format, Format::Cades);
        let body = serde_json::to_value(SignRequest::new(vec![d], "https://a.gov.bt/back".parse().unwrap())).unwrap();
        assert_eq!(body["documents"][0]["format"], "cades");
        assert!(body.get("cid").is_none());
    }

    #[test]
    fn request_ids_are_checked_before_they_go_into_a_path() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let c = SigningClient::new("https://id.gov.bt".parse().unwrap(), reqwest::Client::new());
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        for bad in ["", "../admin", "a/b", "x?y=1"] {
            assert!(matches!(rt.block_on(c.outcome("t", bad)), Err(SigningError::Invalid(_))), "{bad}");
        }
        assert_eq!(c.endpoint("/sign/requests").unwrap().as_str(), "https://id.gov.bt/sign/requests");
    }

    #[test]
    fn a_prepared_pdf_refuses_a_foreign_signature_and_garbage() {
        assert!(PreparedPdf::prepare(b"not a pdf", "Applicant", "r", 0).is_err());
        assert!(PreparedPdf::from_bytes(b"%PDF-1.7 nothing prepared".to_vec()).is_err());
    }
}
