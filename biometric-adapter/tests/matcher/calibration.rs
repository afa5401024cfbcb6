//! The committed thresholds still describe the matcher: re-derived on a fresh population (another
//! seed than the one they were produced with), they must agree.

use biometric_adapter::{
    matcher::{FalseMatchRate, calibrate},
    population::NoiseParams,
};

use crate::support::RELEASE;

#[test]
fn calibration_still_holds() {
    let (people, fingers) = if RELEASE { (200, 4) } else { (36, 2) };
    let report = calibrate(777, people, fingers, &NoiseParams::default()).unwrap();
    eprintln!("{}", serde_json::to_string_pretty(&report).unwrap());
    assert_eq!(report.genuine, (people as usize) * fingers);
    assert_eq!(report.impostor, (people as usize) * (people as usize - 1) * fingers);
    // Well separated on average.
    assert!(report.genuine_percentiles[2] > 3.0 * FalseMatchRate::ONE_IN_10K.threshold().value(), "{report:?}");
    assert!(report.impostor_percentiles[0] < FalseMatchRate::new(0.1).unwrap().threshold().value());
    assert!(!report.operating_points.is_empty());
    for point in &report.operating_points {
        let expected = point.target_fmr * report.impostor as f64;
        // At the committed threshold, impostors pass about as often as the target says: within
        // sampling noise (Poisson, about 3 standard deviations) and a factor of 2 of model error.
        let observed = point.fmr_at_committed * report.impostor as f64;
        assert!(
            observed <= 2.0 * expected + 3.0 * (2.0 * expected).sqrt() + 1.0,
            "at FMR {}: {observed} impostors passed the committed threshold {}, {expected} expected",
            point.target_fmr,
            point.committed_threshold
        );
        assert!(
            observed >= 0.5 * expected - 3.0 * (0.5 * expected).sqrt() - 1.0,
            "at FMR {}: only {observed} impostors reached the committed threshold {}; the tail has moved down and \
             the thresholds are needlessly strict",
            point.target_fmr,
            point.committed_threshold
        );
        // Where the sample is large, the re-derived threshold is close to the committed one.
        if expected >= 100.0 {
            let drift = (point.measured_threshold - point.committed_threshold).abs();
            assert!(
                drift < 1.0,
                "at FMR {}: measured {} vs committed {}",
                point.target_fmr,
                point.measured_threshold,
                point.committed_threshold
            );
        }
        // And genuine comparisons pass.
        let allowed_fnmr = if point.target_fmr >= 1e-3 { 0.03 } else { 0.05 };
        assert!(point.fnmr_at_committed <= allowed_fnmr, "{point:?}");
    }
}
