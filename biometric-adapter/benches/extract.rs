//! Extraction benchmarks: one finger image to an ISO/IEC 19794-2 record (decode + MINDTCT +
//! record), on the public fixture images.
//!
//! `nice -n 19 cargo bench -p biometric-adapter --bench extract`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::{hint::black_box, path::Path};

use biometric_adapter::{
    extract,
    finger_image::{Capture, DEFAULT_PPI, SbiField, decode_wsq},
};
use criterion::{Criterion, criterion_group, criterion_main};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)).unwrap()
}

fn extraction(c: &mut Criterion) {
    let mut group = c.benchmark_group("extract");
    group.sample_size(20);
    let png = fixture("images/sourceafis-probe.png");
    group.bench_function("png 388x374: decode + MINDTCT + record", |b| {
        b.iter(|| extract::extract(&Capture::from_bytes(black_box(&png), SbiField::BioValue, DEFAULT_PPI).unwrap()))
    });
    let capture = Capture::from_bytes(&png, SbiField::BioValue, DEFAULT_PPI).unwrap();
    group.bench_function("MINDTCT alone, 388x374", |b| b.iter(|| extract::minutiae(black_box(&capture.image))));
    let sbi = fixture("sbi/mosip-mock-rcapture-left-index.txt");
    group.bench_function("SBI capture 259x420: base64url + ISO 19794-4 + JPEG 2000 + MINDTCT + record", |b| {
        b.iter(|| extract::extract(&Capture::from_bytes(black_box(&sbi), SbiField::BioExtract, DEFAULT_PPI).unwrap()))
    });
    group.bench_function("SBI capture: decode only (JPEG 2000)", |b| {
        b.iter(|| Capture::from_bytes(black_box(&sbi), SbiField::BioExtract, DEFAULT_PPI).unwrap())
    });
    let wsq = fixture("wsq/sourceafis-probe.wsq");
    group.bench_function("WSQ 388x374 (0.75 bpp): decode only", |b| {
        b.iter(|| decode_wsq(black_box(&wsq), DEFAULT_PPI).unwrap())
    });
    group.finish();
}

criterion_group!(benches, extraction);
criterion_main!(benches);
