//! Life events: telling other agencies, through their OAuth-protected APIs with a
//! client-credentials token (the SDK's [`ServiceClient`]), what an approval means for them.
//!
//! - A birth: the identity provider's civil registry (`POST /registry/births`, scope
//!   `registry.births`) creates the child with a new CID; then ePIS (`POST /api/patients`,
//!   scope `epis.patients`) opens the child's patient record.
//! - A death: `POST /registry/deaths` (scope `registry.deaths`) records it and closes the
//!   digital ID (sessions, grants and the signing certificate go with it); the pension stops.
//!
//! Every call carries the application's number as its reference, so a retry after a failure
//! (or after a crash between the call and our commit) changes nothing on the other side. A
//! failure leaves the application approved with its notification pending; the officer's retry
//! button and the module's retry loop try again. Progress is saved after each call, so a retry
//! does only what is left.

use std::time::Duration;

use agency_kit::{
    Error, Result,
    audit::{self, Entry},
    db::Db,
};
use relying_party_sdk::ServiceClient;
use serde_json::{Map, Value, json};

use crate::{
    applications::{self, Application, Notify},
    catalogue::{Catalogue, LifeEvent},
};

/// Largest answer read from another agency.
const MAX_ANSWER: usize = 64 * 1024;

/// Where ePIS is.
#[derive(Clone, Debug)]
pub struct Epis {
    /// Its base URL (`https://epis.health.gov.bt`).
    pub url: String,
    /// Its API's resource identifier (what its tokens' `aud` must be), usually `<url>/api`.
    pub audience: String,
}

/// Tells other agencies about approvals.
#[derive(Clone, Debug)]
pub struct Notifier {
    service: ServiceClient,
    http: reqwest::Client,
    registry: String,
    epis: Option<Epis>,
}

fn not_configured() -> Value {
    json!("pending: ePIS is not configured")
}

impl Notifier {
    /// A notifier calling the identity provider at `issuer` and ePIS (when configured) with
    /// `service`'s tokens.
    pub fn new(service: ServiceClient, issuer: &str, epis: Option<Epis>) -> Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        Ok(Self { service, http, registry: issuer.trim_end_matches('/').to_owned(), epis })
    }

    /// POSTs `body` with a token for `scope` (at `resource`: the identity provider's own APIs are
    /// asked for with its issuer as the resource, so a client that also calls other agencies'
    /// APIs gets a token for exactly the one it calls); the answer's JSON on 2xx.
    async fn call(&self, url: &str, scope: &str, resource: Option<&str>, body: &Value, now: i64) -> Result<Value> {
        let token = self
            .service
            .token(scope, resource, now)
            .await
            .map_err(|e| Error::Upstream(format!("no {scope} token: {e}")))?;
        let mut resp = self
            .http
            .post(url)
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .map_err(|e| Error::Upstream(format!("{url}: {e}")))?;
        let status = resp.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| Error::Upstream(format!("{url}: {e}")))? {
            if bytes.len() + chunk.len() > MAX_ANSWER {
                return Err(Error::Upstream(format!("{url}: answer too large")));
            }
            bytes.extend_from_slice(&chunk);
        }
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            let why = answer["error_description"].as_str().or(answer["error"].as_str()).unwrap_or("no reason given");
            let why: String = why.chars().take(300).collect();
            return Err(Error::Upstream(format!("{url}: {status}: {why}")));
        }
        Ok(answer)
    }

    /// Tells the agencies concerned about approved application `app` what is still untold,
    /// saving progress after each call. A failure is recorded on the application (still
    /// pending) and returned in [`Application::notify_error`], not as an error: the approval
    /// stands.
    pub async fn notify(&self, db: &Db, catalogue: &Catalogue, app: &Application, now: i64) -> Result<Application> {
        if app.notify != Notify::Pending {
            return Ok(app.clone());
        }
        let event = catalogue.get(&app.service).and_then(|s| s.life_event);
        let mut detail = app.notify_detail.clone();
        let outcome = match event {
            Some(LifeEvent::RegisterBirth) => self.birth(db, app, &mut detail, now).await,
            Some(LifeEvent::RegisterDeath) => self.death(db, app, &mut detail, now).await,
            _ => Ok(true),
        };
        let subject = format!("application:{}", app.id);
        match outcome {
            Ok(done) => {
                let state = if done { Notify::Done } else { Notify::Pending };
                applications::record_notification(db, &app.id, state, &detail, "").await?;
                audit::record(
                    db,
                    &Entry::new("system", "agencies_notified", &subject).detail(Value::Object(detail.clone())),
                    now,
                )
                .await?;
            }
            Err(e) => {
                let why = match &e {
                    Error::Upstream(m) => m.clone(),
                    Error::Db(_) | Error::Migrate(_) => return Err(e),
                    other => other.to_string(),
                };
                tracing::warn!(application = %app.id, error = %why, "notifying another agency failed; will retry");
                applications::record_notification(db, &app.id, Notify::Pending, &detail, &why).await?;
                audit::record(
                    db,
                    &Entry::new("system", "notification_failed", &subject).detail(json!({"error": why})),
                    now,
                )
                .await?;
            }
        }
        applications::get(db, &app.id).await?.ok_or_else(|| Error::Internal("the application vanished".into()))
    }

    /// The birth: registry first (the child's CID), then ePIS. Whether everything is done.
    async fn birth(&self, db: &Db, app: &Application, detail: &mut Map<String, Value>, now: i64) -> Result<bool> {
        let v = |k: &str| app.data.get(k).cloned().unwrap_or_default();
        let opt = |k: &str| app.data.get(k).filter(|s| !s.is_empty()).cloned();
        let child = match detail.get("registry_cid").and_then(Value::as_str) {
            Some(c) => c.to_owned(),
            None => {
                let body = json!({
                    "reference": app.id,
                    "given_name": v("given_name"), "middle_name": v("middle_name"), "family_name": v("family_name"),
                    "date_of_birth": v("date_of_birth"), "sex": v("sex"),
                    "dzongkhag": v("dzongkhag"), "gewog": v("gewog"), "village": v("village"),
                    "household_number": v("household_number"),
                    "mother_cid": opt("mother_cid"), "father_cid": opt("father_cid"),
                });
                let answer = self
                    .call(
                        &format!("{}/registry/births", self.registry),
                        "registry.births",
                        Some(&self.registry),
                        &body,
                        now,
                    )
                    .await?;
                let cid = answer["cid"]
                    .as_str()
                    .filter(|c| crate::catalogue::is_cid(c))
                    .ok_or_else(|| Error::Upstream("the registry answered without a CID".into()))?
                    .to_owned();
                detail.insert("registry_cid".into(), json!(cid));
                // Saved at once: a failure at ePIS must not lose the child's CID.
                applications::record_notification(db, &app.id, Notify::Pending, detail, "").await?;
                cid
            }
        };
        if detail.get("epis").and_then(Value::as_str) == Some("done") {
            return Ok(true);
        }
        let Some(epis) = &self.epis else {
            detail.insert("epis".into(), not_configured());
            return Ok(false);
        };
        // ePIS's newborn API takes the child's full name (`name`); the parts ride along.
        let name = [v("given_name"), v("family_name")]
            .iter()
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let body = json!({
            "cid": child,
            "name": name,
            "given_name": v("given_name"),
            "family_name": v("family_name"),
            "date_of_birth": v("date_of_birth"),
            "mother_cid": opt("mother_cid"),
        });
        let url = format!("{}/api/patients", epis.url.trim_end_matches('/'));
        match self.call(&url, "epis.patients", Some(&epis.audience), &body, now).await {
            Ok(_) => {
                detail.insert("epis".into(), json!("done"));
                Ok(true)
            }
            Err(e) => {
                detail.insert("epis".into(), json!("pending: the last call failed"));
                Err(e)
            }
        }
    }

    /// The death: the registry closes the digital ID; the pension stops.
    async fn death(&self, db: &Db, app: &Application, detail: &mut Map<String, Value>, now: i64) -> Result<bool> {
        let cid = app.data.get("deceased_cid").cloned().unwrap_or_default();
        if detail.get("registry").and_then(Value::as_str) != Some("done") {
            let body = json!({
                "reference": app.id,
                "cid": cid,
                "date_of_death": app.data.get("date_of_death").cloned().unwrap_or_default(),
            });
            let answer = self
                .call(
                    &format!("{}/registry/deaths", self.registry),
                    "registry.deaths",
                    Some(&self.registry),
                    &body,
                    now,
                )
                .await?;
            detail.insert("registry".into(), json!("done"));
            if let Some(closed) = answer.get("digital_id_closed") {
                detail.insert("digital_id_closed".into(), closed.clone());
            }
            if let Some(n) = answer.get("certificates_revoked") {
                detail.insert("certificates_revoked".into(), n.clone());
            }
        }
        let stopped =
            applications::stop_pension(db, &cid, &format!("death registered ({})", app.id), "system", now).await?;
        if stopped {
            detail.insert("pension".into(), json!("stopped"));
        }
        Ok(true)
    }
}
