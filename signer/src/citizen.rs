//! Citizen signing certificates.
//!
//! The subject follows ETSI EN 319 412-1 5.1.3 natural-person semantics: `serialNumber` is
//! `IDCBT-<CID>` — "IDC" (national identity card number), "BT" (issuing country), the CID — so
//! a relying party can tell which person signed without the name being unique.

use core::fmt;
use core::time::Duration;

use spki::SubjectPublicKeyInfoOwned;
use x509_cert::certificate::Certificate;
use x509_cert::ext::pkix::KeyUsages;

use crate::ca::IssuingCa;
use crate::cert;
use crate::error::{Error, Result};
use crate::key::{CaKey, PrivateKeyDer, SoftwareKey};
use crate::name::{Attr, MAX_NAME_CHARS, build_name, check_name};

/// A Bhutanese citizen identity number: exactly 11 ASCII digits.
#[derive(Clone, PartialEq, Eq)]
pub struct Cid(String);

impl Cid {
    /// Parses a CID.
    pub fn parse(value: &str) -> Result<Self> {
        if value.len() == 11 && value.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(value.to_owned()))
        } else {
            Err(Error::InvalidCid)
        }
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ETSI EN 319 412-1 semantics identifier, `IDCBT-<CID>`.
    pub fn etsi_identifier(&self) -> String {
        format!("IDCBT-{}", self.0)
    }
}

impl fmt::Debug for Cid {
    // A CID is personal data: logs get a hint, not the number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cid(…{})", &self.0[self.0.len().saturating_sub(3)..])
    }
}

/// The person named in a signing certificate, validated on construction.
#[derive(Clone, PartialEq, Eq)]
pub struct Person {
    given_name: String,
    /// Empty when the person has none: many Bhutanese names are given names only.
    family_name: String,
    cid: Cid,
}

impl Person {
    /// Validates the names (no control characters or surrounding whitespace, at most 64
    /// characters, and "`<given> <family>`" at most 64 for the common name) and the CID. The
    /// given name is required; the family name may be empty, as the civil registry records many
    /// citizens (Karma Wangchuk is two given names) without one.
    pub fn new(given_name: &str, family_name: &str, cid: &str) -> Result<Self> {
        check_name("given name", given_name)?;
        if !family_name.is_empty() {
            check_name("family name", family_name)?;
        }
        if given_name.chars().count() + 1 + family_name.chars().count() > MAX_NAME_CHARS {
            return Err(Error::InvalidName {
                field: "common name",
                reason: "given and family name exceed 64 characters",
            });
        }
        Ok(Self { given_name: given_name.to_owned(), family_name: family_name.to_owned(), cid: Cid::parse(cid)? })
    }

    /// The given name.
    pub fn given_name(&self) -> &str {
        &self.given_name
    }
    /// The family name, if the person has one.
    pub fn family_name(&self) -> Option<&str> {
        Some(self.family_name.as_str()).filter(|f| !f.is_empty())
    }
    /// The CID.
    pub fn cid(&self) -> &Cid {
        &self.cid
    }
    /// The certificate's common name, "`<given> <family>`" (or the given name alone).
    pub fn common_name(&self) -> String {
        match self.family_name() {
            Some(f) => format!("{} {f}", self.given_name),
            None => self.given_name.clone(),
        }
    }
}

impl fmt::Debug for Person {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Person").field("cid", &self.cid).finish_non_exhaustive()
    }
}

/// A citizen's freshly generated signing key.
#[derive(Debug)]
pub struct CitizenKey {
    /// The public key, to be certified by [`issue_signing_certificate`].
    pub public_key: SubjectPublicKeyInfoOwned,
    /// The private key (PKCS#8 DER, zeroized on drop), to be sealed by the caller.
    pub private_key: PrivateKeyDer,
}

/// Generates a P-256 signing key for a citizen.
///
/// The key is made by the service because it never leaves the service unencrypted: the caller
/// seals `private_key` at once and unseals it only to sign what the citizen approved.
pub fn generate_key() -> Result<CitizenKey> {
    let key = SoftwareKey::generate()?;
    Ok(CitizenKey { public_key: key.public_key().clone(), private_key: key.to_pkcs8_der()? })
}

/// Generates an RSA signing key of `bits` (2048 to 4096) for a citizen, where the deployment
/// chose RSA (RSASSA-PKCS1-v1_5 with SHA-256) over the default ECDSA P-256.
pub fn generate_rsa_key(bits: usize) -> Result<CitizenKey> {
    let key = crate::key::RsaSoftwareKey::generate(bits)?;
    Ok(CitizenKey { public_key: key.public_key().clone(), private_key: key.to_pkcs8_der() })
}

/// Issues a citizen's signing certificate, valid from `now` (Unix seconds) for `lifetime`.
///
/// - Subject: `C=BT, surname, givenName, serialNumber=IDCBT-<CID>, CN=<given> <family>`; without
///   a family name, no surname attribute and CN is the given name (ETSI EN 319 412-2 5.2.4 asks
///   for givenName and/or surname).
/// - keyUsage nonRepudiation (contentCommitment) only, critical: the key exists only to sign
///   documents the citizen approved, and ETSI EN 319 412-2 4.3.2 accepts contentCommitment alone
///   for such certificates. Leaving digitalSignature out keeps the certificate from being
///   accepted for authentication (TLS client, challenge signing); OpenSSL's S/MIME signing
///   check and PDF validators accept nonRepudiation alone.
/// - No extendedKeyUsage: any EKU would restrict where document signatures are accepted.
/// - basicConstraints CA:false, SKI/AKI, CRL distribution point, AIA (OCSP and CA issuers), and
///   certificatePolicies when the hierarchy has a policy OID.
///
/// The subject public key must be ECDSA P-256 or RSA of at least 2048 bits.
pub fn issue_signing_certificate(
    issuing_ca: &IssuingCa,
    subject_public_key: &SubjectPublicKeyInfoOwned,
    person: &Person,
    now: i64,
    lifetime: Duration,
) -> Result<Certificate> {
    let common_name = person.common_name();
    let serial = person.cid.etsi_identifier();
    let mut attrs = vec![Attr::country("BT")];
    if let Some(family) = person.family_name() {
        attrs.push(Attr::surname(family));
    }
    attrs.extend([Attr::given_name(&person.given_name), Attr::serial_number(&serial), Attr::common_name(&common_name)]);
    let subject = build_name(&attrs)?;
    let endpoints = issuing_ca.endpoints();
    let mut extensions = vec![
        cert::basic_constraints(false, None)?,
        cert::key_usage(KeyUsages::NonRepudiation)?,
        cert::crl_distribution_point(endpoints.crl())?,
        cert::authority_info_access(Some(endpoints.ocsp()), endpoints.issuing_cert())?,
    ];
    if let Some(policy) = issuing_ca.citizen_policy() {
        extensions.push(cert::certificate_policies(policy)?);
    }
    issuing_ca.issue(subject, subject_public_key.clone(), now, lifetime, extensions)
}
