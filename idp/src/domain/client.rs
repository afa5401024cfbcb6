//! OAuth clients (the agencies' relying parties) and the types that validate their parts.

use std::{collections::BTreeSet, fmt};

use serde::{Deserialize, Serialize};
use url::Url;

use super::keys::SigningAlg;
use crate::error::{Error, Result};

/// A client identifier: 1-128 characters of `[A-Za-z0-9._~-]` (URL-safe without escaping, so it
/// is never ambiguous in a form body or a Basic header).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    /// Validates a client id.
    pub fn parse(s: &str) -> Result<Self> {
        if s.is_empty() || s.len() > 128 {
            return Err(Error::Invalid("client_id must be 1-128 characters".into()));
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-')) {
            return Err(Error::Invalid("client_id may contain only A-Z a-z 0-9 . _ ~ -".into()));
        }
        Ok(Self(s.to_string()))
    }
    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s)
    }
}
impl From<ClientId> for String {
    fn from(c: ClientId) -> String {
        c.0
    }
}
impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({})", self.0)
    }
}

/// A registered redirect URI. Absolute, no fragment (RFC 6749 3.1.2), https except for loopback
/// hosts (RFC 8252 7.3) or private-use schemes of native apps (`bt.gov.app:/cb`). Matching is
/// exact string comparison (RFC 9700 2.1).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Debug)]
#[serde(try_from = "String", into = "String")]
pub struct RedirectUri(String);

impl RedirectUri {
    /// Validates a URI for registration.
    pub fn parse(s: &str) -> Result<Self> {
        let url =
            Url::parse(s).map_err(|e| Error::Invalid(format!("redirect URI {s:?} is not an absolute URI: {e}")))?;
        if url.fragment().is_some() {
            return Err(Error::Invalid(format!("redirect URI {s:?} must not contain a fragment")));
        }
        match url.scheme() {
            "https" => {}
            "http" => {
                if !matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")) {
                    return Err(Error::Invalid(format!("redirect URI {s:?} must use https (http only for loopback)")));
                }
            }
            "javascript" | "data" | "file" | "vbscript" => {
                return Err(Error::Invalid(format!("redirect URI {s:?} has a forbidden scheme")));
            }
            scheme if scheme.contains('.') => {} // private-use scheme of a native app
            _ => {
                return Err(Error::Invalid(format!(
                    "redirect URI {s:?}: use https or a reverse-domain private scheme"
                )));
            }
        }
        if s.len() > 2000 {
            return Err(Error::Invalid("redirect URI longer than 2000 characters".into()));
        }
        Ok(Self(s.to_string()))
    }
    /// The URI as registered.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for RedirectUri {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s)
    }
}
impl From<RedirectUri> for String {
    fn from(r: RedirectUri) -> String {
        r.0
    }
}

/// A set of scope tokens (RFC 6749 3.3), kept sorted and unique.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Scope(BTreeSet<String>);

impl Scope {
    /// Parses a space-separated list; every token must be `NQCHAR`s, at most 128 bytes, at most
    /// 64 tokens.
    pub fn parse(s: &str) -> Result<Self> {
        let mut set = BTreeSet::new();
        for tok in s.split(' ').filter(|t| !t.is_empty()) {
            if tok.len() > 128
                || !tok.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
            {
                return Err(Error::Invalid(format!("invalid scope token {tok:?}")));
            }
            set.insert(tok.to_string());
        }
        if set.len() > 64 {
            return Err(Error::Invalid("too many scope tokens".into()));
        }
        Ok(Self(set))
    }
    /// True when `token` is in the set.
    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }
    /// True when every token of `self` is in `other`.
    pub fn is_subset(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The tokens.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}
impl TryFrom<String> for Scope {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s)
    }
}
impl From<Scope> for String {
    fn from(s: Scope) -> String {
        s.to_string()
    }
}
impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for t in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(t)?;
            first = false;
        }
        Ok(())
    }
}

/// How a client authenticates at the token, PAR, introspection and revocation endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// RFC 7523 client assertion signed with the client's key: the preferred method.
    PrivateKeyJwt,
    /// HTTP Basic with the client secret.
    ClientSecretBasic,
    /// Client secret in the form body.
    ClientSecretPost,
    /// A public client (PKCE protects the code); may not use client_credentials.
    None,
}

impl AuthMethod {
    /// Parses the registration name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "private_key_jwt" => Ok(Self::PrivateKeyJwt),
            "client_secret_basic" => Ok(Self::ClientSecretBasic),
            "client_secret_post" => Ok(Self::ClientSecretPost),
            "none" => Ok(Self::None),
            other => Err(Error::Invalid(format!(
                "unknown token_endpoint_auth_method {other:?} (private_key_jwt, client_secret_basic, client_secret_post, none)"
            ))),
        }
    }
    /// The registration name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
        }
    }
    /// True for the secret-based methods.
    pub fn uses_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost)
    }
}

/// OAuth grant types a client may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// The code flow (with PKCE).
    AuthorizationCode,
    /// Refresh tokens.
    RefreshToken,
    /// Agency-to-agency API access.
    ClientCredentials,
}

impl GrantType {
    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "authorization_code" => Some(Self::AuthorizationCode),
            "refresh_token" => Some(Self::RefreshToken),
            "client_credentials" => Some(Self::ClientCredentials),
            _ => None,
        }
    }
}

/// A client's registered metadata (RFC 7591 names where one exists).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClientMetadata {
    /// Shown to citizens on the consent page.
    pub client_name: String,
    /// Client authentication method.
    pub token_endpoint_auth_method: AuthMethod,
    /// Exact redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<RedirectUri>,
    /// Exact post-logout redirect URIs.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// Grants the client may use.
    pub grant_types: Vec<GrantType>,
    /// Scopes the client may request (OIDC scopes for logins, API scopes for client_credentials).
    pub scope: Scope,
    /// The client's public keys for `private_key_jwt` (a JWK Set), if given inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// Where the client publishes its JWK Set, if not inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<Url>,
    /// Sector identifier for pairwise subjects; by default the host of the redirect URIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector_identifier: Option<String>,
    /// Whether every authorization request must come through PAR (RFC 9126).
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// Whether the client may receive the `cid` claim under the `national_id` scope.
    #[serde(default)]
    pub allow_national_id: bool,
    /// ID token signing algorithm.
    #[serde(default = "default_alg")]
    pub id_token_signed_response_alg: SigningAlg,
    /// Where back-channel logout tokens are POSTed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<Url>,
    /// An assurance level every login for this client must reach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_acr: Option<String>,
    /// Resource servers (audiences) this client's access tokens may be issued for (RFC 8707).
    /// With none, access tokens are issued for the issuer itself (userinfo).
    #[serde(default)]
    pub resources: Vec<String>,
}

fn default_alg() -> SigningAlg {
    SigningAlg::ES256
}

impl ClientMetadata {
    /// Checks the combination of fields; called on every registration and update.
    pub fn validate(&self) -> Result<()> {
        if self.client_name.trim().is_empty() || self.client_name.len() > 200 {
            return Err(Error::Invalid("client_name must be 1-200 characters".into()));
        }
        if self.grant_types.is_empty() {
            return Err(Error::Invalid("at least one grant type is required".into()));
        }
        let code = self.grant_types.contains(&GrantType::AuthorizationCode);
        if code && self.redirect_uris.is_empty() {
            return Err(Error::Invalid("authorization_code clients need at least one redirect URI".into()));
        }
        if !code && !self.redirect_uris.is_empty() {
            return Err(Error::Invalid("redirect URIs are only for authorization_code clients".into()));
        }
        if self.grant_types.contains(&GrantType::RefreshToken) && !code {
            return Err(Error::Invalid("refresh_token requires authorization_code".into()));
        }
        if self.token_endpoint_auth_method == AuthMethod::None
            && self.grant_types.contains(&GrantType::ClientCredentials)
        {
            return Err(Error::Invalid("a public client (auth method none) cannot use client_credentials".into()));
        }
        if self.token_endpoint_auth_method == AuthMethod::PrivateKeyJwt {
            match (&self.jwks, &self.jwks_uri) {
                (Some(_), Some(_)) => {
                    return Err(Error::Invalid("give jwks or jwks_uri, not both".into()));
                }
                (None, None) => {
                    return Err(Error::Invalid("private_key_jwt needs jwks or jwks_uri".into()));
                }
                (Some(set), None) => validate_jwks(set)?,
                (None, Some(uri)) => {
                    if uri.scheme() != "https" && !matches!(uri.host_str(), Some("localhost" | "127.0.0.1")) {
                        return Err(Error::Invalid("jwks_uri must be https".into()));
                    }
                }
            }
        } else if self.jwks.is_some() || self.jwks_uri.is_some() {
            return Err(Error::Invalid("jwks/jwks_uri are only for private_key_jwt clients".into()));
        }
        if self.scope.contains("openid") && !code {
            return Err(Error::Invalid("the openid scope is only for authorization_code clients".into()));
        }
        if self.scope.contains("national_id") && !self.allow_national_id {
            return Err(Error::Invalid("the national_id scope needs allow_national_id".into()));
        }
        if let Some(u) = &self.backchannel_logout_uri
            && u.scheme() != "https"
            && !matches!(u.host_str(), Some("localhost" | "127.0.0.1"))
        {
            return Err(Error::Invalid("backchannel_logout_uri must be https".into()));
        }
        if let Some(acr) = &self.default_acr
            && !super::ACR_VALUES.contains(&acr.as_str())
        {
            return Err(Error::Invalid(format!("unknown acr {acr:?}")));
        }
        if code && self.sector().is_none() {
            return Err(Error::Invalid(
                "redirect URIs span several hosts: give a sector_identifier for pairwise subjects".into(),
            ));
        }
        Ok(())
    }

    /// The sector for pairwise `sub` (OIDC Core 8.1): the configured identifier, or the single
    /// host of all redirect URIs.
    pub fn sector(&self) -> Option<String> {
        if let Some(s) = &self.sector_identifier {
            return Some(s.clone());
        }
        let mut hosts = self
            .redirect_uris
            .iter()
            .filter_map(|r| Url::parse(r.as_str()).ok().and_then(|u| u.host_str().map(str::to_string)));
        let first = hosts.next()?;
        hosts.all(|h| h == first).then_some(first)
    }
}

fn validate_jwks(set: &serde_json::Value) -> Result<()> {
    let parsed: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(set.clone()).map_err(|e| Error::Invalid(format!("jwks is not a JWK Set: {e}")))?;
    if parsed.keys.is_empty() {
        return Err(Error::Invalid("jwks has no keys".into()));
    }
    for k in &parsed.keys {
        jsonwebtoken::DecodingKey::from_jwk(k).map_err(|e| Error::Invalid(format!("jwks has an unusable key: {e}")))?;
        if matches!(k.common.key_algorithm, Some(a) if a.to_string().starts_with("HS")) {
            return Err(Error::Invalid("symmetric keys are not accepted in jwks".into()));
        }
    }
    Ok(())
}

/// A registered client as the server uses it.
#[derive(Clone, Debug)]
pub struct Client {
    /// Its id.
    pub client_id: ClientId,
    /// Its metadata.
    pub metadata: ClientMetadata,
    /// SHA-256 of the secret (hex), for the secret-based methods.
    pub secret_hash: Option<String>,
}

impl Client {
    /// True when `uri` is exactly one of the registered redirect URIs.
    pub fn redirect_uri_matches(&self, uri: &str) -> bool {
        self.metadata.redirect_uris.iter().any(|r| r.as_str() == uri)
    }
    /// True when the client may use `grant`.
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.metadata.grant_types.contains(&grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> ClientMetadata {
        ClientMetadata {
            client_name: "ePIS".into(),
            token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
            redirect_uris: vec![RedirectUri::parse("https://epis.gov.bt/cb").unwrap()],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scope: Scope::parse("openid profile").unwrap(),
            jwks: None,
            jwks_uri: None,
            sector_identifier: None,
            require_pushed_authorization_requests: false,
            allow_national_id: false,
            id_token_signed_response_alg: SigningAlg::ES256,
            backchannel_logout_uri: None,
            default_acr: None,
            resources: vec![],
        }
    }

    #[test]
    fn redirect_uris_are_validated() {
        assert!(RedirectUri::parse("https://a.gov.bt/cb?x=1").is_ok());
        assert!(RedirectUri::parse("http://localhost:3000/cb").is_ok());
        assert!(RedirectUri::parse("bt.gov.app:/cb").is_ok());
        assert!(RedirectUri::parse("http://a.gov.bt/cb").is_err());
        assert!(RedirectUri::parse("https://a.gov.bt/cb#frag").is_err());
        assert!(RedirectUri::parse("javascript:alert(1)").is_err());
        assert!(RedirectUri::parse("/relative").is_err());
    }

    #[test]
    fn scopes_parse_sorted_and_reject_bad_characters() {
        let s = Scope::parse("profile openid  openid").unwrap();
        assert_eq!(s.to_string(), "openid profile");
        assert!(Scope::parse("bad\"quote").is_err());
        assert!(Scope::parse("bad\\slash").is_err());
        assert!(!Scope::parse("a").unwrap().is_subset(&s));
    }

    #[test]
    fn client_ids_are_validated() {
        assert!(ClientId::parse("epis-web_1.0~x").is_ok());
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse("a b").is_err());
        assert!(ClientId::parse(&"a".repeat(129)).is_err());
    }

    #[test]
    fn metadata_combinations_are_checked() {
        meta().validate().unwrap();
        let mut m = meta();
        m.redirect_uris.clear();
        assert!(m.validate().is_err());
        let mut m = meta();
        m.token_endpoint_auth_method = AuthMethod::PrivateKeyJwt;
        assert!(m.validate().is_err(), "private_key_jwt without keys");
        let mut m = meta();
        m.scope = Scope::parse("openid national_id").unwrap();
        assert!(m.validate().is_err(), "national_id without permission");
        m.allow_national_id = true;
        m.validate().unwrap();
        let mut m = meta();
        m.redirect_uris.push(RedirectUri::parse("https://other.bt/cb").unwrap());
        assert!(m.validate().is_err(), "two hosts without a sector identifier");
        m.sector_identifier = Some("health.gov.bt".into());
        m.validate().unwrap();
    }
}
