//! A user's own sessions: list and revoke.

use axum::extract::{Path, State};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{path_id, Status};
use crate::auth::sessions::{self as store_sessions, SessionInfo};
use crate::clock::now_ms;
use crate::error::{ApiError, ErrorBody};
use crate::http::extract::Auth;
use crate::ids::SessionId;
use crate::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sessions))
        .routes(routes!(revoke_session))
}

/// My live sessions (device, created, last seen), newest first.
#[utoipa::path(get, path = "/api/sessions", tag = "sessions",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<SessionInfo>), (status = 401, body = ErrorBody)))]
async fn list_sessions(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    let mut conn = state.store.pool().acquire().await?;
    Ok(Json(
        store_sessions::list(&mut conn, auth.account_id, auth.session_id, now_ms()).await?,
    ))
}

/// Revokes one of my sessions; another account's session is `404`.
#[utoipa::path(delete, path = "/api/sessions/{session_id}", tag = "sessions",
    security(("bearer" = []), ("cookie" = [])),
    params(("session_id" = String, Path, description = "the session to end")),
    responses((status = 200, body = Status), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn revoke_session(
    State(state): State<AppState>,
    auth: Auth,
    Path(session_id): Path<String>,
) -> Result<Json<Status>, ApiError> {
    let session_id: SessionId = path_id(&session_id)?;
    let mut conn = state.store.pool().acquire().await?;
    if store_sessions::revoke(&mut conn, auth.account_id, session_id, now_ms()).await? {
        Ok(Status::json("revoked"))
    } else {
        Err(ApiError::NotFound)
    }
}
