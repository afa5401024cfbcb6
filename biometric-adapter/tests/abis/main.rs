//! The MOSIP ABIS connector against a vendor ABIS over real HTTP. The vendor here is a test
//! double speaking MOSIP's ABIS contract: it takes insert/identify/delete messages, fetches the
//! biometrics from each message's referenceURL (CBEFF XML served from the connector's shelf),
//! and matches with this crate's own matcher.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::{sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::IntoResponse,
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use biometric_adapter::{
    abis::{
        Abis, IdentifyRequest, MemoryAbis,
        mosip::{MosipAbis, ReferenceShelf},
    },
    population::{FINGERS, NoiseParams, Population},
    template::{self, Record},
};
use serde_json::{Value, json};

fn records(p: &Population, person: u64, capture: u32) -> Vec<Record> {
    FINGERS
        .iter()
        .map(|&f| {
            let mut rng = p.capture_rng(person, f, capture).unwrap();
            p.impression(person, f, &NoiseParams::default(), &mut rng).unwrap().to_record().unwrap()
        })
        .collect()
}

async fn serve(app: Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

/// The vendor ABIS double: its own gallery, fed from referenceURLs.
#[derive(Clone)]
struct Vendor {
    gallery: MemoryAbis,
    http: reqwest::Client,
    /// Answer with another requestId (a confused or hostile ABIS).
    confused: bool,
}

fn bdbs(xml: &str) -> Vec<Record> {
    xml.split("<BDB>")
        .skip(1)
        .map(|s| template::parse(&STANDARD.decode(s.split("</BDB>").next().unwrap()).unwrap()).unwrap())
        .collect()
}

async fn vendor(State(v): State<Arc<Vendor>>, Json(m): Json<Value>) -> impl IntoResponse {
    let id = m["id"].as_str().unwrap_or_default().to_string();
    let request_id = if v.confused { "someone-else".to_string() } else { m["requestId"].as_str().unwrap().to_string() };
    let reply = |rv: &str, reason: Option<&str>, extra: Value| {
        let mut r =
            json!({"id": id, "requestId": request_id, "responsetime": "2026-11-28T00:00:00Z", "returnValue": rv});
        if let Some(reason) = reason {
            r["failureReason"] = reason.into();
        }
        if let Value::Object(e) = extra {
            r.as_object_mut().unwrap().extend(e);
        }
        Json(r)
    };
    let reference = m["referenceId"].as_str().unwrap_or_default();
    let fetch = || async {
        let url = m["referenceURL"].as_str().unwrap();
        let r = v.http.get(url).send().await.unwrap();
        if r.status() != 200 {
            return None;
        }
        Some(bdbs(&r.text().await.unwrap()))
    };
    match id.as_str() {
        "mosip.abis.insert" => {
            let Some(fingers) = fetch().await else { return reply("2", Some("4"), json!({})) };
            match v.gallery.insert(reference, &fingers).await {
                Ok(()) => reply("1", None, json!({})),
                Err(_) => reply("2", Some("5"), json!({})),
            }
        }
        "mosip.abis.identify" => {
            let Some(probe) = fetch().await else { return reply("2", Some("4"), json!({})) };
            let gallery = m["gallery"]["referenceIds"]
                .as_array()
                .map(|a| a.iter().map(|r| r["referenceId"].as_str().unwrap().to_string()).collect());
            let fpir: f64 = m["flags"]["targetFPIR"].as_str().unwrap().parse().unwrap();
            let target = biometric_adapter::matcher::FalseMatchRate::new(10f64.powf(-fpir / 10.0)).unwrap();
            let request = IdentifyRequest {
                target,
                max_results: m["flags"]["maxResults"].as_str().unwrap().parse().unwrap(),
                gallery,
            };
            let found = v.gallery.identify(&probe, &request).await.unwrap();
            let candidates: Vec<Value> = found
                .iter()
                .map(|c| json!({"referenceId": c.reference_id, "analytics": {"falseMatchRate": c.false_match_rate}}))
                .collect();
            reply(
                "1",
                None,
                json!({"candidateList": {"count": candidates.len().to_string(), "candidates": candidates}}),
            )
        }
        "mosip.abis.delete" => match v.gallery.delete(reference).await {
            Ok(true) => reply("1", None, json!({})),
            _ => reply("2", Some("6"), json!({})),
        },
        _ => reply("2", Some("8"), json!({})),
    }
}

async fn shelf_route(State(shelf): State<ReferenceShelf>, Path(id): Path<String>) -> impl IntoResponse {
    match shelf.get(&id) {
        Some(xml) => (StatusCode::OK, xml).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A connector, its shelf served over HTTP, and a vendor ABIS.
async fn setup(confused: bool) -> MosipAbis {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let v = Arc::new(Vendor { gallery: MemoryAbis::new(), http: reqwest::Client::new(), confused });
    let vendor_port = serve(Router::new().route("/abis", post(vendor)).with_state(v)).await;
    // The shelf's port must be known before the connector exists: serve a placeholder shelf
    // route that reads from the connector's shelf once it is made.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shelf_port = listener.local_addr().unwrap().port();
    let abis = MosipAbis::new(
        format!("http://127.0.0.1:{vendor_port}/abis").parse().unwrap(),
        format!("http://127.0.0.1:{shelf_port}/references/").parse().unwrap(),
        Duration::from_secs(10),
    )
    .unwrap();
    let app = Router::new().route("/references/{id}", get(shelf_route)).with_state(abis.shelf().clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    abis
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_identify_delete_through_the_mosip_contract() {
    let abis = setup(false).await;
    let p = Population::new(23);
    for person in 0..30 {
        abis.insert(&format!("ref-{person}"), &records(&p, person, 0)).await.unwrap();
    }
    assert_eq!(abis.len(), 30);
    assert!(abis.shelf().get("ref-3").is_none(), "nothing stays on the shelf after the answer");

    // The same person, captured again, is found; a stranger is not.
    let found = abis.identify(&records(&p, 7, 1), &IdentifyRequest::default()).await.unwrap();
    assert_eq!(found.iter().map(|c| c.reference_id.as_str()).collect::<Vec<_>>(), ["ref-7"]);
    assert!(found[0].false_match_rate < 1e-6);
    assert!(abis.identify(&records(&p, 99, 0), &IdentifyRequest::default()).await.unwrap().is_empty());
    // The gallery flag limits the search.
    let only = IdentifyRequest { gallery: Some(vec!["ref-1".into(), "ref-2".into()]), ..IdentifyRequest::default() };
    assert!(abis.identify(&records(&p, 7, 2), &only).await.unwrap().is_empty());

    // The ABIS's refusals come back as errors with MOSIP's reason.
    let e = abis.insert("ref-7", &records(&p, 7, 3)).await.unwrap_err().to_string();
    assert!(e.contains("already in the ABIS (5)"), "{e}");
    assert!(abis.insert("../etc", &records(&p, 1, 0)).await.is_err(), "reference ids are checked");
    assert!(abis.delete("ref-7").await.unwrap());
    assert!(!abis.delete("ref-7").await.unwrap(), "deleted once");
    assert!(abis.identify(&records(&p, 7, 4), &IdentifyRequest::default()).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confused_or_absent_abis_is_an_error() {
    let p = Population::new(5);
    let confused = setup(true).await;
    let e = confused.insert("ref-1", &records(&p, 1, 0)).await.unwrap_err().to_string();
    assert!(e.contains("another request"), "{e}");
    assert_eq!(confused.len(), 0);
    let gone = MosipAbis::new(
        "http://127.0.0.1:9/abis".parse().unwrap(),
        "http://127.0.0.1:9/references/".parse().unwrap(),
        Duration::from_secs(2),
    )
    .unwrap();
    let e = gone.identify(&records(&p, 1, 0), &IdentifyRequest::default()).await.unwrap_err().to_string();
    assert!(e.contains("could not be reached"), "{e}");
}
