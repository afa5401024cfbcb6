//! Licences as PDFs sealed by the Ministry, so that a bank, a customs office abroad or a
//! landlord can check with an ordinary PDF reader that e-business issued exactly this licence.
//!
//! An approval issues the licence at once ([`crate::licensing::decide`]); this module then
//! renders it as a one-page PDF ([`agency_kit::pdf`]) with a QR code to its public
//! verification page, and has the identity provider seal it with the module's seal certificate
//! ([`crate::idp::Signatures::seal_pdf`]: `POST /sign/seal`, scope `seal`). The PDF says what
//! the public page says — the business, the licence, the dzongkhag, the validity — and no
//! more (no holder's CID or name), since anyone may download it at `/licences/{number}/pdf`.
//! If the identity provider cannot be reached, the licence stays valid and unsealed with the
//! error recorded, and the retry loop ([`crate::App::retry_pending`]) seals it later.

use agency_kit::{Error, Result, pdf::PdfDocument};

use crate::{
    domain::date,
    licensing::Agency,
    store::{self, Licence},
};

/// The licence as the document a business keeps (and frames on its wall), with the QR code to
/// its verification page under `public_url`.
pub fn render(l: &Licence, public_url: &str, now: i64) -> Result<Vec<u8>> {
    let mut doc = PdfDocument::new("e-business - Ministry of Industry, Commerce and Employment", &l.licence_title)
        .field("Licence number", &l.number)
        .field("Business", &l.business_name)
        .field("Licence", &l.licence_title)
        .field("Dzongkhag", &l.dzongkhag);
    if l.trade {
        doc = doc.field("Export and import", &format!("allowed ({})", l.trade_direction));
    }
    doc.field("Issued by", &l.issued_by)
        .field("Issued on", &date(l.issued_at))
        .field("Valid until", &date(l.valid_until))
        .paragraph(
            "This licence is sealed electronically by the Ministry of Industry, Commerce and Employment. Its seal \
             can be checked with any PDF reader that trusts the Drukyul ID root; whether it is still in force \
             (not expired or revoked) at the address below.",
        )
        .qr(&format!("{}/licences/{}", public_url.trim_end_matches('/'), l.number))
        .render(now)
}

/// Renders and seals licence `number` unless it is sealed already; records the result (the
/// sealed PDF, or the error) and says whether it is sealed now.
pub async fn seal(ag: &Agency, number: &str, now: i64) -> Result<bool> {
    let l = store::licence_by_number(&ag.db, number)
        .await?
        .ok_or_else(|| Error::NotFound("No licence has this number.".into()))?;
    if l.sealed {
        return Ok(true);
    }
    let pdf = render(&l, &ag.public_url, now)?;
    let reason = format!("Issued by the Ministry of Industry, Commerce and Employment ({})", l.issued_by);
    match ag.signatures.seal_pdf(&format!("{} {}", l.licence_title, l.number), &reason, &pdf, now).await {
        Ok(pdf) => {
            store::record_licence_seal(&ag.db, number, Some(&pdf), "", now).await?;
            Ok(true)
        }
        Err(e) => {
            tracing::warn!(licence = number, error = %e, "licence not sealed yet");
            store::record_licence_seal(&ag.db, number, None, &e.to_string(), now).await?;
            Ok(false)
        }
    }
}

/// Seals every licence still unsealed; how many are left.
pub async fn seal_pending(ag: &Agency, now: i64) -> Result<usize> {
    let mut left = 0;
    for number in store::unsealed_licences(&ag.db).await? {
        if !seal(ag, &number, now).await? {
            left += 1;
        }
    }
    Ok(left)
}
