//! A minimal Chrome DevTools Protocol client for the browser tests: launch headless Chromium,
//! open one page over a flattened session, and drive it with `Runtime.evaluate`.
//!
//! JSON-RPC over one websocket (tokio-tungstenite): every command gets an id and a oneshot for
//! its answer; events go to a broadcast channel that waiters subscribe to before acting.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use futures_util::{SinkExt, StreamExt, stream::SplitSink};
use serde_json::{Value, json};
use tokio::{
    net::TcpStream,
    sync::{broadcast, oneshot},
};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};

type Sink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;
type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value>>>>>;

/// How long one CDP command may take before the test gives up on it.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// An event from the browser: its `method` and the session it belongs to.
#[derive(Clone, Debug)]
struct Event {
    method: String,
    session_id: Option<String>,
}

/// The websocket connection: sends commands and routes answers and events.
struct Conn {
    sink: tokio::sync::Mutex<Sink>,
    next_id: AtomicU64,
    pending: Pending,
    events: broadcast::Sender<Event>,
}

impl Conn {
    async fn connect(ws_url: &str) -> Result<Arc<Self>> {
        let (ws, _) = tokio_tungstenite::connect_async(ws_url)
            .await
            .with_context(|| format!("connecting to DevTools at {ws_url}"))?;
        let (sink, mut stream) = ws.split();
        let pending: Pending = Arc::default();
        let (events, _) = broadcast::channel(1024);
        let conn = Arc::new(Self {
            sink: tokio::sync::Mutex::new(sink),
            next_id: AtomicU64::new(1),
            pending: pending.clone(),
            events: events.clone(),
        });
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(text) = msg else { continue };
                let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else {
                    continue;
                };
                if let Some(id) = v.get("id").and_then(Value::as_u64) {
                    let tx = pending.lock().ok().and_then(|mut p| p.remove(&id));
                    if let Some(tx) = tx {
                        let answer = match v.get("error") {
                            Some(e) => Err(anyhow!("CDP error: {e}")),
                            None => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
                        };
                        let _ = tx.send(answer);
                    }
                } else if let Some(method) = v.get("method").and_then(Value::as_str) {
                    let _ = events.send(Event {
                        method: method.to_string(),
                        session_id: v.get("sessionId").and_then(Value::as_str).map(str::to_string),
                    });
                }
            }
            // The browser went away: fail every command still waiting.
            if let Ok(mut p) = pending.lock() {
                p.clear();
            }
        });
        Ok(conn)
    }

    async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let (tx, rx) = oneshot::channel();
        self.pending.lock().map_err(|_| anyhow!("pending map poisoned"))?.insert(id, tx);
        self.sink
            .lock()
            .await
            .send(Message::text(msg.to_string()))
            .await
            .with_context(|| format!("sending {method}"))?;
        match tokio::time::timeout(COMMAND_TIMEOUT, rx).await {
            Ok(Ok(answer)) => answer.with_context(|| format!("{method} failed")),
            Ok(Err(_)) => bail!("{method}: the browser closed the connection"),
            Err(_) => bail!("{method}: no answer within {COMMAND_TIMEOUT:?}"),
        }
    }
}

/// A headless Chromium process and its DevTools connection; killed on drop.
pub struct Browser {
    child: Child,
    conn: Arc<Conn>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts `chromium` headless on a fresh profile and connects to it.
    pub async fn launch(chromium: &Path) -> Result<Self> {
        let profile = tempfile::tempdir()?;
        let mut child = Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", chromium.display()))?;
        let stderr = child.stderr.take().context("chromium stderr")?;
        // A thread reads stderr for the DevTools URL, then keeps draining it so Chromium never
        // blocks on a full pipe; the last lines are kept to explain a failed start.
        let (tx, rx) = oneshot::channel::<std::result::Result<String, String>>();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            let mut seen = Vec::new();
            let log = std::env::var_os("TEST_CHROMIUM_LOG").is_some();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if log {
                    eprintln!("[chromium] {line}");
                }
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(Ok(url.trim().to_string()));
                    }
                } else if tx.is_some() {
                    seen.push(line);
                }
            }
            if let Some(tx) = tx.take() {
                let _ = tx.send(Err(seen.join("\n")));
            }
        });
        let ws_url = match tokio::time::timeout(Duration::from_secs(30), rx).await {
            Ok(Ok(Ok(url))) => url,
            Ok(Ok(Err(stderr))) => {
                let _ = child.kill();
                bail!("chromium exited before DevTools was ready; stderr:\n{stderr}")
            }
            Ok(Err(_)) => {
                let _ = child.kill();
                bail!("chromium's stderr reader stopped")
            }
            Err(_) => {
                let _ = child.kill();
                bail!("chromium printed no DevTools URL within 30s")
            }
        };
        let conn = match Conn::connect(&ws_url).await {
            Ok(c) => c,
            Err(e) => {
                let _ = child.kill();
                return Err(e);
            }
        };
        Ok(Self { child, conn, _profile: profile })
    }

    /// A browser-level command (no session).
    pub async fn call(&self, method: &str, params: Value) -> Result<Value> {
        self.conn.call(None, method, params).await
    }

    /// Opens a new tab and attaches to it with a flattened session.
    pub async fn new_page(&self) -> Result<Page> {
        let t = self.call("Target.createTarget", json!({"url": "about:blank"})).await?;
        let target_id = t["targetId"].as_str().context("createTarget without targetId")?.to_string();
        let a = self.call("Target.attachToTarget", json!({"targetId": target_id, "flatten": true})).await?;
        let session_id = a["sessionId"].as_str().context("attachToTarget without sessionId")?.to_string();
        let page = Page { conn: self.conn.clone(), session_id };
        page.call("Page.enable", json!({})).await?;
        page.call("Network.enable", json!({})).await?;
        Ok(page)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A virtual WebAuthn authenticator attached to a page.
pub struct Authenticator {
    pub id: String,
}

/// One tab, driven over its own CDP session.
pub struct Page {
    conn: Arc<Conn>,
    session_id: String,
}

impl Page {
    /// A command on this page's session.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value> {
        self.conn.call(Some(&self.session_id), method, params).await
    }

    /// Waits for the first event `method` of this session, subscribing before `action` runs.
    async fn after<T>(
        &self,
        method: &str,
        timeout: Duration,
        action: impl Future<Output = Result<T>>,
    ) -> Result<(T, Event)> {
        let mut rx = self.conn.events.subscribe();
        let out = action.await?;
        let wait = async {
            loop {
                match rx.recv().await {
                    Ok(ev) if ev.method == method && ev.session_id.as_deref() == Some(&self.session_id) => {
                        return Ok(ev);
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => bail!("browser connection closed"),
                }
            }
        };
        let ev = tokio::time::timeout(timeout, wait).await.map_err(|_| anyhow!("no {method} within {timeout:?}"))??;
        Ok((out, ev))
    }

    /// Navigates to `url` and waits for the page's load event.
    pub async fn navigate(&self, url: &str) -> Result<()> {
        self.after("Page.loadEventFired", Duration::from_secs(30), async {
            let nav = self.call("Page.navigate", json!({"url": url})).await?;
            if let Some(err) = nav.get("errorText").and_then(Value::as_str) {
                bail!("navigating to {url}: {err}");
            }
            Ok(())
        })
        .await
        .with_context(|| format!("loading {url}"))?;
        Ok(())
    }

    /// Evaluates `js` in the page (awaiting a returned promise, with a user gesture) and returns
    /// its value; a thrown exception is an error carrying the exception's text.
    pub async fn evaluate(&self, js: &str) -> Result<Value> {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({
                    "expression": js,
                    "awaitPromise": true,
                    "returnByValue": true,
                    "userGesture": true,
                }),
            )
            .await?;
        if let Some(ex) = r.get("exceptionDetails") {
            let text = ex["exception"]["description"].as_str().or_else(|| ex["text"].as_str()).unwrap_or("exception");
            bail!("script threw: {text}\n  script: {js}");
        }
        Ok(r["result"].get("value").cloned().unwrap_or(Value::Null))
    }

    /// Polls `condition` (a JS expression) every 100 ms until it is truthy; errors while the
    /// page navigates count as "not yet".
    pub async fn wait_for(&self, condition: &str, timeout: Duration) -> Result<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let last_err = match self.evaluate(condition).await {
                Ok(v) if truthy(&v) => return Ok(v),
                Ok(_) => None,
                Err(e) => Some(e),
            };
            if tokio::time::Instant::now() >= deadline {
                let url = self.current_url().await.unwrap_or_default();
                return Err(match last_err {
                    Some(e) => e.context(format!("waited {timeout:?} for `{condition}` (at {url})")),
                    None => anyhow!("waited {timeout:?} for `{condition}` (at {url})"),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until an element matching `selector` exists.
    pub async fn wait_for_selector(&self, selector: &str, timeout: Duration) -> Result<()> {
        let sel = js_str(selector);
        self.wait_for(&format!("!!document.querySelector({sel})"), timeout).await.map(|_| ())
    }

    /// Clicks the element matching `selector` (waiting up to 10 s for it to appear).
    pub async fn click(&self, selector: &str) -> Result<()> {
        self.wait_for_selector(selector, Duration::from_secs(10)).await?;
        let sel = js_str(selector);
        self.evaluate(&format!(
            "(() => {{ const el = document.querySelector({sel}); \
             if (!el) throw new Error('no element ' + {sel}); \
             el.scrollIntoView(); el.focus(); el.click(); return true; }})()"
        ))
        .await
        .with_context(|| format!("clicking {selector}"))?;
        Ok(())
    }

    /// Sets the value of the input matching `selector` to `text`, firing `input` and `change`.
    pub async fn type_text(&self, selector: &str, text: &str) -> Result<()> {
        self.wait_for_selector(selector, Duration::from_secs(10)).await?;
        let (sel, text) = (js_str(selector), js_str(text));
        self.evaluate(&format!(
            "(() => {{ const el = document.querySelector({sel}); \
             if (!el) throw new Error('no element ' + {sel}); \
             el.focus(); \
             const proto = Object.getPrototypeOf(el); \
             const setter = Object.getOwnPropertyDescriptor(proto, 'value')?.set; \
             if (setter) setter.call(el, {text}); else el.value = {text}; \
             el.dispatchEvent(new Event('input', {{bubbles: true}})); \
             el.dispatchEvent(new Event('change', {{bubbles: true}})); \
             return true; }})()"
        ))
        .await
        .with_context(|| format!("typing into {selector}"))?;
        Ok(())
    }

    /// The page's current URL.
    pub async fn current_url(&self) -> Result<String> {
        let v = self.evaluate("location.href").await?;
        v.as_str().map(str::to_string).context("location.href is not a string")
    }

    /// `document.body.innerText`, or an empty string.
    pub async fn body_text(&self) -> Result<String> {
        let v = self.evaluate("document.body ? document.body.innerText : ''").await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// Saves a PNG screenshot of the viewport to `path`.
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let r = self.call("Page.captureScreenshot", json!({"format": "png"})).await?;
        let data = r["data"].as_str().context("captureScreenshot without data")?;
        let png = base64::engine::general_purpose::STANDARD.decode(data)?;
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// Takes a screenshot to a kept temporary file and prints it with the URL and page text:
    /// what a failing test shows.
    pub async fn report(&self, why: &str) {
        let path: PathBuf = std::env::temp_dir().join(format!(
            "browser-failure-{}-{}.png",
            std::process::id(),
            self.conn.next_id.load(Ordering::Relaxed)
        ));
        eprintln!("---- browser state on failure: {why}");
        match self.current_url().await {
            Ok(u) => eprintln!("url: {u}"),
            Err(e) => eprintln!("url: <{e:#}>"),
        }
        match self.screenshot(&path).await {
            Ok(()) => eprintln!("screenshot: {}", path.display()),
            Err(e) => eprintln!("screenshot failed: {e:#}"),
        }
        match self.body_text().await {
            Ok(t) => eprintln!("document.body.innerText:\n{t}"),
            Err(e) => eprintln!("document.body.innerText: <{e:#}>"),
        }
        eprintln!("----");
    }

    /// Runs `steps`; if they fail or panic, reports the page state before failing the test.
    pub async fn guard<T>(&self, steps: impl Future<Output = Result<T>>) -> T {
        use futures_util::FutureExt;
        match std::panic::AssertUnwindSafe(steps).catch_unwind().await {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                self.report(&format!("{e:#}")).await;
                panic!("browser steps failed: {e:#}");
            }
            Err(panic) => {
                self.report("panic").await;
                std::panic::resume_unwind(panic);
            }
        }
    }

    /// Deletes every cookie in the browser, so the next visit starts logged out.
    pub async fn clear_cookies(&self) -> Result<()> {
        self.call("Network.clearBrowserCookies", json!({})).await?;
        Ok(())
    }

    /// Enables the WebAuthn domain and adds a platform authenticator that holds discoverable
    /// credentials, verifies the user and approves every request by itself.
    pub async fn add_virtual_authenticator(&self) -> Result<Authenticator> {
        self.call("WebAuthn.enable", json!({})).await?;
        let r = self
            .call(
                "WebAuthn.addVirtualAuthenticator",
                json!({"options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                    "automaticPresenceSimulation": true,
                }}),
            )
            .await?;
        Ok(Authenticator {
            id: r["authenticatorId"].as_str().context("addVirtualAuthenticator without authenticatorId")?.to_string(),
        })
    }

    /// The credentials the virtual authenticator holds (`WebAuthn.getCredentials`).
    pub async fn credentials(&self, auth: &Authenticator) -> Result<Vec<Value>> {
        let r = self.call("WebAuthn.getCredentials", json!({"authenticatorId": auth.id})).await?;
        Ok(r["credentials"].as_array().cloned().unwrap_or_default())
    }
}

/// A Rust string as a JavaScript string literal.
pub fn js_str(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}
