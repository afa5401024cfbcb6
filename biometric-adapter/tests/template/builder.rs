//! Records built from values with `Record::new`: equal to the parse of the same bytes, and refused,
//! with the field named, when a value breaks a rule.

use biometric_adapter::{
    Error,
    template::{
        self, Angle, BlockLengths, CaptureEquipment, Core, CoresAndDeltas, ExtendedBlock, FingerPosition, FingerView,
        Format, ImpressionType, Minutia, MinutiaKind, ProductId, Record, RecordHeader,
    },
};

use crate::support::{ISO_SAMPLE, SOURCEAFIS, fixture};

fn header(format: Format) -> RecordHeader {
    RecordHeader {
        format,
        product_id: (format == Format::Ansi378_2004).then_some(ProductId { owner: 0x42, product_type: 1 }),
        capture_equipment: CaptureEquipment { appendix_f_certified: false, device_type_id: 7 },
        width: 400,
        height: 500,
        resolution_x: 197,
        resolution_y: 197,
    }
}

fn minutia(x: u16, y: u16, degrees: f64, format: Format) -> Minutia {
    Minutia { kind: MinutiaKind::Ending, x, y, angle: Angle::from_degrees(degrees, format), quality: 60 }
}

fn rejected(result: Result<Record, Error>, fragment: &str) {
    match result {
        Ok(_) => panic!("accepted; expected a refusal mentioning {fragment:?}"),
        Err(e) => assert!(e.to_string().contains(fragment), "{e} should mention {fragment:?}"),
    }
}

/// Rebuilds a parsed record from its parts.
fn rebuild(record: &Record) -> Result<Record, Error> {
    let views = record
        .views()
        .iter()
        .map(|v| {
            FingerView::new(
                v.finger_position(),
                v.view_number(),
                v.impression_type(),
                v.quality(),
                v.minutiae().to_vec(),
            )
            .with_extended_data(v.extended_data().to_vec(), v.block_lengths())
        })
        .collect();
    Record::new(
        RecordHeader {
            format: record.format(),
            product_id: record.product_id(),
            capture_equipment: record.capture_equipment(),
            width: record.width(),
            height: record.height(),
            resolution_x: record.resolution_x(),
            resolution_y: record.resolution_y(),
        },
        views,
    )
}

#[test]
fn published_records_rebuilt_from_their_values_are_equal_and_write_the_same_bytes() {
    for name in [ISO_SAMPLE, SOURCEAFIS[0], SOURCEAFIS[2]] {
        let Some(bytes) = fixture(name) else { return };
        let parsed = template::parse(&bytes).unwrap();
        let built = rebuild(&parsed).unwrap();
        assert_eq!(built, parsed, "{name}");
        assert!(bytes.starts_with(&template::write(&built)), "{name}");
    }
}

#[test]
fn built_records_of_both_formats_round_trip() {
    for format in [Format::Iso19794_2_2005, Format::Ansi378_2004] {
        let cores =
            CoresAndDeltas::new(vec![Core { x: 200, y: 240, angle: Some(Angle::from_degrees(90.0, format)) }], vec![]);
        let views = vec![
            FingerView::new(
                FingerPosition::RightIndex,
                0,
                ImpressionType::LivePlain,
                80,
                vec![minutia(10, 20, 45.0, format), minutia(399, 499, 358.0, format)],
            )
            .with_extended_data(vec![ExtendedBlock::CoresAndDeltas(cores)], BlockLengths::IncludeHeader),
            FingerView::new(
                FingerPosition::RightIndex,
                1,
                ImpressionType::LivePlain,
                70,
                vec![minutia(5, 5, 0.0, format)],
            ),
        ];
        let record = Record::new(header(format), views).unwrap();
        let bytes = template::write(&record);
        assert_eq!(template::parse(&bytes).unwrap(), record);
    }
}

#[test]
fn angles_from_degrees_round_to_the_nearest_step_and_wrap() {
    assert_eq!(Angle::from_degrees(45.0, Format::Iso19794_2_2005).raw(), 32);
    assert_eq!(Angle::from_degrees(-360.0 / 256.0, Format::Iso19794_2_2005).raw(), 255);
    assert_eq!(Angle::from_degrees(359.9, Format::Iso19794_2_2005).raw(), 0);
    assert_eq!(Angle::from_degrees(359.0, Format::Ansi378_2004).raw(), 0);
    assert_eq!(Angle::from_degrees(357.0, Format::Ansi378_2004).raw(), 179);
    assert_eq!(Angle::from_degrees(f64::NAN, Format::Ansi378_2004).raw(), 0);
    assert!(Angle::from_raw(180, Format::Ansi378_2004).is_err());
    assert_eq!(Angle::from_raw(180, Format::Iso19794_2_2005).unwrap().degrees(), 253.125);
}

#[test]
fn values_that_break_a_rule_are_refused_with_the_field_named() {
    let iso = Format::Iso19794_2_2005;
    let view =
        |minutiae: Vec<Minutia>| FingerView::new(FingerPosition::LeftIndex, 0, ImpressionType::LivePlain, 50, minutiae);
    rejected(
        Record::new(header(iso), vec![view(vec![minutia(400, 10, 0.0, iso)])]),
        "views[0]: minutiae[0]: x = 400 is outside the image (width 400)",
    );
    rejected(
        Record::new(header(iso), vec![view(vec![minutia(1, 1, 0.0, iso), minutia(1, 500, 0.0, iso)])]),
        "minutiae[1]: y = 500",
    );
    rejected(
        Record::new(header(iso), vec![view(vec![Minutia { quality: 101, ..minutia(1, 1, 0.0, iso) }])]),
        "quality 101 is above 100",
    );
    rejected(
        Record::new(header(iso), vec![view(vec![minutia(1, 1, 0.0, Format::Ansi378_2004)])]),
        "the other format's unit",
    );
    rejected(
        Record::new(
            header(iso),
            vec![FingerView::new(FingerPosition::LeftIndex, 0, ImpressionType::LivePlain, 101, vec![])],
        ),
        "finger quality 101",
    );
    rejected(
        Record::new(
            header(iso),
            vec![FingerView::new(FingerPosition::LeftIndex, 1, ImpressionType::LivePlain, 50, vec![])],
        ),
        "must be 0",
    );
    rejected(
        Record::new(
            header(iso),
            vec![FingerView::new(FingerPosition::LeftIndex, 0, ImpressionType::LiveContactless, 50, vec![])],
        ),
        "ANSI INCITS 378 only",
    );
    rejected(Record::new(RecordHeader { width: 0, ..header(iso) }, vec![]), "image width is 0");
    rejected(
        Record::new(RecordHeader { product_id: Some(ProductId { owner: 1, product_type: 1 }), ..header(iso) }, vec![]),
        "no CBEFF",
    );
    rejected(
        Record::new(
            RecordHeader { product_id: Some(ProductId { owner: 0, product_type: 1 }), ..header(Format::Ansi378_2004) },
            vec![],
        ),
        "owner is 0",
    );
    let ansi = Format::Ansi378_2004;
    let mixed = CoresAndDeltas::new(
        vec![Core { x: 1, y: 1, angle: Some(Angle::from_degrees(0.0, ansi)) }, Core { x: 2, y: 2, angle: None }],
        vec![],
    );
    rejected(
        Record::new(
            header(ansi),
            vec![
                FingerView::new(FingerPosition::LeftIndex, 0, ImpressionType::LivePlain, 50, vec![])
                    .with_extended_data(vec![ExtendedBlock::CoresAndDeltas(mixed)], BlockLengths::IncludeHeader),
            ],
        ),
        "all cores",
    );
    rejected(
        Record::new(
            header(iso),
            vec![view(vec![]).with_extended_data(
                vec![ExtendedBlock::Other { type_code: 0x0005, data: vec![1] }],
                BlockLengths::IncludeHeader,
            )],
        ),
        "reserved",
    );
}
