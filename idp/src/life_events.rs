//! Life events from the civil-registration agency: a registered birth adds the child to the
//! civil registry with a new CID; a registered death marks the person deceased and closes their
//! digital ID at once (sessions end, grants and signing certificates are revoked).
//!
//! Agencies call these with a client-credentials token carrying `registry.births` or
//! `registry.deaths`. Each call carries the agency's own reference (its application number):
//! a retry with the same reference gets the first answer and changes nothing.

use serde::{Deserialize, Serialize};

use crate::{
    app::{CloseReason, Idp},
    domain::{
        UnixTime,
        audit::{Event, NewEntry},
        cid::Cid,
        registry::{self, Person},
        secrets,
    },
    error::{Error, Result},
    store,
};

/// Scope of `POST /registry/births`.
pub const BIRTHS_SCOPE: &str = "registry.births";
/// Scope of `POST /registry/deaths`.
pub const DEATHS_SCOPE: &str = "registry.deaths";

/// A birth as the civil-registration agency records it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Birth {
    /// The agency's reference (1 to 100 characters), unique per agency.
    pub reference: String,
    /// The child's given name.
    pub given_name: String,
    /// Middle name.
    #[serde(default)]
    pub middle_name: String,
    /// Family name.
    #[serde(default)]
    pub family_name: String,
    /// `YYYY-MM-DD`, not in the future.
    pub date_of_birth: String,
    /// `M`, `F` or `X`.
    pub sex: String,
    /// Where the child is registered.
    pub dzongkhag: String,
    /// Gewog.
    pub gewog: String,
    /// Village.
    pub village: String,
    /// Household number.
    pub household_number: String,
    /// The mother's CID, when she is a citizen: she must be in the registry.
    #[serde(default)]
    pub mother_cid: Option<String>,
    /// The father's CID, likewise.
    #[serde(default)]
    pub father_cid: Option<String>,
}

/// A death as the civil-registration agency records it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Death {
    /// The agency's reference, unique per agency.
    pub reference: String,
    /// Who died.
    pub cid: String,
    /// `YYYY-MM-DD`, not in the future.
    pub date_of_death: String,
}

/// The answer to either call.
#[derive(Debug, Serialize)]
pub struct Recorded {
    /// The agency's reference.
    pub reference: String,
    /// The person's CID (the child's new one, for a birth).
    pub cid: String,
    /// `false` when this reference had been recorded before (a retry).
    pub created: bool,
    /// For a death: whether a digital ID was closed, and how many signing certificates were
    /// revoked with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digital_id_closed: Option<bool>,
    /// See `digital_id_closed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificates_revoked: Option<usize>,
}

fn check_reference(r: &str) -> Result<()> {
    if r.is_empty() || r.len() > 100 || !r.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::Invalid("reference must be 1 to 100 printable ASCII characters".into()));
    }
    Ok(())
}

fn today(now: UnixTime) -> Result<time::Date> {
    Ok(time::OffsetDateTime::from_unix_timestamp(now).map_err(|e| Error::internal(e.to_string()))?.date())
}

/// A fresh CID candidate: 11 digits, the first 1 (as citizens' CIDs are), the rest random so
/// that a CID tells nothing about when or where it was issued.
fn draw_cid() -> Result<Cid> {
    let bytes = secrets::random_bytes::<8>()?;
    let n = u64::from_le_bytes(bytes) % 10_000_000_000;
    Cid::parse(&format!("1{n:010}")).map_err(|e| Error::internal(e.to_string()))
}

/// Checks a parent: in the registry if given.
async fn check_parent(idp: &Idp, field: &str, cid: Option<&str>) -> Result<()> {
    let Some(cid) = cid.filter(|c| !c.is_empty()) else { return Ok(()) };
    let cid = Cid::parse(cid).map_err(|e| Error::Invalid(format!("{field}: {e}")))?;
    if store::registry::person(&idp.db, &cid).await?.is_none() {
        return Err(Error::Invalid(format!("{field} {} is not in the civil registry", cid.as_str())));
    }
    Ok(())
}

/// `POST /registry/births`.
pub async fn register_birth(idp: &Idp, client_id: &str, b: &Birth, now: UnixTime) -> Result<Recorded> {
    check_reference(&b.reference)?;
    if let Some((kind, cid)) = store::life_events::by_reference(&idp.db, client_id, &b.reference).await? {
        if kind != "birth" {
            return Err(Error::Invalid(format!("reference {} was used for a {kind}", b.reference)));
        }
        return Ok(Recorded {
            reference: b.reference.clone(),
            cid,
            created: false,
            digital_id_closed: None,
            certificates_revoked: None,
        });
    }
    check_parent(idp, "mother_cid", b.mother_cid.as_deref()).await?;
    check_parent(idp, "father_cid", b.father_cid.as_deref()).await?;
    let today = today(now)?;
    for _ in 0..16 {
        let cid = draw_cid()?;
        let fields = |c: &str| -> String {
            match c {
                "cid" => cid.as_str().to_owned(),
                "given_name" => b.given_name.trim().to_owned(),
                "middle_name" => b.middle_name.trim().to_owned(),
                "family_name" => b.family_name.trim().to_owned(),
                "date_of_birth" => b.date_of_birth.trim().to_owned(),
                "sex" => b.sex.trim().to_owned(),
                "dzongkhag" => b.dzongkhag.clone(),
                "gewog" => b.gewog.trim().to_owned(),
                "village" => b.village.trim().to_owned(),
                "household_number" => b.household_number.trim().to_owned(),
                "status" => "alive".to_owned(),
                _ => String::new(),
            }
        };
        let person: Person = registry::parse_row(&fields, today).map_err(Error::Invalid)?;
        if store::life_events::insert_birth(&idp.db, client_id, &b.reference, &person, now).await? {
            idp.audit(
                NewEntry::new(
                    Event::BirthRegistered,
                    format!("client:{client_id}"),
                    format!("person:{}", cid.as_str()),
                )
                .client(client_id)
                .detail(serde_json::json!({"reference": b.reference, "dzongkhag": person.dzongkhag})),
                now,
            )
            .await?;
            return Ok(Recorded {
                reference: b.reference.clone(),
                cid: cid.as_str().to_owned(),
                created: true,
                digital_id_closed: None,
                certificates_revoked: None,
            });
        }
    }
    Err(Error::internal("no free CID after 16 draws"))
}

/// `POST /registry/deaths`.
pub async fn register_death(idp: &Idp, client_id: &str, d: &Death, now: UnixTime) -> Result<Recorded> {
    check_reference(&d.reference)?;
    let cid = Cid::parse(&d.cid).map_err(|e| Error::Invalid(format!("cid: {e}")))?;
    if let Some((kind, recorded)) = store::life_events::by_reference(&idp.db, client_id, &d.reference).await? {
        if kind != "death" || recorded != cid.as_str() {
            return Err(Error::Invalid(format!("reference {} was used for another event", d.reference)));
        }
        return Ok(Recorded {
            reference: d.reference.clone(),
            cid: recorded,
            created: false,
            digital_id_closed: None,
            certificates_revoked: None,
        });
    }
    let date = time::Date::parse(d.date_of_death.trim(), time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| Error::Invalid("date_of_death must be a YYYY-MM-DD date".into()))?;
    if date > today(now)? {
        return Err(Error::Invalid("date_of_death is in the future".into()));
    }
    let person = store::registry::person(&idp.db, &cid)
        .await?
        .ok_or_else(|| Error::NotFound(format!("CID {} is not in the civil registry", cid.as_str())))?;
    if !person.is_alive()
        || !store::life_events::insert_death(&idp.db, client_id, &d.reference, cid.as_str(), now).await?
    {
        return Err(Error::Invalid(format!("the registry already records CID {} as deceased", cid.as_str())));
    }
    idp.audit(
        NewEntry::new(Event::DeathRegistered, format!("client:{client_id}"), format!("person:{}", cid.as_str()))
            .client(client_id)
            .detail(serde_json::json!({"reference": d.reference, "date_of_death": d.date_of_death.trim()})),
        now,
    )
    .await?;
    // The registry is the authority on death: the digital ID closes now, not at the next login.
    let (closed, revoked) = match store::login::account_by_cid(&idp.db, cid.as_str()).await? {
        Some(a) if a.status != "closed" => {
            (true, idp.close_citizen(&cid, CloseReason::Deceased, &format!("client:{client_id}"), now).await?.len())
        }
        _ => (false, 0),
    };
    Ok(Recorded {
        reference: d.reference.clone(),
        cid: cid.as_str().to_owned(),
        created: true,
        digital_id_closed: Some(closed),
        certificates_revoked: Some(revoked),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_cids_are_valid_and_differ() {
        let a = draw_cid().unwrap();
        let b = draw_cid().unwrap();
        assert!(a.as_str().starts_with('1') && a.as_str().len() == 11);
        assert_ne!(a, b);
    }

    #[test]
    fn references_are_checked() {
        assert!(check_reference("BR-2026-000123").is_ok());
        for bad in ["", "has space", "tab\t", &"x".repeat(101), "ü"] {
            assert!(check_reference(bad).is_err(), "{bad:?}");
        }
    }
}
