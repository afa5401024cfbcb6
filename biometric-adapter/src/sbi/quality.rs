//! Quality checks (enrolment issue, item 7): a capture scoring under the minimum for its finger is
//! refused, with every such finger and its score in the error, so the officer recaptures exactly
//! those.

use super::{SbiError, error::QualityShortfall, verify::VerifiedCapture};
use crate::{Error, template::FingerPosition};

/// Minimum quality per finger (0-100, the device's `qualityScore` scale).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityPolicy {
    minimum: [f64; 11],
}

impl QualityPolicy {
    /// The same minimum for every finger.
    pub fn new(minimum: f64) -> Result<Self, Error> {
        check(minimum)?;
        Ok(QualityPolicy { minimum: [minimum; 11] })
    }

    /// A different minimum for one finger (thumbs and little fingers often score otherwise).
    pub fn with_finger(mut self, finger: FingerPosition, minimum: f64) -> Result<Self, Error> {
        check(minimum)?;
        if let Some(slot) = self.minimum.get_mut(usize::from(finger.code())) {
            *slot = minimum;
        }
        Ok(self)
    }

    /// The minimum for `finger`.
    pub fn minimum(&self, finger: FingerPosition) -> f64 {
        self.minimum.get(usize::from(finger.code())).copied().unwrap_or(100.0)
    }

    /// Refuses the captures if any finger is under its minimum, naming all of them.
    pub fn check(&self, captures: &[VerifiedCapture]) -> Result<(), SbiError> {
        let failures: Vec<QualityShortfall> = captures
            .iter()
            .filter(|c| c.quality < self.minimum(c.finger))
            .map(|c| QualityShortfall { finger: c.finger, score: c.quality, minimum: self.minimum(c.finger) })
            .collect();
        if failures.is_empty() { Ok(()) } else { Err(SbiError::QualityTooLow { failures }) }
    }
}

impl Default for QualityPolicy {
    /// 40 for every finger: about the lower end of a default-noise simulated capture, and the
    /// NFIQ 2 level under which MOSIP's registration client asks for a recapture by default.
    fn default() -> Self {
        QualityPolicy { minimum: [40.0; 11] }
    }
}

fn check(minimum: f64) -> Result<(), Error> {
    if (0.0..=100.0).contains(&minimum) {
        Ok(())
    } else {
        Err(Error::parameter("quality minimum", format!("{minimum} is outside 0-100")))
    }
}
