//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): the provider POSTs a logout
//! token when a citizen's session there ends; the SDK validates it and ends the matching
//! sessions here.
//!
//! A logout token is a JWT that must not be mistaken for an ID token (and vice versa): it has
//! the `events` claim, must not have `nonce`, and is typed `logout+jwt` when typed at all. Its
//! `jti` is accepted once.

use serde_json::Value;

use crate::{
    error::{Error, Result},
    jose::{JoseError, Jws},
    login::RelyingParty,
};

/// The `events` member that makes a JWT a logout token.
pub(crate) const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Oldest logout token accepted (its `iat`), beyond the leeway: the provider delivers within
/// seconds and retries for a few more.
const MAX_AGE: i64 = 300;

/// A validated logout token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutToken {
    /// The subject whose sessions end (all of them, when `sid` is absent).
    pub sub: Option<String>,
    /// The provider session that ended.
    pub sid: Option<String>,
    /// Token id.
    pub jti: String,
    /// Until when the `jti` must be remembered.
    pub(crate) remember_until: i64,
}

/// The claim checks (spec 2.6, steps 3-7), as a plain function of `now`.
pub(crate) fn check_claims(c: &Value, issuer: &str, client_id: &str, now: i64, leeway: i64) -> Result<LogoutToken> {
    let bad = |m: &str| Err(Error::LogoutToken(m.to_string()));
    let s = |k: &str| c.get(k).and_then(Value::as_str);
    if s("iss") != Some(issuer) {
        return bad("iss is not our provider");
    }
    let aud_ok = match c.get("aud") {
        Some(Value::String(a)) => a == client_id,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(client_id)),
        _ => false,
    };
    if !aud_ok {
        return bad("aud is not this client");
    }
    let Some(iat) = c.get("iat").and_then(Value::as_i64) else {
        return bad("iat is missing");
    };
    if iat > now + leeway || iat < now - MAX_AGE - leeway {
        return bad("iat is out of the accepted window");
    }
    let exp = c.get("exp").and_then(Value::as_i64);
    if exp.is_some_and(|e| e + leeway <= now) {
        return bad("expired");
    }
    let Some(jti) = s("jti").filter(|j| !j.is_empty() && j.len() <= 256) else {
        return bad("jti is missing");
    };
    let event = c.get("events").and_then(Value::as_object).and_then(|e| e.get(BACKCHANNEL_EVENT));
    if !event.is_some_and(Value::is_object) {
        return bad("events lacks the back-channel logout event");
    }
    if c.get("nonce").is_some() {
        return bad("a logout token must not carry a nonce");
    }
    let sub = s("sub").map(str::to_string);
    let sid = s("sid").map(str::to_string);
    if sub.is_none() && sid.is_none() {
        return bad("neither sub nor sid");
    }
    let remember_until = exp.unwrap_or(iat + MAX_AGE).max(iat + MAX_AGE) + leeway;
    Ok(LogoutToken { sub, sid, jti: jti.to_string(), remember_until })
}

impl RelyingParty {
    /// Validates a logout token (signature by a provider key with an accepted algorithm,
    /// `typ`, claims) and records its `jti` as used; a replay is refused.
    pub async fn verify_logout_token(&self, raw: &str, now: i64) -> Result<LogoutToken> {
        let cfg = self.config();
        let jws = Jws::parse(raw, &cfg.id_token_algs).map_err(|e| Error::LogoutToken(e.to_string()))?;
        jws.check_typ("logout+jwt", false).map_err(|e| Error::LogoutToken(e.to_string()))?;
        let provider = self.provider();
        let keys = provider.keys();
        match jws.verify(&keys.fast) {
            Ok(()) => {}
            Err(JoseError::UnknownKey) => match provider.keys_after_unknown_kid(&keys).await {
                Some(fresh) => jws.verify(&fresh.fast).map_err(|e| Error::LogoutToken(e.to_string()))?,
                None => return Err(Error::LogoutToken("signed by an unknown key".into())),
            },
            Err(e) => return Err(Error::LogoutToken(e.to_string())),
        }
        let claims: Value = jws.claims().map_err(|e| Error::LogoutToken(e.to_string()))?;
        let t = check_claims(&claims, provider.issuer(), &cfg.client_id, now, cfg.leeway)?;
        let first = self.inner.store.first_use_of_jti(&t.jti, t.remember_until, now).await?;
        if !first {
            return Err(Error::LogoutToken("this logout token was already used".into()));
        }
        Ok(t)
    }

    /// Ends the sessions a validated logout token names; returns how many ended.
    pub async fn end_sessions(&self, t: &LogoutToken) -> Result<u64> {
        self.inner.store.delete_by_logout(t.sub.as_deref(), t.sid.as_deref()).await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn good() -> Value {
        json!({"iss": "https://id", "aud": "epis", "iat": 1000, "exp": 1120, "jti": "j1", "sub": "s", "sid": "x",
               "events": {BACKCHANNEL_EVENT: {}}})
    }

    fn with(k: &str, v: Value) -> Value {
        let mut c = good();
        c[k] = v;
        c
    }

    fn without(k: &str) -> Value {
        let mut c = good();
        c.as_object_mut().unwrap().remove(k);
        c
    }

    #[test]
    fn a_valid_logout_token_names_its_session() {
        let t = check_claims(&good(), "https://id", "epis", 1010, 30).unwrap();
        assert_eq!((t.sub.as_deref(), t.sid.as_deref(), t.jti.as_str()), (Some("s"), Some("x"), "j1"));
        assert!(t.remember_until >= 1120);
        assert!(check_claims(&with("aud", json!(["other", "epis"])), "https://id", "epis", 1010, 30).is_ok());
        assert!(check_claims(&without("sid"), "https://id", "epis", 1010, 30).is_ok());
        assert!(check_claims(&without("sub"), "https://id", "epis", 1010, 30).is_ok());
    }

    #[test]
    fn every_rule_of_the_spec_is_enforced() {
        let refused = [
            with("iss", json!("https://evil")),
            with("aud", json!("other")),
            without("aud"),
            without("iat"),
            with("iat", json!(5000)),
            with("iat", json!(100)),
            with("exp", json!(900)),
            without("jti"),
            with("jti", json!("")),
            without("events"),
            with("events", json!({"http://schemas.openid.net/event/other": {}})),
            with("events", json!({BACKCHANNEL_EVENT: "yes"})),
            with("nonce", json!("n")),
            {
                let mut c = without("sub");
                c.as_object_mut().unwrap().remove("sid");
                c
            },
        ];
        for c in refused {
            assert!(check_claims(&c, "https://id", "epis", 1010, 30).is_err(), "{c}");
        }
    }
}
