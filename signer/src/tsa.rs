//! The timestamping authority: RFC 3161 requests in, RFC 3161 responses out.
//!
//! [`TimestampAuthority::respond`] is the whole `/tsa` endpoint minus HTTP: it takes the DER
//! body of an `application/timestamp-query` and returns the DER body of the
//! `application/timestamp-reply`. A request it will not serve gets a *rejection* response
//! (PKIStatus rejection with the failInfo RFC 3161 2.4.2 names: `badAlg` for anything but
//! SHA-256, `unacceptedPolicy`, `unacceptedExtension`, `badRequest`, `badDataFormat`), never an
//! `Err`: the client deserves an answer it can parse. An `Err` means the TSA itself failed.
//!
//! [`TimestampAuthority::timestamp`] makes a token directly, for the signer's own CAdES-B-T
//! signatures (no request round trip inside the service).
//!
//! The token is a CMS SignedData (eContentType id-ct-TSTInfo) signed with the TSA key, with the
//! ESS signingCertificateV2 attribute (RFC 5816) naming the TSA certificate by SHA-256.

use der::asn1::{BitString, GeneralizedTime, Int, OctetString};
use der::oid::ObjectIdentifier;
use der::oid::db::rfc3161::ID_CT_TST_INFO;
use der::oid::db::rfc5280::ID_KP_TIME_STAMPING;
use der::oid::db::rfc5912::ID_SHA_256;
use der::{Decode, Encode, Sequence};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::ext::Extensions;
use x509_cert::ext::pkix::ExtendedKeyUsage;
use x509_cert::ext::pkix::name::GeneralName;

use ::cms::content_info::ContentInfo;

use crate::digest::{Sha256Digest, generalized_time, params_absent_or_null, sha256_algorithm};
use crate::error::{Error, Result};
use crate::key::{CaKey, check_key_matches};
use crate::signed_data::{self, Content, Signer, content_info, parse_content_info};

/// `MessageImprint` (RFC 3161 2.4.1).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(crate) struct MessageImprint {
    pub(crate) hash_algorithm: AlgorithmIdentifierOwned,
    pub(crate) hashed_message: OctetString,
}

/// `TimeStampReq` (RFC 3161 2.4.1). `version` is read as a number so that a wrong version is
/// answered with `badRequest` rather than taken for garbage.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TimeStampReq {
    version: u32,
    message_imprint: MessageImprint,
    #[asn1(optional = "true")]
    req_policy: Option<ObjectIdentifier>,
    #[asn1(optional = "true")]
    nonce: Option<Int>,
    #[asn1(default = "Default::default")]
    cert_req: bool,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    extensions: Option<Extensions>,
}

/// `TSTInfo` (RFC 3161 2.4.2). The verifier ([`crate::verify`]) reads the imprint and genTime.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(crate) struct TstInfo {
    version: u32,
    policy: ObjectIdentifier,
    pub(crate) message_imprint: MessageImprint,
    serial_number: Int,
    pub(crate) gen_time: GeneralizedTime,
    #[asn1(optional = "true")]
    accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    ordering: bool,
    #[asn1(optional = "true")]
    nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    tsa: Option<GeneralName>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    extensions: Option<Extensions>,
}

/// `Accuracy` (RFC 3161 2.4.2).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(crate) struct Accuracy {
    #[asn1(optional = "true")]
    seconds: Option<u32>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    millis: Option<u16>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    micros: Option<u16>,
}

/// `PKIStatusInfo` (RFC 3161 2.4.2, from RFC 4210).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct PkiStatusInfo {
    status: u8,
    #[asn1(optional = "true")]
    status_string: Option<Vec<String>>,
    #[asn1(optional = "true")]
    fail_info: Option<BitString>,
}

/// `TimeStampResp` (RFC 3161 2.4.2).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TimeStampResp {
    status: PkiStatusInfo,
    #[asn1(optional = "true")]
    time_stamp_token: Option<ContentInfo>,
}

const STATUS_GRANTED: u8 = 0;
const STATUS_REJECTION: u8 = 2;

/// Why a request is rejected: the `PKIFailureInfo` bit (RFC 3161 2.4.2) and a short text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FailInfo {
    /// Unrecognized or unsupported algorithm (anything but SHA-256).
    BadAlg = 0,
    /// Transaction not permitted or supported (for example a version other than 1).
    BadRequest = 2,
    /// The data submitted has the wrong format.
    BadDataFormat = 5,
    /// The requested TSA policy is not supported.
    UnacceptedPolicy = 15,
    /// The requested extension is not supported.
    UnacceptedExtension = 16,
    /// The request cannot be handled due to system failure (only in the fixed
    /// [`system_failure_response`]; the variant checks those bytes in the tests).
    #[cfg(test)]
    SystemFailure = 25,
}

impl FailInfo {
    /// PKIFailureInfo is a named BIT STRING: DER writes it up to its last set bit (X.690 11.2.2).
    fn bits(self) -> Result<BitString> {
        let bit = self as usize;
        let mut bytes = vec![0u8; bit / 8 + 1];
        let shift = 7 - (bit % 8) as u8;
        if let Some(last) = bytes.last_mut() {
            *last = 1 << shift;
        }
        Ok(BitString::new(shift, bytes)?)
    }
}

struct Rejection {
    failure: FailInfo,
    text: &'static str,
}

impl Rejection {
    fn to_der(&self) -> Result<Vec<u8>> {
        let status = PkiStatusInfo {
            status: STATUS_REJECTION,
            status_string: Some(vec![self.text.to_owned()]),
            fail_info: Some(self.failure.bits()?),
        };
        Ok(TimeStampResp { status, time_stamp_token: None }.to_der()?)
    }
}

fn reject(failure: FailInfo, text: &'static str) -> Rejection {
    Rejection { failure, text }
}

/// The response for "the TSA itself failed" (rejection, failInfo systemFailure), for the caller
/// to send when [`TimestampAuthority::respond`] returns an `Err`. Fixed bytes, so it cannot fail.
pub fn system_failure_response() -> Vec<u8> {
    // SEQUENCE { SEQUENCE { INTEGER 2, BIT STRING systemFailure(25) } }
    vec![0x30, 0x0c, 0x30, 0x0a, 0x02, 0x01, 0x02, 0x03, 0x05, 0x06, 0x00, 0x00, 0x00, 0x40]
}

/// A request that passed every check: what goes into the TSTInfo.
struct AcceptedRequest {
    message_imprint: MessageImprint,
    nonce: Option<Int>,
    cert_req: bool,
}

/// The TSA: its certificate, key and policy.
pub struct TimestampAuthority {
    certificate: Certificate,
    key: Box<dyn CaKey>,
    policy: ObjectIdentifier,
    accuracy_seconds: Option<u32>,
    chain: Vec<Certificate>,
}

impl TimestampAuthority {
    /// A TSA signing with `key` under `certificate`, stamping tokens with `policy` (the TSA
    /// policy OID, RFC 3161 2.4.2; like the certificate policy it must come from a registered
    /// arc, so there is no default).
    ///
    /// Refuses a key that is not the certificate's, and a certificate whose extended key usage
    /// is not exactly id-kp-timeStamping, critical (RFC 3161 2.3): verifiers would reject every
    /// token it signed.
    pub fn new(certificate: Certificate, key: Box<dyn CaKey>, policy: ObjectIdentifier) -> Result<Self> {
        check_key_matches(key.as_ref(), &certificate)?;
        match certificate.tbs_certificate().get_extension::<ExtendedKeyUsage>()? {
            Some((true, eku)) if eku.0 == [ID_KP_TIME_STAMPING] => {}
            _ => return Err(Error::UnsuitableCertificate("a TSA needs a critical EKU of id-kp-timeStamping alone")),
        }
        Ok(Self { certificate, key, policy, accuracy_seconds: Some(1), chain: Vec::new() })
    }

    /// CA certificates (the TSA's issuer, up to but not including the trust anchor) to carry
    /// beside the TSA's own certificate when a request sets `certReq`, so a validator that has
    /// only the root (pyHanko, a PDF reader) can build the TSA's path from the token alone.
    pub fn with_chain(mut self, chain: Vec<Certificate>) -> Self {
        self.chain = chain;
        self
    }

    /// The accuracy written into tokens, in seconds, or `None` for none. Default: 1 second,
    /// because genTime is in whole seconds of a `now` the caller supplies.
    pub fn with_accuracy(mut self, seconds: Option<u32>) -> Self {
        self.accuracy_seconds = seconds;
        self
    }

    /// The TSA's certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// Answers a DER `TimeStampReq` with a DER `TimeStampResp` stamped at `now` (Unix seconds).
    ///
    /// Only SHA-256 imprints are accepted (`badAlg` otherwise); a request policy must be this
    /// TSA's; request extensions are refused (`unacceptedExtension`); the nonce is echoed; the
    /// TSA certificate is included when `certReq` is set. An `Err` is a failure of the TSA
    /// itself: answer it with [`system_failure_response`].
    pub fn respond(&self, request: &[u8], now: i64) -> Result<Vec<u8>> {
        let accepted = match self.check_request(request) {
            Ok(accepted) => accepted,
            Err(rejection) => return rejection.to_der(),
        };
        let token = self.token(accepted, now)?;
        let status = PkiStatusInfo { status: STATUS_GRANTED, status_string: None, fail_info: None };
        Ok(TimeStampResp { status, time_stamp_token: Some(token) }.to_der()?)
    }

    /// A DER TimeStampToken over `imprint` (a SHA-256 digest) at `now`, with the TSA certificate
    /// included: what [`crate::cms::CadesSignature::add_signature_timestamp`] takes.
    pub fn timestamp(&self, imprint: &Sha256Digest, now: i64) -> Result<Vec<u8>> {
        let message_imprint = MessageImprint {
            hash_algorithm: sha256_algorithm(),
            hashed_message: OctetString::new(imprint.as_bytes().as_slice())?,
        };
        Ok(self.token(AcceptedRequest { message_imprint, nonce: None, cert_req: true }, now)?.to_der()?)
    }

    fn check_request(&self, der: &[u8]) -> core::result::Result<AcceptedRequest, Rejection> {
        let request = TimeStampReq::from_der(der)
            .map_err(|_| reject(FailInfo::BadDataFormat, "the request is not a DER TimeStampReq"))?;
        if request.version != 1 {
            return Err(reject(FailInfo::BadRequest, "only version 1 requests are supported"));
        }
        let imprint = &request.message_imprint;
        if imprint.hash_algorithm.oid != ID_SHA_256 || !params_absent_or_null(&imprint.hash_algorithm) {
            return Err(reject(FailInfo::BadAlg, "only SHA-256 message imprints are supported"));
        }
        if imprint.hashed_message.as_bytes().len() != 32 {
            return Err(reject(FailInfo::BadDataFormat, "a SHA-256 message imprint is 32 bytes"));
        }
        if request.req_policy.is_some_and(|p| p != self.policy) {
            return Err(reject(FailInfo::UnacceptedPolicy, "this TSA stamps under one policy only"));
        }
        if request.extensions.is_some() {
            return Err(reject(FailInfo::UnacceptedExtension, "no request extensions are supported"));
        }
        Ok(AcceptedRequest {
            message_imprint: request.message_imprint,
            nonce: request.nonce,
            cert_req: request.cert_req,
        })
    }

    fn token(&self, request: AcceptedRequest, now: i64) -> Result<ContentInfo> {
        let info = TstInfo {
            version: 1,
            policy: self.policy,
            // RFC 3161 2.4.2: the same imprint as in the request (hash algorithm included).
            message_imprint: request.message_imprint,
            serial_number: random_serial()?,
            gen_time: generalized_time(now)?,
            accuracy: self.accuracy_seconds.map(|s| Accuracy { seconds: Some(s), millis: None, micros: None }),
            ordering: false,
            nonce: request.nonce,
            tsa: None,
            extensions: None,
        };
        let tst_der = info.to_der()?;
        let digest = Sha256Digest::of(&tst_der);
        let content =
            Content { content_type: ID_CT_TST_INFO, econtent: Some(&tst_der), digest: &digest, signing_time: None };
        let certificates =
            if request.cert_req { std::iter::once(&self.certificate).chain(&self.chain).collect() } else { Vec::new() };
        let signer = Signer { certificate: &self.certificate, key: self.key.as_ref(), certificates };
        content_info(&signed_data::sign(&content, &signer)?)
    }
}

/// A positive random serial with 126 bits of entropy: unique without a counter in a database
/// (RFC 3161 asks for uniqueness per TSA, not for sequence), 16 octets, no leading zero.
fn random_serial() -> Result<Int> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| Error::Random)?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(Int::new(&bytes)?)
}

/// The SHA-256 message imprint of a DER TimeStampToken, after checking that it is a SignedData
/// over a TSTInfo with a SHA-256 imprint. Does not verify the TSA's signature.
pub(crate) fn token_imprint(token: &[u8]) -> Result<Sha256Digest> {
    let signed_data =
        parse_content_info(token).map_err(|_| Error::InvalidTimestamp("not a CMS SignedData ContentInfo"))?;
    let encap = &signed_data.encap_content_info;
    if encap.econtent_type != ID_CT_TST_INFO {
        return Err(Error::InvalidTimestamp("the SignedData does not hold a TSTInfo"));
    }
    let econtent = encap.econtent.as_ref().ok_or(Error::InvalidTimestamp("the TSTInfo is missing"))?;
    let octets = econtent.decode_as::<OctetString>()?;
    let info = TstInfo::from_der(octets.as_bytes()).map_err(|_| Error::InvalidTimestamp("malformed TSTInfo"))?;
    let imprint = &info.message_imprint;
    if imprint.hash_algorithm.oid != ID_SHA_256 || !params_absent_or_null(&imprint.hash_algorithm) {
        return Err(Error::InvalidTimestamp("the message imprint is not SHA-256"));
    }
    Sha256Digest::from_bytes(imprint.hashed_message.as_bytes())
}

#[cfg(test)]
mod tests {
    use der::Any;
    use der::asn1::Null;
    use der::oid::db::rfc5912::ID_SHA_1;
    use x509_cert::ext::Extension;

    use super::*;
    use crate::key::verify_signature;
    use crate::tests::{NOW, hierarchy, key_of};

    const POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.32473.2");

    fn tsa(h: &crate::Hierarchy) -> TimestampAuthority {
        TimestampAuthority::new(h.tsa().certificate().clone(), Box::new(key_of(h.tsa())), POLICY).unwrap()
    }

    fn request() -> TimeStampReq {
        TimeStampReq {
            version: 1,
            message_imprint: MessageImprint {
                hash_algorithm: AlgorithmIdentifierOwned { oid: ID_SHA_256, parameters: Some(Null.into()) },
                hashed_message: OctetString::new([7u8; 32].as_slice()).unwrap(),
            },
            req_policy: None,
            nonce: Some(Int::new(&[0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]).unwrap()),
            cert_req: false,
            extensions: None,
        }
    }

    fn answer(tsa: &TimestampAuthority, request: &TimeStampReq) -> TimeStampResp {
        TimeStampResp::from_der(&tsa.respond(&request.to_der().unwrap(), NOW).unwrap()).unwrap()
    }

    fn rejected(tsa: &TimestampAuthority, request: &TimeStampReq) -> FailInfo {
        let response = answer(tsa, request);
        assert_eq!(response.status.status, STATUS_REJECTION);
        assert!(response.time_stamp_token.is_none());
        let bits = response.status.fail_info.unwrap();
        let all = [
            FailInfo::BadAlg,
            FailInfo::BadRequest,
            FailInfo::BadDataFormat,
            FailInfo::UnacceptedPolicy,
            FailInfo::UnacceptedExtension,
        ];
        all.into_iter().find(|f| f.bits().unwrap() == bits).unwrap()
    }

    fn tst_info(token: &ContentInfo) -> (::cms::signed_data::SignedData, TstInfo) {
        let sd = parse_content_info(&token.to_der().unwrap()).unwrap();
        let octets = sd.encap_content_info.econtent.as_ref().unwrap().decode_as::<OctetString>().unwrap();
        let info = TstInfo::from_der(octets.as_bytes()).unwrap();
        (sd, info)
    }

    #[test]
    fn a_granted_token_echoes_the_request_and_is_signed_by_the_tsa() {
        let h = hierarchy();
        let tsa = tsa(&h);
        let request = request();
        let response = answer(&tsa, &request);
        assert_eq!(response.status, PkiStatusInfo { status: STATUS_GRANTED, status_string: None, fail_info: None });
        let token = response.time_stamp_token.unwrap();
        let (sd, info) = tst_info(&token);
        assert_eq!(info.version, 1);
        assert_eq!(info.policy, POLICY);
        assert_eq!(info.message_imprint, request.message_imprint, "imprint echoed, NULL parameters included");
        assert_eq!(info.nonce, request.nonce);
        assert_eq!(info.gen_time.to_unix_duration().as_secs(), NOW as u64);
        assert_eq!(info.accuracy, Some(Accuracy { seconds: Some(1), millis: None, micros: None }));
        assert!(!info.ordering && info.tsa.is_none() && info.extensions.is_none());
        assert_eq!(info.serial_number.as_bytes().len(), 16);
        assert!(sd.certificates.is_none(), "certReq was false");
        assert_eq!(sd.encap_content_info.econtent_type, ID_CT_TST_INFO);
        assert_eq!(sd.version, ::cms::content_info::CmsVersion::V3);

        let si = sd.signer_infos.0.get(0).unwrap();
        let signed = si.signed_attrs.as_ref().unwrap().to_der().unwrap();
        let spki = h.tsa().certificate().tbs_certificate().subject_public_key_info();
        verify_signature(spki, &si.signature_algorithm, &signed, si.signature.as_bytes()).unwrap();

        // Serial numbers differ between tokens.
        let (_, second) = tst_info(&answer(&tsa, &request).time_stamp_token.unwrap());
        assert_ne!(second.serial_number, info.serial_number);
    }

    #[test]
    fn cert_req_puts_the_tsa_certificate_in_the_token() {
        let h = hierarchy();
        let tsa = tsa(&h);
        let mut request = request();
        request.cert_req = true;
        request.req_policy = Some(POLICY);
        request.nonce = None;
        let (sd, info) = tst_info(&answer(&tsa, &request).time_stamp_token.unwrap());
        let certs = sd.certificates.unwrap();
        assert_eq!(certs.0.len(), 1);
        let first = certs.0.get(0);
        assert!(matches!(first, Some(::cms::cert::CertificateChoices::Certificate(c)) if c == h.tsa().certificate()));
        assert!(info.nonce.is_none());

        // With its chain, the issuer rides along after the TSA's own certificate.
        let tsa = tsa.with_chain(vec![h.issuing().certificate().clone()]);
        let (sd, _) = tst_info(&answer(&tsa, &request).time_stamp_token.unwrap());
        let certs: Vec<_> = sd.certificates.unwrap().0.into_vec();
        assert_eq!(certs.len(), 2);
        assert!(
            certs.iter().any(
                |c| matches!(c, ::cms::cert::CertificateChoices::Certificate(c) if c == h.issuing().certificate())
            )
        );
    }

    #[test]
    fn requests_it_cannot_serve_are_rejected_with_the_rfc_3161_fail_info() {
        let h = hierarchy();
        let tsa = tsa(&h);

        let mut r = request();
        r.version = 2;
        assert_eq!(rejected(&tsa, &r), FailInfo::BadRequest);

        let mut r = request();
        r.message_imprint.hash_algorithm.oid = ID_SHA_1;
        r.message_imprint.hashed_message = OctetString::new([7u8; 20].as_slice()).unwrap();
        assert_eq!(rejected(&tsa, &r), FailInfo::BadAlg);

        let mut r = request();
        r.message_imprint.hash_algorithm.parameters = Some(Any::from_der(&[0x02, 0x01, 0x00]).unwrap());
        assert_eq!(rejected(&tsa, &r), FailInfo::BadAlg);

        let mut r = request();
        r.message_imprint.hashed_message = OctetString::new([7u8; 31].as_slice()).unwrap();
        assert_eq!(rejected(&tsa, &r), FailInfo::BadDataFormat);

        let mut r = request();
        r.req_policy = Some(ObjectIdentifier::new_unwrap("1.3.6.1.4.1.32473.3"));
        assert_eq!(rejected(&tsa, &r), FailInfo::UnacceptedPolicy);

        let mut r = request();
        let ext =
            Extension { extn_id: ID_SHA_1, critical: false, extn_value: OctetString::new([5u8].as_slice()).unwrap() };
        r.extensions = Some(vec![ext]);
        assert_eq!(rejected(&tsa, &r), FailInfo::UnacceptedExtension);

        let mut trailing = request().to_der().unwrap();
        trailing.push(0);
        let response = TimeStampResp::from_der(&tsa.respond(&trailing, NOW).unwrap()).unwrap();
        assert_eq!(response.status.fail_info, Some(FailInfo::BadDataFormat.bits().unwrap()));
        assert_eq!(response.status.status_string, Some(vec!["the request is not a DER TimeStampReq".to_owned()]));
    }

    #[test]
    fn fail_info_is_a_minimal_named_bit_string_and_the_fixed_failure_matches_der() {
        assert_eq!(FailInfo::BadAlg.bits().unwrap().to_der().unwrap(), [0x03, 0x02, 0x07, 0x80]);
        assert_eq!(FailInfo::BadRequest.bits().unwrap().to_der().unwrap(), [0x03, 0x02, 0x05, 0x20]);
        assert_eq!(FailInfo::BadDataFormat.bits().unwrap().to_der().unwrap(), [0x03, 0x02, 0x02, 0x04]);
        assert_eq!(FailInfo::UnacceptedPolicy.bits().unwrap().to_der().unwrap(), [0x03, 0x03, 0x00, 0x00, 0x01]);
        assert_eq!(
            FailInfo::UnacceptedExtension.bits().unwrap().to_der().unwrap(),
            [0x03, 0x04, 0x07, 0x00, 0x00, 0x80]
        );
        let status = PkiStatusInfo {
            status: STATUS_REJECTION,
            status_string: None,
            fail_info: Some(FailInfo::SystemFailure.bits().unwrap()),
        };
        let expected = TimeStampResp { status, time_stamp_token: None }.to_der().unwrap();
        assert_eq!(system_failure_response(), expected);
    }

    #[test]
    fn only_a_certificate_with_the_critical_time_stamping_eku_may_stamp() {
        let h = hierarchy();
        let refused = TimestampAuthority::new(h.ocsp().certificate().clone(), Box::new(key_of(h.ocsp())), POLICY);
        assert!(matches!(refused, Err(Error::UnsuitableCertificate(_))));
        let refused = TimestampAuthority::new(h.tsa().certificate().clone(), Box::new(key_of(h.ocsp())), POLICY);
        assert!(matches!(refused, Err(Error::UnsupportedKey(_))));
    }

    #[test]
    fn accuracy_can_be_left_out() {
        let h = hierarchy();
        let tsa = tsa(&h).with_accuracy(None);
        let token = tsa.timestamp(&Sha256Digest::of(b"x"), NOW).unwrap();
        let (sd, info) = tst_info(&ContentInfo::from_der(&token).unwrap());
        assert!(info.accuracy.is_none());
        assert_eq!(sd.certificates.unwrap().0.len(), 1, "in-process tokens carry the TSA certificate");
        assert_eq!(token_imprint(&token).unwrap(), Sha256Digest::of(b"x"));
    }
}
