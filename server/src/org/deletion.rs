//! Erasing a client's account, at once or after a cooling-off period.
//!
//! Erasure destroys the coach's records of the trajectory too (messages,
//! notes, files). Whoever has just taken an account over — by a password
//! reset, an address change, a new identity — could otherwise erase all of
//! it in the same minute. So an erasure asked for within
//! `limits.deletion_cooling_off_hours` of such an event is only scheduled
//! (here, table `account_deletions`), the coaches are told, the owner can
//! cancel it, and the worker erases the account when it is due.

use std::time::Duration;

use sqlx::{AnyConnection, Row};

use crate::auth::password_reset;
use crate::error::ApiError;
use crate::ids::{self, UserId};
use crate::mail::outbox;
use crate::org::accounts::{self, Account};
use crate::org::invitation;
use crate::vault::relationships;

/// The account events after which an erasure waits.
pub(crate) const TAKEOVER_EVENTS: [&str; 3] = ["password_reset", "email_changed", "key_change"];

/// Whether an erasure of the account asked for `now` must wait: one of the
/// [`TAKEOVER_EVENTS`] happened within `cooling_off`.
pub(crate) async fn must_wait(
    conn: &mut AnyConnection,
    account_id: UserId,
    cooling_off: Duration,
    now: i64,
) -> Result<bool, ApiError> {
    if cooling_off.is_zero() {
        return Ok(false);
    }
    let since = now.saturating_sub(i64::try_from(cooling_off.as_millis()).unwrap_or(i64::MAX));
    accounts::had_event_since(conn, account_id, &TAKEOVER_EVENTS, since).await
}

/// Schedules the account's erasure for `due_ms` (an earlier schedule
/// stays: asking again does not move it).
pub(crate) async fn schedule(
    conn: &mut AnyConnection,
    account_id: UserId,
    due_ms: i64,
    now: i64,
) -> Result<i64, ApiError> {
    sqlx::query(
        "INSERT INTO account_deletions (account_id, requested_ms, due_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (account_id) DO NOTHING",
    )
    .bind(account_id.to_string())
    .bind(now)
    .bind(due_ms)
    .execute(&mut *conn)
    .await?;
    scheduled(conn, account_id)
        .await?
        .ok_or_else(|| ApiError::Internal("scheduled erasure vanished".into()))
}

/// When the account's erasure is due, if one is scheduled.
pub(crate) async fn scheduled(
    conn: &mut AnyConnection,
    account_id: UserId,
) -> Result<Option<i64>, ApiError> {
    let row = sqlx::query("SELECT due_ms FROM account_deletions WHERE account_id = $1")
        .bind(account_id.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| r.try_get("due_ms")).transpose()?)
}

/// Cancels the account's scheduled erasure; `false` if there was none.
pub(crate) async fn cancel(conn: &mut AnyConnection, account_id: UserId) -> Result<bool, ApiError> {
    let done = sqlx::query("DELETE FROM account_deletions WHERE account_id = $1")
        .bind(account_id.to_string())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Accounts whose erasure is due at `now`, at most `limit`.
pub(crate) async fn due(
    conn: &mut AnyConnection,
    now: i64,
    limit: i64,
) -> Result<Vec<UserId>, ApiError> {
    sqlx::query(
        "SELECT account_id FROM account_deletions WHERE due_ms <= $1 ORDER BY due_ms LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?
    .iter()
    .map(|r| ids::get(r, "account_id"))
    .collect()
}

/// Takes a due erasure out, once: `false` if another worker took it or it
/// was cancelled meanwhile.
pub(crate) async fn take_due(
    conn: &mut AnyConnection,
    account_id: UserId,
    now: i64,
) -> Result<bool, ApiError> {
    let done = sqlx::query("DELETE FROM account_deletions WHERE account_id = $1 AND due_ms <= $2")
        .bind(account_id.to_string())
        .bind(now)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Erases a client's account and everything of it, in the caller's
/// transaction: every relationship it is the client of (items, notes,
/// wrapped keys, files), invitations and reset requests for its address,
/// mail waiting for it, then the account (keys, sessions, links and
/// events go with it).
pub(crate) async fn erase(conn: &mut AnyConnection, account: &Account) -> Result<(), ApiError> {
    relationships::delete_where_client(&mut *conn, account.id).await?;
    invitation::forget_address(&mut *conn, &account.email).await?;
    password_reset::forget_address(&mut *conn, &account.email).await?;
    outbox::forget_recipient(&mut *conn, &account.email).await?;
    accounts::delete(conn, account.id).await
}
