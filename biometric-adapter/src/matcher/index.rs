//! The 1:N index: geometric hashing of minutia triplets, with votes that must agree on a rotation.
//!
//! Each minutia and two of its nearest neighbours form a triangle whose shape — two side lengths,
//! the angle between them and the three minutiae's directions relative to the sides — does not
//! change when the finger moves. Enrolled fingers file every such triangle under its quantised
//! shape; a probe looks up its own triangles (in the two nearest bins of every dimension, so noise
//! near a bin edge does not lose it) and each hit votes for the enrolled finger *and* for the
//! rotation between the two triangles. A finger of the same person collects many votes at one
//! rotation; an unrelated finger collects a few, spread over all rotations. The fingers with the
//! most votes at their best rotation are the shortlist that the 1:1 matcher then scores.

use std::f32::consts::PI;

use super::features::FingerTemplate;

/// Neighbours per minutia used for triangles: 4 give 6 triangles per minutia.
const NEIGHBOURS: usize = 4;
/// Shortest and longest triangle sides indexed (pixels).
const MIN_SIDE: f32 = 15.0;
const SIDE_BIN: f32 = 12.0;
const SIDE_BINS: usize = 11;
/// The angle between the two sides: 12 bins of 15°, and only 20°-160° (a flatter or thinner
/// triangle's side order is not stable under noise).
const APEX_BINS: usize = 12;
const MIN_APEX: f32 = 20.0 * PI / 180.0;
const MAX_APEX: f32 = 160.0 * PI / 180.0;
/// Directions relative to the sides: 8 bins of 45°.
const DIRECTION_BINS: usize = 8;
const KEYS: usize = SIDE_BINS * SIDE_BINS * APEX_BINS * DIRECTION_BINS * DIRECTION_BINS * DIRECTION_BINS;

/// One triangle: its shape as six continuous coordinates, in bin units, and the direction of its
/// first side (1/256 turn).
struct Triangle {
    coordinates: [f32; 6],
    reference: u8,
}

/// The dimensions' bin counts and whether they wrap around.
const DIMENSIONS: [(usize, bool); 6] = [
    (SIDE_BINS, false),
    (SIDE_BINS, false),
    (APEX_BINS, false),
    (DIRECTION_BINS, true),
    (DIRECTION_BINS, true),
    (DIRECTION_BINS, true),
];

fn triangles(template: &FingerTemplate) -> Vec<Triangle> {
    let mut out = Vec::with_capacity(template.points.len() * 6);
    let to_bins = |angle: f32| angle.rem_euclid(2.0 * PI) / (2.0 * PI) * DIRECTION_BINS as f32;
    for (a, pa) in template.points.iter().enumerate() {
        let near: Vec<_> =
            template.edges_of(a).iter().filter(|e| e.length >= MIN_SIDE).take(NEIGHBOURS).copied().collect();
        for (i, e1) in near.iter().enumerate() {
            for e2 in near.iter().skip(i + 1) {
                let (d1, d2) = (e1.dy.atan2(e1.dx), e2.dy.atan2(e2.dx));
                // Order the sides so that the second is reached turning clockwise on screen (the
                // positive direction in y-down coordinates) by less than half a turn.
                let apex = (d2 - d1).rem_euclid(2.0 * PI);
                let (first, second, apex, d1, d2) =
                    if apex <= PI { (e1, e2, apex, d1, d2) } else { (e2, e1, 2.0 * PI - apex, d2, d1) };
                if !(MIN_APEX..=MAX_APEX).contains(&apex) {
                    continue;
                }
                let (Some(p1), Some(p2)) =
                    (template.points.get(usize::from(first.to)), template.points.get(usize::from(second.to)))
                else {
                    continue;
                };
                out.push(Triangle {
                    coordinates: [
                        (first.length - MIN_SIDE) / SIDE_BIN,
                        (second.length - MIN_SIDE) / SIDE_BIN,
                        (apex - MIN_APEX) / (MAX_APEX - MIN_APEX) * APEX_BINS as f32,
                        to_bins(pa.dir - d1),
                        to_bins(p1.dir - d1),
                        to_bins(p2.dir - d2),
                    ],
                    reference: ((d1.rem_euclid(2.0 * PI) / (2.0 * PI) * 256.0).round() as u32 & 0xff) as u8,
                });
            }
        }
    }
    out
}

/// The bin of a coordinate, clamped (or wrapped) into its dimension.
fn bin(value: f32, (bins, wraps): (usize, bool)) -> usize {
    let b = value.max(0.0) as usize;
    if wraps { b % bins } else { b.min(bins - 1) }
}

/// The nearest bin and the next nearest (for a value near the edge of its bin).
fn two_bins(value: f32, dimension: (usize, bool)) -> [usize; 2] {
    let (bins, wraps) = dimension;
    let first = bin(value, dimension);
    let fraction = value - value.floor();
    let second = if fraction < 0.5 {
        if first == 0 { if wraps { bins - 1 } else { first } } else { first - 1 }
    } else if first + 1 == bins {
        if wraps { 0 } else { first }
    } else {
        first + 1
    };
    [first, second]
}

fn key(bins: [usize; 6]) -> usize {
    let mut k = 0;
    for (b, (n, _)) in bins.iter().zip(DIMENSIONS) {
        k = k * n + b;
    }
    k
}

/// The distinct keys within reach of a probe triangle: the 2^6 combinations of the nearest and
/// next-nearest bin of every dimension (a dimension whose two bins coincide, clamped at an end,
/// is visited once).
fn probe_keys(t: &Triangle, keys: &mut Vec<usize>) {
    keys.clear();
    let mut options = [[0usize; 2]; 6];
    for ((o, &c), d) in options.iter_mut().zip(&t.coordinates).zip(DIMENSIONS) {
        *o = two_bins(c, d);
    }
    'combinations: for combination in 0..64u32 {
        let mut bins = [0usize; 6];
        for (d, (b, pair)) in bins.iter_mut().zip(&options).enumerate() {
            let choice = (combination >> d & 1) as usize;
            if choice == 1 && pair[0] == pair[1] {
                continue 'combinations;
            }
            *b = pair[choice];
        }
        keys.push(key(bins));
    }
}

/// The slots an index can hold: a posting keeps the slot in 24 bits.
pub(crate) const MAX_SLOTS: usize = 1 << 24;

/// Recent postings are merged into the packed table once there are this many of them, or a
/// quarter as many as are packed, whichever is more: every posting is copied a few times over the
/// life of the index, and the recent lists' spare capacity stays a fraction of the whole.
const MERGE_AT: usize = 1 << 20;

/// Hough cells of rotation: 16 steps of 22.5°.
const ROTATION_CELLS: usize = 16;

/// A finger's triangles as they are filed: each one's key (its quantised shape) and reference
/// direction. Computing it is the costly part of enrolling a finger, and needs no access to the
/// index, so many fingers can be prepared at once on all cores.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filing(Vec<(u32, u8)>);

impl Filing {
    pub(crate) fn of(template: &FingerTemplate) -> Filing {
        Filing(
            triangles(template)
                .iter()
                .map(|t| {
                    let mut bins = [0usize; 6];
                    for (b, (&c, d)) in bins.iter_mut().zip(t.coordinates.iter().zip(DIMENSIONS)) {
                        *b = bin(c, d);
                    }
                    (key(bins) as u32, t.reference)
                })
                .collect(),
        )
    }
}

/// Triangles of every enrolled finger, filed by shape: an inverted index from each of the
/// [`KEYS`] quantised shapes to the enrolled triangles of that shape.
///
/// A posting is four bytes, `slot << 8 | reference`: the enrolled finger's slot and the direction
/// of the triangle's first side in 1/256 turn (what the rotation vote needs). Most postings live
/// in one packed table (every key's postings contiguous, the keys' starts in one array); those
/// filed since the last merge wait in one growable list per key, and are merged in when there are
/// enough of them ([`MERGE_AT`]). So enrolment stays incremental while the memory is four bytes a
/// triangle plus a fraction, and a lookup reads two contiguous runs.
#[derive(Debug, Clone, Default)]
pub(crate) struct TripletIndex {
    /// Postings of key `k` are `packed[starts[k]..starts[k + 1]]`; both empty until the first merge.
    starts: Vec<usize>,
    packed: Vec<u32>,
    /// Per key, the postings filed since the last merge. Allocated on the first insert.
    recent: Vec<Vec<u32>>,
    recent_postings: usize,
    /// Triangles per enrolled finger (saturating).
    counts: Vec<u16>,
}

impl TripletIndex {
    /// Enrolled fingers.
    pub(crate) fn len(&self) -> usize {
        self.counts.len()
    }

    /// Files a finger's triangles under the next slot (0, 1, 2 …), which it returns; `None` (and
    /// nothing filed) when the index is full.
    pub(crate) fn insert(&mut self, filing: &Filing) -> Option<u32> {
        let slot = self.counts.len();
        if slot >= MAX_SLOTS {
            return None;
        }
        if self.recent.is_empty() {
            self.recent = vec![Vec::new(); KEYS];
        }
        for &(key, reference) in &filing.0 {
            if let Some(list) = self.recent.get_mut(key as usize) {
                list.push((slot as u32) << 8 | u32::from(reference));
            }
        }
        self.recent_postings += filing.0.len();
        self.counts.push(u16::try_from(filing.0.len()).unwrap_or(u16::MAX));
        if self.recent_postings >= MERGE_AT.max(self.packed.len() / 4) {
            self.merge();
        }
        Some(slot as u32)
    }

    /// Moves the recent postings into the packed table (a new table, key by key).
    fn merge(&mut self) {
        let TripletIndex { starts, packed, recent, recent_postings, .. } = self;
        let mut new_starts = Vec::with_capacity(KEYS + 1);
        let mut new_packed = Vec::with_capacity(packed.len() + *recent_postings);
        for (k, list) in recent.iter_mut().enumerate() {
            new_starts.push(new_packed.len());
            let (Some(&from), Some(&to)) = (starts.get(k), starts.get(k + 1)) else {
                new_packed.append(list);
                continue;
            };
            new_packed.extend_from_slice(packed.get(from..to).unwrap_or(&[]));
            new_packed.append(list);
            // Freed as we go, so the peak is the two tables, not the two plus the lists.
            list.shrink_to_fit();
        }
        new_starts.push(new_packed.len());
        *starts = new_starts;
        *packed = new_packed;
        *recent_postings = 0;
    }

    /// The postings of `key`: the packed ones, then the recent ones.
    fn postings(&self, key: usize) -> [&[u32]; 2] {
        let packed = match (self.starts.get(key), self.starts.get(key + 1)) {
            (Some(&from), Some(&to)) => self.packed.get(from..to).unwrap_or(&[]),
            _ => &[],
        };
        [packed, self.recent.get(key).map_or(&[], Vec::as_slice)]
    }

    /// Triangles filed for the finger in `slot`.
    pub(crate) fn triangles_of(&self, slot: usize) -> u32 {
        self.counts.get(slot).map_or(0, |&c| u32::from(c))
    }

    /// For every slot, how many of the probe's triangles it shares under one rotation: each hit
    /// votes for its slot and for the rotation between the two triangles (a Hough transform per
    /// enrolled finger, over [`ROTATION_CELLS`] cells of one byte, saturating), and a slot's votes
    /// are its most votes in two neighbouring cells.
    pub(crate) fn votes(&self, probe: &FingerTemplate) -> Vec<u16> {
        let slots = self.counts.len();
        if slots == 0 {
            return Vec::new();
        }
        let mut cells = vec![0u8; slots * ROTATION_CELLS];
        let mut keys = Vec::with_capacity(64);
        for t in triangles(probe) {
            probe_keys(&t, &mut keys);
            for &key in &keys {
                for list in self.postings(key) {
                    for &posting in list {
                        let rotation = (posting as u8).wrapping_sub(t.reference) >> 4;
                        let cell = (posting >> 8) as usize * ROTATION_CELLS + usize::from(rotation);
                        if let Some(c) = cells.get_mut(cell) {
                            *c = c.saturating_add(1);
                        }
                    }
                }
            }
        }
        cells
            .chunks_exact(ROTATION_CELLS)
            .map(|c| {
                let mut best = u16::from(c[ROTATION_CELLS - 1]) + u16::from(c[0]);
                for pair in c.windows(2) {
                    best = best.max(u16::from(pair[0]) + u16::from(pair[1]));
                }
                best
            })
            .collect()
    }

    /// Bytes on the heap.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.starts.capacity() * size_of::<usize>()
            + self.packed.capacity() * 4
            + self.recent.capacity() * size_of::<Vec<u32>>()
            + self.recent.iter().map(|l| l.capacity() * 4).sum::<usize>()
            + self.counts.capacity() * 2
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::population::{FINGERS, NoiseParams, Population};

    fn capture(population: &Population, person: u64, number: u32) -> FingerTemplate {
        let finger = FINGERS[1];
        let impression = population
            .master(person, finger)
            .unwrap()
            .impression(&NoiseParams::default(), &mut population.capture_rng(person, finger, number).unwrap())
            .unwrap();
        FingerTemplate::from_single_view_record(&impression.to_record().unwrap()).unwrap()
    }

    /// Packing the recent postings changes where they are kept, never what a probe finds; and the
    /// index keeps taking fingers, and finding them, after a merge.
    #[test]
    fn merging_keeps_every_vote_and_the_mate_wins() {
        let population = Population::new(11);
        let enrolled: Vec<Filing> = (0..40).map(|p| Filing::of(&capture(&population, p, 0))).collect();
        let probes: Vec<FingerTemplate> = (0..40).map(|p| capture(&population, p, 1)).collect();
        let mut recent_only = TripletIndex::default();
        let mut merged = TripletIndex::default();
        for (k, filing) in enrolled.iter().enumerate() {
            assert_eq!(recent_only.insert(filing), Some(k as u32));
            assert_eq!(merged.insert(filing), Some(k as u32));
            if k % 15 == 14 {
                merged.merge();
            }
        }
        assert!(!merged.packed.is_empty() && merged.recent_postings > 0, "both halves are in use");
        let mut first = 0;
        for (p, probe) in probes.iter().enumerate() {
            let votes = merged.votes(probe);
            assert_eq!(votes, recent_only.votes(probe));
            // Raw votes of one finger, not yet weighed against each finger's size nor fused with
            // the person's other fingers (the gallery does both): the mate is first more often than
            // not (24 of these 40).
            let mate = votes.get(p).copied().unwrap();
            first += usize::from(votes.iter().all(|&v| v <= mate));
        }
        assert!(first >= 20, "the mate is first for only {first} of 40 probes (by chance: about 1)");
    }

    /// A full index refuses another finger and files nothing of it.
    #[test]
    fn a_full_index_refuses_a_finger() {
        let population = Population::new(11);
        let filing = Filing::of(&capture(&population, 0, 0));
        let mut index = TripletIndex { counts: vec![1; MAX_SLOTS], ..TripletIndex::default() };
        assert_eq!(index.insert(&filing), None);
        assert_eq!(index.len(), MAX_SLOTS);
        assert_eq!(index.recent_postings, 0);
        assert!(index.recent.iter().all(Vec::is_empty));
    }
}
