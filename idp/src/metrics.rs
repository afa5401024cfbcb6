//! Prometheus metrics. One recorder per process (the `metrics` facade is global); every
//! instance of the app in a process (tests start several) shares it.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Handle to the process's metrics registry.
#[derive(Clone, Debug)]
pub struct Metrics {
    handle: Option<PrometheusHandle>,
}

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Latency buckets in seconds: fine below 10 ms where the token endpoint lives.
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0];

impl Metrics {
    /// Installs the recorder on first use.
    pub fn global() -> Self {
        let handle = HANDLE
            .get_or_init(|| {
                let builder = PrometheusBuilder::new().set_buckets(&BUCKETS).ok()?;
                match builder.install_recorder() {
                    Ok(h) => Some(h),
                    Err(e) => {
                        tracing::warn!(error = %e, "metrics recorder not installed");
                        None
                    }
                }
            })
            .clone();
        Self { handle }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        self.handle.as_ref().map(|h| h.render()).unwrap_or_default()
    }
}

/// Counts an issued token.
pub fn token_issued(grant: &'static str) {
    metrics::counter!("idp_tokens_issued_total", "grant" => grant).increment(1);
}

/// Counts a failed client authentication.
pub fn client_auth_failed(reason: &'static str) {
    metrics::counter!("idp_client_auth_failures_total", "reason" => reason).increment(1);
}

/// Counts a login outcome.
pub fn login(result: &'static str) {
    metrics::counter!("idp_logins_total", "result" => result).increment(1);
}

/// Counts a back-channel logout delivery outcome.
pub fn backchannel(result: &'static str) {
    metrics::counter!("idp_backchannel_logout_total", "result" => result).increment(1);
}

/// Records one group commit of the SQLite writer: the jobs it carried, how long the whole
/// transaction took and how long its `COMMIT` (the fsync) took.
pub fn db_batch(jobs: usize, total_seconds: f64, commit_seconds: f64) {
    metrics::counter!("idp_db_write_batches_total").increment(1);
    metrics::counter!("idp_db_write_jobs_total").increment(jobs as u64);
    metrics::histogram!("idp_db_write_batch_seconds").record(total_seconds);
    metrics::histogram!("idp_db_commit_seconds").record(commit_seconds);
}
