//! Remote signing end to end, on SQLite and PostgreSQL: an agency client (client credentials,
//! `sign` scope) creates a request, a citizen with a software passkey sees it and approves, the
//! agency collects CAdES signatures that `openssl cms -verify` accepts for the documents and
//! rejects for altered ones. Refusal, replay, the wrong citizen and bad input are refused.

use std::{path::Path, process::Command};

use base64::Engine;
use serde_json::{Value, json};

use crate::{
    authenticator::{Authenticator, ResidentSoftPasskey},
    both_backends,
    citizen::{self, Browser},
    support::{self, Backend, http},
};

const BACK: &str = "http://localhost:9/signed";

fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl must be installed");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

pub(crate) async fn token(base: &str, id: &str, secret: &str, scope: &str) -> String {
    let r = http()
        .post(format!("{base}/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_string()
}

async fn create(base: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut r = http().post(format!("{base}/sign/requests")).json(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn result(base: &str, token: &str, id: &str) -> (u16, Value) {
    let r = http().get(format!("{base}/sign/requests/{id}")).bearer_auth(token).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, data))
}

/// The citizen's side: the page, then the passkey approval; the finish answer.
pub(crate) async fn approve(b: &Browser, key: &mut impl Authenticator, approve_url: &str) -> (u16, Value) {
    let path = approve_url.split_once("/sign/").map(|(_, p)| format!("/sign/{p}")).unwrap();
    let req = path.split("req=").nth(1).unwrap().to_string();
    let (s, _, page) = b.get(&path).await;
    if s != 200 {
        return (s, Value::String(page));
    }
    let csrf = citizen::csrf_of(&page);
    let (s, start) = b.post_json("/sign/approve/start", &csrf, json!({"req": req})).await;
    if s != 200 {
        return (s, start);
    }
    let cred = key.get(&b.base, &start["options"]);
    b.post_json("/sign/approve/finish", &csrf, json!({"ceremony": start["ceremony"], "req": req, "credential": cred}))
        .await
}

async fn sign_through_the_flow(backend: Backend) {
    let Some(idp) = support::start(backend).await else { return };
    let state = idp.state();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let code = citizen::import_and_issue(&idp, "10101001234").await;
    let b = Browser::new(&idp.base);
    let mut key = ResidentSoftPasskey::new();
    citizen::activate(&b, &mut key, "10101001234", &code).await;
    idp::pki::init(state, idp::domain::now()).await.unwrap();

    // The agency's web application: it logs citizens in and asks them to sign.
    let mut meta = support::api_client("Business licensing", "openid sign");
    meta.redirect_uris = vec![idp::domain::client::RedirectUri::parse(BACK).unwrap()];
    meta.grant_types.push(idp::domain::client::GrantType::AuthorizationCode);
    let (id, secret) = support::register(&idp, meta).await;
    let secret = secret.unwrap();
    let (other_id, other_secret) = support::register(&idp, support::api_client("Other agency", "api")).await;
    let at = token(&idp.base, &id, &secret, "sign").await;
    let other_at = token(&idp.base, &other_id, &other_secret.unwrap(), "api").await;

    let application = b"Application for a trade licence: Pema Enterprises, Paro".to_vec();
    let annex = b"Annex: floor plan of the shop".to_vec();
    let body = json!({
        "documents": [
            {"title": "Trade licence application", "digest": sha256_hex(&application)},
            {"title": "Annex: floor plan", "digest": base64::engine::general_purpose::STANDARD.encode(ring::digest::digest(&ring::digest::SHA256, &annex))},
        ],
        "return_url": BACK,
    });

    // Only an agency token with the sign scope may ask, and only for good input.
    assert_eq!(create(&idp.base, None, &body).await.0, 401);
    assert_eq!(create(&idp.base, Some(&other_at), &body).await.0, 403);
    assert_eq!(create(&idp.base, Some("not.a.token"), &body).await.0, 401);
    let mut bad = body.clone();
    bad["return_url"] = "https://evil.example/signed".into();
    assert_eq!(create(&idp.base, Some(&at), &bad).await.0, 400, "unregistered return_url");
    let mut bad = body.clone();
    bad["documents"][0]["digest"] = "00ff".into();
    assert_eq!(create(&idp.base, Some(&at), &bad).await.0, 400, "not a SHA-256 digest");
    let mut bad = body.clone();
    bad["extra"] = 1.into();
    assert_eq!(create(&idp.base, Some(&at), &bad).await.0, 400, "unknown field");

    let (s, created) = create(&idp.base, Some(&at), &body).await;
    assert_eq!(s, 201, "{created}");
    let req_id = created["request_id"].as_str().unwrap().to_string();
    let approve_url = created["approve_url"].as_str().unwrap().to_string();
    assert_eq!(result(&idp.base, &at, &req_id).await.1["status"], "pending");
    assert_eq!(result(&idp.base, &other_at, &req_id).await.0, 403, "another client cannot read it");

    // The page shows the agency and every title.
    let (s, _, page) = b.get(&approve_url.replace(&idp.base, "")).await;
    assert_eq!(s, 200);
    assert!(
        page.contains("Business licensing") && page.contains("Trade licence application") && page.contains("Annex")
    );

    // A digital ID not yet proven at a registration centre cannot sign: refused, nothing signed.
    let (s, fin) = approve(&b, &mut key, &approve_url).await;
    assert_eq!(s, 400, "{fin}");
    assert!(fin["error"].as_str().is_some_and(|e| e.contains("registration centre")), "{fin}");
    assert_eq!(result(&idp.base, &at, &req_id).await.1["status"], "pending");
    citizen::raise_to_high(&idp, "10101001234").await;

    // Approve: the finish answer sends the browser back to the agency.
    let (s, fin) = approve(&b, &mut key, &approve_url).await;
    assert_eq!(s, 200, "{fin}");
    let back = fin["redirect"].as_str().unwrap();
    assert!(back.starts_with(BACK) && back.contains("status=signed") && back.contains(&req_id), "{back}");
    // A second approval of the same request does nothing.
    let (s, again) = approve(&b, &mut key, &approve_url).await;
    assert_eq!(s, 400, "{again}");

    // The agency collects the signatures; openssl verifies them against the published root.
    let (s, done) = result(&idp.base, &at, &req_id).await;
    assert_eq!(s, 200);
    assert_eq!(done["status"], "signed", "{done}");
    let root = http().get(idp.url("/ca/root.crt")).send().await.unwrap().bytes().await.unwrap();
    std::fs::write(d.join("root.der"), root).unwrap();
    assert!(openssl(d, &["x509", "-inform", "DER", "-in", "root.der", "-out", "root.pem"]).0);
    let sigs = done["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 2);
    for (i, (sig, doc)) in sigs.iter().zip([&application, &annex]).enumerate() {
        let der = base64::engine::general_purpose::STANDARD.decode(sig["cms"].as_str().unwrap()).unwrap();
        std::fs::write(d.join(format!("sig{i}.p7s")), der).unwrap();
        std::fs::write(d.join(format!("doc{i}")), doc).unwrap();
        for extra in [&[][..], &["-cades"][..]] {
            let mut args = vec!["cms", "-verify", "-binary", "-inform", "DER", "-in"];
            let (s, c) = (format!("sig{i}.p7s"), format!("doc{i}"));
            args.extend([s.as_str(), "-content", c.as_str(), "-CAfile", "root.pem", "-out", "/dev/null"]);
            args.extend(extra);
            let (ok, out) = openssl(d, &args);
            assert!(ok && out.contains("Verification successful"), "document {i} {extra:?}: {out}");
        }
        std::fs::write(d.join(format!("doc{i}")), b"something else").unwrap();
        let (ok, _) = openssl(
            d,
            &[
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-in",
                &format!("sig{i}.p7s"),
                "-content",
                &format!("doc{i}"),
                "-CAfile",
                "root.pem",
                "-out",
                "/dev/null",
            ],
        );
        assert!(!ok, "a changed document must not verify");
        let (_, printed) = openssl(d, &["cms", "-cmsout", "-print", "-inform", "DER", "-in", &format!("sig{i}.p7s")]);
        assert!(printed.contains("id-smime-aa-timeStampToken"), "B-T: a signature timestamp");
        assert!(printed.contains("IDCBT-10101001234"), "signed by the citizen's certificate");
    }

    // The verification service: anyone may check a signature; the CID is not told to them.
    let verify = |sig: &str, document: &[u8]| {
        let url = idp.url("/sign/verify");
        let body = json!({"signature": sig, "document": base64::engine::general_purpose::STANDARD.encode(document)});
        async move { http().post(url).json(&body).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let v = verify(sigs[0]["cms"].as_str().unwrap(), &application).await;
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["signer"], "Karma Wangchuk");
    assert!(v.get("cid").is_none(), "no CID for an anonymous caller: {v}");
    assert_eq!(v["certificate_status"], "good");
    assert!(v["timestamp"]["time"].is_i64() && v["signing_time"] == v["timestamp"]["time"], "{v}");
    let v = verify(sigs[0]["cms"].as_str().unwrap(), &annex).await;
    assert_eq!(v["valid"], false, "another document: {v}");
    assert!(v["reason"].as_str().unwrap().contains("digest"), "{v}");
    let r =
        http().post(idp.url("/sign/verify")).json(&json!({"signature": "%%%", "digest": "00"})).send().await.unwrap();
    assert_eq!(r.status(), 400);

    // Refusal reaches the agency too; a refused request cannot be approved.
    let (_, second) = create(&idp.base, Some(&at), &body).await;
    let second_id = second["request_id"].as_str().unwrap();
    let path = format!("/sign/approve?req={second_id}");
    let csrf = b.csrf(&path).await;
    let (s, loc, _) = b.post_form("/sign/refuse", &[("csrf", &csrf), ("req", second_id)]).await;
    assert_eq!(s, 303);
    assert!(loc.unwrap().contains("status=refused"));
    assert_eq!(result(&idp.base, &at, second_id).await.1["status"], "refused");
    let (s, _) = approve(&b, &mut key, &format!("{}{path}", idp.base)).await;
    assert_eq!(s, 400);
    let (s, _, _) = b.post_form("/sign/refuse", &[("csrf", "forged"), ("req", second_id)]).await;
    assert_eq!(s, 403, "refusing needs the page's CSRF token");

    // A request bound to another citizen cannot be approved by this one.
    let mut bound = body.clone();
    bound["cid"] = "11512000123".into();
    let (_, third) = create(&idp.base, Some(&at), &bound).await;
    let (s, why) = approve(&b, &mut key, third["approve_url"].as_str().unwrap()).await;
    assert_eq!(s, 400, "{why}");
    assert_eq!(result(&idp.base, &at, third["request_id"].as_str().unwrap()).await.1["status"], "pending");

    // An approval made for one request is refused for another (its challenge commits to the
    // first request's documents), and neither is signed by it.
    let (_, a) = create(&idp.base, Some(&at), &body).await;
    let mut other_docs = body.clone();
    other_docs["documents"][0]["digest"] = sha256_hex(b"a different contract").into();
    let (_, bq) = create(&idp.base, Some(&at), &other_docs).await;
    let (a_id, b_id) = (a["request_id"].as_str().unwrap(), bq["request_id"].as_str().unwrap());
    let csrf = b.csrf(&format!("/sign/approve?req={a_id}")).await;
    let (_, start) = b.post_json("/sign/approve/start", &csrf, json!({"req": a_id})).await;
    let cred = key.get(&b.base, &start["options"]);
    let (s, _) = b
        .post_json(
            "/sign/approve/finish",
            &csrf,
            json!({"ceremony": start["ceremony"], "req": b_id, "credential": cred}),
        )
        .await;
    assert_eq!(s, 400, "an approval for other digests");
    // The ceremony was consumed by that attempt: the same assertion cannot be replayed for A.
    let (s, _) = b
        .post_json(
            "/sign/approve/finish",
            &csrf,
            json!({"ceremony": start["ceremony"], "req": a_id, "credential": cred}),
        )
        .await;
    assert_eq!(s, 400, "a replayed approval");
    for id in [a_id, b_id] {
        assert_eq!(result(&idp.base, &at, id).await.1["status"], "pending", "nothing signed");
    }

    // An expired request cannot be approved, and the agency sees it expired.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&idp.db.url).await.unwrap();
    sqlx::query("UPDATE sign_requests SET expires_at = 1 WHERE id = $1").bind(a_id).execute(&pool).await.unwrap();
    pool.close().await;
    let (s, _) = approve(&b, &mut key, &format!("{}/sign/approve?req={a_id}", idp.base)).await;
    assert_eq!(s, 400, "expired");
    assert_eq!(result(&idp.base, &at, a_id).await.1["status"], "expired");

    // After its certificate is revoked, a citizen's next signature comes from a new certificate:
    // the revoked one never signs again.
    let first_serial = done["certificate_serial"].as_str().unwrap().to_string();
    // (Times are whole seconds and a revocation in the signing's own second counts as before it,
    // so the revocation is recorded a second on, as it would be on any human time scale.)
    idp::pki::revoke(state, &first_serial, idp::pki::Reason::KeyCompromise, "operator", idp::domain::now() + 1)
        .await
        .unwrap();
    let (s, fin) = approve(&b, &mut key, bq["approve_url"].as_str().unwrap()).await;
    assert_eq!(s, 200, "{fin}");
    let (_, later) = result(&idp.base, &at, b_id).await;
    assert_ne!(later["certificate_serial"].as_str().unwrap(), first_serial);
    // A signature timestamped before its certificate was revoked stays valid, and says so.
    let v = verify(sigs[0]["cms"].as_str().unwrap(), &application).await;
    assert_eq!(v["valid"], true, "{v}");
    assert!(v["certificate_status"].as_str().unwrap().starts_with("revoked later"), "{v}");

    // A tampered CMS does not verify.
    let mut der =
        base64::engine::general_purpose::STANDARD.decode(later["signatures"][0]["cms"].as_str().unwrap()).unwrap();
    // Flip a bit of the signed messageDigest attribute (the document's SHA-256 inside the CMS).
    let contract = b"a different contract";
    let digest = ring::digest::digest(&ring::digest::SHA256, contract);
    let at_digest = der.windows(32).position(|w| w == digest.as_ref()).expect("the digest is in the signed attributes");
    der[at_digest] ^= 0x01;
    std::fs::write(d.join("tampered.p7s"), der).unwrap();
    std::fs::write(d.join("doc0"), contract).unwrap();
    std::fs::write(
        d.join("untampered.p7s"),
        base64::engine::general_purpose::STANDARD.decode(later["signatures"][0]["cms"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let (ok, out) = openssl(
        d,
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "untampered.p7s",
            "-content",
            "doc0",
            "-CAfile",
            "root.pem",
            "-out",
            "/dev/null",
        ],
    );
    assert!(ok, "the new certificate's signature verifies: {out}");
    let (ok, _) = openssl(
        d,
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "tampered.p7s",
            "-content",
            "doc0",
            "-CAfile",
            "root.pem",
            "-out",
            "/dev/null",
        ],
    );
    assert!(!ok, "a tampered CMS must not verify");

    // Another active citizen cannot approve a request bound to Pema, not even by ignoring the
    // allowCredentials the page was given and answering with their own passkey.
    let pema_code = {
        let cid = idp::domain::cid::Cid::parse("11512000123").unwrap();
        state.issue_citizen(&cid, "operator", idp::domain::now()).await.unwrap().activation_code
    };
    let pb = Browser::new(&idp.base);
    citizen::activate(&pb, &mut ResidentSoftPasskey::new(), "11512000123", &pema_code).await;
    let mut for_pema = body.clone();
    for_pema["cid"] = "11512000123".into();
    let (_, fp) = create(&idp.base, Some(&at), &for_pema).await;
    let fp_id = fp["request_id"].as_str().unwrap();
    let csrf = b.csrf(&format!("/sign/approve?req={fp_id}")).await;
    let (s, start) = b.post_json("/sign/approve/start", &csrf, json!({"req": fp_id})).await;
    assert_eq!(s, 200, "{start}");
    assert_eq!(
        start["options"]["publicKey"]["allowCredentials"].as_array().map(Vec::len),
        Some(1),
        "Pema's passkey only"
    );
    let mut options = start["options"].clone();
    options["publicKey"]["allowCredentials"] = json!([]);
    let cred = key.get(&b.base, &options);
    let (s, _) = b
        .post_json(
            "/sign/approve/finish",
            &csrf,
            json!({"ceremony": start["ceremony"], "req": fp_id, "credential": cred}),
        )
        .await;
    assert_eq!(s, 400, "Karma's passkey does not approve Pema's request");
    assert_eq!(result(&idp.base, &at, fp_id).await.1["status"], "pending");

    // A closed digital ID signs nothing.
    let (_, last) = create(&idp.base, Some(&at), &body).await;
    let cid = idp::domain::cid::Cid::parse("10101001234").unwrap();
    state.close_citizen(&cid, idp::app::CloseReason::Compromised, "operator", idp::domain::now()).await.unwrap();
    let (s, _) = approve(&b, &mut key, last["approve_url"].as_str().unwrap()).await;
    assert_eq!(s, 400, "closed");
    assert_eq!(result(&idp.base, &at, last["request_id"].as_str().unwrap()).await.1["status"], "pending");

    let events: Vec<String> =
        idp::store::audit::page(&state.db, 0, 1000).await.unwrap().into_iter().map(|e| e.body.event).collect();
    for e in ["sign_requested", "sign_approved", "sign_refused", "certificate_issued"] {
        assert!(events.iter().any(|x| x == e), "{e} audited");
    }
    idp.stop().await;
}
both_backends!(sign_through_the_flow);
