//! Server-side sessions: what the SDK remembers about a browser between requests.
//!
//! The browser holds only a random 256-bit id in a cookie; the store holds the session under
//! the SHA-256 of that id ([`SessionKey`]), so a leaked copy of the store does not let anyone
//! ride a session. A session has two lifetimes: idle (since the last request) and absolute
//! (since login); after either it is gone. A login replaces the session id (no fixation).

mod memory;
mod sql;

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use futures_util::future::BoxFuture;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

pub use memory::MemoryStore;
pub use sql::SqlStore;

use crate::{
    error::{Error, Result},
    login::{Citizen, PendingLogin, Tokens},
};

/// A session id as the browser holds it: 32 random bytes, base64url. Never stored, never logged.
pub(crate) struct SessionId(String);

impl SessionId {
    pub(crate) fn generate() -> Result<Self> {
        let mut b = [0u8; 32];
        SystemRandom::new().fill(&mut b).map_err(|_| Error::Store("no randomness".into()))?;
        Ok(Self(B64.encode(b)))
    }

    /// Accepts a cookie value only if it has the exact shape of an id we issue.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        (s.len() == 43 && B64.decode(s).is_ok_and(|b| b.len() == 32)).then(|| Self(s.to_string()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn key(&self) -> SessionKey {
        SessionKey(B64.encode(ring::digest::digest(&ring::digest::SHA256, self.0.as_bytes())))
    }
}

/// What a session is stored under: the SHA-256 of its id. Only the SDK makes these.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionKey(String);

impl SessionKey {
    /// The stored form (base64url of the digest).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Session lifetimes.
#[derive(Clone, Copy, Debug)]
pub struct SessionConfig {
    /// Ends after this long without a request (default 30 min).
    pub idle: Duration,
    /// Ends this long after login whatever happens (default 12 h).
    pub absolute: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self { idle: Duration::from_secs(30 * 60), absolute: Duration::from_secs(12 * 3600) }
    }
}

/// Lifetime of a session that only carries logins in progress.
pub(crate) const PENDING_TTL: i64 = 600;

/// A session as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredSession {
    /// The logged-in citizen, if any.
    pub citizen: Option<Citizen>,
    /// Their tokens.
    pub tokens: Option<Tokens>,
    /// Logins started from this browser and not yet completed (at most a few, 10 min each).
    pub pending: Vec<PendingLogin>,
    /// Created (Unix seconds).
    pub created_at: i64,
    /// Last request seen.
    pub last_seen_at: i64,
    /// Absolute end.
    pub expires_at: i64,
}

impl StoredSession {
    /// Whether the session is still alive at `now` with idle timeout `idle`.
    pub(crate) fn is_live(&self, now: i64, idle: Duration) -> bool {
        now < self.expires_at && now < self.last_seen_at.saturating_add(idle.as_secs() as i64)
    }

    /// The provider's session id of the citizen, for back-channel logout.
    pub fn oidc_sid(&self) -> Option<&str> {
        self.citizen.as_ref().and_then(|c| c.sid.as_deref())
    }

    /// The citizen's subject, for back-channel logout.
    pub fn sub(&self) -> Option<&str> {
        self.citizen.as_ref().map(|c| c.sub.as_str())
    }
}

/// Where sessions live. Implementations must be safe to share between requests; every method
/// is one atomic operation.
pub trait SessionStore: Send + Sync + 'static {
    /// The session stored under `key`, if any (expired ones may be returned; the SDK checks).
    fn load<'a>(&'a self, key: &'a SessionKey) -> BoxFuture<'a, Result<Option<StoredSession>>>;
    /// Creates or replaces the session under `key`.
    fn save<'a>(&'a self, key: &'a SessionKey, session: &'a StoredSession) -> BoxFuture<'a, Result<()>>;
    /// Deletes the session under `key` (nothing if absent).
    fn delete<'a>(&'a self, key: &'a SessionKey) -> BoxFuture<'a, Result<()>>;
    /// Back-channel logout: deletes the sessions of provider session `sid` and/or subject
    /// `sub` (both given: sessions matching both). Returns how many went.
    fn delete_by_logout<'a>(&'a self, sub: Option<&'a str>, sid: Option<&'a str>) -> BoxFuture<'a, Result<u64>>;
    /// Records logout-token id `jti` as used until `expires_at`; false if it was already used.
    fn first_use_of_jti<'a>(&'a self, jti: &'a str, expires_at: i64, now: i64) -> BoxFuture<'a, Result<bool>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_256_bit_and_stored_hashed() {
        let a = SessionId::generate().unwrap();
        let b = SessionId::generate().unwrap();
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(a.as_str().len(), 43);
        assert_ne!(a.key().as_str(), a.as_str());
        assert!(SessionId::parse(a.as_str()).is_some());
        for bad in ["", "short", &"A".repeat(44), &format!("{}!", &a.as_str()[..42])] {
            assert!(SessionId::parse(bad).is_none(), "{bad}");
        }
        // A stored key is not a valid cookie value for that session.
        let k = a.key();
        assert_ne!(SessionId::parse(k.as_str()).map(|i| i.key()), Some(a.key()));
    }

    #[test]
    fn idle_and_absolute_lifetimes() {
        let s = StoredSession {
            citizen: None,
            tokens: None,
            pending: vec![],
            created_at: 0,
            last_seen_at: 100,
            expires_at: 1000,
        };
        let idle = Duration::from_secs(300);
        assert!(s.is_live(399, idle));
        assert!(!s.is_live(400, idle));
        let s = StoredSession { last_seen_at: 900, ..s };
        assert!(s.is_live(999, idle));
        assert!(!s.is_live(1000, idle));
    }
}
