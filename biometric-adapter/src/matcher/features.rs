//! A finger view compiled for matching: minutiae in a common frame and, for each minutia, its
//! neighbourhood as "edges" whose shape does not change when the finger is moved or turned.

use std::f32::consts::PI;

use crate::{
    Error,
    template::{FingerPosition, FingerView, Record},
};

/// Edges reach neighbours up to this far (pixels at 500 dpi): about 13 ridges, far enough to
/// reach past a few lost minutiae, near enough that skin distortion along an edge stays small.
pub(crate) const EDGE_RANGE: f32 = 125.0;
/// And at most this many nearest neighbours, which bounds the work per minutia.
pub(crate) const EDGE_NEIGHBOURS: usize = 12;
/// 500 dpi in pixels per centimetre: everything is measured at this resolution.
const REFERENCE_PPCM: f32 = 197.0;

/// A minutia for matching: position in pixels at 500 dpi (y down) and direction in radians,
/// measured like `atan2(dy, dx)` in those coordinates (clockwise on screen; the record's angle is
/// counter-clockwise).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Point {
    pub(crate) x: f32,
    pub(crate) y: f32,
    pub(crate) dir: f32,
    /// 1 ending, 2 bifurcation, 0 other or not told apart.
    pub(crate) kind: u8,
}

/// From minutia `from` to neighbour `to`: the edge vector and its shape. `length`, `from_angle`
/// and `to_angle` (each minutia's direction relative to the edge) do not change under rotation and
/// translation, so edges can be compared between two captures before they are aligned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Edge {
    pub(crate) from: u16,
    pub(crate) to: u16,
    pub(crate) length: f32,
    /// Direction of the edge minus the direction of `from`, in [0, 2π).
    pub(crate) from_angle: f32,
    /// Direction of the reversed edge minus the direction of `to`, in [0, 2π).
    pub(crate) to_angle: f32,
    pub(crate) dx: f32,
    pub(crate) dy: f32,
    /// The same, quantised.
    pub(crate) shape: Shape,
}

/// One finger view, ready for the matcher.
#[derive(Debug, Clone, PartialEq)]
pub struct FingerTemplate {
    finger: FingerPosition,
    quality: u8,
    pub(crate) points: Vec<Point>,
    /// Edges of minutia `i` are `edges[edge_start[i]..edge_start[i + 1]]`, shortest first.
    pub(crate) edges: Vec<Edge>,
    pub(crate) edge_start: Vec<u32>,
    /// Every edge's shape in one byte per value ([`Shape`]), grouped by [`bucket`]: bucket `k` is
    /// `shapes[bucket_start[k]..bucket_start[k + 1]]`. Lets the matcher look up the few edges
    /// shaped like a given one, in a few cache lines, instead of comparing all of them.
    pub(crate) shapes: Vec<Shape>,
    pub(crate) bucket_start: Vec<u16>,
    /// The minutiae on a grid of [`CELL`]-pixel cells, for "which minutiae are near this point".
    pub(crate) grid: Grid,
}

/// An edge's shape, quantised for fast comparison: length in pixels, both angles in 1/256 turn,
/// and the index of the minutia it starts from (a view has at most 255).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    pub(crate) length: u8,
    pub(crate) from_angle: u8,
    pub(crate) to_angle: u8,
    pub(crate) from: u8,
}

impl Shape {
    fn of(e: &Edge) -> Shape {
        let turn = |a: f32| ((wrap(a) / (2.0 * PI) * 256.0).round() as u32 & 0xff) as u8;
        Shape {
            length: e.length.round().clamp(0.0, 255.0) as u8,
            from_angle: turn(e.from_angle),
            to_angle: turn(e.to_angle),
            from: u8::try_from(e.from).unwrap_or(u8::MAX),
        }
    }
}

/// Edge buckets: by length ([`LENGTH_BINS`] bins of [`LENGTH_BIN`] pixels), then by the angle at
/// the edge's origin and by the angle at its end ([`ANGLE_BINS`] bins each, the innermost index).
pub(crate) const LENGTH_BIN: f32 = 12.0;
pub(crate) const LENGTH_BINS: usize = 12;
pub(crate) const ANGLE_BINS: usize = 8;
pub(crate) const BUCKETS: usize = LENGTH_BINS * ANGLE_BINS * ANGLE_BINS;

pub(crate) fn length_bin(length: f32) -> usize {
    ((length.max(0.0) / LENGTH_BIN) as usize).min(LENGTH_BINS - 1)
}

/// The bin of an angle given in 1/256 turn.
pub(crate) fn angle_bin(turn: u8) -> usize {
    usize::from(turn) * ANGLE_BINS / 256
}

pub(crate) fn bucket(length_bin: usize, from_bin: usize, to_bin: usize) -> usize {
    (length_bin * ANGLE_BINS + from_bin) * ANGLE_BINS + to_bin
}

/// Grid cell size in pixels.
pub(crate) const CELL: f32 = 32.0;

/// A uniform grid over a template's minutiae.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Grid {
    pub(crate) x0: f32,
    pub(crate) y0: f32,
    pub(crate) nx: usize,
    pub(crate) ny: usize,
    /// Minutia indices of cell `k` are `members[start[k]..start[k + 1]]`.
    pub(crate) start: Vec<u16>,
    pub(crate) members: Vec<u16>,
}

impl Grid {
    fn new(points: &[Point]) -> Self {
        let x0 = points.iter().map(|p| p.x).fold(f32::INFINITY, f32::min);
        let y0 = points.iter().map(|p| p.y).fold(f32::INFINITY, f32::min);
        let x1 = points.iter().map(|p| p.x).fold(f32::NEG_INFINITY, f32::max);
        let y1 = points.iter().map(|p| p.y).fold(f32::NEG_INFINITY, f32::max);
        let nx = (((x1 - x0) / CELL) as usize + 1).min(1024);
        let ny = (((y1 - y0) / CELL) as usize + 1).min(1024);
        let cell_of = |p: &Point| {
            let cx = (((p.x - x0) / CELL) as usize).min(nx - 1);
            let cy = (((p.y - y0) / CELL) as usize).min(ny - 1);
            cy * nx + cx
        };
        let mut order: Vec<(usize, u16)> = points.iter().enumerate().map(|(i, p)| (cell_of(p), i as u16)).collect();
        order.sort_unstable();
        let mut start = vec![0u16; nx * ny + 1];
        for &(cell, _) in &order {
            if let Some(s) = start.get_mut(cell + 1) {
                *s += 1;
            }
        }
        for k in 1..start.len() {
            let previous = start.get(k - 1).copied().unwrap_or(0);
            if let Some(s) = start.get_mut(k) {
                *s += previous;
            }
        }
        Grid { x0, y0, nx, ny, start, members: order.into_iter().map(|(_, i)| i).collect() }
    }

    /// Calls `visit` with every minutia index in the cells that a square of half-width `radius`
    /// around (x, y) touches.
    pub(crate) fn near(&self, x: f32, y: f32, radius: f32, mut visit: impl FnMut(u16)) {
        // Truncation is a floor here: a negative value clamps to cell 0 either way.
        let lo_x = ((x - radius - self.x0) / CELL).max(0.0) as usize;
        let lo_y = ((y - radius - self.y0) / CELL).max(0.0) as usize;
        let hi_x = (x + radius - self.x0) / CELL;
        let hi_y = (y + radius - self.y0) / CELL;
        if hi_x < 0.0 || hi_y < 0.0 {
            return;
        }
        let hi_x = (hi_x as usize).min(self.nx - 1);
        let hi_y = (hi_y as usize).min(self.ny - 1);
        for cy in lo_y..=hi_y {
            let row = cy * self.nx;
            let (Some(&s), Some(&e)) = (self.start.get(row + lo_x), self.start.get(row + hi_x + 1)) else { continue };
            for &i in self.members.get(usize::from(s)..usize::from(e)).unwrap_or(&[]) {
                visit(i);
            }
        }
    }
}

impl FingerTemplate {
    /// Compiles one view of a record, scaling it to 500 dpi by the record's resolution.
    pub fn from_view(record: &Record, view: &FingerView) -> Result<Self, Error> {
        let sx = REFERENCE_PPCM / f32::from(record.resolution_x());
        let sy = REFERENCE_PPCM / f32::from(record.resolution_y());
        let points = view
            .minutiae()
            .iter()
            .map(|m| Point {
                x: f32::from(m.x) * sx,
                y: f32::from(m.y) * sy,
                // Counter-clockwise on screen (the standards) to clockwise (y down).
                dir: wrap(-(m.angle.degrees() as f32).to_radians()),
                kind: m.kind.code() as u8,
            })
            .collect();
        Self::from_points(view.finger_position(), view.quality(), points)
    }

    /// The record's only view, compiled (for records of one finger, such as one capture).
    pub fn from_single_view_record(record: &Record) -> Result<Self, Error> {
        match record.views() {
            [view] => Self::from_view(record, view),
            views => {
                Err(Error::unmatchable(format!("the record has {} finger views where one was expected", views.len())))
            }
        }
    }

    pub(crate) fn from_points(finger: FingerPosition, quality: u8, points: Vec<Point>) -> Result<Self, Error> {
        if points.is_empty() {
            return Err(Error::unmatchable("the finger view has no minutiae"));
        }
        let mut edges = Vec::with_capacity(points.len() * EDGE_NEIGHBOURS);
        let mut edge_start = Vec::with_capacity(points.len() + 1);
        let mut near: Vec<(f32, usize)> = Vec::with_capacity(points.len());
        for (i, a) in points.iter().enumerate() {
            edge_start.push(edges.len() as u32);
            near.clear();
            for (j, b) in points.iter().enumerate() {
                let d = norm(b.x - a.x, b.y - a.y);
                if j != i && d <= EDGE_RANGE && d > 0.5 {
                    near.push((d, j));
                }
            }
            near.sort_by(|p, q| p.0.total_cmp(&q.0));
            near.truncate(EDGE_NEIGHBOURS);
            for &(length, j) in &near {
                let Some(b) = points.get(j) else { continue };
                let (dx, dy) = (b.x - a.x, b.y - a.y);
                let direction = dy.atan2(dx);
                let mut edge = Edge {
                    from: i as u16,
                    to: j as u16,
                    length,
                    from_angle: wrap(direction - a.dir),
                    to_angle: wrap(direction + PI - b.dir),
                    dx,
                    dy,
                    shape: Shape { length: 0, from_angle: 0, to_angle: 0, from: 0 },
                };
                edge.shape = Shape::of(&edge);
                edges.push(edge);
            }
        }
        edge_start.push(edges.len() as u32);
        if edges.len() > usize::from(u16::MAX) {
            return Err(Error::unmatchable("the finger view has too many minutiae"));
        }
        if points.len() > 255 {
            return Err(Error::unmatchable("the finger view has more than 255 minutiae"));
        }
        let mut keyed: Vec<(usize, Shape)> = edges
            .iter()
            .map(|e| e.shape)
            .map(|s| (bucket(length_bin(f32::from(s.length)), angle_bin(s.from_angle), angle_bin(s.to_angle)), s))
            .collect();
        keyed.sort_unstable_by_key(|&(k, s)| (k, s.from, s.length));
        let mut bucket_start = vec![0u16; BUCKETS + 1];
        for &(b, _) in &keyed {
            if let Some(s) = bucket_start.get_mut(b + 1) {
                *s += 1;
            }
        }
        for k in 1..bucket_start.len() {
            let previous = bucket_start.get(k - 1).copied().unwrap_or(0);
            if let Some(s) = bucket_start.get_mut(k) {
                *s += previous;
            }
        }
        let shapes = keyed.into_iter().map(|(_, s)| s).collect();
        let grid = Grid::new(&points);
        Ok(FingerTemplate { finger, quality, points, edges, edge_start, shapes, bucket_start, grid })
    }

    /// Which finger the view says it is.
    pub fn finger(&self) -> FingerPosition {
        self.finger
    }

    /// The view's quality score (0-100).
    pub fn quality(&self) -> u8 {
        self.quality
    }

    /// How many minutiae it has.
    pub fn minutia_count(&self) -> usize {
        self.points.len()
    }

    /// The edge shapes in buckets `first..=last` (contiguous in memory).
    pub(crate) fn buckets(&self, first: usize, last: usize) -> &[Shape] {
        let start = self.bucket_start.get(first).copied().unwrap_or(0);
        let end = self.bucket_start.get(last + 1).copied().unwrap_or(0);
        self.shapes.get(usize::from(start)..usize::from(end)).unwrap_or(&[])
    }

    pub(crate) fn edges_of(&self, i: usize) -> &[Edge] {
        let start = self.edge_start.get(i).copied().unwrap_or(0) as usize;
        let end = self.edge_start.get(i + 1).copied().unwrap_or(0) as usize;
        self.edges.get(start..end).unwrap_or(&[])
    }
}

/// The length of (dx, dy). Coordinates are bounded by the record format, so the plain formula
/// cannot overflow, and it is several times faster than `hypot`.
#[inline]
pub(crate) fn norm(dx: f32, dy: f32) -> f32 {
    (dx * dx + dy * dy).sqrt()
}

/// `angle` in [0, 2π).
pub(crate) fn wrap(angle: f32) -> f32 {
    let a = angle.rem_euclid(2.0 * PI);
    if a >= 2.0 * PI { 0.0 } else { a }
}

/// The absolute difference of two angles, in [0, π].
pub(crate) fn angle_distance(a: f32, b: f32) -> f32 {
    // Inputs are within a few turns of each other; avoid the division in rem_euclid.
    let mut d = (a - b).abs();
    while d > 2.0 * PI {
        d -= 2.0 * PI;
    }
    if d > PI { 2.0 * PI - d } else { d }
}
