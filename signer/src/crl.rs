//! Certificate revocation lists (RFC 5280 5): X.509 v2 CRLs signed by a CA.
//!
//! The issuing CA publishes one at `/ca/crl` (the citizen, OCSP and TSA certificates point
//! there) and the root one at `/ca/root-crl`. A CRL is a complete list (no deltas, no
//! partitioning) with the two extensions RFC 5280 5.2 requires of a conforming CA:
//! authorityKeyIdentifier (which CA key signed it) and cRLNumber (a number that only grows, so
//! a relying party can tell a newer CRL from a replayed old one). The number is the caller's
//! to keep, in its database.

use core::time::Duration;

use der::Encode;
use der::asn1::{BitString, Uint};
use x509_cert::Certificate;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::crl::CrlNumber;
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, CrlReason, KeyUsage, KeyUsages};
use x509_cert::serial_number::SerialNumber;

use crate::cert::{extension, key_identifier};
use crate::digest::x509_time;
use crate::error::{Error, Result};
use crate::key::{CaKey, check_key_matches, sign_checked};

/// Why a certificate was revoked: RFC 5280 5.3.1 CRLReason, without `removeFromCRL` (delta CRLs
/// only) — shared by CRL entries and OCSP `revoked` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevocationReason {
    /// No reason given: written as *no* reasonCode (RFC 5280 5.3.1 says to omit `unspecified`).
    Unspecified,
    /// The subject's private key was (or may have been) compromised.
    KeyCompromise,
    /// The issuing CA's key was compromised.
    CaCompromise,
    /// The subject's name or other information changed.
    AffiliationChanged,
    /// Replaced by a new certificate (for example a renewed citizen certificate).
    Superseded,
    /// No longer needed: for a citizen, the digital ID was closed (death, request).
    CessationOfOperation,
    /// Temporarily suspended.
    CertificateHold,
    /// A privilege the certificate asserted was withdrawn.
    PrivilegeWithdrawn,
    /// An attribute authority was compromised.
    AaCompromise,
}

impl RevocationReason {
    /// The reasonCode to write, if any.
    pub(crate) fn code(self) -> Option<CrlReason> {
        match self {
            Self::Unspecified => None,
            Self::KeyCompromise => Some(CrlReason::KeyCompromise),
            Self::CaCompromise => Some(CrlReason::CaCompromise),
            Self::AffiliationChanged => Some(CrlReason::AffiliationChanged),
            Self::Superseded => Some(CrlReason::Superseded),
            Self::CessationOfOperation => Some(CrlReason::CessationOfOperation),
            Self::CertificateHold => Some(CrlReason::CertificateHold),
            Self::PrivilegeWithdrawn => Some(CrlReason::PrivilegeWithdrawn),
            Self::AaCompromise => Some(CrlReason::AaCompromise),
        }
    }
}

/// One revoked certificate, as the caller's database records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedCertificate {
    /// The certificate's serial number.
    pub serial: SerialNumber,
    /// When it was revoked (Unix seconds).
    pub revoked_at: i64,
    /// Why.
    pub reason: RevocationReason,
}

/// Issues a complete CRL signed by `issuer` (its certificate and key), listing `revoked`,
/// valid from `now` (Unix seconds) until `now + next_update`.
///
/// `crl_number` must grow with every CRL the issuer publishes (the caller keeps it). Refuses an
/// issuer certificate without the cRLSign key usage or a key not its own, a serial listed twice,
/// and a revocation dated after `now` — each would make relying parties reject or misread
/// the list.
pub fn issue_crl(
    issuer: &Certificate,
    key: &dyn CaKey,
    crl_number: u64,
    revoked: &[RevokedCertificate],
    now: i64,
    next_update: Duration,
) -> Result<CertificateList> {
    check_key_matches(key, issuer)?;
    match issuer.tbs_certificate().get_extension::<KeyUsage>()? {
        Some((_, usage)) if usage.0.contains(KeyUsages::CRLSign) => {}
        _ => return Err(Error::UnsuitableCertificate("a CRL issuer needs the cRLSign key usage")),
    }
    if next_update < Duration::from_secs(60) {
        return Err(Error::InvalidValidity("a CRL must be valid for at least a minute"));
    }
    let next = i64::try_from(next_update.as_secs())
        .ok()
        .and_then(|secs| now.checked_add(secs))
        .ok_or(Error::InvalidValidity("nextUpdate overflows"))?;

    let mut entries = Vec::with_capacity(revoked.len());
    for (i, entry) in revoked.iter().enumerate() {
        if entry.revoked_at > now {
            return Err(Error::InvalidRevocation("a revocation is dated after the CRL"));
        }
        if revoked[..i].iter().any(|e| e.serial == entry.serial) {
            return Err(Error::InvalidRevocation("a serial number is listed twice"));
        }
        let extensions = match entry.reason.code() {
            Some(code) => Some(vec![extension(false, &code)?]),
            None => None,
        };
        entries.push(RevokedCert {
            serial_number: entry.serial.clone(),
            revocation_date: x509_time(entry.revoked_at)?,
            crl_entry_extensions: extensions,
        });
    }

    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(key_identifier(issuer)?),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    };
    let number = CrlNumber(Uint::new(&crl_number.to_be_bytes())?);
    let algorithm = key.signature_algorithm();
    let tbs = TbsCertList {
        // v2: required when the CRL has extensions (RFC 5280 5.1.2.1).
        version: x509_cert::Version::V2,
        signature: algorithm.clone(),
        issuer: issuer.tbs_certificate().subject().clone(),
        this_update: x509_time(now)?,
        next_update: Some(x509_time(next)?),
        // RFC 5280 5.1.2.6: absent, not empty, when nothing is revoked.
        revoked_certificates: if entries.is_empty() { None } else { Some(entries) },
        crl_extensions: Some(vec![extension(false, &aki)?, extension(false, &number)?]),
    };
    let signature = sign_checked(key, &tbs.to_der()?)?;
    Ok(CertificateList {
        tbs_cert_list: tbs,
        signature_algorithm: algorithm,
        signature: BitString::from_bytes(&signature)?,
    })
}

#[cfg(test)]
mod tests {
    use der::Decode;
    use x509_cert::ext::pkix::SubjectKeyIdentifier;

    use super::*;
    use crate::key::verify_signature;
    use crate::tests::{NOW, citizen_cert, hierarchy, karma, key_of};

    const DAY: Duration = Duration::from_secs(86_400);

    fn entry(cert: &Certificate, reason: RevocationReason) -> RevokedCertificate {
        RevokedCertificate { serial: cert.tbs_certificate().serial_number().clone(), revoked_at: NOW - 5, reason }
    }

    fn crl_extension<'a, T: Decode<'a> + der::oid::AssociatedOid>(crl: &'a CertificateList) -> T {
        let ext = crl.tbs_cert_list.crl_extensions.as_ref().unwrap().iter().find(|e| e.extn_id == T::OID).unwrap();
        assert!(!ext.critical);
        T::from_der(ext.extn_value.as_bytes()).unwrap()
    }

    #[test]
    fn a_v2_crl_with_number_aki_entries_and_reasons_signed_by_the_issuing_ca() {
        let h = hierarchy();
        let (a, b) = (citizen_cert(&h, &karma()), citizen_cert(&h, &karma()));
        let revoked = [entry(&a, RevocationReason::KeyCompromise), entry(&b, RevocationReason::Unspecified)];
        let crl = h.issuing_ca().issue_crl(3, &revoked, NOW, DAY).unwrap();
        let tbs = &crl.tbs_cert_list;
        assert_eq!(tbs.version, x509_cert::Version::V2);
        assert_eq!(&tbs.issuer, h.issuing().certificate().tbs_certificate().subject());
        assert_eq!(tbs.this_update.to_unix_duration().as_secs(), NOW as u64);
        assert_eq!(tbs.next_update.unwrap().to_unix_duration().as_secs(), NOW as u64 + 86_400);
        assert_eq!(tbs.signature, crl.signature_algorithm);

        assert_eq!(crl_extension::<CrlNumber>(&crl).0.as_bytes(), [3]);
        let aki = crl_extension::<AuthorityKeyIdentifier>(&crl);
        let (_, ski) =
            h.issuing().certificate().tbs_certificate().get_extension::<SubjectKeyIdentifier>().unwrap().unwrap();
        assert_eq!(aki.key_identifier, Some(ski.0));

        let entries = tbs.revoked_certificates.as_ref().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(&entries[0].serial_number, a.tbs_certificate().serial_number());
        assert_eq!(entries[0].revocation_date.to_unix_duration().as_secs(), NOW as u64 - 5);
        let reason = &entries[0].crl_entry_extensions.as_ref().unwrap()[0];
        assert_eq!(CrlReason::from_der(reason.extn_value.as_bytes()).unwrap(), CrlReason::KeyCompromise);
        assert!(entries[1].crl_entry_extensions.is_none(), "unspecified is written as no reasonCode");

        let spki = h.issuing().certificate().tbs_certificate().subject_public_key_info();
        verify_signature(spki, &crl.signature_algorithm, &tbs.to_der().unwrap(), crl.signature.raw_bytes()).unwrap();
    }

    #[test]
    fn an_empty_crl_has_no_revoked_certificates_field() {
        let h = hierarchy();
        let crl = h.issuing_ca().issue_crl(1, &[], NOW, DAY).unwrap();
        assert!(crl.tbs_cert_list.revoked_certificates.is_none());
        // The root can sign its own CRL (the ARL at /ca/root-crl) through the same function.
        let root = issue_crl(h.root().certificate(), &key_of(h.root()), 1, &[], NOW, DAY).unwrap();
        assert_eq!(&root.tbs_cert_list.issuer, h.root().certificate().tbs_certificate().subject());
    }

    #[test]
    fn unusable_input_is_refused() {
        let h = hierarchy();
        let a = citizen_cert(&h, &karma());
        let twice = [entry(&a, RevocationReason::Superseded), entry(&a, RevocationReason::KeyCompromise)];
        let ca = h.issuing_ca();
        assert!(matches!(ca.issue_crl(1, &twice, NOW, DAY), Err(Error::InvalidRevocation(_))));
        let mut future = entry(&a, RevocationReason::Superseded);
        future.revoked_at = NOW + 1;
        assert!(matches!(ca.issue_crl(1, &[future], NOW, DAY), Err(Error::InvalidRevocation(_))));
        assert!(matches!(ca.issue_crl(1, &[], NOW, Duration::from_secs(59)), Err(Error::InvalidValidity(_))));
        // Not a CRL issuer (no cRLSign), and a key that is not the certificate's.
        let ocsp = issue_crl(h.ocsp().certificate(), &key_of(h.ocsp()), 1, &[], NOW, DAY);
        assert!(matches!(ocsp, Err(Error::UnsuitableCertificate(_))));
        let mismatched = issue_crl(h.issuing().certificate(), &key_of(h.root()), 1, &[], NOW, DAY);
        assert!(matches!(mismatched, Err(Error::UnsupportedKey(_))));
    }
}
