//! Changing a member's e-mail address without handing the account over.
//!
//! The address is where the password-reset link goes. So a manager only
//! proposes a new one (`PATCH /api/organisations/{org}/members/{account}`,
//! in `members.rs`); the member confirms or refuses it here, logged in
//! (the password proven recently) or from the link sent to the current
//! address. A member changes their own address logged in, with the
//! password proven recently: the new address confirms it from its
//! mailbox (`POST /api/email/verify`), and the old one is told.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::invitations::TokenOnly;
use super::Status;
use crate::auth::email_token::{self, Purpose};
use crate::clock::now_ms;
use crate::config::VERIFY_LINK_LIFETIME;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::http::extract::{Auth, LinkJson};
use crate::http::json::ApiJson;
use crate::mail::address::EmailAddress;
use crate::org::email_change::{self, Proposal};
use crate::{mail::outbox, mail::templates, org::accounts, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(change_own_email))
        .routes(routes!(proposal))
        .routes(routes!(confirm_logged_in))
        .routes(routes!(refuse_logged_in))
        .routes(routes!(confirm_by_link))
        .routes(routes!(refuse_by_link))
}

/// A new address for my account.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewEmail {
    /// The address.
    pub email: String,
}

/// A manager's proposal waiting for me.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct EmailChangeProposal {
    /// The proposed address.
    pub new_email: String,
    /// When it was proposed, Unix ms.
    pub proposed_ms: i64,
    /// When it lapses unconfirmed, Unix ms.
    pub expires_ms: i64,
}

/// Changes my own address: a confirmation link goes to the new address
/// (the change takes effect when it is opened) and the current address is
/// told. Needs the password proven recently (`403
/// reauthentication_required`): a stolen session must not redirect the
/// account's password resets.
#[utoipa::path(put, path = "/api/me/email", tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    request_body = NewEmail,
    responses((status = 202, body = Status), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn change_own_email(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<NewEmail>,
) -> Result<(axum::http::StatusCode, Json<Status>), ApiError> {
    let now = now_ms();
    auth.require_fresh_password(state.config.limits.reauthentication_window, now)?;
    let email = EmailAddress::parse(&body.email)?;
    let mut tx = state.store.begin().await?;
    let account = accounts::by_id(&mut tx, auth.account_id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    if email.as_str() == account.email {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidEmail,
            "this is already the account's address",
        ));
    }
    refuse_taken(&mut tx, email.as_str()).await?;
    email_change::forget(&mut tx, account.id).await?;
    send_verification(&state, &mut tx, &account, email.as_str(), now).await?;
    outbox::enqueue(
        &mut tx,
        &account.email,
        &templates::email_change_notice(account.language),
        now,
    )
    .await?;
    tx.commit().await?;
    state.worker_wake.notify_one();
    tracing::info!(account = %account.id, "own e-mail change asked for");
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Status::json("confirmation_sent"),
    ))
}

/// Sends `email` the link that proves it (and, for an own change, makes it
/// the account's address when opened).
async fn send_verification(
    state: &AppState,
    tx: &mut sqlx::AnyConnection,
    account: &accounts::Account,
    email: &str,
    now: i64,
) -> Result<(), ApiError> {
    let token = email_token::issue(
        &mut *tx,
        Purpose::VerifyEmail,
        account.id,
        email,
        VERIFY_LINK_LIFETIME,
        now,
    )
    .await?;
    let link = email_token::link(&state.config.public_url, "verify", &token);
    outbox::enqueue(
        tx,
        email,
        &templates::verify_email(account.language, &link),
        now,
    )
    .await
}

/// `409 email_taken` when another account has the address.
pub(super) async fn refuse_taken(
    conn: &mut sqlx::AnyConnection,
    email: &str,
) -> Result<(), ApiError> {
    if accounts::by_email(conn, email).await?.is_some() {
        return Err(ApiError::conflict(
            ErrorCode::EmailTaken,
            "another account uses this e-mail address",
        ));
    }
    Ok(())
}

/// The address a manager proposed for me, if any (`404` if none).
#[utoipa::path(get, path = "/api/me/email-change", tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = EmailChangeProposal), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn proposal(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<EmailChangeProposal>, ApiError> {
    let mut conn = state.store.pool().acquire().await?;
    let p = email_change::pending(&mut conn, auth.account_id, now_ms())
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(EmailChangeProposal {
        new_email: p.new_email,
        proposed_ms: p.created_ms,
        expires_ms: p.expires_ms,
    }))
}

/// Confirms the address a manager proposed for me: it becomes my address
/// at once (to be verified from its mailbox), the old one is told. Needs
/// the password proven recently; `404` when nothing is proposed.
#[utoipa::path(post, path = "/api/me/email-change/confirm", tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Status), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn confirm_logged_in(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Status>, ApiError> {
    let now = now_ms();
    auth.require_fresh_password(state.config.limits.reauthentication_window, now)?;
    let mut tx = state.store.begin().await?;
    let proposal = email_change::take(&mut tx, auth.account_id, now)
        .await?
        .ok_or(ApiError::NotFound)?;
    apply(&state, tx, &proposal, now).await?;
    Ok(Status::json("email_changed"))
}

/// Refuses the address a manager proposed for me (`404` when nothing is
/// proposed).
#[utoipa::path(post, path = "/api/me/email-change/refuse", tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Status), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn refuse_logged_in(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Status>, ApiError> {
    let mut tx = state.store.begin().await?;
    email_change::take(&mut tx, auth.account_id, now_ms())
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    tracing::info!(account = %auth.account_id, "proposed e-mail change refused");
    Ok(Status::json("email_change_refused"))
}

/// Confirms a proposed address from the link sent to the current address.
#[utoipa::path(post, path = "/api/email-change/confirm", tag = "account",
    request_body = TokenOnly,
    responses((status = 200, body = Status), (status = 400, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn confirm_by_link(
    State(state): State<AppState>,
    LinkJson(body): LinkJson<TokenOnly>,
) -> Result<Json<Status>, ApiError> {
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let proposal = email_change::take_by_token(&mut tx, &body.token, now).await?;
    apply(&state, tx, &proposal, now).await?;
    Ok(Status::json("email_changed"))
}

/// Refuses a proposed address from the link sent to the current address.
#[utoipa::path(post, path = "/api/email-change/refuse", tag = "account",
    request_body = TokenOnly,
    responses((status = 200, body = Status), (status = 400, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
async fn refuse_by_link(
    State(state): State<AppState>,
    LinkJson(body): LinkJson<TokenOnly>,
) -> Result<Json<Status>, ApiError> {
    let mut tx = state.store.begin().await?;
    let proposal = email_change::take_by_token(&mut tx, &body.token, now_ms()).await?;
    tx.commit().await?;
    tracing::info!(account = %proposal.account_id, "proposed e-mail change refused");
    Ok(Status::json("email_change_refused"))
}

/// Makes a confirmed proposal the account's address (unverified until its
/// mailbox opens the link sent there), ends the links sent to the old
/// address, records the event and tells both addresses; commits.
async fn apply(
    state: &AppState,
    mut tx: sqlx::Transaction<'static, sqlx::Any>,
    proposal: &Proposal,
    now: i64,
) -> Result<(), ApiError> {
    let account = accounts::by_id(&mut tx, proposal.account_id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    accounts::set_email(&mut tx, account.id, &proposal.new_email, false).await?;
    email_token::end_all(&mut tx, account.id, now).await?;
    accounts::record_event(&mut tx, account.id, "email_changed", now).await?;
    send_verification(state, &mut tx, &account, &proposal.new_email, now).await?;
    outbox::enqueue(
        &mut tx,
        &account.email,
        &templates::email_changed(account.language),
        now,
    )
    .await?;
    tx.commit().await?;
    state.worker_wake.notify_one();
    tracing::info!(account = %account.id, "proposed e-mail change confirmed");
    Ok(())
}
