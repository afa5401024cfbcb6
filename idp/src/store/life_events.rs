//! Births and deaths recorded through the registry API.

use super::{Db, query};
use crate::{
    domain::{UnixTime, registry::Person},
    error::Result,
};

/// The CID an earlier call with this reference recorded, if any, with its kind.
pub async fn by_reference(db: &Db, client_id: &str, reference: &str) -> Result<Option<(String, String)>> {
    let r = query("SELECT kind, cid FROM life_events WHERE client_id = $1 AND reference = $2")
        .bind(client_id)
        .bind(reference)
        .fetch_optional(&mut db.reader().await?)
        .await?;
    Ok(match r {
        Some(r) => Some((r.try_get("kind")?, r.try_get("cid")?)),
        None => None,
    })
}

/// Records a birth: the person (whose CID the caller drew) and the event, in one transaction.
/// `Ok(false)` when the CID is taken (draw another), nothing written then; an existing
/// reference is the caller's to check first (the primary key refuses a second one).
pub async fn insert_birth(db: &Db, client_id: &str, reference: &str, p: &Person, now: UnixTime) -> Result<bool> {
    let (client_id, reference, p) = (client_id.to_owned(), reference.to_owned(), p.clone());
    db.write(move |mut tx| {
        Box::pin(async move {
            if query("SELECT 1 FROM persons WHERE cid = $1").bind(p.cid.as_str()).fetch_optional(&mut tx).await?.is_some()
            {
                return Ok(false);
            }
            query(
                "INSERT INTO persons (cid, given_name, middle_name, family_name, date_of_birth, sex, dzongkhag, gewog, village, household_number, status, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
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
            .execute(&mut tx)
            .await?;
            query("INSERT INTO life_events (client_id, reference, kind, cid, created_at) VALUES ($1, $2, 'birth', $3, $4)")
                .bind(&client_id)
                .bind(&reference)
                .bind(p.cid.as_str())
                .bind(now)
                .execute(&mut tx)
                .await?;
            Ok(true)
        })
    })
    .await
}

/// Records a death: the person's status and the event, in one transaction. `Ok(false)` if the
/// registry already records the person as deceased (nothing written).
pub async fn insert_death(db: &Db, client_id: &str, reference: &str, cid: &str, now: UnixTime) -> Result<bool> {
    let (client_id, reference, cid) = (client_id.to_owned(), reference.to_owned(), cid.to_owned());
    db.write(move |mut tx| {
        Box::pin(async move {
            let done = query("UPDATE persons SET status = 'deceased', updated_at = $1 WHERE cid = $2 AND status <> 'deceased'")
                .bind(now)
                .bind(&cid)
                .execute(&mut tx)
                .await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            query("INSERT INTO life_events (client_id, reference, kind, cid, created_at) VALUES ($1, $2, 'death', $3, $4)")
                .bind(&client_id)
                .bind(&reference)
                .bind(&cid)
                .bind(now)
                .execute(&mut tx)
                .await?;
            Ok(true)
        })
    })
    .await
}
