//! An agency's electronic seal: what an agency issues (here a birth certificate, rendered by
//! the agency kit) is sealed with the agency's own seal certificate through `POST /sign/seal`,
//! and anyone can verify it — through Drukyul ID's `/sign/verify` (which names the agency) and,
//! when `TEST_PDF_TOOLS=1`, with pyHanko and poppler's `pdfsig` trusting only the published root.
//! And the attacks: no `seal` scope, a citizen's token, bad documents, a PDF changed after
//! sealing, and a removed agency whose seal is revoked.

use agency_kit::pdf::PdfDocument;
use relying_party_sdk::signing::{Document, SigningClient, SigningError};
use serde_json::{Value, json};

use crate::{
    both_backends,
    pades::{pdf_tools_on, run},
    signing::token,
    support::{self, Backend},
};

async fn seal_raw(base: &str, token: &str, body: &Value) -> (u16, Value) {
    let r = support::http().post(format!("{base}/sign/seal")).bearer_auth(token).json(body).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn sealed_count(idp: &support::TestIdp) -> usize {
    let state = idp.state();
    idp::store::audit::page(&state.db, 0, 10_000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.body.event == "documents_sealed")
        .count()
}

async fn agency_seals_what_it_issues(backend: Backend) {
    let Some(idp) = support::start(backend).await else { return };
    let state = idp.state();
    let now = idp::domain::now();
    idp::pki::init(state, now).await.unwrap();
    let (dcrc, secret) =
        support::register(&idp, support::api_client("Department of Civil Registration and Census", "seal")).await;
    let at = token(&idp.base, &dcrc, &secret.unwrap(), "seal").await;
    let (other, other_secret) = support::register(&idp, support::api_client("Department of Trade", "sign")).await;
    let other_at = token(&idp.base, &other, &other_secret.unwrap(), "sign").await;

    let pdf = PdfDocument::new("Department of Civil Registration and Census", "Birth certificate")
        .field("Certificate number", "BC-2026-000001")
        .field("Name of child", "Dorji Wangmo")
        .field("Date of birth", "2026-11-01")
        .qr("https://services.gov.bt/certificates/BC-2026-000001")
        .render(now)
        .unwrap();
    let sdk = SigningClient::new(idp.base.parse().unwrap(), support::http());
    let sealed = sdk.seal_pdf(&at, "Birth certificate BC-2026-000001", "Issued by the DCRC", &pdf, now).await.unwrap();
    assert!(sealed.starts_with(&pdf), "an incremental update keeps the issued bytes");
    assert_eq!(sealed_count(&idp).await, 1, "sealing is audited");

    // Anyone verifies it: no token needed; the seal names the agency.
    let v = sdk.verify_pdf(None, &sealed).await.unwrap();
    assert!(v.valid, "{v:?}");
    assert_eq!(v.signer.as_deref(), Some("Department of Civil Registration and Census"));
    assert_eq!(v.agency.as_deref(), Some(dcrc.as_str()));
    assert_eq!(v.certificate_status.as_deref(), Some("good"));
    assert!(v.cid.is_none());
    let serial = v.certificate_serial.clone().unwrap();

    // The same seal certificate the next time; a detached seal over any document.
    let s2 = sdk.seal(&at, &[Document::cms("Register extract", b"extract")]).await.unwrap();
    assert_eq!(s2.certificate_serial, serial);
    let digest: [u8; 32] = ring::digest::digest(&ring::digest::SHA256, b"extract").as_ref().try_into().unwrap();
    assert!(sdk.verify(None, &s2.signatures[0], digest).await.unwrap().valid);
    let other_digest: [u8; 32] = ring::digest::digest(&ring::digest::SHA256, b"extracT").as_ref().try_into().unwrap();
    assert!(!sdk.verify(None, &s2.signatures[0], other_digest).await.unwrap().valid);

    // A changed byte of the issued document: the seal no longer verifies.
    let mut tampered = sealed.clone();
    let at_name = sealed.windows(5).position(|w| w == b"Dorji").unwrap();
    tampered[at_name] = b'D' ^ 0x20;
    let v = sdk.verify_pdf(None, &tampered).await.unwrap();
    assert!(!v.valid, "{v:?}");
    // Bytes appended after the seal: refused before anyone is asked.
    let mut appended = sealed.clone();
    appended.extend_from_slice(b"\n% appended\n");
    assert!(matches!(sdk.verify_pdf(None, &appended).await, Err(SigningError::Pdf(_))));

    // Attacks on /sign/seal, each sealing nothing.
    let doc = json!({"documents": [{"title": "Licence", "digest": "ab".repeat(32)}]});
    let (s, body) = seal_raw(&idp.base, &other_at, &doc).await;
    assert_eq!((s, body["error"].as_str()), (403, Some("insufficient_scope")), "{body}");
    let (s, _) = seal_raw(&idp.base, "forged", &doc).await;
    assert_eq!(s, 401);
    for bad in [
        json!({"documents": []}),
        json!({"documents": [{"title": "", "digest": "ab".repeat(32)}]}),
        json!({"documents": [{"title": "Licence", "digest": "not a digest"}]}),
        json!({"documents": [{"title": "Licence", "digest": "ab".repeat(32)}], "cid": "10101001234"}),
        json!({"documents": (0..21).map(|i| json!({"title": format!("D{i}"), "digest": "ab".repeat(32)})).collect::<Vec<_>>()}),
    ] {
        let (s, body) = seal_raw(&idp.base, &at, &bad).await;
        assert_eq!(s, 400, "{bad} -> {body}");
    }
    assert_eq!(sealed_count(&idp).await, 2, "nothing was sealed by the refused requests");

    if pdf_tools_on() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let root = support::http().get(idp.url("/ca/root.crt")).send().await.unwrap().bytes().await.unwrap();
        std::fs::write(d.join("root.der"), root).unwrap();
        let (ok, out) = run(d, "openssl", &["x509", "-inform", "DER", "-in", "root.der", "-out", "root.pem"]);
        assert!(ok, "{out}");
        std::fs::write(d.join("sealed.pdf"), &sealed).unwrap();
        std::fs::write(d.join("tampered.pdf"), &tampered).unwrap();
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
        let (ok, out) = validate("sealed.pdf");
        assert!(ok, "{out}");
        for line in [
            "The signer's certificate is trusted.",
            "The signature is cryptographically sound.",
            "The signature covers the entire file.",
            "The signature is judged VALID.",
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
        }
        let (ok, out) = validate("tampered.pdf");
        assert!(!ok && out.contains("The signature is judged INVALID."), "{out}");
        std::fs::create_dir(d.join("nss")).unwrap();
        let nss = format!("sql:{}", d.join("nss").display());
        assert!(run(d, "certutil", &["-N", "-d", &nss, "--empty-password"]).0);
        assert!(run(d, "certutil", &["-A", "-d", &nss, "-n", "drukyul-root", "-t", "C,C,C", "-a", "-i", "root.pem"]).0);
        let (ok, out) = run(d, "pdfsig", &["-nssdir", &nss, "sealed.pdf"]);
        assert!(ok, "{out}");
        for line in [
            "  - Signer Certificate Common Name: Department of Civil Registration and Census",
            "  - Signature Validation: Signature is Valid.",
            "  - Certificate Validation: Certificate is Trusted.",
            "  - Total document signed",
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
        }
    }

    // The agency is removed: what it sealed stays verifiable, with its seal revoked since.
    state.remove_client(&dcrc, "admin", idp::domain::now()).await.unwrap();
    let v = sdk.verify_pdf(None, &sealed).await.unwrap();
    assert!(v.certificate_status.as_deref().unwrap_or_default().starts_with("revoked"), "{v:?}");
    idp.stop().await;
}
both_backends!(agency_seals_what_it_issues);
