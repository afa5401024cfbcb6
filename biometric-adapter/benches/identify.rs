//! De-duplication at scale: a ten-finger enrolment searched 1:N against a gallery of ten-finger
//! subjects, as the identity provider does at every enrolment; and one finger searched against
//! galleries of 10,000 to 1,000,000 fingers. Reports the accuracy first (FNIR at FPIR 0.1%, over
//! mated and non-mated searches), the gallery's build time and memory, then times the searches with
//! criterion.
//!
//! ```text
//! BENCH_PEOPLE=200000 BENCH_SEARCHES=500 nice cargo bench -p biometric-adapter --bench identify
//! BENCH_PEOPLE=0 BENCH_FINGERS=10000,100000,1000000 nice cargo bench -p biometric-adapter --bench identify
//! ```
//!
//! - `BENCH_PEOPLE`: enrolled people for the ten-finger search (the gallery holds ten times as many
//!   fingers); default 10,000; 0 skips it.
//! - `BENCH_SEARCHES`: mated searches (a new capture of an enrolled person) and as many non-mated
//!   ones (people who are not enrolled) for the accuracy figures; default 500.
//! - `BENCH_FINGERS`: sizes of the one-finger galleries, comma-separated; default `10000,100000`;
//!   empty skips them. Each enrolled finger is its own subject of unknown position (so one index
//!   holds them all and a probe finger is compared with every one of them): the fingers of
//!   `size / 10` people.
//! - `BENCH_CACHE`: where the synthetic enrolment captures are kept between runs (ISO/IEC
//!   19794-2 records, about 3.4 KB per person); default `$TMPDIR/drukyul-bench-population`.
//!   Generating a capture costs far more than searching it, so a gallery of 200,000 people is
//!   generated once and then read back.
//!
//! The population is synthetic (seed 7, default noise: see `population::NoiseParams`); every
//! capture is a new impression of the person's master fingers. FPIR is the share of non-mated
//! searches that return anyone at a threshold; FNIR the share of mated searches whose mate is not
//! returned at it (including mates the index never shortlisted). The threshold is set where FPIR
//! is at most 0.1%, and the operating point the identity provider uses (a fused false match
//! rate of 10⁻⁶ per person compared) is reported too. Memory is what the gallery holds on the
//! heap (`Gallery::heap_bytes`), and the growth of the process's resident set while it was built
//! (which adds the allocator's overhead and a chunk of [`CHUNK`] people's captures).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::{
    hint::black_box,
    io::Write as _,
    path::PathBuf,
    time::{Duration, Instant},
};

use biometric_adapter::{
    matcher::{FalseMatchRate, FingerTemplate, Gallery, SearchOptions, Subject},
    population::{FINGERS, NoiseParams, Population},
    template::{FingerPosition, FingerView, Record, RecordHeader, parse, write},
};
use criterion::{Criterion, criterion_group, criterion_main};
use rayon::prelude::*;

/// People per cached file of enrolment captures.
const CHUNK: u64 = 1_000;
const SEED: u64 = 7;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Capture `capture` of a person's finger as a one-view record.
fn capture(population: &Population, person: u64, finger: FingerPosition, capture: u32) -> Record {
    let master = population.master(person, finger).unwrap();
    let impression = master
        .impression(&NoiseParams::default(), &mut population.capture_rng(person, finger, capture).unwrap())
        .unwrap();
    impression.to_record().unwrap()
}

/// A person's ten fingers, captured afresh (`capture` numbers the impression).
fn ten_fingers(population: &Population, person: u64, capture_number: u32) -> Subject {
    subject(&FINGERS.map(|finger| capture(population, person, finger, capture_number)))
}

fn subject(records: &[Record]) -> Subject {
    Subject::new(records.iter().map(|r| FingerTemplate::from_single_view_record(r).unwrap()).collect()).unwrap()
}

/// The same capture, filed as a finger of unknown position.
fn unknown_position(record: &Record) -> Record {
    let header = RecordHeader {
        format: record.format(),
        product_id: record.product_id(),
        capture_equipment: record.capture_equipment(),
        width: record.width(),
        height: record.height(),
        resolution_x: record.resolution_x(),
        resolution_y: record.resolution_y(),
    };
    let views = record
        .views()
        .iter()
        .map(|v| FingerView::new(FingerPosition::Unknown, 0, v.impression_type(), v.quality(), v.minutiae().to_vec()))
        .collect();
    Record::new(header, views).unwrap()
}

fn cache_dir() -> PathBuf {
    std::env::var_os("BENCH_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("drukyul-bench-population"))
}

/// The enrolment captures (capture 0, ten fingers) of people `chunk * CHUNK ..` `(chunk + 1) * CHUNK`,
/// from the cache or generated on all cores and cached.
fn enrolment_chunk(population: &Population, chunk: u64) -> Vec<[Record; 10]> {
    let dir = cache_dir();
    let path = dir.join(format!("seed{SEED}-people{}-{}.iso", chunk * CHUNK, (chunk + 1) * CHUNK));
    if let Ok(bytes) = std::fs::read(&path) {
        let mut records = Vec::with_capacity(CHUNK as usize * 10);
        let mut rest = bytes.as_slice();
        while let Some((length, tail)) = rest.split_first_chunk::<4>() {
            let (record, tail) = tail.split_at(u32::from_le_bytes(*length) as usize);
            records.push(parse(record).unwrap());
            rest = tail;
        }
        if records.len() == CHUNK as usize * 10 {
            let mut people = Vec::with_capacity(CHUNK as usize);
            let mut it = records.into_iter();
            for _ in 0..CHUNK {
                people.push(std::array::from_fn(|_| it.next().unwrap()));
            }
            return people;
        }
    }
    let people: Vec<[Record; 10]> = (chunk * CHUNK..(chunk + 1) * CHUNK)
        .into_par_iter()
        .map(|p| FINGERS.map(|finger| capture(population, p, finger, 0)))
        .collect();
    std::fs::create_dir_all(&dir).unwrap();
    let temporary = path.with_extension("partial");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&temporary).unwrap());
    for record in people.iter().flatten() {
        let bytes = write(record);
        file.write_all(&(bytes.len() as u32).to_le_bytes()).unwrap();
        file.write_all(&bytes).unwrap();
    }
    file.into_inner().unwrap().sync_all().unwrap();
    std::fs::rename(&temporary, &path).unwrap();
    people
}

/// Calls `enrol` with the subjects of people `0..people`, chunk by chunk (each chunk compiled on all
/// cores).
fn for_each_enrolment(population: &Population, people: u64, mut enrol: impl FnMut(Vec<(u64, [Record; 10])>)) {
    for chunk in 0..people.div_ceil(CHUNK) {
        let records = enrolment_chunk(population, chunk);
        let first = chunk * CHUNK;
        enrol(
            records
                .into_iter()
                .enumerate()
                .map(|(i, r)| (first + i as u64, r))
                .take_while(|(p, _)| *p < people)
                .collect(),
        );
    }
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

fn ten_finger_search(c: &mut Criterion) {
    let people = env("BENCH_PEOPLE", 10_000);
    if people == 0 {
        return;
    }
    let searches = env("BENCH_SEARCHES", 500).min(people);
    let population = Population::new(SEED);

    let started = Instant::now();
    let before = rss_mb();
    let mut gallery = Gallery::new();
    let mut generation = Duration::ZERO;
    for_each_enrolment(&population, people, |chunk| {
        let compiled = Instant::now();
        let subjects: Vec<(u64, Subject)> = chunk.par_iter().map(|(p, records)| (*p, subject(records))).collect();
        generation += compiled.elapsed();
        gallery.insert_many(subjects).unwrap();
    });
    let built = started.elapsed().as_secs_f64();
    let grown = rss_mb() - before;
    let held = gallery.heap_bytes() as f64;
    println!(
        "gallery: {people} people, {} fingers, built in {built:.1} s ({:.1} s of it compiling captures into \
         templates); it holds {:.0} MB ({:.1} KB per person); the process grew by {grown:.0} MB",
        people * 10,
        generation.as_secs_f64(),
        held / 1e6,
        held / 1e3 / people as f64,
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
    let mut compared = 0;
    // The mate's fused false match rate (1 when it was not returned), and its rank.
    let mated_scores: Vec<(f64, usize)> = mated
        .iter()
        .map(|(person, probe)| {
            let found = gallery.identify(probe, &all);
            compared += found.compared;
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
        .map(|probe| {
            let found = gallery.identify(probe, &all);
            compared += found.compared;
            found.candidates.first().map_or(1.0, |c| c.verification.false_match_rate)
        })
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
        "accuracy over {searches} mated and {searches} non-mated ten-finger searches: FPIR {:.3}% and FNIR {:.3}% at a \
         fused FMR threshold below {threshold:.2e}; {missed} mates not returned at all (never shortlisted, or \
         verified above FMR 0.5), {not_first} not ranked first",
        fpir * 100.0,
        fnir * 100.0
    );
    let operating = FalseMatchRate::ONE_IN_1M.value();
    println!(
        "at the identity provider's operating point (fused FMR <= 1e-6): FPIR {:.3}%, FNIR {:.3}%",
        share_at_or_below(&non_mated_scores, operating) * 100.0,
        (1.0 - mated_scores.iter().filter(|(s, _)| *s <= operating).count() as f64 / mated_scores.len() as f64) * 100.0
    );
    println!(
        "mean search time during the accuracy run: {:.1} ms (2 cores), {:.1} subjects verified in full per search",
        per_search * 1e3,
        compared as f64 / (2 * searches) as f64
    );

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

fn one_finger_search(c: &mut Criterion) {
    let sizes: Vec<u64> = std::env::var("BENCH_FINGERS")
        .unwrap_or_else(|_| "10000,100000".to_owned())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let population = Population::new(SEED);
    let finger = FINGERS[1];
    for size in sizes {
        let people = size.div_ceil(10);
        let started = Instant::now();
        let before = rss_mb();
        let mut gallery = Gallery::new();
        for_each_enrolment(&population, people, |chunk| {
            let subjects: Vec<(u64, Subject)> = chunk
                .par_iter()
                .flat_map_iter(|(p, records)| {
                    records.iter().enumerate().map(move |(f, r)| (p * 10 + f as u64, subject(&[unknown_position(r)])))
                })
                .collect();
            gallery.insert_many(subjects.into_iter().take_while(|(id, _)| *id < size).collect()).unwrap();
        });
        println!(
            "one-finger gallery: {size} fingers of unknown position, built in {:.1} s, holds {:.0} MB (the process \
             grew by {:.0} MB)",
            started.elapsed().as_secs_f64(),
            gallery.heap_bytes() as f64 / 1e6,
            rss_mb() - before
        );
        // Probes: enrolled fingers (the right index of people spread over the gallery), captured
        // again and of unknown position too.
        let probes: Vec<(u64, Subject)> = (0..16)
            .into_par_iter()
            .map(|k| {
                let person = k * 613 % people;
                (person * 10 + 1, subject(&[unknown_position(&capture(&population, person, finger, 1))]))
            })
            .collect();
        let options = SearchOptions::default();
        let found =
            probes.iter().filter(|(id, p)| gallery.identify(p, &options).candidates.iter().any(|c| c.id == *id));
        println!("one-finger searches that return their mate at the default operating point: {} of 16", found.count());
        let mut group = c.benchmark_group("identify 1:N, one finger");
        group.sample_size(10);
        group.bench_function(format!("one finger against {size} fingers"), |b| {
            let mut i = 0;
            b.iter(|| {
                let (_, probe) = &probes[i % probes.len()];
                i += 1;
                black_box(gallery.identify(black_box(probe), &options))
            })
        });
        group.finish();
    }
}

criterion_group!(benches, ten_finger_search, one_finger_search);
criterion_main!(benches);
