//! Distinguished names and the validation of the strings that go into them.

use der::asn1::{Any, PrintableStringRef, SetOfVec, Utf8StringRef};
use der::oid::ObjectIdentifier;
use der::oid::db::rfc4519::{COMMON_NAME, COUNTRY_NAME, GIVEN_NAME, ORGANIZATION_NAME, SERIAL_NUMBER, SURNAME};
use der::{Decode, Encode};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};

use crate::error::{Error, Result};

/// RFC 5280 upper bound (`ub-common-name`, `ub-organization-name`) for the attributes we write;
/// we apply it to given name and surname too so that "`<given> <family>`" stays short.
pub(crate) const MAX_NAME_CHARS: usize = 64;

/// Checks a name that goes into a certificate: not blank, no control characters, at most 64
/// characters, no leading or trailing whitespace (which would make two DNs that look the same
/// differ).
pub(crate) fn check_name(field: &'static str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::InvalidName { field, reason: "must not be empty" });
    }
    if value.chars().any(char::is_control) {
        return Err(Error::InvalidName { field, reason: "must not contain control characters" });
    }
    if value.trim() != value {
        return Err(Error::InvalidName { field, reason: "must not start or end with whitespace" });
    }
    if value.chars().count() > MAX_NAME_CHARS {
        return Err(Error::InvalidName { field, reason: "must be at most 64 characters" });
    }
    Ok(())
}

/// One attribute of a DN, in the order it is written (most significant first).
pub(crate) enum Attr<'a> {
    /// Written as PrintableString, as RFC 5280 requires for `countryName` and `serialNumber`.
    Printable(ObjectIdentifier, &'a str),
    /// Written as UTF8String (RFC 5280: the encoding for new DirectoryString values).
    Utf8(ObjectIdentifier, &'a str),
}

impl Attr<'_> {
    pub(crate) fn country(value: &str) -> Attr<'_> {
        Attr::Printable(COUNTRY_NAME, value)
    }
    pub(crate) fn organization(value: &str) -> Attr<'_> {
        Attr::Utf8(ORGANIZATION_NAME, value)
    }
    pub(crate) fn common_name(value: &str) -> Attr<'_> {
        Attr::Utf8(COMMON_NAME, value)
    }
    pub(crate) fn surname(value: &str) -> Attr<'_> {
        Attr::Utf8(SURNAME, value)
    }
    pub(crate) fn given_name(value: &str) -> Attr<'_> {
        Attr::Utf8(GIVEN_NAME, value)
    }
    pub(crate) fn serial_number(value: &str) -> Attr<'_> {
        Attr::Printable(SERIAL_NUMBER, value)
    }
}

/// Builds a DN with one attribute per RDN.
///
/// The names are assembled from typed values rather than parsed from an RFC 4514 string, so a
/// citizen's name containing `,` `+` or `=` can never change the structure of the DN.
pub(crate) fn build_name(attrs: &[Attr<'_>]) -> Result<Name> {
    let mut rdns = RdnSequence::default();
    for attr in attrs {
        let (oid, value) = match attr {
            Attr::Printable(oid, s) => (*oid, Any::encode_from(&PrintableStringRef::new(s)?)?),
            Attr::Utf8(oid, s) => (*oid, Any::encode_from(&Utf8StringRef::new(s)?)?),
        };
        let set = SetOfVec::try_from(vec![AttributeTypeAndValue { oid, value }])?;
        rdns.push(RelativeDistinguishedName::from(set));
    }
    // `Name` has no public constructor from an `RdnSequence` outside the `hazmat` feature; the
    // two share one encoding, so a DER round trip is the supported path.
    Ok(Name::from_der(&rdns.to_der()?)?)
}
