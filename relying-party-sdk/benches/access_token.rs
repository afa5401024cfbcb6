//! Offline validation of an RFC 9068 access token through the SDK's real path: a `Provider`
//! discovered over HTTP from a local stand-in for the identity provider, its JWKS cached, and
//! `AccessTokenValidator::validate` (parse, `typ`, ES256 signature against the prepared key,
//! claims). `ring_es256_verify_only` is a general verifier's cost for one signature, for scale.
//! Target: under 50 µs per validation.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::{SystemTime, UNIX_EPOCH};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use criterion::{Criterion, criterion_group, criterion_main};
use relying_party_sdk::{AccessTokenValidator, Provider, ProviderOptions};
use ring::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair},
};
use serde_json::json;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let p = pair.public_key().as_ref();
    let jwk = json!({"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
                     "x": B64.encode(&p[1..33]), "y": B64.encode(&p[33..])});

    let (issuer, provider) = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://localhost:{}", listener.local_addr().unwrap().port());
        let doc = json!({
            "issuer": issuer, "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"), "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"], "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["ES256"], "code_challenge_methods_supported": ["S256"],
        });
        let jwks = json!({"keys": [jwk]});
        let app = axum::Router::new()
            .route("/.well-known/openid-configuration", axum::routing::get(move || async move { axum::Json(doc) }))
            .route("/jwks", axum::routing::get(move || async move { axum::Json(jwks) }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let provider = Provider::discover(&issuer, ProviderOptions::default()).await.unwrap();
        (issuer, provider)
    });
    let validator_provider = provider.clone();
    let validator = AccessTokenValidator::new(provider, "https://epis.gov.bt/api");

    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let header = json!({"alg": "ES256", "kid": "k1", "typ": "at+jwt"});
    let claims = json!({"iss": issuer, "sub": "emis", "aud": "https://epis.gov.bt/api", "client_id": "emis",
                        "exp": now + 300, "iat": now, "jti": "Zx3kP0a9Qm", "scope": "epis.read epis.write"});
    let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
    let sig = pair.sign(&rng, input.as_bytes()).unwrap();
    let token = format!("{input}.{}", B64.encode(sig.as_ref()));
    rt.block_on(validator.validate(&token, now)).expect("the benchmark token validates");

    // The floor: ring's ES256 verification alone, on the same token.
    let (signing_input, sig_b64) = token.rsplit_once('.').unwrap();
    let sig_bytes = B64.decode(sig_b64).unwrap();
    let public = ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, p.to_vec());
    c.bench_function("ring_es256_verify_only", |b| {
        b.iter(|| public.verify(std::hint::black_box(signing_input.as_bytes()), &sig_bytes).unwrap())
    });
    // First use of a token: parse, typ, ES256 signature, claims.
    let fresh = || AccessTokenValidator::new(validator_provider.clone(), "https://epis.gov.bt/api");
    c.bench_function("access_token_validate_first_use", |b| {
        b.to_async(&rt).iter_batched(
            fresh,
            |v| {
                let token = token.clone();
                async move { v.validate(std::hint::black_box(&token), now).await.unwrap() }
            },
            criterion::BatchSize::SmallInput,
        )
    });
    // The same token again (a caller reuses its token until it expires): the signature is not
    // verified twice, the claims are checked against `now` again.
    c.bench_function("access_token_validate_repeat", |b| {
        b.to_async(&rt).iter(|| async { validator.validate(std::hint::black_box(&token), now).await.unwrap() })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
