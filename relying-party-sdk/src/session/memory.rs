//! An in-memory [`SessionStore`], for tests and single-process demos (sessions do not survive
//! a restart and are not shared between instances).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use futures_util::future::BoxFuture;

use super::{SessionKey, SessionStore, StoredSession};
use crate::error::{Error, Result};

/// Sessions in a `HashMap`.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Maps>>,
}

#[derive(Debug, Default)]
struct Maps {
    sessions: HashMap<SessionKey, StoredSession>,
    jtis: HashMap<String, i64>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Maps) -> T) -> Result<T> {
        let mut m = self.inner.lock().map_err(|_| Error::Store("poisoned".into()))?;
        Ok(f(&mut m))
    }
}

impl SessionStore for MemoryStore {
    fn load<'a>(&'a self, key: &'a SessionKey) -> BoxFuture<'a, Result<Option<StoredSession>>> {
        Box::pin(async move { self.with(|m| m.sessions.get(key).cloned()) })
    }

    fn save<'a>(&'a self, key: &'a SessionKey, session: &'a StoredSession) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.with(|m| {
                m.sessions.insert(key.clone(), session.clone());
            })
        })
    }

    fn delete<'a>(&'a self, key: &'a SessionKey) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.with(|m| {
                m.sessions.remove(key);
            })
        })
    }

    fn delete_by_logout<'a>(&'a self, sub: Option<&'a str>, sid: Option<&'a str>) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            if sub.is_none() && sid.is_none() {
                return Ok(0);
            }
            self.with(|m| {
                let before = m.sessions.len();
                m.sessions.retain(|_, s| {
                    let hit = sub.is_none_or(|x| s.sub() == Some(x)) && sid.is_none_or(|x| s.oidc_sid() == Some(x));
                    !hit
                });
                (before - m.sessions.len()) as u64
            })
        })
    }

    fn first_use_of_jti<'a>(&'a self, jti: &'a str, expires_at: i64, now: i64) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            self.with(|m| {
                m.jtis.retain(|_, exp| *exp > now);
                if m.jtis.contains_key(jti) {
                    false
                } else {
                    m.jtis.insert(jti.to_string(), expires_at);
                    true
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{login::Citizen, session::SessionId};

    fn session(sub: &str, sid: &str) -> StoredSession {
        let citizen = Citizen {
            sub: sub.into(),
            acr: None,
            amr: vec![],
            auth_time: None,
            sid: Some(sid.into()),
            claims: Default::default(),
        };
        StoredSession {
            citizen: Some(citizen),
            tokens: None,
            pending: vec![],
            created_at: 0,
            last_seen_at: 0,
            expires_at: 10,
        }
    }

    #[tokio::test]
    async fn back_channel_logout_ends_exactly_the_named_sessions() {
        let m = MemoryStore::new();
        let keys: Vec<_> = (0..3).map(|_| SessionId::generate().unwrap().key()).collect();
        m.save(&keys[0], &session("alice", "s1")).await.unwrap();
        m.save(&keys[1], &session("alice", "s2")).await.unwrap();
        m.save(&keys[2], &session("bob", "s3")).await.unwrap();
        assert_eq!(m.delete_by_logout(None, None).await.unwrap(), 0);
        assert_eq!(m.delete_by_logout(Some("bob"), Some("s1")).await.unwrap(), 0, "both must match");
        assert_eq!(m.delete_by_logout(None, Some("s1")).await.unwrap(), 1);
        assert!(m.load(&keys[1]).await.unwrap().is_some());
        assert_eq!(m.delete_by_logout(Some("alice"), None).await.unwrap(), 1);
        assert!(m.load(&keys[2]).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_logout_token_id_is_accepted_once_until_it_expires() {
        let m = MemoryStore::new();
        assert!(m.first_use_of_jti("j", 100, 0).await.unwrap());
        assert!(!m.first_use_of_jti("j", 100, 50).await.unwrap());
        assert!(m.first_use_of_jti("j", 300, 200).await.unwrap(), "forgotten after it expired");
    }
}
