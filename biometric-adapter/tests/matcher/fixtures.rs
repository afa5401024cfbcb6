//! The SourceAFIS templates: real fingerprints, extracted by SourceAFIS.

use biometric_adapter::matcher::{FalseMatchRate, Subject, compare, false_match_rate, verify};

use crate::support::fixture_template;

const PROBE: &str = "sourceafis-iso-probe.dat";
const MATCHING: &str = "sourceafis-iso-matching.dat";
const NONMATCHING: &str = "sourceafis-iso-nonmatching.dat";

#[test]
fn the_probe_matches_its_matching_template_and_not_the_other_finger() {
    let (Some(probe), Some(matching), Some(nonmatching)) =
        (fixture_template(PROBE), fixture_template(MATCHING), fixture_template(NONMATCHING))
    else {
        return;
    };
    let genuine = compare(&probe, &matching);
    let impostor = compare(&probe, &nonmatching);
    eprintln!("SourceAFIS probe ~ matching: {genuine:?}; probe ~ nonmatching: {impostor:?}");
    // Above even the strictest calibrated threshold, and below even the most lenient one.
    assert!(genuine > FalseMatchRate::ONE_IN_1M.threshold(), "{genuine:?}");
    assert!(impostor < FalseMatchRate::ONE_IN_1K.threshold(), "{impostor:?}");
    assert!(false_match_rate(impostor) > 1e-3);
    // Either way round.
    assert!(compare(&matching, &probe) > FalseMatchRate::ONE_IN_1M.threshold());
    assert!(compare(&nonmatching, &probe) < FalseMatchRate::ONE_IN_1K.threshold());
    // And as subjects of one unknown finger each, at the default target.
    let subject = |t| Subject::new(vec![t]).unwrap();
    let (probe, matching, nonmatching) = (subject(probe), subject(matching), subject(nonmatching));
    assert!(verify(&probe, &matching, FalseMatchRate::default()).is_match);
    assert!(!verify(&probe, &nonmatching, FalseMatchRate::default()).is_match);
}
