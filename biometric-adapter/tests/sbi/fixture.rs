//! MOSIP's mock device's capture (the shared fixture).
//!
//! The file holds only the *payload* of a capture's `data` JWS — base64url JSON, no header and no
//! signature (the mock device keeps its captures unsigned on disk and signs them with its own
//! key as it serves them). So there is no signature or x5c in it to check: the test shows that it
//! parses, that its fields read as the specification says, that its unsigned digital id decodes,
//! that its ISO/IEC 19794-4 record is sound, and that the verifier refuses it as unsigned.

use biometric_adapter::{
    sbi::{
        SbiError, jws,
        messages::finger_from_sub_type,
        verify::{BioFormat, parse_capture_payload, parse_unsigned_digital_id, read_biometric},
    },
    template::FingerPosition,
};

fn fixture() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sbi/mosip-mock-rcapture-left-index.txt");
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn mosip_mock_capture_parses() {
    let data = parse_capture_payload(&fixture()).unwrap();
    assert_eq!(data.bio_sub_type, "Left IndexFinger");
    assert_eq!(finger_from_sub_type(&data.bio_sub_type), Some(FingerPosition::LeftIndex));
    assert_eq!(data.purpose, "Registration");
    assert_eq!(data.env, "Staging");
    assert_eq!(data.quality_score, 45.0);
    assert_eq!(data.requested_score, Some(20.0));
    assert_eq!(data.registration_id.as_deref(), Some("1234567890"));
    let id = parse_unsigned_digital_id(&data.digital_id).unwrap();
    assert_eq!(
        (id.make.as_str(), id.model.as_str(), id.device_provider_id.as_str()),
        ("Greenbit", "DactyScan84c", "SYNCBYTE.TCI322")
    );

    // bioValue is a bare JPEG; the ISO/IEC 19794-4 record is in bioExtract, and it is whole.
    let bio_value = jws::decode_unsigned("bioValue", &data.bio_value).unwrap();
    assert_eq!(&bio_value[..3], &[0xff, 0xd8, 0xff]);
    let (record, format) =
        read_biometric(FingerPosition::LeftIndex, bio_value.clone(), data.bio_extract.as_deref()).unwrap();
    assert_eq!(format, BioFormat::FingerImage);
    assert_eq!(&record[..8], &[b'F', b'I', b'R', 0, b'0', b'2', b'0', 0]);
    // Without bioExtract a bare image is refused.
    assert!(matches!(read_biometric(FingerPosition::LeftIndex, bio_value, None), Err(SbiError::Template { .. })));

    // The file is not a JWS: nothing to verify, and the verifier's parser says so.
    let err = jws::parse("fixture", fixture().trim()).unwrap_err();
    assert!(err.to_string().contains("not a compact JWS"), "{err}");
}
