//! The ABIS — automated biometric identification — as the enrolment service sees it: insert an
//! enrolled person's fingers under a reference id, identify a probe against everyone (or a
//! given gallery), delete. One trait, [`Abis`], so that a country can start with the built-in
//! [`MemoryAbis`] and move to a vendor's ABIS at national scale without touching enrolment.
//!
//! [`MemoryAbis`] is this crate's matcher over an in-memory [`Gallery`]: the caller loads it
//! from its database at start (the templates are the database's; this is an index), inserts
//! incrementally as people are enrolled, and searches on all cores (off the async runtime).
//! Deletions are tombstones until the next rebuild.
//!
//! An external ABIS following MOSIP's ABIS contract (insert, identify with a gallery and flags,
//! delete, candidate lists) plugs in through the same trait: [`mosip::MosipAbis`].

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    pin::Pin,
    sync::{Arc, RwLock},
};

use serde::Serialize;

pub mod mosip;

use crate::{
    Error,
    matcher::{FalseMatchRate, Gallery, SearchOptions, Subject, SubjectId},
    template::Record,
};

/// A boxed future, so that `dyn Abis` can be shared (`Arc<dyn Abis>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What to search and how.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentifyRequest {
    /// The decision threshold per person compared, as a false match rate.
    pub target: FalseMatchRate,
    /// At most this many candidates, strongest first.
    pub max_results: usize,
    /// Search only these references (MOSIP's `gallery`); `None` searches everyone.
    pub gallery: Option<Vec<String>>,
}

impl Default for IdentifyRequest {
    fn default() -> Self {
        Self { target: FalseMatchRate::ONE_IN_1M, max_results: 10, gallery: None }
    }
}

/// One enrolled person who matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AbisCandidate {
    /// The reference id it was inserted under.
    pub reference_id: String,
    /// The fused false match rate of the comparison (smaller is stronger).
    pub false_match_rate: f64,
    /// Per finger: position code and score.
    pub fingers: Vec<(u8, f32)>,
}

/// An automated biometric identification system.
pub trait Abis: Send + Sync + std::fmt::Debug {
    /// Enrols `fingers` (ISO 19794-2 records; their views are the person's fingers) under
    /// `reference_id`. Refuses a reference id already enrolled.
    fn insert<'a>(&'a self, reference_id: &'a str, fingers: &'a [Record]) -> BoxFuture<'a, Result<(), Error>>;
    /// The enrolled people matching `probe`.
    fn identify<'a>(
        &'a self,
        probe: &'a [Record],
        request: &'a IdentifyRequest,
    ) -> BoxFuture<'a, Result<Vec<AbisCandidate>, Error>>;
    /// Removes `reference_id` from future searches; `false` if it was not enrolled.
    fn delete<'a>(&'a self, reference_id: &'a str) -> BoxFuture<'a, Result<bool, Error>>;
    /// How many people are enrolled.
    fn len(&self) -> usize;
    /// Whether nobody is.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The fingers of `records` as one subject (the first view of each position, in order).
pub fn subject_of(records: &[Record]) -> Result<Subject, Error> {
    let mut fingers = Vec::new();
    for r in records {
        for f in Subject::from_record(r)?.fingers() {
            if fingers.iter().all(|g: &crate::matcher::FingerTemplate| g.finger() != f.finger()) {
                fingers.push(f.clone());
            }
        }
    }
    Subject::new(fingers)
}

#[derive(Default)]
struct Inner {
    gallery: Gallery,
    ids: HashMap<String, SubjectId>,
    names: Vec<String>,
    deleted: HashSet<SubjectId>,
}

/// The built-in ABIS: this crate's matcher over an in-memory gallery.
#[derive(Clone, Default)]
pub struct MemoryAbis {
    inner: Arc<RwLock<Inner>>,
}

impl std::fmt::Debug for MemoryAbis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryAbis").field("enrolled", &self.len()).finish()
    }
}

fn poisoned() -> Error {
    Error::parameter("abis", "the gallery lock is poisoned")
}

impl MemoryAbis {
    /// An empty gallery.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts synchronously (what loading at start uses).
    pub fn insert_now(&self, reference_id: &str, fingers: &[Record]) -> Result<(), Error> {
        let subject = subject_of(fingers)?;
        let mut inner = self.inner.write().map_err(|_| poisoned())?;
        if let Some(&id) = inner.ids.get(reference_id)
            && !inner.deleted.contains(&id)
        {
            return Err(Error::parameter("reference_id", format!("{reference_id} is already enrolled")));
        }
        let id = inner.names.len() as SubjectId;
        inner.gallery.insert(id, subject)?;
        inner.names.push(reference_id.to_owned());
        inner.ids.insert(reference_id.to_owned(), id);
        Ok(())
    }

    fn identify_now(&self, probe: &[Record], request: &IdentifyRequest) -> Result<Vec<AbisCandidate>, Error> {
        let probe = subject_of(probe)?;
        let inner = self.inner.read().map_err(|_| poisoned())?;
        let options = SearchOptions { target: request.target, ..SearchOptions::default() };
        let allowed: Option<HashSet<SubjectId>> =
            request.gallery.as_ref().map(|g| g.iter().filter_map(|r| inner.ids.get(r).copied()).collect());
        let found = inner.gallery.identify(&probe, &options);
        Ok(found
            .candidates
            .into_iter()
            .filter(|c| !inner.deleted.contains(&c.id) && allowed.as_ref().is_none_or(|a| a.contains(&c.id)))
            .take(request.max_results)
            .filter_map(|c| {
                Some(AbisCandidate {
                    reference_id: inner.names.get(c.id as usize)?.clone(),
                    false_match_rate: c.verification.false_match_rate,
                    fingers: c.verification.fingers.iter().map(|(f, s)| (f.code(), s.value())).collect(),
                })
            })
            .collect())
    }
}

impl Abis for MemoryAbis {
    fn insert<'a>(&'a self, reference_id: &'a str, fingers: &'a [Record]) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move { self.insert_now(reference_id, fingers) })
    }

    fn identify<'a>(
        &'a self,
        probe: &'a [Record],
        request: &'a IdentifyRequest,
    ) -> BoxFuture<'a, Result<Vec<AbisCandidate>, Error>> {
        Box::pin(async move {
            // The search is CPU work on all cores: keep it off the async runtime's threads.
            let (me, probe, request) = (self.clone(), probe.to_vec(), request.clone());
            tokio::task::spawn_blocking(move || me.identify_now(&probe, &request))
                .await
                .map_err(|e| Error::parameter("abis", format!("the search failed: {e}")))?
        })
    }

    fn delete<'a>(&'a self, reference_id: &'a str) -> BoxFuture<'a, Result<bool, Error>> {
        Box::pin(async move {
            let mut inner = self.inner.write().map_err(|_| poisoned())?;
            let Some(&id) = inner.ids.get(reference_id) else { return Ok(false) };
            Ok(inner.deleted.insert(id))
        })
    }

    fn len(&self) -> usize {
        self.inner.read().map(|i| i.names.len() - i.deleted.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::{FINGERS, NoiseParams, Population};

    fn records(p: &Population, person: u64, capture: u32) -> Vec<Record> {
        FINGERS
            .iter()
            .map(|&f| {
                let mut rng = p.capture_rng(person, f, capture).unwrap();
                p.impression(person, f, &NoiseParams::default(), &mut rng).unwrap().to_record().unwrap()
            })
            .collect()
    }

    #[tokio::test]
    async fn finds_the_same_person_and_nobody_else_and_forgets_the_deleted() {
        let p = Population::new(11);
        let abis = MemoryAbis::new();
        for person in 0..40 {
            let found = abis.identify(&records(&p, person, 0), &IdentifyRequest::default()).await.unwrap();
            assert!(found.is_empty(), "person {person} is new: {found:?}");
            abis.insert(&format!("ref-{person}"), &records(&p, person, 0)).await.unwrap();
        }
        assert_eq!(abis.len(), 40);
        assert!(abis.insert("ref-3", &records(&p, 3, 5)).await.is_err(), "a reference id once");
        for person in [0, 17, 39] {
            let found = abis.identify(&records(&p, person, 1), &IdentifyRequest::default()).await.unwrap();
            assert_eq!(found.iter().map(|c| c.reference_id.as_str()).collect::<Vec<_>>(), [format!("ref-{person}")]);
            assert!(found[0].false_match_rate < 1e-6 && found[0].fingers.len() == 10);
        }
        let only = IdentifyRequest { gallery: Some(vec!["ref-1".into()]), ..IdentifyRequest::default() };
        assert!(abis.identify(&records(&p, 17, 2), &only).await.unwrap().is_empty(), "outside the gallery asked for");
        assert!(abis.delete("ref-17").await.unwrap());
        assert!(!abis.delete("ref-17").await.unwrap());
        assert!(abis.identify(&records(&p, 17, 3), &IdentifyRequest::default()).await.unwrap().is_empty());
        assert_eq!(abis.len(), 39);
    }
}
