//! The published vectors: every ISO record parses and writes back byte-exact; the ANSI example
//! printed in the standard is rejected for the defects it has. (The field-by-field comparison with
//! fingerprintio's JSON is a unit test, `template::fixture_tests`, because decoding the defective
//! ANSI example needs the crate's test-only collecting mode.)

use biometric_adapter::template::{
    self, BlockLengths, ExtendedBlock, FingerPosition, Format, ImpressionType, MinutiaKind,
};

use crate::support::{ANSI_SAMPLE, ISO_SAMPLE, SOURCEAFIS, fixture, parse_round_trip, rejects};

#[test]
fn fingerprintio_iso_sample_round_trips_exactly() {
    let Some(bytes) = fixture(ISO_SAMPLE) else { return };
    let record = parse_round_trip(&bytes).unwrap();
    assert_eq!(template::write(&record), bytes);
    assert_eq!(record.format(), Format::Iso19794_2_2005);
    assert_eq!(record.product_id(), None);
    assert_eq!((record.width(), record.height(), record.resolution_x(), record.resolution_y()), (512, 512, 197, 197));
    let views = record.views();
    assert_eq!(views.len(), 2);
    assert_eq!(views[0].finger_position(), FingerPosition::LeftIndex);
    assert_eq!(views[0].impression_type(), ImpressionType::LivePlain);
    assert_eq!((views[0].quality(), views[0].minutiae().len()), (90, 27));
    assert_eq!(views[1].finger_position(), FingerPosition::RightIndex);
    assert_eq!((views[1].quality(), views[1].minutiae().len()), (70, 22));
    let last = views[1].minutiae()[21];
    assert_eq!((last.kind, last.x, last.y, last.quality), (MinutiaKind::Bifurcation, 125, 73, 40));
    assert_eq!(
        views[1].extended_data(),
        [ExtendedBlock::Other { type_code: 0x0221, data: vec![0x01, 0x44, 0xbc, 0x36, 0x21, 0x43] }]
    );
    assert_eq!(views[1].block_lengths(), BlockLengths::ExcludeHeader);
}

#[test]
fn sourceafis_records_round_trip_exactly_without_their_padding() {
    let mut records = Vec::new();
    for name in SOURCEAFIS {
        let Some(bytes) = fixture(name) else { return };
        assert_eq!(bytes.len(), 384, "{name} is padded to 384 bytes");
        let record = parse_round_trip(&bytes).unwrap();
        let written = template::write(&record);
        let declared = usize::try_from(u32::from_be_bytes(bytes[8..12].try_into().unwrap())).unwrap();
        assert_eq!(written.len(), declared, "{name}: the record length field, not the file size, decides");
        assert_eq!(written, bytes[..declared]);
        records.push(record);
    }
    let [probe, matching, nonmatching] = &records[..] else { unreachable!() };
    assert_eq!(probe, matching, "probe and matching are the same file");
    assert_ne!(probe, nonmatching);

    assert_eq!((probe.width(), probe.height()), (224, 288));
    assert_eq!((nonmatching.width(), nonmatching.height()), (208, 320));
    let view = &probe.views()[0];
    assert_eq!(view.finger_position(), FingerPosition::Unknown);
    assert_eq!((view.quality(), view.minutiae().len()), (100, 38));
    let first = view.minutiae()[0];
    assert_eq!((first.kind, first.x, first.y, first.angle.raw(), first.quality), (MinutiaKind::Ending, 78, 13, 30, 0));
    assert_eq!(first.angle.degrees(), 30.0 * 360.0 / 256.0);
    // One vendor block (0x0144) of one byte whose length field says 5: these records count the
    // block header in its length, as NIST's tools read ISO records.
    assert_eq!(view.extended_data(), [ExtendedBlock::Other { type_code: 0x0144, data: vec![0x97] }]);
    assert_eq!(view.block_lengths(), BlockLengths::IncludeHeader);
    assert_eq!(nonmatching.views()[0].extended_data(), [ExtendedBlock::Other { type_code: 0x0144, data: vec![0x98] }]);
}

#[test]
fn ansi_sample_from_the_standard_is_rejected_for_its_defects() {
    let Some(mut bytes) = fixture(ANSI_SAMPLE) else { return };
    // The example printed in ANSI INCITS 378-2004 has the version "020\0" ...
    rejects(&bytes, 4, "version is \"020\\0\"");
    // ... and, once that is patched as fingerprintio's own test does, a length field that says
    // 340 of its 342 bytes.
    bytes[4] = b' ';
    rejects(&bytes, 340, "the length field at byte 8 says 340 bytes");
    // With the length corrected, the first of its two angles beyond ANSI's 0..=179: view 1 starts at
    // byte 194, its minutiae at 198, and minutia 20's angle byte is 198 + 20 * 6 + 4.
    bytes[8..10].copy_from_slice(&342u16.to_be_bytes());
    rejects(&bytes, 322, "views[1].minutiae[20]: angle 213 is above 179");
}
