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
//! A [`Gallery`] keeps, per finger position, an inverted index of minutia triangles, and each
//! enrolled finger's minutiae. A search costs one pass over the postings its triangles reach plus
//! a fixed, small number of full comparisons, however large the gallery.
//!
//! 1. **Filing.** Every minutia and two of its four nearest neighbours form a triangle. Its shape
//!    — two side lengths, the angle between them and the three minutiae's directions relative to
//!    the sides — does not change when the finger moves, and is quantised into one of 743,424
//!    keys (sides in 12 px bins, the angle in 15° bins, directions in 45° bins). The enrolled
//!    finger files each triangle under its key as a four-byte posting: the finger's slot and the
//!    direction of the triangle's first side. This is geometric hashing of minutia triplets
//!    (Germain, Califano and Colville, "Fingerprint matching using transformation parameter
//!    clustering", IEEE Computational Science and Engineering, 1997; Bhanu and Tan, "Fingerprint
//!    indexing based on novel features of minutiae triplets", IEEE TPAMI, 2003). The postings of
//!    all keys are packed in one array; recent enrolments wait in small per-key lists and are
//!    merged in once they amount to a quarter of it, so enrolment stays incremental.
//! 2. **Votes.** A probe triangle is looked up under the keys of the nearest and next-nearest
//!    bin of every dimension (up to 2^6 keys, so that noise near a bin edge does not lose it).
//!    Every posting found is a vote for its finger *and* for the rotation between the two
//!    triangles (the difference of their first sides' directions), counted in one byte per
//!    enrolled finger and 22.5° of rotation — 16 bytes a finger, a few megabytes for 200,000, so
//!    the counting stays in cache; nothing is collected or sorted. A finger's votes are its best
//!    two neighbouring rotation cells: a mate's triangles agree on one rotation, chance hits
//!    spread over all of them (the transformation clustering of the papers above).
//! 3. **Evidence per person.** An unrelated finger's votes grow with the triangles it has filed,
//!    at a rate the whole index shows (nearly every enrolled finger is unrelated); each finger's
//!    votes become standard deviations above that expectation, and a person's index score is the
//!    sum over the probe's fingers. A mate scores on many fingers at once, chance on few, so the
//!    fusion across fingers happens before anything is shortlisted.
//! 4. **Verification.** The best 20 people by that score, plus each probe finger's best 3, are
//!    compiled from their stored minutiae and verified in full ([`verify`], all cores), and kept if
//!    their fused false match rate is at or below the target. The shortlist does not grow with the
//!    gallery ([`SearchOptions`] can make it).
//!
//! Memory: four bytes per filed triangle (about 200 a finger) and 16 bytes per stored minutia —
//! about 13 KB per ten-finger person; compiled templates (twenty times the minutiae) exist only
//! while a shortlisted subject is being compared. `benches/identify.rs` measures the search time,
//! memory and accuracy (FNIR at FPIR 0.1%) at 200,000 people.

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
