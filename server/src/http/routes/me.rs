//! The caller's own account.

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
use crate::mail::notifications;
use crate::org::role::Role;
use crate::{org::accounts, org::deletion, org::email_change, org::privacy_notice, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(set_preferences))
}

/// One organisation I belong to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct MyMembership {
    /// The organisation.
    pub organisation_id: String,
    /// Its name.
    pub organisation_name: String,
    /// My role there.
    pub role: Role,
    /// Disabled there by a manager.
    pub disabled: bool,
}

/// My account.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Me {
    /// My user id.
    pub account_id: String,
    /// My e-mail address.
    pub email: String,
    /// Whether it is confirmed.
    pub email_verified: bool,
    /// My name as others see it.
    pub display_name: String,
    /// My organisations.
    pub memberships: Vec<MyMembership>,
    /// The language of my e-mails and notices.
    pub language: Language,
    /// Whether I get an e-mail when a message or file arrives (at most one
    /// per interval).
    pub activity_emails: bool,
    /// The current privacy notice awaits my acknowledgement: show it
    /// (`GET /api/privacy-notice`) before anything else.
    pub privacy_notice_pending: bool,
    /// An organisation of mine requires two-factor login and I have not
    /// set it up: until I do, only enrolment and my own account work.
    pub two_factor_enrolment_required: bool,
    /// A new address a manager proposed for me, waiting for me to confirm
    /// or refuse it (`/api/me/email-change/…`); until then nothing changes.
    pub proposed_email: Option<String>,
    /// My account's erasure is scheduled for then (Unix ms); cancel it with
    /// `POST /api/account/delete/cancel`.
    pub deletion_scheduled_for_ms: Option<i64>,
    /// A session ends after this long without a request (ms,
    /// `session_idle_minutes`). A client that asks on its own — a web page
    /// fetching new messages — locks itself after this long without its
    /// user, so that the limit still means "nobody was there".
    pub session_idle_ms: i64,
    /// The largest attachment stream this server accepts, bytes (header
    /// and tags included: `max_attachment_mib`); a client says the limit
    /// before an upload starts.
    pub max_attachment_bytes: u64,
}

/// What to change of my preferences; absent fields stay.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Preferences {
    /// `nl` or `en`.
    #[serde(default)]
    pub language: Option<Language>,
    /// E-mails about new messages and files on or off.
    #[serde(default)]
    pub activity_emails: Option<bool>,
}

/// Who am I.
#[utoipa::path(get, path = "/api/me", tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<AppState>, auth: Auth) -> Result<Json<Me>, ApiError> {
    let mut conn = state.store.pool().acquire().await?;
    let account = accounts::by_id(&mut conn, auth.account_id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let memberships = accounts::memberships(&mut conn, auth.account_id)
        .await?
        .into_iter()
        .map(|m| MyMembership {
            organisation_id: m.organisation_id.to_string(),
            organisation_name: m.organisation_name,
            role: m.role,
            disabled: m.disabled,
        })
        .collect();
    let privacy_notice_pending = privacy_notice::acknowledged(&mut conn, auth.account_id)
        .await?
        .is_none();
    let proposed_email = email_change::pending(&mut conn, auth.account_id, now_ms())
        .await?
        .map(|p| p.new_email);
    let deletion_scheduled_for_ms = deletion::scheduled(&mut conn, auth.account_id).await?;
    Ok(Json(Me {
        proposed_email,
        deletion_scheduled_for_ms,
        privacy_notice_pending,
        two_factor_enrolment_required: auth.must_enrol_two_factor,
        account_id: account.id.to_string(),
        email: account.email,
        email_verified: account.email_verified,
        display_name: account.display_name,
        memberships,
        language: account.language,
        activity_emails: account.notify_activity,
        session_idle_ms: i64::try_from(state.config.session_idle.as_millis()).unwrap_or(i64::MAX),
        max_attachment_bytes: state.config.limits.max_attachment_bytes,
    }))
}

/// Changes my language or activity e-mails; answers with my account.
#[utoipa::path(put, path = "/api/me/preferences", tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    request_body = Preferences,
    responses((status = 200, body = Me), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody)))]
async fn set_preferences(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<Preferences>,
) -> Result<Json<Me>, ApiError> {
    let mut tx = state.store.begin().await?;
    if let Some(language) = body.language {
        accounts::set_language(&mut tx, auth.account_id, language).await?;
    }
    if let Some(on) = body.activity_emails {
        accounts::set_notify_activity(&mut tx, auth.account_id, on).await?;
        if !on {
            // Nothing already gathered goes out after the switch.
            notifications::forget_pending_activity(&mut tx, auth.account_id).await?;
        }
    }
    tx.commit().await?;
    me(State(state), auth).await
}
