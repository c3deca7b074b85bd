//! Setting up two-factor login (an authenticator app and recovery codes),
//! turning it off with a valid code, and an organisation's requirement.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{organisation_path_id, Status};
use crate::auth::two_factor::{CodeUse, SecondFactorMethod};
use crate::clock::now_ms;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::http::extract::{Auth, ClientAddr};
use crate::http::json::ApiJson;
use crate::mail::templates::TwoFactorChange;
use crate::org::organisations;
use crate::org::role::Role;
use crate::rate_limit::address_key;
use crate::{auth::sms, auth::two_factor, mail::outbox, mail::templates, org::accounts, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(enrol_totp))
        .routes(routes!(confirm_totp))
        .routes(routes!(renew_recovery_codes))
        .routes(routes!(disable))
        .routes(routes!(set_policy))
        .routes(routes!(enrol_sms))
        .routes(routes!(confirm_sms))
}

/// My two-factor login.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct TwoFactorStatus {
    /// An authenticator app is set up.
    pub totp: bool,
    /// The verified phone number for SMS codes, partly hidden.
    pub sms_phone: Option<String>,
    /// Recovery codes not used yet.
    pub recovery_codes_left: i64,
    /// One of my organisations requires two-factor login.
    pub required_by_organisation: bool,
}

/// An authenticator to add to the app; confirm it with a code.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct TotpEnrolment {
    /// The secret, base32 (to type in).
    pub secret: String,
    /// `otpauth://totp/Kluis:…` (what the QR code holds).
    pub otpauth_uri: String,
    /// The QR code as a PNG, base64.
    pub qr_png: String,
}

/// A code proving possession.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Code {
    /// Which factor `code` is (`totp` unless said).
    #[serde(default = "totp")]
    pub method: SecondFactorMethod,
    /// The code.
    pub code: String,
}

fn totp() -> SecondFactorMethod {
    SecondFactorMethod::Totp
}

/// New recovery codes, shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct RecoveryCodes {
    /// Ten codes; each works once.
    pub recovery_codes: Vec<String>,
}

/// An organisation's requirement.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TwoFactorPolicy {
    /// Members must use two-factor login.
    pub required: bool,
}

/// Whether I use two-factor login.
#[utoipa::path(get, path = "/api/two-factor", tag = "two-factor",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = TwoFactorStatus), (status = 401, body = ErrorBody)))]
async fn status(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<TwoFactorStatus>, ApiError> {
    let mut conn = state.store.pool().acquire().await?;
    let factors = two_factor::factors(&mut conn, auth.account_id).await?;
    let phone = sms::verified_phone(&mut conn, auth.account_id).await?;
    Ok(Json(TwoFactorStatus {
        totp: factors.totp,
        sms_phone: phone.map(|p| mask(&p)),
        recovery_codes_left: factors.recovery_codes_left,
        required_by_organisation: organisations::require_two_factor_of(&mut conn, auth.account_id)
            .await?,
    }))
}

/// Starts setting up an authenticator: its secret, URI and QR code. It is
/// not used until confirmed with a code.
#[utoipa::path(post, path = "/api/two-factor/totp", tag = "two-factor",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = TotpEnrolment), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn enrol_totp(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<TotpEnrolment>, ApiError> {
    let (mut tx, account) = my_account(&state, &auth).await?;
    fresh_unless_enabled(&state, &mut tx, &auth).await?;
    let secret = two_factor::new_secret();
    two_factor::begin_enrolment(&mut tx, account.id, &secret, now_ms()).await?;
    tx.commit().await?;
    let totp = two_factor::authenticator(&secret, &account.email)?;
    Ok(Json(TotpEnrolment {
        secret: totp.get_secret_base32(),
        otpauth_uri: totp.get_url(),
        qr_png: totp.get_qr_base64().map_err(ApiError::Internal)?,
    }))
}

/// Confirms the authenticator with a code from it: two-factor login is on
/// from now, and the ten recovery codes are shown, once.
#[utoipa::path(post, path = "/api/two-factor/totp/confirm", tag = "two-factor",
    security(("bearer" = []), ("cookie" = [])),
    request_body = Code,
    responses((status = 200, body = RecoveryCodes), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
async fn confirm_totp(
    State(state): State<AppState>,
    auth: Auth,
    ClientAddr(ip): ClientAddr,
    ApiJson(body): ApiJson<Code>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    state.limits.login_by_address.check(&address_key(ip))?;
    let now = now_ms();
    let (mut tx, account) = my_account(&state, &auth).await?;
    fresh_unless_enabled(&state, &mut tx, &auth).await?;
    state.limits.login_by_account.check(&account.email)?;
    if body.method != SecondFactorMethod::Totp
        || !two_factor::use_totp_code(&mut tx, account.id, &account.email, &body.code, true, now)
            .await?
    {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidCode,
            "this is not the authenticator's current code",
        ));
    }
    two_factor::confirm_enrolment(&mut tx, account.id, now).await?;
    two_factor::sessions_end_at_enrolment(&mut tx, account.id, auth.session_id, now).await?;
    let codes = two_factor::new_recovery_codes(&mut tx, account.id).await?;
    tell_and_commit(&state, tx, &account, TwoFactorChange::Enabled, now).await?;
    tracing::info!(account = %account.id, "two-factor login enabled");
    Ok(shown(&codes))
}

/// A write transaction and the caller's account.
async fn my_account(
    state: &AppState,
    auth: &Auth,
) -> Result<(sqlx::Transaction<'static, sqlx::Any>, accounts::Account), ApiError> {
    let mut tx = state.store.begin().await?;
    let account = accounts::by_id(&mut tx, auth.account_id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    Ok((tx, account))
}

/// Setting up a first second factor needs the password proven recently:
/// otherwise a stolen session (or one a manager got through a reset) could
/// enrol the thief's own authenticator and lock the owner out. Adding to
/// factors that already guard the account needs only the session.
async fn fresh_unless_enabled(
    state: &AppState,
    tx: &mut sqlx::AnyConnection,
    auth: &Auth,
) -> Result<(), ApiError> {
    if !two_factor::factors(tx, auth.account_id).await?.enabled() {
        auth.require_fresh_password(state.config.limits.reauthentication_window, now_ms())?;
    }
    Ok(())
}

/// Ends a change of the account's factors: the event (if any) is
/// recorded, the address told, and the transaction committed.
async fn tell_and_commit(
    state: &AppState,
    mut tx: sqlx::Transaction<'static, sqlx::Any>,
    account: &accounts::Account,
    change: TwoFactorChange,
    now: i64,
) -> Result<(), ApiError> {
    let event = match change {
        TwoFactorChange::Enabled => Some("two_factor_enabled"),
        TwoFactorChange::Disabled => Some("two_factor_disabled"),
        TwoFactorChange::NewRecoveryCodes => None,
    };
    if let Some(event) = event {
        accounts::record_event(&mut tx, account.id, event, now).await?;
    }
    let message = templates::two_factor_changed(account.language, change);
    outbox::enqueue(&mut tx, &account.email, &message, now).await?;
    tx.commit().await?;
    state.worker_wake.notify_one();
    Ok(())
}

/// New codes as the answer shows them, once.
fn shown(codes: &[zeroize::Zeroizing<String>]) -> Json<RecoveryCodes> {
    Json(RecoveryCodes {
        recovery_codes: codes.iter().map(|c| c.as_str().to_owned()).collect(),
    })
}

/// Checks a code of either kind for the logged-in account (used up).
async fn proven(
    state: &AppState,
    tx: &mut sqlx::AnyConnection,
    account: &accounts::Account,
    ip: std::net::IpAddr,
    body: &Code,
    now: i64,
) -> Result<(), ApiError> {
    state.limits.login_by_address.check(&address_key(ip))?;
    state.limits.login_by_account.check(&account.email)?;
    if two_factor::use_code(
        tx,
        account,
        body.method,
        &body.code,
        CodeUse::InSession,
        now,
    )
    .await?
    {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            ErrorCode::InvalidCode,
            "the code is wrong or was already used",
        ))
    }
}

/// New recovery codes for old ones (a valid code of either kind needed).
#[utoipa::path(post, path = "/api/two-factor/recovery-codes", tag = "two-factor",
    security(("bearer" = []), ("cookie" = [])),
    request_body = Code,
    responses((status = 200, body = RecoveryCodes), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn renew_recovery_codes(
    State(state): State<AppState>,
    auth: Auth,
    ClientAddr(ip): ClientAddr,
    ApiJson(body): ApiJson<Code>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let now = now_ms();
    let (mut tx, account) = my_account(&state, &auth).await?;
    proven(&state, &mut tx, &account, ip, &body, now).await?;
    let codes = two_factor::new_recovery_codes(&mut tx, account.id).await?;
    tell_and_commit(&state, tx, &account, TwoFactorChange::NewRecoveryCodes, now).await?;
    Ok(shown(&codes))
}

/// Turns two-factor login off; only with a valid code, and with the
/// password proven recently (`403 reauthentication_required`).
#[utoipa::path(post, path = "/api/two-factor/disable", tag = "two-factor",
    security(("bearer" = []), ("cookie" = [])),
    request_body = Code,
    responses((status = 200, body = Status), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
async fn disable(
    State(state): State<AppState>,
    auth: Auth,
    ClientAddr(ip): ClientAddr,
    ApiJson(body): ApiJson<Code>,
) -> Result<Json<Status>, ApiError> {
    let now = now_ms();
    auth.require_fresh_password(state.config.limits.reauthentication_window, now)?;
    let (mut tx, account) = my_account(&state, &auth).await?;
    proven(&state, &mut tx, &account, ip, &body, now).await?;
    two_factor::disable(&mut tx, account.id).await?;
    tell_and_commit(&state, tx, &account, TwoFactorChange::Disabled, now).await?;
    tracing::info!(account = %account.id, "two-factor login disabled");
    Ok(Status::json("two_factor_disabled"))
}

/// A phone number to verify.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Phone {
    /// International form: `+31612345678`.
    pub phone: String,
}

/// `+31••••••78`: enough to recognise one's own number.
fn mask(phone: &str) -> String {
    let keep_end = phone.len().saturating_sub(2);
    phone
        .char_indices()
        .map(|(i, c)| if i < 3 || i >= keep_end { c } else { '•' })
        .collect()
}

/// Sets up a phone number for SMS codes: a code is sent to it, and the
/// number counts once [`confirm_sms`] got that code back.
#[utoipa::path(post, path = "/api/two-factor/sms", tag = "two-factor",
    security(("bearer" = []), ("cookie" = [])),
    request_body = Phone,
    responses((status = 200, body = Status), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 429, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
async fn enrol_sms(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<Phone>,
) -> Result<Json<Status>, ApiError> {
    if state.sms.is_none() {
        return Err(ApiError::conflict(
            ErrorCode::SmsNotConfigured,
            "this server sends no text messages: use an authenticator app",
        ));
    }
    let phone = sms::phone_number(&body.phone)?;
    let now = now_ms();
    let (mut tx, account) = my_account(&state, &auth).await?;
    two_factor::refuse_if_enabled(&mut tx, account.id).await?;
    fresh_unless_enabled(&state, &mut tx, &auth).await?;
    sms::set_up_phone(&mut tx, account.id, &phone, now).await?;
    let limit = &state.limits.sms_by_account;
    let text = sms::prepare_code(&mut tx, limit, &account, sms::Purpose::VerifyPhone, now).await?;
    tx.commit().await?;
    sms::deliver(state.sms.as_deref(), &text).await?;
    Ok(Status::json("sms_sent"))
}

/// Confirms the phone number with the code sent to it: SMS codes work for
/// login from now. Recovery codes come with it if the account had none
/// (then shown once; otherwise the list is empty).
#[utoipa::path(post, path = "/api/two-factor/sms/confirm", tag = "two-factor",
    security(("bearer" = []), ("cookie" = [])),
    request_body = Code,
    responses((status = 200, body = RecoveryCodes), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn confirm_sms(
    State(state): State<AppState>,
    auth: Auth,
    ClientAddr(ip): ClientAddr,
    ApiJson(body): ApiJson<Code>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    state.limits.login_by_address.check(&address_key(ip))?;
    let now = now_ms();
    let (mut tx, account) = my_account(&state, &auth).await?;
    fresh_unless_enabled(&state, &mut tx, &auth).await?;
    state.limits.login_by_account.check(&account.email)?;
    if !sms::use_code(
        &mut tx,
        account.id,
        sms::Purpose::VerifyPhone,
        &body.code,
        now,
    )
    .await?
    {
        tx.commit().await?;
        return Err(ApiError::bad_request(
            ErrorCode::InvalidCode,
            "this is not the code sent to the phone",
        ));
    }
    sms::phone_verified(&mut tx, account.id, now).await?;
    two_factor::sessions_end_at_enrolment(&mut tx, account.id, auth.session_id, now).await?;
    let codes = if two_factor::factors(&mut tx, account.id)
        .await?
        .recovery_codes_left
        == 0
    {
        two_factor::new_recovery_codes(&mut tx, account.id).await?
    } else {
        Vec::new()
    };
    tell_and_commit(&state, tx, &account, TwoFactorChange::Enabled, now).await?;
    Ok(shown(&codes))
}

/// A manager requires (or stops requiring) two-factor login of the
/// organisation's members. Members without it can, after login, only set
/// it up (and read their own account) until they have.
#[utoipa::path(put, path = "/api/organisations/{organisation_id}/two-factor", tag = "two-factor",
    security(("bearer" = []), ("cookie" = [])),
    params(("organisation_id" = String, Path, description = "the organisation")),
    request_body = TwoFactorPolicy,
    responses((status = 200, body = Status), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn set_policy(
    State(state): State<AppState>,
    auth: Auth,
    Path(organisation_id): Path<String>,
    ApiJson(body): ApiJson<TwoFactorPolicy>,
) -> Result<Json<Status>, ApiError> {
    let organisation_id = organisation_path_id(&organisation_id)?;
    let mut tx = state.store.begin().await?;
    let me = accounts::acting_member(&mut tx, organisation_id, auth.account_id).await?;
    if me.role != Role::Manager {
        return Err(ApiError::Forbidden);
    }
    organisations::set_require_two_factor(&mut tx, organisation_id, body.required).await?;
    tx.commit().await?;
    tracing::info!(organisation = %organisation_id, required = body.required, "two-factor policy");
    Ok(Status::json(if body.required {
        "two_factor_required"
    } else {
        "two_factor_optional"
    }))
}
