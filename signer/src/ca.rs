//! The CA hierarchy: a root, an issuing CA, an OCSP responder and a timestamping authority.
//!
//! ```text
//! Root CA  (self-signed, pathLen 1, offline after `idp ca init`)
//! └── Issuing CA  (pathLen 0, online in the signer)
//!     ├── citizen signing certificates   (crate::citizen)
//!     ├── OCSP responder                 (id-kp-OCSPSigning, ocsp-nocheck, short-lived)
//!     └── TSA                            (id-kp-timeStamping only, critical)
//! ```
//!
//! The TSA is issued by the issuing CA, not the root: the root then signs only at the key
//! ceremony (itself, the issuing CA and the root CRL) and can stay offline, while a TSA
//! certificate can be renewed or revoked through the same online CA, CRL and OCSP responder that
//! already cover citizen certificates — and a timestamp validates with the same `chain.pem`.
//!
//! Each of the four keys is made where the caller says ([`KeySources`]): in software, handed
//! back as PKCS#8 for the caller to seal ([`Hierarchy::generate`] makes all four so), or inside a
//! PKCS#11 token, handed back as the key's label ([`Hierarchy::generate_with`]). A common split
//! is the root in one token and the online keys in another, or the root in a token and the rest
//! in software; the certificates are the same either way.

use core::time::Duration;

use der::oid::ObjectIdentifier;
use der::oid::db::rfc5280::{ID_KP_OCSP_SIGNING, ID_KP_TIME_STAMPING};
use der::{EncodePem, pem::LineEnding};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::certificate::Certificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsages};

use crate::cert::{self, Endpoints, Issuer};
use crate::error::{Error, Result};
use crate::key::{CaKey, PrivateKeyDer, SoftwareKey, check_signing_spki};
use crate::name::{Attr, build_name, check_name};
use crate::pkcs11::{Pkcs11Key, Pkcs11Token};

const YEAR: Duration = Duration::from_secs(365 * 24 * 60 * 60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// What `idp ca init` decides: names, URLs, lifetimes and the citizen certificate policy.
///
/// Every subject DN is `C=<country>, O=<organization>, CN=<common name>`.
#[derive(Clone, Debug)]
pub struct HierarchyParams {
    /// Two-letter ISO 3166 country code of the CA operator.
    pub country: String,
    /// Organization of every CA certificate.
    pub organization: String,
    /// Common name of the root CA.
    pub root_common_name: String,
    /// Common name of the issuing CA.
    pub issuing_common_name: String,
    /// Common name of the OCSP responder.
    pub ocsp_common_name: String,
    /// Common name of the timestamping authority.
    pub tsa_common_name: String,
    /// CRL, OCSP and CA-issuers URLs.
    pub endpoints: Endpoints,
    /// Lifetime of the root certificate.
    pub root_validity: Duration,
    /// Lifetime of the issuing CA certificate (within the root's).
    pub issuing_validity: Duration,
    /// Lifetime of the OCSP responder certificate. Short, because `ocsp-nocheck` means nobody
    /// checks whether it was revoked: expiry is its only revocation.
    pub ocsp_validity: Duration,
    /// Lifetime of the TSA certificate (within the issuing CA's).
    pub tsa_validity: Duration,
    /// The certificate policy written into the issuing CA and citizen certificates, or `None` to
    /// write no certificatePolicies extension. There is deliberately no default: the OID must
    /// come from an arc the programme has registered (for example an IANA private enterprise
    /// number for the Royal Government of Bhutan), never one invented here.
    pub citizen_policy: Option<ObjectIdentifier>,
}

impl HierarchyParams {
    /// Drukyul ID's defaults for the given endpoints: root 20 years, issuing CA 10 years, TSA
    /// 5 years, OCSP responder 30 days; no certificate policy.
    pub fn new(endpoints: Endpoints) -> Self {
        Self {
            country: "BT".into(),
            organization: "Royal Government of Bhutan".into(),
            root_common_name: "Drukyul ID Root CA".into(),
            issuing_common_name: "Drukyul ID Citizen Signing CA".into(),
            ocsp_common_name: "Drukyul ID OCSP Responder".into(),
            tsa_common_name: "Drukyul ID Timestamping Authority".into(),
            endpoints,
            root_validity: YEAR * 20,
            issuing_validity: YEAR * 10,
            ocsp_validity: DAY * 30,
            tsa_validity: YEAR * 5,
            citizen_policy: None,
        }
    }

    fn check(&self) -> Result<()> {
        check_country(&self.country)?;
        check_name("organization", &self.organization)?;
        check_name("root common name", &self.root_common_name)?;
        check_name("issuing CA common name", &self.issuing_common_name)?;
        check_name("OCSP responder common name", &self.ocsp_common_name)?;
        check_name("TSA common name", &self.tsa_common_name)?;
        Ok(())
    }
}

pub(crate) fn check_country(country: &str) -> Result<()> {
    if country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(Error::InvalidName { field: "country", reason: "must be two upper-case letters (ISO 3166)" })
    }
}

/// Where one of the hierarchy's keys is made: the caller's choice, per key.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// In memory, from the operating system's random number generator; the private key comes back
    /// as [`KeyRef::Software`] for the caller to seal under its key-encryption key.
    Software,
    /// Inside a PKCS#11 token, under a label no private key in that token has yet; only the label
    /// comes back ([`KeyRef::Pkcs11`]).
    Pkcs11 {
        /// The logged-in token.
        token: Pkcs11Token,
        /// The new key's label (`CKA_LABEL`).
        label: String,
    },
}

impl KeySource {
    fn make(&self, made: &mut Vec<Pkcs11Key>) -> Result<(Box<dyn CaKey>, KeyRef)> {
        match self {
            Self::Software => {
                let key = SoftwareKey::generate()?;
                let private_key = key.to_pkcs8_der()?;
                Ok((Box::new(key), KeyRef::Software(private_key)))
            }
            Self::Pkcs11 { token, label } => {
                let key = token.generate_key(label)?;
                made.push(key.clone());
                Ok((Box::new(key), KeyRef::Pkcs11 { token: token.label().to_owned(), label: label.clone() }))
            }
        }
    }
}

/// Where each of the hierarchy's four keys is made.
#[derive(Clone, Debug)]
pub struct KeySources {
    /// The root CA's key.
    pub root: KeySource,
    /// The issuing CA's key.
    pub issuing: KeySource,
    /// The OCSP responder's key.
    pub ocsp: KeySource,
    /// The timestamping authority's key.
    pub tsa: KeySource,
}

impl KeySources {
    /// All four keys in software: what [`Hierarchy::generate`] does.
    pub fn software() -> Self {
        Self {
            root: KeySource::Software,
            issuing: KeySource::Software,
            ocsp: KeySource::Software,
            tsa: KeySource::Software,
        }
    }

    /// All four keys in `token`, labelled `<prefix>-root`, `<prefix>-issuing`, `<prefix>-ocsp` and
    /// `<prefix>-tsa`. A prefix per hierarchy (for example with the year of the key ceremony) keeps
    /// a renewal from colliding with the keys in use.
    pub fn pkcs11(token: &Pkcs11Token, prefix: &str) -> Self {
        let source = |role: &str| KeySource::Pkcs11 { token: token.clone(), label: format!("{prefix}-{role}") };
        Self { root: source("root"), issuing: source("issuing"), ocsp: source("ocsp"), tsa: source("tsa") }
    }

    /// Two keys in one token under one label could not be told apart: refuse before generating.
    fn check(&self) -> Result<()> {
        let labels: Vec<(&str, &str)> = [&self.root, &self.issuing, &self.ocsp, &self.tsa]
            .into_iter()
            .filter_map(|source| match source {
                KeySource::Pkcs11 { token, label } => Some((token.label(), label.as_str())),
                KeySource::Software => None,
            })
            .collect();
        for (i, a) in labels.iter().enumerate() {
            if labels[i + 1..].contains(a) {
                return Err(Error::InvalidName {
                    field: "PKCS#11 key label",
                    reason: "two keys of the hierarchy share a label",
                });
            }
        }
        Ok(())
    }
}

/// Where a freshly generated key is, as the caller records it.
///
/// A token key has no private key to hand back — it never leaves the token — so it is named by
/// its token and label, which [`Pkcs11Token::find_key`] takes to use it again.
#[derive(Debug)]
pub enum KeyRef {
    /// A software key: PKCS#8 DER, zeroized on drop. Seal it before it goes anywhere.
    Software(PrivateKeyDer),
    /// A key inside a PKCS#11 token.
    Pkcs11 {
        /// The token's label.
        token: String,
        /// The key's label in the token.
        label: String,
    },
}

/// A certificate with its freshly generated key, for the caller to store (and, for a software
/// key, seal).
#[derive(Debug)]
pub struct Credential {
    certificate: Certificate,
    key: KeyRef,
}

impl Credential {
    /// The certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }
    /// Where the key is: the PKCS#8 of a software key, or a token key's label.
    pub fn key(&self) -> &KeyRef {
        &self.key
    }
    /// The private key of a software key (PKCS#8 DER, zeroized on drop; seal it before it goes
    /// anywhere), or `None` for a token key, whose private key cannot be had.
    pub fn private_key(&self) -> Option<&PrivateKeyDer> {
        match &self.key {
            KeyRef::Software(private_key) => Some(private_key),
            KeyRef::Pkcs11 { .. } => None,
        }
    }
    /// The certificate as PEM.
    pub fn certificate_pem(&self) -> Result<String> {
        certificate_pem(&self.certificate)
    }
}

/// A certificate as PEM (`-----BEGIN CERTIFICATE-----`, LF line endings).
pub fn certificate_pem(certificate: &Certificate) -> Result<String> {
    Ok(certificate.to_pem(LineEnding::LF)?)
}

/// The issuing CA as the signer uses it: its certificate and a key that can sign.
///
/// The key is a [`CaKey`], so a PKCS#11-backed key can take the place of the software key
/// without changes to the issuing code.
pub struct IssuingCa {
    certificate: Certificate,
    key: Box<dyn CaKey>,
    endpoints: Endpoints,
    citizen_policy: Option<ObjectIdentifier>,
}

impl IssuingCa {
    /// Puts a stored issuing CA back together (certificate, unsealed or token key, settings).
    ///
    /// Refuses a key that is not the certificate's, and a certificate that is not a CA that may
    /// sign certificates, so a mix-up in storage fails here rather than in every relying party.
    pub fn new(
        certificate: Certificate,
        key: Box<dyn CaKey>,
        endpoints: Endpoints,
        citizen_policy: Option<ObjectIdentifier>,
    ) -> Result<Self> {
        if key.public_key() != certificate.tbs_certificate().subject_public_key_info() {
            return Err(Error::UnsupportedKey("the key does not belong to the issuing CA certificate"));
        }
        match certificate.tbs_certificate().get_extension::<BasicConstraints>()? {
            Some((_, BasicConstraints { ca: true, .. })) => {}
            _ => return Err(Error::UnsupportedKey("the issuing CA certificate is not a CA certificate")),
        }
        Ok(Self { certificate, key, endpoints, citizen_policy })
    }

    /// The issuing CA's certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The URLs written into the certificates this CA issues.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// Issues the issuing CA's complete CRL (served at `/ca/crl`); see [`crate::crl::issue_crl`].
    pub fn issue_crl(
        &self,
        crl_number: u64,
        revoked: &[crate::crl::RevokedCertificate],
        now: i64,
        next_update: Duration,
    ) -> Result<x509_cert::crl::CertificateList> {
        crate::crl::issue_crl(&self.certificate, self.key.as_ref(), crl_number, revoked, now, next_update)
    }

    pub(crate) fn citizen_policy(&self) -> Option<ObjectIdentifier> {
        self.citizen_policy
    }

    pub(crate) fn issue(
        &self,
        subject: x509_cert::name::Name,
        subject_public_key: SubjectPublicKeyInfoOwned,
        now: i64,
        lifetime: Duration,
        extensions: Vec<Extension>,
    ) -> Result<Certificate> {
        check_signing_spki(&subject_public_key)?;
        let issuer = Issuer { certificate: Some(&self.certificate), key: self.key.as_ref() };
        cert::issue(&issuer, subject, subject_public_key, cert::validity(now, lifetime)?, extensions)
    }

    /// Issues (or renews) the OCSP responder certificate.
    ///
    /// EKU id-kp-OCSPSigning makes it a delegated responder (RFC 6960 4.2.2.2); id-pkix-ocsp-nocheck
    /// tells clients not to check its own status, which is why it carries no CRL or OCSP pointer
    /// and should be short-lived. keyUsage is digitalSignature only, critical.
    pub fn issue_ocsp_responder(
        &self,
        common_name: &str,
        subject_public_key: SubjectPublicKeyInfoOwned,
        now: i64,
        lifetime: Duration,
    ) -> Result<Certificate> {
        let subject = self.end_entity_name(common_name)?;
        let extensions = vec![
            cert::basic_constraints(false, None)?,
            cert::key_usage(KeyUsages::DigitalSignature)?,
            cert::extended_key_usage(false, &[ID_KP_OCSP_SIGNING])?,
            cert::ocsp_nocheck()?,
            cert::authority_info_access(None, self.endpoints.issuing_cert())?,
        ];
        self.issue(subject, subject_public_key, now, lifetime, extensions)
    }

    /// Issues (or renews) the timestamping authority's certificate.
    ///
    /// RFC 3161 2.3: the extended key usage must be id-kp-timeStamping alone, and critical.
    /// keyUsage digitalSignature + nonRepudiation, critical (OpenSSL's `timestampsign` purpose
    /// accepts no other bits).
    pub fn issue_tsa(
        &self,
        common_name: &str,
        subject_public_key: SubjectPublicKeyInfoOwned,
        now: i64,
        lifetime: Duration,
    ) -> Result<Certificate> {
        let subject = self.end_entity_name(common_name)?;
        let extensions = vec![
            cert::basic_constraints(false, None)?,
            cert::key_usage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation)?,
            cert::extended_key_usage(true, &[ID_KP_TIME_STAMPING])?,
            cert::crl_distribution_point(self.endpoints.crl())?,
            cert::authority_info_access(Some(self.endpoints.ocsp()), self.endpoints.issuing_cert())?,
        ];
        self.issue(subject, subject_public_key, now, lifetime, extensions)
    }

    /// `C` and `O` of the issuing CA, with the given CN: service certificates belong to the
    /// operator.
    fn end_entity_name(&self, common_name: &str) -> Result<x509_cert::name::Name> {
        check_name("common name", common_name)?;
        let issuer = self.certificate.tbs_certificate().subject();
        let country = issuer.country()?.map(|c| c.as_str().to_owned()).unwrap_or_default();
        let organization = issuer.organization()?.map(String::from).unwrap_or_default();
        check_country(&country)?;
        check_name("organization", &organization)?;
        build_name(&[Attr::country(&country), Attr::organization(&organization), Attr::common_name(common_name)])
    }
}

/// A freshly generated CA hierarchy: the four certificates and where their keys are.
///
/// Nothing here is written anywhere (except token keys, which are made in their token): the
/// caller (`idp ca init`) seals each software private key under its key-encryption key, records
/// the labels of token keys, and stores the certificates.
pub struct Hierarchy {
    root: Credential,
    issuing: Credential,
    ocsp: Credential,
    tsa: Credential,
    issuing_ca: IssuingCa,
}

impl Hierarchy {
    /// Generates the four P-256 keys (in software) and certificates, all starting at `now`
    /// (Unix seconds).
    ///
    /// Fails without producing anything if a name, URL or lifetime is unusable, including a
    /// lifetime that would outlive its issuer.
    pub fn generate(params: &HierarchyParams, now: i64) -> Result<Self> {
        Self::generate_with(params, &KeySources::software(), now)
    }

    /// Like [`Hierarchy::generate`], with each key made where `sources` says.
    ///
    /// Token keys are generated first thing for their role; if anything fails afterwards, the
    /// token keys generated by this call are destroyed again (best effort), so a failed ceremony
    /// can be retried with the same labels. Nothing made by this call has been published then.
    pub fn generate_with(params: &HierarchyParams, sources: &KeySources, now: i64) -> Result<Self> {
        params.check()?;
        sources.check()?;
        let mut made = Vec::new();
        let result = Self::build(params, sources, now, &mut made);
        if result.is_err() {
            for key in &made {
                // Best effort: the error that matters is the one being returned.
                let _ = key.destroy();
            }
        }
        result
    }

    fn build(params: &HierarchyParams, sources: &KeySources, now: i64, made: &mut Vec<Pkcs11Key>) -> Result<Self> {
        let ca_name = |cn: &str| {
            build_name(&[
                Attr::country(&params.country),
                Attr::organization(&params.organization),
                Attr::common_name(cn),
            ])
        };
        let ca_usage = || cert::key_usage(KeyUsages::KeyCertSign | KeyUsages::CRLSign);

        // Root: pathLen 1 allows exactly the one level of issuing CA below it.
        let (root_key, root_ref) = sources.root.make(made)?;
        let root_cert = cert::issue(
            &Issuer { certificate: None, key: root_key.as_ref() },
            ca_name(&params.root_common_name)?,
            root_key.public_key().clone(),
            cert::validity(now, params.root_validity)?,
            vec![cert::basic_constraints(true, Some(1))?, ca_usage()?],
        )?;

        // Issuing CA: pathLen 0, so it can issue end-entity certificates only. Its status comes
        // from the root's CRL; there is no OCSP pointer because the online responder is
        // delegated by the issuing CA and cannot answer for its own issuer.
        let (issuing_key, issuing_ref) = sources.issuing.make(made)?;
        let mut issuing_extensions = vec![
            cert::basic_constraints(true, Some(0))?,
            ca_usage()?,
            cert::crl_distribution_point(params.endpoints.root_crl())?,
            cert::authority_info_access(None, params.endpoints.root_cert())?,
        ];
        if let Some(policy) = params.citizen_policy {
            issuing_extensions.push(cert::certificate_policies(policy)?);
        }
        let issuing_cert = cert::issue(
            &Issuer { certificate: Some(&root_cert), key: root_key.as_ref() },
            ca_name(&params.issuing_common_name)?,
            issuing_key.public_key().clone(),
            cert::validity(now, params.issuing_validity)?,
            issuing_extensions,
        )?;

        let issuing_ca =
            IssuingCa::new(issuing_cert.clone(), issuing_key, params.endpoints.clone(), params.citizen_policy)?;

        let (ocsp_key, ocsp_ref) = sources.ocsp.make(made)?;
        let ocsp_cert = issuing_ca.issue_ocsp_responder(
            &params.ocsp_common_name,
            ocsp_key.public_key().clone(),
            now,
            params.ocsp_validity,
        )?;
        let (tsa_key, tsa_ref) = sources.tsa.make(made)?;
        let tsa_cert =
            issuing_ca.issue_tsa(&params.tsa_common_name, tsa_key.public_key().clone(), now, params.tsa_validity)?;

        Ok(Self {
            root: Credential { certificate: root_cert, key: root_ref },
            issuing: Credential { certificate: issuing_cert, key: issuing_ref },
            ocsp: Credential { certificate: ocsp_cert, key: ocsp_ref },
            tsa: Credential { certificate: tsa_cert, key: tsa_ref },
            issuing_ca,
        })
    }

    /// The root CA.
    pub fn root(&self) -> &Credential {
        &self.root
    }
    /// The issuing CA's certificate and key.
    pub fn issuing(&self) -> &Credential {
        &self.issuing
    }
    /// The OCSP responder.
    pub fn ocsp(&self) -> &Credential {
        &self.ocsp
    }
    /// The timestamping authority.
    pub fn tsa(&self) -> &Credential {
        &self.tsa
    }
    /// The issuing CA, ready to issue citizen certificates.
    pub fn issuing_ca(&self) -> &IssuingCa {
        &self.issuing_ca
    }

    /// The chain served at `/ca/chain.pem`: issuing CA first, then the root.
    pub fn chain_pem(&self) -> Result<String> {
        Ok(certificate_pem(&self.issuing.certificate)? + &certificate_pem(&self.root.certificate)?)
    }
}
