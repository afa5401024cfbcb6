//! OpenSSL as the judge: certificates from this crate are written to a temporary directory and
//! checked with the `openssl` command-line tool, which nobody here wrote.
//!
//! Without `openssl` on PATH the tests print `SKIPPED: openssl tests (openssl not found)` and
//! pass — unless `IDP_REQUIRE_ALL_SUITES=1`, in which case they fail.

// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use signer::citizen::{self, Person};
use signer::x509_cert::Certificate;
use signer::x509_cert::der::{Encode, pem};
use signer::{Endpoints, Hierarchy, HierarchyParams, certificate_pem};

const TEST_POLICY: &str = "1.3.6.1.4.1.32473.1"; // RFC 5612 documentation arc

fn openssl_available() -> bool {
    let found = Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var("IDP_REQUIRE_ALL_SUITES").as_deref() == Ok("1") {
            panic!("openssl not found and IDP_REQUIRE_ALL_SUITES=1");
        }
        println!("SKIPPED: openssl tests (openssl not found)");
    }
    found
}

/// Now, in Unix seconds, a little in the past so OpenSSL's clock sees the certificates as valid.
fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64 - 60
}

struct Run {
    ok: bool,
    output: String,
}

fn openssl(args: &[&str]) -> Run {
    let out = Command::new("openssl").args(args).output().unwrap();
    let output = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Run { ok: out.status.success(), output }
}

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path: PathBuf = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path.to_str().unwrap().to_owned()
    }

    fn cert(&self, name: &str, cert: &Certificate) -> String {
        self.write(name, certificate_pem(cert).unwrap())
    }
}

fn verify(root: &str, untrusted: &str, leaf: &str, extra: &[&str]) -> Run {
    let mut args = vec!["verify", "-x509_strict", "-CAfile", root, "-untrusted", untrusted];
    args.extend_from_slice(extra);
    args.push(leaf);
    openssl(&args)
}

fn text(path: &str) -> String {
    let run = openssl(&["x509", "-noout", "-text", "-in", path]);
    assert!(run.ok, "{}", run.output);
    run.output
}

fn params(policy: bool) -> HierarchyParams {
    let mut p = HierarchyParams::new(Endpoints::from_base_url("https://id.gov.bt").unwrap());
    if policy {
        p.citizen_policy = Some(TEST_POLICY.parse().unwrap());
    }
    p
}

fn karma() -> Person {
    Person::new("Karma", "Wangchuk", "10101001234").unwrap()
}

fn citizen_cert(h: &Hierarchy, now: i64) -> Certificate {
    let key = citizen::generate_key().unwrap();
    citizen::issue_signing_certificate(
        h.issuing_ca(),
        &key.public_key,
        &karma(),
        now,
        Duration::from_secs(86_400 * 730),
    )
    .unwrap()
}

#[test]
fn openssl_accepts_the_hierarchy_and_reads_the_extensions_we_meant() {
    if !openssl_available() {
        return;
    }
    let now = now();
    let h = Hierarchy::generate(&params(true), now).unwrap();
    let pki = Pki::new();
    let root = pki.cert("root.pem", h.root().certificate());
    let issuing = pki.cert("issuing.pem", h.issuing().certificate());
    let ocsp = pki.cert("ocsp.pem", h.ocsp().certificate());
    let tsa = pki.cert("tsa.pem", h.tsa().certificate());
    let citizen = pki.cert("citizen.pem", &citizen_cert(&h, now));
    let chain = pki.write("chain.pem", h.chain_pem().unwrap());

    // Chains, under OpenSSL's strict X.509 checks.
    for leaf in [&issuing, &citizen, &ocsp, &tsa] {
        let run = verify(&root, &issuing, leaf, &[]);
        assert!(run.ok && run.output.contains(": OK"), "{leaf}: {}", run.output);
    }
    let run = verify(&root, &chain, &citizen, &[]);
    assert!(run.ok, "chain.pem as untrusted: {}", run.output);

    // Purposes: the TSA may sign timestamps, the citizen certificate may not; the citizen
    // certificate passes S/MIME signing (what `openssl cms -verify` checks by default).
    let run = verify(&root, &issuing, &tsa, &["-purpose", "timestampsign"]);
    assert!(run.ok, "TSA timestampsign: {}", run.output);
    let run = verify(&root, &issuing, &citizen, &["-purpose", "timestampsign"]);
    assert!(!run.ok, "citizen certificate must not pass timestampsign: {}", run.output);
    let run = verify(&root, &issuing, &citizen, &["-purpose", "smimesign"]);
    assert!(run.ok, "citizen smimesign: {}", run.output);
    let run = verify(&root, &issuing, &ocsp, &["-purpose", "ocsphelper"]);
    assert!(run.ok, "OCSP ocsphelper: {}", run.output);

    // The policy is enforceable along the whole path.
    let run = verify(&root, &issuing, &citizen, &["-policy", TEST_POLICY, "-explicit_policy"]);
    assert!(run.ok, "explicit policy: {}", run.output);
    let run = verify(&root, &issuing, &citizen, &["-policy", "1.3.6.1.4.1.32473.2", "-explicit_policy"]);
    assert!(!run.ok, "another policy must not be satisfied: {}", run.output);

    let t = text(&root);
    assert!(t.contains("X509v3 Basic Constraints: critical\n                CA:TRUE, pathlen:1"), "{t}");
    assert!(t.contains("X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign"), "{t}");
    assert!(t.contains("ecdsa-with-SHA256") && t.contains("NIST CURVE: P-256"), "{t}");

    let t = text(&issuing);
    assert!(t.contains("X509v3 Basic Constraints: critical\n                CA:TRUE, pathlen:0"), "{t}");
    assert!(t.contains("X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign"), "{t}");
    assert!(t.contains("URI:https://id.gov.bt/ca/root-crl"), "{t}");
    assert!(t.contains("CA Issuers - URI:https://id.gov.bt/ca/root.crt"), "{t}");
    assert!(t.contains("Policy: 1.3.6.1.4.1.32473.1"), "{t}");

    let t = text(&ocsp);
    assert!(t.contains("X509v3 Key Usage: critical\n                Digital Signature\n"), "{t}");
    assert!(t.contains("X509v3 Extended Key Usage: \n                OCSP Signing"), "{t}");
    assert!(t.contains("OCSP No Check"), "{t}");

    let t = text(&tsa);
    assert!(t.contains("X509v3 Extended Key Usage: critical\n                Time Stamping\n"), "{t}");
    assert!(t.contains("X509v3 Key Usage: critical\n                Digital Signature, Non Repudiation"), "{t}");

    let t = text(&citizen);
    assert!(t.contains("X509v3 Key Usage: critical\n                Non Repudiation\n"), "{t}");
    assert!(t.contains("X509v3 Basic Constraints: critical\n                CA:FALSE"), "{t}");
    assert!(t.contains("URI:https://id.gov.bt/ca/crl"), "{t}");
    assert!(t.contains("OCSP - URI:https://id.gov.bt/ocsp"), "{t}");
    assert!(t.contains("CA Issuers - URI:https://id.gov.bt/ca/issuing.crt"), "{t}");
    assert!(t.contains("X509v3 Subject Key Identifier") && t.contains("X509v3 Authority Key Identifier"), "{t}");
    assert!(!t.contains("Extended Key Usage"), "{t}");
    let run = openssl(&["x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in", &citizen]);
    assert_eq!(run.output.trim(), "subject=CN=Karma Wangchuk,serialNumber=IDCBT-10101001234,GN=Karma,SN=Wangchuk,C=BT");
}

#[test]
fn openssl_reads_the_pkcs8_keys_and_they_match_their_certificates() {
    if !openssl_available() {
        return;
    }
    let h = Hierarchy::generate(&params(false), now()).unwrap();
    let pki = Pki::new();
    for (name, cred) in [("root", h.root()), ("issuing", h.issuing()), ("ocsp", h.ocsp()), ("tsa", h.tsa())] {
        let key = pki.write(&format!("{name}.key.der"), cred.private_key().as_bytes());
        let cert = pki.cert(&format!("{name}.pem"), cred.certificate());
        let from_key = openssl(&["pkey", "-inform", "DER", "-in", &key, "-pubout"]);
        let from_cert = openssl(&["x509", "-noout", "-pubkey", "-in", &cert]);
        assert!(from_key.ok, "{}", from_key.output);
        assert!(from_key.output.contains("BEGIN PUBLIC KEY"));
        assert_eq!(from_key.output, from_cert.output, "{name}");
    }
}

#[test]
fn openssl_rejects_a_foreign_root_and_a_tampered_certificate() {
    if !openssl_available() {
        return;
    }
    let now = now();
    let h = Hierarchy::generate(&params(false), now).unwrap();
    let other = Hierarchy::generate(&params(false), now).unwrap();
    let pki = Pki::new();
    let root = pki.cert("root.pem", h.root().certificate());
    let issuing = pki.cert("issuing.pem", h.issuing().certificate());
    let other_root = pki.cert("other-root.pem", other.root().certificate());
    let cert = citizen_cert(&h, now);
    let citizen = pki.cert("citizen.pem", &cert);

    let run = verify(&root, &issuing, &citizen, &[]);
    assert!(run.ok, "control: {}", run.output);

    // Same names, different keys: the other hierarchy's root must not vouch for this chain.
    let run = verify(&other_root, &issuing, &citizen, &[]);
    assert!(!run.ok, "foreign root accepted: {}", run.output);

    // Change the CID inside the signed data: the signature no longer matches.
    let mut der = cert.to_der().unwrap();
    let at = find(&der, b"IDCBT-10101001234").unwrap() + b"IDCBT-".len();
    der[at] = b'9';
    let tampered = pki.write("tampered.pem", pem::encode_string("CERTIFICATE", pem::LineEnding::LF, &der).unwrap());
    let subject = openssl(&["x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in", &tampered]);
    assert!(subject.output.contains("IDCBT-90101001234"), "tampering took effect: {}", subject.output);
    let run = verify(&root, &issuing, &tampered, &[]);
    assert!(!run.ok && run.output.contains("signature failure"), "tampered accepted: {}", run.output);
}

#[test]
fn openssl_rejects_certificates_at_times_outside_their_validity() {
    if !openssl_available() {
        return;
    }
    let now = now();
    let h = Hierarchy::generate(&params(false), now).unwrap();
    let pki = Pki::new();
    let root = pki.cert("root.pem", h.root().certificate());
    let issuing = pki.cert("issuing.pem", h.issuing().certificate());
    let ocsp = pki.cert("ocsp.pem", h.ocsp().certificate());
    // The OCSP responder lives 30 days: fine at day 29, expired at day 31.
    let at = |days: i64| (now + days * 86_400).to_string();
    let run = verify(&root, &issuing, &ocsp, &["-attime", &at(29)]);
    assert!(run.ok, "{}", run.output);
    let run = verify(&root, &issuing, &ocsp, &["-attime", &at(31)]);
    assert!(!run.ok && run.output.contains("expired"), "{}", run.output);
    let run = verify(&root, &issuing, &ocsp, &["-attime", &at(-1)]);
    assert!(!run.ok && run.output.contains("not yet valid"), "{}", run.output);
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
