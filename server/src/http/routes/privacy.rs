//! The privacy notice: read it (which records that it was shown) and
//! acknowledge it.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::clock::now_ms;
use crate::error::{ApiError, ErrorBody};
use crate::http::extract::Auth;
use crate::http::json::ApiJson;
use crate::language::Language;
use crate::{org::accounts, org::privacy_notice, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_notice))
        .routes(routes!(acknowledge_notice))
}

/// The privacy notice in my language.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct PrivacyNotice {
    /// Its version (acknowledge this one).
    pub version: i64,
    /// The language of `text`.
    pub language: Language,
    /// The notice, Markdown.
    pub text: String,
    /// When I acknowledged this version, Unix ms.
    pub acknowledged_ms: Option<i64>,
}

/// The acknowledgement.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Acknowledge {
    /// The version read.
    pub version: i64,
}

/// The current privacy notice; records that it was shown to me.
#[utoipa::path(get, path = "/api/privacy-notice", tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = PrivacyNotice), (status = 401, body = ErrorBody)))]
async fn get_notice(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<PrivacyNotice>, ApiError> {
    let mut conn = state.store.pool().acquire().await?;
    let account = accounts::by_id(&mut conn, auth.account_id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let acknowledged_ms =
        privacy_notice::shown(&mut conn, account.id, account.language, now_ms()).await?;
    Ok(view(&state, account.language, acknowledged_ms))
}

fn view(state: &AppState, language: Language, acknowledged_ms: Option<i64>) -> Json<PrivacyNotice> {
    Json(PrivacyNotice {
        version: privacy_notice::VERSION,
        language,
        text: privacy_notice::text(language, &state.config.privacy_contact),
        acknowledged_ms,
    })
}

/// I have read this version of the notice.
#[utoipa::path(post, path = "/api/privacy-notice/acknowledge", tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    request_body = Acknowledge,
    responses((status = 200, body = PrivacyNotice), (status = 401, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn acknowledge_notice(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<Acknowledge>,
) -> Result<Json<PrivacyNotice>, ApiError> {
    let mut tx = state.store.begin().await?;
    let account = accounts::by_id(&mut tx, auth.account_id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let at = privacy_notice::acknowledge(&mut tx, account.id, body.version, now_ms()).await?;
    tx.commit().await?;
    tracing::info!(account = %account.id, version = body.version, "privacy notice acknowledged");
    Ok(view(&state, account.language, Some(at)))
}
