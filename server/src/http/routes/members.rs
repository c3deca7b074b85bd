//! Members of an organisation: who sees whom, and what a manager may change.
//! A manager sees and edits every member's profile and may disable a
//! membership; a coach sees their own clients; a client sees their coaches.
//! Nobody here reaches dialogue, keys or files.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::email_change::refuse_taken;
use super::{organisation_path_id, Status};
use crate::auth::email_token;
use crate::clock::now_ms;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::http::extract::Auth;
use crate::http::json::ApiJson;
use crate::ids::{self, OrganisationId, UserId};
use crate::mail::address::EmailAddress;
use crate::org::email_change;
use crate::org::members::{self, Member, MemberDate};
use crate::org::role::Role;
use crate::{auth::sessions, fields, mail::outbox, mail::templates, org::accounts, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members))
        .routes(routes!(update_member))
        .routes(routes!(disable_member))
        .routes(routes!(enable_member))
}

/// The members the caller may see.
#[utoipa::path(get, path = "/api/organisations/{organisation_id}/members", tag = "members",
    security(("bearer" = []), ("cookie" = [])),
    params(("organisation_id" = String, Path, description = "the organisation")),
    responses((status = 200, body = Vec<Member>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn list_members(
    State(state): State<AppState>,
    auth: Auth,
    Path(organisation_id): Path<String>,
) -> Result<Json<Vec<Member>>, ApiError> {
    let organisation_id = organisation_path_id(&organisation_id)?;
    let mut conn = state.store.pool().acquire().await?;
    let me = accounts::acting_member(&mut conn, organisation_id, auth.account_id).await?;
    let members = members::visible_to(&mut conn, organisation_id, &me, auth.account_id).await?;
    Ok(Json(members))
}

/// Profile changes a manager may make; absent fields stay as they are, an
/// empty date clears it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MemberUpdate {
    /// New name.
    pub display_name: Option<String>,
    /// New e-mail address, only proposed: the member's current address
    /// gets a link to confirm or refuse it, and nothing changes (login,
    /// password reset, notices) until the member confirms.
    pub email: Option<String>,
    /// Coaches: contract end, YYYY-MM-DD or "".
    pub contract_end: Option<String>,
    /// Clients: trajectory start, YYYY-MM-DD or "".
    pub trajectory_start: Option<String>,
    /// Clients: trajectory end, YYYY-MM-DD or "".
    pub trajectory_end: Option<String>,
}

/// The member a manager acts on, and their membership. The caller must
/// manage the organisation (else `403`) before anything is said about the
/// member: one who is not there, or a path that names no account
/// (`None`), is `404`.
async fn managed_member(
    conn: &mut sqlx::AnyConnection,
    organisation_id: OrganisationId,
    manager_id: UserId,
    member_id: Option<UserId>,
) -> Result<(UserId, accounts::Membership), ApiError> {
    let me = accounts::acting_member(&mut *conn, organisation_id, manager_id).await?;
    if me.role != Role::Manager {
        return Err(ApiError::Forbidden);
    }
    let member_id = member_id.ok_or(ApiError::NotFound)?;
    let membership = accounts::membership(conn, organisation_id, member_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((member_id, membership))
}

/// Edits a member's profile (managers).
#[utoipa::path(patch, path = "/api/organisations/{organisation_id}/members/{account_id}",
    tag = "members", security(("bearer" = []), ("cookie" = [])),
    params(("organisation_id" = String, Path, description = "the organisation"),
           ("account_id" = String, Path, description = "the member")),
    request_body = MemberUpdate,
    responses((status = 200, body = Member), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_member(
    State(state): State<AppState>,
    auth: Auth,
    Path((organisation_id, account_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<MemberUpdate>,
) -> Result<Json<Member>, ApiError> {
    let organisation_id = organisation_path_id(&organisation_id)?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let (account_id, member) = managed_member(
        &mut tx,
        organisation_id,
        auth.account_id,
        ids::parse(&account_id),
    )
    .await?;
    if let Some(name) = &body.display_name {
        let name = fields::name("display_name", name, 100)?;
        if accounts::memberships(&mut tx, account_id).await?.len() > 1 {
            return Err(ApiError::conflict(
                ErrorCode::SharedAccount,
                "this account belongs to other organisations too; only its owner can change its name",
            ));
        }
        accounts::set_display_name(&mut tx, account_id, &name).await?;
    }
    let dates = [
        (MemberDate::ContractEnd, &body.contract_end),
        (MemberDate::TrajectoryStart, &body.trajectory_start),
        (MemberDate::TrajectoryEnd, &body.trajectory_end),
    ];
    for (which, value) in dates {
        let Some(value) = value else { continue };
        if member.role != which.role() {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidField,
                format!(
                    "{} applies to a {} only",
                    which.name(),
                    which.role().as_str()
                ),
            ));
        }
        let date = fields::optional_date(which.name(), value)?;
        members::set_date(&mut tx, organisation_id, account_id, which, date).await?;
    }
    if let Some(email) = &body.email {
        let email = EmailAddress::parse(email)?;
        let account = accounts::by_id(&mut tx, account_id)
            .await?
            .ok_or(ApiError::NotFound)?;
        if email.as_str() != account.email {
            // An account in several organisations belongs to none of their
            // managers alone: its address is the user's to change.
            let organisations = accounts::memberships(&mut tx, account_id).await?.len();
            if organisations > 1 {
                return Err(ApiError::conflict(
                    ErrorCode::SharedAccount,
                    "this account belongs to other organisations too; only its owner can change its e-mail address",
                ));
            }
            refuse_taken(&mut tx, email.as_str()).await?;
            // Only a proposal: the address is where reset links go, so it
            // changes when the member confirms (`email_change.rs`), and
            // the link for that goes to the address the member has now.
            let token =
                email_change::propose(&mut tx, account_id, email.as_str(), auth.account_id, now)
                    .await?;
            let link = email_token::link(&state.config.public_url, "email-change", &token);
            outbox::enqueue(
                &mut tx,
                &account.email,
                &templates::email_change_proposed(account.language, &link),
                now,
            )
            .await?;
        }
    }
    let updated = members::one(&mut tx, organisation_id, account_id).await?;
    tx.commit().await?;
    state.worker_wake.notify_one();
    tracing::info!(organisation = %organisation_id, member = %account_id, manager = %auth.account_id, "profile edited");
    Ok(Json(updated))
}

/// Disables or enables the member the path (organisation, account) names.
/// That a manager does not act on themself is checked first, before an
/// organisation id that names none is answered (`403`).
async fn set_disabled(
    state: &AppState,
    auth: &Auth,
    (organisation_id, account_id): &(String, String),
    disabled: bool,
) -> Result<Json<Status>, ApiError> {
    let account_id: Option<UserId> = ids::parse(account_id);
    if account_id == Some(auth.account_id) {
        return Err(ApiError::conflict(
            ErrorCode::SelfAction,
            "a manager cannot disable or enable themself",
        ));
    }
    let organisation_id = organisation_path_id(organisation_id)?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let (account_id, _) =
        managed_member(&mut tx, organisation_id, auth.account_id, account_id).await?;
    accounts::set_membership_disabled(&mut tx, organisation_id, account_id, disabled).await?;
    if disabled {
        // Ends what the member is doing now, not only what comes next.
        sessions::revoke_all(&mut tx, account_id, now).await?;
    }
    tx.commit().await?;
    tracing::info!(organisation = %organisation_id, member = %account_id, manager = %auth.account_id, disabled, "membership status changed");
    Ok(Status::json(if disabled { "disabled" } else { "enabled" }))
}

/// Disables a member in this organisation and ends their sessions
/// (managers).
#[utoipa::path(post, path = "/api/organisations/{organisation_id}/members/{account_id}/disable",
    tag = "members", security(("bearer" = []), ("cookie" = [])),
    params(("organisation_id" = String, Path, description = "the organisation"),
           ("account_id" = String, Path, description = "the member")),
    responses((status = 200, body = Status), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn disable_member(
    State(state): State<AppState>,
    auth: Auth,
    Path(path): Path<(String, String)>,
) -> Result<Json<Status>, ApiError> {
    set_disabled(&state, &auth, &path, true).await
}

/// Enables a disabled member again (managers).
#[utoipa::path(post, path = "/api/organisations/{organisation_id}/members/{account_id}/enable",
    tag = "members", security(("bearer" = []), ("cookie" = [])),
    params(("organisation_id" = String, Path, description = "the organisation"),
           ("account_id" = String, Path, description = "the member")),
    responses((status = 200, body = Status), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn enable_member(
    State(state): State<AppState>,
    auth: Auth,
    Path(path): Path<(String, String)>,
) -> Result<Json<Status>, ApiError> {
    set_disabled(&state, &auth, &path, false).await
}
