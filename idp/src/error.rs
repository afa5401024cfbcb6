//! The crate's one error type. HTTP mapping lives in `http::errors`, in one place.

use std::borrow::Cow;

/// Result with the crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the identity provider.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad or missing configuration; the process refuses to start.
    #[error("configuration: {0}")]
    Config(String),
    /// The database failed or is unreachable.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The embedded SQLite database failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A migration failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A protocol error that goes back to an OAuth client as `{"error": ...}`.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// Input that an operator or the admin API gave is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// The named thing does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The caller is known but their role does not allow this (already audited).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Too many attempts; retry after the given number of seconds.
    #[error("too many requests; retry after {retry_after} s")]
    RateLimited {
        /// Seconds until a retry may succeed.
        retry_after: u64,
    },
    /// Key material could not be used (wrong key-encryption key, corrupt row, ...).
    #[error("crypto: {0}")]
    Crypto(String),
    /// The signer's PKI failed (a key that does not match, a certificate that cannot be made).
    #[error("pki: {0}")]
    Pki(#[from] signer::Error),
    /// A bug or an unexpected state; details are logged, never sent.
    #[error("internal: {0}")]
    Internal(String),
}

impl Error {
    /// Shorthand for an internal error with a message for the log.
    pub fn internal(msg: impl Into<String>) -> Self {
        Self::Internal(msg.into())
    }

    /// The database could not carry out a write (answered as 503, like any database failure).
    pub fn unavailable(msg: impl Into<String>) -> Self {
        Self::Db(sqlx::Error::Protocol(msg.into()))
    }
}

/// OAuth 2.0 / OpenID Connect error codes (RFC 6749 5.2, RFC 6750 3.1, RFC 7009, RFC 9126,
/// OIDC Core 3.1.2.6). `Display` is the wire code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OAuthErrorKind {
    /// `invalid_request`
    InvalidRequest,
    /// `invalid_client`
    InvalidClient,
    /// `invalid_grant`
    InvalidGrant,
    /// `unauthorized_client`
    UnauthorizedClient,
    /// `unsupported_grant_type`
    UnsupportedGrantType,
    /// `invalid_scope`
    InvalidScope,
    /// `invalid_token` (bearer)
    InvalidToken,
    /// `insufficient_scope` (bearer)
    InsufficientScope,
    /// `access_denied`
    AccessDenied,
    /// `unsupported_response_type`
    UnsupportedResponseType,
    /// `unsupported_token_type` (RFC 7009)
    UnsupportedTokenType,
    /// `invalid_request_uri`
    InvalidRequestUri,
    /// `invalid_target` (RFC 8707)
    InvalidTarget,
    /// `login_required`
    LoginRequired,
    /// `consent_required`
    ConsentRequired,
    /// `interaction_required`
    InteractionRequired,
    /// `server_error`
    ServerError,
    /// `temporarily_unavailable`
    TemporarilyUnavailable,
}

impl OAuthErrorKind {
    /// The code as sent on the wire.
    pub fn as_str(self) -> &'static str {
        use OAuthErrorKind::*;
        match self {
            InvalidRequest => "invalid_request",
            InvalidClient => "invalid_client",
            InvalidGrant => "invalid_grant",
            UnauthorizedClient => "unauthorized_client",
            UnsupportedGrantType => "unsupported_grant_type",
            InvalidScope => "invalid_scope",
            InvalidToken => "invalid_token",
            InsufficientScope => "insufficient_scope",
            AccessDenied => "access_denied",
            UnsupportedResponseType => "unsupported_response_type",
            UnsupportedTokenType => "unsupported_token_type",
            InvalidRequestUri => "invalid_request_uri",
            InvalidTarget => "invalid_target",
            LoginRequired => "login_required",
            ConsentRequired => "consent_required",
            InteractionRequired => "interaction_required",
            ServerError => "server_error",
            TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

impl std::fmt::Display for OAuthErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error with a human-readable description (never containing secrets).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {description}")]
pub struct OAuthError {
    /// The error code.
    pub kind: OAuthErrorKind,
    /// `error_description`.
    pub description: Cow<'static, str>,
}

impl OAuthError {
    /// Builds an error.
    pub fn new(kind: OAuthErrorKind, description: impl Into<Cow<'static, str>>) -> Self {
        Self { kind, description: description.into() }
    }
    /// `invalid_request` with a description.
    pub fn invalid_request(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorKind::InvalidRequest, d)
    }
    /// `invalid_client` with a description.
    pub fn invalid_client(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorKind::InvalidClient, d)
    }
    /// `invalid_grant` with a description.
    pub fn invalid_grant(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorKind::InvalidGrant, d)
    }
    /// `invalid_scope` with a description.
    pub fn invalid_scope(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorKind::InvalidScope, d)
    }
    /// `unauthorized_client` with a description.
    pub fn unauthorized_client(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorKind::UnauthorizedClient, d)
    }
    /// `invalid_token` with a description.
    pub fn invalid_token(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorKind::InvalidToken, d)
    }
}
