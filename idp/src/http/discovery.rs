//! `/.well-known/openid-configuration` and `/jwks`, served from memory.

use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;

use crate::{
    app::{AppState, Idp},
    domain::{ACR_VALUES, keys::SigningAlg},
};

/// The discovery document (OpenID Connect Discovery 1.0, RFC 8414), built once at start-up.
pub fn document(idp: &Idp) -> serde_json::Value {
    let u = |p: &str| idp.url(p);
    let algs: Vec<&str> = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
    let auth_methods = ["private_key_jwt", "client_secret_basic", "client_secret_post", "none"];
    let assertion_algs = ["ES256", "ES384", "PS256", "PS384", "RS256", "EdDSA"];
    serde_json::json!({
        "issuer": idp.issuer(),
        "authorization_endpoint": u("/authorize"),
        "pushed_authorization_request_endpoint": u("/par"),
        "token_endpoint": u("/token"),
        "userinfo_endpoint": u("/userinfo"),
        "jwks_uri": u("/jwks"),
        "revocation_endpoint": u("/revoke"),
        "introspection_endpoint": u("/introspect"),
        "end_session_endpoint": u("/logout"),
        "scopes_supported": ["openid", "profile", "national_id", "address", "phone", "offline_access"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["pairwise"],
        "acr_values_supported": ACR_VALUES,
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid",
            "name", "given_name", "middle_name", "family_name", "birthdate", "gender", "cid", "address", "phone_number",
            "verified_claims"
        ],
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_pushed_authorization_requests": false,
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
        "ui_locales_supported": ["en", "dz"],
        "claims_locales_supported": ["en"],
        "verified_claims_supported": true,
        "trust_frameworks_supported": ["bt_drukyul_id"],
        "evidence_supported": ["electronic_record"],
        "claims_in_verified_claims_supported": ["given_name", "middle_name", "family_name", "birthdate", "gender", "cid"],
        "service_documentation": u("/"),
    })
}

/// The serialized document and JWKS headers.
#[derive(Debug, Clone)]
pub struct Discovery(pub Bytes);

fn json_bytes(body: Bytes, cache_control: &HeaderValue, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, cache_control.clone());
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    r
}

/// `GET /.well-known/openid-configuration`.
pub async fn openid_configuration(
    State(idp): State<AppState>,
    axum::Extension(doc): axum::Extension<Discovery>,
) -> Response {
    json_bytes(doc.0, &idp.public_cache_control, "application/json")
}

/// `GET /jwks`.
pub async fn jwks(State(idp): State<AppState>) -> Response {
    json_bytes(idp.keyring.jwks(), &idp.public_cache_control, "application/jwk-set+json")
}
