//! The background worker of one server instance: turns password-reset
//! requests and gathered activity into e-mails, delivers the outbox, and tidies up (expired login
//! state, idle rate-limit keys). Several instances may run it against one
//! PostgreSQL: every step claims its rows atomically.

use std::time::Duration;

use crate::auth::email_token::{self, Purpose};
use crate::auth::password_reset;
use crate::clock::now_ms;
use crate::config::RESET_LINK_LIFETIME;
use crate::error::ApiError;
use crate::{
    mail::notifications, mail::outbox, mail::templates, org::accounts, org::deletion, AppState,
};

const TICK: Duration = Duration::from_secs(1);
const HOUSEKEEPING_EVERY: u32 = 60;

/// Runs until the process ends.
pub async fn run(state: AppState) {
    let mut ticks: u32 = 0;
    loop {
        if let Err(e) = process_reset_requests(&state).await {
            tracing::warn!(error = %e, "reset requests: will retry");
        }
        if let Err(e) = notifications::process_activity(&state).await {
            tracing::warn!(error = %e, "activity notifications: will retry");
        }
        match outbox::deliver_due(&state.store, &state.mailer).await {
            Ok(done) => {
                state.metrics.mail_many("sent", done.sent);
                state.metrics.mail_many("deferred", done.deferred);
                state.metrics.mail_many("failed", done.failed);
            }
            Err(e) => tracing::warn!(error = %e, "outbox: will retry"),
        }
        ticks = ticks.wrapping_add(1);
        if ticks % HOUSEKEEPING_EVERY == 0 {
            if let Err(e) = process_due_deletions(&state, now_ms()).await {
                tracing::warn!(error = %e, "scheduled erasures: will retry");
            }
            housekeeping(&state).await;
        }
        // Woken at once when a request queued something; otherwise poll,
        // which also picks up what other instances queued.
        let _ = tokio::time::timeout(TICK, state.worker_wake.notified()).await;
    }
}

/// Turns queued reset requests into reset e-mails, for accounts that exist
/// and are enabled; requests for other addresses end here, silently.
pub async fn process_reset_requests(state: &AppState) -> Result<(), ApiError> {
    let ids = {
        let mut conn = state.store.pool().acquire().await?;
        password_reset::oldest(&mut conn, 20).await?
    };
    for id in ids {
        // Taken out and acted on in one transaction: a failure leaves the
        // request for the next tick, and two workers cannot both take it.
        let now = now_ms();
        let mut tx = state.store.begin().await?;
        let Some(email) = password_reset::take(&mut tx, &id).await? else {
            continue;
        };
        if let Some(account) = accounts::by_email(&mut tx, &email).await? {
            if !account.disabled {
                let token = email_token::issue(
                    &mut tx,
                    Purpose::PasswordReset,
                    account.id,
                    &account.email,
                    RESET_LINK_LIFETIME,
                    now,
                )
                .await?;
                let link = email_token::link(&state.config.public_url, "reset", &token);
                outbox::enqueue(
                    &mut tx,
                    &account.email,
                    &templates::password_reset(account.language, &link),
                    now,
                )
                .await?;
            }
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Erases the accounts whose scheduled erasure (after a cooling-off
/// period) is due at `now` (public for tests, which pass a later `now`).
/// Each is taken out and erased in one transaction, so two workers cannot
/// both do it, and a cancelled one is not done. Returns how many.
pub async fn process_due_deletions(state: &AppState, now: i64) -> Result<usize, ApiError> {
    let due = {
        let mut conn = state.store.pool().acquire().await?;
        deletion::due(&mut conn, now, 20).await?
    };
    let mut erased = 0;
    for account_id in due {
        let mut tx = state.store.begin().await?;
        if !deletion::take_due(&mut tx, account_id, now).await? {
            continue;
        }
        if let Some(account) = accounts::by_id(&mut tx, account_id).await? {
            deletion::erase(&mut tx, &account).await?;
            erased += 1;
            tracing::info!(account = %account_id, "scheduled account erasure done");
        }
        tx.commit().await?;
    }
    Ok(erased)
}

/// Queues a reset request: the same single insert whether or not the
/// address has an account.
pub async fn queue_reset_request(state: &AppState, email: &str) -> Result<(), ApiError> {
    let mut conn = state.store.pool().acquire().await?;
    password_reset::queue(&mut conn, email, now_ms()).await?;
    state.worker_wake.notify_one();
    Ok(())
}

/// How long a sent (or given-up) e-mail's row stays: its address and kind
/// answer "did Kluis write to me?" for a while, then go (data
/// minimisation; the body is gone at once).
const SENT_MAIL_KEPT: Duration = Duration::from_secs(30 * 24 * 3600);

/// Removes what has expired or is no longer needed (every minute; public
/// for tests).
pub async fn housekeeping(state: &AppState) {
    let now = now_ms();
    let mail_cutoff = now.saturating_sub(i64::try_from(SENT_MAIL_KEPT.as_millis()).unwrap_or(0));
    // Each table's owner removes its expired rows; one failing does not
    // keep the others.
    match state.store.pool().acquire().await {
        Ok(mut conn) => {
            let results = [
                crate::auth::login::forget_expired_attempts(&mut conn, now).await,
                crate::auth::login::forget_expired_pending(&mut conn, now).await,
                crate::auth::sms::forget_expired_codes(&mut conn, now).await,
                crate::org::email_change::forget_expired(&mut conn, now).await,
                crate::mail::outbox::forget_done_before(&mut conn, mail_cutoff).await,
            ];
            for e in results.into_iter().filter_map(Result::err) {
                tracing::warn!(error = %e, "housekeeping");
            }
        }
        Err(e) => tracing::warn!(error = %e, "housekeeping"),
    }
    state.limits.forget_idle();
    match crate::vault::attachments::remove_abandoned(&state.store).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(uploads = n, "abandoned attachment uploads removed"),
        Err(e) => tracing::warn!(error = %e, "housekeeping: attachments"),
    }
}
