//! Malformed records are rejected with the offset of the offending field and a reason.
//!
//! Most cases mutate the fingerprintio ISO sample, whose layout is:
//! header 0-23 (length at 8, capture equipment at 12, width 14, height 16, resolutions 18 and 20,
//! view count 22, reserved 23); view 0 at 24 (27 minutiae at 28-189, extended data length 0 at
//! 190); view 1 at 192 (22 minutiae at 196-327, extended data length 10 at 328, one block at 330:
//! type 0x0221 at 330, length 6 at 332, data 334-339).

use biometric_adapter::template;

use crate::support::{
    ANSI_SAMPLE, ISO_SAMPLE, SOURCEAFIS, fixture, parse_round_trip, rejects, set_iso_length, set_u16,
};

fn iso_sample() -> Option<Vec<u8>> {
    fixture(ISO_SAMPLE)
}

#[test]
fn every_truncation_of_every_fixture_is_rejected_without_panicking() {
    for name in [ISO_SAMPLE, ANSI_SAMPLE, SOURCEAFIS[0], SOURCEAFIS[2]] {
        let Some(bytes) = fixture(name) else { return };
        let declared = match template::parse(&bytes) {
            Ok(record) => template::write(&record).len(),
            Err(_) => bytes.len() + 1,
        };
        for k in 0..bytes.len() {
            match template::parse(&bytes[..k]) {
                // Cutting only zero padding leaves a whole record.
                Ok(_) => assert!(k >= declared, "{name} cut at {k} was accepted"),
                Err(e) => assert!(e.offset() <= k, "{name} cut at {k}: {e}"),
            }
        }
    }
}

#[test]
fn truncated_iso_sample_is_rejected_at_the_field_that_cannot_be_read() {
    let Some(bytes) = iso_sample() else { return };
    for k in 0..bytes.len() {
        let expected = match k {
            0..4 => 0,
            4..8 => 4,
            8..10 => 8,
            10..12 => 10,
            // The length field says 340 and fewer bytes are given.
            _ => 8,
        };
        let e = template::parse(&bytes[..k]).unwrap_err();
        assert_eq!(e.offset(), expected, "cut at {k}: {e}");
    }
    rejects(&bytes[..100], 8, "record length 340 (ISO/IEC 19794-2:2005) exceeds the 100 bytes given");
}

#[test]
fn records_cut_short_with_a_consistent_length_field_fail_at_the_cut_field() {
    let Some(bytes) = iso_sample() else { return };
    for k in 24..bytes.len() {
        let mut cut = bytes[..k].to_vec();
        set_iso_length(&mut cut, k);
        let expected = match k {
            24..28 => 24,
            28..190 => 28 + 6 * ((k - 28) / 6),
            190..192 => 190,
            192..196 => 192,
            196..328 => 196 + 6 * ((k - 196) / 6),
            // The extended data length (10) runs past the end.
            _ => 328,
        };
        let e = template::parse(&cut).unwrap_err();
        assert_eq!(e.offset(), expected, "cut at {k}: {e}");
        assert!(e.reason().contains(&format!("ends at byte {k}")) || e.reason().contains("runs past"), "{e}");
    }
    let mut cut = bytes[..200].to_vec();
    set_iso_length(&mut cut, 200);
    rejects(&cut, 196, "views[1].minutiae[0] needs 6 bytes but the record ends at byte 200");
}

#[test]
fn wrong_format_identifier_or_version() {
    let Some(bytes) = iso_sample() else { return };
    for (at, value) in [(0, b'X'), (1, b'm'), (3, b' ')] {
        let mut b = bytes.clone();
        b[at] = value;
        rejects(&b, 0, "format identifier is");
    }
    let mut b = bytes.clone();
    b[4..8].copy_from_slice(b" 21\0");
    rejects(&b, 4, "version is \" 21\\0\" where ISO/IEC 19794-2:2005 and ANSI INCITS 378-2004 have \" 20\\0\"");
    b[4..8].copy_from_slice(b"030\0");
    rejects(&b, 4, "ISO/IEC 19794-2:2011 and ANSI INCITS 378-2009 records are not supported");
    rejects(b"", 0, "the format identifier needs 4 bytes but the input ends at byte 0");
    rejects(b"FMR", 0, "needs 4 bytes");
    rejects(b"FMR\0 20", 4, "the version needs 4 bytes");
}

#[test]
fn record_length_must_match_the_content() {
    let Some(bytes) = iso_sample() else { return };
    // Longer than the content, with zeros after it: the zeros are not padding but part of the
    // record, and nothing there is a finger view.
    let mut b = bytes.clone();
    b.extend([0; 4]);
    set_iso_length(&mut b, 344);
    rejects(&b, 340, "4 bytes are left after the last finger view");
    // Longer than the input.
    let mut b = bytes.clone();
    set_iso_length(&mut b, 0x0001_0000 - 1);
    rejects(&b, 8, "exceeds the 340 bytes given");
    // Zero padding after the record is fine; anything else is not.
    let mut padded = bytes.clone();
    padded.extend([0; 44]);
    parse_round_trip(&padded).unwrap();
    padded[370] = 7;
    rejects(&padded, 370, "non-zero byte after the record's end: the length field at byte 8 says 340 bytes");
    // An ANSI-looking 2-byte length in 1..=25 is an ISO length of 64 KiB or more.
    let mut b = bytes.clone();
    b[8..12].copy_from_slice(&[0x00, 0x01, 0x01, 0x54]);
    rejects(&b, 8, "record length 65876 (ISO/IEC 19794-2:2005) exceeds the 340 bytes given");
}

#[test]
fn non_zero_padding_after_a_padded_record() {
    let Some(mut bytes) = fixture(SOURCEAFIS[0]) else { return };
    bytes[300] = 1;
    rejects(&bytes, 300, "only zero padding may follow");
}

#[test]
fn counts_that_do_not_match_the_content() {
    let Some(bytes) = iso_sample() else { return };
    let mut b = bytes.clone();
    b[22] = 3;
    rejects(&b, 340, "views[2]'s header needs 4 bytes but the record ends at byte 340");
    b[22] = 1;
    rejects(&b, 192, "148 bytes are left after the last finger view");
    b[22] = 0;
    rejects(&b, 24, "316 bytes are left after the last finger view");

    // One minutia more: view 1's first bytes are read as minutia 27, whose y (512) is off the image.
    let mut b = bytes.clone();
    b[27] = 28;
    rejects(&b, 192, "views[0].minutiae[27]: y = 512 is outside the image (height 512)");
    // One fewer: minutia 26's first bytes are read as the extended data length.
    b[27] = 26;
    rejects(&b, 184, "views[0]: extended data length 32894 runs past the end of the record");

    // Extended data length one short of the block.
    let mut b = bytes.clone();
    set_u16(&mut b, 328, 9);
    rejects(&b, 332, "block length 6 runs past the end of the view's extended data at byte 339");
    assert!(template::parse(&b).unwrap_err().reason().contains("does not fit either"));
    // One more than the block: a 1-byte stub is no block header.
    let mut b = bytes.clone();
    b.push(0);
    set_iso_length(&mut b, 341);
    set_u16(&mut b, 328, 11);
    rejects(
        &b,
        340,
        "views[1].extended_data[1]'s block header needs 4 bytes but views[1]'s extended data ends at byte 341",
    );
}

#[test]
fn header_values_out_of_range() {
    let Some(bytes) = iso_sample() else { return };
    let cases: [(usize, &[u8], usize, &str); 7] = [
        (12, &[0x40, 0xb5], 12, "capture equipment field 0x40b5 sets reserved compliance bits"),
        (14, &[0, 0], 14, "image width is 0"),
        (16, &[0, 0], 16, "image height is 0"),
        (18, &[0, 0], 18, "horizontal resolution is 0"),
        (20, &[0, 0], 20, "vertical resolution is 0"),
        (23, &[1], 23, "reserved header byte is 1"),
        (24, &[11], 24, "views[0]: finger position 11 is not a finger code"),
    ];
    for (at, value, offset, fragment) in cases {
        let mut b = bytes.clone();
        b[at..at + value.len()].copy_from_slice(value);
        rejects(&b, offset, fragment);
    }
    // Certified (the top bit) is fine.
    let mut b = bytes.clone();
    b[12] = 0x80;
    assert!(parse_round_trip(&b).unwrap().capture_equipment().appendix_f_certified);
}

#[test]
fn view_values_out_of_range() {
    let Some(bytes) = iso_sample() else { return };
    let cases: [(usize, u8, usize, &str); 6] = [
        (25, 0x04, 25, "views[0]: impression type 4 is not one ISO/IEC 19794-2:2005 defines (0-3 or 8)"),
        (25, 0x09, 25, "impression type 9"),
        (25, 0x10, 25, "views[0]: view number 1 for finger position 7; a finger's views are numbered"),
        (26, 101, 26, "views[0]: finger quality 101 is above 100"),
        // View 1 on the same finger as view 0 must be its view 1.
        (192, 7, 193, "view number 0 for finger position 7"),
        (194, 255, 194, "views[1]: finger quality 255 is above 100"),
    ];
    for (at, value, offset, fragment) in cases {
        let mut b = bytes.clone();
        b[at] = value;
        rejects(&b, offset, fragment);
    }
    // Swipe (8) is an ISO impression type; a second view of finger 7 numbered 1 is fine.
    let mut b = bytes.clone();
    b[25] = 0x08;
    b[192] = 7;
    b[193] = 0x10;
    let record = parse_round_trip(&b).unwrap();
    assert_eq!(record.views()[1].view_number(), 1);
}

#[test]
fn minutia_values_out_of_range() {
    let Some(bytes) = iso_sample() else { return };
    // Minutia 0 of view 0 is at 28: type and x at 28, reserved bits and y at 30, angle 32, quality 33.
    let cases: [(usize, &[u8], usize, &str); 6] = [
        (28, &[0xc0, 0x64], 28, "views[0].minutiae[0]: minutia type 3 is reserved"),
        (28, &[0x42, 0x00], 28, "views[0].minutiae[0]: x = 512 is outside the image (width 512)"),
        (30, &[0x40, 0x0e], 30, "views[0].minutiae[0]: the two reserved bits above y are 1, not 0"),
        (30, &[0x02, 0x00], 30, "views[0].minutiae[0]: y = 512 is outside the image (height 512)"),
        (33, &[101], 33, "views[0].minutiae[0]: quality 101 is above 100"),
        (327, &[200], 327, "views[1].minutiae[21]: quality 200 is above 100"),
    ];
    for (at, value, offset, fragment) in cases {
        let mut b = bytes.clone();
        b[at..at + value.len()].copy_from_slice(value);
        rejects(&b, offset, fragment);
    }
    // Every ISO angle byte is valid (256 units per turn), and x = width - 1 is inside.
    let mut b = bytes.clone();
    b[32] = 255;
    b[28..30].copy_from_slice(&[0x41, 0xff]);
    let record = parse_round_trip(&b).unwrap();
    assert_eq!(record.views()[0].minutiae()[0].x, 511);
    assert_eq!(record.views()[0].minutiae()[0].angle.degrees(), 255.0 * 360.0 / 256.0);
}

#[test]
fn extended_block_types() {
    let Some(bytes) = iso_sample() else { return };
    for (type_code, accepted) in [(0x0000, false), (0x0003, true), (0x0004, false), (0x00ff, false), (0x0100, true)] {
        let mut b = bytes.clone();
        set_u16(&mut b, 330, type_code);
        if accepted {
            parse_round_trip(&b).unwrap();
        } else {
            rejects(&b, 330, &format!("views[1].extended_data[0]: block type 0x{type_code:04x} is reserved"));
        }
    }
    // Type 1 makes the same six bytes a ridge-count block: method 1, then 0x44 0xbc 0x36 — minutia
    // 68 of a view with 22 minutiae.
    let mut b = bytes.clone();
    set_u16(&mut b, 330, 0x0001);
    rejects(&b, 335, "views[1].extended_data[0].counts[0]: minutia index 68 is beyond the view's 22 minutiae");
}
