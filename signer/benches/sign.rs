//! Signatures and timestamps per second through the signer's own code path (issue 4's
//! performance target: at least 5,000 CMS signatures/s on this 2-core machine, against about
//! 28,000 `openssl speed ecdsap256` signs/s on one core).
//!
//! - `cms_sign_digest`: one detached CAdES-B-B SignedData over a SHA-256 digest — the signed
//!   attributes, their DER, the P-256 signature and the crate's self-check of it;
//! - `timestamp`: one RFC 3161 token (TSTInfo in a SignedData by the TSA key);
//! - `cades_b_t`: both, and the token added to the signature (what the service returns);
//! - `parallel/*`: the same on every core at once (`std::thread::available_parallelism`), one
//!   iteration being one signature per core, so throughput = cores / time.
//!
//! Run: `cargo bench -p signer --bench sign`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use signer::{
    Endpoints, Hierarchy, HierarchyParams, Sha256Digest, SoftwareKey,
    citizen::{self, Person},
    cms::CmsSigner,
    tsa::TimestampAuthority,
};

const NOW: i64 = 1_800_000_000;

struct Fixture {
    cert: signer::x509_cert::Certificate,
    key: SoftwareKey,
    chain: Vec<signer::x509_cert::Certificate>,
    tsa: TimestampAuthority,
}

fn fixture() -> Fixture {
    let h = Hierarchy::generate(&HierarchyParams::new(Endpoints::from_base_url("https://id.gov.bt").unwrap()), NOW)
        .unwrap();
    let k = citizen::generate_key().unwrap();
    let person = Person::new("Karma", "Wangchuk", "10101001234").unwrap();
    let cert = citizen::issue_signing_certificate(
        h.issuing_ca(),
        &k.public_key,
        &person,
        NOW,
        Duration::from_secs(86400 * 730),
    )
    .unwrap();
    let key = SoftwareKey::from_pkcs8_der(k.private_key.as_bytes()).unwrap();
    let tsa_key = SoftwareKey::from_pkcs8_der(h.tsa().private_key().unwrap().as_bytes()).unwrap();
    let tsa =
        TimestampAuthority::new(h.tsa().certificate().clone(), Box::new(tsa_key), "0.4.0.2023.1.1".parse().unwrap())
            .unwrap();
    Fixture { cert, key, chain: vec![h.issuing().certificate().clone()], tsa }
}

fn one_cades_b_t(f: &Fixture, digest: &Sha256Digest) -> Vec<u8> {
    let signer = CmsSigner::new(&f.cert, &f.key).unwrap().with_chain(&f.chain);
    let mut sig = signer.sign_digest(digest, NOW).unwrap();
    let token = f.tsa.timestamp(&sig.timestamp_imprint().unwrap(), NOW).unwrap();
    sig.add_signature_timestamp(&token).unwrap();
    sig.to_der().unwrap()
}

fn bench(c: &mut Criterion) {
    let f = fixture();
    let digest = Sha256Digest::of(b"Application for a construction approval, Thimphu");
    let signer = CmsSigner::new(&f.cert, &f.key).unwrap().with_chain(&f.chain);
    let mut g = c.benchmark_group("signer");
    g.throughput(Throughput::Elements(1));
    g.bench_function("cms_sign_digest", |b| b.iter(|| signer.sign_digest(&digest, NOW).unwrap()));
    g.bench_function("timestamp", |b| b.iter(|| f.tsa.timestamp(&digest, NOW).unwrap()));
    g.bench_function("cades_b_t", |b| b.iter(|| one_cades_b_t(&f, &digest)));
    g.finish();

    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut g = c.benchmark_group("parallel");
    g.throughput(Throughput::Elements(cores as u64));
    // Each thread signs `iters` times; criterion divides by iters, so one "iteration" is one
    // signature on every core at once.
    g.bench_function("cms_sign_digest", |b| {
        b.iter_custom(|iters| {
            let start = std::time::Instant::now();
            std::thread::scope(|s| {
                for _ in 0..cores {
                    s.spawn(|| {
                        let signer = CmsSigner::new(&f.cert, &f.key).unwrap().with_chain(&f.chain);
                        for _ in 0..iters {
                            std::hint::black_box(signer.sign_digest(&digest, NOW).unwrap());
                        }
                    });
                }
            });
            start.elapsed()
        })
    });
    g.bench_function("cades_b_t", |b| {
        b.iter_custom(|iters| {
            let start = std::time::Instant::now();
            std::thread::scope(|s| {
                for _ in 0..cores {
                    s.spawn(|| {
                        for _ in 0..iters {
                            std::hint::black_box(one_cades_b_t(&f, &digest));
                        }
                    });
                }
            });
            start.elapsed()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
