#![allow(dead_code)]
//! RP helpers: openidconnect 4.1 (no default features) + reqwest 0.13 + jsonwebtoken 11 + ring 0.17.
use anyhow::{Context, anyhow, bail};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod,
    CoreGrantType, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType, CoreRevocableToken, CoreSubjectIdentifierType,
    CoreTokenIntrospectionResponse, CoreTokenResponse, CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AdditionalProviderMetadata, AsyncHttpClient, AuthType, AuthorizationCode, ClientId,
    ClientSecret, CsrfToken, EndSessionUrl, EndpointNotSet, EndpointSet, HttpClientError, HttpRequest, HttpResponse,
    IntrospectionUrl, IssuerUrl, LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, ProviderMetadata, RedirectUrl, RefreshToken, RevocationUrl, Scope, SubjectIdentifier,
    TokenResponse,
};
use ring::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair},
};
use serde::{Deserialize, Serialize};
use std::{future::Future, pin::Pin, time::Duration};

// ---- 1. HTTP adapter. Newtype required (orphan rule; oauth2's own impl targets reqwest 0.12).
#[derive(Clone)]
pub struct OidcHttp(pub reqwest::Client);
impl<'c> AsyncHttpClient<'c> for OidcHttp {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;
    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let req: reqwest::Request = request.try_into().map_err(Box::new)?; // TryFrom<http::Request<Vec<u8>>>
            let resp = self.0.execute(req).await.map_err(Box::new)?;
            let mut builder = openidconnect::http::Response::builder().status(resp.status()).version(resp.version());
            for (name, value) in resp.headers() {
                builder = builder.header(name, value);
            }
            let body = resp.bytes().await.map_err(Box::new)?.to_vec();
            builder.body(body).map_err(HttpClientError::Http)
        })
    }
}
pub fn build_http() -> anyhow::Result<OidcHttp> {
    let _ = rustls::crypto::ring::default_provider().install_default(); // Err = already installed
    let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(Duration::from_secs(10));
    Ok(OidcHttp(c.build()?))
}

// ---- 2. Discovery, with the fields CoreProviderMetadata does not model.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraMetadata {
    pub end_session_endpoint: Option<EndSessionUrl>,
    pub revocation_endpoint: Option<RevocationUrl>,
    pub introspection_endpoint: Option<IntrospectionUrl>,
    pub pushed_authorization_request_endpoint: Option<url::Url>,
}
impl AdditionalProviderMetadata for ExtraMetadata {}
pub type Metadata = ProviderMetadata<
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
pub async fn discover(http: &OidcHttp, issuer: &str) -> anyhow::Result<Metadata> {
    let issuer = IssuerUrl::new(issuer.to_string())?; // must equal doc "issuer" byte-for-byte
    Metadata::discover_async(issuer, http).await.map_err(|e| anyhow!("discovery: {e:?}"))
}

// ---- 7. Typestate: <Auth, DeviceAuth, Introspection, Revocation, Token, UserInfo>.
// from_provider_metadata() -> CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet,
//                                        EndpointMaybeSet, EndpointMaybeSet>
pub type RpClient = CoreClient<EndpointSet, EndpointNotSet, EndpointSet, EndpointSet, EndpointSet, EndpointSet>;
/// secret Some => client_secret_basic; None => client_id in body (use for private_key_jwt).
pub fn build_client(meta: &Metadata, id: &str, secret: Option<&str>, redirect: &str) -> anyhow::Result<RpClient> {
    let x = meta.additional_metadata();
    let secret = secret.map(|s| ClientSecret::new(s.to_string()));
    Ok(CoreClient::from_provider_metadata(meta.clone(), ClientId::new(id.to_string()), secret)
        .set_auth_type(AuthType::BasicAuth) // default; AuthType::RequestBody = client_secret_post
        .set_redirect_uri(RedirectUrl::new(redirect.to_string())?)
        .set_token_uri(meta.token_endpoint().cloned().context("token_endpoint")?) // MaybeSet -> Set
        .set_user_info_url(meta.userinfo_endpoint().cloned().context("userinfo_endpoint")?)
        .set_revocation_url(x.revocation_endpoint.clone().context("revocation_endpoint")?)
        .set_introspection_url(x.introspection_endpoint.clone().context("introspection_endpoint")?))
}

// ---- 5. Authorization request (PKCE S256 + nonce + state).
pub struct AuthStart {
    pub url: url::Url,
    pub state: CsrfToken,
    pub nonce: Nonce,
    pub pkce_verifier: PkceCodeVerifier,
}
pub fn authorization_url(client: &RpClient, scopes: &[&str]) -> AuthStart {
    let (challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge); // "openid" scope added automatically
    for s in scopes {
        req = req.add_scope(Scope::new((*s).to_string()));
    }
    let (url, state, nonce) = req.url();
    AuthStart { url, state, nonce, pkce_verifier }
}
pub fn parse_callback(location: &str, expected_state: &CsrfToken) -> anyhow::Result<AuthorizationCode> {
    let url = url::Url::parse(location)?;
    let get = |k: &str| url.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned());
    if let Some(err) = get("error") {
        bail!("authorization error: {err} {:?}", get("error_description"));
    }
    if get("state").as_deref() != Some(expected_state.secret().as_str()) {
        bail!("state mismatch");
    }
    Ok(AuthorizationCode::new(get("code").context("no code")?))
}

// ---- 4. PAR by hand: POST the library-generated params, then front-channel client_id + request_uri.
pub async fn pushed_authorization(
    http: &OidcHttp,
    par_endpoint: &str,
    authorization_endpoint: &str,
    client_id: &str,
    start: &AuthStart,
    basic: Option<(&str, &str)>,
    client_auth_form: &[(String, String)],
) -> anyhow::Result<(String, url::Url)> {
    let mut form: Vec<(String, String)> = start.url.query_pairs().into_owned().collect();
    form.extend(client_auth_form.iter().cloned());
    let mut req = http.0.post(par_endpoint).form(&form);
    if let Some((id, secret)) = basic {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>(); // RFC 6749 2.3.1
        req = req.basic_auth(enc(id), Some(enc(secret)));
    }
    let resp = req.send().await?;
    if resp.status() != reqwest::StatusCode::CREATED {
        bail!("PAR: {} {}", resp.status(), resp.text().await?);
    }
    let body: serde_json::Value = resp.json().await?; // {"request_uri": "...", "expires_in": 60}
    let request_uri = body["request_uri"].as_str().context("request_uri")?.to_string();
    let mut url = url::Url::parse(authorization_endpoint)?;
    url.query_pairs_mut().append_pair("client_id", client_id).append_pair("request_uri", &request_uri);
    Ok((request_uri, url))
}

// ---- 3. private_key_jwt (RFC 7523) with an ES256 key made by ring.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// public_jwk: register it (jwks) with the OP.
pub struct ClientKey {
    pub kid: String,
    pub encoding_key: jsonwebtoken::EncodingKey,
    pub public_jwk: serde_json::Value,
}
pub fn generate_es256_key(kid: &str) -> anyhow::Result<ClientKey> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(|_| anyhow!("keygen"))?;
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).map_err(|_| anyhow!("p8"))?;
    let p = pair.public_key().as_ref(); // 0x04 || X(32) || Y(32)
    let public_jwk = serde_json::json!({"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(&p[1..33]), "y": URL_SAFE_NO_PAD.encode(&p[33..65])});
    // jsonwebtoken(rust_crypto)::from_ec_der takes PKCS#8 DER = ring's output.
    Ok(ClientKey { kid: kid.into(), encoding_key: jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref()), public_jwk })
}
/// aud = token endpoint URL (OIDC Core 9) or issuer - whatever the OP accepts. Returns the 2 form fields.
pub fn client_assertion(key: &ClientKey, client_id: &str, aud: &str) -> anyhow::Result<Vec<(String, String)>> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    let claims = serde_json::json!({"iss": client_id, "sub": client_id, "aud": aud,
        "jti": CsrfToken::new_random().secret(), "iat": now, "exp": now + 60});
    let jwt = jsonwebtoken::encode(&header, &claims, &key.encoding_key)?;
    Ok(vec![("client_assertion_type".into(), JWT_BEARER.into()), ("client_assertion".into(), jwt)])
}

// ---- 5. Code exchange + ID token validation + at_hash.
pub async fn exchange_code(
    http: &OidcHttp,
    client: &RpClient,
    code: AuthorizationCode,
    start: AuthStart,
    assertion: Option<Vec<(String, String)>>, // Some => client MUST have been built with secret None
) -> anyhow::Result<(CoreTokenResponse, SubjectIdentifier)> {
    let mut req = client.exchange_code(code).set_pkce_verifier(start.pkce_verifier);
    for (k, v) in assertion.unwrap_or_default() {
        req = req.add_extra_param(k, v);
    }
    let tokens = req.request_async(http).await.map_err(|e| anyhow!("token: {e:?}"))?;
    let id_token = tokens.id_token().context("no id_token")?;
    // Defaults to discovery's id_token_signing_alg_values_supported; override explicitly:
    let verifier = client.id_token_verifier().set_allowed_algs([CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    let claims = id_token.claims(&verifier, &start.nonce).map_err(|e| anyhow!("id_token: {e:?}"))?;
    if let Some(expected) = claims.access_token_hash() {
        // claims() does NOT check at_hash
        let (alg, key) = (id_token.signing_alg()?, id_token.signing_key(&verifier)?);
        let actual = AccessTokenHash::from_token(tokens.access_token(), alg, key)?;
        if actual != *expected {
            bail!("at_hash mismatch");
        }
    }
    let sub = claims.subject().clone();
    Ok((tokens, sub))
}

// ---- 6. UserInfo, refresh, revoke, introspect, RP-initiated logout.
pub async fn userinfo(
    http: &OidcHttp,
    client: &RpClient,
    at: &AccessToken,
    expected_sub: Option<SubjectIdentifier>,
) -> anyhow::Result<CoreUserInfoClaims> {
    client.user_info(at.clone(), expected_sub).request_async(http).await.map_err(|e| anyhow!("userinfo: {e:?}"))
}
pub async fn refresh(
    http: &OidcHttp,
    client: &RpClient,
    rt: &RefreshToken,
    assertion: Option<Vec<(String, String)>>,
) -> anyhow::Result<CoreTokenResponse> {
    let mut req = client.exchange_refresh_token(rt);
    for (k, v) in assertion.unwrap_or_default() {
        req = req.add_extra_param(k, v);
    }
    req.request_async(http).await.map_err(|e| anyhow!("refresh: {e:?}"))
}
/// Library path; fails with ConfigurationError::InsecureUrl unless the revocation URL is https.
pub async fn revoke_lib(http: &OidcHttp, client: &RpClient, token: CoreRevocableToken) -> anyhow::Result<()> {
    client.revoke_token(token)?.request_async(http).await.map_err(|e| anyhow!("revoke: {e:?}"))
}
/// Hand-rolled RFC 7009 (works on http://localhost). Returns the status (expect 200).
pub async fn revoke_manual(
    http: &OidcHttp,
    endpoint: &str,
    token: &str,
    hint: Option<&str>,
    basic: Option<(&str, &str)>,
    extra_form: &[(String, String)],
) -> anyhow::Result<reqwest::StatusCode> {
    let mut form = vec![("token".to_string(), token.to_string())];
    form.extend(hint.map(|h| ("token_type_hint".to_string(), h.to_string())));
    form.extend(extra_form.iter().cloned());
    let mut req = http.0.post(endpoint).form(&form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    Ok(req.send().await?.status())
}
/// No https check here. Read the result with TokenIntrospectionResponse::active()/sub()/...
pub async fn introspect(
    http: &OidcHttp,
    client: &RpClient,
    token: &AccessToken,
    hint: &str,
) -> anyhow::Result<CoreTokenIntrospectionResponse> {
    let req = client.introspect(token).set_token_type_hint(hint.to_string());
    req.request_async(http).await.map_err(|e| anyhow!("introspect: {e:?}"))
}
pub fn logout_url(
    meta: &Metadata,
    tokens: &CoreTokenResponse,
    client_id: &str,
    post_logout: &str,
    state: &str,
) -> anyhow::Result<url::Url> {
    let end = meta.additional_metadata().end_session_endpoint.clone().context("end_session_endpoint")?;
    let mut req = LogoutRequest::from(end)
        .set_client_id(ClientId::new(client_id.to_string()))
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(post_logout.to_string())?)
        .set_state(CsrfToken::new(state.to_string()));
    if let Some(id_token) = tokens.id_token() {
        req = req.set_id_token_hint(id_token);
    }
    Ok(req.http_get_url())
}
