//! Enrolment: the registration centres, the officers who work at them and what each role may
//! do. (Biometric capture, de-duplication, adjudication and re-verification build on this.)
//!
//! Officers are citizens with a digital ID of their own: they log in with their passkeys like
//! anyone, and the enrolment pages look their role up on every request, so removing a role (or
//! closing the officer's digital ID) takes effect at once.

use crate::{
    app::Idp,
    domain::{
        UnixTime,
        audit::{Event, NewEntry},
        cid::Cid,
    },
    error::{Error, Result},
    store::{
        self,
        enrolment::{CentreRow, OfficerRow},
    },
};

/// What an officer may do; each role may do everything the ones before it may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Finds people in the registry, captures and submits enrolments and re-verifications.
    EnrolmentOfficer,
    /// Also decides adjudication cases.
    Supervisor,
    /// Also manages the officers of the centre.
    Administrator,
}

impl Role {
    /// From the stored / command-line name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "enrolment_officer" | "officer" => Ok(Self::EnrolmentOfficer),
            "supervisor" => Ok(Self::Supervisor),
            "administrator" | "admin" => Ok(Self::Administrator),
            _ => Err(Error::Invalid("role must be enrolment_officer, supervisor or administrator".into())),
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EnrolmentOfficer => "enrolment_officer",
            Self::Supervisor => "supervisor",
            Self::Administrator => "administrator",
        }
    }
}

/// A registration centre's code: 2 to 16 upper-case letters, digits and hyphens (`THI-01`), so
/// it is safe in URLs, logs and printed slips.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CentreCode(String);

impl CentreCode {
    /// Validates a code.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        let ok = (2..=16).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::Invalid("a centre code is 2 to 16 upper-case letters, digits and inner hyphens (THI-01)".into()))
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_text(field: &str, s: &str) -> Result<String> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control) {
        return Err(Error::Invalid(format!("{field} must be 1 to 100 characters without control characters")));
    }
    Ok(s.to_owned())
}

/// `idp centre add`.
pub async fn add_centre(idp: &Idp, code: &CentreCode, name: &str, dzongkhag: &str, now: UnixTime) -> Result<CentreRow> {
    let row = CentreRow {
        code: code.as_str().to_owned(),
        name: check_text("name", name)?,
        dzongkhag: check_text("dzongkhag", dzongkhag)?,
        created_at: now,
    };
    if !store::enrolment::insert_centre(&idp.db, &row).await? {
        return Err(Error::Invalid(format!("centre {} already exists", row.code)));
    }
    idp.audit(
        NewEntry::new(Event::CentreAdded, "operator", format!("centre:{}", row.code))
            .detail(serde_json::json!({"name": row.name, "dzongkhag": row.dzongkhag})),
        now,
    )
    .await?;
    Ok(row)
}

/// `idp officer add`: gives the holder of an active digital ID a role at a centre.
pub async fn add_officer(
    idp: &Idp,
    cid: &Cid,
    centre: &CentreCode,
    role: Role,
    actor: &str,
    now: UnixTime,
) -> Result<OfficerRow> {
    let account = store::login::account_by_cid(&idp.db, cid.as_str())
        .await?
        .ok_or_else(|| Error::NotFound(format!("CID {} has no digital ID (issue one first)", cid.as_str())))?;
    if account.status != "active" {
        return Err(Error::Invalid(format!(
            "the digital ID of CID {} is {}: an officer logs in with their own passkeys",
            cid.as_str(),
            account.status
        )));
    }
    if store::enrolment::centre(&idp.db, centre.as_str()).await?.is_none() {
        return Err(Error::NotFound(format!("no centre {} (see `idp centre list`)", centre.as_str())));
    }
    let row = OfficerRow {
        account_id: account.id.clone(),
        cid: account.cid.clone(),
        centre: centre.as_str().to_owned(),
        role: role.as_str().to_owned(),
        added_by: actor.to_owned(),
        created_at: now,
    };
    store::enrolment::put_officer(&idp.db, &row).await?;
    idp.audit(
        NewEntry::new(Event::OfficerAdded, actor, format!("account:{}", account.id))
            .detail(serde_json::json!({"centre": row.centre, "role": row.role})),
        now,
    )
    .await?;
    Ok(row)
}

/// `idp officer remove`.
pub async fn remove_officer(idp: &Idp, cid: &Cid, actor: &str, now: UnixTime) -> Result<()> {
    let account = store::login::account_by_cid(&idp.db, cid.as_str())
        .await?
        .ok_or_else(|| Error::NotFound(format!("CID {} has no digital ID", cid.as_str())))?;
    if !store::enrolment::remove_officer(&idp.db, &account.id, now).await? {
        return Err(Error::NotFound(format!("CID {} is not an officer", cid.as_str())))?;
    }
    idp.audit(NewEntry::new(Event::OfficerRemoved, actor, format!("account:{}", account.id)), now).await?;
    Ok(())
}

/// The officer behind a session, if their role allows `needed`; otherwise the refusal is
/// audited and `Forbidden` returned (fail closed: no role, a removed role, a closed digital ID).
pub async fn require(idp: &Idp, account_id: &str, needed: Role, what: &str, now: UnixTime) -> Result<OfficerRow> {
    if let Some(o) = store::enrolment::officer(&idp.db, account_id).await?
        && Role::parse(&o.role).is_ok_and(|r| r >= needed)
    {
        return Ok(o);
    }
    idp.audit(
        NewEntry::new(Event::OfficerDenied, format!("account:{account_id}"), what.to_owned())
            .detail(serde_json::json!({"needed": needed.as_str()})),
        now,
    )
    .await?;
    Err(Error::Forbidden(format!("this needs the {} role at a registration centre", needed.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_parse_both_ways() {
        assert!(Role::Administrator > Role::Supervisor && Role::Supervisor > Role::EnrolmentOfficer);
        for r in [Role::EnrolmentOfficer, Role::Supervisor, Role::Administrator] {
            assert_eq!(Role::parse(r.as_str()).unwrap(), r);
        }
        assert!(Role::parse("root").is_err());
        assert!(Role::parse("").is_err());
    }

    #[test]
    fn centre_codes_are_checked() {
        assert_eq!(CentreCode::parse(" THI-01 ").unwrap().as_str(), "THI-01");
        for bad in ["", "T", "thi-01", "THI_01", "-THI", "THI-", "THI/01", "A234567890123456X", "THI 01"] {
            assert!(CentreCode::parse(bad).is_err(), "{bad}");
        }
    }
}
