//! A synthetic finger's "master" minutiae: what a perfect capture of the whole finger would show.
//!
//! Ridges are traced as evenly spaced streamlines of the orientation field (after Jobard and
//! Lefer, 1997): a ridge is followed in both directions until it leaves the finger, runs within
//! half a ridge period of another ridge (converging flow, where real ridges end or merge), nears a
//! singularity, or breaks off at random (real ridges are not endless); new ridges are seeded one
//! ridge period beside existing ones. The ends of ridges inside the finger are the minutiae, so
//! minutiae lie on ridges, sit whole ridge periods apart across the flow, cluster around cores and
//! deltas where the flow converges, and point along the flow — the structure a matcher relies on
//! in real prints, which uniform noise would not have.

use std::{collections::VecDeque, f64::consts::PI};

use rand::{Rng, RngExt as _};

use super::{
    SynthMinutia,
    field::OrientationField,
    geometry::{Ellipse, Point, index, uniform, wrap},
};
use crate::template::MinutiaKind;

/// Fewest and most minutiae of a master finger.
pub(crate) const MIN_MINUTIAE: usize = 25;
pub(crate) const MAX_MINUTIAE: usize = 80;

/// A traced ridge sample, kept in a grid for the distance tests.
#[derive(Debug, Clone, Copy)]
struct Sample {
    p: Point,
    ridge: u32,
    /// Position along the ridge (in steps), to tell a ridge's own recent samples from others.
    step: i32,
}

/// A uniform grid of ridge samples for "is anything within r of p" queries.
struct Grid {
    cell: f64,
    nx: usize,
    ny: usize,
    cells: Vec<Vec<Sample>>,
}

impl Grid {
    fn new(width: f64, height: f64, cell: f64) -> Self {
        let nx = (width / cell).ceil().max(1.0) as usize;
        let ny = (height / cell).ceil().max(1.0) as usize;
        Grid { cell, nx, ny, cells: vec![Vec::new(); nx * ny] }
    }

    fn cell_of(&self, p: Point) -> Option<(usize, usize)> {
        if p.x < 0.0 || p.y < 0.0 {
            return None;
        }
        let (cx, cy) = ((p.x / self.cell) as usize, (p.y / self.cell) as usize);
        (cx < self.nx && cy < self.ny).then_some((cx, cy))
    }

    fn insert(&mut self, s: Sample) {
        if let Some((cx, cy)) = self.cell_of(s.p)
            && let Some(cell) = self.cells.get_mut(cy * self.nx + cx)
        {
            cell.push(s);
        }
    }

    /// Whether a sample within `r` of `p` exists that `ignore` does not exclude.
    fn any_within(&self, p: Point, r: f64, ignore: impl Fn(&Sample) -> bool) -> bool {
        let reach = (r / self.cell).ceil() as isize;
        let Some((cx, cy)) = self.cell_of(p) else { return false };
        for dy in -reach..=reach {
            for dx in -reach..=reach {
                let (x, y) = (cx as isize + dx, cy as isize + dy);
                if x < 0 || y < 0 || x as usize >= self.nx || y as usize >= self.ny {
                    continue;
                }
                let Some(cell) = self.cells.get(y as usize * self.nx + x as usize) else { continue };
                if cell.iter().any(|s| !ignore(s) && s.p.distance(p) < r) {
                    return true;
                }
            }
        }
        false
    }
}

/// Why a ridge stopped at one of its ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Left the finger: not a minutia.
    Boundary,
    /// Ran into another ridge or broke off: a minutia.
    Minutia,
    /// Reached a core or delta, where orientation is undefined: not a minutia.
    Singular,
}

/// One end of a traced ridge.
struct RidgeEnd {
    p: Point,
    /// Direction of travel when the ridge stopped (pointing out of the ridge).
    heading: f64,
    end: End,
}

/// What [`trace`] needs to know about the finger.
struct Canvas<'a> {
    field: &'a OrientationField,
    shape: Ellipse,
    period: f64,
    step: f64,
    break_rate: f64,
}

/// Traces the master minutiae of one finger. `count` is the number wanted (25-80); the result has
/// exactly that many unless the finger is too small to hold them at a sensible spacing.
pub(crate) fn minutiae<R: Rng>(
    rng: &mut R,
    field: &OrientationField,
    shape: Ellipse,
    period: f64,
    count: usize,
    canvas_size: (f64, f64),
) -> Vec<SynthMinutia> {
    let canvas = Canvas { field, shape, period, step: period / 3.0, break_rate: 0.012 };
    let mut grid = Grid::new(canvas_size.0, canvas_size.1, period / 2.0);
    let mut seeds = VecDeque::from([shape.centre, shape.sample(rng)]);
    let mut ends = Vec::new();
    let mut ridges = 0u32;
    let mut samples_on_ridges: Vec<(Point, f64)> = Vec::new();
    let mut attempts = 0usize;
    // When the queue runs dry, random seeds fill whatever part of the finger it did not reach
    // (a region cut off by a singularity, or everything if the first seeds were unusable).
    let mut random_seeds = 0;
    while let Some(seed) = seeds.pop_front().or_else(|| {
        random_seeds += 1;
        (random_seeds <= 300).then(|| shape.sample(rng))
    }) {
        attempts += 1;
        if attempts > 20_000 {
            break;
        }
        if !shape.contains(seed)
            || field.distance_to_singularity(seed) < period
            || grid.any_within(seed, 0.9 * period, |_| false)
        {
            continue;
        }
        let ridge = ridges;
        ridges += 1;
        let (points, [a, b]) = trace(rng, &canvas, &mut grid, seed, ridge);
        for (i, &(p, heading)) in points.iter().enumerate() {
            samples_on_ridges.push((p, heading));
            if i % 3 == 0 {
                let normal = heading + PI / 2.0;
                for side in [-1.0, 1.0] {
                    seeds.push_back(Point::new(p.x + side * period * normal.cos(), p.y + side * period * normal.sin()));
                }
            }
        }
        if (points.len() as f64) * canvas.step < period {
            // A dot, not a ridge: its ends are not minutiae.
            continue;
        }
        ends.push(a);
        ends.push(b);
    }

    // Minutiae: ridge ends well inside the finger and away from cores and deltas, at least a ridge
    // period apart, in random order, up to `count`.
    let margin = 1.2 * period;
    let mut candidates: Vec<SynthMinutia> = ends
        .iter()
        .filter(|e| e.end == End::Minutia)
        .filter(|e| shape.depth(e.p) > margin && field.distance_to_singularity(e.p) > 1.5 * period)
        .map(|e| SynthMinutia {
            x: e.p.x,
            y: e.p.y,
            direction: wrap(e.heading),
            kind: if rng.random::<bool>() { MinutiaKind::Ending } else { MinutiaKind::Bifurcation },
        })
        .collect();
    shuffle(rng, &mut candidates);
    let min_spacing = 1.2 * period;
    let mut chosen: Vec<SynthMinutia> = Vec::with_capacity(count);
    for c in candidates {
        if chosen.len() == count {
            break;
        }
        if chosen.iter().all(|m| (m.x - c.x).hypot(m.y - c.y) >= min_spacing) {
            chosen.push(c);
        }
    }
    // Too few ridge ends (a calm, parallel flow): add bifurcations on ridges.
    let mut tries = 0;
    while chosen.len() < count && !samples_on_ridges.is_empty() && tries < 5_000 {
        tries += 1;
        let Some(&(p, heading)) = samples_on_ridges.get(index(rng, samples_on_ridges.len())) else { break };
        if shape.depth(p) <= margin || field.distance_to_singularity(p) <= 1.5 * period {
            continue;
        }
        if chosen.iter().all(|m| (m.x - p.x).hypot(m.y - p.y) >= min_spacing) {
            let flip = if rng.random::<bool>() { PI } else { 0.0 };
            chosen.push(SynthMinutia {
                x: p.x,
                y: p.y,
                direction: wrap(heading + flip),
                kind: MinutiaKind::Bifurcation,
            });
        }
    }
    chosen
}

/// Traces the ridge through `seed` in both directions, adding its samples to `grid` as it goes
/// (so that a ridge curling back onto itself stops too). Returns the samples `(point, heading)`
/// from one end to the other and the two ends.
fn trace<R: Rng>(
    rng: &mut R,
    canvas: &Canvas<'_>,
    grid: &mut Grid,
    seed: Point,
    ridge: u32,
) -> (Vec<(Point, f64)>, [RidgeEnd; 2]) {
    let start_heading = canvas.field.orientation(seed);
    grid.insert(Sample { p: seed, ridge, step: 0 });
    let (forward, end_f) = follow(rng, canvas, grid, seed, start_heading, ridge, 1);
    let (backward, end_b) = follow(rng, canvas, grid, seed, start_heading + PI, ridge, -1);
    let mut points: Vec<(Point, f64)> = backward.into_iter().rev().map(|(p, h)| (p, h + PI)).collect();
    points.push((seed, start_heading));
    points.extend(forward);
    (points, [end_b, end_f])
}

/// Follows the flow from `start` (not included) with heading `heading` until the ridge ends,
/// adding the samples to `grid`. `sign` numbers the steps forwards (+1) or backwards (-1) from
/// the seed.
fn follow<R: Rng>(
    rng: &mut R,
    canvas: &Canvas<'_>,
    grid: &mut Grid,
    start: Point,
    heading: f64,
    ridge: u32,
    sign: i32,
) -> (Vec<(Point, f64)>, RidgeEnd) {
    let Canvas { field, shape, period, step, break_rate } = *canvas;
    let mut points = Vec::new();
    let mut p = start;
    let mut h = heading;
    // Own samples more than this many steps away count as "another ridge" (a ridge curling onto
    // itself, around a whorl's centre).
    let own_window = (2.0 * period / step).ceil() as i32;
    for n in 1..=2_000 {
        let along = |theta: f64, h: f64| if (theta - h).cos() >= 0.0 { theta } else { theta + PI };
        let h1 = along(field.orientation(p), h);
        let mid = Point::new(p.x + 0.5 * step * h1.cos(), p.y + 0.5 * step * h1.sin());
        let h2 = along(field.orientation(mid), h1);
        let next = Point::new(p.x + step * h2.cos(), p.y + step * h2.sin());
        let end = if !shape.contains(next) {
            Some(End::Boundary)
        } else if field.distance_to_singularity(next) < 0.8 * period {
            Some(End::Singular)
        } else if grid.any_within(next, 0.5 * period, |s| s.ridge == ridge && (s.step - sign * n).abs() < own_window)
            || rng.random::<f64>() < break_rate
        {
            Some(End::Minutia)
        } else {
            None
        };
        if let Some(end) = end {
            return (points, RidgeEnd { p, heading: h2, end });
        }
        p = next;
        h = h2;
        grid.insert(Sample { p, ridge, step: sign * n });
        points.push((p, h));
    }
    (points, RidgeEnd { p, heading: h, end: End::Boundary })
}

fn shuffle<R: Rng, T>(rng: &mut R, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = index(rng, i + 1);
        items.swap(i, j);
    }
}

/// How many minutiae a finger gets: 25-80, most often near the middle.
pub(crate) fn count<R: Rng>(rng: &mut R) -> usize {
    let spread = (MAX_MINUTIAE - MIN_MINUTIAE) as f64;
    let u = 0.5 * (uniform(rng, 0.0, 1.0) + uniform(rng, 0.0, 1.0));
    (MIN_MINUTIAE + (u * spread).round() as usize).min(MAX_MINUTIAE)
}
