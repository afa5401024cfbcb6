//! The authorization request (OIDC Core 3.1.2, RFC 6749 4.1, RFC 7636, RFC 9126) and the
//! decision of what happens next: log in, ask consent, or issue a code.
//!
//! Validation happens in two stages, because the rules for reporting errors differ: until the
//! client and its redirect URI are known to be genuine, an error is shown on our own page and
//! never redirected (RFC 9700 4.11, open redirectors); after that, errors go back to the
//! client's redirect URI with `state` and `iss`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{
    ACR_VALUES, UnixTime,
    client::{Client, GrantType, Scope},
};
use crate::error::{OAuthError, OAuthErrorKind};

/// Scopes that map to claims (DESIGN.md, "Scopes to claims").
pub const OIDC_SCOPES: [&str; 6] = ["openid", "profile", "national_id", "address", "phone", "offline_access"];

/// Longest accepted parameter value (the `claims` parameter may have 4096 bytes).
const MAX_PARAM_LEN: usize = 2048;

/// A validated authorization request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthRequest {
    /// The client.
    pub client_id: String,
    /// Exactly one of the registered URIs.
    pub redirect_uri: String,
    /// Requested scope (always includes `openid`).
    pub scope: String,
    /// Opaque client state, echoed back.
    pub state: Option<String>,
    /// Replay protection for the ID token.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// `prompt` values.
    pub prompt: Vec<String>,
    /// `max_age` in seconds.
    pub max_age: Option<i64>,
    /// Voluntary `acr_values`.
    pub acr_values: Vec<String>,
    /// The `claims` parameter, validated JSON.
    pub claims: Option<serde_json::Value>,
    /// `ui_locales`.
    pub ui_locales: Option<String>,
    /// `login_hint` (a CID, for the CID-first path).
    pub login_hint: Option<String>,
    /// Set once the browser authenticated for this request (sid of that session), so
    /// `prompt=login`, `max_age` and step-up are satisfied by that login and do not loop.
    #[serde(default)]
    pub fresh_login_sid: Option<String>,
    /// Set once the citizen consented on the page for this request.
    #[serde(default)]
    pub consented: bool,
}

/// Where an error must go.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Shown on our own error page: the client or redirect URI cannot be trusted.
    Page(String),
    /// Sent to the client's redirect URI.
    Redirect {
        /// The validated redirect URI.
        redirect_uri: String,
        /// The client's state.
        state: Option<String>,
        /// The error.
        error: OAuthError,
    },
}

fn param<'a>(p: &'a HashMap<String, String>, k: &str) -> Option<&'a str> {
    p.get(k).map(String::as_str).filter(|v| !v.is_empty())
}

/// First stage: the redirect URI, checked against `client` exactly. Returns it if trustworthy.
pub fn trusted_redirect(client: &Client, params: &HashMap<String, String>) -> Result<String, AuthorizeError> {
    let uri = param(params, "redirect_uri").ok_or_else(|| AuthorizeError::Page("redirect_uri is missing".into()))?;
    if !client.redirect_uri_matches(uri) {
        return Err(AuthorizeError::Page("redirect_uri is not registered for this client".into()));
    }
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(AuthorizeError::Page("this client is not registered for logins".into()));
    }
    Ok(uri.to_string())
}

/// Second stage: every other parameter. `pushed` tells whether they came through PAR.
pub fn validate(
    client: &Client,
    params: &HashMap<String, String>,
    pushed: bool,
) -> Result<AuthRequest, AuthorizeError> {
    let redirect_uri = trusted_redirect(client, params)?;
    let state = param(params, "state").map(str::to_string);
    let fail = |kind: OAuthErrorKind, msg: &'static str| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        error: OAuthError::new(kind, msg),
    };
    use OAuthErrorKind::*;
    if params.iter().any(|(k, v)| k != "claims" && v.len() > MAX_PARAM_LEN) {
        return Err(fail(InvalidRequest, "a parameter is too long"));
    }
    if client.metadata.require_pushed_authorization_requests && !pushed {
        return Err(fail(InvalidRequest, "this client must use pushed authorization requests"));
    }
    if params.contains_key("request") {
        return Err(fail(InvalidRequest, "request objects are not supported"));
    }
    if params.contains_key("request_uri") {
        return Err(fail(InvalidRequestUri, "request_uri is only accepted from the PAR endpoint"));
    }
    match param(params, "response_type") {
        Some("code") => {}
        Some(_) => {
            return Err(fail(UnsupportedResponseType, "only response_type=code is supported"));
        }
        None => return Err(fail(InvalidRequest, "response_type is missing")),
    }
    if let Some(m) = param(params, "response_mode")
        && m != "query"
    {
        return Err(fail(InvalidRequest, "only response_mode=query is supported"));
    }
    let scope =
        Scope::parse(param(params, "scope").unwrap_or("")).map_err(|_| fail(InvalidScope, "malformed scope"))?;
    if !scope.contains("openid") {
        return Err(fail(InvalidScope, "the openid scope is required"));
    }
    for s in scope.iter() {
        if !OIDC_SCOPES.contains(&s) || (s != "openid" && s != "offline_access" && !client.metadata.scope.contains(s)) {
            return Err(fail(InvalidScope, "a requested scope is not registered for this client"));
        }
    }
    if scope.contains("offline_access") && !client.allows_grant(GrantType::RefreshToken) {
        return Err(fail(InvalidScope, "offline_access needs a client registered for refresh tokens"));
    }
    let code_challenge =
        param(params, "code_challenge").ok_or_else(|| fail(InvalidRequest, "PKCE code_challenge is required"))?;
    match param(params, "code_challenge_method") {
        Some("S256") => {}
        _ => return Err(fail(InvalidRequest, "code_challenge_method must be S256")),
    }
    if code_challenge.len() != 43
        || !code_challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(fail(InvalidRequest, "code_challenge must be a base64url SHA-256 (43 characters)"));
    }
    let prompt: Vec<String> =
        param(params, "prompt").unwrap_or("").split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect();
    for p in &prompt {
        if !matches!(p.as_str(), "none" | "login" | "consent" | "select_account") {
            return Err(fail(InvalidRequest, "unsupported prompt value"));
        }
    }
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return Err(fail(InvalidRequest, "prompt=none cannot be combined with other values"));
    }
    let max_age = match param(params, "max_age") {
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| fail(InvalidRequest, "max_age must be a non-negative integer"))?,
        ),
        None => None,
    };
    let claims = match param(params, "claims") {
        Some(c) => Some(parse_claims(c).map_err(|_| fail(InvalidRequest, "the claims parameter is not valid"))?),
        None => None,
    };
    let acr_values =
        param(params, "acr_values").unwrap_or("").split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect();
    Ok(AuthRequest {
        client_id: client.client_id.as_str().to_string(),
        redirect_uri,
        scope: scope.to_string(),
        state,
        nonce: param(params, "nonce").map(str::to_string),
        code_challenge: code_challenge.to_string(),
        prompt,
        max_age,
        acr_values,
        claims,
        ui_locales: param(params, "ui_locales").map(str::to_string),
        login_hint: param(params, "login_hint").map(str::to_string),
        fresh_login_sid: None,
        consented: false,
    })
}

/// The `claims` parameter is not a valid claims request.
#[derive(Debug, PartialEq, Eq)]
pub struct ClaimsError;

/// Validates the `claims` parameter (OIDC Core 5.5, OpenID Connect for Identity Assurance):
/// an object with optional `userinfo` and `id_token` members, each an object of claim requests
/// (`null` or an object with `essential`, `value`, `values`), `verified_claims` included.
pub fn parse_claims(s: &str) -> Result<serde_json::Value, ClaimsError> {
    if s.len() > 4096 {
        return Err(ClaimsError);
    }
    let v: serde_json::Value = serde_json::from_str(s).map_err(|_| ClaimsError)?;
    let obj = v.as_object().ok_or(ClaimsError)?;
    for (k, member) in obj {
        if k != "userinfo" && k != "id_token" {
            continue;
        }
        let m = member.as_object().ok_or(ClaimsError)?;
        for (name, req) in m {
            if name == "verified_claims" {
                let vc = req.as_object().ok_or(ClaimsError)?;
                vc.get("claims").and_then(|c| c.as_object()).ok_or(ClaimsError)?;
                continue;
            }
            if !(req.is_null() || req.is_object()) {
                return Err(ClaimsError);
            }
        }
    }
    Ok(v)
}

impl AuthRequest {
    /// The scope as a set.
    pub fn scope_set(&self) -> Scope {
        Scope::parse(&self.scope).unwrap_or_default()
    }

    /// Claim names requested through `claims` for `member` (`id_token` or `userinfo`),
    /// excluding `verified_claims`.
    pub fn claims_for(&self, member: &str) -> Vec<String> {
        self.claims
            .as_ref()
            .and_then(|c| c.get(member))
            .and_then(|m| m.as_object())
            .map(|m| m.keys().filter(|k| *k != "verified_claims").cloned().collect())
            .unwrap_or_default()
    }

    /// Claim names requested inside `verified_claims` for `member`, if it was requested.
    pub fn verified_claims_for(&self, member: &str) -> Option<Vec<String>> {
        let vc = self.claims.as_ref()?.get(member)?.get("verified_claims")?;
        Some(vc.get("claims")?.as_object()?.keys().cloned().collect())
    }

    /// The lowest assurance level that satisfies the request: an essential `acr` in the
    /// `claims` parameter, else the client's registered default. Voluntary `acr_values` never
    /// force anything.
    pub fn required_acr(&self, client: &Client) -> Option<String> {
        let acr = self.claims.as_ref().and_then(|c| c.get("id_token")).and_then(|t| t.get("acr"));
        if let Some(a) = acr
            && a.get("essential").and_then(|e| e.as_bool()) == Some(true)
        {
            let mut wanted: Vec<&str> = vec![];
            if let Some(v) = a.get("value").and_then(|v| v.as_str()) {
                wanted.push(v);
            }
            if let Some(vs) = a.get("values").and_then(|v| v.as_array()) {
                wanted.extend(vs.iter().filter_map(|v| v.as_str()));
            }
            // The weakest known level that the RP accepts; unknown values are unattainable.
            let known = wanted.iter().filter_map(|w| ACR_VALUES.iter().position(|k| k == w)).min();
            return Some(match known {
                Some(i) => ACR_VALUES[i].to_string(),
                None => "unattainable".to_string(),
            });
        }
        client.metadata.default_acr.clone()
    }
}

/// `a` is at least as strong as `b`.
pub fn acr_at_least(a: &str, b: &str) -> bool {
    match (ACR_VALUES.iter().position(|x| *x == a), ACR_VALUES.iter().position(|x| *x == b)) {
        (Some(i), Some(j)) => i >= j,
        _ => false,
    }
}

/// What the browser's session knows.
#[derive(Clone, Debug)]
pub struct SessionView {
    /// Public session id.
    pub sid: String,
    /// When the citizen authenticated.
    pub auth_time: UnixTime,
    /// Assurance of that authentication.
    pub acr: String,
}

/// What happens next for a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// The citizen must authenticate (again).
    Login,
    /// The citizen must consent.
    Consent,
    /// Issue a code.
    IssueCode,
    /// Send this error to the client.
    Fail(OAuthError),
}

/// Decides the next step for `req` given the browser's session and whether a remembered
/// consent covers the request. Pure: all inputs are given.
pub fn decide(
    req: &AuthRequest,
    client: &Client,
    session: Option<&SessionView>,
    consent_covers: bool,
    now: UnixTime,
) -> Next {
    use OAuthErrorKind::*;
    let prompt_none = req.prompt.iter().any(|p| p == "none");
    let fresh = session.is_some_and(|s| req.fresh_login_sid.as_deref() == Some(s.sid.as_str()));
    let Some(s) = session else {
        return if prompt_none {
            Next::Fail(OAuthError::new(LoginRequired, "the citizen is not logged in"))
        } else {
            Next::Login
        };
    };
    let needs_login = !fresh
        && (req.prompt.iter().any(|p| p == "login" || p == "select_account")
            || req.max_age.is_some_and(|m| m == 0 || s.auth_time + m < now));
    let required = req.required_acr(client);
    let acr_ok = required.as_deref().is_none_or(|r| acr_at_least(&s.acr, r));
    if needs_login || (!acr_ok && !fresh) {
        return if prompt_none {
            Next::Fail(OAuthError::new(LoginRequired, "a new authentication is required"))
        } else {
            Next::Login
        };
    }
    if !acr_ok {
        return Next::Fail(OAuthError::new(
            AccessDenied,
            "this service requires a higher assurance level than this digital ID has; an enrolment centre can raise it",
        ));
    }
    let wants_consent = req.prompt.iter().any(|p| p == "consent");
    if req.consented {
        return Next::IssueCode;
    }
    if !consent_covers || wants_consent {
        return if prompt_none {
            Next::Fail(OAuthError::new(ConsentRequired, "consent is required"))
        } else {
            Next::Consent
        };
    }
    Next::IssueCode
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        client::{AuthMethod, ClientId, ClientMetadata, RedirectUri},
        keys::SigningAlg,
    };

    fn client() -> Client {
        Client {
            client_id: ClientId::parse("epis").unwrap(),
            metadata: ClientMetadata {
                client_name: "ePIS".into(),
                token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
                redirect_uris: vec![RedirectUri::parse("https://epis.gov.bt/cb").unwrap()],
                post_logout_redirect_uris: vec![],
                grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
                scope: Scope::parse("openid profile").unwrap(),
                jwks: None,
                jwks_uri: None,
                sector_identifier: None,
                require_pushed_authorization_requests: false,
                allow_national_id: false,
                id_token_signed_response_alg: SigningAlg::ES256,
                backchannel_logout_uri: None,
                default_acr: None,
                resources: vec![],
            },
            secret_hash: None,
        }
    }

    fn params(extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut p: HashMap<String, String> = [
            ("response_type", "code"),
            ("client_id", "epis"),
            ("redirect_uri", "https://epis.gov.bt/cb"),
            ("scope", "openid profile"),
            ("state", "s1"),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            ("code_challenge_method", "S256"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            if v.is_empty() {
                p.remove(*k);
            } else {
                p.insert(k.to_string(), v.to_string());
            }
        }
        p
    }

    fn err_kind(r: Result<AuthRequest, AuthorizeError>) -> OAuthErrorKind {
        match r {
            Err(AuthorizeError::Redirect { error, state, .. }) => {
                assert_eq!(state.as_deref(), Some("s1"));
                error.kind
            }
            other => panic!("expected a redirect error, got {other:?}"),
        }
    }

    #[test]
    fn a_good_request_validates() {
        let r = validate(&client(), &params(&[("nonce", "n"), ("prompt", "login"), ("max_age", "60")]), false).unwrap();
        assert_eq!(r.scope, "openid profile");
        assert_eq!(r.prompt, vec!["login"]);
        assert_eq!(r.max_age, Some(60));
    }

    #[test]
    fn untrusted_redirects_stay_on_our_page() {
        assert!(matches!(
            validate(&client(), &params(&[("redirect_uri", "https://evil.example/cb")]), false),
            Err(AuthorizeError::Page(_))
        ));
        assert!(matches!(
            validate(&client(), &params(&[("redirect_uri", "https://epis.gov.bt/cb/")]), false),
            Err(AuthorizeError::Page(_))
        ));
        assert!(matches!(validate(&client(), &params(&[("redirect_uri", "")]), false), Err(AuthorizeError::Page(_))));
    }

    #[test]
    fn bad_parameters_are_reported_to_the_client() {
        use OAuthErrorKind::*;
        let c = client();
        assert_eq!(err_kind(validate(&c, &params(&[("response_type", "token")]), false)), UnsupportedResponseType);
        assert_eq!(err_kind(validate(&c, &params(&[("code_challenge", "")]), false)), InvalidRequest);
        assert_eq!(err_kind(validate(&c, &params(&[("code_challenge_method", "plain")]), false)), InvalidRequest);
        assert_eq!(err_kind(validate(&c, &params(&[("scope", "profile")]), false)), InvalidScope);
        assert_eq!(err_kind(validate(&c, &params(&[("scope", "openid national_id")]), false)), InvalidScope);
        assert_eq!(err_kind(validate(&c, &params(&[("prompt", "none login")]), false)), InvalidRequest);
        assert_eq!(err_kind(validate(&c, &params(&[("max_age", "-1")]), false)), InvalidRequest);
        assert_eq!(err_kind(validate(&c, &params(&[("claims", "[1]")]), false)), InvalidRequest);
        assert_eq!(err_kind(validate(&c, &params(&[("request", "eyJ...")]), false)), InvalidRequest);
        let mut par_only = c.clone();
        par_only.metadata.require_pushed_authorization_requests = true;
        assert_eq!(err_kind(validate(&par_only, &params(&[]), false)), InvalidRequest);
        assert!(validate(&par_only, &params(&[]), true).is_ok());
    }

    #[test]
    fn decisions_follow_prompt_max_age_acr_and_consent() {
        let c = client();
        let r = validate(&c, &params(&[]), false).unwrap();
        let s = SessionView { sid: "s".into(), auth_time: 1000, acr: ACR_VALUES[0].into() };
        assert_eq!(decide(&r, &c, None, false, 1000), Next::Login);
        assert_eq!(decide(&r, &c, Some(&s), false, 1000), Next::Consent);
        assert_eq!(decide(&r, &c, Some(&s), true, 1000), Next::IssueCode);

        let none = validate(&c, &params(&[("prompt", "none")]), false).unwrap();
        assert!(
            matches!(decide(&none, &c, None, true, 1000), Next::Fail(e) if e.kind == OAuthErrorKind::LoginRequired)
        );
        assert!(
            matches!(decide(&none, &c, Some(&s), false, 1000), Next::Fail(e) if e.kind == OAuthErrorKind::ConsentRequired)
        );

        let old = validate(&c, &params(&[("max_age", "60")]), false).unwrap();
        assert_eq!(decide(&old, &c, Some(&s), true, 1100), Next::Login);
        let mut fresh = old.clone();
        fresh.fresh_login_sid = Some("s".into());
        assert_eq!(decide(&fresh, &c, Some(&s), true, 1100), Next::IssueCode);

        let high = r#"{"id_token":{"acr":{"essential":true,"value":"urn:drukyul:loa:high"}}}"#;
        let step_up = validate(&c, &params(&[("claims", high)]), false).unwrap();
        assert_eq!(decide(&step_up, &c, Some(&s), true, 1000), Next::Login, "a weaker session must authenticate again");
        let mut after = step_up.clone();
        after.fresh_login_sid = Some("s".into());
        assert!(
            matches!(decide(&after, &c, Some(&s), true, 1000), Next::Fail(e) if e.kind == OAuthErrorKind::AccessDenied)
        );
        let strong = SessionView { acr: ACR_VALUES[1].into(), ..s.clone() };
        assert_eq!(decide(&step_up, &c, Some(&strong), true, 1000), Next::IssueCode);
    }

    /// `oidc::step` reads the stored consent only when `decide` with a covering consent says
    /// IssueCode; that is sound only if the consent cannot change any other decision.
    #[test]
    fn consent_matters_only_where_a_code_would_be_issued() {
        let c = client();
        let s = SessionView { sid: "s".into(), auth_time: 1000, acr: ACR_VALUES[0].into() };
        let strong = SessionView { acr: ACR_VALUES[1].into(), ..s.clone() };
        let high = r#"{"id_token":{"acr":{"essential":true,"value":"urn:drukyul:loa:high"}}}"#;
        let variants: &[&[(&str, &str)]] = &[
            &[],
            &[("prompt", "none")],
            &[("prompt", "login")],
            &[("prompt", "consent")],
            &[("max_age", "0")],
            &[("max_age", "60")],
            &[("claims", high)],
            &[("claims", high), ("prompt", "none")],
        ];
        for extra in variants {
            let base = validate(&c, &params(extra), false).unwrap();
            for fresh in [false, true] {
                for consented in [false, true] {
                    let mut r = base.clone();
                    r.fresh_login_sid = fresh.then(|| "s".to_string());
                    r.consented = consented;
                    for session in [None, Some(&s), Some(&strong)] {
                        for now in [1000, 1100] {
                            let with = decide(&r, &c, session, true, now);
                            let without = decide(&r, &c, session, false, now);
                            if with != Next::IssueCode {
                                assert_eq!(with, without, "{extra:?} fresh={fresh} consented={consented}");
                            }
                        }
                    }
                }
            }
        }
    }
}
