//! The one-time setup link: creates the first organisation and its manager.
//! Valid only while no organisation exists, once, until it expires.

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{grant, registration_record, registration_response, SessionGranted};
use crate::auth::email_token::{self, Purpose};
use crate::auth::sessions::SessionMode;
use crate::auth::token::TokenHash;
use crate::clock::now_ms;
use crate::config::VERIFY_LINK_LIFETIME;
use crate::error::{ApiError, ErrorBody};
use crate::http::extract::LinkJson;
use crate::http::json::B64;
use crate::ids::UserId;
use crate::language::Language;
use crate::mail::address::EmailAddress;
use crate::org::accounts::{self, Account};
use crate::org::role::Role;
use crate::org::{organisations, setup};
use crate::{auth::sessions, fields, mail::outbox, mail::templates, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(setup_start))
        .routes(routes!(setup_finish))
}

/// Registration step 1 with the setup link.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TokenRegistrationStart {
    /// The token from the link.
    pub token: String,
    /// OPAQUE `RegistrationRequest`.
    pub request: B64,
}

/// The server's registration answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct RegistrationChallenge {
    /// OPAQUE `RegistrationResponse`.
    pub response: B64,
}

/// Registration step 2 with the setup link.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SetupFinish {
    /// The token from the link.
    pub token: String,
    /// OPAQUE `RegistrationUpload`.
    pub upload: B64,
    /// The organisation's name.
    pub organisation_name: String,
    /// The manager's e-mail address (to be confirmed by e-mail).
    pub email: String,
    /// The manager's name.
    pub display_name: String,
    /// Shown in the session list.
    #[serde(default)]
    pub device_label: Option<String>,
    /// Token or cookie.
    #[serde(default)]
    pub session: SessionMode,
    /// The manager's language (Dutch by default).
    #[serde(default)]
    pub language: Option<Language>,
}

async fn setup_account_id(state: &AppState, token: &str) -> Result<UserId, ApiError> {
    let hash = TokenHash::of_link(token)?;
    let mut conn = state.store.pool().acquire().await?;
    setup::account_id_of(&mut conn, &hash, now_ms())
        .await?
        .ok_or(ApiError::InvalidToken)
}

/// Setup step 1: OPAQUE registration response for the first manager.
#[utoipa::path(post, path = "/api/setup/start", tag = "setup",
    request_body = TokenRegistrationStart,
    responses((status = 200, body = RegistrationChallenge), (status = 400, body = ErrorBody)))]
async fn setup_start(
    State(state): State<AppState>,
    LinkJson(body): LinkJson<TokenRegistrationStart>,
) -> Result<Json<RegistrationChallenge>, ApiError> {
    let account_id = setup_account_id(&state, &body.token).await?;
    Ok(Json(RegistrationChallenge {
        response: registration_response(&state, &body.request, account_id)?,
    }))
}

/// Setup step 2: creates the organisation, the manager and a session.
#[utoipa::path(post, path = "/api/setup/finish", tag = "setup",
    request_body = SetupFinish,
    responses((status = 200, body = SessionGranted), (status = 400, body = ErrorBody)))]
async fn setup_finish(
    State(state): State<AppState>,
    LinkJson(body): LinkJson<SetupFinish>,
) -> Result<Response, ApiError> {
    let organisation_name = fields::name("organisation_name", &body.organisation_name, 200)?;
    let display_name = fields::name("display_name", &body.display_name, 100)?;
    let email = EmailAddress::parse(&body.email)?;
    let device_label = fields::device_label(body.device_label.as_deref())?;
    let record = registration_record(&body.upload)?;
    let hash = TokenHash::of_link(&body.token)?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let account_id = setup::consume(&mut tx, &hash, now)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    if organisations::count(&mut tx).await? > 0 {
        return Err(ApiError::InvalidToken);
    }
    let organisation_id = organisations::create(&mut tx, &organisation_name, now).await?;
    let account = Account {
        id: account_id,
        email: email.as_str().to_owned(),
        display_name,
        opaque_record: record,
        email_verified: false,
        disabled: false,
        language: body.language.unwrap_or_default(),
        notify_activity: true,
    };
    accounts::insert(&mut tx, &account, now).await?;
    accounts::join(
        &mut tx,
        organisation_id,
        account.id,
        Role::Manager,
        None,
        now,
    )
    .await?;
    let token = email_token::issue(
        &mut tx,
        Purpose::VerifyEmail,
        account.id,
        &account.email,
        VERIFY_LINK_LIFETIME,
        now,
    )
    .await?;
    let link = email_token::link(&state.config.public_url, "verify", &token);
    outbox::enqueue(
        &mut tx,
        &account.email,
        &templates::verify_email(account.language, &link),
        now,
    )
    .await?;
    let session = sessions::start(
        &mut tx,
        account.id,
        &device_label,
        state.config.session_lifetime,
        now,
    )
    .await?;
    tx.commit().await?;
    state.worker_wake.notify_one();
    tracing::info!(organisation = %organisation_id, manager = %account.id, "first organisation set up");
    Ok(grant(&state, account.id, session, body.session))
}
