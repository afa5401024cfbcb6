//! # signer — the PKI of Drukyul ID
//!
//! This crate will hold (see the signer issue and `DESIGN.md`, "Signer"):
//! - the CA hierarchy made by `idp ca init`: a root CA, an issuing CA for citizen signing
//!   certificates, an OCSP responder certificate and a timestamping (TSA) certificate, with keys in
//!   software (encrypted at rest) or in a PKCS#11 token;
//! - citizen signing certificates (`serialNumber` = `IDCBT-<CID>`, nonRepudiation);
//! - CSC-style remote signing: detached CMS SignedData (CAdES-B-B and B-T) over digests that the
//!   citizen approved with a passkey, and PAdES preparation helpers;
//! - RFC 3161 timestamps, RFC 6960 OCSP, CRLs and signature verification.
//!
//! The identity provider mounts its HTTP routes (`/sign/*`, `/ca/*`, `/ocsp`, `/tsa`).
//! Nothing is implemented yet: this crate only reserves its place in the workspace.
#![forbid(unsafe_code)]

/// The crate's version, so the identity provider can report which signer it mounts.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
