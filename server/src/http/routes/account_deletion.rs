//! A client deletes their own account (the seed's promise: "als cliënt kunt
//! u zelf uw account verwijderen, waarmee alle gegevens in de applicatie
//! worden gewist"). The session alone is not enough: the password is proven
//! again with a fresh OPAQUE exchange, so a stolen session cannot erase an
//! account. What goes: the account, its keys, sessions, links and events,
//! every relationship in which it is the client — with all items, notes,
//! wrapped keys and files — and the mail waiting for its address. Coaches
//! and managers are refused: their records are kept by contract, and a
//! manager disables them instead.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::login::LoginChallenge;
use super::{verify_login, Status};
use crate::auth::login::{begin_for_self, reauthenticating};
use crate::auth::password_reset;
use crate::clock::now_ms;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::http::extract::{Auth, ClientAddr};
use crate::http::json::{ApiJson, B64};
use crate::ids::UserId;
use crate::mail::outbox;
use crate::org::invitation;
use crate::org::role::Role;
use crate::vault::relationships;
use crate::{org::accounts, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(delete_start))
        .routes(routes!(delete_finish))
}

/// Step 1: an OPAQUE KE1 for the caller's own account.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DeleteStart {
    /// OPAQUE `KE1`.
    pub request: B64,
}

/// Step 2: the KE3 that proves the password.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DeleteFinish {
    /// From step 1.
    pub login_id: String,
    /// OPAQUE `KE3`.
    pub finalization: B64,
}

/// Only an account that is a client wherever it is a member deletes itself.
async fn require_client_only(
    conn: &mut sqlx::AnyConnection,
    account_id: UserId,
) -> Result<(), ApiError> {
    let memberships = accounts::memberships(conn, account_id).await?;
    if memberships.iter().any(|m| m.role != Role::Client) {
        return Err(ApiError::bad_request(
            ErrorCode::NotAClient,
            "only clients delete their own account; a manager disables coaches and managers",
        ));
    }
    Ok(())
}

/// Starts proving the password for deleting the account.
#[utoipa::path(post, path = "/api/account/delete/start", tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    request_body = DeleteStart,
    responses((status = 200, body = LoginChallenge), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn delete_start(
    State(state): State<AppState>,
    auth: Auth,
    ClientAddr(ip): ClientAddr,
    ApiJson(body): ApiJson<DeleteStart>,
) -> Result<Json<LoginChallenge>, ApiError> {
    let mut conn = state.store.pool().acquire().await?;
    let account = reauthenticating(&state, &mut conn, auth.account_id, ip).await?;
    require_client_only(&mut conn, account.id).await?;
    let challenge = begin_for_self(&state, &mut conn, &account, &body.request.0).await?;
    Ok(Json(challenge.into()))
}

/// Verifies the password and erases the account and everything of it.
#[utoipa::path(post, path = "/api/account/delete/finish", tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    request_body = DeleteFinish,
    responses((status = 200, body = Status), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody)))]
async fn delete_finish(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<DeleteFinish>,
) -> Result<Json<Status>, ApiError> {
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let proven = verify_login(&mut tx, &body.login_id, &body.finalization, now).await?;
    if proven != Some(auth.account_id) {
        tx.commit().await?;
        return Err(ApiError::LoginFailed);
    }
    require_client_only(&mut tx, auth.account_id).await?;
    let account = accounts::by_id(&mut tx, auth.account_id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    relationships::delete_where_client(&mut tx, account.id).await?;
    invitation::forget_address(&mut tx, &account.email).await?;
    password_reset::forget_address(&mut tx, &account.email).await?;
    outbox::forget_recipient(&mut tx, &account.email).await?;
    accounts::delete(&mut tx, account.id).await?;
    tx.commit().await?;
    tracing::info!(account = %account.id, "account deleted by its owner");
    Ok(Status::json("deleted"))
}
