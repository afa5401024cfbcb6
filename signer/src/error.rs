//! The crate's one error type.

/// Everything that can go wrong in this crate.
///
/// Input errors (`InvalidCid`, `InvalidName`, `InvalidUrl`, `InvalidValidity`, `UnsupportedKey`,
/// `InvalidDigest`, ...) carry enough detail to show an operator which field to fix; none of them
/// carries key material.
///
/// Malformed or unsupported *protocol requests* (RFC 3161 timestamp requests, RFC 6960 OCSP
/// requests) are not errors: they are answered on the wire with the protocol's own rejection
/// (PKIStatusInfo failInfo, OCSP `malformedRequest`/`unauthorized`). An `Err` from those
/// functions means the service itself failed (a key or encoder), which the caller logs and
/// answers with [`crate::tsa::system_failure_response`] or [`crate::ocsp::internal_error_response`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The citizen identity number is not exactly 11 ASCII digits.
    #[error("a CID is exactly 11 digits")]
    InvalidCid,
    /// A name (person or certificate subject) is empty, too long or contains control characters.
    #[error("invalid {field}: {reason}")]
    InvalidName {
        /// Which field was rejected (for example `given name`).
        field: &'static str,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A URL for the CRL, OCSP or CA-issuers endpoint is unusable.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A validity period is empty, out of range, or would outlive its issuer.
    #[error("invalid validity: {0}")]
    InvalidValidity(&'static str),
    /// A subject public key or CA key is not an ECDSA P-256 key, or does not match its certificate.
    #[error("unsupported or mismatched key: {0}")]
    UnsupportedKey(&'static str),
    /// A digest handed in as SHA-256 is not 32 bytes long.
    #[error("a SHA-256 digest is exactly 32 bytes")]
    InvalidDigest,
    /// A certificate is not fit for the role it was given: a TSA certificate without the
    /// critical timeStamping EKU, an OCSP responder not delegated by the issuer, a CRL issuer
    /// without cRLSign, or a signing certificate that is not valid at the signing time.
    #[error("unsuitable certificate: {0}")]
    UnsuitableCertificate(&'static str),
    /// A CMS signature handed back to this crate (to add a timestamp) is not one it can extend.
    #[error("invalid CMS signature: {0}")]
    InvalidSignature(&'static str),
    /// A timestamp token is malformed or does not cover what it should.
    #[error("invalid timestamp token: {0}")]
    InvalidTimestamp(&'static str),
    /// A revocation entry for a CRL is unusable (duplicate serial, revoked in the future, ...).
    #[error("invalid revocation: {0}")]
    InvalidRevocation(&'static str),
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Random,
    /// The signing key produced a malformed signature or one that does not verify. (A token that
    /// refuses to sign is reported as [`Error::Pkcs11`].)
    #[error("signing failed: {0}")]
    Signing(String),
    /// A PKCS#11 module, token or key could not be used: the module would not load, the token
    /// is missing or locked, the PIN was refused, a key is missing or unfit for a CA (for example
    /// extractable), or the token refused an operation. `operation` names what was being done and
    /// `reason` the token's return code or what was wrong — never the PIN.
    #[error("PKCS#11: could not {operation}: {reason}")]
    Pkcs11 {
        /// What was being done, for example `log in` or `sign`.
        operation: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// A signature field's name, reason, location, signer name or reserved size is unusable, or
    /// the name is already taken in the document.
    #[error("invalid signature field {field}: {reason}")]
    InvalidSignatureField {
        /// Which setting was rejected (for example `field name`).
        field: &'static str,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The input could not be read as a PDF (the parser's message).
    #[error("invalid PDF: {0}")]
    InvalidPdf(String),
    /// The PDF is readable but not one this crate will sign (encrypted, a damaged
    /// cross-reference, no page, too large, or not prepared for signing).
    #[error("unsupported PDF: {0}")]
    UnsupportedPdf(&'static str),
    /// A CMS signature does not fit the room reserved for it in a prepared PDF: prepare the
    /// document again with more room.
    #[error("the signature is {size} bytes but only {reserved} were reserved")]
    SignatureTooLarge {
        /// The CMS's size in bytes.
        size: usize,
        /// The bytes reserved in the PDF.
        reserved: usize,
    },
    /// ASN.1 DER encoding or decoding failed.
    #[error("DER encoding: {0}")]
    Der(#[from] der::Error),
    /// The certificate builder rejected its input.
    #[error("certificate builder: {0}")]
    Builder(#[from] x509_cert::builder::Error),
    /// PKCS#8 encoding or decoding of a private key failed (details withheld on purpose).
    #[error("PKCS#8 private key encoding")]
    Pkcs8,
}

/// The crate's result type.
pub type Result<T> = core::result::Result<T, Error>;
