//! When Kluis e-mails its users about events, beyond the links it sends on
//! request: new messages and files (gathered, at most one e-mail per
//! recipient per interval, and only for those who want them), a login from
//! a new device, and a peer's new keys. Every e-mail is queued in the
//! transaction of its event (see `outbox`).

use std::time::Duration;

use sqlx::{AnyConnection, Row};

use crate::clock::now_ms;
use crate::error::ApiError;
use crate::ids::{self, RelationshipId, UserId};
use crate::language::Language;
use crate::org::accounts::{self, Account};
use crate::{mail::outbox, mail::templates, AppState};

/// A new message or file in a relationship: every other current member
/// who wants activity e-mails gets one due — now if their last one is an
/// interval ago, else when the interval ends. Recipients with one already
/// due keep that one: a burst becomes one e-mail.
pub(crate) async fn record_activity(
    conn: &mut AnyConnection,
    relationship_id: RelationshipId,
    author_id: UserId,
    interval: Duration,
    now: i64,
) -> Result<(), ApiError> {
    let interval_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO activity_pending (account_id, due_ms) \
         SELECT m.account_id, CASE WHEN a.activity_mailed_ms IS NULL \
                OR a.activity_mailed_ms + $3 <= $4 THEN $4 ELSE a.activity_mailed_ms + $3 END \
         FROM relationship_members m JOIN accounts a ON a.id = m.account_id \
         WHERE m.relationship_id = $1 AND m.account_id <> $2 AND m.left_epoch IS NULL \
           AND a.notify_activity = 1 AND a.disabled = 0 \
         ON CONFLICT (account_id) DO NOTHING",
    )
    .bind(relationship_id.to_string())
    .bind(author_id.to_string())
    .bind(interval_ms)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Turns due activity into e-mails. Each recipient's row is taken out and
/// its e-mail queued in one transaction, so two workers cannot both send
/// it and a failure leaves it for the next tick.
pub(crate) async fn process_activity(state: &AppState) -> Result<usize, ApiError> {
    let due: Vec<UserId> = sqlx::query(
        "SELECT account_id FROM activity_pending WHERE due_ms <= $1 ORDER BY due_ms LIMIT 50",
    )
    .bind(now_ms())
    .fetch_all(state.store.pool())
    .await?
    .iter()
    .map(|r| ids::get(r, "account_id"))
    .collect::<Result<_, _>>()?;
    let mut queued = 0;
    for account_id in due {
        let now = now_ms();
        let mut tx = state.store.begin().await?;
        let taken = sqlx::query(
            "DELETE FROM activity_pending WHERE account_id = $1 AND due_ms <= $2 RETURNING account_id",
        )
        .bind(account_id.to_string())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if taken.is_none() {
            continue;
        }
        // Asked again now: the wish may have changed since the message.
        if let Some(account) = accounts::by_id(&mut tx, account_id).await? {
            if account.notify_activity && !account.disabled {
                let message = templates::activity(account.language, &state.config.public_url);
                outbox::enqueue(&mut tx, &account.email, &message, now).await?;
                accounts::activity_mailed(&mut tx, account_id, now).await?;
                queued += 1;
            }
        }
        tx.commit().await?;
    }
    Ok(queued)
}

/// The account published new keys (after a lost password): everyone who
/// shares a relationship with it now is told to compare safety numbers.
pub(crate) async fn peer_keys_changed(
    conn: &mut AnyConnection,
    account_id: UserId,
    public_url: &str,
    now: i64,
) -> Result<(), ApiError> {
    let peers = sqlx::query(
        "SELECT DISTINCT a.email, a.language FROM relationship_members mine \
         JOIN relationship_members theirs ON theirs.relationship_id = mine.relationship_id \
         JOIN accounts a ON a.id = theirs.account_id \
         WHERE mine.account_id = $1 AND mine.left_epoch IS NULL \
           AND theirs.account_id <> $1 AND theirs.left_epoch IS NULL AND a.disabled = 0",
    )
    .bind(account_id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    for row in peers {
        let email: String = row.try_get("email")?;
        let language = Language::from_stored(&row.try_get::<String, _>("language")?)?;
        outbox::enqueue(
            &mut *conn,
            &email,
            &templates::peer_key_changed(language, public_url),
            now,
        )
        .await?;
    }
    Ok(())
}

/// Tells the coaches of every relationship `client_id` is the client of
/// that the client's account is to be erased on `due_date` (a scheduled
/// erasure after a recent reset, address change or new identity).
pub(crate) async fn client_deletion_scheduled(
    conn: &mut AnyConnection,
    client_id: UserId,
    due_date: &str,
    now: i64,
) -> Result<(), ApiError> {
    let coaches = sqlx::query(
        "SELECT DISTINCT a.email, a.language FROM relationship_members mine \
         JOIN relationship_members theirs ON theirs.relationship_id = mine.relationship_id \
         JOIN accounts a ON a.id = theirs.account_id \
         WHERE mine.account_id = $1 AND mine.role = 'client' \
           AND theirs.role = 'coach' AND theirs.left_epoch IS NULL AND a.disabled = 0",
    )
    .bind(client_id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    for row in coaches {
        let email: String = row.try_get("email")?;
        let language = Language::from_stored(&row.try_get::<String, _>("language")?)?;
        outbox::enqueue(
            &mut *conn,
            &email,
            &templates::client_deletion_scheduled(language, due_date),
            now,
        )
        .await?;
    }
    Ok(())
}

/// Before a session is created at login: if the account has had sessions
/// but none under this device label, its address is told. (The label is
/// the client's own name for itself, so this catches a login from another
/// device, not an attacker who copies the label; the session list shows
/// every session either way.)
pub(crate) async fn login_from_new_device(
    conn: &mut AnyConnection,
    account: &Account,
    device_label: &str,
    now: i64,
) -> Result<(), ApiError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN device_label = $2 THEN 1 ELSE 0 END), 0) AS same \
         FROM sessions WHERE account_id = $1",
    )
    .bind(account.id.to_string())
    .bind(device_label)
    .fetch_one(&mut *conn)
    .await?;
    let all: i64 = row.try_get("n")?;
    let same: i64 = row.try_get("same")?;
    if all > 0 && same == 0 {
        outbox::enqueue(
            conn,
            &account.email,
            &templates::new_login(account.language),
            now,
        )
        .await?;
    }
    Ok(())
}

/// Drops the activity gathered for an account and not yet told (it opted
/// out).
pub(crate) async fn forget_pending_activity(
    conn: &mut sqlx::AnyConnection,
    account_id: UserId,
) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM activity_pending WHERE account_id = $1")
        .bind(account_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}
