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
use bytes::Bytes;
use clap::{Parser, Subcommand};
use http::{HeaderValue, Method, Request, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
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
    /// `host:port` of the server.
    addr: String,
    issuer: String,
    client_id: String,
    /// `Authorization: Basic` value of the client.
    basic: String,
}

struct Citizen {
    http: Browser,
    key: authenticator::RingPasskey,
}

/// A browser: one keep-alive HTTP/1.1 connection to the server and the cookies it was given.
/// hyper's connection API is used directly rather than reqwest: the load generator shares the
/// 2 cores with the server it measures, and reqwest's pool, cookie jar and URL handling cost
/// about as much CPU per request as some of the server's endpoints.
struct Browser {
    addr: String,
    host: HeaderValue,
    conn: Option<SendRequest<Full<Bytes>>>,
    /// (name, value), as set by the server (which sets only session cookies with `Path=/`).
    cookies: Vec<(String, String)>,
}

/// A response: its status, `Location` and body.
struct Resp {
    status: u16,
    location: Option<String>,
    body: Bytes,
}

impl Resp {
    fn expect(self, status: u16) -> Result<Self, Fail> {
        if self.status == status { Ok(self) } else { Err(Fail::Status(self.status)) }
    }
    fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Fail> {
        serde_json::from_slice(&self.body).map_err(|e| Fail::Invalid(format!("bad JSON: {e}")))
    }
    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or("")
    }
    fn location(&self) -> Result<&str, Fail> {
        self.location.as_deref().ok_or(Fail::Invalid("no location".into()))
    }
}

impl Browser {
    fn new(addr: &str) -> Self {
        Self { addr: addr.to_string(), host: HeaderValue::from_str(addr).unwrap(), conn: None, cookies: vec![] }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, Fail> {
        let tcp = tokio::net::TcpStream::connect(&self.addr).await.map_err(|_| Fail::Socket)?;
        let _ = tcp.set_nodelay(true);
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.map_err(|_| Fail::Socket)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(send)
    }

    /// Sends one request on the browser's connection (reconnecting if the server closed it)
    /// with its cookies, and keeps the cookies the response sets.
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&'static str, &str)],
        body: Option<(&'static str, Vec<u8>)>,
    ) -> Result<Resp, Fail> {
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => self.connect().await?,
        };
        if conn.ready().await.is_err() {
            conn = self.connect().await?;
        }
        let mut req = Request::builder().method(method).uri(path).header(header::HOST, self.host.clone());
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.header(header::COOKIE, jar.join("; "));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = match body {
            Some((ctype, b)) => {
                req = req.header(header::CONTENT_TYPE, ctype);
                Full::new(Bytes::from(b))
            }
            None => Full::new(Bytes::new()),
        };
        let resp = conn.send_request(req.body(body).unwrap()).await.map_err(|_| Fail::Socket)?;
        for c in resp.headers().get_all(header::SET_COOKIE) {
            let Some((name, value)) = c.to_str().ok().and_then(|c| c.split(';').next()).and_then(|c| c.split_once('='))
            else {
                continue;
            };
            self.cookies.retain(|(k, _)| k != name);
            if !c.to_str().unwrap_or("").contains("Max-Age=0") {
                self.cookies.push((name.to_string(), value.to_string()));
            }
        }
        let status = resp.status().as_u16();
        let location = resp.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = resp.into_body().collect().await.map_err(|_| Fail::Socket)?.to_bytes();
        self.conn = Some(conn);
        Ok(Resp { status, location, body })
    }

    async fn get(&mut self, path: &str, headers: &[(&'static str, &str)]) -> Result<Resp, Fail> {
        self.send(Method::GET, path, headers, None).await
    }

    async fn post_json(&mut self, path: &str, csrf: &str, body: &Value) -> Result<Resp, Fail> {
        let b = serde_json::to_vec(body).unwrap();
        self.send(Method::POST, path, &[("x-csrf-token", csrf)], Some(("application/json", b))).await
    }

    async fn post_form(
        &mut self,
        path: &str,
        headers: &[(&'static str, &str)],
        form: &[(&str, &str)],
    ) -> Result<Resp, Fail> {
        let b = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish().into_bytes();
        self.send(Method::POST, path, headers, Some(("application/x-www-form-urlencoded", b))).await
    }
}

fn csrf_of(html: &str) -> Option<&str> {
    let i = html.find("name=\"csrf\" content=\"")? + 21;
    html.get(i..i + 64)
}

#[derive(Debug)]
enum Fail {
    Status(u16),
    Invalid(String),
    Socket,
}

/// The answer of `/login/passkey/start` and `/activate/start`.
#[derive(serde::Deserialize)]
struct Ceremony {
    ceremony: String,
    options: Value,
}

async fn activate(ctx: &Ctx, c: &mut Citizen, cid: &str, code: &str) -> Result<(), Fail> {
    let page = c.http.get("/activate", &[]).await?.expect(200)?;
    let csrf = csrf_of(page.text()).ok_or(Fail::Invalid("no csrf".into()))?.to_string();
    let start: Ceremony =
        c.http.post_json("/activate/start", &csrf, &json!({"cid": cid, "code": code})).await?.expect(200)?.json()?;
    let cred = c.key.create(&ctx.issuer, &start.options);
    c.http
        .post_json("/activate/finish", &csrf, &json!({"ceremony": start.ceremony, "name": "bench", "credential": cred}))
        .await?
        .expect(200)?;
    Ok(())
}

/// One complete login; consents on the way when asked (only the first time per citizen).
async fn login(ctx: &Ctx, c: &mut Citizen) -> Result<(), Fail> {
    #[derive(serde::Deserialize)]
    struct Finish {
        redirect: String,
    }
    #[derive(serde::Deserialize)]
    struct Tokens {
        access_token: String,
    }
    #[derive(serde::Deserialize)]
    struct UserInfo {
        sub: String,
    }
    let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand_bytes());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()));
    let authorize = url::form_urlencoded::Serializer::new(String::from("/authorize?"))
        .append_pair("response_type", "code")
        .append_pair("client_id", &ctx.client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid profile")
        .append_pair("state", "s")
        .append_pair("nonce", "n")
        .append_pair("prompt", "login")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let r = c.http.get(&authorize, &[]).await?.expect(303)?;
    let login_path = r.location()?;
    let req = login_path.split("req=").nth(1).ok_or(Fail::Invalid("no req".into()))?.to_string();
    let page = c.http.get(login_path, &[]).await?.expect(200)?;
    let csrf = csrf_of(page.text()).ok_or(Fail::Invalid("no csrf".into()))?.to_string();
    let start: Ceremony =
        c.http.post_json("/login/passkey/start", &csrf, &json!({"req": req})).await?.expect(200)?.json()?;
    let cred = c.key.get(&ctx.issuer, &start.options);
    let fin: Finish = c
        .http
        .post_json("/login/passkey/finish", &csrf, &json!({"ceremony": start.ceremony, "req": req, "credential": cred}))
        .await?
        .expect(200)?
        .json()?;
    // Like the login page's script: go where the answer says (the client's redirect with the
    // code, consent, or a page of ours that redirects on).
    let mut loc = fin.redirect;
    if loc.starts_with("/authorize/") {
        loc = c.http.get(&loc, &[]).await?.expect(303)?.location()?.to_string();
    }
    if loc.starts_with("/consent") {
        let page = c.http.get(&loc, &[]).await?.expect(200)?;
        let csrf = csrf_of(page.text()).ok_or(Fail::Invalid("no csrf".into()))?;
        let form = [("csrf", csrf), ("req", req.as_str()), ("decision", "allow")];
        loc = c.http.post_form("/consent", &[], &form).await?.expect(303)?.location()?.to_string();
    }
    let cb = url::Url::parse(&loc).map_err(|_| Fail::Invalid(loc.clone()))?;
    let code = cb.query_pairs().find(|(k, _)| k == "code").ok_or(Fail::Invalid(loc.clone()))?.1;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_ref()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let tokens: Tokens =
        c.http.post_form("/token", &[("authorization", ctx.basic.as_str())], &form).await?.expect(200)?.json()?;
    let bearer = format!("Bearer {}", tokens.access_token);
    let info: UserInfo = c.http.get("/userinfo", &[("authorization", bearer.as_str())]).await?.expect(200)?.json()?;
    if info.sub.is_empty() {
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
        let mut c = Citizen { http: Browser::new(&ctx.addr), key: authenticator::RingPasskey::new() };
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
            let base = url::Url::parse(&base_url).expect("--base-url");
            let client_id = state["client"]["client_id"].as_str().unwrap().to_string();
            let secret = state["client"]["client_secret"].as_str().unwrap();
            let ctx = Arc::new(Ctx {
                addr: format!("{}:{}", base.host_str().unwrap(), base.port_or_known_default().unwrap()),
                issuer: issuer.trim_end_matches('/').to_string(),
                basic: format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"))
                ),
                client_id,
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
