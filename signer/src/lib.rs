//! # signer — the PKI of Drukyul ID
//!
//! ## Implemented now
//! - [`ca`]: [`Hierarchy::generate`] makes the CA hierarchy with ECDSA P-256 keys — a root CA,
//!   an issuing CA for citizen signing certificates, an OCSP responder certificate and a
//!   timestamping (TSA) certificate — and [`Hierarchy::chain_pem`] the chain served at
//!   `/ca/chain.pem`. Certificates point relying parties at `/ca/crl`, `/ca/root-crl`, `/ocsp`,
//!   `/ca/issuing.crt` and `/ca/root.crt` ([`Endpoints`]), which the identity provider will serve.
//! - [`citizen`]: [`citizen::generate_key`] and [`citizen::issue_signing_certificate`] for a
//!   validated [`citizen::Person`] (`serialNumber` = `IDCBT-<CID>`, keyUsage nonRepudiation).
//! - [`CaKey`]: the signing seam. [`SoftwareKey`] is the only implementation today.
//!
//! Private keys come back as [`PrivateKeyDer`] (PKCS#8 DER, zeroized on drop, redacted in
//! `Debug`). **This library never writes keys anywhere**: the caller seals them under its
//! key-encryption key. Time is a parameter (`now`, Unix seconds), so tests control it.
//!
//! Certificates are built with x509-cert's builder and typed extensions (no hand-written DER)
//! and every signature is verified before a certificate is returned.
//!
//! ## Next
//! - `idp ca init`: seal the keys under the KEK and store certificates and sealed keys.
//! - PKCS#11 (SoftHSM2 in tests): a [`CaKey`] backed by a token, keys generated in it.
//! - CRLs (`/ca/crl` from the issuing CA, `/ca/root-crl` from the root), the OCSP responder
//!   (`/ocsp`, RFC 6960) and the TSA (`/tsa`, RFC 3161).
//! - CSC-style signing requests approved with a passkey, detached CMS SignedData (CAdES-B-B with
//!   signingCertificateV2, B-T with a timestamp) and PAdES, and the verification API.
//!
//! The identity provider mounts the HTTP routes (`/sign/*`, `/ca/*`, `/ocsp`, `/tsa`).
#![forbid(unsafe_code)]

pub mod ca;
mod cert;
pub mod citizen;
mod error;
mod key;
mod name;

pub use ca::{Credential, Hierarchy, HierarchyParams, IssuingCa, certificate_pem};
pub use cert::Endpoints;
pub use error::{Error, Result};
pub use key::{CaKey, PrivateKeyDer, SoftwareKey};
/// The x509-cert version this crate builds with, so callers name the same `Certificate` type.
pub use x509_cert;

/// The crate's version, so the identity provider can report which signer it mounts.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod tests;
