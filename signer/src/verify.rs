//! Verifying a detached CAdES signature the way a relying party must.
//!
//! [`Verifier::verify`] takes the `.p7s` bytes, the SHA-256 of the document, and `now`, and
//! returns a [`Report`]: valid, or invalid with one precise [`Failure`], plus who signed, when,
//! and what the issuer's records say about the certificate. It trusts nothing in the signature:
//! not the certificates it carries (they must chain to a root the caller gave), not its claimed
//! signing-time (only a verified RFC 3161 timestamp proves when a signature existed), not the
//! signer's own idea of which certificate it used (signingCertificateV2 must name it).
//!
//! The checks, in order — the first that fails is the verdict:
//!
//! 1. A ContentInfo holding a detached SignedData over id-data with exactly one SignerInfo,
//!    SHA-256 as its digest algorithm and ecdsa-with-SHA256 (P-256) or RSASSA-PKCS1-v1_5 with
//!    SHA-256 as its signature algorithm (what this crate issues; anything else is refused,
//!    never skipped).
//! 2. The signer's certificate (by issuer and serial, or subject key identifier) among the
//!    signature's certificates and the caller's intermediates; the signature over the DER
//!    SET OF signed attributes (RFC 5652 5.4) verifies with its key.
//! 3. The signed attributes: content-type id-data, message-digest equal to the document's digest,
//!    signingCertificateV2 with the SHA-256 of that very certificate (RFC 5035: no other
//!    certificate with the same key can be slipped in), signing-time, not in the future.
//! 4. A signature-time-stamp, if present (CAdES-B-T): its own CMS signature, a TSA certificate
//!    with the critical timeStamping EKU chaining to the roots, and a message imprint equal to
//!    SHA-256 of the signature value. Its genTime becomes the signing time that counts.
//! 5. The certification path: each certificate's signature, validity at the signing time,
//!    basicConstraints CA (and pathLen) and keyCertSign on issuers, no unknown critical
//!    extension, and keyUsage nonRepudiation or digitalSignature on the signer.
//! 6. Revocation, from the caller's [`RevocationStatus`] for every certificate below the root:
//!    revoked at or before the signing time is invalid; revoked later is valid with the
//!    revocation in [`Report::status_at_signing_time`] — but only when a timestamp proves the
//!    time. Without one, the claimed signing-time is the signer's word, and whoever holds a
//!    compromised key can write any time, so any revocation makes the signature invalid (ETSI
//!    EN 319 102-1 treats it the same way: no proof of existence before the revocation).
//!
//!    The TSA's certificate and its CA get no such grace: nothing older than the token proves
//!    it was made before their revocation, so any revocation there fails the timestamp.
//!
//! The report's identity fields are filled as soon as the signer's certificate is found, so an
//! invalid report can say whose certificate was involved; they are verified facts only when the
//! verdict is valid.
//!
//! Signatures are checked over the DER re-encoding of what was decoded (signed attributes,
//! to-be-signed certificates): what is verified is exactly what is read. Input that is BER, or
//! DER with a SET in the wrong order, therefore fails as a bad signature — closed, never open.
//! Not supported yet (refused, not skipped): tokens bound with the SHA-1 ESS signingCertificate
//! instead of signingCertificateV2, more than one signature-time-stamp, RSA.

use core::fmt;

use der::asn1::{Any, OctetString};
use der::oid::ObjectIdentifier;
use der::oid::db::rfc3161::ID_CT_TST_INFO;
use der::oid::db::rfc4519::{COMMON_NAME, GIVEN_NAME, ORGANIZATION_NAME, SERIAL_NUMBER, SURNAME};
use der::oid::db::rfc5280::ID_KP_TIME_STAMPING;
use der::oid::db::rfc5911::{
    ID_AA_SIGNING_CERTIFICATE_V_2, ID_CONTENT_TYPE, ID_DATA, ID_MESSAGE_DIGEST, ID_SIGNING_TIME,
};
use der::oid::db::rfc5912::{ECDSA_WITH_SHA_256, ID_SHA_256, RSA_ENCRYPTION, SHA_256_WITH_RSA_ENCRYPTION};
use der::{Decode, Encode};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::{DirectoryString, GeneralName};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Time;

use ::cms::cert::CertificateChoices;
use ::cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};

use crate::cms::ID_AA_SIGNATURE_TIME_STAMP_TOKEN;
use crate::crl::RevocationReason;
use crate::digest::{Sha256Digest, params_absent_or_null};
use crate::error::Error;
use crate::key::verify_signature;
use crate::ocsp::CertStatus;
use crate::signed_data::{SigningCertificateV2, parse_content_info};
use crate::tsa::TstInfo;

/// How far ahead of `now` a signing time or genTime may be (seconds) before it is "in the
/// future": the signer's and verifier's clocks are never exactly the same.
pub const MAX_CLOCK_SKEW: i64 = 300;

/// The longest certification path followed (signer, CAs, root): our hierarchy has three, and a
/// bound keeps a hostile certificate bag from making path building expensive.
const MAX_PATH_LEN: usize = 5;

/// The most certificate signatures one path search may check. Candidates are tried by name and
/// confirmed by signature, so a signature carrying many certificates with the same names could
/// otherwise make the search try every ordering of them; a genuine path needs a handful.
const MAX_SIGNATURE_CHECKS: usize = 64;

/// Where the issuer's records are asked about a certificate: the identity provider answers from
/// its own tables (or a CRL/OCSP cache), so the library needs no network and no database.
///
/// It is asked about every certificate below the trust anchor on both paths (the signer's, its
/// issuing CA, and for B-T the TSA's), by serial and issuer name; `Unknown` makes the signature
/// invalid. A closure `Fn(&SerialNumber, &Name) -> CertStatus` is one.
pub trait RevocationStatus {
    /// What the records say about the certificate `serial` issued by `issuer`, as of now.
    fn status_of(&self, serial: &SerialNumber, issuer: &Name) -> CertStatus;
}

impl<F: Fn(&SerialNumber, &Name) -> CertStatus> RevocationStatus for F {
    fn status_of(&self, serial: &SerialNumber, issuer: &Name) -> CertStatus {
        self(serial, issuer)
    }
}

/// Which certificate a failure is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The signer's own certificate.
    Signer,
    /// A CA between the signer (or TSA) and the root.
    IntermediateCa,
    /// The root the path ends at.
    TrustAnchor,
    /// The timestamping authority's certificate.
    Tsa,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Signer => "signer's",
            Self::IntermediateCa => "intermediate CA",
            Self::TrustAnchor => "trust anchor",
            Self::Tsa => "TSA",
        })
    }
}

/// Why a signature is invalid: one variant per check, so the caller can map each to a message
/// or an API error code, and tests can assert exactly which check refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// Not a CMS structure this verifier can read: not DER, not a detached SignedData with one
    /// signer, an attribute repeated or with several values.
    #[error("malformed signature: {0}")]
    Malformed(&'static str),
    /// A digest or signature algorithm other than SHA-256 and ECDSA P-256 with SHA-256.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(&'static str),
    /// A signed attribute CAdES-B-B requires is absent.
    #[error("the signed attribute {0} is missing")]
    MissingAttribute(&'static str),
    /// The content-type attribute (or eContentType) is not what was signed over.
    #[error("the content type is not the expected one")]
    ContentTypeMismatch,
    /// The signed message-digest is not the document's SHA-256: another or a modified document.
    #[error("the document does not match the signature (message-digest differs)")]
    DigestMismatch,
    /// No certificate matching the SignerInfo's identifier was supplied.
    #[error("the signer's certificate is not in the signature or the given intermediates")]
    SignerCertificateNotFound,
    /// signingCertificateV2 names another certificate than the one whose key verifies.
    #[error("signingCertificateV2 does not name the signer's certificate")]
    SigningCertificateMismatch,
    /// The signature over the signed attributes does not verify with the certificate's key.
    #[error("the signature does not verify with the signer's certificate")]
    BadSignature,
    /// No path of valid signatures leads from the certificate to one of the trust anchors, or a
    /// certificate on it is not fit for its place (not a CA, unknown critical extension, ...).
    #[error("the certificate does not chain to a trusted root: {0}")]
    UntrustedChain(&'static str),
    /// A certificate on the path had expired at the signing time.
    #[error("the {0} certificate had expired at the signing time")]
    CertificateExpiredAtSigningTime(Role),
    /// A certificate on the path was not yet valid at the signing time.
    #[error("the {0} certificate was not yet valid at the signing time")]
    CertificateNotYetValidAtSigningTime(Role),
    /// The signer's certificate has neither nonRepudiation nor digitalSignature key usage.
    #[error("the signer's certificate is not for signing documents")]
    NotASigningCertificate,
    /// The claimed signing-time is later than `now` (beyond [`MAX_CLOCK_SKEW`]).
    #[error("the signing time is in the future")]
    SigningTimeInFuture,
    /// The claimed signing-time is later than the timestamp's genTime: the signer's clock or
    /// its claim is wrong, and a time cannot be both.
    #[error("the claimed signing time is after the timestamp")]
    SigningTimeAfterTimestamp,
    /// The signature-time-stamp is present but cannot be trusted.
    #[error("bad signature-time-stamp: {0}")]
    BadTimestamp(TimestampProblem),
    /// A certificate was revoked at or before the (timestamped) signing time.
    #[error("the {role} certificate was revoked at {revoked_at} ({reason:?}), before the signing time")]
    RevokedBeforeSigning {
        /// Which certificate.
        role: Role,
        /// When (Unix seconds).
        revoked_at: i64,
        /// Why.
        reason: RevocationReason,
    },
    /// A certificate is revoked and nothing proves the signature (or, for the TSA's, the
    /// timestamp) existed before: there is no timestamp, only the signer's claimed time.
    #[error(
        "the {role} certificate was revoked at {revoked_at} ({reason:?}) and no timestamp proves the signature is older"
    )]
    RevokedWithoutProofOfTime {
        /// Which certificate.
        role: Role,
        /// When (Unix seconds).
        revoked_at: i64,
        /// Why.
        reason: RevocationReason,
    },
    /// The issuer's records do not know a certificate on the path.
    #[error("the {0} certificate is unknown to its issuer")]
    StatusUnknown(Role),
}

/// Why a signature-time-stamp is not trusted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampProblem {
    /// The token's CMS structure, its signature, or the TSA's certificate path failed this check.
    #[error("{0}")]
    Token(Box<Failure>),
    /// The TSA certificate lacks the critical extendedKeyUsage of id-kp-timeStamping alone
    /// (RFC 3161 2.3): a certificate not made for timestamping cannot vouch for a time.
    #[error("the TSA certificate is not a critical timeStamping certificate")]
    NotATimestampingCertificate,
    /// The token's message imprint is not SHA-256 of this signature value: it timestamps
    /// something else.
    #[error("the token does not cover this signature")]
    ImprintMismatch,
    /// genTime is later than `now` (beyond [`MAX_CLOCK_SKEW`]).
    #[error("the timestamp is in the future")]
    InTheFuture,
}

impl From<Failure> for TimestampProblem {
    fn from(failure: Failure) -> Self {
        Self::Token(Box::new(failure))
    }
}

/// The signer as their certificate's subject names them, attribute by attribute.
///
/// The `serialNumber` attribute (`IDCBT-<CID>` for Drukyul ID citizens) is a separate field so
/// a caller not allowed to see CIDs can drop it; `Debug` never prints it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SignerName {
    /// commonName, e.g. "Karma Wangchuk".
    pub common_name: Option<String>,
    /// givenName.
    pub given_name: Option<String>,
    /// surname (absent for citizens without a family name).
    pub surname: Option<String>,
    /// The subject's serialNumber attribute, e.g. `IDCBT-<CID>`: personal data.
    pub serial_number: Option<String>,
    /// organizationName: the agency, on a seal certificate.
    pub organization: Option<String>,
    /// organizationIdentifier (2.5.4.97): `GV:BT-<client id>` on an agency's seal certificate.
    pub organization_identifier: Option<String>,
}

impl fmt::Debug for SignerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerName")
            .field("common_name", &self.common_name)
            .field("given_name", &self.given_name)
            .field("surname", &self.surname)
            .field("serial_number", &self.serial_number.as_ref().map(|_| "<redacted>"))
            .field("organization", &self.organization)
            .field("organization_identifier", &self.organization_identifier)
            .finish()
    }
}

impl SignerName {
    fn of(name: &Name) -> Self {
        let get = |oid| name.by_oid::<DirectoryString>(oid).ok().flatten().map(String::from);
        Self {
            common_name: get(COMMON_NAME),
            given_name: get(GIVEN_NAME),
            surname: get(SURNAME),
            serial_number: get(SERIAL_NUMBER),
            organization: get(ORGANIZATION_NAME),
            organization_identifier: get(crate::seal::ORGANIZATION_IDENTIFIER),
        }
    }
}

/// A verified signature-time-stamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timestamp {
    /// The TSA's genTime (Unix seconds): the signature existed then.
    pub gen_time: i64,
    /// The TSA certificate's subject (RFC 4514 string).
    pub tsa: String,
}

/// The signer certificate's status at the signing time, from the caller's records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusAtSigningTime {
    /// Not revoked.
    Good,
    /// Revoked after the timestamped signing time: the signature stays valid, and the caller
    /// should say the certificate has been revoked since.
    RevokedLater {
        /// When (Unix seconds).
        revoked_at: i64,
        /// Why.
        reason: RevocationReason,
    },
    /// Revoked at or before the signing time, or with no timestamp to prove otherwise.
    Revoked {
        /// When (Unix seconds).
        revoked_at: i64,
        /// Why.
        reason: RevocationReason,
    },
    /// The issuer's records do not know the certificate.
    Unknown,
}

/// The outcome of [`Verifier::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// `Ok(())` when the signature is valid, else the first check that failed.
    pub verdict: Result<(), Failure>,
    /// The signer's subject (present once the signer's certificate was found).
    pub signer: Option<SignerName>,
    /// The signer certificate's serial number.
    pub certificate_serial: Option<SerialNumber>,
    /// The signing-time attribute (Unix seconds): the signer's claim.
    pub claimed_signing_time: Option<i64>,
    /// The verified signature-time-stamp, for a CAdES-B-T signature.
    pub timestamp: Option<Timestamp>,
    /// The signer certificate's status at the signing time (present once revocation was asked).
    pub status_at_signing_time: Option<StatusAtSigningTime>,
}

impl Report {
    /// Whether the signature is valid.
    pub fn is_valid(&self) -> bool {
        self.verdict.is_ok()
    }

    /// The time the checks used: the timestamp's genTime when there is one, else the claimed
    /// signing time.
    pub fn signing_time(&self) -> Option<i64> {
        self.timestamp.as_ref().map(|t| t.gen_time).or(self.claimed_signing_time)
    }
}

/// A relying party's verifier: the roots it trusts, intermediates it may use to reach them, and
/// where to ask about revocation.
pub struct Verifier<'a> {
    roots: &'a [Certificate],
    intermediates: &'a [Certificate],
    revocation: &'a dyn RevocationStatus,
    pades: bool,
}

impl<'a> Verifier<'a> {
    /// A verifier trusting `roots` (normally the Drukyul ID root CA alone) and asking
    /// `revocation` about every certificate below them.
    pub fn new(roots: &'a [Certificate], revocation: &'a dyn RevocationStatus) -> Self {
        Self { roots, intermediates: &[], revocation, pades: false }
    }

    /// Verifies the CMS of a PDF signature (PAdES baseline) rather than a detached CAdES one:
    /// the signing-time attribute must then be absent (ETSI EN 319 142-1 5.4: the claimed time
    /// is the signature dictionary's `/M`), so the time the certificate is checked at is the
    /// signature timestamp's, or `now` without one.
    pub fn for_pades(mut self) -> Self {
        self.pades = true;
        self
    }

    /// CA certificates to build paths with besides those in the signature (for example the
    /// issuing CA from `/ca/chain.pem`, for signatures that carry only the signer's). They are
    /// not trusted: each must chain to a root like any other.
    pub fn with_intermediates(mut self, intermediates: &'a [Certificate]) -> Self {
        self.intermediates = intermediates;
        self
    }

    /// Verifies the detached CMS signature `signature` (DER) of the document whose SHA-256 is
    /// `document`, at `now` (Unix seconds).
    pub fn verify(&self, signature: &[u8], document: &Sha256Digest, now: i64) -> Report {
        let mut report = Report {
            verdict: Ok(()),
            signer: None,
            certificate_serial: None,
            claimed_signing_time: None,
            timestamp: None,
            status_at_signing_time: None,
        };
        report.verdict = self.run(signature, document, now, &mut report);
        report
    }

    fn run(&self, der: &[u8], document: &Sha256Digest, now: i64, report: &mut Report) -> Result<(), Failure> {
        let sd = parse_content_info(der).map_err(|_| Failure::Malformed("not a DER CMS SignedData"))?;
        if sd.encap_content_info.econtent.is_some() {
            return Err(Failure::Malformed("not a detached signature"));
        }
        let pool = self.pool(&sd, &[]);
        let (info, certificate) = signer_info(&sd, &pool, ID_DATA, document, report)?;
        let attrs = info.signed_attrs.as_ref().map(|a| a.as_slice()).unwrap_or_default();
        let claimed = match (single_attribute(attrs, ID_SIGNING_TIME)?, self.pades) {
            (Some(_), true) => return Err(Failure::Malformed("a PAdES signature carries no signing-time attribute")),
            (None, true) => None,
            (None, false) => return Err(Failure::MissingAttribute("signing-time")),
            (Some(time), false) => {
                let time = time.decode_as::<Time>().map_err(|_| Failure::Malformed("signing-time is not a Time"))?;
                Some(unix(&time))
            }
        };
        report.claimed_signing_time = claimed;
        if claimed.is_some_and(|c| c > now.saturating_add(MAX_CLOCK_SKEW)) {
            return Err(Failure::SigningTimeInFuture);
        }

        let unsigned = info.unsigned_attrs.as_ref().map(|a| a.as_slice()).unwrap_or_default();
        let timestamp = match single_attribute(unsigned, ID_AA_SIGNATURE_TIME_STAMP_TOKEN)? {
            None => None,
            Some(token) => {
                let stamp =
                    self.timestamp(token, info.signature.as_bytes(), &pool, now).map_err(Failure::BadTimestamp)?;
                if claimed.is_some_and(|c| c > stamp.gen_time.saturating_add(MAX_CLOCK_SKEW)) {
                    return Err(Failure::SigningTimeAfterTimestamp);
                }
                Some(stamp)
            }
        };
        let proven = timestamp.as_ref().map(|t| t.gen_time);
        report.timestamp = timestamp;
        let at = proven.or(claimed).unwrap_or(now);

        let path = self.path(certificate, &pool, at, Role::Signer)?;
        match certificate.tbs_certificate().get_extension::<KeyUsage>() {
            Ok(Some((_, usage))) if usage.non_repudiation() || usage.digital_signature() => {}
            _ => return Err(Failure::NotASigningCertificate),
        }
        let (status, checked) = self.revocation(&path, Role::Signer, at, proven.is_some());
        report.status_at_signing_time = Some(status);
        checked
    }

    /// Every certificate a path may use: the caller's first (tried first, so decoys in a
    /// signature cannot spend the search budget before them), then the signature's (and a
    /// token's) own.
    fn pool<'c>(&'c self, sd: &'c SignedData, more: &[&'c Certificate]) -> Vec<&'c Certificate> {
        let own = sd.certificates.iter().flat_map(|set| set.0.iter()).filter_map(|choice| match choice {
            CertificateChoices::Certificate(c) => Some(c),
            CertificateChoices::Other(_) => None,
        });
        self.intermediates.iter().chain(own).chain(more.iter().copied()).collect()
    }

    /// Checks a signature-time-stamp token over `signature_value` and returns its time.
    fn timestamp(
        &self,
        token: &Any,
        signature_value: &[u8],
        outer_pool: &[&Certificate],
        now: i64,
    ) -> Result<Timestamp, TimestampProblem> {
        let der = token.to_der().map_err(|_| Failure::Malformed("the token does not re-encode"))?;
        let sd = parse_content_info(&der).map_err(|_| Failure::Malformed("the token is not a CMS SignedData"))?;
        if sd.encap_content_info.econtent_type != ID_CT_TST_INFO {
            return Err(Failure::ContentTypeMismatch.into());
        }
        let octets = sd
            .encap_content_info
            .econtent
            .as_ref()
            .ok_or(Failure::Malformed("the token has no TSTInfo"))?
            .decode_as::<OctetString>()
            .map_err(|_| Failure::Malformed("the TSTInfo is not an OCTET STRING"))?;
        let tst = TstInfo::from_der(octets.as_bytes()).map_err(|_| Failure::Malformed("malformed TSTInfo"))?;

        let pool = self.pool(&sd, outer_pool);
        let mut ignored = Report {
            verdict: Ok(()),
            signer: None,
            certificate_serial: None,
            claimed_signing_time: None,
            timestamp: None,
            status_at_signing_time: None,
        };
        let (_, tsa) = signer_info(&sd, &pool, ID_CT_TST_INFO, &Sha256Digest::of(octets.as_bytes()), &mut ignored)?;
        match tsa.tbs_certificate().get_extension::<ExtendedKeyUsage>() {
            Ok(Some((true, eku))) if eku.0 == [ID_KP_TIME_STAMPING] => {}
            _ => return Err(TimestampProblem::NotATimestampingCertificate),
        }

        let imprint = &tst.message_imprint;
        if imprint.hash_algorithm.oid != ID_SHA_256 || !params_absent_or_null(&imprint.hash_algorithm) {
            return Err(Failure::UnsupportedAlgorithm("the message imprint is not SHA-256").into());
        }
        if imprint.hashed_message.as_bytes() != Sha256Digest::of(signature_value).as_bytes() {
            return Err(TimestampProblem::ImprintMismatch);
        }
        let gen_time = i64::try_from(tst.gen_time.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
        if gen_time > now.saturating_add(MAX_CLOCK_SKEW) {
            return Err(TimestampProblem::InTheFuture);
        }

        // The token is trusted at its own time; nothing older proves it existed before a
        // revocation of the TSA's certificate, so any revocation there is fatal.
        let path = self.path(tsa, &pool, gen_time, Role::Tsa)?;
        let (_, checked) = self.revocation(&path, Role::Tsa, gen_time, false);
        checked?;
        Ok(Timestamp { gen_time, tsa: tsa.tbs_certificate().subject().to_string() })
    }

    /// Builds and checks the path from `leaf` to a root, valid at `at`.
    fn path<'c>(
        &'c self,
        leaf: &'c Certificate,
        pool: &[&'c Certificate],
        at: i64,
        role: Role,
    ) -> Result<Vec<&'c Certificate>, Failure> {
        let mut path = vec![leaf];
        let mut budget = MAX_SIGNATURE_CHECKS;
        if !self.extend(&mut path, pool, &mut budget) {
            return Err(Failure::UntrustedChain("no path of valid signatures to a trusted root"));
        }
        let last = path.len() - 1;
        for (i, cert) in path.iter().enumerate() {
            let role = match i {
                0 => role,
                i if i == last => Role::TrustAnchor,
                _ => Role::IntermediateCa,
            };
            let tbs = cert.tbs_certificate();
            if at < unix(&tbs.validity().not_before) {
                return Err(Failure::CertificateNotYetValidAtSigningTime(role));
            }
            if at > unix(&tbs.validity().not_after) {
                return Err(Failure::CertificateExpiredAtSigningTime(role));
            }
            check_critical_extensions(cert)?;
            if i > 0 {
                check_issuer(cert, i - 1)?;
            }
        }
        Ok(path)
    }

    /// Depth-first search for an issuer whose key verifies the last certificate of `path`,
    /// ending at a trust anchor. Names alone are not enough: two hierarchies can use the same
    /// names, so only a verifying signature links a certificate to its issuer.
    /// Each signature checked spends one unit of `budget`; an exhausted budget ends the search.
    fn extend<'c>(&'c self, path: &mut Vec<&'c Certificate>, pool: &[&'c Certificate], budget: &mut usize) -> bool {
        let Some(&child) = path.last() else { return false };
        if let Some(root) = self.roots.iter().find(|root| issued_by(child, root, budget)) {
            path.push(root);
            return true;
        }
        if path.len() >= MAX_PATH_LEN {
            return false;
        }
        for &candidate in pool {
            if path.contains(&candidate) || !issued_by(child, candidate, budget) {
                continue;
            }
            path.push(candidate);
            if self.extend(path, pool, budget) {
                return true;
            }
            path.pop();
        }
        false
    }

    /// Asks about every certificate below the anchor; returns the leaf's status at `at` and the
    /// verdict. `proven` says whether `at` is a timestamp's (trusted) time.
    fn revocation(
        &self,
        path: &[&Certificate],
        leaf_role: Role,
        at: i64,
        proven: bool,
    ) -> (StatusAtSigningTime, Result<(), Failure>) {
        let below_anchor = path.len().saturating_sub(1);
        let mut leaf_status = StatusAtSigningTime::Unknown;
        let mut verdict = Ok(());
        for (i, cert) in path.iter().take(below_anchor).enumerate() {
            let role = if i == 0 { leaf_role } else { Role::IntermediateCa };
            let tbs = cert.tbs_certificate();
            let (status, result) = match self.revocation.status_of(tbs.serial_number(), tbs.issuer()) {
                CertStatus::Good => (StatusAtSigningTime::Good, Ok(())),
                CertStatus::Unknown => (StatusAtSigningTime::Unknown, Err(Failure::StatusUnknown(role))),
                CertStatus::Revoked { revoked_at, reason } if proven && revoked_at > at => {
                    (StatusAtSigningTime::RevokedLater { revoked_at, reason }, Ok(()))
                }
                CertStatus::Revoked { revoked_at, reason } => {
                    let failure = if proven {
                        Failure::RevokedBeforeSigning { role, revoked_at, reason }
                    } else {
                        Failure::RevokedWithoutProofOfTime { role, revoked_at, reason }
                    };
                    (StatusAtSigningTime::Revoked { revoked_at, reason }, Err(failure))
                }
            };
            if i == 0 {
                leaf_status = status;
            }
            if verdict.is_ok() {
                verdict = result;
            }
        }
        (leaf_status, verdict)
    }
}

/// Checks the one SignerInfo of `sd` over content of type `content_type` with SHA-256 `digest`
/// and returns it with the certificate whose key verified it.
fn signer_info<'s, 'c>(
    sd: &'s SignedData,
    pool: &[&'c Certificate],
    content_type: ObjectIdentifier,
    digest: &Sha256Digest,
    report: &mut Report,
) -> Result<(&'s SignerInfo, &'c Certificate), Failure> {
    if sd.encap_content_info.econtent_type != content_type {
        return Err(Failure::ContentTypeMismatch);
    }
    let mut infos = sd.signer_infos.0.iter();
    let (Some(info), None) = (infos.next(), infos.next()) else {
        return Err(Failure::Malformed("not exactly one SignerInfo"));
    };
    if info.digest_alg.oid != ID_SHA_256 || !params_absent_or_null(&info.digest_alg) {
        return Err(Failure::UnsupportedAlgorithm("the digest algorithm is not SHA-256"));
    }
    check_algorithm(&info.signature_algorithm)?;
    let signed = info.signed_attrs.as_ref().ok_or(Failure::MissingAttribute("signed attributes"))?;

    let certificate =
        pool.iter().copied().find(|c| identifies(&info.sid, c)).ok_or(Failure::SignerCertificateNotFound)?;
    let tbs = certificate.tbs_certificate();
    report.signer = Some(SignerName::of(tbs.subject()));
    report.certificate_serial = Some(tbs.serial_number().clone());

    // RFC 5652 5.4: the signature is over the DER of the SET OF, not the [0] IMPLICIT field. The
    // decoder puts the SET in DER order, so these are the bytes of the attributes read below: a
    // signer that wrote another order fails here rather than being read one way and signed another.
    let message = signed.to_der().map_err(|_| Failure::Malformed("the signed attributes do not re-encode"))?;
    check_signature(tbs.subject_public_key_info(), &info.signature_algorithm, &message, info.signature.as_bytes())?;

    let attrs = signed.as_slice();
    let ct = single_attribute(attrs, ID_CONTENT_TYPE)?.ok_or(Failure::MissingAttribute("content-type"))?;
    if ct.decode_as::<ObjectIdentifier>().ok() != Some(content_type) {
        return Err(Failure::ContentTypeMismatch);
    }
    let md = single_attribute(attrs, ID_MESSAGE_DIGEST)?.ok_or(Failure::MissingAttribute("message-digest"))?;
    let md = md.decode_as::<OctetString>().map_err(|_| Failure::Malformed("message-digest is not an OCTET STRING"))?;
    if md.as_bytes() != digest.as_bytes() {
        return Err(Failure::DigestMismatch);
    }
    let scv2 = single_attribute(attrs, ID_AA_SIGNING_CERTIFICATE_V_2)?
        .ok_or(Failure::MissingAttribute("signingCertificateV2"))?
        .decode_as::<SigningCertificateV2>()
        .map_err(|_| Failure::Malformed("malformed signingCertificateV2"))?;
    check_signing_certificate(&scv2, certificate)?;
    Ok((info, certificate))
}

/// RFC 5035 5.4: the first ESSCertIDv2 names the signing certificate, by hash (SHA-256 here)
/// and, when present, by issuer and serial.
fn check_signing_certificate(scv2: &SigningCertificateV2, certificate: &Certificate) -> Result<(), Failure> {
    let id = scv2.certs.first().ok_or(Failure::Malformed("empty signingCertificateV2"))?;
    if let Some(algorithm) = &id.hash_algorithm
        && (algorithm.oid != ID_SHA_256 || !params_absent_or_null(algorithm))
    {
        return Err(Failure::UnsupportedAlgorithm("the signingCertificateV2 hash is not SHA-256"));
    }
    let der = certificate.to_der().map_err(|_| Failure::Malformed("a certificate does not re-encode"))?;
    if id.cert_hash.as_bytes() != Sha256Digest::of(&der).as_bytes() {
        return Err(Failure::SigningCertificateMismatch);
    }
    if let Some(issuer_serial) = &id.issuer_serial {
        let tbs = certificate.tbs_certificate();
        let names_issuer =
            issuer_serial.issuer.iter().any(|n| matches!(n, GeneralName::DirectoryName(d) if d == tbs.issuer()));
        if !names_issuer || issuer_serial.serial_number != *tbs.serial_number() {
            return Err(Failure::SigningCertificateMismatch);
        }
    }
    Ok(())
}

/// Whether `sid` names `certificate`.
fn identifies(sid: &SignerIdentifier, certificate: &Certificate) -> bool {
    let tbs = certificate.tbs_certificate();
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(id) => {
            id.issuer == *tbs.issuer() && id.serial_number == *tbs.serial_number()
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            matches!(tbs.get_extension::<SubjectKeyIdentifier>(), Ok(Some((_, own))) if own == *ski)
        }
    }
}

/// The value of attribute `oid`, refusing a repeated attribute or one with several values
/// (RFC 5652 11: content-type, message-digest and signing-time are single-valued, and a second
/// copy would let a verifier and a viewer read different values).
fn single_attribute(attrs: &[Attribute], oid: ObjectIdentifier) -> Result<Option<&Any>, Failure> {
    let mut found = attrs.iter().filter(|a| a.oid == oid);
    match (found.next(), found.next()) {
        (None, _) => Ok(None),
        (Some(attribute), None) if attribute.values.len() == 1 => Ok(attribute.values.get(0)),
        _ => Err(Failure::Malformed("an attribute is repeated or has several values")),
    }
}

/// The signature algorithms accepted, normalised: ecdsa-with-SHA256 (parameters absent) and
/// RSASSA-PKCS1-v1_5 with SHA-256 — written sha256WithRSAEncryption, or in a CMS SignerInfo
/// also plain rsaEncryption (RFC 5754 3.2; the digest algorithm, checked apart, is SHA-256).
fn check_algorithm(algorithm: &AlgorithmIdentifierOwned) -> Result<AlgorithmIdentifierOwned, Failure> {
    let null_or_absent = algorithm.parameters.as_ref().is_none_or(|p| p.is_null());
    if algorithm.oid == ECDSA_WITH_SHA_256 && algorithm.parameters.is_none() {
        Ok(algorithm.clone())
    } else if (algorithm.oid == SHA_256_WITH_RSA_ENCRYPTION || algorithm.oid == RSA_ENCRYPTION) && null_or_absent {
        Ok(AlgorithmIdentifierOwned { oid: SHA_256_WITH_RSA_ENCRYPTION, parameters: None })
    } else {
        Err(Failure::UnsupportedAlgorithm("the signature algorithm is neither ecdsa-with-SHA256 nor RSA with SHA-256"))
    }
}

fn check_signature(
    key: &SubjectPublicKeyInfoOwned,
    algorithm: &AlgorithmIdentifierOwned,
    message: &[u8],
    signature: &[u8],
) -> Result<(), Failure> {
    let algorithm = check_algorithm(algorithm)?;
    verify_signature(key, &algorithm, message, signature).map_err(|e| match e {
        Error::UnsupportedKey(_) => {
            Failure::UnsupportedAlgorithm("the signer's key does not fit the signature algorithm")
        }
        _ => Failure::BadSignature,
    })
}

/// Whether `issuer`'s subject is `child`'s issuer and its key verifies `child`'s signature,
/// spending one unit of `budget` on the signature (none left: not issued by).
fn issued_by(child: &Certificate, issuer: &Certificate, budget: &mut usize) -> bool {
    if child.tbs_certificate().issuer() != issuer.tbs_certificate().subject() {
        return false;
    }
    let Some(left) = budget.checked_sub(1) else { return false };
    *budget = left;
    let (Ok(tbs), Some(signature)) = (child.tbs_certificate().to_der(), child.signature().as_bytes()) else {
        return false;
    };
    let key = issuer.tbs_certificate().subject_public_key_info();
    check_signature(key, child.signature_algorithm(), &tbs, signature).is_ok()
}

/// An issuer `below` certificates above the leaf: a CA (basicConstraints, critical or not,
/// with room in pathLen for the CAs below it) with keyCertSign if it restricts key usage.
fn check_issuer(cert: &Certificate, intermediates_below: usize) -> Result<(), Failure> {
    let tbs = cert.tbs_certificate();
    match tbs.get_extension::<BasicConstraints>() {
        Ok(Some((_, BasicConstraints { ca: true, path_len_constraint }))) => {
            if path_len_constraint.is_some_and(|max| usize::from(max) < intermediates_below) {
                return Err(Failure::UntrustedChain("a CA's pathLenConstraint is exceeded"));
            }
        }
        _ => return Err(Failure::UntrustedChain("an issuer is not a CA certificate")),
    }
    match tbs.get_extension::<KeyUsage>() {
        Ok(None) => Ok(()),
        Ok(Some((_, usage))) if usage.key_cert_sign() => Ok(()),
        _ => Err(Failure::UntrustedChain("an issuer may not sign certificates")),
    }
}

/// RFC 5280 4.2: a certificate with a critical extension the verifier does not process must be
/// rejected. These are the critical extensions this module checks.
fn check_critical_extensions(cert: &Certificate) -> Result<(), Failure> {
    use der::oid::db::rfc5280::{ID_CE_BASIC_CONSTRAINTS, ID_CE_EXT_KEY_USAGE, ID_CE_KEY_USAGE};
    const KNOWN: [ObjectIdentifier; 3] = [ID_CE_BASIC_CONSTRAINTS, ID_CE_KEY_USAGE, ID_CE_EXT_KEY_USAGE];
    let extensions = cert.tbs_certificate().extensions().map(|e| e.as_slice()).unwrap_or_default();
    if extensions.iter().any(|e| e.critical && !KNOWN.contains(&e.extn_id)) {
        return Err(Failure::UntrustedChain("a certificate has an unrecognised critical extension"));
    }
    Ok(())
}

fn unix(time: &Time) -> i64 {
    i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
