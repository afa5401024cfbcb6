//! The kit's error, shared by the modules: every failure becomes a clear page (or, for API
//! routes, a JSON body) with the right status, and nothing internal is shown.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};

/// What can go wrong in a module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The module's configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// The input is not acceptable; the message says why and is shown to the user.
    #[error("{0}")]
    BadRequest(String),
    /// The user is known but their role does not allow this (already audited).
    #[error("{0}")]
    Forbidden(String),
    /// No such thing (or not one this user may know exists).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (decided twice, a duplicate).
    #[error("{0}")]
    Conflict(String),
    /// Another service (the identity provider, another agency) failed or refused.
    #[error("{0}")]
    Upstream(String),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A bug; logged, never shown.
    #[error("internal: {0}")]
    Internal(String),
}

/// Shorthand.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The HTTP status and the text a user may see.
    pub fn public(&self) -> (StatusCode, String) {
        match self {
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
            Self::NotFound(m) => (StatusCode::NOT_FOUND, m.clone()),
            Self::Conflict(m) => (StatusCode::CONFLICT, m.clone()),
            Self::Upstream(m) => (StatusCode::BAD_GATEWAY, m.clone()),
            Self::Db(_) | Self::Migrate(_) => {
                tracing::error!(error = %self, "database error");
                (StatusCode::SERVICE_UNAVAILABLE, "The service is temporarily unavailable; please try again.".into())
            }
            Self::Config(_) | Self::Internal(_) => {
                tracing::error!(error = %self, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side.".into())
            }
        }
    }
}

impl IntoResponse for Error {
    /// An HTML error page.
    fn into_response(self) -> Response {
        let (status, message) = self.public();
        let title = status.canonical_reason().unwrap_or("Error");
        let mut r = crate::web::Page::new(title).paragraph(&message).link("/", "Back to the start").render();
        *r.status_mut() = status;
        r
    }
}

/// The same errors as JSON (`{"error": ..., "error_description": ...}`), for API routes.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl<E: Into<Error>> From<E> for ApiError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = self.0.public();
        let code = match status {
            StatusCode::BAD_REQUEST => "invalid_request",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::CONFLICT => "conflict",
            StatusCode::BAD_GATEWAY => "upstream_error",
            StatusCode::SERVICE_UNAVAILABLE => "temporarily_unavailable",
            _ => "server_error",
        };
        (status, Json(serde_json::json!({"error": code, "error_description": message}))).into_response()
    }
}
