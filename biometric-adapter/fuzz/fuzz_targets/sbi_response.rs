//! The SBI response parsers and verifier on arbitrary bytes: capture and device-info responses,
//! compact JWS, unsigned capture payloads, the biometric reader, and face captures (the response
//! verifier and the ISO/IEC 19794-5 record reader). Nothing may panic, hang or allocate without
//! bound; every input must end in Ok or a clear error.
#![no_main]

use std::sync::OnceLock;

use biometric_adapter::{
    sbi::{
        face, jws,
        messages::{BioRequest, CaptureRequest, Env, Purpose},
        simulator::DeviceProvider,
        trust::TrustStore,
        verify::{self, VerifyOptions},
    },
    template::FingerPosition,
};
use libfuzzer_sys::fuzz_target;

fn fixture() -> &'static (TrustStore, CaptureRequest, CaptureRequest) {
    static F: OnceLock<(TrustStore, CaptureRequest, CaptureRequest)> = OnceLock::new();
    F.get_or_init(|| {
        let now = time::OffsetDateTime::now_utc();
        let ca = DeviceProvider::generate("Fuzz CA", now).expect("CA");
        let trust = TrustStore::from_pem(ca.ca_pem()).expect("trust");
        let request = CaptureRequest {
            env: Env::Developer,
            purpose: Purpose::Registration,
            spec_version: "0.9.5".into(),
            timeout: 1000,
            capture_time: "2026-01-01T00:00:00Z".into(),
            domain_uri: None,
            transaction_id: "fuzz".into(),
            registration_id: None,
            bio: vec![BioRequest {
                bio_type: "Finger".into(),
                count: 1,
                bio_sub_type: vec!["LF_INDEX".into()],
                exception: Vec::new(),
                requested_score: 40,
                device_id: "1".into(),
                device_sub_id: "1".into(),
                previous_hash: verify::chain_start(),
            }],
            custom_opts: Default::default(),
        };
        let mut face = request.clone();
        face.bio = vec![BioRequest {
            bio_type: "Face".into(),
            bio_sub_type: Vec::new(),
            device_id: "2".into(),
            device_sub_id: "0".into(),
            ..request.bio[0].clone()
        }];
        (trust, request, face)
    })
}

fuzz_target!(|data: &[u8]| {
    let (trust, request, face_request) = fixture();
    let now = time::OffsetDateTime::now_utc();
    let options = VerifyOptions::default();
    let _ = verify::verify_capture_response(data, request, trust, None, &options, now);
    let _ = verify::verify_device_info(data, trust, &options, now);
    let _ = verify::verify_face_response(data, face_request, trust, None, &options, now);
    let _ = face::parse_record(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(compact) = jws::parse("fuzz", text) {
            let _ = compact.verify("fuzz", trust, now);
        }
        let _ = verify::parse_capture_payload(text);
        let _ = verify::parse_unsigned_digital_id(text);
    }
    let _ = verify::read_biometric(FingerPosition::LeftIndex, data.to_vec(), None);
});
