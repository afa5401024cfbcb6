//! Cross-cutting layers: security headers, request ids with a tracing span, and metrics.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request},
    http::{HeaderName, HeaderValue, header},
    middleware::Next,
    response::Response,
};

/// The Content-Security-Policy of every response: nothing from elsewhere, no inline script,
/// no framing. Pages load their one script and stylesheet from this origin.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The policy for a page whose form submission ends in a redirect to `target` (a client's
/// redirect URI): browsers apply `form-action` to the whole redirect chain, so the client's
/// origin (or private-use scheme) must be allowed there, and nothing else is loosened.
pub fn csp_with_form_target(target: &str) -> String {
    let source = match url::Url::parse(target) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u.origin().ascii_serialization(),
        Ok(u) => format!("{}:", u.scheme()),
        Err(_) => String::new(),
    };
    // Only characters that cannot break out of the directive.
    let source: String = source.chars().filter(|c| c.is_ascii_alphanumeric() || ":/.-[]".contains(*c)).collect();
    CSP.replace("form-action 'self'", &format!("form-action 'self' {source}"))
}

/// Adds the security headers every response carries.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    // A page whose form redirects to a client sets its own policy (see `csp_with_form_target`).
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=63072000; includeSubDomains"));
    resp
}

/// Records request count and latency per route, and logs each request with its id.
pub async fn observe(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
    let span = tracing::info_span!("request", id = %request_id, method = %method, route = %route);
    let resp = tracing::Instrument::instrument(next.run(req), span.clone()).await;
    let elapsed = start.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    metrics::counter!("idp_http_requests_total", "route" => route.clone(), "method" => method.to_string(), "status" => status.to_string()).increment(1);
    metrics::histogram!("idp_http_request_duration_seconds", "route" => route.clone()).record(elapsed);
    if status >= 500 {
        metrics::counter!("idp_http_errors_total", "route" => route.clone()).increment(1);
    }
    tracing::debug!(parent: &span, status, elapsed_ms = elapsed * 1000.0, "request finished");
    resp
}
