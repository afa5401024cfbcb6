//! The OpenID Connect flows over storage: authorization (interactive and pushed), consent,
//! code issuance, the code and refresh-token grants, userinfo, and logout. "How is a token
//! issued" is answered here (with the claims in `domain::tokens` and `domain::claims`).

use std::collections::{BTreeSet, HashMap};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use serde_json::{Value, json};

use crate::{
    app::Idp,
    client_auth::Authenticated,
    domain::{
        UnixTime,
        audit::NewEntry,
        authorize::{self, AuthRequest, AuthorizeError, Next, SessionView},
        claims,
        client::{Client, GrantType},
        keys::SigningAlg,
        secrets,
        tokens::{AccessTokenClaims, Audience},
    },
    error::{Error, OAuthError, OAuthErrorKind, Result},
    metrics,
    store::{self, login::SessionRow},
};

/// Lifetime of an interactive authorization request (the time a citizen has to log in and
/// consent).
const INTERACTION_TTL: i64 = 600;

/// The PAR `request_uri` prefix (RFC 9126 2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// What the browser should see next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Redirect (to the client, with a code or an error).
    Redirect(String),
    /// Our error page with this message; never a redirect.
    ErrorPage(String),
    /// Log in for request `id`.
    Login(String),
    /// Consent for request `id`.
    Consent(String),
}

/// The redirect to the client carrying `params`, plus `iss` (RFC 9207).
fn client_redirect(idp: &Idp, redirect_uri: &str, params: &[(&str, &str)], state: Option<&str>) -> String {
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => return redirect_uri.to_string(),
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
        if let Some(s) = state {
            q.append_pair("state", s);
        }
        q.append_pair("iss", idp.issuer());
    }
    url.to_string()
}

fn error_redirect(idp: &Idp, redirect_uri: &str, state: Option<&str>, e: &OAuthError) -> String {
    client_redirect(idp, redirect_uri, &[("error", e.kind.as_str()), ("error_description", &e.description)], state)
}

/// Hash of the browser cookie, stored with a request so only that browser continues it.
pub fn browser_binding(browser: &str) -> String {
    secrets::hash_secret(browser)
}

/// `GET|POST /authorize`.
pub async fn authorize(
    idp: &Idp,
    params: HashMap<String, String>,
    browser: &str,
    session: Option<&SessionRow>,
    now: UnixTime,
) -> Result<Step> {
    let Some(client_id) = params.get("client_id").filter(|c| !c.is_empty()) else {
        return Ok(Step::ErrorPage("client_id is missing".into()));
    };
    let Some(client) = idp.client(client_id).await? else {
        return Ok(Step::ErrorPage("unknown client_id".into()));
    };
    let req = if let Some(uri) = params.get("request_uri") {
        let Some(id) = uri.strip_prefix(REQUEST_URI_PREFIX) else {
            return Ok(Step::ErrorPage("request_uri is not one this server issued".into()));
        };
        match store::login::take_pushed(&idp.db, id, client_id, now).await? {
            Some(p) => serde_json::from_str::<AuthRequest>(&p).map_err(|e| Error::internal(e.to_string()))?,
            None => {
                return Ok(Step::ErrorPage("request_uri is unknown, expired or already used".into()));
            }
        }
    } else {
        match authorize::validate(&client, &params, false) {
            Ok(r) => r,
            Err(AuthorizeError::Page(msg)) => return Ok(Step::ErrorPage(msg)),
            Err(AuthorizeError::Redirect { redirect_uri, state, error }) => {
                return Ok(Step::Redirect(error_redirect(idp, &redirect_uri, state.as_deref(), &error)));
            }
        }
    };
    let id = secrets::random_token()?;
    let json = serde_json::to_string(&req).map_err(|e| Error::internal(e.to_string()))?;
    store::login::insert_request(
        &idp.db,
        &id,
        client_id,
        &json,
        &browser_binding(browser),
        false,
        now,
        now + INTERACTION_TTL,
    )
    .await?;
    // The request was just validated and stored: decide on it as it is, without reading it back.
    step(idp, &id, &req, &client, session, now).await
}

/// Loads an interactive request for this browser.
pub async fn load_request(
    idp: &Idp,
    id: &str,
    browser: &str,
    now: UnixTime,
) -> Result<Option<(AuthRequest, std::sync::Arc<Client>)>> {
    let Some(row) = store::login::get_request(&idp.db, id, now).await? else {
        return Ok(None);
    };
    if row.browser != browser_binding(browser) {
        return Ok(None);
    }
    let req: AuthRequest = serde_json::from_str(&row.params).map_err(|e| Error::internal(e.to_string()))?;
    let Some(client) = idp.client(&row.client_id).await? else {
        return Ok(None);
    };
    Ok(Some((req, client)))
}

/// Decides and performs the next step of request `id`.
pub async fn continue_request(
    idp: &Idp,
    id: &str,
    browser: &str,
    session: Option<&SessionRow>,
    now: UnixTime,
) -> Result<Step> {
    let Some((req, client)) = load_request(idp, id, browser, now).await? else {
        return Ok(Step::ErrorPage("expired".into()));
    };
    step(idp, id, &req, &client, session, now).await
}

/// The next step of stored request `id` (`req`, for `client`), given the browser's session.
async fn step(
    idp: &Idp,
    id: &str,
    req: &AuthRequest,
    client: &Client,
    session: Option<&SessionRow>,
    now: UnixTime,
) -> Result<Step> {
    let view = session.map(|s| SessionView { sid: s.sid.clone(), auth_time: s.auth_time, acr: s.acr.clone() });
    // The stored consent matters only where the decision would otherwise be to issue a code,
    // so it is read only then (a login or an error does not depend on it).
    let mut next = authorize::decide(req, client, view.as_ref(), true, now);
    if let (Next::IssueCode, Some(s)) = (&next, session)
        && !req.consented
        && !consent_covers(idp, req, client, &s.account_id).await?
    {
        next = authorize::decide(req, client, view.as_ref(), false, now);
    }
    match next {
        Next::Login => Ok(Step::Login(id.to_string())),
        Next::Consent => Ok(Step::Consent(id.to_string())),
        Next::Fail(e) => {
            store::login::finish_request(&idp.db, id, now).await?;
            Ok(Step::Redirect(error_redirect(idp, &req.redirect_uri, req.state.as_deref(), &e)))
        }
        Next::IssueCode => {
            let Some(s) = session else {
                return Ok(Step::Login(id.to_string()));
            };
            let Some(code) = issue_code(idp, id, req, client, s, now).await? else {
                return Ok(Step::ErrorPage("expired".into()));
            };
            Ok(Step::Redirect(client_redirect(idp, &req.redirect_uri, &[("code", &code)], req.state.as_deref())))
        }
    }
}

async fn consent_covers(idp: &Idp, req: &AuthRequest, client: &Client, account_id: &str) -> Result<bool> {
    let Some(c) = store::login::consent(&idp.db, account_id, client.client_id.as_str()).await? else {
        return Ok(false);
    };
    let granted_scope = crate::domain::client::Scope::parse(&c.scope).unwrap_or_default();
    let granted_claims: BTreeSet<String> = serde_json::from_str(&c.claims).unwrap_or_default();
    Ok(req.scope_set().is_subset(&granted_scope) && claims::released(req, client).is_subset(&granted_claims))
}

/// The next step of request `id` right after this browser logged in with session `s` (which
/// is being recorded at the same time): the login answers the request directly, so the
/// citizen's browser makes one redirect fewer. When the request goes on to consent (or
/// another login), the fresh login is recorded on it first so that the next step knows it.
/// `None` if the request is unknown, expired or bound to another browser.
pub async fn after_login(idp: &Idp, id: &str, browser: &str, s: &SessionRow, now: UnixTime) -> Result<Option<Step>> {
    let Some((mut req, client)) = load_request(idp, id, browser, now).await? else {
        return Ok(None);
    };
    req.fresh_login_sid = Some(s.sid.clone());
    let next = step(idp, id, &req, &client, Some(s), now).await?;
    if matches!(next, Step::Consent(_) | Step::Login(_)) {
        store::login::update_request(
            &idp.db,
            id,
            &serde_json::to_string(&req).map_err(|e| Error::internal(e.to_string()))?,
        )
        .await?;
    }
    Ok(Some(next))
}

/// What the consent page shows.
#[derive(Debug)]
pub struct ConsentView {
    /// Client name.
    pub client_name: String,
    /// Claim names, `verified:`-prefixed when inside verified_claims.
    pub claims: BTreeSet<String>,
    /// UI locales of the request.
    pub ui_locales: Option<String>,
    /// Where the consent form's answer will redirect.
    pub redirect_uri: String,
}

/// The consent page's content for request `id`.
pub async fn consent_view(idp: &Idp, id: &str, browser: &str, now: UnixTime) -> Result<Option<ConsentView>> {
    let Some((req, client)) = load_request(idp, id, browser, now).await? else {
        return Ok(None);
    };
    Ok(Some(ConsentView {
        client_name: client.metadata.client_name.clone(),
        claims: claims::released(&req, &client),
        ui_locales: req.ui_locales.clone(),
        redirect_uri: req.redirect_uri.clone(),
    }))
}

/// The citizen's answer on the consent page.
pub async fn consent_decision(
    idp: &Idp,
    id: &str,
    browser: &str,
    session: &SessionRow,
    allow: bool,
    now: UnixTime,
) -> Result<Step> {
    let Some((mut req, client)) = load_request(idp, id, browser, now).await? else {
        return Ok(Step::ErrorPage("expired".into()));
    };
    if !allow {
        store::login::finish_request(&idp.db, id, now).await?;
        let e = OAuthError::new(OAuthErrorKind::AccessDenied, "the citizen declined");
        return Ok(Step::Redirect(error_redirect(idp, &req.redirect_uri, req.state.as_deref(), &e)));
    }
    let released = claims::released(&req, &client);
    let cid = client.client_id.as_str();
    // Widen an existing consent rather than replace it, so consenting to more for one
    // request does not silently narrow what another part of the service was granted.
    let (mut scope, mut names) = match store::login::consent(&idp.db, &session.account_id, cid).await? {
        Some(c) => (
            crate::domain::client::Scope::parse(&c.scope)
                .unwrap_or_default()
                .iter()
                .map(str::to_string)
                .collect::<BTreeSet<_>>(),
            serde_json::from_str::<BTreeSet<String>>(&c.claims).unwrap_or_default(),
        ),
        None => (BTreeSet::new(), BTreeSet::new()),
    };
    scope.extend(req.scope_set().iter().map(str::to_string));
    names.extend(released.iter().cloned());
    let scope_s = scope.into_iter().collect::<Vec<_>>().join(" ");
    let names_s = serde_json::to_string(&names).map_err(|e| Error::internal(e.to_string()))?;
    store::login::put_consent(&idp.db, &session.account_id, cid, &scope_s, &names_s, now).await?;
    idp.audit(
        NewEntry::new(
            crate::domain::audit::Event::ConsentGranted,
            format!("account:{}", session.account_id),
            format!("account:{}", session.account_id),
        )
        .client(cid)
        .detail(json!({"scope": req.scope, "claims": released})),
        now,
    )
    .await?;
    req.consented = true;
    store::login::update_request(
        &idp.db,
        id,
        &serde_json::to_string(&req).map_err(|e| Error::internal(e.to_string()))?,
    )
    .await?;
    continue_request(idp, id, browser, Some(session), now).await
}

/// Finishes request `id` and creates its grant and code (60 s, single use, bound to client,
/// redirect URI and PKCE), in one transaction; `None` if the request was already finished (a
/// double submit), in which case nothing is created.
async fn issue_code(
    idp: &Idp,
    id: &str,
    req: &AuthRequest,
    client: &Client,
    s: &SessionRow,
    now: UnixTime,
) -> Result<Option<String>> {
    let released = claims::released(req, client);
    let mut userinfo: BTreeSet<String> = BTreeSet::new();
    for sc in req.scope_set().iter() {
        userinfo.extend(claims::scope_claims(sc).iter().map(|c| c.to_string()));
    }
    userinfo.extend(req.claims_for("userinfo"));
    userinfo
        .extend(req.verified_claims_for("userinfo").unwrap_or_default().into_iter().map(|c| format!("verified:{c}")));
    let mut id_token: BTreeSet<String> = req.claims_for("id_token").into_iter().collect();
    id_token
        .extend(req.verified_claims_for("id_token").unwrap_or_default().into_iter().map(|c| format!("verified:{c}")));
    userinfo.retain(|c| released.contains(c));
    id_token.retain(|c| released.contains(c));
    let grant = store::login::GrantRow {
        id: secrets::random_id()?,
        account_id: s.account_id.clone(),
        client_id: client.client_id.as_str().to_string(),
        session_sid: s.sid.clone(),
        scope: req.scope.clone(),
        claims: json!({"userinfo": userinfo, "id_token": id_token}).to_string(),
        auth_time: s.auth_time,
        acr: s.acr.clone(),
        amr: s.amr.clone(),
        expires_at: now + idp.config.tokens.refresh_token_ttl as i64,
        revoked_at: None,
    };
    let code = secrets::random_token()?;
    let code_hash = secrets::hash_secret(&code);
    let new = store::login::NewCode {
        code_hash: &code_hash,
        redirect_uri: &req.redirect_uri,
        code_challenge: &req.code_challenge,
        nonce: req.nonce.as_deref(),
        expires_at: now + idp.config.tokens.code_ttl as i64,
    };
    Ok(store::login::finish_with_code(&idp.db, id, &grant, &new, now).await?.then_some(code))
}

/// `POST /par` (RFC 9126): validates the request now and returns a single-use `request_uri`.
pub async fn par(idp: &Idp, client: &Authenticated, form: &HashMap<String, String>, now: UnixTime) -> Result<Value> {
    let c = client.client();
    if form.contains_key("request_uri") {
        return Err(OAuthError::invalid_request("request_uri must not be pushed").into());
    }
    let req = match authorize::validate(c, form, true) {
        Ok(r) => r,
        Err(AuthorizeError::Page(msg)) => return Err(OAuthError::invalid_request(msg).into()),
        Err(AuthorizeError::Redirect { error, .. }) => return Err(error.into()),
    };
    let id = secrets::random_token()?;
    let json = serde_json::to_string(&req).map_err(|e| Error::internal(e.to_string()))?;
    let ttl = idp.config.tokens.par_ttl as i64;
    store::login::insert_request(&idp.db, &id, c.client_id.as_str(), &json, "", true, now, now + ttl).await?;
    Ok(json!({"request_uri": format!("{REQUEST_URI_PREFIX}{id}"), "expires_in": ttl}))
}

fn pkce_ok(verifier: &str, challenge: &str) -> bool {
    // RFC 7636 4.1: 43-128 unreserved characters.
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let computed = B64.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()));
    well_formed && subtle::ConstantTimeEq::ct_eq(computed.as_bytes(), challenge.as_bytes()).into()
}

/// The `authorization_code` grant.
pub async fn exchange_code(
    idp: &Idp,
    client: &Authenticated,
    form: &HashMap<String, String>,
    ip: &str,
    now: UnixTime,
) -> Result<Value> {
    let c = client.client();
    if !c.allows_grant(GrantType::AuthorizationCode) {
        return Err(OAuthError::unauthorized_client("this client may not use authorization_code").into());
    }
    let get = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let code = get("code").ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let verifier =
        get("code_verifier").ok_or_else(|| OAuthError::invalid_request("code_verifier is required (PKCE)"))?;
    let redirect_uri = get("redirect_uri").ok_or_else(|| OAuthError::invalid_request("redirect_uri is required"))?;
    let row = match store::login::redeem_code(&idp.db, &secrets::hash_secret(code), now).await? {
        store::login::Redeem::Fresh(r) => r,
        store::login::Redeem::Replayed(grant_id) => {
            // RFC 6749 4.1.2 / RFC 9700 4.5: a replayed code revokes what it issued.
            store::login::revoke_grant(&idp.db, &grant_id, now).await?;
            if let Some(g) = store::login::grant(&idp.db, &grant_id).await? {
                idp.audit(
                    NewEntry::new(
                        crate::domain::audit::Event::CodeReplayed,
                        format!("client:{}", c.client_id),
                        format!("account:{}", g.account_id),
                    )
                    .client(c.client_id.as_str())
                    .ip(ip),
                    now,
                )
                .await?;
            }
            return Err(OAuthError::invalid_grant("the code was already used; the tokens it issued are revoked").into());
        }
        store::login::Redeem::Unknown => {
            return Err(OAuthError::invalid_grant("unknown code").into());
        }
    };
    let g = &row.grant;
    if g.client_id != c.client_id.as_str() {
        store::login::revoke_grant(&idp.db, &g.id, now).await?;
        return Err(OAuthError::invalid_grant("the code was issued to another client").into());
    }
    if row.expires_at <= now {
        return Err(OAuthError::invalid_grant("the code has expired").into());
    }
    if row.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant("redirect_uri does not match the authorization request").into());
    }
    if !pkce_ok(verifier, &row.code_challenge) {
        return Err(OAuthError::invalid_grant("PKCE verification failed").into());
    }
    if g.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant("the grant was revoked").into());
    }
    let resp = mint_tokens(idp, c, g, row.nonce.as_deref(), now).await?;
    metrics::token_issued("authorization_code");
    Ok(resp)
}

/// The `refresh_token` grant: rotates the token; a reused one revokes the whole family.
pub async fn refresh(
    idp: &Idp,
    client: &Authenticated,
    form: &HashMap<String, String>,
    ip: &str,
    now: UnixTime,
) -> Result<Value> {
    let c = client.client();
    if !c.allows_grant(GrantType::RefreshToken) {
        return Err(OAuthError::unauthorized_client("this client may not use refresh tokens").into());
    }
    let token = form
        .get("refresh_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let hash = secrets::hash_secret(token);
    let g = match store::login::use_refresh(&idp.db, &hash, now).await? {
        store::login::Refresh::Fresh(g) => g,
        store::login::Refresh::Reused(grant_id) => {
            let revoked = store::login::revoke_grant(&idp.db, &grant_id, now).await?;
            if let Some(g) = store::login::grant(&idp.db, &grant_id).await?
                && revoked
            {
                idp.audit(
                    NewEntry::new(
                        crate::domain::audit::Event::TokenReuse,
                        format!("client:{}", c.client_id),
                        format!("account:{}", g.account_id),
                    )
                    .client(g.client_id.as_str())
                    .ip(ip),
                    now,
                )
                .await?;
            }
            return Err(
                OAuthError::invalid_grant("the refresh token was already used; the whole family is revoked").into()
            );
        }
        store::login::Refresh::Unknown => {
            return Err(OAuthError::invalid_grant("unknown or expired refresh token").into());
        }
    };
    if g.client_id != c.client_id.as_str() {
        store::login::revoke_grant(&idp.db, &g.id, now).await?;
        return Err(OAuthError::invalid_grant("the refresh token was issued to another client").into());
    }
    if g.revoked_at.is_some() || g.expires_at <= now {
        return Err(OAuthError::invalid_grant("the grant was revoked or has expired").into());
    }
    if let Some(s) = form.get("scope").filter(|s| !s.is_empty()) {
        let asked = crate::domain::client::Scope::parse(s).map_err(|_| OAuthError::invalid_scope("malformed scope"))?;
        if !asked.is_subset(&crate::domain::client::Scope::parse(&g.scope).unwrap_or_default()) {
            return Err(OAuthError::invalid_scope("a refresh cannot widen the scope").into());
        }
    }
    let resp = mint_tokens(idp, c, &g, None, now).await?;
    metrics::token_issued("refresh_token");
    Ok(resp)
}

/// The person behind an account, if the account is still active.
async fn live_person(
    idp: &Idp,
    account_id: &str,
) -> Result<Option<(store::login::AccountRow, crate::domain::registry::Person)>> {
    Ok(store::login::account_with_person(&idp.db, account_id)
        .await?
        .filter(|(acct, person)| acct.status == "active" && person.is_alive()))
}

fn grant_claim_sets(g: &store::login::GrantRow) -> (BTreeSet<String>, BTreeSet<String>) {
    let v: Value = serde_json::from_str(&g.claims).unwrap_or_default();
    let set =
        |k: &str| v.get(k).and_then(|a| serde_json::from_value::<BTreeSet<String>>(a.clone()).ok()).unwrap_or_default();
    (set("userinfo"), set("id_token"))
}

/// Access token, ID token and (for refresh-capable clients) a new refresh token for a grant.
async fn mint_tokens(
    idp: &Idp,
    c: &Client,
    g: &store::login::GrantRow,
    nonce: Option<&str>,
    now: UnixTime,
) -> Result<Value> {
    let Some((acct, person)) = live_person(idp, &g.account_id).await? else {
        store::login::revoke_grant(&idp.db, &g.id, now).await?;
        return Err(OAuthError::invalid_grant("the digital ID is no longer active").into());
    };
    let sector = c.metadata.sector().ok_or_else(|| Error::internal("client without sector"))?;
    let sub = claims::pairwise_sub(&idp.pairwise_key, &sector, &acct.id);
    let amr: Vec<String> = serde_json::from_str(&g.amr).unwrap_or_default();
    let ttl = idp.config.tokens.access_token_ttl as i64;
    let mut aud = vec![idp.issuer().to_string()];
    aud.extend(c.metadata.resources.iter().cloned());
    let at_claims = AccessTokenClaims {
        iss: idp.issuer().to_string(),
        exp: now + ttl,
        aud: if aud.len() == 1 { Audience::One(aud.remove(0)) } else { Audience::Many(aud) },
        sub: sub.clone(),
        client_id: c.client_id.as_str().to_string(),
        iat: now,
        jti: secrets::random_id()?,
        scope: g.scope.clone(),
        auth_time: Some(g.auth_time),
        acr: Some(g.acr.clone()),
        amr: Some(amr.clone()),
        grant_id: Some(g.id.clone()),
    };
    let keys = idp.keyring.signing_key_for(SigningAlg::ES256, now).await?;
    let at_key = keys.signing_key(SigningAlg::ES256, now).ok_or_else(|| Error::internal("no ES256 key"))?;
    let access_token = at_key.sign_jwt("at+jwt", &at_claims)?;

    let (_, id_names) = grant_claim_sets(g);
    let consented: BTreeSet<String> = id_names.clone();
    let mut id = json!({
        "iss": idp.issuer(),
        "sub": sub,
        "aud": c.client_id.as_str(),
        "exp": now + idp.config.tokens.id_token_ttl as i64,
        "iat": now,
        "auth_time": g.auth_time,
        "acr": g.acr,
        "amr": amr,
        "sid": g.session_sid,
    });
    if let Some(n) = nonce {
        id["nonce"] = n.into();
    }
    if let Some(obj) = id.as_object_mut() {
        let evidence = evidence(idp, &acct, &consented).await?;
        for (k, v) in claims::build(&consented, None, &person, &evidence) {
            obj.insert(k, v);
        }
    }
    let alg = c.metadata.id_token_signed_response_alg;
    let keys = idp.keyring.signing_key_for(alg, now).await?;
    let id_key = keys.signing_key(alg, now).ok_or_else(|| Error::internal("no ID token key"))?;
    let id_token = id_key.sign_jwt("JWT", &id)?;

    let mut resp = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ttl,
        "id_token": id_token,
        "scope": g.scope,
    });
    if c.allows_grant(GrantType::RefreshToken) {
        let rt = secrets::random_token()?;
        let exp = (now + idp.config.tokens.refresh_token_ttl as i64).min(g.expires_at);
        store::login::insert_refresh(&idp.db, &secrets::hash_secret(&rt), &g.id, now, exp).await?;
        resp["refresh_token"] = rt.into();
    }
    Ok(resp)
}

/// Checks a bearer access token for a user-facing endpoint: signature, expiry, revocation of
/// the token and of its grant.
/// A verified bearer token and, for a citizen's token, its live grant.
pub async fn verify_bearer(
    idp: &Idp,
    token: &str,
    now: UnixTime,
) -> Result<(AccessTokenClaims, Option<store::login::GrantRow>), OAuthError> {
    let bad = || OAuthError::invalid_token("the access token is invalid, expired or revoked");
    let claims = crate::http::token::verify_access_token(idp, token).ok_or_else(bad)?;
    if claims.exp <= now {
        return Err(bad());
    }
    if store::tokens::is_revoked(&idp.db, &claims.jti).await.map_err(|_| bad())? {
        return Err(bad());
    }
    let grant = match &claims.grant_id {
        Some(id) => {
            let g = store::login::grant(&idp.db, id).await.map_err(|_| bad())?.ok_or_else(bad)?;
            if g.revoked_at.is_some() || g.expires_at <= now {
                return Err(bad());
            }
            Some(g)
        }
        None => None,
    };
    Ok((claims, grant))
}

/// How the citizen's identity was verified, read only when verified claims are released.
async fn evidence(
    idp: &Idp,
    acct: &store::login::AccountRow,
    names: &std::collections::BTreeSet<String>,
) -> Result<claims::Evidence> {
    let mut e = claims::Evidence { registry_time: acct.created_at, enrolment: None };
    if names.iter().any(|n| n.starts_with("verified:")) {
        e.enrolment = store::enrolment::issuing_packet(&idp.db, &acct.id).await?.map(|p| claims::EnrolmentEvidence {
            centre: p.centre,
            time: p.submitted_at,
            packet: p.id,
        });
    }
    Ok(e)
}

/// `GET|POST /userinfo`.
pub async fn userinfo(idp: &Idp, token: &str, now: UnixTime) -> Result<Value> {
    let (at, grant) = verify_bearer(idp, token, now).await?;
    if !at.aud.contains(idp.issuer()) || !at.scope.split(' ').any(|s| s == "openid") {
        return Err(OAuthError::new(OAuthErrorKind::InsufficientScope, "this token is not for userinfo").into());
    }
    let g = grant.ok_or_else(|| OAuthError::invalid_token("not a citizen's token"))?;
    let Some((acct, person)) = live_person(idp, &g.account_id).await? else {
        return Err(OAuthError::invalid_token("the digital ID is no longer active").into());
    };
    let (names, _) = grant_claim_sets(&g);
    let evidence = evidence(idp, &acct, &names).await?;
    let mut out = claims::build(&names, None, &person, &evidence);
    out.insert("sub".into(), at.sub.into());
    Ok(Value::Object(out))
}

/// Introspection of an opaque refresh token, for its own client only.
pub async fn introspect_refresh(idp: &Idp, caller: &Client, token: &str, now: UnixTime) -> Result<Option<Value>> {
    let Some((g, exp)) = store::login::refresh_grant(&idp.db, &secrets::hash_secret(token), now).await? else {
        return Ok(None);
    };
    if g.client_id != caller.client_id.as_str() || g.revoked_at.is_some() || g.expires_at <= now {
        return Ok(Some(json!({"active": false})));
    }
    let sector = caller.metadata.sector().unwrap_or_default();
    Ok(Some(json!({
        "active": true,
        "token_type": "refresh_token",
        "client_id": g.client_id,
        "scope": g.scope,
        "sub": claims::pairwise_sub(&idp.pairwise_key, &sector, &g.account_id),
        "exp": exp,
        "iss": idp.issuer(),
    })))
}

/// Revocation of a refresh token by its client: the whole grant goes.
pub async fn revoke_refresh(idp: &Idp, caller: &Client, token: &str, now: UnixTime) -> Result<bool> {
    let hash = secrets::hash_secret(token);
    let Some((g, _)) = store::login::refresh_grant(&idp.db, &hash, now).await? else {
        return Ok(false);
    };
    if g.client_id != caller.client_id.as_str() {
        return Ok(false);
    }
    store::login::revoke_grant(&idp.db, &g.id, now).await
}

// ---- logout ----

/// A validated RP-initiated logout request.
#[derive(Debug, Default, Clone)]
pub struct LogoutRequest {
    /// Where to send the browser afterwards (validated against the client's registration).
    pub post_logout_redirect_uri: Option<String>,
    /// Echoed state.
    pub state: Option<String>,
    /// The session the ID token hint names.
    pub hinted_sid: Option<String>,
    /// Client.
    pub client_id: Option<String>,
}

/// Validates `/logout` parameters (OIDC RP-Initiated Logout 1.0, 2 and 3).
pub async fn logout_request(idp: &Idp, params: &HashMap<String, String>) -> Result<Result<LogoutRequest, String>> {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let mut client_id = get("client_id").map(str::to_string);
    let mut hinted_sid = None;
    if let Some(hint) = get("id_token_hint") {
        let Some((aud, sid)) = verify_own_id_token(idp, hint) else {
            return Ok(Err("id_token_hint is not an ID token this server issued".into()));
        };
        if client_id.as_deref().is_some_and(|c| c != aud) {
            return Ok(Err("client_id does not match id_token_hint".into()));
        }
        client_id = Some(aud);
        hinted_sid = sid;
    }
    let mut req = LogoutRequest {
        state: get("state").map(str::to_string),
        hinted_sid,
        client_id: client_id.clone(),
        ..Default::default()
    };
    if let Some(uri) = get("post_logout_redirect_uri") {
        let Some(cid) = client_id else {
            return Ok(Err("post_logout_redirect_uri needs id_token_hint or client_id".into()));
        };
        let Some(client) = idp.client(&cid).await? else {
            return Ok(Err("unknown client".into()));
        };
        if !client.metadata.post_logout_redirect_uris.iter().any(|r| r.as_str() == uri) {
            return Ok(Err("post_logout_redirect_uri is not registered for this client".into()));
        }
        req.post_logout_redirect_uri = Some(uri.to_string());
    }
    Ok(Ok(req))
}

/// Verifies an ID token we issued (expired ones are accepted, as logout hints may be old):
/// returns (aud, sid).
fn verify_own_id_token(idp: &Idp, token: &str) -> Option<(String, Option<String>)> {
    let keys = idp.keyring.snapshot();
    let c: Value = crate::domain::keys::verify_own(token, None, |kid| keys.by_kid(kid))?;
    if c.get("iss")?.as_str()? != idp.issuer() {
        return None;
    }
    let aud = c.get("aud")?.as_str()?.to_string();
    Some((aud, c.get("sid").and_then(|s| s.as_str()).map(str::to_string)))
}

/// The redirect after logout, if any.
pub fn after_logout(req: &LogoutRequest) -> Option<String> {
    let uri = req.post_logout_redirect_uri.as_deref()?;
    let mut url = url::Url::parse(uri).ok()?;
    if let Some(s) = &req.state {
        url.query_pairs_mut().append_pair("state", s);
    }
    Some(url.to_string())
}

/// Ends the session: revokes its grants (except offline_access ones) and notifies every client
/// that registered a back-channel logout URI (in the background; failures are logged).
pub async fn end_session(idp: &std::sync::Arc<Idp>, s: &SessionRow, ip: &str, now: UnixTime) -> Result<()> {
    store::login::end_session(&idp.db, &s.sid, now).await?;
    let grants = store::login::grants_of_session(&idp.db, &s.sid).await?;
    let mut notified = BTreeSet::new();
    for (gid, client_id, account_id) in grants {
        if let Some(g) = store::login::grant(&idp.db, &gid).await?
            && !g.scope.split(' ').any(|x| x == "offline_access")
        {
            store::login::revoke_grant(&idp.db, &gid, now).await?;
        }
        if !notified.insert(client_id.clone()) {
            continue;
        }
        let Some(client) = idp.client(&client_id).await? else {
            continue;
        };
        let Some(uri) = client.metadata.backchannel_logout_uri.clone() else {
            continue;
        };
        let sub = claims::pairwise_sub(&idp.pairwise_key, &client.metadata.sector().unwrap_or_default(), &account_id);
        let token = logout_token(idp, &client, &sub, &s.sid, now).await?;
        tokio::spawn(deliver_logout(idp.http.clone(), uri, token, client_id));
    }
    idp.audit(
        NewEntry::new(
            crate::domain::audit::Event::Logout,
            format!("account:{}", s.account_id),
            format!("account:{}", s.account_id),
        )
        .ip(ip),
        now,
    )
    .await
}

/// A logout token (OIDC Back-Channel Logout 1.0, 2.4).
/// Waits before each retry of a back-channel logout delivery; all within the logout token's
/// 120 s lifetime.
const LOGOUT_RETRIES: [std::time::Duration; 3] =
    [std::time::Duration::from_millis(500), std::time::Duration::from_secs(2), std::time::Duration::from_secs(8)];

/// POSTs a logout token to a client (OIDC Back-Channel Logout 1.0, 2.5). A transport error, a
/// 5xx or a 429 is retried (the RP may be restarting or busy); any other answer is the RP's
/// verdict and is final.
async fn deliver_logout(http: reqwest::Client, uri: url::Url, token: String, client_id: String) {
    for attempt in 0..=LOGOUT_RETRIES.len() {
        let outcome = http.post(uri.as_str()).form(&[("logout_token", token.as_str())]).send().await;
        let why = match outcome {
            Ok(resp) if resp.status().is_success() => {
                metrics::backchannel("ok");
                return;
            }
            Ok(resp) if resp.status().is_server_error() || resp.status() == http::StatusCode::TOO_MANY_REQUESTS => {
                format!("status {}", resp.status())
            }
            Ok(resp) => {
                metrics::backchannel("rejected");
                tracing::warn!(client = %client_id, status = %resp.status(), "back-channel logout rejected");
                return;
            }
            Err(e) => e.to_string(),
        };
        match LOGOUT_RETRIES.get(attempt) {
            Some(wait) => {
                metrics::backchannel("retried");
                tracing::info!(client = %client_id, reason = %why, "back-channel logout will be retried");
                tokio::time::sleep(*wait).await;
            }
            None => {
                metrics::backchannel("failed");
                tracing::warn!(client = %client_id, reason = %why, "back-channel logout failed after retries");
            }
        }
    }
}

async fn logout_token(idp: &Idp, client: &Client, sub: &str, sid: &str, now: UnixTime) -> Result<String> {
    let claims = json!({
        "iss": idp.issuer(),
        "aud": client.client_id.as_str(),
        "iat": now,
        "exp": now + 120,
        "jti": secrets::random_id()?,
        "sub": sub,
        "sid": sid,
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
    });
    let alg = client.metadata.id_token_signed_response_alg;
    let keys = idp.keyring.signing_key_for(alg, now).await?;
    let key = keys.signing_key(alg, now).ok_or_else(|| Error::internal("no logout token key"))?;
    key.sign_jwt("logout+jwt", &claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        assert!(pkce_ok("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!pkce_ok("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!pkce_ok("short", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
    }
}
