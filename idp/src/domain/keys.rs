//! Signing keys: generation, JWK publication, JWS signing, and encryption at rest.
//!
//! Signing uses `ring` (ECDSA P-256 costs about 35 µs here, the cheapest path to the token
//! endpoint's throughput target); RSA keys are generated with the `rsa` crate because `ring`
//! cannot generate them. Private keys are stored as PKCS#8, sealed with AES-256-GCM under the
//! key-encryption key, with the `kid` as associated data so a sealed key cannot be swapped
//! into another row.
//!
//! Lifecycle is computed from timestamps, never from a flag one instance flips: a key signs
//! from `activates_at` until `retires_at`, and is published in JWKS from `created_at` until
//! `removed_at`. Every instance re-reads the table periodically and so agrees without talking
//! to the others.

use std::{
    fmt,
    sync::{Arc, OnceLock},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use ring::{
    aead,
    rand::{SecureRandom, SystemRandom},
    signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use signer::es256::PreparedKey;

use crate::error::{Error, Result};

/// A JWS algorithm we sign with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum SigningAlg {
    /// ECDSA P-256 with SHA-256: the default.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, for clients whose libraries know nothing else.
    RS256,
    /// Ed25519.
    EdDSA,
}

impl SigningAlg {
    /// Every algorithm, in discovery order.
    pub const ALL: [SigningAlg; 3] = [SigningAlg::ES256, SigningAlg::RS256, SigningAlg::EdDSA];

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::ES256 => "ES256",
            SigningAlg::RS256 => "RS256",
            SigningAlg::EdDSA => "EdDSA",
        }
    }

    /// Parses a JOSE name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "ES256" => Ok(SigningAlg::ES256),
            "RS256" => Ok(SigningAlg::RS256),
            "EdDSA" => Ok(SigningAlg::EdDSA),
            other => Err(Error::Invalid(format!("unsupported signing algorithm {other:?} (ES256, RS256, EdDSA)"))),
        }
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

enum Pair {
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

/// A private signing key ready to sign, with its public JWK.
pub struct SigningKey {
    kid: String,
    alg: SigningAlg,
    pair: Pair,
    public_jwk: serde_json::Value,
    decoding: jsonwebtoken::DecodingKey,
    /// The public key in the form ring verifies with.
    public: Vec<u8>,
    /// For ES256, the public key prepared for fast verification on first use (userinfo and
    /// introspection verify on every call); shared with the same key in the next snapshot.
    prepared: Arc<OnceLock<Option<PreparedKey>>>,
    rng: SystemRandom,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

/// A newly generated key: PKCS#8 to seal and store, and the usable key.
pub struct GeneratedKey {
    /// The unsealed PKCS#8 document; seal it before it leaves memory.
    pub pkcs8: Vec<u8>,
    /// The key.
    pub key: SigningKey,
}

impl SigningKey {
    /// Generates a fresh key for `alg`. RSA keys are 2048-bit (enough until 2030 per NIST SP
    /// 800-57; OIDC clients universally accept them).
    pub fn generate(alg: SigningAlg) -> Result<GeneratedKey> {
        let rng = SystemRandom::new();
        let pkcs8 = match alg {
            SigningAlg::ES256 => EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| Error::Crypto("ECDSA key generation failed".into()))?
                .as_ref()
                .to_vec(),
            SigningAlg::EdDSA => Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|_| Error::Crypto("Ed25519 key generation failed".into()))?
                .as_ref()
                .to_vec(),
            SigningAlg::RS256 => {
                use rsa::pkcs8::EncodePrivateKey;
                let mut os = rsa::rand_core::UnwrapErr(getrandom::SysRng);
                let key = rsa::RsaPrivateKey::new(&mut os, 2048)
                    .map_err(|e| Error::Crypto(format!("RSA key generation failed: {e}")))?;
                key.to_pkcs8_der()
                    .map_err(|e| Error::Crypto(format!("RSA key encoding failed: {e}")))?
                    .as_bytes()
                    .to_vec()
            }
        };
        let key = Self::from_pkcs8(alg, &pkcs8)?;
        Ok(GeneratedKey { pkcs8, key })
    }

    /// Loads a key from PKCS#8; the `kid` is the RFC 7638 thumbprint of its public JWK.
    pub fn from_pkcs8(alg: SigningAlg, der: &[u8]) -> Result<Self> {
        let rng = SystemRandom::new();
        let bad = |_| Error::Crypto(format!("stored {alg} key is not valid PKCS#8"));
        let (pair, jwk, public) = match alg {
            SigningAlg::ES256 => {
                let p =
                    EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng).map_err(bad)?;
                let pt = p.public_key().as_ref();
                // Uncompressed SEC1 point: 0x04 || X (32) || Y (32).
                if pt.len() != 65 {
                    return Err(Error::Crypto("unexpected P-256 public key length".into()));
                }
                let jwk = json!({"crv": "P-256", "kty": "EC", "x": B64.encode(&pt[1..33]), "y": B64.encode(&pt[33..])});
                let public = pt.to_vec();
                (Pair::Ec(p), jwk, public)
            }
            SigningAlg::EdDSA => {
                let p = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(bad)?;
                let jwk = json!({"crv": "Ed25519", "kty": "OKP", "x": B64.encode(p.public_key().as_ref())});
                let public = p.public_key().as_ref().to_vec();
                (Pair::Ed(p), jwk, public)
            }
            SigningAlg::RS256 => {
                let p = RsaKeyPair::from_pkcs8(der).map_err(bad)?;
                let comps: signature::RsaPublicKeyComponents<Vec<u8>> = p.public().into();
                let jwk = json!({"e": B64.encode(&comps.e), "kty": "RSA", "n": B64.encode(&comps.n)});
                let public = p.public().as_ref().to_vec();
                (Pair::Rsa(p), jwk, public)
            }
        };
        let kid = thumbprint(&jwk)?;
        let mut public_jwk = jwk;
        if let Some(obj) = public_jwk.as_object_mut() {
            obj.insert("kid".into(), kid.clone().into());
            obj.insert("alg".into(), alg.as_str().into());
            obj.insert("use".into(), "sig".into());
        }
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(public_jwk.clone())
            .map_err(|e| Error::Crypto(format!("own JWK unreadable: {e}")))?;
        let decoding =
            jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|e| Error::Crypto(format!("own JWK unusable: {e}")))?;
        Ok(Self { kid, alg, pair, public_jwk, decoding, public, prepared: Arc::default(), rng })
    }

    /// The key id (JWK thumbprint).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm.
    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// The public JWK with `kid`, `alg` and `use`.
    pub fn public_jwk(&self) -> &serde_json::Value {
        &self.public_jwk
    }

    /// The verification key, for checking tokens this server issued.
    pub fn decoding_key(&self) -> &jsonwebtoken::DecodingKey {
        &self.decoding
    }

    /// Takes over `previous`'s prepared verification key when both are the same key (the `kid`
    /// is the key's thumbprint), so a key-set refresh does not prepare it again.
    pub fn adopt_prepared(&mut self, previous: &SigningKey) {
        if previous.kid == self.kid {
            self.prepared = Arc::clone(&previous.prepared);
        }
    }

    /// Verifies a JWS signature this key made. ES256 goes through the prepared key
    /// (`signer::es256`, about three times faster than a general verifier); EdDSA and RS256
    /// through ring.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let alg: &dyn signature::VerificationAlgorithm = match self.alg {
            SigningAlg::ES256 => {
                return self
                    .prepared
                    .get_or_init(|| {
                        let (x, y) = (self.public.get(1..33)?, self.public.get(33..65)?);
                        PreparedKey::new(x, y)
                    })
                    .as_ref()
                    .is_some_and(|key| key.verify(msg, sig));
            }
            SigningAlg::EdDSA => &signature::ED25519,
            SigningAlg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        };
        signature::UnparsedPublicKey::new(alg, &self.public).verify(msg, sig).is_ok()
    }

    /// Signs `msg` and returns the JWS signature bytes (raw r||s for ECDSA).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>> {
        let fail = |_| Error::Crypto("signing failed".into());
        match &self.pair {
            Pair::Ec(p) => Ok(p.sign(&self.rng, msg).map_err(fail)?.as_ref().to_vec()),
            Pair::Ed(p) => Ok(p.sign(msg).as_ref().to_vec()),
            Pair::Rsa(p) => {
                let mut sig = vec![0u8; p.public().modulus_len()];
                p.sign(&signature::RSA_PKCS1_SHA256, &self.rng, msg, &mut sig).map_err(fail)?;
                Ok(sig)
            }
        }
    }

    /// Produces a compact JWS over `claims` with header `{alg, kid, typ}`.
    pub fn sign_jwt<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String> {
        let header = json!({"alg": self.alg.as_str(), "kid": self.kid, "typ": typ});
        let header = serde_json::to_vec(&header).map_err(|e| Error::internal(e.to_string()))?;
        let payload = serde_json::to_vec(claims).map_err(|e| Error::internal(e.to_string()))?;
        let mut out = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 100);
        B64.encode_string(&header, &mut out);
        out.push('.');
        B64.encode_string(&payload, &mut out);
        let sig = self.sign(out.as_bytes())?;
        out.push('.');
        B64.encode_string(&sig, &mut out);
        Ok(out)
    }
}

/// RFC 7638 JWK thumbprint: SHA-256 over the required members in lexicographic order.
pub fn thumbprint(jwk: &serde_json::Value) -> Result<String> {
    let s = |k: &str| jwk.get(k).and_then(|v| v.as_str()).ok_or_else(|| Error::Crypto(format!("JWK lacks {k}")));
    let canonical = match jwk.get("kty").and_then(|v| v.as_str()) {
        Some("EC") => format!(r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#, s("crv")?, s("x")?, s("y")?),
        Some("OKP") => format!(r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#, s("crv")?, s("x")?),
        Some("RSA") => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, s("e")?, s("n")?),
        _ => return Err(Error::Crypto("unsupported JWK kty".into())),
    };
    Ok(B64.encode(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes())))
}

/// The key-encryption key: seals private keys and derives the other server-side secrets
/// (audit chain MAC key, activation-code pepper) so an operator manages one secret.
#[derive(Clone)]
pub struct Kek {
    key: [u8; 32],
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Kek(***)")
    }
}

const SEAL_VERSION: u8 = 1;

impl Kek {
    /// Wraps 32 raw bytes.
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// Generates a random key (first start of an embedded deployment).
    pub fn generate() -> Result<Self> {
        let mut key = [0u8; 32];
        SystemRandom::new().fill(&mut key).map_err(|_| Error::Crypto("no randomness".into()))?;
        Ok(Self { key })
    }

    /// The raw bytes, for writing the generated key file.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key
    }

    /// Seals `plaintext`, bound to `aad`: `version || nonce || ciphertext || tag`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let key = self.aead_key()?;
        let mut nonce = [0u8; 12];
        SystemRandom::new().fill(&mut nonce).map_err(|_| Error::Crypto("no randomness".into()))?;
        let mut buf = plaintext.to_vec();
        key.seal_in_place_append_tag(aead::Nonce::assume_unique_for_key(nonce), aead::Aad::from(aad), &mut buf)
            .map_err(|_| Error::Crypto("sealing failed".into()))?;
        let mut out = Vec::with_capacity(1 + 12 + buf.len());
        out.push(SEAL_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Opens what [`Kek::seal`] produced with the same `aad`; fails on any tampering or on the
    /// wrong key-encryption key.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        let wrong = || Error::Crypto("cannot decrypt a stored key: wrong key-encryption key or tampered row".into());
        if sealed.len() < 1 + 12 + 16 || sealed[0] != SEAL_VERSION {
            return Err(wrong());
        }
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&sealed[1..13]);
        let mut buf = sealed[13..].to_vec();
        let key = self.aead_key()?;
        let plain = key
            .open_in_place(aead::Nonce::assume_unique_for_key(nonce), aead::Aad::from(aad), &mut buf)
            .map_err(|_| wrong())?;
        Ok(plain.to_vec())
    }

    /// A 32-byte subkey for `purpose` (HMAC-SHA256 of the purpose under the KEK).
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.key);
        let tag = ring::hmac::sign(&k, purpose.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    fn aead_key(&self) -> Result<aead::LessSafeKey> {
        let unbound = aead::UnboundKey::new(&aead::AES_256_GCM, &self.key)
            .map_err(|_| Error::Crypto("bad key-encryption key".into()))?;
        Ok(aead::LessSafeKey::new(unbound))
    }
}

/// Verifies a compact JWS that one of our keys signed and returns its payload. `find` maps a
/// `kid` to the key; the header must name exactly that key's algorithm and, when `typ` is
/// given, that type. This is only for our own tokens (the algorithm comes from our key, never
/// from the header); other parties' JWTs go through `jsonwebtoken`.
pub fn verify_own<'k, T: serde::de::DeserializeOwned>(
    token: &str,
    typ: Option<&str>,
    find: impl Fn(&str) -> Option<&'k SigningKey>,
) -> Option<T> {
    #[derive(Deserialize)]
    struct Header<'a> {
        alg: &'a str,
        kid: &'a str,
        #[serde(default)]
        typ: Option<&'a str>,
        #[serde(default)]
        crit: Option<serde_json::Value>,
    }
    if token.len() > 16 * 1024 {
        return None;
    }
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header_json = B64.decode(h).ok()?;
    let header: Header = serde_json::from_slice(&header_json).ok()?;
    if header.crit.is_some() {
        return None;
    }
    if let Some(t) = typ
        && !header.typ.is_some_and(|ht| ht.eq_ignore_ascii_case(t))
    {
        return None;
    }
    let key = find(header.kid)?;
    if key.alg.as_str() != header.alg {
        return None;
    }
    let sig = B64.decode(s).ok()?;
    if !key.verify(&token.as_bytes()[..h.len() + 1 + p.len()], &sig) {
        return None;
    }
    serde_json::from_slice(&B64.decode(p).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_tokens_verify_and_forgeries_do_not() {
        for alg in SigningAlg::ALL {
            let k = SigningKey::generate(alg).unwrap().key;
            let jwt = k.sign_jwt("at+jwt", &json!({"sub": "x"})).unwrap();
            let find = |kid: &str| (kid == k.kid()).then_some(&k);
            let v: serde_json::Value = verify_own(&jwt, Some("at+jwt"), find).unwrap();
            assert_eq!(v["sub"], "x");
            assert!(verify_own::<serde_json::Value>(&jwt, Some("JWT"), find).is_none(), "typ is checked");
            let mut parts: Vec<&str> = jwt.split('.').collect();
            let forged_payload = B64.encode(br#"{"sub":"y"}"#);
            parts[1] = &forged_payload;
            assert!(verify_own::<serde_json::Value>(&parts.join("."), Some("at+jwt"), find).is_none());
            let none_alg = format!(
                "{}.{}.",
                B64.encode(format!(r#"{{"alg":"none","kid":"{}","typ":"at+jwt"}}"#, k.kid())),
                B64.encode(br#"{"sub":"x"}"#)
            );
            assert!(verify_own::<serde_json::Value>(&none_alg, Some("at+jwt"), find).is_none());
        }
    }

    /// A reloaded key keeps the verification table its previous instance prepared; another key
    /// never takes it, and still verifies only its own signatures.
    #[test]
    fn a_reloaded_key_adopts_only_its_own_prepared_table() {
        let g = SigningKey::generate(SigningAlg::ES256).unwrap();
        let jwt = g.key.sign_jwt("at+jwt", &json!({})).unwrap();
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let sig = B64.decode(sig).unwrap();
        assert!(g.key.verify(input.as_bytes(), &sig));
        let mut reloaded = SigningKey::from_pkcs8(SigningAlg::ES256, &g.pkcs8).unwrap();
        reloaded.adopt_prepared(&g.key);
        assert!(Arc::ptr_eq(&reloaded.prepared, &g.key.prepared));
        assert!(reloaded.verify(input.as_bytes(), &sig));
        let mut other = SigningKey::generate(SigningAlg::ES256).unwrap().key;
        other.adopt_prepared(&g.key);
        assert!(!Arc::ptr_eq(&other.prepared, &g.key.prepared));
        assert!(!other.verify(input.as_bytes(), &sig));
    }

    #[test]
    fn every_alg_signs_a_jwt_that_jsonwebtoken_verifies() {
        for alg in SigningAlg::ALL {
            let g = SigningKey::generate(alg).unwrap();
            let jwt = g.key.sign_jwt("JWT", &json!({"sub": "x", "exp": 4_000_000_000u64})).unwrap();
            let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(g.key.public_jwk().clone()).unwrap();
            let dk = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
            let jalg = match alg {
                SigningAlg::ES256 => jsonwebtoken::Algorithm::ES256,
                SigningAlg::RS256 => jsonwebtoken::Algorithm::RS256,
                SigningAlg::EdDSA => jsonwebtoken::Algorithm::EdDSA,
            };
            let mut v = jsonwebtoken::Validation::new(jalg);
            v.validate_aud = false;
            let data = jsonwebtoken::decode::<serde_json::Value>(&jwt, &dk, &v).unwrap();
            assert_eq!(data.claims["sub"], "x");
            assert_eq!(data.header.kid.as_deref(), Some(g.key.kid()));
            // Reloading from PKCS#8 gives the same kid.
            assert_eq!(SigningKey::from_pkcs8(alg, &g.pkcs8).unwrap().kid(), g.key.kid());
        }
    }

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 section 3.1.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"
        });
        assert_eq!(thumbprint(&jwk).unwrap(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn sealed_keys_open_only_with_the_same_kek_and_aad() {
        let kek = Kek::generate().unwrap();
        let sealed = kek.seal(b"kid-1", b"secret pkcs8").unwrap();
        assert_eq!(kek.open(b"kid-1", &sealed).unwrap(), b"secret pkcs8");
        assert!(kek.open(b"kid-2", &sealed).is_err());
        assert!(Kek::generate().unwrap().open(b"kid-1", &sealed).is_err());
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(kek.open(b"kid-1", &tampered).is_err());
    }
}
