//! HTTP: routes, extractors, middleware, and the mapping of errors to responses. Handlers are
//! thin: they extract, call one domain or application function, and shape the response.

pub mod admin;
pub mod discovery;
mod errors;
pub mod extract;
pub mod middleware;
pub mod ops;
pub mod token;

use std::time::Duration;

use axum::{
    Extension, Router,
    http::{HeaderName, StatusCode},
    routing::{get, post},
};
use bytes::Bytes;
use tower_http::{
    catch_panic::CatchPanicLayer,
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
};

use crate::app::AppState;

/// The whole application as one router, for the server and for in-process tests.
pub fn app(state: AppState) -> Router {
    let doc = discovery::document(&state);
    let doc = Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/jwks", get(discovery::jwks))
        .route("/token", post(token::token))
        .route("/introspect", post(token::introspect))
        .route("/revoke", post(token::revoke))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .merge(admin::routes(state.clone()))
        .layer(Extension(discovery::Discovery(doc)))
        .layer(axum::middleware::from_fn(middleware::observe))
        .layer(axum::middleware::from_fn(middleware::security_headers))
        .layer(RequestBodyLimitLayer::new(state.config.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::new())
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}
