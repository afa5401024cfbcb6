//! The module's calls to Drukyul ID about signatures, with its own client-credentials token
//! (scope `sign`, audience the identity provider itself): opening a signing request for an
//! application document (the SDK's [`SigningClient`]), collecting its outcome, and verifying a
//! stored signature against the stored bytes (`POST /sign/verify`, which names the signer's CID
//! to this client because it is registered to receive national identifiers).

use agency_kit::{Error, Result};
use base64::Engine;
use relying_party_sdk::{
    ServiceClient,
    signing::{CreatedRequest, Document, Outcome, SignRequest, SigningClient, SigningError},
};
use url::Url;

use crate::domain::{Cid, Verification};

/// The scope of the identity provider's signing API.
pub const SIGN_SCOPE: &str = "sign";
/// The largest verification answer read.
const MAX_ANSWER: usize = 64 * 1024;

/// The signing API client.
#[derive(Clone, Debug)]
pub struct Signatures {
    service: ServiceClient,
    signing: SigningClient,
    http: reqwest::Client,
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
        Ok(Self {
            service,
            signing: SigningClient::new(base, http.clone()),
            http,
            issuer: issuer.to_owned(),
            return_url,
        })
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
    /// cannot parse is an invalid one, not an error.
    pub async fn verify(&self, signature: &[u8], document: &[u8], now: i64) -> Result<Verification> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let body = serde_json::json!({
            "signature": b64.encode(signature),
            "digest": crate::domain::sha256_hex(document),
        });
        let url = format!("{}/sign/verify", self.issuer.trim_end_matches('/'));
        let resp =
            self.http.post(url).bearer_auth(self.token(now).await?).json(&body).send().await.map_err(upstream)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(upstream)?;
        if bytes.len() > MAX_ANSWER {
            return Err(upstream("the answer is too large"));
        }
        if status == reqwest::StatusCode::BAD_REQUEST {
            let why = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("error_description").and_then(|d| d.as_str()).map(str::to_owned))
                .unwrap_or_else(|| "not a signature".into());
            return Ok(Verification { valid: false, reason: Some(why), ..Verification::default() });
        }
        if !status.is_success() {
            return Err(upstream(format!("verification answered {status}")));
        }
        serde_json::from_slice(&bytes).map_err(|e| upstream(format!("unexpected verification answer: {e}")))
    }
}
