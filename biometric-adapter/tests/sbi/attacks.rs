//! Every bad input the enrolment issue lists, each refused with a clear error.

use std::time::Duration;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use biometric_adapter::{
    sbi::{
        SbiError,
        client::{SbiClient, Timeouts},
        jws::JwsAlg,
        messages::{CaptureData, CaptureRequest, CaptureResponse, Env, Purpose},
        quality::QualityPolicy,
        simulator::{DeviceProvider, Simulator, SimulatorConfig},
        verify::{TransactionGuard, VerifyOptions, chain_start, new_transaction_id, verify_capture_response},
    },
    template,
};

use crate::support::{client, config, now, pki, request, start, trust};

/// A simulator that is not served: its signing is used to build responses by hand.
fn offline(device: &biometric_adapter::sbi::simulator::DeviceCredentials) -> Simulator {
    Simulator::new(config(4501), device, String::new()).unwrap()
}

fn genuine_data(sim: &Simulator, req: &CaptureRequest) -> Vec<CaptureData> {
    sim.capture_data(req, req.purpose, now()).unwrap()
}

fn body(response: &CaptureResponse) -> Vec<u8> {
    serde_json::to_vec(response).unwrap()
}

fn verify(body: &[u8], req: &CaptureRequest) -> Result<usize, SbiError> {
    verify_capture_response(body, req, &trust(), None, &VerifyOptions::default(), now()).map(|c| c.len())
}

fn req() -> CaptureRequest {
    request("1", 4, "txn-attack", None)
}

#[test]
fn a_genuine_response_verifies() {
    let sim = offline(&pki().device);
    let r = req();
    assert_eq!(verify(&body(&sim.sign_captures(&genuine_data(&sim, &r), &chain_start()).unwrap()), &r).unwrap(), 4);
}

#[test]
fn a_forged_payload_is_refused() {
    let sim = offline(&pki().device);
    let r = req();
    let mut response = sim.sign_captures(&genuine_data(&sim, &r), &chain_start()).unwrap();
    // Raise the quality score in the signed payload, keeping the device's signature.
    let data = response.biometrics[0].data.clone().unwrap();
    let parts: Vec<&str> = data.split('.').collect();
    let mut payload: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["qualityScore"] = serde_json::json!(99.0);
    let forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap()), parts[2]);
    response.biometrics[0].data = Some(forged);
    let err = verify(&body(&response), &r).unwrap_err();
    assert!(matches!(err, SbiError::BadSignature { .. }), "{err}");
    assert!(err.to_string().contains("changed or signed with another key"), "{err}");
}

#[test]
fn a_response_re_signed_under_a_look_alike_ca_is_refused() {
    // The attacker makes a CA with the trusted CA's very name and signs with a device under it.
    let fake = DeviceProvider::generate("Test device provider CA", now()).unwrap();
    let device = fake
        .issue_device("SIM-TEST-1", JwsAlg::ES256, now() - time::Duration::days(1), now() + time::Duration::days(30))
        .unwrap();
    let attacker = offline(&device);
    let r = req();
    let response = attacker.sign_captures(&genuine_data(&offline(&pki().device), &r), &chain_start()).unwrap();
    let err = verify(&body(&response), &r).unwrap_err();
    assert!(matches!(err, SbiError::Untrusted { .. }), "{err}");
    assert!(err.to_string().contains("not a trusted device-provider CA"), "{err}");
}

#[test]
fn an_untrusted_device_certificate_is_refused() {
    let other = DeviceProvider::generate("Some other vendor CA", now()).unwrap();
    let device = other
        .issue_device("OTHER-1", JwsAlg::ES256, now() - time::Duration::days(1), now() + time::Duration::days(30))
        .unwrap();
    let sim = offline(&device);
    let r = req();
    let err = verify(&body(&sim.sign_captures(&genuine_data(&sim, &r), &chain_start()).unwrap()), &r).unwrap_err();
    assert!(matches!(err, SbiError::Untrusted { .. }), "{err}");
    assert!(err.to_string().contains("Some other vendor CA"), "{err}");
}

#[test]
fn an_expired_device_certificate_is_refused() {
    let device = pki()
        .provider
        .issue_device("SIM-TEST-1", JwsAlg::ES256, now() - time::Duration::days(60), now() - time::Duration::days(1))
        .unwrap();
    let sim = offline(&device);
    let r = req();
    let err = verify(&body(&sim.sign_captures(&genuine_data(&sim, &r), &chain_start()).unwrap()), &r).unwrap_err();
    assert!(matches!(err, SbiError::CertificateValidity { .. }), "{err}");
    assert!(err.to_string().contains("expired at"), "{err}");
}

#[test]
fn a_transaction_id_that_does_not_echo_is_refused_and_a_replay_too() {
    let sim = offline(&pki().device);
    let sent = req();
    let response = body(&sim.sign_captures(&genuine_data(&sim, &sent), &chain_start()).unwrap());
    let mut other = sent.clone();
    other.transaction_id = "txn-other".into();
    let err = verify(&response, &other).unwrap_err();
    assert!(matches!(err, SbiError::TransactionMismatch { .. }), "{err}");

    let guard = TransactionGuard::new(Duration::from_secs(3600), 10);
    let t = new_transaction_id().unwrap();
    guard.check_and_record(&t, now()).unwrap();
    let err = guard.check_and_record(&t, now()).unwrap_err();
    assert!(matches!(err, SbiError::Replay { .. }), "{err}");
    // Remembered for the ttl only, and full means refuse, not forget.
    guard.check_and_record(&t, now() + Duration::from_secs(3601)).unwrap();
    let small = TransactionGuard::new(Duration::from_secs(3600), 1);
    small.check_and_record("a", now()).unwrap();
    assert!(matches!(small.check_and_record("b", now()), Err(SbiError::TooLarge { .. })));
}

#[test]
fn a_capture_for_the_wrong_purpose_or_environment_is_refused() {
    let sim = offline(&pki().device);
    let r = req();
    let mut data = genuine_data(&sim, &r);
    data[2].purpose = "Auth".into();
    let err = verify(&body(&sim.sign_captures(&data, &chain_start()).unwrap()), &r).unwrap_err();
    assert!(matches!(err, SbiError::WrongPurpose { .. }), "{err}");

    let mut data = genuine_data(&sim, &r);
    data[0].env = "Production".into();
    let err = verify(&body(&sim.sign_captures(&data, &chain_start()).unwrap()), &r).unwrap_err();
    assert!(matches!(err, SbiError::WrongEnvironment { .. }), "{err}");

    // And a request for another environment than the device's is refused by the device itself.
    let mut staging = r.clone();
    staging.env = Env::Staging;
    let refused = sim.capture(&staging, Purpose::Registration, now());
    let err = verify(&body(&refused), &staging).unwrap_err();
    assert!(matches!(err, SbiError::Device { .. }), "{err}");
}

#[test]
fn a_broken_hash_chain_is_refused() {
    let sim = offline(&pki().device);
    let r = req();
    let mut response = sim.sign_captures(&genuine_data(&sim, &r), &chain_start()).unwrap();
    response.biometrics.swap(1, 2);
    let err = verify(&body(&response), &r).unwrap_err();
    assert!(matches!(err, SbiError::HashChain { index: 1, .. }), "{err}");

    // A capture dropped (and the count lowered to hide it) breaks the chain too.
    let mut response = sim.sign_captures(&genuine_data(&sim, &r), &chain_start()).unwrap();
    response.biometrics.remove(0);
    let mut three = r.clone();
    three.bio[0].count = 3;
    let err = verify(&body(&response), &three).unwrap_err();
    assert!(matches!(err, SbiError::HashChain { index: 0, .. }), "{err}");
}

#[test]
fn a_truncated_or_inconsistent_template_is_refused() {
    let sim = offline(&pki().device);
    let r = req();
    let mut data = genuine_data(&sim, &r);
    let bytes = URL_SAFE_NO_PAD.decode(&data[0].bio_value).unwrap();
    data[0].bio_value = URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() - 7]);
    let err = verify(&body(&sim.sign_captures(&data, &chain_start()).unwrap()), &r).unwrap_err();
    assert!(matches!(err, SbiError::Template { .. }), "{err}");
    assert!(err.to_string().contains("the minutiae record"), "{err}");

    // A record of one finger labelled as another.
    let mut data = genuine_data(&sim, &r);
    let moved = data[1].bio_value.clone();
    data[0].bio_value = moved;
    let err = verify(&body(&sim.sign_captures(&data, &chain_start()).unwrap()), &r).unwrap_err();
    assert!(matches!(err, SbiError::Template { .. }), "{err}");
    assert!(err.to_string().contains("but the capture says"), "{err}");
    // Sanity: the moved record itself is fine.
    assert!(template::parse(&URL_SAFE_NO_PAD.decode(&data[1].bio_value).unwrap()).is_ok());
}

#[test]
fn other_fingers_than_requested_are_refused() {
    let sim = offline(&pki().device);
    let r = req();
    let right = request("2", 4, "txn-attack", None);
    let data = genuine_data(&sim, &right);
    let err = verify(&body(&sim.sign_captures(&data, &chain_start()).unwrap()), &r).unwrap_err();
    assert!(matches!(err, SbiError::Mismatch { .. }), "{err}");
}

#[tokio::test]
async fn captures_from_another_device_than_the_device_info_are_refused() {
    let (port, _) = start(config(0), &pki().device).await;
    let info = client().device_info(port, now()).await.unwrap();
    let other = pki()
        .provider
        .issue_device("SIM-OTHER", JwsAlg::ES256, now() - time::Duration::days(1), now() + time::Duration::days(3))
        .unwrap();
    let sim =
        Simulator::new(SimulatorConfig { serial: "SIM-OTHER".into(), ..config(0) }, &other, String::new()).unwrap();
    let r = req();
    let response = body(&sim.sign_captures(&genuine_data(&sim, &r), &chain_start()).unwrap());
    let err =
        verify_capture_response(&response, &r, &trust(), Some(&info[0]), &VerifyOptions::default(), now()).unwrap_err();
    assert!(matches!(err, SbiError::DeviceMismatch { .. }), "{err}");
    assert!(err.to_string().contains("serialNo"), "{err}");
}

#[tokio::test]
async fn an_oversized_response_is_refused() {
    // The real simulator, with a response cap smaller than ten fingers.
    let (port, _) = start(config(0), &pki().device).await;
    let small = VerifyOptions { max_response_bytes: 4096, ..VerifyOptions::default() };
    let client = SbiClient::new(trust(), Timeouts::default(), small).unwrap();
    let err =
        client.capture(port, &request("0", 10, "t-big", None), None, &QualityPolicy::default(), now).await.unwrap_err();
    assert!(matches!(err, SbiError::TooLarge { .. }), "{err}");

    // A device that streams without end (no Content-Length) is cut off at the cap.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt as _;
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut buf).await;
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
            .await;
        let chunk = format!("{:x}\r\n{}\r\n", 8192, "x".repeat(8192));
        for _ in 0..64 {
            if socket.write_all(chunk.as_bytes()).await.is_err() {
                break;
            }
        }
    });
    let err = client.device_info(port, now()).await.unwrap_err();
    assert!(matches!(err, SbiError::TooLarge { .. }), "{err}");
}

#[tokio::test]
async fn a_device_that_never_answers_times_out() {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let timeouts = Timeouts { info: Duration::from_millis(300), ..Timeouts::default() };
    let client = SbiClient::new(trust(), timeouts, VerifyOptions::default()).unwrap();
    let started = std::time::Instant::now();
    let err = client.device_info(port, now()).await.unwrap_err();
    assert!(matches!(err, SbiError::Timeout { after_ms: 300, .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
    // Nothing listening at all: unreachable, quickly.
    drop(client.discover_port(1, "Biometric Device").await.unwrap_err());
}

#[test]
fn an_unsigned_digital_id_is_refused() {
    let sim = offline(&pki().device);
    let r = req();
    let mut data = genuine_data(&sim, &r);
    data[0].digital_id = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&sim.digital_id(now())).unwrap());
    let err = verify(&body(&sim.sign_captures(&data, &chain_start()).unwrap()), &r).unwrap_err();
    assert!(matches!(err, SbiError::Untrusted { .. }), "{err}");
    assert!(err.to_string().contains("not signed"), "{err}");
}

#[test]
fn alg_none_and_garbage_are_refused() {
    let r = req();
    for data in ["", "a.b", "eyJhbGciOiJub25lIn0.e30.", "eyJhbGciOiJIUzI1NiIsIng1YyI6W119.e30.AAAA"] {
        let response = format!("{{\"biometrics\":[{{\"data\":\"{data}\",\"hash\":\"00\"}}]}}");
        assert!(verify(response.as_bytes(), &r).is_err(), "{data}");
    }
    assert!(matches!(verify(b"not json", &r), Err(SbiError::Malformed { .. })));
}
