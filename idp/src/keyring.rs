//! The in-memory view of the signing-key table, shared by every request and refreshed in the
//! background, so a rotation made through any instance (or the CLI) reaches all of them
//! without a restart.

use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;

use crate::{
    domain::{
        UnixTime,
        keys::{Kek, SigningAlg, SigningKey},
    },
    error::{Error, Result},
    store::{self, Db, keys::KeyRow},
};

/// One loaded key and its schedule.
#[derive(Debug)]
struct Loaded {
    key: SigningKey,
    activates_at: UnixTime,
    retires_at: Option<UnixTime>,
}

/// A snapshot of the keys.
#[derive(Debug)]
pub struct KeySet {
    keys: Vec<Loaded>,
    jwks: Bytes,
}

impl KeySet {
    fn build(rows: &[KeyRow], kek: &Kek, previous: Option<&KeySet>) -> Result<Self> {
        let mut keys = Vec::with_capacity(rows.len());
        let mut published = Vec::with_capacity(rows.len());
        for r in rows {
            let alg = SigningAlg::parse(&r.alg)?;
            let pkcs8 = kek.open(r.kid.as_bytes(), &r.private_key)?;
            let mut key = SigningKey::from_pkcs8(alg, &pkcs8)?;
            if key.kid() != r.kid {
                return Err(Error::Crypto(format!("stored key {} does not match its kid", r.kid)));
            }
            if let Some(old) = previous.and_then(|p| p.by_kid(&r.kid)) {
                key.adopt_prepared(old);
            }
            published.push(key.public_jwk().clone());
            keys.push(Loaded { key, activates_at: r.activates_at, retires_at: r.retires_at });
        }
        let jwks = serde_json::to_vec(&serde_json::json!({ "keys": published }))
            .map_err(|e| Error::internal(e.to_string()))?;
        Ok(Self { keys, jwks: Bytes::from(jwks) })
    }

    /// The key that signs for `alg` at `now`: the newest one whose signing window holds `now`.
    pub fn signing_key(&self, alg: SigningAlg, now: UnixTime) -> Option<&SigningKey> {
        self.keys
            .iter()
            .filter(|l| l.key.alg() == alg && l.activates_at <= now && l.retires_at.is_none_or(|r| now < r))
            .max_by_key(|l| l.activates_at)
            .map(|l| &l.key)
    }

    /// A published key by id, for verifying tokens this server issued.
    pub fn by_kid(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|l| l.key.kid() == kid).map(|l| &l.key)
    }
}

/// The shared, refreshable key set.
#[derive(Debug)]
pub struct Keyring {
    current: ArcSwap<KeySet>,
    db: Db,
    kek: Kek,
}

impl Keyring {
    /// Loads the keys, creating the first ES256 key if there is none.
    pub async fn open(db: Db, kek: Kek, now: UnixTime) -> Result<Self> {
        ensure_key(&db, &kek, SigningAlg::ES256, now).await?;
        let set = KeySet::build(&store::keys::live(&db, now).await?, &kek, None)?;
        Ok(Self { current: ArcSwap::from_pointee(set), db, kek })
    }

    /// The current snapshot (cheap).
    pub fn snapshot(&self) -> Arc<KeySet> {
        self.current.load_full()
    }

    /// The serialized JWK Set, without taking a reference on the whole snapshot.
    pub fn jwks(&self) -> Bytes {
        self.current.load().jwks.clone()
    }

    /// Re-reads the table.
    pub async fn refresh(&self, now: UnixTime) -> Result<()> {
        let set = KeySet::build(&store::keys::live(&self.db, now).await?, &self.kek, Some(&self.current.load()))?;
        self.current.store(Arc::new(set));
        Ok(())
    }

    /// The signing key for `alg`, creating the first key of a not-yet-used algorithm on demand
    /// (RS256 and EdDSA are made only when a client asks for them).
    pub async fn signing_key_for(&self, alg: SigningAlg, now: UnixTime) -> Result<Arc<KeySet>> {
        let snap = self.snapshot();
        if snap.signing_key(alg, now).is_some() {
            return Ok(snap);
        }
        ensure_key(&self.db, &self.kek, alg, now).await?;
        self.refresh(now).await?;
        let snap = self.snapshot();
        if snap.signing_key(alg, now).is_none() {
            return Err(Error::internal(format!("no {alg} signing key is active")));
        }
        Ok(snap)
    }
}

fn sealed_row(
    g: &crate::domain::keys::GeneratedKey,
    kek: &Kek,
    now: UnixTime,
    activates_at: UnixTime,
) -> Result<KeyRow> {
    let kid = g.key.kid().to_string();
    Ok(KeyRow {
        private_key: kek.seal(kid.as_bytes(), &g.pkcs8)?,
        public_jwk: g.key.public_jwk().to_string(),
        alg: g.key.alg().as_str().to_string(),
        kid,
        created_at: now,
        activates_at,
        retires_at: None,
        removed_at: None,
    })
}

/// Creates the first key for `alg` unless one is already signing.
pub async fn ensure_key(db: &Db, kek: &Kek, alg: SigningAlg, now: UnixTime) -> Result<Option<String>> {
    let live = store::keys::live(db, now).await?;
    if live.iter().any(|r| r.alg == alg.as_str() && r.retires_at.is_none()) {
        return Ok(None);
    }
    let g = SigningKey::generate(alg)?;
    let row = sealed_row(&g, kek, now, now)?;
    Ok(store::keys::insert_first(db, &row).await?.then_some(row.kid))
}

/// Stages a new key for `alg`: published now, signing from `now + publish_ahead`; the keys it
/// replaces stop signing then and leave JWKS `retire_after` seconds later (the longest token
/// lifetime). Returns the new kid and when it activates.
pub async fn rotate(
    db: &Db,
    kek: &Kek,
    alg: SigningAlg,
    now: UnixTime,
    publish_ahead: i64,
    retire_after: i64,
) -> Result<(String, UnixTime)> {
    let g = SigningKey::generate(alg)?;
    let activates_at = now + publish_ahead;
    let row = sealed_row(&g, kek, now, activates_at)?;
    store::keys::insert_rotating(db, &row, retire_after).await?;
    Ok((row.kid, activates_at))
}
