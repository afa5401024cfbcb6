//! Certificates as PDFs sealed by the agency, so that anyone — a bank, a court, an embassy —
//! can check with an ordinary PDF reader that Integrated Citizen Services issued exactly this.
//!
//! An approval issues the certificate record at once (see [`crate::applications::decide`]);
//! this module then renders it as a one-page PDF ([`agency_kit::pdf`]) with a QR code to its
//! public verification page, and has the identity provider seal it with the agency's seal
//! certificate (`POST /sign/seal`, a client-credentials token with the `seal` scope, through the
//! SDK). If the identity provider cannot be reached, the certificate stays valid and unsealed
//! with the error recorded, and the module's retry loop seals it later.

use agency_kit::{Error, Result, db::Db, pdf::PdfDocument};
use relying_party_sdk::{ServiceClient, signing::SigningClient};

use crate::applications::{self, Certificate};

/// Seals issued certificates.
#[derive(Clone, Debug)]
pub struct Sealer {
    service: ServiceClient,
    signing: SigningClient,
    issuer: String,
    public_url: String,
}

impl Sealer {
    /// A sealer using `service`'s tokens at the identity provider `issuer`; verification links
    /// point at `public_url`.
    pub fn new(service: ServiceClient, issuer: &str, public_url: &str) -> Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(15))
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        let base = issuer.parse().map_err(|e| Error::Config(format!("issuer URL: {e}")))?;
        Ok(Self {
            service,
            signing: SigningClient::new(base, http),
            issuer: issuer.trim_end_matches('/').to_owned(),
            public_url: public_url.trim_end_matches('/').to_owned(),
        })
    }

    /// The certificate as the document it is: what it states, who issued it, where to verify.
    pub fn render(&self, c: &Certificate, now: i64) -> Result<Vec<u8>> {
        let issued =
            time::OffsetDateTime::from_unix_timestamp(c.issued_at).map(|t| t.date().to_string()).unwrap_or_default();
        PdfDocument::new(&format!("Integrated Citizen Services - {}", c.issued_by), &c.title)
            .field("Certificate number", &c.number)
            .field("Issued to", &c.holder_name)
            .field("Issued on", &issued)
            .paragraph(&c.summary)
            .paragraph(
                "This certificate is sealed electronically by the issuing agency. Its seal can be checked with any \
                 PDF reader that trusts the Drukyul ID root, and its status at the address below.",
            )
            .qr(&format!("{}/certificates/{}", self.public_url, c.number))
            .render(now)
    }

    /// Renders and seals certificate `number` unless it is sealed already; records the result
    /// (the sealed PDF, or the error) and says whether it is sealed now.
    pub async fn seal(&self, db: &Db, number: &str, now: i64) -> Result<bool> {
        let c = applications::certificate(db, Some(number), None)
            .await?
            .ok_or_else(|| Error::NotFound("No certificate has this number.".into()))?;
        if c.sealed {
            return Ok(true);
        }
        let pdf = self.render(&c, now)?;
        let sealed = async {
            let token = self
                .service
                .token("seal", Some(&self.issuer), now)
                .await
                .map_err(|e| Error::Upstream(format!("no seal token: {e}")))?;
            self.signing
                .seal_pdf(
                    &token,
                    &c.title,
                    &format!("Issued by Integrated Citizen Services ({})", c.issued_by),
                    &pdf,
                    now,
                )
                .await
                .map_err(|e| Error::Upstream(format!("sealing: {e}")))
        }
        .await;
        match sealed {
            Ok(pdf) => {
                applications::record_seal(db, number, Some(&pdf), "", now).await?;
                Ok(true)
            }
            Err(e) => {
                tracing::warn!(certificate = number, error = %e, "certificate not sealed yet");
                applications::record_seal(db, number, None, &e.to_string(), now).await?;
                Ok(false)
            }
        }
    }

    /// Seals every certificate still unsealed; how many are left.
    pub async fn seal_pending(&self, db: &Db, now: i64) -> Result<usize> {
        let mut left = 0;
        for number in applications::unsealed_certificates(db).await? {
            if !self.seal(db, &number, now).await? {
                left += 1;
            }
        }
        Ok(left)
    }
}
