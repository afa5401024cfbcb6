//! An external ABIS that follows MOSIP's ABIS contract, over HTTP.
//!
//! MOSIP's ABIS interface (ABIS API specification 1.1) is a set of JSON messages — `insert`,
//! `identify` (with an optional `gallery` of reference ids and `flags` such as `maxResults` and
//! `targetFPIR`), `delete` — answered with a `returnValue` (1 success, 2 failure with a
//! `failureReason`) and, for identify, a `candidateList`. The biometrics are not inside the
//! messages: the ABIS fetches them from a `referenceURL` as a CBEFF (ISO/IEC 19785-3) XML
//! document. MOSIP carries the messages over a message queue; vendors' ABIS products also
//! accept them over HTTP, which is what this connector speaks: each message is POSTed to the
//! vendor's endpoint and the answer read from the response.
//!
//! The connector keeps the CBEFF documents of the requests it makes on a [`ReferenceShelf`] for
//! a short time; the application serves them at `reference_base/<referenceId>` (for the IdP,
//! an authenticated route) so that the ABIS can fetch them. A document is removed once the
//! request is answered.

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use base64::{Engine, engine::general_purpose::STANDARD};
use serde::{Deserialize, Serialize};

use super::{Abis, AbisCandidate, BoxFuture, IdentifyRequest};
use crate::{
    Error,
    sbi::messages::sub_type_name,
    template::{self, Record},
};

/// The ABIS API version this connector speaks.
pub const VERSION: &str = "1.1";
/// The largest answer read from the ABIS.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// CBEFF documents waiting to be fetched by the ABIS, by reference id.
#[derive(Debug, Default, Clone)]
pub struct ReferenceShelf {
    documents: Arc<RwLock<HashMap<String, String>>>,
}

impl ReferenceShelf {
    /// The CBEFF XML of `reference_id`, while a request about it is in flight.
    pub fn get(&self, reference_id: &str) -> Option<String> {
        self.documents.read().ok()?.get(reference_id).cloned()
    }

    fn put(&self, reference_id: &str, xml: String) {
        if let Ok(mut d) = self.documents.write() {
            d.insert(reference_id.to_owned(), xml);
        }
    }

    fn take(&self, reference_id: &str) {
        if let Ok(mut d) = self.documents.write() {
            d.remove(reference_id);
        }
    }
}

/// The CBEFF (ISO/IEC 19785-3) document of a person's fingers: one BIR per finger with its
/// ISO/IEC 19794-2 record (format owner 257, MOSIP's, type 2: finger minutiae).
pub fn cbeff(fingers: &[Record], creation: &str) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<BIR xmlns=\"http://standards.iso.org/iso-iec/19785/-3/ed-2/\">\
         <BIRInfo><Integrity>false</Integrity></BIRInfo>",
    );
    for record in fingers {
        if let Some(view) = record.views().first() {
            let single = template::write(record);
            xml.push_str(&format!(
                "<BIR><BIRInfo><Integrity>false</Integrity></BIRInfo><BDBInfo><Format><Organization>257</Organization>\
                 <Type>2</Type></Format><CreationDate>{creation}</CreationDate><Type>Finger</Type><Subtype>{}</Subtype>\
                 <Level>Processed</Level><Purpose>Enroll</Purpose><Quality><Score>{}</Score></Quality></BDBInfo>\
                 <BDB>{}</BDB></BIR>",
                sub_type_name(view.finger_position()),
                view.quality(),
                STANDARD.encode(single)
            ));
        }
    }
    xml.push_str("</BIR>");
    xml
}

/// A request message.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Message<'a> {
    id: &'a str,
    version: &'a str,
    request_id: String,
    requesttime: String,
    reference_id: &'a str,
    #[serde(rename = "referenceURL", skip_serializing_if = "Option::is_none")]
    reference_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gallery: Option<Gallery>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flags: Option<Flags>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Gallery {
    reference_ids: Vec<GalleryEntry>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GalleryEntry {
    reference_id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Flags {
    max_results: String,
    #[serde(rename = "targetFPIR")]
    target_fpir: String,
}

/// An answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    id: String,
    request_id: String,
    return_value: String,
    #[serde(default)]
    failure_reason: Option<String>,
    #[serde(default)]
    candidate_list: Option<CandidateList>,
}

#[derive(Debug, Deserialize)]
struct CandidateList {
    #[serde(default)]
    candidates: Vec<Candidate>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    reference_id: String,
    #[serde(default)]
    analytics: HashMap<String, serde_json::Value>,
}

/// The meaning of MOSIP ABIS failure reasons.
fn failure(code: Option<&str>) -> String {
    match code.unwrap_or("") {
        "1" => "internal error (1)".into(),
        "2" => "the request was aborted (2)".into(),
        "3" => "unexpected error (3)".into(),
        "4" => "the biometrics could not be read from referenceURL (4)".into(),
        "5" => "the reference id is already in the ABIS (5)".into(),
        "6" => "the reference id is not in the ABIS (6)".into(),
        "7" => "the biometric data is of poor quality (7)".into(),
        "8" => "the request is malformed (8)".into(),
        other => format!("failure reason {other:?}"),
    }
}

/// A MOSIP-contract ABIS reached over HTTP.
#[derive(Debug, Clone)]
pub struct MosipAbis {
    http: reqwest::Client,
    endpoint: url::Url,
    reference_base: url::Url,
    shelf: ReferenceShelf,
    enrolled: Arc<AtomicUsize>,
}

fn abis_error(reason: impl Into<String>) -> Error {
    Error::parameter("abis", reason.into())
}

impl MosipAbis {
    /// A connector POSTing messages to `endpoint`, telling the ABIS to fetch biometrics from
    /// `reference_base` + reference id (which the application serves from [`Self::shelf`]).
    pub fn new(endpoint: url::Url, reference_base: url::Url, timeout: Duration) -> Result<Self, Error> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| abis_error(format!("HTTP client: {e}")))?;
        Ok(Self { http, endpoint, reference_base, shelf: ReferenceShelf::default(), enrolled: Arc::default() })
    }

    /// The documents the ABIS may fetch now.
    pub fn shelf(&self) -> &ReferenceShelf {
        &self.shelf
    }

    async fn call(&self, message: &Message<'_>) -> Result<Answer, Error> {
        let response = self
            .http
            .post(self.endpoint.clone())
            .json(message)
            .send()
            .await
            .map_err(|e| abis_error(format!("the ABIS could not be reached: {e}")))?;
        if response.content_length().is_some_and(|n| n > MAX_ANSWER_BYTES as u64) {
            return Err(abis_error("the ABIS answer is too large"));
        }
        let status = response.status();
        let body = response.bytes().await.map_err(|e| abis_error(format!("the ABIS answer: {e}")))?;
        if body.len() > MAX_ANSWER_BYTES {
            return Err(abis_error("the ABIS answer is too large"));
        }
        if !status.is_success() {
            return Err(abis_error(format!("the ABIS answered HTTP {status}")));
        }
        let answer: Answer =
            serde_json::from_slice(&body).map_err(|e| abis_error(format!("the ABIS answer is malformed: {e}")))?;
        if answer.id != message.id || answer.request_id != message.request_id {
            return Err(abis_error("the ABIS answered another request"));
        }
        if answer.return_value != "1" {
            return Err(abis_error(format!("the ABIS refused: {}", failure(answer.failure_reason.as_deref()))));
        }
        Ok(answer)
    }

    fn message<'a>(&self, id: &'a str, reference_id: &'a str, with_url: bool) -> Result<Message<'a>, Error> {
        let now = time::OffsetDateTime::now_utc();
        let requesttime =
            now.format(&time::format_description::well_known::Rfc3339).map_err(|e| abis_error(e.to_string()))?;
        let request_id = hex::encode(getrandom_16()?);
        let reference_url = if with_url {
            Some(self.reference_base.join(reference_id).map_err(|e| abis_error(e.to_string()))?.to_string())
        } else {
            None
        };
        Ok(Message {
            id,
            version: VERSION,
            request_id,
            requesttime,
            reference_id,
            reference_url,
            gallery: None,
            flags: None,
        })
    }
}

fn getrandom_16() -> Result<[u8; 16], Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| abis_error(format!("no randomness: {e}")))?;
    Ok(b)
}

fn check_reference(reference_id: &str) -> Result<(), Error> {
    if reference_id.is_empty()
        || reference_id.len() > 128
        || !reference_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(abis_error("a reference id is 1 to 128 URL-safe characters"));
    }
    Ok(())
}

impl Abis for MosipAbis {
    fn insert<'a>(&'a self, reference_id: &'a str, fingers: &'a [Record]) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            check_reference(reference_id)?;
            let message = self.message("mosip.abis.insert", reference_id, true)?;
            self.shelf.put(reference_id, cbeff(fingers, &message.requesttime));
            let answer = self.call(&message).await;
            self.shelf.take(reference_id);
            answer?;
            self.enrolled.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
    }

    fn identify<'a>(
        &'a self,
        probe: &'a [Record],
        request: &'a IdentifyRequest,
    ) -> BoxFuture<'a, Result<Vec<AbisCandidate>, Error>> {
        Box::pin(async move {
            // The probe is not enrolled: it is shelved under a one-time reference id.
            let probe_id = format!("probe-{}", hex::encode(getrandom_16()?));
            let mut message = self.message("mosip.abis.identify", &probe_id, true)?;
            message.gallery = request.gallery.as_ref().map(|g| Gallery {
                reference_ids: g.iter().map(|r| GalleryEntry { reference_id: r.clone() }).collect(),
            });
            // targetFPIR in MOSIP's convention: -10·log10(rate), so 1e-6 is "60".
            let fpir = (-10.0 * request.target.value().log10()).round();
            message.flags =
                Some(Flags { max_results: request.max_results.to_string(), target_fpir: format!("{fpir}") });
            self.shelf.put(&probe_id, cbeff(probe, &message.requesttime));
            let answer = self.call(&message).await;
            self.shelf.take(&probe_id);
            let answer = answer?;
            Ok(answer
                .candidate_list
                .map(|l| l.candidates)
                .unwrap_or_default()
                .into_iter()
                .take(request.max_results)
                .map(|c| AbisCandidate {
                    false_match_rate: c
                        .analytics
                        .get("falseMatchRate")
                        .and_then(|v| v.as_f64().or_else(|| v.as_str()?.parse().ok()))
                        .unwrap_or(request.target.value()),
                    reference_id: c.reference_id,
                    fingers: Vec::new(),
                })
                .collect())
        })
    }

    fn delete<'a>(&'a self, reference_id: &'a str) -> BoxFuture<'a, Result<bool, Error>> {
        Box::pin(async move {
            check_reference(reference_id)?;
            let message = self.message("mosip.abis.delete", reference_id, false)?;
            match self.call(&message).await {
                Ok(_) => {
                    let _ = self.enrolled.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
                    Ok(true)
                }
                Err(e) if e.to_string().contains("(6)") => Ok(false),
                Err(e) => Err(e),
            }
        })
    }

    /// What this connector inserted since it was made (the ABIS itself holds the truth).
    fn len(&self) -> usize {
        self.enrolled.load(Ordering::Relaxed)
    }
}
