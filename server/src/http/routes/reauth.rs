//! Proving the password again within a session ("re-authentication").
//!
//! A session alone must not be enough to hand an account over: publishing
//! a new identity, turning two-factor login off, setting up a first second
//! factor and changing the e-mail address need the password proven within
//! the last few minutes (`limits.reauthentication_window_seconds`). The
//! login that made the session counts; later, the client runs one OPAQUE
//! login here (the same engine as login), which marks the session as
//! freshly re-authenticated. Changing the password and deleting the
//! account prove it the same way, through the start ([`ProofStart`]) and
//! finish ([`proven`]) kept here.

use std::net::IpAddr;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use sqlx::pool::PoolConnection;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::login::LoginChallenge;
use super::verify_login;
use crate::auth::login::{begin_for_self, reauthenticating, Challenge};
use crate::auth::sessions;
use crate::clock::{ms_after, now_ms};
use crate::error::{ApiError, ErrorBody};
use crate::http::extract::{Auth, ClientAddr};
use crate::http::json::{ApiJson, B64};
use crate::org::accounts::Account;
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(reauth_start))
        .routes(routes!(reauth_finish))
}

/// Step 1 of proving the password again: an OPAQUE KE1 for the caller's
/// own account.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PasswordProofStart {
    /// OPAQUE `KE1`.
    pub request: B64,
}

/// Step 2: the KE3 that proves the password.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PasswordProofFinish {
    /// From step 1.
    pub login_id: String,
    /// OPAQUE `KE3`.
    pub finalization: B64,
}

/// The session is freshly re-authenticated.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Reauthenticated {
    /// `reauthenticated`.
    pub status: &'static str,
    /// Until when (Unix ms) the session counts as fresh.
    pub fresh_until_ms: i64,
}

/// A fresh proof of the caller's own password, begun: the login rate
/// limits (per address and per account) are passed and the caller's
/// account is at hand. Nothing is stored until [`Self::challenge`], so a
/// route may refuse the caller first and leave no login attempt behind.
/// Proving the password again, changing it and deleting the account all
/// start here.
pub(super) struct ProofStart {
    conn: PoolConnection<sqlx::Any>,
    /// The caller's account.
    pub account: Account,
}

impl ProofStart {
    pub(super) async fn begin(state: &AppState, auth: &Auth, ip: IpAddr) -> Result<Self, ApiError> {
        let mut conn = state.store.pool().acquire().await?;
        let account = reauthenticating(state, &mut conn, auth.account_id, ip).await?;
        Ok(Self { conn, account })
    }

    /// The connection, for a route's own checks before the challenge.
    pub(super) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.conn
    }

    /// Stores the OPAQUE login attempt for the client's `KE1` and returns
    /// the server's `KE2`.
    pub(super) async fn challenge(
        mut self,
        state: &AppState,
        ke1: &B64,
    ) -> Result<Challenge, ApiError> {
        begin_for_self(state, &mut self.conn, &self.account, &ke1.0).await
    }
}

/// OPAQUE's last step of a password proof by the caller (the attempt
/// `login_id` names, its `KE3`): the transaction back if it proved the
/// caller's own password; otherwise the used-up attempt is committed and
/// the answer is `401 login_failed`.
pub(super) async fn proven(
    mut tx: sqlx::Transaction<'static, sqlx::Any>,
    auth: &Auth,
    login_id: &str,
    finalization: &B64,
    now: i64,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, ApiError> {
    let proven = verify_login(&mut tx, login_id, finalization, now).await?;
    if proven != Some(auth.account_id) {
        tx.commit().await?;
        return Err(ApiError::LoginFailed);
    }
    Ok(tx)
}

/// Starts proving the password again.
#[utoipa::path(post, path = "/api/reauth/start", tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    request_body = PasswordProofStart,
    responses((status = 200, body = LoginChallenge), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn reauth_start(
    State(state): State<AppState>,
    auth: Auth,
    ClientAddr(ip): ClientAddr,
    ApiJson(body): ApiJson<PasswordProofStart>,
) -> Result<Json<LoginChallenge>, ApiError> {
    let proof = ProofStart::begin(&state, &auth, ip).await?;
    Ok(Json(proof.challenge(&state, &body.request).await?.into()))
}

/// Verifies the password and marks the session as freshly
/// re-authenticated. A wrong password is `401 login_failed` and changes
/// nothing.
#[utoipa::path(post, path = "/api/reauth/finish", tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    request_body = PasswordProofFinish,
    responses((status = 200, body = Reauthenticated), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody)))]
async fn reauth_finish(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<PasswordProofFinish>,
) -> Result<Json<Reauthenticated>, ApiError> {
    let now = now_ms();
    let tx = state.store.begin().await?;
    let mut tx = proven(tx, &auth, &body.login_id, &body.finalization, now).await?;
    sessions::mark_reauthenticated(&mut tx, auth.session_id, now).await?;
    tx.commit().await?;
    tracing::info!(account = %auth.account_id, "password proven again");
    Ok(Json(Reauthenticated {
        status: "reauthenticated",
        fresh_until_ms: ms_after(now, state.config.limits.reauthentication_window),
    }))
}
