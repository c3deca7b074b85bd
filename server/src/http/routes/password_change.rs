//! Changing the password while logged in. The old password is proven with
//! a fresh OPAQUE login and the new record is registered in the same two
//! round trips; the identity sealed under the new export key arrives with
//! the new record and both are stored in one transaction, so no crash in
//! between can leave an account whose password no longer opens its keys.
//! Every other session ends; the address is told.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::reauth::{proven, ProofStart};
use super::{registration_record, registration_response, Status};
use crate::clock::now_ms;
use crate::error::{ApiError, ErrorBody};
use crate::http::extract::{Auth, ClientAddr};
use crate::http::json::{ApiJson, B64};
use crate::{
    auth::email_token, auth::sessions, auth::two_factor, mail::outbox, mail::templates,
    org::accounts, vault::key_directory, AppState,
};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(change_start))
        .routes(routes!(change_finish))
}

/// Step 1: a login with the old password and a registration of the new.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ChangeStart {
    /// OPAQUE `KE1` with the old password.
    pub login_request: B64,
    /// OPAQUE `RegistrationRequest` for the new password.
    pub registration_request: B64,
}

/// The server's answers to both.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct ChangeChallenge {
    /// For step 2.
    pub login_id: String,
    /// OPAQUE `KE2`.
    pub login_response: B64,
    /// OPAQUE `RegistrationResponse`.
    pub registration_response: B64,
}

/// Step 2: the proof, the new record and the identity sealed under it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ChangeFinish {
    /// From step 1.
    pub login_id: String,
    /// OPAQUE `KE3` (proves the old password).
    pub finalization: B64,
    /// OPAQUE `RegistrationUpload` of the new password.
    pub upload: B64,
    /// The identity sealed under the new export key (0x02, kind password).
    pub sealed_password: B64,
}

/// Starts a password change.
#[utoipa::path(post, path = "/api/password/start", tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    request_body = ChangeStart,
    responses((status = 200, body = ChangeChallenge), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn change_start(
    State(state): State<AppState>,
    auth: Auth,
    ClientAddr(ip): ClientAddr,
    ApiJson(body): ApiJson<ChangeStart>,
) -> Result<Json<ChangeChallenge>, ApiError> {
    let proof = ProofStart::begin(&state, &auth, ip).await?;
    let account_id = proof.account.id;
    let login = proof.challenge(&state, &body.login_request).await?;
    Ok(Json(ChangeChallenge {
        login_id: login.login_id.to_string(),
        login_response: B64(login.response),
        registration_response: registration_response(
            &state,
            &body.registration_request,
            account_id,
        )?,
    }))
}

/// Verifies the old password and stores the new record and sealed identity.
#[utoipa::path(post, path = "/api/password/finish", tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    request_body = ChangeFinish,
    responses((status = 200, body = Status), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody)))]
async fn change_finish(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<ChangeFinish>,
) -> Result<Json<Status>, ApiError> {
    let record = registration_record(&body.upload)?;
    let now = now_ms();
    let tx = state.store.begin().await?;
    let mut tx = proven(tx, &auth, &body.login_id, &body.finalization, now).await?;
    let account = accounts::by_id(&mut tx, auth.account_id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    // The identity stays; only its password-sealed copy is replaced (the
    // same checks as publishing it).
    if let Some(keys) = key_directory::own(&mut tx, account.id).await? {
        key_directory::publish(
            &mut tx,
            account.id,
            &keys.bundle,
            &body.sealed_password.0,
            &keys.sealed_recovery,
            now,
        )
        .await?;
    }
    accounts::set_opaque_record(&mut tx, account.id, &record).await?;
    sessions::revoke_others(&mut tx, account.id, auth.session_id, now).await?;
    two_factor::end_pending_logins(&mut tx, account.id).await?;
    email_token::end_all(&mut tx, account.id, now).await?;
    accounts::record_event(&mut tx, account.id, "password_changed", now).await?;
    outbox::enqueue(
        &mut tx,
        &account.email,
        &templates::password_changed(account.language),
        now,
    )
    .await?;
    tx.commit().await?;
    state.worker_wake.notify_one();
    tracing::info!(account = %account.id, "password changed");
    Ok(Status::json("password_changed"))
}
