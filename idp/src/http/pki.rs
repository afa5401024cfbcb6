//! The public PKI endpoints relying parties and ordinary tools use: the CA certificates, CRLs,
//! OCSP (RFC 6960, POST and GET) and the timestamping authority (RFC 3161 over HTTP).

use axum::{
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::Engine;

use super::extract::ClientIp;
use crate::{app::AppState, domain, error::Error, pki};

fn typed(body: Vec<u8>, content_type: &'static str, cache: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

/// Plain-text errors: these endpoints are read by tools, not browsers or OAuth clients.
fn fail(e: Error) -> Response {
    match e {
        Error::NotFound(m) => (StatusCode::NOT_FOUND, m).into_response(),
        Error::RateLimited { retry_after } => {
            let mut r = (StatusCode::TOO_MANY_REQUESTS, "too many requests").into_response();
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        other => other.into_response(),
    }
}

/// One request against the per-IP budget of signature-costing public endpoints (OCSP, TSA,
/// verification).
pub(super) fn limit(idp: &crate::app::Idp, ip: &str) -> Result<(), Error> {
    idp.pki_limiter.check_key(&ip.to_string()).map_err(|_| Error::RateLimited { retry_after: 1 })
}

/// Requires the request's media type (RFC 6960 A.1, RFC 3161 3.4); a tool sending anything
/// else is told so instead of receiving a protocol error about bytes it did not mean to send.
fn media_type_is(headers: &HeaderMap, want: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(want))
}

/// `GET /ca/chain.pem`: the issuing CA, then the root.
pub async fn chain(State(idp): State<AppState>) -> Response {
    match pki::current(&idp, domain::now()).await {
        Ok(p) => typed(p.chain_pem().as_bytes().to_vec(), "application/pem-certificate-chain", "public, max-age=3600"),
        Err(e) => fail(e),
    }
}

/// `GET /ca/root.crt` (DER, RFC 5280 4.2.2.1 caIssuers).
pub async fn root_cert(State(idp): State<AppState>) -> Response {
    match pki::current(&idp, domain::now()).await {
        Ok(p) => typed(p.root_der().to_vec(), "application/pkix-cert", "public, max-age=86400"),
        Err(e) => fail(e),
    }
}

/// `GET /ca/issuing.crt` (DER).
pub async fn issuing_cert(State(idp): State<AppState>) -> Response {
    match pki::current(&idp, domain::now()).await {
        Ok(p) => typed(p.issuing_der().to_vec(), "application/pkix-cert", "public, max-age=86400"),
        Err(e) => fail(e),
    }
}

/// `GET /ca/crl`: the issuing CA's CRL (DER).
pub async fn crl(State(idp): State<AppState>) -> Response {
    match pki::crl(&idp, domain::now()).await {
        Ok(der) => typed(der, "application/pkix-crl", "public, max-age=300"),
        Err(e) => fail(e),
    }
}

/// `GET /ca/root-crl`: the root's CRL (DER).
pub async fn root_crl(State(idp): State<AppState>) -> Response {
    match pki::root_crl(&idp).await {
        Ok(der) => typed(der, "application/pkix-crl", "public, max-age=3600"),
        Err(e) => fail(e),
    }
}

async fn ocsp_answer(idp: &AppState, ip: &str, request: &[u8]) -> Response {
    if let Err(e) = limit(idp, ip) {
        return fail(e);
    }
    match pki::ocsp(idp, request, domain::now()).await {
        Ok(der) => typed(der, "application/ocsp-response", "no-cache"),
        Err(Error::NotFound(m)) => (StatusCode::NOT_FOUND, m).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "OCSP responder failed");
            // RFC 6960 4.2.1: an answer the client understands, not an HTTP error.
            typed(signer::ocsp::internal_error_response(), "application/ocsp-response", "no-cache")
        }
    }
}

/// `POST /ocsp` with an `application/ocsp-request` body.
pub async fn ocsp_post(State(idp): State<AppState>, ip: ClientIp, headers: HeaderMap, body: bytes::Bytes) -> Response {
    if !media_type_is(&headers, "application/ocsp-request") {
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, "send Content-Type: application/ocsp-request").into_response();
    }
    ocsp_answer(&idp, &ip.0, &body).await
}

/// `GET /ocsp/{base64 of the DER request}` (RFC 6960 A.1; URL-encoded standard base64, and the
/// URL-safe alphabet some clients use).
pub async fn ocsp_get(State(idp): State<AppState>, ip: ClientIp, Path(encoded): Path<String>) -> Response {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.as_bytes())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded.trim_end_matches('=').as_bytes()));
    match decoded {
        Ok(request) => ocsp_answer(&idp, &ip.0, &request).await,
        Err(_) => (StatusCode::BAD_REQUEST, "the path is not a base64-encoded OCSP request").into_response(),
    }
}

/// `POST /tsa` with an `application/timestamp-query` body (RFC 3161 3.4).
pub async fn tsa(State(idp): State<AppState>, ip: ClientIp, headers: HeaderMap, body: bytes::Bytes) -> Response {
    if !media_type_is(&headers, "application/timestamp-query") {
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, "send Content-Type: application/timestamp-query").into_response();
    }
    if let Err(e) = limit(&idp, &ip.0) {
        return fail(e);
    }
    match pki::timestamp(&idp, &body, domain::now()).await {
        Ok(der) => typed(der, "application/timestamp-reply", "no-store"),
        Err(Error::NotFound(m)) => (StatusCode::NOT_FOUND, m).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "timestamping failed");
            typed(signer::tsa::system_failure_response(), "application/timestamp-reply", "no-store")
        }
    }
}
