//! E-mail address changes a manager proposes for a member.
//!
//! A member's address is where the password-reset link goes, so whoever
//! sets it can take the account over. A manager therefore only *proposes*
//! one: it is kept here, changes nothing (login, reset and notifications
//! keep using the current address), and takes effect only when the member
//! confirms it — logged in, with the password proven recently, or from the
//! link sent to the current address. The same link (or the member's
//! session) refuses it. One proposal per account; a new one replaces the
//! last, and its link.

use std::time::Duration;

use sqlx::{AnyConnection, Row};

use crate::auth::token::{Token, TokenHash};
use crate::clock::ms_after;
use crate::error::ApiError;
use crate::ids::{self, UserId};

/// How long a proposal waits for the member.
pub(crate) const PROPOSAL_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// A proposal waiting for the member.
#[derive(Clone, Debug)]
pub(crate) struct Proposal {
    /// The member.
    pub account_id: UserId,
    /// The proposed address (normalised).
    pub new_email: String,
    /// When it was made, Unix ms.
    pub created_ms: i64,
    /// When it ends unconfirmed, Unix ms.
    pub expires_ms: i64,
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<Proposal, ApiError> {
    Ok(Proposal {
        account_id: ids::get(row, "account_id")?,
        new_email: row.try_get("new_email")?,
        created_ms: row.try_get("created_ms")?,
        expires_ms: row.try_get("expires_ms")?,
    })
}

/// Records a proposal (replacing any earlier one of the account) and
/// returns the token of the link for the member's current address.
pub(crate) async fn propose(
    conn: &mut AnyConnection,
    account_id: UserId,
    new_email: &str,
    proposed_by: UserId,
    now: i64,
) -> Result<Token, ApiError> {
    let (token, hash) = Token::generate();
    sqlx::query("DELETE FROM email_changes WHERE account_id = $1")
        .bind(account_id.to_string())
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO email_changes (account_id, new_email, proposed_by, token_hash, created_ms, \
         expires_ms) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(account_id.to_string())
    .bind(new_email)
    .bind(proposed_by.to_string())
    .bind(hash.to_vec())
    .bind(now)
    .bind(ms_after(now, PROPOSAL_LIFETIME))
    .execute(&mut *conn)
    .await?;
    Ok(token)
}

/// The account's live proposal, if any.
pub(crate) async fn pending(
    conn: &mut AnyConnection,
    account_id: UserId,
    now: i64,
) -> Result<Option<Proposal>, ApiError> {
    let row = sqlx::query(
        "SELECT account_id, new_email, created_ms, expires_ms FROM email_changes \
         WHERE account_id = $1 AND expires_ms > $2",
    )
    .bind(account_id.to_string())
    .bind(now)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Takes the account's live proposal out, once (confirmed or refused by
/// its member); `None` if there is none.
pub(crate) async fn take(
    conn: &mut AnyConnection,
    account_id: UserId,
    now: i64,
) -> Result<Option<Proposal>, ApiError> {
    let row = sqlx::query(
        "DELETE FROM email_changes WHERE account_id = $1 AND expires_ms > $2 \
         RETURNING account_id, new_email, created_ms, expires_ms",
    )
    .bind(account_id.to_string())
    .bind(now)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Takes out the live proposal the link's token names, once; an unknown,
/// expired or used token is `400 invalid_token`.
pub(crate) async fn take_by_token(
    conn: &mut AnyConnection,
    presented: &str,
    now: i64,
) -> Result<Proposal, ApiError> {
    let hash = TokenHash::of_link(presented)?;
    let row = sqlx::query(
        "DELETE FROM email_changes WHERE token_hash = $1 AND expires_ms > $2 \
         RETURNING account_id, new_email, created_ms, expires_ms",
    )
    .bind(hash.to_vec())
    .bind(now)
    .fetch_optional(conn)
    .await?
    .ok_or(ApiError::InvalidToken)?;
    from_row(&row)
}

/// Forgets the account's proposal (its password was reset, or it changed
/// its address itself).
pub(crate) async fn forget(conn: &mut AnyConnection, account_id: UserId) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM email_changes WHERE account_id = $1")
        .bind(account_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes proposals that lapsed unconfirmed (housekeeping).
pub(crate) async fn forget_expired(conn: &mut AnyConnection, now: i64) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM email_changes WHERE expires_ms <= $1")
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}
