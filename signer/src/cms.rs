//! Detached CMS signatures of documents: CAdES-B-B, and CAdES-B-T once a timestamp is added.
//!
//! The service never sees documents, only their SHA-256 digests, so every signature is
//! *detached* (RFC 5652 5.2: no eContent) and the digest goes straight into the message-digest
//! attribute. The signed attributes are those ETSI EN 319 122-1 asks of a CAdES-B-B signature:
//!
//! | attribute                 | why                                                            |
//! |---------------------------|----------------------------------------------------------------|
//! | content-type (id-data)    | RFC 5652 11.1: required whenever there are signed attributes   |
//! | message-digest            | the document's SHA-256: what the citizen approved              |
//! | signing-time              | the claimed time of signing (`now`), shown to verifiers        |
//! | signingCertificateV2      | binds the signature to the exact certificate (RFC 5035)        |
//!
//! [`CadesSignature::add_signature_timestamp`] turns it into CAdES-B-T: an RFC 3161 token over
//! the signature value, as the unsigned signature-time-stamp attribute, proves the signature
//! existed at the TSA's time (and so before any later revocation of the certificate).
//!
//! ```text
//! digest ──► CmsSigner::sign_digest(now) ──► CadesSignature (B-B) ──► .to_der() = .p7s
//!                                              │ .timestamp_imprint()
//!                                              ▼
//!                         TimestampAuthority::timestamp(imprint, now) ──► token
//!                                              │
//!                         .add_signature_timestamp(token) ──► CadesSignature (B-T)
//! ```

use der::asn1::{Any, SetOfVec};
use der::oid::ObjectIdentifier;
use der::oid::db::rfc5911::ID_DATA;
use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;

use ::cms::signed_data::{SignedData, SignerInfo};

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::key::{CaKey, check_key_matches};
use crate::signed_data::{self, Content, Signer, content_info, parse_content_info};
use crate::tsa;

/// `id-aa-signatureTimeStampToken` (RFC 3161 appendix A; CAdES signature-time-stamp):
/// 1.2.840.113549.1.9.16.2.14.
pub const ID_AA_SIGNATURE_TIME_STAMP_TOKEN: ObjectIdentifier = der::oid::db::rfc3161::ID_AA_TIME_STAMP_TOKEN;

/// Signs document digests with one certificate and its key.
pub struct CmsSigner<'a> {
    certificate: &'a Certificate,
    key: &'a dyn CaKey,
    chain: &'a [Certificate],
    signing_time: bool,
}

impl<'a> CmsSigner<'a> {
    /// A signer for `certificate` with its `key`; refuses a key that is not the certificate's, so
    /// a mix-up in storage fails here and not at every verifier.
    pub fn new(certificate: &'a Certificate, key: &'a dyn CaKey) -> Result<Self> {
        check_key_matches(key, certificate)?;
        Ok(Self { certificate, key, chain: &[], signing_time: true })
    }

    /// Certificates to include besides the signer's own — normally the issuing CA, so that a
    /// verifier who has only the root can build the path. Default: none (signer's only).
    pub fn with_chain(mut self, chain: &'a [Certificate]) -> Self {
        self.chain = chain;
        self
    }

    /// Signs for a PDF (PAdES baseline, ETSI EN 319 142-1 5.2.1): the signing-time attribute is
    /// left out, because PAdES puts the claimed signing time in the signature dictionary's `/M`
    /// ([`crate::pades::prepare`]) and forbids a second, possibly different, time in the CMS.
    /// content-type, message-digest and signingCertificateV2 stay; a signature timestamp is
    /// added the same way ([`CadesSignature::add_signature_timestamp`], PAdES B-T).
    pub fn for_pades(mut self) -> Self {
        self.signing_time = false;
        self
    }

    /// Makes a detached CAdES-B-B signature of the document whose SHA-256 is `document`, with
    /// signing-time `now` (Unix seconds) — or, [`Self::for_pades`], without signing-time, `now`
    /// then only being the time the certificate must be valid at.
    ///
    /// Refuses to sign when the certificate is not valid at `now`: a signature that every
    /// verifier will reject must not be produced (the caller checks revocation before this).
    pub fn sign_digest(&self, document: &Sha256Digest, now: i64) -> Result<CadesSignature> {
        let validity = self.certificate.tbs_certificate().validity();
        let at = u64::try_from(now).map_err(|_| Error::InvalidValidity("a time is before 1970"))?;
        if at < validity.not_before.to_unix_duration().as_secs() || at > validity.not_after.to_unix_duration().as_secs()
        {
            return Err(Error::UnsuitableCertificate("the signing certificate is not valid at the signing time"));
        }
        let content = Content {
            content_type: ID_DATA,
            econtent: None,
            digest: document,
            signing_time: self.signing_time.then_some(now),
        };
        let mut certificates = vec![self.certificate];
        certificates.extend(self.chain.iter());
        let signer = Signer { certificate: self.certificate, key: self.key, certificates };
        Ok(CadesSignature { signed_data: signed_data::sign(&content, &signer)? })
    }
}

/// A detached CMS SignedData with one signer: CAdES-B-B, or B-T once timestamped.
#[derive(Clone, Debug)]
pub struct CadesSignature {
    signed_data: SignedData,
}

impl CadesSignature {
    /// Reads back a signature this crate made (for example stored between signing and
    /// timestamping): a ContentInfo holding a detached SignedData with exactly one signer.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let signed_data = parse_content_info(der)?;
        if signed_data.encap_content_info.econtent.is_some() {
            return Err(Error::InvalidSignature("not a detached signature"));
        }
        if signed_data.signer_infos.0.len() != 1 {
            return Err(Error::InvalidSignature("not exactly one signer"));
        }
        Ok(Self { signed_data })
    }

    /// The DER ContentInfo: the `.p7s` / `application/pkcs7-signature` bytes.
    pub fn to_der(&self) -> Result<Vec<u8>> {
        Ok(content_info(&self.signed_data)?.to_der()?)
    }

    fn signer_info(&self) -> Result<&SignerInfo> {
        self.signed_data.signer_infos.0.get(0).ok_or(Error::InvalidSignature("no signer"))
    }

    /// The signature value (for ECDSA the DER `Ecdsa-Sig-Value`).
    pub fn signature_value(&self) -> Result<&[u8]> {
        Ok(self.signer_info()?.signature.as_bytes())
    }

    /// SHA-256 of the signature value: the message imprint a CAdES-B-T signature-time-stamp
    /// covers (ETSI EN 319 122-1 5.3: the token is over the SignerInfo's signature field).
    pub fn timestamp_imprint(&self) -> Result<Sha256Digest> {
        Ok(Sha256Digest::of(self.signature_value()?))
    }

    /// Whether the signature already carries a signature-time-stamp (CAdES-B-T).
    pub fn has_timestamp(&self) -> bool {
        self.signer_info()
            .ok()
            .and_then(|s| s.unsigned_attrs.as_ref())
            .is_some_and(|attrs| attrs.iter().any(|a| a.oid == ID_AA_SIGNATURE_TIME_STAMP_TOKEN))
    }

    /// Adds `token` (a DER RFC 3161 TimeStampToken) as the signature-time-stamp unsigned
    /// attribute, making the signature CAdES-B-T.
    ///
    /// The token must be a SignedData over a TSTInfo whose SHA-256 message imprint is
    /// [`Self::timestamp_imprint`]; anything else (a token for another signature, another hash,
    /// a second timestamp) is refused, so a B-T signature always timestamps itself. The token's
    /// own signature is the TSA's business and is checked by verifiers (`openssl ts -verify`).
    pub fn add_signature_timestamp(&mut self, token: &[u8]) -> Result<()> {
        if self.has_timestamp() {
            return Err(Error::InvalidTimestamp("the signature already has a signature-time-stamp"));
        }
        let imprint = tsa::token_imprint(token)?;
        if imprint != self.timestamp_imprint()? {
            return Err(Error::InvalidTimestamp("the token does not cover this signature value"));
        }
        // The token goes in byte for byte (re-encoding could change a foreign TSA's bytes).
        let value = Any::from_der(token)?;
        let mut values = SetOfVec::new();
        values.insert(value)?;
        let attribute = Attribute { oid: ID_AA_SIGNATURE_TIME_STAMP_TOKEN, values };

        let mut infos: Vec<SignerInfo> = self.signed_data.signer_infos.0.iter().cloned().collect();
        let info = infos.first_mut().ok_or(Error::InvalidSignature("no signer"))?;
        let mut unsigned = info.unsigned_attrs.take().map(|a| a.into_vec()).unwrap_or_default();
        unsigned.push(attribute);
        info.unsigned_attrs = Some(SetOfVec::try_from(unsigned)?);
        self.signed_data.signer_infos = ::cms::signed_data::SignerInfos::try_from(infos)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use der::Encode;
    use der::asn1::OctetString;
    use der::oid::db::rfc5911::{ID_AA_SIGNING_CERTIFICATE_V_2, ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNING_TIME};
    use x509_cert::time::Time;

    use super::*;
    use crate::cms::CmsSigner;
    use crate::key::verify_signature;
    use crate::signed_data::{SigningCertificateV2, find_attribute};
    use crate::tests::{NOW, citizen_with_key, hierarchy, key_of};
    use crate::tsa::TimestampAuthority;

    fn document() -> Sha256Digest {
        Sha256Digest::of(b"construction approval, Phuentsholing")
    }

    #[test]
    fn cades_b_b_has_exactly_the_four_signed_attributes_and_a_valid_signature() {
        let h = hierarchy();
        let (cert, key) = citizen_with_key(&h);
        let chain = [h.issuing().certificate().clone()];
        let signature = CmsSigner::new(&cert, &key).unwrap().with_chain(&chain).sign_digest(&document(), NOW).unwrap();
        let sd = parse_content_info(&signature.to_der().unwrap()).unwrap();

        assert_eq!(sd.version, ::cms::content_info::CmsVersion::V1);
        assert_eq!(sd.encap_content_info.econtent_type, ID_DATA);
        assert!(sd.encap_content_info.econtent.is_none(), "detached");
        assert_eq!(sd.certificates.as_ref().unwrap().0.len(), 2, "signer and issuing CA");
        let si = sd.signer_infos.0.get(0).unwrap();
        assert_eq!(si.digest_alg.oid, der::oid::db::rfc5912::ID_SHA_256);
        assert!(si.digest_alg.parameters.is_none());
        assert_eq!(si.signature_algorithm.oid, der::oid::db::rfc5912::ECDSA_WITH_SHA_256);
        assert!(si.unsigned_attrs.is_none());

        let attrs = si.signed_attrs.as_ref().unwrap();
        let oids: Vec<_> = attrs.iter().map(|a| a.oid).collect();
        assert_eq!(oids.len(), 4);
        for oid in [ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNING_TIME, ID_AA_SIGNING_CERTIFICATE_V_2] {
            assert!(oids.contains(&oid), "{oid}");
        }
        let attrs = attrs.as_slice();
        let content_type = find_attribute(attrs, ID_CONTENT_TYPE).unwrap().decode_as::<ObjectIdentifier>().unwrap();
        assert_eq!(content_type, ID_DATA);
        let digest = find_attribute(attrs, ID_MESSAGE_DIGEST).unwrap().decode_as::<OctetString>().unwrap();
        assert_eq!(digest.as_bytes(), document().as_bytes());
        let time = find_attribute(attrs, ID_SIGNING_TIME).unwrap().decode_as::<Time>().unwrap();
        assert!(matches!(time, Time::UtcTime(_)), "UTCTime before 2050");
        assert_eq!(time.to_unix_duration().as_secs(), NOW as u64);

        // ESSCertIDv2: SHA-256 of the certificate, hashAlgorithm left out (DEFAULT), issuerSerial.
        let scv2 =
            find_attribute(attrs, ID_AA_SIGNING_CERTIFICATE_V_2).unwrap().decode_as::<SigningCertificateV2>().unwrap();
        assert_eq!(scv2.certs.len(), 1);
        let id = &scv2.certs[0];
        assert!(id.hash_algorithm.is_none());
        assert_eq!(id.cert_hash.as_bytes(), Sha256Digest::of(&cert.to_der().unwrap()).as_bytes());
        let issuer_serial = id.issuer_serial.as_ref().unwrap();
        assert_eq!(&issuer_serial.serial_number, cert.tbs_certificate().serial_number());

        // The signature is over the DER SET OF the signed attributes.
        let signed = si.signed_attrs.as_ref().unwrap().to_der().unwrap();
        assert_eq!(signed[0], 0x31);
        let spki = cert.tbs_certificate().subject_public_key_info();
        verify_signature(spki, &si.signature_algorithm, &signed, si.signature.as_bytes()).unwrap();
        assert_eq!(signature.signature_value().unwrap(), si.signature.as_bytes());
    }

    #[test]
    fn only_the_signer_certificate_unless_a_chain_is_given() {
        let h = hierarchy();
        let (cert, key) = citizen_with_key(&h);
        let signature = CmsSigner::new(&cert, &key).unwrap().sign_digest(&document(), NOW).unwrap();
        let sd = parse_content_info(&signature.to_der().unwrap()).unwrap();
        let certs = sd.certificates.unwrap();
        assert_eq!(certs.0.len(), 1);
        assert!(matches!(certs.0.get(0), Some(::cms::cert::CertificateChoices::Certificate(c)) if *c == cert));
    }

    #[test]
    fn refuses_a_foreign_key_and_a_certificate_not_valid_at_the_signing_time() {
        let h = hierarchy();
        let (cert, key) = citizen_with_key(&h);
        let (_, other_key) = citizen_with_key(&h);
        assert!(matches!(CmsSigner::new(&cert, &other_key), Err(Error::UnsupportedKey(_))));
        let signer = CmsSigner::new(&cert, &key).unwrap();
        assert!(matches!(signer.sign_digest(&document(), NOW - 1), Err(Error::UnsuitableCertificate(_))));
        let after = NOW + 731 * 86_400;
        assert!(matches!(signer.sign_digest(&document(), after), Err(Error::UnsuitableCertificate(_))));
    }

    #[test]
    fn a_timestamp_over_the_signature_value_makes_it_b_t_once() {
        let h = hierarchy();
        let (cert, key) = citizen_with_key(&h);
        let tsa = TimestampAuthority::new(
            h.tsa().certificate().clone(),
            Box::new(key_of(h.tsa())),
            "1.3.6.1.4.1.32473.2".parse().unwrap(),
        )
        .unwrap();
        let mut signature = CmsSigner::new(&cert, &key).unwrap().sign_digest(&document(), NOW).unwrap();
        let before = signature.to_der().unwrap();

        // A token over something else is refused and changes nothing.
        let wrong = tsa.timestamp(&document(), NOW).unwrap();
        assert!(matches!(signature.add_signature_timestamp(&wrong), Err(Error::InvalidTimestamp(_))));
        assert!(matches!(signature.add_signature_timestamp(b"\x30\x00"), Err(Error::InvalidTimestamp(_))));
        assert_eq!(signature.to_der().unwrap(), before);
        assert!(!signature.has_timestamp());

        let token = tsa.timestamp(&signature.timestamp_imprint().unwrap(), NOW).unwrap();
        signature.add_signature_timestamp(&token).unwrap();
        assert!(signature.has_timestamp());
        assert!(matches!(signature.add_signature_timestamp(&token), Err(Error::InvalidTimestamp(_))));

        // Survives a round trip; the signed part is untouched; the token is in byte for byte.
        let der = signature.to_der().unwrap();
        let again = CadesSignature::from_der(&der).unwrap();
        assert!(again.has_timestamp());
        let sd = parse_content_info(&der).unwrap();
        let si = sd.signer_infos.0.get(0).unwrap();
        let before_sd = parse_content_info(&before).unwrap();
        assert_eq!(si.signed_attrs, before_sd.signer_infos.0.get(0).unwrap().signed_attrs);
        let unsigned = si.unsigned_attrs.as_ref().unwrap();
        let value = find_attribute(unsigned.as_slice(), ID_AA_SIGNATURE_TIME_STAMP_TOKEN).unwrap();
        assert_eq!(value.to_der().unwrap(), token);
    }

    #[test]
    fn from_der_accepts_only_detached_single_signer_signed_data() {
        assert!(CadesSignature::from_der(b"junk").is_err());
        let h = hierarchy();
        let tsa =
            TimestampAuthority::new(h.tsa().certificate().clone(), Box::new(key_of(h.tsa())), "1.2.3".parse().unwrap())
                .unwrap();
        // A timestamp token is a SignedData, but with encapsulated content.
        let token = tsa.timestamp(&document(), NOW).unwrap();
        assert!(matches!(CadesSignature::from_der(&token), Err(Error::InvalidSignature(_))));
        assert_eq!(ID_AA_SIGNATURE_TIME_STAMP_TOKEN.to_string(), "1.2.840.113549.1.9.16.2.14");
    }
}
