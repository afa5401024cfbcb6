//! Running a module: the shared layers around its routes, structured logs, graceful shutdown.

use std::{net::SocketAddr, time::Duration};

use axum::{Router, middleware, routing::get};
use tower_http::{
    catch_panic::CatchPanicLayer, limit::RequestBodyLimitLayer, timeout::TimeoutLayer, trace::TraceLayer,
};

use crate::{db::Db, web};

/// Largest request body a module accepts (forms and API calls; no uploads).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Wraps a module's routes with what every module needs: `/static/kit.css`, `/healthz`
/// (database reachable), security headers and cross-site refusal, CSRF tokens, a body limit, a
/// timeout, request logs and panic containment. `site` names the module in its pages
/// (`ePIS`, `Integrated Citizen Services`).
pub fn wrap(routes: Router, db: Db, site: &str) -> Router {
    let site: std::sync::Arc<str> = site.into();
    routes
        .route("/static/kit.css", get(web::stylesheet))
        .route(
            "/healthz",
            get(move || {
                let db = db.clone();
                async move {
                    match sqlx::query("SELECT 1").execute(db.pool()).await {
                        Ok(_) => (axum::http::StatusCode::OK, "ok"),
                        Err(_) => (axum::http::StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
                    }
                }
            }),
        )
        .layer(middleware::from_fn(move |req, next| web::as_site(site.clone(), req, next)))
        .layer(middleware::from_fn(web::with_csrf_cookie))
        .layer(middleware::from_fn(web::protect))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30)))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::new())
}

/// JSON log lines on stderr (`RUST_LOG` filters; default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// A module serving in the background (tests, the all-in-one demo).
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops it, finishing requests in flight.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Serves `app` on `listener` until [`Running::stop`].
pub fn spawn(app: Router, listener: tokio::net::TcpListener) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "server stopped");
        }
    });
    Ok(Running { addr, stop: Some(tx), task })
}

/// Serves `app` on `listen` until SIGTERM or Ctrl-C, finishing requests in flight.
pub async fn run(app: Router, listen: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(%listen, "listening");
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
                    return;
                }
            }
            let _ = ctrl_c.await;
        })
        .await
}
