//! 1:N: a gallery of enrolled subjects with a triplet index per finger position.

use rayon::prelude::*;
use serde::Serialize;

use super::{
    FalseMatchRate, FingerTemplate, Subject, Verification,
    features::Point,
    index::{Filing, MAX_SLOTS, TripletIndex},
    verify,
};
use crate::{Error, template::FingerPosition};

/// The caller's identifier of an enrolled subject (an enrolment number, a database key).
pub type SubjectId = u64;

/// Enrolled subjects, searchable 1:N.
///
/// A subject's fingers are kept as their minutiae only (16 bytes each, about 1 KB a finger) and
/// compiled into [`FingerTemplate`]s again when the shortlist needs them: a compiled template's
/// neighbourhood tables are twenty times that, too much for a national gallery.
#[derive(Debug)]
pub struct Gallery {
    ids: Vec<SubjectId>,
    fingers: Vec<Box<[StoredFinger]>>,
    /// One index per finger position code (0 unknown … 10 left little).
    indexes: Vec<TripletIndex>,
    /// For each index, the subject (position in `ids`) of each slot.
    owners: Vec<Vec<u32>>,
}

/// An enrolled finger as the gallery keeps it: what [`FingerTemplate::from_points`] needs.
#[derive(Debug, Clone)]
struct StoredFinger {
    finger: FingerPosition,
    quality: u8,
    points: Box<[Point]>,
}

impl StoredFinger {
    fn of(template: &FingerTemplate) -> Self {
        StoredFinger { finger: template.finger(), quality: template.quality(), points: template.points.clone().into() }
    }

    /// The template again, exactly as it was (compiling is deterministic).
    fn compile(&self) -> Option<FingerTemplate> {
        FingerTemplate::from_points(self.finger, self.quality, self.points.to_vec()).ok()
    }
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
    /// A fused FMR of 10⁻⁶ per person compared — about one false hit per million comparisons, and
    /// a search compares a fixed few dozen people however large the gallery, so even a national
    /// de-duplication expects well under one false hit per thousand searches — and a shortlist of
    /// 20 subjects, not a share of the gallery: the index's evidence, fused over the fingers,
    /// ranks a mate first by a wide margin (see `benches/identify.rs`), and a shortlist that grew
    /// with the gallery would make the full comparisons, not the index, the cost of a search.
    fn default() -> Self {
        SearchOptions { target: FalseMatchRate::ONE_IN_1M, shortlist: 20, shortlist_share: 0.0 }
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
        Gallery {
            ids: Vec::new(),
            fingers: Vec::new(),
            indexes: vec![TripletIndex::default(); 11],
            owners: vec![Vec::new(); 11],
        }
    }

    /// Enrolled subjects.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether nobody is enrolled.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Enrols a subject (incrementally: the indexes are updated in place). Refused, with nothing
    /// changed, when the index of one of its finger positions is full (2^24 fingers).
    pub fn insert(&mut self, id: SubjectId, subject: Subject) -> Result<(), Error> {
        let filings: Vec<Filing> = subject.fingers().iter().map(Filing::of).collect();
        self.file(id, &subject, &filings)
    }

    /// Enrols many subjects at once: the same as inserting them one by one, in order, but their
    /// triangles are computed on all cores. Stops at the first one refused (see [`Self::insert`]);
    /// those before it stay enrolled.
    pub fn insert_many(&mut self, subjects: Vec<(SubjectId, Subject)>) -> Result<(), Error> {
        let filings: Vec<Vec<Filing>> =
            subjects.par_iter().map(|(_, s)| s.fingers().iter().map(Filing::of).collect()).collect();
        for ((id, subject), filings) in subjects.iter().zip(&filings) {
            self.file(*id, subject, filings)?;
        }
        Ok(())
    }

    fn file(&mut self, id: SubjectId, subject: &Subject, filings: &[Filing]) -> Result<(), Error> {
        let position = u32::try_from(self.ids.len()).map_err(|_| Error::parameter("gallery", "the gallery is full"))?;
        for finger in subject.fingers() {
            let full = self.indexes.get(usize::from(finger.finger().code())).is_none_or(|i| i.len() >= MAX_SLOTS);
            if full {
                return Err(Error::parameter("gallery", format!("the index of {:?} is full", finger.finger())));
            }
        }
        for (finger, filing) in subject.fingers().iter().zip(filings) {
            let code = usize::from(finger.finger().code());
            if let (Some(index), Some(owners)) = (self.indexes.get_mut(code), self.owners.get_mut(code))
                && index.insert(filing).is_some()
            {
                owners.push(position);
            }
        }
        self.ids.push(id);
        self.fingers.push(subject.fingers().iter().map(StoredFinger::of).collect());
        Ok(())
    }

    /// 1:N: the enrolled subjects that match `probe` at `options.target`.
    ///
    /// Each probe finger is looked up in the index of its position (the fingers shared out among
    /// the cores), which gives every enrolled finger of that position its votes (see
    /// [`TripletIndex::votes`]). Votes become evidence against chance: an unrelated finger's votes
    /// grow with how many triangles it has filed, so each finger's votes are compared with that
    /// expectation (the probe's overall rate of votes per filed triangle, times the finger's
    /// triangles) in units of its Poisson standard deviation. A subject's index score is the sum of
    /// that evidence over the probe's fingers: a mate scores on many fingers at once, chance on few.
    /// The best `shortlist` subjects (or `shortlist_share` of the gallery), plus each probe
    /// finger's best [`PER_FINGER`], are compiled and verified in full (all cores) and kept if
    /// their fused false match rate is at or below the target.
    pub fn identify(&self, probe: &Subject, options: &SearchOptions) -> Identification {
        let n = self.ids.len();
        if n == 0 {
            return Identification { candidates: Vec::new(), compared: 0 };
        }
        let per_finger: Vec<(&[u32], Vec<f32>)> = probe
            .fingers()
            .par_iter()
            .filter_map(|finger| {
                let code = usize::from(finger.finger().code());
                let (index, owners) = (self.indexes.get(code)?, self.owners.get(code)?);
                Some((owners.as_slice(), evidence(index, &index.votes(finger))))
            })
            .collect();
        let mut totals = vec![0f32; n];
        let mut shortlisted = vec![false; n];
        for (owners, evidence) in &per_finger {
            for (&owner, &e) in owners.iter().zip(evidence) {
                if let Some(t) = totals.get_mut(owner as usize) {
                    *t += e;
                }
            }
            // The best few of every finger, so one strong finger is never outvoted.
            let best = top(evidence.iter().enumerate().map(|(slot, &e)| (e, slot as u32)), PER_FINGER);
            for (slot, _) in best {
                if let Some(s) = owners.get(slot as usize).and_then(|&o| shortlisted.get_mut(o as usize)) {
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
                let id = *self.ids.get(i)?;
                let subject = self.compiled(i)?;
                let verification = verify(probe, &subject, options.target);
                verification.is_match.then_some(Candidate { id, verification })
            })
            .collect();
        candidates.sort_by(|a, b| {
            a.verification.false_match_rate.total_cmp(&b.verification.false_match_rate).then(a.id.cmp(&b.id))
        });
        Identification { candidates, compared: chosen.len() }
    }

    /// The subject at `position`, compiled.
    fn compiled(&self, position: usize) -> Option<Subject> {
        let fingers = self.fingers.get(position)?.iter().map(StoredFinger::compile).collect::<Option<Vec<_>>>()?;
        Subject::new(fingers).ok()
    }

    /// The subject enrolled as `id`, if any (compiled again from what the gallery keeps).
    pub fn subject(&self, id: SubjectId) -> Option<Subject> {
        self.compiled(self.ids.iter().position(|&i| i == id)?)
    }

    /// Finger positions indexed, with how many fingers each holds.
    pub fn fingers_indexed(&self) -> Vec<(FingerPosition, usize)> {
        crate::population::FINGERS
            .iter()
            .map(|&f| (f, self.owners.get(usize::from(f.code())).map_or(0, Vec::len)))
            .filter(|&(_, count)| count > 0)
            .collect()
    }

    /// Bytes the gallery holds on the heap (indexes and stored minutiae; not the allocator's own
    /// overhead).
    pub fn heap_bytes(&self) -> usize {
        let stored: usize = self
            .fingers
            .iter()
            .map(|f| {
                f.len() * size_of::<StoredFinger>()
                    + f.iter().map(|s| s.points.len() * size_of::<Point>()).sum::<usize>()
            })
            .sum();
        self.ids.capacity() * size_of::<SubjectId>()
            + self.fingers.capacity() * size_of::<Box<[StoredFinger]>>()
            + stored
            + self.indexes.iter().map(TripletIndex::heap_bytes).sum::<usize>()
            + self.owners.iter().map(|o| o.capacity() * 4).sum::<usize>()
    }
}

/// Each slot's votes as evidence against chance: `(votes − expected) / √(expected + 1)`, where an
/// unrelated finger is expected to collect votes in proportion to the triangles it has filed, at
/// the rate the probe collects over the whole index (nearly all of which is chance).
fn evidence(index: &TripletIndex, votes: &[u16]) -> Vec<f32> {
    let (mut all_votes, mut all_triangles) = (0f64, 0f64);
    for (slot, &v) in votes.iter().enumerate() {
        all_votes += f64::from(v);
        all_triangles += f64::from(index.triangles_of(slot));
    }
    let rate = (all_votes / all_triangles.max(1.0)) as f32;
    votes
        .iter()
        .enumerate()
        .map(|(slot, &v)| {
            let expected = rate * index.triangles_of(slot) as f32;
            (f32::from(v) - expected) / (expected + 1.0).sqrt()
        })
        .collect()
}

/// How many of each probe finger's best-voted subjects join the shortlist regardless of the total.
const PER_FINGER: usize = 3;

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
