//! The HTTP side of SBI: the custom methods MOSIPDISC, MOSIPDINFO, RCAPTURE and CAPTURE on
//! `http://127.0.0.1:<port>` (4501-4600), each call with a timeout and a cap on the response size
//! (the body is read chunk by chunk and dropped past the cap), and every response verified by
//! [`super::verify`] before anything is returned.

use std::time::Duration;

use reqwest::Method;

use super::{
    SbiError,
    messages::{CaptureRequest, DiscoverRequest, DiscoveredDevice, Purpose},
    quality::QualityPolicy,
    trust::TrustStore,
    verify::{self, VerifiedCapture, VerifiedDeviceInfo, VerifyOptions},
};

/// The port range SBI devices bind to on 127.0.0.1.
pub const PORTS: std::ops::RangeInclusive<u16> = 4501..=4600;

/// Timeouts for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting (a closed port answers at once; this only bounds a stuck one).
    pub connect: Duration,
    /// MOSIPDISC and MOSIPDINFO.
    pub info: Duration,
    /// Added to the capture request's own `timeout` for RCAPTURE/CAPTURE.
    pub capture_grace: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_millis(500),
            info: Duration::from_secs(5),
            capture_grace: Duration::from_secs(5),
        }
    }
}

/// A client for the devices on this machine.
#[derive(Debug, Clone)]
pub struct SbiClient {
    http: reqwest::Client,
    trust: TrustStore,
    timeouts: Timeouts,
    options: VerifyOptions,
    host: String,
}

impl SbiClient {
    /// A client trusting `trust`'s device-provider CAs.
    pub fn new(trust: TrustStore, timeouts: Timeouts, options: VerifyOptions) -> Result<Self, SbiError> {
        // Device services speak plain HTTP on 127.0.0.1, but reqwest (built without a default
        // TLS provider in this workspace) needs one installed to build any client. Installing
        // fails harmlessly when the process already has one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SbiError::Keys { reason: format!("HTTP client: {e}") })?;
        Ok(SbiClient { http, trust, timeouts, options, host: "127.0.0.1".into() })
    }

    /// The verification options in force.
    pub fn options(&self) -> &VerifyOptions {
        &self.options
    }

    /// The trusted CAs.
    pub fn trust(&self) -> &TrustStore {
        &self.trust
    }

    async fn call(
        &self,
        operation: &'static str,
        port: u16,
        path: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, SbiError> {
        let method = Method::from_bytes(operation.as_bytes()).map_err(|e| SbiError::malformed(operation, e))?;
        let url = format!("http://{}:{port}{path}", self.host);
        let limit = self.options.max_response_bytes;
        let work = async {
            let mut response = self
                .http
                .request(method, url)
                .header("EXT", "drukyul-id")
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| SbiError::Unreachable { operation, port, reason: error_chain(&e) })?;
            if !response.status().is_success() {
                return Err(SbiError::malformed(
                    format!("{operation} response"),
                    format!("HTTP status {}", response.status()),
                ));
            }
            if response.content_length().is_some_and(|n| n > limit as u64) {
                return Err(SbiError::TooLarge { what: format!("the {operation} response"), limit });
            }
            let mut out = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| SbiError::Unreachable {
                operation,
                port,
                reason: error_chain(&e),
            })? {
                if out.len() + chunk.len() > limit {
                    return Err(SbiError::TooLarge { what: format!("the {operation} response"), limit });
                }
                out.extend_from_slice(&chunk);
            }
            Ok(out)
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(SbiError::Timeout { operation, port, after_ms: timeout.as_millis() as u64 }),
        }
    }

    /// MOSIPDISC on one port: the devices there of `device_type` ("Biometric Device" for any).
    pub async fn discover_port(&self, port: u16, device_type: &str) -> Result<Vec<DiscoveredDevice>, SbiError> {
        let body = serde_json::to_vec(&DiscoverRequest { device_type: device_type.into() })
            .map_err(|e| SbiError::malformed("MOSIPDISC request", e))?;
        let bytes = self.call("MOSIPDISC", port, "/device", body, self.timeouts.info).await?;
        serde_json::from_slice(&bytes).map_err(|e| SbiError::malformed("the discovery response", e))
    }

    /// MOSIPDISC over `ports` (normally [`PORTS`]), all at once: every port that answers, with
    /// its devices. Ports with nothing listening are skipped; a port that answers badly too.
    pub async fn discover(
        &self,
        ports: std::ops::RangeInclusive<u16>,
        device_type: &str,
    ) -> Vec<(u16, Vec<DiscoveredDevice>)> {
        let probes = ports.map(|port| async move { (port, self.discover_port(port, device_type).await) });
        let results = futures_util::future::join_all(probes).await;
        results.into_iter().filter_map(|(port, r)| r.ok().filter(|d| !d.is_empty()).map(|d| (port, d))).collect()
    }

    /// MOSIPDINFO: the device's signed information, verified.
    pub async fn device_info(&self, port: u16, now: time::OffsetDateTime) -> Result<Vec<VerifiedDeviceInfo>, SbiError> {
        let bytes = self.call("MOSIPDINFO", port, "/info", Vec::new(), self.timeouts.info).await?;
        verify::verify_device_info(&bytes, &self.trust, &self.options, now)
    }

    /// RCAPTURE (purpose Registration) or CAPTURE (Auth), verified against the request and
    /// `device`, then checked against the quality `policy`. Returns the raw body too, for the
    /// enrolment packet.
    pub async fn capture(
        &self,
        port: u16,
        request: &CaptureRequest,
        device: Option<&VerifiedDeviceInfo>,
        policy: &QualityPolicy,
        now: impl Fn() -> time::OffsetDateTime,
    ) -> Result<(Vec<VerifiedCapture>, Vec<u8>), SbiError> {
        let operation = match request.purpose {
            Purpose::Registration => "RCAPTURE",
            Purpose::Auth => "CAPTURE",
        };
        let body = serde_json::to_vec(request).map_err(|e| SbiError::malformed("capture request", e))?;
        let timeout = Duration::from_millis(request.timeout) + self.timeouts.capture_grace;
        let bytes = self.call(operation, port, "/capture", body, timeout).await?;
        let captures = verify::verify_capture_response(&bytes, request, &self.trust, device, &self.options, now())?;
        policy.check(&captures)?;
        Ok((captures, bytes))
    }

    /// RCAPTURE of one face photo (a `Face` request), verified like the fingers
    /// ([`verify::verify_face_response`]). Returns the raw body too, for the enrolment packet.
    pub async fn capture_face(
        &self,
        port: u16,
        request: &CaptureRequest,
        device: Option<&VerifiedDeviceInfo>,
        now: impl Fn() -> time::OffsetDateTime,
    ) -> Result<(verify::VerifiedFace, Vec<u8>), SbiError> {
        let body = serde_json::to_vec(request).map_err(|e| SbiError::malformed("capture request", e))?;
        let timeout = Duration::from_millis(request.timeout) + self.timeouts.capture_grace;
        let bytes = self.call("RCAPTURE", port, "/capture", body, timeout).await?;
        let face = verify::verify_face_response(&bytes, request, &self.trust, device, &self.options, now())?;
        Ok((face, bytes))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
