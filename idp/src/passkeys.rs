//! Passkeys through webauthn-rs: registration and login ceremonies whose server state is
//! serialized into the database (so any instance can finish a ceremony another started).
//!
//! User verification is required everywhere. Registration asks for a discoverable (resident)
//! credential so the citizen can log in without typing the CID.

use webauthn_rs::prelude::{
    CreationChallengeResponse, CredentialID, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid,
    Webauthn, WebauthnBuilder,
};
use webauthn_rs_proto::ResidentKeyRequirement;

use crate::error::{Error, Result};

/// Outcome of a verified assertion.
#[derive(Debug)]
pub struct Verified {
    /// The credential used.
    pub cred_id: CredentialID,
    /// The stored passkey, updated (counter, backup state) when it changed.
    pub updated: Option<Passkey>,
    /// Backup eligible: a synced passkey rather than a device-bound key.
    pub backup_eligible: bool,
}

/// The relying-party side of WebAuthn for this issuer.
#[derive(Debug)]
pub struct Passkeys {
    webauthn: Webauthn,
}

fn wa_err(e: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("passkey check failed: {e}"))
}

impl Passkeys {
    /// The RP id is the issuer's host; the only accepted origin is the issuer's origin.
    pub fn new(issuer: &Url) -> Result<Self> {
        let host = issuer.host_str().ok_or_else(|| Error::Config("issuer has no host".into()))?;
        let origin = Url::parse(&issuer.origin().ascii_serialization())
            .map_err(|e| Error::Config(format!("issuer origin: {e}")))?;
        let webauthn = WebauthnBuilder::new(host, &origin)
            .map_err(|e| Error::Config(format!("WebAuthn: {e}")))?
            .rp_name("Drukyul ID")
            .build()
            .map_err(|e| Error::Config(format!("WebAuthn: {e}")))?;
        Ok(Self { webauthn })
    }

    /// Starts registering a passkey for `user`, excluding the ones they already have.
    pub fn start_registration(
        &self,
        user: Uuid,
        name: &str,
        display: &str,
        existing: Vec<CredentialID>,
    ) -> Result<(CreationChallengeResponse, String)> {
        let (mut ccr, state) =
            self.webauthn.start_passkey_registration(user, name, display, Some(existing)).map_err(wa_err)?;
        if let Some(sel) = ccr.public_key.authenticator_selection.as_mut() {
            sel.resident_key = Some(ResidentKeyRequirement::Required);
            sel.require_resident_key = true;
        }
        Ok((ccr, serde_json::to_string(&state).map_err(|e| Error::internal(e.to_string()))?))
    }

    /// Verifies the browser's attestation against the stored state.
    pub fn finish_registration(&self, response: &RegisterPublicKeyCredential, state: &str) -> Result<Passkey> {
        let state: PasskeyRegistration = serde_json::from_str(state).map_err(|e| Error::internal(e.to_string()))?;
        self.webauthn.finish_passkey_registration(response, &state).map_err(wa_err)
    }

    /// Starts a login where the authenticator offers the citizen's discoverable credential.
    pub fn start_discoverable(&self) -> Result<(RequestChallengeResponse, String)> {
        let (rcr, state) = self.webauthn.start_discoverable_authentication().map_err(wa_err)?;
        Ok((rcr, serde_json::to_string(&state).map_err(|e| Error::internal(e.to_string()))?))
    }

    /// Reads which user and credential an assertion claims to be (not yet verified).
    pub fn identify(&self, response: &PublicKeyCredential) -> Result<(Uuid, CredentialID)> {
        let (u, c) = self.webauthn.identify_discoverable_authentication(response).map_err(wa_err)?;
        Ok((u, c.to_vec()))
    }

    /// Verifies a discoverable assertion with the stored passkey of the claimed credential.
    pub fn finish_discoverable(
        &self,
        response: &PublicKeyCredential,
        state: &str,
        mut passkey: Passkey,
    ) -> Result<Verified> {
        let state: DiscoverableAuthentication =
            serde_json::from_str(state).map_err(|e| Error::internal(e.to_string()))?;
        let res = self.webauthn.finish_discoverable_authentication_v2(response, state, &passkey).map_err(wa_err)?;
        if !res.user_verified() {
            return Err(Error::Invalid("user verification is required".into()));
        }
        let changed = passkey.update_credential(&res) == Some(true);
        Ok(Verified {
            cred_id: res.cred_id().clone(),
            backup_eligible: res.backup_eligible(),
            updated: changed.then_some(passkey),
        })
    }

    /// Replaces the random challenge of a started assertion (options and serialized state alike)
    /// with `challenge`, which the caller derives from what is being approved plus fresh
    /// randomness. The authenticator then signs a clientDataJSON that commits to that content,
    /// so the stored assertion is evidence of exactly what was approved (webauthn-rs has no
    /// call for a caller-chosen challenge; its state is serialized JSON with one `challenge`).
    pub fn bind_challenge(
        &self,
        mut rcr: RequestChallengeResponse,
        state: &str,
        challenge: [u8; 32],
    ) -> Result<(RequestChallengeResponse, String)> {
        use base64::Engine;
        let bad = || Error::internal("unexpected WebAuthn state layout");
        let mut v: serde_json::Value = serde_json::from_str(state).map_err(|e| Error::internal(e.to_string()))?;
        let slot = v.get_mut("ast").and_then(|a| a.get_mut("challenge")).ok_or_else(bad)?;
        if !slot.is_string() {
            return Err(bad());
        }
        *slot = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(challenge).into();
        rcr.public_key.challenge = challenge.to_vec();
        let state = v.to_string();
        // Both shapes must still parse as webauthn-rs state, or the ceremony could never finish.
        if serde_json::from_str::<PasskeyAuthentication>(&state).is_err()
            && serde_json::from_str::<DiscoverableAuthentication>(&state).is_err()
        {
            return Err(bad());
        }
        Ok((rcr, state))
    }

    /// Starts a CID-first login limited to `passkeys`.
    pub fn start_for(&self, passkeys: &[Passkey]) -> Result<(RequestChallengeResponse, String)> {
        let (rcr, state) = self.webauthn.start_passkey_authentication(passkeys).map_err(wa_err)?;
        Ok((rcr, serde_json::to_string(&state).map_err(|e| Error::internal(e.to_string()))?))
    }

    /// Verifies a CID-first assertion; returns the credential used.
    pub fn finish_for(&self, response: &PublicKeyCredential, state: &str, passkeys: &[Passkey]) -> Result<Verified> {
        let state: PasskeyAuthentication = serde_json::from_str(state).map_err(|e| Error::internal(e.to_string()))?;
        let res = self.webauthn.finish_passkey_authentication(response, &state).map_err(wa_err)?;
        if !res.user_verified() {
            return Err(Error::Invalid("user verification is required".into()));
        }
        let updated = passkeys.iter().find(|p| p.cred_id() == res.cred_id()).and_then(|p| {
            let mut p = p.clone();
            (p.update_credential(&res) == Some(true)).then_some(p)
        });
        Ok(Verified { cred_id: res.cred_id().clone(), backup_eligible: res.backup_eligible(), updated })
    }
}

/// A fresh random (version 4) UUID for a WebAuthn user handle: random, so it reveals nothing
/// about the citizen, unlike the CID.
pub fn new_user_handle() -> Result<Uuid> {
    let b = crate::domain::secrets::random_bytes::<16>()?;
    Ok(uuid::Builder::from_random_bytes(b).into_uuid())
}
