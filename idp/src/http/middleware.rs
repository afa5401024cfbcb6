//! Cross-cutting layers: security headers, request ids for log lines, and metrics.

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
fn add_security_headers(resp: &mut Response) {
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
}

tokio::task_local! {
    /// The id of the request being handled, for log lines written while handling it.
    static REQUEST_ID: std::sync::Arc<str>;
}

/// The current request's id (`-` outside a request).
pub fn request_id() -> std::sync::Arc<str> {
    REQUEST_ID.try_with(|id| id.clone()).unwrap_or_else(|_| std::sync::Arc::from("-"))
}

/// A route path as a `&'static str`, so metric labels need no allocation per request. Routes
/// are a fixed set, so the interned strings are bounded.
fn intern(route: &str) -> &'static str {
    use std::{collections::HashMap, sync::RwLock};
    static ROUTES: RwLock<Option<HashMap<String, &'static str>>> = RwLock::new(None);
    if let Ok(g) = ROUTES.read()
        && let Some(r) = g.as_ref().and_then(|m| m.get(route))
    {
        return r;
    }
    let Ok(mut g) = ROUTES.write() else { return "unknown" };
    let map = g.get_or_insert_with(HashMap::new);
    if map.len() > 256 {
        return "other";
    }
    map.entry(route.to_string()).or_insert_with(|| Box::leak(route.to_string().into_boxed_str()))
}

fn method_label(m: &axum::http::Method) -> &'static str {
    match m.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "HEAD" => "HEAD",
        "DELETE" => "DELETE",
        "PUT" => "PUT",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// Metric handles per (route, method, status), so a request does not build and hash label
/// sets in the registry.
fn handles(route: &'static str, method: &'static str, status: &'static str) -> (metrics::Counter, metrics::Histogram) {
    use std::{collections::HashMap, sync::RwLock};
    type Key = (&'static str, &'static str, &'static str);
    static CACHE: RwLock<Option<HashMap<Key, (metrics::Counter, metrics::Histogram)>>> = RwLock::new(None);
    let key = (route, method, status);
    if let Ok(g) = CACHE.read()
        && let Some(h) = g.as_ref().and_then(|m| m.get(&key))
    {
        return h.clone();
    }
    let h = (
        metrics::counter!("idp_http_requests_total", "route" => route, "method" => method, "status" => status),
        metrics::histogram!("idp_http_request_duration_seconds", "route" => route),
    );
    if let Ok(mut g) = CACHE.write() {
        g.get_or_insert_with(HashMap::new).insert(key, h.clone());
    }
    h
}

/// Records request count and latency per route, makes the request id available to the log
/// lines written while handling it, and adds the security headers. Runs on every request, so
/// it allocates nothing but the id: a tracing span per request cost the static endpoints a
/// fifth of their throughput.
pub async fn observe(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req.extensions().get::<MatchedPath>().map(|p| intern(p.as_str())).unwrap_or("unmatched");
    let method = method_label(req.method());
    let id: std::sync::Arc<str> = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").into();
    let mut resp = REQUEST_ID.scope(id, next.run(req)).await;
    add_security_headers(&mut resp);
    let status = resp.status();
    let (count, latency) = handles(route, method, intern(status.as_str()));
    count.increment(1);
    latency.record(start.elapsed().as_secs_f64());
    if status.is_server_error() {
        metrics::counter!("idp_http_errors_total", "route" => route).increment(1);
    }
    resp
}

/// Request ids: a random per-process prefix and a counter, so generating one costs no system
/// call (tower-http's UUIDs read the OS random source on every request).
#[derive(Clone, Debug)]
pub struct MakeId {
    prefix: std::sync::Arc<str>,
    next: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl MakeId {
    /// A generator with a fresh random prefix.
    pub fn new() -> Self {
        let p = crate::domain::secrets::random_bytes::<6>().map(hex::encode).unwrap_or_else(|_| "000000000000".into());
        Self { prefix: p.into(), next: Default::default() }
    }
}

impl Default for MakeId {
    fn default() -> Self {
        Self::new()
    }
}

impl tower_http::request_id::MakeRequestId for MakeId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<tower_http::request_id::RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n}", self.prefix)).ok().map(tower_http::request_id::RequestId::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_target_policy_allows_only_the_client_origin() {
        let p = csp_with_form_target("https://epis.gov.bt/cb?x=1");
        assert!(p.contains("form-action 'self' https://epis.gov.bt;"), "{p}");
        assert!(p.contains("default-src 'none'") && p.contains("frame-ancestors 'none'"));
        let p = csp_with_form_target("bt.gov.app:/cb");
        assert!(p.contains("form-action 'self' bt.gov.app:;"), "{p}");
        // Nothing in a redirect URI can inject another directive.
        let p = csp_with_form_target("https://a.bt;script-src *");
        assert!(!p.contains("script-src *"), "{p}");
    }
}
