//! Finger images: ISO/IEC 19794-4 finger image records and the compressed images inside them,
//! decoded to greyscale pixels for minutiae extraction ([`crate::extract`]).
//!
//! ```text
//! SBI capture (JWS or its payload) ──bioValue──▶ ISO/IEC 19794-4 record ──▶ WSQ / JPEG 2000 / PNG / JPEG / raw
//!                                             WSQ / PNG / JPEG / JPEG 2000 file ─────┘              │
//!                                                                                          Grayscale pixels
//! ```
//!
//! Scanners behind a MOSIP SBI device service send registration captures as ISO/IEC 19794-4
//! records (the 2011 edition; the 2005 one is read too), not minutiae: de-duplication has to see
//! the image. [`parse_image_record`] reads a record strictly — lengths and counts must add up,
//! codes must be defined, the image data must start like the compression its header names — and
//! says at which byte it is wrong. [`Capture::from_bytes`] takes whatever an operator or the
//! enrolment service holds (a record, an image file, an SBI data element) and yields the pixels
//! with the finger and quality the capture declared.
//!
//! Decoders: WSQ by our own decoder (`wsq`: no maintained Rust crate decodes it; it reproduces the
//! pixels of NIST's reference decoder exactly, and refuses even-length filters and restart
//! intervals, which no encoder we know uses), JPEG 2000 through `hayro-jpeg2000` (pure Rust, no
//! unsafe code in it: captures come from devices we do not control), PNG and JPEG through `image`
//! with size limits, uncompressed 8-bit pixels as they are. Images above [`MAX_SIDE`] pixels per
//! side or [`MAX_PIXELS`] in all are refused before decoding.
//!
//! Only the SBI data element's `bioValue` (or `bioExtract`) is decoded here; whether the device's
//! signature over it holds is the SBI client's business, and nothing extracted from an unverified
//! capture should reach a gallery.

mod decode;
mod record;
mod wsq;

use base64::Engine as _;
use serde::Serialize;

pub use record::{
    CaptureTime, Compression, ExtendedImageBlock, FingerImage, FingerImageRecord, ImageFormat, QualityBlock,
    parse_image_record,
};

use crate::{
    Error,
    template::{FingerPosition, ImpressionType},
};

/// The largest width or height accepted: a four-finger slap at 1000 ppi is about 3200 pixels wide.
pub const MAX_SIDE: u32 = 4096;
/// The most pixels accepted (16 MiB of 8-bit pixels).
pub const MAX_PIXELS: u64 = 16 * 1024 * 1024;
/// The largest input [`Capture::from_bytes`] reads (a base64 SBI element of a large image).
pub const MAX_INPUT: usize = 32 * 1024 * 1024;
/// The resolution assumed for image files that do not say (PNG, JPEG): what SBI devices deliver.
pub const DEFAULT_PPI: u16 = 500;

/// An 8-bit greyscale image, 0 black and 255 white, rows top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grayscale {
    width: u32,
    height: u32,
    ppi: u16,
    pixels: Vec<u8>,
}

impl Grayscale {
    /// An image from its pixels, checked: `pixels.len() == width * height`, both within
    /// [`MAX_SIDE`] and [`MAX_PIXELS`], and a resolution that is not 0.
    pub fn new(width: u32, height: u32, ppi: u16, pixels: Vec<u8>) -> Result<Self, Error> {
        decode::check_dimensions(width, height)?;
        if ppi == 0 {
            return Err(Error::image("resolution is 0 pixels per inch"));
        }
        let expected = u64::from(width) * u64::from(height);
        if pixels.len() as u64 != expected {
            return Err(Error::image(format!(
                "{} pixels given for a {width}x{height} image ({expected} needed)",
                pixels.len()
            )));
        }
        Ok(Grayscale { width, height, ppi, pixels })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Resolution in pixels per inch.
    pub fn ppi(&self) -> u16 {
        self.ppi
    }

    /// The pixels, row by row.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }
}

/// Which field of an SBI data element holds the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SbiField {
    /// `bioValue`, the field the SBI specification defines.
    #[default]
    BioValue,
    /// `bioExtract`, where MOSIP's mock device service puts the ISO/IEC 19794-4 record while its
    /// `bioValue` holds a JPEG.
    BioExtract,
}

/// What the input was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// An ISO/IEC 19794-4 record.
    ImageRecord(ImageFormat),
    /// A PNG file.
    Png,
    /// A JPEG file.
    Jpeg,
    /// A JPEG 2000 file or codestream.
    Jpeg2000,
    /// A WSQ file.
    Wsq,
}

/// A decoded finger image with what its capture said about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    /// The pixels.
    pub image: Grayscale,
    /// Which finger (unknown for bare image files unless the caller says).
    pub finger: FingerPosition,
    /// How it was captured (ISO/IEC 19794-2:2005 has fewer codes than 19794-4: unknown,
    /// contactless and latent codes are written as live-scan plain).
    pub impression: ImpressionType,
    /// The capture's quality score (0-100), if it declared one: the record's, or the SBI
    /// element's `qualityScore`.
    pub quality: Option<u8>,
    /// What the image came in.
    pub source: Source,
}

impl Capture {
    /// Reads an ISO/IEC 19794-4 record, a WSQ, PNG, JPEG or JPEG 2000 file, or an SBI capture data
    /// element — a compact JWS, its bare base64url payload, or the payload's JSON — and decodes
    /// the image in it (`field` says which field of an SBI element; ignored otherwise). `ppi` is
    /// the resolution for image files that carry none (records and SBI elements say theirs, and
    /// so does a WSQ file with a NISTCOM comment).
    pub fn from_bytes(bytes: &[u8], field: SbiField, ppi: u16) -> Result<Capture, Error> {
        if bytes.len() > MAX_INPUT {
            return Err(Error::image(format!("input of {} bytes is above the {MAX_INPUT}-byte limit", bytes.len())));
        }
        if let Some(capture) = Self::from_binary(bytes, ppi)? {
            return Ok(capture);
        }
        Self::from_sbi(bytes, field)
    }

    /// An ISO/IEC 19794-4 record or an image file, by its signature; `None` when it is neither.
    fn from_binary(bytes: &[u8], ppi: u16) -> Result<Option<Capture>, Error> {
        let bare = |image: Grayscale, source: Source| Capture {
            image,
            finger: FingerPosition::Unknown,
            impression: ImpressionType::LivePlain,
            quality: None,
            source,
        };
        if bytes.starts_with(b"FIR\0") {
            let record = parse_image_record(bytes).map_err(Error::ImageRecord)?;
            return Capture::from_record(&record).map(Some);
        }
        if bytes.starts_with(record::PNG_SIGNATURE) {
            let image = decode::decode_with_image_crate(bytes, ::image::ImageFormat::Png, ppi).map_err(Error::image)?;
            return Ok(Some(bare(image, Source::Png)));
        }
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            let image =
                decode::decode_with_image_crate(bytes, ::image::ImageFormat::Jpeg, ppi).map_err(Error::image)?;
            return Ok(Some(bare(image, Source::Jpeg)));
        }
        if bytes.starts_with(record::JP2_SIGNATURE) || bytes.starts_with(record::J2K_SIGNATURE) {
            let image = decode::decode_jpeg2000(bytes, ppi).map_err(Error::image)?;
            return Ok(Some(bare(image, Source::Jpeg2000)));
        }
        if bytes.starts_with(&[0xFF, 0xA0]) {
            return decode_wsq(bytes, ppi).map(|image| Some(bare(image, Source::Wsq)));
        }
        Ok(None)
    }

    /// The one finger image of a record, decoded.
    pub fn from_record(record: &FingerImageRecord) -> Result<Capture, Error> {
        let [image] = record.images.as_slice() else {
            return Err(Error::image(format!(
                "the record holds {} finger images; extraction takes one",
                record.images.len()
            )));
        };
        let finger = FingerPosition::from_code(image.position).ok_or_else(|| {
            Error::image(format!(
                "position {} is a multi-finger or palm image; segment it into single fingers first",
                image.position
            ))
        })?;
        let impression = match image.impression_type {
            1 => ImpressionType::LiveRolled,
            2 => ImpressionType::NonLivePlain,
            3 => ImpressionType::NonLiveRolled,
            8 => ImpressionType::Swipe,
            _ => ImpressionType::LivePlain,
        };
        if image.ppi_x != image.ppi_y {
            return Err(Error::image(format!(
                "resolution {}x{} ppi is not square; resample the image first",
                image.ppi_x, image.ppi_y
            )));
        }
        let pixels = decode::decode_record_image(image)?;
        Ok(Capture {
            image: pixels,
            finger,
            impression,
            quality: image.quality,
            source: Source::ImageRecord(record.format),
        })
    }

    /// An SBI capture data element: compact JWS, bare base64url payload, or JSON.
    fn from_sbi(bytes: &[u8], field: SbiField) -> Result<Capture, Error> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| Error::image("not an ISO/IEC 19794-4 record, WSQ, PNG, JPEG, JPEG 2000 or SBI capture"))?
            .trim();
        let json: Vec<u8> = if text.starts_with('{') {
            text.as_bytes().to_vec()
        } else {
            let parts: Vec<&str> = text.split('.').collect();
            let payload = match parts.as_slice() {
                [_, payload, _] => *payload,
                [payload] => *payload,
                _ => {
                    return Err(Error::image(format!(
                        "{} dot-separated parts: neither a compact JWS (3) nor a bare payload (1)",
                        parts.len()
                    )));
                }
            };
            base64url(payload).map_err(|e| Error::image(format!("the SBI payload is not base64url: {e}")))?
        };
        let element: serde_json::Value =
            serde_json::from_slice(&json).map_err(|e| Error::image(format!("the SBI payload is not JSON: {e}")))?;
        let name = match field {
            SbiField::BioValue => "bioValue",
            SbiField::BioExtract => "bioExtract",
        };
        let encoded = element
            .get(name)
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| Error::image(format!("the SBI data element has no {name} string")))?;
        let inner = base64url(encoded).map_err(|e| Error::image(format!("{name} is not base64url: {e}")))?;
        let mut capture = Self::from_binary(&inner, DEFAULT_PPI)?
            .ok_or_else(|| Error::image(format!("{name} is not an ISO/IEC 19794-4 record or an image")))?;
        if let Some(sub_type) = element.get("bioSubType").and_then(serde_json::Value::as_str) {
            let declared =
                sbi_finger(sub_type).ok_or_else(|| Error::image(format!("bioSubType {sub_type:?} is not a finger")))?;
            match capture.finger {
                FingerPosition::Unknown => capture.finger = declared,
                finger if finger == declared || declared == FingerPosition::Unknown => {}
                finger => {
                    return Err(Error::image(format!(
                        "bioSubType {sub_type:?} but the image record says {finger:?}: inconsistent capture"
                    )));
                }
            }
        }
        if capture.quality.is_none() {
            capture.quality = element
                .get("qualityScore")
                .and_then(|q| q.as_u64().or_else(|| q.as_str().and_then(|s| s.parse().ok())))
                .and_then(|q| u8::try_from(q).ok())
                .filter(|&q| q <= 100);
        }
        Ok(capture)
    }
}

/// Decodes a WSQ file (FBI IAFIS-IC-0110 v3) to pixels. The resolution is the one its NISTCOM
/// comment declares, else `ppi`. A malformed stream is refused with the byte where it goes wrong.
pub fn decode_wsq(bytes: &[u8], ppi: u16) -> Result<Grayscale, Error> {
    if bytes.len() > MAX_INPUT {
        return Err(Error::image(format!("input of {} bytes is above the {MAX_INPUT}-byte limit", bytes.len())));
    }
    decode::decode_wsq(bytes, |declared| declared.unwrap_or(ppi)).map_err(|e| Error::image(e.to_string()))
}

/// base64url as the SBI specification uses it (no padding); trailing `=` tolerated.
fn base64url(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text.trim().trim_end_matches('='))
}

/// The finger an SBI `bioSubType` names ("Left IndexFinger", "Right Thumb", "UNKNOWN").
fn sbi_finger(sub_type: &str) -> Option<FingerPosition> {
    Some(match sub_type {
        "Right Thumb" => FingerPosition::RightThumb,
        "Right IndexFinger" => FingerPosition::RightIndex,
        "Right MiddleFinger" => FingerPosition::RightMiddle,
        "Right RingFinger" => FingerPosition::RightRing,
        "Right LittleFinger" => FingerPosition::RightLittle,
        "Left Thumb" => FingerPosition::LeftThumb,
        "Left IndexFinger" => FingerPosition::LeftIndex,
        "Left MiddleFinger" => FingerPosition::LeftMiddle,
        "Left RingFinger" => FingerPosition::LeftRing,
        "Left LittleFinger" => FingerPosition::LeftLittle,
        "UNKNOWN" | "Unknown" => FingerPosition::Unknown,
        _ => return None,
    })
}
