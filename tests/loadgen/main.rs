//! `idp-loadgen-login`: a load generator of complete passkey logins against a running `idp`,
//! for `bench/run.sh` (a separate process, like wrk).
//!
//! Each login is what a citizen's browser and an agency's server do: `GET /authorize` (PKCE,
//! `prompt=login` so every iteration authenticates), the login page, the passkey ceremony with a
//! software authenticator (discoverable credential, user verification) whose answer carries the
//! redirect with the code, the token request, and userinfo.
//!
//! `prepare` imports a synthetic registry and registers a client through the idp CLI; `run`
//! issues fresh activation codes, activates one citizen per connection (not timed), then runs
//! logins for the given duration and prints `RESULT rps=.. p50_ms=.. p99_ms=.. requests=..
//! non2xx=.. invalid=.. sock_errors=..`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../e2e/authenticator.rs"]
#[allow(dead_code)] // the e2e tests' webauthn-authenticator-rs passkey is not used here
mod authenticator;

use authenticator::Authenticator;

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use base64::Engine;
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "Complete passkey logins against a running idp")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Import a synthetic registry and register the benchmark client (through the idp CLI).
    Prepare {
        #[arg(long)]
        base_url: String,
        #[arg(long)]
        issuer: String,
        /// The idp binary (its environment must point at the server's database).
        #[arg(long)]
        idp_bin: PathBuf,
        /// Where to keep the client's credentials between prepare and run.
        #[arg(long)]
        data_dir: PathBuf,
        /// Citizens to provision (at least the connections of `run`).
        #[arg(long, default_value_t = 256)]
        citizens: usize,
    },
    /// Run logins for `duration` seconds over `connections` concurrent browsers.
    Run {
        #[arg(long)]
        base_url: String,
        #[arg(long)]
        issuer: String,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        #[arg(long, default_value_t = 50)]
        connections: usize,
        #[arg(long, default_value_t = 20)]
        duration: u64,
        /// The idp binary; default: next to this one.
        #[arg(long)]
        idp_bin: Option<PathBuf>,
        /// Where prepare left its state; default: IDP_DATA_DIR.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

const REDIRECT: &str = "http://localhost:9/cb";

fn cid(i: usize) -> String {
    format!("{:011}", 20_000_000_000u64 + i as u64)
}

fn idp(bin: &Path, args: &[&str]) -> String {
    let out = Command::new(bin).args(args).output().expect("run idp");
    assert!(out.status.success(), "idp {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn prepare(idp_bin: &Path, data_dir: &Path, citizens: usize) {
    let mut csv = String::from(
        "cid,given_name,middle_name,family_name,date_of_birth,sex,dzongkhag,gewog,village,household_number,status\n",
    );
    for i in 0..citizens {
        csv.push_str(&format!("{},Citizen{i},,Bench,1990-01-01,F,Thimphu,Chang,Motithang,{i},alive\n", cid(i)));
    }
    let file = data_dir.join("loadgen-registry.csv");
    std::fs::write(&file, csv).unwrap();
    idp(idp_bin, &["registry", "import", file.to_str().unwrap()]);
    let client: Value = serde_json::from_str(&idp(
        idp_bin,
        &[
            "client",
            "add",
            "--name",
            "Login benchmark",
            "--grant",
            "authorization_code",
            "--redirect-uri",
            REDIRECT,
            "--scope",
            "openid profile",
            "--json",
        ],
    ))
    .unwrap();
    let state = json!({"client": client, "citizens": citizens});
    std::fs::write(data_dir.join("loadgen.json"), state.to_string()).unwrap();
    eprintln!("prepared {citizens} citizens and client {}", client["client_id"]);
}

struct Ctx {
    base: String,
    issuer: String,
    client_id: String,
    secret: String,
}

struct Citizen {
    http: reqwest::Client,
    key: authenticator::RingPasskey,
}

fn browser() -> reqwest::Client {
    // No proxy lookup per request: the server is local, and the lookup showed in profiles.
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .no_proxy()
        .build()
        .unwrap()
}

fn csrf_of(html: &str) -> Option<String> {
    let i = html.find("name=\"csrf\" content=\"")? + 21;
    html.get(i..i + 64).map(str::to_string)
}

fn location(r: &reqwest::Response) -> Option<String> {
    r.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string)
}

#[derive(Debug)]
enum Fail {
    Status(u16),
    Invalid(String),
    Socket,
}

impl From<reqwest::Error> for Fail {
    fn from(_: reqwest::Error) -> Self {
        Fail::Socket
    }
}

async fn expect(r: reqwest::Response, status: u16) -> Result<reqwest::Response, Fail> {
    if r.status().as_u16() == status { Ok(r) } else { Err(Fail::Status(r.status().as_u16())) }
}

async fn activate(ctx: &Ctx, c: &mut Citizen, cid: &str, code: &str) -> Result<(), Fail> {
    let page = expect(c.http.get(format!("{}/activate", ctx.base)).send().await?, 200).await?.text().await?;
    let csrf = csrf_of(&page).ok_or(Fail::Invalid("no csrf".into()))?;
    let start: Value = expect(
        c.http
            .post(format!("{}/activate/start", ctx.base))
            .header("x-csrf-token", &csrf)
            .json(&json!({"cid": cid, "code": code}))
            .send()
            .await?,
        200,
    )
    .await?
    .json()
    .await?;
    let cred = c.key.create(&ctx.issuer, &start["options"]);
    expect(
        c.http
            .post(format!("{}/activate/finish", ctx.base))
            .header("x-csrf-token", &csrf)
            .json(&json!({"ceremony": start["ceremony"], "name": "bench", "credential": cred}))
            .send()
            .await?,
        200,
    )
    .await?;
    Ok(())
}

/// One complete login; consents on the way when asked (only the first time per citizen).
async fn login(ctx: &Ctx, c: &mut Citizen) -> Result<(), Fail> {
    let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand_bytes());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()));
    let mut url = url::Url::parse(&format!("{}/authorize", ctx.base)).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &ctx.client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid profile")
        .append_pair("state", "s")
        .append_pair("nonce", "n")
        .append_pair("prompt", "login")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let r = expect(c.http.get(url.as_str()).send().await?, 303).await?;
    let login_path = location(&r).ok_or(Fail::Invalid("no login redirect".into()))?;
    let req = login_path.split("req=").nth(1).ok_or(Fail::Invalid("no req".into()))?.to_string();
    let page = expect(c.http.get(format!("{}{login_path}", ctx.base)).send().await?, 200).await?.text().await?;
    let csrf = csrf_of(&page).ok_or(Fail::Invalid("no csrf".into()))?;
    let start: Value = expect(
        c.http
            .post(format!("{}/login/passkey/start", ctx.base))
            .header("x-csrf-token", &csrf)
            .json(&json!({"req": req}))
            .send()
            .await?,
        200,
    )
    .await?
    .json()
    .await?;
    let cred = c.key.get(&ctx.issuer, &start["options"]);
    let fin: Value = expect(
        c.http
            .post(format!("{}/login/passkey/finish", ctx.base))
            .header("x-csrf-token", &csrf)
            .json(&json!({"ceremony": start["ceremony"], "req": req, "credential": cred}))
            .send()
            .await?,
        200,
    )
    .await?
    .json()
    .await?;
    // Like the login page's script: go where the answer says (the client's redirect with the
    // code, consent, or a page of ours that redirects on).
    let mut loc = fin["redirect"].as_str().ok_or(Fail::Invalid("no redirect".into()))?.to_string();
    if loc.starts_with("/authorize/") {
        let r = expect(c.http.get(format!("{}{loc}", ctx.base)).send().await?, 303).await?;
        loc = location(&r).ok_or(Fail::Invalid("no location".into()))?;
    }
    if loc.starts_with("/consent") {
        let page = expect(c.http.get(format!("{}{loc}", ctx.base)).send().await?, 200).await?.text().await?;
        let csrf = csrf_of(&page).ok_or(Fail::Invalid("no csrf".into()))?;
        let r = expect(
            c.http
                .post(format!("{}/consent", ctx.base))
                .form(&[("csrf", csrf.as_str()), ("req", req.as_str()), ("decision", "allow")])
                .send()
                .await?,
            303,
        )
        .await?;
        loc = location(&r).ok_or(Fail::Invalid("no location".into()))?;
    }
    let cb = url::Url::parse(&loc).map_err(|_| Fail::Invalid(loc.clone()))?;
    let code = cb.query_pairs().find(|(k, _)| k == "code").ok_or(Fail::Invalid(loc.clone()))?.1.to_string();
    let tokens: Value = expect(
        c.http
            .post(format!("{}/token", ctx.base))
            .basic_auth(&ctx.client_id, Some(&ctx.secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier.as_str()),
            ])
            .send()
            .await?,
        200,
    )
    .await?
    .json()
    .await?;
    let at = tokens["access_token"].as_str().ok_or(Fail::Invalid("no access token".into()))?;
    let info: Value =
        expect(c.http.get(format!("{}/userinfo", ctx.base)).bearer_auth(at).send().await?, 200).await?.json().await?;
    if info["sub"].as_str().is_none_or(str::is_empty) {
        return Err(Fail::Invalid("userinfo without sub".into()));
    }
    Ok(())
}

fn rand_bytes() -> [u8; 32] {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 32];
    ring::rand::SystemRandom::new().fill(&mut b).unwrap();
    b
}

#[derive(Default)]
struct Stats {
    ok: AtomicU64,
    non2xx: AtomicU64,
    invalid: AtomicU64,
    socket: AtomicU64,
}

#[allow(clippy::too_many_arguments)]
async fn run(ctx: Arc<Ctx>, idp_bin: PathBuf, data_dir: PathBuf, connections: usize, duration: u64) {
    let state: Value = serde_json::from_str(&std::fs::read_to_string(data_dir.join("loadgen.json")).unwrap()).unwrap();
    let citizens = state["citizens"].as_u64().unwrap() as usize;
    assert!(connections <= citizens, "prepare at least {connections} citizens");
    // Untimed: a fresh activation code and passkey per connection, and the first consent.
    let mut people = Vec::with_capacity(connections);
    for i in 0..connections {
        let issued: Value = serde_json::from_str(&idp(&idp_bin, &["citizen", "issue", &cid(i), "--json"])).unwrap();
        let mut c = Citizen { http: browser(), key: authenticator::RingPasskey::new() };
        activate(&ctx, &mut c, &cid(i), issued["activation_code"].as_str().unwrap()).await.expect("activation");
        login(&ctx, &mut c).await.expect("first login");
        people.push(c);
    }
    let stats = Arc::new(Stats::default());
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<u32>::new()));
    let start = Instant::now();
    let end = start + Duration::from_secs(duration);
    let mut tasks = vec![];
    for mut c in people {
        let (ctx, stats, lat) = (ctx.clone(), stats.clone(), latencies.clone());
        tasks.push(tokio::spawn(async move {
            let mut mine = vec![];
            while Instant::now() < end {
                let t = Instant::now();
                match login(&ctx, &mut c).await {
                    Ok(()) => {
                        stats.ok.fetch_add(1, Ordering::Relaxed);
                        mine.push(t.elapsed().as_micros() as u32);
                    }
                    Err(Fail::Status(s)) => {
                        if stats.non2xx.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("unexpected status {s}");
                        }
                    }
                    Err(Fail::Invalid(e)) => {
                        eprintln!("invalid login: {e}");
                        stats.invalid.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(Fail::Socket) => {
                        stats.socket.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            lat.lock().unwrap().extend(mine);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let mut l = latencies.lock().unwrap().clone();
    l.sort_unstable();
    let pct = |p: f64| if l.is_empty() { 0.0 } else { l[((l.len() - 1) as f64 * p) as usize] as f64 / 1000.0 };
    let ok = stats.ok.load(Ordering::Relaxed);
    println!(
        "RESULT rps={:.1} p50_ms={:.2} p99_ms={:.2} requests={ok} non2xx={} invalid={} sock_errors={}",
        ok as f64 / secs,
        pct(0.50),
        pct(0.99),
        stats.non2xx.load(Ordering::Relaxed),
        stats.invalid.load(Ordering::Relaxed),
        stats.socket.load(Ordering::Relaxed)
    );
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Prepare { base_url: _, issuer: _, idp_bin, data_dir, citizens } => prepare(&idp_bin, &data_dir, citizens),
        Cmd::Run { base_url, issuer, threads, connections, duration, idp_bin, data_dir } => {
            let data_dir = data_dir
                .or_else(|| std::env::var_os("IDP_DATA_DIR").map(PathBuf::from))
                .expect("--data-dir or IDP_DATA_DIR");
            let idp_bin = idp_bin.unwrap_or_else(|| std::env::current_exe().unwrap().parent().unwrap().join("idp"));
            let state: Value =
                serde_json::from_str(&std::fs::read_to_string(data_dir.join("loadgen.json")).unwrap()).unwrap();
            let ctx = Arc::new(Ctx {
                base: base_url.trim_end_matches('/').to_string(),
                issuer: issuer.trim_end_matches('/').to_string(),
                client_id: state["client"]["client_id"].as_str().unwrap().to_string(),
                secret: state["client"]["client_secret"].as_str().unwrap().to_string(),
            });
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads.max(1))
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(run(ctx, idp_bin, data_dir, connections, duration));
        }
    }
}
