//! The test kit: start an identity provider on a fresh database (SQLite always, PostgreSQL when
//! `TEST_POSTGRES_URL` is set), and helpers that read like an operator's or agency's steps.

use std::{path::PathBuf, sync::Arc};

use idp::{
    Config, Idp,
    config::Secret,
    domain::client::{AuthMethod, ClientMetadata, GrantType, Scope},
    domain::keys::SigningAlg,
    server::{self, Running},
};

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh database for one test.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pub data_dir: PathBuf,
}

/// Creates a fresh database; `None` (after saying so loudly) when PostgreSQL is not configured,
/// unless `IDP_REQUIRE_ALL_SUITES=1`, in which case a missing suite is a failure.
pub async fn fresh_db(backend: Backend) -> Option<TestDb> {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_path_buf();
    match backend {
        Backend::Sqlite => {
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("idp.db").display());
            Some(TestDb { url, _dir: Some(dir), data_dir })
        }
        Backend::Postgres => {
            let Ok(base) = std::env::var("TEST_POSTGRES_URL") else {
                if std::env::var("IDP_REQUIRE_ALL_SUITES").as_deref() == Ok("1") {
                    panic!("TEST_POSTGRES_URL is not set but IDP_REQUIRE_ALL_SUITES=1: the PostgreSQL suite must run");
                }
                eprintln!("SKIPPED: PostgreSQL suite (set TEST_POSTGRES_URL=postgres://... to run it)");
                return None;
            };
            let name = format!(
                "idp_test_{}",
                idp::domain::secrets::random_id().unwrap().to_lowercase().replace(['-', '_'], "")
            );
            let admin = sqlx::PgPool::connect(&base).await.expect("TEST_POSTGRES_URL must be reachable");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.unwrap();
            admin.close().await;
            let mut u = url::Url::parse(&base).unwrap();
            u.set_path(&format!("/{name}"));
            Some(TestDb { url: u.to_string(), _dir: Some(dir), data_dir })
        }
    }
}

/// A fixed key-encryption key for tests (so several instances share it).
pub fn test_kek() -> Secret {
    use base64::Engine;
    Secret::new(base64::engine::general_purpose::STANDARD.encode([42u8; 32]))
}

/// Configuration for a test server at `port` on `db`.
pub fn config(db: &TestDb, port: u16) -> Config {
    let mut c = Config {
        issuer: url::Url::parse(&format!("http://localhost:{port}")).unwrap(),
        listen: ([127, 0, 0, 1], port).into(),
        database_url: db.url.clone(),
        data_dir: db.data_dir.clone(),
        kek: test_kek(),
        admin_token: Secret::new("test-admin-token"),
        ..Config::default()
    };
    c.keys.refresh_interval = 1;
    c.keys.publish_ahead = 2;
    c.client_cache_ttl = 0;
    c
}

/// A running identity provider.
pub struct TestIdp {
    pub running: Option<Running>,
    pub base: String,
    #[allow(dead_code)]
    pub db: TestDb,
}

impl TestIdp {
    pub fn state(&self) -> &Arc<Idp> {
        &self.running.as_ref().unwrap().state
    }
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }
}

/// Starts an identity provider on a fresh database; `None` if the backend is skipped.
pub async fn start(backend: Backend) -> Option<TestIdp> {
    start_with(backend, |_| {}).await
}

/// Like [`start`], with a chance to adjust the configuration.
pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<TestIdp> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let db = fresh_db(backend).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut cfg = config(&db, port);
    adjust(&mut cfg);
    let state = server::build(cfg).await.unwrap();
    let running = server::spawn(state, listener).unwrap();
    Some(TestIdp { running: Some(running), base: format!("http://localhost:{port}"), db })
}

/// A plain HTTP client that never follows redirects.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Registration for an agency API client using client_credentials with a secret.
pub fn api_client(name: &str, scope: &str) -> ClientMetadata {
    ClientMetadata {
        client_name: name.into(),
        token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::ClientCredentials],
        scope: Scope::parse(scope).unwrap(),
        jwks: None,
        jwks_uri: None,
        sector_identifier: None,
        require_pushed_authorization_requests: false,
        allow_national_id: false,
        id_token_signed_response_alg: SigningAlg::ES256,
        backchannel_logout_uri: None,
        default_acr: None,
        resources: vec![],
    }
}

/// Registers a client directly (as `idp client add` does) and returns (id, secret).
pub async fn register(idp: &TestIdp, meta: ClientMetadata) -> (String, Option<String>) {
    let c = idp.state().register_client(None, meta, "operator", idp::domain::now()).await.unwrap();
    (c.client_id, c.client_secret)
}

/// Runs `$body` (an async fn taking a `Backend`) once per backend.
#[macro_export]
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::support::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::support::Backend::Postgres).await
            }
        }
    };
}
