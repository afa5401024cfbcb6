//! The verifier against signatures made by [`CmsSigner`]: each valid shape once, and one
//! tampering (or unfit certificate) per [`Failure`].

use core::time::Duration;

use der::asn1::{Any, SetOfVec};
use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;

use ::cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use ::cms::signed_data::{CertificateSet, SignedData, SignerIdentifier, SignerInfo, SignerInfos};

use super::*;
use crate::citizen;
use crate::cms::CmsSigner;
use crate::crl::RevocationReason;
use crate::signed_data::content_info;
use crate::tests::{NOW, citizen_with_key, hierarchy, karma, key_of};
use crate::tsa::TimestampAuthority;
use crate::{Hierarchy, SoftwareKey};

const DAY: i64 = 86_400;

fn document() -> Sha256Digest {
    Sha256Digest::of(b"marriage registration, Thimphu dzongkhag")
}

fn good(_: &SerialNumber, _: &Name) -> CertStatus {
    CertStatus::Good
}

fn tsa(h: &Hierarchy) -> TimestampAuthority {
    let policy = "1.3.6.1.4.1.32473.2".parse().unwrap();
    TimestampAuthority::new(h.tsa().certificate().clone(), Box::new(key_of(h.tsa())), policy).unwrap()
}

/// A citizen of `h` with their certificate and key.
struct Citizen {
    cert: Certificate,
    key: SoftwareKey,
}

fn citizen(h: &Hierarchy) -> Citizen {
    let (cert, key) = citizen_with_key(h);
    Citizen { cert, key }
}

/// A B-B signature of `document()` at NOW, carrying the issuing CA.
fn sign_b_b(h: &Hierarchy, c: &Citizen) -> Vec<u8> {
    let chain = [h.issuing().certificate().clone()];
    let signer = CmsSigner::new(&c.cert, &c.key).unwrap().with_chain(&chain);
    signer.sign_digest(&document(), NOW).unwrap().to_der().unwrap()
}

/// A B-T signature of `document()` at NOW, timestamped at `stamped_at`.
fn sign_b_t(h: &Hierarchy, c: &Citizen, stamped_at: i64) -> Vec<u8> {
    sign_b_t_at(h, c, NOW, stamped_at)
}

fn sign_b_t_at(h: &Hierarchy, c: &Citizen, signed_at: i64, stamped_at: i64) -> Vec<u8> {
    let chain = [h.issuing().certificate().clone()];
    let signer = CmsSigner::new(&c.cert, &c.key).unwrap().with_chain(&chain);
    let mut signature = signer.sign_digest(&document(), signed_at).unwrap();
    let token = tsa(h).timestamp(&signature.timestamp_imprint().unwrap(), stamped_at).unwrap();
    signature.add_signature_timestamp(&token).unwrap();
    signature.to_der().unwrap()
}

fn verify_with(h: &Hierarchy, der: &[u8], now: i64, status: &dyn RevocationStatus) -> Report {
    let roots = [h.root().certificate().clone()];
    Verifier::new(&roots, status).verify(der, &document(), now)
}

fn verify(h: &Hierarchy, der: &[u8], now: i64) -> Report {
    verify_with(h, der, now, &good)
}

fn failure(report: &Report) -> Failure {
    report.verdict.clone().unwrap_err()
}

/// Re-encodes the signature after `edit` changed its SignedData.
fn edit(der: &[u8], edit: impl FnOnce(&mut SignedData)) -> Vec<u8> {
    let mut sd = parse_content_info(der).unwrap();
    edit(&mut sd);
    content_info(&sd).unwrap().to_der().unwrap()
}

fn edit_signer(der: &[u8], change: impl FnOnce(&mut SignerInfo)) -> Vec<u8> {
    edit(der, |sd| {
        let mut infos: Vec<SignerInfo> = sd.signer_infos.0.iter().cloned().collect();
        change(&mut infos[0]);
        sd.signer_infos = SignerInfos::try_from(infos).unwrap();
    })
}

/// Revoked at `revoked_at` for key compromise: the only serial the records list as revoked.
fn revoked(serial: SerialNumber, revoked_at: i64) -> impl Fn(&SerialNumber, &Name) -> CertStatus {
    move |s: &SerialNumber, _: &Name| {
        if *s == serial {
            CertStatus::Revoked { revoked_at, reason: RevocationReason::KeyCompromise }
        } else {
            CertStatus::Good
        }
    }
}

#[test]
fn a_b_b_signature_is_valid_and_reports_who_and_when() {
    let h = hierarchy();
    let c = citizen(&h);
    let report = verify(&h, &sign_b_b(&h, &c), NOW + 60);
    assert_eq!(report.verdict, Ok(()));
    assert!(report.is_valid());
    let signer = report.signer.as_ref().unwrap();
    assert_eq!(signer.common_name.as_deref(), Some("Karma Wangchuk"));
    assert_eq!(signer.given_name.as_deref(), Some("Karma"));
    assert_eq!(signer.surname.as_deref(), Some("Wangchuk"));
    assert_eq!(signer.serial_number.as_deref(), Some("IDCBT-10101001234"));
    assert!(!format!("{signer:?}").contains("10101001234"), "Debug withholds the CID");
    assert_eq!(report.certificate_serial.as_ref(), Some(c.cert.tbs_certificate().serial_number()));
    assert_eq!(report.claimed_signing_time, Some(NOW));
    assert_eq!(report.timestamp, None);
    assert_eq!(report.signing_time(), Some(NOW));
    assert_eq!(report.status_at_signing_time, Some(StatusAtSigningTime::Good));
}

#[test]
fn a_b_t_signature_is_valid_and_reports_the_timestamp() {
    let h = hierarchy();
    let c = citizen(&h);
    let report = verify(&h, &sign_b_t(&h, &c, NOW + 5), NOW + 60);
    assert_eq!(report.verdict, Ok(()));
    let stamp = report.timestamp.as_ref().unwrap();
    assert_eq!(stamp.gen_time, NOW + 5);
    assert!(stamp.tsa.contains("CN=Drukyul ID Timestamping Authority"), "{}", stamp.tsa);
    assert_eq!(report.claimed_signing_time, Some(NOW));
    assert_eq!(report.signing_time(), Some(NOW + 5));
    assert_eq!(report.status_at_signing_time, Some(StatusAtSigningTime::Good));
}

#[test]
fn intermediates_from_the_caller_complete_a_signature_that_carries_only_its_own_certificate() {
    let h = hierarchy();
    let c = citizen(&h);
    let der = CmsSigner::new(&c.cert, &c.key).unwrap().sign_digest(&document(), NOW).unwrap().to_der().unwrap();
    assert!(matches!(failure(&verify(&h, &der, NOW + 60)), Failure::UntrustedChain(_)));
    let roots = [h.root().certificate().clone()];
    let intermediates = [h.issuing().certificate().clone()];
    let report = Verifier::new(&roots, &good).with_intermediates(&intermediates).verify(&der, &document(), NOW + 60);
    assert_eq!(report.verdict, Ok(()));
}

#[test]
fn a_modified_document_is_a_digest_mismatch() {
    let h = hierarchy();
    let c = citizen(&h);
    let roots = [h.root().certificate().clone()];
    let other = Sha256Digest::of(b"marriage registration, Paro dzongkhag");
    let report = Verifier::new(&roots, &good).verify(&sign_b_b(&h, &c), &other, NOW + 60);
    assert_eq!(failure(&report), Failure::DigestMismatch);
    assert_eq!(failure(&report).to_string(), "the document does not match the signature (message-digest differs)");
}

#[test]
fn a_tampered_signed_attribute_byte_is_a_bad_signature() {
    let h = hierarchy();
    let c = citizen(&h);
    let mut der = sign_b_b(&h, &c);
    // The signing-time UTCTime of NOW (2026-01-01T00:00:00Z), moved one second later. The
    // certificates' notBefore has the same bytes; the signer info comes after them.
    let at = der.windows(13).rposition(|w| w == b"260101000000Z").unwrap();
    der[at + 11] = b'1';
    let report = verify(&h, &der, NOW + 60);
    assert_eq!(failure(&report), Failure::BadSignature);
    assert!(!report.is_valid());
}

#[test]
fn a_signature_from_another_hierarchy_does_not_chain() {
    let h = hierarchy();
    let other = hierarchy();
    let c = citizen(&other);
    // Same names in both hierarchies: only the signatures tell them apart.
    let report = verify(&h, &sign_b_b(&other, &c), NOW + 60);
    assert!(matches!(failure(&report), Failure::UntrustedChain(_)), "{report:?}");
}

#[test]
fn the_wrong_trust_anchor_does_not_chain() {
    let h = hierarchy();
    let other = hierarchy();
    let c = citizen(&h);
    let roots = [other.root().certificate().clone()];
    let report = Verifier::new(&roots, &good).verify(&sign_b_b(&h, &c), &document(), NOW + 60);
    assert!(matches!(failure(&report), Failure::UntrustedChain(_)));
    // A signature refused for its chain still says whose certificate it names.
    assert!(report.signer.is_some());
}

#[test]
fn a_certificate_expired_at_the_timestamped_signing_time_is_invalid() {
    let h = hierarchy();
    let c = citizen(&h);
    // Citizen certificates last 730 days; the TSA's five years. A late timestamp is the time
    // that counts, and by then the certificate had expired.
    let late = NOW + 731 * DAY;
    let report = verify(&h, &sign_b_t(&h, &c, late), late + 60);
    assert_eq!(failure(&report), Failure::CertificateExpiredAtSigningTime(Role::Signer));
}

#[test]
fn revoked_before_the_timestamp_is_invalid_and_after_it_is_valid_with_the_revocation_reported() {
    let h = hierarchy();
    let c = citizen(&h);
    let serial = c.cert.tbs_certificate().serial_number().clone();
    let der = sign_b_t(&h, &c, NOW + 100);

    let report = verify_with(&h, &der, NOW + 300, &revoked(serial.clone(), NOW + 50));
    let expected = Failure::RevokedBeforeSigning {
        role: Role::Signer,
        revoked_at: NOW + 50,
        reason: RevocationReason::KeyCompromise,
    };
    assert_eq!(failure(&report), expected);
    let status = StatusAtSigningTime::Revoked { revoked_at: NOW + 50, reason: RevocationReason::KeyCompromise };
    assert_eq!(report.status_at_signing_time, Some(status));

    let report = verify_with(&h, &der, NOW + 300, &revoked(serial, NOW + 200));
    assert_eq!(report.verdict, Ok(()));
    let later = StatusAtSigningTime::RevokedLater { revoked_at: NOW + 200, reason: RevocationReason::KeyCompromise };
    assert_eq!(report.status_at_signing_time, Some(later));
}

#[test]
fn without_a_timestamp_any_revocation_is_fatal_because_the_claimed_time_proves_nothing() {
    let h = hierarchy();
    let c = citizen(&h);
    let serial = c.cert.tbs_certificate().serial_number().clone();
    let report = verify_with(&h, &sign_b_b(&h, &c), NOW + 300, &revoked(serial, NOW + 200));
    assert!(matches!(failure(&report), Failure::RevokedWithoutProofOfTime { role: Role::Signer, .. }));
}

#[test]
fn a_revoked_issuing_ca_or_tsa_and_an_unknown_certificate_are_invalid() {
    let h = hierarchy();
    let c = citizen(&h);
    let der = sign_b_t(&h, &c, NOW + 100);

    // The issuing CA also issued the TSA's certificate, so the timestamp falls with it: nothing
    // older than the token proves it was made before the CA's revocation.
    let issuing = h.issuing().certificate().tbs_certificate().serial_number().clone();
    let report = verify_with(&h, &der, NOW + 300, &revoked(issuing.clone(), NOW + 50));
    let Failure::BadTimestamp(TimestampProblem::Token(inner)) = failure(&report) else { panic!("{report:?}") };
    assert!(matches!(*inner, Failure::RevokedWithoutProofOfTime { role: Role::IntermediateCa, .. }));
    let report = verify_with(&h, &sign_b_b(&h, &c), NOW + 300, &revoked(issuing, NOW + 50));
    assert!(matches!(failure(&report), Failure::RevokedWithoutProofOfTime { role: Role::IntermediateCa, .. }));

    let tsa_serial = h.tsa().certificate().tbs_certificate().serial_number().clone();
    let report = verify_with(&h, &der, NOW + 300, &revoked(tsa_serial, NOW + 200));
    let Failure::BadTimestamp(TimestampProblem::Token(inner)) = failure(&report) else { panic!("{report:?}") };
    assert!(matches!(*inner, Failure::RevokedWithoutProofOfTime { role: Role::Tsa, .. }));

    let unknown = |_: &SerialNumber, _: &Name| CertStatus::Unknown;
    let report = verify_with(&h, &sign_b_b(&h, &c), NOW + 300, &unknown);
    assert_eq!(failure(&report), Failure::StatusUnknown(Role::Signer));
    assert_eq!(report.status_at_signing_time, Some(StatusAtSigningTime::Unknown));
}

#[test]
fn a_timestamp_over_another_value_is_refused() {
    let h = hierarchy();
    let c = citizen(&h);
    // A genuine token from our own TSA, but over the document instead of the signature value.
    let token = tsa(&h).timestamp(&document(), NOW + 5).unwrap();
    let der = edit_signer(&sign_b_b(&h, &c), |info| {
        let values = SetOfVec::try_from(vec![Any::from_der(&token).unwrap()]).unwrap();
        let attribute = Attribute { oid: ID_AA_SIGNATURE_TIME_STAMP_TOKEN, values };
        info.unsigned_attrs = Some(SetOfVec::try_from(vec![attribute]).unwrap());
    });
    let report = verify(&h, &der, NOW + 60);
    assert_eq!(failure(&report), Failure::BadTimestamp(TimestampProblem::ImprintMismatch));
    assert_eq!(report.timestamp, None);
}

#[test]
fn a_timestamp_in_the_future_and_a_signing_time_after_the_timestamp_are_refused() {
    let h = hierarchy();
    let c = citizen(&h);
    let report = verify(&h, &sign_b_t(&h, &c, NOW + 3600), NOW + 60);
    assert_eq!(failure(&report), Failure::BadTimestamp(TimestampProblem::InTheFuture));

    // Claimed two hours in, stamped one hour in: the claim contradicts the proof.
    let report = verify(&h, &sign_b_t_at(&h, &c, NOW + 7200, NOW + 3600), NOW + 7260);
    assert_eq!(failure(&report), Failure::SigningTimeAfterTimestamp);
}

#[test]
fn a_signing_time_in_the_future_is_refused() {
    let h = hierarchy();
    let c = citizen(&h);
    let report = verify(&h, &sign_b_b(&h, &c), NOW - 3600);
    assert_eq!(failure(&report), Failure::SigningTimeInFuture);
}

#[test]
fn garbage_and_unsupported_algorithms_are_refused() {
    let h = hierarchy();
    let c = citizen(&h);
    assert!(matches!(failure(&verify(&h, b"\x30\x03\x02\x01\x00", NOW)), Failure::Malformed(_)));
    let der = edit_signer(&sign_b_b(&h, &c), |info| info.digest_alg.oid = der::oid::db::rfc5912::ID_SHA_384);
    assert!(matches!(failure(&verify(&h, &der, NOW + 60)), Failure::UnsupportedAlgorithm(_)));
    let der = edit_signer(&sign_b_b(&h, &c), |info| {
        info.signature_algorithm.oid = der::oid::db::rfc5912::ECDSA_WITH_SHA_384;
    });
    assert!(matches!(failure(&verify(&h, &der, NOW + 60)), Failure::UnsupportedAlgorithm(_)));
    let der = edit(&sign_b_b(&h, &c), |sd| sd.certificates = None);
    assert_eq!(failure(&verify(&h, &der, NOW + 60)), Failure::SignerCertificateNotFound);
}

#[test]
fn another_certificate_for_the_same_key_is_caught_by_signing_certificate_v2() {
    let h = hierarchy();
    let key = citizen::generate_key().unwrap();
    let lifetime = Duration::from_secs(730 * 86_400);
    let first = citizen::issue_signing_certificate(h.issuing_ca(), &key.public_key, &karma(), NOW, lifetime).unwrap();
    let second = citizen::issue_signing_certificate(h.issuing_ca(), &key.public_key, &karma(), NOW, lifetime).unwrap();
    let c = Citizen { cert: first, key: SoftwareKey::from_pkcs8_der(key.private_key.as_bytes()).unwrap() };
    let der = sign_b_b(&h, &c);
    // Swap in the second certificate: the key still verifies, the binding does not.
    let der = edit(&der, |sd| {
        let certs = vec![
            CertificateChoices::Certificate(second.clone()),
            CertificateChoices::Certificate(h.issuing().certificate().clone()),
        ];
        sd.certificates = Some(CertificateSet::try_from(certs).unwrap());
        let mut infos: Vec<SignerInfo> = sd.signer_infos.0.iter().cloned().collect();
        let tbs = second.tbs_certificate();
        infos[0].sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer().clone(),
            serial_number: tbs.serial_number().clone(),
        });
        sd.signer_infos = SignerInfos::try_from(infos).unwrap();
    });
    assert_eq!(failure(&verify(&h, &der, NOW + 60)), Failure::SigningCertificateMismatch);
}

#[test]
fn a_ca_certificate_is_not_a_document_signing_certificate() {
    let h = hierarchy();
    let c = Citizen { cert: h.issuing().certificate().clone(), key: key_of(h.issuing()) };
    let report = verify(&h, &sign_b_b(&h, &c), NOW + 60);
    assert_eq!(failure(&report), Failure::NotASigningCertificate);
}

#[test]
fn a_bag_of_same_named_certificates_cannot_make_path_building_explode() {
    let h = hierarchy();
    let c = citizen(&h);
    // Forty issuing CAs from other hierarchies, all named like ours and none chaining to our root:
    // without the budget the search would try orderings of them; with it, it gives up quickly.
    let decoys: Vec<Certificate> = (0..40).map(|_| hierarchy().issuing().certificate().clone()).collect();
    let der = edit(&sign_b_b(&h, &c), |sd| {
        let mut certs = vec![CertificateChoices::Certificate(c.cert.clone())];
        certs.extend(decoys.iter().cloned().map(CertificateChoices::Certificate));
        sd.certificates = Some(CertificateSet::try_from(certs).unwrap());
    });
    let report = verify(&h, &der, NOW + 60);
    assert!(matches!(failure(&report), Failure::UntrustedChain(_)));
    // The genuine issuing CA among the decoys is still found when the caller supplies it.
    let roots = [h.root().certificate().clone()];
    let intermediates = [h.issuing().certificate().clone()];
    let report = Verifier::new(&roots, &good).with_intermediates(&intermediates).verify(&der, &document(), NOW + 60);
    assert_eq!(report.verdict, Ok(()));
}

#[test]
fn pdf_signatures_are_verified_as_pades_without_a_signing_time_and_only_so() {
    let h = hierarchy();
    let c = citizen(&h);
    let chain = [h.issuing().certificate().clone()];
    let pades = CmsSigner::new(&c.cert, &c.key).unwrap().with_chain(&chain).for_pades();
    let der = pades.sign_digest(&document(), NOW).unwrap().to_der().unwrap();
    let roots = [h.root().certificate().clone()];
    let report = Verifier::new(&roots, &good).for_pades().verify(&der, &document(), NOW + 60);
    assert_eq!(report.verdict, Ok(()));
    assert_eq!(report.claimed_signing_time, None);
    assert_eq!(report.status_at_signing_time, Some(StatusAtSigningTime::Good));
    // As CAdES it lacks the signing-time CAdES-B-B requires; a CAdES signature is not PAdES.
    assert_eq!(failure(&verify(&h, &der, NOW + 60)), Failure::MissingAttribute("signing-time"));
    let report = Verifier::new(&roots, &good).for_pades().verify(&sign_b_b(&h, &c), &document(), NOW + 60);
    assert!(matches!(failure(&report), Failure::Malformed(_)));
}
