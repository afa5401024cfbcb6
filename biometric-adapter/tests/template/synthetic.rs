//! Records built byte by byte (by `support`'s own encoder, not the crate's writer): the ANSI
//! layout, both length forms, every extended-data block, and their rule violations.

use biometric_adapter::template::{
    self, BlockLengths, ExtendedBlock, FingerPosition, Format, ImpressionType, MinutiaKind, RidgeCount,
    RidgeCountMethod,
};

use crate::support::{View, ansi, block, block_excl, block_incl, iso, minutia, parse_round_trip, rejects};

fn ansi_minutiae() -> Vec<[u8; 6]> {
    vec![minutia(1, 100, 200, 179, 60), minutia(2, 5, 7, 0, 100), minutia(0, 511, 511, 90, 0)]
}

/// ANSI cores/deltas data: 2 cores with angles, 1 delta with angles.
fn ansi_cores_and_deltas() -> Vec<u8> {
    let mut d = vec![0x42, 0, 10, 0, 20, 45, 0, 30, 0, 40, 90];
    d.extend([0x41, 0, 50, 0, 60, 1, 2, 3]);
    d
}

#[test]
fn ansi_record_with_every_block_round_trips_exactly() {
    let mut v0 = View::new(2, ansi_minutiae()).with_blocks(&[
        block_incl(0x0001, &[2, 0, 1, 5, 1, 2, 7, 2, 3, 9]),
        block_incl(0x0002, &ansi_cores_and_deltas()),
        block_incl(0x0101, &[9, 9, 9]),
    ]);
    v0.impression = 9;
    // The second view of the same finger; a cores/deltas block that sets the angle flag with no
    // cores, as fingerprintio writes it.
    let mut v1 = View::new(2, vec![]).with_blocks(&[block_incl(0x0002, &[0x40, 0x00])]);
    v1.view_number = 1;
    let bytes = ansi(&[v0, v1]);
    assert_eq!(&bytes[8..10], &u16::try_from(bytes.len()).unwrap().to_be_bytes());

    let record = parse_round_trip(&bytes).unwrap();
    assert_eq!(template::write(&record), bytes);
    assert_eq!(record.format(), Format::Ansi378_2004);
    let product = record.product_id().unwrap();
    assert_eq!((product.owner, product.product_type), (0x0042, 0x0011));
    let equipment = record.capture_equipment();
    assert!(equipment.appendix_f_certified);
    assert_eq!(equipment.device_type_id, 42);

    let [v0, v1] = record.views() else { panic!("two views") };
    assert_eq!(v0.finger_position(), FingerPosition::RightIndex);
    assert_eq!(v0.impression_type(), ImpressionType::LiveContactless);
    let m = v0.minutiae()[0];
    assert_eq!((m.kind, m.x, m.y, m.angle.raw(), m.quality), (MinutiaKind::Ending, 100, 200, 179, 60));
    assert_eq!(m.angle.degrees(), 358.0, "ANSI angles are 2-degree steps");
    assert_eq!(v0.minutiae()[2].kind, MinutiaKind::Other);
    assert_eq!(v0.block_lengths(), BlockLengths::IncludeHeader);

    let ExtendedBlock::RidgeCounts(counts) = &v0.extended_data()[0] else { panic!("ridge counts first") };
    assert_eq!(counts.method, RidgeCountMethod::EightNeighbour);
    assert_eq!(
        counts.counts,
        [
            RidgeCount { first: 0, second: 1, count: 5 },
            RidgeCount { first: 1, second: 2, count: 7 },
            RidgeCount { first: 2, second: 3, count: 9 },
        ]
    );
    let ExtendedBlock::CoresAndDeltas(cd) = &v0.extended_data()[1] else { panic!("cores and deltas second") };
    let cores: Vec<_> = cd.cores().iter().map(|c| (c.x, c.y, c.angle.map(|a| a.raw()))).collect();
    assert_eq!(cores, [(10, 20, Some(45)), (30, 40, Some(90))]);
    let delta = cd.deltas()[0];
    assert_eq!((delta.x, delta.y, delta.angles.map(|a| a.map(|a| a.degrees()))), (50, 60, Some([2.0, 4.0, 6.0])));
    assert_eq!(v0.extended_data()[2], ExtendedBlock::Other { type_code: 0x0101, data: vec![9, 9, 9] });

    assert_eq!(v1.view_number(), 1);
    let ExtendedBlock::CoresAndDeltas(cd) = &v1.extended_data()[0] else { panic!("cores and deltas") };
    assert!(cd.cores().is_empty() && cd.deltas().is_empty());
}

#[test]
fn records_of_64_kib_and_more() {
    // Three views with 30000-byte vendor blocks.
    let big = vec![0xab; 30_000];
    let views: Vec<View> =
        (1..=3).map(|p| View::new(p, vec![minutia(1, 1, 1, 1, 1)]).with_blocks(&[block_incl(0x0101, &big)])).collect();

    // ANSI switches to its 6-byte length: two zero bytes, then four.
    let bytes = ansi(&views);
    assert!(bytes.len() > 0xffff);
    assert_eq!(&bytes[8..10], &[0, 0]);
    assert_eq!(template::write(&parse_round_trip(&bytes).unwrap()), bytes);

    // ISO's 4-byte length simply grows; its first two bytes are then 1 (read as ISO, not ANSI).
    let iso_views: Vec<View> =
        (1..=3).map(|p| View::new(p, vec![minutia(1, 1, 1, 1, 1)]).with_blocks(&[block_excl(0x0101, &big)])).collect();
    let bytes = iso(&iso_views);
    assert_eq!(&bytes[8..10], &[0, 1]);
    let record = parse_round_trip(&bytes).unwrap();
    assert_eq!(record.format(), Format::Iso19794_2_2005);
    assert_eq!(template::write(&record), bytes);
}

#[test]
fn ansi_6_byte_length_on_a_short_record_is_rejected() {
    let short = ansi(&[View::new(1, ansi_minutiae())]);
    let mut long = short[..8].to_vec();
    long.extend([0, 0]);
    long.extend(u32::try_from(short.len() + 4).unwrap().to_be_bytes());
    long.extend(&short[10..]);
    rejects(&long, 10, "is in ANSI INCITS 378's 6-byte form, which is for records of 65540 bytes and more");
}

#[test]
fn ansi_rule_violations() {
    // Layout of a one-view ANSI record: header 0-25 (product owner at 10), view at 26, minutiae from
    // 30, extended data length at 30 + 6n, first block at 32 + 6n.
    let base = ansi(&[View::new(1, ansi_minutiae())]);
    parse_round_trip(&base).unwrap();

    let mut b = base.clone();
    b[34] = 180;
    rejects(&b, 34, "views[0].minutiae[0]: angle 180 is above 179 (ANSI INCITS 378 counts 2-degree steps)");
    let mut b = base.clone();
    b[10..12].copy_from_slice(&[0, 0]);
    rejects(&b, 10, "CBEFF product owner is 0");

    let with = |blocks: &[Vec<u8>]| ansi(&[View::new(1, ansi_minutiae()).with_blocks(blocks)]);
    let first_block = 32 + 18;
    rejects(&with(&[block(0x0101, 3, &[])]), first_block + 2, "block length 3 is less than the 4-byte block header");
    rejects(&with(&[block(0x0101, 9, &[1, 2, 3, 4])]), first_block + 2, "block length 9 runs past");
    rejects(&with(&[block_incl(0x0003, &[1])]), first_block, "block type 0x0003 is reserved in ANSI INCITS 378-2004");
    rejects(&with(&[block_incl(0x0001, &[])]), first_block + 4, "the ridge-count extraction method needs 1 bytes");
    rejects(&with(&[block_incl(0x0001, &[3])]), first_block + 4, "ridge-count extraction method 3 is not 0");
    rejects(
        &with(&[block_incl(0x0001, &[0, 0, 4, 1])]),
        first_block + 6,
        "minutia index 4 is beyond the view's 3 minutiae",
    );
    rejects(
        &with(&[block_incl(0x0001, &[0, 0, 1, 1, 2, 2])]),
        first_block + 8,
        "2 bytes are left over; ridge-count entries are 3 bytes each",
    );

    let cores_at = first_block + 4;
    let mut cd = ansi_cores_and_deltas();
    cd[5] = 180;
    rejects(
        &with(&[block_incl(0x0002, &cd)]),
        cores_at + 5,
        "views[0].extended_data[0].cores[0]: angle 180 is above 179",
    );
    let mut cd = ansi_cores_and_deltas();
    cd[0] = 0x52;
    rejects(&with(&[block_incl(0x0002, &cd)]), cores_at, "the cores info byte 0x52 sets reserved bits");
    let mut cd = ansi_cores_and_deltas();
    cd[0] = 0x82;
    rejects(&with(&[block_incl(0x0002, &cd)]), cores_at, "cores type 2 is reserved");
    let mut cd = ansi_cores_and_deltas();
    cd[1] = 0x02; // core 0 x = 522
    rejects(&with(&[block_incl(0x0002, &cd)]), cores_at + 1, "cores[0]: x = 522 is outside the image (width 512)");
    let mut cd = ansi_cores_and_deltas();
    cd.push(0);
    rejects(&with(&[block_incl(0x0002, &cd)]), cores_at + cd.len() - 1, "1 bytes are left after the last delta");
    let cd = [0x41, 0, 1, 0, 1, 7];
    rejects(
        &with(&[block_incl(0x0002, &cd)]),
        cores_at + 6,
        "needs 1 bytes but views[0].extended_data[0] (cores and deltas) ends",
    );
}

#[test]
fn iso_block_lengths_are_read_both_ways_and_written_back_the_same_way() {
    let data = [1, 2, 3];
    let excl = iso(&[View::new(7, vec![]).with_blocks(&[block_excl(0x0101, &data), block_excl(0x0003, &[8])])]);
    let incl = iso(&[View::new(7, vec![]).with_blocks(&[block_incl(0x0101, &data), block_incl(0x0003, &[8])])]);
    let a = parse_round_trip(&excl).unwrap();
    let b = parse_round_trip(&incl).unwrap();
    assert_eq!(a.views()[0].block_lengths(), BlockLengths::ExcludeHeader);
    assert_eq!(b.views()[0].block_lengths(), BlockLengths::IncludeHeader);
    assert_eq!(a.views()[0].extended_data(), b.views()[0].extended_data());
    assert_eq!(template::write(&a), excl);
    assert_eq!(template::write(&b), incl);

    // When both readings fit, the standard's (data only) wins: one block [01 02 00 04], rather than
    // two empty ones.
    let both = iso(&[View::new(7, vec![]).with_blocks(&[block(0x0101, 4, &[0x01, 0x02, 0x00, 0x04])])]);
    let record = parse_round_trip(&both).unwrap();
    assert_eq!(record.views()[0].block_lengths(), BlockLengths::ExcludeHeader);
    assert_eq!(record.views()[0].extended_data(), [ExtendedBlock::Other { type_code: 0x0101, data: vec![1, 2, 0, 4] }]);
}

#[test]
fn iso_cores_and_deltas_carry_an_angle_flag_per_point() {
    let minutiae = vec![minutia(1, 10, 10, 200, 50), minutia(2, 20, 20, 10, 50)];
    // Cores: (100, 120) with angle 200, (300, 310) without; deltas: (50, 60) with angles 1 2 3,
    // (70, 80) without.
    let cd = [2, 0x40, 100, 0, 120, 200, 0x01, 0x2c, 0x01, 0x36, 2, 0x40, 50, 0, 60, 1, 2, 3, 0, 70, 0, 80];
    let rc = [1, 0, 1, 4, 1, 2, 3];
    let bytes = iso(&[View::new(3, minutiae).with_blocks(&[block_excl(0x0001, &rc), block_excl(0x0002, &cd)])]);
    let record = parse_round_trip(&bytes).unwrap();
    assert_eq!(template::write(&record), bytes);
    let view = &record.views()[0];
    let ExtendedBlock::CoresAndDeltas(cd_block) = &view.extended_data()[1] else { panic!("cores and deltas") };
    let cores: Vec<_> = cd_block.cores().iter().map(|c| (c.x, c.y, c.angle.map(|a| a.raw()))).collect();
    assert_eq!(cores, [(100, 120, Some(200)), (300, 310, None)]);
    let deltas: Vec<_> = cd_block.deltas().iter().map(|d| (d.x, d.y, d.angles.map(|a| a.map(|a| a.raw())))).collect();
    assert_eq!(deltas, [(50, 60, Some([1, 2, 3])), (70, 80, None)]);
    assert_eq!(cd_block.cores()[0].angle.unwrap().degrees(), 200.0 * 360.0 / 256.0);

    // Header 24, view header 24, minutiae 28-39, extended data length 40, ridge counts 42-52, the
    // cores/deltas block header at 53 and its data at 57.
    let with = |cd: &[u8]| {
        iso(&[View::new(3, vec![minutia(1, 10, 10, 200, 50), minutia(2, 20, 20, 10, 50)])
            .with_blocks(&[block_excl(0x0001, &rc), block_excl(0x0002, cd)])])
    };
    let mut bad = cd;
    bad[1] = 0x80;
    rejects(&with(&bad), 58, "views[0].extended_data[1].cores[0]: point type 2 is reserved");
    let mut bad = cd;
    bad[3] = 0x42;
    rejects(&with(&bad), 60, "cores[0]: the two reserved bits above y are 1, not 0");
    let mut bad = cd;
    bad[6] = 0x02;
    rejects(&with(&bad), 63, "cores[1]: x = 556 is outside the image (width 512)");
    let mut bad = cd;
    bad[0] = 16;
    rejects(&with(&bad), 57, "16 cores; at most 15 are allowed");
}
