//! 1:1 comparison of two finger templates: find the minutiae that correspond, then weigh the
//! evidence that they do. The algorithm is described in the [module docs](super).

use super::features::{
    ANGLE_BINS, Edge, FingerTemplate, LENGTH_BIN, LENGTH_BINS, Shape, angle_bin, angle_distance, bucket, length_bin,
    norm,
};

/// Edge lengths may differ by this much plus [`LENGTH_SLACK`] of the length: two captures' position
/// noise (σ 4 px each, so about 8 px on a length difference) and up to 10% skin strain.
const LENGTH_TOLERANCE: f32 = 10.0;
const LENGTH_SLACK: f32 = 0.12;
/// Angles between an edge and its minutiae's directions may differ by this much: direction noise
/// (σ 10° per capture, 14° between two) plus the edge's own direction error.
const EDGE_ANGLE_TOLERANCE: f32 = 32.0 * std::f32::consts::PI / 180.0;
/// After alignment, a minutia's direction may differ from the prediction by this much.
const DIRECTION_TOLERANCE: f32 = 35.0 * std::f32::consts::PI / 180.0;
/// After alignment, a minutia may be this far from where the other capture has it, plus
/// [`RADIUS_SLACK`] of its distance from the centre of the pairing (distortion grows outwards).
const RADIUS: f32 = 15.0;
const RADIUS_SLACK: f32 = 0.04;
/// How many of the best-supported minutia pairs are tried as the root of an alignment.
const MAX_ROOTS: usize = 14;
/// Root search looks up only each probe minutia's nearest few edges (the candidate offers all of
/// its own): enough for a true pair to collect votes, at half the cost.
const ROOT_EDGES: usize = 6;
/// Alignment rounds: pair under the current motion, refit the motion to the pairs.
const REFITS: usize = 2;
/// A minutia counts as inside the other capture's area if one of its minutiae is this close
/// (along each axis): about the spacing of minutiae.
const OVERLAP_REACH: f32 = 40.0;

/// What one comparison found.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Comparison {
    /// The similarity score: see [`score`].
    pub(crate) score: f32,
    /// Minutiae paired under the best alignment.
    pub(crate) paired: u32,
    /// Of those, the ones that a neighbouring pair agrees with.
    pub(crate) supported: u32,
    /// The evidence (log-likelihood ratios) of the supported pairs.
    pub(crate) evidence: f32,
    /// Minutiae of each side inside the other's area after alignment.
    pub(crate) probe_overlap: u32,
    pub(crate) candidate_overlap: u32,
}

fn length_tolerance(length: f32) -> f32 {
    LENGTH_TOLERANCE + LENGTH_SLACK * length
}

fn edges_agree(e: &Edge, f: &Edge) -> bool {
    (e.length - f.length).abs() <= length_tolerance(e.length)
        && angle_distance(e.from_angle, f.from_angle) <= EDGE_ANGLE_TOLERANCE
        && angle_distance(e.to_angle, f.to_angle) <= EDGE_ANGLE_TOLERANCE
}

/// [`edges_agree`] for quantised shapes: a table of length tolerances and the angle tolerance in
/// 1/256 turn.
struct ShapeTolerance {
    length: [u8; 256],
    angle: u8,
}

impl ShapeTolerance {
    fn new() -> Self {
        let mut length = [0u8; 256];
        for (l, t) in length.iter_mut().enumerate() {
            *t = length_tolerance(l as f32).round().min(255.0) as u8;
        }
        let angle = (EDGE_ANGLE_TOLERANCE / (2.0 * std::f32::consts::PI) * 256.0).round() as u8;
        ShapeTolerance { length, angle }
    }

    #[inline]
    fn agree(&self, e: &Shape, f: &Shape) -> bool {
        let length_ok = e.length.abs_diff(f.length) <= self.length[usize::from(e.length)];
        let from_ok = (e.from_angle.wrapping_sub(f.from_angle) as i8).unsigned_abs() <= self.angle;
        let to_ok = (e.to_angle.wrapping_sub(f.to_angle) as i8).unsigned_abs() <= self.angle;
        length_ok & from_ok & to_ok
    }
}

/// The edges of `edges` (sorted by length) whose length is within tolerance of `length`.
fn length_window(edges: &[Edge], length: f32) -> &[Edge] {
    let tolerance = length_tolerance(length);
    let lo = edges.partition_point(|f| f.length < length - tolerance);
    let hi = edges.partition_point(|f| f.length <= length + tolerance);
    edges.get(lo..hi).unwrap_or(&[])
}

/// The bins within one bin of `centre` on a circle of [`ANGLE_BINS`], as at most two contiguous
/// runs (an empty run has start > end).
fn angle_runs(centre: usize) -> [(usize, usize); 2] {
    let first = (centre + ANGLE_BINS - 1) % ANGLE_BINS;
    let last = (centre + 1) % ANGLE_BINS;
    if first < last { [(first, last), (1, 0)] } else { [(first, ANGLE_BINS - 1), (0, last)] }
}

/// A rigid motion: rotate by `angle` about the origin, then shift.
#[derive(Debug, Clone, Copy)]
struct Motion {
    cos: f32,
    sin: f32,
    tx: f32,
    ty: f32,
    angle: f32,
}

impl Motion {
    fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        (self.cos * x - self.sin * y + self.tx, self.sin * x + self.cos * y + self.ty)
    }

    fn invert(&self, x: f32, y: f32) -> (f32, f32) {
        let (u, v) = (x - self.tx, y - self.ty);
        (self.cos * u + self.sin * v, -self.sin * u + self.cos * v)
    }

    /// The least-squares rigid motion taking the probe minutiae of `pairs` onto the candidate's
    /// (the two-dimensional Procrustes solution).
    fn fit(probe: &FingerTemplate, candidate: &FingerTemplate, pairs: &[(u16, u16)]) -> Option<Motion> {
        let mut sums = [0f32; 4];
        let mut count = 0f32;
        for &(a, b) in pairs {
            let (p, q) = (probe.points.get(usize::from(a))?, candidate.points.get(usize::from(b))?);
            sums[0] += p.x;
            sums[1] += p.y;
            sums[2] += q.x;
            sums[3] += q.y;
            count += 1.0;
        }
        if count < 2.0 {
            return None;
        }
        let [px, py, qx, qy] = sums.map(|s| s / count);
        let (mut dot, mut cross) = (0f32, 0f32);
        for &(a, b) in pairs {
            let (p, q) = (probe.points.get(usize::from(a))?, candidate.points.get(usize::from(b))?);
            let (ux, uy, vx, vy) = (p.x - px, p.y - py, q.x - qx, q.y - qy);
            dot += ux * vx + uy * vy;
            cross += ux * vy - uy * vx;
        }
        let angle = cross.atan2(dot);
        let (sin, cos) = angle.sin_cos();
        Some(Motion { cos, sin, tx: qx - (cos * px - sin * py), ty: qy - (sin * px + cos * py), angle })
    }
}

const FREE: u16 = u16::MAX;

/// Working memory of one comparison, reused across its alignments.
struct Work {
    probe_partner: Vec<u16>,
    candidate_partner: Vec<u16>,
    /// (error, a, b) for every pair within tolerance under the current motion.
    options: Vec<(f32, u16, u16)>,
    pairs: Vec<(u16, u16)>,
    /// Probe minutiae moved into the candidate's frame.
    moved: Vec<(f32, f32)>,
    /// Root pairs already paired by an earlier alignment (n × m): trying them again would find the
    /// same alignment.
    covered: Vec<bool>,
}

/// The best alignment found so far and what it scored.
struct Best {
    evidence: f32,
    supported: u32,
    motion: Motion,
    paired: u32,
}

/// Compares two templates; symmetric up to the choice of roots.
pub(crate) fn compare(probe: &FingerTemplate, candidate: &FingerTemplate) -> Comparison {
    let (n, m) = (probe.points.len(), candidate.points.len());
    let roots = roots(probe, candidate);
    let mut work = Work {
        probe_partner: vec![FREE; n],
        candidate_partner: vec![FREE; m],
        options: Vec::with_capacity(4 * n),
        pairs: Vec::with_capacity(n.min(m)),
        moved: vec![(0.0, 0.0); n],
        covered: vec![false; n * m],
    };
    let mut best: Option<Best> = None;
    for &(_, a0, b0) in &roots {
        if work.covered.get(usize::from(a0) * m + usize::from(b0)) == Some(&true) {
            continue;
        }
        // Seed pairs: the root and the neighbours its agreeing edges lead to.
        work.pairs.clear();
        work.pairs.push((a0, b0));
        let fs = candidate.edges_of(usize::from(b0));
        for e in probe.edges_of(usize::from(a0)) {
            if let Some(f) = length_window(fs, e.length).iter().find(|f| edges_agree(e, f))
                && !work.pairs.iter().any(|&(a, b)| a == e.to || b == f.to)
            {
                work.pairs.push((e.to, f.to));
            }
        }
        let Some(mut motion) = Motion::fit(probe, candidate, &work.pairs) else { continue };
        for _ in 0..REFITS {
            pair_all(probe, candidate, &motion, &mut work);
            match Motion::fit(probe, candidate, &work.pairs) {
                Some(refined) => motion = refined,
                None => break,
            }
        }
        pair_all(probe, candidate, &motion, &mut work);
        for &(a, b) in &work.pairs {
            if let Some(c) = work.covered.get_mut(usize::from(a) * m + usize::from(b)) {
                *c = true;
            }
        }
        let (evidence, supported) = weigh(probe, candidate, &motion, &work);
        if best.as_ref().is_none_or(|b| (evidence, supported) > (b.evidence, b.supported)) {
            best = Some(Best { evidence, supported, motion, paired: work.pairs.len() as u32 });
        }
    }
    let Some(best) = best else { return Comparison::default() };
    let (probe_overlap, candidate_overlap) = overlap(probe, candidate, &best.motion);
    Comparison {
        score: score(best.evidence, best.supported, probe_overlap, candidate_overlap),
        paired: best.paired,
        supported: best.supported,
        evidence: best.evidence,
        probe_overlap,
        candidate_overlap,
    }
}

/// The score: the evidence of the supported pairs, times the square of the share of the overlap
/// they cover. Evidence alone grows with the size of the templates (bigger templates give chance
/// more to pair); the share alone is high for a tiny overlap with a few chance pairs; their product
/// separated genuine from impostor comparisons of the synthetic population best of the forms tried.
pub(crate) fn score(evidence: f32, supported: u32, probe_overlap: u32, candidate_overlap: u32) -> f32 {
    let overlap = (probe_overlap.max(1) as f32 * candidate_overlap.max(1) as f32).sqrt();
    let share = (supported as f32 / overlap).min(1.0);
    evidence * share * share
}

/// Root candidates: minutia pairs whose neighbourhoods agree, best first. Every probe edge is
/// looked up among the candidate's edges of about its shape; each agreeing edge votes for the pair
/// of minutiae it starts from.
fn roots(probe: &FingerTemplate, candidate: &FingerTemplate) -> Vec<(u8, u16, u16)> {
    let m = candidate.points.len();
    let mut similarity = vec![0u8; probe.points.len() * m];
    let tolerances = ShapeTolerance::new();
    for e in (0..probe.points.len()).flat_map(|a| probe.edges_of(a).iter().take(ROOT_EDGES).map(|e| &e.shape)) {
        let length = f32::from(e.length);
        let tolerance = length_tolerance(length);
        let lo = length_bin(length - tolerance);
        let hi = if length + tolerance >= LENGTH_BIN * LENGTH_BINS as f32 {
            LENGTH_BINS - 1
        } else {
            length_bin(length + tolerance)
        };
        let from_runs = angle_runs(angle_bin(e.from_angle));
        let to_runs = angle_runs(angle_bin(e.to_angle));
        for lb in lo..=hi {
            for (from_lo, from_hi) in from_runs {
                for from_bin in from_lo..=from_hi {
                    for (to_lo, to_hi) in to_runs {
                        if to_lo > to_hi {
                            continue;
                        }
                        for f in candidate.buckets(bucket(lb, from_bin, to_lo), bucket(lb, from_bin, to_hi)) {
                            if tolerances.agree(e, f)
                                && let Some(s) = similarity.get_mut(usize::from(e.from) * m + usize::from(f.from))
                            {
                                *s = s.saturating_add(1);
                            }
                        }
                    }
                }
            }
        }
    }
    let mut roots: Vec<(u8, u16, u16)> = similarity
        .iter()
        .enumerate()
        .filter(|&(_, &s)| s >= 2)
        .map(|(k, &s)| (s, (k / m) as u16, (k % m) as u16))
        .collect();
    let order = |x: &(u8, u16, u16), y: &(u8, u16, u16)| y.0.cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2));
    if roots.len() > MAX_ROOTS {
        roots.select_nth_unstable_by(MAX_ROOTS - 1, order);
        roots.truncate(MAX_ROOTS);
    }
    roots.sort_unstable_by(order);
    roots
}

/// Pairs every probe minutia with the nearest free candidate minutia within tolerance under
/// `motion`, closest first.
fn pair_all(probe: &FingerTemplate, candidate: &FingerTemplate, motion: &Motion, work: &mut Work) {
    work.options.clear();
    let (mut cx, mut cy, mut k) = (0f32, 0f32, 0f32);
    for &(a, _) in &work.pairs {
        if let Some(p) = probe.points.get(usize::from(a)) {
            cx += p.x;
            cy += p.y;
            k += 1.0;
        }
    }
    let (cx, cy) = if k > 0.0 { (cx / k, cy / k) } else { (0.0, 0.0) };
    for (a, p) in probe.points.iter().enumerate() {
        let (x, y) = motion.apply(p.x, p.y);
        if let Some(slot) = work.moved.get_mut(a) {
            *slot = (x, y);
        }
        let radius = RADIUS + RADIUS_SLACK * norm(p.x - cx, p.y - cy);
        let dir = p.dir + motion.angle;
        let options = &mut work.options;
        candidate.grid.near(x, y, radius, |b| {
            let Some(q) = candidate.points.get(usize::from(b)) else { return };
            let distance = norm(q.x - x, q.y - y);
            if distance > radius {
                return;
            }
            let turn = angle_distance(q.dir, dir);
            if turn > DIRECTION_TOLERANCE {
                return;
            }
            options.push((distance / radius + turn / DIRECTION_TOLERANCE, a as u16, b));
        });
    }
    work.options.sort_unstable_by(|x, y| x.0.total_cmp(&y.0));
    work.probe_partner.fill(FREE);
    work.candidate_partner.fill(FREE);
    work.pairs.clear();
    for &(_, a, b) in &work.options {
        let (ai, bi) = (usize::from(a), usize::from(b));
        if work.probe_partner.get(ai) == Some(&FREE) && work.candidate_partner.get(bi) == Some(&FREE) {
            if let (Some(pa), Some(pb)) = (work.probe_partner.get_mut(ai), work.candidate_partner.get_mut(bi)) {
                *pa = b;
                *pb = a;
            }
            work.pairs.push((a, b));
        }
    }
}

/// The evidence of a finished pairing and how many of its pairs are supported: a pair counts only
/// if one of its neighbouring pairs (along a probe edge) moved the same way, which chance pairs of
/// different fingers rarely do.
fn weigh(probe: &FingerTemplate, candidate: &FingerTemplate, motion: &Motion, work: &Work) -> (f32, u32) {
    let mut supported = 0;
    let mut evidence = 0.0;
    for &(a, b) in &work.pairs {
        let (Some(pa), Some(pb)) = (probe.points.get(usize::from(a)), candidate.points.get(usize::from(b))) else {
            continue;
        };
        let supporter = probe.edges_of(usize::from(a)).iter().any(|e| {
            let partner = work.probe_partner.get(usize::from(e.to)).copied().unwrap_or(FREE);
            let Some(qb) = candidate.points.get(usize::from(partner)) else { return false };
            let (rx, ry) = (motion.cos * e.dx - motion.sin * e.dy, motion.sin * e.dx + motion.cos * e.dy);
            norm(rx - (qb.x - pb.x), ry - (qb.y - pb.y)) <= length_tolerance(e.length)
        });
        if !supporter {
            continue;
        }
        supported += 1;
        let (x, y) = work.moved.get(usize::from(a)).copied().unwrap_or((pa.x, pa.y));
        let turn = angle_distance(pb.dir, pa.dir + motion.angle);
        let kind = match (pa.kind, pb.kind) {
            (0, _) | (_, 0) => 0.0,
            (k, l) if k == l => KIND_AGREES,
            _ => KIND_DIFFERS,
        };
        evidence += (pair_evidence(norm(pb.x - x, pb.y - y), turn) + kind).max(0.0);
    }
    (evidence, supported)
}

/// How many minutiae of each side fall inside the other's area under `motion`.
fn overlap(probe: &FingerTemplate, candidate: &FingerTemplate, motion: &Motion) -> (u32, u32) {
    let near = |grid: &super::features::Grid, points: &[super::features::Point], x: f32, y: f32| {
        let mut found = false;
        grid.near(x, y, OVERLAP_REACH, |i| {
            if let Some(q) = points.get(usize::from(i)) {
                found |= (q.x - x).abs() < OVERLAP_REACH && (q.y - y).abs() < OVERLAP_REACH;
            }
        });
        found
    };
    let probe_overlap = probe
        .points
        .iter()
        .filter(|p| {
            let (x, y) = motion.apply(p.x, p.y);
            near(&candidate.grid, &candidate.points, x, y)
        })
        .count() as u32;
    let candidate_overlap = candidate
        .points
        .iter()
        .filter(|q| {
            let (x, y) = motion.invert(q.x, q.y);
            near(&probe.grid, &probe.points, x, y)
        })
        .count() as u32;
    (probe_overlap, candidate_overlap)
}

/// Evidence from the minutia types: extractors call an ending a bifurcation (and back) now and
/// then — about one time in five — while two unrelated minutiae agree half the time.
const KIND_AGREES: f32 = 0.47; // ln(0.8 / 0.5)
const KIND_DIFFERS: f32 = -0.92; // ln(0.2 / 0.5)

/// How much more likely a pair this close is under "same finger" than under "different fingers":
/// a log-likelihood ratio. Same finger: the residual offset is Gaussian (σ about 6.5 px per axis:
/// both captures' position noise and what the rigid alignment leaves of the distortion) and so is
/// the direction difference (σ about 14°). Different fingers: the other finger's minutiae are
/// spread at about one per 2,100 px² and their directions, correlated through similar ridge flow,
/// at a density of about 0.3 per radian.
fn pair_evidence(distance: f32, turn: f32) -> f32 {
    const SIGMA_POSITION: f32 = 6.5;
    const SIGMA_TURN: f32 = 14.0 * std::f32::consts::PI / 180.0;
    const LOG_POSITION_PEAK: f32 = 2.07; // ln(2100 / (2π σ²))
    const LOG_TURN_PEAK: f32 = 1.70; // ln(1 / (√(2π) σ) / 0.3)
    let position = LOG_POSITION_PEAK - 0.5 * (distance / SIGMA_POSITION).powi(2);
    let direction = LOG_TURN_PEAK - 0.5 * (turn / SIGMA_TURN).powi(2);
    position + direction
}
