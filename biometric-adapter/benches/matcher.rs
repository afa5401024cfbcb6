//! Matcher benchmarks: 1:1 comparison and 1:N identification over a gallery of 10,000 fingers.
//!
//! `nice -n 19 cargo bench -p biometric-adapter --bench matcher`
//!
//! The gallery is synthetic (population seed 7, default noise) and takes a while to generate
//! before the first measurement.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use biometric_adapter::{
    matcher::{FingerTemplate, Gallery, SearchOptions, Subject, compare},
    population::{FINGERS, NoiseParams, Population},
    template::FingerPosition,
};
use criterion::{Criterion, criterion_group, criterion_main};
use rayon::prelude::*;

const GALLERY_FINGERS: u64 = 10_000;

fn capture(population: &Population, person: u64, finger: FingerPosition, number: u32) -> FingerTemplate {
    let master = population.master(person, finger).unwrap();
    let impression = master
        .impression(&NoiseParams::default(), &mut population.capture_rng(person, finger, number).unwrap())
        .unwrap();
    FingerTemplate::from_single_view_record(&impression.to_record().unwrap()).unwrap()
}

fn one_to_one(c: &mut Criterion) {
    let population = Population::new(7);
    let finger = FINGERS[1];
    let pairs: Vec<(FingerTemplate, FingerTemplate, FingerTemplate)> = (0..16)
        .map(|p| {
            (
                capture(&population, p, finger, 0),
                capture(&population, p, finger, 1),
                capture(&population, p + 100, finger, 1),
            )
        })
        .collect();
    let mut group = c.benchmark_group("verify 1:1");
    group.bench_function("genuine finger pair", |b| {
        let mut i = 0;
        b.iter(|| {
            let (a, g, _) = &pairs[i % pairs.len()];
            i += 1;
            black_box(compare(black_box(a), black_box(g)))
        })
    });
    group.bench_function("impostor finger pair", |b| {
        let mut i = 0;
        b.iter(|| {
            let (a, _, x) = &pairs[i % pairs.len()];
            i += 1;
            black_box(compare(black_box(a), black_box(x)))
        })
    });
    group.finish();
}

fn one_to_many(c: &mut Criterion) {
    let population = Population::new(7);
    let finger = FINGERS[1];
    let templates: Vec<FingerTemplate> =
        (0..GALLERY_FINGERS).into_par_iter().map(|p| capture(&population, p, finger, 0)).collect();
    let mut gallery = Gallery::new();
    for (p, t) in templates.into_iter().enumerate() {
        gallery.insert(p as u64, Subject::new(vec![t]).unwrap()).unwrap();
    }
    // Probes: enrolled people, captured again.
    let probes: Vec<Subject> = (0..16)
        .map(|k| Subject::new(vec![capture(&population, k * 613 % GALLERY_FINGERS, finger, 1)]).unwrap())
        .collect();
    let options = SearchOptions::default();
    let mut group = c.benchmark_group("identify 1:N");
    group.sample_size(20);
    group.bench_function("one finger against 10,000 fingers", |b| {
        let mut i = 0;
        b.iter(|| {
            let probe = &probes[i % probes.len()];
            i += 1;
            black_box(gallery.identify(black_box(probe), &options))
        })
    });
    // The index's share: the same search with no shortlist beyond each finger's best 5.
    let index_only = SearchOptions { shortlist: 0, shortlist_share: 0.0, ..options };
    group.bench_function("index lookup against 10,000 fingers (+5 verifications)", |b| {
        let mut i = 0;
        b.iter(|| {
            let probe = &probes[i % probes.len()];
            i += 1;
            black_box(gallery.identify(black_box(probe), &index_only))
        })
    });
    group.finish();
}

criterion_group!(benches, one_to_one, one_to_many);
criterion_main!(benches);
