//! The HTTP client the SDK talks to the identity provider with: reqwest 0.13 behind the
//! `openidconnect` crate's [`AsyncHttpClient`] (its own adapter targets reqwest 0.12).
//!
//! Redirects are never followed (a discovery document or token response that redirects is an
//! error, not something to chase) and every answer is capped in size.

use std::{future::Future, pin::Pin, time::Duration};

use openidconnect::{AsyncHttpClient, HttpClientError, HttpRequest, HttpResponse};

use crate::error::{Error, Result};

/// Largest answer accepted from the identity provider (discovery, JWKS, tokens, userinfo).
pub(crate) const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// reqwest, adapted for `openidconnect`.
#[derive(Clone, Debug)]
pub(crate) struct Http(pub(crate) reqwest::Client);

/// An answer larger than [`MAX_RESPONSE_BYTES`].
#[derive(Debug, thiserror::Error)]
#[error("response larger than {MAX_RESPONSE_BYTES} bytes")]
pub(crate) struct TooLarge;

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = std::result::Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let req: reqwest::Request = request.try_into().map_err(Box::new)?;
            let resp = self.0.execute(req).await.map_err(Box::new)?;
            let mut builder = http::Response::builder().status(resp.status()).version(resp.version());
            for (name, value) in resp.headers() {
                builder = builder.header(name, value);
            }
            let body = read_capped(resp).await.map_err(|e| match e {
                ReadError::Http(e) => HttpClientError::Reqwest(Box::new(e)),
                ReadError::TooLarge => HttpClientError::Other(TooLarge.to_string()),
            })?;
            builder.body(body).map_err(HttpClientError::Http)
        })
    }
}

pub(crate) enum ReadError {
    Http(reqwest::Error),
    TooLarge,
}

/// Reads a body, refusing more than [`MAX_RESPONSE_BYTES`] without buffering it all first.
pub(crate) async fn read_capped(mut resp: reqwest::Response) -> std::result::Result<Vec<u8>, ReadError> {
    if resp.content_length().is_some_and(|l| l as usize > MAX_RESPONSE_BYTES) {
        return Err(ReadError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(ReadError::Http)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The default client: rustls with the ring provider (installed here if the application has
/// not installed one), no redirects, 10 s timeout.
pub(crate) fn default_client() -> Result<reqwest::Client> {
    // Err only means a provider is already installed, which is what we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| Error::Config(format!("HTTP client: {e}")))
}

/// GETs `url` and parses JSON, with the size cap.
pub(crate) async fn get_json(http: &reqwest::Client, url: &str) -> Result<serde_json::Value> {
    let resp = http.get(url).send().await.map_err(|e| Error::Provider(format!("GET {url}: {e}")))?;
    if !resp.status().is_success() {
        return Err(Error::Provider(format!("GET {url}: status {}", resp.status())));
    }
    let body = read_capped(resp).await.map_err(|e| match e {
        ReadError::Http(e) => Error::Provider(format!("GET {url}: {e}")),
        ReadError::TooLarge => Error::Provider(format!("GET {url}: {TooLarge}")),
    })?;
    serde_json::from_slice(&body).map_err(|e| Error::Provider(format!("GET {url}: not JSON: {e}")))
}
