//! One capture of a synthetic finger, degraded the way a scanner and an extractor degrade it.

use std::f64::consts::PI;

use rand::{Rng, RngExt as _};
use serde::Serialize;

use super::{
    IMAGE_HEIGHT, IMAGE_WIDTH, MasterFinger, RESOLUTION_PPCM, SynthMinutia,
    geometry::{Ellipse, Point, gaussian, index, uniform, wrap},
};
use crate::{
    Error,
    template::{
        Angle, CaptureEquipment, FingerPosition, FingerView, Format, ImpressionType, Minutia, MinutiaKind, Record,
        RecordHeader,
    },
};

/// How hard captures are. [`Default`] is the programme's reference difficulty (enrolment issue,
/// item 4); every field is a maximum or a rate per capture:
///
/// | field | default | what it does |
/// |---|---|---|
/// | `max_rotation_degrees` | 20 | the finger is rotated on the sensor by a uniform angle in ±this |
/// | `max_translation_px` | 40 | and shifted by a uniform offset in ±this along x and along y |
/// | `max_distortion` | 0.10 | elastic, non-linear skin distortion: the local strain (how much a small neighbourhood is stretched, squeezed or turned) reaches up to this fraction, drawn uniformly per capture |
/// | `position_sigma_px` | 4 | Gaussian noise on each minutia's x and y |
/// | `angle_sigma_degrees` | 10 | Gaussian noise on each minutia's direction |
/// | `lost_fraction` | 0.15 | this share of the finger's minutiae is not found |
/// | `spurious_fraction` | 0.10 | this many false minutiae (as a share of the finger's) are added |
/// | `max_crop_fraction` | 0.20 | a straight cut from one side removes a uniform share of the finger's area up to this |
/// | `kind_flip_fraction` | 0.20 | this share of genuine minutiae is reported with the wrong type (ending for bifurcation and back) |
///
/// On top of the crop, a finger placed off-centre loses whatever falls off the 400 × 500 image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NoiseParams {
    /// Largest rotation on the sensor, degrees (0-180).
    pub max_rotation_degrees: f64,
    /// Largest shift along each axis, pixels (0-200).
    pub max_translation_px: f64,
    /// Largest local strain of the elastic distortion (0-0.3).
    pub max_distortion: f64,
    /// Standard deviation of the position noise, pixels (0-20).
    pub position_sigma_px: f64,
    /// Standard deviation of the direction noise, degrees (0-90).
    pub angle_sigma_degrees: f64,
    /// Share of minutiae lost (0-0.9).
    pub lost_fraction: f64,
    /// Spurious minutiae added, as a share of the finger's minutiae (0-2).
    pub spurious_fraction: f64,
    /// Largest share of the finger's area cut away (0-0.9).
    pub max_crop_fraction: f64,
    /// Share of genuine minutiae whose type (ending or bifurcation) the extractor gets wrong
    /// (0-0.5). Not in the list; real extractors confuse the two often enough that a
    /// matcher must not trust types.
    pub kind_flip_fraction: f64,
}

impl Default for NoiseParams {
    fn default() -> Self {
        NoiseParams {
            max_rotation_degrees: 20.0,
            max_translation_px: 40.0,
            max_distortion: 0.10,
            position_sigma_px: 4.0,
            angle_sigma_degrees: 10.0,
            lost_fraction: 0.15,
            spurious_fraction: 0.10,
            max_crop_fraction: 0.20,
            kind_flip_fraction: 0.20,
        }
    }
}

impl NoiseParams {
    /// No degradation at all: the capture shows the master minutiae where they are (for tests of
    /// the generator and of the matcher's best case).
    pub fn none() -> Self {
        NoiseParams {
            max_rotation_degrees: 0.0,
            max_translation_px: 0.0,
            max_distortion: 0.0,
            position_sigma_px: 0.0,
            angle_sigma_degrees: 0.0,
            lost_fraction: 0.0,
            spurious_fraction: 0.0,
            max_crop_fraction: 0.0,
            kind_flip_fraction: 0.0,
        }
    }

    /// Checks every field against its range (see the field docs).
    pub fn validate(&self) -> Result<(), Error> {
        let fields = [
            ("max_rotation_degrees", self.max_rotation_degrees, 180.0),
            ("max_translation_px", self.max_translation_px, 200.0),
            ("max_distortion", self.max_distortion, 0.3),
            ("position_sigma_px", self.position_sigma_px, 20.0),
            ("angle_sigma_degrees", self.angle_sigma_degrees, 90.0),
            ("lost_fraction", self.lost_fraction, 0.9),
            ("spurious_fraction", self.spurious_fraction, 2.0),
            ("max_crop_fraction", self.max_crop_fraction, 0.9),
            ("kind_flip_fraction", self.kind_flip_fraction, 0.5),
        ];
        for (name, value, max) in fields {
            if !(0.0..=max).contains(&value) {
                return Err(Error::parameter(name, format!("{value} is outside 0..={max}")));
            }
        }
        Ok(())
    }
}

/// What one capture drew: the quality score is computed from these.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Degradation {
    /// Rotation on the sensor, degrees.
    pub rotation_degrees: f64,
    /// Shift on the sensor, pixels.
    pub translation_px: (f64, f64),
    /// Largest local strain of this capture's distortion.
    pub distortion: f64,
    /// Share of the finger's area removed by the crop.
    pub crop_fraction: f64,
    /// Share of the finger's area that ended up on the image (after the crop and the placement).
    pub visible_fraction: f64,
    /// Master minutiae lost.
    pub lost: usize,
    /// Spurious minutiae added (before the crop).
    pub spurious: usize,
}

/// One capture of one finger: its minutiae on the 400 × 500 image, a quality score and what
/// degraded it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Impression {
    finger: FingerPosition,
    minutiae: Vec<SynthMinutia>,
    quality: u8,
    degradation: Degradation,
}

impl Impression {
    /// Which finger.
    pub fn finger(&self) -> FingerPosition {
        self.finger
    }

    /// The captured minutiae, sorted top to bottom (then left to right) as extractors list them,
    /// so their order says nothing about which are genuine.
    pub fn minutiae(&self) -> &[SynthMinutia] {
        &self.minutiae
    }

    /// Quality 0-100 (ISO/IEC 19794-2's finger quality): 100 minus penalties for the area lost to
    /// the crop and the image edge (about a point per percent), the distortion (up to 25), the
    /// noise levels (15 at the default noise), the lost and spurious rates (10 at the defaults), an
    /// off-centre placement (up to 8) and, below 20 minutiae, 2 per missing minutia. Never 0, which
    /// the standards reserve for "not reported" on minutiae. A default capture scores about
    /// 40-75; a perfect one 100.
    pub fn quality(&self) -> u8 {
        self.quality
    }

    /// What this capture drew.
    pub fn degradation(&self) -> &Degradation {
        &self.degradation
    }

    /// The capture as a finger view of an ISO/IEC 19794-2:2005 record (view number
    /// `view_number`, live-scan plain), unchecked until it goes into [`Record::new`].
    pub fn to_view(&self, view_number: u8) -> FingerView {
        let minutiae = self
            .minutiae
            .iter()
            .map(|m| Minutia {
                kind: m.kind,
                // Positions were kept on the image, so rounding stays below the image size.
                x: m.x.round().clamp(0.0, f64::from(IMAGE_WIDTH - 1)) as u16,
                y: m.y.round().clamp(0.0, f64::from(IMAGE_HEIGHT - 1)) as u16,
                // The record counts counter-clockwise on screen; `direction` is clockwise.
                angle: Angle::from_degrees(-m.direction.to_degrees(), Format::Iso19794_2_2005),
                quality: minutia_quality(m),
            })
            .collect();
        FingerView::new(self.finger, view_number, ImpressionType::LivePlain, self.quality, minutiae)
    }

    /// This capture alone as an ISO/IEC 19794-2:2005 record.
    pub fn to_record(&self) -> Result<Record, Error> {
        record(std::slice::from_ref(self))
    }
}

/// Several captures (of different fingers, or repeated captures of one) as one ISO/IEC
/// 19794-2:2005 record from the simulated device: 400 × 500 pixels at 500 dpi, device type 0x51D
/// ("SID"), views numbered per finger in the order given.
pub fn record(impressions: &[Impression]) -> Result<Record, Error> {
    let mut per_finger = [0u8; 11];
    let mut views = Vec::with_capacity(impressions.len());
    for impression in impressions {
        let slot = per_finger.get_mut(usize::from(impression.finger.code()));
        let number = slot.as_deref().copied().unwrap_or(0);
        if let Some(slot) = slot {
            *slot = slot.saturating_add(1);
        }
        views.push(impression.to_view(number));
    }
    let header = RecordHeader {
        format: Format::Iso19794_2_2005,
        product_id: None,
        capture_equipment: CaptureEquipment { appendix_f_certified: false, device_type_id: 0x51d },
        width: IMAGE_WIDTH,
        height: IMAGE_HEIGHT,
        resolution_x: RESOLUTION_PPCM,
        resolution_y: RESOLUTION_PPCM,
    };
    Record::new(header, views)
}

/// A per-minutia quality byte that carries no information about whether the minutia is genuine
/// (a matcher must not be able to cheat with it): a fixed function of the position.
fn minutia_quality(m: &SynthMinutia) -> u8 {
    let h = (m.x * 12.9898 + m.y * 78.233).sin().abs();
    40 + (h * 60.0) as u8
}

/// A smooth, non-linear displacement field whose local strain stays below `strain`: a conformal
/// quadratic map (strain growing from the finger's centre outwards, as skin pressed against glass
/// deforms more at the rim) blended with three long sinusoidal waves.
struct Distortion {
    centre: Point,
    radius: f64,
    strain: f64,
    blend: f64,
    turn: (f64, f64),
    waves: [(f64, f64, f64, f64, f64, f64); 3],
}

impl Distortion {
    fn random<R: Rng>(rng: &mut R, shape: &Ellipse, strain: f64) -> Self {
        let turn = uniform(rng, 0.0, 2.0 * PI);
        let weights = {
            let w = [uniform(rng, 0.2, 1.0), uniform(rng, 0.2, 1.0), uniform(rng, 0.2, 1.0)];
            let sum = w[0] + w[1] + w[2];
            w.map(|x| x / sum)
        };
        let waves = weights.map(|weight| {
            let k = 2.0 * PI / uniform(rng, 200.0, 450.0);
            let along = uniform(rng, 0.0, 2.0 * PI);
            let push = uniform(rng, 0.0, 2.0 * PI);
            // (kx, ky, phase, amplitude, push direction x, y): the Jacobian of one wave is at most
            // amplitude * k = weight.
            (k * along.cos(), k * along.sin(), uniform(rng, 0.0, 2.0 * PI), weight / k, push.cos(), push.sin())
        });
        Distortion {
            centre: shape.centre,
            radius: shape.ax.max(shape.ay),
            strain,
            blend: uniform(rng, 0.4, 0.9),
            turn: (turn.cos(), turn.sin()),
            waves,
        }
    }

    fn displace(&self, p: Point) -> Point {
        // z² / (2 r) rotated: its derivative has modulus |z| / r, at most 1 inside the finger.
        let (u, v) = (p.x - self.centre.x, p.y - self.centre.y);
        let (qx, qy) = ((u * u - v * v) / (2.0 * self.radius), u * v / self.radius);
        let (c, s) = self.turn;
        let mut dx = self.blend * (c * qx - s * qy);
        let mut dy = self.blend * (s * qx + c * qy);
        for &(kx, ky, phase, amplitude, px, py) in &self.waves {
            let w = (1.0 - self.blend) * amplitude * (kx * p.x + ky * p.y + phase).sin();
            dx += w * px;
            dy += w * py;
        }
        Point::new(p.x + self.strain * dx, p.y + self.strain * dy)
    }
}

/// The rigid placement on the sensor: rotation about the image centre, then a shift.
struct Pose {
    cos: f64,
    sin: f64,
    rotation: f64,
    shift: (f64, f64),
}

impl Pose {
    fn apply(&self, p: Point) -> Point {
        let (cx, cy) = (f64::from(IMAGE_WIDTH) / 2.0, f64::from(IMAGE_HEIGHT) / 2.0);
        let (u, v) = (p.x - cx, p.y - cy);
        Point::new(cx + self.cos * u - self.sin * v + self.shift.0, cy + self.sin * u + self.cos * v + self.shift.1)
    }
}

/// A straight cut from one side of the finger's ellipse that removes a given share of its area.
struct Crop {
    /// Which side: 0 right, 1 left, 2 bottom, 3 top.
    side: u8,
    /// Points whose normalised coordinate towards that side exceeds this are cut away.
    limit: f64,
}

impl Crop {
    fn new(side: u8, fraction: f64) -> Self {
        // The share of a unit disc beyond x = u is (acos u - u sqrt(1 - u²)) / π; solve for u.
        let beyond = |u: f64| (u.acos() - u * (1.0 - u * u).sqrt()) / PI;
        let (mut lo, mut hi) = (-1.0f64, 1.0f64);
        for _ in 0..50 {
            let mid = 0.5 * (lo + hi);
            if beyond(mid) > fraction {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Crop { side, limit: 0.5 * (lo + hi) }
    }

    fn keeps(&self, shape: &Ellipse, p: Point) -> bool {
        let u = match self.side {
            0 => (p.x - shape.centre.x) / shape.ax,
            1 => (shape.centre.x - p.x) / shape.ax,
            2 => (p.y - shape.centre.y) / shape.ay,
            _ => (shape.centre.y - p.y) / shape.ay,
        };
        u <= self.limit
    }
}

impl MasterFinger {
    /// One capture of this finger, degraded as `noise` says, with randomness from `rng` (see
    /// [`Population::capture_rng`](super::Population::capture_rng) for a reproducible one).
    pub fn impression<R: Rng>(&self, noise: &NoiseParams, rng: &mut R) -> Result<Impression, Error> {
        noise.validate()?;
        let shape = self.shape;
        let n = self.minutiae.len();

        // Lost minutiae: exactly the configured share, chosen at random.
        let lost = ((noise.lost_fraction * n as f64).round() as usize).min(n);
        let mut kept = self.minutiae.clone();
        for _ in 0..lost {
            let i = index(rng, kept.len());
            if i < kept.len() {
                kept.swap_remove(i);
            }
        }
        // Mistyped minutiae.
        for m in &mut kept {
            if rng.random::<f64>() < noise.kind_flip_fraction {
                m.kind = match m.kind {
                    MinutiaKind::Ending => MinutiaKind::Bifurcation,
                    MinutiaKind::Bifurcation => MinutiaKind::Ending,
                    MinutiaKind::Other => MinutiaKind::Other,
                };
            }
        }
        // Spurious minutiae: anywhere on the finger; most point along the flow like real ones
        // (broken ridges, pores, creases), the rest anywhere.
        let spurious = (noise.spurious_fraction * n as f64).round() as usize;
        for _ in 0..spurious {
            let p = shape.sample(rng);
            let direction = if rng.random::<f64>() < 0.7 {
                let flip = if rng.random::<bool>() { PI } else { 0.0 };
                self.field.orientation(p) + flip + 0.3 * gaussian(rng)
            } else {
                uniform(rng, 0.0, 2.0 * PI)
            };
            let kind = if rng.random::<bool>() { MinutiaKind::Ending } else { MinutiaKind::Bifurcation };
            kept.push(SynthMinutia { x: p.x, y: p.y, direction: wrap(direction), kind });
        }

        let crop_fraction = uniform(rng, 0.0, noise.max_crop_fraction);
        let crop = Crop::new((index(rng, 4) & 3) as u8, crop_fraction);
        let strain = uniform(rng, 0.0, noise.max_distortion);
        let distortion = Distortion::random(rng, &shape, strain);
        let rotation = uniform(rng, -noise.max_rotation_degrees, noise.max_rotation_degrees).to_radians();
        let pose = Pose {
            cos: rotation.cos(),
            sin: rotation.sin(),
            rotation,
            shift: (
                uniform(rng, -noise.max_translation_px, noise.max_translation_px),
                uniform(rng, -noise.max_translation_px, noise.max_translation_px),
            ),
        };
        let on_image = |p: Point| {
            p.x >= 0.0 && p.y >= 0.0 && p.x <= f64::from(IMAGE_WIDTH) - 1.0 && p.y <= f64::from(IMAGE_HEIGHT) - 1.0
        };
        let place = |p: Point| pose.apply(distortion.displace(p));

        let sigma = noise.position_sigma_px;
        let angle_sigma = noise.angle_sigma_degrees.to_radians();
        let mut minutiae = Vec::with_capacity(kept.len());
        for m in kept {
            let p = Point::new(m.x, m.y);
            if !crop.keeps(&shape, p) {
                continue;
            }
            // The direction follows the distortion's local turn, measured one pixel along it.
            let ahead = Point::new(p.x + m.direction.cos(), p.y + m.direction.sin());
            let (q, q_ahead) = (place(p), place(ahead));
            let direction = (q_ahead.y - q.y).atan2(q_ahead.x - q.x);
            let q = Point::new(q.x + sigma * gaussian(rng), q.y + sigma * gaussian(rng));
            if !on_image(q) {
                continue;
            }
            minutiae.push(SynthMinutia {
                x: q.x,
                y: q.y,
                direction: wrap(direction + angle_sigma * gaussian(rng)),
                kind: m.kind,
            });
        }
        minutiae.sort_by(|a, b| a.y.total_cmp(&b.y).then(a.x.total_cmp(&b.x)));

        // The share of the finger's area that is on the image: a 10-pixel grid over the ellipse.
        let (mut inside, mut visible) = (0u32, 0u32);
        let (x0, y0) = (shape.centre.x - shape.ax, shape.centre.y - shape.ay);
        for i in 0..=((2.0 * shape.ax / 10.0) as u32) {
            for j in 0..=((2.0 * shape.ay / 10.0) as u32) {
                let p = Point::new(x0 + 10.0 * f64::from(i), y0 + 10.0 * f64::from(j));
                if shape.contains(p) {
                    inside += 1;
                    if crop.keeps(&shape, p) && on_image(place(p)) {
                        visible += 1;
                    }
                }
            }
        }
        let visible_fraction = if inside == 0 { 0.0 } else { f64::from(visible) / f64::from(inside) };

        let degradation = Degradation {
            rotation_degrees: pose.rotation.to_degrees(),
            translation_px: pose.shift,
            distortion: distortion.strain,
            crop_fraction,
            visible_fraction,
            lost,
            spurious,
        };
        let quality = quality(&degradation, noise, minutiae.len());
        Ok(Impression { finger: self.finger, minutiae, quality, degradation })
    }
}

/// The quality score documented on [`Impression::quality`].
fn quality(d: &Degradation, noise: &NoiseParams, count: usize) -> u8 {
    let reference = NoiseParams::default();
    let ratio = |value: f64, reference: f64| value / reference;
    let shift = d.translation_px.0.hypot(d.translation_px.1);
    let penalty = 90.0 * (1.0 - d.visible_fraction)
        + 25.0 * ratio(d.distortion, reference.max_distortion)
        + 7.5
            * (ratio(noise.position_sigma_px, reference.position_sigma_px)
                + ratio(noise.angle_sigma_degrees, reference.angle_sigma_degrees))
        + 5.0
            * (ratio(noise.lost_fraction, reference.lost_fraction)
                + ratio(noise.spurious_fraction, reference.spurious_fraction))
        + 4.0
            * (d.rotation_degrees.abs() / reference.max_rotation_degrees
                + shift / (reference.max_translation_px * 2f64.sqrt()))
        + 2.0 * (20usize.saturating_sub(count)) as f64;
    (100.0 - penalty).round().clamp(1.0, 100.0) as u8
}
