//! The e-mail outbox: a message is written in the same transaction as the
//! event that causes it, and a worker delivers it later through the
//! [`Mailer`] (SMTP, or files in development).
//!
//! Sending at most once, with several server instances on one PostgreSQL:
//! a worker claims a batch of due rows with its own claim id and a lease
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent workers take
//! disjoint rows without waiting; SQLite has a single writer). Before each
//! send it renews the lease on that one row, conditional on still holding
//! the claim, and the lease is longer than the SMTP timeout: no other
//! worker can take a row while a send of it may be under way. A row is
//! marked sent only by the claim that sent it. What remains is the crash
//! between the relay's "250 OK" and the commit of `sent_ms`: then the mail
//! goes out again after the lease, with the same `Message-ID`.
//!
//! A body is cleared once delivered, because it may carry a link token.

use std::time::Duration;

use sqlx::{AnyConnection, Row};

use crate::clock::{ms_after, new_id, now_ms};
use crate::error::ApiError;
use crate::mail::mailer::{DeliveryError, Mailer, Outgoing};
use crate::mail::templates::Mail;
use crate::store::{Engine, Store};

/// Twice the longest an SMTP delivery may take as a whole
/// ([`crate::mail::mailer::SEND_DEADLINE`]), so a lease never runs out under a
/// send.
const LEASE: Duration = Duration::from_secs(120);
const BATCH: i64 = 20;
/// With the back-off below, about a day of trying before giving up.
const MAX_ATTEMPTS: i64 = 100;
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);

/// Queues a message (inside the caller's transaction).
pub async fn enqueue(
    conn: &mut AnyConnection,
    recipient: &str,
    mail: &Mail,
    now: i64,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO outbox (id, recipient, kind, subject, body_text, body_html, language, \
         created_ms, next_attempt_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(new_id())
    .bind(recipient)
    .bind(mail.kind)
    .bind(&mail.subject)
    .bind(mail.text())
    .bind(mail.html())
    .bind(mail.language.code())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// What one round of delivery did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// Handed to the relay.
    pub sent: usize,
    /// Failed, to be tried again.
    pub deferred: usize,
    /// Given up on.
    pub failed: usize,
}

/// The wait before attempt `attempts + 1`: 2 s, 4 s, 8 s, … up to
/// [`MAX_BACKOFF`].
pub fn backoff(attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 20)).unwrap_or(20) + 1;
    Duration::from_secs(2u64.saturating_pow(exponent)).min(MAX_BACKOFF)
}

/// Claims due rows for `claim` (see the module comment).
async fn claim_batch(store: &Store, claim: &str, now: i64) -> Result<(), sqlx::Error> {
    // The claim conditions are repeated outside the subquery: a row another
    // worker claimed and committed meanwhile fails the outer re-check.
    let lock = match store.engine() {
        Engine::Postgres => " FOR UPDATE SKIP LOCKED",
        Engine::Sqlite => "",
    };
    let sql = format!(
        "UPDATE outbox SET claim_id = $1, claimed_until_ms = $2 WHERE id IN ( \
           SELECT id FROM outbox WHERE sent_ms IS NULL AND failed_ms IS NULL AND next_attempt_ms <= $3 \
           AND (claimed_until_ms IS NULL OR claimed_until_ms < $3) ORDER BY created_ms LIMIT $4{lock}) \
         AND sent_ms IS NULL AND failed_ms IS NULL AND (claimed_until_ms IS NULL OR claimed_until_ms < $3)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(claim)
        .bind(ms_after(now, LEASE))
        .bind(now)
        .bind(BATCH)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Delivers what is due.
pub async fn deliver_due(store: &Store, mailer: &Mailer) -> Result<Delivered, sqlx::Error> {
    let claim = new_id();
    claim_batch(store, &claim, now_ms()).await?;
    let rows = sqlx::query(
        "SELECT id, recipient, kind, language, subject, body_text, body_html, created_ms, attempts \
         FROM outbox WHERE claim_id = $1 AND sent_ms IS NULL ORDER BY created_ms",
    )
    .bind(&claim)
    .fetch_all(store.pool())
    .await?;
    let mut done = Delivered::default();
    for row in rows {
        let message = Outgoing {
            id: row.try_get("id")?,
            recipient: row.try_get("recipient")?,
            kind: row.try_get("kind")?,
            language: row.try_get("language")?,
            subject: row.try_get("subject")?,
            text: row
                .try_get::<Option<String>, _>("body_text")?
                .unwrap_or_default(),
            html: row.try_get("body_html")?,
            created_ms: row.try_get("created_ms")?,
        };
        let attempts: i64 = row.try_get("attempts")?;
        // Still ours? Renewing the lease here means an earlier slow send in
        // this batch cannot have let it run out under this one.
        let renewed = sqlx::query(
            "UPDATE outbox SET claimed_until_ms = $1 WHERE id = $2 AND claim_id = $3 AND sent_ms IS NULL",
        )
        .bind(ms_after(now_ms(), LEASE))
        .bind(&message.id)
        .bind(&claim)
        .execute(store.pool())
        .await?;
        if renewed.rows_affected() != 1 {
            continue;
        }
        match mailer.send(&message).await {
            Ok(()) => {
                sqlx::query(
                    "UPDATE outbox SET sent_ms = $1, body_text = NULL, body_html = NULL, claim_id = NULL, \
                     claimed_until_ms = NULL, attempts = attempts + 1, last_error = NULL \
                     WHERE id = $2 AND claim_id = $3",
                )
                .bind(now_ms())
                .bind(&message.id)
                .bind(&claim)
                .execute(store.pool())
                .await?;
                tracing::info!(kind = %message.kind, mail_id = %message.id, "mail delivered");
                done.sent += 1;
            }
            Err(e) => {
                let give_up =
                    matches!(e, DeliveryError::Permanent(_)) || attempts + 1 >= MAX_ATTEMPTS;
                let now = now_ms();
                // A message given up on keeps no body either: it may hold a
                // link, and nobody will read it now.
                let sql = if give_up {
                    "UPDATE outbox SET attempts = attempts + 1, failed_ms = $1, last_error = $2, \
                     body_text = NULL, body_html = NULL, claim_id = NULL, claimed_until_ms = NULL \
                     WHERE id = $3 AND claim_id = $4"
                } else {
                    "UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = $1, last_error = $2, \
                     claim_id = NULL, claimed_until_ms = NULL WHERE id = $3 AND claim_id = $4"
                };
                let when = if give_up {
                    now
                } else {
                    ms_after(now, backoff(attempts))
                };
                sqlx::query(sql)
                    .bind(when)
                    .bind(e.to_string())
                    .bind(&message.id)
                    .bind(&claim)
                    .execute(store.pool())
                    .await?;
                if give_up {
                    tracing::error!(kind = %message.kind, mail_id = %message.id, error = %e,
                        attempts = attempts + 1, "mail delivery failed; giving up");
                    done.failed += 1;
                } else {
                    tracing::warn!(kind = %message.kind, mail_id = %message.id, error = %e,
                        attempts = attempts + 1, "mail delivery failed; will retry");
                    done.deferred += 1;
                }
            }
        }
    }
    Ok(done)
}

/// The messages to an address the outbox still holds, oldest first: kind,
/// queued and sent (Unix ms) — never the body; for the right of access.
pub(crate) async fn kept_for(
    conn: &mut sqlx::AnyConnection,
    recipient: &str,
) -> Result<Vec<(String, i64, Option<i64>)>, ApiError> {
    let rows = sqlx::query(
        "SELECT kind, created_ms, sent_ms FROM outbox WHERE recipient = $1 \
         ORDER BY created_ms, id",
    )
    .bind(recipient)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("kind")?,
                r.try_get("created_ms")?,
                r.try_get("sent_ms")?,
            ))
        })
        .collect()
}

/// Forgets every message to an address, sent or not (the account is erased).
pub(crate) async fn forget_recipient(
    conn: &mut sqlx::AnyConnection,
    recipient: &str,
) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM outbox WHERE recipient = $1")
        .bind(recipient)
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes the rows of messages sent or given up before `cutoff`: their
/// address and kind answer "did Kluis write to me?" for a while, then go.
pub(crate) async fn forget_done_before(
    conn: &mut sqlx::AnyConnection,
    cutoff: i64,
) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM outbox WHERE COALESCE(sent_ms, failed_ms) < $1")
        .bind(cutoff)
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_secs(2));
        assert_eq!(backoff(1), Duration::from_secs(4));
        assert_eq!(backoff(3), Duration::from_secs(16));
        assert_eq!(backoff(9), MAX_BACKOFF);
        assert_eq!(backoff(10_000), MAX_BACKOFF);
        assert!(backoff(-5) >= Duration::from_secs(2));
    }
}
