//! Reliability of the real `idp serve` process: an acknowledged write survives a crash, SIGTERM
//! stops it cleanly, and it recovers by itself when PostgreSQL goes away and comes back.

use std::{
    collections::BTreeSet,
    process::Command,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::{
    cluster::{cli, envs, free_port, start},
    support::{self, Backend},
};

const ADMIN: &str = "cluster-admin";

/// Registers a client through the admin API; its id if the server acknowledged it.
async fn register(base: &str, n: usize) -> Option<String> {
    let body = json!({
        "client_name": format!("Agency {n}"),
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["client_credentials"],
        "scope": "api",
    });
    let r = support::http().post(format!("{base}/admin/clients")).bearer_auth(ADMIN).json(&body).send().await.ok()?;
    if r.status() != 201 {
        return None;
    }
    let v: Value = r.json().await.ok()?;
    v["client_id"].as_str().map(str::to_string)
}

async fn client_ids(base: &str) -> BTreeSet<String> {
    let list: Value = support::http()
        .get(format!("{base}/admin/clients"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list.as_array().unwrap().iter().map(|c| c["client_id"].as_str().unwrap().to_string()).collect()
}

async fn ready(base: &str) -> u16 {
    match support::http().get(format!("{base}/readyz")).timeout(Duration::from_secs(3)).send().await {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

/// Many concurrent writes share SQLite group commits; the process is killed (SIGKILL) the
/// moment the last one is acknowledged. After a restart every acknowledged write is there and
/// the audit chain still verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_acknowledged_writes_survive_a_crash() {
    let db = support::fresh_db(Backend::Sqlite).await.unwrap();
    let port = free_port();
    let env = envs(&db.url, &format!("http://localhost:{port}"), port, &db.data_dir);
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start(&env, port).await;
    let writes: Vec<_> = (0..64)
        .map(|n| {
            tokio::spawn({
                let base = base.clone();
                async move { register(&base, n).await }
            })
        })
        .collect();
    let mut acknowledged = BTreeSet::new();
    for w in writes {
        acknowledged.extend(w.await.unwrap());
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    assert_eq!(acknowledged.len(), 64, "every registration was acknowledged");

    let _server = start(&env, port).await;
    let stored = client_ids(&base).await;
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but lost in the crash: {lost:?}");
    // `cli` fails the test on a non-zero exit, which is what a broken chain gives.
    let verify = cli(&env, &["audit", "verify"]);
    assert!(verify.contains("audit chain intact"), "audit chain after the crash: {verify}");
}

/// SIGTERM: the server stops accepting, finishes, and exits with success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_cleanly() {
    let db = support::fresh_db(Backend::Sqlite).await.unwrap();
    let port = free_port();
    let env = envs(&db.url, &format!("http://localhost:{port}"), port, &db.data_dir);
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start(&env, port).await;
    assert!(register(&base, 1).await.is_some());
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the server did not stop within 15 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status after SIGTERM: {status}");
    assert_eq!(ready(&base).await, 0, "nothing listens any more");
}

/// PostgreSQL goes away (connections refused, existing ones killed, as in a restart) and comes
/// back: the server reports not ready meanwhile, then recovers by itself, without a restart,
/// and accepts writes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_is_recovered_without_a_restart() {
    let Some(db) = support::fresh_db(Backend::Postgres).await else { return };
    let name = url::Url::parse(&db.url).unwrap().path().trim_start_matches('/').to_string();
    let admin = sqlx::PgPool::connect(&std::env::var("TEST_POSTGRES_URL").unwrap()).await.unwrap();
    let port = free_port();
    let env = envs(&db.url, &format!("http://localhost:{port}"), port, &db.data_dir);
    let base = format!("http://127.0.0.1:{port}");
    cli(&env, &["migrate"]);
    let _server = start(&env, port).await;
    let before = register(&base, 1).await.expect("a write before the outage");

    let outage = |allow: bool| {
        let admin = admin.clone();
        let name = name.clone();
        async move {
            sqlx::query(sqlx::AssertSqlSafe(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {allow}")))
                .execute(&admin)
                .await
                .unwrap();
            if !allow {
                sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
                    .bind(&name)
                    .execute(&admin)
                    .await
                    .unwrap();
            }
        }
    };
    outage(false).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while ready(&base).await == 200 {
        assert!(Instant::now() < deadline, "/readyz kept answering 200 with the database gone");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(register(&base, 2).await.is_none(), "a write during the outage is refused, not acknowledged");

    outage(true).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while ready(&base).await != 200 {
        assert!(Instant::now() < deadline, "the server did not recover within 30 s of the database's return");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = register(&base, 3).await.expect("writes work again after the outage");
    let stored = client_ids(&base).await;
    assert!(stored.contains(&before) && stored.contains(&after));
    admin.close().await;
}
