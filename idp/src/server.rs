//! Serving: binds, runs until SIGTERM/SIGINT, drains in-flight requests, closes the database.

use std::net::SocketAddr;

use tokio::{net::TcpListener, sync::watch};

use crate::{
    app::{AppState, Idp},
    config::Config,
    error::{Error, Result},
    store::Db,
};

/// Opens the database (creating and migrating it), builds the state.
pub async fn build(config: Config) -> Result<AppState> {
    let db = Db::connect_with(&config.effective_database_url(), config.sqlite_synchronous).await?;
    db.migrate().await?;
    Idp::new(config, db).await
}

/// A running server, for tests and `idp serve`.
#[derive(Debug)]
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    /// The shared state.
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Asks the server to stop and waits for it.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        self.state.db.close().await;
    }
}

/// Starts serving `state` on `listener` in the background.
pub fn spawn(state: AppState, listener: TcpListener) -> Result<Running> {
    let addr = listener.local_addr().map_err(|e| Error::Config(format!("listener: {e}")))?;
    let (tx, rx) = watch::channel(false);
    state.spawn_upkeep(rx.clone());
    // The in-memory ABIS is rebuilt from the enrolled templates at start (in the background:
    // the first enrolment waits for it anyway, under the enrolment lock).
    let warm = state.clone();
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        match crate::enrolment::sync_abis(&warm).await {
            Ok(()) => {
                tracing::info!(enrolled = warm.abis.len(), seconds = started.elapsed().as_secs_f64(), "ABIS loaded")
            }
            Err(e) => tracing::error!(error = %e, "loading the ABIS failed; enrolment will retry"),
        }
    });
    let app = crate::http::app(state.clone());
    let mut rx2 = rx;
    let task = tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = rx2.wait_for(|stop| *stop).await;
            })
            .await
    });
    Ok(Running { addr, state, shutdown: tx, task })
}

/// `idp serve`: binds the configured address and serves until a termination signal.
pub async fn serve(config: Config) -> Result<()> {
    let listen = config.listen;
    let state = build(config).await?;
    let listener =
        TcpListener::bind(listen).await.map_err(|e| Error::Config(format!("cannot listen on {listen}: {e}")))?;
    let running = spawn(state, listener)?;
    tracing::info!(addr = %running.addr, issuer = %running.state.issuer(), backend = ?running.state.db.backend(), "ready");
    shutdown_signal().await;
    tracing::info!("shutting down: draining requests");
    running.stop().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
