//! ISO/IEC 19794-4 finger image records, 2005 and 2011 editions: the typed model and the strict
//! parser.
//!
//! Layouts (all integers big-endian):
//!
//! ```text
//! 2005 ("FIR\0" "010\0")                        2011 ("FIR\0" "020\0")
//! general header, 32 bytes:                     general header, 16 bytes:
//!   record length            6                    record length               4
//!   capture device id        2                    representations             2
//!   image acquisition level  2                    certification flag          1
//!   finger/palm records      1                    distinct positions          1
//!   scale units              1                  representation:
//!   scan resolution h, v     2+2                  representation length       4
//!   image resolution h, v    2+2                  capture date and time       9
//!   pixel depth              1                    device technology, vendor, type 1+2+2
//!   compression              1                    quality blocks              1 + 5 each
//!   reserved (0)             2                    certification blocks        (1 + 3 each, if flagged)
//! finger image header, 14 bytes:                  position, representation no 1+1
//!   block length (with header) 4                  scale units                 1
//!   position, view count, view 1+1+1              capture resolution h, v     2+2
//!   quality, impression type 1+1                  image resolution h, v       2+2
//!   line length h, v          2+2                 bit depth, compression      1+1
//!   reserved (0)              1                   impression type             1
//! image data                                      line length h, v            2+2
//!                                                 image data length           4
//!                                                 image data
//!                                                 extended data blocks (type 2, length 2 incl. header)
//! ```
//!
//! Strict, as the minutiae parser is: counts and lengths must add up, codes must be defined, and
//! the compressed data must at least start like the compression its header names. Each error says
//! at which byte.

use serde::Serialize;

use crate::template::ParseError;

const MAGIC: [u8; 4] = *b"FIR\0";
const V2005: [u8; 4] = *b"010\0";
const V2011: [u8; 4] = *b"020\0";
const HEADER_2005: usize = 32;
const FINGER_HEADER_2005: usize = 14;
const HEADER_2011: usize = 16;

/// Which edition of ISO/IEC 19794-4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ImageFormat {
    /// ISO/IEC 19794-4:2005 (version "010").
    #[serde(rename = "ISO/IEC 19794-4:2005")]
    Iso19794_4_2005,
    /// ISO/IEC 19794-4:2011 (version "020"), what MOSIP SBI registration captures carry.
    #[serde(rename = "ISO/IEC 19794-4:2011")]
    Iso19794_4_2011,
}

/// How the image data of a representation is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// Uncompressed, one pixel per byte (code 0).
    Uncompressed,
    /// Uncompressed, bit-packed (code 1).
    BitPacked,
    /// WSQ, the FBI's wavelet scalar quantization (code 2).
    Wsq,
    /// JPEG, ISO/IEC 10918 (code 3).
    Jpeg,
    /// JPEG 2000 (2005: code 4; 2011: code 4, lossy).
    Jpeg2000,
    /// JPEG 2000 lossless (2011: code 5).
    Jpeg2000Lossless,
    /// PNG (2005: code 5; 2011: code 6).
    Png,
}

impl Compression {
    fn from_code(code: u8, format: ImageFormat) -> Option<Compression> {
        match (code, format) {
            (0, _) => Some(Compression::Uncompressed),
            (1, _) => Some(Compression::BitPacked),
            (2, _) => Some(Compression::Wsq),
            (3, _) => Some(Compression::Jpeg),
            (4, _) => Some(Compression::Jpeg2000),
            (5, ImageFormat::Iso19794_4_2005) => Some(Compression::Png),
            (5, ImageFormat::Iso19794_4_2011) => Some(Compression::Jpeg2000Lossless),
            (6, ImageFormat::Iso19794_4_2011) => Some(Compression::Png),
            _ => None,
        }
    }

    /// Whether `data` starts the way this encoding's streams start (the signature or first
    /// marker); `None` when the encoding has no signature (uncompressed pixels).
    fn signature_matches(self, data: &[u8]) -> Option<bool> {
        match self {
            Compression::Uncompressed | Compression::BitPacked => None,
            Compression::Wsq => Some(data.starts_with(&[0xFF, 0xA0])),
            Compression::Jpeg => Some(data.starts_with(&[0xFF, 0xD8])),
            Compression::Jpeg2000 | Compression::Jpeg2000Lossless => {
                Some(data.starts_with(JP2_SIGNATURE) || data.starts_with(J2K_SIGNATURE))
            }
            Compression::Png => Some(data.starts_with(PNG_SIGNATURE)),
        }
    }
}

pub(crate) const JP2_SIGNATURE: &[u8] = b"\x00\x00\x00\x0CjP  \r\n\x87\n";
pub(crate) const J2K_SIGNATURE: &[u8] = &[0xFF, 0x4F, 0xFF, 0x51];
pub(crate) const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A capture date and time (2011 edition), as recorded by the device (UTC by the standard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CaptureTime {
    /// Year.
    pub year: u16,
    /// Month, 1..=12.
    pub month: u8,
    /// Day, 1..=31.
    pub day: u8,
    /// Hour, 0..=23.
    pub hour: u8,
    /// Minute, 0..=59.
    pub minute: u8,
    /// Second, 0..=59.
    pub second: u8,
    /// Millisecond, 0..=999.
    pub millisecond: u16,
}

/// A quality block (2011 edition): a score and the algorithm that gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QualityBlock {
    /// 0..=100, or 255 when the algorithm failed.
    pub score: u8,
    /// The algorithm vendor's registered identifier.
    pub vendor: u16,
    /// The vendor's algorithm identifier.
    pub algorithm: u16,
}

/// An extended-data block after a representation's image (2011 edition): segmentation (type 1),
/// annotation (2), comment (3) or vendor-defined; kept undecoded except comments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtendedImageBlock {
    /// The block type.
    pub type_code: u16,
    /// The block's data, without its 4-byte header.
    #[serde(skip)]
    pub data: Vec<u8>,
    /// The data as text when the block is a comment in UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// One image of one finger (a "finger image record" in 2005, a "representation" in 2011).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct FingerImage {
    /// Finger or palm position code (0 unknown, 1-10 single fingers, 11-15 multi-finger plain
    /// impressions, 20-38 palms, 40-50 finger segments and tips).
    pub position: u8,
    /// 2005: the view number (1 up to the view count); 2011: the representation number.
    pub view_number: u8,
    /// Impression type code (0 live-scan plain, 1 live-scan rolled, … 29 unknown).
    pub impression_type: u8,
    /// Finger quality, 0..=100 (2005: the header byte, 254 "not provided" reads as `None`;
    /// 2011: the first quality block's score), or `None`.
    pub quality: Option<u8>,
    /// 2011: every quality block.
    pub quality_blocks: Vec<QualityBlock>,
    /// 2011: when the device captured it.
    pub capture_time: Option<CaptureTime>,
    /// Image width in pixels (horizontal line length).
    pub width: u16,
    /// Image height in pixels (vertical line length).
    pub height: u16,
    /// Horizontal image resolution in pixels per inch (converted when the record counts per
    /// centimetre).
    pub ppi_x: u16,
    /// Vertical image resolution in pixels per inch.
    pub ppi_y: u16,
    /// Bits per pixel.
    pub bit_depth: u8,
    /// How [`FingerImage::data`] is encoded.
    pub compression: Compression,
    /// Offset of the image data in the record (for error messages about its content).
    pub data_offset: usize,
    /// The encoded image.
    #[serde(skip)]
    pub data: Vec<u8>,
    /// 2011: extended-data blocks after the image.
    pub extended_data: Vec<ExtendedImageBlock>,
}

/// A parsed ISO/IEC 19794-4 finger image record.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct FingerImageRecord {
    /// The edition.
    pub format: ImageFormat,
    /// The images in record order.
    pub images: Vec<FingerImage>,
}

/// Parses and validates an ISO/IEC 19794-4:2005 or :2011 finger image record. Bytes after the
/// declared record length must be zero (padding), as for minutiae records.
pub fn parse_image_record(bytes: &[u8]) -> Result<FingerImageRecord, ParseError> {
    let mut c = Cursor { bytes, pos: 0 };
    let magic = c.array::<4>("the format identifier")?;
    if magic != MAGIC {
        return Err(ParseError::new(
            0,
            format!("format identifier is {magic:02x?} where a finger image record has \"FIR\\0\""),
        ));
    }
    let version = c.array::<4>("the version")?;
    let record = match version {
        V2005 => parse_2005(&mut c)?,
        V2011 => parse_2011(&mut c)?,
        other => {
            let hint = if other == *b"030\0" { " (ISO/IEC 19794-4:2011 Amd, \"030\", is not supported)" } else { "" };
            return Err(ParseError::new(
                4,
                format!(
                    "version is {other:02x?} where ISO/IEC 19794-4 has \"010\\0\" (2005) or \"020\\0\" (2011){hint}"
                ),
            ));
        }
    };
    if let Some(i) = bytes.get(c.pos..).and_then(|rest| rest.iter().position(|&b| b != 0)) {
        return Err(ParseError::new(
            c.pos + i,
            format!("non-zero byte after the record's declared length ({} bytes)", c.pos),
        ));
    }
    Ok(record)
}

fn parse_2005(c: &mut Cursor<'_>) -> Result<FingerImageRecord, ParseError> {
    let declared = c.u48("the record length")?;
    let declared = check_record_length(c.bytes, declared, HEADER_2005, 8)?;
    let _capture_device = c.u16("the capture device id")?;
    let level_at = c.pos;
    let acquisition_level = c.u16("the image acquisition level")?;
    if ![10, 20, 30, 31, 40, 41].contains(&acquisition_level) {
        return Err(ParseError::new(
            level_at,
            format!("image acquisition level {acquisition_level} is not one of 10, 20, 30, 31, 40, 41"),
        ));
    }
    let count_at = c.pos;
    let count = c.u8("the number of finger images")?;
    let units_at = c.pos;
    let units = c.u8("the scale units")?;
    let _scan_h = c.u16("the horizontal scan resolution")?;
    let _scan_v = c.u16("the vertical scan resolution")?;
    let res_at = c.pos;
    let res_h = c.u16("the horizontal image resolution")?;
    let res_v = c.u16("the vertical image resolution")?;
    let depth_at = c.pos;
    let depth = c.u8("the pixel depth")?;
    let comp_at = c.pos;
    let comp_code = c.u8("the image compression algorithm")?;
    let reserved_at = c.pos;
    if c.u16("the reserved bytes")? != 0 {
        return Err(ParseError::new(reserved_at, "reserved bytes are not zero"));
    }
    let (ppi_x, ppi_y) = ppi(units, res_h, res_v, units_at, res_at)?;
    if !(1..=16).contains(&depth) {
        return Err(ParseError::new(depth_at, format!("pixel depth {depth} is outside 1..=16")));
    }
    let compression = Compression::from_code(comp_code, ImageFormat::Iso19794_4_2005)
        .ok_or_else(|| ParseError::new(comp_at, format!("compression algorithm {comp_code} is not defined (0-5)")))?;
    if count == 0 {
        return Err(ParseError::new(count_at, "the record holds no finger image"));
    }
    let mut images = Vec::with_capacity(usize::from(count));
    for i in 0..count {
        let start = c.pos;
        let block_len = c.u32("a finger image's block length")?;
        let block_len = usize::try_from(block_len).unwrap_or(usize::MAX);
        if block_len < FINGER_HEADER_2005 || block_len > declared.saturating_sub(start) {
            return Err(ParseError::new(
                start,
                format!(
                    "finger image {i}: block length {block_len} is not between its {FINGER_HEADER_2005}-byte header \
                     and the {} bytes left in the record",
                    declared.saturating_sub(start)
                ),
            ));
        }
        let position_at = c.pos;
        let position = c.u8("the finger position")?;
        check_position(position, position_at)?;
        let views_at = c.pos;
        let views = c.u8("the count of views")?;
        let view = c.u8("the view number")?;
        if views == 0 || view == 0 || view > views {
            return Err(ParseError::new(
                views_at,
                format!("view number {view} of {views} views; views are numbered 1 up to the count"),
            ));
        }
        let quality_at = c.pos;
        let quality = c.u8("the finger image quality")?;
        let quality = match quality {
            0..=100 => Some(quality),
            254 => None,
            q => return Err(ParseError::new(quality_at, format!("finger quality {q} is neither 0..=100 nor 254"))),
        };
        let impression_at = c.pos;
        let impression_type = c.u8("the impression type")?;
        check_impression(impression_type, impression_at)?;
        let size_at = c.pos;
        let width = c.u16("the horizontal line length")?;
        let height = c.u16("the vertical line length")?;
        check_size(width, height, size_at)?;
        let reserved_at = c.pos;
        if c.u8("the reserved byte")? != 0 {
            return Err(ParseError::new(reserved_at, "reserved byte is not zero"));
        }
        let data_offset = c.pos;
        let data = c.take(block_len - FINGER_HEADER_2005, "the image data")?;
        check_data(compression, depth, width, height, data, data_offset)?;
        images.push(FingerImage {
            position,
            view_number: view,
            impression_type,
            quality,
            quality_blocks: Vec::new(),
            capture_time: None,
            width,
            height,
            ppi_x,
            ppi_y,
            bit_depth: depth,
            compression,
            data_offset,
            data: data.to_vec(),
            extended_data: Vec::new(),
        });
    }
    if c.pos != declared {
        return Err(ParseError::new(
            c.pos,
            format!("{count} finger images end at byte {} but the record length says {declared}", c.pos),
        ));
    }
    Ok(FingerImageRecord { format: ImageFormat::Iso19794_4_2005, images })
}

fn parse_2011(c: &mut Cursor<'_>) -> Result<FingerImageRecord, ParseError> {
    let declared = c.u32("the record length")?;
    let declared = check_record_length(c.bytes, u64::from(declared), HEADER_2011, 8)?;
    let count_at = c.pos;
    let count = c.u16("the number of representations")?;
    let flag_at = c.pos;
    let certified = match c.u8("the certification flag")? {
        0 => false,
        1 => true,
        f => return Err(ParseError::new(flag_at, format!("certification flag {f} is neither 0 nor 1"))),
    };
    let distinct_at = c.pos;
    let distinct = c.u8("the number of distinct positions")?;
    if count == 0 {
        return Err(ParseError::new(count_at, "the record holds no representation"));
    }
    let mut images: Vec<FingerImage> = Vec::with_capacity(usize::from(count).min(64));
    for i in 0..count {
        images.push(representation_2011(c, declared, certified, i)?);
    }
    if c.pos != declared {
        return Err(ParseError::new(
            c.pos,
            format!("{count} representations end at byte {} but the record length says {declared}", c.pos),
        ));
    }
    let mut positions: Vec<u8> = images.iter().map(|im| im.position).collect();
    positions.sort_unstable();
    positions.dedup();
    if positions.len() != usize::from(distinct) {
        return Err(ParseError::new(
            distinct_at,
            format!("the header counts {distinct} distinct positions but the representations have {}", positions.len()),
        ));
    }
    Ok(FingerImageRecord { format: ImageFormat::Iso19794_4_2011, images })
}

fn representation_2011(
    c: &mut Cursor<'_>,
    declared: usize,
    certified: bool,
    i: u16,
) -> Result<FingerImage, ParseError> {
    let start = c.pos;
    let rep_len = usize::try_from(c.u32("a representation's length")?).unwrap_or(usize::MAX);
    let left = declared.saturating_sub(start);
    if rep_len > left {
        return Err(ParseError::new(
            start,
            format!("representation {i}: length {rep_len} runs past the record's end ({left} bytes left)"),
        ));
    }
    let end = start + rep_len;
    // Everything of this representation is read from its own slice: a field that would cross its
    // end is truncation, whatever follows in the record.
    let mut r = Cursor { bytes: c.bytes.get(..end).unwrap_or(c.bytes), pos: c.pos };
    let time_at = r.pos;
    let year = r.u16("the capture year")?;
    let month = r.u8("the capture month")?;
    let day = r.u8("the capture day")?;
    let hour = r.u8("the capture hour")?;
    let minute = r.u8("the capture minute")?;
    let second = r.u8("the capture second")?;
    let millisecond = r.u16("the capture millisecond")?;
    let time = CaptureTime { year, month, day, hour, minute, second, millisecond };
    let unset = year == 0xFFFF
        && month == 0xFF
        && day == 0xFF
        && hour == 0xFF
        && minute == 0xFF
        && second == 0xFF
        && millisecond == 0xFFFF;
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60
        && millisecond < 1000;
    if !unset && !valid {
        return Err(ParseError::new(time_at, format!("representation {i}: capture time {time:?} is not a valid time")));
    }
    let _technology = r.u8("the capture device technology")?;
    let _vendor = r.u16("the capture device vendor")?;
    let _device_type = r.u16("the capture device type")?;
    let quality_count = r.u8("the number of quality blocks")?;
    let mut quality_blocks = Vec::with_capacity(usize::from(quality_count));
    for _ in 0..quality_count {
        let at = r.pos;
        let score = r.u8("a quality score")?;
        if score > 100 && score != 255 {
            return Err(ParseError::new(
                at,
                format!("representation {i}: quality score {score} is neither 0..=100 nor 255"),
            ));
        }
        let vendor = r.u16("a quality algorithm vendor")?;
        let algorithm = r.u16("a quality algorithm")?;
        quality_blocks.push(QualityBlock { score, vendor, algorithm });
    }
    if certified {
        let certifications = r.u8("the number of certification blocks")?;
        r.take(usize::from(certifications) * 3, "the certification blocks")?;
    }
    let position_at = r.pos;
    let position = r.u8("the finger position")?;
    check_position(position, position_at)?;
    let view_number = r.u8("the representation number")?;
    let units_at = r.pos;
    let units = r.u8("the scale units")?;
    let _capture_h = r.u16("the horizontal capture sampling rate")?;
    let _capture_v = r.u16("the vertical capture sampling rate")?;
    let res_at = r.pos;
    let res_h = r.u16("the horizontal image sampling rate")?;
    let res_v = r.u16("the vertical image sampling rate")?;
    let (ppi_x, ppi_y) = ppi(units, res_h, res_v, units_at, res_at)?;
    let depth_at = r.pos;
    let depth = r.u8("the bit depth")?;
    if !(1..=16).contains(&depth) {
        return Err(ParseError::new(depth_at, format!("representation {i}: bit depth {depth} is outside 1..=16")));
    }
    let comp_at = r.pos;
    let comp_code = r.u8("the compression algorithm")?;
    let compression = Compression::from_code(comp_code, ImageFormat::Iso19794_4_2011).ok_or_else(|| {
        ParseError::new(comp_at, format!("representation {i}: compression algorithm {comp_code} is not defined (0-6)"))
    })?;
    let impression_at = r.pos;
    let impression_type = r.u8("the impression type")?;
    check_impression(impression_type, impression_at)?;
    let size_at = r.pos;
    let width = r.u16("the horizontal line length")?;
    let height = r.u16("the vertical line length")?;
    check_size(width, height, size_at)?;
    let data_len = usize::try_from(r.u32("the image data length")?).unwrap_or(usize::MAX);
    let data_offset = r.pos;
    let data = r.take(data_len, "the image data")?;
    check_data(compression, depth, width, height, data, data_offset)?;
    let mut extended_data = Vec::new();
    while r.pos < end {
        let at = r.pos;
        let type_code = r.u16("an extended-data block type")?;
        let len = usize::from(r.u16("an extended-data block length")?);
        if len < 4 {
            return Err(ParseError::new(
                at + 2,
                format!("extended-data block length {len} is shorter than its header"),
            ));
        }
        let data = r.take(len - 4, "an extended-data block")?.to_vec();
        if type_code == 0 {
            return Err(ParseError::new(at, "extended-data block type 0 is reserved"));
        }
        let comment = if type_code == 3 { String::from_utf8(data.clone()).ok() } else { None };
        extended_data.push(ExtendedImageBlock { type_code, data, comment });
    }
    c.pos = end;
    let quality = quality_blocks.first().map(|q| q.score).filter(|&s| s <= 100);
    Ok(FingerImage {
        position,
        view_number,
        impression_type,
        quality,
        quality_blocks,
        capture_time: (!unset).then_some(time),
        width,
        height,
        ppi_x,
        ppi_y,
        bit_depth: depth,
        compression,
        data_offset,
        data: data.to_vec(),
        extended_data,
    })
}

/// The declared record length as a usize, checked against the header and the input.
fn check_record_length(bytes: &[u8], declared: u64, header: usize, at: usize) -> Result<usize, ParseError> {
    let declared = usize::try_from(declared).unwrap_or(usize::MAX);
    if declared < header {
        return Err(ParseError::new(at, format!("record length {declared} is shorter than the {header}-byte header")));
    }
    if declared > bytes.len() {
        return Err(ParseError::new(
            at,
            format!("record length {declared} but only {} bytes were given (truncated?)", bytes.len()),
        ));
    }
    Ok(declared)
}

/// Resolutions in pixels per inch from the record's scale units (1: per inch, 2: per cm).
fn ppi(units: u8, h: u16, v: u16, units_at: usize, res_at: usize) -> Result<(u16, u16), ParseError> {
    let convert = |value: u16| -> u16 {
        match units {
            // Per centimetre to per inch, rounded; 65535 ppcm does not fit, saturate (refused later
            // as far from 500 ppi anyway).
            2 => u16::try_from((u32::from(value) * 254 + 50) / 100).unwrap_or(u16::MAX),
            _ => value,
        }
    };
    if units != 1 && units != 2 {
        return Err(ParseError::new(units_at, format!("scale units {units} are neither 1 (inch) nor 2 (centimetre)")));
    }
    if h == 0 || v == 0 {
        return Err(ParseError::new(res_at, "image resolution is 0"));
    }
    Ok((convert(h), convert(v)))
}

fn check_position(position: u8, at: usize) -> Result<(), ParseError> {
    if matches!(position, 0..=15 | 20..=38 | 40..=50) {
        Ok(())
    } else {
        Err(ParseError::new(at, format!("finger/palm position {position} is not defined")))
    }
}

fn check_impression(code: u8, at: usize) -> Result<(), ParseError> {
    if matches!(code, 0..=15 | 20..=29) {
        Ok(())
    } else {
        Err(ParseError::new(at, format!("impression type {code} is not defined")))
    }
}

fn check_size(width: u16, height: u16, at: usize) -> Result<(), ParseError> {
    if width == 0 || height == 0 {
        return Err(ParseError::new(at, format!("image size {width}x{height} is empty")));
    }
    Ok(())
}

fn check_data(
    compression: Compression,
    depth: u8,
    width: u16,
    height: u16,
    data: &[u8],
    at: usize,
) -> Result<(), ParseError> {
    match compression.signature_matches(data) {
        Some(true) => Ok(()),
        Some(false) => Err(ParseError::new(
            at,
            format!("the header says {compression:?} but the image data does not start like it"),
        )),
        None if compression == Compression::Uncompressed => {
            let bytes_per_pixel = if depth > 8 { 2 } else { 1 };
            let expected = usize::from(width) * usize::from(height) * bytes_per_pixel;
            if data.len() == expected {
                Ok(())
            } else {
                Err(ParseError::new(
                    at,
                    format!(
                        "{} bytes of uncompressed pixels where {width}x{height} at {depth} bits needs {expected}",
                        data.len()
                    ),
                ))
            }
        }
        None => {
            let expected = (usize::from(width) * usize::from(depth)).div_ceil(8) * usize::from(height);
            if data.len() == expected {
                Ok(())
            } else {
                Err(ParseError::new(
                    at,
                    format!(
                        "{} bytes of bit-packed pixels where {width}x{height} at {depth} bits needs {expected}",
                        data.len()
                    ),
                ))
            }
        }
    }
}

/// Bounds-checked big-endian reads with absolute offsets.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ParseError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        match end.and_then(|e| self.bytes.get(self.pos..e)) {
            Some(slice) => {
                self.pos += n;
                Ok(slice)
            }
            None => Err(ParseError::new(
                self.pos,
                format!(
                    "{what} ({n} bytes) runs past the end ({} bytes left)",
                    self.bytes.len().saturating_sub(self.pos)
                ),
            )),
        }
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ParseError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u8(&mut self, what: &str) -> Result<u8, ParseError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, ParseError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &str) -> Result<u32, ParseError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    fn u48(&mut self, what: &str) -> Result<u64, ParseError> {
        let b: [u8; 6] = self.array(what)?;
        Ok(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }
}
