//! Shared helpers: fixtures and synthetic captures.

use std::path::PathBuf;

use biometric_adapter::{
    matcher::{FingerTemplate, Subject},
    population::{NoiseParams, Population},
    template::{self, FingerPosition},
};

/// Whether this is an optimised build, where the full-size runs are affordable.
pub const RELEASE: bool = !cfg!(debug_assertions);

/// A published vector from `tests/fixtures/iso19794-2`, or `None` (said loudly) when missing,
/// unless `IDP_REQUIRE_ALL_SUITES=1`.
pub fn fixture(name: &str) -> Option<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/iso19794-2");
    if !dir.is_dir() {
        if std::env::var("IDP_REQUIRE_ALL_SUITES").as_deref() == Ok("1") {
            panic!("{} is missing but IDP_REQUIRE_ALL_SUITES=1: the fixture tests must run", dir.display());
        }
        eprintln!("SKIPPED: matcher fixture tests ({} is missing)", dir.display());
        return None;
    }
    Some(std::fs::read(dir.join(name)).unwrap())
}

pub fn fixture_template(name: &str) -> Option<FingerTemplate> {
    let record = template::parse(&fixture(name)?).unwrap();
    Some(FingerTemplate::from_single_view_record(&record).unwrap())
}

/// Capture `capture` of a person's finger, through an ISO record as a device would deliver it.
pub fn capture(
    population: &Population,
    person: u64,
    finger: FingerPosition,
    capture: u32,
    noise: &NoiseParams,
) -> FingerTemplate {
    let master = population.master(person, finger).unwrap();
    let impression = master.impression(noise, &mut population.capture_rng(person, finger, capture).unwrap()).unwrap();
    let bytes = template::write(&impression.to_record().unwrap());
    FingerTemplate::from_single_view_record(&template::parse(&bytes).unwrap()).unwrap()
}

/// A subject of several fingers, captured once each.
pub fn subject(population: &Population, person: u64, fingers: &[FingerPosition], number: u32) -> Subject {
    let noise = NoiseParams::default();
    Subject::new(fingers.iter().map(|&f| capture(population, person, f, number, &noise)).collect()).unwrap()
}
