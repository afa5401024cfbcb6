//! An agency's API client: client_credentials with a secret and with private_key_jwt,
//! introspection, revocation, and the attacks on those endpoints.

use base64::Engine;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

use crate::{
    both_backends,
    support::{self, Backend, api_client, http, register},
};

async fn cc_token(base: &str, id: &str, secret: &str, scope: Option<&str>) -> reqwest::Response {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    http().post(format!("{base}/token")).basic_auth(id, Some(secret)).form(&form).send().await.unwrap()
}

async fn client_credentials_introspect_revoke(backend: Backend) {
    let Some(idp) = support::start(backend).await else {
        return;
    };
    let (id, secret) = register(&idp, api_client("EMIS registry sync", "registry.read registry.write")).await;
    let secret = secret.unwrap();
    assert_eq!(secret.len(), 43, "256-bit secret, base64url");

    let r = cc_token(&idp.base, &id, &secret, Some("registry.read")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["scope"], "registry.read");
    let at = t["access_token"].as_str().unwrap().to_string();

    // The access token is an RFC 9068 JWT that validates offline against the published JWKS.
    let jwks: jsonwebtoken::jwk::JwkSet = http().get(idp.url("/jwks")).send().await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(&at).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_audience(&[idp.base.as_str()]);
    v.set_issuer(&[idp.base.as_str()]);
    let claims =
        jsonwebtoken::decode::<Value>(&at, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &v).unwrap().claims;
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(claims["sub"], id.as_str());
    assert!(claims["jti"].is_string());

    // Introspection by the client: active.
    let intro = |tok: String| {
        let (id, secret, url) = (id.clone(), secret.clone(), idp.url("/introspect"));
        async move {
            http()
                .post(url)
                .basic_auth(id, Some(secret))
                .form(&[("token", tok)])
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let i = intro(at.clone()).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["scope"], "registry.read");
    assert_eq!(i["client_id"], id.as_str());

    // Garbage and tampered tokens are inactive.
    assert_eq!(intro("not-a-token".into()).await["active"], false);
    let mut parts: Vec<String> = at.split('.').map(str::to_string).collect();
    let mut payload: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    payload["scope"] = "registry.read registry.write admin".into();
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload.to_string());
    assert_eq!(intro(parts.join(".")).await["active"], false);

    // Revocation: 200, then inactive.
    let r = http()
        .post(idp.url("/revoke"))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", at.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(intro(at.clone()).await["active"], false);

    // Removing the client makes its tokens inactive too.
    let t2: Value = cc_token(&idp.base, &id, &secret, None).await.json().await.unwrap();
    let at2 = t2["access_token"].as_str().unwrap().to_string();
    assert_eq!(t2["scope"], "registry.read registry.write");
    let (other_id, other_secret) = register(&idp, api_client("ePIS", "epis.read")).await;
    let other_secret = other_secret.unwrap();
    idp.state().remove_client(&id, "operator", idp::domain::now()).await.unwrap();
    let i: Value = http()
        .post(idp.url("/introspect"))
        .basic_auth(&other_id, Some(&other_secret))
        .form(&[("token", at2.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(i["active"], false);
    assert_eq!(cc_token(&idp.base, &id, &secret, None).await.status(), 401);
    idp.stop().await;
}
both_backends!(client_credentials_introspect_revoke);

async fn client_credentials_attacks_fail(backend: Backend) {
    let Some(idp) = support::start(backend).await else {
        return;
    };
    let (id, secret) = register(&idp, api_client("EMIS", "registry.read")).await;
    let secret = secret.unwrap();
    let err = |r: reqwest::Response| async move {
        let s = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(json!({}));
        (s, v["error"].as_str().unwrap_or("").to_string())
    };

    // Wrong secret, unknown client, no credentials.
    assert_eq!(err(cc_token(&idp.base, &id, "wrong", None).await).await, (401, "invalid_client".into()));
    assert_eq!(err(cc_token(&idp.base, "nobody", &secret, None).await).await, (401, "invalid_client".into()));
    let r = http().post(idp.url("/token")).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
    assert_eq!(err(r).await, (401, "invalid_client".into()));
    // Scope beyond the registration.
    assert_eq!(
        err(cc_token(&idp.base, &id, &secret, Some("registry.write")).await).await,
        (400, "invalid_scope".into())
    );
    // The secret in the body when the client registered Basic.
    let r = http()
        .post(idp.url("/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &secret)])
        .send()
        .await
        .unwrap();
    assert_eq!(err(r).await, (401, "invalid_client".into()));
    // Two methods at once.
    let r = http()
        .post(idp.url("/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("client_secret", &secret)])
        .send()
        .await
        .unwrap();
    assert_eq!(err(r).await, (400, "invalid_request".into()));
    // Unknown or missing grant type, repeated parameters, wrong content type, oversized body.
    let r = http()
        .post(idp.url("/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(err(r).await, (400, "unsupported_grant_type".into()));
    let r = http().post(idp.url("/token")).basic_auth(&id, Some(&secret)).form(&[("scope", "x")]).send().await.unwrap();
    assert_eq!(err(r).await, (400, "invalid_request".into()));
    let r = http()
        .post(idp.url("/token"))
        .basic_auth(&id, Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(err(r).await, (400, "invalid_request".into()));
    let r = http()
        .post(idp.url("/token"))
        .basic_auth(&id, Some(&secret))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(err(r).await, (400, "invalid_request".into()));
    let r = http()
        .post(idp.url("/token"))
        .basic_auth(&id, Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=client_credentials&pad={}", "a".repeat(200_000)))
        .send()
        .await
        .unwrap();
    assert!(r.status() == 413 || r.status() == 400, "oversized body: {}", r.status());
    // Malformed Basic header.
    let r = http()
        .post(idp.url("/token"))
        .header("authorization", "Basic %%%")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(err(r).await, (401, "invalid_client".into()));
    // Introspection and revocation demand client authentication too.
    let r = http().post(idp.url("/introspect")).form(&[("token", "x")]).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http().post(idp.url("/revoke")).form(&[("token", "x")]).send().await.unwrap();
    assert_eq!(r.status(), 401);

    // Another client cannot revoke this client's token.
    let good: Value = cc_token(&idp.base, &id, &secret, None).await.json().await.unwrap();
    let at = good["access_token"].as_str().unwrap();
    let (oid, osecret) = register(&idp, api_client("ePIS", "epis.read")).await;
    let r = http()
        .post(idp.url("/revoke"))
        .basic_auth(&oid, osecret.as_deref())
        .form(&[("token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "RFC 7009: the answer does not reveal anything");
    let i: Value = http()
        .post(idp.url("/introspect"))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(i["active"], true, "a foreign client's revocation must not take effect");

    // Every failed authentication of a known client is in the audit chain.
    let entries = idp::store::audit::page(&idp.state().db, 0, 1000).await.unwrap();
    assert!(entries.iter().filter(|e| e.body.event == "client_auth_failed").count() >= 2);
    idp.stop().await;
}
both_backends!(client_credentials_attacks_fail);

async fn token_endpoint_is_rate_limited(backend: Backend) {
    let Some(idp) = support::start_with(backend, |c| {
        c.rate_limits.token_per_second = 1;
        c.rate_limits.token_burst = 3;
    })
    .await
    else {
        return;
    };
    let (id, secret) = register(&idp, api_client("EMIS", "registry.read")).await;
    let secret = secret.unwrap();
    let mut statuses = vec![];
    for _ in 0..6 {
        let r = cc_token(&idp.base, &id, &secret, None).await;
        if r.status() == 429 {
            assert!(r.headers().get("retry-after").is_some());
        }
        statuses.push(r.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(statuses[0], 200);
    idp.stop().await;
}
both_backends!(token_endpoint_is_rate_limited);

/// A client keypair for private_key_jwt: (PKCS#8, public JWK Set).
pub fn client_keypair(kid: &str) -> (Vec<u8>, Value) {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap().as_ref().to_vec();
    let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng).unwrap();
    let pt = kp.public_key().as_ref();
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": b.encode(&pt[1..33]), "y": b.encode(&pt[33..]), "kid": kid, "use": "sig", "alg": "ES256"});
    (pkcs8, json!({"keys": [jwk]}))
}

/// A signed client assertion (RFC 7523).
pub fn assertion(pkcs8: &[u8], kid: &str, client_id: &str, aud: &str, exp_in: i64, jti: &str) -> String {
    let now = idp::domain::now();
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    h.kid = Some(kid.into());
    let claims = json!({"iss": client_id, "sub": client_id, "aud": aud, "exp": now + exp_in, "iat": now, "jti": jti});
    jsonwebtoken::encode(&h, &claims, &jsonwebtoken::EncodingKey::from_ec_der(pkcs8)).unwrap()
}

async fn private_key_jwt_client(backend: Backend) {
    let Some(idp) = support::start(backend).await else {
        return;
    };
    let (pkcs8, jwks) = client_keypair("k1");
    let mut meta = api_client("Customs single window", "trade.read");
    meta.token_endpoint_auth_method = idp::domain::client::AuthMethod::PrivateKeyJwt;
    meta.jwks = Some(jwks);
    let (id, secret) = register(&idp, meta).await;
    assert!(secret.is_none(), "private_key_jwt clients get no secret");
    let token_url = idp.url("/token");
    let post = |a: String| {
        let url = token_url.clone();
        async move {
            http()
                .post(url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                    ("client_assertion", a.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let a = assertion(&pkcs8, "k1", &id, &token_url, 60, "jti-1");
    let r = post(a.clone()).await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    // Replay of the same assertion (same jti) fails.
    let r = post(a).await;
    assert_eq!(r.status(), 401);
    // The issuer is also an accepted audience; another audience is not.
    assert_eq!(post(assertion(&pkcs8, "k1", &id, &idp.base, 60, "jti-2")).await.status(), 200);
    assert_eq!(post(assertion(&pkcs8, "k1", &id, "https://evil.example", 60, "jti-3")).await.status(), 401);
    // Expired, and too long-lived.
    assert_eq!(post(assertion(&pkcs8, "k1", &id, &token_url, -120, "jti-4")).await.status(), 401);
    assert_eq!(post(assertion(&pkcs8, "k1", &id, &token_url, 3600, "jti-5")).await.status(), 401);
    // Signed by another key.
    let (other, _) = client_keypair("k1");
    assert_eq!(post(assertion(&other, "k1", &id, &token_url, 60, "jti-6")).await.status(), 401);
    // alg=none forgery.
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = idp::domain::now();
    let forged = format!(
        "{}.{}.",
        b.encode(r#"{"alg":"none"}"#),
        b.encode(json!({"iss": id, "sub": id, "aud": token_url, "exp": now + 60, "jti": "jti-7"}).to_string())
    );
    assert_eq!(post(forged).await.status(), 401);
    // A secret for a private_key_jwt client is refused.
    let r = http()
        .post(idp.url("/token"))
        .basic_auth(&id, Some("guess"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let entries = idp::store::audit::page(&idp.state().db, 0, 1000).await.unwrap();
    assert!(entries.iter().any(|e| e.body.event == "assertion_replayed"));
    idp.stop().await;
}
both_backends!(private_key_jwt_client);
