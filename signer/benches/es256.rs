//! ES256 verification of one JWS signature: a key prepared once (`signer::es256`) against
//! `ring`'s general verifier, on the same key, message and signature; and what preparing a key
//! costs (once per key).
//!
//! `cargo bench -p signer --bench es256`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ring::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, UnparsedPublicKey},
};
use signer::es256::PreparedKey;

fn bench(c: &mut Criterion) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let public = pair.public_key().as_ref().to_vec();
    // A typical access token's signing input (header.claims), about 300 bytes.
    let msg = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0.eyJpc3MiOiJodHRwczovL2lkLmdvdi5idCIsInN1YiI6ImVtaXMiLCJhdWQiOiJodHRwczovL2VwaXMuZ292LmJ0L2FwaSIsImNsaWVudF9pZCI6ImVtaXMiLCJleHAiOjE3OTk5OTk5OTksImlhdCI6MTc5OTk5OTY5OSwianRpIjoiWngza1AwYTlRbSIsInNjb3BlIjoiZXBpcy5yZWFkIGVwaXMud3JpdGUifQ";
    let sig = pair.sign(&rng, msg.as_bytes()).unwrap().as_ref().to_vec();

    let prepared = PreparedKey::new(&public[1..33], &public[33..]).unwrap();
    assert!(prepared.verify(msg.as_bytes(), &sig));
    let general = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &public);

    let mut group = c.benchmark_group("es256 verify");
    group.bench_function("prepared key (signer::es256)", |b| {
        b.iter(|| assert!(prepared.verify(black_box(msg.as_bytes()), black_box(&sig))))
    });
    group.bench_function("ring", |b| b.iter(|| general.verify(black_box(msg.as_bytes()), black_box(&sig)).unwrap()));
    group.finish();

    let mut group = c.benchmark_group("es256 prepare");
    group.sample_size(20);
    group.bench_function("prepare one key", |b| {
        b.iter(|| PreparedKey::new(black_box(&public[1..33]), black_box(&public[33..])).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
