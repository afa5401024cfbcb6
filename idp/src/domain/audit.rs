//! The audit chain: every security event is an entry whose MAC covers the previous entry's.
//!
//! `hash_n = HMAC-SHA256(k_audit, hash_{n-1} || canonical(entry_n))`, with `k_audit` derived
//! from the key-encryption key. Editing an entry breaks its own MAC; deleting one breaks the
//! sequence and the link; recomputing the chain needs the key, which the database does not
//! hold. Truncating the newest entries is the one change a chain cannot show by itself: `idp
//! audit verify` prints the head (sequence and MAC) for operators to record elsewhere.

use serde::{Deserialize, Serialize};

use super::UnixTime;

/// The MAC of "no previous entry".
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened. Names are stable: they are stored and shown to citizens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A client was registered.
    ClientAdded,
    /// A client was removed.
    ClientRemoved,
    /// A client's secret was replaced.
    ClientSecretRotated,
    /// A signing key was created.
    KeyCreated,
    /// A signing-key rotation was started.
    KeyRotated,
    /// The registry was imported.
    RegistryImported,
    /// A digital ID was issued (account and activation code).
    CitizenIssued,
    /// A digital ID was closed (death, compromise, the citizen's request).
    CitizenClosed,
    /// A client failed to authenticate.
    ClientAuthFailed,
    /// A token was revoked.
    TokenRevoked,
    /// A replayed client assertion was refused.
    AssertionReplayed,
    /// A citizen logged in.
    LoginSucceeded,
    /// A login attempt failed.
    LoginFailed,
    /// An activation attempt failed.
    ActivationFailed,
    /// A digital ID was activated with its first passkey.
    AccountActivated,
    /// A passkey was added.
    PasskeyAdded,
    /// A passkey was removed.
    PasskeyRemoved,
    /// A passkey was renamed.
    PasskeyRenamed,
    /// A citizen consented to a client.
    ConsentGranted,
    /// A citizen withdrew consent.
    ConsentRevoked,
    /// An authorization code was presented twice.
    CodeReplayed,
    /// A rotated refresh token was presented again.
    TokenReuse,
    /// A session ended.
    Logout,
    /// The CA hierarchy was created (`idp ca init`).
    CaInitialized,
    /// A CA credential was renewed (the OCSP responder's short-lived certificate).
    CaCredentialRenewed,
    /// A CRL was issued by the root CA (an offline ceremony, `idp ca root-crl`).
    RootCrlIssued,
    /// A citizen's signing certificate (or an agency's seal certificate) was issued.
    CertificateIssued,
    /// A citizen's signing certificate (or an agency's seal certificate) was revoked.
    CertificateRevoked,
    /// An agency sealed documents with its seal certificate.
    DocumentsSealed,
    /// An agency asked a citizen to sign.
    SignRequested,
    /// A citizen approved a signing request and the documents were signed.
    SignApproved,
    /// A citizen refused a signing request.
    SignRefused,
    /// A signing approval was attempted and refused (wrong citizen, failed passkey).
    SignApprovalFailed,
    /// A registration centre was added.
    CentreAdded,
    /// An officer was given a role at a centre.
    OfficerAdded,
    /// An officer lost their role.
    OfficerRemoved,
    /// Someone without the role asked for an enrolment page or action.
    OfficerDenied,
    /// The civil-registration agency registered a birth (a new person and CID).
    BirthRegistered,
    /// The civil-registration agency registered a death.
    DeathRegistered,
    /// An enrolment issued (or biometrically enrolled) a digital ID.
    EnrolmentIssued,
    /// An enrolment found possible duplicates and opened an adjudication case.
    EnrolmentAdjudication,
    /// A supervisor decided an adjudication case.
    AdjudicationDecided,
    /// A citizen was re-verified at a centre (matched or not).
    EnrolmentReverified,
    /// A citizen's passkeys were revoked and a new activation code issued.
    PasskeysReset,
    /// An officer looked a person up in the registry from the enrolment console.
    RegistryLookup,
    /// A supervisor viewed a face photo of an adjudication case (the applicant's or a
    /// candidate's): biometric data, so every view is recorded.
    FacePhotoViewed,
}

impl Event {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::ClientAdded => "client_added",
            Event::ClientRemoved => "client_removed",
            Event::ClientSecretRotated => "client_secret_rotated",
            Event::KeyCreated => "key_created",
            Event::KeyRotated => "key_rotated",
            Event::RegistryImported => "registry_imported",
            Event::CitizenIssued => "citizen_issued",
            Event::CitizenClosed => "citizen_closed",
            Event::ClientAuthFailed => "client_auth_failed",
            Event::TokenRevoked => "token_revoked",
            Event::AssertionReplayed => "assertion_replayed",
            Event::LoginSucceeded => "login_succeeded",
            Event::LoginFailed => "login_failed",
            Event::ActivationFailed => "activation_failed",
            Event::AccountActivated => "account_activated",
            Event::PasskeyAdded => "passkey_added",
            Event::PasskeyRemoved => "passkey_removed",
            Event::PasskeyRenamed => "passkey_renamed",
            Event::ConsentGranted => "consent_granted",
            Event::ConsentRevoked => "consent_revoked",
            Event::CodeReplayed => "code_replayed",
            Event::TokenReuse => "token_reuse",
            Event::Logout => "logout",
            Event::CaInitialized => "ca_initialized",
            Event::CaCredentialRenewed => "ca_credential_renewed",
            Event::RootCrlIssued => "root_crl_issued",
            Event::CertificateIssued => "certificate_issued",
            Event::CertificateRevoked => "certificate_revoked",
            Event::DocumentsSealed => "documents_sealed",
            Event::SignRequested => "sign_requested",
            Event::SignApproved => "sign_approved",
            Event::SignRefused => "sign_refused",
            Event::SignApprovalFailed => "sign_approval_failed",
            Event::CentreAdded => "centre_added",
            Event::OfficerAdded => "officer_added",
            Event::OfficerRemoved => "officer_removed",
            Event::OfficerDenied => "officer_denied",
            Event::BirthRegistered => "birth_registered",
            Event::DeathRegistered => "death_registered",
            Event::EnrolmentIssued => "enrolment_issued",
            Event::EnrolmentAdjudication => "enrolment_adjudication",
            Event::AdjudicationDecided => "adjudication_decided",
            Event::EnrolmentReverified => "enrolment_reverified",
            Event::PasskeysReset => "passkeys_reset",
            Event::RegistryLookup => "registry_lookup",
            Event::FacePhotoViewed => "face_photo_viewed",
        }
    }
}

/// An entry before it is chained. Empty strings stand for "not applicable".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEntry {
    /// Event name.
    pub event: String,
    /// Who acted: `operator`, `client:<id>`, `account:<id>`, `admin-api`.
    pub actor: String,
    /// Whom it concerns: `account:<id>`, `client:<id>`, `key:<kid>`.
    pub subject: String,
    /// The OAuth client involved, if any.
    pub client_id: String,
    /// The remote address, if any.
    pub ip: String,
    /// Event-specific JSON; never secrets.
    pub detail: serde_json::Value,
}

impl NewEntry {
    /// An entry for `event` by `actor` about `subject`.
    pub fn new(event: Event, actor: impl Into<String>, subject: impl Into<String>) -> Self {
        Self {
            event: event.as_str().into(),
            actor: actor.into(),
            subject: subject.into(),
            detail: serde_json::json!({}),
            ..Default::default()
        }
    }
    /// Sets the client.
    pub fn client(mut self, id: impl Into<String>) -> Self {
        self.client_id = id.into();
        self
    }
    /// Sets the remote address.
    pub fn ip(mut self, ip: impl Into<String>) -> Self {
        self.ip = ip.into();
        self
    }
    /// Sets the detail.
    pub fn detail(mut self, d: serde_json::Value) -> Self {
        self.detail = d;
        self
    }
}

/// A stored entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When.
    pub at: UnixTime,
    /// The entry's fields.
    #[serde(flatten)]
    pub body: NewEntry,
    /// The previous entry's MAC.
    pub prev_hash: String,
    /// This entry's MAC.
    pub hash: String,
}

/// The MAC of an entry given its predecessor's.
pub fn chain_hash(key: &[u8; 32], prev_hash: &str, seq: i64, at: UnixTime, e: &NewEntry) -> String {
    // An array, not a map: its serialization is canonical without sorting rules.
    let canonical = serde_json::json!([seq, at, e.event, e.actor, e.subject, e.client_id, e.ip, e.detail.to_string()]);
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let mut ctx = ring::hmac::Context::with_key(&k);
    ctx.update(prev_hash.as_bytes());
    ctx.update(b"\n");
    ctx.update(canonical.to_string().as_bytes());
    hex::encode(ctx.sign().as_ref())
}

/// The outcome of checking a chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// Every entry checks out.
    Intact {
        /// Number of entries.
        entries: i64,
        /// The last MAC, to record elsewhere.
        head: String,
    },
    /// The first problem found.
    Broken {
        /// Sequence number where the problem shows.
        seq: i64,
        /// What is wrong.
        reason: String,
    },
}

/// Incrementally verifies entries given in sequence order.
#[derive(Debug)]
pub struct Verifier {
    key: [u8; 32],
    expected_seq: i64,
    prev: String,
}

impl Verifier {
    /// A verifier at the start of the chain.
    pub fn new(key: [u8; 32]) -> Self {
        Self { key, expected_seq: 1, prev: GENESIS.into() }
    }

    /// Checks the next entry; on failure says why.
    pub fn check(&mut self, e: &Entry) -> Result<(), Verdict> {
        let broken = |reason: String| Verdict::Broken { seq: e.seq, reason };
        if e.seq != self.expected_seq {
            return Err(broken(format!(
                "expected entry {} but found {}: entries were deleted",
                self.expected_seq, e.seq
            )));
        }
        if e.prev_hash != self.prev {
            return Err(broken(
                "link to the previous entry does not match: an earlier entry was changed or removed".into(),
            ));
        }
        let h = chain_hash(&self.key, &e.prev_hash, e.seq, e.at, &e.body);
        if h != e.hash {
            return Err(broken("entry content does not match its MAC: the entry was edited".into()));
        }
        self.expected_seq += 1;
        self.prev = e.hash.clone();
        Ok(())
    }

    /// The verdict after the last entry.
    pub fn finish(self) -> Verdict {
        Verdict::Intact { entries: self.expected_seq - 1, head: self.prev }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(key: &[u8; 32], n: i64) -> Vec<Entry> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let body = NewEntry::new(Event::ClientAdded, "operator", format!("client:c{seq}"));
                let hash = chain_hash(key, &prev, seq, 1000 + seq, &body);
                let e = Entry { seq, at: 1000 + seq, body, prev_hash: prev.clone(), hash: hash.clone() };
                prev = hash;
                e
            })
            .collect()
    }

    fn verify(key: [u8; 32], entries: &[Entry]) -> Verdict {
        let mut v = Verifier::new(key);
        for e in entries {
            if let Err(b) = v.check(e) {
                return b;
            }
        }
        v.finish()
    }

    #[test]
    fn intact_chain_verifies() {
        let k = [7u8; 32];
        assert!(matches!(verify(k, &chain(&k, 5)), Verdict::Intact { entries: 5, .. }));
    }

    #[test]
    fn edits_deletions_and_forgeries_are_detected() {
        let k = [7u8; 32];
        let mut c = chain(&k, 5);
        c[2].body.subject = "client:evil".into();
        assert!(matches!(verify(k, &c), Verdict::Broken { seq: 3, .. }));

        let mut c = chain(&k, 5);
        c.remove(1);
        assert!(matches!(verify(k, &c), Verdict::Broken { seq: 3, .. }));

        // An attacker without the key recomputes the chain with another key: detected at once.
        let forged = chain(&[8u8; 32], 5);
        assert!(matches!(verify(k, &forged), Verdict::Broken { seq: 1, .. }));
    }
}
