//! Several fingers of one person: subjects, 1:1 verification and the fusion of finger scores.

use serde::Serialize;

use super::{FalseMatchRate, FingerTemplate, Score, calibration::log10_fmr, compare};
use crate::{
    Error,
    template::{FingerPosition, Record},
};

/// The fingers of one person (one enrolment or one probe): at most one template per finger
/// position.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    fingers: Vec<FingerTemplate>,
}

impl Subject {
    /// A subject from finger templates: at least one, no position twice, and
    /// [`FingerPosition::Unknown`] only alone (an unknown finger can only be compared with
    /// whatever single finger the other side offers).
    pub fn new(fingers: Vec<FingerTemplate>) -> Result<Self, Error> {
        if fingers.is_empty() {
            return Err(Error::unmatchable("a subject needs at least one finger"));
        }
        for (i, f) in fingers.iter().enumerate() {
            if fingers.iter().skip(i + 1).any(|g| g.finger() == f.finger()) {
                return Err(Error::unmatchable(format!("finger {:?} appears twice", f.finger())));
            }
            if f.finger() == FingerPosition::Unknown && fingers.len() > 1 {
                return Err(Error::unmatchable("a finger of unknown position can only be the subject's only finger"));
            }
        }
        Ok(Subject { fingers })
    }

    /// A subject from a record: the first view of each finger position.
    pub fn from_record(record: &Record) -> Result<Self, Error> {
        let mut fingers: Vec<FingerTemplate> = Vec::new();
        for view in record.views() {
            if fingers.iter().all(|f| f.finger() != view.finger_position()) {
                fingers.push(FingerTemplate::from_view(record, view)?);
            }
        }
        Subject::new(fingers)
    }

    /// The fingers.
    pub fn fingers(&self) -> &[FingerTemplate] {
        &self.fingers
    }

    /// This subject's template of `finger`.
    pub fn finger(&self, finger: FingerPosition) -> Option<&FingerTemplate> {
        self.fingers.iter().find(|f| f.finger() == finger)
    }

    /// The pairs of templates to compare with `other`: same positions; or, when either side is a
    /// single finger of unknown position, that one with the other side's only finger.
    pub(crate) fn pairs_with<'a>(&'a self, other: &'a Subject) -> Vec<(&'a FingerTemplate, &'a FingerTemplate)> {
        match (self.fingers.as_slice(), other.fingers.as_slice()) {
            ([a], [b]) if a.finger() == FingerPosition::Unknown || b.finger() == FingerPosition::Unknown => {
                vec![(a, b)]
            }
            _ => self.fingers.iter().filter_map(|a| Some((a, other.finger(a.finger())?))).collect(),
        }
    }
}

/// The outcome of comparing two subjects.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    /// Each compared finger and its score.
    pub fingers: Vec<(FingerPosition, Score)>,
    /// The fused evidence as an estimated false match rate: how often two *different* people
    /// would match at least this well on these fingers. Smaller is stronger; 1 when no finger
    /// could be compared.
    pub false_match_rate: f64,
    /// Whether that is at or below the target rate.
    pub is_match: bool,
}

/// 1:1: compares the fingers two subjects have in common and decides at `target`.
pub fn verify(probe: &Subject, enrolled: &Subject, target: FalseMatchRate) -> Verification {
    let fingers: Vec<(FingerPosition, Score)> =
        probe.pairs_with(enrolled).into_iter().map(|(a, b)| (b.finger(), compare(a, b))).collect();
    let false_match_rate = fuse(&fingers);
    Verification { is_match: !fingers.is_empty() && false_match_rate <= target.value(), fingers, false_match_rate }
}

/// Fuses per-finger scores into one false match rate (Fisher's method): each finger's score is
/// turned into its impostor tail p (the calibrated FMR of that score); for two different people
/// the fingers are independent and each p is uniform, so the product t of k of them is at most x
/// with probability x·Σᵢ₌₀ᵏ⁻¹ (−ln x)ⁱ/i! — which is therefore the fused false match rate. One
/// finger fuses to its own p, so single-finger and multi-finger decisions share one meaning.
pub fn fuse(fingers: &[(FingerPosition, Score)]) -> f64 {
    if fingers.is_empty() {
        return 1.0;
    }
    let ln_t: f64 = fingers.iter().map(|(_, s)| log10_fmr(s.value()) * std::f64::consts::LN_10).sum();
    let x = -ln_t;
    let mut term = 1.0;
    let mut series = 1.0;
    for i in 1..fingers.len() {
        term *= x / i as f64;
        series += term;
    }
    (ln_t + series.ln()).exp().min(1.0)
}
