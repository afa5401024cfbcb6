//! Registered clients.

use super::{Db, Row, is_unique_violation, query};
use crate::{
    domain::{
        UnixTime,
        client::{Client, ClientId, ClientMetadata},
    },
    error::{Error, Result},
};

fn row_to_client(r: &Row) -> Result<Client> {
    let id: String = r.try_get("client_id")?;
    let meta: String = r.try_get("metadata")?;
    Ok(Client {
        client_id: ClientId::parse(&id)?,
        metadata: serde_json::from_str::<ClientMetadata>(&meta)
            .map_err(|e| Error::internal(format!("stored metadata of client {id} is unreadable: {e}")))?,
        secret_hash: r.try_get("secret_hash")?,
    })
}

/// Inserts a new client; fails if the id is taken.
pub async fn insert(db: &Db, c: &Client, now: UnixTime) -> Result<()> {
    let meta = serde_json::to_string(&c.metadata).map_err(|e| Error::internal(e.to_string()))?;
    db.execute(
        query(
            "INSERT INTO clients (client_id, secret_hash, metadata, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(c.client_id.as_str())
        .bind(c.secret_hash.clone())
        .bind(meta)
        .bind(now),
    )
    .await
    .map_err(|e| {
        if is_unique_violation(&e) { Error::Invalid(format!("client_id {} is already registered", c.client_id)) } else { e }
    })?;
    Ok(())
}

/// Replaces a client's secret hash.
pub async fn set_secret_hash(db: &Db, id: &ClientId, hash: &str, now: UnixTime) -> Result<bool> {
    let r = db
        .execute(
            query("UPDATE clients SET secret_hash = $1, updated_at = $2 WHERE client_id = $3")
                .bind(hash)
                .bind(now)
                .bind(id.as_str()),
        )
        .await?;
    Ok(r.rows_affected() == 1)
}

/// One client.
pub async fn get(db: &Db, id: &str) -> Result<Option<Client>> {
    let r = query("SELECT client_id, secret_hash, metadata FROM clients WHERE client_id = $1")
        .bind(id)
        .fetch_optional(&mut db.reader().await?)
        .await?;
    r.as_ref().map(row_to_client).transpose()
}

/// Every client, by id.
pub async fn list(db: &Db) -> Result<Vec<Client>> {
    let rows = query("SELECT client_id, secret_hash, metadata FROM clients ORDER BY client_id")
        .fetch_all(&mut db.reader().await?)
        .await?;
    rows.iter().map(row_to_client).collect()
}

/// Removes a client; true if it existed.
pub async fn remove(db: &Db, id: &str) -> Result<bool> {
    let r = db.execute(query("DELETE FROM clients WHERE client_id = $1").bind(id)).await?;
    Ok(r.rows_affected() == 1)
}
