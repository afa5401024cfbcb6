//! Life events through the registry API, as the civil-registration agency calls it: a birth
//! adds the child with a new CID, a death closes the digital ID at once (no more login, the
//! signing certificate revoked). Retries with the same reference change nothing; bad input and
//! callers without the scope change nothing either. SQLite and PostgreSQL.

use serde_json::{Value, json};

use crate::{
    authenticator::{Authenticator, ResidentSoftPasskey},
    both_backends,
    citizen::{self, Browser},
    signing::token,
    support::{self, Backend, http},
};

async fn post(base: &str, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut r = http().post(format!("{base}{path}")).json(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn persons(idp: &support::TestIdp) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&idp.db.url).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM persons").fetch_one(&pool).await.unwrap();
    pool.close().await;
    n
}

async fn births_and_deaths(backend: Backend) {
    let Some(idp) = support::start(backend).await else { return };
    let state = idp.state();
    let code = citizen::import_and_issue(&idp, "10101001234").await;
    let b = Browser::new(&idp.base);
    let mut key = ResidentSoftPasskey::new();
    citizen::activate(&b, &mut key, "10101001234", &code).await;
    let now = idp::domain::now();
    idp::pki::init(state, now).await.unwrap();
    let account = idp::store::login::account_by_cid(&state.db, "10101001234").await.unwrap().unwrap().id;
    idp::pki::citizen_certificate(state, &account, "operator", now).await.unwrap();

    let (dcrc, secret) =
        support::register(&idp, support::api_client("Civil Registration", "registry.births registry.deaths")).await;
    let at = token(&idp.base, &dcrc, &secret.unwrap(), "registry.births registry.deaths").await;
    let (other, other_secret) = support::register(&idp, support::api_client("Trade", "sign")).await;
    let other_at = token(&idp.base, &other, &other_secret.unwrap(), "sign").await;

    let birth = json!({
        "reference": "BR-2026-000017",
        "given_name": "Sonam", "family_name": "Wangmo",
        "date_of_birth": "2026-11-20", "sex": "F",
        "dzongkhag": "Paro", "gewog": "Lungnyi", "village": "Jiwna", "household_number": "7",
        "mother_cid": "11512000123",
    });
    // Without the scope, without a token, or with bad input: refused, nothing stored.
    let before = persons(&idp).await;
    assert_eq!(post(&idp.base, "/registry/births", None, &birth).await.0, 401);
    assert_eq!(post(&idp.base, "/registry/births", Some(&other_at), &birth).await.0, 403);
    for (field, value) in [
        ("date_of_birth", json!("2999-01-01")),
        ("dzongkhag", json!("Atlantis")),
        ("sex", json!("Q")),
        ("mother_cid", json!("19999999999")),
        ("given_name", json!("")),
        ("reference", json!("has spaces")),
        ("extra", json!(1)),
    ] {
        let mut bad = birth.clone();
        bad[field] = value;
        let (s, e) = post(&idp.base, "/registry/births", Some(&at), &bad).await;
        assert_eq!(s, 400, "{field}: {e}");
        assert!(e["error_description"].as_str().is_some_and(|d| !d.is_empty()), "{e}");
    }
    assert_eq!(persons(&idp).await, before, "nothing stored");

    // A birth: a new person with a new CID; the same reference again is the same answer.
    let (s, first) = post(&idp.base, "/registry/births", Some(&at), &birth).await;
    assert_eq!(s, 201, "{first}");
    let child = first["cid"].as_str().unwrap().to_string();
    let person =
        idp::store::registry::person(&state.db, &idp::domain::cid::Cid::parse(&child).unwrap()).await.unwrap().unwrap();
    assert_eq!(
        (person.given_name.as_str(), person.dzongkhag.as_str(), person.status.as_str()),
        ("Sonam", "Paro", "alive")
    );
    let (s, again) = post(&idp.base, "/registry/births", Some(&at), &birth).await;
    assert_eq!((s, again["cid"].as_str(), again["created"].as_bool()), (200, Some(child.as_str()), Some(false)));
    assert_eq!(persons(&idp).await, before + 1);
    let mut twin = birth.clone();
    twin["reference"] = "BR-2026-000018".into();
    let (s, second) = post(&idp.base, "/registry/births", Some(&at), &twin).await;
    assert_eq!(s, 201);
    assert_ne!(second["cid"], first["cid"], "every birth its own CID");

    // A death: recorded, the digital ID closed, the signing certificate revoked.
    let death = json!({"reference": "DR-2026-000003", "cid": "10101001234", "date_of_death": "2026-11-27"});
    assert_eq!(post(&idp.base, "/registry/deaths", Some(&other_at), &death).await.0, 403);
    let mut bad = death.clone();
    bad["date_of_death"] = "2999-01-01".into();
    assert_eq!(post(&idp.base, "/registry/deaths", Some(&at), &bad).await.0, 400);
    let mut bad = death.clone();
    bad["reference"] = "BR-2026-000017".into();
    assert_eq!(post(&idp.base, "/registry/deaths", Some(&at), &bad).await.0, 400, "a birth's reference");
    let (s, d) = post(&idp.base, "/registry/deaths", Some(&at), &death).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!((d["digital_id_closed"].as_bool(), d["certificates_revoked"].as_u64()), (Some(true), Some(1)));
    assert_eq!(idp::store::login::account(&state.db, &account).await.unwrap().unwrap().status, "closed");
    let certs = idp::store::pki::certificates_of(&state.db, &account).await.unwrap();
    assert!(certs.iter().all(|c| c.revoked_at.is_some()));
    let (s, again) = post(&idp.base, "/registry/deaths", Some(&at), &death).await;
    assert_eq!((s, again["created"].as_bool()), (200, Some(false)), "a retry");
    let mut other_ref = death.clone();
    other_ref["reference"] = "DR-2026-000004".into();
    let (s, e) = post(&idp.base, "/registry/deaths", Some(&at), &other_ref).await;
    assert!(s == 400 && e["error_description"].as_str().unwrap().contains("already"), "{e}");
    // The dead person's passkey no longer logs in.
    let lb = Browser::new(&idp.base);
    let csrf = lb.csrf("/login").await;
    let (s, start) = lb.post_json("/login/passkey/start", &csrf, json!({})).await;
    assert_eq!(s, 200, "{start}");
    let cred = key.get(&lb.base, &start["options"]);
    let (s, fin) =
        lb.post_json("/login/passkey/finish", &csrf, json!({"ceremony": start["ceremony"], "credential": cred})).await;
    assert_ne!(s, 200, "a closed digital ID logs in no more: {fin}");

    let events: Vec<String> =
        idp::store::audit::page(&state.db, 0, 1000).await.unwrap().into_iter().map(|e| e.body.event).collect();
    assert_eq!(events.iter().filter(|e| *e == "birth_registered").count(), 2);
    assert!(events.iter().any(|e| e == "death_registered") && events.iter().any(|e| e == "citizen_closed"));
    idp.stop().await;
}
both_backends!(births_and_deaths);
