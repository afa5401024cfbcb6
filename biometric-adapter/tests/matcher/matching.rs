//! The matcher on synthetic captures: invariance, fusion and 1:N search.

use biometric_adapter::{
    matcher::{FalseMatchRate, Gallery, SearchOptions, Subject, compare, fuse, verify},
    population::{FINGERS, NoiseParams, Population},
    template::FingerPosition,
};

use crate::support::{capture, subject};

#[test]
fn placement_on_the_sensor_does_not_change_the_score() {
    let population = Population::new(41);
    let still = NoiseParams { max_rotation_degrees: 0.0, max_translation_px: 0.0, ..NoiseParams::none() };
    let moved = NoiseParams { max_rotation_degrees: 20.0, max_translation_px: 40.0, ..NoiseParams::none() };
    for person in 0..4 {
        let a = capture(&population, person, FINGERS[1], 0, &still);
        let b = capture(&population, person, FINGERS[1], 1, &moved);
        let same = compare(&a, &a).value();
        let turned = compare(&a, &b).value();
        // Only rounding to whole pixels and ISO angle units differs (and minutiae moved off the image).
        assert!(turned > 0.7 * same, "person {person}: {turned} against {same}");
        assert!(turned > FalseMatchRate::ONE_IN_1M.threshold().value());
    }
}

#[test]
fn same_finger_scores_high_and_different_fingers_low() {
    let population = Population::new(42);
    let noise = NoiseParams::default();
    let mut genuine = Vec::new();
    let mut impostor = Vec::new();
    for person in 0..6 {
        let a = capture(&population, person, FINGERS[2], 0, &noise);
        let b = capture(&population, person, FINGERS[2], 1, &noise);
        genuine.push(compare(&a, &b).value());
        let other = capture(&population, person + 100, FINGERS[2], 1, &noise);
        impostor.push(compare(&a, &other).value());
        // Nearly symmetric.
        let (ab, ba) = (compare(&a, &b).value(), compare(&b, &a).value());
        assert!((ab - ba).abs() <= 0.25 * ab.max(ba) + 1.0, "{ab} vs {ba}");
    }
    let threshold = FalseMatchRate::ONE_IN_10K.threshold().value();
    assert!(genuine.iter().filter(|&&s| s >= threshold).count() >= 5, "{genuine:?}");
    assert!(impostor.iter().all(|&s| s < threshold), "{impostor:?}");
}

#[test]
fn fusion_turns_scores_into_one_false_match_rate() {
    use biometric_adapter::matcher::false_match_rate;
    let at = |rate: f64| FalseMatchRate::new(rate).unwrap().threshold();
    // One finger: its own tail.
    let one = fuse(&[(FingerPosition::RightIndex, at(1e-4))]);
    assert!((one.log10() + 4.0).abs() < 0.01, "{one}");
    assert!((false_match_rate(at(1e-3)).log10() + 3.0).abs() < 0.01);
    // Two fingers at 1e-3 each: t = 1e-6, fused = t (1 - ln t) ≈ 1.48e-5.
    let two = fuse(&[(FingerPosition::RightIndex, at(1e-3)), (FingerPosition::LeftIndex, at(1e-3))]);
    assert!((two / 1.48e-5 - 1.0).abs() < 0.02, "{two}");
    // Adding an uninformative finger weakens the evidence rather than strengthening it.
    let with_weak = fuse(&[
        (FingerPosition::RightIndex, at(1e-3)),
        (FingerPosition::LeftIndex, at(1e-3)),
        (FingerPosition::RightThumb, at(0.5)),
    ]);
    assert!(with_weak > two);
    assert_eq!(fuse(&[]), 1.0);
    assert!(FalseMatchRate::new(0.0).is_err() && FalseMatchRate::new(0.9).is_err());
}

#[test]
fn verification_compares_the_fingers_both_sides_have() {
    let population = Population::new(43);
    let enrolled = subject(&population, 5, &[FINGERS[1], FINGERS[6], FINGERS[0]], 0);
    let probe = subject(&population, 5, &[FINGERS[6], FINGERS[1]], 1);
    let v = verify(&probe, &enrolled, FalseMatchRate::ONE_IN_1M);
    assert!(v.is_match, "{v:?}");
    assert_eq!(v.fingers.iter().map(|(f, _)| *f).collect::<Vec<_>>(), [FINGERS[6], FINGERS[1]]);
    let stranger = subject(&population, 6, &[FINGERS[6], FINGERS[1]], 1);
    let v = verify(&stranger, &enrolled, FalseMatchRate::ONE_IN_1K);
    assert!(!v.is_match, "{v:?}");
    // Nothing in common: nothing compared, no match.
    let thumbs = subject(&population, 5, &[FINGERS[5]], 1);
    let v = verify(&thumbs, &enrolled, FalseMatchRate::ONE_IN_1K);
    assert!(v.fingers.is_empty() && !v.is_match && v.false_match_rate == 1.0);
    // A subject cannot hold a finger twice.
    let twice = vec![enrolled.fingers()[0].clone(), enrolled.fingers()[0].clone()];
    assert!(Subject::new(twice).is_err());
    assert!(Subject::new(vec![]).is_err());
}

#[test]
fn identification_finds_the_person_without_comparing_everyone() {
    let population = Population::new(44);
    let people = if crate::support::RELEASE { 400 } else { 120 };
    let fingers = [FINGERS[1], FINGERS[6]];
    let mut gallery = Gallery::new();
    for person in 0..people {
        gallery.insert(1000 + person, subject(&population, person, &fingers, 0)).unwrap();
    }
    assert_eq!(gallery.len(), people as usize);
    let options = SearchOptions { shortlist: 10, shortlist_share: 0.0, ..SearchOptions::default() };
    for person in [3, people / 2, people - 1] {
        let probe = subject(&population, person, &fingers, 1);
        let found = gallery.identify(&probe, &options);
        assert_eq!(found.candidates.first().map(|c| c.id), Some(1000 + person), "{found:?}");
        assert_eq!(found.candidates.len(), 1, "{found:?}");
        assert!(found.compared < people as usize / 4, "compared {} of {people}", found.compared);
    }
    // Someone never enrolled matches nobody.
    let stranger = subject(&population, people + 7, &fingers, 1);
    assert!(gallery.identify(&stranger, &options).candidates.is_empty());
    assert!(Gallery::new().identify(&stranger, &options).candidates.is_empty());
}
