//! A software passkey for tests: webauthn-authenticator-rs's `SoftPasskey` with user
//! verification, wrapped so it also keeps discoverable (resident) credentials and returns the
//! user handle, as a platform authenticator does.

use webauthn_authenticator_rs::{
    AuthenticatorBackendHashedClientData as Hashed, WebauthnAuthenticator, error::WebauthnCError,
    softpasskey::SoftPasskey,
};
use webauthn_rs_proto::{
    AllowCredentials, CredProps, PublicKeyCredential, PublicKeyCredentialCreationOptions as CreateOpts,
    PublicKeyCredentialRequestOptions as GetOpts, RegisterPublicKeyCredential, ResidentKeyRequirement,
};

/// (rp id, credential id, user handle).
type Resident = (String, Vec<u8>, Vec<u8>);

/// The software authenticator.
pub struct ResidentSoftPasskey {
    inner: SoftPasskey,
    rks: Vec<Resident>,
}

impl ResidentSoftPasskey {
    pub fn new() -> Self {
        Self { inner: SoftPasskey::new(true), rks: vec![] }
    }
}

impl Hashed for ResidentSoftPasskey {
    fn perform_register(
        &mut self,
        cdh: Vec<u8>,
        mut o: CreateOpts,
        t: u32,
    ) -> Result<RegisterPublicKeyCredential, WebauthnCError> {
        if o.exclude_credentials.iter().flatten().any(|d| self.rks.iter().any(|(_, c, _)| *c == d.id)) {
            return Err(WebauthnCError::Security);
        }
        let sel = o.authenticator_selection.as_mut().unwrap();
        let rk = sel.require_resident_key || sel.resident_key == Some(ResidentKeyRequirement::Required);
        sel.require_resident_key = false;
        let (rp, user) = (o.rp.id.clone(), o.user.id.clone());
        let mut cred = Hashed::perform_register(&mut self.inner, cdh, o, t)?;
        if rk {
            self.rks.push((rp, cred.raw_id.clone(), user));
            cred.extensions.cred_props = Some(CredProps { rk: Some(true) });
        }
        Ok(cred)
    }

    fn perform_auth(&mut self, cdh: Vec<u8>, mut o: GetOpts, t: u32) -> Result<PublicKeyCredential, WebauthnCError> {
        if o.allow_credentials.is_empty() {
            o.allow_credentials = self
                .rks
                .iter()
                .filter(|(rp, _, _)| *rp == o.rp_id)
                .map(|(_, id, _)| AllowCredentials { type_: "public-key".into(), id: id.clone(), transports: None })
                .collect();
        }
        let mut pkc = Hashed::perform_auth(&mut self.inner, cdh, o, t)?;
        let raw: Vec<u8> = pkc.raw_id.clone();
        pkc.response.user_handle = self.rks.iter().find(|(_, c, _)| *c == raw).map(|r| r.2.clone());
        Ok(pkc)
    }
}

/// What the tests need of an authenticator: the browser's `navigator.credentials` calls.
pub trait Authenticator {
    /// `navigator.credentials.create()` for the server's creation options.
    fn create(&mut self, origin: &str, options: &serde_json::Value) -> serde_json::Value;
    /// `navigator.credentials.get()` for the server's request options.
    fn get(&mut self, origin: &str, options: &serde_json::Value) -> serde_json::Value;
}

impl Authenticator for ResidentSoftPasskey {
    fn create(&mut self, origin: &str, options: &serde_json::Value) -> serde_json::Value {
        create(self, origin, options)
    }
    fn get(&mut self, origin: &str, options: &serde_json::Value) -> serde_json::Value {
        get(self, origin, options)
    }
}

/// Registers: the browser's side of `navigator.credentials.create()`.
pub fn create(a: &mut ResidentSoftPasskey, origin: &str, options: &serde_json::Value) -> serde_json::Value {
    let origin = url::Url::parse(origin).unwrap();
    let reg = a.do_registration(origin, serde_json::from_value(options.clone()).unwrap()).unwrap();
    serde_json::to_value(&reg).unwrap()
}

/// Asserts: the browser's side of `navigator.credentials.get()`.
pub fn get(a: &mut ResidentSoftPasskey, origin: &str, options: &serde_json::Value) -> serde_json::Value {
    let origin = url::Url::parse(origin).unwrap();
    let pkc = a.do_authentication(origin, serde_json::from_value(options.clone()).unwrap()).unwrap();
    serde_json::to_value(&pkc).unwrap()
}

/// A second software authenticator, written on ring: P-256 keys, "none" attestation,
/// discoverable credentials, user verification, a signature counter. The load generator uses it
/// because webauthn-authenticator-rs signs with a constant-time pure-Rust P-256 that costs about
/// 0.3 ms of CPU per assertion, which on a 2-core machine is CPU taken from the server being
/// measured; a citizen's phone does this work, not the identity provider. The server's side is
/// the same either way, and `flows::ring_passkey_is_a_real_authenticator` proves the server
/// accepts what this produces.
pub struct RingPasskey {
    creds: Vec<RingCred>,
    rng: ring::rand::SystemRandom,
}

struct RingCred {
    rp_id: String,
    id: Vec<u8>,
    user: Vec<u8>,
    key: ring::signature::EcdsaKeyPair,
    counter: u32,
}

fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn unb64(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).unwrap()
}

/// CBOR byte-string header (major type 2).
fn cbor_bytes(out: &mut Vec<u8>, b: &[u8]) {
    match b.len() {
        n @ 0..=23 => out.push(0x40 | n as u8),
        n @ 24..=255 => out.extend([0x58, n as u8]),
        n => out.extend([0x59, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(b);
}

/// CBOR text string (major type 3), short strings only.
fn cbor_text(out: &mut Vec<u8>, s: &str) {
    assert!(s.len() < 24);
    out.push(0x60 | s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
    let origin = origin.trim_end_matches('/');
    serde_json::to_vec(&serde_json::json!({
        "type": kind, "challenge": b64(&unb64(challenge)), "origin": origin, "crossOrigin": false
    }))
    .unwrap()
}

impl RingPasskey {
    pub fn new() -> Self {
        Self { creds: vec![], rng: ring::rand::SystemRandom::new() }
    }
}

impl Authenticator for RingPasskey {
    /// `navigator.credentials.create()`: a new discoverable credential with "none" attestation.
    fn create(&mut self, origin: &str, options: &serde_json::Value) -> serde_json::Value {
        use ring::{
            rand::SecureRandom,
            signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair},
        };
        let o = &options["publicKey"];
        let rp_id = o["rp"]["id"].as_str().unwrap().to_string();
        let user = unb64(o["user"]["id"].as_str().unwrap());
        let excluded: Vec<Vec<u8>> = o["excludeCredentials"]
            .as_array()
            .map(|a| a.iter().map(|c| unb64(c["id"].as_str().unwrap())).collect())
            .unwrap_or_default();
        assert!(!self.creds.iter().any(|c| excluded.contains(&c.id)), "credential excluded");
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &self.rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &self.rng).unwrap();
        let mut id = vec![0u8; 16];
        self.rng.fill(&mut id).unwrap();
        let point = key.public_key().as_ref(); // 0x04 | x | y
        // COSE_Key: {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}
        let mut cose = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21];
        cbor_bytes(&mut cose, &point[1..33]);
        cose.push(0x22);
        cbor_bytes(&mut cose, &point[33..65]);
        let mut auth_data = ring::digest::digest(&ring::digest::SHA256, rp_id.as_bytes()).as_ref().to_vec();
        auth_data.push(0x45); // UP | UV | AT
        auth_data.extend(0u32.to_be_bytes());
        auth_data.extend([0u8; 16]); // AAGUID
        auth_data.extend((id.len() as u16).to_be_bytes());
        auth_data.extend(&id);
        auth_data.extend(&cose);
        let mut att = vec![0xa3];
        cbor_text(&mut att, "fmt");
        cbor_text(&mut att, "none");
        cbor_text(&mut att, "attStmt");
        att.push(0xa0);
        cbor_text(&mut att, "authData");
        cbor_bytes(&mut att, &auth_data);
        let cdj = client_data("webauthn.create", o["challenge"].as_str().unwrap(), origin);
        self.creds.push(RingCred { rp_id, id: id.clone(), user, key, counter: 0 });
        serde_json::json!({
            "id": b64(&id), "rawId": b64(&id), "type": "public-key",
            "response": {"attestationObject": b64(&att), "clientDataJSON": b64(&cdj)},
            "extensions": {"credProps": {"rk": true}}
        })
    }

    /// `navigator.credentials.get()`: an assertion by a credential the request allows, or by
    /// the discoverable credential for the RP when it names none.
    fn get(&mut self, origin: &str, options: &serde_json::Value) -> serde_json::Value {
        let o = &options["publicKey"];
        let rp_id = o["rpId"].as_str().unwrap();
        let allowed: Vec<Vec<u8>> = o["allowCredentials"]
            .as_array()
            .map(|a| a.iter().map(|c| unb64(c["id"].as_str().unwrap())).collect())
            .unwrap_or_default();
        let cred = self
            .creds
            .iter_mut()
            .find(|c| c.rp_id == rp_id && (allowed.is_empty() || allowed.contains(&c.id)))
            .expect("no credential for this request");
        cred.counter += 1;
        let mut auth_data = ring::digest::digest(&ring::digest::SHA256, rp_id.as_bytes()).as_ref().to_vec();
        auth_data.push(0x05); // UP | UV
        auth_data.extend(cred.counter.to_be_bytes());
        let cdj = client_data("webauthn.get", o["challenge"].as_str().unwrap(), origin);
        let mut signed = auth_data.clone();
        signed.extend(ring::digest::digest(&ring::digest::SHA256, &cdj).as_ref());
        let sig = cred.key.sign(&self.rng, &signed).unwrap();
        serde_json::json!({
            "id": b64(&cred.id), "rawId": b64(&cred.id), "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data), "clientDataJSON": b64(&cdj),
                "signature": b64(sig.as_ref()), "userHandle": b64(&cred.user)
            },
            "extensions": {}
        })
    }
}
