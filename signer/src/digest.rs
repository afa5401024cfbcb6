//! Digests and times as the protocols in this crate write them.

use core::time::Duration;

use der::Tagged;
use der::asn1::GeneralizedTime;
use der::oid::db::rfc5912::ID_SHA_256;
use sha1::Sha1;
use sha2::{Digest as _, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::time::Time;

use crate::error::{Error, Result};

/// A SHA-256 digest of a document (or of anything else a signature or timestamp covers).
///
/// The signing service only ever sees digests, never documents: an agency sends the digest of
/// the file it wants signed. The type makes "32 bytes of SHA-256" a checked fact at the boundary
/// instead of a length test in every function.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Sha256Digest([u8; 32]);

impl Sha256Digest {
    /// Takes a digest computed elsewhere; refuses anything that is not exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        <[u8; 32]>::try_from(bytes).map(Self).map_err(|_| Error::InvalidDigest)
    }

    /// Computes the SHA-256 digest of `data`.
    pub fn of(data: &[u8]) -> Self {
        Self(Sha256::digest(data).into())
    }

    /// A digest computed here by a hasher, already 32 bytes.
    pub(crate) fn from_array(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl core::fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Sha256Digest(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// SHA-1, for the places where a protocol fixes it (OCSP CertIDs, the responder key hash).
pub(crate) fn sha1(data: &[u8]) -> [u8; 20] {
    Sha1::digest(data).into()
}

/// The SHA-256 AlgorithmIdentifier with absent parameters (RFC 5754 2: the preferred encoding).
pub(crate) fn sha256_algorithm() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned { oid: ID_SHA_256, parameters: None }
}

/// Whether a hash AlgorithmIdentifier's parameters are absent or NULL: RFC 5754 2 requires
/// accepting both for SHA-2, and RFC 6960 CertIDs conventionally carry NULL.
pub(crate) fn params_absent_or_null(algorithm: &AlgorithmIdentifierOwned) -> bool {
    match &algorithm.parameters {
        None => true,
        Some(any) => any.tag() == der::Tag::Null && any.value().is_empty(),
    }
}

fn unix(now: i64) -> Result<Duration> {
    u64::try_from(now).map(Duration::from_secs).map_err(|_| Error::InvalidValidity("a time is before 1970"))
}

/// `now` (Unix seconds) as GeneralizedTime, whole seconds, `Z` — the only form RFC 3161 genTime
/// and RFC 6960 times may take (DER, no fractional part when it would be zero).
pub(crate) fn generalized_time(now: i64) -> Result<GeneralizedTime> {
    GeneralizedTime::from_unix_duration(unix(now)?).map_err(|_| Error::InvalidValidity("a time is out of range"))
}

/// `now` (Unix seconds) as an X.509 `Time`: UTCTime through 2049, GeneralizedTime after, as RFC
/// 5280 (CRL times) and RFC 5652 11.3 (signing-time) require.
pub(crate) fn x509_time(now: i64) -> Result<Time> {
    let date =
        der::DateTime::from_unix_duration(unix(now)?).map_err(|_| Error::InvalidValidity("a time is out of range"))?;
    Ok(Time::from(date))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_digests_are_exactly_32_bytes() {
        assert!(matches!(Sha256Digest::from_bytes(&[0; 31]), Err(Error::InvalidDigest)));
        assert!(matches!(Sha256Digest::from_bytes(&[0; 33]), Err(Error::InvalidDigest)));
        let d = Sha256Digest::of(b"abc");
        // FIPS 180-2 appendix B.1.
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(format!("{d:?}"), format!("Sha256Digest({expected})"));
        assert_eq!(Sha256Digest::from_bytes(d.as_bytes()).unwrap(), d);
        assert_eq!(sha1(b"abc")[..4], [0xa9, 0x99, 0x3e, 0x36]);
    }

    #[test]
    fn times_use_utc_until_2049_and_refuse_before_1970() {
        assert!(matches!(x509_time(1_767_225_600).unwrap(), Time::UtcTime(_)));
        assert!(matches!(x509_time(2_524_608_000).unwrap(), Time::GeneralTime(_))); // 2050-01-01
        assert!(generalized_time(-1).is_err());
        assert_eq!(generalized_time(1_767_225_600).unwrap().to_unix_duration().as_secs(), 1_767_225_600);
    }
}
