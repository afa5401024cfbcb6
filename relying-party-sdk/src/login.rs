//! Logging a citizen in with OpenID Connect, on the `openidconnect` crate: the authorization
//! request (PKCE S256, state, nonce; pushed when configured), the callback (state, RFC 9207
//! `iss`, code exchange, ID-token validation), refresh, userinfo, and the logout URL.
//!
//! These are plain async functions over [`RelyingParty`] with `now` passed in; the axum
//! integration (`crate::web`) stores their inputs and outputs in the session.

use std::{sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use openidconnect::{
    AccessToken, AccessTokenHash, AuthenticationContextClass, AuthorizationCode, ClientId, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, PostLogoutRedirectUrl, RedirectUrl, RefreshToken, RequestTokenError, Scope, TokenResponse,
    core::{
        CoreAuthPrompt, CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenVerifier, CoreJwsSigningAlgorithm,
    },
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{
    client_auth::ClientAuth,
    error::{Error, Result},
    http_client::{self, ReadError},
    jose::SigningAlg,
    provider::{Keys, Provider, ProviderOptions},
    session::{SessionConfig, SessionStore},
};

/// The assurance levels Drukyul ID asserts in `acr` (weakest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Acr {
    /// `urn:drukyul:loa:substantial`: a passkey on an ID activated with a code from the registry.
    #[serde(rename = "urn:drukyul:loa:substantial")]
    Substantial,
    /// `urn:drukyul:loa:high`: the same, on an ID proven at biometric enrolment.
    #[serde(rename = "urn:drukyul:loa:high")]
    High,
}

impl Acr {
    /// The `acr` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Acr::Substantial => "urn:drukyul:loa:substantial",
            Acr::High => "urn:drukyul:loa:high",
        }
    }

    /// Parses an `acr` value; unknown values are `None` (and satisfy no requirement).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "urn:drukyul:loa:substantial" => Some(Acr::Substantial),
            "urn:drukyul:loa:high" => Some(Acr::High),
            _ => None,
        }
    }
}

/// The authenticated citizen, from a validated ID token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Citizen {
    /// Pairwise subject: stable for this agency's sector, meaningless elsewhere.
    pub sub: String,
    /// Assurance level of the login (`None` if the provider sent a value this SDK does not know).
    pub acr: Option<Acr>,
    /// Authentication methods (`hwk`, `user`, `mfa`, ...).
    pub amr: Vec<String>,
    /// When the citizen authenticated (Unix seconds).
    pub auth_time: Option<i64>,
    /// The provider's session id (for back-channel logout).
    pub sid: Option<String>,
    /// The identity claims of the ID token and (with [`Config::fetch_userinfo`]) of userinfo at
    /// login: `name`, `cid`, `address`, `verified_claims`..., as the scopes and the citizen's
    /// consent released them.
    pub claims: Map<String, Value>,
}

impl Citizen {
    /// A string claim, e.g. `name` or `cid`.
    pub fn claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// Whether the login reached `level`.
    pub fn has_acr(&self, level: Acr) -> bool {
        self.acr.is_some_and(|a| a >= level)
    }
}

/// The citizen's tokens. Never printed.
#[derive(Clone, Serialize, Deserialize)]
pub struct Tokens {
    /// Access token for the provider's userinfo and for agency APIs registered as resources.
    pub access_token: String,
    /// Refresh token, if the client may refresh.
    pub refresh_token: Option<String>,
    /// The raw ID token (the logout hint).
    pub id_token: String,
    /// When the access token expires (Unix seconds).
    pub expires_at: i64,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

/// `prompt` values (OIDC Core 3.1.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prompt {
    /// Authenticate again even with a session at the provider.
    Login,
    /// Ask for consent again.
    Consent,
    /// Show nothing; fail with `login_required` if a login would be needed.
    None,
}

/// Optional parameters of one authorization request.
#[derive(Clone, Debug, Default)]
pub struct LoginOptions {
    /// An assurance level the login must reach: sent as an essential `acr` claim (so the
    /// provider refuses rather than log in lower) and checked in the ID token.
    pub require_acr: Option<Acr>,
    /// Voluntary `acr_values`.
    pub acr_values: Vec<Acr>,
    /// `prompt`.
    pub prompt: Vec<Prompt>,
    /// `max_age`: the login must be at most this old (checked against `auth_time`).
    pub max_age: Option<Duration>,
    /// A `claims` request (OIDC Core 5.5), merged with the essential `acr` if any.
    pub claims: Option<Value>,
}

/// What the SDK remembers about a login in progress (in the browser's server-side session).
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    pub(crate) state: String,
    pub(crate) nonce: String,
    pub(crate) pkce_verifier: String,
    pub(crate) return_to: String,
    pub(crate) require_acr: Option<Acr>,
    pub(crate) max_age: Option<u64>,
    pub(crate) created_at: i64,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin").field("return_to", &self.return_to).finish_non_exhaustive()
    }
}

/// The query of the redirect back from the provider.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct CallbackParams {
    /// Authorization code.
    pub code: Option<String>,
    /// Echoed state.
    pub state: Option<String>,
    /// RFC 9207 issuer identification.
    pub iss: Option<String>,
    /// Error code, when the authorization failed.
    pub error: Option<String>,
    /// Error description.
    pub error_description: Option<String>,
}

/// Everything an agency configures.
#[derive(Debug)]
pub struct Config {
    /// The provider's issuer identifier, e.g. `https://id.gov.bt`.
    pub issuer: String,
    /// This client's id at the provider.
    pub client_id: String,
    /// How this client authenticates.
    pub client_auth: ClientAuth,
    /// The registered redirect URI; the SDK serves the callback at its path. Must be https,
    /// except `http://localhost` / `http://127.0.0.1` for development (then cookies lose
    /// `Secure` and the `__Host-` prefix, which need https).
    pub redirect_uri: String,
    /// Where the provider sends the browser after logout (registered with the client).
    pub post_logout_redirect_uri: Option<String>,
    /// Scopes besides `openid` (e.g. `profile`, `national_id`).
    pub scopes: Vec<String>,
    /// Push authorization requests (RFC 9126): the parameters never pass through the browser.
    pub use_par: bool,
    /// ID-token (and logout-token) algorithms accepted: the client's registered
    /// `id_token_signed_response_alg` (default ES256).
    pub id_token_algs: Vec<SigningAlg>,
    /// This agency's API resource identifier, if it serves an API: enables the `Bearer`
    /// extractor through the session layer.
    pub api_audience: Option<String>,
    /// Session lifetimes.
    pub session: SessionConfig,
    /// Provider connection and key-cache settings.
    pub provider: ProviderOptions,
    /// Clock leeway in seconds for token times (default 30).
    pub leeway: i64,
    /// Fetch userinfo once at login and add its claims to the [`Citizen`] (default true: the
    /// provider releases scope claims such as `name` there, not in the ID token).
    pub fetch_userinfo: bool,
}

impl Config {
    /// A configuration with the defaults: scope `openid`, ES256, no PAR, 30 min idle / 12 h
    /// absolute sessions.
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_auth: ClientAuth,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_auth,
            redirect_uri: redirect_uri.into(),
            post_logout_redirect_uri: None,
            scopes: vec![],
            use_par: false,
            id_token_algs: vec![SigningAlg::ES256],
            api_audience: None,
            session: SessionConfig::default(),
            provider: ProviderOptions::default(),
            leeway: 30,
            fetch_userinfo: true,
        }
    }
}

pub(crate) type OidcClient =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet, EndpointMaybeSet>;

/// How cookies are set, derived from the redirect URI.
#[derive(Clone, Debug)]
pub(crate) struct CookieMode {
    pub(crate) name: &'static str,
    pub(crate) secure: bool,
}

pub(crate) struct Inner {
    pub(crate) cfg: Config,
    pub(crate) provider: Provider,
    pub(crate) client: OidcClient,
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) cookie: CookieMode,
    pub(crate) callback_path: String,
    pub(crate) access: Option<crate::access_token::AccessTokenValidator>,
    pub(crate) service: crate::service::ServiceClient,
}

/// An agency's relying party: one per application, cheap to clone.
#[derive(Clone)]
pub struct RelyingParty {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty").field("client_id", &self.inner.cfg.client_id).finish_non_exhaustive()
    }
}

/// Longest age of an ID token at receipt (its `iat`), beyond the leeway.
const ID_TOKEN_MAX_AGE: i64 = 600;
/// Most logins one browser may have in progress.
pub(crate) const MAX_PENDING: usize = 5;

fn cookie_mode(redirect: &url::Url) -> Result<CookieMode> {
    match (redirect.scheme(), redirect.host_str()) {
        ("https", _) => Ok(CookieMode { name: "__Host-drukyul-session", secure: true }),
        ("http", Some("localhost" | "127.0.0.1")) => Ok(CookieMode { name: "drukyul-session", secure: false }),
        _ => Err(Error::Config("redirect_uri must be https (http only on localhost)".into())),
    }
}

impl RelyingParty {
    /// Discovers the provider and builds the relying party. Fails on a configuration that
    /// cannot be secure (an http redirect URI off localhost, no accepted algorithm, PAR
    /// configured but not offered).
    pub async fn new(cfg: Config, store: impl SessionStore) -> Result<Self> {
        let redirect = url::Url::parse(&cfg.redirect_uri).map_err(|e| Error::Config(format!("redirect_uri: {e}")))?;
        let cookie = cookie_mode(&redirect)?;
        if cfg.id_token_algs.is_empty() {
            return Err(Error::Config("id_token_algs is empty".into()));
        }
        let provider = Provider::discover(&cfg.issuer, cfg.provider.clone()).await?;
        let meta = provider.metadata();
        if cfg.use_par && meta.additional_metadata().pushed_authorization_request_endpoint.is_none() {
            return Err(Error::Config("use_par is set but the provider offers no PAR endpoint".into()));
        }
        let client = cfg
            .client_auth
            .oidc_client(&provider, &cfg.client_id)?
            .set_redirect_uri(RedirectUrl::from_url(redirect.clone()));
        let access = cfg
            .api_audience
            .as_ref()
            .map(|a| crate::access_token::AccessTokenValidator::new(provider.clone(), a.clone()));
        let service = crate::service::ServiceClient::new(&provider, &cfg.client_id, cfg.client_auth.clone())?;
        let callback_path = redirect.path().to_string();
        let inner = Inner { cfg, provider, client, store: Arc::new(store), cookie, callback_path, access, service };
        let rp = Self { inner: Arc::new(inner) };
        Ok(rp)
    }

    /// The discovered provider.
    pub fn provider(&self) -> &Provider {
        &self.inner.provider
    }

    /// The validator for this agency's API, when `api_audience` is configured.
    pub fn access_tokens(&self) -> Option<&crate::access_token::AccessTokenValidator> {
        self.inner.access.as_ref()
    }

    /// A client_credentials client with this relying party's own credentials (tokens cached
    /// until shortly before they expire).
    pub fn service_client(&self) -> &crate::service::ServiceClient {
        &self.inner.service
    }

    pub(crate) fn config(&self) -> &Config {
        &self.inner.cfg
    }

    fn assertion_params(&self, now: i64) -> Result<Vec<(&'static str, String)>> {
        self.inner.cfg.client_auth.extra_params(&self.inner.cfg.client_id, self.inner.provider.issuer(), now)
    }

    /// Builds an authorization request; returns where to send the browser and what to
    /// remember until the callback.
    pub async fn authorization_request(
        &self,
        opts: &LoginOptions,
        return_to: &str,
        now: i64,
    ) -> Result<(url::Url, PendingLogin)> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = self
            .inner
            .client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge);
        for s in &self.inner.cfg.scopes {
            req = req.add_scope(Scope::new(s.clone()));
        }
        for a in &opts.acr_values {
            req = req.add_auth_context_value(AuthenticationContextClass::new(a.as_str().to_string()));
        }
        for p in &opts.prompt {
            req = req.add_prompt(match p {
                Prompt::Login => CoreAuthPrompt::Login,
                Prompt::Consent => CoreAuthPrompt::Consent,
                Prompt::None => CoreAuthPrompt::None,
            });
        }
        if let Some(m) = opts.max_age {
            req = req.set_max_age(m);
        }
        if let Some(claims) = claims_param(opts) {
            req = req.add_extra_param("claims", claims.to_string());
        }
        let (url, state, nonce) = req.url();
        let url = if self.inner.cfg.use_par { self.push(&url, now).await? } else { url };
        let pending = PendingLogin {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            return_to: return_to.to_string(),
            require_acr: opts.require_acr,
            max_age: opts.max_age.map(|d| d.as_secs()),
            created_at: now,
        };
        Ok((url, pending))
    }

    /// RFC 9126: posts the request's parameters with client authentication; the browser gets
    /// only `client_id` and the `request_uri`.
    async fn push(&self, url: &url::Url, now: i64) -> Result<url::Url> {
        let meta = self.inner.provider.metadata();
        let par = meta
            .additional_metadata()
            .pushed_authorization_request_endpoint
            .as_ref()
            .ok_or_else(|| Error::Config("no PAR endpoint".into()))?;
        let params: Vec<(String, String)> = url.query_pairs().into_owned().filter(|(k, _)| k != "client_id").collect();
        let creds =
            self.inner.cfg.client_auth.credentials(&self.inner.cfg.client_id, self.inner.provider.issuer(), now)?;
        let mut form = params;
        if creds.basic.is_some() {
            form.push(("client_id".into(), self.inner.cfg.client_id.clone()));
        }
        let resp = creds
            .apply(self.inner.provider.http().0.post(par.as_str()), form)
            .send()
            .await
            .map_err(|e| Error::Provider(format!("PAR: {e}")))?;
        let status = resp.status();
        let body = http_client::read_capped(resp).await.map_err(|e| match e {
            ReadError::Http(e) => Error::Provider(format!("PAR: {e}")),
            ReadError::TooLarge => Error::Provider("PAR: answer too large".into()),
        })?;
        if status != http::StatusCode::CREATED {
            return Err(Error::Provider(format!("PAR: status {status}: {}", String::from_utf8_lossy(&body))));
        }
        let v: Value = serde_json::from_slice(&body).map_err(|_| Error::Provider("PAR: answer is not JSON".into()))?;
        let request_uri = v
            .get("request_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Provider("PAR: no request_uri".into()))?;
        let mut out = meta.authorization_endpoint().url().clone();
        out.query_pairs_mut()
            .append_pair("client_id", &self.inner.cfg.client_id)
            .append_pair("request_uri", request_uri);
        Ok(out)
    }

    /// The checks on the callback that need no pending login: RFC 9207 `iss` (a mix-up
    /// attack sends the browser back with another provider's answer), the provider's error,
    /// the presence of a code. Returns the code.
    pub(crate) fn check_callback<'a>(&self, cb: &'a CallbackParams) -> Result<&'a str> {
        let iss_required =
            self.inner.provider.metadata().additional_metadata().authorization_response_iss_parameter_supported;
        check_iss(cb.iss.as_deref(), self.inner.provider.issuer(), iss_required)?;
        if let Some(error) = &cb.error {
            return Err(Error::Denied { error: error.clone(), description: cb.error_description.clone() });
        }
        cb.code.as_deref().filter(|c| !c.is_empty()).ok_or_else(|| Error::Callback("no code".into()))
    }

    /// Completes a login: checks `iss` (RFC 9207) and the provider's answer, exchanges the code
    /// (PKCE), validates the ID token against `pending` and returns the citizen and tokens. The
    /// caller has already matched `state` to `pending` (see [`find_pending`]).
    pub async fn complete_login(
        &self,
        cb: &CallbackParams,
        pending: &PendingLogin,
        now: i64,
    ) -> Result<(Citizen, Tokens)> {
        let code = self.check_callback(cb)?;
        let mut req = self
            .inner
            .client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()));
        for (k, v) in self.assertion_params(now)? {
            req = req.add_extra_param(k, v);
        }
        let resp = req.request_async(self.inner.provider.http()).await.map_err(token_error)?;
        let raw =
            resp.id_token().ok_or_else(|| Error::IdToken("the token response has no ID token".into()))?.to_string();
        let access = resp.access_token().secret().clone();
        let mut citizen = self.verify_id_token(&raw, Some(&pending.nonce), &access, now).await?;
        if self.inner.cfg.fetch_userinfo && self.inner.provider.metadata().userinfo_endpoint().is_some() {
            // Drukyul ID releases scope claims (name, address, ...) at userinfo: fetched once
            // here, so pages read them from the session.
            for (k, v) in self.userinfo(&access, &citizen.sub).await? {
                if k != "sub" {
                    citizen.claims.insert(k, v);
                }
            }
        }
        if let Some(max) = pending.max_age {
            let fresh = citizen.auth_time.is_some_and(|t| t + max as i64 + self.inner.cfg.leeway >= now);
            if !fresh {
                return Err(Error::IdToken("auth_time is older than the max_age asked for".into()));
            }
        }
        if let Some(required) = pending.require_acr
            && !citizen.has_acr(required)
        {
            return Err(Error::Assurance);
        }
        let tokens = Tokens {
            access_token: access,
            refresh_token: resp.refresh_token().map(|r| r.secret().clone()),
            id_token: raw,
            expires_at: now + resp.expires_in().map(|d| d.as_secs() as i64).unwrap_or(60),
        };
        Ok((citizen, tokens))
    }

    /// Validates an ID token (OIDC Core 3.1.3.7): signature by a provider key with an allowed
    /// algorithm, `iss`, `aud` (this client, and no untrusted other audience), `azp`, `exp`,
    /// `iat` (neither in the future nor older than 10 min), `nonce` when given, and `at_hash`
    /// when present. A `kid` the cache lacks triggers one (rate-limited) key re-fetch.
    async fn verify_id_token(&self, raw: &str, nonce: Option<&str>, access_token: &str, now: i64) -> Result<Citizen> {
        let token: CoreIdToken = raw.parse().map_err(|e| Error::IdToken(format!("unparsable: {e}")))?;
        let keys = self.inner.provider.keys();
        match self.verify_id_token_with(&keys, &token, nonce, access_token, now) {
            Err(Retry::UnknownKey) => match self.inner.provider.keys_after_unknown_kid(&keys).await {
                Some(fresh) => {
                    self.verify_id_token_with(&fresh, &token, nonce, access_token, now).map_err(Retry::into_error)
                }
                None => Err(Error::IdToken("signed by an unknown key".into())),
            },
            other => other.map_err(Retry::into_error),
        }
        .and_then(|()| citizen_from(raw))
    }

    fn verify_id_token_with(
        &self,
        keys: &Keys,
        token: &CoreIdToken,
        nonce: Option<&str>,
        access_token: &str,
        now: i64,
    ) -> Result<(), Retry> {
        let leeway = self.inner.cfg.leeway;
        let time = chrono::DateTime::from_timestamp(now, 0).ok_or(Retry::Fail("bad clock".into()))?;
        let verifier = CoreIdTokenVerifier::new_public_client(
            ClientId::new(self.inner.cfg.client_id.clone()),
            IssuerUrl::new(self.inner.provider.issuer().to_string()).map_err(|e| Retry::Fail(e.to_string()))?,
            keys.oidc.clone(),
        )
        .set_allowed_algs(self.inner.cfg.id_token_algs.iter().map(|a| core_alg(*a)))
        .set_time_fn(move || time)
        .set_issue_time_verifier_fn(move |iat| {
            let iat = iat.timestamp();
            if iat > now + leeway {
                Err("issued in the future".into())
            } else if iat < now - ID_TOKEN_MAX_AGE - leeway {
                Err("issued too long ago".into())
            } else {
                Ok(())
            }
        });
        let expected = nonce.map(|n| Nonce::new(n.to_string()));
        let result = match &expected {
            Some(n) => token.claims(&verifier, n),
            None => token.claims(&verifier, |_: Option<&Nonce>| Ok(())),
        };
        let claims = result.map_err(|e| match e {
            openidconnect::ClaimsVerificationError::SignatureVerification(
                openidconnect::SignatureVerificationError::NoMatchingKey,
            ) => Retry::UnknownKey,
            other => Retry::Fail(other.to_string()),
        })?;
        let client_id = self.inner.cfg.client_id.as_str();
        match claims.authorized_party() {
            Some(azp) if azp.as_str() != client_id => return Err(Retry::Fail("azp is another client".into())),
            None if claims.audiences().len() > 1 => return Err(Retry::Fail("several audiences and no azp".into())),
            _ => {}
        }
        if claims.subject().is_empty() {
            return Err(Retry::Fail("empty sub".into()));
        }
        if let Some(expected) = claims.access_token_hash() {
            let alg = token.signing_alg().map_err(|e| Retry::Fail(e.to_string()))?;
            let key = token.signing_key(&verifier).map_err(|e| Retry::Fail(e.to_string()))?;
            let actual = AccessTokenHash::from_token(&AccessToken::new(access_token.to_string()), alg, key)
                .map_err(|e| Retry::Fail(e.to_string()))?;
            if actual != *expected {
                return Err(Retry::Fail("at_hash does not match the access token".into()));
            }
        }
        Ok(())
    }

    /// Refreshes the citizen's tokens (the provider rotates the refresh token). The new ID
    /// token, if any, must name the same subject.
    pub async fn refresh(&self, tokens: &Tokens, citizen: &Citizen, now: i64) -> Result<Tokens> {
        let rt = tokens.refresh_token.as_ref().ok_or_else(|| Error::Token("no refresh token".into()))?;
        let rt = RefreshToken::new(rt.clone());
        let mut req = self.inner.client.exchange_refresh_token(&rt);
        for (k, v) in self.assertion_params(now)? {
            req = req.add_extra_param(k, v);
        }
        let resp = req.request_async(self.inner.provider.http()).await.map_err(token_error)?;
        let access = resp.access_token().secret().clone();
        let id_token = match resp.id_token() {
            Some(t) => {
                let raw = t.to_string();
                let c = self.verify_id_token(&raw, None, &access, now).await?;
                if c.sub != citizen.sub {
                    return Err(Error::IdToken("the refreshed ID token names another subject".into()));
                }
                raw
            }
            None => tokens.id_token.clone(),
        };
        Ok(Tokens {
            access_token: access,
            refresh_token: resp.refresh_token().map(|r| r.secret().clone()).or_else(|| tokens.refresh_token.clone()),
            id_token,
            expires_at: now + resp.expires_in().map(|d| d.as_secs() as i64).unwrap_or(60),
        })
    }

    /// The provider's userinfo for `access_token`, checked to be about `expected_sub` (OIDC Core
    /// 5.3.4: a response about someone else is a token-substitution attack). All claims are
    /// returned, `cid` and `verified_claims` included.
    pub async fn userinfo(&self, access_token: &str, expected_sub: &str) -> Result<Map<String, Value>> {
        let url = self
            .inner
            .provider
            .metadata()
            .userinfo_endpoint()
            .ok_or_else(|| Error::Provider("no userinfo endpoint".into()))?
            .url()
            .clone();
        let resp = self
            .inner
            .provider
            .http()
            .0
            .get(url)
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(|e| Error::Provider(format!("userinfo: {e}")))?;
        if !resp.status().is_success() {
            return Err(Error::Token(format!("userinfo: status {}", resp.status())));
        }
        let body = http_client::read_capped(resp).await.map_err(|_| Error::Provider("userinfo: unreadable".into()))?;
        let v: Map<String, Value> =
            serde_json::from_slice(&body).map_err(|_| Error::Provider("userinfo: not a JSON object".into()))?;
        if v.get("sub").and_then(Value::as_str) != Some(expected_sub) {
            return Err(Error::Token("userinfo is about another subject".into()));
        }
        Ok(v)
    }

    /// The provider's RP-initiated logout URL (OIDC RP-Initiated Logout 1.0) with the ID token
    /// as hint (so the provider logs out without asking), the registered post-logout redirect
    /// and `state`. `None` if the provider has no end-session endpoint.
    pub fn logout_url(&self, id_token: Option<&str>, state: &str) -> Option<url::Url> {
        let end = self.inner.provider.metadata().additional_metadata().end_session_endpoint.clone()?;
        let mut req = LogoutRequest::from(end)
            .set_client_id(ClientId::new(self.inner.cfg.client_id.clone()))
            .set_state(CsrfToken::new(state.to_string()));
        if let Some(p) =
            self.inner.cfg.post_logout_redirect_uri.as_ref().and_then(|p| PostLogoutRedirectUrl::new(p.clone()).ok())
        {
            req = req.set_post_logout_redirect_uri(p);
        }
        if let Some(t) = id_token.and_then(|t| t.parse::<CoreIdToken>().ok()) {
            req = req.set_id_token_hint(&t);
        }
        Some(req.http_get_url())
    }
}

enum Retry {
    UnknownKey,
    Fail(String),
}

impl Retry {
    fn into_error(self) -> Error {
        match self {
            Retry::UnknownKey => Error::IdToken("signed by an unknown key".into()),
            Retry::Fail(s) => Error::IdToken(s),
        }
    }
}

fn core_alg(a: SigningAlg) -> CoreJwsSigningAlgorithm {
    match a {
        SigningAlg::ES256 => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        SigningAlg::RS256 => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        SigningAlg::EdDSA => CoreJwsSigningAlgorithm::EdDsa,
    }
}

fn token_error<RE: std::error::Error + 'static>(
    e: RequestTokenError<RE, openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>>,
) -> Error {
    match e {
        RequestTokenError::ServerResponse(r) => Error::Token(format!(
            "{}{}",
            r.error(),
            r.error_description().map(|d| format!(": {d}")).unwrap_or_default()
        )),
        RequestTokenError::Request(e) => Error::Provider(format!("token endpoint: {e}")),
        RequestTokenError::Parse(e, _) => Error::Token(format!("unreadable token response: {e}")),
        RequestTokenError::Other(s) => Error::Token(s),
    }
}

/// The `claims` parameter: the caller's, with `id_token.acr` made essential at `require_acr`.
fn claims_param(opts: &LoginOptions) -> Option<Value> {
    let mut claims = opts.claims.clone();
    if let Some(acr) = opts.require_acr {
        let c = claims.get_or_insert_with(|| Value::Object(Map::new()));
        if let Some(obj) = c.as_object_mut() {
            let id = obj.entry("id_token").or_insert_with(|| Value::Object(Map::new()));
            if let Some(id) = id.as_object_mut() {
                id.insert("acr".into(), serde_json::json!({"essential": true, "value": acr.as_str()}));
            }
        }
    }
    claims
}

/// RFC 9207: the `iss` parameter must name our provider (a mix-up attack sends the browser
/// back with another provider's code). Required when the provider advertises it.
pub(crate) fn check_iss(iss: Option<&str>, issuer: &str, required: bool) -> Result<()> {
    match iss {
        Some(i) if i == issuer => Ok(()),
        Some(_) => Err(Error::Callback("the iss parameter names another issuer".into())),
        None if required => Err(Error::Callback("the iss parameter is missing".into())),
        None => Ok(()),
    }
}

/// The pending login whose `state` matches, compared in constant time; `None` if the state is
/// missing, unknown or expired.
pub(crate) fn find_pending(pending: &[PendingLogin], state: Option<&str>, now: i64) -> Option<usize> {
    let state = state.filter(|s| !s.is_empty())?;
    pending.iter().position(|p| {
        subtle::ConstantTimeEq::ct_eq(p.state.as_bytes(), state.as_bytes()).into()
            && now - p.created_at < crate::session::PENDING_TTL
    })
}

/// The citizen from a verified ID token's payload.
fn citizen_from(raw: &str) -> Result<Citizen> {
    let payload = raw.split('.').nth(1).ok_or_else(|| Error::IdToken("malformed".into()))?;
    let bytes = B64.decode(payload).map_err(|_| Error::IdToken("malformed".into()))?;
    let mut claims: Map<String, Value> =
        serde_json::from_slice(&bytes).map_err(|_| Error::IdToken("malformed claims".into()))?;
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default().to_string();
    let acr = claims.get("acr").and_then(Value::as_str).and_then(Acr::parse);
    let amr = claims
        .get("amr")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let auth_time = claims.get("auth_time").and_then(Value::as_i64);
    let sid = claims.get("sid").and_then(Value::as_str).map(str::to_string);
    for k in ["iss", "aud", "exp", "iat", "nonce", "at_hash", "azp", "sub", "acr", "amr", "auth_time", "sid"] {
        claims.remove(k);
    }
    Ok(Citizen { sub, acr, amr, auth_time, sid, claims })
}

/// Whether `path` is a local path we may redirect to after login (no open redirect).
pub(crate) fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && !path.chars().any(|c| c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acr_levels_are_ordered_and_unknown_values_reach_nothing() {
        assert!(Acr::High > Acr::Substantial);
        assert_eq!(Acr::parse("urn:drukyul:loa:high"), Some(Acr::High));
        assert_eq!(Acr::parse("urn:drukyul:loa:low"), None);
        let c = Citizen {
            sub: "s".into(),
            acr: Some(Acr::Substantial),
            amr: vec![],
            auth_time: None,
            sid: None,
            claims: Map::new(),
        };
        assert!(c.has_acr(Acr::Substantial) && !c.has_acr(Acr::High));
        assert!(!Citizen { acr: None, ..c }.has_acr(Acr::Substantial));
    }

    #[test]
    fn iss_must_name_our_issuer() {
        assert!(check_iss(Some("https://id"), "https://id", true).is_ok());
        assert!(check_iss(Some("https://evil"), "https://id", true).is_err());
        assert!(check_iss(Some("https://evil"), "https://id", false).is_err());
        assert!(check_iss(None, "https://id", true).is_err());
        assert!(check_iss(None, "https://id", false).is_ok());
    }

    #[test]
    fn state_matches_only_a_live_pending_login() {
        let p = |s: &str, at| PendingLogin {
            state: s.into(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            return_to: "/".into(),
            require_acr: None,
            max_age: None,
            created_at: at,
        };
        let list = vec![p("aaa", 1000), p("bbb", 100)];
        assert_eq!(find_pending(&list, Some("aaa"), 1010), Some(0));
        assert_eq!(find_pending(&list, Some("bbb"), 1010), None, "expired");
        assert_eq!(find_pending(&list, Some("aab"), 1010), None);
        assert_eq!(find_pending(&list, Some(""), 1010), None);
        assert_eq!(find_pending(&list, None, 1010), None);
    }

    #[test]
    fn essential_acr_goes_into_the_claims_parameter() {
        let o = LoginOptions {
            require_acr: Some(Acr::High),
            claims: Some(serde_json::json!({"userinfo": {"cid": null}})),
            ..Default::default()
        };
        let c = claims_param(&o).unwrap();
        assert_eq!(c["id_token"]["acr"]["essential"], true);
        assert_eq!(c["id_token"]["acr"]["value"], "urn:drukyul:loa:high");
        assert!(c["userinfo"]["cid"].is_null());
        assert!(claims_param(&LoginOptions::default()).is_none());
    }

    #[test]
    fn return_paths_stay_local() {
        for ok in ["/", "/records?x=1"] {
            assert!(is_local_path(ok), "{ok}");
        }
        for bad in ["https://evil", "//evil", "/\\evil", "evil", "/a\nb"] {
            assert!(!is_local_path(bad), "{bad}");
        }
    }

    #[test]
    fn cookies_are_secure_unless_on_localhost() {
        let m = cookie_mode(&url::Url::parse("https://epis.gov.bt/auth/callback").unwrap()).unwrap();
        assert!(m.secure && m.name.starts_with("__Host-"));
        let m = cookie_mode(&url::Url::parse("http://localhost:3000/cb").unwrap()).unwrap();
        assert!(!m.secure && !m.name.starts_with("__Host-"));
        assert!(cookie_mode(&url::Url::parse("http://epis.gov.bt/cb").unwrap()).is_err());
    }
}
