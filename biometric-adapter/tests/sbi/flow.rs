//! The happy path over real HTTP, quality refusals and the simulator binary.

use biometric_adapter::{
    matcher::{self, FingerTemplate},
    sbi::{
        SbiError,
        jws::JwsAlg,
        messages::Purpose,
        quality::QualityPolicy,
        simulator::SUBJECT_OPT,
        verify::{BioFormat, VerifiedCapture, VerifyOptions, new_transaction_id},
    },
    template::FingerPosition,
};

use crate::support::{client, config, now, pki, request, start, trust};

fn template(c: &VerifiedCapture) -> FingerTemplate {
    let BioFormat::MinutiaeRecord(record) = &c.format else { panic!("expected a minutiae record") };
    FingerTemplate::from_single_view_record(record).unwrap()
}

#[tokio::test]
async fn discover_info_and_ten_fingers_in_three_slaps() {
    let (port, simulator) = start(config(0), &pki().device).await;
    let client = client();

    let found = client.discover(port..=port, "Biometric Device").await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].1[0].device_status, "Ready");
    assert!(client.discover(port..=port, "Iris").await.is_empty(), "an iris discovery must not find a finger device");

    let info = client.device_info(port, now()).await.unwrap();
    assert_eq!(info[0].digital_id.serial_no, "SIM-TEST-1");
    assert_eq!(info[0].info.purpose, "Registration");
    assert_eq!(info[0].info.device_code, simulator.device_code());

    let transaction = new_transaction_id().unwrap();
    let mut previous = None;
    let mut all = Vec::new();
    for (sub_id, count) in [("1", 4), ("2", 4), ("3", 2)] {
        let req = request(sub_id, count, &transaction, previous.clone());
        let (captures, raw) =
            client.capture(port, &req, Some(&info[0]), &QualityPolicy::new(0.0).unwrap(), now).await.unwrap();
        assert!(!raw.is_empty());
        previous = captures.last().map(|c| c.hash.clone());
        all.extend(captures);
    }
    let mut fingers: Vec<u8> = all.iter().map(|c| c.finger.code()).collect();
    fingers.sort_unstable();
    assert_eq!(fingers, (1..=10).collect::<Vec<u8>>());
    for c in &all {
        assert!(matches!(c.format, BioFormat::MinutiaeRecord(_)));
        assert!((1.0..=100.0).contains(&c.quality), "{}", c.quality);
        assert_eq!(c.transaction_id, transaction);
        assert!(c.signer.contains("CN=SIM-TEST-1"), "{}", c.signer);
        assert_eq!(c.digital_id.serial_no, "SIM-TEST-1");
    }
}

#[tokio::test]
async fn captures_are_fresh_impressions_and_planted_duplicates_match_their_original() {
    let (port, simulator) = start(config(0), &pki().device).await;
    let client = client();
    let roster = simulator.roster();
    assert_eq!(roster.duplicates.len(), 2);
    let dup = roster.duplicates[0];
    let other = (dup.same_person_as + 1) % roster.subjects;
    let capture = async |subject: u64| {
        let mut req = request("1", 4, &new_transaction_id().unwrap(), None);
        req.custom_opts.insert(SUBJECT_OPT.into(), subject.to_string());
        client.capture(port, &req, None, &QualityPolicy::new(0.0).unwrap(), now).await.unwrap().0
    };
    let original = capture(dup.same_person_as).await;
    let again = capture(dup.same_person_as).await;
    let duplicate = capture(dup.subject).await;
    let stranger = capture(other).await;
    assert_ne!(original[0].biometric, again[0].biometric, "every capture must be a new impression");
    let score = |a: &[VerifiedCapture], b: &[VerifiedCapture]| {
        a.iter().zip(b).map(|(x, y)| matcher::compare(&template(x), &template(y)).value() as f64).sum::<f64>()
    };
    let genuine = score(&original, &duplicate);
    let impostor = score(&original, &stranger);
    assert!(genuine > impostor * 2.0 && genuine > 0.0, "duplicate {genuine} vs stranger {impostor}");

    // The control endpoint chooses who presents, too.
    let http = reqwest::Client::new();
    let r = http
        .post(format!("http://127.0.0.1:{port}/simulator/present"))
        .body(format!("{{\"subject\": {}}}", dup.subject))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["person"], dup.same_person_as);
}

#[tokio::test]
async fn quality_under_the_policy_is_refused_with_finger_and_score() {
    let (port, _) = start(config(0), &pki().device).await;
    let policy = QualityPolicy::new(30.0).unwrap().with_finger(FingerPosition::LeftIndex, 99.5).unwrap();
    let err = client()
        .capture(port, &request("1", 4, &new_transaction_id().unwrap(), None), None, &policy, now)
        .await
        .unwrap_err();
    let SbiError::QualityTooLow { failures } = &err else { panic!("{err}") };
    assert_eq!(failures.len(), 1, "{err}");
    assert_eq!(failures[0].finger, FingerPosition::LeftIndex);
    assert!(failures[0].score < 99.5);
    let text = err.to_string();
    assert!(text.contains("left index scored") && text.contains("below the minimum 100"), "{text}");
    assert!(QualityPolicy::new(101.0).is_err());
}

#[tokio::test]
async fn quality_tracks_the_noise() {
    let quiet = config(0);
    let noisy = config(0);
    let (quiet_port, _) = start(
        biometric_adapter::sbi::simulator::SimulatorConfig {
            noise: biometric_adapter::population::NoiseParams::none(),
            ..quiet
        },
        &pki().device,
    )
    .await;
    let (noisy_port, _) = start(noisy, &pki().device).await;
    let mean = async |port: u16| {
        let req = request("0", 10, &new_transaction_id().unwrap(), None);
        let (c, _) = client().capture(port, &req, None, &QualityPolicy::new(0.0).unwrap(), now).await.unwrap();
        c.iter().map(|c| c.quality).sum::<f64>() / c.len() as f64
    };
    let (q, n) = (mean(quiet_port).await, mean(noisy_port).await);
    assert!(q > 95.0 && n < q - 15.0, "noise-free {q}, default noise {n}");
}

#[tokio::test]
async fn rs256_device_as_the_specification_says() {
    let device = pki()
        .provider
        .issue_device("SIM-TEST-1", JwsAlg::RS256, now() - time::Duration::days(1), now() + time::Duration::days(30))
        .unwrap();
    let (port, _) = start(config(0), &device).await;
    let req = request("3", 2, &new_transaction_id().unwrap(), None);
    let (captures, _) = client().capture(port, &req, None, &QualityPolicy::new(0.0).unwrap(), now).await.unwrap();
    assert_eq!(captures.len(), 2);
}

#[tokio::test]
async fn device_error_codes_become_clear_messages() {
    // An Auth device asked for a registration capture: the device refuses (vendor code 502).
    let (port, _) = start(
        biometric_adapter::sbi::simulator::SimulatorConfig { purpose: Purpose::Auth, ..config(0) },
        &pki().device,
    )
    .await;
    let err =
        client().capture(port, &request("1", 4, "t-1", None), None, &QualityPolicy::default(), now).await.unwrap_err();
    assert!(matches!(&err, SbiError::Device { code, .. } if code == "502"), "{err}");
    assert!(err.to_string().contains("registered for Auth"), "{err}");
    // A count that does not fit the slap: 109.
    let (port, _) = start(config(0), &pki().device).await;
    let err =
        client().capture(port, &request("1", 3, "t-2", None), None, &QualityPolicy::default(), now).await.unwrap_err();
    assert!(err.to_string().contains("error 109: requested number of biometrics"), "{err}");
}

#[test]
fn simulator_binary_explains_itself() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sbi-simulator")).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for needle in ["--port", "--duplicates", "/simulator/present", "drukyul.subject", "--export-ca", "--state-dir"] {
        assert!(text.contains(needle), "--help lacks {needle}:\n{text}");
    }
}

/// A face photo (issue 3 item 9): discovered as a `Face` device, captured over RCAPTURE, signed
/// with the device key and verified like the fingers: an ISO/IEC 19794-5 record with a JPEG that
/// is the same for the same person. A changed photo, a re-signed one and a face sent to the finger
/// verifier are refused.
#[tokio::test]
async fn a_face_photo_is_captured_signed_and_verified() {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    use biometric_adapter::sbi::{face, simulator::FACE_DEVICE_ID, verify};
    let (port, simulator) = start(config(0), &pki().device).await;
    let client = client();
    let found = client.discover(port..=port, "Face").await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].1[0].device_id, FACE_DEVICE_ID);

    let face_request = |subject: u64| {
        let mut req = request("0", 1, &new_transaction_id().unwrap(), None);
        req.bio[0].bio_type = "Face".into();
        req.bio[0].device_id = FACE_DEVICE_ID.into();
        req.custom_opts.insert(SUBJECT_OPT.into(), subject.to_string());
        req
    };
    let req = face_request(3);
    let (face, raw) = client.capture_face(port, &req, None, now).await.unwrap();
    assert_eq!((face.image.width, face.image.height), (120, 150));
    assert_eq!(face.image, face::synthetic_photo(3).unwrap(), "the presenting person's photo");
    assert!(face.signer.contains("CN=SIM-TEST-1"), "{}", face.signer);
    assert_eq!(face.digital_id.device_type, "Face");
    assert!(face::parse_record(&face.record).is_ok());
    let (again, _) = client.capture_face(port, &face_request(3), None, now).await.unwrap();
    assert_eq!(again.image, face.image, "deterministic per person");

    // The verifier on the raw answer, then doctored copies of it.
    let opts = VerifyOptions::default();
    assert!(verify::verify_face_response(&raw, &req, &trust(), None, &opts, now()).is_ok());
    let mut response: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let jws = response["biometrics"][0]["data"].as_str().unwrap().to_owned();
    let parts: Vec<&str> = jws.split('.').collect();
    let mut payload: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let other = face::write_record(&face::synthetic_photo(4).unwrap());
    payload["bioValue"] = URL_SAFE_NO_PAD.encode(&other).into();
    response["biometrics"][0]["data"] =
        format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(payload.to_string()), parts[2]).into();
    let forged = serde_json::to_vec(&response).unwrap();
    let err = verify::verify_face_response(&forged, &req, &trust(), None, &opts, now()).unwrap_err();
    assert!(matches!(err, SbiError::BadSignature { .. }), "{err}");

    // Re-signed with a key of an untrusted provider (hash chain recomputed): untrusted.
    let rogue = biometric_adapter::sbi::simulator::DeviceProvider::generate("Rogue", now()).unwrap();
    let rogue_device = rogue
        .issue_device("ROGUE-1", JwsAlg::ES256, now() - time::Duration::days(1), now() + time::Duration::days(1))
        .unwrap();
    let signed = rogue_device.signer().unwrap().sign(payload.to_string().as_bytes()).unwrap();
    response["biometrics"][0]["data"] = signed.into();
    response["biometrics"][0]["hash"] = verify::chain_next(&req.bio[0].previous_hash, &other).into();
    let resigned = serde_json::to_vec(&response).unwrap();
    let err = verify::verify_face_response(&resigned, &req, &trust(), None, &opts, now()).unwrap_err();
    assert!(matches!(err, SbiError::Untrusted { .. }), "{err}");

    // A face is not a finger, and a finger request is not a face request.
    assert!(verify::verify_capture_response(&raw, &req, &trust(), None, &opts, now()).is_err());
    assert!(verify::verify_face_response(&raw, &request("1", 4, "t", None), &trust(), None, &opts, now()).is_err());
    drop(simulator);
}
