//! `/healthz`, `/readyz`, `/metrics`.

use axum::{
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::app::AppState;

/// Liveness: the process answers.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: the database answers within a second.
pub async fn readyz(State(idp): State<AppState>) -> Response {
    match tokio::time::timeout(std::time::Duration::from_secs(1), idp.db.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n").into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready: database");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database timeout\n").into_response(),
    }
}

/// Prometheus text format.
pub async fn metrics(State(idp): State<AppState>) -> Response {
    let mut r = idp.metrics.render().into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    r
}
