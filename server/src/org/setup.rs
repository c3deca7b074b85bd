//! The first start: while no organisation exists, the server issues a
//! one-time setup link that creates the first organisation and its manager.
//! Issuing a new link voids every earlier one, so only the link printed
//! last works; the token is shown once and never logged.

use sqlx::AnyConnection;

use crate::auth::token::{Token, TokenHash};
use crate::clock::{ms_after, now_ms};
use crate::config::Config;
use crate::error::ApiError;
use crate::ids::{self, UserId};
use crate::store::Store;

/// Whether any organisation exists.
pub async fn has_organisation(store: &Store) -> Result<bool, ApiError> {
    let mut conn = store.pool().acquire().await?;
    Ok(crate::org::organisations::count(&mut conn).await? > 0)
}

/// Issues a setup link (voiding earlier ones) and returns it.
pub async fn issue_link(store: &Store, config: &Config) -> Result<String, ApiError> {
    let now = now_ms();
    let (token, hash) = Token::generate();
    let mut tx = store.begin().await?;
    sqlx::query("DELETE FROM setup_tokens WHERE used_ms IS NULL")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO setup_tokens (token_hash, new_account_id, created_ms, expires_ms) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(hash.to_vec())
    .bind(ids::fresh::<UserId>().to_string())
    .bind(now)
    .bind(ms_after(now, config.limits.setup_link_lifetime))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(link(config, &token))
}

/// The account id a live setup link will give the first manager (the
/// OPAQUE credential identifier of their registration).
pub(crate) async fn account_id_of(
    conn: &mut AnyConnection,
    hash: &TokenHash,
    now: i64,
) -> Result<Option<UserId>, ApiError> {
    let row = sqlx::query(
        "SELECT new_account_id FROM setup_tokens WHERE token_hash = $1 AND used_ms IS NULL \
         AND expires_ms > $2",
    )
    .bind(hash.to_vec())
    .bind(now)
    .fetch_optional(conn)
    .await?;
    row.map(|r| ids::get(&r, "new_account_id")).transpose()
}

/// Uses up a live setup link, once: the account id it gives, or `None`
/// for a used, expired or unknown link.
pub(crate) async fn consume(
    conn: &mut AnyConnection,
    hash: &TokenHash,
    now: i64,
) -> Result<Option<UserId>, ApiError> {
    let row = sqlx::query(
        "UPDATE setup_tokens SET used_ms = $1 WHERE token_hash = $2 AND used_ms IS NULL \
         AND expires_ms > $1 RETURNING new_account_id",
    )
    .bind(now)
    .bind(hash.to_vec())
    .fetch_optional(conn)
    .await?;
    row.map(|r| ids::get(&r, "new_account_id")).transpose()
}

fn link(config: &Config, token: &Token) -> String {
    crate::auth::email_token::link(&config.public_url, "setup", token)
}
