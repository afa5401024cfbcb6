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
