//! Pages and the HTTP hygiene every module shares: the layout (askama), security headers with a
//! strict CSP, CSRF protection for forms, and the stylesheet.

use askama::Template;
use axum::{
    extract::{FromRequestParts, Request},
    http::{HeaderValue, Method, StatusCode, header, request::Parts},
    middleware::Next,
    response::{Html, IntoResponse, Response},
};
use base64::Engine;

use crate::error::Error;

/// Nothing from elsewhere, no script at all, no framing: module pages are plain HTML forms.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
frame-ancestors 'none'; base-uri 'none'";

#[derive(Template)]
#[template(path = "layout.html")]
struct Layout<'a> {
    site: &'a str,
    title: &'a str,
    who: Option<&'a str>,
    csrf: &'a str,
    content: &'a str,
}

tokio::task_local! {
    /// The module serving the current request, named in its pages' header and title. Per
    /// request rather than per process, so that several modules can share one process (the
    /// all-in-one demo, the end-to-end tests).
    static SITE: std::sync::Arc<str>;
}

/// Serves the rest of the request as module `site` (see [`crate::server::wrap`]).
pub(crate) async fn as_site(site: std::sync::Arc<str>, req: Request, next: Next) -> Response {
    SITE.scope(site, next.run(req)).await
}

fn site() -> std::sync::Arc<str> {
    SITE.try_with(std::sync::Arc::clone).unwrap_or_else(|_| "Digital Drukyul".into())
}

/// A page: a title and content, wrapped in the module's layout.
///
/// Content is HTML rendered by the module's own askama templates ([`Page::html`]), or built
/// from escaped pieces ([`Page::paragraph`], [`Page::link`]) for short messages.
#[derive(Debug, Default)]
pub struct Page {
    title: String,
    content: String,
    who: Option<String>,
    csrf: String,
}

impl Page {
    /// An empty page titled `title`.
    pub fn new(title: &str) -> Self {
        Self { title: title.to_owned(), ..Self::default() }
    }
    /// Adds rendered HTML (from an askama template: already escaped).
    pub fn html(mut self, html: &str) -> Self {
        self.content.push_str(html);
        self
    }
    /// Adds a paragraph of text (escaped here).
    pub fn paragraph(mut self, text: &str) -> Self {
        self.content.push_str(&format!("<p>{}</p>", escape(text)));
        self
    }
    /// Adds a link (both escaped; only same-site paths are linked).
    pub fn link(mut self, href: &str, text: &str) -> Self {
        let href = if href.starts_with('/') && !href.starts_with("//") { href } else { "/" };
        self.content.push_str(&format!("<p><a href=\"{}\">{}</a></p>", escape(href), escape(text)));
        self
    }
    /// Shows who is logged in, with a log-out button carrying `csrf`.
    pub fn for_user(mut self, name: &str, csrf: &CsrfToken) -> Self {
        self.who = Some(name.to_owned());
        self.csrf = csrf.0.clone();
        self
    }
    /// Renders it (200; a caller may change the status).
    pub fn render(&self) -> Response {
        let site = site();
        let layout = Layout {
            site: &site,
            title: &self.title,
            who: self.who.as_deref(),
            csrf: &self.csrf,
            content: &self.content,
        };
        match layout.render() {
            Ok(body) => Html(body).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "layout");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
            }
        }
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        self.render()
    }
}

/// Renders an askama template to a string, as a kit error when it fails.
pub fn render(t: &impl Template) -> Result<String, Error> {
    t.render().map_err(|e| Error::Internal(format!("template: {e}")))
}

/// A moment (Unix seconds) as pages show it: `YYYY-MM-DD hh:mm UTC` (the number itself if it is
/// out of range).
pub fn when(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC")).ok())
        .unwrap_or_else(|| at.to_string())
}

/// HTML-escapes text.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The stylesheet every page links.
pub async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../static/kit.css"),
    )
        .into_response()
}

/// Security headers on every response, and the first line of CSRF defence: a state-changing
/// request that the browser says comes from another site is refused before any handler runs.
pub async fn protect(req: Request, next: Next) -> Response {
    let state_changing = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let cross_site = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site" || v == "same-site");
    // Bearer-authenticated API calls come from servers, not browsers: no cookies, no CSRF.
    let bearer = req.headers().contains_key(header::AUTHORIZATION);
    if state_changing && cross_site && !bearer {
        return Error::Forbidden("This form was sent from another site.".into()).into_response();
    }
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    resp
}

/// Name of the CSRF cookie (double-submit: the form carries the same random value).
const CSRF_COOKIE: &str = "csrf";

/// The browser's CSRF token: from its cookie, or a new one that [`with_csrf_cookie`] sets.
///
/// Forms carry it in a hidden `csrf` field and handlers call [`CsrfToken::check`]: a page on
/// another site can make the browser send the cookie (it cannot, with SameSite=Strict, but
/// older browsers) yet cannot read it to put it in the form.
#[derive(Clone, Debug)]
pub struct CsrfToken(String, bool);

impl CsrfToken {
    /// The value for the form's hidden field.
    pub fn value(&self) -> &str {
        &self.0
    }
    /// The form's hidden `csrf` input carrying this token, for pages built from escaped pieces.
    pub fn hidden_field(&self) -> String {
        format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", escape(&self.0))
    }
    /// Refuses a form whose field is not the cookie's value (constant time).
    pub fn check(&self, submitted: &str) -> Result<(), Error> {
        let same = bool::from(subtle::ConstantTimeEq::ct_eq(self.0.as_bytes(), submitted.as_bytes()));
        if same && !self.1 {
            Ok(())
        } else {
            Err(Error::Forbidden("This form has expired; please go back, reload the page and try again.".into()))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(t) = parts.extensions.get::<CsrfToken>() {
            return Ok(t.clone());
        }
        Err(Error::Internal("the CSRF layer is not installed".into()))
    }
}

fn cookie_value(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Makes a [`CsrfToken`] available to handlers and sets its cookie when the browser had none.
/// (A fresh token never validates a submission: the form must come from a page we served.)
pub async fn with_csrf_cookie(req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let existing = cookie_value(&parts, CSRF_COOKIE).filter(|v| v.len() == 43);
    let (token, fresh) = match existing {
        Some(v) => (v, false),
        None => {
            let mut b = [0u8; 32];
            if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).is_err() {
                return Error::Internal("no randomness".into()).into_response();
            }
            (base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b), true)
        }
    };
    parts.extensions.insert(CsrfToken(token.clone(), fresh));
    let mut resp = next.run(Request::from_parts(parts, body)).await;
    if fresh && let Ok(v) = HeaderValue::from_str(&format!("{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"))
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_links() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        let p = Page::new("T").link("https://evil.example", "x").link("//evil", "y").link("/ok", "z");
        assert_eq!(p.content.matches("href=\"/\"").count(), 2);
        assert!(p.content.contains("href=\"/ok\""));
    }

    #[test]
    fn csrf_tokens_compare_exactly_and_fresh_ones_never_pass() {
        let t = CsrfToken("a".repeat(43), false);
        assert!(t.check(&"a".repeat(43)).is_ok());
        assert!(t.check(&"a".repeat(42)).is_err());
        assert!(t.check("").is_err());
        let fresh = CsrfToken("b".repeat(43), true);
        assert!(fresh.check(&"b".repeat(43)).is_err());
    }
}
