//! The module's calls to Drukyul ID about signatures, all through the SDK's [`SigningClient`]
//! with the module's own client-credentials token (audience the identity provider itself):
//! opening a signing request for an application document and collecting its outcome (scope
//! `sign`), verifying a stored signature against the stored bytes (`POST /sign/verify`, which
//! names the signer's CID to this client because it is registered to receive national
//! identifiers), and sealing the licences the Ministry issues with its own seal (scope `seal`).

use agency_kit::{Error, Result};
use relying_party_sdk::{
    ServiceClient,
    signing::{CreatedRequest, Document, Outcome, SignRequest, SigningClient, SigningError},
};
use url::Url;

use crate::domain::{Cid, Verification};

/// The scope of the identity provider's signing API.
pub const SIGN_SCOPE: &str = "sign";
/// The scope of the agency's own seal.
pub const SEAL_SCOPE: &str = "seal";

/// The signing API client.
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
    /// A client for the provider at `issuer` (as its discovery names it); citizens come back
    /// to `return_url` (a registered redirect URI of the module's client).
    pub fn new(service: ServiceClient, issuer: &str, return_url: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        let base = Url::parse(issuer).map_err(|e| Error::Config(format!("issuer: {e}")))?;
        let return_url = Url::parse(return_url).map_err(|e| Error::Config(format!("return URL: {e}")))?;
        Ok(Self { service, signing: SigningClient::new(base, http), issuer: issuer.to_owned(), return_url })
    }

    async fn token(&self, now: i64) -> Result<String> {
        self.service.token(SIGN_SCOPE, Some(&self.issuer), now).await.map_err(upstream)
    }

    /// Asks `signer` (and only them) to sign `bytes`, titled `title`.
    pub async fn request(&self, title: &str, bytes: &[u8], signer: &Cid, now: i64) -> Result<CreatedRequest> {
        let req =
            SignRequest::new(vec![Document::cms(title, bytes)], self.return_url.clone()).only_for(signer.as_str());
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

    /// Verifies the detached CMS `signature` over `document` now. A signature the provider
    /// cannot parse (it answers 400) is an invalid one, not an error.
    pub async fn verify(&self, signature: &[u8], document: &[u8], now: i64) -> Result<Verification> {
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, document).as_ref());
        match self.signing.verify(Some(&self.token(now).await?), signature, sha256).await {
            Ok(v) => Ok(v),
            Err(SigningError::Refused { status: 400, description }) => Ok(crate::domain::unverified(&description)),
            Err(e) => Err(upstream(e)),
        }
    }

    /// Seals `pdf` in place with the Ministry's own seal (PAdES, the signature field "Seal"
    /// with `reason`); `title` is what Drukyul ID's audit log records.
    pub async fn seal_pdf(&self, title: &str, reason: &str, pdf: &[u8], now: i64) -> Result<Vec<u8>> {
        let token = self
            .service
            .token(SEAL_SCOPE, Some(&self.issuer), now)
            .await
            .map_err(|e| Error::Upstream(format!("no seal token: {e}")))?;
        self.signing
            .seal_pdf(&token, title, reason, pdf, now)
            .await
            .map_err(|e| Error::Upstream(format!("sealing: {e}")))
    }
}
