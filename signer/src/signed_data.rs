//! CMS SignedData (RFC 5652) as both document signatures ([`crate::cms`]) and timestamp tokens
//! ([`crate::tsa`]) use it: one signer, identified by issuer and serial number, SHA-256, signed
//! attributes that always include content-type, message-digest and the ESS signingCertificateV2
//! (RFC 5035) that binds the signature to the signer's certificate.
//!
//! The `cms` crate supplies the ASN.1 types; this module assembles them itself rather than with
//! the crate's builder so that the signature goes through [`CaKey`] and [`sign_checked`] (our
//! error type, self-verified), and so that the signing time is a parameter, not a clock read.

use der::asn1::{Any, OctetString, SetOfVec};
use der::oid::ObjectIdentifier;
use der::oid::db::rfc5911::{
    ID_AA_SIGNING_CERTIFICATE_V_2, ID_CONTENT_TYPE, ID_DATA, ID_MESSAGE_DIGEST, ID_SIGNING_TIME,
};
use der::{Decode, Encode, Sequence};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber;

use ::cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use ::cms::content_info::{CmsVersion, ContentInfo};
use ::cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedAttributes, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};

use crate::digest::{Sha256Digest, sha256_algorithm, x509_time};
use crate::error::{Error, Result};
use crate::key::{CaKey, check_key_matches, sign_checked};

/// `id-signedData`, the content type of every ContentInfo this crate writes.
pub(crate) use der::oid::db::rfc5911::ID_SIGNED_DATA;

/// ESS `SigningCertificateV2` (RFC 5035 3).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(crate) struct SigningCertificateV2 {
    pub(crate) certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    pub(crate) policies: Option<Vec<PolicyInformation>>,
}

/// ESS `ESSCertIDv2` (RFC 5035 4).
///
/// `hashAlgorithm` is `DEFAULT id-sha256`: DER forbids writing a default value, so it is absent
/// (`None`) whenever the hash is SHA-256, which is the only hash this crate writes.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(crate) struct EssCertIdV2 {
    #[asn1(optional = "true")]
    pub(crate) hash_algorithm: Option<AlgorithmIdentifierOwned>,
    pub(crate) cert_hash: OctetString,
    #[asn1(optional = "true")]
    pub(crate) issuer_serial: Option<IssuerSerial>,
}

/// `IssuerSerial` (RFC 5035 4): the issuer as GeneralNames and the serial number.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(crate) struct IssuerSerial {
    pub(crate) issuer: Vec<GeneralName>,
    pub(crate) serial_number: SerialNumber,
}

/// The signingCertificateV2 attribute for `certificate`: its SHA-256 and issuer/serial.
///
/// CAdES (ETSI EN 319 122-1 5.2.2.3) requires it so a verifier cannot be handed another
/// certificate with the same key; RFC 5816 lets a TSA use it in place of the SHA-1 ESSCertID.
/// issuerSerial is included because ETSI recommends it and OpenSSL checks it when present.
pub(crate) fn signing_certificate_v2(certificate: &Certificate) -> Result<Attribute> {
    let tbs = certificate.tbs_certificate();
    let id = EssCertIdV2 {
        hash_algorithm: None,
        cert_hash: OctetString::new(Sha256Digest::of(&certificate.to_der()?).as_bytes().as_slice())?,
        issuer_serial: Some(IssuerSerial {
            issuer: vec![GeneralName::DirectoryName(tbs.issuer().clone())],
            serial_number: tbs.serial_number().clone(),
        }),
    };
    attribute(ID_AA_SIGNING_CERTIFICATE_V_2, &SigningCertificateV2 { certs: vec![id], policies: None })
}

/// A single-valued attribute.
pub(crate) fn attribute(oid: ObjectIdentifier, value: &impl Encode) -> Result<Attribute> {
    let mut values = SetOfVec::new();
    values.insert(Any::from_der(&value.to_der()?)?)?;
    Ok(Attribute { oid, values })
}

/// What to sign and with which key.
pub(crate) struct Content<'a> {
    /// `eContentType`, repeated in the content-type signed attribute.
    pub(crate) content_type: ObjectIdentifier,
    /// The encapsulated content's DER, or `None` for a detached signature.
    pub(crate) econtent: Option<&'a [u8]>,
    /// SHA-256 of the content (of `econtent` when encapsulated): the message-digest attribute.
    pub(crate) digest: &'a Sha256Digest,
    /// The signing-time attribute, in Unix seconds, if one is wanted.
    pub(crate) signing_time: Option<i64>,
}

/// Who signs: the certificate, its key, and the certificates to include in the SignedData.
pub(crate) struct Signer<'a> {
    pub(crate) certificate: &'a Certificate,
    pub(crate) key: &'a dyn CaKey,
    pub(crate) certificates: Vec<&'a Certificate>,
}

/// Builds and signs a SignedData with one SignerInfo.
pub(crate) fn sign(content: &Content<'_>, signer: &Signer<'_>) -> Result<SignedData> {
    check_key_matches(signer.key, signer.certificate)?;
    if let Some(econtent) = content.econtent
        && Sha256Digest::of(econtent) != *content.digest
    {
        return Err(Error::Signing("the digest does not match the encapsulated content".into()));
    }

    let mut attributes = vec![
        attribute(ID_CONTENT_TYPE, &content.content_type)?,
        attribute(ID_MESSAGE_DIGEST, &OctetString::new(content.digest.as_bytes().as_slice())?)?,
        signing_certificate_v2(signer.certificate)?,
    ];
    if let Some(time) = content.signing_time {
        attributes.push(attribute(ID_SIGNING_TIME, &x509_time(time)?)?);
    }
    // A SET OF in DER order: the bytes signed are exactly the bytes written (RFC 5652 5.4 signs
    // the attributes with the SET OF tag, stored under [0] IMPLICIT).
    let signed_attrs: SignedAttributes = SetOfVec::try_from(attributes)?;
    let signature = sign_checked(signer.key, &signed_attrs.to_der()?)?;

    let tbs = signer.certificate.tbs_certificate();
    let signer_info = SignerInfo {
        // RFC 5652 5.3: version 1 with issuerAndSerialNumber.
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer().clone(),
            serial_number: tbs.serial_number().clone(),
        }),
        digest_alg: sha256_algorithm(),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: signer.key.signature_algorithm(),
        signature: OctetString::new(signature)?,
        unsigned_attrs: None,
    };

    let certificates = if signer.certificates.is_empty() {
        None
    } else {
        let choices = signer.certificates.iter().map(|c| CertificateChoices::Certificate((*c).clone()));
        Some(CertificateSet::try_from(choices.collect::<Vec<_>>())?)
    };
    let econtent = match content.econtent {
        Some(bytes) => Some(Any::encode_from(&OctetString::new(bytes)?)?),
        None => None,
    };
    Ok(SignedData {
        // RFC 5652 5.1: 3 when eContentType is not id-data, else 1 (no v3 SignerInfos, no
        // attribute certificates, no "other" certificates or CRLs here).
        version: if content.content_type == ID_DATA { CmsVersion::V1 } else { CmsVersion::V3 },
        digest_algorithms: SetOfVec::try_from(vec![sha256_algorithm()])?,
        encap_content_info: EncapsulatedContentInfo { econtent_type: content.content_type, econtent },
        certificates,
        crls: None,
        signer_infos: SignerInfos::try_from(vec![signer_info])?,
    })
}

/// Wraps a SignedData in a ContentInfo, the outer structure of a `.p7s` and of a timestamp token.
pub(crate) fn content_info(signed_data: &SignedData) -> Result<ContentInfo> {
    Ok(ContentInfo { content_type: ID_SIGNED_DATA, content: Any::encode_from(signed_data)? })
}

/// Parses a ContentInfo that must hold a SignedData.
pub(crate) fn parse_content_info(der: &[u8]) -> Result<SignedData> {
    let info = ContentInfo::from_der(der)?;
    if info.content_type != ID_SIGNED_DATA {
        return Err(Error::InvalidSignature("the ContentInfo does not hold a SignedData"));
    }
    Ok(info.content.decode_as::<SignedData>()?)
}

#[cfg(test)]
/// The value of the single-valued attribute `oid` in `attributes`, if present.
pub(crate) fn find_attribute(attributes: &[Attribute], oid: ObjectIdentifier) -> Option<&Any> {
    attributes.iter().find(|a| a.oid == oid).and_then(|a| a.values.get(0))
}
