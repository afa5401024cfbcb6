//! 1:N: a gallery of enrolled subjects with a triplet index per finger position.

use rayon::prelude::*;
use serde::Serialize;

use super::{FalseMatchRate, Subject, Verification, index::TripletIndex, verify};
use crate::template::FingerPosition;

/// The caller's identifier of an enrolled subject (an enrolment number, a database key).
pub type SubjectId = u64;

/// Enrolled subjects, searchable 1:N.
#[derive(Debug)]
pub struct Gallery {
    subjects: Vec<(SubjectId, Subject)>,
    /// One index per finger position code (0 unknown … 10 left little).
    indexes: Vec<TripletIndex>,
    /// For each index, the subject (position in `subjects`) of each slot.
    owners: Vec<Vec<u32>>,
}

/// How [`Gallery::identify`] searches.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SearchOptions {
    /// The decision threshold for each candidate (a fused false match rate per person compared).
    pub target: FalseMatchRate,
    /// How many subjects, ranked by the index, are compared in full: at least this many …
    pub shortlist: usize,
    /// … or this share of the gallery, whichever is more.
    pub shortlist_share: f64,
}

impl Default for SearchOptions {
    /// A fused FMR of 10⁻⁶ per person compared — about one false hit per million comparisons, so
    /// a de-duplication of 1,000 people against 1,000 (500,000 pairs, of which the shortlists
    /// compare a few per cent) expects well under one — and a shortlist of 20 subjects or 1% of
    /// the gallery.
    fn default() -> Self {
        SearchOptions { target: FalseMatchRate::ONE_IN_1M, shortlist: 20, shortlist_share: 0.01 }
    }
}

/// An enrolled subject that matched the probe.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// Whom.
    pub id: SubjectId,
    /// The fingers compared, their scores and the fused false match rate.
    pub verification: Verification,
}

/// The result of a 1:N search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Identification {
    /// Matches at the target rate, strongest (smallest fused false match rate) first.
    pub candidates: Vec<Candidate>,
    /// Subjects compared in full (the shortlist); the rest were ruled out by the index.
    pub compared: usize,
}

impl Default for Gallery {
    /// An empty gallery with its per-finger indexes (a derived `Default` would have none, and
    /// nothing inserted would ever be indexed).
    fn default() -> Self {
        Self::new()
    }
}

impl Gallery {
    /// An empty gallery.
    pub fn new() -> Self {
        Gallery { subjects: Vec::new(), indexes: vec![TripletIndex::default(); 11], owners: vec![Vec::new(); 11] }
    }

    /// Enrolled subjects.
    pub fn len(&self) -> usize {
        self.subjects.len()
    }

    /// Whether nobody is enrolled.
    pub fn is_empty(&self) -> bool {
        self.subjects.is_empty()
    }

    /// Enrols a subject (incrementally: the index is updated in place).
    pub fn insert(&mut self, id: SubjectId, subject: Subject) {
        let position = self.subjects.len() as u32;
        for finger in subject.fingers() {
            let code = usize::from(finger.finger().code());
            if let (Some(index), Some(owners)) = (self.indexes.get_mut(code), self.owners.get_mut(code)) {
                index.insert(owners.len() as u32, finger);
                owners.push(position);
            }
        }
        self.subjects.push((id, subject));
    }

    /// 1:N: the enrolled subjects that match `probe` at `options.target`.
    ///
    /// Each probe finger is looked up in the index of its position (all cores); a subject's index
    /// score is the sum over the probe's fingers of its votes divided by that finger's typical
    /// (90th-percentile) vote, so no one finger dominates. The best `shortlist` subjects (or
    /// `shortlist_share` of the gallery), plus the best few of each finger, are verified in full
    /// (all cores) and kept if their fused false match rate is at or below the target.
    pub fn identify(&self, probe: &Subject, options: &SearchOptions) -> Identification {
        let n = self.subjects.len();
        if n == 0 {
            return Identification { candidates: Vec::new(), compared: 0 };
        }
        let per_finger: Vec<Vec<(u32, f32)>> = probe
            .fingers()
            .par_iter()
            .filter_map(|finger| {
                let code = usize::from(finger.finger().code());
                let (index, owners) = (self.indexes.get(code)?, self.owners.get(code)?);
                let votes: Vec<f32> = index.votes(finger).into_iter().map(|v| v as f32).collect();
                let mut sorted: Vec<f32> = votes.iter().copied().filter(|&v| v > 0.0).collect();
                sorted.sort_unstable_by(f32::total_cmp);
                let typical = sorted.get(sorted.len() * 9 / 10).copied().unwrap_or(1.0).max(1.0);
                Some(
                    votes
                        .iter()
                        .zip(owners)
                        .filter(|&(&v, _)| v > 0.0)
                        .map(|(&v, &owner)| (owner, v / typical))
                        .collect(),
                )
            })
            .collect();
        let mut totals = vec![0f32; n];
        let mut shortlisted = vec![false; n];
        for votes in &per_finger {
            for &(owner, v) in votes {
                if let Some(t) = totals.get_mut(owner as usize) {
                    *t += v;
                }
            }
            // The best few of every finger, so one strong finger is never outvoted.
            for &(owner, _) in top(votes.iter().map(|&(o, v)| (v, o)), PER_FINGER).iter() {
                if let Some(s) = shortlisted.get_mut(owner as usize) {
                    *s = true;
                }
            }
        }
        let size = options.shortlist.max((options.shortlist_share * n as f64).ceil() as usize).min(n);
        for &(owner, _) in top(totals.iter().enumerate().map(|(i, &t)| (t, i as u32)), size).iter() {
            if let Some(s) = shortlisted.get_mut(owner as usize) {
                *s = true;
            }
        }
        let chosen: Vec<usize> = (0..n).filter(|&i| shortlisted.get(i) == Some(&true)).collect();
        let mut candidates: Vec<Candidate> = chosen
            .par_iter()
            .filter_map(|&i| {
                let (id, subject) = self.subjects.get(i)?;
                let verification = verify(probe, subject, options.target);
                verification.is_match.then_some(Candidate { id: *id, verification })
            })
            .collect();
        candidates.sort_by(|a, b| {
            a.verification.false_match_rate.total_cmp(&b.verification.false_match_rate).then(a.id.cmp(&b.id))
        });
        Identification { candidates, compared: chosen.len() }
    }

    /// The subject enrolled as `id`, if any.
    pub fn subject(&self, id: SubjectId) -> Option<&Subject> {
        self.subjects.iter().find(|(i, _)| *i == id).map(|(_, s)| s)
    }

    /// Finger positions indexed, with how many fingers each holds.
    pub fn fingers_indexed(&self) -> Vec<(FingerPosition, usize)> {
        crate::population::FINGERS
            .iter()
            .map(|&f| (f, self.owners.get(usize::from(f.code())).map_or(0, Vec::len)))
            .filter(|&(_, count)| count > 0)
            .collect()
    }
}

/// How many of each probe finger's best-voted subjects join the shortlist regardless of the total.
const PER_FINGER: usize = 5;

/// The `k` largest `(score, owner)` by score (ties by owner), best first.
fn top(items: impl Iterator<Item = (f32, u32)>, k: usize) -> Vec<(u32, f32)> {
    let mut all: Vec<(f32, u32)> = items.collect();
    let order = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    if all.len() > k && k > 0 {
        all.select_nth_unstable_by(k - 1, order);
        all.truncate(k);
    }
    if k == 0 {
        all.clear();
    }
    all.sort_unstable_by(order);
    all.into_iter().map(|(s, o)| (o, s)).collect()
}
