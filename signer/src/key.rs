//! Keys that sign certificates, and the private-key container handed to the caller.
//!
//! [`CaKey`] is the seam for hardware keys and other algorithms. [`SoftwareKey`] is an ECDSA
//! P-256 key held in memory; [`crate::pkcs11::Pkcs11Key`] is one held in a PKCS#11 token
//! (SoftHSM2 in tests, an HSM in production).

use core::fmt;

use der::oid::db::rfc5912::{
    ECDSA_WITH_SHA_256, ID_EC_PUBLIC_KEY as EC_PUBLIC_KEY, RSA_ENCRYPTION, SECP_256_R_1, SHA_256_WITH_RSA_ENCRYPTION,
};
use p256::ecdsa::SigningKey;
use p256::elliptic_curve::Generate;
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
use spki::{AlgorithmIdentifierOwned, EncodePublicKey, SubjectPublicKeyInfoOwned};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// A key this crate signs with: CA keys (certificates, CRLs), the OCSP responder and TSA keys,
/// and citizens' document-signing keys (CMS).
///
/// Every key in the hierarchy is ECDSA P-256, so that is the default algorithm: an
/// implementation returns the DER `Ecdsa-Sig-Value` of `SHA-256(message)`. A PKCS#11
/// implementation hashes, calls `CKM_ECDSA` (SoftHSM 2.6 rejects `CKM_ECDSA_SHA256`) and
/// DER-encodes the raw `r || s` it gets back.
///
/// The algorithm is still a method rather than a constant so that an RSA key (RSASSA-PKCS1-v1_5
/// with SHA-256) can be added by overriding [`CaKey::signature_algorithm`] and teaching
/// the crate's internal self-check to verify that algorithm. Whatever the algorithm, the digest
/// is SHA-256: CMS `digestAlgorithm`s are written as SHA-256.
pub trait CaKey: Send + Sync {
    /// The key's public half, exactly as it appears in the key's certificate.
    fn public_key(&self) -> &SubjectPublicKeyInfoOwned;
    /// Signs `message` (by default ECDSA P-256 over SHA-256) and returns the signature as it
    /// goes into a certificate's or CMS signature field (for ECDSA: DER `Ecdsa-Sig-Value`).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>>;
    /// The algorithm of the signatures [`CaKey::sign`] returns, as written into certificates,
    /// CRLs, OCSP responses and CMS `SignerInfo`s. Default: ecdsa-with-SHA256 with absent
    /// parameters (RFC 5758 3.2).
    fn signature_algorithm(&self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned { oid: ECDSA_WITH_SHA_256, parameters: None }
    }
}

/// Signs `message` with `key` and verifies the signature before anyone sees it.
///
/// A faulty token, or a key that is not the one its certificate names, must fail here and not
/// at a relying party: everything this crate publishes is signed through this function.
pub(crate) fn sign_checked(key: &dyn CaKey, message: &[u8]) -> Result<Vec<u8>> {
    let signature = key.sign(message)?;
    verify_signature(key.public_key(), &key.signature_algorithm(), message, &signature)?;
    Ok(signature)
}

/// Verifies `signature` over `message` under `public_key` with `algorithm`.
///
/// ecdsa-with-SHA256 over P-256 and sha256WithRSAEncryption (RSASSA-PKCS1-v1_5, 2048 to 8192
/// bits) are known; any other algorithm is refused (fail closed: an algorithm we cannot check is
/// never used).
pub(crate) fn verify_signature(
    public_key: &SubjectPublicKeyInfoOwned,
    algorithm: &AlgorithmIdentifierOwned,
    message: &[u8],
    signature: &[u8],
) -> Result<()> {
    if algorithm.oid == SHA_256_WITH_RSA_ENCRYPTION {
        return verify_rsa(public_key, algorithm, message, signature);
    }
    if algorithm.oid != ECDSA_WITH_SHA_256 || algorithm.parameters.is_some() {
        return Err(Error::UnsupportedKey(
            "only ecdsa-with-SHA256 and sha256WithRSAEncryption signatures are supported",
        ));
    }
    // ring (BoringSSL's P-256): several times faster than the pure-Rust path, and every
    // signature this crate makes goes through here once more.
    let curve = public_key.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<der::oid::ObjectIdentifier>().ok());
    if public_key.algorithm.oid != EC_PUBLIC_KEY || curve != Some(SECP_256_R_1) {
        return Err(Error::UnsupportedKey("the key is not an ECDSA P-256 key"));
    }
    let point =
        public_key.subject_public_key.as_bytes().ok_or(Error::UnsupportedKey("the key is not an ECDSA P-256 key"))?;
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, point)
        .verify(message, signature)
        .map_err(|_| Error::Signing("the key's signature does not verify".into()))
}

/// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017), parameters NULL or absent (RFC 4055 2.1 asks
/// for NULL and notes both are seen), under an `rsaEncryption` key of 2048 to 8192 bits.
fn verify_rsa(
    public_key: &SubjectPublicKeyInfoOwned,
    algorithm: &AlgorithmIdentifierOwned,
    message: &[u8],
    signature: &[u8],
) -> Result<()> {
    let null_or_absent = algorithm.parameters.as_ref().is_none_or(|p| p.is_null());
    if !null_or_absent {
        return Err(Error::UnsupportedKey("sha256WithRSAEncryption takes NULL parameters"));
    }
    if public_key.algorithm.oid != RSA_ENCRYPTION {
        return Err(Error::UnsupportedKey("the key is not an RSA key"));
    }
    let rsa_public_key =
        public_key.subject_public_key.as_bytes().ok_or(Error::UnsupportedKey("the key is not an RSA key"))?;
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, rsa_public_key)
        .verify(message, signature)
        .map_err(|_| Error::Signing("the key's signature does not verify".into()))
}

/// Whether `key` is the key certified by `certificate`.
pub(crate) fn check_key_matches(key: &dyn CaKey, certificate: &x509_cert::Certificate) -> Result<()> {
    if key.public_key() == certificate.tbs_certificate().subject_public_key_info() {
        Ok(())
    } else {
        Err(Error::UnsupportedKey("the key does not belong to the certificate"))
    }
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
    /// The same key for ring, which signs (ECDSA with a fresh random nonce) several times
    /// faster than the pure-Rust path; `signing_key` still generates and exports it.
    ring_key: ring::signature::EcdsaKeyPair,
    rng: ring::rand::SystemRandom,
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
        let point = public_key.subject_public_key.as_bytes().ok_or(Error::Pkcs8)?;
        let scalar = Zeroizing::new(signing_key.to_bytes());
        let rng = ring::rand::SystemRandom::new();
        let ring_key = ring::signature::EcdsaKeyPair::from_private_key_and_public_key(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            scalar.as_slice(),
            point,
            &rng,
        )
        .map_err(|_| Error::Pkcs8)?;
        Ok(Self { signing_key, ring_key, rng, public_key })
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
        let signature =
            self.ring_key.sign(&self.rng, message).map_err(|_| Error::Signing("ECDSA signing failed".into()))?;
        Ok(signature.as_ref().to_vec())
    }
}

/// An RSA key held in memory, for citizens' signing certificates where RSA is configured
/// (RSASSA-PKCS1-v1_5 with SHA-256: what the widest range of older validators accepts). The
/// CA hierarchy itself stays ECDSA P-256.
pub struct RsaSoftwareKey {
    key: ring::signature::RsaKeyPair,
    pkcs8: PrivateKeyDer,
    rng: ring::rand::SystemRandom,
    public_key: SubjectPublicKeyInfoOwned,
}

impl RsaSoftwareKey {
    /// The smallest modulus generated or accepted.
    pub const MIN_BITS: usize = 2048;

    /// Generates a fresh key of `bits` (2048 to 4096) from the operating system's random
    /// number generator. Seconds of work at 3072 bits and more: callers generate off the
    /// request path or accept that wait once per citizen.
    pub fn generate(bits: usize) -> Result<Self> {
        use rsa::pkcs8::EncodePrivateKey as _;
        if !(Self::MIN_BITS..=4096).contains(&bits) {
            return Err(Error::UnsupportedKey("RSA keys are 2048 to 4096 bits"));
        }
        let mut os = rsa::rand_core::UnwrapErr(getrandom::SysRng);
        let key = rsa::RsaPrivateKey::new(&mut os, bits).map_err(|_| Error::Random)?;
        let der = key.to_pkcs8_der().map_err(|_| Error::Pkcs8)?;
        Self::from_pkcs8_der(der.as_bytes())
    }

    /// Loads a key from PKCS#8 DER.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        let key = ring::signature::RsaKeyPair::from_pkcs8(der).map_err(|_| Error::Pkcs8)?;
        if key.public().modulus_len() * 8 < Self::MIN_BITS {
            return Err(Error::UnsupportedKey("RSA keys are at least 2048 bits"));
        }
        let public_key = SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned { oid: RSA_ENCRYPTION, parameters: Some(der::asn1::Any::null()) },
            subject_public_key: der::asn1::BitString::from_bytes(key.public().as_ref())?,
        };
        Ok(Self {
            key,
            pkcs8: PrivateKeyDer(Zeroizing::new(der.to_vec())),
            rng: ring::rand::SystemRandom::new(),
            public_key,
        })
    }

    /// The private key as PKCS#8 DER, for the caller to seal.
    pub fn to_pkcs8_der(&self) -> PrivateKeyDer {
        PrivateKeyDer(self.pkcs8.0.clone())
    }
}

impl fmt::Debug for RsaSoftwareKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RsaSoftwareKey(<redacted>)")
    }
}

impl CaKey for RsaSoftwareKey {
    fn public_key(&self) -> &SubjectPublicKeyInfoOwned {
        &self.public_key
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(&ring::signature::RSA_PKCS1_SHA256, &self.rng, message, &mut signature)
            .map_err(|_| Error::Signing("RSA signing failed".into()))?;
        Ok(signature)
    }

    fn signature_algorithm(&self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned { oid: SHA_256_WITH_RSA_ENCRYPTION, parameters: Some(der::asn1::Any::null()) }
    }
}

/// A document-signing key in software, whichever algorithm its PKCS#8 says (what the identity
/// provider unseals to sign a citizen's or an agency's documents).
pub fn software_key_from_pkcs8(der: &[u8]) -> Result<Box<dyn CaKey>> {
    let info = p256::pkcs8::PrivateKeyInfoRef::try_from(der).map_err(|_| Error::Pkcs8)?;
    if info.algorithm.oid == RSA_ENCRYPTION {
        Ok(Box::new(RsaSoftwareKey::from_pkcs8_der(der)?))
    } else {
        Ok(Box::new(SoftwareKey::from_pkcs8_der(der)?))
    }
}

/// Checks that `spki` is a key citizens' certificates may certify: ECDSA P-256 with a valid
/// curve point, or RSA of at least 2048 bits with a well-formed public key.
pub(crate) fn check_signing_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<()> {
    if spki.algorithm.oid != RSA_ENCRYPTION {
        return check_p256_spki(spki);
    }
    let der = der::Encode::to_der(spki)?;
    use rsa::pkcs8::DecodePublicKey as _;
    let key = rsa::RsaPublicKey::from_public_key_der(&der)
        .map_err(|_| Error::UnsupportedKey("the subject public key is not a valid RSA key"))?;
    if rsa::traits::PublicKeyParts::size(&key) * 8 < RsaSoftwareKey::MIN_BITS {
        return Err(Error::UnsupportedKey("RSA keys are at least 2048 bits"));
    }
    Ok(())
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
