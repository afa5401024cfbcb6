//! Calibrates the matcher's thresholds on the synthetic population and prints the report.
//!
//! `cargo run --release -p biometric-adapter --example calibrate -- [PEOPLE] [FINGERS] [SEED]`
//! (defaults 200, 10, 2024): the numbers behind `IMPOSTOR_TAIL` in `src/matcher/calibration.rs`.

use biometric_adapter::{matcher::calibrate, population::NoiseParams};

fn main() -> Result<(), biometric_adapter::Error> {
    let mut args = std::env::args().skip(1);
    let people = args.next().and_then(|s| s.parse().ok()).unwrap_or(200);
    let fingers = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let seed = args.next().and_then(|s| s.parse().ok()).unwrap_or(2024);
    let started = std::time::Instant::now();
    let report = calibrate(seed, people, fingers, &NoiseParams::default())?;
    eprintln!("calibrated in {:.1?}", started.elapsed());
    println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    let tail: Vec<String> = report.tail.iter().map(|(s, l)| format!("({s:.2}, {l:.1})")).collect();
    println!("IMPOSTOR_TAIL = [{}]", tail.join(", "));
    Ok(())
}
