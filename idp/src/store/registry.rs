//! The civil registry and digital-ID accounts.

use super::{Db, Row, query};
use crate::{
    domain::{UnixTime, cid::Cid, registry::Person},
    error::{Error, Result},
};

/// What an import changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportStats {
    /// Rows in the file.
    pub rows: u64,
    /// Persons added or whose record changed.
    pub written: u64,
    /// Persons already recorded exactly so.
    pub unchanged: u64,
}

/// Upserts every person in one transaction: all or nothing, and re-running the same file
/// changes nothing. `progress` is called every 10,000 rows.
///
/// A bulk operator job of the CLI, so it takes a pool connection of its own rather than going
/// through the request writer (it must report progress as it goes, and would hold the writer for
/// its whole length); SQLite's lock serialises it with a running server's writes.
pub async fn import(db: &Db, people: &[Person], now: UnixTime, progress: &mut dyn FnMut(u64)) -> Result<ImportStats> {
    let mut tx = db.pool().begin().await?;
    let mut stats = ImportStats { rows: people.len() as u64, ..Default::default() };
    for (i, p) in people.iter().enumerate() {
        let r = sqlx::query(
            "INSERT INTO persons (cid, given_name, middle_name, family_name, date_of_birth, sex, dzongkhag, gewog, village, household_number, status, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (cid) DO UPDATE SET given_name = excluded.given_name, middle_name = excluded.middle_name, \
               family_name = excluded.family_name, date_of_birth = excluded.date_of_birth, sex = excluded.sex, \
               dzongkhag = excluded.dzongkhag, gewog = excluded.gewog, village = excluded.village, \
               household_number = excluded.household_number, status = excluded.status, updated_at = excluded.updated_at \
             WHERE persons.given_name <> excluded.given_name OR persons.middle_name <> excluded.middle_name \
               OR persons.family_name <> excluded.family_name OR persons.date_of_birth <> excluded.date_of_birth \
               OR persons.sex <> excluded.sex OR persons.dzongkhag <> excluded.dzongkhag OR persons.gewog <> excluded.gewog \
               OR persons.village <> excluded.village OR persons.household_number <> excluded.household_number \
               OR persons.status <> excluded.status",
        )
        .bind(p.cid.as_str())
        .bind(&p.given_name)
        .bind(&p.middle_name)
        .bind(&p.family_name)
        .bind(&p.date_of_birth)
        .bind(&p.sex)
        .bind(&p.dzongkhag)
        .bind(&p.gewog)
        .bind(&p.village)
        .bind(&p.household_number)
        .bind(&p.status)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() > 0 {
            stats.written += 1;
        } else {
            stats.unchanged += 1;
        }
        if (i + 1) % 10_000 == 0 {
            progress((i + 1) as u64);
        }
    }
    tx.commit().await?;
    Ok(stats)
}

/// A person by CID.
pub async fn person(db: &Db, cid: &Cid) -> Result<Option<Person>> {
    let r = query("SELECT * FROM persons WHERE cid = $1")
        .bind(cid.as_str())
        .fetch_optional(&mut db.reader().await?)
        .await?;
    r.map(|r| person_row(&r, "status")).transpose()
}

/// A person from a row with the `persons` columns; `status` names the column holding the
/// person's status (a join renames it).
pub(crate) fn person_row(r: &Row, status: &str) -> Result<Person> {
    Ok(Person {
        cid: Cid::parse(&r.try_get::<String>("cid")?).map_err(|e| Error::internal(e.to_string()))?,
        given_name: r.try_get("given_name")?,
        middle_name: r.try_get("middle_name")?,
        family_name: r.try_get("family_name")?,
        date_of_birth: r.try_get("date_of_birth")?,
        sex: r.try_get("sex")?,
        dzongkhag: r.try_get("dzongkhag")?,
        gewog: r.try_get("gewog")?,
        village: r.try_get("village")?,
        household_number: r.try_get("household_number")?,
        status: r.try_get(status)?,
    })
}

/// A digital-ID account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Internal id (never shown to clients; `sub` is derived from it per sector).
    pub id: String,
    /// The registry person.
    pub cid: Cid,
    /// `pending` (issued, not activated), `active` or `closed`.
    pub status: String,
    /// WebAuthn user handle (random, not the CID).
    pub user_handle: String,
    /// Created.
    pub created_at: UnixTime,
}

fn row_to_account(r: &Row) -> Result<Account> {
    Ok(Account {
        id: r.try_get("id")?,
        cid: Cid::parse(&r.try_get::<String>("cid")?).map_err(|e| Error::internal(e.to_string()))?,
        status: r.try_get("status")?,
        user_handle: r.try_get("user_handle")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Creates an account (if the CID has none) and stores a new activation code hash; previous
/// unused codes of the account stop working. Returns the account. One transaction.
pub async fn issue(
    db: &Db,
    new_account: &Account,
    code_hash: &str,
    now: UnixTime,
    expires_at: UnixTime,
) -> Result<Account> {
    let (new_account, code_hash) = (new_account.clone(), code_hash.to_owned());
    db.write(move |mut tx| {
        Box::pin(async move {
            query(
                "INSERT INTO accounts (id, cid, status, user_handle, created_at) VALUES ($1, $2, 'pending', $3, $4) \
         ON CONFLICT (cid) DO NOTHING",
            )
            .bind(&new_account.id)
            .bind(new_account.cid.as_str())
            .bind(&new_account.user_handle)
            .bind(now)
            .execute(&mut tx)
            .await?;
            let row = query("SELECT * FROM accounts WHERE cid = $1")
                .bind(new_account.cid.as_str())
                .fetch_one(&mut tx)
                .await?;
            let account = row_to_account(&row)?;
            if account.status == "closed" {
                return Err(Error::Invalid("this digital ID is closed; it cannot be re-issued".into()));
            }
            query("UPDATE activation_codes SET used_at = $1 WHERE account_id = $2 AND used_at IS NULL")
                .bind(now)
                .bind(&account.id)
                .execute(&mut tx)
                .await?;
            query(
                "INSERT INTO activation_codes (code_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(code_hash)
            .bind(&account.id)
            .bind(now)
            .bind(expires_at)
            .execute(&mut tx)
            .await?;
            Ok(account)
        })
    })
    .await
}

/// Closes an account: its sessions end and its grants (refresh-token families) are revoked in
/// the same transaction, so nothing it opened keeps working. `false` if it was already closed.
pub async fn close_account(db: &Db, account_id: &str, now: UnixTime) -> Result<bool> {
    let account_id = account_id.to_owned();
    db.write(move |mut tx| {
        Box::pin(async move {
            let done = query("UPDATE accounts SET status = 'closed' WHERE id = $1 AND status <> 'closed'")
                .bind(&account_id)
                .execute(&mut tx)
                .await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            query("UPDATE sessions SET ended_at = $1 WHERE account_id = $2 AND ended_at IS NULL")
                .bind(now)
                .bind(&account_id)
                .execute(&mut tx)
                .await?;
            query("UPDATE grants SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(&account_id)
                .execute(&mut tx)
                .await?;
            Ok(true)
        })
    })
    .await
}

/// CIDs whose person the registry records as deceased while their digital ID is still open.
pub async fn deceased_with_open_accounts(db: &Db) -> Result<Vec<String>> {
    let rows = query(
        "SELECT a.cid FROM accounts a JOIN persons p ON p.cid = a.cid \
         WHERE p.status = 'deceased' AND a.status <> 'closed' ORDER BY a.cid",
    )
    .fetch_all(&mut db.reader().await?)
    .await?;
    rows.iter().map(|r| r.try_get("cid")).collect()
}

/// Re-verification at a centre: every passkey of the account is removed and its sessions end,
/// and it waits for activation with a new code (issued by [`issue`] after this), in one
/// transaction. `false` if the account is closed or unknown.
pub async fn reset_passkeys(db: &Db, account_id: &str, now: UnixTime) -> Result<bool> {
    let account_id = account_id.to_owned();
    db.write(move |mut tx| {
        Box::pin(async move {
            let done = query("UPDATE accounts SET status = 'pending' WHERE id = $1 AND status <> 'closed'")
                .bind(&account_id)
                .execute(&mut tx)
                .await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            query("DELETE FROM credentials WHERE account_id = $1").bind(&account_id).execute(&mut tx).await?;
            query("UPDATE sessions SET ended_at = $1 WHERE account_id = $2 AND ended_at IS NULL")
                .bind(now)
                .bind(&account_id)
                .execute(&mut tx)
                .await?;
            Ok(true)
        })
    })
    .await
}
