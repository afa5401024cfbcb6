//! The crate's one error type.
//!
//! A template that fails to parse keeps its precise [`ParseError`] (byte offset and reason) as the
//! [`Error::Template`] variant; everything else that can go wrong — a record built from values that
//! break its format's rules, a parameter out of range, a template the matcher cannot use — is a
//! variant here, so a caller handles one type and maps it to its own responses in one place.

use crate::template::ParseError;

/// Everything the library can refuse, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a valid finger minutiae record; the inner error says at which byte.
    #[error("not a valid finger minutiae record: {0}")]
    Template(#[from] ParseError),
    /// A record assembled from values (not parsed) breaks a rule of its format; `reason` names the
    /// field, e.g. `views[0].minutiae[3]: x = 420 is outside the image (width 400)`.
    #[error("invalid finger minutiae record: {reason}")]
    InvalidRecord {
        /// Which field and which rule.
        reason: String,
    },
    /// A parameter outside the range that makes sense for it (a noise level, a false match rate,
    /// a population size).
    #[error("invalid {name}: {reason}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// The bytes are not a valid ISO/IEC 19794-4 finger image record; the inner error says at
    /// which byte.
    #[error("not a valid finger image record: {0}")]
    ImageRecord(ParseError),
    /// A finger image that cannot be decoded or used: corrupt compressed data, a size that does not
    /// match its header or is beyond the limits, an unsupported encoding or input.
    #[error("unusable finger image: {reason}")]
    Image {
        /// Why.
        reason: String,
    },
    /// Minutiae extraction refused the image or failed on it.
    #[error("minutiae extraction failed: {reason}")]
    Extraction {
        /// Why.
        reason: String,
    },
    /// A template the matcher cannot use: no minutiae, an unknown finger position where one is
    /// required, a subject with no fingers.
    #[error("cannot use this template for matching: {reason}")]
    Unmatchable {
        /// Why.
        reason: String,
    },
    /// A scanner's device service, or what it returned, was refused (see [`crate::sbi`]).
    #[error(transparent)]
    Sbi(#[from] crate::sbi::SbiError),
}

impl Error {
    pub(crate) fn invalid_record(reason: impl Into<String>) -> Self {
        Error::InvalidRecord { reason: reason.into() }
    }

    pub(crate) fn parameter(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidParameter { name, reason: reason.into() }
    }

    pub(crate) fn image(reason: impl Into<String>) -> Self {
        Error::Image { reason: reason.into() }
    }

    pub(crate) fn extraction(reason: impl Into<String>) -> Self {
        Error::Extraction { reason: reason.into() }
    }

    pub(crate) fn unmatchable(reason: impl Into<String>) -> Self {
        Error::Unmatchable { reason: reason.into() }
    }
}
