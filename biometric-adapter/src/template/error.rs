//! The one error of the template module.

/// Why a record was rejected, and where: `offset` is the position (from the start of the input)
/// of the first byte of the offending field, so a support engineer can find it in a hex dump.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("byte {offset}: {reason}")]
pub struct ParseError {
    offset: usize,
    reason: String,
}

impl ParseError {
    pub(crate) fn new(offset: usize, reason: impl Into<String>) -> Self {
        ParseError { offset, reason: reason.into() }
    }

    /// Where the offending field starts, counted from the first byte of the input.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// What is wrong with it.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}
