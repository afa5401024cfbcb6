//! How access tokens are minted: RFC 9068 JWT claims, and the client_credentials grant.
//!
//! Access tokens are JWTs (`typ: at+jwt`) so agency APIs validate them offline; each carries a
//! `jti` so it can still be revoked and reported inactive by introspection.

use serde::{Deserialize, Serialize};

use super::{
    UnixTime,
    authorize::OIDC_SCOPES,
    client::{Client, GrantType, Scope},
};
use crate::error::{OAuthError, OAuthErrorKind};

/// `aud`: one string or several (RFC 7519 4.1.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// One audience.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Audience {
    /// True when `aud` names `who`.
    pub fn contains(&self, who: &str) -> bool {
        match self {
            Audience::One(a) => a == who,
            Audience::Many(v) => v.iter().any(|a| a == who),
        }
    }
}

/// The claims of a JWT access token (RFC 9068 2.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Expiry.
    pub exp: UnixTime,
    /// Resource server(s).
    pub aud: Audience,
    /// The citizen's pairwise subject, or the client id for client_credentials.
    pub sub: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Issued at.
    pub iat: UnixTime,
    /// Unique id, for revocation.
    pub jti: String,
    /// Granted scope.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// When the citizen authenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<UnixTime>,
    /// Assurance level of that authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Authentication methods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// The grant (refresh-token family) the token came from, so revoking the grant deactivates
    /// the token at introspection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
}

/// A validated client_credentials request: what will go into the token.
#[derive(Debug, PartialEq, Eq)]
pub struct ClientCredentialsGrant {
    /// Granted scope (the request's, or everything the client may have when none was asked).
    pub scope: Scope,
    /// Audience.
    pub aud: Audience,
}

/// Decides a client_credentials request for an authenticated `client` (RFC 6749 4.4).
pub fn client_credentials(
    client: &Client,
    requested_scope: Option<&str>,
    resources: &[String],
    issuer: &str,
) -> Result<ClientCredentialsGrant, OAuthError> {
    if !client.allows_grant(GrantType::ClientCredentials) {
        return Err(OAuthError::unauthorized_client("this client may not use the client_credentials grant"));
    }
    // Login scopes (openid, profile, ...) describe a citizen; they mean nothing without one.
    let api_scopes =
        Scope::parse(&client.metadata.scope.iter().filter(|s| !OIDC_SCOPES.contains(s)).collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
    let scope = match requested_scope {
        Some(s) => Scope::parse(s).map_err(|_| OAuthError::invalid_scope("malformed scope"))?,
        None => api_scopes.clone(),
    };
    if scope.iter().any(|s| OIDC_SCOPES.contains(&s)) {
        return Err(OAuthError::invalid_scope(
            "login scopes such as openid are not available through client_credentials",
        ));
    }
    if !scope.is_subset(&api_scopes) {
        return Err(OAuthError::invalid_scope("the requested scope exceeds what this client is registered for"));
    }
    let aud = audience(client, resources, issuer)?;
    Ok(ClientCredentialsGrant { scope, aud })
}

/// The audience for a token: the requested resources (RFC 8707), each registered for the
/// client or this issuer itself (its own APIs: registry, signing); else all the client's
/// registered resources; else the issuer.
pub fn audience(client: &Client, requested: &[String], issuer: &str) -> Result<Audience, OAuthError> {
    let allowed = &client.metadata.resources;
    if requested.is_empty() {
        return Ok(match allowed.as_slice() {
            [] => Audience::One(issuer.to_string()),
            [one] => Audience::One(one.clone()),
            many => Audience::Many(many.to_vec()),
        });
    }
    for r in requested {
        if !allowed.contains(r) && r != issuer {
            return Err(OAuthError::new(
                OAuthErrorKind::InvalidTarget,
                "the requested resource is not registered for this client",
            ));
        }
    }
    Ok(match requested {
        [one] => Audience::One(one.clone()),
        many => Audience::Many(many.to_vec()),
    })
}

/// An access token's claims for a client_credentials grant.
pub fn client_credentials_claims(
    client: &Client,
    grant: ClientCredentialsGrant,
    issuer: &str,
    jti: String,
    now: UnixTime,
    ttl: i64,
) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: issuer.to_string(),
        exp: now + ttl,
        aud: grant.aud,
        sub: client.client_id.as_str().to_string(),
        client_id: client.client_id.as_str().to_string(),
        iat: now,
        jti,
        scope: grant.scope.to_string(),
        auth_time: None,
        acr: None,
        amr: None,
        grant_id: None,
    }
}

/// What introspection reports about an access token whose signature and issuer checked out
/// (RFC 7662 2.2). Inactive for expired or revoked tokens.
pub fn introspect_access_token(claims: &AccessTokenClaims, revoked: bool, now: UnixTime) -> serde_json::Value {
    if revoked || claims.exp <= now || claims.iat > now + 60 {
        return serde_json::json!({"active": false});
    }
    let mut v = serde_json::json!({
        "active": true,
        "token_type": "Bearer",
        "client_id": claims.client_id,
        "sub": claims.sub,
        "aud": claims.aud,
        "iss": claims.iss,
        "exp": claims.exp,
        "iat": claims.iat,
        "jti": claims.jti,
    });
    if !claims.scope.is_empty() {
        v["scope"] = claims.scope.clone().into();
    }
    if let Some(a) = &claims.acr {
        v["acr"] = a.clone().into();
    }
    if let Some(t) = claims.auth_time {
        v["auth_time"] = t.into();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        client::{AuthMethod, ClientId, ClientMetadata},
        keys::SigningAlg,
    };

    fn client(grants: Vec<GrantType>, scope: &str, resources: Vec<String>) -> Client {
        Client {
            client_id: ClientId::parse("emis-api").unwrap(),
            metadata: ClientMetadata {
                client_name: "EMIS".into(),
                token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
                redirect_uris: vec![],
                post_logout_redirect_uris: vec![],
                grant_types: grants,
                scope: Scope::parse(scope).unwrap(),
                jwks: None,
                jwks_uri: None,
                sector_identifier: None,
                require_pushed_authorization_requests: false,
                allow_national_id: false,
                id_token_signed_response_alg: SigningAlg::ES256,
                backchannel_logout_uri: None,
                default_acr: None,
                resources,
            },
            secret_hash: None,
        }
    }

    #[test]
    fn the_issuer_is_always_a_requestable_audience() {
        let c = client(
            vec![GrantType::ClientCredentials],
            "registry.births epis.patients",
            vec!["https://epis.gov.bt/api".into()],
        );
        let iss = "https://id.gov.bt";
        assert!(matches!(audience(&c, &[], iss).unwrap(), Audience::One(a) if a == "https://epis.gov.bt/api"));
        assert!(matches!(audience(&c, &[iss.into()], iss).unwrap(), Audience::One(a) if a == iss));
        assert!(audience(&c, &["https://other.gov.bt/api".into()], iss).is_err(), "not registered");
    }

    #[test]
    fn client_credentials_grants_within_registration() {
        let c =
            client(vec![GrantType::ClientCredentials], "registry.read epis.write", vec!["https://epis.gov.bt".into()]);
        let g = client_credentials(&c, Some("registry.read"), &[], "https://id.gov.bt").unwrap();
        assert_eq!(g.scope.to_string(), "registry.read");
        assert_eq!(g.aud, Audience::One("https://epis.gov.bt".into()));
        let g = client_credentials(&c, None, &[], "https://id.gov.bt").unwrap();
        assert_eq!(g.scope.to_string(), "epis.write registry.read");
    }

    #[test]
    fn client_credentials_refuses_what_is_not_registered() {
        let c = client(vec![GrantType::ClientCredentials], "registry.read", vec![]);
        let e = client_credentials(&c, Some("registry.write"), &[], "i").unwrap_err();
        assert_eq!(e.kind, OAuthErrorKind::InvalidScope);
        let e = client_credentials(&c, None, &["https://other".into()], "i").unwrap_err();
        assert_eq!(e.kind, OAuthErrorKind::InvalidTarget);
        let c = client(vec![GrantType::AuthorizationCode], "registry.read", vec![]);
        let e = client_credentials(&c, None, &[], "i").unwrap_err();
        assert_eq!(e.kind, OAuthErrorKind::UnauthorizedClient);
    }

    #[test]
    fn introspection_reports_inactive_when_expired_or_revoked() {
        let c = client(vec![GrantType::ClientCredentials], "a", vec![]);
        let g = client_credentials(&c, None, &[], "i").unwrap();
        let claims = client_credentials_claims(&c, g, "i", "j1".into(), 1000, 300);
        assert_eq!(introspect_access_token(&claims, false, 1100)["active"], true);
        assert_eq!(introspect_access_token(&claims, true, 1100)["active"], false);
        assert_eq!(introspect_access_token(&claims, false, 1300)["active"], false);
    }
}
