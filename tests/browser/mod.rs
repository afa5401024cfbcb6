//! The browser suite: headless Chromium driven over the DevTools protocol, with a virtual
//! WebAuthn authenticator standing in for the citizen's phone. Runs when
//! `TEST_CHROMIUM=/usr/bin/chromium` is set (`.ci/browser-deps` installs it).

mod cdp;
mod enrol;
mod services;
mod story;

use std::{path::PathBuf, time::Duration};

use axum::{Router, http::header, response::IntoResponse, routing::get};

pub use cdp::{Browser, Page, js_str};

/// The Chromium binary to drive; `None` (after saying so loudly) when `TEST_CHROMIUM` is unset,
/// unless `IDP_REQUIRE_ALL_SUITES=1`, in which case a missing browser is a failure.
pub fn chromium() -> Option<PathBuf> {
    match std::env::var_os("TEST_CHROMIUM") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            if std::env::var("IDP_REQUIRE_ALL_SUITES").as_deref() == Ok("1") {
                panic!("TEST_CHROMIUM is not set but IDP_REQUIRE_ALL_SUITES=1: the browser suite must run");
            }
            eprintln!("SKIPPED: browser suite (set TEST_CHROMIUM=/usr/bin/chromium)");
            None
        }
    }
}

/// Serves `app` on 127.0.0.1 and returns its port (reach it as `http://localhost:PORT`:
/// WebAuthn refuses IP-address origins).
pub async fn serve(app: Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

const SMOKE_HTML: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>pending</title>
<script src="/smoke.js" defer></script></head>
<body><p>WebAuthn smoke test</p>
<input id="name" autocomplete="username"><button id="go" type="button">Go</button>
</body></html>"#;

/// Registers a discoverable credential, then signs in with it without naming it.
const SMOKE_JS: &str = r#"
const random = (n) => crypto.getRandomValues(new Uint8Array(n));
async function smoke(name) {
  if (!name) throw new Error("no name typed");
  const created = await navigator.credentials.create({ publicKey: {
    challenge: random(32),
    rp: { id: "localhost", name: "Smoke" },
    user: { id: random(16), name: name, displayName: name },
    pubKeyCredParams: [{ type: "public-key", alg: -7 }, { type: "public-key", alg: -257 }],
    authenticatorSelection: { residentKey: "required", requireResidentKey: true,
                              userVerification: "required" },
    timeout: 30000,
  }});
  const got = await navigator.credentials.get({ publicKey: {
    challenge: random(32),
    rpId: "localhost",
    allowCredentials: [],
    userVerification: "required",
    timeout: 30000,
  }});
  if (got.id !== created.id) throw new Error("signed in with " + got.id + ", made " + created.id);
  if (!got.response.userHandle) throw new Error("no user handle: not a discoverable credential");
  document.title = "ok:" + got.id;
}
document.getElementById("go").addEventListener("click", () => {
  smoke(document.getElementById("name").value)
    .catch((e) => { document.title = "error:" + e.name + ": " + e.message; });
});
"#;

fn smoke_app() -> Router {
    let csp = |body: &'static str, ty: &'static str| {
        (
            [
                (header::CONTENT_TYPE, ty),
                (header::CONTENT_SECURITY_POLICY, "default-src 'self'"),
                (header::SET_COOKIE, "smoke=1; Path=/; SameSite=Lax"),
            ],
            body,
        )
            .into_response()
    };
    Router::new()
        .route("/", get(move || async move { csp(SMOKE_HTML, "text/html; charset=utf-8") }))
        .route("/smoke.js", get(move || async move { csp(SMOKE_JS, "text/javascript; charset=utf-8") }))
}

/// Chromium, the DevTools client and the virtual authenticator work here: a page registers a
/// discoverable passkey and signs in with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_smoke() {
    let Some(chromium) = chromium() else { return };
    let port = serve(smoke_app()).await;
    let browser = Browser::launch(&chromium).await.unwrap();
    let page = browser.new_page().await.unwrap();
    let auth = page.add_virtual_authenticator().await.unwrap();
    let title = page
        .guard(async {
            page.navigate(&format!("http://localhost:{port}/")).await?;
            page.type_text("#name", "karma").await?;
            page.click("#go").await?;
            page.wait_for(
                "document.title.startsWith('ok:') || document.title.startsWith('error:') \
                 ? document.title : ''",
                Duration::from_secs(20),
            )
            .await
        })
        .await;
    let title = title.as_str().unwrap().to_string();
    eprintln!("browser_smoke: title = {title}");
    let id = title.strip_prefix("ok:").unwrap_or_else(|| panic!("the page failed: {title}"));

    // The authenticator holds exactly that credential, as a resident key for localhost.
    let creds = page.credentials(&auth).await.unwrap();
    assert_eq!(creds.len(), 1, "{creds:?}");
    assert_eq!(creds[0]["rpId"], "localhost");
    assert_eq!(creds[0]["isResidentCredential"], true);
    assert_eq!(b64_to_b64url(creds[0]["credentialId"].as_str().unwrap()), id);

    // Clearing cookies logs the browser out but keeps the passkey.
    assert_eq!(page.evaluate("document.cookie").await.unwrap(), "smoke=1");
    page.clear_cookies().await.unwrap();
    assert_eq!(page.evaluate("document.cookie").await.unwrap(), "");
    assert_eq!(page.credentials(&auth).await.unwrap().len(), 1);
}

/// CDP's binary fields are standard base64; WebAuthn's ids are base64url without padding.
pub fn b64_to_b64url(s: &str) -> String {
    s.trim_end_matches('=').replace('+', "-").replace('/', "_")
}
