//! The happy paths: every fixture image yields minutiae, and the whole image -> template -> match
//! path tells the same finger from another.

use biometric_adapter::{
    extract,
    finger_image::{Capture, Compression, DEFAULT_PPI, Grayscale, ImageFormat, SbiField, Source, parse_image_record},
    matcher::{FalseMatchRate, Subject, compare, verify},
    template::{self, FingerPosition, Format},
};

use crate::support::*;

#[test]
fn the_sourceafis_pngs_yield_what_mindtct_finds() {
    // NIST's MINDTCT finds 62, 50 and 42 minutiae in these images (the fixtures' README).
    for (name, expected) in [(PROBE, 62), (MATCHING, 50), (NONMATCHING, 42)] {
        let Some(bytes) = fixture(name) else { return };
        let record = extract_bytes(&bytes, SbiField::BioValue);
        let found = record.views()[0].minutiae().len();
        eprintln!("{name}: {found} minutiae (MINDTCT: {expected})");
        assert!(found.abs_diff(expected) <= 2, "{name}: {found} minutiae where MINDTCT finds {expected}");
        assert_eq!((record.width(), record.height()), (388, 374));
        assert_eq!((record.resolution_x(), record.resolution_y()), (197, 197), "500 ppi is 197 px/cm");
        assert_eq!(record.format(), Format::Iso19794_2_2005);
        // The written record is one our parser reads back unchanged.
        assert_eq!(template::parse(&template::write(&record)).unwrap(), record);
    }
}

#[test]
fn the_sourceafis_probe_image_matches_its_mate_and_not_the_other_finger() {
    let (Some(probe), Some(matching), Some(nonmatching)) = (fixture(PROBE), fixture(MATCHING), fixture(NONMATCHING))
    else {
        return;
    };
    let [probe, matching, nonmatching] =
        [probe, matching, nonmatching].map(|bytes| template(&extract_bytes(&bytes, SbiField::BioValue)));
    let genuine = compare(&probe, &matching);
    let impostor = compare(&probe, &nonmatching);
    let target = FalseMatchRate::ONE_IN_10K;
    eprintln!(
        "images -> MINDTCT -> ISO 19794-2 -> matcher: probe ~ matching {:.1}, probe ~ nonmatching {:.1} \
         (threshold at FMR 1e-4: {:.1})",
        genuine.value(),
        impostor.value(),
        target.threshold().value()
    );
    assert!(genuine > FalseMatchRate::ONE_IN_1M.threshold(), "{genuine:?}");
    assert!(impostor < FalseMatchRate::ONE_IN_1K.threshold(), "{impostor:?}");
    let subject = |t| Subject::new(vec![t]).unwrap();
    let (probe, matching, nonmatching) = (subject(probe), subject(matching), subject(nonmatching));
    assert!(verify(&probe, &matching, target).is_match);
    assert!(!verify(&probe, &nonmatching, target).is_match);
}

#[test]
fn the_sbi_record_decodes_field_by_field() {
    let Some(bytes) = sbi_record() else { return };
    let record = parse_image_record(&bytes).unwrap();
    assert_eq!(record.format, ImageFormat::Iso19794_4_2011);
    let [image] = record.images.as_slice() else { panic!("{} images", record.images.len()) };
    assert_eq!(image.position, 7, "left index");
    assert_eq!((image.width, image.height), (259, 420));
    assert_eq!((image.ppi_x, image.ppi_y), (500, 500));
    assert_eq!(image.bit_depth, 8);
    assert_eq!(image.compression, Compression::Jpeg2000Lossless);
    assert_eq!(image.quality, Some(45));
    assert_eq!(image.impression_type, 29, "unknown");
    let time = image.capture_time.unwrap();
    assert_eq!((time.year, time.month, time.day, time.hour, time.minute, time.second), (2020, 6, 3, 15, 6, 54));
    assert_eq!(image.data_offset, offsets_2011::DATA);
    assert_eq!(image.data.len(), 10641);
    let types: Vec<u16> = image.extended_data.iter().map(|b| b.type_code).collect();
    assert_eq!(types, [1, 2, 3], "segmentation, annotation, comment");
    assert_eq!(image.extended_data[2].comment.as_deref(), Some("This is of Finger (7)"));
}

#[test]
fn the_sbi_capture_yields_minutiae_from_its_iso_record_and_its_jpeg() {
    let Some(text) = fixture(SBI_CAPTURE) else { return };
    // JWS payload -> bioExtract -> ISO/IEC 19794-4:2011 -> JPEG 2000 -> pixels -> minutiae.
    let capture = Capture::from_bytes(&text, SbiField::BioExtract, DEFAULT_PPI).unwrap();
    assert_eq!(capture.source, Source::ImageRecord(ImageFormat::Iso19794_4_2011));
    assert_eq!(capture.finger, FingerPosition::LeftIndex);
    assert_eq!(capture.quality, Some(45));
    assert_eq!((capture.image.width(), capture.image.height(), capture.image.ppi()), (259, 420, 500));
    let from_record = extract::extract(&capture).unwrap();
    let view = &from_record.views()[0];
    assert_eq!(view.finger_position(), FingerPosition::LeftIndex);
    assert_eq!(view.quality(), 45);
    assert_eq!((from_record.width(), from_record.height()), (259, 420));
    // JWS payload -> bioValue (a JPEG of the same capture in MOSIP's mock) -> pixels -> minutiae.
    let jpeg = Capture::from_bytes(&text, SbiField::BioValue, DEFAULT_PPI).unwrap();
    assert_eq!(jpeg.source, Source::Jpeg);
    assert_eq!(jpeg.finger, FingerPosition::LeftIndex, "from bioSubType");
    assert_eq!(jpeg.quality, Some(45), "from qualityScore");
    let from_jpeg = extract::extract(&jpeg).unwrap();
    let (a, b) = (view.minutiae().len(), from_jpeg.views()[0].minutiae().len());
    eprintln!("SBI capture: {a} minutiae from the JPEG 2000 record, {b} from the JPEG");
    assert!(a >= 25 && b >= 25, "{a} and {b} minutiae");
    // Two encodings of one capture are the same finger to the matcher.
    let score = compare(&template(&from_record), &template(&from_jpeg));
    eprintln!("SBI capture: JPEG 2000 ~ JPEG score {:.1}", score.value());
    assert!(score > FalseMatchRate::ONE_IN_1M.threshold(), "{score:?}");
    // And not the SourceAFIS finger.
    if let Some(probe) = fixture(PROBE) {
        let other = compare(&template(&from_record), &template(&extract_bytes(&probe, SbiField::BioValue)));
        assert!(other < FalseMatchRate::ONE_IN_1K.threshold(), "{other:?}");
    }
}

#[test]
fn a_compact_jws_and_the_bare_json_element_read_like_the_payload() {
    let Some(text) = fixture(SBI_CAPTURE) else { return };
    let payload = std::str::from_utf8(&text).unwrap().trim();
    let expected = extract_bytes(payload.as_bytes(), SbiField::BioExtract);
    let jws = format!("{}.{payload}.{}", b64url_encode(br#"{"alg":"RS256"}"#), b64url_encode(b"signature"));
    assert_eq!(extract_bytes(jws.as_bytes(), SbiField::BioExtract), expected);
    let json = b64url(payload);
    assert_eq!(extract_bytes(&json, SbiField::BioExtract), expected);
}

#[test]
fn the_same_image_in_a_2005_record_raw_or_jpeg_2000_yields_the_same_minutiae() {
    let (Some(png), Some(record_2011)) = (fixture(PROBE), sbi_record()) else { return };
    // Raw pixels of the probe PNG in a 2005 record: MINDTCT sees the same pixels.
    let capture = Capture::from_bytes(&png, SbiField::BioValue, DEFAULT_PPI).unwrap();
    let raw = record_2005(2, 388, 374, 500, 0, capture.image.pixels());
    let from_raw = extract_bytes(&raw, SbiField::BioValue);
    assert_eq!(from_raw.views()[0].finger_position(), FingerPosition::RightIndex);
    assert_eq!(from_raw.views()[0].minutiae(), extract::extract(&capture).unwrap().views()[0].minutiae());
    // The 2011 record's JPEG 2000 stream in a 2005 record.
    let parsed = parse_image_record(&record_2011).unwrap();
    let jp2 = &parsed.images[0].data;
    let from_2005 = extract_bytes(&record_2005(7, 259, 420, 500, 4, jp2), SbiField::BioValue);
    let from_2011 = extract_bytes(&record_2011, SbiField::BioValue);
    assert_eq!(from_2005.views()[0].minutiae(), from_2011.views()[0].minutiae());
}

/// The angle convention, end to end: turning the image a quarter turn counter-clockwise (as
/// displayed) must turn every minutia direction by +90° in the record — counter-clockwise
/// angles with y pointing down, as ISO/IEC 19794-2 reads them. A clockwise reading would show
/// −90°, a y-up one would move the minutiae elsewhere.
#[test]
fn a_quarter_turn_of_the_image_adds_90_degrees_to_the_minutiae() {
    let Some(png) = fixture(PROBE) else { return };
    let capture = Capture::from_bytes(&png, SbiField::BioValue, DEFAULT_PPI).unwrap();
    let (w, h) = (capture.image.width() as usize, capture.image.height() as usize);
    let src = capture.image.pixels();
    // Counter-clockwise: the old right edge becomes the top; (x, y) -> (y, w - 1 - x).
    let mut turned = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            turned[(w - 1 - x) * h + y] = src[y * w + x];
        }
    }
    let turned = Grayscale::new(h as u32, w as u32, 500, turned).unwrap();
    let before = extract::minutiae(&capture.image).unwrap();
    let after = extract::minutiae(&turned).unwrap();
    let mut differences = Vec::new();
    for m in &before {
        let (tx, ty) = (m.y as i64, (w - 1) as i64 - m.x as i64);
        if let Some(n) =
            after.iter().find(|n| (n.x as i64 - tx).abs() <= 3 && (n.y as i64 - ty).abs() <= 3 && n.kind == m.kind)
        {
            differences.push((n.degrees - m.degrees).rem_euclid(360.0));
        }
    }
    assert!(differences.len() >= before.len() / 2, "{} of {} minutiae found again", differences.len(), before.len());
    let near_90 = differences.iter().filter(|d| (**d - 90.0).abs() <= 23.0).count();
    eprintln!("quarter turn: {near_90} of {} re-found minutiae turned by 90° ± 23°", differences.len());
    assert!(near_90 * 10 >= differences.len() * 8, "{differences:?}");
}
