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

/// Claims for the userinfo response or the ID token. `names` is what the citizen consented
/// to; `wanted` selects the subset for this member (`None` = everything consented).
pub fn build(
    names: &BTreeSet<String>,
    wanted: Option<&BTreeSet<String>>,
    p: &Person,
    verified_at: Option<i64>,
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
        m.insert(
            "verified_claims".into(),
            json!({
                "verification": {
                    "trust_framework": "bt_drukyul_id",
                    "time": verified_at.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
                        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()),
                    "evidence": [{
                        "type": "electronic_record",
                        "record": {"type": "civil_registry", "source": {"name": "Department of Civil Registration and Census", "country_code": "BTN"}}
                    }]
                },
                "claims": verified,
            }),
        );
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
    fn pairwise_subjects_differ_per_sector_and_are_stable() {
        let k = [1u8; 32];
        assert_eq!(pairwise_sub(&k, "epis.gov.bt", "a1"), pairwise_sub(&k, "epis.gov.bt", "a1"));
        assert_ne!(pairwise_sub(&k, "epis.gov.bt", "a1"), pairwise_sub(&k, "emis.gov.bt", "a1"));
        assert_ne!(pairwise_sub(&k, "epis.gov.bt", "a1"), pairwise_sub(&k, "epis.gov.bt", "a2"));
    }
}
