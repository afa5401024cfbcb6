//! The one place where certificates are assembled and signed.
//!
//! Each certificate kind (root, issuing CA, OCSP responder, TSA, citizen) only decides its subject,
//! validity and extensions; this module adds the parts every certificate shares — a random serial
//! number, subject and authority key identifiers — builds the `TBSCertificate` with x509-cert's
//! builder, has a [`CaKey`] sign it, and checks the signature before returning the certificate.

use core::time::Duration;

use der::asn1::{BitString, Ia5String, Null, OctetString};
use der::oid::db::rfc5280::{ID_AD_CA_ISSUERS, ID_AD_OCSP};
use der::oid::db::rfc6960::ID_PKIX_OCSP_NOCHECK;
use der::oid::{AssociatedOid, ObjectIdentifier};
use der::{DateTime, Decode, Document, Encode};
use p256::ecdsa::signature::Keypair;
use spki::{
    AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier, EncodePublicKey, SubjectPublicKeyInfoOwned,
    SubjectPublicKeyInfoRef,
};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::{Certificate, TbsCertificate};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AccessDescription, AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies,
    CrlDistributionPoints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use crate::error::{Error, Result};
use crate::key::{CaKey, sign_checked};

/// Where relying parties find revocation status and the issuer's certificate.
///
/// Written into the issuing CA and every certificate it issues (CRL distribution point and
/// authority information access), so each URL must be reachable for as long as those
/// certificates are valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    crl: String,
    root_crl: String,
    ocsp: String,
    issuing_cert: String,
    root_cert: String,
}

impl Endpoints {
    /// The identity provider's standard paths under `base_url`: `<base>/ca/crl`,
    /// `<base>/ca/root-crl`, `<base>/ocsp`, `<base>/ca/issuing.crt` and `<base>/ca/root.crt` (see
    /// `DESIGN.md`, "Signer", for the routes it mounts; `/ca/root-crl` and the two `.crt` files
    /// are new with this crate).
    pub fn from_base_url(base_url: &str) -> Result<Self> {
        let base = base_url.trim_end_matches('/');
        Self::new(
            &format!("{base}/ca/crl"),
            &format!("{base}/ca/root-crl"),
            &format!("{base}/ocsp"),
            &format!("{base}/ca/issuing.crt"),
            &format!("{base}/ca/root.crt"),
        )
    }

    /// Explicit URLs, each `http` or `https`, ASCII, with a host.
    pub fn new(crl: &str, root_crl: &str, ocsp: &str, issuing_cert: &str, root_cert: &str) -> Result<Self> {
        for url in [crl, root_crl, ocsp, issuing_cert, root_cert] {
            check_url(url)?;
        }
        Ok(Self {
            crl: crl.to_owned(),
            root_crl: root_crl.to_owned(),
            ocsp: ocsp.to_owned(),
            issuing_cert: issuing_cert.to_owned(),
            root_cert: root_cert.to_owned(),
        })
    }

    /// The issuing CA's CRL: written into the certificates the issuing CA issues.
    pub fn crl(&self) -> &str {
        &self.crl
    }
    /// The root's CRL (an ARL): written into the issuing CA's certificate, because only a CRL
    /// signed by the root can say whether the issuing CA itself is revoked.
    pub fn root_crl(&self) -> &str {
        &self.root_crl
    }
    /// The OCSP responder.
    pub fn ocsp(&self) -> &str {
        &self.ocsp
    }
    /// The issuing CA's certificate, DER (`application/pkix-cert`, as RFC 5280 4.2.2.1 asks of an
    /// HTTP caIssuers URI): the caIssuers of every certificate the issuing CA issues.
    pub fn issuing_cert(&self) -> &str {
        &self.issuing_cert
    }
    /// The root's certificate, DER: the caIssuers of the issuing CA's certificate.
    pub fn root_cert(&self) -> &str {
        &self.root_cert
    }
}

fn check_url(url: &str) -> Result<()> {
    let bad = |reason| Err(Error::InvalidUrl { url: url.to_owned(), reason });
    // Certificates carry URIs as IA5String, so the text we were given must already be ASCII:
    // letting the URL parser percent-encode it would publish a different URL than configured.
    if !url.is_ascii() || url.chars().any(|c| c.is_ascii_whitespace() || c.is_ascii_control()) {
        return bad("must be ASCII without spaces");
    }
    match url::Url::parse(url) {
        Ok(parsed) if !matches!(parsed.scheme(), "http" | "https") => bad("scheme must be http or https"),
        Ok(parsed) if parsed.host_str().is_none_or(str::is_empty) => bad("must have a host"),
        // The parser repairs some malformed input (`https:///x` becomes `https://x`); publish
        // only what was written, so anything it had to rewrite is refused.
        Ok(parsed) if parsed.as_str() != url => bad("not in canonical form"),
        Ok(_) => Ok(()),
        Err(_) => bad("not a URL"),
    }
}

/// A random positive serial number with 126 bits of entropy.
///
/// RFC 5280 requires a positive integer of at most 20 octets; the CA/Browser Forum asks for at
/// least 64 bits from a CSPRNG. The top bit is cleared (positive) and the next one set, so every
/// serial is exactly 16 octets and never has a leading zero to be stripped.
pub(crate) fn random_serial() -> Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| Error::Random)?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::new(&bytes)?)
}

/// `[now, now + lifetime]`, with `now` in Unix seconds as everywhere in Drukyul ID.
pub(crate) fn validity(now: i64, lifetime: Duration) -> Result<Validity> {
    if lifetime < Duration::from_secs(60) {
        return Err(Error::InvalidValidity("a certificate must be valid for at least a minute"));
    }
    let start = u64::try_from(now).map_err(|_| Error::InvalidValidity("now is before 1970"))?;
    let start = Duration::from_secs(start);
    let end = start.checked_add(lifetime).ok_or(Error::InvalidValidity("validity end overflows"))?;
    let not_before = DateTime::from_unix_duration(start).map_err(|_| Error::InvalidValidity("now is out of range"))?;
    let not_after =
        DateTime::from_unix_duration(end).map_err(|_| Error::InvalidValidity("validity end is out of range"))?;
    Ok(Validity::new(Time::from(not_before), Time::from(not_after)))
}

/// An extension from a typed value, with the criticality chosen by the caller.
pub(crate) fn extension<T: AssociatedOid + Encode>(critical: bool, value: &T) -> Result<Extension> {
    Ok(Extension { extn_id: T::OID, critical, extn_value: OctetString::new(value.to_der()?)? })
}

/// basicConstraints, always critical (RFC 5280 4.2.1.9 requires it for CAs; harmless for others).
pub(crate) fn basic_constraints(ca: bool, path_len: Option<u8>) -> Result<Extension> {
    extension(true, &BasicConstraints { ca, path_len_constraint: path_len })
}

/// keyUsage, always critical.
pub(crate) fn key_usage(usages: impl Into<der::flagset::FlagSet<KeyUsages>>) -> Result<Extension> {
    extension(true, &KeyUsage(usages.into()))
}

/// extendedKeyUsage with exactly the given purposes.
pub(crate) fn extended_key_usage(critical: bool, purposes: &[ObjectIdentifier]) -> Result<Extension> {
    extension(critical, &ExtendedKeyUsage(purposes.to_vec()))
}

fn uri(url: &str) -> Result<GeneralName> {
    Ok(GeneralName::UniformResourceIdentifier(Ia5String::new(url)?))
}

/// cRLDistributionPoints with one full-name URI.
pub(crate) fn crl_distribution_point(url: &str) -> Result<Extension> {
    let point = DistributionPoint {
        distribution_point: Some(DistributionPointName::FullName(vec![uri(url)?])),
        reasons: None,
        crl_issuer: None,
    };
    extension(false, &CrlDistributionPoints(vec![point]))
}

/// authorityInfoAccess: the OCSP responder (if the issuer runs one for this certificate) and
/// where to fetch the issuer's certificate.
pub(crate) fn authority_info_access(ocsp: Option<&str>, ca_issuers: &str) -> Result<Extension> {
    let mut access = Vec::new();
    if let Some(ocsp) = ocsp {
        access.push(AccessDescription { access_method: ID_AD_OCSP, access_location: uri(ocsp)? });
    }
    access.push(AccessDescription { access_method: ID_AD_CA_ISSUERS, access_location: uri(ca_issuers)? });
    extension(false, &AuthorityInfoAccessSyntax(access))
}

/// certificatePolicies with one policy and no qualifiers.
pub(crate) fn certificate_policies(policy: ObjectIdentifier) -> Result<Extension> {
    let info = PolicyInformation { policy_identifier: policy, policy_qualifiers: None };
    extension(false, &CertificatePolicies(vec![info]))
}

/// id-pkix-ocsp-nocheck (RFC 6960 4.2.2.2.1): its value is NULL.
pub(crate) fn ocsp_nocheck() -> Result<Extension> {
    Ok(Extension { extn_id: ID_PKIX_OCSP_NOCHECK, critical: false, extn_value: OctetString::new(Null.to_der()?)? })
}

/// The key identifier of a certificate: its subjectKeyIdentifier, or (if it has none) the SHA-1
/// of its public key, RFC 5280 4.2.1.2 method 1 — the same method used for the SKIs we write.
pub(crate) fn key_identifier(certificate: &Certificate) -> Result<OctetString> {
    let tbs = certificate.tbs_certificate();
    if let Some((_, ski)) = tbs.get_extension::<SubjectKeyIdentifier>()? {
        return Ok(ski.0);
    }
    let der = tbs.subject_public_key_info().to_der()?;
    Ok(SubjectKeyIdentifier::try_from(SubjectPublicKeyInfoRef::from_der(&der)?)?.0)
}

/// Who signs: the issuer's certificate (`None` when self-signed) and its key.
pub(crate) struct Issuer<'a> {
    pub(crate) certificate: Option<&'a Certificate>,
    pub(crate) key: &'a dyn CaKey,
}

/// Builds and signs a certificate.
///
/// `extensions` are the kind-specific ones; SKI and AKI are added here. The AKI is copied from
/// the issuer certificate's SKI rather than recomputed, so chaining holds even for an issuer
/// whose SKI was made another way (for example by an HSM tool).
pub(crate) fn issue(
    issuer: &Issuer<'_>,
    subject: Name,
    subject_public_key: SubjectPublicKeyInfoOwned,
    validity: Validity,
    extensions: Vec<Extension>,
) -> Result<Certificate> {
    let (issuer_name, issuer_key_id) = match issuer.certificate {
        Some(certificate) => {
            check_within(&validity, certificate)?;
            (Some(certificate.tbs_certificate().subject().clone()), Some(key_identifier(certificate)?))
        }
        None => (None, None),
    };
    let profile = Profile { subject, issuer_name, issuer_key_id, extensions };
    let signer = KeySigner(issuer.key);
    let mut builder = CertificateBuilder::new(profile, random_serial()?, validity, subject_public_key)?;
    let tbs = builder.finalize(&signer)?;
    let signature = sign_checked(issuer.key, &tbs)?;
    Ok(builder.assemble(BitString::from_bytes(&signature)?, &signer)?)
}

/// A certificate must not start before or outlive its issuer (RFC 5280 path validation would
/// reject it at those times anyway; refusing to issue makes the mistake visible at once).
fn check_within(validity: &Validity, issuer: &Certificate) -> Result<()> {
    let outer = issuer.tbs_certificate().validity();
    if validity.not_before.to_unix_duration() < outer.not_before.to_unix_duration() {
        return Err(Error::InvalidValidity("the certificate would start before its issuer's"));
    }
    if validity.not_after.to_unix_duration() > outer.not_after.to_unix_duration() {
        return Err(Error::InvalidValidity("the certificate would outlive its issuer"));
    }
    Ok(())
}

/// The builder profile: subject, issuer and extensions decided by the caller, plus SKI and AKI.
struct Profile {
    subject: Name,
    issuer_name: Option<Name>,
    issuer_key_id: Option<OctetString>,
    extensions: Vec<Extension>,
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, subject: &Name) -> Name {
        self.issuer_name.clone().unwrap_or_else(|| subject.clone())
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let ski = SubjectKeyIdentifier::try_from(spk)?;
        // Self-signed: the authority key is the subject key.
        let authority = self.issuer_key_id.clone().unwrap_or_else(|| ski.0.clone());
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(authority),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        };
        let mut extensions = self.extensions.clone();
        for ext in [extension(false, &ski), extension(false, &aki)] {
            extensions.push(ext.map_err(|_| der::Error::from(der::ErrorKind::Failed))?);
        }
        Ok(extensions)
    }
}

/// Adapts a [`CaKey`] to what x509-cert's builder asks of a signer (its public key and
/// signature algorithm); the signing itself is done by [`issue`] so that our own error comes back.
struct KeySigner<'a>(&'a dyn CaKey);

#[derive(Clone)]
struct PublicKey(SubjectPublicKeyInfoOwned);

impl EncodePublicKey for PublicKey {
    fn to_public_key_der(&self) -> spki::Result<Document> {
        Ok(Document::encode_msg(&self.0)?)
    }
}

impl Keypair for KeySigner<'_> {
    type VerifyingKey = PublicKey;
    fn verifying_key(&self) -> PublicKey {
        PublicKey(self.0.public_key().clone())
    }
}

impl DynSignatureAlgorithmIdentifier for KeySigner<'_> {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        Ok(self.0.signature_algorithm())
    }
}
