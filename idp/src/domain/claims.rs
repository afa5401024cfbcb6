//! Which claims a client receives, and their values (OIDC Core 5.1, 5.4, 5.5, 8; OpenID
//! Connect for Identity Assurance). The consent page shows exactly what [`released`] returns.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::{authorize::AuthRequest, client::Client, registry::Person};

/// Claim names released for each scope.
pub fn scope_claims(scope: &str) -> &'static [&'static str] {
    match scope {
        "profile" => &["name", "given_name", "middle_name", "family_name", "birthdate", "gender"],
        "national_id" => &["cid"],
        "address" => &["address"],
        "phone" => &["phone_number"],
        _ => &[],
    }
}

/// The set of claim names (beyond `sub`) the client will receive for this request: from the
/// granted scopes and from the `claims` parameter, limited to what we hold and what the
/// client may have (`cid` only for clients allowed the national_id scope).
pub fn released(req: &AuthRequest, client: &Client) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in req.scope_set().iter() {
        for c in scope_claims(s) {
            out.insert((*c).to_string());
        }
    }
    for member in ["userinfo", "id_token"] {
        for c in req.claims_for(member) {
            out.insert(c);
        }
        if let Some(vc) = req.verified_claims_for(member) {
            for c in vc {
                out.insert(format!("verified:{c}"));
            }
        }
    }
    out.retain(|c| {
        let name = c.strip_prefix("verified:").unwrap_or(c);
        KNOWN.contains(&name) && (name != "cid" || client.metadata.allow_national_id)
    });
    out
}

/// Every claim this provider can release.
const KNOWN: [&str; 9] =
    ["name", "given_name", "middle_name", "family_name", "birthdate", "gender", "cid", "address", "phone_number"];

fn gender(sex: &str) -> &'static str {
    match sex {
        "M" => "male",
        "F" => "female",
        _ => "other",
    }
}

/// The value of one claim for `p`, if we hold it.
pub fn value(name: &str, p: &Person) -> Option<Value> {
    Some(match name {
        "name" => p.full_name().into(),
        "given_name" => p.given_name.clone().into(),
        "middle_name" if !p.middle_name.is_empty() => p.middle_name.clone().into(),
        "family_name" if !p.family_name.is_empty() => p.family_name.clone().into(),
        "birthdate" => p.date_of_birth.clone().into(),
        "gender" => gender(&p.sex).into(),
        "cid" => p.cid.as_str().into(),
        "address" => json!({
            "formatted": format!("{}, {} Gewog, {} Dzongkhag, Bhutan", p.village, p.gewog, p.dzongkhag),
            "locality": p.village,
            "region": p.dzongkhag,
            "country": "BT",
        }),
        _ => return None,
    })
}

/// How the person's identity was verified: what `verified_claims` reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    /// When the digital ID was issued against the civil registry (Unix seconds).
    pub registry_time: i64,
    /// The biometric enrolment at a registration centre, if there was one.
    pub enrolment: Option<EnrolmentEvidence>,
}

/// A biometric enrolment: where, when, and the packet an auditor can re-verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnrolmentEvidence {
    /// The registration centre's code.
    pub centre: String,
    /// When (Unix seconds).
    pub time: i64,
    /// The enrolment packet's id.
    pub packet: String,
}

fn rfc3339(t: i64) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
}

/// The `verification` element of `verified_claims` (OpenID Connect for Identity Assurance 1.0):
/// the civil-registry record always; with a biometric enrolment, the officer's in-person check
/// and the fingerprint de-duplication at the centre, the time of that enrolment and its packet.
pub fn verification(e: &Evidence) -> Value {
    let registry = json!({"type": "civil_registry", "source": {"name": "Department of Civil Registration and Census", "country_code": "BTN"}});
    match &e.enrolment {
        None => json!({
            "trust_framework": "bt_drukyul_id",
            "assurance_level": "substantial",
            "time": rfc3339(e.registry_time),
            "evidence": [{"type": "electronic_record", "check_details": [{"check_method": "data"}], "record": registry}],
        }),
        Some(en) => json!({
            "trust_framework": "bt_drukyul_id",
            "assurance_level": "high",
            "time": rfc3339(en.time),
            "verification_process": en.packet,
            "evidence": [{
                "type": "electronic_record",
                "check_details": [
                    {"check_method": "data"},
                    {"check_method": "vpip", "organization": en.centre, "txn": en.packet, "time": rfc3339(en.time)},
                    {"check_method": "bvr", "organization": en.centre, "txn": en.packet, "time": rfc3339(en.time)},
                ],
                "record": registry,
            }],
        }),
    }
}

/// Claims for the userinfo response or the ID token. `names` is what the citizen consented
/// to; `wanted` selects the subset for this member (`None` = everything consented).
pub fn build(
    names: &BTreeSet<String>,
    wanted: Option<&BTreeSet<String>>,
    p: &Person,
    evidence: &Evidence,
) -> Map<String, Value> {
    let mut m = Map::new();
    let mut verified = Map::new();
    for n in names {
        if let Some(v) = n.strip_prefix("verified:") {
            if wanted.is_none_or(|w| w.contains(n))
                && let Some(val) = value(v, p)
            {
                verified.insert(v.to_string(), val);
            }
            continue;
        }
        if wanted.is_none_or(|w| w.contains(n))
            && let Some(val) = value(n, p)
        {
            m.insert(n.clone(), val);
        }
    }
    if !verified.is_empty() {
        m.insert("verified_claims".into(), json!({"verification": verification(evidence), "claims": verified}));
    }
    m
}

/// The pairwise subject for `account_id` in `sector` (OIDC Core 8.1): an HMAC under a server
/// key, so agencies cannot correlate citizens by `sub` and nobody can reverse it.
pub fn pairwise_sub(key: &[u8; 32], sector: &str, account_id: &str) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let tag = ring::hmac::sign(&k, format!("{sector}\u{0}{account_id}").as_bytes());
    URL_SAFE_NO_PAD.encode(tag.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verification_reports_the_enrolment_when_there_was_one() {
        let registry_only = verification(&Evidence { registry_time: 0, enrolment: None });
        assert_eq!(registry_only["assurance_level"], "substantial");
        assert_eq!(registry_only["time"], "1970-01-01T00:00:00Z");
        assert_eq!(registry_only["evidence"][0]["check_details"].as_array().unwrap().len(), 1);
        let enrolled = verification(&Evidence {
            registry_time: 0,
            enrolment: Some(EnrolmentEvidence { centre: "THI-01".into(), time: 86_400, packet: "p-1".into() }),
        });
        assert_eq!(enrolled["assurance_level"], "high");
        assert_eq!(enrolled["time"], "1970-01-02T00:00:00Z");
        assert_eq!(enrolled["verification_process"], "p-1");
        let methods: Vec<&str> = enrolled["evidence"][0]["check_details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["check_method"].as_str().unwrap())
            .collect();
        assert_eq!(methods, ["data", "vpip", "bvr"]);
    }

    #[test]
    fn pairwise_subjects_differ_per_sector_and_are_stable() {
        let k = [1u8; 32];
        assert_eq!(pairwise_sub(&k, "epis.gov.bt", "a1"), pairwise_sub(&k, "epis.gov.bt", "a1"));
        assert_ne!(pairwise_sub(&k, "epis.gov.bt", "a1"), pairwise_sub(&k, "emis.gov.bt", "a1"));
        assert_ne!(pairwise_sub(&k, "epis.gov.bt", "a1"), pairwise_sub(&k, "epis.gov.bt", "a2"));
    }
}
