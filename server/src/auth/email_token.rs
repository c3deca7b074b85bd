//! Single-use, expiring tokens sent by e-mail: address verification and
//! password reset. Stored as hashes; a token is consumed by one atomic
//! `UPDATE … WHERE used_ms IS NULL`, so two concurrent uses cannot both win.

use std::time::Duration;

use sqlx::{AnyConnection, Row};

use crate::auth::token::{Token, TokenHash};
use crate::clock::ms_after;
use crate::error::ApiError;
use crate::ids::{self, UserId};

/// What a token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Proves an e-mail address (and applies a pending change to it).
    VerifyEmail,
    /// Lets the holder register a new password.
    PasswordReset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::PasswordReset => "password_reset",
        }
    }
}

/// The account and address a token was issued for.
#[derive(Clone, Debug)]
pub(crate) struct TokenSubject {
    /// The account.
    pub account_id: UserId,
    /// The address it was sent to.
    pub email: String,
}

fn subject_of(row: &sqlx::any::AnyRow) -> Result<TokenSubject, ApiError> {
    Ok(TokenSubject {
        account_id: ids::get(row, "account_id")?,
        email: row.try_get("email")?,
    })
}

/// Issues a token.
pub(crate) async fn issue(
    conn: &mut AnyConnection,
    purpose: Purpose,
    account_id: UserId,
    email: &str,
    lifetime: Duration,
    now: i64,
) -> Result<Token, ApiError> {
    let (token, hash) = Token::generate();
    sqlx::query(
        "INSERT INTO email_tokens (token_hash, purpose, account_id, email, created_ms, expires_ms) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(hash.to_vec())
    .bind(purpose.as_str())
    .bind(account_id.to_string())
    .bind(email)
    .bind(now)
    .bind(ms_after(now, lifetime))
    .execute(conn)
    .await?;
    Ok(token)
}

/// Looks a token up without using it.
pub(crate) async fn peek(
    conn: &mut AnyConnection,
    purpose: Purpose,
    presented: &str,
    now: i64,
) -> Result<TokenSubject, ApiError> {
    let hash = TokenHash::of_link(presented)?;
    let row = sqlx::query(
        "SELECT account_id, email FROM email_tokens WHERE token_hash = $1 AND purpose = $2 \
         AND used_ms IS NULL AND expires_ms > $3",
    )
    .bind(hash.to_vec())
    .bind(purpose.as_str())
    .bind(now)
    .fetch_optional(conn)
    .await?
    .ok_or(ApiError::InvalidToken)?;
    subject_of(&row)
}

/// Uses a token up (call inside the transaction that acts on it).
pub(crate) async fn consume(
    conn: &mut AnyConnection,
    purpose: Purpose,
    presented: &str,
    now: i64,
) -> Result<TokenSubject, ApiError> {
    let hash = TokenHash::of_link(presented)?;
    let row = sqlx::query(
        "UPDATE email_tokens SET used_ms = $1 WHERE token_hash = $2 AND purpose = $3 \
         AND used_ms IS NULL AND expires_ms > $1 RETURNING account_id, email",
    )
    .bind(now)
    .bind(hash.to_vec())
    .bind(purpose.as_str())
    .fetch_optional(conn)
    .await?
    .ok_or(ApiError::InvalidToken)?;
    subject_of(&row)
}

/// Ends every outstanding link of an account (after a password reset or a
/// confirmed address change, links sent earlier must not work).
pub(crate) async fn end_all(
    conn: &mut AnyConnection,
    account_id: UserId,
    now: i64,
) -> Result<(), ApiError> {
    sqlx::query("UPDATE email_tokens SET used_ms = $1 WHERE account_id = $2 AND used_ms IS NULL")
        .bind(now)
        .bind(account_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// The link a user opens in the web client. The token travels in the
/// fragment, which browsers never send to a server or in a `Referer`.
pub(crate) fn link(public_url: &str, page: &str, token: &Token) -> String {
    format!("{public_url}/{page}#token={}", token.as_str())
}
