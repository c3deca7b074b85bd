//! Password-reset requests: queued by the public route with the same single
//! insert whether or not the address has an account (no fishing for
//! accounts), and turned into e-mails by the worker.

use sqlx::{AnyConnection, Row};

use crate::clock::new_id;
use crate::error::ApiError;

/// Queues a request for `email`.
pub(crate) async fn queue(conn: &mut AnyConnection, email: &str, now: i64) -> Result<(), ApiError> {
    sqlx::query("INSERT INTO reset_requests (id, email, requested_ms) VALUES ($1, $2, $3)")
        .bind(new_id())
        .bind(email)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// The oldest queued requests, at most `limit`.
pub(crate) async fn oldest(conn: &mut AnyConnection, limit: i64) -> Result<Vec<String>, ApiError> {
    sqlx::query("SELECT id FROM reset_requests ORDER BY requested_ms LIMIT $1")
        .bind(limit)
        .fetch_all(conn)
        .await?
        .iter()
        .map(|r| r.try_get("id").map_err(Into::into))
        .collect()
}

/// Takes a request out, once: its address, or `None` if another worker
/// took it.
pub(crate) async fn take(conn: &mut AnyConnection, id: &str) -> Result<Option<String>, ApiError> {
    let row = sqlx::query("DELETE FROM reset_requests WHERE id = $1 RETURNING email")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| r.try_get("email")).transpose()?)
}

/// Forgets every request for an address (the account is erased).
pub(crate) async fn forget_address(conn: &mut AnyConnection, email: &str) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM reset_requests WHERE email = $1")
        .bind(email)
        .execute(conn)
        .await?;
    Ok(())
}
