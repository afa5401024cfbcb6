//! How the agency's client proves who it is at the token and PAR endpoints: `private_key_jwt`
//! (RFC 7523; the SDK signs a short-lived, single-use ES256 assertion with the agency's key) or
//! a client secret (`client_secret_basic` / `client_secret_post`).
//!
//! Prefer `private_key_jwt`: the private key never leaves the agency, while a secret is a
//! password the provider also holds.

use std::fmt;

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64},
};
use ring::{
    rand::{SecureRandom, SystemRandom},
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair},
};
use serde_json::{Value, json};

use crate::error::{Error, Result};

/// The `client_assertion_type` of RFC 7523.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Lifetime of a client assertion.
const ASSERTION_TTL: i64 = 60;

/// A client secret; never printed.
#[derive(Clone)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(..)")
    }
}

/// The agency's ES256 signing key for `private_key_jwt`. Register [`ClientKey::public_jwk`]
/// with the provider (`idp client add --jwks ...`).
#[derive(Clone)]
pub struct ClientKey {
    kid: String,
    pair: std::sync::Arc<EcdsaKeyPair>,
    rng: SystemRandom,
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl ClientKey {
    /// Loads a P-256 key from PKCS#8 DER.
    pub fn from_pkcs8_der(kid: impl Into<String>, der: &[u8]) -> Result<Self> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|_| Error::Config("the client key is not a PKCS#8 P-256 private key".into()))?;
        Ok(Self { kid: kid.into(), pair: std::sync::Arc::new(pair), rng })
    }

    /// Loads a P-256 key from a PKCS#8 PEM document (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(kid: impl Into<String>, pem: &str) -> Result<Self> {
        let bad = || Error::Config("the client key is not a PEM PRIVATE KEY".into());
        let body = pem
            .trim()
            .strip_prefix("-----BEGIN PRIVATE KEY-----")
            .and_then(|r| r.strip_suffix("-----END PRIVATE KEY-----"))
            .ok_or_else(bad)?;
        let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        Self::from_pkcs8_der(kid, &STANDARD.decode(b64).map_err(|_| bad())?)
    }

    /// Generates a fresh key; returns it with its PKCS#8 DER, which the caller stores.
    pub fn generate(kid: impl Into<String>) -> Result<(Self, Vec<u8>)> {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| Error::Config("key generation failed".into()))?;
        let der = doc.as_ref().to_vec();
        Ok((Self::from_pkcs8_der(kid, &der)?, der))
    }

    /// The public key as a JWK (with `kid`, `alg` and `use`), for registration.
    pub fn public_jwk(&self) -> Value {
        let p = self.pair.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
               "x": B64.encode(&p[1..33]), "y": B64.encode(&p[33..65])})
    }

    /// A client assertion for `client_id`, audience `aud` (the issuer identifier: the provider
    /// accepts it at every endpoint, and it cannot be confused with another server's URL).
    pub(crate) fn assertion(&self, client_id: &str, aud: &str, now: i64) -> Result<String> {
        let mut jti = [0u8; 24];
        self.rng.fill(&mut jti).map_err(|_| Error::Config("no randomness".into()))?;
        let header = json!({"alg": "ES256", "kid": self.kid, "typ": "JWT"});
        let claims = json!({"iss": client_id, "sub": client_id, "aud": aud, "jti": B64.encode(jti),
                            "iat": now, "exp": now + ASSERTION_TTL});
        let mut out = B64.encode(header.to_string());
        out.push('.');
        out.push_str(&B64.encode(claims.to_string()));
        let sig = self.pair.sign(&self.rng, out.as_bytes()).map_err(|_| Error::Config("signing failed".into()))?;
        out.push('.');
        out.push_str(&B64.encode(sig.as_ref()));
        Ok(out)
    }
}

/// How the client authenticates at the provider (its registered `token_endpoint_auth_method`).
#[derive(Clone, Debug)]
pub enum ClientAuth {
    /// `private_key_jwt` with the agency's ES256 key.
    PrivateKeyJwt(ClientKey),
    /// `client_secret_basic`: the secret in an `Authorization: Basic` header.
    SecretBasic(ClientSecret),
    /// `client_secret_post`: the secret in the form body.
    SecretPost(ClientSecret),
}

impl ClientAuth {
    /// Form parameters that authenticate one token request made through `openidconnect`
    /// (which sends secrets itself; an assertion it does not know).
    pub(crate) fn extra_params(&self, client_id: &str, issuer: &str, now: i64) -> Result<Vec<(&'static str, String)>> {
        match self {
            ClientAuth::PrivateKeyJwt(k) => Ok(vec![
                ("client_assertion_type", JWT_BEARER.to_string()),
                ("client_assertion", k.assertion(client_id, issuer, now)?),
            ]),
            _ => Ok(vec![]),
        }
    }

    /// An `openidconnect` client for `client_id` with this authentication.
    pub(crate) fn oidc_client(
        &self,
        provider: &crate::provider::Provider,
        client_id: &str,
    ) -> Result<crate::login::OidcClient> {
        use openidconnect::{AuthType, core::CoreClient};
        let meta = provider.metadata();
        let token_url =
            meta.token_endpoint().cloned().ok_or_else(|| Error::Provider("discovery lacks token_endpoint".into()))?;
        let (secret, auth_type) = match self {
            ClientAuth::SecretBasic(s) => (Some(s.expose()), AuthType::BasicAuth),
            ClientAuth::SecretPost(s) => (Some(s.expose()), AuthType::RequestBody),
            ClientAuth::PrivateKeyJwt(_) => (None, AuthType::RequestBody),
        };
        Ok(CoreClient::from_provider_metadata(
            meta.clone(),
            openidconnect::ClientId::new(client_id.to_string()),
            secret.map(|s| openidconnect::ClientSecret::new(s.to_string())),
        )
        .set_auth_type(auth_type)
        .set_token_uri(token_url))
    }

    /// The form fields and basic credentials for one request by `client_id` (a fresh assertion
    /// each time: the provider accepts each `jti` once).
    pub(crate) fn credentials(&self, client_id: &str, issuer: &str, now: i64) -> Result<Credentials> {
        Ok(match self {
            ClientAuth::PrivateKeyJwt(k) => Credentials {
                basic: None,
                form: vec![
                    ("client_id", client_id.to_string()),
                    ("client_assertion_type", JWT_BEARER.to_string()),
                    ("client_assertion", k.assertion(client_id, issuer, now)?),
                ],
            },
            ClientAuth::SecretBasic(s) => {
                Credentials { basic: Some((form_encode(client_id), form_encode(s.expose()))), form: vec![] }
            }
            ClientAuth::SecretPost(s) => Credentials {
                basic: None,
                form: vec![("client_id", client_id.to_string()), ("client_secret", s.expose().to_string())],
            },
        })
    }
}

/// Credentials ready to attach to one request.
pub(crate) struct Credentials {
    /// For `Authorization: Basic`, already form-encoded (RFC 6749 2.3.1).
    pub(crate) basic: Option<(String, String)>,
    pub(crate) form: Vec<(&'static str, String)>,
}

impl Credentials {
    pub(crate) fn apply(
        self,
        req: reqwest::RequestBuilder,
        mut form: Vec<(String, String)>,
    ) -> reqwest::RequestBuilder {
        form.extend(self.form.into_iter().map(|(k, v)| (k.to_string(), v)));
        let req = match self.basic {
            Some((id, secret)) => req.basic_auth(id, Some(secret)),
            None => req,
        };
        req.form(&form)
    }
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{Jws, KeySet, SigningAlg};

    #[test]
    fn assertion_is_signed_by_the_registered_key_with_the_rfc7523_claims() {
        let (k, der) = ClientKey::generate("agency-1").unwrap();
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", STANDARD.encode(&der));
        let k2 = ClientKey::from_pkcs8_pem("agency-1", &pem).unwrap();
        assert_eq!(k.public_jwk(), k2.public_jwk());
        let a = k2.assertion("epis", "https://id.gov.bt", 1000).unwrap();
        let jws = Jws::parse(&a, &[SigningAlg::ES256]).unwrap();
        jws.verify(&KeySet::from_jwks(&json!({"keys": [k.public_jwk()]}), None)).unwrap();
        let c: Value = jws.claims().unwrap();
        assert_eq!(
            (c["iss"].as_str(), c["sub"].as_str(), c["aud"].as_str()),
            (Some("epis"), Some("epis"), Some("https://id.gov.bt"))
        );
        assert_eq!(c["exp"], 1060);
        let b = k2.assertion("epis", "https://id.gov.bt", 1000).unwrap();
        assert_ne!(c["jti"], Jws::parse(&b, &[SigningAlg::ES256]).unwrap().claims::<Value>().unwrap()["jti"]);
    }

    #[test]
    fn secrets_never_print_and_bad_keys_are_refused() {
        let s = ClientSecret::new("hunter2");
        assert!(!format!("{:?}", ClientAuth::SecretBasic(s)).contains("hunter2"));
        assert!(ClientKey::from_pkcs8_der("k", b"nope").is_err());
        assert!(ClientKey::from_pkcs8_pem("k", "-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----").is_err());
    }

    #[test]
    fn basic_credentials_are_form_encoded() {
        let c = ClientAuth::SecretBasic(ClientSecret::new("a b:c")).credentials("my:client", "i", 0).unwrap();
        assert_eq!(c.basic, Some(("my%3Aclient".into(), "a+b%3Ac".into())));
    }
}
