//! Agency-to-agency calls: access tokens from the client_credentials grant, cached until
//! shortly before they expire so a module calling another agency's API does not fetch a token
//! per call.

use std::{collections::HashMap, sync::Arc};

use openidconnect::{OAuth2TokenResponse, Scope};

use crate::{
    client_auth::ClientAuth,
    error::{Error, Result},
    login::OidcClient,
    provider::Provider,
};

/// A token is renewed this many seconds before it expires.
const RENEW_BEFORE: i64 = 30;

type CacheKey = (String, Option<String>);

struct Inner {
    provider: Provider,
    client: OidcClient,
    client_id: String,
    auth: ClientAuth,
    cache: tokio::sync::Mutex<HashMap<CacheKey, (String, i64)>>,
}

/// A client_credentials client. Cheap to clone.
#[derive(Clone)]
pub struct ServiceClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ServiceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceClient").field("client_id", &self.inner.client_id).finish_non_exhaustive()
    }
}

impl ServiceClient {
    /// A client for `client_id` (registered with the `client_credentials` grant).
    pub fn new(provider: &Provider, client_id: &str, auth: ClientAuth) -> Result<Self> {
        let client = auth.oidc_client(provider, client_id)?;
        Ok(Self {
            inner: Arc::new(Inner {
                provider: provider.clone(),
                client,
                client_id: client_id.to_string(),
                auth,
                cache: tokio::sync::Mutex::new(HashMap::new()),
            }),
        })
    }

    /// An access token for `scope` (space-separated) at `resource` (the called API's
    /// identifier, RFC 8707; `None`: every resource the client is registered for), from the
    /// cache while it has more than 30 s to live.
    pub async fn token(&self, scope: &str, resource: Option<&str>, now: i64) -> Result<String> {
        let key = (scope.to_string(), resource.map(str::to_string));
        let mut cache = self.inner.cache.lock().await;
        if let Some((t, exp)) = cache.get(&key)
            && *exp - RENEW_BEFORE > now
        {
            return Ok(t.clone());
        }
        let mut req = self.inner.client.exchange_client_credentials();
        for s in scope.split(' ').filter(|s| !s.is_empty()) {
            req = req.add_scope(Scope::new(s.to_string()));
        }
        if let Some(r) = resource {
            req = req.add_extra_param("resource", r.to_string());
        }
        for (k, v) in self.inner.auth.extra_params(&self.inner.client_id, self.inner.provider.issuer(), now)? {
            req = req.add_extra_param(k, v);
        }
        let resp = req.request_async(self.inner.provider.http()).await.map_err(|e| match e {
            openidconnect::RequestTokenError::ServerResponse(r) => Error::Token(r.error().to_string()),
            other => Error::Provider(format!("client_credentials: {other}")),
        })?;
        let token = resp.access_token().secret().clone();
        let exp = now + resp.expires_in().map(|d| d.as_secs() as i64).unwrap_or(60);
        cache.retain(|_, (_, e)| *e > now);
        cache.insert(key, (token.clone(), exp));
        Ok(token)
    }
}
