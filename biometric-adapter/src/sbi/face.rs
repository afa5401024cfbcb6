//! Face photos at enrolment (SBI 0.9.5 `bioType` "Face", `bioSubType` empty): the ISO/IEC
//! 19794-5:2005 face image record a camera's bioValue carries, read and written; the simulator's
//! deterministic photo of a synthetic person; and the verification of a signed face capture, with
//! the same JWS, certificate-chain, digital-id, transaction and hash-chain checks as fingers
//! ([`super::verify`]).
//!
//! The record: a 14-byte header (`FAC\0`, version `010\0`, the record's length in 4 bytes, the
//! number of images in 2), then per image a 20-byte facial information block (the block's
//! length, the number of feature points, gender, eye and hair colour, feature mask, expression,
//! pose angles and their uncertainty), 8 bytes per feature point, a 12-byte image information
//! block (face image type, image data type 0 JPEG or 1 JPEG 2000, width, height, colour space,
//! source type, device type, quality) and the image itself.

use super::{SbiError, messages::CaptureRequest};

/// The header's format identifier.
const FORMAT: &[u8; 4] = b"FAC\0";
/// The 2005 edition's version.
const VERSION: &[u8; 4] = b"010\0";
const HEADER: usize = 14;
const FACIAL_INFO: usize = 20;
const FEATURE_POINT: usize = 8;
const IMAGE_INFO: usize = 12;
/// Largest photo dimension accepted (a full-frontal portrait needs far less).
pub const MAX_DIMENSION: u16 = 4096;

/// How the photo inside a record is encoded (19794-5 image data type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceImageType {
    /// JPEG (ISO/IEC 10918), data type 0.
    Jpeg,
    /// JPEG 2000, data type 1.
    Jpeg2000,
}

impl FaceImageType {
    /// The media type, for serving the photo.
    pub fn media_type(self) -> &'static str {
        match self {
            FaceImageType::Jpeg => "image/jpeg",
            FaceImageType::Jpeg2000 => "image/jp2",
        }
    }
}

/// The photo of a parsed face image record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaceImage {
    /// Encoding.
    pub kind: FaceImageType,
    /// Width in pixels, as the record declares it.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// The encoded image.
    pub data: Vec<u8>,
}

fn bad(reason: impl Into<String>) -> SbiError {
    SbiError::Malformed { what: "the face image record".into(), reason: reason.into() }
}

fn be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b))
}

/// Wraps an encoded photo in a 19794-5 record (one full-frontal image, no feature points).
pub fn write_record(image: &FaceImage) -> Vec<u8> {
    let block = FACIAL_INFO + IMAGE_INFO + image.data.len();
    let total = HEADER + block;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(FORMAT);
    out.extend_from_slice(VERSION);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    // Facial information: length, no feature points, gender/eyes/hair unspecified, no features,
    // neutral expression, pose angles and uncertainties unspecified.
    out.extend_from_slice(&(block as u32).to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    // Image information: full frontal (1), data type, size, 24-bit sRGB (1), static photo from a
    // digital still camera (2), device type unspecified, quality unspecified.
    out.push(1);
    out.push(match image.kind {
        FaceImageType::Jpeg => 0,
        FaceImageType::Jpeg2000 => 1,
    });
    out.extend_from_slice(&image.width.to_be_bytes());
    out.extend_from_slice(&image.height.to_be_bytes());
    out.push(1);
    out.push(2);
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&image.data);
    out
}

/// Reads a 19794-5 record: exactly one image, every length consistent, and a JPEG that is
/// complete (from its start-of-image to its end-of-image marker) and decodes to the declared
/// size (a JPEG 2000 photo is accepted by its container alone).
pub fn parse_record(bytes: &[u8]) -> Result<FaceImage, SbiError> {
    if bytes.len() < HEADER + FACIAL_INFO + IMAGE_INFO {
        return Err(bad(format!("{} bytes is too short", bytes.len())));
    }
    if &bytes[0..4] != FORMAT {
        return Err(bad("it does not start with FAC\\0"));
    }
    if &bytes[4..8] != VERSION {
        return Err(bad("only the 2005 edition (version 010) is supported"));
    }
    let declared = be(&bytes[8..12]);
    if declared != bytes.len() as u64 {
        return Err(bad(format!("it declares {declared} bytes but has {}", bytes.len())));
    }
    if be(&bytes[12..14]) != 1 {
        return Err(bad(format!("{} images, exactly one expected", be(&bytes[12..14]))));
    }
    let block = &bytes[HEADER..];
    if be(&block[0..4]) != block.len() as u64 {
        return Err(bad("the facial information block's length does not match the record"));
    }
    let points = usize::try_from(be(&block[4..6])).map_err(|_| bad("feature points"))?;
    let info_at = FACIAL_INFO + points * FEATURE_POINT;
    let Some(info) = block.get(info_at..info_at + IMAGE_INFO) else {
        return Err(bad("truncated before the image information"));
    };
    let kind = match info[1] {
        0 => FaceImageType::Jpeg,
        1 => FaceImageType::Jpeg2000,
        t => return Err(bad(format!("image data type {t} is neither JPEG nor JPEG 2000"))),
    };
    let (width, height) = (be(&info[2..4]) as u16, be(&info[4..6]) as u16);
    if width == 0 || height == 0 || width > MAX_DIMENSION || height > MAX_DIMENSION {
        return Err(bad(format!("a {width}×{height} photo")));
    }
    let data = block[info_at + IMAGE_INFO..].to_vec();
    if data.is_empty() {
        return Err(bad("no image data"));
    }
    if kind == FaceImageType::Jpeg {
        // The decoder fills in what is missing from a JPEG cut short, so completeness is checked
        // here: a photo that lost its lower half must not reach a supervisor as the applicant.
        if !data.starts_with(&[0xff, 0xd8]) {
            return Err(bad("the JPEG does not start with its start-of-image marker"));
        }
        if !data.ends_with(&[0xff, 0xd9]) {
            return Err(bad("the JPEG does not end with its end-of-image marker (cut short?)"));
        }
        let mut reader = image::ImageReader::with_format(std::io::Cursor::new(&data), image::ImageFormat::Jpeg);
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(u32::from(MAX_DIMENSION));
        limits.max_image_height = Some(u32::from(MAX_DIMENSION));
        limits.max_alloc = Some(64 << 20);
        reader.limits(limits);
        let decoded = reader.decode().map_err(|e| bad(format!("the JPEG does not decode: {e}")))?;
        if (decoded.width(), decoded.height()) != (u32::from(width), u32::from(height)) {
            return Err(bad(format!(
                "the record says {width}×{height}, the JPEG is {}×{}",
                decoded.width(),
                decoded.height()
            )));
        }
    }
    Ok(FaceImage { kind, width, height, data })
}

/// The simulator's photo of population person `person`: a drawn portrait (skin, hair, eyes and
/// mouth varied by the person's number), JPEG-encoded, the same every time for the same person.
pub fn synthetic_photo(person: u64) -> Result<FaceImage, SbiError> {
    const W: u32 = 120;
    const H: u32 = 150;
    let pick = |shift: u32, n: u64| (person.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> shift) % n;
    let skin = [[224u8, 187, 150], [198, 150, 110], [170, 120, 85], [141, 98, 66]][pick(3, 4) as usize];
    let hair = [[20u8, 20, 20], [60, 40, 25], [90, 70, 50]][pick(11, 3) as usize];
    let background = [[200u8, 215, 235], [230, 230, 230], [210, 225, 210]][pick(17, 3) as usize];
    let face_w = 34.0 + pick(23, 8) as f32;
    let face_h = 46.0 + pick(29, 8) as f32;
    let eye_gap = 12.0 + pick(37, 5) as f32;
    let mouth_w = 10.0 + pick(43, 7) as f32;
    let (cx, cy) = (W as f32 / 2.0, H as f32 / 2.0 + 6.0);
    let img = image::RgbImage::from_fn(W, H, |x, y| {
        let (fx, fy) = (x as f32 - cx, y as f32 - cy);
        let inside = |a: f32, b: f32, dx: f32, dy: f32| (dx / a).powi(2) + (dy / b).powi(2) <= 1.0;
        let eye = |side: f32| inside(4.0, 2.5, fx - side * eye_gap, fy + 10.0);
        let px = if inside(face_w, face_h, fx, fy) {
            if eye(1.0) || eye(-1.0) {
                [40, 30, 30]
            } else if inside(mouth_w, 2.0, fx, fy - 22.0) {
                [150, 60, 60]
            } else if fy < -face_h * 0.55 {
                hair
            } else {
                skin
            }
        } else if inside(face_w + 6.0, face_h + 8.0, fx, fy + 6.0) && fy < 0.0 {
            hair
        } else if fy > face_h * 0.8 && inside(W as f32 * 0.45, H as f32 * 0.35, fx, fy - H as f32 * 0.5) {
            [60, 80, 120]
        } else {
            background
        };
        image::Rgb(px)
    });
    let mut data = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut data, 85)
        .encode_image(&img)
        .map_err(|e| SbiError::Keys { reason: format!("encoding the photo: {e}") })?;
    Ok(FaceImage { kind: FaceImageType::Jpeg, width: W as u16, height: H as u16, data })
}

/// Whether `request` asks a camera for one face photo (and nothing else).
pub fn is_face_request(request: &CaptureRequest) -> bool {
    matches!(request.bio.as_slice(), [b] if b.bio_type == "Face" && b.count == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_photo_round_trips_through_its_record() {
        let photo = synthetic_photo(7).unwrap();
        assert!(photo.data.starts_with(&[0xff, 0xd8]), "a JPEG");
        assert_eq!(synthetic_photo(7).unwrap(), photo, "the same person, the same photo");
        assert_ne!(synthetic_photo(8).unwrap().data, photo.data, "another person, another photo");
        let record = write_record(&photo);
        assert!(record.starts_with(b"FAC\x00010\0"));
        assert_eq!(parse_record(&record).unwrap(), photo);
    }

    #[test]
    fn bad_records_are_refused() {
        let record = write_record(&synthetic_photo(1).unwrap());
        let mut truncated = record.clone();
        truncated.truncate(record.len() - 10);
        assert!(parse_record(&truncated).is_err(), "length");
        let mut other = record.clone();
        other[0] = b'X';
        assert!(parse_record(&other).is_err(), "format");
        let mut size = record.clone();
        size[HEADER + FACIAL_INFO + 2..HEADER + FACIAL_INFO + 4].copy_from_slice(&121u16.to_be_bytes());
        assert!(parse_record(&size).unwrap_err().to_string().contains("121×150"), "declared size");
        let mut garbage = record.clone();
        let at = HEADER + FACIAL_INFO + IMAGE_INFO + 40;
        garbage.truncate(at);
        let n = garbage.len() as u32;
        garbage[8..12].copy_from_slice(&n.to_be_bytes());
        let block = n - HEADER as u32;
        garbage[HEADER..HEADER + 4].copy_from_slice(&block.to_be_bytes());
        assert!(parse_record(&garbage).unwrap_err().to_string().contains("JPEG"), "a JPEG cut short");
        assert!(parse_record(b"FAC\0").is_err());
        // Half a JPEG decodes (the decoder pads it), but is refused.
        let mut half = synthetic_photo(1).unwrap();
        half.data.truncate(half.data.len() / 2);
        let err = parse_record(&write_record(&half)).unwrap_err().to_string();
        assert!(err.contains("end-of-image"), "{err}");
    }
}
