//! Scores as false match rates: the calibrated impostor tail, the [`FalseMatchRate`] newtype and
//! the routine that measures both on the synthetic population.

use rayon::prelude::*;
use serde::Serialize;

use super::{FingerTemplate, Score, compare};
use crate::{
    Error,
    population::{FINGERS, NoiseParams, Population},
};

/// The impostor tail of the finger score on the synthetic population: `(score, log10 of the share
/// of impostor comparisons scoring at least that)`, by increasing score.
///
/// Produced by `cargo run --release -p biometric-adapter --example calibrate -- 330 10 2024`:
/// population seed 2024, 330 people × 10 fingers × 2 captures at [`NoiseParams::default`], every
/// first capture compared with every other person's second capture of the same finger (1,085,700
/// impostor comparisons) and with the same person's (3,300 genuine). Genuine scores: mean 45.0,
/// 1st percentile 14.9; impostor scores: mean 1.68, 99.9th percentile 8.41, largest 15.9. False
/// non-match rates at these thresholds: 0.06% (10⁻¹), 0.09% (10⁻²), 0.30% (10⁻³), 0.52% (10⁻⁴),
/// 0.76% (10⁻⁵). The test `calibration_still_holds` re-derives the tail on another population and
/// fails if the matcher drifts away from it.
pub(crate) const IMPOSTOR_TAIL: [(f32, f64); 5] =
    [(3.138, -1.0), (5.697, -2.0), (8.414, -3.0), (11.146, -4.0), (13.810, -5.0)];

/// Beyond the last calibrated point the tail is extrapolated along its last segment's slope, but
/// never claimed rarer than this (per finger): the model, not the data, speaks out there.
const MIN_LOG10_FMR: f64 = -12.0;

/// A target false match rate: the share of comparisons of *different* fingers (or people) that
/// may be called a match. Between 10⁻¹² and 0.5; the thresholds behind the common targets
/// (10⁻³ … 10⁻⁵) are measured, rarer ones extrapolated.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
pub struct FalseMatchRate(f64);

impl FalseMatchRate {
    /// One in a thousand.
    pub const ONE_IN_1K: FalseMatchRate = FalseMatchRate(1e-3);
    /// One in ten thousand: the default for 1:1 verification.
    pub const ONE_IN_10K: FalseMatchRate = FalseMatchRate(1e-4);
    /// One in a hundred thousand.
    pub const ONE_IN_100K: FalseMatchRate = FalseMatchRate(1e-5);
    /// One in a million: per person compared, for de-duplication against large galleries.
    pub const ONE_IN_1M: FalseMatchRate = FalseMatchRate(1e-6);

    /// A target rate, checked to be within 10⁻¹²..=0.5.
    pub fn new(rate: f64) -> Result<Self, Error> {
        if !(1e-12..=0.5).contains(&rate) {
            return Err(Error::parameter("false match rate", format!("{rate} is outside 1e-12..=0.5")));
        }
        Ok(FalseMatchRate(rate))
    }

    /// The rate.
    pub fn value(self) -> f64 {
        self.0
    }

    /// The finger score at and above which a single-finger comparison is a match at this rate.
    pub fn threshold(self) -> Score {
        Score(score_at(self.0.log10()))
    }
}

impl Default for FalseMatchRate {
    fn default() -> Self {
        FalseMatchRate::ONE_IN_10K
    }
}

/// The estimated false match rate of a finger score: the share of impostor comparisons that score
/// at least as high (1 for a score of 0).
pub fn false_match_rate(score: Score) -> f64 {
    10f64.powf(log10_fmr(score.value()))
}

/// log10 of the impostor tail at `score`, interpolated linearly between calibrated points (from
/// (0, 0): every impostor scores at least 0).
pub(crate) fn log10_fmr(score: f32) -> f64 {
    let mut previous = (0.0f32, 0.0f64);
    for &(s, l) in &IMPOSTOR_TAIL {
        if score <= s {
            let t = f64::from((score - previous.0) / (s - previous.0).max(f32::EPSILON));
            return previous.1 + t.clamp(0.0, 1.0) * (l - previous.1);
        }
        previous = (s, l);
    }
    // Extrapolate with the last segment's slope.
    let [.., (s0, l0), (s1, l1)] = IMPOSTOR_TAIL;
    let slope = (l1 - l0) / f64::from(s1 - s0);
    (l1 + slope * f64::from(score - s1)).max(MIN_LOG10_FMR)
}

/// The score whose tail is `log10_rate` (the inverse of [`log10_fmr`]).
fn score_at(log10_rate: f64) -> f32 {
    let mut previous = (0.0f32, 0.0f64);
    for &(s, l) in &IMPOSTOR_TAIL {
        if log10_rate >= l {
            let t = ((log10_rate - previous.1) / (l - previous.1)).clamp(0.0, 1.0);
            return previous.0 + (t as f32) * (s - previous.0);
        }
        previous = (s, l);
    }
    let [.., (s0, l0), (s1, l1)] = IMPOSTOR_TAIL;
    let slope = (l1 - l0) / f64::from(s1 - s0);
    s1 + ((log10_rate.max(MIN_LOG10_FMR) - l1) / slope) as f32
}

/// What a calibration run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationReport {
    /// People in the population.
    pub people: u64,
    /// Fingers per person compared.
    pub fingers: usize,
    /// Genuine comparisons (first capture against second, same person and finger).
    pub genuine: usize,
    /// Impostor comparisons (first capture against another person's second, same finger).
    pub impostor: usize,
    /// Mean genuine score.
    pub genuine_mean: f32,
    /// 1st, 5th and 50th percentile of the genuine scores.
    pub genuine_percentiles: [f32; 3],
    /// Mean impostor score.
    pub impostor_mean: f32,
    /// 50th, 99th and 99.9th percentile and maximum of the impostor scores.
    pub impostor_percentiles: [f32; 4],
    /// For each target FMR measurable with this many impostors: the empirical threshold (the
    /// smallest score with at most that share of impostors at or above it), the FNMR at it, and
    /// the FNMR at the committed threshold with the FMR measured there.
    pub operating_points: Vec<OperatingPoint>,
    /// The measured tail, `(score, log10 FMR)` at FMR 10⁻¹, 10⁻², …: the form of the committed
    /// table (`IMPOSTOR_TAIL` in `src/matcher/calibration.rs`).
    pub tail: Vec<(f32, f64)>,
}

/// One target FMR's result in a [`CalibrationReport`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OperatingPoint {
    /// The target.
    pub target_fmr: f64,
    /// The threshold measured on this population.
    pub measured_threshold: f32,
    /// The false non-match rate at the measured threshold.
    pub fnmr_at_measured: f64,
    /// The committed threshold ([`FalseMatchRate::threshold`]).
    pub committed_threshold: f32,
    /// The false match rate observed at the committed threshold.
    pub fmr_at_committed: f64,
    /// The false non-match rate at the committed threshold.
    pub fnmr_at_committed: f64,
}

/// Measures genuine and impostor score distributions on `people` synthetic people of population
/// `seed` (the first `fingers` fingers each, two captures at `noise`), and derives thresholds for
/// the target FMRs the number of impostor comparisons can support (at least 10 impostors beyond
/// each). Runs on all cores.
pub fn calibrate(seed: u64, people: u64, fingers: usize, noise: &NoiseParams) -> Result<CalibrationReport, Error> {
    if people < 2 || !(1..=10).contains(&fingers) {
        return Err(Error::parameter("calibration", "needs at least 2 people and 1-10 fingers"));
    }
    let population = Population::new(seed);
    let jobs: Vec<(u64, usize)> = (0..people).flat_map(|p| (0..fingers).map(move |f| (p, f))).collect();
    let captures: Vec<[FingerTemplate; 2]> = jobs
        .par_iter()
        .map(|&(person, f)| {
            let finger = FINGERS.get(f).copied().unwrap_or(FINGERS[0]);
            let master = population.master(person, finger)?;
            let capture = |n: u32| -> Result<FingerTemplate, Error> {
                let impression = master.impression(noise, &mut population.capture_rng(person, finger, n)?)?;
                FingerTemplate::from_single_view_record(&impression.to_record()?)
            };
            Ok([capture(0)?, capture(1)?])
        })
        .collect::<Result<_, Error>>()?;
    let genuine: Vec<f32> = captures.par_iter().map(|[a, b]| compare(a, b).value()).collect();
    let impostor: Vec<f32> = (0..captures.len())
        .into_par_iter()
        .flat_map_iter(|i| {
            let captures = &captures;
            (0..captures.len())
                .filter(move |&j| j % fingers == i % fingers && j != i)
                .filter_map(move |j| Some(compare(&captures.get(i)?[0], &captures.get(j)?[1]).value()))
        })
        .collect();
    Ok(report(people, fingers, genuine, impostor))
}

fn report(people: u64, fingers: usize, mut genuine: Vec<f32>, mut impostor: Vec<f32>) -> CalibrationReport {
    genuine.sort_unstable_by(f32::total_cmp);
    impostor.sort_unstable_by(f32::total_cmp);
    let percentile = |xs: &[f32], p: f64| -> f32 {
        if xs.is_empty() {
            return 0.0;
        }
        let i = ((xs.len() - 1) as f64 * p).round() as usize;
        xs.get(i).copied().unwrap_or(0.0)
    };
    let mean = |xs: &[f32]| if xs.is_empty() { 0.0 } else { xs.iter().sum::<f32>() / xs.len() as f32 };
    // The share of `xs` (sorted) at or above `t`.
    let share_at_or_above = |xs: &[f32], t: f32| {
        if xs.is_empty() { 0.0 } else { (xs.len() - xs.partition_point(|&x| x < t)) as f64 / xs.len() as f64 }
    };
    // The smallest observed score with at most `rate` of impostors at or above it.
    let measured_threshold = |rate: f64| -> f32 {
        let allowed = (rate * impostor.len() as f64).floor() as usize;
        let index = impostor.len().saturating_sub(allowed + 1);
        // Just above the (allowed + 1)-th highest impostor score.
        impostor.get(index).map_or(0.0, |&s| s + 1e-3)
    };
    let mut operating_points = Vec::new();
    let mut tail = Vec::new();
    for exponent in 1..=6 {
        let rate = 10f64.powi(-exponent);
        if rate * (impostor.len() as f64) < 10.0 {
            break;
        }
        let measured = measured_threshold(rate);
        tail.push((measured, -f64::from(exponent)));
        let committed = FalseMatchRate(rate).threshold().value();
        operating_points.push(OperatingPoint {
            target_fmr: rate,
            measured_threshold: measured,
            fnmr_at_measured: 1.0 - share_at_or_above(&genuine, measured),
            committed_threshold: committed,
            fmr_at_committed: share_at_or_above(&impostor, committed),
            fnmr_at_committed: 1.0 - share_at_or_above(&genuine, committed),
        });
    }
    CalibrationReport {
        people,
        fingers,
        genuine: genuine.len(),
        impostor: impostor.len(),
        genuine_mean: mean(&genuine),
        genuine_percentiles: [percentile(&genuine, 0.01), percentile(&genuine, 0.05), percentile(&genuine, 0.5)],
        impostor_mean: mean(&impostor),
        impostor_percentiles: [
            percentile(&impostor, 0.5),
            percentile(&impostor, 0.99),
            percentile(&impostor, 0.999),
            impostor.last().copied().unwrap_or(0.0),
        ],
        operating_points,
        tail,
    }
}
