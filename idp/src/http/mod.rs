//! HTTP: routes, extractors, middleware, and the mapping of errors to responses. Handlers are
//! thin: they extract, call one domain or application function, and shape the response.

pub mod admin;
pub mod discovery;
pub mod enrol;
mod errors;
pub mod extract;
pub mod middleware;
pub mod ops;
pub mod pages;
pub mod pki;
pub mod sign;
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
    request_id::{PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
};

use crate::app::AppState;

/// The whole application as one router, for the server and for in-process tests.
pub fn app(state: AppState) -> Router {
    let doc = discovery::document(&state);
    let doc = Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery::openid_configuration))
        .route("/jwks", get(discovery::jwks))
        .route("/authorize", get(pages::authorize_get).post(pages::authorize_post))
        .route("/authorize/continue", get(pages::authorize_continue))
        .route("/par", post(token::par))
        .route("/userinfo", get(token::userinfo).post(token::userinfo))
        .route("/logout", get(pages::logout_get).post(pages::logout_post))
        .route("/login", get(pages::login_page))
        .route("/login/passkey/start", post(pages::login_start))
        .route("/login/passkey/finish", post(pages::login_finish))
        .route("/activate", get(pages::activate_page))
        .route("/activate/start", post(pages::activate_start))
        .route("/activate/finish", post(pages::activate_finish))
        .route("/consent", get(pages::consent_page).post(pages::consent_submit))
        .route("/account", get(pages::account_page))
        .route("/account/passkeys/start", post(pages::passkey_add_start))
        .route("/account/passkeys/finish", post(pages::passkey_add_finish))
        .route("/account/passkeys/rename", post(pages::passkey_rename))
        .route("/account/passkeys/remove", post(pages::passkey_remove))
        .route("/account/consents/revoke", post(pages::consent_revoke))
        .route("/account/logout", post(pages::account_logout))
        .route("/lang", get(pages::set_lang))
        .route("/", get(pages::home))
        .route("/static/app.css", get(static_css))
        .route("/static/passkey.js", get(static_js))
        .route("/token", post(token::token))
        .route("/introspect", post(token::introspect))
        .route("/revoke", post(token::revoke))
        .route("/sign/requests", post(sign::create))
        .route("/sign/requests/{id}", get(sign::result))
        .route("/registry/births", post(sign::birth))
        .route("/registry/deaths", post(sign::death))
        .route("/sign/verify", post(sign::verify))
        .route("/sign/seal", post(sign::seal))
        .route("/sign/approve", get(pages::sign_page))
        .route("/sign/approve/start", post(pages::sign_start))
        .route("/sign/approve/finish", post(pages::sign_finish))
        .route("/sign/refuse", post(pages::sign_refuse))
        .route("/ca/chain.pem", get(pki::chain))
        .route("/ca/root.crt", get(pki::root_cert))
        .route("/ca/issuing.crt", get(pki::issuing_cert))
        .route("/ca/crl", get(pki::crl))
        .route("/ca/root-crl", get(pki::root_crl))
        .route("/ocsp", post(pki::ocsp_post))
        .route("/ocsp/{*req}", get(pki::ocsp_get))
        .route("/tsa", post(pki::tsa))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/enrol", get(enrol::console))
        .route("/enrol/capture/start", post(enrol::capture_start))
        .route("/enrol/cases", get(enrol::cases))
        .route("/enrol/cases/{id}", get(enrol::case_page).post(enrol::case_decide))
        .route("/enrol/cases/{id}/face", get(enrol::case_face))
        .route("/enrol/cases/{id}/candidates/{n}/face", get(enrol::candidate_face))
        .route("/abis/references/{id}", get(enrol::abis_reference))
        .route("/static/enrol.js", get(static_enrol_js))
        .merge(admin::routes(state.clone()))
        .layer(RequestBodyLimitLayer::new(state.config.max_body_bytes))
        // Ten signed finger captures (images, from a real scanner) and a face photo are larger
        // than any form: this one route has its own limit.
        .route(
            "/enrol/submit",
            post(enrol::submit).layer(RequestBodyLimitLayer::new(
                crate::enrolment::MAX_RESPONSE_BYTES + crate::enrolment::MAX_FACE_RESPONSE_BYTES + 64 * 1024,
            )),
        )
        .fallback(pages::not_found)
        .layer(Extension(discovery::Discovery(doc)))
        .layer(axum::middleware::from_fn(middleware::observe))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30)))
        .layer(CatchPanicLayer::new())
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, middleware::MakeId::new()))
        .with_state(state)
}

fn static_asset(body: &'static str, content_type: &'static str) -> axum::response::Response {
    use axum::{
        http::{HeaderValue, header},
        response::IntoResponse,
    };
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    r
}

async fn static_css() -> axum::response::Response {
    static_asset(include_str!("../../static/app.css"), "text/css; charset=utf-8")
}

async fn static_enrol_js() -> axum::response::Response {
    static_asset(include_str!("../../static/enrol.js"), "text/javascript; charset=utf-8")
}

async fn static_js() -> axum::response::Response {
    static_asset(include_str!("../../static/passkey.js"), "text/javascript; charset=utf-8")
}
