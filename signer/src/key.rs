//! Keys that sign certificates, and the private-key container handed to the caller.
//!
//! [`CaKey`] is the seam for hardware keys: a PKCS#11 token (SoftHSM2 in tests, an HSM in
//! production) will implement it in a later slice. Today the only implementation is
//! [`SoftwareKey`], an ECDSA P-256 key held in memory.

use core::fmt;

use p256::ecdsa::{DerSignature, SigningKey, signature::Signer};
use p256::elliptic_curve::Generate;
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
use spki::{EncodePublicKey, SubjectPublicKeyInfoOwned};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// A key able to sign certificates: ECDSA over P-256 with SHA-256.
///
/// Every key in the hierarchy is P-256, so the algorithm is part of the contract rather than a
/// parameter: an implementation returns the DER `Ecdsa-Sig-Value` of `SHA-256(message)`.
/// A PKCS#11 implementation hashes, calls `CKM_ECDSA` (SoftHSM 2.6 rejects `CKM_ECDSA_SHA256`)
/// and DER-encodes the raw `r || s` it gets back.
pub trait CaKey: Send + Sync {
    /// The key's public half, exactly as it appears in the key's certificate.
    fn public_key(&self) -> &SubjectPublicKeyInfoOwned;
    /// Signs `message` (ECDSA P-256, SHA-256) and returns the DER-encoded signature.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>>;
}

/// A PKCS#8 (RFC 5958) DER-encoded private key.
///
/// The bytes are wiped when the value is dropped and never appear in `Debug` output. This library
/// never writes keys anywhere: the caller (the identity provider) seals them under its
/// key-encryption key before storing them.
pub struct PrivateKeyDer(Zeroizing<Vec<u8>>);

impl PrivateKeyDer {
    /// The PKCS#8 DER bytes, to be sealed by the caller.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for PrivateKeyDer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKeyDer(<redacted>)")
    }
}

/// An ECDSA P-256 key held in memory (the software backend of [`CaKey`]).
///
/// `p256`'s signing key zeroizes its scalar on drop.
pub struct SoftwareKey {
    signing_key: SigningKey,
    public_key: SubjectPublicKeyInfoOwned,
}

impl SoftwareKey {
    /// Generates a fresh P-256 key from the operating system's random number generator.
    pub fn generate() -> Result<Self> {
        let signing_key = SigningKey::try_generate().map_err(|_| Error::Random)?;
        Self::from_signing_key(signing_key)
    }

    /// Loads a key from PKCS#8 DER (for example after the caller unsealed it).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        let signing_key = SigningKey::from_pkcs8_der(der).map_err(|_| Error::Pkcs8)?;
        Self::from_signing_key(signing_key)
    }

    fn from_signing_key(signing_key: SigningKey) -> Result<Self> {
        let document = signing_key.verifying_key().to_public_key_der().map_err(|_| Error::Pkcs8)?;
        let public_key = document.decode_msg::<SubjectPublicKeyInfoOwned>()?;
        Ok(Self { signing_key, public_key })
    }

    /// The private key as PKCS#8 DER, for the caller to seal.
    pub fn to_pkcs8_der(&self) -> Result<PrivateKeyDer> {
        let document = self.signing_key.to_pkcs8_der().map_err(|_| Error::Pkcs8)?;
        Ok(PrivateKeyDer(Zeroizing::new(document.as_bytes().to_vec())))
    }
}

impl fmt::Debug for SoftwareKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SoftwareKey(<redacted>)")
    }
}

impl CaKey for SoftwareKey {
    fn public_key(&self) -> &SubjectPublicKeyInfoOwned {
        &self.public_key
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let signature: DerSignature = self.signing_key.try_sign(message).map_err(|e| Error::Signing(e.to_string()))?;
        Ok(signature.as_bytes().to_vec())
    }
}

/// Checks that `spki` is an ECDSA P-256 public key with a valid curve point.
///
/// Citizen keys are P-256 by design (the service generates them); refusing anything else here
/// keeps an RSA or off-curve key from ever being certified by mistake.
pub(crate) fn check_p256_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<()> {
    let der = der::Encode::to_der(spki)?;
    p256::PublicKey::from_public_key_der(&der)
        .map(|_| ())
        .map_err(|_| Error::UnsupportedKey("the subject public key is not a valid ECDSA P-256 key"))
}
