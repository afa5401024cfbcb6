//! Citizen authentication: activation with a one-time code, passkey login (discoverable or
//! CID-first), sessions, and the account page's passkey and consent management.

use serde_json::json;
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse,
    Uuid,
};

use crate::{
    app::Idp,
    domain::{
        UnixTime,
        audit::{Event, NewEntry},
        cid::Cid,
        secrets,
    },
    error::{Error, Result},
    metrics,
    store::{self, login::SessionRow},
};

/// Lifetime of a WebAuthn ceremony.
const CEREMONY_TTL: i64 = 300;

/// A newly created session: the cookie value (shown once) and its public id.
#[derive(Debug)]
pub struct NewSession {
    /// Cookie value.
    pub token: String,
    /// Public session id.
    pub sid: String,
    /// Expiry.
    pub expires_at: UnixTime,
}

/// The session a cookie names, if live.
pub async fn session(idp: &Idp, cookie: Option<&str>, now: UnixTime) -> Result<Option<SessionRow>> {
    match cookie {
        Some(c) if !c.is_empty() && c.len() < 100 => {
            store::login::session(&idp.db, &secrets::hash_secret(c), now).await
        }
        _ => Ok(None),
    }
}

/// Counts an attempt against a limit shared by every instance; `Err(RateLimited)` past it.
async fn limit(idp: &Idp, bucket: String, max: u32, window: i64, now: UnixTime) -> Result<()> {
    let (count, reset) = store::login::hit(&idp.db, &bucket, window, now).await?;
    if count > i64::from(max) {
        return Err(Error::RateLimited { retry_after: reset.max(1) as u64 });
    }
    Ok(())
}

/// Counts a login attempt (or a signing approval, which is one) from `ip`; `Err(RateLimited)`
/// past the configured rate.
pub fn login_limit(idp: &Idp, ip: &str) -> Result<()> {
    match idp.login_limiter.check_key(&ip.to_string()) {
        Ok(()) => Ok(()),
        Err(not_until) => {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
            Err(Error::RateLimited { retry_after: wait.as_secs().max(1) })
        }
    }
}

/// `amr` for a passkey login (RFC 8176): user verification happened ("user"), it was a key
/// held by an authenticator, device-bound ("hwk") or synced ("swk"), and together these are
/// multi-factor ("mfa").
fn passkey_amr(backup_eligible: bool) -> Vec<&'static str> {
    vec![if backup_eligible { "swk" } else { "hwk" }, "user", "mfa"]
}

impl NewSession {
    /// A fresh session token and id, expiring after the configured session lifetime.
    fn generate(idp: &Idp, now: UnixTime) -> Result<Self> {
        Ok(Self {
            token: secrets::random_token()?,
            sid: secrets::random_id()?,
            expires_at: now + idp.config.tokens.session_ttl as i64,
        })
    }
}

/// Stores session `s` for `account` (only the token's hash is kept).
async fn store_session(
    idp: &Idp,
    account: &store::login::AccountRow,
    amr: &[&str],
    s: &NewSession,
    now: UnixTime,
) -> Result<()> {
    let amr = serde_json::to_string(amr).map_err(|e| Error::internal(e.to_string()))?;
    store::login::create_session(
        &idp.db,
        &secrets::hash_secret(&s.token),
        &s.sid,
        &account.id,
        &account.assurance,
        &amr,
        now,
        s.expires_at,
    )
    .await
}

fn ceremony_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::internal(e.to_string()))
}

fn credential_b64(id: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

fn clean_name(name: &str, fallback: &str) -> String {
    let n: String = name.chars().filter(|c| !c.is_control()).take(60).collect();
    let n = n.trim();
    if n.is_empty() { fallback.to_string() } else { n.to_string() }
}

/// Why an activation failed, in words safe to show (the same for a wrong CID and a wrong code).
pub const ACTIVATION_REFUSED: &str =
    "The CID or activation code is not valid, or the code has expired or was already used.";

// ---- activation ----

/// Checks CID and activation code (rate limited per IP and per CID) and starts registering the
/// first passkey. The code is consumed only when the passkey is stored.
pub async fn activation_start(
    idp: &Idp,
    cid: &str,
    code: &str,
    ip: &str,
    now: UnixTime,
) -> Result<(String, CreationChallengeResponse)> {
    let per_min = idp.config.rate_limits.activation_per_minute;
    limit(idp, format!("activate:ip:{ip}"), per_min, 60, now).await?;
    let cid = Cid::parse(cid).map_err(|e| Error::Invalid(e.to_string()))?;
    limit(idp, format!("activate:cid:{}", secrets::hash_secret(cid.as_str())), per_min.saturating_mul(2), 3600, now)
        .await?;
    let hash = idp.activation_code_hash(&cid, code);
    let account = match store::login::code_account(&idp.db, &hash, now).await? {
        Some(id) => store::login::account(&idp.db, &id).await?,
        None => None,
    };
    let Some(account) = account.filter(|a| a.status != "closed" && a.cid == cid.as_str()) else {
        let subject = store::login::account_by_cid(&idp.db, cid.as_str())
            .await?
            .map(|a| format!("account:{}", a.id))
            .unwrap_or_default();
        idp.audit(NewEntry::new(Event::ActivationFailed, "anonymous", subject).ip(ip), now).await?;
        metrics::login("activation_refused");
        return Err(Error::Invalid(ACTIVATION_REFUSED.into()));
    };
    let person = store::registry::person(&idp.db, &cid)
        .await?
        // The registry is the authority: a person recorded as deceased since issuance cannot activate.
        .filter(|p| p.is_alive())
        .ok_or_else(|| Error::Invalid(ACTIVATION_REFUSED.into()))?;
    let existing = store::login::credentials_of(&idp.db, &account.id).await?;
    let exclude = existing
        .iter()
        .filter_map(|c| serde_json::from_str::<Passkey>(&c.passkey).ok())
        .map(|p| p.cred_id().clone())
        .collect();
    let handle = Uuid::parse_str(&account.user_handle).map_err(|e| Error::internal(e.to_string()))?;
    let (ccr, state) = idp.passkeys.start_registration(handle, cid.as_str(), &person.full_name(), exclude)?;
    let id = secrets::random_token()?;
    store::login::put_ceremony(&idp.db, &id, "activate", &state, Some(&account.id), &hash, now, now + CEREMONY_TTL)
        .await?;
    Ok((id, ccr))
}

/// Verifies the new passkey, redeems the code, activates the account and logs the citizen in.
pub async fn activation_finish(
    idp: &Idp,
    ceremony: &str,
    credential: &RegisterPublicKeyCredential,
    name: &str,
    ip: &str,
    now: UnixTime,
) -> Result<NewSession> {
    let Some(store::login::Ceremony { state, account_id: Some(account_id), context: code_hash, .. }) =
        store::login::take_ceremony(&idp.db, ceremony, &["activate"], now).await?
    else {
        return Err(Error::Invalid("this activation has expired; start again".into()));
    };
    let passkey = idp.passkeys.finish_registration(credential, &state)?;
    let cred_id = credential_b64(passkey.cred_id());
    let pk_json = ceremony_json(&passkey)?;
    let name = clean_name(name, "Passkey");
    let cred =
        store::login::NewCredential { cred_id: &cred_id, account_id: &account_id, passkey: &pk_json, name: &name };
    if !store::login::activate(&idp.db, &code_hash, &cred, now).await? {
        return Err(Error::Invalid(ACTIVATION_REFUSED.into()));
    }
    let account =
        store::login::account(&idp.db, &account_id).await?.ok_or_else(|| Error::internal("account vanished"))?;
    let subject = format!("account:{account_id}");
    idp.audit(NewEntry::new(Event::AccountActivated, subject.clone(), subject.clone()).ip(ip), now).await?;
    idp.audit(
        NewEntry::new(Event::PasskeyAdded, subject.clone(), subject.clone()).ip(ip).detail(json!({"name": name})),
        now,
    )
    .await?;
    let s = NewSession::generate(idp, now)?;
    store_session(idp, &account, &passkey_amr(false), &s, now).await?;
    idp.audit(
        NewEntry::new(Event::LoginSucceeded, subject.clone(), subject).ip(ip).detail(json!({"method": "activation"})),
        now,
    )
    .await?;
    metrics::login("activated");
    Ok(s)
}

// ---- login ----

/// Starts a passkey login: discoverable when `cid` is `None`; otherwise limited to that
/// citizen's passkeys. An unknown CID gets a discoverable challenge, so the answer does not
/// reveal which CIDs have a digital ID.
pub async fn login_start(
    idp: &Idp,
    cid: Option<&str>,
    ip: &str,
    now: UnixTime,
) -> Result<(String, RequestChallengeResponse)> {
    login_limit(idp, ip)?;
    if let Some(cid) = cid {
        let cid = Cid::parse(cid).map_err(|e| Error::Invalid(e.to_string()))?;
        if let Some(acct) = store::login::account_by_cid(&idp.db, cid.as_str()).await?.filter(|a| a.status == "active")
        {
            let passkeys: Vec<Passkey> = store::login::credentials_of(&idp.db, &acct.id)
                .await?
                .iter()
                .filter_map(|c| serde_json::from_str(&c.passkey).ok())
                .collect();
            if !passkeys.is_empty() {
                let (rcr, state) = idp.passkeys.start_for(&passkeys)?;
                let id = secrets::random_token()?;
                store::login::put_ceremony(
                    &idp.db,
                    &id,
                    "login_cid",
                    &state,
                    Some(&acct.id),
                    "",
                    now,
                    now + CEREMONY_TTL,
                )
                .await?;
                return Ok((id, rcr));
            }
        }
    }
    let (rcr, state) = idp.passkeys.start_discoverable()?;
    let id = secrets::random_token()?;
    store::login::put_ceremony(&idp.db, &id, "login", &state, None, "", now, now + CEREMONY_TTL).await?;
    Ok((id, rcr))
}

/// A passkey assertion that verified, with the session it will open; nothing is recorded yet
/// (see [`login_record`]).
#[derive(Debug)]
pub struct Verified {
    account: store::login::AccountRow,
    cred_id: String,
    /// The passkey's new state (counter), when it changed.
    updated: Option<String>,
    backup_eligible: bool,
    /// The session to create; its cookie value is set only once it is recorded.
    pub session: NewSession,
}

impl Verified {
    /// The account that authenticated.
    pub fn account(&self) -> &store::login::AccountRow {
        &self.account
    }

    /// Records the passkey's use (its signature counter and last use).
    pub async fn touch(&self, idp: &Idp, now: UnixTime) -> Result<()> {
        store::login::touch_credential(&idp.db, &self.cred_id, self.updated.as_deref(), now).await
    }

    /// The session exactly as [`login_record`] stores it, so that what the login leads to can
    /// be decided while it is being recorded.
    pub fn session_row(&self, now: UnixTime) -> Result<SessionRow> {
        Ok(SessionRow {
            sid: self.session.sid.clone(),
            account_id: self.account.id.clone(),
            auth_time: now,
            acr: self.account.assurance.clone(),
            amr: serde_json::to_string(&passkey_amr(self.backup_eligible))
                .map_err(|e| Error::internal(e.to_string()))?,
        })
    }
}

/// Verifies a login assertion: consumes the ceremony, checks the signature, the credential's
/// owner and that the digital ID is active. Records nothing but the failure.
pub async fn login_verify(
    idp: &Idp,
    ceremony: &str,
    credential: &PublicKeyCredential,
    ip: &str,
    now: UnixTime,
) -> Result<Verified> {
    login_limit(idp, ip)?;
    let Some(c) = store::login::take_ceremony(&idp.db, ceremony, &["login", "login_cid"], now).await? else {
        return Err(Error::Invalid("this sign-in has expired; start again".into()));
    };
    verify_ceremony(idp, c, credential, ip, now).await
}

/// Verifies an assertion against a ceremony the caller consumed: discoverable when the ceremony
/// names no account, else limited to that account's passkeys. Checks the signature, user
/// verification, the credential's owner and that the digital ID is active; records only a
/// failure. Logins and signing approvals share it.
pub async fn verify_ceremony(
    idp: &Idp,
    ceremony: store::login::Ceremony,
    credential: &PublicKeyCredential,
    ip: &str,
    now: UnixTime,
) -> Result<Verified> {
    let refused = || Error::Invalid("the passkey was not accepted".into());
    let store::login::Ceremony { state, account_id, .. } = ceremony;
    let outcome = async {
        let account_id = &account_id;
        if account_id.is_none() {
            let (handle, cred_id) = idp.passkeys.identify(credential)?;
            let row = store::login::credential(&idp.db, &credential_b64(&cred_id)).await?.ok_or_else(refused)?;
            let account = store::login::account_with_person(&idp.db, &row.account_id).await?.ok_or_else(refused)?;
            // webauthn-rs leaves it to us to check that the credential belongs to the user
            // handle the authenticator returned.
            if account.0.user_handle != handle.to_string() {
                return Err(refused());
            }
            let pk: Passkey = serde_json::from_str(&row.passkey).map_err(|e| Error::internal(e.to_string()))?;
            let v = idp.passkeys.finish_discoverable(credential, &state, pk)?;
            Ok((account, v))
        } else {
            let account_id = account_id.clone().ok_or_else(refused)?;
            let account = store::login::account_with_person(&idp.db, &account_id).await?.ok_or_else(refused)?;
            let passkeys: Vec<Passkey> = store::login::credentials_of(&idp.db, &account.0.id)
                .await?
                .iter()
                .filter_map(|c| serde_json::from_str(&c.passkey).ok())
                .collect();
            let v = idp.passkeys.finish_for(credential, &state, &passkeys)?;
            Ok((account, v))
        }
    }
    .await;
    let ((account, person), v) = match outcome {
        Ok(x) => x,
        Err(e) => {
            idp.audit(
                NewEntry::new(
                    Event::LoginFailed,
                    "anonymous",
                    account_id.map(|a| format!("account:{a}")).unwrap_or_default(),
                )
                .ip(ip),
                now,
            )
            .await?;
            metrics::login("failed");
            return Err(match e {
                Error::Db(_) | Error::Sqlite(_) | Error::Internal(_) => e,
                _ => refused(),
            });
        }
    };
    // The registry is the authority: a person recorded as deceased cannot log in.
    if account.status != "active" || !person.is_alive() {
        metrics::login("inactive");
        return Err(Error::Invalid("this digital ID is not active".into()));
    }
    Ok(Verified {
        account,
        cred_id: credential_b64(&v.cred_id),
        updated: v.updated.as_ref().map(ceremony_json).transpose()?,
        backup_eligible: v.backup_eligible,
        session: NewSession::generate(idp, now)?,
    })
}

/// Records a verified login: the passkey's use, the session, the audit entry. The three writes
/// are independent and go out together (one commit on SQLite, in parallel on PostgreSQL); if
/// any fails the login fails and no cookie is set, so a half-recorded login opens nothing.
pub async fn login_record(idp: &Idp, v: &Verified, ip: &str, now: UnixTime) -> Result<()> {
    let subject = format!("account:{}", v.account.id);
    let amr = passkey_amr(v.backup_eligible);
    tokio::try_join!(
        store::login::touch_credential(&idp.db, &v.cred_id, v.updated.as_deref(), now),
        store_session(idp, &v.account, &amr, &v.session, now),
        idp.audit(
            NewEntry::new(Event::LoginSucceeded, subject.clone(), subject)
                .ip(ip)
                .detail(json!({"method": "passkey", "sid": v.session.sid})),
            now,
        ),
    )?;
    metrics::login("succeeded");
    Ok(())
}

// ---- account page ----

/// Starts registering another passkey for the logged-in citizen.
pub async fn add_passkey_start(
    idp: &Idp,
    s: &SessionRow,
    now: UnixTime,
) -> Result<(String, CreationChallengeResponse)> {
    let account =
        store::login::account(&idp.db, &s.account_id).await?.ok_or_else(|| Error::internal("account vanished"))?;
    let cid = Cid::parse(&account.cid).map_err(|e| Error::internal(e.to_string()))?;
    let person = store::registry::person(&idp.db, &cid).await?.ok_or_else(|| Error::internal("person vanished"))?;
    let exclude = store::login::credentials_of(&idp.db, &account.id)
        .await?
        .iter()
        .filter_map(|c| serde_json::from_str::<Passkey>(&c.passkey).ok())
        .map(|p| p.cred_id().clone())
        .collect();
    let handle = Uuid::parse_str(&account.user_handle).map_err(|e| Error::internal(e.to_string()))?;
    let (ccr, state) = idp.passkeys.start_registration(handle, cid.as_str(), &person.full_name(), exclude)?;
    let id = secrets::random_token()?;
    store::login::put_ceremony(&idp.db, &id, "add_passkey", &state, Some(&account.id), &s.sid, now, now + CEREMONY_TTL)
        .await?;
    Ok((id, ccr))
}

/// Stores the additional passkey; the ceremony must belong to the same session.
pub async fn add_passkey_finish(
    idp: &Idp,
    s: &SessionRow,
    ceremony: &str,
    credential: &RegisterPublicKeyCredential,
    name: &str,
    ip: &str,
    now: UnixTime,
) -> Result<()> {
    let Some(store::login::Ceremony { state, account_id: Some(account_id), context: sid, .. }) =
        store::login::take_ceremony(&idp.db, ceremony, &["add_passkey"], now).await?
    else {
        return Err(Error::Invalid("this registration has expired; start again".into()));
    };
    if account_id != s.account_id || sid != s.sid {
        return Err(Error::Invalid("this registration belongs to another session".into()));
    }
    let passkey = idp.passkeys.finish_registration(credential, &state)?;
    let cred_id = credential_b64(passkey.cred_id());
    let pk_json = ceremony_json(&passkey)?;
    let name = clean_name(name, "Passkey");
    store::login::insert_credential(
        &idp.db,
        &store::login::NewCredential { cred_id: &cred_id, account_id: &account_id, passkey: &pk_json, name: &name },
        now,
    )
    .await?;
    let subject = format!("account:{account_id}");
    idp.audit(NewEntry::new(Event::PasskeyAdded, subject.clone(), subject).ip(ip).detail(json!({"name": name})), now)
        .await
}

/// Renames one of the citizen's passkeys.
pub async fn rename_passkey(
    idp: &Idp,
    s: &SessionRow,
    cred_id: &str,
    name: &str,
    ip: &str,
    now: UnixTime,
) -> Result<()> {
    let name = clean_name(name, "Passkey");
    if !store::login::rename_credential(&idp.db, &s.account_id, cred_id, &name).await? {
        return Err(Error::NotFound("passkey".into()));
    }
    let subject = format!("account:{}", s.account_id);
    idp.audit(NewEntry::new(Event::PasskeyRenamed, subject.clone(), subject).ip(ip).detail(json!({"name": name})), now)
        .await
}

/// Removes one of the citizen's passkeys (never the last).
pub async fn remove_passkey(idp: &Idp, s: &SessionRow, cred_id: &str, ip: &str, now: UnixTime) -> Result<()> {
    store::login::delete_credential(&idp.db, &s.account_id, cred_id).await?;
    let subject = format!("account:{}", s.account_id);
    idp.audit(NewEntry::new(Event::PasskeyRemoved, subject.clone(), subject).ip(ip), now).await
}

/// Withdraws consent for a client; its refresh tokens stop working.
pub async fn revoke_consent(idp: &Idp, s: &SessionRow, client_id: &str, ip: &str, now: UnixTime) -> Result<()> {
    if !store::login::revoke_consent(&idp.db, &s.account_id, client_id, now).await? {
        return Err(Error::NotFound("consent".into()));
    }
    let subject = format!("account:{}", s.account_id);
    idp.audit(NewEntry::new(Event::ConsentRevoked, subject.clone(), subject).client(client_id).ip(ip), now).await
}
