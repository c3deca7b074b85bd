//! Password reset without fishing for accounts.
//!
//! The request answers `202` after exactly the same work for every
//! well-formed address — one insert into `reset_requests` — and the worker
//! decides later, out of band, whether there is an account to mail. So the
//! answer, its status and its timing say nothing about the address.
//!
//! The link lets the client register a new OPAQUE record; that ends every
//! session and records a key event. Keys are then restored with the
//! recovery key, or a new identity is published (the SDK's part).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::setup::{RegistrationChallenge, TokenRegistrationStart};
use super::{registration_record, registration_response, Status};
use crate::auth::email_token::{self, Purpose};
use crate::clock::now_ms;
use crate::error::{ApiError, ErrorBody};
use crate::http::extract::ClientAddr;
use crate::http::json::{ApiJson, B64};
use crate::mail::address::EmailAddress;
use crate::rate_limit::address_key;
use crate::{
    auth::sessions, auth::two_factor, mail::outbox, mail::templates, org::accounts, worker,
    AppState,
};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_reset))
        .routes(routes!(reset_start))
        .routes(routes!(reset_finish))
}

/// Who forgot their password.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ResetRequest {
    /// The account's e-mail address.
    pub email: String,
}

/// Asks for a reset link. The answer is the same whether or not the
/// address has an account.
#[utoipa::path(post, path = "/api/password-reset", tag = "password reset",
    request_body = ResetRequest,
    responses((status = 202, body = Status), (status = 400, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
async fn request_reset(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    ApiJson(body): ApiJson<ResetRequest>,
) -> Result<(StatusCode, Json<Status>), ApiError> {
    state.limits.reset_by_address.check(&address_key(ip))?;
    let email = EmailAddress::parse(&body.email)?;
    state.limits.reset_by_account.check(email.as_str())?;
    worker::queue_reset_request(&state, email.as_str()).await?;
    Ok((StatusCode::ACCEPTED, Status::json("accepted")))
}

/// Reset step 1: OPAQUE registration response for the account of the link.
#[utoipa::path(post, path = "/api/password-reset/start", tag = "password reset",
    request_body = TokenRegistrationStart,
    responses((status = 200, body = RegistrationChallenge), (status = 400, body = ErrorBody)))]
async fn reset_start(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    ApiJson(body): ApiJson<TokenRegistrationStart>,
) -> Result<Json<RegistrationChallenge>, ApiError> {
    state.limits.tokens_by_address.check(&address_key(ip))?;
    let mut conn = state.store.pool().acquire().await?;
    let subject =
        email_token::peek(&mut conn, Purpose::PasswordReset, &body.token, now_ms()).await?;
    Ok(Json(RegistrationChallenge {
        response: registration_response(&state, &body.request, subject.account_id)?,
    }))
}

/// Reset step 2.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ResetFinish {
    /// The token from the link.
    pub token: String,
    /// OPAQUE `RegistrationUpload` for the new password.
    pub upload: B64,
}

/// Reset step 2: stores the new record, ends every session, records the
/// event and tells the account's address.
#[utoipa::path(post, path = "/api/password-reset/finish", tag = "password reset",
    request_body = ResetFinish,
    responses((status = 200, body = Status), (status = 400, body = ErrorBody)))]
async fn reset_finish(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    ApiJson(body): ApiJson<ResetFinish>,
) -> Result<Json<Status>, ApiError> {
    state.limits.tokens_by_address.check(&address_key(ip))?;
    let record = registration_record(&body.upload)?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let subject = email_token::consume(&mut tx, Purpose::PasswordReset, &body.token, now).await?;
    accounts::set_opaque_record(&mut tx, subject.account_id, &record).await?;
    sessions::revoke_all(&mut tx, subject.account_id, now).await?;
    // Every other outstanding link of the account ends with this one.
    email_token::end_all(&mut tx, subject.account_id, now).await?;
    crate::auth::login::end_attempts(&mut tx, subject.account_id).await?;
    two_factor::end_pending_logins(&mut tx, subject.account_id).await?;
    accounts::record_event(&mut tx, subject.account_id, "password_reset", now).await?;
    let language = accounts::by_id(&mut tx, subject.account_id)
        .await?
        .map(|a| a.language)
        .unwrap_or_default();
    outbox::enqueue(
        &mut tx,
        &subject.email,
        &templates::password_changed(language),
        now,
    )
    .await?;
    tx.commit().await?;
    state.worker_wake.notify_one();
    tracing::info!(account = %subject.account_id, "password reset");
    Ok(Status::json("password_changed"))
}
