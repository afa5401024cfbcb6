//! The PKCS#11 backend against SoftHSM2: CA keys generated in a throwaway token, and everything
//! they sign judged by the `openssl` command line exactly as in the rest of this binary.
//!
//! SoftHSM2 reads `SOFTHSM2_CONF` once per process, at `C_Initialize`, and a test cannot change
//! its own environment without unsafe code. So [`softhsm2_suite`] makes a token directory in a
//! temporary folder, initialises two tokens in it with `softhsm2-util`, and runs this test binary
//! again with `SOFTHSM2_CONF` pointing there and only the `token_*` tests selected (they are
//! `#[ignore]`d otherwise). It passes when every one of them ran and passed.
//!
//! On when `TEST_SOFTHSM2=1` or `SOFTHSM2_LIB` names the library (default
//! `/usr/lib/softhsm/libsofthsm2.so`; `.ci/softhsm2` installs it). Otherwise it prints
//! `SKIPPED: softhsm2 suite (set TEST_SOFTHSM2=1)` and passes — unless
//! `IDP_REQUIRE_ALL_SUITES=1`, in which case it fails.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeInfo, AttributeType, KeyType, ObjectClass};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use signer::pkcs11::{Pkcs11Key, Pkcs11Token, UserPin};
use signer::x509_cert::ext::pkix::SubjectKeyIdentifier;
use signer::{CaKey, Error, IssuingCa, KeyRef, KeySource, KeySources};

use super::*;

/// Set in the child process only: the `token_*` tests run when they see it.
const CHILD: &str = "SIGNER_SOFTHSM2_CHILD";
/// The module path, handed to the child.
const MODULE: &str = "SIGNER_SOFTHSM2_MODULE";
const DEFAULT_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// The token the CA keys go into.
const TOKEN: &str = "drukyul-test";
/// A token nobody logs in to, so a wrong PIN meets a real login and not an existing one.
const SPARE_TOKEN: &str = "drukyul-spare";
const PIN: &str = "246810";
const SO_PIN: &str = "13579135";

/// Every test the child must run and pass.
const TOKEN_TESTS: &[&str] = &[
    "token_hierarchy_keys_stay_in_the_token_and_openssl_accepts_the_certificates",
    "token_keys_sign_cms_timestamps_crls_and_ocsp_that_openssl_verifies",
    "token_private_keys_cannot_be_read_out",
    "token_refusals_are_clear_and_never_show_the_pin",
    "token_failed_ceremony_leaves_no_keys_behind",
    "token_root_in_the_token_with_software_online_keys",
    "token_one_key_signs_from_many_threads",
];

/// The module to test, or `None` (after saying so loudly) when the suite is off.
fn softhsm2_module() -> Option<PathBuf> {
    let lib = std::env::var_os("SOFTHSM2_LIB").filter(|v| !v.is_empty());
    if std::env::var("TEST_SOFTHSM2").as_deref() != Ok("1") && lib.is_none() {
        if std::env::var("IDP_REQUIRE_ALL_SUITES").as_deref() == Ok("1") {
            panic!("TEST_SOFTHSM2 is not set but IDP_REQUIRE_ALL_SUITES=1: the softhsm2 suite must run");
        }
        // Straight to the process's stderr: libtest swallows `eprintln!` from a passing test, and
        // this line is meant to be seen (and grepped for by CI).
        let _ = writeln!(std::io::stderr(), "SKIPPED: softhsm2 suite (set TEST_SOFTHSM2=1)");
        return None;
    }
    let module = lib.map_or_else(|| PathBuf::from(DEFAULT_MODULE), PathBuf::from);
    assert!(module.is_file(), "the softhsm2 suite is on but {} is missing (run .ci/softhsm2)", module.display());
    Some(module)
}

#[test]
fn softhsm2_suite() {
    let Some(module) = softhsm2_module() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            tokens.display()
        ),
    )
    .unwrap();
    for label in [TOKEN, SPARE_TOKEN] {
        let out = Command::new("softhsm2-util")
            .args(["--init-token", "--free", "--label", label, "--so-pin", SO_PIN, "--pin", PIN])
            .env("SOFTHSM2_CONF", &conf)
            .output()
            .expect("softhsm2-util not found (run .ci/softhsm2)");
        assert!(out.status.success(), "softhsm2-util: {}", String::from_utf8_lossy(&out.stderr));
    }

    // One test at a time: SoftHSM 2.6's file object store is not safe for token objects created
    // concurrently from several sessions (C_GenerateKeyPair then fails now and then with
    // CKR_GENERAL_ERROR; upstream issue softhsm/SoftHSMv2#573), and each test opens its own
    // session. Threads sharing one key's session are tested in token_one_key_signs_from_many_threads.
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--test-threads", "1", "softhsm2::token_"])
        .env("SOFTHSM2_CONF", &conf)
        .env(CHILD, "1")
        .env(MODULE, &module)
        .output()
        .unwrap();
    let output = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    eprintln!("{output}");
    assert!(out.status.success(), "the token tests failed:\n{output}");
    for name in TOKEN_TESTS {
        assert!(output.contains(&format!("softhsm2::{name} ... ok")), "{name} did not run:\n{output}");
    }
    assert!(
        output.contains(&format!("test result: ok. {} passed; 0 failed", TOKEN_TESTS.len())),
        "not exactly the expected token tests ran:\n{output}"
    );
}

// ---------------------------------------------------------------------------------------------
// The token tests, run by `softhsm2_suite` in a child process whose SOFTHSM2_CONF points at the
// throwaway token directory.

/// The module, in the child; `None` when run by hand without the suite's token.
fn child_module() -> Option<PathBuf> {
    if std::env::var_os(CHILD).is_none() {
        eprintln!("this test runs inside softhsm2_suite (TEST_SOFTHSM2=1), which makes its token");
        return None;
    }
    assert!(Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success()), "openssl not found");
    Some(PathBuf::from(std::env::var_os(MODULE).unwrap()))
}

fn pin() -> UserPin {
    UserPin::new(PIN.into())
}

fn open(module: &Path) -> Pkcs11Token {
    Pkcs11Token::open(module, TOKEN, &pin()).unwrap()
}

/// A session of our own, straight through cryptoki, to look at the token the way an attacker
/// with the PIN would. The library is already initialised in this process (by `open`).
fn raw_session(module: &Path) -> Session {
    let context = Pkcs11::new(module).unwrap();
    match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => panic!("{e}"),
    }
    let slot = context
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| context.get_token_info(*s).unwrap().label() == TOKEN)
        .unwrap();
    let session = context.open_rw_session(slot).unwrap();
    match session.login(UserType::User, Some(&AuthPin::from(PIN.to_owned()))) {
        Ok(()) | Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::UserAlreadyLoggedIn, _)) => {}
        Err(e) => panic!("{e}"),
    }
    session
}

fn pkcs11_tool(module: &Path, args: &[&str]) -> Run {
    let mut all = vec!["--module", module.to_str().unwrap(), "--token-label", TOKEN, "--login", "--pin", PIN];
    all.extend_from_slice(args);
    let out = Command::new("pkcs11-tool").args(&all).output().expect("pkcs11-tool not found (run .ci/softhsm2)");
    let output = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Run { ok: out.status.success(), output }
}

fn ski(cert: &Certificate) -> Vec<u8> {
    let (_, ski) = cert.tbs_certificate().get_extension::<SubjectKeyIdentifier>().unwrap().unwrap();
    ski.0.as_bytes().to_vec()
}

#[test]
#[ignore = "run by softhsm2_suite with a throwaway token"]
fn token_hierarchy_keys_stay_in_the_token_and_openssl_accepts_the_certificates() {
    let Some(module) = child_module() else { return };
    let token = open(&module);
    let now = now();
    let h = Hierarchy::generate_with(&params(true), &KeySources::pkcs11(&token, "t1"), now).unwrap();

    for (role, cred) in [("root", h.root()), ("issuing", h.issuing()), ("ocsp", h.ocsp()), ("tsa", h.tsa())] {
        let label = format!("t1-{role}");
        match cred.key() {
            KeyRef::Pkcs11 { token: t, label: l } => assert_eq!((t.as_str(), l.as_str()), (TOKEN, label.as_str())),
            other => panic!("{role}: {other:?}"),
        }
        assert!(cred.private_key().is_none(), "{role}: a token key has no PKCS#8 to hand out");
        // Found again by label, from another open of the token; CKA_ID is the certificate's SKI.
        let key = open(&module).find_key(&label).unwrap();
        assert_eq!(key.public_key(), cred.certificate().tbs_certificate().subject_public_key_info(), "{role}");
        assert_eq!(key.id(), ski(cred.certificate()).as_slice(), "{role}");
    }

    let pki = Pki::new();
    let root = pki.cert("root.pem", h.root().certificate());
    let issuing = pki.cert("issuing.pem", h.issuing().certificate());
    let ocsp = pki.cert("ocsp.pem", h.ocsp().certificate());
    let tsa = pki.cert("tsa.pem", h.tsa().certificate());
    let citizen = pki.cert("citizen.pem", &citizen_cert(&h, now));
    for leaf in [&issuing, &citizen, &ocsp, &tsa] {
        let run = verify(&root, &issuing, leaf, &[]);
        assert!(run.ok && run.output.contains(": OK"), "{leaf}: {}", run.output);
    }
    let run = verify(&root, &issuing, &tsa, &["-purpose", "timestampsign"]);
    assert!(run.ok, "TSA timestampsign: {}", run.output);
    let run = verify(&root, &issuing, &ocsp, &["-purpose", "ocsphelper"]);
    assert!(run.ok, "OCSP ocsphelper: {}", run.output);
    let run = verify(&root, &issuing, &citizen, &["-policy", TEST_POLICY, "-explicit_policy"]);
    assert!(run.ok, "explicit policy: {}", run.output);
    let t = text(&root);
    assert!(t.contains("ecdsa-with-SHA256") && t.contains("NIST CURVE: P-256"), "{t}");

    // The certificate's key is the token's public key, as pkcs11-tool (OpenSC) reads it.
    let out = pki.dir.path().join("root-pub.der");
    let run = pkcs11_tool(
        &module,
        &["--read-object", "--type", "pubkey", "--label", "t1-root", "--output-file", out.to_str().unwrap()],
    );
    assert!(run.ok, "{}", run.output);
    let from_token = openssl(&["pkey", "-pubin", "-inform", "DER", "-in", out.to_str().unwrap()]);
    let from_cert = openssl(&["x509", "-noout", "-pubkey", "-in", &root]);
    assert!(from_token.ok, "{}", from_token.output);
    assert_eq!(from_token.output, from_cert.output);
}

#[test]
#[ignore = "run by softhsm2_suite with a throwaway token"]
fn token_keys_sign_cms_timestamps_crls_and_ocsp_that_openssl_verifies() {
    let Some(module) = child_module() else { return };
    let now = now();
    let h = Hierarchy::generate_with(&params(false), &KeySources::pkcs11(&open(&module), "t2"), now).unwrap();
    // The service after a restart: the token opened afresh, the keys found by label.
    let token = open(&module);
    let tsa = TimestampAuthority::new(
        h.tsa().certificate().clone(),
        Box::new(token.find_key("t2-tsa").unwrap()),
        TSA_POLICY.parse().unwrap(),
    )
    .unwrap();
    let responder = OcspResponder::new(
        h.ocsp().certificate().clone(),
        Box::new(token.find_key("t2-ocsp").unwrap()),
        h.issuing().certificate(),
        Duration::from_secs(3600),
    )
    .unwrap();
    let issuing_ca = IssuingCa::new(
        h.issuing().certificate().clone(),
        Box::new(token.find_key("t2-issuing").unwrap()),
        h.issuing_ca().endpoints().clone(),
        None,
    )
    .unwrap();
    // A document-signing key in the token too, certified by the token-held issuing CA.
    let citizen_key = token.generate_key("t2-citizen").unwrap();
    let cert = citizen::issue_signing_certificate(
        &issuing_ca,
        citizen_key.public_key(),
        &karma(),
        now,
        Duration::from_secs(86_400 * 730),
    )
    .unwrap();

    let pki = Pki::new();
    let root = pki.cert("root.pem", h.root().certificate());
    let issuing = pki.cert("issuing.pem", h.issuing().certificate());
    let chain = pki.write("chain.pem", h.chain_pem().unwrap());
    let tsa_chain =
        pki.write("tsa-chain.pem", certificate_pem(h.tsa().certificate()).unwrap() + &h.chain_pem().unwrap());

    // CMS / CAdES-B-B, then B-T with the token-held TSA.
    let document = b"Construction approval, Wangdue Phodrang\n".repeat(50);
    let doc = pki.write("doc.txt", &document);
    let chain_certs = [h.issuing().certificate().clone()];
    let signer = CmsSigner::new(&cert, &citizen_key).unwrap().with_chain(&chain_certs);
    let mut signature = signer.sign_digest(&Sha256Digest::of(&document), now).unwrap();
    let sig = pki.write("sig.p7s", signature.to_der().unwrap());
    let run = cms_verify(&sig, &doc, &root, &["-cades"]);
    assert!(run.ok && run.output.contains("Verification successful"), "B-B: {}", run.output);
    let mut modified = document.clone();
    modified[3] ^= 1;
    let bad_doc = pki.write("modified.txt", &modified);
    let run = cms_verify(&sig, &bad_doc, &root, &["-cades"]);
    assert!(!run.ok && run.output.contains("Verification failure"), "modified document accepted: {}", run.output);

    let token_der = tsa.timestamp(&Sha256Digest::of(signature.signature_value().unwrap()), now).unwrap();
    signature.add_signature_timestamp(&token_der).unwrap();
    let sig_t = pki.write("sig-t.p7s", signature.to_der().unwrap());
    let run = cms_verify(&sig_t, &doc, &root, &["-cades"]);
    assert!(run.ok && run.output.contains("Verification successful"), "B-T: {}", run.output);
    let token_file = pki.write("token.der", &token_der);
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
        &tsa_chain,
    ]);
    assert!(run.ok && run.output.contains("Verification: OK"), "token: {}", run.output);

    // RFC 3161 over the wire format, as a client would ask.
    let req = pki.dir.path().join("req.tsr").to_str().unwrap().to_owned();
    let run = openssl(&["ts", "-query", "-data", &doc, "-sha256", "-cert", "-out", &req]);
    assert!(run.ok, "{}", run.output);
    let resp = pki.write("resp.tsr", tsa.respond(&read(&req), now).unwrap());
    let run = openssl(&["ts", "-verify", "-in", &resp, "-queryfile", &req, "-CAfile", &root, "-untrusted", &tsa_chain]);
    assert!(run.ok && run.output.contains("Verification: OK"), "{}", run.output);

    // CRL signed by the token-held issuing CA key.
    let citizen_pem = pki.cert("citizen.pem", &cert);
    let entries = [RevokedCertificate {
        serial: cert.tbs_certificate().serial_number().clone(),
        revoked_at: now - 10,
        reason: RevocationReason::KeyCompromise,
    }];
    let crl = issuing_ca.issue_crl(1, &entries, now, Duration::from_secs(86_400)).unwrap();
    let crl_der = pki.write("crl.der", crl.to_der().unwrap());
    let run = openssl(&["crl", "-in", &crl_der, "-inform", "DER", "-CAfile", &chain, "-noout"]);
    assert!(run.ok && run.output.contains("verify OK"), "{}", run.output);
    let crl_pem = pki.write("crl.pem", crl.to_pem(pem::LineEnding::LF).unwrap());
    let run = verify(&root, &issuing, &citizen_pem, &["-crl_check", "-CRLfile", &crl_pem]);
    assert!(!run.ok && run.output.contains("certificate revoked"), "revoked accepted: {}", run.output);

    // OCSP signed by the token-held responder key: good, then revoked.
    let check = |resp: &str| {
        openssl(&[
            "ocsp",
            "-respin",
            resp,
            "-CAfile",
            &root,
            "-resp_text",
            "-no_nonce",
            "-issuer",
            &issuing,
            "-cert",
            &citizen_pem,
        ])
    };
    let req = ocsp_request(&pki, "ocsp-req.der", &issuing, &citizen_pem, &["-no_nonce"]);
    let resp = pki.write("good.der", responder.respond(&req, now, |_| CertStatus::Good).unwrap());
    let run = check(&resp);
    assert!(run.ok && run.output.contains("Response verify OK"), "{}", run.output);
    assert!(run.output.contains(&format!("{citizen_pem}: good")), "{}", run.output);
    let status = CertStatus::Revoked { revoked_at: now - 10, reason: RevocationReason::KeyCompromise };
    let resp = pki.write("revoked.der", responder.respond(&req, now, |_| status).unwrap());
    let run = check(&resp);
    assert!(run.ok && run.output.contains(&format!("{citizen_pem}: revoked")), "{}", run.output);
}

#[test]
#[ignore = "run by softhsm2_suite with a throwaway token"]
fn token_private_keys_cannot_be_read_out() {
    let Some(module) = child_module() else { return };
    let key = open(&module).generate_key("t3-key").unwrap();

    // Through cryptoki, logged in as the user: CKA_VALUE is sensitive, and the key was born so.
    let session = raw_session(&module);
    let private = session
        .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY), Attribute::Label(b"t3-key".to_vec())])
        .unwrap();
    assert_eq!(private.len(), 1);
    let info = session.get_attribute_info(private[0], &[AttributeType::Value]).unwrap();
    assert!(matches!(info.as_slice(), [AttributeInfo::Sensitive]), "CKA_VALUE must be sensitive: {info:?}");
    let values = session.get_attributes(private[0], &[AttributeType::Value]).unwrap();
    assert!(values.is_empty(), "the token returned CKA_VALUE: {values:?}");
    let flags = session
        .get_attributes(
            private[0],
            &[
                AttributeType::Token,
                AttributeType::Private,
                AttributeType::Sensitive,
                AttributeType::AlwaysSensitive,
                AttributeType::Extractable,
                AttributeType::NeverExtractable,
                AttributeType::Local,
                AttributeType::Sign,
                AttributeType::Derive,
                AttributeType::Decrypt,
                AttributeType::Id,
            ],
        )
        .unwrap();
    for expected in [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::AlwaysSensitive(true),
        Attribute::Extractable(false),
        Attribute::NeverExtractable(true),
        Attribute::Local(true),
        Attribute::Sign(true),
        Attribute::Derive(false),
        Attribute::Decrypt(false),
        Attribute::Id(key.id().to_vec()),
    ] {
        assert!(flags.contains(&expected), "missing {expected:?} in {flags:?}");
    }
    // Once non-extractable, always: the token refuses to turn it back.
    assert!(session.update_attributes(private[0], &[Attribute::Extractable(true)]).is_err());
    assert!(session.update_attributes(private[0], &[Attribute::Sensitive(false)]).is_err());

    // Wrapping is how an extractable key leaves a token even when it is sensitive: refused.
    let wrapping = session
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::ValueLen(32.into()),
                Attribute::Token(false),
                Attribute::Wrap(true),
            ],
        )
        .unwrap();
    let wrapped = session.wrap_key(&Mechanism::AesKeyWrapPad, wrapping, private[0]);
    assert!(
        matches!(wrapped, Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::KeyUnextractable, _))),
        "the private key was wrapped out of the token: {wrapped:?}"
    );
    // ...while the same mechanism does work on a key that may leave: the refusal is the key's.
    let movable = session
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::ValueLen(32.into()),
                Attribute::Token(false),
                Attribute::Extractable(true),
            ],
        )
        .unwrap();
    assert!(session.wrap_key(&Mechanism::AesKeyWrapPad, wrapping, movable).is_ok());

    // OpenSC's pkcs11-tool, an independent reader, lists it as never extractable.
    let run = pkcs11_tool(&module, &["--list-objects", "--type", "privkey"]);
    assert!(run.ok, "{}", run.output);
    let listing = run.output.split("Private Key Object").find(|o| o.contains("label:      t3-key")).unwrap();
    assert!(listing.contains("never extractable") && listing.contains("always sensitive"), "{listing}");
}

#[test]
#[ignore = "run by softhsm2_suite with a throwaway token"]
fn token_refusals_are_clear_and_never_show_the_pin() {
    let Some(module) = child_module() else { return };
    let wrong = "97531-wrong";
    let err = Pkcs11Token::open(&module, SPARE_TOKEN, &UserPin::new(wrong.into())).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::Pkcs11 { operation: "log in", .. }), "{err:?}");
    assert!(message.contains("CKR_PIN_INCORRECT"), "{message}");
    assert!(!message.contains(wrong) && !format!("{err:?}").contains(wrong), "{message}");

    let err = Pkcs11Token::open(&module, "no-such-token", &pin()).unwrap_err();
    assert!(err.to_string().contains("no token labelled \"no-such-token\""), "{err}");

    let token = open(&module);
    let debug = format!("{token:?} {:?}", pin());
    assert!(!debug.contains(PIN), "{debug}");
    let err = token.find_key("t4-missing").unwrap_err();
    assert!(err.to_string().contains("no private key labelled \"t4-missing\""), "{err}");
    let key = token.generate_key("t4-dup").unwrap();
    assert!(!format!("{key:?}").contains(PIN));
    let err = token.generate_key("t4-dup").unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert!(token.generate_key("").is_err() && token.generate_key("bad\nlabel").is_err());

    // A key that could be copied out is not accepted as a CA key.
    let session = raw_session(&module);
    let params_der = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let label = b"t4-extractable".to_vec();
    session
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::Verify(true),
                Attribute::EcParams(params_der.to_vec()),
                Attribute::Label(label.clone()),
                Attribute::Id(b"t4x".to_vec()),
            ],
            &[
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
                Attribute::Sign(true),
                Attribute::KeyType(KeyType::EC),
                Attribute::Label(label),
                Attribute::Id(b"t4x".to_vec()),
            ],
        )
        .unwrap();
    let err = token.find_key("t4-extractable").unwrap_err();
    assert!(err.to_string().contains("not sensitive and non-extractable"), "{err}");

    // Two keys of one hierarchy under one label: refused before anything is generated.
    let mut sources = KeySources::pkcs11(&token, "t4-same");
    sources.ocsp = sources.tsa.clone();
    let err = Hierarchy::generate_with(&params(false), &sources, now()).err().unwrap();
    assert!(matches!(err, Error::InvalidName { .. }), "{err:?}");
    assert!(token.find_key("t4-same-root").is_err(), "generated before checking the labels");
}

#[test]
#[ignore = "run by softhsm2_suite with a throwaway token"]
fn token_failed_ceremony_leaves_no_keys_behind() {
    let Some(module) = child_module() else { return };
    let token = open(&module);
    // The TSA's label is taken: the ceremony fails at the last key...
    let taken = token.generate_key("t5-tsa").unwrap();
    let err = Hierarchy::generate_with(&params(false), &KeySources::pkcs11(&token, "t5"), now()).err().unwrap();
    assert!(err.to_string().contains("already exists"), "{err}");
    // ...and takes the three keys it made with it, and only those.
    for role in ["root", "issuing", "ocsp"] {
        let err = token.find_key(&format!("t5-{role}")).unwrap_err();
        assert!(err.to_string().contains("no private key"), "t5-{role}: {err}");
    }
    assert_eq!(token.find_key("t5-tsa").unwrap().public_key(), taken.public_key());

    // An unusable lifetime found after the root was made: the root goes too.
    let mut p = params(false);
    p.issuing_validity = p.root_validity + Duration::from_secs(86_400);
    let err = Hierarchy::generate_with(&p, &KeySources::pkcs11(&token, "t5b"), now()).err().unwrap();
    assert!(matches!(err, Error::InvalidValidity(_)), "{err:?}");
    for role in ["root", "issuing"] {
        assert!(token.find_key(&format!("t5b-{role}")).is_err(), "t5b-{role} left behind");
    }
}

#[test]
#[ignore = "run by softhsm2_suite with a throwaway token"]
fn token_root_in_the_token_with_software_online_keys() {
    let Some(module) = child_module() else { return };
    let token = open(&module);
    let sources = KeySources {
        root: KeySource::Pkcs11 { token: token.clone(), label: "t6-root".into() },
        ..KeySources::software()
    };
    let now = now();
    let h = Hierarchy::generate_with(&params(false), &sources, now).unwrap();
    assert!(h.root().private_key().is_none());
    for cred in [h.issuing(), h.ocsp(), h.tsa()] {
        assert!(matches!(cred.key(), KeyRef::Software(_)));
        assert_eq!(software_key(cred).public_key(), cred.certificate().tbs_certificate().subject_public_key_info());
    }
    // The root CRL, signed in the token as `idp ca init` would right after the ceremony.
    let root_key = token.find_key("t6-root").unwrap();
    let crl =
        signer::crl::issue_crl(h.root().certificate(), &root_key, 1, &[], now, Duration::from_secs(86_400)).unwrap();
    let pki = Pki::new();
    let root = pki.cert("root.pem", h.root().certificate());
    let issuing = pki.cert("issuing.pem", h.issuing().certificate());
    let citizen = pki.cert("citizen.pem", &citizen_cert(&h, now));
    let run = verify(&root, &issuing, &citizen, &[]);
    assert!(run.ok && run.output.contains(": OK"), "{}", run.output);
    let crl_der = pki.write("root-crl.der", crl.to_der().unwrap());
    let run = openssl(&["crl", "-in", &crl_der, "-inform", "DER", "-CAfile", &root, "-noout"]);
    assert!(run.ok && run.output.contains("verify OK"), "{}", run.output);
}

#[test]
#[ignore = "run by softhsm2_suite with a throwaway token"]
fn token_one_key_signs_from_many_threads() {
    use p256::ecdsa::signature::Verifier;
    use p256::pkcs8::DecodePublicKey;
    let Some(module) = child_module() else { return };
    let key: Arc<Pkcs11Key> = Arc::new(open(&module).generate_key("t7-threads").unwrap());
    let verifying_key = p256::ecdsa::VerifyingKey::from_public_key_der(&key.public_key().to_der().unwrap()).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let key = Arc::clone(&key);
            std::thread::spawn(move || {
                (0..25)
                    .map(|i| {
                        let message = format!("thread {t} message {i}").into_bytes();
                        let signature = key.sign(&message).unwrap();
                        (message, signature)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut count = 0;
    for thread in threads {
        for (message, signature) in thread.join().unwrap() {
            let signature = p256::ecdsa::DerSignature::from_bytes(&signature).unwrap();
            verifying_key.verify(&message, &signature).unwrap();
            count += 1;
        }
    }
    assert_eq!(count, 100);
}
