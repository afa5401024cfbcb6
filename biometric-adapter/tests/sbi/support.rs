//! A device provider, devices and simulators for the tests.

use std::sync::{Arc, OnceLock};

use biometric_adapter::sbi::{
    client::{SbiClient, Timeouts},
    jws::JwsAlg,
    messages::{BioRequest, CaptureRequest, Env, Purpose, SPEC_VERSION},
    simulator::{DeviceCredentials, DeviceProvider, Simulator, SimulatorConfig},
    trust::TrustStore,
    verify::{VerifyOptions, chain_start},
};

pub fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

pub struct Pki {
    pub provider: DeviceProvider,
    pub device: DeviceCredentials,
}

/// One trusted provider and its ES256 device for the whole binary (keys take time to make).
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let provider = DeviceProvider::generate("Test device provider CA", now()).unwrap();
        let device = provider
            .issue_device(
                "SIM-TEST-1",
                JwsAlg::ES256,
                now() - time::Duration::days(1),
                now() + time::Duration::days(30),
            )
            .unwrap();
        Pki { provider, device }
    })
}

pub fn trust() -> TrustStore {
    TrustStore::from_pem(pki().provider.ca_pem()).unwrap()
}

pub fn config(port: u16) -> SimulatorConfig {
    SimulatorConfig {
        seed: 7,
        subjects: 50,
        duplicates: 2,
        port,
        serial: "SIM-TEST-1".into(),
        ..SimulatorConfig::default()
    }
}

/// A simulator served on a free port; returns the port and the simulator.
pub async fn start(config: SimulatorConfig, device: &DeviceCredentials) -> (u16, Arc<Simulator>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let simulator =
        Arc::new(Simulator::new(SimulatorConfig { port, ..config }, device, pki().provider.ca_pem().into()).unwrap());
    tokio::spawn(biometric_adapter::sbi::simulator::serve(listener, Arc::clone(&simulator)));
    (port, simulator)
}

pub fn client() -> SbiClient {
    SbiClient::new(trust(), Timeouts::default(), VerifyOptions::default()).unwrap()
}

/// An RCAPTURE request for one slap (sub-device 1 left, 2 right, 3 thumbs) or all ten (0).
pub fn request(sub_id: &str, count: u64, transaction_id: &str, previous_hash: Option<String>) -> CaptureRequest {
    CaptureRequest {
        env: Env::Developer,
        purpose: Purpose::Registration,
        spec_version: SPEC_VERSION.into(),
        timeout: 10_000,
        capture_time: now().format(&time::format_description::well_known::Rfc3339).unwrap(),
        domain_uri: None,
        transaction_id: transaction_id.into(),
        registration_id: Some("REG-1".into()),
        bio: vec![BioRequest {
            bio_type: "Finger".into(),
            count,
            bio_sub_type: Vec::new(),
            exception: Vec::new(),
            requested_score: 40,
            device_id: "1".into(),
            device_sub_id: sub_id.into(),
            previous_hash: previous_hash.unwrap_or_else(chain_start),
        }],
        custom_opts: Default::default(),
    }
}
