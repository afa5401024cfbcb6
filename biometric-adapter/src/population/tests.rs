//! The synthetic population: deterministic, ridge-structured fingers and captures that degrade as
//! configured.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::f64::consts::PI;

use super::{FINGERS, IMAGE_HEIGHT, IMAGE_WIDTH, NoiseParams, Population};
use crate::template::{self, FingerPosition};

fn orientation_gap(direction: f64, orientation: f64) -> f64 {
    // Undirected difference, 0..=π/2.
    let d = (direction - orientation).rem_euclid(PI);
    d.min(PI - d)
}

#[test]
fn masters_are_deterministic_and_distinct() {
    let population = Population::new(7);
    let a = population.master(3, FingerPosition::RightIndex).unwrap();
    let again = Population::new(7).master(3, FingerPosition::RightIndex).unwrap();
    assert_eq!(a.minutiae(), again.minutiae());
    let other_person = population.master(4, FingerPosition::RightIndex).unwrap();
    let other_finger = population.master(3, FingerPosition::LeftIndex).unwrap();
    let other_population = Population::new(8).master(3, FingerPosition::RightIndex).unwrap();
    for other in [&other_person, &other_finger, &other_population] {
        assert_ne!(a.minutiae(), other.minutiae());
    }
    assert!(population.master(0, FingerPosition::Unknown).is_err());
}

#[test]
fn masters_have_25_to_80_minutiae_on_ridges_along_the_flow() {
    let population = Population::new(11);
    let mut aligned = 0usize;
    let mut total = 0usize;
    let mut counts = Vec::new();
    for person in 0..12 {
        for finger in [FINGERS[0], FINGERS[1], FINGERS[6], FINGERS[9]] {
            let master = population.master(person, finger).unwrap();
            let minutiae = master.minutiae();
            counts.push(minutiae.len());
            assert!((25..=80).contains(&minutiae.len()), "{} minutiae", minutiae.len());
            // Ridge-period spacing: no two minutiae closer than the spacing rule allows.
            let spacing = 1.2 * master.ridge_period() - 1e-9;
            for (i, m) in minutiae.iter().enumerate() {
                for n in &minutiae[i + 1..] {
                    assert!((m.x - n.x).hypot(m.y - n.y) >= spacing);
                }
                // Directions follow the ridge flow (undirected orientation at the minutia).
                total += 1;
                if orientation_gap(m.direction, master.orientation_at(m.x, m.y)) < 20f64.to_radians() {
                    aligned += 1;
                }
            }
        }
    }
    assert!(aligned * 100 >= total * 95, "only {aligned} of {total} minutiae follow the flow");
    // Not one fixed count: the population spans the range.
    assert!(counts.iter().min() < Some(&45) && counts.iter().max() > Some(&55), "{counts:?}");
}

#[test]
fn a_capture_without_noise_is_the_master() {
    let population = Population::new(5);
    let master = population.master(1, FingerPosition::LeftThumb).unwrap();
    let impression =
        master.impression(&NoiseParams::none(), &mut population.capture_rng(1, FINGERS[5], 0).unwrap()).unwrap();
    let mut expected = master.minutiae().to_vec();
    expected.sort_by(|a, b| a.y.total_cmp(&b.y).then(a.x.total_cmp(&b.x)));
    assert_eq!(impression.minutiae().len(), expected.len());
    for (a, b) in impression.minutiae().iter().zip(&expected) {
        assert!((a.x - b.x).abs() < 1e-9 && (a.y - b.y).abs() < 1e-9);
        assert!((a.direction - b.direction).abs() < 1e-6 || (a.direction - b.direction).abs() > 2.0 * PI - 1e-6);
        assert_eq!(a.kind, b.kind);
    }
    assert_eq!(impression.quality(), 100);
}

#[test]
fn default_noise_is_at_least_as_hard_as_the_issue_asks() {
    let n = NoiseParams::default();
    assert!(n.max_rotation_degrees >= 20.0);
    assert!(n.max_translation_px >= 40.0);
    assert!(n.max_distortion >= 0.10);
    assert!(n.position_sigma_px >= 4.0);
    assert!(n.angle_sigma_degrees >= 10.0);
    assert!(n.lost_fraction >= 0.15);
    assert!(n.spurious_fraction >= 0.10);
    assert!(n.max_crop_fraction >= 0.20);
    n.validate().unwrap();
    for bad in [
        NoiseParams { lost_fraction: -0.1, ..n },
        NoiseParams { max_rotation_degrees: f64::NAN, ..n },
        NoiseParams { max_crop_fraction: 0.95, ..n },
    ] {
        assert!(bad.validate().is_err());
        let master = Population::new(1).master(0, FINGERS[1]).unwrap();
        assert!(master.impression(&bad, &mut Population::new(1).capture_rng(0, FINGERS[1], 0).unwrap()).is_err());
    }
}

#[test]
fn captures_degrade_as_configured() {
    let population = Population::new(21);
    let noise = NoiseParams::default();
    let mut qualities_whole = Vec::new();
    let mut qualities_cut = Vec::new();
    let mut max_rotation = 0f64;
    let mut crops = Vec::new();
    for person in 0..40u64 {
        let finger = FINGERS[(person % 10) as usize];
        let master = population.master(person, finger).unwrap();
        let n = master.minutiae().len();
        for capture in 0..3 {
            let mut rng = population.capture_rng(person, finger, capture).unwrap();
            let impression = master.impression(&noise, &mut rng).unwrap();
            let d = impression.degradation();
            assert_eq!(d.lost, (0.15 * n as f64).round() as usize);
            assert_eq!(d.spurious, (0.10 * n as f64).round() as usize);
            assert!(d.rotation_degrees.abs() <= 20.0);
            assert!(d.translation_px.0.abs() <= 40.0 && d.translation_px.1.abs() <= 40.0);
            assert!((0.0..=0.10).contains(&d.distortion));
            assert!((0.0..=0.20).contains(&d.crop_fraction));
            assert!(d.visible_fraction <= 1.0 - d.crop_fraction + 0.03, "{d:?}");
            assert!(impression.minutiae().len() <= n - d.lost + d.spurious);
            for m in impression.minutiae() {
                assert!(m.x >= 0.0 && m.y >= 0.0 && m.x < f64::from(IMAGE_WIDTH) && m.y < f64::from(IMAGE_HEIGHT));
            }
            max_rotation = max_rotation.max(d.rotation_degrees.abs());
            crops.push(d.crop_fraction);
            if d.visible_fraction > 0.95 && d.distortion < 0.05 {
                qualities_whole.push(f64::from(impression.quality()));
            } else if d.visible_fraction < 0.8 {
                qualities_cut.push(f64::from(impression.quality()));
            }
            // Reproducible from the capture number.
            let again =
                master.impression(&noise, &mut population.capture_rng(person, finger, capture).unwrap()).unwrap();
            assert_eq!(impression, again);
        }
    }
    // The maxima are reached, not just allowed.
    assert!(max_rotation > 15.0);
    assert!(crops.iter().any(|&c| c > 0.15));
    // Quality tracks what the capture lost.
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    assert!(!qualities_whole.is_empty() && !qualities_cut.is_empty());
    assert!(mean(&qualities_whole) > mean(&qualities_cut) + 15.0, "{qualities_whole:?} vs {qualities_cut:?}");
}

#[test]
fn position_and_angle_noise_have_the_configured_spread() {
    let population = Population::new(3);
    let noise = NoiseParams { position_sigma_px: 4.0, angle_sigma_degrees: 10.0, ..NoiseParams::none() };
    let (mut distances, mut angles) = (Vec::new(), Vec::new());
    for person in 0..10 {
        let master = population.master(person, FINGERS[2]).unwrap();
        let mut rng = population.capture_rng(person, FINGERS[2], 0).unwrap();
        let impression = master.impression(&noise, &mut rng).unwrap();
        // Without loss, spurious minutiae or motion, each captured minutia is (nearly always) its
        // master's nearest; medians keep the rare mix-up from mattering.
        for m in impression.minutiae() {
            let nearest = master
                .minutiae()
                .iter()
                .min_by(|a, b| (a.x - m.x).hypot(a.y - m.y).total_cmp(&(b.x - m.x).hypot(b.y - m.y)))
                .unwrap();
            distances.push((nearest.x - m.x).hypot(nearest.y - m.y));
            let d = (m.direction - nearest.direction).rem_euclid(2.0 * PI);
            angles.push(d.min(2.0 * PI - d));
        }
    }
    let median = |xs: &mut Vec<f64>| {
        xs.sort_by(f64::total_cmp);
        xs[xs.len() / 2]
    };
    // The median distance of a 2-D Gaussian offset is σ√(2 ln 2); the median |x| of a 1-D one 0.674σ.
    let sigma = median(&mut distances) / (2.0 * 2f64.ln()).sqrt();
    let angle_sigma = (median(&mut angles) / 0.6745).to_degrees();
    assert!((3.5..4.5).contains(&sigma), "position σ {sigma}");
    assert!((8.5..11.5).contains(&angle_sigma), "angle σ {angle_sigma}");
}

#[test]
fn captures_become_iso_records_that_read_back() {
    let population = Population::new(9);
    let noise = NoiseParams::default();
    let impressions: Vec<_> = [FINGERS[1], FINGERS[6], FINGERS[1]]
        .iter()
        .enumerate()
        .map(|(i, &f)| {
            let master = population.master(2, f).unwrap();
            master.impression(&noise, &mut population.capture_rng(2, f, i as u32).unwrap()).unwrap()
        })
        .collect();
    let record = super::record(&impressions).unwrap();
    let bytes = template::write(&record);
    let parsed = template::parse(&bytes).unwrap();
    assert_eq!(parsed, record);
    assert_eq!(record.format(), template::Format::Iso19794_2_2005);
    assert_eq!((record.width(), record.height(), record.resolution_x()), (400, 500, 197));
    let views = record.views();
    assert_eq!(views.len(), 3);
    // The second capture of the right index is its view 1.
    assert_eq!(
        views.iter().map(|v| (v.finger_position(), v.view_number())).collect::<Vec<_>>(),
        [(FingerPosition::RightIndex, 0), (FingerPosition::LeftIndex, 0), (FingerPosition::RightIndex, 1)]
    );
    for (view, impression) in views.iter().zip(&impressions) {
        assert_eq!(view.quality(), impression.quality());
        assert_eq!(view.minutiae().len(), impression.minutiae().len());
        for (m, s) in view.minutiae().iter().zip(impression.minutiae()) {
            assert!((f64::from(m.x) - s.x).abs() <= 0.5 && (f64::from(m.y) - s.y).abs() <= 0.5);
            // ISO counts counter-clockwise on screen; the synthetic direction is clockwise.
            let back = (-m.angle.degrees()).to_radians().rem_euclid(2.0 * PI);
            let d = (back - s.direction).rem_euclid(2.0 * PI);
            assert!(d.min(2.0 * PI - d) <= (360.0f64 / 512.0).to_radians() + 1e-9);
            assert!((40..=100).contains(&m.quality));
        }
    }
}
