//! Items of a relationship over HTTP. Uploads are the raw envelope bytes
//! (`application/octet-stream`, up to 8 MiB + 163); answers carry envelopes
//! as base64 in JSON.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{path_id, Status};
use crate::clock::now_ms;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::http::extract::Auth;
use crate::http::json::B64;
use crate::ids::{self, ItemId, RelationshipId};
use crate::vault::items::{self, Direction, Stored, MAX_ITEM_ENVELOPE};
use crate::{mail::notifications, vault::relationships, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(put_item, get_item, delete_item))
        .routes(routes!(list_items))
        .layer(DefaultBodyLimit::max(MAX_ITEM_ENVELOPE))
}

/// An item as served.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct ItemView {
    /// Client-chosen id.
    pub item_id: String,
    /// Server order within the relationship.
    pub seq: i64,
    /// Epoch (notes: generation).
    pub epoch: i64,
    /// `message`, `document` or `note`.
    pub kind: String,
    /// Author.
    pub author_id: String,
    /// Server receive time, Unix ms.
    pub received_ms: i64,
    /// Deleted (then `envelope` is absent).
    pub deleted: bool,
    /// The sealed item (0x04).
    pub envelope: Option<B64>,
    /// With a tombstone: the author's signed deletion (0x0B, PROTOCOL.md
    /// §8.7); absent for tombstones from before deletions were signed.
    pub deletion: Option<B64>,
}

impl From<Stored> for ItemView {
    fn from(s: Stored) -> Self {
        Self {
            item_id: s.item_id.to_string(),
            seq: s.seq,
            epoch: s.epoch,
            kind: s.kind,
            author_id: s.author_id.to_string(),
            received_ms: s.received_ms,
            deleted: s.deleted_ms.is_some(),
            envelope: s.envelope.map(B64),
            deletion: s.deletion.map(B64),
        }
    }
}

/// Uploads an item (a current member; notes: a coach). The same id with
/// the same bytes again gives the same answer (`200`); with other bytes,
/// `409`.
#[utoipa::path(put, path = "/api/relationships/{relationship_id}/items/{item_id}", tag = "items",
    security(("bearer" = []), ("cookie" = [])),
    params(("relationship_id" = String, Path, description = "the relationship"),
           ("item_id" = String, Path, description = "the item id in the envelope's header")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
                 description = "the sealed item envelope (0x04)"),
    responses((status = 201, body = ItemView), (status = 200, body = ItemView),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody)))]
async fn put_item(
    State(state): State<AppState>,
    auth: Auth,
    Path((relationship_id, item_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ItemView>), ApiError> {
    let body = binary_body(&headers, body)?;
    let relationship_id: RelationshipId = path_id(&relationship_id)?;
    let mut tx = state.store.begin().await?;
    let seen = relationships::as_member(&mut tx, relationship_id, auth.account_id).await?;
    let now = now_ms();
    // An item id that is no item id cannot agree with the envelope's.
    let item_id: Option<ItemId> = ids::parse(&item_id);
    let (created, stored) = items::put(&mut tx, &seen, item_id, &body, now).await?;
    if created && stored.kind != "note" {
        notifications::record_activity(
            &mut tx,
            relationship_id,
            auth.account_id,
            state.config.mail.activity_interval,
            now,
        )
        .await?;
    }
    tx.commit().await?;
    if created {
        state.worker_wake.notify_one();
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(stored.into())))
}

/// One item I may see.
#[utoipa::path(get, path = "/api/relationships/{relationship_id}/items/{item_id}", tag = "items",
    security(("bearer" = []), ("cookie" = [])),
    params(("relationship_id" = String, Path, description = "the relationship"),
           ("item_id" = String, Path, description = "the item")),
    responses((status = 200, body = ItemView), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_item(
    State(state): State<AppState>,
    auth: Auth,
    Path((relationship_id, item_id)): Path<(String, String)>,
) -> Result<Json<ItemView>, ApiError> {
    let relationship_id: RelationshipId = path_id(&relationship_id)?;
    let mut conn = state.store.pool().acquire().await?;
    let seen = relationships::as_member(&mut conn, relationship_id, auth.account_id).await?;
    let item_id: ItemId = path_id(&item_id)?;
    Ok(Json(items::get(&mut conn, &seen, item_id).await?.into()))
}

/// Deletes my own item (a current member); a tombstone stays with the
/// signed deletion sent as the body (0x0B, 126 bytes, PROTOCOL.md §8.7).
/// Deleting a deleted item again changes nothing.
#[utoipa::path(delete, path = "/api/relationships/{relationship_id}/items/{item_id}", tag = "items",
    security(("bearer" = []), ("cookie" = [])),
    params(("relationship_id" = String, Path, description = "the relationship"),
           ("item_id" = String, Path, description = "the item")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
                 description = "the author's signed deletion (0x0B)"),
    responses((status = 200, body = Status), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 415, body = ErrorBody)))]
async fn delete_item(
    State(state): State<AppState>,
    auth: Auth,
    Path((relationship_id, item_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Status>, ApiError> {
    let body = binary_body(&headers, body)?;
    let relationship_id: RelationshipId = path_id(&relationship_id)?;
    let mut tx = state.store.begin().await?;
    let seen = relationships::as_member(&mut tx, relationship_id, auth.account_id).await?;
    let item_id: ItemId = path_id(&item_id)?;
    items::delete(&mut tx, &seen, item_id, &body, now_ms()).await?;
    tx.commit().await?;
    Ok(Status::json("deleted"))
}

/// The raw bytes of an `application/octet-stream` body.
fn binary_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, ApiError> {
    if !crate::http::json::is_binary(headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::bad_request(ErrorCode::InvalidBody, e.body_text())
        }
    })
}

/// Paging parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct PageQuery {
    /// Newest first, older than this cursor.
    pub before: Option<String>,
    /// Oldest first, newer than this cursor ("since").
    pub after: Option<String>,
    /// Items per page, 1–100 (default 50).
    pub limit: Option<i64>,
}

/// A page of items.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct ItemPage {
    /// The items.
    pub items: Vec<ItemView>,
    /// Cursor for the next page in the same direction, if there is more.
    pub next: Option<String>,
}

/// The items I may see: newest first (optionally `before` a cursor), or
/// oldest first `after` a cursor.
#[utoipa::path(get, path = "/api/relationships/{relationship_id}/items", tag = "items",
    security(("bearer" = []), ("cookie" = [])),
    params(("relationship_id" = String, Path, description = "the relationship"), PageQuery),
    responses((status = 200, body = ItemPage), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn list_items(
    State(state): State<AppState>,
    auth: Auth,
    Path(relationship_id): Path<String>,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ItemPage>, ApiError> {
    let Query(query) =
        query.map_err(|e| ApiError::bad_request(ErrorCode::InvalidQuery, e.body_text()))?;
    let (direction, cursor) = match (&query.before, &query.after) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidQuery,
                "give either before or after, not both",
            ))
        }
        (_, Some(after)) => (Direction::Newer, Some(after.as_str())),
        (before, None) => (Direction::Older, before.as_deref()),
    };
    let relationship_id: RelationshipId = path_id(&relationship_id)?;
    let mut conn = state.store.pool().acquire().await?;
    let seen = relationships::as_member(&mut conn, relationship_id, auth.account_id).await?;
    let page = items::page(
        &mut conn,
        &seen,
        direction,
        cursor,
        query.limit.unwrap_or(50),
    )
    .await?;
    Ok(Json(ItemPage {
        items: page.items.into_iter().map(ItemView::from).collect(),
        next: page.next,
    }))
}
