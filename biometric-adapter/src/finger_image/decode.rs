//! From encoded image data to greyscale pixels: uncompressed, WSQ (our own decoder, [`super::wsq`]),
//! JPEG 2000 (hayro-jpeg2000, pure Rust), PNG and JPEG (the `image` crate, with size limits).
//!
//! Every decoder here sees bytes from devices we do not control. Sizes are checked before any
//! large allocation, decoded sizes must equal what the record's header promised, and a decoder
//! that panics on malformed input (none should; this is the last line) is caught and reported as
//! an error like any other.

use std::{io::Cursor, panic::AssertUnwindSafe};

use super::{
    Compression, FingerImage, Grayscale, MAX_PIXELS, MAX_SIDE,
    wsq::{self, WsqError},
};
use crate::Error;

/// Decodes a record's image to pixels; the decoded size must be the header's.
pub(super) fn decode_record_image(image: &FingerImage) -> Result<Grayscale, Error> {
    let (width, height) = (u32::from(image.width), u32::from(image.height));
    check_dimensions(width, height)?;
    let at = image.data_offset;
    let decoded = match image.compression {
        Compression::Uncompressed if image.bit_depth == 8 => {
            Grayscale::new(width, height, image.ppi_x, image.data.clone())?
        }
        Compression::Uncompressed | Compression::BitPacked => {
            return Err(Error::image(format!(
                "{}-bit {:?} pixels are not supported (8-bit uncompressed, WSQ, JPEG 2000, PNG and JPEG are)",
                image.bit_depth, image.compression
            )));
        }
        Compression::Jpeg2000 | Compression::Jpeg2000Lossless => {
            decode_jpeg2000(&image.data, image.ppi_x).map_err(|e| Error::image(format!("byte {at}: {e}")))?
        }
        Compression::Wsq => {
            decode_wsq(&image.data, |_| image.ppi_x).map_err(|e| Error::image(format!("byte {}: {e}", at + e.at)))?
        }
        Compression::Png => decode_with_image_crate(&image.data, ::image::ImageFormat::Png, image.ppi_x)
            .map_err(|e| Error::image(format!("byte {at}: {e}")))?,
        Compression::Jpeg => decode_with_image_crate(&image.data, ::image::ImageFormat::Jpeg, image.ppi_x)
            .map_err(|e| Error::image(format!("byte {at}: {e}")))?,
    };
    if (decoded.width(), decoded.height()) != (width, height) {
        return Err(Error::image(format!(
            "the record says {width}x{height} but its {:?} image is {}x{}",
            image.compression,
            decoded.width(),
            decoded.height()
        )));
    }
    Ok(decoded)
}

/// Refuses sizes no finger capture has before anything is allocated for them.
pub(super) fn check_dimensions(width: u32, height: u32) -> Result<(), Error> {
    if width == 0
        || height == 0
        || width > MAX_SIDE
        || height > MAX_SIDE
        || u64::from(width) * u64::from(height) > MAX_PIXELS
    {
        return Err(Error::image(format!(
            "image size {width}x{height} is outside 1..={MAX_SIDE} per side and {MAX_PIXELS} pixels"
        )));
    }
    Ok(())
}

/// A WSQ stream to pixels; `ppi` chooses the resolution given the one the stream's NISTCOM comment
/// declares, if any (a record's header wins over it; a bare file has nothing else).
pub(super) fn decode_wsq(data: &[u8], ppi: impl FnOnce(Option<u16>) -> u16) -> Result<Grayscale, WsqError> {
    // Our own decoder, but a capture still must never take the process down: the same last line.
    let image = std::panic::catch_unwind(AssertUnwindSafe(|| wsq::decode(data)))
        .unwrap_or_else(|_| Err(WsqError { at: 0, reason: "the WSQ decoder failed on malformed data".into() }))?;
    Grayscale::new(image.width, image.height, ppi(image.ppi), image.pixels)
        .map_err(|e| WsqError { at: 0, reason: e.to_string() })
}

/// A JPEG 2000 file (JP2) or codestream (J2K), greyscale, to 8-bit pixels.
pub(super) fn decode_jpeg2000(data: &[u8], ppi: u16) -> Result<Grayscale, String> {
    let settings = hayro_jpeg2000::DecodeSettings { strict: true, ..hayro_jpeg2000::DecodeSettings::default() };
    let image = hayro_jpeg2000::Image::new(data, &settings).map_err(|e| format!("not a valid JPEG 2000 image: {e}"))?;
    let (width, height) = (image.width(), image.height());
    check_dimensions(width, height).map_err(|e| e.to_string())?;
    if !matches!(image.color_space(), hayro_jpeg2000::ColorSpace::Gray) || image.has_alpha() {
        return Err(format!(
            "the JPEG 2000 image is {:?}{}; finger images are greyscale",
            image.color_space(),
            if image.has_alpha() { " with alpha" } else { "" }
        ));
    }
    let pixels = guarded("JPEG 2000", || {
        let mut context = hayro_jpeg2000::DecoderContext::default();
        image.decode(&mut context).map(|decoded| decoded.data_u8()).map_err(|e| format!("corrupt JPEG 2000 data: {e}"))
    })?;
    Grayscale::new(width, height, ppi, pixels).map_err(|e| e.to_string())
}

/// PNG or JPEG through the `image` crate, limited to the sizes a finger capture can have.
pub(super) fn decode_with_image_crate(
    data: &[u8],
    format: ::image::ImageFormat,
    ppi: u16,
) -> Result<Grayscale, String> {
    let mut reader = ::image::ImageReader::with_format(Cursor::new(data), format);
    let mut limits = ::image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    // Decoding may hold an RGBA16 copy: 8 bytes per pixel.
    limits.max_alloc = Some(MAX_PIXELS * 8);
    reader.limits(limits);
    let decoded = guarded(format.to_mime_type(), || {
        reader.decode().map_err(|e| format!("not a valid {} image: {e}", format.to_mime_type()))
    })?;
    let gray = decoded.into_luma8();
    let (width, height) = gray.dimensions();
    Grayscale::new(width, height, ppi, gray.into_raw()).map_err(|e| e.to_string())
}

/// Runs a third-party decoder, turning a panic inside it into an error: a malformed capture must
/// be refused, never take the process down.
fn guarded<T>(what: &str, decode: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    std::panic::catch_unwind(AssertUnwindSafe(decode))
        .unwrap_or_else(|_| Err(format!("the {what} decoder failed on malformed data")))
}
