//! Compact JWS verification for the tokens the SDK validates on its own: RFC 9068 access tokens
//! (on every API call, so it must be fast) and back-channel logout tokens (which `openidconnect`
//! does not model). ES256 goes through `signer::es256`, which prepares each of the provider's
//! P-256 keys once (on first use) and then verifies about three times faster than a general
//! verifier; RS256 and EdDSA through `ring`.
//!
//! Only asymmetric algorithms exist here: `none` and every HMAC algorithm are unknown names and
//! are refused before any key is looked at, and a key is used only with the algorithm its type
//! implies (an EC P-256 key for ES256 only, and so on), so "alg confusion" has nothing to
//! confuse.

use std::{
    collections::HashMap,
    sync::{Arc, OnceLock},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use signer::es256::PreparedKey;

/// Longest token accepted (a JWT this SDK meets is well under 4 KiB).
pub(crate) const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// A JWS signature algorithm the SDK accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SigningAlg {
    /// ECDSA P-256 with SHA-256: what Drukyul ID signs access tokens with, and its default for
    /// ID tokens.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// Ed25519.
    EdDSA,
}

impl SigningAlg {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::ES256 => "ES256",
            SigningAlg::RS256 => "RS256",
            SigningAlg::EdDSA => "EdDSA",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "ES256" => Some(SigningAlg::ES256),
            "RS256" => Some(SigningAlg::RS256),
            "EdDSA" => Some(SigningAlg::EdDSA),
            _ => None,
        }
    }
}

/// Why a JWS was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum JoseError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("algorithm not accepted")]
    AlgNotAllowed,
    #[error("unexpected typ header")]
    WrongType,
    #[error("no published key has this kid")]
    UnknownKey,
    #[error("signature does not verify")]
    BadSignature,
    #[error("claims are not valid JSON of the expected shape")]
    BadClaims,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

/// A parsed, not yet verified JWS.
pub(crate) struct Jws<'a> {
    alg: SigningAlg,
    kid: String,
    typ: Option<String>,
    signing_input: &'a str,
    payload: &'a str,
    signature: Vec<u8>,
}

impl<'a> Jws<'a> {
    /// Splits and decodes the header. Refuses anything but the three-part compact form, an
    /// algorithm outside `allowed`, a missing `kid`, and `crit` (no extension is understood).
    pub(crate) fn parse(token: &'a str, allowed: &[SigningAlg]) -> Result<Self, JoseError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(JoseError::Malformed);
        }
        let mut parts = token.splitn(4, '.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(JoseError::Malformed);
        };
        let header_bytes = B64.decode(h).map_err(|_| JoseError::Malformed)?;
        let header: Header = serde_json::from_slice(&header_bytes).map_err(|_| JoseError::Malformed)?;
        let alg = SigningAlg::parse(&header.alg).filter(|a| allowed.contains(a)).ok_or(JoseError::AlgNotAllowed)?;
        if header.crit.is_some() {
            return Err(JoseError::Malformed);
        }
        let kid = header.kid.ok_or(JoseError::UnknownKey)?;
        let signature = B64.decode(s).map_err(|_| JoseError::Malformed)?;
        let signing_input = &token[..h.len() + 1 + p.len()];
        Ok(Jws { alg, kid, typ: header.typ, signing_input, payload: p, signature })
    }

    /// The `kid` header.
    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    /// Checks `typ` against `expected` (RFC 8725 3.11: explicit typing). The comparison ignores
    /// case and an `application/` prefix (RFC 7515 4.1.9). With `required`, a missing `typ` is
    /// refused too.
    pub(crate) fn check_typ(&self, expected: &str, required: bool) -> Result<(), JoseError> {
        match &self.typ {
            None if required => Err(JoseError::WrongType),
            None => Ok(()),
            Some(t) => {
                let t = t.to_ascii_lowercase();
                let t = t.strip_prefix("application/").unwrap_or(&t);
                if t == expected { Ok(()) } else { Err(JoseError::WrongType) }
            }
        }
    }

    /// Verifies the signature with the key named by `kid`.
    pub(crate) fn verify(&self, keys: &KeySet) -> Result<(), JoseError> {
        let key = keys.by_kid.get(&self.kid).ok_or(JoseError::UnknownKey)?;
        if key.alg_of() != self.alg || key.declared_alg.is_some_and(|a| a != self.alg) {
            return Err(JoseError::UnknownKey);
        }
        let msg = self.signing_input.as_bytes();
        let ok = match &key.material {
            Material::P256 { point, prepared } => prepared
                .get_or_init(|| PreparedKey::new(&point[1..33], &point[33..]))
                .as_ref()
                .is_some_and(|key| key.verify(msg, &self.signature)),
            Material::Ed25519(x) => UnparsedPublicKey::new(&signature::ED25519, x).verify(msg, &self.signature).is_ok(),
            Material::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, &self.signature)
                .is_ok(),
        };
        if ok { Ok(()) } else { Err(JoseError::BadSignature) }
    }

    /// Decodes the claims. Call only after [`Jws::verify`].
    pub(crate) fn claims<T: serde::de::DeserializeOwned>(&self) -> Result<T, JoseError> {
        let raw = B64.decode(self.payload).map_err(|_| JoseError::BadClaims)?;
        serde_json::from_slice(&raw).map_err(|_| JoseError::BadClaims)
    }
}

enum Material {
    /// The uncompressed point, and its verification table once built (shared with the next
    /// JWKS snapshot while the key stays published, so a refresh does not rebuild it).
    P256 {
        point: Vec<u8>,
        prepared: Arc<OnceLock<Option<PreparedKey>>>,
    },
    Ed25519(Vec<u8>),
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
}

struct VerifyingKey {
    material: Material,
    declared_alg: Option<SigningAlg>,
}

impl VerifyingKey {
    fn alg_of(&self) -> SigningAlg {
        match self.material {
            Material::P256 { .. } => SigningAlg::ES256,
            Material::Ed25519(_) => SigningAlg::EdDSA,
            Material::Rsa { .. } => SigningAlg::RS256,
        }
    }
}

/// The identity provider's signature keys, indexed by `kid`, in the form `ring` verifies with.
#[derive(Default)]
pub(crate) struct KeySet {
    by_kid: HashMap<String, VerifyingKey>,
}

impl KeySet {
    /// Reads a JWK Set, keeping the signature keys it can use and skipping the rest (an
    /// encryption key, an unknown curve, a key without `kid`). A P-256 key that `previous`
    /// already held under the same `kid` keeps its prepared verification table.
    pub(crate) fn from_jwks(jwks: &Value, previous: Option<&KeySet>) -> Self {
        let mut by_kid = HashMap::new();
        for k in jwks.get("keys").and_then(Value::as_array).into_iter().flatten() {
            if let Some((kid, mut key)) = Self::one(k) {
                if let (Material::P256 { point, prepared }, Some(old)) =
                    (&mut key.material, previous.and_then(|p| p.by_kid.get(&kid)))
                    && let Material::P256 { point: old_point, prepared: old_prepared } = &old.material
                    && old_point == point
                {
                    *prepared = old_prepared.clone();
                }
                by_kid.insert(kid, key);
            }
        }
        KeySet { by_kid }
    }

    fn one(k: &Value) -> Option<(String, VerifyingKey)> {
        let s = |name: &str| k.get(name).and_then(Value::as_str);
        let b = |name: &str| s(name).and_then(|v| B64.decode(v).ok());
        if s("use").is_some_and(|u| u != "sig") {
            return None;
        }
        let kid = s("kid")?.to_string();
        let declared_alg = match s("alg") {
            Some(a) => Some(SigningAlg::parse(a)?),
            None => None,
        };
        let material = match (s("kty")?, s("crv")) {
            ("EC", Some("P-256")) => {
                let (x, y) = (b("x")?, b("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return None;
                }
                let mut pt = Vec::with_capacity(65);
                pt.push(4);
                pt.extend_from_slice(&x);
                pt.extend_from_slice(&y);
                Material::P256 { point: pt, prepared: Arc::default() }
            }
            ("OKP", Some("Ed25519")) => Material::Ed25519(b("x").filter(|x| x.len() == 32)?),
            ("RSA", _) => Material::Rsa { n: b("n")?, e: b("e")? },
            _ => return None,
        };
        Some((kid, VerifyingKey { material, declared_alg }))
    }

    /// Whether a key with this `kid` is known.
    pub(crate) fn has(&self, kid: &str) -> bool {
        self.by_kid.contains_key(kid)
    }

    /// How many keys are usable.
    pub(crate) fn len(&self) -> usize {
        self.by_kid.len()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use ring::{
        rand::SystemRandom,
        signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair},
    };
    use serde_json::json;

    use super::*;

    /// A test signer: an ES256 key and its JWK.
    pub(crate) struct TestKey {
        pub(crate) pair: EcdsaKeyPair,
        pub(crate) kid: String,
    }

    impl TestKey {
        pub(crate) fn new(kid: &str) -> Self {
            let rng = SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
            Self { pair, kid: kid.into() }
        }
        pub(crate) fn jwk(&self) -> Value {
            let p = self.pair.public_key().as_ref();
            json!({"kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig", "alg": "ES256",
                   "x": B64.encode(&p[1..33]), "y": B64.encode(&p[33..])})
        }
        pub(crate) fn sign(&self, header: Value, claims: &Value) -> String {
            let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
            let sig = self.pair.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
            format!("{input}.{}", B64.encode(sig.as_ref()))
        }
        pub(crate) fn jwt(&self, typ: &str, claims: &Value) -> String {
            self.sign(json!({"alg": "ES256", "kid": self.kid, "typ": typ}), claims)
        }
    }

    fn keys(k: &TestKey) -> KeySet {
        KeySet::from_jwks(&json!({"keys": [k.jwk()]}), None)
    }

    #[test]
    fn verifies_its_own_signature_and_refuses_tampering() {
        let k = TestKey::new("k1");
        let t = k.jwt("at+jwt", &json!({"a": 1}));
        let jws = Jws::parse(&t, &[SigningAlg::ES256]).unwrap();
        jws.verify(&keys(&k)).unwrap();
        assert_eq!(jws.claims::<Value>().unwrap()["a"], 1);
        let mut parts: Vec<&str> = t.split('.').collect();
        let other = B64.encode(json!({"a": 2}).to_string());
        parts[1] = &other;
        let forged = parts.join(".");
        assert_eq!(Jws::parse(&forged, &[SigningAlg::ES256]).unwrap().verify(&keys(&k)), Err(JoseError::BadSignature));
    }

    #[test]
    fn refuses_none_hmac_and_algorithms_not_allowed() {
        let k = TestKey::new("k1");
        let claims = B64.encode(json!({"a": 1}).to_string());
        for alg in ["none", "HS256", "HS512", "ES384"] {
            let h = B64.encode(json!({"alg": alg, "kid": "k1"}).to_string());
            assert_eq!(
                Jws::parse(&format!("{h}.{claims}."), &[SigningAlg::ES256]).err(),
                Some(JoseError::AlgNotAllowed)
            );
        }
        let t = k.jwt("JWT", &json!({}));
        assert_eq!(Jws::parse(&t, &[SigningAlg::RS256]).err(), Some(JoseError::AlgNotAllowed));
    }

    #[test]
    fn a_key_is_used_only_with_its_own_algorithm() {
        // An EdDSA-labelled header naming an EC key is refused even when EdDSA is allowed.
        let k = TestKey::new("k1");
        let h = B64.encode(json!({"alg": "EdDSA", "kid": "k1"}).to_string());
        let t = format!("{h}.{}.{}", B64.encode("{}"), B64.encode([0u8; 64]));
        let jws = Jws::parse(&t, &[SigningAlg::ES256, SigningAlg::EdDSA]).unwrap();
        assert_eq!(jws.verify(&keys(&k)), Err(JoseError::UnknownKey));
    }

    #[test]
    fn typ_is_compared_loosely_but_exactly() {
        let k = TestKey::new("k1");
        for (typ, ok) in [("at+jwt", true), ("application/at+JWT", true), ("JWT", false), ("at+jwt2", false)] {
            let t = k.jwt(typ, &json!({}));
            assert_eq!(Jws::parse(&t, &[SigningAlg::ES256]).unwrap().check_typ("at+jwt", true).is_ok(), ok, "{typ}");
        }
        let t = k.sign(json!({"alg": "ES256", "kid": "k1"}), &json!({}));
        let jws = Jws::parse(&t, &[SigningAlg::ES256]).unwrap();
        assert!(jws.check_typ("at+jwt", true).is_err());
        assert!(jws.check_typ("logout+jwt", false).is_ok());
    }

    #[test]
    fn malformed_input_is_refused() {
        for t in ["", "a.b", "a.b.c.d", "!!!.b.c", &"a".repeat(MAX_TOKEN_BYTES + 1)] {
            assert!(Jws::parse(t, &[SigningAlg::ES256]).is_err(), "{t:.20}");
        }
        let crit = B64.encode(json!({"alg": "ES256", "kid": "k", "crit": ["exp"]}).to_string());
        assert!(Jws::parse(&format!("{crit}.e30.AA"), &[SigningAlg::ES256]).is_err());
    }

    #[test]
    fn jwks_keeps_only_usable_signature_keys() {
        let k = TestKey::new("k1");
        let mut enc = k.jwk();
        enc["use"] = "enc".into();
        enc["kid"] = "k2".into();
        let set =
            KeySet::from_jwks(&json!({"keys": [k.jwk(), enc, {"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]}), None);
        assert_eq!(set.len(), 1);
        assert!(set.has("k1"));
    }

    fn prepared(set: &KeySet, kid: &str) -> Arc<OnceLock<Option<PreparedKey>>> {
        match &set.by_kid[kid].material {
            Material::P256 { prepared, .. } => prepared.clone(),
            _ => panic!("not a P-256 key"),
        }
    }

    /// A JWKS refresh keeps the prepared table of a key still published under the same `kid`, and
    /// never carries one over to a different key that reuses a `kid`.
    #[test]
    fn refresh_keeps_prepared_keys_only_for_the_same_point() {
        let k = TestKey::new("k1");
        let first = keys(&k);
        let t = k.jwt("at+jwt", &json!({}));
        Jws::parse(&t, &[SigningAlg::ES256]).unwrap().verify(&first).unwrap();
        assert!(prepared(&first, "k1").get().is_some_and(Option::is_some), "prepared on first use");

        let again = KeySet::from_jwks(&json!({"keys": [k.jwk()]}), Some(&first));
        assert!(Arc::ptr_eq(&prepared(&first, "k1"), &prepared(&again, "k1")));

        let impostor = TestKey::new("k1");
        let replaced = KeySet::from_jwks(&json!({"keys": [impostor.jwk()]}), Some(&first));
        assert!(prepared(&replaced, "k1").get().is_none());
        assert_eq!(Jws::parse(&t, &[SigningAlg::ES256]).unwrap().verify(&replaced), Err(JoseError::BadSignature));
        let theirs = impostor.jwt("at+jwt", &json!({}));
        Jws::parse(&theirs, &[SigningAlg::ES256]).unwrap().verify(&replaced).unwrap();
    }

    /// A JWK whose point is not on the curve is published but never verifies anything.
    #[test]
    fn a_key_off_the_curve_verifies_nothing() {
        let k = TestKey::new("k1");
        let mut jwk = k.jwk();
        let mut y = B64.decode(jwk["y"].as_str().unwrap()).unwrap();
        y[31] ^= 1;
        jwk["y"] = B64.encode(&y).into();
        let set = KeySet::from_jwks(&json!({"keys": [jwk]}), None);
        let t = k.jwt("at+jwt", &json!({}));
        assert_eq!(Jws::parse(&t, &[SigningAlg::ES256]).unwrap().verify(&set), Err(JoseError::BadSignature));
    }
}
