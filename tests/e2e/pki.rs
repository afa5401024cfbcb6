//! The signer's PKI as relying parties and ordinary tools see it: the CA chain, CRLs, OCSP and
//! the timestamping authority served by a running idp, judged by the `openssl` command line
//! (which no one here wrote), on SQLite and PostgreSQL; and the `idp ca` operator commands.

use std::{path::Path, process::Command};

use idp::pki::{self, Reason};

use crate::{
    authenticator::ResidentSoftPasskey,
    both_backends, citizen,
    cluster::{cli, envs, free_port, idp_binary, start},
    support::{self, Backend},
};

/// Runs openssl; (success, stdout + stderr).
fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl must be installed");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

async fn get(url: &str) -> (u16, Vec<u8>) {
    let r = support::http().get(url).send().await.unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

async fn post(url: &str, content_type: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
    let r = support::http().post(url).header("content-type", content_type).body(body).send().await.unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

/// OCSP through `openssl ocsp -url` against the server: the status line for `cert.pem`.
fn ocsp_status(dir: &Path, base: &str) -> String {
    let (ok, out) = openssl(
        dir,
        &[
            "ocsp",
            "-issuer",
            "issuing.pem",
            "-cert",
            "cert.pem",
            "-url",
            &format!("{base}/ocsp"),
            "-CAfile",
            "root.pem",
        ],
    );
    assert!(ok, "openssl ocsp: {out}");
    assert!(out.contains("Response verify OK"), "{out}");
    out.lines().find(|l| l.starts_with("cert.pem:")).unwrap_or_default().to_string()
}

async fn pki_endpoints_answer_openssl(backend: Backend) {
    let Some(idp) = support::start(backend).await else { return };
    let state = idp.state();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let code = citizen::import_and_issue(&idp, "10101001234").await;
    let account = idp::store::login::account_by_cid(&state.db, "10101001234").await.unwrap().unwrap().id;
    let now = idp::domain::now();

    // Before `ca init` there is nothing to serve, and nothing is invented.
    assert_eq!(get(&idp.url("/ca/chain.pem")).await.0, 404);
    assert_eq!(get(&idp.url("/ca/crl")).await.0, 404);
    assert_eq!(post(&idp.url("/tsa"), "application/timestamp-query", vec![0x30, 0]).await.0, 404);
    assert!(pki::citizen_certificate(state, &account, "operator", now).await.is_err());

    let made = pki::init(state, now).await.unwrap();
    assert_eq!(made.iter().map(|c| c.role.as_str()).collect::<Vec<_>>(), ["root", "issuing", "ocsp", "tsa"]);
    assert!(pki::init(state, now).await.is_err(), "a CA is made once");

    // The chain, and each certificate as DER (what caIssuers points at).
    let (s, chain) = get(&idp.url("/ca/chain.pem")).await;
    assert_eq!(s, 200);
    std::fs::write(d.join("chain.pem"), &chain).unwrap();
    for (path, file) in [("/ca/root.crt", "root"), ("/ca/issuing.crt", "issuing")] {
        let (s, der) = get(&idp.url(path)).await;
        assert_eq!(s, 200);
        std::fs::write(d.join(format!("{file}.der")), der).unwrap();
        let (ok, out) =
            openssl(d, &["x509", "-inform", "DER", "-in", &format!("{file}.der"), "-out", &format!("{file}.pem")]);
        assert!(ok, "{out}");
    }
    let (ok, out) = openssl(d, &["verify", "-CAfile", "root.pem", "issuing.pem"]);
    assert!(ok, "the issuing CA chains to the root: {out}");

    // A citizen's signing certificate, issued once and then the same one.
    // Only an activated digital ID gets one.
    assert!(pki::citizen_certificate(state, &account, "operator", now).await.is_err());
    citizen::activate(&citizen::Browser::new(&idp.base), &mut ResidentSoftPasskey::new(), "10101001234", &code).await;
    let c = pki::citizen_certificate(state, &account, "operator", now).await.unwrap();
    assert!(c.issued);
    let again = pki::citizen_certificate(state, &account, "operator", now).await.unwrap();
    assert!(!again.issued);
    assert_eq!(again.serial, c.serial);
    std::fs::write(d.join("cert.pem"), &c.pem).unwrap();
    let (ok, out) = openssl(d, &["verify", "-CAfile", "root.pem", "-untrusted", "issuing.pem", "cert.pem"]);
    assert!(ok, "{out}");
    let (_, text) = openssl(d, &["x509", "-in", "cert.pem", "-noout", "-subject"]);
    assert!(text.contains("IDCBT-10101001234"), "{text}");

    // OCSP says good; the CRL verifies and does not list it.
    assert!(ocsp_status(d, &idp.base).ends_with("good"));
    let fetch_crl = |name: &'static str| {
        let url = idp.url("/ca/crl");
        async move {
            let (s, der) = get(&url).await;
            assert_eq!(s, 200);
            std::fs::write(d.join(format!("{name}.der")), der).unwrap();
            let (ok, out) =
                openssl(d, &["crl", "-inform", "DER", "-in", &format!("{name}.der"), "-out", &format!("{name}.pem")]);
            assert!(ok, "{out}");
            let (ok, out) = openssl(d, &["crl", "-in", &format!("{name}.pem"), "-CAfile", "chain.pem", "-noout"]);
            assert!(ok && out.contains("verify OK"), "the CRL is signed by the issuing CA: {out}");
        }
    };
    fetch_crl("crl1").await;
    let (ok, out) = openssl(
        d,
        &[
            "verify",
            "-crl_check",
            "-CRLfile",
            "crl1.pem",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "cert.pem",
        ],
    );
    assert!(ok, "not revoked yet: {out}");

    // Revoked: OCSP and a fresh CRL say so at once.
    pki::revoke(state, &c.serial, Reason::KeyCompromise, "operator", now).await.unwrap();
    assert!(pki::revoke(state, &c.serial, Reason::Superseded, "operator", now).await.is_err(), "revocation is final");
    assert!(pki::revoke(state, "00ff", Reason::Unspecified, "operator", now).await.is_err(), "unknown serial");
    let status = ocsp_status(d, &idp.base);
    assert!(status.ends_with("revoked"), "{status}");
    fetch_crl("crl2").await;
    let (ok, out) = openssl(
        d,
        &[
            "verify",
            "-crl_check",
            "-CRLfile",
            "crl2.pem",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "cert.pem",
        ],
    );
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    let (_, text) = openssl(d, &["crl", "-in", "crl2.pem", "-noout", "-text"]);
    assert!(text.contains("Key Compromise") && text.contains("CRL Number"), "{text}");
    // The next certificate is a new one, with a new key.
    let next = pki::citizen_certificate(state, &account, "operator", now).await.unwrap();
    assert!(next.issued && next.serial != c.serial);

    // OCSP over GET (RFC 6960 A.1), and garbage gets a malformedRequest answer, not a crash.
    // (RFC 5019 GET requests usually carry no nonce, so that answers can be cached.)
    let (ok, out) =
        openssl(d, &["ocsp", "-issuer", "issuing.pem", "-cert", "cert.pem", "-no_nonce", "-reqout", "req.der"]);
    assert!(ok, "{out}");
    let req = std::fs::read(d.join("req.der")).unwrap();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&req);
    let enc: String = url::form_urlencoded::byte_serialize(b64.as_bytes()).collect();
    let (s, resp) = get(&idp.url(&format!("/ocsp/{enc}"))).await;
    assert_eq!(s, 200);
    std::fs::write(d.join("resp.der"), resp).unwrap();
    let (ok, out) = openssl(
        d,
        &[
            "ocsp",
            "-reqin",
            "req.der",
            "-respin",
            "resp.der",
            "-issuer",
            "issuing.pem",
            "-cert",
            "cert.pem",
            "-no_nonce",
            "-CAfile",
            "root.pem",
        ],
    );
    if !ok {
        let (_, rq) = openssl(d, &["ocsp", "-reqin", "req.der", "-req_text"]);
        let (_, rs) = openssl(d, &["ocsp", "-respin", "resp.der", "-resp_text", "-noverify"]);
        panic!("{out}\nREQUEST {rq}\nRESPONSE {rs}\nURL {enc}");
    }
    assert!(out.contains("cert.pem: revoked"), "{out}");
    let (s, resp) = post(&idp.url("/ocsp"), "application/ocsp-request", b"not a request".to_vec()).await;
    assert_eq!((s, resp), (200, vec![0x30, 0x03, 0x0a, 0x01, 0x01]), "malformedRequest");
    assert_eq!(post(&idp.url("/ocsp"), "text/plain", req.clone()).await.0, 415);
    assert_eq!(get(&idp.url("/ocsp/%%%")).await.0, 400);

    // The TSA answers `openssl ts -query`, and `openssl ts -verify` accepts the reply.
    std::fs::write(d.join("doc.txt"), "Application for a construction approval, Thimphu").unwrap();
    let (ok, out) = openssl(d, &["ts", "-query", "-data", "doc.txt", "-sha256", "-cert", "-out", "req.tsq"]);
    assert!(ok, "{out}");
    let (s, reply) =
        post(&idp.url("/tsa"), "application/timestamp-query", std::fs::read(d.join("req.tsq")).unwrap()).await;
    assert_eq!(s, 200);
    std::fs::write(d.join("reply.tsr"), reply).unwrap();
    let (ok, out) = openssl(
        d,
        &[
            "ts",
            "-verify",
            "-in",
            "reply.tsr",
            "-queryfile",
            "req.tsq",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "chain.pem",
        ],
    );
    assert!(ok && out.contains("Verification: OK"), "{out}");
    std::fs::write(d.join("other.txt"), "Another document").unwrap();
    let (ok, _) = openssl(
        d,
        &["ts", "-verify", "-in", "reply.tsr", "-data", "other.txt", "-CAfile", "root.pem", "-untrusted", "chain.pem"],
    );
    assert!(!ok, "the timestamp does not cover another document");
    assert_eq!(post(&idp.url("/tsa"), "application/octet-stream", vec![0x30, 0]).await.0, 415);

    // A death the registry records closes the digital ID and revokes its certificate at once.
    let today = time::OffsetDateTime::now_utc().date();
    let deaths = citizen::CSV.replace("HH-12,alive", "HH-12,deceased");
    let people = idp::domain::registry::parse_csv(deaths.as_bytes(), today, 100);
    state.import_registry(people, "deaths.csv", "registry-office", now, &mut |_| {}).await.unwrap().unwrap();
    let certs = idp::store::pki::certificates_of(&state.db, &account).await.unwrap();
    let newest = certs.iter().find(|c| c.serial == next.serial).unwrap();
    assert_eq!(newest.reason.as_deref(), Some("cessationOfOperation"));
    assert!(certs.iter().all(|c| c.revoked_at.is_some()));
    assert_eq!(idp::store::login::account(&state.db, &account).await.unwrap().unwrap().status, "closed");
    assert!(
        pki::citizen_certificate(state, &account, "operator", now).await.is_err(),
        "no certificate for a closed ID"
    );
    let again = idp::domain::cid::Cid::parse("10101001234").unwrap();
    assert!(state.close_citizen(&again, idp::app::CloseReason::Requested, "operator", now).await.unwrap().is_empty());

    // The root's CRL is served too, and every step above is in the audit chain.
    let (s, root_crl) = get(&idp.url("/ca/root-crl")).await;
    assert_eq!(s, 200);
    std::fs::write(d.join("root-crl.der"), root_crl).unwrap();
    let (ok, out) = openssl(d, &["crl", "-inform", "DER", "-in", "root-crl.der", "-CAfile", "root.pem", "-noout"]);
    assert!(ok && out.contains("verify OK"), "{out}");
    let events: Vec<String> =
        idp::store::audit::page(&state.db, 0, 1000).await.unwrap().into_iter().map(|e| e.body.event).collect();
    for e in ["ca_initialized", "certificate_issued", "certificate_revoked", "citizen_closed"] {
        assert!(events.iter().any(|x| x == e), "{e} audited: {events:?}");
    }
    idp.stop().await;
}
both_backends!(pki_endpoints_answer_openssl);

/// The operator's commands, through the real binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_commands() {
    let db = support::fresh_db(Backend::Sqlite).await.unwrap();
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let env = envs(&db.url, &format!("http://localhost:{port}"), port, dir.path());
    cli(&env, &["migrate"]);
    let csv = dir.path().join("registry.csv");
    std::fs::write(&csv, citizen::CSV).unwrap();
    cli(&env, &["registry", "import", csv.to_str().unwrap()]);
    let issued: serde_json::Value =
        serde_json::from_str(&cli(&env, &["citizen", "issue", "10101001234", "--json"])).unwrap();
    let server = start(&env, port).await;
    let base = format!("http://localhost:{port}");
    let code = issued["activation_code"].as_str().unwrap();
    citizen::activate(&citizen::Browser::new(&base), &mut ResidentSoftPasskey::new(), "10101001234", code).await;
    let fails = |args: &[&str]| {
        let out =
            Command::new(idp_binary()).args(args).envs(env.iter().cloned()).env_remove("IDP_CONFIG").output().unwrap();
        assert!(!out.status.success(), "idp {args:?} should fail");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    assert!(fails(&["ca", "show"]).contains("ca init"));

    let made: serde_json::Value = serde_json::from_str(&cli(&env, &["ca", "init", "--json"])).unwrap();
    assert_eq!(made.as_array().unwrap().len(), 4);
    assert!(fails(&["ca", "init"]).contains("already exists"));
    let shown: serde_json::Value = serde_json::from_str(&cli(&env, &["ca", "show", "--json"])).unwrap();
    assert_eq!(shown[0]["sha256"].as_str().map(str::len), Some(64));

    let cert: serde_json::Value = serde_json::from_str(&cli(&env, &["ca", "issue", "10101001234", "--json"])).unwrap();
    let serial = cert["serial"].as_str().unwrap();
    assert!(cert["pem"].as_str().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(fails(&["ca", "issue", "11512000123"]).contains("no digital ID"));
    assert!(fails(&["ca", "revoke", serial, "--reason", "certificateHold"]).contains("reason must be"));
    cli(&env, &["ca", "revoke", serial, "--reason", "keyCompromise"]);
    let list: serde_json::Value =
        serde_json::from_str(&cli(&env, &["ca", "certificates", "10101001234", "--json"])).unwrap();
    assert_eq!(list[0]["reason"], "keyCompromise");
    assert!(list[0]["revoked_at"].is_i64());
    assert!(cli(&env, &["ca", "root-crl"]).contains("valid until"));
    // `idp verify` says INVALID (exit 1) for a signature that is not one.
    std::fs::write(dir.path().join("doc.txt"), "a document").unwrap();
    std::fs::write(dir.path().join("doc.p7s"), [0x30, 0x03, 0x02, 0x01, 0x01]).unwrap();
    let out = Command::new(idp_binary())
        .args(["verify", dir.path().join("doc.txt").to_str().unwrap(), dir.path().join("doc.p7s").to_str().unwrap()])
        .envs(env.iter().cloned())
        .env_remove("IDP_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("INVALID"));
    assert!(cli(&env, &["audit", "verify"]).contains("intact"));
    // A CA made by the CLI while the server runs is served without a restart.
    assert_eq!(get(&format!("{base}/ca/chain.pem")).await.0, 200);
    drop(server);
}

/// The SoftHSM2 library when the PKCS#11 suite is on (`TEST_SOFTHSM2=1` or `SOFTHSM2_LIB`);
/// `None`, loudly, when it is off — a failure under `IDP_REQUIRE_ALL_SUITES=1`.
fn softhsm2() -> Option<String> {
    let lib = std::env::var("SOFTHSM2_LIB").ok();
    if lib.is_none() && std::env::var("TEST_SOFTHSM2").as_deref() != Ok("1") {
        assert!(
            std::env::var("IDP_REQUIRE_ALL_SUITES").as_deref() != Ok("1"),
            "TEST_SOFTHSM2 is not set but IDP_REQUIRE_ALL_SUITES=1: the idp's PKCS#11 suite must run"
        );
        eprintln!("SKIPPED: idp PKCS#11 suite (set TEST_SOFTHSM2=1; .ci/softhsm2 installs SoftHSM2)");
        return None;
    }
    Some(lib.unwrap_or_else(|| "/usr/lib/softhsm/libsofthsm2.so".into()))
}

/// `pki.key_store = "pkcs11"`: `idp ca init` makes the four CA keys inside a SoftHSM2 token,
/// the database keeps only their labels, and the running server signs certificates, CRLs, OCSP
/// answers and timestamps with them — each judged by openssl. A server pointed at the wrong
/// token, or with the wrong PIN, signs nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_keys_in_a_pkcs11_token() {
    let Some(module) = softhsm2() else { return };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A throwaway token directory: SoftHSM2 reads SOFTHSM2_CONF when the process loads it.
    std::fs::create_dir(d.join("tokens")).unwrap();
    let conf = d.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!("directories.tokendir = {}\nobjectstore.backend = file\n", d.join("tokens").display()),
    )
    .unwrap();
    let init = Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", "drukyul-ca", "--pin", "024680", "--so-pin", "13579111"])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .expect("softhsm2-util must be installed");
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));

    let db = support::fresh_db(Backend::Sqlite).await.unwrap();
    let port = free_port();
    let mut env = envs(&db.url, &format!("http://localhost:{port}"), port, d);
    env.extend([
        ("SOFTHSM2_CONF".to_string(), conf.display().to_string()),
        ("IDP_PKI__KEY_STORE".into(), "pkcs11".into()),
        ("IDP_PKI__PKCS11__MODULE".into(), module),
        ("IDP_PKI__PKCS11__TOKEN".into(), "drukyul-ca".into()),
        ("IDP_PKI__PKCS11__PIN".into(), "024680".into()),
        ("IDP_PKI__PKCS11__LABEL_PREFIX".into(), "ceremony-2026".into()),
    ]);
    cli(&env, &["migrate"]);
    let csv = d.join("registry.csv");
    std::fs::write(&csv, citizen::CSV).unwrap();
    cli(&env, &["registry", "import", csv.to_str().unwrap()]);
    let issued: serde_json::Value =
        serde_json::from_str(&cli(&env, &["citizen", "issue", "10101001234", "--json"])).unwrap();

    let made: serde_json::Value = serde_json::from_str(&cli(&env, &["ca", "init", "--json"])).unwrap();
    let stores: Vec<&str> = made.as_array().unwrap().iter().map(|c| c["key_store"].as_str().unwrap()).collect();
    assert_eq!(stores, ["pkcs11"; 4], "{made}");
    // The database holds labels, not keys.
    let rows = {
        let state = idp::server::build(support::config(&db, port)).await.unwrap();
        idp::store::pki::credentials(&state.db).await.unwrap()
    };
    for r in &rows {
        assert_eq!(r.key_store, "pkcs11");
        let at: serde_json::Value = serde_json::from_slice(&r.key_ref).unwrap();
        assert_eq!(at["token"], "drukyul-ca");
        assert_eq!(at["label"], format!("ceremony-2026-{}", r.role));
    }
    // The token holds them: the same labels again are refused, so a second ceremony cannot
    // silently shadow the first.
    let listed = Command::new("pkcs11-tool")
        .args(["--module", &env.iter().find(|(k, _)| k == "IDP_PKI__PKCS11__MODULE").unwrap().1])
        .args(["--token-label", "drukyul-ca", "--login", "--pin", "024680", "--list-objects", "--type", "privkey"])
        .env("SOFTHSM2_CONF", &conf)
        .output();
    if let Ok(out) = listed {
        let text = String::from_utf8_lossy(&out.stdout);
        for role in ["root", "issuing", "ocsp", "tsa"] {
            assert!(text.contains(&format!("ceremony-2026-{role}")), "{text}");
        }
    }

    // The server signs with the token's keys.
    let server = start(&env, port).await;
    let base = format!("http://localhost:{port}");
    let code = issued["activation_code"].as_str().unwrap();
    citizen::activate(&citizen::Browser::new(&base), &mut ResidentSoftPasskey::new(), "10101001234", code).await;
    for (path, file) in [("/ca/root.crt", "root"), ("/ca/issuing.crt", "issuing")] {
        let (s, der) = get(&format!("{base}{path}")).await;
        assert_eq!(s, 200);
        std::fs::write(d.join(format!("{file}.der")), der).unwrap();
        let (ok, out) =
            openssl(d, &["x509", "-inform", "DER", "-in", &format!("{file}.der"), "-out", &format!("{file}.pem")]);
        assert!(ok, "{out}");
    }
    let cert: serde_json::Value = serde_json::from_str(&cli(&env, &["ca", "issue", "10101001234", "--json"])).unwrap();
    std::fs::write(d.join("cert.pem"), cert["pem"].as_str().unwrap()).unwrap();
    let (ok, out) = openssl(d, &["verify", "-CAfile", "root.pem", "-untrusted", "issuing.pem", "cert.pem"]);
    assert!(ok, "a citizen certificate signed in the token chains to the root: {out}");
    assert!(ocsp_status(d, &base).ends_with("good"), "the OCSP responder's token key answers");
    let (s, crl) = get(&format!("{base}/ca/crl")).await;
    assert_eq!(s, 200);
    std::fs::write(d.join("crl.der"), crl).unwrap();
    let (ok, out) = openssl(d, &["crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "issuing.pem", "-noout"]);
    assert!(ok && out.contains("verify OK"), "{out}");
    // A timestamp from the token's TSA key; the token carries the TSA's chain, so the root alone
    // is enough to verify it.
    std::fs::write(d.join("doc.txt"), "Trade licence renewal, Phuentsholing").unwrap();
    let (ok, out) = openssl(d, &["ts", "-query", "-data", "doc.txt", "-sha256", "-cert", "-out", "req.tsq"]);
    assert!(ok, "{out}");
    let (s, reply) =
        post(&format!("{base}/tsa"), "application/timestamp-query", std::fs::read(d.join("req.tsq")).unwrap()).await;
    assert_eq!(s, 200);
    std::fs::write(d.join("reply.tsr"), reply).unwrap();
    let (ok, out) = openssl(d, &["ts", "-verify", "-in", "reply.tsr", "-queryfile", "req.tsq", "-CAfile", "root.pem"]);
    assert!(ok && out.contains("Verification: OK"), "{out}");
    cli(&env, &["ca", "revoke", cert["serial"].as_str().unwrap(), "--reason", "keyCompromise"]);
    assert!(ocsp_status(d, &base).ends_with("revoked"));
    assert!(cli(&env, &["ca", "root-crl"]).contains("valid until"), "the root signs its CRL in the token");
    drop(server);

    // Fail closed: the wrong PIN, or another token, and nothing is signed.
    for (key, value) in [("IDP_PKI__PKCS11__PIN", "000000"), ("IDP_PKI__PKCS11__TOKEN", "not-the-ca")] {
        let wrong: Vec<(String, String)> =
            env.iter().map(|(k, v)| (k.clone(), if k == key { value.to_string() } else { v.clone() })).collect();
        let out = Command::new(idp_binary())
            .args(["ca", "issue", "10101001234"])
            .envs(wrong.iter().cloned())
            .env_remove("IDP_CONFIG")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{key}={value} must not sign");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.to_lowercase().contains("pkcs#11") || err.contains("token"), "{err}");
    }
}

/// `pki.citizen_key = "rsa-3072"`: a citizen's new certificate has an RSA key, the service signs
/// with it (CAdES-B-T, sha256WithRSAEncryption), and both our verifier and `openssl cms -verify
/// -cades` accept the signature with the published chain, and refuse it for another document.
async fn rsa_citizen_keys_when_configured(backend: Backend) {
    let Some(idp) = support::start_with(backend, |c| c.pki.citizen_key = idp::config::CitizenKey::Rsa3072).await else {
        return;
    };
    let state = idp.state();
    let code = citizen::import_and_issue(&idp, "10101001234").await;
    citizen::activate(&citizen::Browser::new(&idp.base), &mut ResidentSoftPasskey::new(), "10101001234", &code).await;
    let account = idp::store::login::account_by_cid(&state.db, "10101001234").await.unwrap().unwrap().id;
    let now = idp::domain::now();
    pki::init(state, now).await.unwrap();
    let cert = pki::citizen_certificate(state, &account, "operator", now).await.unwrap();
    let document = b"Construction approval: two-storey house, Lungnyi, Paro".to_vec();
    let digest = signer::Sha256Digest::of(&document);
    let (serial, sigs) =
        pki::sign_digests(state, &account, &[(digest, idp::signing::SignatureFormat::Cades)], now).await.unwrap();
    assert_eq!(serial, cert.serial);
    let v = pki::verify(state, &sigs[0], &digest, false, true, now + 1).await.unwrap();
    assert!(v.valid, "{v:?}");
    assert_eq!(v.cid.as_deref(), Some("10101001234"));
    let v = pki::verify(state, &sigs[0], &signer::Sha256Digest::of(b"another"), false, true, now + 1).await.unwrap();
    assert!(!v.valid);

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("cert.pem"), &cert.pem).unwrap();
    std::fs::write(d.join("chain.pem"), get(&idp.url("/ca/chain.pem")).await.1).unwrap();
    std::fs::write(d.join("doc.txt"), &document).unwrap();
    std::fs::write(d.join("sig.p7s"), &sigs[0]).unwrap();
    let (ok, out) = openssl(d, &["x509", "-in", "cert.pem", "-noout", "-text"]);
    assert!(ok && out.contains("rsaEncryption") && out.contains("(3072 bit)"), "{out}");
    let verify = |doc: &str| {
        openssl(
            d,
            &[
                "cms",
                "-verify",
                "-cades",
                "-binary",
                "-inform",
                "DER",
                "-in",
                "sig.p7s",
                "-content",
                doc,
                "-CAfile",
                "chain.pem",
                "-out",
                "/dev/null",
            ],
        )
    };
    let (ok, out) = verify("doc.txt");
    assert!(ok && out.contains("Verification successful"), "{out}");
    std::fs::write(d.join("other.txt"), b"Construction approval: three storeys").unwrap();
    assert!(!verify("other.txt").0);
    idp.stop().await;
}
both_backends!(rsa_citizen_keys_when_configured);
