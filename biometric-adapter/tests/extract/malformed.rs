//! Bad input: every one refused with an error that says what and where, none panics.

use biometric_adapter::{
    Error, extract,
    finger_image::{Capture, DEFAULT_PPI, Grayscale, SbiField, parse_image_record},
};

use crate::support::*;

fn refused(bytes: &[u8], field: SbiField) -> Error {
    match Capture::from_bytes(bytes, field, DEFAULT_PPI).and_then(|c| extract::extract(&c)) {
        Ok(record) => panic!("accepted: {} minutiae", record.views()[0].minutiae().len()),
        Err(e) => e,
    }
}

#[track_caller]
fn record_error(bytes: &[u8], offset: usize, fragment: &str) {
    match parse_image_record(bytes) {
        Ok(_) => panic!("accepted a record that should fail at byte {offset} ({fragment})"),
        Err(e) => {
            assert_eq!(e.offset(), offset, "{e}");
            assert!(e.reason().contains(fragment), "{e} does not mention {fragment:?}");
        }
    }
    // And the same through the top-level reader.
    assert!(matches!(refused(bytes, SbiField::BioValue), Error::ImageRecord(_)));
}

#[test]
fn every_truncation_of_the_sbi_record_is_refused_with_its_offset() {
    let Some(record) = sbi_record() else { return };
    for len in (0..record.len()).step_by(7).chain([record.len() - 1]) {
        let Err(e) = parse_image_record(&record[..len]) else { panic!("a {len}-byte prefix parsed") };
        assert!(e.offset() <= len.max(8), "byte {} for a {len}-byte prefix: {e}", e.offset());
    }
    record_error(&record[..100], 8, "only 100 bytes were given");
}

#[test]
fn inconsistent_lengths_and_counts_are_refused() {
    let Some(record) = sbi_record() else { return };
    let patched = |at: usize, bytes: &[u8]| {
        let mut r = record.clone();
        r[at..at + bytes.len()].copy_from_slice(bytes);
        r
    };
    let len = record.len() as u32;
    // A record length beyond the input, and one shorter than its representations.
    record_error(&patched(8, &(len + 10).to_be_bytes()), 8, "truncated");
    let short = patched(8, &(len - 10).to_be_bytes());
    assert!(parse_image_record(&short).is_err());
    // A representation longer than the record.
    record_error(&patched(16, &(len).to_be_bytes()), 16, "runs past the record's end");
    // An image data length that runs into the next field.
    let data_len = u32::from_be_bytes(record[offsets_2011::DATA_LENGTH..][..4].try_into().unwrap());
    assert!(parse_image_record(&patched(offsets_2011::DATA_LENGTH, &(data_len + 100).to_be_bytes())).is_err());
    // Two representations announced, one present.
    assert!(parse_image_record(&patched(12, &[0, 2])).is_err());
    // Distinct positions that do not add up.
    record_error(&patched(15, &[2]), 15, "distinct positions");
    // Undefined codes.
    record_error(&patched(offsets_2011::POSITION, &[16]), offsets_2011::POSITION, "position 16");
    record_error(&patched(offsets_2011::COMPRESSION, &[9]), offsets_2011::COMPRESSION, "compression algorithm 9");
    record_error(&patched(4, b"030\0"), 4, "not supported");
    let e = parse_image_record(&patched(0, b"FMR\0")).unwrap_err();
    assert!(e.offset() == 0 && e.reason().contains("format identifier"), "{e}");
    // The header names WSQ but the data is JPEG 2000.
    record_error(&patched(offsets_2011::COMPRESSION, &[2]), offsets_2011::DATA, "does not start like it");
    // Garbage after the record.
    let mut padded = record.clone();
    padded.extend_from_slice(&[0, 0, 7]);
    record_error(&padded, record.len() + 2, "non-zero byte");
    padded.truncate(record.len() + 2);
    assert!(parse_image_record(&padded).is_ok(), "zero padding is allowed");
}

#[test]
fn an_image_whose_size_differs_from_its_header_is_refused() {
    let Some(record) = sbi_record() else { return };
    let mut wrong = record.clone();
    wrong[offsets_2011::WIDTH..][..2].copy_from_slice(&260u16.to_be_bytes());
    let e = refused(&wrong, SbiField::BioValue);
    assert!(e.to_string().contains("the record says 260x420 but its Jpeg2000Lossless image is 259x420"), "{e}");
    // Raw pixels that do not fill the declared size are a record error.
    let raw = record_2005(2, 100, 100, 500, 0, &[128u8; 100 * 99]);
    record_error(&raw, 46, "needs 10000");
    // Sizes no finger has are refused before decoding.
    let huge = record_2005(2, 60000, 60000, 500, 5, b"\x89PNG\r\n\x1a\n");
    let e = refused(&huge, SbiField::BioValue);
    assert!(e.to_string().contains("60000x60000 is outside"), "{e}");
    assert!(Grayscale::new(5000, 10, 500, vec![0; 50000]).is_err());
    assert!(Grayscale::new(10, 10, 500, vec![0; 99]).is_err());
}

#[test]
fn corrupt_jpeg_2000_is_refused_and_never_panics() {
    let Some(record) = sbi_record() else { return };
    let parsed = parse_image_record(&record).unwrap();
    let jp2 = parsed.images[0].data.clone();
    // A stream cut short.
    let cut = record_2005(7, 259, 420, 500, 4, &jp2[..jp2.len() / 2]);
    let e = refused(&cut, SbiField::BioValue);
    assert!(matches!(e, Error::Image { .. }), "{e}");
    // The JP2 signature followed by garbage.
    let mut garbage = jp2[..12].to_vec();
    garbage.extend(std::iter::repeat_n(0x5A, 500));
    let e = refused(&record_2005(7, 259, 420, 500, 4, &garbage), SbiField::BioValue);
    assert!(e.to_string().contains("JPEG 2000"), "{e}");
    // Flipped bytes all through the file: an error or some image, never a panic or a hang.
    for at in (12..jp2.len()).step_by(211) {
        let mut flipped = jp2.clone();
        flipped[at] ^= 0xFF;
        let _ = Capture::from_bytes(&record_2005(7, 259, 420, 500, 4, &flipped), SbiField::BioValue, DEFAULT_PPI);
    }
}

#[test]
fn corrupt_png_and_wsq_are_refused() {
    let Some(png) = fixture(PROBE) else { return };
    let e = refused(&png[..png.len() / 3], SbiField::BioValue);
    assert!(matches!(e, Error::Image { .. }), "{e}");
    // A WSQ stream (start-of-image marker, a comment, then garbage): recognised, refused by the
    // WSQ decoder.
    let mut wsq = vec![0xFF, 0xA0, 0xFF, 0xA8, 0x00, 0x10];
    wsq.extend_from_slice(&[0x11; 64]);
    let e = refused(&record_2005(2, 300, 300, 500, 2, &wsq), SbiField::BioValue);
    assert!(e.to_string().contains("WSQ"), "{e}");
    let e = refused(&wsq, SbiField::BioValue);
    assert!(e.to_string().contains("WSQ"), "{e}");
}

#[test]
fn images_mindtct_cannot_use_are_refused() {
    let Some(png) = fixture(PROBE) else { return };
    let capture = Capture::from_bytes(&png, SbiField::BioValue, DEFAULT_PPI).unwrap();
    let pixels = capture.image.pixels();
    // 250 ppi: MINDTCT is tuned for 500.
    let e = refused(&record_2005(2, 388, 374, 250, 0, pixels), SbiField::BioValue);
    assert!(e.to_string().contains("250 ppi"), "{e}");
    // Too small to hold a finger.
    let e = refused(&record_2005(2, 40, 40, 500, 0, &pixels[..1600]), SbiField::BioValue);
    assert!(e.to_string().contains("at least 64x64"), "{e}");
    // A blank image: no minutiae, still a valid (empty) record or a clear error, never a panic.
    let blank = record_2005(2, 200, 200, 500, 0, &[255u8; 40000]);
    if let Ok(capture) = Capture::from_bytes(&blank, SbiField::BioValue, DEFAULT_PPI) {
        let _ = extract::extract(&capture);
    }
}

#[test]
fn malformed_sbi_elements_are_refused() {
    let Some(element) = sbi_element() else { return };
    let encode = |value: &serde_json::Value| b64url_encode(value.to_string().as_bytes()).into_bytes();
    let mut no_value = element.clone();
    no_value.as_object_mut().unwrap().remove("bioValue");
    let e = refused(&encode(&no_value), SbiField::BioValue);
    assert!(e.to_string().contains("no bioValue"), "{e}");
    let mut not_base64 = element.clone();
    not_base64["bioValue"] = "***".into();
    let e = refused(&encode(&not_base64), SbiField::BioValue);
    assert!(e.to_string().contains("not base64url"), "{e}");
    let mut not_image = element.clone();
    not_image["bioValue"] = b64url_encode(b"hello, world").into();
    let e = refused(&encode(&not_image), SbiField::BioValue);
    assert!(e.to_string().contains("not an ISO/IEC 19794-4 record or an image"), "{e}");
    // The record says left index; a subtype of another finger is an inconsistent capture.
    let mut other_finger = element.clone();
    other_finger["bioSubType"] = "Right Thumb".into();
    let e = refused(&encode(&other_finger), SbiField::BioExtract);
    assert!(e.to_string().contains("inconsistent capture"), "{e}");
    let e = refused(b"a.b", SbiField::BioValue);
    assert!(e.to_string().contains("2 dot-separated parts"), "{e}");
    let e = refused(&[0xC3, 0x28, 0x00], SbiField::BioValue);
    assert!(e.to_string().contains("not an ISO/IEC 19794-4 record"), "{e}");
}
