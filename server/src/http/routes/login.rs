//! OPAQUE login (RFC 9807 §6) in two round trips, and logout.
//!
//! An unknown e-mail is answered from opaque-ke's fake record (§10.9): the
//! same message sizes, the same computation, and a finish that fails exactly
//! like a wrong password. The server never receives a password or anything
//! derived from it but the OPAQUE messages.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{grant, verify_login, SessionGranted, SessionMode, Status};
use crate::auth::login;
use crate::auth::sms;
use crate::auth::two_factor::SecondFactorMethod;
use crate::clock::now_ms;
use crate::error::{ApiError, ErrorBody};
use crate::http::extract::{clear_session_cookie, Auth, ClientAddr};
use crate::http::json::{ApiJson, B64};
use crate::mail::address::EmailAddress;
use crate::rate_limit::address_key;
use crate::{
    auth::sessions as store_sessions, auth::two_factor, fields, mail::notifications, mail::outbox,
    mail::templates, org::accounts, AppState,
};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login_start))
        .routes(routes!(login_finish))
        .routes(routes!(login_second_factor))
        .routes(routes!(login_sms_code))
        .routes(routes!(logout))
        .routes(routes!(logout_everywhere))
}

/// Step 1 of a login.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct LoginStart {
    /// The account's e-mail address.
    pub email: String,
    /// OPAQUE `CredentialRequest` (KE1).
    pub request: B64,
}

/// The server's answer to step 1.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct LoginChallenge {
    /// Names this login attempt in step 2.
    pub login_id: String,
    /// OPAQUE `CredentialResponse` (KE2).
    pub response: B64,
}

impl From<login::Challenge> for LoginChallenge {
    fn from(c: login::Challenge) -> Self {
        Self {
            login_id: c.login_id.to_string(),
            response: B64(c.response),
        }
    }
}

/// Step 2 of a login.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct LoginFinish {
    /// From step 1.
    pub login_id: String,
    /// OPAQUE `CredentialFinalization` (KE3).
    pub finalization: B64,
    /// Shown in the session list.
    #[serde(default)]
    pub device_label: Option<String>,
    /// Token in the answer (default) or cookie.
    #[serde(default)]
    pub session: SessionMode,
}

/// Login step 1: answers KE1 with KE2.
#[utoipa::path(post, path = "/api/login/start", tag = "login",
    request_body = LoginStart,
    responses((status = 200, body = LoginChallenge), (status = 400, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
async fn login_start(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    ApiJson(body): ApiJson<LoginStart>,
) -> Result<Json<LoginChallenge>, ApiError> {
    state.limits.login_by_address.check(&address_key(ip))?;
    let email = EmailAddress::parse(&body.email)?;
    state.limits.login_by_account.check(email.as_str())?;
    let mut conn = state.store.pool().acquire().await?;
    let challenge = login::begin_by_email(&state, &mut conn, &email, &body.request.0).await?;
    Ok(Json(challenge.into()))
}

/// The password was right; the session waits for a second factor.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct SecondFactorRequired {
    /// Names this login in `POST /api/login/second-factor` (a secret, valid
    /// for five minutes and five codes).
    pub pending_login: String,
    /// What may be sent: `totp`, `recovery_code`.
    pub methods: Vec<SecondFactorMethod>,
    /// When it ends, Unix ms.
    pub expires_ms: i64,
}

/// The second step of a login with two factors.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SecondFactor {
    /// From the login's `202` answer.
    pub pending_login: String,
    /// Which factor `code` is.
    pub method: SecondFactorMethod,
    /// The code.
    pub code: String,
}

/// Starts a session after every factor passed: tells the address of a new
/// device, and hands out the session.
async fn start_session(
    state: &AppState,
    mut tx: sqlx::Transaction<'static, sqlx::Any>,
    account: &accounts::Account,
    device_label: &str,
    mode: SessionMode,
    now: i64,
) -> Result<Response, ApiError> {
    notifications::login_from_new_device(&mut tx, account, device_label, now).await?;
    let session = store_sessions::start(
        &mut tx,
        account.id,
        device_label,
        state.config.session_lifetime,
        now,
    )
    .await?;
    tx.commit().await?;
    state.worker_wake.notify_one();
    state.metrics.login("success");
    tracing::info!(account = %account.id, session = %session.id, "login");
    Ok(grant(state, account.id, session, mode))
}

/// Login step 2: verifies KE3 and starts a session, or, with two-factor
/// login on, answers `202` and waits for the second factor.
#[utoipa::path(post, path = "/api/login/finish", tag = "login",
    request_body = LoginFinish,
    responses((status = 200, body = SessionGranted),
              (status = 202, body = SecondFactorRequired, description = "the password was right; send the second factor"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn login_finish(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginFinish>,
) -> Result<Response, ApiError> {
    let device_label = fields::device_label(body.device_label.as_deref())?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let Some(account_id) = verify_login(&mut tx, &body.login_id, &body.finalization, now).await?
    else {
        tx.commit().await?;
        state.metrics.login("failure");
        return Err(ApiError::LoginFailed);
    };
    let account = accounts::by_id(&mut tx, account_id)
        .await?
        .ok_or(ApiError::LoginFailed)?;
    if account.disabled {
        tx.commit().await?;
        state.metrics.login("disabled");
        return Err(ApiError::AccountDisabled);
    }
    let factors = two_factor::factors(&mut tx, account.id).await?;
    if factors.enabled() {
        let (token, expires_ms) =
            login::wait_for_second_factor(&mut tx, account.id, &device_label, body.session, now)
                .await?;
        tx.commit().await?;
        state.metrics.login("second_factor_required");
        let answer = SecondFactorRequired {
            pending_login: token.as_str().to_owned(),
            methods: factors.methods(state.sms.is_some()),
            expires_ms,
        };
        return Ok((StatusCode::ACCEPTED, Json(answer)).into_response());
    }
    start_session(&state, tx, &account, &device_label, body.session, now).await
}

/// Login step 3 with two-factor login on: a code from the authenticator or
/// a recovery code. Rate limited like password attempts (per address and
/// per account); a pending login ends after five wrong codes or five
/// minutes, and every code works once.
#[utoipa::path(post, path = "/api/login/second-factor", tag = "login",
    request_body = SecondFactor,
    responses((status = 200, body = SessionGranted), (status = 401, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
async fn login_second_factor(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    ApiJson(body): ApiJson<SecondFactor>,
) -> Result<Response, ApiError> {
    let now = now_ms();
    let (mut tx, pending) = login::Pending::open(&state, ip, &body.pending_login, now).await?;
    let account = &pending.account;
    state.limits.login_by_account.check(&account.email)?;
    if !pending.count_try(&mut tx, now).await? {
        tx.commit().await?;
        return Err(ApiError::SecondFactorFailed);
    }
    let passed = two_factor::use_code(
        &mut tx,
        account,
        body.method,
        &body.code,
        two_factor::CodeUse::Login,
        now,
    )
    .await?;
    if !passed {
        tx.commit().await?;
        state.metrics.login("second_factor_failure");
        return Err(ApiError::SecondFactorFailed);
    }
    if !pending.take(&mut tx).await? {
        return Err(ApiError::SecondFactorFailed);
    }
    if body.method == SecondFactorMethod::RecoveryCode {
        outbox::enqueue(
            &mut tx,
            &account.email,
            &templates::recovery_code_used(account.language),
            now,
        )
        .await?;
    }
    start_session(
        &state,
        tx,
        account,
        &pending.device_label,
        pending.mode,
        now,
    )
    .await
}

/// Which pending login wants its SMS code.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PendingOnly {
    /// From the login's `202` answer.
    pub pending_login: String,
}

/// Sends the SMS code of a pending login to the account's verified phone
/// (rate limited per account and per address; a new code replaces the
/// last).
#[utoipa::path(post, path = "/api/login/second-factor/sms", tag = "login",
    request_body = PendingOnly,
    responses((status = 200, body = Status), (status = 401, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 429, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
async fn login_sms_code(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    ApiJson(body): ApiJson<PendingOnly>,
) -> Result<Json<Status>, ApiError> {
    let now = now_ms();
    let (mut tx, pending) = login::Pending::open(&state, ip, &body.pending_login, now).await?;
    let limit = &state.limits.sms_by_account;
    let text =
        sms::prepare_code(&mut tx, limit, &pending.account, sms::Purpose::Login, now).await?;
    tx.commit().await?;
    sms::deliver(state.sms.as_deref(), &text).await?;
    Ok(Status::json("sms_sent"))
}

/// Ends this session.
#[utoipa::path(post, path = "/api/logout", tag = "login",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Status), (status = 401, body = ErrorBody)))]
async fn logout(State(state): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    let mut conn = state.store.pool().acquire().await?;
    store_sessions::revoke(&mut conn, auth.account_id, auth.session_id, now_ms()).await?;
    let mut response = Status::json("logged_out").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_session_cookie());
    Ok(response)
}

/// Ends every session of the account, this one included.
#[utoipa::path(post, path = "/api/logout/everywhere", tag = "login",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Status), (status = 401, body = ErrorBody)))]
async fn logout_everywhere(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Response, ApiError> {
    let mut conn = state.store.pool().acquire().await?;
    let n = store_sessions::revoke_all(&mut conn, auth.account_id, now_ms()).await?;
    tracing::info!(account = %auth.account_id, sessions = n, "logged out everywhere");
    let mut response = Status::json("logged_out_everywhere").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_session_cookie());
    Ok(response)
}
