//! The OCSP responder (RFC 6960): DER requests in, signed DER responses out.
//!
//! [`OcspResponder::respond`] is the whole `/ocsp` endpoint minus HTTP. The responder is a
//! *delegated* responder (RFC 6960 4.2.2.2): its certificate is issued by the issuing CA with
//! id-kp-OCSPSigning and is included in every response together with the issuing CA's, so a
//! client that trusts only the root can check it. It answers for certificates of that one issuer:
//!
//! - each CertID (SHA-1 or SHA-256 hashes of the issuer's name and key) that names the issuer
//!   gets the status the caller's lookup returns: good, revoked (time, reason) or unknown;
//! - a CertID naming another issuer (or hashed with another algorithm) gets `unknown`, and a
//!   request naming no certificate of this issuer at all gets `unauthorized` (RFC 5019 2.2.3);
//! - an undecodable request, or one with no or too many CertIDs, gets `malformedRequest`;
//! - a nonce (RFC 8954: 1 to 32 octets) is echoed; other request extensions are ignored, as
//!   RFC 6960 4.1.2 allows for non-critical ones.
//!
//! The response is identified byKey (SHA-1 of the responder's public key), has producedAt and
//! thisUpdate `now` and nextUpdate `now + update_interval`, and is signed with the responder key.

use core::time::Duration;

use der::asn1::{BitString, GeneralizedTime, Null, ObjectIdentifier, OctetString};
use der::oid::db::rfc5280::ID_KP_OCSP_SIGNING;
use der::oid::db::rfc5912::{ID_SHA_1, ID_SHA_256};
use der::oid::db::rfc6960::{ID_PKIX_OCSP_BASIC, ID_PKIX_OCSP_NONCE};
use der::{Choice, Decode, Encode, Enumerated, Sequence};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{CrlReason, ExtendedKeyUsage};
use x509_cert::ext::{Extension, Extensions};
use x509_cert::serial_number::SerialNumber;

use crate::crl::RevocationReason;
use crate::digest::{Sha256Digest, generalized_time, params_absent_or_null, sha1};
use crate::error::{Error, Result};
use crate::key::{CaKey, check_key_matches, sign_checked, verify_signature};

/// The most CertIDs one request may ask about; more is answered `malformedRequest`, so one
/// request cannot make the responder do unbounded work.
pub const MAX_CERT_IDS: usize = 32;

/// `Version ::= INTEGER { v1(0) }`.
#[derive(Clone, Copy, Debug, Default, Enumerated, Eq, PartialEq)]
#[asn1(type = "INTEGER")]
#[repr(u8)]
enum Version {
    #[default]
    V1 = 0,
}

/// `CertID` (RFC 6960 4.1.1).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct CertId {
    hash_algorithm: AlgorithmIdentifierOwned,
    issuer_name_hash: OctetString,
    issuer_key_hash: OctetString,
    serial_number: SerialNumber,
}

/// `OCSPRequest` (RFC 6960 4.1.1).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct OcspRequest {
    tbs_request: TbsRequest,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    optional_signature: Option<RequestSignature>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TbsRequest {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", default = "Default::default")]
    version: Version,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    requestor_name: Option<GeneralName>,
    request_list: Vec<Request>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    request_extensions: Option<Extensions>,
}

/// A request signature. Parsed so that signed requests are accepted; not checked, because
/// this responder answers anyone (status is public) and `sigRequired` would turn clients away.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct RequestSignature {
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    certs: Option<Vec<Certificate>>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct Request {
    req_cert: CertId,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    single_request_extensions: Option<Extensions>,
}

/// `OCSPResponseStatus` (RFC 6960 4.2.1).
#[derive(Clone, Copy, Debug, Enumerated, Eq, PartialEq)]
#[repr(u8)]
enum ResponseStatus {
    Successful = 0,
    MalformedRequest = 1,
    /// Only in the fixed [`internal_error_response`]; the variant checks those bytes in tests.
    #[cfg(test)]
    InternalError = 2,
    Unauthorized = 6,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct OcspResponse {
    response_status: ResponseStatus,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    response_bytes: Option<ResponseBytes>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct ResponseBytes {
    response_type: ObjectIdentifier,
    response: OctetString,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct BasicOcspResponse {
    tbs_response_data: ResponseData,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    certs: Option<Vec<Certificate>>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct ResponseData {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", default = "Default::default")]
    version: Version,
    responder_id: ResponderId,
    produced_at: GeneralizedTime,
    responses: Vec<SingleResponse>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    response_extensions: Option<Extensions>,
}

/// `ResponderID` (RFC 6960 4.2.1; the module uses EXPLICIT tags).
#[derive(Clone, Debug, Eq, PartialEq, Choice)]
enum ResponderId {
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", constructed = "true")]
    ByKey(OctetString),
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct SingleResponse {
    cert_id: CertId,
    cert_status: Status,
    this_update: GeneralizedTime,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    next_update: Option<GeneralizedTime>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    single_extensions: Option<Extensions>,
}

/// `CertStatus` (RFC 6960 4.2.1): IMPLICIT tags on the alternatives.
#[derive(Clone, Debug, Eq, PartialEq, Choice)]
enum Status {
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT")]
    Good(Null),
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", constructed = "true")]
    Revoked(RevokedInfo),
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT")]
    Unknown(Null),
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct RevokedInfo {
    revocation_time: GeneralizedTime,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    revocation_reason: Option<CrlReason>,
}

/// A certificate's status, as the caller's records say at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertStatus {
    /// Issued by this CA and not revoked.
    Good,
    /// Revoked at `revoked_at` (Unix seconds) for `reason`.
    Revoked {
        /// When it was revoked.
        revoked_at: i64,
        /// Why.
        reason: RevocationReason,
    },
    /// No certificate with this serial was issued (as far as the records say).
    Unknown,
}

/// The unsuccessful response `internalError` (RFC 6960 4.2.1), for the caller to send when
/// [`OcspResponder::respond`] returns an `Err` (or its status lookup failed). Fixed bytes.
pub fn internal_error_response() -> Vec<u8> {
    vec![0x30, 0x03, 0x0a, 0x01, 0x02]
}

/// The issuer's name and key hashed the two ways CertIDs may use.
struct IssuerHashes {
    sha1: ([u8; 20], [u8; 20]),
    sha256: (Sha256Digest, Sha256Digest),
}

impl IssuerHashes {
    fn of(issuer: &Certificate) -> Result<Self> {
        let tbs = issuer.tbs_certificate();
        let name = tbs.subject().to_der()?;
        // RFC 6960 4.1.1: the hash of the subjectPublicKey BIT STRING's value, without tag,
        // length and unused-bits octet.
        let key = tbs.subject_public_key_info().subject_public_key.raw_bytes();
        Ok(Self { sha1: (sha1(&name), sha1(key)), sha256: (Sha256Digest::of(&name), Sha256Digest::of(key)) })
    }

    fn names(&self, id: &CertId) -> bool {
        if !params_absent_or_null(&id.hash_algorithm) {
            return false;
        }
        let (name, key) = (id.issuer_name_hash.as_bytes(), id.issuer_key_hash.as_bytes());
        match id.hash_algorithm.oid {
            ID_SHA_1 => name == self.sha1.0 && key == self.sha1.1,
            ID_SHA_256 => name == self.sha256.0.as_bytes() && key == self.sha256.1.as_bytes(),
            _ => false,
        }
    }
}

/// The OCSP responder for one issuing CA.
pub struct OcspResponder {
    certificate: Certificate,
    issuer_certificate: Certificate,
    key: Box<dyn CaKey>,
    issuer: IssuerHashes,
    key_hash: [u8; 20],
    update_interval: Duration,
}

impl OcspResponder {
    /// A responder signing with `key` under `certificate`, answering for certificates issued by
    /// `issuer`. `update_interval` is how long an answer may be relied on (thisUpdate to
    /// nextUpdate): no longer than the time the caller takes to reflect a revocation.
    ///
    /// Refuses a key that is not the certificate's, and a responder certificate that the issuer
    /// did not issue or that lacks id-kp-OCSPSigning: RFC 6960 4.2.2.2 clients reject responses
    /// from such a responder, so it must not start.
    pub fn new(
        certificate: Certificate,
        key: Box<dyn CaKey>,
        issuer: &Certificate,
        update_interval: Duration,
    ) -> Result<Self> {
        check_key_matches(key.as_ref(), &certificate)?;
        let tbs = certificate.tbs_certificate();
        // Issued by the issuer: same name and, decisively, the issuer key's signature (two CAs
        // may share a name, as two test hierarchies do).
        let issued = tbs.issuer() == issuer.tbs_certificate().subject()
            && verify_signature(
                issuer.tbs_certificate().subject_public_key_info(),
                certificate.signature_algorithm(),
                &tbs.to_der()?,
                certificate.signature().raw_bytes(),
            )
            .is_ok();
        if !issued {
            return Err(Error::UnsuitableCertificate("the OCSP responder certificate is not issued by the issuer"));
        }
        match tbs.get_extension::<ExtendedKeyUsage>()? {
            Some((_, eku)) if eku.0.contains(&ID_KP_OCSP_SIGNING) => {}
            _ => return Err(Error::UnsuitableCertificate("an OCSP responder needs the id-kp-OCSPSigning EKU")),
        }
        if update_interval < Duration::from_secs(60) {
            return Err(Error::InvalidValidity("an OCSP answer must be valid for at least a minute"));
        }
        let key_hash = sha1(tbs.subject_public_key_info().subject_public_key.raw_bytes());
        let hashes = IssuerHashes::of(issuer)?;
        Ok(Self { certificate, issuer_certificate: issuer.clone(), key, issuer: hashes, key_hash, update_interval })
    }

    /// The serial numbers a DER OCSPRequest asks about that belong to this responder's issuer,
    /// so an async caller can load their statuses before calling [`Self::respond`]. Empty for a
    /// request that [`Self::respond`] would not answer with statuses.
    pub fn requested_serials(&self, request: &[u8]) -> Vec<SerialNumber> {
        match self.parse(request) {
            Ok(request) => request
                .tbs_request
                .request_list
                .iter()
                .filter(|r| self.issuer.names(&r.req_cert))
                .map(|r| r.req_cert.serial_number.clone())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    fn parse(&self, request: &[u8]) -> core::result::Result<OcspRequest, ResponseStatus> {
        let request = OcspRequest::from_der(request).map_err(|_| ResponseStatus::MalformedRequest)?;
        let count = request.tbs_request.request_list.len();
        if count == 0 || count > MAX_CERT_IDS {
            return Err(ResponseStatus::MalformedRequest);
        }
        Ok(request)
    }

    /// Answers a DER OCSPRequest with a DER OCSPResponse produced at `now` (Unix seconds).
    ///
    /// `status_of` is asked only about serial numbers of this responder's issuer. Requests the
    /// responder cannot answer get `malformedRequest` or `unauthorized` (see the module docs).
    /// An `Err` is a failure of the responder itself: answer it with
    /// [`internal_error_response`].
    pub fn respond(
        &self,
        request: &[u8],
        now: i64,
        mut status_of: impl FnMut(&SerialNumber) -> CertStatus,
    ) -> Result<Vec<u8>> {
        let request = match self.parse(request) {
            Ok(request) => request,
            Err(status) => return unsuccessful(status),
        };
        let tbs_request = request.tbs_request;
        if !tbs_request.request_list.iter().any(|r| self.issuer.names(&r.req_cert)) {
            return unsuccessful(ResponseStatus::Unauthorized);
        }

        let this_update = generalized_time(now)?;
        let next_update = i64::try_from(self.update_interval.as_secs())
            .ok()
            .and_then(|secs| now.checked_add(secs))
            .ok_or(Error::InvalidValidity("nextUpdate overflows"))?;
        let next_update = generalized_time(next_update)?;

        let mut responses = Vec::with_capacity(tbs_request.request_list.len());
        for single in tbs_request.request_list {
            let status = if self.issuer.names(&single.req_cert) {
                match status_of(&single.req_cert.serial_number) {
                    CertStatus::Good => Status::Good(Null),
                    CertStatus::Revoked { revoked_at, reason } => Status::Revoked(RevokedInfo {
                        revocation_time: generalized_time(revoked_at)?,
                        revocation_reason: reason.code(),
                    }),
                    CertStatus::Unknown => Status::Unknown(Null),
                }
            } else {
                Status::Unknown(Null)
            };
            responses.push(SingleResponse {
                // Echoed as received: the client matches its CertID byte for byte.
                cert_id: single.req_cert,
                cert_status: status,
                this_update,
                next_update: Some(next_update),
                single_extensions: None,
            });
        }

        let data = ResponseData {
            version: Version::V1,
            responder_id: ResponderId::ByKey(OctetString::new(self.key_hash.as_slice())?),
            produced_at: this_update,
            responses,
            response_extensions: nonce(tbs_request.request_extensions.as_deref()).map(|n| vec![n]),
        };
        let signature = sign_checked(self.key.as_ref(), &data.to_der()?)?;
        let basic = BasicOcspResponse {
            tbs_response_data: data,
            signature_algorithm: self.key.signature_algorithm(),
            signature: BitString::from_bytes(&signature)?,
            // The responder and its issuer: a client that trusts only the root can build the
            // responder's path from the response alone.
            certs: Some(vec![self.certificate.clone(), self.issuer_certificate.clone()]),
        };
        let response = OcspResponse {
            response_status: ResponseStatus::Successful,
            response_bytes: Some(ResponseBytes {
                response_type: ID_PKIX_OCSP_BASIC,
                response: OctetString::new(basic.to_der()?)?,
            }),
        };
        Ok(response.to_der()?)
    }
}

fn unsuccessful(status: ResponseStatus) -> Result<Vec<u8>> {
    Ok(OcspResponse { response_status: status, response_bytes: None }.to_der()?)
}

/// The nonce extension to echo: present in the request, its value an OCTET STRING of 1 to 32
/// octets (RFC 8954 2.1). Echoed byte for byte, non-critical; anything else is not echoed.
fn nonce(extensions: Option<&[Extension]>) -> Option<Extension> {
    let extension = extensions?.iter().find(|e| e.extn_id == ID_PKIX_OCSP_NONCE)?;
    let inner = OctetString::from_der(extension.extn_value.as_bytes()).ok()?;
    if (1..=32).contains(&inner.as_bytes().len()) {
        Some(Extension { extn_id: ID_PKIX_OCSP_NONCE, critical: false, extn_value: extension.extn_value.clone() })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{NOW, citizen_cert, hierarchy, karma, key_of};

    fn responder(h: &crate::Hierarchy) -> OcspResponder {
        OcspResponder::new(
            h.ocsp().certificate().clone(),
            Box::new(key_of(h.ocsp())),
            h.issuing().certificate(),
            Duration::from_secs(600),
        )
        .unwrap()
    }

    fn cert_id(issuer: &Certificate, serial: &SerialNumber, sha256: bool) -> CertId {
        let tbs = issuer.tbs_certificate();
        let name = tbs.subject().to_der().unwrap();
        let key = tbs.subject_public_key_info().subject_public_key.raw_bytes();
        let (oid, name_hash, key_hash) = if sha256 {
            (ID_SHA_256, Sha256Digest::of(&name).as_bytes().to_vec(), Sha256Digest::of(key).as_bytes().to_vec())
        } else {
            (ID_SHA_1, sha1(&name).to_vec(), sha1(key).to_vec())
        };
        CertId {
            hash_algorithm: AlgorithmIdentifierOwned { oid, parameters: Some(Null.into()) },
            issuer_name_hash: OctetString::new(name_hash).unwrap(),
            issuer_key_hash: OctetString::new(key_hash).unwrap(),
            serial_number: serial.clone(),
        }
    }

    fn request(ids: Vec<CertId>, nonce: Option<&[u8]>) -> Vec<u8> {
        let extensions = nonce.map(|n| {
            let value = OctetString::new(n).unwrap().to_der().unwrap();
            vec![Extension {
                extn_id: ID_PKIX_OCSP_NONCE,
                critical: false,
                extn_value: OctetString::new(value).unwrap(),
            }]
        });
        OcspRequest {
            tbs_request: TbsRequest {
                version: Version::V1,
                requestor_name: None,
                request_list: ids
                    .into_iter()
                    .map(|req_cert| Request { req_cert, single_request_extensions: None })
                    .collect(),
                request_extensions: extensions,
            },
            optional_signature: None,
        }
        .to_der()
        .unwrap()
    }

    fn basic(response: &[u8]) -> BasicOcspResponse {
        let response = OcspResponse::from_der(response).unwrap();
        assert_eq!(response.response_status, ResponseStatus::Successful);
        let bytes = response.response_bytes.unwrap();
        assert_eq!(bytes.response_type, ID_PKIX_OCSP_BASIC);
        BasicOcspResponse::from_der(bytes.response.as_bytes()).unwrap()
    }

    fn status(response: &[u8]) -> ResponseStatus {
        OcspResponse::from_der(response).unwrap().response_status
    }

    #[test]
    fn answers_each_cert_id_and_signs_by_key() {
        let h = hierarchy();
        let responder = responder(&h);
        let issuer = h.issuing().certificate();
        let (good, revoked) = (citizen_cert(&h, &karma()), citizen_cert(&h, &karma()));
        let unknown = SerialNumber::new(&[0x42]).unwrap();
        let ids = vec![
            cert_id(issuer, good.tbs_certificate().serial_number(), false),
            cert_id(issuer, revoked.tbs_certificate().serial_number(), true),
            cert_id(issuer, &unknown, false),
        ];
        let request = request(ids.clone(), Some(&[9u8; 16]));
        assert_eq!(responder.requested_serials(&request).len(), 3);
        let der = responder
            .respond(&request, NOW, |serial| {
                if serial == good.tbs_certificate().serial_number() {
                    CertStatus::Good
                } else if serial == revoked.tbs_certificate().serial_number() {
                    CertStatus::Revoked { revoked_at: NOW - 60, reason: RevocationReason::KeyCompromise }
                } else {
                    CertStatus::Unknown
                }
            })
            .unwrap();
        let basic = basic(&der);
        let data = &basic.tbs_response_data;
        assert_eq!(data.produced_at.to_unix_duration().as_secs(), NOW as u64);
        let ResponderId::ByKey(key_hash) = &data.responder_id;
        let responder_key = h.ocsp().certificate().tbs_certificate().subject_public_key_info();
        assert_eq!(key_hash.as_bytes(), sha1(responder_key.subject_public_key.raw_bytes()));

        let statuses: Vec<_> = data.responses.iter().map(|r| r.cert_status.clone()).collect();
        assert_eq!(statuses[0], Status::Good(Null));
        let revoked_info = RevokedInfo {
            revocation_time: generalized_time(NOW - 60).unwrap(),
            revocation_reason: Some(CrlReason::KeyCompromise),
        };
        assert_eq!(statuses[1], Status::Revoked(revoked_info));
        assert_eq!(statuses[2], Status::Unknown(Null));
        for (response, id) in data.responses.iter().zip(&ids) {
            assert_eq!(&response.cert_id, id, "CertID echoed");
            assert_eq!(response.this_update.to_unix_duration().as_secs(), NOW as u64);
            assert_eq!(response.next_update.unwrap().to_unix_duration().as_secs(), NOW as u64 + 600);
        }
        let nonce = &data.response_extensions.as_ref().unwrap()[0];
        assert_eq!(nonce.extn_id, ID_PKIX_OCSP_NONCE);
        assert_eq!(nonce.extn_value.as_bytes(), OctetString::new([9u8; 16].as_slice()).unwrap().to_der().unwrap());

        let certs = basic.certs.as_ref().unwrap();
        assert_eq!(certs.as_slice(), [h.ocsp().certificate().clone(), issuer.clone()]);
        verify_signature(
            responder_key,
            &basic.signature_algorithm,
            &data.to_der().unwrap(),
            basic.signature.raw_bytes(),
        )
        .unwrap();
    }

    #[test]
    fn foreign_cert_ids_get_unknown_without_a_lookup_and_all_foreign_is_unauthorized() {
        let h = hierarchy();
        let other = hierarchy();
        let responder = responder(&h);
        let ours = citizen_cert(&h, &karma());
        let theirs = citizen_cert(&other, &karma());
        let ids = vec![
            cert_id(h.issuing().certificate(), ours.tbs_certificate().serial_number(), false),
            cert_id(other.issuing().certificate(), theirs.tbs_certificate().serial_number(), false),
        ];
        let mut asked = Vec::new();
        let der = responder
            .respond(&request(ids, None), NOW, |s| {
                asked.push(s.clone());
                CertStatus::Good
            })
            .unwrap();
        assert_eq!(asked, [ours.tbs_certificate().serial_number().clone()]);
        let basic = basic(&der);
        assert_eq!(basic.tbs_response_data.responses[1].cert_status, Status::Unknown(Null));
        assert!(basic.tbs_response_data.response_extensions.is_none(), "no nonce asked, none sent");

        let theirs_only =
            request(vec![cert_id(other.issuing().certificate(), theirs.tbs_certificate().serial_number(), true)], None);
        let der = responder.respond(&theirs_only, NOW, |_| panic!("must not be asked")).unwrap();
        assert_eq!(der, [0x30, 0x03, 0x0a, 0x01, 0x06]);
        assert_eq!(status(&der), ResponseStatus::Unauthorized);
        assert!(responder.requested_serials(&theirs_only).is_empty());

        // The issuer's own hashes under an algorithm we do not compute: cannot be ours.
        let mut md5 = cert_id(h.issuing().certificate(), ours.tbs_certificate().serial_number(), false);
        md5.hash_algorithm.oid = ObjectIdentifier::new_unwrap("1.2.840.113549.2.5");
        assert_eq!(
            status(&responder.respond(&request(vec![md5], None), NOW, |_| CertStatus::Good).unwrap()),
            ResponseStatus::Unauthorized
        );
    }

    #[test]
    fn malformed_requests_and_limits() {
        let h = hierarchy();
        let responder = responder(&h);
        let never = |_: &SerialNumber| -> CertStatus { panic!("must not be asked") };
        for bad in [&b""[..], b"\x30\x00", b"garbage"] {
            assert_eq!(status(&responder.respond(bad, NOW, never).unwrap()), ResponseStatus::MalformedRequest);
        }
        assert_eq!(
            status(&responder.respond(&request(vec![], None), NOW, never).unwrap()),
            ResponseStatus::MalformedRequest
        );
        let serial = SerialNumber::new(&[1]).unwrap();
        let many = vec![cert_id(h.issuing().certificate(), &serial, false); MAX_CERT_IDS + 1];
        assert_eq!(
            status(&responder.respond(&request(many, None), NOW, never).unwrap()),
            ResponseStatus::MalformedRequest
        );
        let most = vec![cert_id(h.issuing().certificate(), &serial, false); MAX_CERT_IDS];
        let der = responder.respond(&request(most, None), NOW, |_| CertStatus::Good).unwrap();
        assert_eq!(basic(&der).tbs_response_data.responses.len(), MAX_CERT_IDS);
        assert_eq!(OcspResponse::from_der(&internal_error_response()).unwrap().response_bytes, None);
    }

    #[test]
    fn nonces_are_echoed_only_within_rfc_8954_lengths() {
        let h = hierarchy();
        let responder = responder(&h);
        let serial = SerialNumber::new(&[1]).unwrap();
        let id = || vec![cert_id(h.issuing().certificate(), &serial, false)];
        for (len, echoed) in [(1, true), (32, true), (33, false)] {
            let der = responder.respond(&request(id(), Some(&vec![7u8; len])), NOW, |_| CertStatus::Good).unwrap();
            assert_eq!(basic(&der).tbs_response_data.response_extensions.is_some(), echoed, "{len}");
        }
    }

    #[test]
    fn only_a_delegated_responder_of_the_issuer_may_answer() {
        let h = hierarchy();
        let other = hierarchy();
        let interval = Duration::from_secs(600);
        let issuer = h.issuing().certificate();
        // The TSA has no OCSPSigning EKU; the other hierarchy's responder has another issuer.
        let tsa = OcspResponder::new(h.tsa().certificate().clone(), Box::new(key_of(h.tsa())), issuer, interval);
        assert!(matches!(tsa, Err(Error::UnsuitableCertificate(_))));
        let foreign =
            OcspResponder::new(other.ocsp().certificate().clone(), Box::new(key_of(other.ocsp())), issuer, interval);
        assert!(matches!(foreign, Err(Error::UnsuitableCertificate(_))));
        let wrong_key = OcspResponder::new(h.ocsp().certificate().clone(), Box::new(key_of(h.tsa())), issuer, interval);
        assert!(matches!(wrong_key, Err(Error::UnsupportedKey(_))));
    }
}
