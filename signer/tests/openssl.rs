//! OpenSSL as the judge: certificates, CMS signatures, timestamp replies, CRLs and OCSP responses
//! from this crate are written to a temporary directory and checked with the `openssl`
//! command-line tool, which nobody here wrote.
//!
//! Without `openssl` on PATH the tests print `SKIPPED: openssl tests (openssl not found)` and
//! pass — unless `IDP_REQUIRE_ALL_SUITES=1`, in which case they fail.
//!
//! [`softhsm2`] runs the same kind of checks with CA keys held in a SoftHSM2 token (on with
//! `TEST_SOFTHSM2=1`); it lives in this binary to share the helpers and the link.

// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use signer::citizen::{self, Person};
use signer::cms::CmsSigner;
use signer::crl::{RevocationReason, RevokedCertificate};
use signer::ocsp::{CertStatus, OcspResponder};
use signer::tsa::TimestampAuthority;
use signer::x509_cert::Certificate;
use signer::x509_cert::der::{Encode, EncodePem, pem};
use signer::{Endpoints, Hierarchy, HierarchyParams, Sha256Digest, SoftwareKey, certificate_pem};

mod pdf_tools;
mod softhsm2;

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
        let key = pki.write(&format!("{name}.key.der"), cred.private_key().unwrap().as_bytes());
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

// ---------------------------------------------------------------------------------------------
// CMS / CAdES, RFC 3161, CRL and OCSP, each judged by the openssl command line.

const TSA_POLICY: &str = "1.3.6.1.4.1.32473.2"; // RFC 5612 documentation arc

fn software_key(cred: &signer::Credential) -> SoftwareKey {
    SoftwareKey::from_pkcs8_der(cred.private_key().unwrap().as_bytes()).unwrap()
}

/// A citizen's certificate with its key, as the signing service would hold them.
fn citizen_with_key(h: &Hierarchy, now: i64, person: &Person) -> (Certificate, SoftwareKey) {
    let key = citizen::generate_key().unwrap();
    let cert = citizen::issue_signing_certificate(
        h.issuing_ca(),
        &key.public_key,
        person,
        now,
        Duration::from_secs(86_400 * 730),
    )
    .unwrap();
    (cert, SoftwareKey::from_pkcs8_der(key.private_key.as_bytes()).unwrap())
}

fn tsa(h: &Hierarchy) -> TimestampAuthority {
    TimestampAuthority::new(h.tsa().certificate().clone(), Box::new(software_key(h.tsa())), TSA_POLICY.parse().unwrap())
        .unwrap()
}

fn responder(h: &Hierarchy) -> OcspResponder {
    OcspResponder::new(
        h.ocsp().certificate().clone(),
        Box::new(software_key(h.ocsp())),
        h.issuing().certificate(),
        Duration::from_secs(3600),
    )
    .unwrap()
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn cms_verify(sig: &str, doc: &str, root: &str, extra: &[&str]) -> Run {
    let mut args = vec!["cms", "-verify", "-binary", "-inform", "DER", "-in", sig, "-content", doc, "-CAfile", root];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-out", "/dev/null"]);
    openssl(&args)
}

#[test]
fn openssl_verifies_cades_signatures_and_rejects_a_modified_document() {
    if !openssl_available() {
        return;
    }
    let now = now();
    let h = Hierarchy::generate(&params(false), now).unwrap();
    let (cert, key) = citizen_with_key(&h, now, &karma());
    let pki = Pki::new();
    let root = pki.cert("root.pem", h.root().certificate());
    let document = b"Business licence application no. 42, Thimphu\n".repeat(100);
    let doc = pki.write("doc.txt", &document);

    let chain = [h.issuing().certificate().clone()];
    let signer = CmsSigner::new(&cert, &key).unwrap().with_chain(&chain);
    let mut signature = signer.sign_digest(&Sha256Digest::of(&document), now).unwrap();
    let sig = pki.write("sig.p7s", signature.to_der().unwrap());

    let run = cms_verify(&sig, &doc, &root, &[]);
    assert!(run.ok && run.output.contains("Verification successful"), "{}", run.output);
    let run = cms_verify(&sig, &doc, &root, &["-cades"]);
    assert!(run.ok && run.output.contains("Verification successful"), "-cades: {}", run.output);

    // One byte changed in the document: the message digest no longer matches.
    let mut modified = document.clone();
    modified[10] ^= 1;
    let bad_doc = pki.write("modified.txt", &modified);
    let run = cms_verify(&sig, &bad_doc, &root, &[]);
    assert!(!run.ok && run.output.contains("Verification failure"), "modified document accepted: {}", run.output);

    // Another hierarchy's root does not vouch for the signer.
    let other = Hierarchy::generate(&params(false), now).unwrap();
    let other_root = pki.cert("other-root.pem", other.root().certificate());
    let run = cms_verify(&sig, &doc, &other_root, &[]);
    assert!(!run.ok, "foreign root accepted: {}", run.output);

    // What OpenSSL reads: detached id-data, the CAdES-B-B attributes.
    let run = openssl(&["cms", "-cmsout", "-print", "-inform", "DER", "-in", &sig]);
    assert!(run.ok, "{}", run.output);
    for expected in
        ["contentType", "messageDigest", "signingTime", "id-smime-aa-signingCertificateV2", "ecdsa-with-SHA256"]
    {
        assert!(run.output.contains(expected), "missing {expected}: {}", run.output);
    }
    assert!(run.output.contains("eContent: <ABSENT>"), "not detached: {}", run.output);

    // B-T: a timestamp over the signature value; the signature still verifies, with -cades too,
    // and the token verifies against the signature value's digest.
    let tsa = tsa(&h);
    let token = tsa.timestamp(&signature.timestamp_imprint().unwrap(), now).unwrap();
    signature.add_signature_timestamp(&token).unwrap();
    let sig_t = pki.write("sig-t.p7s", signature.to_der().unwrap());
    let run = cms_verify(&sig_t, &doc, &root, &["-cades"]);
    assert!(run.ok && run.output.contains("Verification successful"), "B-T: {}", run.output);
    let run = openssl(&["cms", "-cmsout", "-print", "-inform", "DER", "-in", &sig_t]);
    assert!(run.output.contains("id-smime-aa-timeStampToken"), "{}", run.output);
    let run = cms_verify(&sig_t, &bad_doc, &root, &["-cades"]);
    assert!(!run.ok, "B-T with a modified document accepted: {}", run.output);

    let token_file = pki.write("token.der", &token);
    let chain_pem =
        pki.write("tsa-chain.pem", certificate_pem(h.tsa().certificate()).unwrap() + &h.chain_pem().unwrap());
    let digest = hex(Sha256Digest::of(signature.signature_value().unwrap()).as_bytes());
    let run = openssl(&[
        "ts",
        "-verify",
        "-token_in",
        "-in",
        &token_file,
        "-digest",
        &digest,
        "-CAfile",
        &root,
        "-untrusted",
        &chain_pem,
    ]);
    assert!(run.ok && run.output.contains("Verification: OK"), "token: {}", run.output);
}

#[test]
fn openssl_verifies_a_signature_that_carries_only_the_signer_certificate() {
    if !openssl_available() {
        return;
    }
    let now = now();
    let h = Hierarchy::generate(&params(false), now).unwrap();
    let (cert, key) = citizen_with_key(&h, now, &karma());
    let pki = Pki::new();
    let root = pki.cert("root.pem", h.root().certificate());
    let chain = pki.write("chain.pem", h.chain_pem().unwrap());
    let doc = pki.write("doc.bin", b"%PDF-1.7 not really");
    let signature = CmsSigner::new(&cert, &key).unwrap().sign_digest(&Sha256Digest::of(b"%PDF-1.7 not really"), now);
    let sig = pki.write("sig.p7s", signature.unwrap().to_der().unwrap());
    let run = cms_verify(&sig, &doc, &root, &[]);
    assert!(!run.ok, "path built without the issuing CA: {}", run.output);
    // OpenSSL builds the path from the SignedData's certificates and the trust store only.
    let run = cms_verify(&sig, &doc, &chain, &["-cades"]);
    assert!(run.ok, "{}", run.output);
}

#[test]
fn openssl_verifies_timestamp_replies_and_reads_rejections() {
    if !openssl_available() {
        return;
    }
    let now = now();
    let h = Hierarchy::generate(&params(false), now).unwrap();
    let tsa = tsa(&h);
    let pki = Pki::new();
    let root = pki.cert("root.pem", h.root().certificate());
    let chain = pki.write("tsa-chain.pem", certificate_pem(h.tsa().certificate()).unwrap() + &h.chain_pem().unwrap());
    let doc = pki.write("doc.txt", "Marriage registration, Paro dzongkhag\n");

    // With certReq (-cert) and a nonce (openssl's default).
    let req = pki.dir.path().join("req.tsr").to_str().unwrap().to_owned();
    let run = openssl(&["ts", "-query", "-data", &doc, "-sha256", "-cert", "-out", &req]);
    assert!(run.ok, "{}", run.output);
    let resp = pki.write("resp.tsr", tsa.respond(&read(&req), now).unwrap());
    let run = openssl(&["ts", "-verify", "-in", &resp, "-queryfile", &req, "-CAfile", &root, "-untrusted", &chain]);
    assert!(run.ok && run.output.contains("Verification: OK"), "{}", run.output);
    let run = openssl(&["ts", "-verify", "-in", &resp, "-data", &doc, "-CAfile", &root, "-untrusted", &chain]);
    assert!(run.ok && run.output.contains("Verification: OK"), "-data: {}", run.output);
    let text = openssl(&["ts", "-reply", "-in", &resp, "-text"]);
    assert!(text.ok, "{}", text.output);
    for expected in
        ["Status: Granted.", &format!("Policy OID: {TSA_POLICY}"), "Hash Algorithm: sha256", "Accuracy: 0x01 seconds"]
    {
        assert!(text.output.contains(expected), "missing {expected}: {}", text.output);
    }
    let query_text = openssl(&["ts", "-query", "-in", &req, "-text"]).output;
    let nonce = query_text.lines().find(|l| l.starts_with("Nonce:")).unwrap();
    assert!(text.output.contains(nonce), "nonce not echoed ({nonce}): {}", text.output);

    // Another document's data does not match the token.
    let other = pki.write("other.txt", "Marriage registration, Haa dzongkhag\n");
    let run = openssl(&["ts", "-verify", "-in", &resp, "-data", &other, "-CAfile", &root, "-untrusted", &chain]);
    assert!(!run.ok, "token verified for other data: {}", run.output);

    // Without certReq and without nonce: no certificate in the token, the chain file supplies it.
    let req2 = pki.dir.path().join("req2.tsr").to_str().unwrap().to_owned();
    let run = openssl(&["ts", "-query", "-data", &doc, "-sha256", "-no_nonce", "-out", &req2]);
    assert!(run.ok, "{}", run.output);
    let resp2 = pki.write("resp2.tsr", tsa.respond(&read(&req2), now).unwrap());
    let run = openssl(&["ts", "-verify", "-in", &resp2, "-queryfile", &req2, "-CAfile", &root, "-untrusted", &chain]);
    assert!(run.ok && run.output.contains("Verification: OK"), "no certReq: {}", run.output);

    // Our own policy may be asked for by name.
    let req3 = pki.dir.path().join("req3.tsr").to_str().unwrap().to_owned();
    let run = openssl(&["ts", "-query", "-data", &doc, "-sha256", "-tspolicy", TSA_POLICY, "-cert", "-out", &req3]);
    assert!(run.ok, "{}", run.output);
    let resp3 = pki.write("resp3.tsr", tsa.respond(&read(&req3), now).unwrap());
    let run = openssl(&["ts", "-verify", "-in", &resp3, "-queryfile", &req3, "-CAfile", &root, "-untrusted", &chain]);
    assert!(run.ok && run.output.contains("Verification: OK"), "policy: {}", run.output);

    // Rejections openssl can read: SHA-1 (badAlg), another policy (unacceptedPolicy).
    let rejected = |name: &str, args: &[&str]| {
        let path = pki.dir.path().join(name).to_str().unwrap().to_owned();
        let mut query = vec!["ts", "-query", "-data", &doc, "-out", &path];
        query.extend_from_slice(args);
        let run = openssl(&query);
        assert!(run.ok, "{}", run.output);
        let resp = pki.write(&format!("{name}.resp"), tsa.respond(&read(&path), now).unwrap());
        openssl(&["ts", "-reply", "-in", &resp, "-text"]).output
    };
    let text = rejected("sha1.tsr", &["-sha1"]);
    assert!(text.contains("Status: Rejected.") && text.contains("unrecognized or unsupported algorithm"), "{text}");
    let text = rejected("policy.tsr", &["-sha256", "-tspolicy", "1.3.6.1.4.1.32473.99"]);
    assert!(text.contains("Status: Rejected.") && text.contains("policy is not supported"), "{text}");
    let garbage = pki.write("garbage.resp", tsa.respond(b"not a request", now).unwrap());
    let text = openssl(&["ts", "-reply", "-in", &garbage, "-text"]).output;
    assert!(text.contains("Status: Rejected.") && text.contains("has the wrong format"), "{text}");
    let failure = pki.write("failure.resp", signer::tsa::system_failure_response());
    let text = openssl(&["ts", "-reply", "-in", &failure, "-text"]).output;
    assert!(text.contains("Status: Rejected.") && text.contains("system failure"), "{text}");
}

#[test]
fn openssl_verifies_the_crl_and_rejects_a_revoked_certificate_with_it() {
    if !openssl_available() {
        return;
    }
    let now = now();
    let h = Hierarchy::generate(&params(false), now).unwrap();
    let revoked_cert = citizen_cert(&h, now);
    let good_cert = citizen_cert(&h, now);
    let pki = Pki::new();
    let root = pki.cert("root.pem", h.root().certificate());
    let issuing = pki.cert("issuing.pem", h.issuing().certificate());
    let chain = pki.write("chain.pem", h.chain_pem().unwrap());
    let revoked = pki.cert("revoked.pem", &revoked_cert);
    let good = pki.cert("good.pem", &good_cert);

    let entries = [RevokedCertificate {
        serial: revoked_cert.tbs_certificate().serial_number().clone(),
        revoked_at: now - 10,
        reason: RevocationReason::KeyCompromise,
    }];
    let crl = h.issuing_ca().issue_crl(7, &entries, now, Duration::from_secs(86_400)).unwrap();
    let crl_der = pki.write("crl.der", crl.to_der().unwrap());
    let run = openssl(&["crl", "-in", &crl_der, "-inform", "DER", "-CAfile", &chain, "-noout"]);
    assert!(run.ok && run.output.contains("verify OK"), "{}", run.output);
    // The root did not sign it.
    let run = openssl(&["crl", "-in", &crl_der, "-inform", "DER", "-CAfile", &root, "-noout"]);
    assert!(!run.ok || !run.output.contains("verify OK"), "{}", run.output);

    let text = openssl(&["crl", "-in", &crl_der, "-inform", "DER", "-noout", "-text"]);
    assert!(text.ok, "{}", text.output);
    for expected in [
        "Version 2 (0x1)",
        "X509v3 CRL Number: \n                7",
        "X509v3 Authority Key Identifier",
        "Key Compromise",
    ] {
        assert!(text.output.contains(expected), "missing {expected}: {}", text.output);
    }

    let crl_pem = pki.write("crl.pem", crl.to_pem(pem::LineEnding::LF).unwrap());
    let run = verify(&root, &issuing, &revoked, &["-crl_check", "-CRLfile", &crl_pem]);
    assert!(!run.ok && run.output.contains("certificate revoked"), "revoked accepted: {}", run.output);
    let run = verify(&root, &issuing, &good, &["-crl_check", "-CRLfile", &crl_pem]);
    assert!(run.ok && run.output.contains(": OK"), "good rejected: {}", run.output);

    // An empty CRL is valid too, and then the once-revoked certificate passes.
    let empty = h.issuing_ca().issue_crl(8, &[], now, Duration::from_secs(86_400)).unwrap();
    let empty_pem = pki.write("empty.pem", empty.to_pem(pem::LineEnding::LF).unwrap());
    let run = verify(&root, &issuing, &revoked, &["-crl_check", "-CRLfile", &empty_pem]);
    assert!(run.ok, "{}", run.output);
}

fn ocsp_request(pki: &Pki, name: &str, issuer: &str, cert: &str, extra: &[&str]) -> Vec<u8> {
    let out = pki.dir.path().join(name).to_str().unwrap().to_owned();
    // openssl wants the digest option before -cert.
    let mut args = vec!["ocsp"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-issuer", issuer, "-cert", cert, "-reqout", &out]);
    let run = openssl(&args);
    assert!(run.ok, "{}", run.output);
    read(&out)
}

#[test]
fn openssl_reads_ocsp_answers_good_revoked_and_the_refusals() {
    if !openssl_available() {
        return;
    }
    let now = now();
    let h = Hierarchy::generate(&params(false), now).unwrap();
    let responder = responder(&h);
    let citizen = citizen_cert(&h, now);
    let serial = citizen.tbs_certificate().serial_number().clone();
    let pki = Pki::new();
    let root = pki.cert("root.pem", h.root().certificate());
    let issuing = pki.cert("issuing.pem", h.issuing().certificate());
    let cert = pki.cert("citizen.pem", &citizen);
    let check = |resp: &str, extra: &[&str]| {
        let mut args = vec!["ocsp", "-respin", resp, "-CAfile", &root, "-resp_text"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-issuer", &issuing, "-cert", &cert]);
        openssl(&args)
    };

    // SHA-1 CertID, no nonce: good.
    let req = ocsp_request(&pki, "req.der", &issuing, &cert, &["-no_nonce"]);
    assert_eq!(responder.requested_serials(&req), vec![serial.clone()]);
    let mut asked = Vec::new();
    let der = responder
        .respond(&req, now, |s| {
            asked.push(s.clone());
            CertStatus::Good
        })
        .unwrap();
    assert_eq!(asked, vec![serial.clone()]);
    let resp = pki.write("good.der", der);
    let run = check(&resp, &["-no_nonce"]);
    assert!(run.ok && run.output.contains("Response verify OK"), "{}", run.output);
    assert!(run.output.contains(&format!("{cert}: good")), "{}", run.output);
    // byKey: openssl prints the 20-byte key hash, where byName would print a DN.
    let id = run.output.lines().find_map(|l| l.trim().strip_prefix("Responder Id: ")).unwrap();
    assert!(id.len() == 40 && id.chars().all(|c| c.is_ascii_hexdigit()), "{}", run.output);

    // SHA-256 CertID: revoked, with time and reason.
    let req = ocsp_request(&pki, "req256.der", &issuing, &cert, &["-no_nonce", "-sha256"]);
    let status = CertStatus::Revoked { revoked_at: now - 30, reason: RevocationReason::CessationOfOperation };
    let resp = pki.write("revoked.der", responder.respond(&req, now, |_| status).unwrap());
    let run = check(&resp, &["-no_nonce", "-sha256"]);
    assert!(run.ok && run.output.contains("Response verify OK"), "{}", run.output);
    assert!(run.output.contains(&format!("{cert}: revoked")), "{}", run.output);
    assert!(run.output.contains("Reason: cessationOfOperation"), "{}", run.output);

    // With a nonce: echoed, so openssl's nonce check passes against the request it wrote.
    let req = ocsp_request(&pki, "nonce.der", &issuing, &cert, &[]);
    let req_file = pki.write("nonce-req.der", &req);
    let resp = pki.write("nonce-resp.der", responder.respond(&req, now, |_| CertStatus::Good).unwrap());
    let run = openssl(&["ocsp", "-reqin", &req_file, "-respin", &resp, "-CAfile", &root, "-resp_text"]);
    assert!(run.ok && run.output.contains("Response verify OK"), "{}", run.output);
    assert!(!run.output.contains("WARNING: no nonce"), "{}", run.output);
    assert!(run.output.contains("OCSP Nonce") && run.output.contains("Cert Status: good"), "{}", run.output);
    // ...and a response to another request (another nonce) fails that check.
    let req_other = ocsp_request(&pki, "nonce2.der", &issuing, &cert, &[]);
    let req_other_file = pki.write("nonce2-req.der", &req_other);
    let run = openssl(&["ocsp", "-reqin", &req_other_file, "-respin", &resp, "-CAfile", &root]);
    assert!(!run.ok && run.output.contains("Nonce Verify error"), "{}", run.output);

    // A certificate of another CA: unauthorized. Garbage: malformedRequest.
    let other = Hierarchy::generate(&params(false), now).unwrap();
    let other_issuing = pki.cert("other-issuing.pem", other.issuing().certificate());
    let other_cert = pki.cert("other-citizen.pem", &citizen_cert(&other, now));
    let req = ocsp_request(&pki, "other.der", &other_issuing, &other_cert, &["-no_nonce"]);
    let resp = pki.write("unauthorized.der", responder.respond(&req, now, |_| CertStatus::Good).unwrap());
    let run = openssl(&["ocsp", "-respin", &resp, "-resp_text"]);
    assert!(run.output.contains("unauthorized (6)"), "{}", run.output);
    let resp =
        pki.write("malformed.der", responder.respond(b"\x30\x03\x02\x01\x01", now, |_| CertStatus::Good).unwrap());
    let run = openssl(&["ocsp", "-respin", &resp, "-resp_text"]);
    assert!(run.output.contains("malformedrequest (1)"), "{}", run.output);
    let resp = pki.write("internal.der", signer::ocsp::internal_error_response());
    let run = openssl(&["ocsp", "-respin", &resp, "-resp_text"]);
    assert!(run.output.contains("internalerror (2)"), "{}", run.output);
}

// ---------------------------------------------------------------------------------------------
// The verifier judged the other way round: signatures OpenSSL made, checked by `signer::verify`.

#[test]
fn the_verifier_accepts_a_cades_signature_made_by_openssl_and_refuses_it_for_another_document() {
    use signer::verify::{Failure, StatusAtSigningTime, Verifier};
    use signer::x509_cert::name::Name;
    use signer::x509_cert::serial_number::SerialNumber;

    if !openssl_available() {
        return;
    }
    let now = now();
    let h = Hierarchy::generate(&params(true), now).unwrap();
    let key = citizen::generate_key().unwrap();
    let cert =
        citizen::issue_signing_certificate(h.issuing_ca(), &key.public_key, &karma(), now, Duration::from_secs(86_400))
            .unwrap();
    let pki = Pki::new();
    let cert_pem = pki.cert("citizen.pem", &cert);
    let key_der = pki.write("citizen.key.der", key.private_key.as_bytes());
    let issuing = pki.cert("issuing.pem", h.issuing().certificate());
    let document = b"Business licence application: Tashi Delek Handicrafts, Paro".to_vec();
    let doc = pki.write("doc.txt", &document);
    let other_doc = pki.write("other.txt", b"Business licence application: another shop");

    let sign = |input: &str, out: &str| {
        let out = pki.dir.path().join(out).to_str().unwrap().to_owned();
        let run = openssl(&[
            "cms",
            "-sign",
            "-binary",
            "-in",
            input,
            "-signer",
            &cert_pem,
            "-inkey",
            &key_der,
            "-keyform",
            "DER",
            "-certfile",
            &issuing,
            "-outform",
            "DER",
            "-out",
            &out,
            "-md",
            "sha256",
            "-cades",
        ]);
        assert!(run.ok, "openssl cms -sign: {}", run.output);
        std::fs::read(out).unwrap()
    };
    let signature = sign(&doc, "sig.p7s");
    let signature_of_other = sign(&other_doc, "other.p7s");

    let roots = [h.root().certificate().clone()];
    let good = |_: &SerialNumber, _: &Name| CertStatus::Good;
    let verifier = Verifier::new(&roots, &good);
    // OpenSSL wrote its own clock's time: verify a little later.
    let at = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64 + 60;

    let report = verifier.verify(&signature, &Sha256Digest::of(&document), at);
    assert_eq!(report.verdict, Ok(()), "{report:?}");
    assert_eq!(report.signer.as_ref().unwrap().serial_number.as_deref(), Some("IDCBT-10101001234"));
    assert_eq!(report.certificate_serial.as_ref(), Some(cert.tbs_certificate().serial_number()));
    let claimed = report.claimed_signing_time.unwrap();
    assert!((now..=at).contains(&claimed), "openssl's signing-time {claimed} within [{now}, {at}]");
    assert_eq!(report.status_at_signing_time, Some(StatusAtSigningTime::Good));

    // OpenSSL's valid signature, but of another document.
    let report = verifier.verify(&signature_of_other, &Sha256Digest::of(&document), at);
    assert_eq!(report.verdict, Err(Failure::DigestMismatch));
}

/// Where a deployment chooses RSA for citizens' keys: the certificate, a CAdES-B-T signature by
/// it and our own verifier all hold up with OpenSSL as the judge — and OpenSSL's own RSA CAdES
/// signature (rsaEncryption in the SignerInfo) passes our verifier.
#[test]
fn openssl_accepts_rsa_citizen_certificates_and_signatures() {
    use signer::verify::{StatusAtSigningTime, Verifier};
    use signer::x509_cert::name::Name;
    use signer::x509_cert::serial_number::SerialNumber;

    if !openssl_available() {
        return;
    }
    let now = now();
    let h = Hierarchy::generate(&params(false), now).unwrap();
    let key = citizen::generate_rsa_key(2048).unwrap();
    let cert =
        citizen::issue_signing_certificate(h.issuing_ca(), &key.public_key, &karma(), now, Duration::from_secs(86_400))
            .unwrap();
    let rsa = signer::software_key_from_pkcs8(key.private_key.as_bytes()).unwrap();
    let pki = Pki::new();
    let root = pki.cert("root.pem", h.root().certificate());
    let issuing = pki.cert("issuing.pem", h.issuing().certificate());
    let cert_pem = pki.cert("citizen.pem", &cert);
    let run = openssl(&["x509", "-in", &cert_pem, "-noout", "-text"]);
    assert!(
        run.ok && run.output.contains("rsaEncryption") && run.output.contains("Public-Key: (2048 bit)"),
        "{}",
        run.output
    );
    let run = verify(&root, &issuing, &cert_pem, &[]);
    assert!(run.ok, "chain: {}", run.output);

    let document = b"Construction approval application, Paro\n".repeat(20);
    let doc = pki.write("doc.txt", &document);
    let chain = [h.issuing().certificate().clone()];
    let mut signature = CmsSigner::new(&cert, rsa.as_ref())
        .unwrap()
        .with_chain(&chain)
        .sign_digest(&Sha256Digest::of(&document), now)
        .unwrap();
    let token = tsa(&h).timestamp(&signature.timestamp_imprint().unwrap(), now).unwrap();
    signature.add_signature_timestamp(&token).unwrap();
    let der = signature.to_der().unwrap();
    let sig = pki.write("sig.p7s", &der);
    let run = cms_verify(&sig, &doc, &root, &["-cades"]);
    assert!(run.ok && run.output.contains("Verification successful"), "{}", run.output);
    let run = openssl(&["cms", "-cmsout", "-print", "-inform", "DER", "-in", &sig]);
    assert!(run.output.contains("sha256WithRSAEncryption"), "{}", run.output);
    let mut modified = document.clone();
    modified[3] ^= 1;
    let bad = pki.write("bad.txt", &modified);
    assert!(!cms_verify(&sig, &bad, &root, &[]).ok, "a modified document");

    let good = |_: &SerialNumber, _: &Name| CertStatus::Good;
    let roots = [h.root().certificate().clone()];
    let report = Verifier::new(&roots, &good).verify(&der, &Sha256Digest::of(&document), now + 60);
    assert_eq!(report.verdict, Ok(()));
    assert_eq!(report.status_at_signing_time, Some(StatusAtSigningTime::Good));
    assert!(Verifier::new(&roots, &good).verify(&der, &Sha256Digest::of(&modified), now + 60).verdict.is_err());

    // OpenSSL signs with the same RSA key: our verifier accepts its CMS too.
    let key_der = pki.write("citizen.key.der", key.private_key.as_bytes());
    let out = pki.dir.path().join("openssl.p7s").to_str().unwrap().to_owned();
    let run = openssl(&[
        "cms",
        "-sign",
        "-binary",
        "-in",
        &doc,
        "-signer",
        &cert_pem,
        "-inkey",
        &key_der,
        "-keyform",
        "DER",
        "-certfile",
        &issuing,
        "-outform",
        "DER",
        "-out",
        &out,
        "-md",
        "sha256",
        "-cades",
    ]);
    assert!(run.ok, "{}", run.output);
    let theirs = std::fs::read(&out).unwrap();
    let report = Verifier::new(&roots, &good).verify(&theirs, &Sha256Digest::of(&document), now + 60);
    assert_eq!(report.verdict, Ok(()), "OpenSSL's RSA CAdES");
}
