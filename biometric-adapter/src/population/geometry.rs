//! Small geometry and sampling helpers for the synthetic population.

use std::f64::consts::PI;

use rand::{Rng, RngExt as _};

/// A point in pixels (x to the right, y down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Point {
    pub(crate) x: f64,
    pub(crate) y: f64,
}

impl Point {
    pub(crate) fn new(x: f64, y: f64) -> Self {
        Point { x, y }
    }

    pub(crate) fn distance(self, other: Point) -> f64 {
        (self.x - other.x).hypot(self.y - other.y)
    }
}

/// The elliptic contact area of a finger.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ellipse {
    pub(crate) centre: Point,
    pub(crate) ax: f64,
    pub(crate) ay: f64,
}

impl Ellipse {
    /// `(x/ax)² + (y/ay)²` relative to the centre: below 1 inside.
    pub(crate) fn level(&self, p: Point) -> f64 {
        let u = (p.x - self.centre.x) / self.ax;
        let v = (p.y - self.centre.y) / self.ay;
        u * u + v * v
    }

    pub(crate) fn contains(&self, p: Point) -> bool {
        self.level(p) < 1.0
    }

    /// Roughly how far inside the boundary `p` is, in pixels (negative outside).
    pub(crate) fn depth(&self, p: Point) -> f64 {
        (1.0 - self.level(p).sqrt()) * self.ax.min(self.ay)
    }

    /// A uniformly random point inside.
    pub(crate) fn sample<R: Rng>(&self, rng: &mut R) -> Point {
        let r = rng.random::<f64>().sqrt();
        let a = uniform(rng, 0.0, 2.0 * PI);
        Point::new(self.centre.x + r * a.cos() * self.ax, self.centre.y + r * a.sin() * self.ay)
    }
}

/// Uniform in `[lo, hi)` (or `lo` when the interval is empty), without the panics of an empty
/// range.
pub(crate) fn uniform<R: Rng>(rng: &mut R, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// A standard normal deviate (Box–Muller).
pub(crate) fn gaussian<R: Rng>(rng: &mut R) -> f64 {
    let u1 = 1.0 - rng.random::<f64>(); // (0, 1]: the logarithm stays finite
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
}

/// `angle` wrapped into `[0, 2π)`.
pub(crate) fn wrap(angle: f64) -> f64 {
    angle.rem_euclid(2.0 * PI)
}

/// A uniformly random index below `n` (0 when `n` is 0).
pub(crate) fn index<R: Rng>(rng: &mut R, n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    // Multiply-shift: unbiased enough for sampling minutiae, and never out of range.
    let n64 = n as u64;
    let r = rng.next_u64();
    ((u128::from(r) * u128::from(n64)) >> 64) as usize
}
