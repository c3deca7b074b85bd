//! The first start: while no organisation exists, the server issues a
//! one-time setup link that creates the first organisation and its manager.
//! Issuing a new link voids every earlier one, so only the link printed
//! last works; the token is shown once and never logged.

use sqlx::Row;

use crate::auth::token::Token;
use crate::clock::{ms_after, new_id, now_ms};
use crate::config::Config;
use crate::error::ApiError;
use crate::store::Store;

/// Whether any organisation exists.
pub async fn has_organisation(store: &Store) -> Result<bool, ApiError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM organisations")
        .fetch_one(store.pool())
        .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
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
    .bind(new_id())
    .bind(now)
    .bind(ms_after(now, config.limits.setup_link_lifetime))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(link(config, &token))
}

fn link(config: &Config, token: &Token) -> String {
    crate::auth::email_token::link(&config.public_url, "setup", token)
}
