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
