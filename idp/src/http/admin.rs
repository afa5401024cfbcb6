//! The JSON admin API (`/admin/*`): client management, behind a bearer token from the
//! configuration. Disabled when no token is configured.

use axum::{
    Json, Router,
    extract::{Path, Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use subtle::ConstantTimeEq;

use crate::{
    app::AppState,
    domain::{self, client::ClientMetadata},
    error::{Error, Result},
    store,
};

/// The admin routes.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/admin/clients", get(list).post(add))
        .route("/admin/clients/{id}", get(show).delete(remove))
        .route("/admin/clients/{id}/secret", axum::routing::post(rotate_secret))
        .route("/admin/keys", get(keys))
        .route("/admin/keys/rotate", axum::routing::post(rotate_keys))
        .route_layer(axum::middleware::from_fn_with_state(state, require_admin))
}

async fn require_admin(State(idp): State<AppState>, req: Request, next: Next) -> Response {
    let configured = idp.config.admin_token.expose();
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if configured.is_empty() {
        return (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": "not_found", "error_description": "the admin API is disabled"})),
        )
            .into_response();
    }
    if presented.is_empty() || !bool::from(presented.as_bytes().ct_eq(configured.as_bytes())) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"drukyul-id-admin\"")],
            Json(serde_json::json!({"error": "invalid_token", "error_description": "admin authentication required"})),
        )
            .into_response();
    }
    next.run(req).await
}

fn view(c: &domain::client::Client) -> serde_json::Value {
    let mut v = serde_json::to_value(&c.metadata).unwrap_or_default();
    v["client_id"] = c.client_id.as_str().into();
    v
}

async fn list(State(idp): State<AppState>) -> Result<Json<serde_json::Value>> {
    let clients = store::clients::list(&idp.db).await?;
    Ok(Json(serde_json::Value::Array(clients.iter().map(view).collect())))
}

async fn show(State(idp): State<AppState>, Path(id): Path<String>) -> Result<Json<serde_json::Value>> {
    let c = store::clients::get(&idp.db, &id).await?.ok_or_else(|| Error::NotFound(format!("client {id}")))?;
    Ok(Json(view(&c)))
}

#[derive(serde::Deserialize)]
struct AddRequest {
    #[serde(default)]
    client_id: Option<String>,
    #[serde(flatten)]
    metadata: serde_json::Value,
}

async fn add(State(idp): State<AppState>, body: axum::body::Bytes) -> Result<Response> {
    let req: AddRequest = serde_json::from_slice(&body).map_err(|e| Error::Invalid(format!("body: {e}")))?;
    let metadata: ClientMetadata =
        serde_json::from_value(req.metadata).map_err(|e| Error::Invalid(format!("client metadata: {e}")))?;
    let created = idp.register_client(req.client_id.as_deref(), metadata, "admin-api", domain::now()).await?;
    let mut r = (StatusCode::CREATED, Json(created)).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(r)
}

async fn remove(State(idp): State<AppState>, Path(id): Path<String>) -> Result<StatusCode> {
    idp.remove_client(&id, "admin-api", domain::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rotate_secret(State(idp): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let secret = idp.rotate_client_secret(&id, "admin-api", domain::now()).await?;
    let mut r = Json(serde_json::json!({"client_id": id, "client_secret": secret})).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(r)
}

async fn keys(State(idp): State<AppState>) -> Result<Json<serde_json::Value>> {
    let rows = store::keys::all(&idp.db).await?;
    Ok(Json(serde_json::Value::Array(
        rows.iter()
            .map(|r| {
                serde_json::json!({"kid": r.kid, "alg": r.alg, "created_at": r.created_at, "activates_at": r.activates_at,
                    "retires_at": r.retires_at, "removed_at": r.removed_at})
            })
            .collect(),
    )))
}

#[derive(serde::Deserialize)]
struct RotateRequest {
    #[serde(default = "default_alg")]
    alg: String,
    #[serde(default)]
    immediate: bool,
}

fn default_alg() -> String {
    "ES256".into()
}

async fn rotate_keys(State(idp): State<AppState>, body: axum::body::Bytes) -> Result<Json<serde_json::Value>> {
    let req: RotateRequest = if body.is_empty() {
        RotateRequest { alg: default_alg(), immediate: false }
    } else {
        serde_json::from_slice(&body).map_err(|e| Error::Invalid(format!("body: {e}")))?
    };
    let alg = domain::keys::SigningAlg::parse(&req.alg)?;
    let (kid, at) = idp.rotate_keys(alg, req.immediate, "admin-api", domain::now()).await?;
    Ok(Json(serde_json::json!({"kid": kid, "alg": alg.as_str(), "activates_at": at})))
}
