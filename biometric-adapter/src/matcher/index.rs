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

use rayon::prelude::*;

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

/// One triangle: its shape as six continuous coordinates, in bin units, the direction of its
/// first side (1/256 turn) and where its apex is, relative to the template's centroid.
struct Triangle {
    coordinates: [f32; 6],
    reference: u8,
    x: f32,
    y: f32,
}

/// An enrolled triangle as filed: its finger's slot, its side direction and its apex position
/// (relative to the finger's centroid, in units of [`POSITION_UNIT`] pixels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Posting {
    slot: u32,
    reference: u8,
    x: i8,
    y: i8,
}

const POSITION_UNIT: f32 = 4.0;

/// A probe triangle's hit on an enrolled one: the slot and the motion the pair implies.
#[derive(Debug, Clone, Copy)]
struct Hit {
    slot: u32,
    rotation: u8,
    tx: f32,
    ty: f32,
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
    let count = template.points.len().max(1) as f32;
    let cx = template.points.iter().map(|p| p.x).sum::<f32>() / count;
    let cy = template.points.iter().map(|p| p.y).sum::<f32>() / count;
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
                    x: pa.x - cx,
                    y: pa.y - cy,
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

/// Triangles of every enrolled finger, filed by shape.
#[derive(Debug, Clone, Default)]
pub(crate) struct TripletIndex {
    /// Per key: every enrolled triangle with that shape. Allocated on the first insert.
    postings: Vec<Vec<Posting>>,
    /// Triangles per enrolled finger.
    pub(crate) counts: Vec<u32>,
}

impl TripletIndex {
    /// Adds to `hits` the (slot, Hough cell) of every enrolled triangle shaped like `t`.
    fn hits(&self, t: &Triangle, turns: &[(f32, f32)], hits: &mut Vec<(u32, u32)>) {
        let mut options = [[0usize; 2]; 6];
        for ((o, &c), d) in options.iter_mut().zip(&t.coordinates).zip(DIMENSIONS) {
            *o = two_bins(c, d);
        }
        // The 2^6 combinations of nearest and next-nearest bins; a dimension whose two bins
        // coincide (clamped at an end) is visited once.
        for combination in 0..64u32 {
            let mut bins = [0usize; 6];
            let mut duplicate = false;
            for (d, (b, pair)) in bins.iter_mut().zip(&options).enumerate() {
                let choice = (combination >> d & 1) as usize;
                if choice == 1 && pair[0] == pair[1] {
                    duplicate = true;
                }
                *b = pair[choice];
            }
            if duplicate {
                continue;
            }
            let Some(list) = self.postings.get(key(bins)) else { continue };
            for posting in list {
                let rotation = posting.reference.wrapping_sub(t.reference);
                let (sin, cos) = turns.get(usize::from(rotation)).copied().unwrap_or((0.0, 1.0));
                let (qx, qy) = (f32::from(posting.x) * POSITION_UNIT, f32::from(posting.y) * POSITION_UNIT);
                let hit = Hit {
                    slot: posting.slot,
                    rotation,
                    tx: qx - (cos * t.x - sin * t.y),
                    ty: qy - (sin * t.x + cos * t.y),
                };
                hits.push((hit.slot, cell(&hit)));
            }
        }
    }

    /// Files the triangles of the finger in `slot` (slots are numbered 0, 1, 2 … by the caller,
    /// below 2^24).
    pub(crate) fn insert(&mut self, slot: u32, template: &FingerTemplate) {
        if self.postings.is_empty() {
            self.postings = vec![Vec::new(); KEYS];
        }
        let slot_index = slot as usize;
        if self.counts.len() <= slot_index {
            self.counts.resize(slot_index + 1, 0);
        }
        let triangles = triangles(template);
        if let Some(c) = self.counts.get_mut(slot_index) {
            *c = triangles.len() as u32;
        }
        for t in triangles {
            let mut bins = [0usize; 6];
            for (b, (&c, d)) in bins.iter_mut().zip(t.coordinates.iter().zip(DIMENSIONS)) {
                *b = bin(c, d);
            }
            if let Some(list) = self.postings.get_mut(key(bins)) {
                let unit = |v: f32| (v / POSITION_UNIT).round().clamp(-127.0, 127.0) as i8;
                list.push(Posting { slot, reference: t.reference, x: unit(t.x), y: unit(t.y) });
            }
        }
    }

    /// For every slot, how many of the probe's triangles it shares under one consistent motion:
    /// the most hits in a block of neighbouring cells of rotation and translation (a Hough
    /// transform per enrolled finger).
    pub(crate) fn votes(&self, probe: &FingerTemplate) -> Vec<u32> {
        let slots = self.counts.len();
        let mut out = vec![0u32; slots];
        if self.postings.is_empty() {
            return out;
        }
        // Rotations come in 1/256 turn: their sines and cosines once, not per hit.
        let turns: Vec<(f32, f32)> = (0..256).map(|r| (r as f32 * (2.0 * PI / 256.0)).sin_cos()).collect();
        // Every probe triangle's hits, the triangles shared out among the cores.
        let hits: Vec<(u32, u32)> = triangles(probe)
            .par_iter()
            .fold(Vec::new, |mut hits, t| {
                self.hits(t, &turns, &mut hits);
                hits
            })
            .flatten_iter()
            .collect();
        // Group the hits by slot (a counting sort: linear in the hits).
        let mut starts = vec![0usize; slots + 1];
        for &(slot, _) in &hits {
            if let Some(s) = starts.get_mut(slot as usize + 1) {
                *s += 1;
            }
        }
        for k in 1..starts.len() {
            let previous = starts.get(k - 1).copied().unwrap_or(0);
            if let Some(s) = starts.get_mut(k) {
                *s += previous;
            }
        }
        let mut next = starts.clone();
        let mut cells = vec![0u32; hits.len()];
        for &(slot, c) in &hits {
            if let Some(n) = next.get_mut(slot as usize)
                && let Some(place) = cells.get_mut(*n)
            {
                *place = c;
                *n += 1;
            }
        }
        // Per slot: the largest group of hits within two adjacent cells along every axis. The
        // slots are independent, so all cores share them.
        let mut groups: Vec<&mut [u32]> = Vec::with_capacity(slots);
        let mut rest = cells.as_mut_slice();
        for slot in 0..slots {
            let size = starts.get(slot + 1).copied().unwrap_or(0) - starts.get(slot).copied().unwrap_or(0);
            let (group, tail) = rest.split_at_mut(size.min(rest.len()));
            groups.push(group);
            rest = tail;
        }
        out.par_iter_mut().zip(groups).with_min_len(256).for_each_init(Vec::new, |distinct, (votes, group)| {
            if !group.is_empty() {
                group.sort_unstable();
                *votes = densest(group, distinct);
            }
        });
        out
    }
}

/// Hough cells: rotation in 16 steps of 22.5°, translation in steps of [`CELL_SIZE`] pixels.
const ROTATION_CELLS: u32 = 16;
const CELL_SIZE: f32 = 30.0;
/// Translations are offset by this many cells so that cell numbers are positive.
const CELL_OFFSET: f32 = 512.0;

/// A hit's cell, packed as rotation << 20 | tx << 10 | ty.
fn cell(h: &Hit) -> u32 {
    let rotation = u32::from(h.rotation) * ROTATION_CELLS / 256;
    let axis = |v: f32| ((v / CELL_SIZE).floor() + CELL_OFFSET).clamp(0.0, 1023.0) as u32;
    rotation << 20 | axis(h.tx) << 10 | axis(h.ty)
}

/// The most hits in any block of 2 × 2 × 2 neighbouring cells (rotation wrapping around), given
/// the hits' cells sorted. For each block's corner cell, the seven other cells are found by
/// sweeping one cursor per offset through the distinct cells: the cells, and so the targets, come
/// in increasing order. (Only rotation's wrap-around, from the last step to the first, breaks the
/// order; those few are looked up by binary search.)
fn densest(sorted: &[u32], distinct: &mut Vec<(u32, u32)>) -> u32 {
    distinct.clear();
    for &c in sorted {
        match distinct.last_mut() {
            Some((key, count)) if *key == c => *count += 1,
            _ => distinct.push((c, 1)),
        }
    }
    let lookup = |key: u32, from: &mut usize| -> u32 {
        while distinct.get(*from).is_some_and(|&(k, _)| k < key) {
            *from += 1;
        }
        match distinct.get(*from) {
            Some(&(k, count)) if k == key => count,
            _ => 0,
        }
    };
    let search = |key: u32| -> u32 {
        distinct.binary_search_by_key(&key, |&(k, _)| k).ok().and_then(|i| distinct.get(i)).map_or(0, |&(_, c)| c)
    };
    let mut cursors = [0usize; 8];
    let mut best = 0;
    for &(key, count) in distinct.iter() {
        let rotation = key >> 20;
        let mut total = count;
        for (o, cursor) in cursors.iter_mut().enumerate().skip(1) {
            let (dr, dx, dy) = ((o >> 2) as u32, (o >> 1 & 1) as u32, (o & 1) as u32);
            let shift = dx << 10 | dy;
            if dr == 1 && rotation + 1 == ROTATION_CELLS {
                total += search((key & 0x000f_ffff) + shift);
            } else {
                total += lookup(key + (dr << 20) + shift, cursor);
            }
        }
        best = best.max(total);
    }
    best
}
