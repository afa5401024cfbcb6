//! Minutiae matching: 1:1 comparison of fingers, fusion of several fingers into one decision, and
//! 1:N identification through an index.
//!
//! # Comparing two fingers
//!
//! [`compare`] finds the minutiae two captures have in common and weighs how well they agree. It
//! does not depend on where the finger lay on the sensor: everything it looks at first is
//! invariant under rotation and translation.
//!
//! 1. **Neighbourhoods.** Every minutia has *edges* to its nearest neighbours (up to 12, within
//!    125 px at 500 dpi). An edge's shape — its length and the angles between it and the two
//!    minutiae's directions — does not change when the finger moves (the minutia-pair "edge
//!    table" of SourceAFIS).
//! 2. **Roots.** Every probe edge is looked up among the candidate's edges of about the same shape
//!    (a bucketed table; tolerances for two captures' noise and skin strain), and each agreeing
//!    edge votes for the pair of minutiae it starts from. The best-voted pairs (up to 14) are the
//!    roots: hypotheses "this minutia is that one".
//! 3. **Alignment.** From each root and the neighbours its agreeing edges lead to, a rigid motion
//!    is fitted (least squares); then every probe minutia is paired with the nearest free
//!    candidate minutia within tolerance (15 px plus 4% of the distance from the pairing's centre,
//!    for distortion; 35° of direction), closest pairs first, and the motion is refitted on all
//!    pairs — twice. Roots already paired by an earlier alignment are skipped.
//! 4. **Evidence.** A pair counts only if a neighbouring pair moved the same way (chance pairs of
//!    different fingers are isolated). Each counted pair adds its log-likelihood ratio —
//!    how much likelier its residual offset, direction difference and agreement of type are for
//!    the same finger than for different fingers — and the best alignment's evidence is multiplied
//!    by the square of the share of the overlapping minutiae that it pairs (see
//!    `pairing::score`). That is the [`Score`]: about 0-2 for different fingers, 15-80 for the
//!    same finger under the default noise.
//!
//! # Scores as false match rates
//!
//! Thresholds are not magic numbers: [`FalseMatchRate`] is the target, and its
//! [`threshold`](FalseMatchRate::threshold) comes from the impostor score distribution measured on
//! the synthetic population ([`calibrate`]; the committed table says how it was produced, and a
//! test re-derives it). [`false_match_rate`] maps any score back to the share of impostors that
//! reach it.
//!
//! # Several fingers
//!
//! A [`Subject`] is one person's fingers. [`verify`] compares the fingers two subjects share and
//! [`fuse`]s their scores with Fisher's method: each score becomes its impostor tail probability,
//! and the product of k independent uniform probabilities has a known distribution, so the fused
//! value is itself a false match rate and one [`FalseMatchRate`] target serves one finger or ten.
//!
//! # 1:N
//!
//! A [`Gallery`] keeps an index per finger position: geometric hashing of minutia triangles (a
//! minutia and two of its four nearest neighbours; two side lengths, the angle between them and
//! the three directions, quantised), where a probe's hits must also agree on one rotation and
//! translation to count. The index ranks the enrolled subjects without comparing them; only a
//! shortlist (the best 20 or 1%, plus each finger's best 5) is verified in full, on all cores.
//! [`Gallery::identify`] returns the subjects that match at the target rate.

mod calibration;
mod features;
mod fusion;
mod gallery;
mod index;
mod pairing;

use serde::Serialize;

pub use calibration::{CalibrationReport, FalseMatchRate, OperatingPoint, calibrate, false_match_rate};
pub use features::FingerTemplate;
pub use fusion::{Subject, Verification, fuse, verify};
pub use gallery::{Candidate, Gallery, Identification, SearchOptions, SubjectId};

/// How similar two fingers are: 0 for nothing in common, higher for more. Only comparable with
/// other scores of this matcher; [`false_match_rate`] says what one means.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
pub struct Score(f32);

impl Score {
    /// The value.
    pub fn value(self) -> f32 {
        self.0
    }
}

/// 1:1: compares two finger templates. Positions are not checked: comparing a thumb with an index
/// finger is allowed (and will score low).
pub fn compare(probe: &FingerTemplate, candidate: &FingerTemplate) -> Score {
    Score(pairing::compare(probe, candidate).score)
}
