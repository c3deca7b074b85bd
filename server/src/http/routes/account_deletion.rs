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
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::login::LoginChallenge;
use super::reauth::{proven, PasswordProofFinish, PasswordProofStart, ProofStart};
use super::Status;
use crate::clock::{ms_after, now_ms};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::http::extract::{Auth, ClientAddr};
use crate::http::json::ApiJson;
use crate::ids::UserId;
use crate::mail::{notifications, outbox, templates};
use crate::org::deletion;
use crate::org::role::Role;
use crate::{org::accounts, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(delete_start))
        .routes(routes!(delete_finish))
        .routes(routes!(delete_cancel))
}

/// What became of the request to erase the account.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct DeletionOutcome {
    /// `deleted` (at once) or `scheduled` (after the cooling-off period).
    pub status: &'static str,
    /// When a scheduled erasure happens, Unix ms (only when scheduled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_for_ms: Option<i64>,
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
    request_body = PasswordProofStart,
    responses((status = 200, body = LoginChallenge), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn delete_start(
    State(state): State<AppState>,
    auth: Auth,
    ClientAddr(ip): ClientAddr,
    ApiJson(body): ApiJson<PasswordProofStart>,
) -> Result<Json<LoginChallenge>, ApiError> {
    let mut proof = ProofStart::begin(&state, &auth, ip).await?;
    let account_id = proof.account.id;
    require_client_only(proof.conn(), account_id).await?;
    Ok(Json(proof.challenge(&state, &body.request).await?.into()))
}

/// Verifies the password and erases the account and everything of it —
/// or, within the cooling-off period after a password reset, an address
/// change or a new identity, schedules the erasure for the end of the
/// period and tells the coaches.
#[utoipa::path(post, path = "/api/account/delete/finish", tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    request_body = PasswordProofFinish,
    responses((status = 200, body = DeletionOutcome), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody)))]
async fn delete_finish(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<PasswordProofFinish>,
) -> Result<Json<DeletionOutcome>, ApiError> {
    let now = now_ms();
    let tx = state.store.begin().await?;
    let mut tx = proven(tx, &auth, &body.login_id, &body.finalization, now).await?;
    require_client_only(&mut tx, auth.account_id).await?;
    let account = accounts::by_id(&mut tx, auth.account_id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let cooling_off = state.config.limits.deletion_cooling_off;
    if deletion::must_wait(&mut tx, account.id, cooling_off, now).await? {
        let due = deletion::schedule(&mut tx, account.id, ms_after(now, cooling_off), now).await?;
        let date = date_of(due);
        notifications::client_deletion_scheduled(&mut tx, account.id, &date, now).await?;
        outbox::enqueue(
            &mut tx,
            &account.email,
            &templates::deletion_scheduled(account.language, &date),
            now,
        )
        .await?;
        tx.commit().await?;
        state.worker_wake.notify_one();
        tracing::info!(account = %account.id, due_ms = due, "account erasure scheduled");
        return Ok(Json(DeletionOutcome {
            status: "scheduled",
            scheduled_for_ms: Some(due),
        }));
    }
    deletion::erase(&mut tx, &account).await?;
    tx.commit().await?;
    tracing::info!(account = %account.id, "account deleted by its owner");
    Ok(Json(DeletionOutcome {
        status: "deleted",
        scheduled_for_ms: None,
    }))
}

/// Cancels my scheduled erasure (`404` when none is scheduled).
#[utoipa::path(post, path = "/api/account/delete/cancel", tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Status), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn delete_cancel(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Status>, ApiError> {
    let mut conn = state.store.pool().acquire().await?;
    if !deletion::cancel(&mut conn, auth.account_id).await? {
        return Err(ApiError::NotFound);
    }
    tracing::info!(account = %auth.account_id, "scheduled account erasure cancelled");
    Ok(Status::json("deletion_cancelled"))
}

/// A Unix-ms time as the day it falls on (UTC), for e-mails.
fn date_of(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms / 1000)
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}
