//! The ridge flow of a synthetic finger: an orientation field with core- and delta-like
//! singularities (the zero-pole model of Sherlock and Monro, 1993), plus a smooth random
//! perturbation so that two fingers with similar singular points still flow differently.

use std::f64::consts::PI;

use rand::{Rng, RngExt as _};

use super::geometry::{Point, uniform};

/// The pattern classes, with roughly their frequencies in a population.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    /// One core above one delta on either side (about 60%).
    Loop,
    /// Two cores between two deltas (about 30%).
    Whorl,
    /// A tented arch: a core right above a delta (about 5%).
    TentedArch,
    /// A plain arch: no singularities, ridges bent over the middle (about 5%).
    Arch,
}

/// One sinusoidal perturbation of the orientation: `amplitude * sin(k . p + phase)` radians.
#[derive(Debug, Clone, Copy)]
struct Wave {
    kx: f64,
    ky: f64,
    phase: f64,
    amplitude: f64,
}

/// The orientation field of one finger, in master coordinates (pixels, y down). Orientations are
/// undirected (modulo π), measured like `atan2(dy, dx)` in those coordinates.
#[derive(Debug, Clone)]
pub(crate) struct OrientationField {
    pattern: Pattern,
    pub(crate) cores: Vec<Point>,
    pub(crate) deltas: Vec<Point>,
    base: f64,
    /// For plain arches: the centre line and how strongly ridges bend over it.
    arch: Option<(Point, f64, f64)>,
    waves: [Wave; 3],
}

impl OrientationField {
    /// A random field for a finger whose contact area is centred on `centre` with semi-axes
    /// `(ax, ay)`.
    pub(crate) fn random<R: Rng>(rng: &mut R, centre: Point, ax: f64, ay: f64) -> Self {
        let u: f64 = rng.random();
        let pattern = if u < 0.6 {
            Pattern::Loop
        } else if u < 0.9 {
            Pattern::Whorl
        } else if u < 0.95 {
            Pattern::TentedArch
        } else {
            Pattern::Arch
        };
        let core = Point::new(centre.x + uniform(rng, -0.15, 0.15) * ax, centre.y + uniform(rng, -0.35, 0.05) * ay);
        let mut cores = Vec::new();
        let mut deltas = Vec::new();
        let mut arch = None;
        match pattern {
            Pattern::Loop => {
                let side = if rng.random::<bool>() { 1.0 } else { -1.0 };
                cores.push(core);
                deltas.push(Point::new(
                    core.x + side * uniform(rng, 0.45, 0.75) * ax,
                    core.y + uniform(rng, 0.45, 0.7) * ay,
                ));
            }
            Pattern::Whorl => {
                let half = uniform(rng, 8.0, 22.0);
                let tilt = uniform(rng, -0.6, 0.6);
                cores.push(Point::new(core.x - half * tilt.cos(), core.y - half * tilt.sin()));
                cores.push(Point::new(core.x + half * tilt.cos(), core.y + half * tilt.sin()));
                let dy = uniform(rng, 0.45, 0.65) * ay;
                deltas.push(Point::new(core.x - uniform(rng, 0.6, 0.85) * ax, core.y + dy));
                deltas.push(Point::new(core.x + uniform(rng, 0.6, 0.85) * ax, core.y + dy + uniform(rng, -20.0, 20.0)));
            }
            Pattern::TentedArch => {
                cores.push(core);
                deltas.push(Point::new(core.x + uniform(rng, -10.0, 10.0), core.y + uniform(rng, 35.0, 60.0)));
            }
            Pattern::Arch => {
                arch = Some((core, uniform(rng, 0.6, 1.1), uniform(rng, 0.5, 0.9) * ax));
            }
        }
        let wave = |rng: &mut R| {
            let wavelength = uniform(rng, 180.0, 420.0);
            let direction = uniform(rng, 0.0, 2.0 * PI);
            let k = 2.0 * PI / wavelength;
            Wave {
                kx: k * direction.cos(),
                ky: k * direction.sin(),
                phase: uniform(rng, 0.0, 2.0 * PI),
                amplitude: uniform(rng, 0.04, 0.12),
            }
        };
        let waves = [wave(rng), wave(rng), wave(rng)];
        OrientationField { pattern, cores, deltas, base: uniform(rng, -0.12, 0.12), arch, waves }
    }

    pub(crate) fn pattern(&self) -> Pattern {
        self.pattern
    }

    /// The ridge orientation at `p`, modulo π.
    pub(crate) fn orientation(&self, p: Point) -> f64 {
        let mut theta = self.base;
        for c in &self.cores {
            theta += 0.5 * (p.y - c.y).atan2(p.x - c.x);
        }
        for d in &self.deltas {
            theta -= 0.5 * (p.y - d.y).atan2(p.x - d.x);
        }
        if let Some((centre, strength, width)) = self.arch {
            // Ridges y = -h(x) with a bump h that flattens towards the bottom of the finger.
            let dx = (p.x - centre.x) / width;
            let flatten = (-(p.y - centre.y).max(0.0) / 150.0).exp();
            theta += (strength * 2.0 * dx * (-dx * dx).exp() * flatten).atan();
        }
        for w in &self.waves {
            theta += w.amplitude * (w.kx * p.x + w.ky * p.y + w.phase).sin();
        }
        theta
    }

    /// Distance from `p` to the nearest singular point (infinite for a plain arch).
    pub(crate) fn distance_to_singularity(&self, p: Point) -> f64 {
        self.cores.iter().chain(&self.deltas).map(|s| s.distance(p)).fold(f64::INFINITY, f64::min)
    }
}
