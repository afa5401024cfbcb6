//! Minutiae extraction: NIST's MINDTCT (NBIS, the LFS v2 algorithm) turns a finger image into
//! minutiae, written as an ISO/IEC 19794-2:2005 record our matcher compares.
//!
//! MINDTCT runs as C code built from the NBIS sources by the `nbis-rs` crate (MIT; the NBIS code
//! is public domain); the foreign calls stay inside that crate, and this crate keeps
//! `forbid(unsafe_code)`. `nbis-rs` takes encoded images, so the pixels are handed over as a PGM
//! (a 15-byte header in front of the pixels: nothing is lost or recompressed).
//!
//! Conventions, checked against NBIS's own ANSI INCITS 378 writer (`lfs2m1_minutia_XYT`):
//! MINDTCT measures directions in 32 steps of 11.25° clockwise from "up"; `nbis-rs` reports
//! `90° − 11.25°·direction`, counter-clockwise from the positive x axis — the ISO/IEC 19794-2 and
//! ANSI INCITS 378 convention, pointing up the ridge (endings) or the valley (bifurcations).
//! Coordinates are pixels from the top-left corner, y down, as in the record. (NIST's XYT text
//! format, which Bozorth3 reads, flips y and turns the angle by 180°; nothing here uses it.)
//! Each angle becomes ISO units of 360/256° (11.25° is exactly 8 units); a minutia's
//! reliability (0-1) becomes its quality (1-100).
//!
//! MINDTCT is tuned for 500 ppi; images between [`MIN_PPI`] and [`MAX_PPI`] are accepted, others
//! refused (resample them first).

use crate::{
    Error,
    finger_image::{Capture, Grayscale},
    template::{Angle, CaptureEquipment, FingerView, Format, Minutia, MinutiaKind, Record, RecordHeader},
};

/// The lowest resolution accepted, in pixels per inch.
pub const MIN_PPI: u16 = 450;
/// The highest resolution accepted, in pixels per inch.
pub const MAX_PPI: u16 = 550;
/// The smallest width or height MINDTCT is given: below this there is no finger to speak of.
pub const MIN_SIDE: u32 = 64;
/// A view holds at most 255 minutiae; beyond that (a noisy capture) the most reliable are kept.
const MAX_MINUTIAE: usize = 255;

/// One minutia as MINDTCT reports it, in record conventions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Extracted {
    /// Pixels from the left edge.
    pub x: u32,
    /// Pixels from the top edge.
    pub y: u32,
    /// Degrees counter-clockwise from the positive x axis, 0..360.
    pub degrees: f64,
    /// Ending or bifurcation.
    pub kind: MinutiaKind,
    /// MINDTCT's reliability, 0..=1.
    pub reliability: f64,
}

/// Runs MINDTCT on the image; every minutia it reports, in its order.
pub fn minutiae(image: &Grayscale) -> Result<Vec<Extracted>, Error> {
    if !(MIN_PPI..=MAX_PPI).contains(&image.ppi()) {
        return Err(Error::extraction(format!(
            "the image is {} ppi; MINDTCT needs {MIN_PPI}..={MAX_PPI} ppi (resample it to 500 first)",
            image.ppi()
        )));
    }
    if image.width() < MIN_SIDE || image.height() < MIN_SIDE {
        return Err(Error::extraction(format!(
            "the image is {}x{}; at least {MIN_SIDE}x{MIN_SIDE} pixels are needed",
            image.width(),
            image.height()
        )));
    }
    let header = format!("P5\n{} {}\n255\n", image.width(), image.height());
    let mut pgm = Vec::with_capacity(header.len() + image.pixels().len());
    pgm.extend_from_slice(header.as_bytes());
    pgm.extend_from_slice(image.pixels());
    let found = nbis::extract_minutiae(&pgm, Some(f64::from(image.ppi())))
        .map_err(|e| Error::extraction(format!("MINDTCT: {e}")))?;
    let mut out = Vec::new();
    for m in found.get() {
        let (Ok(x), Ok(y)) = (u32::try_from(m.x()), u32::try_from(m.y())) else { continue };
        if x >= image.width() || y >= image.height() {
            continue;
        }
        let kind = match m.kind() {
            nbis::MinutiaKind::RidgeEnding => MinutiaKind::Ending,
            nbis::MinutiaKind::Bifurcation => MinutiaKind::Bifurcation,
        };
        out.push(Extracted { x, y, degrees: m.angle(), kind, reliability: m.reliability().clamp(0.0, 1.0) });
    }
    Ok(out)
}

/// Extracts the capture's minutiae into a one-view ISO/IEC 19794-2:2005 record: the image's size
/// and resolution (pixels per centimetre), the capture's finger, impression type and quality (or,
/// when it declared none, MINDTCT's mean minutia reliability as a percentage).
pub fn extract(capture: &Capture) -> Result<Record, Error> {
    let image = &capture.image;
    let mut found = minutiae(image)?;
    if found.len() > MAX_MINUTIAE {
        found.sort_by(|a, b| b.reliability.total_cmp(&a.reliability));
        found.truncate(MAX_MINUTIAE);
    }
    let minutiae: Vec<Minutia> = found
        .iter()
        .map(|m| Minutia {
            kind: m.kind,
            // Both below the image size, which `Grayscale` keeps within 4096.
            x: u16::try_from(m.x).unwrap_or(u16::MAX),
            y: u16::try_from(m.y).unwrap_or(u16::MAX),
            angle: Angle::from_degrees(m.degrees, Format::Iso19794_2_2005),
            quality: percent(m.reliability).max(1),
        })
        .collect();
    let quality = capture.quality.unwrap_or_else(|| {
        let mean = found.iter().map(|m| m.reliability).sum::<f64>() / found.len().max(1) as f64;
        percent(mean)
    });
    // 2.54 cm per inch; 500 ppi is 197 ppcm, as ISO/IEC 19794-2 records it.
    let ppcm = u16::try_from((u32::from(image.ppi()) * 100 + 127) / 254).unwrap_or(u16::MAX);
    let header = RecordHeader {
        format: Format::Iso19794_2_2005,
        product_id: None,
        capture_equipment: CaptureEquipment { appendix_f_certified: false, device_type_id: 0 },
        width: u16::try_from(image.width()).unwrap_or(u16::MAX),
        height: u16::try_from(image.height()).unwrap_or(u16::MAX),
        resolution_x: ppcm,
        resolution_y: ppcm,
    };
    let view = FingerView::new(capture.finger, 0, capture.impression, quality.min(100), minutiae);
    Record::new(header, vec![view])
}

/// 0..=1 as a percentage, rounded.
fn percent(share: f64) -> u8 {
    // Clamped to 0..=100 first, so the conversion cannot saturate.
    (share.clamp(0.0, 1.0) * 100.0).round() as u8
}
