//! The crate's one error type, and the one place where errors become HTTP responses.
//!
//! Details (what exactly failed to validate, what the identity provider said) go to the log at
//! `warn`; a browser sees a short, generic page, so an attacker probing the callback learns
//! nothing from the answer.

use axum::response::{Html, IntoResponse, Response};
use http::StatusCode;

/// Everything that can go wrong in the SDK.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The SDK was configured in a way that cannot be secure or cannot work.
    #[error("configuration: {0}")]
    Config(String),
    /// The identity provider could not be reached, or answered something unusable.
    #[error("identity provider: {0}")]
    Provider(String),
    /// A login callback did not belong to a login this browser started (state missing or
    /// unknown, `iss` wrong or missing, no code).
    #[error("login callback refused: {0}")]
    Callback(String),
    /// The identity provider answered the authorization request with an error
    /// (`access_denied`, `login_required`, ...).
    #[error("the identity provider refused the login: {error}")]
    Denied {
        /// The OAuth error code.
        error: String,
        /// Its description, as sent.
        description: Option<String>,
    },
    /// The token endpoint refused a grant or answered badly.
    #[error("token endpoint: {0}")]
    Token(String),
    /// An ID token failed validation.
    #[error("ID token refused: {0}")]
    IdToken(String),
    /// A back-channel logout token failed validation.
    #[error("logout token refused: {0}")]
    LogoutToken(String),
    /// The login succeeded but at a lower assurance level than the page requires.
    #[error("the login did not reach the required assurance level")]
    Assurance,
    /// The session store failed.
    #[error("session store: {0}")]
    Store(String),
    /// An access token presented to an API was refused.
    #[error("access token refused: {0}")]
    Bearer(#[from] crate::access_token::BearerError),
}

/// Shorthand.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Store(e.to_string())
    }
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{text}</p><p><a href=\"/\">Home</a></p></body></html>"
    );
    let mut r = (status, Html(body)).into_response();
    r.headers_mut().insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    r
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Error::Bearer(b) = self {
            return b.into_response();
        }
        tracing::warn!(error = %self, "relying-party request failed");
        match self {
            Error::Denied { error, .. } if error == "access_denied" => page(
                StatusCode::FORBIDDEN,
                "Login not completed",
                "The login was declined or this service requires a higher assurance level than your digital ID has.",
            ),
            Error::Assurance => page(
                StatusCode::FORBIDDEN,
                "Higher assurance required",
                "This service requires a higher assurance level than your login reached.",
            ),
            Error::Callback(_) | Error::Denied { .. } | Error::IdToken(_) | Error::Token(_) => {
                page(StatusCode::BAD_REQUEST, "Login failed", "The login could not be completed. Please start again.")
            }
            Error::LogoutToken(_) => StatusCode::BAD_REQUEST.into_response(),
            Error::Provider(_) => page(
                StatusCode::BAD_GATEWAY,
                "Service unavailable",
                "The identity provider could not be reached. Please try again later.",
            ),
            Error::Config(_) | Error::Store(_) | Error::Bearer(_) => {
                page(StatusCode::INTERNAL_SERVER_ERROR, "Error", "Something went wrong on our side.")
            }
        }
    }
}
