//! A PDF signed through the whole flow, as an agency does it with the relying-party SDK: the
//! SDK prepares the PDF (a signature field, the ByteRange digest), asks Drukyul ID for a PAdES
//! signature beside a detached CAdES one in one request, the citizen approves with a passkey, the
//! SDK embeds the returned CMS — and poppler's `pdfsig` and pyHanko, which no one here wrote,
//! accept the signed PDF with only the published root as trust (pdfsig checking the signer's
//! certificate at the running server's OCSP responder), and reject it once a signed byte
//! changes. On SQLite and PostgreSQL; the validators run when `TEST_PDF_TOOLS=1`.

use std::{io::Write, path::Path, process::Command};

use relying_party_sdk::signing::{Document, Outcome, PreparedPdf, SignRequest, SigningClient, SigningError};

use crate::{
    authenticator::ResidentSoftPasskey,
    both_backends,
    citizen::{self, Browser},
    signing::{approve, token},
    support::{self, Backend},
};

const BACK: &str = "http://localhost:9/signed";
/// A one-page PDF with a classic cross-reference table (the signer's fixture).
const PDF: &[u8] = include_bytes!("../../signer/tests/fixtures/classic.pdf");

/// Whether the PDF validators run; says so loudly when they do not.
pub(crate) fn pdf_tools_on() -> bool {
    if std::env::var("TEST_PDF_TOOLS").as_deref() != Ok("1") {
        assert!(
            std::env::var("IDP_REQUIRE_ALL_SUITES").as_deref() != Ok("1"),
            "TEST_PDF_TOOLS is not set but IDP_REQUIRE_ALL_SUITES=1: the PAdES flow must be judged"
        );
        let _ = writeln!(std::io::stderr(), "SKIPPED: PAdES validators for the signing flow (set TEST_PDF_TOOLS=1)");
        return false;
    }
    true
}

pub(crate) fn run(dir: &Path, program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(program).args(args).current_dir(dir).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

async fn pdf_signed_through_the_flow(backend: Backend) {
    let Some(idp) = support::start(backend).await else { return };
    let state = idp.state();
    let code = citizen::import_and_issue(&idp, "10101001234").await;
    let b = Browser::new(&idp.base);
    let mut key = ResidentSoftPasskey::new();
    citizen::activate(&b, &mut key, "10101001234", &code).await;
    citizen::raise_to_high(&idp, "10101001234").await;
    let now = idp::domain::now();
    idp::pki::init(state, now).await.unwrap();

    let mut meta = support::api_client("Department of Trade", "openid sign");
    meta.redirect_uris = vec![idp::domain::client::RedirectUri::parse(BACK).unwrap()];
    meta.grant_types.push(idp::domain::client::GrantType::AuthorizationCode);
    let (id, secret) = support::register(&idp, meta).await;
    let at = token(&idp.base, &id, &secret.unwrap(), "sign").await;

    // The agency: a PDF prepared for signing, and a detached annex, in one request.
    let sdk = SigningClient::new(idp.base.parse().unwrap(), support::http());
    let prepared = PreparedPdf::prepare(PDF, "Applicant", "Trade licence application", now).unwrap();
    let annex = b"Annex: floor plan of the shop, Norzin Lam, Thimphu".to_vec();
    let request = SignRequest::new(
        vec![Document::pdf("Trade licence application (PDF)", &prepared), Document::cms("Annex: floor plan", &annex)],
        BACK.parse().unwrap(),
    );
    let created = sdk.create(&at, &request).await.unwrap();
    // What the agency keeps while the citizen decides: the prepared bytes, nothing else.
    let kept = prepared.as_bytes().to_vec();
    assert_eq!(sdk.outcome(&at, &created.id).await.unwrap(), Outcome::Pending);
    // Only a token with the sign scope may ask, and the SDK reports why not.
    match sdk.create("not-a-token", &request).await {
        Err(SigningError::Refused { status: 401, .. }) => {}
        other => panic!("{other:?}"),
    }

    let (s, fin) = approve(&b, &mut key, created.approve_url.as_str()).await;
    assert_eq!(s, 200, "{fin}");
    let Outcome::Signed { signatures, certificate_serial } = sdk.outcome(&at, &created.id).await.unwrap() else {
        panic!("not signed")
    };
    assert_eq!(signatures.len(), 2);
    assert!(certificate_serial.is_some());

    // The signature for the annex is not the PDF's: embedding it is refused.
    let prepared = PreparedPdf::from_bytes(kept).unwrap();
    assert!(prepared.finish(&signatures[1]).is_err(), "a signature over other bytes");
    let signed = prepared.finish(&signatures[0]).unwrap();
    assert!(signed.starts_with(PDF), "an incremental update keeps the original bytes");
    // The detached one is a CAdES signature of the annex, as before.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("annex.txt"), &annex).unwrap();
    std::fs::write(d.join("annex.p7s"), &signatures[1]).unwrap();
    std::fs::write(
        d.join("chain.pem"),
        support::http().get(idp.url("/ca/chain.pem")).send().await.unwrap().bytes().await.unwrap(),
    )
    .unwrap();
    let (ok, out) = run(
        d,
        "openssl",
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "annex.p7s",
            "-content",
            "annex.txt",
            "-CAfile",
            "chain.pem",
            "-out",
            "/dev/null",
        ],
    );
    assert!(ok, "{out}");

    if pdf_tools_on() {
        let root = support::http().get(idp.url("/ca/root.crt")).send().await.unwrap().bytes().await.unwrap();
        std::fs::write(d.join("root.der"), root).unwrap();
        let (ok, out) = run(d, "openssl", &["x509", "-inform", "DER", "-in", "root.der", "-out", "root.pem"]);
        assert!(ok, "{out}");
        std::fs::write(d.join("signed.pdf"), &signed).unwrap();
        let mut tampered = signed.clone();
        // A byte of the original page, inside the signed range.
        tampered[PDF.len() / 2] ^= 0x01;
        std::fs::write(d.join("tampered.pdf"), &tampered).unwrap();

        // pdfsig: NSS trusts only the root; the signer's certificate is checked by OCSP at
        // the running server.
        std::fs::create_dir(d.join("nss")).unwrap();
        let nss = format!("sql:{}", d.join("nss").display());
        assert!(run(d, "certutil", &["-N", "-d", &nss, "--empty-password"]).0);
        assert!(run(d, "certutil", &["-A", "-d", &nss, "-n", "drukyul-root", "-t", "C,C,C", "-a", "-i", "root.pem"]).0);
        let (ok, out) = run(d, "pdfsig", &["-nssdir", &nss, "signed.pdf"]);
        assert!(ok, "{out}");
        for line in [
            "  - Signer Certificate Common Name: Karma Wangchuk",
            "  - Signature Type: ETSI.CAdES.detached",
            "  - Signature Validation: Signature is Valid.",
            "  - Certificate Validation: Certificate is Trusted.",
            "  - Total document signed",
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
        }
        let (_, out) = run(d, "pdfsig", &["-nssdir", &nss, "tampered.pdf"]);
        assert!(!out.contains("Signature is Valid."), "{out}");

        // pyHanko, with the root alone: the CMS carries the issuing CA and the timestamp token
        // the TSA's chain.
        let validate = |file: &str| {
            run(
                d,
                "pyhanko",
                &[
                    "sign",
                    "validate",
                    "--trust",
                    "root.pem",
                    "--trust-replace",
                    "--no-revocation-check",
                    "--pretty-print",
                    file,
                ],
            )
        };
        let (ok, out) = validate("signed.pdf");
        assert!(ok, "{out}");
        for line in [
            "The signer's certificate is trusted.",
            "The signature is cryptographically sound.",
            "This timestamp is backed by a time stamping authority.",
            "The TSA certificate is trusted.",
            "The signature covers the entire file.",
            "The signature is judged VALID.",
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
        }
        let (ok, out) = validate("tampered.pdf");
        assert!(!ok && out.contains("The signature is judged INVALID."), "{out}");
    }
    idp.stop().await;
}
both_backends!(pdf_signed_through_the_flow);
