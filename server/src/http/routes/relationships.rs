//! Relationships (trajectories): open one, change its members with a new
//! epoch, read it and the wrapped keys addressed to me, set its dates.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{organisation_path_id, path_id};
use crate::clock::now_ms;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::http::extract::Auth;
use crate::http::json::{ApiJson, B64};
use crate::ids::{self, RelationshipId, UserId};
use crate::org::role::Role;
use crate::vault::relationships::{self, Member, Relationship, TrajectoryDate};
use crate::vault::{chain, membership};
use crate::{fields, org::accounts, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(open_relationship))
        .routes(routes!(organisation_relationships))
        .routes(routes!(my_relationships))
        .routes(routes!(get_relationship, update_relationship))
        .routes(routes!(new_epoch))
        .routes(routes!(my_wrapped_keys))
        .routes(routes!(membership_chain))
}

/// A member as shown with a relationship.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct MemberView {
    /// The account.
    pub account_id: String,
    /// Name.
    pub display_name: String,
    /// Coach or client.
    pub role: Role,
    /// First epoch held.
    pub joined_epoch: i64,
    /// First epoch no longer held (removed members).
    pub left_epoch: Option<i64>,
}

/// A relationship and its members.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct RelationshipView {
    /// Id.
    pub relationship_id: String,
    /// Organisation.
    pub organisation_id: String,
    /// Newest epoch.
    pub current_epoch: i64,
    /// Trajectory start.
    pub trajectory_start: Option<String>,
    /// Trajectory end.
    pub trajectory_end: Option<String>,
    /// Every member, current and former.
    pub members: Vec<MemberView>,
}

async fn view(
    conn: &mut AnyConnection,
    r: Relationship,
    members: Vec<Member>,
) -> Result<RelationshipView, ApiError> {
    let mut out = Vec::with_capacity(members.len());
    for m in members {
        let name = accounts::by_id(&mut *conn, m.account_id)
            .await?
            .map(|a| a.display_name)
            .unwrap_or_default();
        out.push(MemberView {
            account_id: m.account_id.to_string(),
            display_name: name,
            role: m.role,
            joined_epoch: m.joined_epoch,
            left_epoch: m.left_epoch,
        });
    }
    Ok(RelationshipView {
        relationship_id: r.id.to_string(),
        organisation_id: r.organisation_id.to_string(),
        current_epoch: r.current_epoch,
        trajectory_start: r.trajectory_start,
        trajectory_end: r.trajectory_end,
        members: out,
    })
}

/// Opening a relationship: its id (chosen by the coach's client, because
/// the wrapped keys bind it), the client, and epoch 0's wrapped keys for
/// the coach and the client.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct OpenRelationship {
    /// New relationship id (UUID).
    pub relationship_id: String,
    /// The client (one the caller invited and who accepted).
    pub client_id: String,
    /// Wrapped relationship keys (0x03) of epoch 0, one per member.
    pub wrapped_keys: Vec<B64>,
    /// The opening membership record (0x0A, PROTOCOL.md §7.6), signed by
    /// the caller: epoch 0, the caller as coach and the client.
    pub membership_record: B64,
}

/// Opens a relationship between the calling coach and one of their clients.
#[utoipa::path(post, path = "/api/organisations/{organisation_id}/relationships",
    tag = "relationships", security(("bearer" = []), ("cookie" = [])),
    params(("organisation_id" = String, Path, description = "the organisation")),
    request_body = OpenRelationship,
    responses((status = 201, body = RelationshipView), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn open_relationship(
    State(state): State<AppState>,
    auth: Auth,
    Path(organisation_id): Path<String>,
    ApiJson(body): ApiJson<OpenRelationship>,
) -> Result<(StatusCode, Json<RelationshipView>), ApiError> {
    // Any UUID text passes here; only its lower-case form is an id the
    // wrapped keys can agree with (`None`: the key check refuses them all).
    if body.relationship_id.parse::<RelationshipId>().is_err() {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            "relationship_id: expected a UUID",
        ));
    }
    let relationship_id: Option<RelationshipId> = ids::parse(&body.relationship_id);
    let organisation_id = organisation_path_id(&organisation_id)?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let me = accounts::acting_member(&mut tx, organisation_id, auth.account_id).await?;
    if me.role != Role::Coach {
        return Err(ApiError::Forbidden);
    }
    // Text that is no account id names no client of the caller's.
    let client_id = match ids::parse::<UserId>(&body.client_id) {
        Some(id)
            if accounts::is_active_client_of(&mut tx, organisation_id, auth.account_id, id)
                .await? =>
        {
            id
        }
        _ => {
            return Err(ApiError::bad_request(
                ErrorCode::NotYourClient,
                "a coach opens relationships with clients they invited",
            ))
        }
    };
    if let Some(id) = relationship_id {
        if relationships::load(&mut tx, id).await?.is_some() {
            return Err(ApiError::conflict(
                ErrorCode::RelationshipExists,
                "this relationship id is taken",
            ));
        }
    }
    let recipients: BTreeSet<UserId> = [auth.account_id, client_id].into();
    let keys: Vec<Vec<u8>> = body.wrapped_keys.into_iter().map(|k| k.0).collect();
    let checked = relationships::check_epoch_keys(
        &mut tx,
        relationship_id,
        0,
        auth.account_id,
        &recipients,
        &keys,
    )
    .await?;
    let record = chain::check(
        &mut tx,
        relationship_id,
        0,
        auth.account_id,
        &[(auth.account_id, Role::Coach), (client_id, Role::Client)],
        &body.membership_record.0,
    )
    .await?;
    let relationship_id = relationship_id.ok_or_else(|| {
        ApiError::Internal("wrapped keys agreed with no relationship id".to_owned())
    })?;
    relationships::create(
        &mut tx,
        relationship_id,
        organisation_id,
        auth.account_id,
        client_id,
        now,
    )
    .await?;
    relationships::store_epoch_keys(&mut tx, relationship_id, 0, auth.account_id, &checked, now)
        .await?;
    chain::store(&mut tx, &record, now).await?;
    let r = relationships::load(&mut tx, relationship_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let members = relationships::members(&mut tx, relationship_id).await?;
    let shown = view(&mut tx, r, members).await?;
    tx.commit().await?;
    tracing::info!(relationship = %shown.relationship_id, coach = %auth.account_id, "relationship opened");
    Ok((StatusCode::CREATED, Json(shown)))
}

/// The organisation's relationships, for its managers: members and dates
/// only — no keys, no items.
#[utoipa::path(get, path = "/api/organisations/{organisation_id}/relationships",
    tag = "relationships", security(("bearer" = []), ("cookie" = [])),
    params(("organisation_id" = String, Path, description = "the organisation")),
    responses((status = 200, body = Vec<RelationshipView>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn organisation_relationships(
    State(state): State<AppState>,
    auth: Auth,
    Path(organisation_id): Path<String>,
) -> Result<Json<Vec<RelationshipView>>, ApiError> {
    let organisation_id = organisation_path_id(&organisation_id)?;
    let mut conn = state.store.pool().acquire().await?;
    let me = accounts::acting_member(&mut conn, organisation_id, auth.account_id).await?;
    if me.role != Role::Manager {
        return Err(ApiError::Forbidden);
    }
    let ids = relationships::ids_in_organisation(&mut conn, organisation_id).await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(r) = relationships::load(&mut conn, id).await? {
            let members = relationships::members(&mut conn, id).await?;
            out.push(view(&mut conn, r, members).await?);
        }
    }
    Ok(Json(out))
}

/// The relationships I am or was a member of.
#[utoipa::path(get, path = "/api/relationships", tag = "relationships",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<RelationshipView>), (status = 401, body = ErrorBody)))]
async fn my_relationships(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Vec<RelationshipView>>, ApiError> {
    let mut conn = state.store.pool().acquire().await?;
    let ids = relationships::ids_of_member(&mut conn, auth.account_id).await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let seen = relationships::as_member(&mut conn, id, auth.account_id).await?;
        out.push(view(&mut conn, seen.relationship, seen.members).await?);
    }
    Ok(Json(out))
}

/// One relationship I am or was a member of.
#[utoipa::path(get, path = "/api/relationships/{relationship_id}", tag = "relationships",
    security(("bearer" = []), ("cookie" = [])),
    params(("relationship_id" = String, Path, description = "the relationship")),
    responses((status = 200, body = RelationshipView), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_relationship(
    State(state): State<AppState>,
    auth: Auth,
    Path(relationship_id): Path<String>,
) -> Result<Json<RelationshipView>, ApiError> {
    let relationship_id: RelationshipId = path_id(&relationship_id)?;
    let mut conn = state.store.pool().acquire().await?;
    let seen = relationships::as_member(&mut conn, relationship_id, auth.account_id).await?;
    Ok(Json(
        view(&mut conn, seen.relationship, seen.members).await?,
    ))
}

/// Trajectory dates; absent stays, `""` clears.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RelationshipUpdate {
    /// YYYY-MM-DD or "".
    pub trajectory_start: Option<String>,
    /// YYYY-MM-DD or "".
    pub trajectory_end: Option<String>,
}

/// Sets the trajectory dates (a coach of the relationship, or a manager of
/// its organisation).
#[utoipa::path(patch, path = "/api/relationships/{relationship_id}", tag = "relationships",
    security(("bearer" = []), ("cookie" = [])),
    params(("relationship_id" = String, Path, description = "the relationship")),
    request_body = RelationshipUpdate,
    responses((status = 200, body = RelationshipView), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn update_relationship(
    State(state): State<AppState>,
    auth: Auth,
    Path(relationship_id): Path<String>,
    ApiJson(body): ApiJson<RelationshipUpdate>,
) -> Result<Json<RelationshipView>, ApiError> {
    let relationship_id: RelationshipId = path_id(&relationship_id)?;
    let mut tx = state.store.begin().await?;
    let r = relationships::load(&mut tx, relationship_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let members = relationships::members(&mut tx, relationship_id).await?;
    let as_coach = members
        .iter()
        .any(|m| m.account_id == auth.account_id && m.is_current() && m.role == Role::Coach);
    let membership = accounts::membership(&mut tx, r.organisation_id, auth.account_id).await?;
    let as_manager = matches!(&membership, Some(m) if m.role == Role::Manager && !m.disabled);
    let member_anyhow = members.iter().any(|m| m.account_id == auth.account_id);
    if !(as_manager || member_anyhow) {
        return Err(ApiError::NotFound);
    }
    if !(as_manager || (as_coach && matches!(&membership, Some(m) if !m.disabled))) {
        return Err(ApiError::Forbidden);
    }
    for (which, value) in [
        (TrajectoryDate::Start, &body.trajectory_start),
        (TrajectoryDate::End, &body.trajectory_end),
    ] {
        let Some(value) = value else { continue };
        let date = fields::optional_date(which.name(), value)?;
        relationships::set_date(&mut tx, relationship_id, which, date).await?;
    }
    let r = relationships::load(&mut tx, relationship_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let shown = view(&mut tx, r, members).await?;
    tx.commit().await?;
    Ok(Json(shown))
}

/// A new epoch: who joins, who leaves, and the wrapped keys for everyone
/// who is a member afterwards. With nobody joining or leaving it rotates the
/// key (after a member's key change, say).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewEpoch {
    /// Must be the current epoch + 1.
    pub epoch: i64,
    /// Accounts joining (coaches of the organisation, or the caller's clients).
    #[serde(default)]
    pub add: Vec<String>,
    /// Current members leaving.
    #[serde(default)]
    pub remove: Vec<String>,
    /// Wrapped keys (0x03) of the new epoch, one per member after the change.
    pub wrapped_keys: Vec<B64>,
    /// The epoch's membership record (0x0A, PROTOCOL.md §7.6), signed by the
    /// caller: every member after the change with role and current key
    /// fingerprint, linked to the previous record.
    pub membership_record: B64,
}

/// Starts a new epoch (a current coach of the relationship).
#[utoipa::path(post, path = "/api/relationships/{relationship_id}/epochs", tag = "relationships",
    security(("bearer" = []), ("cookie" = [])),
    params(("relationship_id" = String, Path, description = "the relationship")),
    request_body = NewEpoch,
    responses((status = 201, body = RelationshipView), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn new_epoch(
    State(state): State<AppState>,
    auth: Auth,
    Path(relationship_id): Path<String>,
    ApiJson(body): ApiJson<NewEpoch>,
) -> Result<(StatusCode, Json<RelationshipView>), ApiError> {
    let relationship_id: RelationshipId = path_id(&relationship_id)?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let seen = relationships::as_member(&mut tx, relationship_id, auth.account_id).await?;
    if !(seen.me.is_current() && seen.me.role == Role::Coach) {
        return Err(ApiError::Forbidden);
    }
    let current = seen.relationship.current_epoch;
    if body.epoch != current + 1 {
        return Err(ApiError::conflict(
            ErrorCode::StaleEpoch,
            format!("the next epoch is {}", current + 1),
        ));
    }
    let organisation_id = seen.relationship.organisation_id;
    // Text in `add` or `remove` that is no account id names nobody: the
    // plan refuses it where it stands.
    let mut candidates = Vec::with_capacity(body.add.len());
    for new in &body.add {
        let proposed = match ids::parse::<UserId>(new) {
            Some(new) => Some((
                new,
                relationships::candidate(&mut tx, organisation_id, auth.account_id, new).await?,
            )),
            None => None,
        };
        candidates.push(proposed);
    }
    let remove: Vec<Option<UserId>> = body.remove.iter().map(|r| ids::parse(r)).collect();
    let plan = membership::plan_epoch(&seen.members, &remove, &candidates)?;
    let keys: Vec<Vec<u8>> = body.wrapped_keys.into_iter().map(|k| k.0).collect();
    let checked = relationships::check_epoch_keys(
        &mut tx,
        Some(relationship_id),
        body.epoch,
        auth.account_id,
        &plan.after,
        &keys,
    )
    .await?;
    let members_after: Vec<(UserId, Role)> = plan
        .after
        .iter()
        .map(|user| {
            let role = seen
                .members
                .iter()
                .find(|m| m.account_id == *user && m.is_current())
                .map(|m| m.role)
                .or_else(|| {
                    plan.joining
                        .iter()
                        .find(|(u, _)| u == user)
                        .map(|(_, r)| *r)
                });
            role.map(|r| (*user, r))
                .ok_or_else(|| ApiError::Internal("a planned member has no role".into()))
        })
        .collect::<Result<_, _>>()?;
    let record = chain::check(
        &mut tx,
        Some(relationship_id),
        body.epoch,
        auth.account_id,
        &members_after,
        &body.membership_record.0,
    )
    .await?;
    let moved = relationships::advance_epoch(
        &mut tx,
        relationship_id,
        current,
        &plan.leaving,
        &plan.joining,
    )
    .await?;
    if !moved {
        return Err(ApiError::conflict(
            ErrorCode::StaleEpoch,
            "another epoch was made first",
        ));
    }
    relationships::store_epoch_keys(
        &mut tx,
        relationship_id,
        body.epoch,
        auth.account_id,
        &checked,
        now,
    )
    .await?;
    chain::store(&mut tx, &record, now).await?;
    let r = relationships::load(&mut tx, relationship_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let members = relationships::members(&mut tx, relationship_id).await?;
    let shown = view(&mut tx, r, members).await?;
    tx.commit().await?;
    tracing::info!(relationship = %relationship_id, epoch = body.epoch, "new epoch");
    Ok((StatusCode::CREATED, Json(shown)))
}

/// A wrapped key addressed to me.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct WrappedKeyView {
    /// Epoch.
    pub epoch: i64,
    /// The envelope (0x03).
    pub envelope: B64,
}

/// The wrapped keys addressed to me, every epoch I hold.
#[utoipa::path(get, path = "/api/relationships/{relationship_id}/keys", tag = "relationships",
    security(("bearer" = []), ("cookie" = [])),
    params(("relationship_id" = String, Path, description = "the relationship")),
    responses((status = 200, body = Vec<WrappedKeyView>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn my_wrapped_keys(
    State(state): State<AppState>,
    auth: Auth,
    Path(relationship_id): Path<String>,
) -> Result<Json<Vec<WrappedKeyView>>, ApiError> {
    let relationship_id: RelationshipId = path_id(&relationship_id)?;
    let mut conn = state.store.pool().acquire().await?;
    relationships::as_member(&mut conn, relationship_id, auth.account_id).await?;
    let keys = relationships::keys_of(&mut conn, relationship_id, auth.account_id).await?;
    Ok(Json(
        keys.into_iter()
            .map(|(epoch, envelope)| WrappedKeyView {
                epoch,
                envelope: B64(envelope),
            })
            .collect(),
    ))
}

/// One record of a relationship's membership chain.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct MembershipRecordView {
    /// The epoch it starts.
    pub epoch: i64,
    /// The signed record (0x0A, PROTOCOL.md §7.6).
    pub record: B64,
}

/// The membership chain, oldest record first: every record for a current
/// member, the records up to their removal for a former one. Members
/// verify it before they unwrap or wrap a key.
#[utoipa::path(get, path = "/api/relationships/{relationship_id}/membership",
    tag = "relationships", security(("bearer" = []), ("cookie" = [])),
    params(("relationship_id" = String, Path, description = "the relationship")),
    responses((status = 200, body = Vec<MembershipRecordView>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn membership_chain(
    State(state): State<AppState>,
    auth: Auth,
    Path(relationship_id): Path<String>,
) -> Result<Json<Vec<MembershipRecordView>>, ApiError> {
    let relationship_id: RelationshipId = path_id(&relationship_id)?;
    let mut conn = state.store.pool().acquire().await?;
    let seen = relationships::as_member(&mut conn, relationship_id, auth.account_id).await?;
    let records = chain::records(&mut conn, relationship_id, seen.me.left_epoch).await?;
    Ok(Json(
        records
            .into_iter()
            .map(|(epoch, record)| MembershipRecordView {
                epoch,
                record: B64(record),
            })
            .collect(),
    ))
}
