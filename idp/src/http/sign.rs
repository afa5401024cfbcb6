//! The agency APIs, each behind a client-credentials access token of the agency with the
//! API's scope: signing (`POST /sign/requests`, `GET /sign/requests/{id}`; scope `sign`), the
//! agency's own seal (`POST /sign/seal`; scope `seal`) and life
//! events (`POST /registry/births`, `/registry/deaths`; `registry.births`, `registry.deaths`).

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};

use super::extract::AuthHeader;
use crate::{
    app::{AppState, Idp},
    domain::{self, client::Client},
    error::{Error, OAuthError, OAuthErrorKind, Result},
    signing,
};

/// The agency's client, from a bearer token of its own (client credentials, not a citizen's
/// token, issued by us for us) whose scope includes `scope`: what every agency-to-IdP API asks.
pub(crate) async fn agency(idp: &Idp, auth: &AuthHeader, scope: &str, now: i64) -> Result<std::sync::Arc<Client>> {
    let token = auth.bearer().ok_or_else(|| OAuthError::invalid_token("an access token is required"))?;
    let (claims, grant) = crate::oidc::verify_bearer(idp, token, now).await?;
    if grant.is_some() || !claims.scope.split(' ').any(|s| s == scope) || !claims.aud.contains(idp.issuer()) {
        return Err(OAuthError::new(
            OAuthErrorKind::InsufficientScope,
            format!("a client-credentials token with the {scope} scope is required"),
        )
        .into());
    }
    idp.client(&claims.client_id).await?.ok_or_else(|| OAuthError::invalid_token("the client no longer exists").into())
}

pub(crate) fn no_store(mut r: Response) -> Response {
    r.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    r
}

/// `POST /sign/requests` (JSON body, see [`signing::NewRequest`]); 201 with the request id and
/// the citizen's URL.
pub async fn create(State(idp): State<AppState>, auth: AuthHeader, body: axum::body::Bytes) -> Result<Response> {
    let now = domain::now();
    let client = agency(&idp, &auth, signing::SIGN_SCOPE, now).await?;
    let req: signing::NewRequest =
        serde_json::from_slice(&body).map_err(|e| Error::Invalid(format!("malformed request: {e}")))?;
    let created = signing::create(&idp, &client, &req, now).await?;
    Ok(no_store((StatusCode::CREATED, Json(created)).into_response()))
}

/// `GET /sign/requests/{id}`: status, and the signatures once signed.
pub async fn result(State(idp): State<AppState>, auth: AuthHeader, Path(id): Path<String>) -> Result<Response> {
    let now = domain::now();
    let client = agency(&idp, &auth, signing::SIGN_SCOPE, now).await?;
    Ok(no_store(Json(signing::result(&idp, &client, &id, now).await?).into_response()))
}

/// The body of `POST /sign/seal`: the documents to seal (as for a signing request).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealRequest {
    documents: Vec<signing::NewDocument>,
}

/// `POST /sign/seal` (scope `seal`): the agency's own electronic seal over each digest, at once
/// — no person approves a seal; the agency's client authentication activates it.
pub async fn seal(State(idp): State<AppState>, auth: AuthHeader, body: axum::body::Bytes) -> Result<Response> {
    use base64::Engine;
    let now = domain::now();
    let client = agency(&idp, &auth, crate::pki::SEAL_SCOPE, now).await?;
    let req: SealRequest =
        serde_json::from_slice(&body).map_err(|e| Error::Invalid(format!("malformed request: {e}")))?;
    let documents = signing::validate_documents(&req.documents)?;
    let (serial, signatures) = crate::pki::seal_digests(&idp, &client, &documents, now).await?;
    let b64 = &base64::engine::general_purpose::STANDARD;
    let body = serde_json::json!({
        "certificate_serial": serial,
        "signatures": signatures.iter().map(|s| b64.encode(s)).collect::<Vec<_>>(),
    });
    Ok(no_store(Json(body).into_response()))
}

/// The body of `POST /sign/verify`: the detached CMS signature (base64) and either the
/// document's SHA-256 (hex or base64) or the document itself (base64, within the body limit).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    signature: String,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    document: Option<String>,
    /// `pades` for the CMS of a PDF signature (its digest being the ByteRange's); `cades`
    /// (the default) for a detached signature.
    #[serde(default)]
    format: signing::SignatureFormat,
}

/// `POST /sign/verify`: anyone may check a signature; the signer's CID is reported only to a
/// client (bearer token) registered to receive national identifiers.
pub async fn verify(
    State(idp): State<AppState>,
    ip: super::extract::ClientIp,
    auth: AuthHeader,
    body: axum::body::Bytes,
) -> Result<Response> {
    use base64::Engine;
    let now = domain::now();
    super::pki::limit(&idp, &ip.0)?;
    let reveal_cid = match auth.bearer() {
        Some(token) => {
            let (claims, _) = crate::oidc::verify_bearer(&idp, token, now).await?;
            idp.client(&claims.client_id).await?.is_some_and(|c| c.metadata.allow_national_id)
        }
        None => false,
    };
    let req: VerifyRequest =
        serde_json::from_slice(&body).map_err(|e| Error::Invalid(format!("malformed request: {e}")))?;
    let b64 = &base64::engine::general_purpose::STANDARD;
    let signature =
        b64.decode(req.signature.trim()).map_err(|_| Error::Invalid("signature must be base64 DER".into()))?;
    let digest = match (req.digest, req.document) {
        (Some(d), None) => signing::parse_digest(&d)
            .map(|d| signer::Sha256Digest::from_bytes(&d))
            .transpose()?
            .ok_or_else(|| Error::Invalid("digest must be a SHA-256 digest (hex or base64)".into()))?,
        (None, Some(doc)) => signer::Sha256Digest::of(
            &b64.decode(doc.trim()).map_err(|_| Error::Invalid("document must be base64".into()))?,
        ),
        _ => return Err(Error::Invalid("send either digest or document".into())),
    };
    let pades = req.format == signing::SignatureFormat::Pades;
    let v = crate::pki::verify(&idp, &signature, &digest, pades, reveal_cid, now).await?;
    Ok(no_store(Json(v).into_response()))
}

/// `POST /registry/births` (scope `registry.births`): 201 with the child's new CID; 200 with the
/// same answer when the reference was recorded before.
pub async fn birth(State(idp): State<AppState>, auth: AuthHeader, body: axum::body::Bytes) -> Result<Response> {
    let now = domain::now();
    let client = agency(&idp, &auth, crate::life_events::BIRTHS_SCOPE, now).await?;
    let b: crate::life_events::Birth =
        serde_json::from_slice(&body).map_err(|e| Error::Invalid(format!("malformed request: {e}")))?;
    let r = crate::life_events::register_birth(&idp, client.client_id.as_str(), &b, now).await?;
    let status = if r.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(no_store((status, Json(r)).into_response()))
}

/// `POST /registry/deaths` (scope `registry.deaths`): the person is recorded deceased and their
/// digital ID closed; 200 with the same answer when the reference was recorded before.
pub async fn death(State(idp): State<AppState>, auth: AuthHeader, body: axum::body::Bytes) -> Result<Response> {
    let now = domain::now();
    let client = agency(&idp, &auth, crate::life_events::DEATHS_SCOPE, now).await?;
    let d: crate::life_events::Death =
        serde_json::from_slice(&body).map_err(|e| Error::Invalid(format!("malformed request: {e}")))?;
    let r = crate::life_events::register_death(&idp, client.client_id.as_str(), &d, now).await?;
    Ok(no_store(Json(r).into_response()))
}
