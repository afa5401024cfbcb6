//! Report cards as PDFs sealed by EMIS, so that a college, an employer or an embassy can check
//! with an ordinary PDF reader that the Ministry of Education's EMIS issued exactly this card.
//!
//! The principal's issue stores the card at once ([`crate::domain::issue`]); this module then
//! renders it as a one-page PDF ([`agency_kit::pdf`]) with a QR code to its public
//! verification page and has the identity provider seal it with EMIS's seal certificate
//! (`POST /sign/seal` with a client-credentials token for the scope `seal` and the provider as
//! resource, through the SDK's [`SigningClient::seal_pdf`]). The seal names the client
//! (`organizationIdentifier GV:BT-<client id>`), so every school's cards carry the one EMIS
//! seal, and the school is written on the card. If the provider cannot seal (unreachable, no
//! CA yet), the card stays valid and unsealed with the error recorded, and [`crate::App`]'s
//! retry loop seals it later.

use agency_kit::{Error, Result, db::Db, pdf::PdfDocument};
use relying_party_sdk::{ServiceClient, signing::SigningClient};

use crate::domain::{self, ReportCard};

/// The scope of the identity provider's seal.
pub const SEAL_SCOPE: &str = "seal";

/// The longest label that fits the PDF's label column (bold 11 pt before the values).
const LABEL_WIDTH: usize = 26;

/// Seals issued report cards.
#[derive(Clone, Debug)]
pub struct Sealer {
    service: ServiceClient,
    signing: SigningClient,
    issuer: String,
    public_url: String,
}

impl Sealer {
    /// A sealer using `service`'s tokens at the identity provider `issuer` (as its discovery
    /// names it); the cards' QR codes point at `public_url`.
    pub fn new(service: ServiceClient, issuer: &str, public_url: &str) -> Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(15))
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        let base = issuer.parse().map_err(|e| Error::Config(format!("issuer URL: {e}")))?;
        Ok(Self {
            service,
            signing: SigningClient::new(base, http),
            issuer: issuer.to_owned(),
            public_url: public_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Renders and seals report card `number` unless it is sealed already; records the result
    /// (the sealed PDF, or the error) and says whether it is sealed now.
    pub async fn seal(&self, db: &Db, number: &str, now: i64) -> Result<bool> {
        let card = domain::report_card(db, number)
            .await?
            .ok_or_else(|| Error::NotFound("No report card has this number.".into()))?;
        if card.sealed {
            return Ok(true);
        }
        let pdf = render(&card, &self.public_url, now)?;
        let sealed = async {
            let token = self
                .service
                .token(SEAL_SCOPE, Some(&self.issuer), now)
                .await
                .map_err(|e| Error::Upstream(format!("no seal token: {e}")))?;
            self.signing
                .seal_pdf(
                    &token,
                    &format!("Report card {}", card.number),
                    &format!("Issued by {} through EMIS, Ministry of Education", card.school_name),
                    &pdf,
                    now,
                )
                .await
                .map_err(|e| Error::Upstream(format!("sealing: {e}")))
        }
        .await;
        match sealed {
            Ok(pdf) => {
                domain::record_seal(db, number, Some(&pdf), "", now).await?;
                Ok(true)
            }
            Err(e) => {
                tracing::warn!(report_card = number, error = %e, "report card not sealed yet");
                domain::record_seal(db, number, None, &e.to_string(), now).await?;
                Ok(false)
            }
        }
    }

    /// Seals every report card in force still unsealed; how many are left.
    pub async fn seal_pending(&self, db: &Db, now: i64) -> Result<usize> {
        let mut left = 0;
        for number in domain::unsealed_cards(db).await? {
            if !self.seal(db, &number, now).await? {
                left += 1;
            }
        }
        Ok(left)
    }
}

/// The report card as the document a family keeps: school, student, class, term, the
/// marks as issued with their average, who issued it, and where to verify it (its page under
/// `public_url`).
pub fn render(card: &ReportCard, public_url: &str, now: i64) -> Result<Vec<u8>> {
    let issued =
        time::OffsetDateTime::from_unix_timestamp(card.issued_at).map(|t| t.date().to_string()).unwrap_or_default();
    let mut doc = PdfDocument::new(
        &format!("{} - Ministry of Education, EMIS", card.school_name),
        &format!("Report card - {} {}", card.term_label(), card.year),
    )
    .field("Report card number", &card.number)
    .field("School", &format!("{} ({})", card.school_name, card.school))
    .field("Student", &card.student_name)
    .field("Class", &card.class_label())
    .field("Academic year", &card.year.to_string())
    .field("Term", card.term_label())
    .paragraph("Marks (out of 100):");
    for m in &card.marks {
        // A label longer than the label column would run into the mark: such a subject is
        // labelled by its code, with its name after the mark.
        doc = if m.name.chars().count() <= LABEL_WIDTH {
            doc.field(&m.name, &m.mark.to_string())
        } else {
            doc.field(&m.subject, &format!("{} ({})", m.mark, m.name))
        };
    }
    if let Some(avg) = card.average() {
        doc = doc.field("Average", &format!("{avg:.1}"));
    }
    doc.field("Issued by", &format!("{}, principal", card.issuer_name))
        .field("Issued on", &issued)
        .paragraph(
            "This report card is sealed electronically by EMIS, Ministry of Education. Its seal can be checked \
             with any PDF reader that trusts the Drukyul ID root; whether it is still in force (a corrected card \
             supersedes it) at the address below.",
        )
        .qr(&format!("{}/report-cards/{}", public_url.trim_end_matches('/'), card.number))
        .render(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CardMark, SUBJECTS};

    fn card(marks: Vec<CardMark>) -> ReportCard {
        ReportCard {
            number: "RC-2025-0123456789ABCDEF0123".into(),
            student_cid: "10101009876".into(),
            student_name: "Tashi Dema".into(),
            school: "THI-LMSS".into(),
            school_name: "Lungtenzampa Middle Secondary School".into(),
            year: 2025,
            term: "term1".into(),
            class: 12,
            marks,
            issued_at: 1_750_000_000,
            issuer_name: "Karma Wangchuk".into(),
            superseded_by: None,
            sealed: false,
            seal_error: String::new(),
        }
    }

    fn shows(pdf: &[u8], text: &str) -> bool {
        pdf.windows(text.len()).any(|w| w == text.as_bytes())
    }

    #[test]
    fn every_subject_fits_one_page_with_the_qr_code_and_no_cid() {
        let marks = SUBJECTS
            .iter()
            .zip(40..)
            .map(|((code, name, ..), mark)| CardMark { subject: (*code).into(), name: (*name).into(), mark })
            .collect();
        let pdf = render(&card(marks), "https://emis.gov.bt/", 1_750_000_000).unwrap();
        for text in [
            "RC-2025-0123456789ABCDEF0123",
            "Tashi Dema",
            "Lungtenzampa Middle Secondary School (THI-LMSS)",
            "Class 12",
            "Term 1 (mid-year examination)",
            "Mathematics:",
            "Average:",
            "48.0",
            "Karma Wangchuk, principal",
            "https://emis.gov.bt/report-cards/RC-2025-0123456789ABCDEF0123",
        ] {
            assert!(shows(&pdf, text), "{text}");
        }
        // A long subject name is given after its mark, so it cannot run into the mark.
        assert!(shows(&pdf, "ICT:") && shows(&pdf, "(Information and Communication Technology)"));
        assert!(!shows(&pdf, "Information and Communication Technology:"));
        assert!(!shows(&pdf, "10101009876"), "the CID is not on the card");
    }
}
