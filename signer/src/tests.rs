//! Unit tests: certificates parsed back with x509-cert and checked field by field.

use core::time::Duration;

use der::asn1::{PrintableStringRef, Utf8StringRef};
use der::flagset::FlagSet;
use der::oid::AssociatedOid;
use der::oid::ObjectIdentifier;
use der::oid::db::rfc4519::{COMMON_NAME, GIVEN_NAME, SERIAL_NUMBER, SURNAME};
use der::oid::db::rfc5280::{ID_AD_CA_ISSUERS, ID_AD_OCSP, ID_KP_OCSP_SIGNING, ID_KP_TIME_STAMPING};
use der::oid::db::rfc6960::ID_PKIX_OCSP_NOCHECK;
use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies, CrlDistributionPoints,
    ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};

use crate::citizen::{self, Person};
use crate::{CaKey, Endpoints, Error, Hierarchy, HierarchyParams, IssuingCa, SoftwareKey};

/// 2026-01-01T00:00:00Z
pub(crate) const NOW: i64 = 1_767_225_600;
const DAY: u64 = 24 * 60 * 60;
/// RFC 5612's documentation arc: safe to use in tests, never in production.
const TEST_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.32473.1");

fn params() -> HierarchyParams {
    HierarchyParams::new(Endpoints::from_base_url("https://id.gov.bt").unwrap())
}

pub(crate) fn hierarchy() -> Hierarchy {
    Hierarchy::generate(&params(), NOW).unwrap()
}

pub(crate) fn citizen_cert(h: &Hierarchy, person: &Person) -> Certificate {
    let key = citizen::generate_key().unwrap();
    citizen::issue_signing_certificate(h.issuing_ca(), &key.public_key, person, NOW, Duration::from_secs(730 * DAY))
        .unwrap()
}

/// The software key of one of the hierarchy's credentials.
pub(crate) fn key_of(credential: &crate::Credential) -> SoftwareKey {
    SoftwareKey::from_pkcs8_der(credential.private_key().unwrap().as_bytes()).unwrap()
}

/// A citizen's certificate and key, valid two years from `NOW`.
pub(crate) fn citizen_with_key(h: &Hierarchy) -> (Certificate, SoftwareKey) {
    let key = citizen::generate_key().unwrap();
    let cert = citizen::issue_signing_certificate(
        h.issuing_ca(),
        &key.public_key,
        &karma(),
        NOW,
        Duration::from_secs(730 * DAY),
    )
    .unwrap();
    (cert, SoftwareKey::from_pkcs8_der(key.private_key.as_bytes()).unwrap())
}

pub(crate) fn karma() -> Person {
    Person::new("Karma", "Wangchuk", "10101001234").unwrap()
}

fn ext<'a, T: Decode<'a> + AssociatedOid>(cert: &'a Certificate) -> (bool, T) {
    cert.tbs_certificate().get_extension::<T>().unwrap().unwrap_or_else(|| panic!("missing extension {}", T::OID))
}

fn has_ext(cert: &Certificate, oid: ObjectIdentifier) -> bool {
    cert.tbs_certificate().extensions().is_some_and(|e| e.iter().any(|e| e.extn_id == oid))
}

fn ski(cert: &Certificate) -> Vec<u8> {
    let (critical, ski) = ext::<SubjectKeyIdentifier>(cert);
    assert!(!critical);
    ski.0.as_bytes().to_vec()
}

fn aki(cert: &Certificate) -> Vec<u8> {
    let (critical, aki) = ext::<AuthorityKeyIdentifier>(cert);
    assert!(!critical);
    aki.key_identifier.unwrap().as_bytes().to_vec()
}

fn key_usage(cert: &Certificate) -> KeyUsage {
    let (critical, ku) = ext::<KeyUsage>(cert);
    assert!(critical, "keyUsage must be critical");
    ku
}

fn basic_constraints(cert: &Certificate) -> BasicConstraints {
    let (critical, bc) = ext::<BasicConstraints>(cert);
    assert!(critical, "basicConstraints must be critical");
    bc
}

fn uri(name: &GeneralName) -> String {
    match name {
        GeneralName::UniformResourceIdentifier(u) => u.to_string(),
        other => panic!("not a URI: {other:?}"),
    }
}

fn crl_urls(cert: &Certificate) -> Vec<String> {
    let (critical, dps) = ext::<CrlDistributionPoints>(cert);
    assert!(!critical);
    dps.0
        .iter()
        .flat_map(|dp| match dp.distribution_point.as_ref().unwrap() {
            DistributionPointName::FullName(names) => names.iter().map(uri).collect::<Vec<_>>(),
            DistributionPointName::NameRelativeToCRLIssuer(_) => panic!("relative name"),
        })
        .collect()
}

fn aia(cert: &Certificate) -> Vec<(ObjectIdentifier, String)> {
    let (critical, aia) = ext::<AuthorityInfoAccessSyntax>(cert);
    assert!(!critical);
    aia.0.iter().map(|a| (a.access_method, uri(&a.access_location))).collect()
}

fn validity_secs(cert: &Certificate) -> (u64, u64) {
    let v = cert.tbs_certificate().validity();
    (v.not_before.to_unix_duration().as_secs(), v.not_after.to_unix_duration().as_secs())
}

fn attr(cert: &Certificate, oid: ObjectIdentifier) -> Vec<&der::asn1::Any> {
    cert.tbs_certificate().subject().iter().filter(|a| a.oid == oid).map(|a| &a.value).collect()
}

#[test]
fn root_is_a_self_signed_ca_with_path_length_one() {
    let h = hierarchy();
    let root = h.root().certificate();
    assert_eq!(root.tbs_certificate().issuer(), root.tbs_certificate().subject());
    assert_eq!(basic_constraints(root), BasicConstraints { ca: true, path_len_constraint: Some(1) });
    assert_eq!(key_usage(root).0, KeyUsages::KeyCertSign | KeyUsages::CRLSign);
    assert_eq!(aki(root), ski(root));
    assert_eq!(ski(root).len(), 20);
    assert_eq!(validity_secs(root), (NOW as u64, NOW as u64 + 20 * 365 * DAY));
    assert_eq!(root.tbs_certificate().subject().to_string(), "CN=Drukyul ID Root CA,O=Royal Government of Bhutan,C=BT");
}

#[test]
fn issuing_ca_chains_to_root_and_points_at_the_root_crl() {
    let h = hierarchy();
    let (root, issuing) = (h.root().certificate(), h.issuing().certificate());
    assert_eq!(issuing.tbs_certificate().issuer(), root.tbs_certificate().subject());
    assert_eq!(basic_constraints(issuing), BasicConstraints { ca: true, path_len_constraint: Some(0) });
    assert_eq!(key_usage(issuing).0, KeyUsages::KeyCertSign | KeyUsages::CRLSign);
    assert_eq!(aki(issuing), ski(root));
    assert_ne!(ski(issuing), ski(root));
    assert_eq!(crl_urls(issuing), ["https://id.gov.bt/ca/root-crl"]);
    assert_eq!(aia(issuing), [(ID_AD_CA_ISSUERS, "https://id.gov.bt/ca/root.crt".to_owned())]);
    assert!(!has_ext(issuing, <CertificatePolicies as AssociatedOid>::OID), "no policy unless configured");
    assert_eq!(validity_secs(issuing), (NOW as u64, NOW as u64 + 10 * 365 * DAY));
}

#[test]
fn ocsp_responder_is_a_short_lived_nocheck_delegated_responder() {
    let h = hierarchy();
    let ocsp = h.ocsp().certificate();
    assert_eq!(ocsp.tbs_certificate().issuer(), h.issuing().certificate().tbs_certificate().subject());
    assert_eq!(aki(ocsp), ski(h.issuing().certificate()));
    assert_eq!(basic_constraints(ocsp), BasicConstraints { ca: false, path_len_constraint: None });
    assert_eq!(key_usage(ocsp).0, FlagSet::from(KeyUsages::DigitalSignature));
    assert_eq!(ext::<ExtendedKeyUsage>(ocsp).1.0, [ID_KP_OCSP_SIGNING]);
    let nocheck = ocsp.tbs_certificate().extensions().unwrap().iter().find(|e| e.extn_id == ID_PKIX_OCSP_NOCHECK);
    assert_eq!(nocheck.unwrap().extn_value.as_bytes(), [0x05, 0x00], "value is NULL");
    assert_eq!(validity_secs(ocsp), (NOW as u64, NOW as u64 + 30 * DAY));
}

#[test]
fn tsa_has_only_time_stamping_as_critical_eku() {
    let h = hierarchy();
    let tsa = h.tsa().certificate();
    assert_eq!(aki(tsa), ski(h.issuing().certificate()));
    let (critical, eku) = ext::<ExtendedKeyUsage>(tsa);
    assert!(critical, "RFC 3161: EKU must be critical");
    assert_eq!(eku.0, [ID_KP_TIME_STAMPING]);
    assert_eq!(key_usage(tsa).0, KeyUsages::DigitalSignature | KeyUsages::NonRepudiation);
    assert!(!basic_constraints(tsa).ca);
    assert_eq!(crl_urls(tsa), ["https://id.gov.bt/ca/crl"]);
}

#[test]
fn citizen_certificate_carries_the_etsi_identifier_and_non_repudiation() {
    let h = hierarchy();
    let cert = citizen_cert(&h, &karma());
    let tbs = cert.tbs_certificate();
    assert_eq!(tbs.issuer(), h.issuing().certificate().tbs_certificate().subject());
    let serial = attr(&cert, SERIAL_NUMBER);
    assert_eq!(serial.len(), 1);
    assert_eq!(PrintableStringRef::try_from(serial[0]).unwrap().as_str(), "IDCBT-10101001234");
    assert_eq!(Utf8StringRef::try_from(attr(&cert, GIVEN_NAME)[0]).unwrap().as_str(), "Karma");
    assert_eq!(Utf8StringRef::try_from(attr(&cert, SURNAME)[0]).unwrap().as_str(), "Wangchuk");
    assert_eq!(Utf8StringRef::try_from(attr(&cert, COMMON_NAME)[0]).unwrap().as_str(), "Karma Wangchuk");
    assert_eq!(tbs.subject().country().unwrap().unwrap().as_str(), "BT");

    assert_eq!(key_usage(&cert).0, FlagSet::from(KeyUsages::NonRepudiation));
    assert_eq!(basic_constraints(&cert), BasicConstraints { ca: false, path_len_constraint: None });
    assert!(tbs.get_extension::<ExtendedKeyUsage>().unwrap().is_none());
    assert_eq!(aki(&cert), ski(h.issuing().certificate()));
    assert_eq!(crl_urls(&cert), ["https://id.gov.bt/ca/crl"]);
    assert_eq!(
        aia(&cert),
        [
            (ID_AD_OCSP, "https://id.gov.bt/ocsp".to_owned()),
            (ID_AD_CA_ISSUERS, "https://id.gov.bt/ca/issuing.crt".to_owned())
        ]
    );
    assert!(tbs.get_extension::<CertificatePolicies>().unwrap().is_none());
    assert_eq!(validity_secs(&cert), (NOW as u64, NOW as u64 + 730 * DAY));
}

#[test]
fn names_with_dn_syntax_stay_single_attributes() {
    let h = hierarchy();
    let cert = citizen_cert(&h, &Person::new("Dorji,CN=Root", "Tshering+O=X", "12345678901").unwrap());
    assert_eq!(Utf8StringRef::try_from(attr(&cert, GIVEN_NAME)[0]).unwrap().as_str(), "Dorji,CN=Root");
    assert_eq!(attr(&cert, COMMON_NAME).len(), 1);
    assert_eq!(cert.tbs_certificate().subject().len(), 5);
}

/// Many citizens have no family name (the registry's family_name is empty): the certificate then
/// carries no surname and its CN is the given name.
#[test]
fn citizen_without_family_name() {
    let h = hierarchy();
    let person = Person::new("Karma Wangchuk", "", "10101001234").unwrap();
    assert_eq!(person.family_name(), None);
    let cert = citizen_cert(&h, &person);
    assert!(attr(&cert, SURNAME).is_empty());
    assert_eq!(Utf8StringRef::try_from(attr(&cert, COMMON_NAME)[0]).unwrap().as_str(), "Karma Wangchuk");
    assert_eq!(Utf8StringRef::try_from(attr(&cert, GIVEN_NAME)[0]).unwrap().as_str(), "Karma Wangchuk");
    assert_eq!(cert.tbs_certificate().subject().len(), 4);
}

#[test]
fn configured_policy_appears_in_issuing_ca_and_citizen_certificates() {
    let mut p = params();
    p.citizen_policy = Some(TEST_POLICY);
    let h = Hierarchy::generate(&p, NOW).unwrap();
    let cert = citizen_cert(&h, &karma());
    for c in [h.issuing().certificate(), &cert] {
        let (critical, policies) = ext::<CertificatePolicies>(c);
        assert!(!critical);
        assert_eq!(policies.0.len(), 1);
        assert_eq!(policies.0[0].policy_identifier, TEST_POLICY);
    }
    assert!(!has_ext(h.tsa().certificate(), <CertificatePolicies as AssociatedOid>::OID));
}

#[test]
fn serial_numbers_are_positive_sixteen_octets_and_distinct() {
    let h = hierarchy();
    let citizens: Vec<_> = (0..5).map(|_| citizen_cert(&h, &karma())).collect();
    let mut serials: Vec<Vec<u8>> = [h.root(), h.issuing(), h.ocsp(), h.tsa()]
        .iter()
        .map(|c| c.certificate())
        .chain(citizens.iter())
        .map(|c| c.tbs_certificate().serial_number().as_bytes().to_vec())
        .collect();
    for serial in &serials {
        assert_eq!(serial.len(), 16, "{serial:02x?}");
        assert_eq!(serial[0] & 0xc0, 0x40, "positive, no leading zero");
    }
    // The encoded INTEGER has no sign-padding byte: positive as DER sees it.
    let der = h.root().certificate().tbs_certificate().serial_number().to_der().unwrap();
    assert_eq!(&der[..2], [0x02, 16]);
    serials.sort();
    serials.dedup();
    assert_eq!(serials.len(), 9);
}

#[test]
fn chain_pem_is_issuing_then_root() {
    let h = hierarchy();
    let chain = Certificate::load_pem_chain(h.chain_pem().unwrap().as_bytes()).unwrap();
    assert_eq!(chain, [h.issuing().certificate().clone(), h.root().certificate().clone()]);
    assert!(h.root().certificate_pem().unwrap().starts_with("-----BEGIN CERTIFICATE-----\n"));
}

#[test]
fn private_keys_round_trip_and_do_not_print() {
    let h = hierarchy();
    for cred in [h.root(), h.issuing(), h.ocsp(), h.tsa()] {
        let key = SoftwareKey::from_pkcs8_der(cred.private_key().unwrap().as_bytes()).unwrap();
        assert_eq!(key.public_key(), cred.certificate().tbs_certificate().subject_public_key_info());
        let debug = format!("{:?} {:?} {cred:?}", cred.private_key(), key);
        assert!(debug.contains("redacted"));
        assert!(!debug.contains(&format!("{:?}", &cred.private_key().unwrap().as_bytes()[..8])));
    }
    let citizen = citizen::generate_key().unwrap();
    let key = SoftwareKey::from_pkcs8_der(citizen.private_key.as_bytes()).unwrap();
    assert_eq!(key.public_key(), &citizen.public_key);
}

#[test]
fn invalid_cids_are_rejected() {
    for cid in ["", "1010100123", "101010012345", "1010100123a", "10101-01234", " 1010100123", "١٠١٠١٠٠١٢٣٤"]
    {
        assert!(matches!(Person::new("Karma", "Wangchuk", cid), Err(Error::InvalidCid)), "{cid:?}");
    }
}

#[test]
fn invalid_names_are_rejected() {
    let long = "a".repeat(65);
    for (given, family) in [
        ("", "Wangchuk"),
        ("", "Wangchuk"),
        ("Karma", " "),
        ("   ", "Wangchuk"),
        ("Kar\nma", "Wangchuk"),
        ("Karma", "Wang\u{0}chuk"),
        ("Karma\u{7f}", "Wangchuk"),
        ("Karma\u{85}", "Wangchuk"),
        (" Karma", "Wangchuk"),
        (long.as_str(), "W"),
        (&long[..40], &long[..30]),
    ] {
        assert!(matches!(Person::new(given, family, "10101001234"), Err(Error::InvalidName { .. })), "{given:?}");
    }
    let mut p = params();
    p.organization = "Royal\tGovernment".into();
    assert!(matches!(Hierarchy::generate(&p, NOW), Err(Error::InvalidName { field: "organization", .. })));
    let mut p = params();
    p.country = "bt".into();
    assert!(matches!(Hierarchy::generate(&p, NOW), Err(Error::InvalidName { field: "country", .. })));
}

#[test]
fn bad_urls_are_rejected() {
    for base in ["ftp://id.gov.bt", "id.gov.bt", "https://id.gov.bt/é", "https://id gov.bt", "https://"] {
        assert!(matches!(Endpoints::from_base_url(base), Err(Error::InvalidUrl { .. })), "{base}");
    }
    assert_eq!(Endpoints::from_base_url("https://id.gov.bt/").unwrap().ocsp(), "https://id.gov.bt/ocsp");
}

#[test]
fn certificates_cannot_outlive_or_predate_their_issuer() {
    let h = hierarchy();
    let key = citizen::generate_key().unwrap();
    let ca = h.issuing_ca();
    let too_long = Duration::from_secs(11 * 365 * DAY);
    assert!(matches!(
        citizen::issue_signing_certificate(ca, &key.public_key, &karma(), NOW, too_long),
        Err(Error::InvalidValidity(_))
    ));
    assert!(matches!(
        citizen::issue_signing_certificate(ca, &key.public_key, &karma(), NOW - 1, Duration::from_secs(DAY)),
        Err(Error::InvalidValidity(_))
    ));
    assert!(matches!(
        citizen::issue_signing_certificate(ca, &key.public_key, &karma(), NOW, Duration::ZERO),
        Err(Error::InvalidValidity(_))
    ));
    let mut p = params();
    p.issuing_validity = p.root_validity + Duration::from_secs(1);
    assert!(matches!(Hierarchy::generate(&p, NOW), Err(Error::InvalidValidity(_))));
    assert!(matches!(Hierarchy::generate(&params(), -1), Err(Error::InvalidValidity(_))));
}

#[test]
fn only_p256_subject_keys_are_certified() {
    let h = hierarchy();
    let mut spki = citizen::generate_key().unwrap().public_key;
    // An RSA key (a real 2048-bit SubjectPublicKeyInfo would do; the OID alone must be refused).
    spki.algorithm.oid = der::oid::db::rfc5912::RSA_ENCRYPTION;
    assert!(matches!(
        citizen::issue_signing_certificate(h.issuing_ca(), &spki, &karma(), NOW, Duration::from_secs(DAY)),
        Err(Error::UnsupportedKey(_))
    ));
    // A point that is not on the curve.
    let mut spki = citizen::generate_key().unwrap().public_key;
    let mut point = spki.subject_public_key.raw_bytes().to_vec();
    point[40] ^= 1;
    spki.subject_public_key = der::asn1::BitString::from_bytes(&point).unwrap();
    assert!(matches!(
        citizen::issue_signing_certificate(h.issuing_ca(), &spki, &karma(), NOW, Duration::from_secs(DAY)),
        Err(Error::UnsupportedKey(_))
    ));
}

#[test]
fn issuing_ca_refuses_a_key_that_is_not_its_own() {
    let h = hierarchy();
    let other = SoftwareKey::generate().unwrap();
    let endpoints = h.issuing_ca().endpoints().clone();
    let result = IssuingCa::new(h.issuing().certificate().clone(), Box::new(other), endpoints.clone(), None);
    assert!(matches!(result, Err(Error::UnsupportedKey(_))));
    // The OCSP responder's certificate with its own key: right key, but not a CA.
    let key = SoftwareKey::from_pkcs8_der(h.ocsp().private_key().unwrap().as_bytes()).unwrap();
    let result = IssuingCa::new(h.ocsp().certificate().clone(), Box::new(key), endpoints, None);
    assert!(matches!(result, Err(Error::UnsupportedKey(_))));
}

// ---------------------------------------------------------------------------------------------
// Key references and the parts of the PKCS#11 backend that need no token (the token itself is
// exercised against SoftHSM2 in tests/softhsm2/).

#[test]
fn generate_makes_software_keys_and_says_so() {
    let h = hierarchy();
    for cred in [h.root(), h.issuing(), h.ocsp(), h.tsa()] {
        assert!(matches!(cred.key(), crate::KeyRef::Software(_)), "{:?}", cred.key());
        let key = key_of(cred);
        assert_eq!(key.public_key(), cred.certificate().tbs_certificate().subject_public_key_info());
    }
    let h = Hierarchy::generate_with(&params(), &crate::KeySources::software(), NOW).unwrap();
    assert!(h.root().private_key().is_some());
}

#[test]
fn ec_points_are_unwrapped_from_der_or_taken_bare_and_nothing_else() {
    use crate::pkcs11::unwrap_ec_point;
    let key = SoftwareKey::generate().unwrap();
    let point = key.public_key().subject_public_key.raw_bytes().to_vec();
    assert_eq!(point.len(), 65);
    let wrapped = der::asn1::OctetString::new(point.clone()).unwrap().to_der().unwrap();
    assert_eq!(&wrapped[..2], &[0x04, 0x41]);
    assert_eq!(unwrap_ec_point(&wrapped).unwrap(), point.as_slice());
    assert_eq!(unwrap_ec_point(&point).unwrap(), point.as_slice());

    let mut trailing = wrapped.clone();
    trailing.push(0);
    assert!(unwrap_ec_point(&trailing).is_err(), "trailing byte after the OCTET STRING");
    let mut compressed = point[..33].to_vec();
    compressed[0] = 0x02;
    assert!(unwrap_ec_point(&compressed).is_err());
    let wrapped_compressed = der::asn1::OctetString::new(compressed).unwrap().to_der().unwrap();
    assert!(unwrap_ec_point(&wrapped_compressed).is_err());
    assert!(unwrap_ec_point(&[]).is_err());
    assert!(unwrap_ec_point(&wrapped[..40]).is_err());
}

#[test]
fn a_missing_module_is_a_clear_error_and_the_pin_never_prints() {
    let pin = crate::UserPin::new("4321-secret-pin".into());
    assert_eq!(format!("{pin:?}"), "UserPin(<redacted>)");
    let err = crate::Pkcs11Token::open("/nonexistent/libpkcs11-module.so", "token", &pin).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::Pkcs11 { .. }), "{err:?}");
    assert!(message.contains("/nonexistent/libpkcs11-module.so"), "{message}");
    assert!(!message.contains("4321") && !format!("{err:?}").contains("4321"), "{message}");
}
