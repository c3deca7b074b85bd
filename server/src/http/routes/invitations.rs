//! Invitations: a manager invites coaches and managers, a coach invites
//! clients. The link goes by e-mail only (the inviter never sees the token);
//! accepting it is where a new invitee registers, or where an existing
//! account (logged in, same e-mail) joins another organisation.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::setup::{RegistrationChallenge, TokenRegistrationStart};
use super::{
    grant, organisation_path_id, registration_record, registration_response, SessionGranted, Status,
};
use crate::auth::sessions::SessionMode;
use crate::clock::now_ms;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::http::extract::{Auth, LinkJson};
use crate::http::json::{ApiJson, B64};
use crate::language::Language;
use crate::mail::address::EmailAddress;
use crate::org::accounts::{self, Account};
use crate::org::invitation::{self, Offer};
use crate::org::role::Role;
use crate::{auth::sessions, fields, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_invitation, pending_invitations))
        .routes(routes!(withdraw_invitation))
        .routes(routes!(lookup_invitation))
        .routes(routes!(register_start))
        .routes(routes!(register_finish))
        .routes(routes!(accept_invitation))
}

/// Whom to invite.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewInvitation {
    /// The invitee's e-mail address.
    pub email: String,
    /// Managers invite `manager` or `coach`; coaches invite `client`.
    pub role: Role,
    /// The invitation e-mail's language (and the new account's, until its
    /// owner changes it); the inviter's own by default.
    #[serde(default)]
    pub language: Option<Language>,
}

/// An invitation was sent.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct InvitationSent {
    /// Its id.
    pub invitation_id: String,
    /// When the link stops working, Unix ms.
    pub expires_ms: i64,
}

/// Sends an invitation by e-mail.
#[utoipa::path(post, path = "/api/organisations/{organisation_id}/invitations", tag = "invitations",
    security(("bearer" = []), ("cookie" = [])),
    params(("organisation_id" = String, Path, description = "the organisation")),
    request_body = NewInvitation,
    responses((status = 201, body = InvitationSent), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
async fn create_invitation(
    State(state): State<AppState>,
    auth: Auth,
    Path(organisation_id): Path<String>,
    ApiJson(body): ApiJson<NewInvitation>,
) -> Result<(StatusCode, Json<InvitationSent>), ApiError> {
    let email = EmailAddress::parse(&body.email)?;
    let organisation_id = organisation_path_id(&organisation_id)?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let inviter = accounts::acting_member(&mut tx, organisation_id, auth.account_id).await?;
    if !inviter.role.may_invite(body.role) {
        return Err(ApiError::Forbidden);
    }
    state
        .limits
        .invitations_by_account
        .check(&auth.account_id.to_string())?;
    let existing = accounts::by_email(&mut tx, email.as_str()).await?;
    if let Some(account) = &existing {
        if let Some(m) = accounts::membership(&mut tx, organisation_id, account.id).await? {
            let second_coach = m.role == Role::Client
                && body.role == Role::Client
                && !accounts::is_client_of(&mut tx, organisation_id, auth.account_id, account.id)
                    .await?;
            if !second_coach {
                return Err(ApiError::conflict(
                    ErrorCode::AlreadyMember,
                    "this person already belongs to the organisation",
                ));
            }
        }
    }
    let language = match body.language {
        Some(l) => l,
        None => {
            accounts::by_id(&mut tx, auth.account_id)
                .await?
                .ok_or(ApiError::Unauthenticated)?
                .language
        }
    };
    let issued = invitation::issue(
        &mut tx,
        &state.config,
        &Offer {
            organisation_id,
            organisation_name: &inviter.organisation_name,
            email: &email,
            role: body.role,
            invited_by: Some(auth.account_id),
            language,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    state.worker_wake.notify_one();
    tracing::info!(organisation = %organisation_id, invitation = %issued.id, role = body.role.as_str(), "invitation sent");
    Ok((
        StatusCode::CREATED,
        Json(InvitationSent {
            invitation_id: issued.id.to_string(),
            expires_ms: issued.expires_ms,
        }),
    ))
}

/// An invitation not used yet (never its link: only the token's hash is
/// stored).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct PendingInvitation {
    /// Its id.
    pub invitation_id: String,
    /// The address it went to.
    pub email: String,
    /// The role offered.
    pub role: Role,
    /// Who sent it; none for the operator's.
    pub invited_by: Option<String>,
    /// When it was sent, Unix ms.
    pub created_ms: i64,
    /// When the link stops working, Unix ms.
    pub expires_ms: i64,
}

/// Who may see and withdraw which invitations of the organisation: a
/// manager every one (`None`), a coach those they sent; a client none.
async fn invitations_of(
    conn: &mut sqlx::AnyConnection,
    organisation_id: crate::ids::OrganisationId,
    auth: &Auth,
) -> Result<Option<crate::ids::UserId>, ApiError> {
    let me = accounts::acting_member(conn, organisation_id, auth.account_id).await?;
    match me.role {
        Role::Manager => Ok(None),
        Role::Coach => Ok(Some(auth.account_id)),
        Role::Client => Err(ApiError::Forbidden),
    }
}

/// The invitations not used yet and still valid: all of the organisation's
/// for a manager, their own for a coach. Newest first.
#[utoipa::path(get, path = "/api/organisations/{organisation_id}/invitations", tag = "invitations",
    security(("bearer" = []), ("cookie" = [])),
    params(("organisation_id" = String, Path, description = "the organisation")),
    responses((status = 200, body = Vec<PendingInvitation>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn pending_invitations(
    State(state): State<AppState>,
    auth: Auth,
    Path(organisation_id): Path<String>,
) -> Result<Json<Vec<PendingInvitation>>, ApiError> {
    let organisation_id = organisation_path_id(&organisation_id)?;
    let mut conn = state.store.pool().acquire().await?;
    let sent_by = invitations_of(&mut conn, organisation_id, &auth).await?;
    let pending = invitation::pending(&mut conn, organisation_id, sent_by, now_ms()).await?;
    Ok(Json(
        pending
            .into_iter()
            .map(|p| PendingInvitation {
                invitation_id: p.id.to_string(),
                email: p.email,
                role: p.role,
                invited_by: p.invited_by.map(|id| id.to_string()),
                created_ms: p.created_ms,
                expires_ms: p.expires_ms,
            })
            .collect(),
    ))
}

/// Withdraws an invitation not used yet: its link stops working at once.
/// A manager withdraws any of the organisation's, a coach their own; one
/// that is used, expired, or not the caller's to withdraw is `404`.
#[utoipa::path(delete, path = "/api/organisations/{organisation_id}/invitations/{invitation_id}",
    tag = "invitations",
    security(("bearer" = []), ("cookie" = [])),
    params(("organisation_id" = String, Path, description = "the organisation"),
           ("invitation_id" = String, Path, description = "the invitation")),
    responses((status = 200, body = Status), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn withdraw_invitation(
    State(state): State<AppState>,
    auth: Auth,
    Path((organisation_id, invitation_id)): Path<(String, String)>,
) -> Result<Json<Status>, ApiError> {
    let organisation_id = organisation_path_id(&organisation_id)?;
    let mut conn = state.store.pool().acquire().await?;
    let sent_by = invitations_of(&mut conn, organisation_id, &auth).await?;
    let id = super::path_id(&invitation_id)?;
    if !invitation::withdraw(&mut conn, organisation_id, id, sent_by, now_ms()).await? {
        return Err(ApiError::NotFound);
    }
    tracing::info!(organisation = %organisation_id, invitation = %id, "invitation withdrawn");
    Ok(Status::json("withdrawn"))
}

/// A link token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TokenOnly {
    /// The token from the link.
    pub token: String,
}

/// What an invitation offers, shown before accepting.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct InvitationInfo {
    /// The organisation.
    pub organisation_id: String,
    /// Its name.
    pub organisation_name: String,
    /// The role offered.
    pub role: Role,
    /// The address it was sent to.
    pub email: String,
    /// Whether that address already has an account (then: log in and
    /// accept, instead of registering).
    pub account_exists: bool,
    /// The display name of who invited them (none for the operator's
    /// invitations), so the page can say who invites whom.
    pub inviter_name: Option<String>,
}

/// Shows what an invitation offers.
#[utoipa::path(post, path = "/api/invitations/lookup", tag = "invitations",
    request_body = TokenOnly,
    responses((status = 200, body = InvitationInfo), (status = 400, body = ErrorBody)))]
async fn lookup_invitation(
    State(state): State<AppState>,
    LinkJson(body): LinkJson<TokenOnly>,
) -> Result<Json<InvitationInfo>, ApiError> {
    let mut conn = state.store.pool().acquire().await?;
    let invitation = invitation::valid(&mut conn, &body.token, now_ms()).await?;
    let account_exists = accounts::by_email(&mut conn, &invitation.email)
        .await?
        .is_some();
    let inviter_name = match invitation.invited_by {
        Some(inviter) => accounts::by_id(&mut conn, inviter)
            .await?
            .map(|a| a.display_name),
        None => None,
    };
    Ok(Json(InvitationInfo {
        organisation_id: invitation.organisation_id.to_string(),
        organisation_name: invitation.organisation_name,
        role: invitation.role,
        email: invitation.email,
        account_exists,
        inviter_name,
    }))
}

/// Registering from an invitation, step 1.
#[utoipa::path(post, path = "/api/invitations/register/start", tag = "invitations",
    request_body = TokenRegistrationStart,
    responses((status = 200, body = RegistrationChallenge), (status = 400, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn register_start(
    State(state): State<AppState>,
    LinkJson(body): LinkJson<TokenRegistrationStart>,
) -> Result<Json<RegistrationChallenge>, ApiError> {
    let mut conn = state.store.pool().acquire().await?;
    let invitation = invitation::valid(&mut conn, &body.token, now_ms()).await?;
    if accounts::by_email(&mut conn, &invitation.email)
        .await?
        .is_some()
    {
        return Err(account_exists());
    }
    Ok(Json(RegistrationChallenge {
        response: registration_response(&state, &body.request, invitation.new_account_id)?,
    }))
}

fn account_exists() -> ApiError {
    ApiError::conflict(
        ErrorCode::AccountExists,
        "an account with this e-mail address exists; log in to accept",
    )
}

/// Registering from an invitation, step 2.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct InvitationRegisterFinish {
    /// The token from the link.
    pub token: String,
    /// OPAQUE `RegistrationUpload`.
    pub upload: B64,
    /// The invitee's name.
    pub display_name: String,
    /// Shown in the session list.
    #[serde(default)]
    pub device_label: Option<String>,
    /// Token or cookie.
    #[serde(default)]
    pub session: SessionMode,
}

/// Registering from an invitation, step 2: creates the account (its
/// address is proven by the link), the membership, and a session.
#[utoipa::path(post, path = "/api/invitations/register/finish", tag = "invitations",
    request_body = InvitationRegisterFinish,
    responses((status = 200, body = SessionGranted), (status = 400, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn register_finish(
    State(state): State<AppState>,
    LinkJson(body): LinkJson<InvitationRegisterFinish>,
) -> Result<Response, ApiError> {
    let display_name = fields::name("display_name", &body.display_name, 100)?;
    let device_label = fields::device_label(body.device_label.as_deref())?;
    let record = registration_record(&body.upload)?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let invitation = invitation::valid(&mut tx, &body.token, now).await?;
    if accounts::by_email(&mut tx, &invitation.email)
        .await?
        .is_some()
    {
        return Err(account_exists());
    }
    let account = Account {
        id: invitation.new_account_id,
        email: invitation.email.clone(),
        display_name,
        opaque_record: record,
        email_verified: true,
        disabled: false,
        language: invitation.language,
        notify_activity: true,
    };
    invitation::consume(&mut tx, &invitation, account.id, now).await?;
    accounts::insert(&mut tx, &account, now).await?;
    accounts::join(
        &mut tx,
        invitation.organisation_id,
        account.id,
        invitation.role,
        invitation.invited_by,
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
    tracing::info!(account = %account.id, organisation = %invitation.organisation_id, "invitation accepted by a new account");
    Ok(grant(&state, account.id, session, body.session))
}

/// Accepts an invitation with an existing account (logged in, and the
/// invitation was sent to this account's address).
#[utoipa::path(post, path = "/api/invitations/accept", tag = "invitations",
    security(("bearer" = []), ("cookie" = [])),
    request_body = TokenOnly,
    responses((status = 200, body = Status), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn accept_invitation(
    State(state): State<AppState>,
    auth: Auth,
    LinkJson(body): LinkJson<TokenOnly>,
) -> Result<Json<Status>, ApiError> {
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let invitation = invitation::valid(&mut tx, &body.token, now).await?;
    let account = accounts::by_id(&mut tx, auth.account_id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    if account.email != invitation.email {
        return Err(ApiError::Forbidden);
    }
    invitation::consume(&mut tx, &invitation, account.id, now).await?;
    accounts::join(
        &mut tx,
        invitation.organisation_id,
        account.id,
        invitation.role,
        invitation.invited_by,
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(account = %account.id, organisation = %invitation.organisation_id, "invitation accepted");
    Ok(Status::json("joined"))
}
