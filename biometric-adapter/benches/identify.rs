//! De-duplication at scale: a ten-finger enrolment searched 1:N against a gallery of ten-finger
//! subjects, as the identity provider does at every enrolment. Reports the accuracy first (FNIR
//! at FPIR 0.1%, over mated and non-mated searches), then times one search with criterion.
//!
//! ```text
//! BENCH_PEOPLE=1000 BENCH_SEARCHES=500 nice cargo bench -p biometric-adapter --bench identify
//! ```
//!
//! - `BENCH_PEOPLE`: enrolled people (the gallery holds ten times as many fingers); default 1,000.
//! - `BENCH_SEARCHES`: mated searches (a new capture of an enrolled person) and as many non-mated
//!   ones (people who are not enrolled) for the accuracy figures; default 500.
//!
//! The population is synthetic (seed 7, default noise: see `population::NoiseParams`); every
//! capture is a new impression of the person's master fingers. FPIR is the share of non-mated
//! searches that return anyone at a threshold; FNIR the share of mated searches whose mate is not
//! returned at it (including mates the index never shortlisted). The threshold is set where FPIR
//! is at most 0.1%, and the operating point the identity provider uses (a fused false match
//! rate of 10⁻⁶ per person compared) is reported too.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::{hint::black_box, time::Instant};

use biometric_adapter::{
    matcher::{FalseMatchRate, FingerTemplate, Gallery, SearchOptions, Subject},
    population::{FINGERS, NoiseParams, Population},
};
use criterion::{Criterion, criterion_group, criterion_main};
use rayon::prelude::*;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A person's ten fingers, captured afresh (`capture` numbers the impression).
fn ten_fingers(population: &Population, person: u64, capture: u32) -> Subject {
    let fingers = FINGERS
        .iter()
        .map(|&finger| {
            let master = population.master(person, finger).unwrap();
            let impression = master
                .impression(&NoiseParams::default(), &mut population.capture_rng(person, finger, capture).unwrap())
                .unwrap();
            FingerTemplate::from_single_view_record(&impression.to_record().unwrap()).unwrap()
        })
        .collect();
    Subject::new(fingers).unwrap()
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The share of `scores` at or below `threshold`.
fn share_at_or_below(scores: &[f64], threshold: f64) -> f64 {
    scores.iter().filter(|&&s| s <= threshold).count() as f64 / scores.len().max(1) as f64
}

fn identify(c: &mut Criterion) {
    let people = env("BENCH_PEOPLE", 1_000);
    let searches = env("BENCH_SEARCHES", 500).min(people);
    let population = Population::new(7);

    let started = Instant::now();
    let before = rss_mb();
    let enrolled: Vec<Subject> = (0..people).into_par_iter().map(|p| ten_fingers(&population, p, 0)).collect();
    let mut gallery = Gallery::new();
    for (p, s) in enrolled.into_iter().enumerate() {
        gallery.insert(p as u64, s);
    }
    println!(
        "gallery: {people} people, {} fingers, built in {:.1} s, {:.0} MB resident ({:.1} KB per finger)",
        people * 10,
        started.elapsed().as_secs_f64(),
        rss_mb() - before,
        (rss_mb() - before) * 1024.0 / (people * 10) as f64
    );

    // Accuracy: every candidate the shortlist verifies is kept (target 0.5), so scores can be
    // read at any threshold.
    let all = SearchOptions { target: FalseMatchRate::new(0.5).unwrap(), ..SearchOptions::default() };
    let stride = (people / searches).max(1);
    let mated: Vec<(u64, Subject)> =
        (0..searches).into_par_iter().map(|k| (k * stride, ten_fingers(&population, k * stride, 1))).collect();
    let non_mated: Vec<Subject> =
        (0..searches).into_par_iter().map(|k| ten_fingers(&population, people + k, 1)).collect();
    let started = Instant::now();
    // The mate's fused false match rate (1 when it was not returned), and its rank.
    let mated_scores: Vec<(f64, usize)> = mated
        .iter()
        .map(|(person, probe)| {
            let found = gallery.identify(probe, &all);
            found
                .candidates
                .iter()
                .position(|c| c.id == *person)
                .map_or((1.0, usize::MAX), |rank| (found.candidates[rank].verification.false_match_rate, rank))
        })
        .collect();
    // The strongest non-mate returned, if any.
    let non_mated_scores: Vec<f64> = non_mated
        .iter()
        .map(|probe| gallery.identify(probe, &all).candidates.first().map_or(1.0, |c| c.verification.false_match_rate))
        .collect();
    let per_search = started.elapsed().as_secs_f64() / (2 * searches) as f64;

    let mut sorted = non_mated_scores.clone();
    sorted.sort_by(f64::total_cmp);
    // Allowed false positives at FPIR 0.1%; the threshold sits just below the next non-mate.
    let allowed = (sorted.len() as f64 * 0.001).floor() as usize;
    let threshold = sorted.get(allowed).copied().unwrap_or(1.0);
    let below = |t: f64| mated_scores.iter().filter(|(s, _)| *s < t).count();
    let fnir = 1.0 - below(threshold) as f64 / mated_scores.len() as f64;
    let fpir = sorted.iter().filter(|&&s| s < threshold).count() as f64 / sorted.len() as f64;
    let missed = mated_scores.iter().filter(|(_, rank)| *rank == usize::MAX).count();
    let not_first = mated_scores.iter().filter(|(_, rank)| *rank != 0 && *rank != usize::MAX).count();
    println!(
        "accuracy over {searches} mated and {searches} non-mated ten-finger searches: FPIR {:.3}% and FNIR {:.3}% at a fused FMR threshold below {threshold:.2e}; {missed} mates never shortlisted, {not_first} not ranked first",
        fpir * 100.0,
        fnir * 100.0
    );
    let operating = FalseMatchRate::ONE_IN_1M.value();
    println!(
        "at the identity provider's operating point (fused FMR <= 1e-6): FPIR {:.3}%, FNIR {:.3}%",
        share_at_or_below(&non_mated_scores, operating) * 100.0,
        (1.0 - mated_scores.iter().filter(|(s, _)| *s <= operating).count() as f64 / mated_scores.len() as f64) * 100.0
    );
    println!("mean search time during the accuracy run: {:.1} ms (2 cores)", per_search * 1e3);

    let options = SearchOptions::default();
    let mut group = c.benchmark_group("identify 1:N, ten fingers");
    group.sample_size(10);
    group.bench_function(format!("one enrolment against {people} people ({} fingers)", people * 10), |b| {
        let mut i = 0;
        b.iter(|| {
            let probe = &non_mated[i % non_mated.len()];
            i += 1;
            black_box(gallery.identify(black_box(probe), &options))
        })
    });
    group.finish();
}

criterion_group!(benches, identify);
criterion_main!(benches);
