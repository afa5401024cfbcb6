//! # signer — the PKI of Drukyul ID
//!
//! A library, no HTTP and no database: the identity provider mounts the routes (`/sign/*`,
//! `/ca/*`, `/ocsp`, `/tsa`), keeps the records (issued and revoked certificates, CRL numbers)
//! and calls the functions here with bytes, records and `now`.
//!
//! ## Implemented now
//! - [`es256`]: ES256 verification against a public key prepared once into a table of its
//!   multiples, about three times faster than a general verifier, for the JWTs that the identity
//!   provider and the agencies' APIs check on every request.
//! - [`ca`]: [`Hierarchy::generate`] makes the CA hierarchy with ECDSA P-256 keys — a root CA,
//!   an issuing CA for citizen signing certificates, an OCSP responder certificate and a
//!   timestamping (TSA) certificate — and [`Hierarchy::chain_pem`] the chain served at
//!   `/ca/chain.pem`. Certificates point relying parties at `/ca/crl`, `/ca/root-crl`, `/ocsp`,
//!   `/ca/issuing.crt` and `/ca/root.crt` ([`Endpoints`]), which the identity provider will serve.
//! - [`citizen`]: [`citizen::generate_key`] and [`citizen::issue_signing_certificate`] for a
//!   validated [`citizen::Person`] (`serialNumber` = `IDCBT-<CID>`, keyUsage nonRepudiation).
//! - [`cms`]: [`cms::CmsSigner::sign_digest`] makes a detached CMS SignedData (RFC 5652) over a
//!   document's [`Sha256Digest`] with the CAdES-B-B signed attributes (content-type,
//!   message-digest, signing-time, signingCertificateV2); [`cms::CadesSignature`] takes an
//!   RFC 3161 token over its signature value as the signature-time-stamp (CAdES-B-T).
//!   [`cms::CmsSigner::for_pades`] leaves signing-time out, as PAdES requires (the time is the
//!   PDF signature dictionary's `/M`).
//! - [`pades`]: PDF signatures in three steps around the citizen's approval —
//!   [`pades::prepare`] appends an incremental update with an invisible signature field and a
//!   zero-filled `/Contents` placeholder and returns the [`Sha256Digest`] of its `/ByteRange`;
//!   the digest is signed like any other ([`cms::CmsSigner::for_pades`], plus a signature
//!   timestamp for B-T); [`pades::embed`] writes the CMS into the placeholder, giving a PAdES
//!   B-B or B-T document. Input PDFs are parsed with lopdf (cross-reference tables or streams,
//!   earlier incremental updates and signatures); encrypted PDFs are refused.
//! - [`tsa`]: [`tsa::TimestampAuthority::respond`] answers a DER RFC 3161 `TimeStampReq` with a
//!   `TimeStampResp` (SHA-256 only; rejections carry the RFC's failInfo), and
//!   [`tsa::TimestampAuthority::timestamp`] stamps a digest in-process for B-T signatures.
//! - [`crl`]: [`crl::issue_crl`] (and [`IssuingCa::issue_crl`]) make complete X.509 v2 CRLs with
//!   cRLNumber, authorityKeyIdentifier and reason codes.
//! - [`ocsp`]: [`ocsp::OcspResponder::respond`] answers a DER RFC 6960 `OCSPRequest` (SHA-1 or
//!   SHA-256 CertIDs, nonce echoed) with a BasicOCSPResponse signed by the delegated responder,
//!   the statuses coming from the caller's records.
//! - [`verify`]: [`verify::Verifier::verify`] checks a detached CAdES-B-B/B-T signature as a
//!   relying party must — one SignerInfo, SHA-256 and ECDSA P-256, the signed attributes
//!   (content-type, message-digest against the document's digest, signing-time,
//!   signingCertificateV2), the signature, the path to the caller's roots valid at the signing
//!   time, the signature-time-stamp (TSA signature, EKU, path, imprint over the signature value),
//!   and revocation from the caller's [`verify::RevocationStatus`] — and returns a
//!   [`verify::Report`]: valid or the failing check ([`verify::Failure`]), the signer's name
//!   attributes (the `IDCBT-<CID>` serialNumber separately, so it can be withheld), the
//!   certificate serial, claimed and timestamped signing times, the TSA, and the certificate's
//!   status at the signing time. Judged against signatures made by `openssl cms -sign -cades`.
//! - [`CaKey`]: the signing seam, used for every signature above. Two implementations:
//!   [`SoftwareKey`] (in memory) and [`pkcs11::Pkcs11Key`] (in a PKCS#11 token). The signature
//!   algorithm is a method (ECDSA P-256 with SHA-256 by default) so that RSA can be added
//!   without touching the protocols.
//! - [`pkcs11`]: [`Pkcs11Token::open`] logs in to a token found by label (module path and
//!   [`UserPin`] from the caller's configuration); [`Pkcs11Token::generate_key`] makes a P-256
//!   key pair inside it (sensitive, never extractable, `CKA_ID` = the certificate's subject key
//!   identifier) and [`Pkcs11Token::find_key`] finds one again, refusing a key that could be
//!   copied out. Signing is SHA-256 here and `CKM_ECDSA` in the token. Tested against SoftHSM2.
//! - Where the CA keys are made is the caller's choice, per key: [`Hierarchy::generate`] makes
//!   all four in software; [`Hierarchy::generate_with`] takes [`KeySources`] (software, or a
//!   token and a label, for each of root, issuing CA, OCSP responder and TSA) and hands each key
//!   back as a [`KeyRef`]: the PKCS#8 of a software key, or the token and label of a token key.
//!
//! Every signature is verified right after it is made, before anything is returned, so a faulty
//! token or a mismatched key fails here and not at a relying party. Each protocol's output is
//! judged in the tests by the `openssl` command line (`cms -verify -cades`, `ts -verify`,
//! `crl`, `verify -crl_check`, `ocsp -respin`) — with software keys, and with token keys in a
//! throwaway SoftHSM2 token when `TEST_SOFTHSM2=1` (`.ci/softhsm2` installs SoftHSM2). Signed
//! PDFs are judged by poppler's `pdfsig` and pyHanko's `pyhanko sign validate` when
//! `TEST_PDF_TOOLS=1` (`.ci/pdf-tools` installs them).
//!
//! Software private keys come back as [`PrivateKeyDer`] (PKCS#8 DER, zeroized on drop, redacted
//! in `Debug`). **This library never writes keys anywhere** except token keys into their token:
//! the caller seals software keys under its key-encryption key and records token keys' labels.
//! The token's PIN is a [`UserPin`], zeroized and redacted likewise. Time is a parameter (`now`,
//! Unix seconds), so tests control it.
//!
//! Certificates, CRLs and CMS structures are built from typed ASN.1 (x509-cert, cms); the
//! RFC 3161, RFC 5035 and RFC 6960 structures that have no crate on the der 0.8 line are
//! declared with `der`'s derive macros beside the code that uses them — no hand-written DER.
//!
//! ## Next
//! - A pool of PKCS#11 sessions, and reopening a token whose session was lost (today each token
//!   has one mutex-guarded session, and a lost session is an error until it is reopened).
//! - [`verify`]: timestamps signed with the older ESS signingCertificate (SHA-1, what
//!   `openssl ts` writes by default), several signature-time-stamps, and archive timestamps
//!   (B-LTA) for signatures whose TSA certificate was later revoked.
//! - PAdES B-LT/B-LTA (a DSS with certificates, OCSP responses and CRLs, and a document
//!   timestamp), and a visible signature appearance.
//!
//! (`idp ca init`, RSA citizen keys ([`RsaSoftwareKey`]) and the SDK's PAdES helper, once listed
//! here, have landed.)
#![forbid(unsafe_code)]

pub mod ca;
mod cert;
pub mod citizen;
pub mod cms;
pub mod crl;
mod digest;
mod error;
pub mod es256;
mod key;
mod name;
pub mod ocsp;
pub mod pades;
pub mod pkcs11;
pub mod seal;
mod signed_data;
pub mod tsa;
pub mod verify;

pub use ca::{Credential, Hierarchy, HierarchyParams, IssuingCa, KeyRef, KeySource, KeySources, certificate_pem};
pub use cert::Endpoints;
pub use digest::Sha256Digest;
pub use error::{Error, Result};
pub use key::{CaKey, PrivateKeyDer, RsaSoftwareKey, SoftwareKey, software_key_from_pkcs8};
pub use pkcs11::{Pkcs11Key, Pkcs11Token, UserPin};
/// The x509-cert version this crate builds with, so callers name the same `Certificate` type.
pub use x509_cert;

/// The crate's version, so the identity provider can report which signer it mounts.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod tests;
