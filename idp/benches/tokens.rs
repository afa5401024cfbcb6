//! Criterion benchmarks of the token path's pure parts: minting a client_credentials access
//! token (claims + ES256 JWS), and verifying one as introspection does.
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use idp::domain::{
    client::{AuthMethod, Client, ClientId, ClientMetadata, GrantType, Scope},
    keys::{SigningAlg, SigningKey},
    tokens,
};

fn client() -> Client {
    Client {
        client_id: ClientId::parse("bench").unwrap(),
        metadata: ClientMetadata {
            client_name: "bench".into(),
            token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::ClientCredentials],
            scope: Scope::parse("api").unwrap(),
            jwks: None,
            jwks_uri: None,
            sector_identifier: None,
            require_pushed_authorization_requests: false,
            allow_national_id: false,
            id_token_signed_response_alg: SigningAlg::ES256,
            backchannel_logout_uri: None,
            default_acr: None,
            resources: vec!["urn:bench:api".into()],
        },
        secret_hash: None,
    }
}

fn bench(c: &mut Criterion) {
    let c0 = client();
    for alg in SigningAlg::ALL {
        let key = SigningKey::generate(alg).unwrap().key;
        c.bench_function(&format!("mint client_credentials access token {alg}"), |b| {
            b.iter(|| {
                let g = tokens::client_credentials(&c0, Some("api"), &[], "https://id.gov.bt").unwrap();
                let claims =
                    tokens::client_credentials_claims(&c0, g, "https://id.gov.bt", "jti".into(), 1_800_000_000, 300);
                key.sign_jwt("at+jwt", &claims).unwrap()
            })
        });
    }
    let key = SigningKey::generate(SigningAlg::ES256).unwrap().key;
    let g = tokens::client_credentials(&c0, Some("api"), &[], "https://id.gov.bt").unwrap();
    let claims = tokens::client_credentials_claims(&c0, g, "https://id.gov.bt", "jti".into(), 1_800_000_000, 300);
    let jwt = key.sign_jwt("at+jwt", &claims).unwrap();
    c.bench_function("verify ES256 access token (ring, as introspection does)", |b| {
        b.iter(|| {
            idp::domain::keys::verify_own::<tokens::AccessTokenClaims>(&jwt, Some("at+jwt"), |_| Some(&key)).unwrap()
        })
    });
    c.bench_function("verify ES256 access token (jsonwebtoken)", |b| {
        b.iter(|| {
            let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
            v.validate_exp = false;
            v.validate_aud = false;
            jsonwebtoken::decode::<tokens::AccessTokenClaims>(&jwt, key.decoding_key(), &v).unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
