//! Two `idp` processes on one PostgreSQL, as behind a load balancer: a code issued by one is
//! redeemed at the other; a key rotated through one is published and used by the other.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::{
    authenticator::ResidentSoftPasskey,
    citizen::{self, Browser},
    support::{self, Backend},
};

/// The `idp` binary of this workspace (built by `cargo test --workspace` for the idp crate's CLI
/// tests), brought up to date once per test run.
pub(crate) fn idp_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let status = Command::new(env!("CARGO"))
                // The same feature set as `cargo test --workspace`, so this is a no-op after it.
                .args(["test", "--workspace", "--no-run", "--quiet"])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .unwrap();
            assert!(status.success(), "building the idp binary failed");
            let exe = std::env::current_exe().unwrap();
            exe.parent().unwrap().parent().unwrap().join("idp")
        })
        .clone()
}

pub(crate) struct Proc {
    pub(crate) child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub(crate) fn envs(db: &str, issuer: &str, port: u16, dir: &std::path::Path) -> Vec<(String, String)> {
    vec![
        ("DATABASE_URL".into(), db.into()),
        ("IDP_ISSUER".into(), issuer.into()),
        ("IDP_LISTEN".into(), format!("127.0.0.1:{port}")),
        ("IDP_KEK".into(), support::test_kek().expose().to_string()),
        ("IDP_DATA_DIR".into(), dir.display().to_string()),
        ("IDP_ADMIN_TOKEN".into(), "cluster-admin".into()),
        ("IDP_KEYS__REFRESH_INTERVAL".into(), "1".into()),
        ("IDP_KEYS__PUBLISH_AHEAD".into(), "3".into()),
        ("IDP_CLIENT_CACHE_TTL".into(), "0".into()),
        ("IDP_LOG".into(), "warn".into()),
    ]
}

pub(crate) fn cli(envs: &[(String, String)], args: &[&str]) -> String {
    let mut c = Command::new(idp_binary());
    c.args(args).envs(envs.iter().cloned()).env_remove("IDP_CONFIG");
    let out = c.output().unwrap();
    assert!(out.status.success(), "idp {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

pub(crate) async fn start(envs: &[(String, String)], port: u16) -> Proc {
    let child = Command::new(idp_binary())
        .arg("serve")
        .envs(envs.iter().cloned())
        .env_remove("IDP_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let p = Proc { child };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = support::http().get(format!("http://127.0.0.1:{port}/readyz")).send().await
            && r.status() == 200
        {
            return p;
        }
        assert!(Instant::now() < deadline, "idp on port {port} did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_postgres() {
    let Some(db) = support::fresh_db(Backend::Postgres).await else { return };
    let (pa, pb) = (free_port(), free_port());
    let issuer = format!("http://localhost:{pa}");
    let dir = tempfile::tempdir().unwrap();
    let env_a = envs(&db.url, &issuer, pa, dir.path());
    let env_b = envs(&db.url, &issuer, pb, dir.path());

    // Operator setup through the CLI on the shared database.
    cli(&env_a, &["migrate"]);
    let csv = dir.path().join("registry.csv");
    std::fs::write(&csv, citizen::CSV).unwrap();
    cli(&env_a, &["registry", "import", csv.to_str().unwrap()]);
    let issued: Value = serde_json::from_str(&cli(&env_a, &["citizen", "issue", "11512000123", "--json"])).unwrap();
    let redirect = "http://localhost:9/cb";
    let created: Value = serde_json::from_str(&cli(
        &env_a,
        &[
            "client",
            "add",
            "--name",
            "EMIS",
            "--grant",
            "authorization_code",
            "--grant",
            "client_credentials",
            "--redirect-uri",
            redirect,
            "--scope",
            "openid profile",
            "--json",
        ],
    ))
    .unwrap();
    let (client_id, secret) = (created["client_id"].as_str().unwrap(), created["client_secret"].as_str().unwrap());

    let a = start(&env_a, pa).await;
    let b = start(&env_b, pb).await;
    let base_a = format!("http://localhost:{pa}");
    let base_b = format!("http://localhost:{pb}");

    // Activate and log in through A; redeem the code at B.
    let mut key = ResidentSoftPasskey::new();
    let browser = Browser::new(&base_a);
    citizen::activate(&browser, &mut key, "11512000123", issued["activation_code"].as_str().unwrap()).await;
    let verifier = "v".repeat(50);
    let challenge = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()))
    };
    let mut url = url::Url::parse(&format!("{base_a}/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", "openid profile")
        .append_pair("state", "st")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let callback = citizen::login_through(&browser, &mut key, url.as_str(), true).await;
    let code = url::Url::parse(&callback).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.to_string();
    let r = support::http()
        .post(format!("{base_b}/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "B redeems A's code");
    let tokens: Value = r.json().await.unwrap();
    let info: Value = support::http()
        .get(format!("{base_a}/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["name"], "Pema Choden", "A accepts B's access token");

    // Rotate through A's admin API; B publishes the new key, then signs with it.
    let rotated: Value = support::http()
        .post(format!("{base_a}/admin/keys/rotate"))
        .bearer_auth("cluster-admin")
        .json(&json!({"alg": "ES256"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = rotated["kid"].as_str().unwrap().to_string();
    let jwks_has = |base: String, kid: String| async move {
        let j: Value = support::http().get(format!("{base}/jwks")).send().await.unwrap().json().await.unwrap();
        j["keys"].as_array().unwrap().iter().any(|k| k["kid"] == kid.as_str())
    };
    let deadline = Instant::now() + Duration::from_secs(3);
    while !jwks_has(base_b.clone(), kid.clone()).await {
        assert!(Instant::now() < deadline, "B did not publish the rotated key");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Published before it signs: B still signs with the old key now.
    let signed_kid = |base: String| async move {
        let t: Value = support::http()
            .post(format!("{base}/token"))
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        jsonwebtoken::decode_header(t["access_token"].as_str().unwrap()).unwrap().kid.unwrap()
    };
    assert_ne!(signed_kid(base_b.clone()).await, kid, "the next key does not sign before its time");
    let deadline = Instant::now() + Duration::from_secs(8);
    while signed_kid(base_b.clone()).await != kid {
        assert!(Instant::now() < deadline, "B did not start signing with the rotated key");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(jwks_has(base_a.clone(), kid.clone()).await);
    drop(a);
    drop(b);
}
