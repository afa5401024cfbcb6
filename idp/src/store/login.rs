//! Storage of everything a login touches: authorization requests, sessions, passkeys and
//! their ceremonies, consents, grants, codes, refresh tokens, and rate-limit counters.
//!
//! Single-use things (PAR request URIs, ceremonies, codes, refresh tokens, activation codes)
//! are consumed with one conditional `UPDATE ... RETURNING` or `DELETE ... RETURNING`, so two
//! instances racing for the same one cannot both win.

use super::{Conn, Db, Row, is_unique_violation, query};
use crate::{
    domain::UnixTime,
    error::{Error, Result},
};

// ---- authorization requests ----

/// A stored authorization request.
#[derive(Clone, Debug)]
pub struct RequestRow {
    /// Client.
    pub client_id: String,
    /// Validated parameters (JSON of `AuthRequest`).
    pub params: String,
    /// Hash of the browser-binding cookie ("" for a pushed request not yet bound).
    pub browser: String,
}

/// Stores a request.
#[allow(clippy::too_many_arguments)]
pub async fn insert_request(
    db: &Db,
    id: &str,
    client_id: &str,
    params: &str,
    browser: &str,
    pushed: bool,
    now: UnixTime,
    expires_at: UnixTime,
) -> Result<()> {
    db.execute(
        query(
            "INSERT INTO auth_requests (id, client_id, params, browser, pushed, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(client_id)
        .bind(params)
        .bind(browser)
        .bind(i64::from(pushed))
        .bind(now)
        .bind(expires_at),
    )
    .await?;
    Ok(())
}

/// Consumes a pushed request (RFC 9126: single use, bound to the client that pushed it).
pub async fn take_pushed(db: &Db, id: &str, client_id: &str, now: UnixTime) -> Result<Option<String>> {
    let r = db
        .execute_returning(
            query(
                "UPDATE auth_requests SET used_at = $1 WHERE id = $2 AND client_id = $3 AND pushed = 1 AND used_at IS NULL AND expires_at > $1 RETURNING params",
            )
            .bind(now)
            .bind(id)
            .bind(client_id),
        )
        .await?;
    r.map(|r| r.try_get("params")).transpose()
}

/// An interactive request still in progress.
pub async fn get_request(db: &Db, id: &str, now: UnixTime) -> Result<Option<RequestRow>> {
    let r = query(
        "SELECT client_id, params, browser FROM auth_requests WHERE id = $1 AND pushed = 0 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(id)
    .bind(now)
    .fetch_optional(&mut db.reader().await?)
    .await?;
    r.map(|r| {
        Ok(RequestRow {
            client_id: r.try_get("client_id")?,
            params: r.try_get("params")?,
            browser: r.try_get("browser")?,
        })
    })
    .transpose()
}

/// Replaces a request's parameters (login and consent progress).
pub async fn update_request(db: &Db, id: &str, params: &str) -> Result<()> {
    db.execute(query("UPDATE auth_requests SET params = $1 WHERE id = $2 AND used_at IS NULL").bind(params).bind(id))
        .await?;
    Ok(())
}

/// Marks a request finished; false if it already was (a double submit).
pub async fn finish_request(db: &Db, id: &str, now: UnixTime) -> Result<bool> {
    let r = db
        .execute(query("UPDATE auth_requests SET used_at = $1 WHERE id = $2 AND used_at IS NULL").bind(now).bind(id))
        .await?;
    Ok(r.rows_affected() == 1)
}

// ---- accounts and activation ----

/// An account's state.
#[derive(Clone, Debug)]
pub struct AccountRow {
    /// Id.
    pub id: String,
    /// CID.
    pub cid: String,
    /// pending / active / closed.
    pub status: String,
    /// WebAuthn user handle (a UUID string).
    pub user_handle: String,
    /// Assurance of the identity proofing behind the account.
    pub assurance: String,
    /// When it was created.
    pub created_at: UnixTime,
}

fn account_row(r: &Row) -> Result<AccountRow> {
    Ok(AccountRow {
        id: r.try_get("id")?,
        cid: r.try_get("cid")?,
        status: r.try_get("status")?,
        user_handle: r.try_get("user_handle")?,
        assurance: r.try_get("assurance")?,
        created_at: r.try_get("created_at")?,
    })
}

/// An account by id.
pub async fn account(db: &Db, id: &str) -> Result<Option<AccountRow>> {
    let r = query("SELECT * FROM accounts WHERE id = $1").bind(id).fetch_optional(&mut db.reader().await?).await?;
    r.as_ref().map(account_row).transpose()
}

/// An account and the registry entry of its CID, in one read (token and userinfo requests
/// need both); `None` if either is missing.
pub async fn account_with_person(db: &Db, id: &str) -> Result<Option<(AccountRow, crate::domain::registry::Person)>> {
    let r = query(
        "SELECT a.id, a.cid, a.status, a.user_handle, a.assurance, a.created_at, p.given_name, p.middle_name, \
         p.family_name, p.date_of_birth, p.sex, p.dzongkhag, p.gewog, p.village, p.household_number, \
         p.status AS person_status FROM accounts a JOIN persons p ON p.cid = a.cid WHERE a.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut db.reader().await?)
    .await?;
    r.map(|r| Ok((account_row(&r)?, super::registry::person_row(&r, "person_status")?))).transpose()
}

/// An account by CID.
pub async fn account_by_cid(db: &Db, cid: &str) -> Result<Option<AccountRow>> {
    let r = query("SELECT * FROM accounts WHERE cid = $1").bind(cid).fetch_optional(&mut db.reader().await?).await?;
    r.as_ref().map(account_row).transpose()
}

/// An account by WebAuthn user handle.
pub async fn account_by_handle(db: &Db, handle: &str) -> Result<Option<AccountRow>> {
    let r = query("SELECT * FROM accounts WHERE user_handle = $1")
        .bind(handle)
        .fetch_optional(&mut db.reader().await?)
        .await?;
    r.as_ref().map(account_row).transpose()
}

/// The account an unused, unexpired activation code belongs to (without consuming it).
pub async fn code_account(db: &Db, code_hash: &str, now: UnixTime) -> Result<Option<String>> {
    let r =
        query("SELECT account_id FROM activation_codes WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2")
            .bind(code_hash)
            .bind(now)
            .fetch_optional(&mut db.reader().await?)
            .await?;
    r.map(|r| r.try_get("account_id")).transpose()
}

/// Redeems an activation code and stores the first passkey, in one transaction: the code is
/// consumed only if the passkey is stored, and a code can be redeemed once.
pub async fn activate(db: &Db, code_hash: &str, cred: &NewCredential<'_>, now: UnixTime) -> Result<bool> {
    let code_hash = code_hash.to_owned();
    let cred = cred.owned();
    db.write(move |mut c| {
        Box::pin(async move {
            let r = query(
                "UPDATE activation_codes SET used_at = $1 WHERE code_hash = $2 AND account_id = $3 AND used_at IS NULL AND expires_at > $1",
            )
            .bind(now)
            .bind(code_hash)
            .bind(&cred.account_id)
            .execute(&mut c)
            .await?;
            if r.rows_affected() != 1 {
                return Ok(false);
            }
            query("UPDATE accounts SET status = 'active', activated_at = $1 WHERE id = $2 AND status <> 'closed'")
                .bind(now)
                .bind(&cred.account_id)
                .execute(&mut c)
                .await?;
            insert_credential_in(&mut c, &cred, now).await?;
            Ok(true)
        })
    })
    .await
}

// ---- credentials ----

/// A passkey to store.
#[derive(Debug)]
pub struct NewCredential<'a> {
    /// Credential id (base64url).
    pub cred_id: &'a str,
    /// Owner.
    pub account_id: &'a str,
    /// webauthn-rs `Passkey` as JSON.
    pub passkey: &'a str,
    /// Display name.
    pub name: &'a str,
}

impl NewCredential<'_> {
    fn owned(&self) -> OwnedCredential {
        OwnedCredential {
            cred_id: self.cred_id.to_owned(),
            account_id: self.account_id.to_owned(),
            passkey: self.passkey.to_owned(),
            name: self.name.to_owned(),
        }
    }
}

/// A [`NewCredential`] that can travel to the writer.
struct OwnedCredential {
    cred_id: String,
    account_id: String,
    passkey: String,
    name: String,
}

async fn insert_credential_in(conn: &mut Conn<'_>, c: &OwnedCredential, now: UnixTime) -> Result<()> {
    query("INSERT INTO credentials (cred_id, account_id, passkey, name, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&c.cred_id)
        .bind(&c.account_id)
        .bind(&c.passkey)
        .bind(&c.name)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) { Error::Invalid("this passkey is already registered".into()) } else { e }
        })?;
    Ok(())
}

/// Stores an additional passkey.
pub async fn insert_credential(db: &Db, c: &NewCredential<'_>, now: UnixTime) -> Result<()> {
    let c = c.owned();
    db.write(move |mut conn| Box::pin(async move { insert_credential_in(&mut conn, &c, now).await })).await
}

/// A stored passkey.
#[derive(Clone, Debug)]
pub struct CredentialRow {
    /// Credential id.
    pub cred_id: String,
    /// Owner.
    pub account_id: String,
    /// `Passkey` JSON.
    pub passkey: String,
    /// Display name.
    pub name: String,
    /// Registered.
    pub created_at: UnixTime,
    /// Last used to log in.
    pub last_used_at: Option<UnixTime>,
}

fn cred_row(r: &Row) -> Result<CredentialRow> {
    Ok(CredentialRow {
        cred_id: r.try_get("cred_id")?,
        account_id: r.try_get("account_id")?,
        passkey: r.try_get("passkey")?,
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
    })
}

/// An account's passkeys, oldest first.
pub async fn credentials_of(db: &Db, account_id: &str) -> Result<Vec<CredentialRow>> {
    let rows = query("SELECT * FROM credentials WHERE account_id = $1 ORDER BY created_at, cred_id")
        .bind(account_id)
        .fetch_all(&mut db.reader().await?)
        .await?;
    rows.iter().map(cred_row).collect()
}

/// One passkey.
pub async fn credential(db: &Db, cred_id: &str) -> Result<Option<CredentialRow>> {
    let r = query("SELECT * FROM credentials WHERE cred_id = $1")
        .bind(cred_id)
        .fetch_optional(&mut db.reader().await?)
        .await?;
    r.as_ref().map(cred_row).transpose()
}

/// Saves a passkey's updated counter/state after a login.
pub async fn touch_credential(db: &Db, cred_id: &str, passkey: Option<&str>, now: UnixTime) -> Result<()> {
    let q = match passkey {
        Some(p) => query("UPDATE credentials SET passkey = $1, last_used_at = $2 WHERE cred_id = $3")
            .bind(p)
            .bind(now)
            .bind(cred_id),
        None => query("UPDATE credentials SET last_used_at = $1 WHERE cred_id = $2").bind(now).bind(cred_id),
    };
    db.execute(q).await?;
    Ok(())
}

/// Renames a passkey of the account.
pub async fn rename_credential(db: &Db, account_id: &str, cred_id: &str, name: &str) -> Result<bool> {
    let r = db
        .execute(
            query("UPDATE credentials SET name = $1 WHERE cred_id = $2 AND account_id = $3")
                .bind(name)
                .bind(cred_id)
                .bind(account_id),
        )
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Removes a passkey of the account, unless it is the last one (the citizen would be locked
/// out until re-verified at a centre).
pub async fn delete_credential(db: &Db, account_id: &str, cred_id: &str) -> Result<()> {
    let r = db
        .execute(
            query(
                "DELETE FROM credentials WHERE cred_id = $1 AND account_id = $2 \
                 AND (SELECT COUNT(*) FROM credentials WHERE account_id = $2) > 1",
            )
            .bind(cred_id)
            .bind(account_id),
        )
        .await?;
    if r.rows_affected() == 1 {
        Ok(())
    } else {
        Err(Error::Invalid("that passkey cannot be removed (it is your only one, or not yours)".into()))
    }
}

// ---- ceremonies ----

/// Stores a WebAuthn ceremony's server state.
#[allow(clippy::too_many_arguments)]
pub async fn put_ceremony(
    db: &Db,
    id: &str,
    kind: &str,
    state: &str,
    account_id: Option<&str>,
    context: &str,
    now: UnixTime,
    expires_at: UnixTime,
) -> Result<()> {
    db.execute(
        query("INSERT INTO ceremonies (id, kind, state, account_id, context, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(id)
            .bind(kind)
            .bind(state)
            .bind(account_id)
            .bind(context)
            .bind(now)
            .bind(expires_at),
    )
    .await?;
    Ok(())
}

/// A consumed ceremony.
#[derive(Debug)]
pub struct Ceremony {
    /// Its kind (one of those asked for).
    pub kind: String,
    /// The WebAuthn server state (JSON).
    pub state: String,
    /// The account it was started for, if any.
    pub account_id: Option<String>,
    /// What else it is bound to (activation-code hash, session id, ...).
    pub context: String,
}

/// Consumes a ceremony of one of `kinds` (single use); expired ones are not returned.
pub async fn take_ceremony(db: &Db, id: &str, kinds: &[&str], now: UnixTime) -> Result<Option<Ceremony>> {
    let r = db
        .execute_returning(
            query("DELETE FROM ceremonies WHERE id = $1 RETURNING kind, state, account_id, context, expires_at")
                .bind(id),
        )
        .await?;
    let Some(r) = r else { return Ok(None) };
    let exp: i64 = r.try_get("expires_at")?;
    let kind: String = r.try_get("kind")?;
    // A ceremony of another kind is consumed too: it was presented where it does not belong,
    // and must not be usable afterwards either.
    if exp <= now || !kinds.contains(&kind.as_str()) {
        return Ok(None);
    }
    Ok(Some(Ceremony {
        kind,
        state: r.try_get("state")?,
        account_id: r.try_get("account_id")?,
        context: r.try_get("context")?,
    }))
}

// ---- sessions ----

/// A live session.
#[derive(Clone, Debug)]
pub struct SessionRow {
    /// Public session id (the `sid` claim).
    pub sid: String,
    /// Account.
    pub account_id: String,
    /// Authentication time.
    pub auth_time: UnixTime,
    /// Assurance.
    pub acr: String,
    /// Methods (JSON array).
    pub amr: String,
}

/// Creates a session.
#[allow(clippy::too_many_arguments)]
pub async fn create_session(
    db: &Db,
    id_hash: &str,
    sid: &str,
    account_id: &str,
    acr: &str,
    amr: &str,
    now: UnixTime,
    expires_at: UnixTime,
) -> Result<()> {
    db.execute(
        query(
            "INSERT INTO sessions (id_hash, sid, account_id, auth_time, acr, amr, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $4, $7)",
        )
        .bind(id_hash)
        .bind(sid)
        .bind(account_id)
        .bind(now)
        .bind(acr)
        .bind(amr)
        .bind(expires_at),
    )
    .await?;
    Ok(())
}

/// The live session with this cookie hash, if its account is still active.
pub async fn session(db: &Db, id_hash: &str, now: UnixTime) -> Result<Option<SessionRow>> {
    let r = query(
        "SELECT s.sid, s.account_id, s.auth_time, s.acr, s.amr FROM sessions s JOIN accounts a ON a.id = s.account_id \
         WHERE s.id_hash = $1 AND s.ended_at IS NULL AND s.expires_at > $2 AND a.status = 'active'",
    )
    .bind(id_hash)
    .bind(now)
    .fetch_optional(&mut db.reader().await?)
    .await?;
    r.map(|r| {
        Ok(SessionRow {
            sid: r.try_get("sid")?,
            account_id: r.try_get("account_id")?,
            auth_time: r.try_get("auth_time")?,
            acr: r.try_get("acr")?,
            amr: r.try_get("amr")?,
        })
    })
    .transpose()
}

/// Ends a session; true if it was live.
pub async fn end_session(db: &Db, sid: &str, now: UnixTime) -> Result<bool> {
    let r = db
        .execute(query("UPDATE sessions SET ended_at = $1 WHERE sid = $2 AND ended_at IS NULL").bind(now).bind(sid))
        .await?;
    Ok(r.rows_affected() == 1)
}

// ---- consents ----

/// A remembered consent: (scope, claims JSON array, granted_at).
#[derive(Clone, Debug)]
pub struct ConsentRow {
    /// Client.
    pub client_id: String,
    /// Granted scope.
    pub scope: String,
    /// Granted claim names (JSON array).
    pub claims: String,
    /// When.
    pub granted_at: UnixTime,
}

/// The consent of an account for a client.
pub async fn consent(db: &Db, account_id: &str, client_id: &str) -> Result<Option<ConsentRow>> {
    let r = query("SELECT client_id, scope, claims, granted_at FROM consents WHERE account_id = $1 AND client_id = $2")
        .bind(account_id)
        .bind(client_id)
        .fetch_optional(&mut db.reader().await?)
        .await?;
    r.map(|r| {
        Ok(ConsentRow {
            client_id: r.try_get("client_id")?,
            scope: r.try_get("scope")?,
            claims: r.try_get("claims")?,
            granted_at: r.try_get("granted_at")?,
        })
    })
    .transpose()
}

/// Every consent of an account.
pub async fn consents_of(db: &Db, account_id: &str) -> Result<Vec<ConsentRow>> {
    let rows =
        query("SELECT client_id, scope, claims, granted_at FROM consents WHERE account_id = $1 ORDER BY client_id")
            .bind(account_id)
            .fetch_all(&mut db.reader().await?)
            .await?;
    rows.iter()
        .map(|r| {
            Ok(ConsentRow {
                client_id: r.try_get("client_id")?,
                scope: r.try_get("scope")?,
                claims: r.try_get("claims")?,
                granted_at: r.try_get("granted_at")?,
            })
        })
        .collect()
}

/// Records (or widens) a consent.
pub async fn put_consent(
    db: &Db,
    account_id: &str,
    client_id: &str,
    scope: &str,
    claims: &str,
    now: UnixTime,
) -> Result<()> {
    db.execute(
        query(
            "INSERT INTO consents (account_id, client_id, scope, claims, granted_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (account_id, client_id) DO UPDATE SET scope = excluded.scope, claims = excluded.claims, granted_at = excluded.granted_at",
        )
        .bind(account_id)
        .bind(client_id)
        .bind(scope)
        .bind(claims)
        .bind(now),
    )
    .await?;
    Ok(())
}

/// Withdraws a consent and revokes every grant (refresh-token family) of that client for the
/// account, in one transaction. True if there was a consent.
pub async fn revoke_consent(db: &Db, account_id: &str, client_id: &str, now: UnixTime) -> Result<bool> {
    let (account_id, client_id) = (account_id.to_owned(), client_id.to_owned());
    db.write(move |mut c| {
        Box::pin(async move {
            let r = query("DELETE FROM consents WHERE account_id = $1 AND client_id = $2")
                .bind(&account_id)
                .bind(&client_id)
                .execute(&mut c)
                .await?;
            query("UPDATE grants SET revoked_at = $1 WHERE account_id = $2 AND client_id = $3 AND revoked_at IS NULL")
                .bind(now)
                .bind(&account_id)
                .bind(&client_id)
                .execute(&mut c)
                .await?;
            Ok(r.rows_affected() == 1)
        })
    })
    .await
}

// ---- grants, codes, refresh tokens ----

/// A grant: one authorization of a client by a citizen; the family of its refresh tokens.
#[derive(Clone, Debug)]
pub struct GrantRow {
    /// Id (also the `grant_id` claim of its access tokens).
    pub id: String,
    /// Account.
    pub account_id: String,
    /// Client.
    pub client_id: String,
    /// Session it came from.
    pub session_sid: String,
    /// Granted scope.
    pub scope: String,
    /// Granted claim names and request details (JSON).
    pub claims: String,
    /// Authentication time.
    pub auth_time: UnixTime,
    /// Assurance.
    pub acr: String,
    /// Methods (JSON array).
    pub amr: String,
    /// End of the family's life.
    pub expires_at: UnixTime,
    /// Revoked.
    pub revoked_at: Option<UnixTime>,
}

fn grant_row(r: &Row) -> Result<GrantRow> {
    Ok(GrantRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        client_id: r.try_get("client_id")?,
        session_sid: r.try_get("session_sid")?,
        scope: r.try_get("scope")?,
        claims: r.try_get("claims")?,
        auth_time: r.try_get("auth_time")?,
        acr: r.try_get("acr")?,
        amr: r.try_get("amr")?,
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

/// A code to store with its grant.
#[derive(Debug)]
pub struct NewCode<'a> {
    /// SHA-256 of the code.
    pub code_hash: &'a str,
    /// The redirect URI it was issued to.
    pub redirect_uri: &'a str,
    /// PKCE challenge.
    pub code_challenge: &'a str,
    /// Nonce for the ID token.
    pub nonce: Option<&'a str>,
    /// Expiry.
    pub expires_at: UnixTime,
}

/// Marks request `request_id` finished and stores a grant and the code that will activate it,
/// in one transaction; false (and nothing stored) if the request was already finished.
pub async fn finish_with_code(db: &Db, request_id: &str, g: &GrantRow, c: &NewCode<'_>, now: UnixTime) -> Result<bool> {
    let request_id = request_id.to_owned();
    let g = g.clone();
    let (code_hash, redirect_uri, code_challenge, nonce, code_expires) = (
        c.code_hash.to_owned(),
        c.redirect_uri.to_owned(),
        c.code_challenge.to_owned(),
        c.nonce.map(str::to_owned),
        c.expires_at,
    );
    db.write(move |mut c| {
        Box::pin(async move {
            let finished = query("UPDATE auth_requests SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
                .bind(now)
                .bind(request_id)
                .execute(&mut c)
                .await?;
            if finished.rows_affected() != 1 {
                return Ok(false);
            }
            query(
                "INSERT INTO grants (id, account_id, client_id, session_sid, scope, claims, auth_time, acr, amr, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(&g.id)
            .bind(&g.account_id)
            .bind(&g.client_id)
            .bind(&g.session_sid)
            .bind(&g.scope)
            .bind(&g.claims)
            .bind(g.auth_time)
            .bind(&g.acr)
            .bind(&g.amr)
            .bind(now)
            .bind(g.expires_at)
            .execute(&mut c)
            .await?;
            query(
                "INSERT INTO codes (code_hash, grant_id, redirect_uri, code_challenge, nonce, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(code_hash)
            .bind(&g.id)
            .bind(redirect_uri)
            .bind(code_challenge)
            .bind(nonce)
            .bind(now)
            .bind(code_expires)
            .execute(&mut c)
            .await?;
            Ok(true)
        })
    })
    .await
}

/// A redeemed code.
#[derive(Debug)]
pub struct CodeRow {
    /// Its grant.
    pub grant: GrantRow,
    /// Redirect URI it was issued to.
    pub redirect_uri: String,
    /// PKCE challenge.
    pub code_challenge: String,
    /// Nonce.
    pub nonce: Option<String>,
    /// Expiry.
    pub expires_at: UnixTime,
}

/// The outcome of presenting a code.
#[derive(Debug)]
pub enum Redeem {
    /// First use.
    Fresh(Box<CodeRow>),
    /// Already used: the grant it belongs to (to be revoked).
    Replayed(String),
    /// No such code.
    Unknown,
}

/// Marks a code used and returns it; tells a replay apart from an unknown code.
pub async fn redeem_code(db: &Db, code_hash: &str, now: UnixTime) -> Result<Redeem> {
    let code_hash = code_hash.to_owned();
    db.write(move |mut c| {
        Box::pin(async move {
            let r = query(
                "UPDATE codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL RETURNING grant_id, redirect_uri, code_challenge, nonce, expires_at",
            )
            .bind(now)
            .bind(&code_hash)
            .fetch_optional(&mut c)
            .await?;
            let Some(r) = r else {
                let g = query("SELECT grant_id FROM codes WHERE code_hash = $1")
                    .bind(&code_hash)
                    .fetch_optional(&mut c)
                    .await?;
                return Ok(match g {
                    Some(g) => Redeem::Replayed(g.try_get("grant_id")?),
                    None => Redeem::Unknown,
                });
            };
            let grant_id: String = r.try_get("grant_id")?;
            let grant = grant_in(&mut c, &grant_id).await?.ok_or_else(|| Error::internal("code without grant"))?;
            Ok(Redeem::Fresh(Box::new(CodeRow {
                grant,
                redirect_uri: r.try_get("redirect_uri")?,
                code_challenge: r.try_get("code_challenge")?,
                nonce: r.try_get("nonce")?,
                expires_at: r.try_get("expires_at")?,
            })))
        })
    })
    .await
}

/// A grant by id.
pub async fn grant(db: &Db, id: &str) -> Result<Option<GrantRow>> {
    let r = query("SELECT * FROM grants WHERE id = $1").bind(id).fetch_optional(&mut db.reader().await?).await?;
    r.as_ref().map(grant_row).transpose()
}

/// A grant by id, read inside a write.
async fn grant_in(conn: &mut Conn<'_>, id: &str) -> Result<Option<GrantRow>> {
    let r = query("SELECT * FROM grants WHERE id = $1").bind(id).fetch_optional(&mut *conn).await?;
    r.as_ref().map(grant_row).transpose()
}

/// True when the grant exists, is not revoked and has not expired.
pub async fn grant_active(db: &Db, id: &str, now: UnixTime) -> Result<bool> {
    Ok(query("SELECT 1 FROM grants WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2")
        .bind(id)
        .bind(now)
        .fetch_optional(&mut db.reader().await?)
        .await?
        .is_some())
}

/// Revokes a grant (all its refresh tokens and, through introspection, its access tokens).
pub async fn revoke_grant(db: &Db, id: &str, now: UnixTime) -> Result<bool> {
    let r = db
        .execute(query("UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL").bind(now).bind(id))
        .await?;
    Ok(r.rows_affected() == 1)
}

/// The live grants that came from a session: (grant id, client id, account id).
pub async fn grants_of_session(db: &Db, sid: &str) -> Result<Vec<(String, String, String)>> {
    let rows = query("SELECT id, client_id, account_id FROM grants WHERE session_sid = $1 AND revoked_at IS NULL")
        .bind(sid)
        .fetch_all(&mut db.reader().await?)
        .await?;
    rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("client_id")?, r.try_get("account_id")?))).collect()
}

/// Stores a refresh token.
pub async fn insert_refresh(
    db: &Db,
    token_hash: &str,
    grant_id: &str,
    now: UnixTime,
    expires_at: UnixTime,
) -> Result<()> {
    db.execute(
        query("INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(grant_id)
            .bind(now)
            .bind(expires_at),
    )
    .await?;
    Ok(())
}

/// The outcome of presenting a refresh token.
#[derive(Debug)]
pub enum Refresh {
    /// Valid and now consumed: its grant.
    Fresh(GrantRow),
    /// Already used: a stolen copy or a replay; the grant it belongs to.
    Reused(String),
    /// Unknown or expired.
    Unknown,
}

/// Consumes a refresh token (rotation).
pub async fn use_refresh(db: &Db, token_hash: &str, now: UnixTime) -> Result<Refresh> {
    let token_hash = token_hash.to_owned();
    db.write(move |mut c| {
        Box::pin(async move {
            let r = query("UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING grant_id")
                .bind(now)
                .bind(&token_hash)
                .fetch_optional(&mut c)
                .await?;
            match r {
                Some(r) => {
                    let id: String = r.try_get("grant_id")?;
                    Ok(match grant_in(&mut c, &id).await? {
                        Some(g) => Refresh::Fresh(g),
                        None => Refresh::Unknown,
                    })
                }
                None => {
                    let used = query("SELECT grant_id, used_at FROM refresh_tokens WHERE token_hash = $1")
                        .bind(&token_hash)
                        .fetch_optional(&mut c)
                        .await?;
                    Ok(match used {
                        Some(u) if u.try_get::<Option<i64>>("used_at")?.is_some() => {
                            Refresh::Reused(u.try_get("grant_id")?)
                        }
                        _ => Refresh::Unknown,
                    })
                }
            }
        })
    })
    .await
}

/// The grant of a refresh token without consuming it (introspection, revocation).
pub async fn refresh_grant(db: &Db, token_hash: &str, now: UnixTime) -> Result<Option<(GrantRow, UnixTime)>> {
    let r = query(
        "SELECT grant_id, expires_at FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&mut db.reader().await?)
    .await?;
    let Some(r) = r else { return Ok(None) };
    let id: String = r.try_get("grant_id")?;
    let exp: i64 = r.try_get("expires_at")?;
    Ok(grant(db, &id).await?.map(|g| (g, exp)))
}

// ---- rate limits ----

/// Counts a hit in a fixed window of `window` seconds for `bucket`; returns the count in the
/// current window and the seconds until it ends. Shared by every instance.
pub async fn hit(db: &Db, bucket: &str, window: i64, now: UnixTime) -> Result<(i64, i64)> {
    let start = now - now.rem_euclid(window);
    let r = db
        .execute_returning(
            query(
                "INSERT INTO rate_limits (bucket, window_start, count) VALUES ($1, $2, 1) \
                 ON CONFLICT (bucket) DO UPDATE SET count = CASE WHEN rate_limits.window_start = excluded.window_start THEN rate_limits.count + 1 ELSE 1 END, \
                 window_start = excluded.window_start RETURNING count",
            )
            .bind(bucket)
            .bind(start),
        )
        .await?
        .ok_or_else(|| Error::internal("rate-limit upsert returned no row"))?;
    Ok((r.try_get("count")?, start + window - now))
}

/// Deletes expired rows of the login tables.
pub async fn purge(db: &Db, now: UnixTime) -> Result<u64> {
    db.write(move |mut c| {
        Box::pin(async move {
            let mut n = 0;
            for q in [
                "DELETE FROM auth_requests WHERE expires_at < $1",
                "DELETE FROM ceremonies WHERE expires_at < $1",
                "DELETE FROM rate_limits WHERE window_start < $1 - 3600",
            ] {
                n += query(q).bind(now).execute(&mut c).await?.rows_affected();
            }
            Ok(n)
        })
    })
    .await
}
