//! Compact JWS (RFC 7515) as SBI devices use it: a protected header with `alg` and an `x5c`
//! certificate chain (standard base64 DER, device certificate first), a base64url payload, and a
//! signature. The signature is checked with the `jsonwebtoken` crate's primitives against the key
//! of the first `x5c` certificate, and that certificate's chain against the trusted
//! device-provider CAs ([`super::trust`]). Only RS256 (the specification's algorithm) and ES256
//! are accepted; `none`, HMAC and anything else are refused.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};

use super::{SbiError, trust::TrustStore};

/// Largest compact JWS accepted (a JPEG 2000 finger image is a few hundred KiB).
pub const MAX_JWS_BYTES: usize = 4 << 20;
/// Most certificates in an `x5c` chain.
pub const MAX_CHAIN: usize = 4;
/// Largest certificate accepted in `x5c`.
pub const MAX_CERT_BYTES: usize = 16 << 10;

/// The JWS algorithms this client accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JwsAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256: what SBI 0.9.5 specifies.
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
}

impl JwsAlg {
    fn jwt(self) -> Algorithm {
        match self {
            JwsAlg::RS256 => Algorithm::RS256,
            JwsAlg::ES256 => Algorithm::ES256,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    #[serde(default)]
    x5c: Vec<String>,
}

/// A JWS taken apart but not yet verified.
#[derive(Debug, Clone)]
pub struct Compact<'a> {
    signing_input: &'a str,
    signature: &'a str,
    alg: JwsAlg,
    chain: Vec<Vec<u8>>,
    payload: Vec<u8>,
}

/// A verified JWS: its payload and who signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The signed bytes.
    pub payload: Vec<u8>,
    /// The signing certificate's subject.
    pub signer: String,
    /// The signing certificate (DER).
    pub certificate: Vec<u8>,
}

/// Takes a compact JWS apart: sizes, structure, header, `x5c`, payload encoding.
pub fn parse<'a>(what: &str, jws: &'a str) -> Result<Compact<'a>, SbiError> {
    if jws.len() > MAX_JWS_BYTES {
        return Err(SbiError::TooLarge { what: what.to_owned(), limit: MAX_JWS_BYTES });
    }
    let mut parts = jws.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(SbiError::malformed(what, "not a compact JWS (header.payload.signature)"));
    };
    let header_bytes = URL_SAFE_NO_PAD.decode(h).map_err(|e| SbiError::malformed(what, format!("JWS header: {e}")))?;
    let header: Header =
        serde_json::from_slice(&header_bytes).map_err(|e| SbiError::malformed(what, format!("JWS header: {e}")))?;
    let alg = match header.alg.as_str() {
        "RS256" => JwsAlg::RS256,
        "ES256" => JwsAlg::ES256,
        other => {
            return Err(SbiError::BadSignature {
                what: what.to_owned(),
                reason: format!("algorithm \"{other}\" is not accepted (RS256 or ES256)"),
            });
        }
    };
    if header.x5c.is_empty() {
        return Err(SbiError::Untrusted {
            what: what.to_owned(),
            reason: "the JWS header has no x5c certificate".into(),
        });
    }
    if header.x5c.len() > MAX_CHAIN {
        return Err(SbiError::malformed(
            what,
            format!("x5c has {} certificates, at most {MAX_CHAIN}", header.x5c.len()),
        ));
    }
    let mut chain = Vec::with_capacity(header.x5c.len());
    for (i, c) in header.x5c.iter().enumerate() {
        if c.len() > MAX_CERT_BYTES * 2 {
            return Err(SbiError::TooLarge { what: format!("{what}: x5c[{i}]"), limit: MAX_CERT_BYTES });
        }
        chain.push(STANDARD.decode(c).map_err(|e| SbiError::malformed(what, format!("x5c[{i}] is not base64: {e}")))?);
    }
    let payload = URL_SAFE_NO_PAD.decode(p).map_err(|e| SbiError::malformed(what, format!("JWS payload: {e}")))?;
    let signing_input = &jws[..h.len() + 1 + p.len()];
    Ok(Compact { signing_input, signature: s, alg, chain, payload })
}

impl Compact<'_> {
    /// The payload, unverified (for diagnostics and fuzzing only).
    pub fn payload_unverified(&self) -> &[u8] {
        &self.payload
    }

    /// The algorithm named in the header.
    pub fn alg(&self) -> JwsAlg {
        self.alg
    }

    /// Checks the `x5c` chain against `trust` at `now`, then the signature with the first
    /// certificate's key.
    pub fn verify(self, what: &str, trust: &TrustStore, now: time::OffsetDateTime) -> Result<Verified, SbiError> {
        let leaf = trust.verify_chain(what, &self.chain, now)?;
        let key = match (self.alg, leaf.key_kind) {
            (JwsAlg::RS256, super::trust::KeyKind::Rsa) => DecodingKey::from_rsa_der(&leaf.public_key),
            (JwsAlg::ES256, super::trust::KeyKind::EcP256) => DecodingKey::from_ec_der(&leaf.public_key),
            (alg, kind) => {
                return Err(SbiError::BadSignature {
                    what: what.to_owned(),
                    reason: format!("header says {alg:?} but the certificate holds a {kind:?} key"),
                });
            }
        };
        let ok = jsonwebtoken::crypto::verify(self.signature, self.signing_input.as_bytes(), &key, self.alg.jwt())
            .map_err(|e| SbiError::BadSignature { what: what.to_owned(), reason: e.to_string() })?;
        if !ok {
            return Err(SbiError::BadSignature {
                what: what.to_owned(),
                reason: "the signed content was changed or signed with another key".into(),
            });
        }
        Ok(Verified { payload: self.payload, signer: leaf.subject, certificate: leaf.der })
    }
}

/// A signing key with its certificate chain: what a device holds.
pub struct JwsSigner {
    alg: JwsAlg,
    key: EncodingKey,
    x5c: Vec<String>,
}

impl std::fmt::Debug for JwsSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwsSigner").field("alg", &self.alg).field("x5c", &self.x5c.len()).finish_non_exhaustive()
    }
}

impl JwsSigner {
    /// A signer from a PKCS#8 PEM private key and the DER chain to put in `x5c` (own certificate
    /// first).
    pub fn from_pem(alg: JwsAlg, key_pem: &str, chain: &[Vec<u8>]) -> Result<Self, SbiError> {
        let key = match alg {
            JwsAlg::RS256 => EncodingKey::from_rsa_pem(key_pem.as_bytes()),
            JwsAlg::ES256 => EncodingKey::from_ec_pem(key_pem.as_bytes()),
        }
        .map_err(|e| SbiError::Keys { reason: format!("the {alg:?} private key: {e}") })?;
        Ok(JwsSigner { alg, key, x5c: chain.iter().map(|c| STANDARD.encode(c)).collect() })
    }

    /// Signs `payload` into a compact JWS with the `x5c` header.
    pub fn sign(&self, payload: &[u8]) -> Result<String, SbiError> {
        let header = Header { alg: format!("{:?}", self.alg), typ: Some("JWT".into()), x5c: self.x5c.clone() };
        let header = serde_json::to_vec(&header).map_err(|e| SbiError::Keys { reason: e.to_string() })?;
        let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
        let signature = jsonwebtoken::crypto::sign(input.as_bytes(), &self.key, self.alg.jwt())
            .map_err(|e| SbiError::Keys { reason: format!("signing: {e}") })?;
        Ok(format!("{input}.{signature}"))
    }
}

/// Decodes a payload that came unsigned (base64url or, as MOSIP's mock writes its digital ids,
/// padded standard base64).
pub fn decode_unsigned(what: &str, text: &str) -> Result<Vec<u8>, SbiError> {
    if text.len() > MAX_JWS_BYTES {
        return Err(SbiError::TooLarge { what: what.to_owned(), limit: MAX_JWS_BYTES });
    }
    let trimmed = text.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
        .map_err(|e| SbiError::malformed(what, format!("not base64: {e}")))
}
