//! The trusted device-provider CAs and X.509 path validation for the certificates devices put in
//! `x5c`.
//!
//! The path is built from the device's certificate upwards: each certificate's issuer is looked
//! for first among the configured trust anchors, then among the other `x5c` certificates; each
//! link is checked for the issuer's signature (RSA PKCS#1 v1.5 or ECDSA, SHA-256/384, through
//! `ring`), for validity at `now`, and — for every certificate that signs another — for
//! basicConstraints CA=true, a path length that allows the rest of the chain and, when keyUsage is
//! present, keyCertSign. The device certificate itself must allow digitalSignature when it has a
//! keyUsage. A chain that ends anywhere but at a configured anchor is refused.

use der::{Decode as _, DecodePem as _, Encode as _};
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_cert::{
    Certificate,
    ext::pkix::{BasicConstraints, KeyUsage},
};

use super::SbiError;

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_SHA256_RSA: &str = "1.2.840.113549.1.1.11";
const OID_SHA384_RSA: &str = "1.2.840.113549.1.1.12";
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";

/// The kind of public key a certificate holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA (the public key is PKCS#1 RSAPublicKey DER).
    Rsa,
    /// ECDSA P-256 (an uncompressed SEC1 point).
    EcP256,
    /// ECDSA P-384.
    EcP384,
}

/// A device certificate whose chain checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedLeaf {
    /// Subject, RFC 4514.
    pub subject: String,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// Its key's kind.
    pub key_kind: KeyKind,
    /// Its key (PKCS#1 for RSA, SEC1 point for EC).
    pub public_key: Vec<u8>,
}

struct Parsed {
    cert: Certificate,
    der: Vec<u8>,
}

/// The device-provider (and FTM) CA certificates a deployment trusts.
#[derive(Clone, Default)]
pub struct TrustStore {
    anchors: Vec<Vec<u8>>,
}

impl std::fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustStore").field("anchors", &self.anchors.len()).finish()
    }
}

impl TrustStore {
    /// Trusts the CA certificates in a PEM bundle.
    pub fn from_pem(pem: &str) -> Result<Self, SbiError> {
        let certs = Certificate::load_pem_chain(pem.as_bytes())
            .map_err(|e| SbiError::malformed("trusted CA bundle", format!("not PEM certificates: {e}")))?;
        let mut store = TrustStore::default();
        for cert in certs {
            let der = cert.to_der().map_err(|e| SbiError::malformed("trusted CA bundle", e))?;
            store.add_der(&der)?;
        }
        Ok(store)
    }

    /// Trusts one CA certificate (DER). It must be a CA (basicConstraints CA=true).
    pub fn add_der(&mut self, der: &[u8]) -> Result<(), SbiError> {
        let cert = Certificate::from_der(der).map_err(|e| SbiError::malformed("trusted CA certificate", e))?;
        let subject = cert.tbs_certificate().subject().to_string();
        if !is_ca(&cert) {
            return Err(SbiError::malformed(
                "trusted CA certificate",
                format!("\"{subject}\" is not a CA certificate"),
            ));
        }
        self.anchors.push(der.to_vec());
        Ok(())
    }

    /// How many anchors.
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// Whether there are none (then nothing verifies).
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// Validates `chain` (device certificate first, then any intermediates) up to an anchor.
    pub fn verify_chain(
        &self,
        what: &str,
        chain: &[Vec<u8>],
        now: time::OffsetDateTime,
    ) -> Result<TrustedLeaf, SbiError> {
        let untrusted = |reason: String| SbiError::Untrusted { what: what.to_owned(), reason };
        let parse = |der: &[u8], i: usize| {
            Certificate::from_der(der)
                .map(|cert| Parsed { cert, der: der.to_vec() })
                .map_err(|e| SbiError::malformed(what, format!("x5c[{i}] is not an X.509 certificate: {e}")))
        };
        let Some(leaf_der) = chain.first() else {
            return Err(untrusted("no certificate".into()));
        };
        let leaf = parse(leaf_der, 0)?;
        let intermediates =
            chain.iter().enumerate().skip(1).map(|(i, d)| parse(d, i)).collect::<Result<Vec<_>, _>>()?;
        let anchors = self.anchors.iter().enumerate().map(|(i, d)| parse(d, i)).collect::<Result<Vec<_>, _>>()?;

        check_validity(&leaf.cert, now)?;
        if let Some(ku) = key_usage(&leaf.cert)
            && !ku.digital_signature()
        {
            return Err(untrusted(format!("\"{}\" may not sign (keyUsage)", subject(&leaf.cert))));
        }
        let (key_kind, public_key) = public_key(&leaf.cert).map_err(&untrusted)?;

        let mut current = &leaf;
        // Certificates below the one being looked at that the issuer will vouch for (for pathLen).
        let mut below = 0u8;
        for _ in 0..=super::jws::MAX_CHAIN {
            let issuer_name = current.cert.tbs_certificate().issuer();
            if let Some(anchor) = anchors
                .iter()
                .find(|a| a.cert.tbs_certificate().subject() == issuer_name && signed_by(current, a).is_ok())
            {
                check_issuer(anchor, below).map_err(&untrusted)?;
                check_validity(&anchor.cert, now)?;
                return Ok(TrustedLeaf { subject: subject(&leaf.cert), der: leaf.der, key_kind, public_key });
            }
            let Some(next) = intermediates.iter().find(|c| c.cert.tbs_certificate().subject() == issuer_name) else {
                return Err(untrusted(format!(
                    "\"{}\" is issued by \"{}\", which is not a trusted device-provider CA",
                    subject(&current.cert),
                    issuer_name
                )));
            };
            if std::ptr::eq(next, current) {
                return Err(untrusted(format!("\"{}\" is self-signed and not trusted", subject(&current.cert))));
            }
            signed_by(current, next).map_err(|reason| SbiError::BadSignature {
                what: format!("{what}: certificate \"{}\"", subject(&current.cert)),
                reason,
            })?;
            check_issuer(next, below).map_err(&untrusted)?;
            check_validity(&next.cert, now)?;
            current = next;
            below = below.saturating_add(1);
        }
        Err(untrusted("the certificate chain is too long".into()))
    }
}

fn subject(cert: &Certificate) -> String {
    cert.tbs_certificate().subject().to_string()
}

fn is_ca(cert: &Certificate) -> bool {
    matches!(cert.tbs_certificate().get_extension::<BasicConstraints>(), Ok(Some((_, bc))) if bc.ca)
}

fn key_usage(cert: &Certificate) -> Option<KeyUsage> {
    cert.tbs_certificate().get_extension::<KeyUsage>().ok().flatten().map(|(_, ku)| ku)
}

/// `issuer` may sign certificates, with `below` CA certificates under it in this path.
fn check_issuer(issuer: &Parsed, below: u8) -> Result<(), String> {
    let name = subject(&issuer.cert);
    match issuer.cert.tbs_certificate().get_extension::<BasicConstraints>() {
        Ok(Some((_, bc))) if bc.ca => {
            if let Some(limit) = bc.path_len_constraint
                && below > limit
            {
                return Err(format!("\"{name}\" allows {limit} CA certificates below it, the chain has {below}"));
            }
        }
        Ok(_) => return Err(format!("\"{name}\" signs certificates but is not a CA (basicConstraints)")),
        Err(e) => return Err(format!("\"{name}\": bad basicConstraints: {e}")),
    }
    if let Some(ku) = key_usage(&issuer.cert)
        && !ku.key_cert_sign()
    {
        return Err(format!("\"{name}\" may not sign certificates (keyUsage)"));
    }
    Ok(())
}

fn check_validity(cert: &Certificate, now: time::OffsetDateTime) -> Result<(), SbiError> {
    let validity = cert.tbs_certificate().validity();
    let to_time = |t: &x509_cert::time::Time| {
        let secs = t.to_unix_duration().as_secs();
        time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(i64::MAX)).ok()
    };
    let (Some(not_before), Some(not_after)) = (to_time(&validity.not_before), to_time(&validity.not_after)) else {
        return Err(SbiError::CertificateValidity { subject: subject(cert), reason: "unreadable validity".into() });
    };
    if now < not_before {
        return Err(SbiError::CertificateValidity {
            subject: subject(cert),
            reason: format!("not valid before {not_before}"),
        });
    }
    if now > not_after {
        return Err(SbiError::CertificateValidity {
            subject: subject(cert),
            reason: format!("expired at {not_after}"),
        });
    }
    Ok(())
}

fn public_key(cert: &Certificate) -> Result<(KeyKind, Vec<u8>), String> {
    let spki = cert.tbs_certificate().subject_public_key_info();
    let bits = spki.subject_public_key.as_bytes().ok_or("the public key is not whole bytes")?.to_vec();
    let alg = spki.algorithm.oid.to_string();
    let kind = if alg == OID_RSA {
        KeyKind::Rsa
    } else if alg == OID_EC {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
            .map(|o| o.to_string());
        match curve.as_deref() {
            Some(OID_P256) => KeyKind::EcP256,
            Some(OID_P384) => KeyKind::EcP384,
            other => return Err(format!("unsupported EC curve {other:?}")),
        }
    } else {
        return Err(format!("unsupported public key algorithm {alg}"));
    };
    Ok((kind, bits))
}

/// `child`'s signature verifies with `issuer`'s key.
fn signed_by(child: &Parsed, issuer: &Parsed) -> Result<(), String> {
    let (kind, key) = public_key(&issuer.cert)?;
    let sig_alg = child.cert.signature_algorithm().oid.to_string();
    let alg: &'static dyn VerificationAlgorithm = match (sig_alg.as_str(), kind) {
        (OID_SHA256_RSA, KeyKind::Rsa) => &signature::RSA_PKCS1_2048_8192_SHA256,
        (OID_SHA384_RSA, KeyKind::Rsa) => &signature::RSA_PKCS1_2048_8192_SHA384,
        (OID_ECDSA_SHA256, KeyKind::EcP256) => &signature::ECDSA_P256_SHA256_ASN1,
        (OID_ECDSA_SHA384, KeyKind::EcP384) => &signature::ECDSA_P384_SHA384_ASN1,
        (OID_ECDSA_SHA256, KeyKind::EcP384) => &signature::ECDSA_P384_SHA256_ASN1,
        (OID_ECDSA_SHA384, KeyKind::EcP256) => &signature::ECDSA_P256_SHA384_ASN1,
        (other, kind) => return Err(format!("unsupported signature algorithm {other} with a {kind:?} key")),
    };
    let tbs = child.cert.tbs_certificate().to_der().map_err(|e| e.to_string())?;
    let sig = child.cert.signature().as_bytes().ok_or("the signature is not whole bytes")?;
    UnparsedPublicKey::new(alg, key)
        .verify(&tbs, sig)
        .map_err(|_| format!("the issuer's signature on \"{}\" does not verify", subject(&child.cert)))?;
    Ok(())
}

/// Parses a PEM certificate (for tests and tools).
pub fn certificate_subject_pem(pem: &str) -> Result<String, SbiError> {
    let cert = Certificate::from_pem(pem.as_bytes()).map_err(|e| SbiError::malformed("certificate", e))?;
    Ok(subject(&cert))
}
