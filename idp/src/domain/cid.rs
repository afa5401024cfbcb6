//! The Citizenship ID.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A Bhutanese Citizenship ID: exactly 11 ASCII digits, not all zero. Construction validates, so
/// a `Cid` in hand is always well-formed.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cid(String);

/// Why a string is not a CID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidError {
    /// Not 11 characters.
    #[error("a CID has 11 digits, this has {0}")]
    Length(usize),
    /// A character other than 0-9.
    #[error("a CID has only digits 0-9")]
    NotDigits,
    /// 00000000000.
    #[error("a CID cannot be all zeros")]
    AllZero,
}

impl Cid {
    /// Parses and validates; surrounding whitespace is ignored.
    pub fn parse(s: &str) -> Result<Self, CidError> {
        let s = s.trim();
        let n = s.chars().count();
        if n != 11 {
            return Err(CidError::Length(n));
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CidError::NotDigits);
        }
        if s.bytes().all(|b| b == b'0') {
            return Err(CidError::AllZero);
        }
        Ok(Self(s.to_string()))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Cid {
    type Error = CidError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Cid::parse(&s)
    }
}

impl From<Cid> for String {
    fn from(c: Cid) -> String {
        c.0
    }
}

impl fmt::Display for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Debug shows only the last three digits: a CID is personal data and logs should not carry it.
impl fmt::Debug for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cid(********{})", &self.0[8..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_cids_parse() {
        assert_eq!(Cid::parse("10101001234").unwrap().as_str(), "10101001234");
        assert_eq!(Cid::parse(" 11512000123 ").unwrap().as_str(), "11512000123");
    }

    #[test]
    fn invalid_cids_are_refused_with_a_reason() {
        assert_eq!(Cid::parse("1010100123"), Err(CidError::Length(10)));
        assert_eq!(Cid::parse("101010012345"), Err(CidError::Length(12)));
        assert_eq!(Cid::parse("1010100123a"), Err(CidError::NotDigits));
        assert_eq!(Cid::parse("１０１０１００１２３４"), Err(CidError::NotDigits));
        assert_eq!(Cid::parse("00000000000"), Err(CidError::AllZero));
        assert!(serde_json::from_str::<Cid>("\"123\"").is_err());
    }

    #[test]
    fn debug_hides_most_digits() {
        assert_eq!(format!("{:?}", Cid::parse("10101001234").unwrap()), "Cid(********234)");
    }
}
