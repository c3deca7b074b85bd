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
//!
//! On an account with a second factor the link alone is not enough: the
//! finish needs a code of it (the app, an SMS asked for with
//! `POST /api/password-reset/sms`, or a recovery code). Whoever reads the
//! mailbox — a manager who changed the address, a hijacked mail account —
//! can then neither take the account over nor lock its owner out by
//! changing the password; without the code nothing changes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::invitations::TokenOnly;
use super::setup::TokenRegistrationStart;
use super::{registration_record, registration_response, Status};
use crate::auth::email_token::{self, Purpose};
use crate::auth::two_factor::{CodeUse, SecondFactorMethod};
use crate::clock::now_ms;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::http::extract::{ClientAddr, LinkJson};
use crate::http::json::{ApiJson, B64};
use crate::mail::address::EmailAddress;
use crate::rate_limit::address_key;
use crate::{
    auth::sessions, auth::sms, auth::two_factor, mail::outbox, mail::templates, org::accounts,
    worker, AppState,
};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_reset))
        .routes(routes!(reset_start))
        .routes(routes!(reset_sms_code))
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

/// The server's registration answer, and what the finish will need.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct ResetChallenge {
    /// OPAQUE `RegistrationResponse`.
    pub response: B64,
    /// The second factors one of which the finish needs a code of (empty:
    /// the account has none, the link is enough).
    pub second_factor: Vec<SecondFactorMethod>,
}

/// Reset step 1: OPAQUE registration response for the account of the link,
/// and whether the finish needs a second-factor code.
#[utoipa::path(post, path = "/api/password-reset/start", tag = "password reset",
    request_body = TokenRegistrationStart,
    responses((status = 200, body = ResetChallenge), (status = 400, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
async fn reset_start(
    State(state): State<AppState>,
    LinkJson(body): LinkJson<TokenRegistrationStart>,
) -> Result<Json<ResetChallenge>, ApiError> {
    let mut conn = state.store.pool().acquire().await?;
    let subject =
        email_token::peek(&mut conn, Purpose::PasswordReset, &body.token, now_ms()).await?;
    let factors = two_factor::factors(&mut conn, subject.account_id).await?;
    Ok(Json(ResetChallenge {
        response: registration_response(&state, &body.request, subject.account_id)?,
        second_factor: if factors.enabled() {
            factors.methods(state.sms.is_some())
        } else {
            Vec::new()
        },
    }))
}

/// Sends an SMS code for the reset the link names to the account's
/// verified phone (rate limited per account; a new code replaces the last).
#[utoipa::path(post, path = "/api/password-reset/sms", tag = "password reset",
    request_body = TokenOnly,
    responses((status = 200, body = Status), (status = 400, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 429, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
async fn reset_sms_code(
    State(state): State<AppState>,
    LinkJson(body): LinkJson<TokenOnly>,
) -> Result<Json<Status>, ApiError> {
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let account = account_of_link(&mut tx, &body.token, now).await?;
    let limit = &state.limits.sms_by_account;
    let text =
        sms::prepare_code(&mut tx, limit, &account, sms::Purpose::PasswordReset, now).await?;
    tx.commit().await?;
    sms::deliver(state.sms.as_deref(), &text).await?;
    Ok(Status::json("sms_sent"))
}

/// Reset step 2.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ResetFinish {
    /// The token from the link.
    pub token: String,
    /// OPAQUE `RegistrationUpload` for the new password.
    pub upload: B64,
    /// Which second factor `code` is (needed when the start listed any).
    #[serde(default)]
    pub method: Option<SecondFactorMethod>,
    /// A code of the account's second factor, or a recovery code.
    #[serde(default)]
    pub code: Option<String>,
}

/// Reset step 2: stores the new record, ends every session, records the
/// event and tells the account's address. On an account with a second
/// factor only with a valid code of it: without one `403
/// second_factor_required`, with a wrong one `400 invalid_code`; either
/// way nothing changes and the link stays usable until it expires.
#[utoipa::path(post, path = "/api/password-reset/finish", tag = "password reset",
    request_body = ResetFinish,
    responses((status = 200, body = Status), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn reset_finish(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    LinkJson(body): LinkJson<ResetFinish>,
) -> Result<Json<Status>, ApiError> {
    let record = registration_record(&body.upload)?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let account = account_of_link(&mut tx, &body.token, now).await?;
    let used_recovery_code =
        match second_factor_of_reset(&state, &mut tx, &account, ip, &body, now).await {
            Ok(used) => used,
            Err(e) => {
                // A wrong code is used up (TOTP step, SMS try): keep that.
                tx.commit().await?;
                return Err(e);
            }
        };
    let subject = email_token::consume(&mut tx, Purpose::PasswordReset, &body.token, now).await?;
    accounts::set_opaque_record(&mut tx, subject.account_id, &record).await?;
    sessions::revoke_all(&mut tx, subject.account_id, now).await?;
    // Every other outstanding link of the account ends with this one.
    email_token::end_all(&mut tx, subject.account_id, now).await?;
    crate::auth::login::end_attempts(&mut tx, subject.account_id).await?;
    two_factor::end_pending_logins(&mut tx, subject.account_id).await?;
    accounts::record_event(&mut tx, subject.account_id, "password_reset", now).await?;
    if used_recovery_code {
        outbox::enqueue(
            &mut tx,
            &subject.email,
            &templates::recovery_code_used(account.language),
            now,
        )
        .await?;
    }
    outbox::enqueue(
        &mut tx,
        &subject.email,
        &templates::password_changed(account.language),
        now,
    )
    .await?;
    tx.commit().await?;
    state.worker_wake.notify_one();
    tracing::info!(account = %subject.account_id, "password reset");
    Ok(Status::json("password_changed"))
}

/// The account a live reset link names (the link is not used up).
async fn account_of_link(
    conn: &mut sqlx::AnyConnection,
    token: &str,
    now: i64,
) -> Result<accounts::Account, ApiError> {
    let subject = email_token::peek(&mut *conn, Purpose::PasswordReset, token, now).await?;
    accounts::by_id(conn, subject.account_id)
        .await?
        .ok_or(ApiError::InvalidToken)
}

/// The second factor a reset of `account` needs: nothing for an account
/// without one; otherwise a valid code, checked (and used up) under the
/// same per-address and per-account limits as a login's. `Ok(true)` when
/// it was a recovery code (the owner is told).
async fn second_factor_of_reset(
    state: &AppState,
    tx: &mut sqlx::AnyConnection,
    account: &accounts::Account,
    ip: std::net::IpAddr,
    body: &ResetFinish,
    now: i64,
) -> Result<bool, ApiError> {
    if !two_factor::factors(&mut *tx, account.id).await?.enabled() {
        return Ok(false);
    }
    let (Some(method), Some(code)) = (body.method, body.code.as_deref()) else {
        return Err(ApiError::SecondFactorRequired);
    };
    state.limits.login_by_address.check(&address_key(ip))?;
    state.limits.login_by_account.check(&account.email)?;
    if two_factor::use_code(tx, account, method, code, CodeUse::PasswordReset, now).await? {
        Ok(method == SecondFactorMethod::RecoveryCode)
    } else {
        Err(ApiError::bad_request(
            ErrorCode::InvalidCode,
            "the code is wrong or was already used",
        ))
    }
}
