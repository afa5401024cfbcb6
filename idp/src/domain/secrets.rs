//! Random identifiers and secret hashing.
//!
//! Client secrets, refresh tokens and codes are 256-bit random values, so a single SHA-256 is
//! the right hash for them at rest: a slow password hash adds nothing against an unguessable
//! input and would cost the token endpoint its throughput. Short human-typed secrets
//! (activation codes) are instead MACed with a server-side pepper and protected by expiry,
//! single use and rate limits.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

/// `n` random bytes.
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    SystemRandom::new().fill(&mut b).map_err(|_| Error::Crypto("the system random source failed".into()))?;
    Ok(b)
}

/// A 256-bit random value, base64url without padding (43 characters).
pub fn random_token() -> Result<String> {
    Ok(B64.encode(random_bytes::<32>()?))
}

/// A 128-bit random identifier (22 characters), for ids that are not secrets (jti, row ids).
pub fn random_id() -> Result<String> {
    Ok(B64.encode(random_bytes::<16>()?))
}

/// SHA-256 of a high-entropy secret, hex.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, secret.as_bytes()))
}

/// Compares a presented secret with a stored hash in constant time.
pub fn verify_secret(presented: &str, stored_hash: &str) -> bool {
    let h = hash_secret(presented);
    h.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

/// HMAC-SHA256 of `value` under `key`, hex; for low-entropy secrets such as activation codes.
pub fn mac_hex(key: &[u8; 32], value: &str) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    hex::encode(ring::hmac::sign(&k, value.as_bytes()))
}

/// A human-typable one-time code: `groups` groups of 4 characters from an alphabet without
/// look-alikes (no 0/O, 1/I/L), about 5 bits a character.
pub fn human_code(groups: usize) -> Result<String> {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    let mut out = String::with_capacity(groups * 5);
    for g in 0..groups {
        if g > 0 {
            out.push('-');
        }
        for _ in 0..4 {
            // Rejection sampling keeps the distribution uniform.
            loop {
                let [b] = random_bytes::<1>()?;
                let lim = 256 - (256 % ALPHABET.len());
                if (b as usize) < lim {
                    out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
                    break;
                }
            }
        }
    }
    Ok(out)
}

/// Normalizes what a person typed as a code: upper case, without spaces and dashes.
pub fn normalize_code(typed: &str) -> String {
    typed.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_uppercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_sized() {
        let a = random_token().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token().unwrap());
        assert_eq!(random_id().unwrap().len(), 22);
    }

    #[test]
    fn secrets_verify_only_against_their_hash() {
        let h = hash_secret("s3cret");
        assert!(verify_secret("s3cret", &h));
        assert!(!verify_secret("s3creT", &h));
    }

    #[test]
    fn human_codes_avoid_lookalikes_and_normalize() {
        let c = human_code(4).unwrap();
        assert_eq!(c.len(), 19);
        assert!(!c.contains(['0', 'O', '1', 'I', 'L']));
        assert_eq!(normalize_code(" abcd-efgh "), "ABCDEFGH");
    }
}
