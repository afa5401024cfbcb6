//! The one place where errors become HTTP responses. Internal details go to the log with the
//! request id; clients get the protocol's error code and a safe description.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::error::{Error, OAuthError, OAuthErrorKind};

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        use OAuthErrorKind::*;
        let status = match self.kind {
            InvalidClient | InvalidToken => StatusCode::UNAUTHORIZED,
            InsufficientScope => StatusCode::FORBIDDEN,
            ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        let body = serde_json::json!({"error": self.kind.as_str(), "error_description": self.description});
        let mut resp = (status, Json(body)).into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match self.kind {
            InvalidClient => {
                h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"drukyul-id\""));
            }
            InvalidToken | InsufficientScope => {
                let v = format!("Bearer error=\"{}\"", self.kind.as_str());
                if let Ok(v) = HeaderValue::from_str(&v) {
                    h.insert(header::WWW_AUTHENTICATE, v);
                }
            }
            _ => {}
        }
        resp
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::OAuth(e) => e.into_response(),
            Error::RateLimited { retry_after } => {
                let mut r =
                    OAuthError::new(OAuthErrorKind::TemporarilyUnavailable, "too many requests").into_response();
                *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
                if let Ok(v) = HeaderValue::from_str(&retry_after.max(1).to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                r
            }
            Error::Invalid(msg) => (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({"error": "invalid_request", "error_description": msg})),
            )
                .into_response(),
            Error::NotFound(msg) => {
                (StatusCode::NOT_FOUND, Json(serde_json::json!({"error": "not_found", "error_description": msg})))
                    .into_response()
            }
            Error::Forbidden(msg) => {
                (StatusCode::FORBIDDEN, Json(serde_json::json!({"error": "forbidden", "error_description": msg})))
                    .into_response()
            }
            e @ (Error::Db(_) | Error::Sqlite(_)) => {
                tracing::error!(error = %e, request_id = %super::middleware::request_id(), "database error");
                OAuthError::new(OAuthErrorKind::TemporarilyUnavailable, "the service is temporarily unavailable")
                    .into_response()
            }
            other => {
                tracing::error!(error = %other, request_id = %super::middleware::request_id(), "internal error");
                OAuthError::new(OAuthErrorKind::ServerError, "internal error").into_response()
            }
        }
    }
}
