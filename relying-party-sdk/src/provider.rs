//! The identity provider as the SDK knows it: its discovery document (fetched once, at
//! start-up) and its signature keys (cached; fetched again when a token names a `kid` the
//! cache does not know, which is how a key rotation at the provider reaches us).
//!
//! An unknown `kid` costs an attacker nothing to send, so the re-fetch it causes is rate
//! limited: at most one per [`ProviderOptions::min_jwks_refresh`], concurrent requests wait for
//! the one fetch in flight rather than each starting their own. The keys are also re-fetched
//! in the background once they are older than [`ProviderOptions::max_jwks_age`], so a key the
//! provider withdrew stops being trusted.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use arc_swap::ArcSwap;
use openidconnect::{
    AdditionalProviderMetadata, EndSessionUrl, IssuerUrl, ProviderMetadata,
    core::{
        CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType, CoreJsonWebKey,
        CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode,
        CoreResponseType, CoreSubjectIdentifierType,
    },
};
use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, Result},
    http_client::{self, Http},
    jose::KeySet,
};

/// Discovery fields `openidconnect`'s core metadata does not model.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub(crate) struct ExtraMetadata {
    pub(crate) end_session_endpoint: Option<EndSessionUrl>,
    pub(crate) pushed_authorization_request_endpoint: Option<url::Url>,
    #[serde(default)]
    pub(crate) authorization_response_iss_parameter_supported: bool,
    #[serde(default)]
    pub(crate) code_challenge_methods_supported: Vec<String>,
    #[serde(default)]
    pub(crate) backchannel_logout_supported: bool,
}
impl AdditionalProviderMetadata for ExtraMetadata {}

pub(crate) type Metadata = ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// How the SDK talks to the identity provider.
#[derive(Clone, Debug)]
pub struct ProviderOptions {
    /// The HTTP client (bring your own for a private CA or an outbound proxy; it should not
    /// follow redirects). `None`: rustls with the web PKI roots, 10 s timeout.
    pub http: Option<reqwest::Client>,
    /// At most one key re-fetch caused by an unknown `kid` per this interval (default 60 s).
    pub min_jwks_refresh: Duration,
    /// Keys older than this are re-fetched in the background (default 1 h).
    pub max_jwks_age: Duration,
}

impl Default for ProviderOptions {
    fn default() -> Self {
        Self { http: None, min_jwks_refresh: Duration::from_secs(60), max_jwks_age: Duration::from_secs(3600) }
    }
}

/// One snapshot of the provider's keys, in the two forms the SDK verifies with.
pub(crate) struct Keys {
    pub(crate) fast: KeySet,
    pub(crate) oidc: CoreJsonWebKeySet,
    fetched_at: Instant,
}

struct RefreshState {
    last_forced: Option<Instant>,
}

struct Inner {
    issuer: String,
    metadata: Metadata,
    http: Http,
    jwks_uri: String,
    keys: ArcSwap<Keys>,
    refresh: tokio::sync::Mutex<RefreshState>,
    opts: ProviderOptions,
}

/// A discovered OpenID provider (Drukyul ID). Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Provider {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider").field("issuer", &self.inner.issuer).finish_non_exhaustive()
    }
}

impl Provider {
    /// Fetches `issuer`'s discovery document and keys. The document's `issuer` must equal
    /// `issuer` exactly (OIDC Discovery 4.3), and the provider must support PKCE S256.
    pub async fn discover(issuer: &str, opts: ProviderOptions) -> Result<Self> {
        let client = match &opts.http {
            Some(c) => c.clone(),
            None => http_client::default_client()?,
        };
        let http = Http(client);
        let issuer_url = IssuerUrl::new(issuer.to_string()).map_err(|e| Error::Config(format!("issuer: {e}")))?;
        let metadata = Metadata::discover_async(issuer_url, &http)
            .await
            .map_err(|e| Error::Provider(format!("discovery: {e}")))?;
        if !metadata.additional_metadata().code_challenge_methods_supported.iter().any(|m| m == "S256") {
            return Err(Error::Provider("the provider does not support PKCE S256".into()));
        }
        let jwks_uri = metadata.jwks_uri().url().to_string();
        let keys = keys_from(metadata.jwks(), None)?;
        Ok(Self {
            inner: Arc::new(Inner {
                issuer: issuer.to_string(),
                metadata,
                http,
                jwks_uri,
                keys: ArcSwap::from_pointee(keys),
                refresh: tokio::sync::Mutex::new(RefreshState { last_forced: None }),
                opts,
            }),
        })
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    pub(crate) fn metadata(&self) -> &Metadata {
        &self.inner.metadata
    }

    pub(crate) fn http(&self) -> &Http {
        &self.inner.http
    }

    /// The current keys; starts a background re-fetch when they are old.
    pub(crate) fn keys(&self) -> Arc<Keys> {
        let keys = self.inner.keys.load_full();
        if keys.fetched_at.elapsed() > self.inner.opts.max_jwks_age
            && let Ok(rt) = tokio::runtime::Handle::try_current()
            && let Ok(guard) = self.inner.refresh.try_lock()
        {
            drop(guard);
            let me = self.clone();
            rt.spawn(async move {
                let mut state = me.inner.refresh.lock().await;
                if me.inner.keys.load().fetched_at.elapsed() > me.inner.opts.max_jwks_age
                    && let Err(e) = me.fetch_keys(&mut state, false).await
                {
                    tracing::warn!(error = %e, "background JWKS refresh failed");
                }
            });
        }
        keys
    }

    /// Keys after a token named a `kid` that `seen` lacks: re-fetched if the rate limit allows
    /// (or already re-fetched by a concurrent request); `None` when nothing newer is available.
    pub(crate) async fn keys_after_unknown_kid(&self, seen: &Arc<Keys>) -> Option<Arc<Keys>> {
        let mut state = self.inner.refresh.lock().await;
        let current = self.inner.keys.load_full();
        if !Arc::ptr_eq(&current, seen) {
            return Some(current);
        }
        if state.last_forced.is_some_and(|t| t.elapsed() < self.inner.opts.min_jwks_refresh) {
            return None;
        }
        match self.fetch_keys(&mut state, true).await {
            Ok(k) => Some(k),
            Err(e) => {
                tracing::warn!(error = %e, "JWKS refresh failed");
                None
            }
        }
    }

    async fn fetch_keys(&self, state: &mut RefreshState, forced: bool) -> Result<Arc<Keys>> {
        if forced {
            state.last_forced = Some(Instant::now());
        }
        let raw = http_client::get_json(&self.inner.http.0, &self.inner.jwks_uri).await?;
        let oidc: CoreJsonWebKeySet =
            serde_json::from_value(raw).map_err(|e| Error::Provider(format!("JWKS unreadable: {e}")))?;
        let keys = Arc::new(keys_from(&oidc, Some(&self.inner.keys.load().fast))?);
        tracing::info!(keys = keys.fast.len(), "fetched the identity provider's keys");
        self.inner.keys.store(keys.clone());
        Ok(keys)
    }
}

fn keys_from(oidc: &CoreJsonWebKeySet, previous: Option<&KeySet>) -> Result<Keys> {
    let json = serde_json::to_value(oidc).map_err(|e| Error::Provider(format!("JWKS: {e}")))?;
    Ok(Keys { fast: KeySet::from_jwks(&json, previous), oidc: oidc.clone(), fetched_at: Instant::now() })
}
