//! Extractors shared by the endpoints.

use std::{collections::HashMap, net::SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequest, FromRequestParts, Request},
    http::{header, request::Parts},
};

use crate::{client_auth::Presented, error::OAuthError};

/// An `application/x-www-form-urlencoded` body where every parameter appears at most once
/// (RFC 6749 3.1 and 3.2), as a map.
#[derive(Debug, Default)]
pub struct OAuthForm(pub HashMap<String, String>);

impl OAuthForm {
    /// A parameter; empty values count as absent (RFC 6749 3.1).
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }
    /// Parses form bytes, refusing repeated parameters.
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let mut map = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            if map.insert(k.to_string(), v.into_owned()).is_some() {
                return Err(OAuthError::invalid_request(format!("parameter {k} is repeated")));
            }
        }
        Ok(Self(map))
    }
    /// The client credentials this form presents together with the Authorization header.
    pub fn presented(&self, parts_auth: Option<&str>) -> Result<Presented, OAuthError> {
        Ok(Presented {
            basic: parts_auth.map(Presented::parse_basic).transpose()?.flatten(),
            client_id: self.get("client_id").map(str::to_string),
            client_secret: self.get("client_secret").map(str::to_string),
            assertion_type: self.get("client_assertion_type").map(str::to_string),
            assertion: self.get("client_assertion").map(str::to_string),
        })
    }
}

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = OAuthError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let mime = ct.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"));
        }
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| OAuthError::invalid_request("the request body could not be read or is too large"))?;
        Self::parse(&body)
    }
}

/// The remote address, when the server knows it (absent in in-process tests).
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()).unwrap_or_default(),
        ))
    }
}

/// The raw `Authorization` header, if any.
#[derive(Debug, Clone)]
pub struct AuthHeader(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for AuthHeader {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(AuthHeader(parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string)))
    }
}

impl AuthHeader {
    /// The token of an `Authorization: Bearer` header (RFC 6750 2.1; the scheme is
    /// case-insensitive, and clients send both spellings).
    pub fn bearer(&self) -> Option<&str> {
        self.0.as_deref().and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer "))).map(str::trim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused() {
        assert!(OAuthForm::parse(b"a=1&a=2").is_err());
        let f = OAuthForm::parse(b"a=1&b=&c=x%20y").unwrap();
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.get("b"), None);
        assert_eq!(f.get("c"), Some("x y"));
    }
}
