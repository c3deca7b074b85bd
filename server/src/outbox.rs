//! The e-mail outbox: a message is written in the same transaction as the
//! event that causes it, and a worker delivers it later. The transport here
//! is the development one — each message becomes a file in
//! `<data_dir>/outbox/` — SMTP comes with the notifications issue.
//!
//! Claiming: a worker marks a batch with its claim id and a lease, then
//! delivers what it claimed; another instance skips leased rows. A body is
//! cleared once delivered, because it may carry a link token.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::{AnyConnection, Row};

use crate::clock::{ms_after, new_id, now_ms};
use crate::error::ApiError;
use crate::mail::Mail;
use crate::store::Store;

const LEASE: Duration = Duration::from_secs(60);
const BATCH: i64 = 20;
const MAX_ATTEMPTS: i64 = 10;

/// Queues a message (inside the caller's transaction).
pub async fn enqueue(
    conn: &mut AnyConnection,
    recipient: &str,
    mail: &Mail,
    now: i64,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO outbox (id, recipient, kind, subject, body_text, created_ms, next_attempt_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(new_id())
    .bind(recipient)
    .bind(mail.kind)
    .bind(&mail.subject)
    .bind(&mail.body)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Where the development transport writes.
pub fn mail_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("outbox")
}

/// Delivers what is due; returns how many were sent.
pub async fn deliver_due(store: &Store, dir: &Path) -> Result<usize, sqlx::Error> {
    let now = now_ms();
    let claim = new_id();
    // The claim conditions are repeated outside the subquery: on PostgreSQL
    // a second worker that waited for the first one's row lock re-checks
    // only the outer WHERE against the row as committed, and so skips rows
    // the first one just claimed.
    sqlx::query(
        "UPDATE outbox SET claim_id = $1, claimed_until_ms = $2 WHERE id IN ( \
           SELECT id FROM outbox WHERE sent_ms IS NULL AND attempts < $3 AND next_attempt_ms <= $4 \
           AND (claimed_until_ms IS NULL OR claimed_until_ms < $4) ORDER BY created_ms LIMIT $5) \
         AND sent_ms IS NULL AND (claimed_until_ms IS NULL OR claimed_until_ms < $4)",
    )
    .bind(&claim)
    .bind(ms_after(now, LEASE))
    .bind(MAX_ATTEMPTS)
    .bind(now)
    .bind(BATCH)
    .execute(store.pool())
    .await?;
    let rows = sqlx::query(
        "SELECT id, recipient, kind, subject, body_text, created_ms, attempts FROM outbox \
         WHERE claim_id = $1 AND sent_ms IS NULL",
    )
    .bind(&claim)
    .fetch_all(store.pool())
    .await?;
    let mut sent = 0;
    for row in rows {
        let id: String = row.try_get("id")?;
        let recipient: String = row.try_get("recipient")?;
        let kind: String = row.try_get("kind")?;
        let subject: String = row.try_get("subject")?;
        let body: Option<String> = row.try_get("body_text")?;
        let created: i64 = row.try_get("created_ms")?;
        let attempts: i64 = row.try_get("attempts")?;
        let message = format!(
            "To: {recipient}\nSubject: {subject}\nX-Kluis-Kind: {kind}\nX-Kluis-Id: {id}\n\n{}",
            body.unwrap_or_default()
        );
        match write_file(dir, &format!("{created:013}-{id}.eml"), &message) {
            Ok(()) => {
                sqlx::query(
                    "UPDATE outbox SET sent_ms = $1, body_text = NULL, claim_id = NULL, \
                     claimed_until_ms = NULL, attempts = attempts + 1 WHERE id = $2",
                )
                .bind(now_ms())
                .bind(&id)
                .execute(store.pool())
                .await?;
                tracing::info!(kind = %kind, mail_id = %id, "mail delivered");
                sent += 1;
            }
            Err(e) => {
                // Back off exponentially: 2 s, 4 s, 8 s, … between tries.
                let delay = Duration::from_secs(
                    2u64.saturating_pow(u32::try_from(attempts + 1).unwrap_or(u32::MAX).min(16)),
                );
                sqlx::query(
                    "UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = $1, \
                     last_error = $2, claim_id = NULL, claimed_until_ms = NULL WHERE id = $3",
                )
                .bind(ms_after(now_ms(), delay))
                .bind(e.to_string())
                .bind(&id)
                .execute(store.pool())
                .await?;
                tracing::warn!(kind = %kind, mail_id = %id, error = %e, "mail delivery failed; will retry");
            }
        }
    }
    Ok(sent)
}

fn write_file(dir: &Path, name: &str, text: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, dir.join(name))
}
