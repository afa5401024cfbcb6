//! A synthetic, seeded population of fingers, for the device simulator, the matcher's calibration
//! and the de-duplication tests — so the whole enrolment flow runs without hardware or real
//! people's biometrics.
//!
//! ```text
//! Population (seed) ──master(person, finger)──▶ MasterFinger   (stable: the finger itself)
//! MasterFinger ──impression(noise, rng)──▶ Impression          (one capture: a new rendering)
//! Impression ──to_record / record()──▶ template::Record        (ISO/IEC 19794-2:2005)
//! ```
//!
//! **The finger.** Each person (an index into the population) has ten fingers; each finger has a
//! contact area (an ellipse of about 260-330 × 350-430 pixels at 500 dpi), a pattern (loop, whorl,
//! tented arch or arch) whose cores and deltas define an orientation field (the zero-pole model
//! plus a smooth random perturbation), a ridge period of 8.5-11 pixels, and 25-80 "master" minutiae
//! at the ends of ridges traced along that field (see `master.rs` for how and why). All of it
//! follows from the population seed, the person's index and the finger alone, so the same person
//! always has the same fingers.
//!
//! **The capture.** [`MasterFinger::impression`] renders one capture the way a scanner and a
//! minutiae extractor would degrade it, with the amounts in [`NoiseParams`]: lost and spurious
//! minutiae, an elastic (non-linear) distortion, a crop, a placement (rotation and translation)
//! on the sensor, position and angle noise; and a quality score that falls with each of those.
//! The randomness of a capture comes from the caller's generator —
//! [`Population::capture_rng`] gives a reproducible one per (person, finger, capture number).
//!
//! **Why ChaCha.** `rand_chacha`'s output is fixed by its specification, so a seed names the same
//! population on every platform and release; `StdRng` makes no such promise.

mod field;
mod geometry;
mod impression;
mod master;

use rand::SeedableRng as _;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

pub use field::Pattern;
pub use impression::{Degradation, Impression, NoiseParams, record};

use crate::{Error, template::FingerPosition, template::MinutiaKind};
use geometry::{Ellipse, Point, uniform};

/// Width of the simulated sensor image in pixels (500 dpi: 20.3 mm).
pub const IMAGE_WIDTH: u16 = 400;
/// Height of the simulated sensor image in pixels (500 dpi: 25.4 mm).
pub const IMAGE_HEIGHT: u16 = 500;
/// 500 dpi in pixels per centimetre, as ISO/IEC 19794-2 records it.
pub const RESOLUTION_PPCM: u16 = 197;

/// The ten fingers in ISO/ANSI code order (right thumb 1 … left little 10).
pub const FINGERS: [FingerPosition; 10] = [
    FingerPosition::RightThumb,
    FingerPosition::RightIndex,
    FingerPosition::RightMiddle,
    FingerPosition::RightRing,
    FingerPosition::RightLittle,
    FingerPosition::LeftThumb,
    FingerPosition::LeftIndex,
    FingerPosition::LeftMiddle,
    FingerPosition::LeftRing,
    FingerPosition::LeftLittle,
];

/// A synthetic population: every person and finger follows from `seed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Population {
    seed: u64,
}

/// One minutia of a synthetic finger, in pixels (x to the right, y down) and with its direction
/// in radians in `[0, 2π)`, measured like `atan2(dy, dx)` in those coordinates — that is,
/// clockwise on screen; ISO/IEC 19794-2 angles are counter-clockwise, and the conversion is made
/// once, when a record is written.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SynthMinutia {
    /// Pixels from the left.
    pub x: f64,
    /// Pixels from the top.
    pub y: f64,
    /// Direction, radians, clockwise on screen from the positive x axis.
    pub direction: f64,
    /// Ridge ending or bifurcation.
    pub kind: MinutiaKind,
}

/// A finger as it is, before any capture: its shape, flow and master minutiae.
#[derive(Debug, Clone)]
pub struct MasterFinger {
    finger: FingerPosition,
    shape: Ellipse,
    field: field::OrientationField,
    ridge_period: f64,
    minutiae: Vec<SynthMinutia>,
}

impl Population {
    /// The population named by `seed`.
    pub fn new(seed: u64) -> Self {
        Population { seed }
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Person `person`'s finger `finger`. Deterministic: the same arguments give the same finger.
    /// [`FingerPosition::Unknown`] is not a finger and is refused.
    pub fn master(&self, person: u64, finger: FingerPosition) -> Result<MasterFinger, Error> {
        let mut rng = self.stream(Domain::Master, person, finger)?;
        Ok(MasterFinger::generate(&mut rng, finger))
    }

    /// A reproducible generator for capture number `capture` of a person's finger: pass it to
    /// [`MasterFinger::impression`]. Distinct captures (and persons, fingers, populations) get
    /// independent streams.
    pub fn capture_rng(&self, person: u64, finger: FingerPosition, capture: u32) -> Result<ChaCha8Rng, Error> {
        let mut rng = self.stream(Domain::Capture, person, finger)?;
        // 2^32 words (16 GiB) of stream per capture: far more than an impression draws.
        rng.set_word_pos(u128::from(capture) << 32);
        Ok(rng)
    }

    /// Person `person`'s finger `finger`, captured once with the generator `rng`: shorthand for
    /// `self.master(person, finger)?.impression(noise, rng)`.
    pub fn impression<R: rand::Rng>(
        &self,
        person: u64,
        finger: FingerPosition,
        noise: &NoiseParams,
        rng: &mut R,
    ) -> Result<Impression, Error> {
        self.master(person, finger)?.impression(noise, rng)
    }

    fn stream(&self, domain: Domain, person: u64, finger: FingerPosition) -> Result<ChaCha8Rng, Error> {
        if finger == FingerPosition::Unknown {
            return Err(Error::parameter("finger", "a synthetic person has ten known fingers, not \"unknown\""));
        }
        if person >= 1 << 59 {
            return Err(Error::parameter("person", format!("{person} is beyond the population (below 2^59)")));
        }
        // One key per (population, purpose); one ChaCha stream per (person, finger).
        let key = splitmix(self.seed ^ splitmix(domain as u64 + 1));
        let mut rng = ChaCha8Rng::seed_from_u64(key);
        rng.set_stream(person << 4 | u64::from(finger.code()));
        Ok(rng)
    }
}

/// What a generator stream is for, so masters and captures never share randomness.
#[derive(Debug, Clone, Copy)]
enum Domain {
    Master = 0,
    Capture = 1,
}

/// SplitMix64's finaliser: spreads a seed over all 64 bits.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl MasterFinger {
    fn generate<R: rand::Rng>(rng: &mut R, finger: FingerPosition) -> Self {
        let thumb = matches!(finger, FingerPosition::RightThumb | FingerPosition::LeftThumb);
        let little = matches!(finger, FingerPosition::RightLittle | FingerPosition::LeftLittle);
        let scale = if thumb {
            1.08
        } else if little {
            0.88
        } else {
            1.0
        };
        let (w, h) = (f64::from(IMAGE_WIDTH), f64::from(IMAGE_HEIGHT));
        let shape = Ellipse {
            centre: Point::new(w / 2.0 + uniform(rng, -10.0, 10.0), h / 2.0 + uniform(rng, -10.0, 10.0)),
            ax: (scale * uniform(rng, 130.0, 165.0)).min(w / 2.0 - 5.0),
            ay: (scale * uniform(rng, 175.0, 215.0)).min(h / 2.0 - 5.0),
        };
        let field = field::OrientationField::random(rng, shape.centre, shape.ax, shape.ay);
        let ridge_period = uniform(rng, 8.5, 11.0);
        let count = master::count(rng);
        let minutiae = master::minutiae(rng, &field, shape, ridge_period, count, (w, h));
        MasterFinger { finger, shape, field, ridge_period, minutiae }
    }

    /// Which finger this is.
    pub fn finger(&self) -> FingerPosition {
        self.finger
    }

    /// The finger's pattern class.
    pub fn pattern(&self) -> Pattern {
        self.field.pattern()
    }

    /// Ridge period in pixels (centre of one ridge to the next).
    pub fn ridge_period(&self) -> f64 {
        self.ridge_period
    }

    /// The master minutiae, in the master frame (the finger centred on a 400 × 500 image).
    pub fn minutiae(&self) -> &[SynthMinutia] {
        &self.minutiae
    }

    /// The ridge orientation (modulo π, radians, clockwise on screen) at a point of the master
    /// frame.
    pub fn orientation_at(&self, x: f64, y: f64) -> f64 {
        self.field.orientation(Point::new(x, y))
    }
}

#[cfg(test)]
mod tests;
