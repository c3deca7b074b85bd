//! Attachment streams over HTTP: start, append (streamed, resumable at the
//! reported offset), complete, download (streamed), status, delete.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{path_id, Status};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::http::extract::Auth;
use crate::http::json::{hex, unhex_32, ApiJson};
use crate::ids::{self, AttachmentId, RelationshipId};
use crate::vault::attachments::{self, Attachment};
use crate::{vault::relationships, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    // Only the append route streams (and enforces its own limit); every
    // other route keeps the JSON body limit.
    let (schemas, paths, append_route) = routes!(append);
    OpenApiRouter::new()
        .routes(routes!(begin_upload))
        .routes((
            schemas,
            paths,
            append_route.layer(DefaultBodyLimit::disable()),
        ))
        .routes(routes!(download, delete_attachment))
        .routes(routes!(complete_upload))
        .routes(routes!(attachment_status))
}

/// Where an attachment stands.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct AttachmentStatus {
    /// Id.
    pub attachment_id: String,
    /// Bytes stored (the offset to continue an upload at).
    pub length: i64,
    /// Completed and checked.
    pub complete: bool,
    /// SHA-256 of the stream (hex), once complete.
    pub sha256: Option<String>,
}

impl From<Attachment> for AttachmentStatus {
    fn from(a: Attachment) -> Self {
        Self {
            complete: a.is_complete(),
            sha256: a.sha256.as_deref().map(hex),
            attachment_id: a.attachment_id.to_string(),
            length: a.length,
        }
    }
}

/// Starting an upload.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BeginUpload {
    /// The id in the stream's header (UUID).
    pub attachment_id: String,
}

/// Starts (or looks up) an upload (a current member).
#[utoipa::path(post, path = "/api/relationships/{relationship_id}/attachments", tag = "attachments",
    security(("bearer" = []), ("cookie" = [])),
    params(("relationship_id" = String, Path, description = "the relationship")),
    request_body = BeginUpload,
    responses((status = 201, body = AttachmentStatus), (status = 200, body = AttachmentStatus),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn begin_upload(
    State(state): State<AppState>,
    auth: Auth,
    Path(relationship_id): Path<String>,
    ApiJson(body): ApiJson<BeginUpload>,
) -> Result<(StatusCode, Json<AttachmentStatus>), ApiError> {
    let relationship_id: RelationshipId = path_id(&relationship_id)?;
    let mut tx = state.store.begin().await?;
    let seen = relationships::as_member(&mut tx, relationship_id, auth.account_id).await?;
    // The lower-case text of an id, as the stream's header names it and
    // as later requests name the upload.
    let attachment_id: AttachmentId = ids::parse(&body.attachment_id).ok_or_else(|| {
        ApiError::bad_request(ErrorCode::InvalidField, "attachment_id: expected a UUID")
    })?;
    let (created, a) = attachments::begin(&mut tx, &seen, attachment_id).await?;
    tx.commit().await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(a.into())))
}

/// Where to append.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct Offset {
    /// Must equal the stored length.
    pub offset: i64,
}

/// Appends the body to an upload at `offset` (its uploader). The body is
/// streamed into the database; on a cut-off the stored part is kept and
/// the status says where to continue.
#[utoipa::path(patch, path = "/api/relationships/{relationship_id}/attachments/{attachment_id}",
    tag = "attachments", security(("bearer" = []), ("cookie" = [])),
    params(("relationship_id" = String, Path, description = "the relationship"),
           ("attachment_id" = String, Path, description = "the attachment"), Offset),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
                 description = "the next bytes of the stream"),
    responses((status = 200, body = AttachmentStatus), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
async fn append(
    State(state): State<AppState>,
    auth: Auth,
    Path((relationship_id, attachment_id)): Path<(String, String)>,
    query: Result<Query<Offset>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<AttachmentStatus>, ApiError> {
    let Query(Offset { offset }) =
        query.map_err(|e| ApiError::bad_request(ErrorCode::InvalidQuery, e.body_text()))?;
    let is_binary = crate::http::json::is_binary(&headers);
    let mut stream = body.into_data_stream();
    if !is_binary {
        attachments::drain(&mut stream).await;
        return Err(ApiError::UnsupportedMediaType);
    }
    let appended = async {
        let relationship_id: RelationshipId = path_id(&relationship_id)?;
        let seen = {
            let mut conn = state.store.pool().acquire().await?;
            relationships::as_member(&mut conn, relationship_id, auth.account_id).await?
        };
        let attachment_id: AttachmentId = path_id(&attachment_id)?;
        let length = attachments::append(
            &state.store,
            &seen,
            attachment_id,
            offset,
            &mut stream,
            state.config.limits.max_attachment_bytes,
        )
        .await?;
        Ok::<_, ApiError>((seen, attachment_id, length))
    }
    .await;
    let (seen, attachment_id, length) = match appended {
        Ok(done) => done,
        Err(e) => {
            attachments::drain(&mut stream).await;
            return Err(e);
        }
    };
    let mut conn = state.store.pool().acquire().await?;
    let a = attachments::visible(&mut conn, &seen, attachment_id).await?;
    // The stored length is the truth; `length` is what this request saw.
    if a.length != length {
        tracing::debug!(
            stored = a.length,
            seen = length,
            "upload moved after this request"
        );
    }
    Ok(Json(a.into()))
}

/// Finishing an upload.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CompleteUpload {
    /// Total stream length.
    pub length: i64,
    /// SHA-256 of the whole stream (hex), as in the document description.
    pub sha256: String,
}

/// Completes an upload after checking length, header and SHA-256.
#[utoipa::path(post, path = "/api/relationships/{relationship_id}/attachments/{attachment_id}/complete",
    tag = "attachments", security(("bearer" = []), ("cookie" = [])),
    params(("relationship_id" = String, Path, description = "the relationship"),
           ("attachment_id" = String, Path, description = "the attachment")),
    request_body = CompleteUpload,
    responses((status = 200, body = AttachmentStatus), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn complete_upload(
    State(state): State<AppState>,
    auth: Auth,
    Path((relationship_id, attachment_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<CompleteUpload>,
) -> Result<Json<AttachmentStatus>, ApiError> {
    let digest = unhex_32(&body.sha256)
        .ok_or_else(|| ApiError::bad_request(ErrorCode::InvalidField, "sha256: 64 hex digits"))?;
    let relationship_id: RelationshipId = path_id(&relationship_id)?;
    let seen = {
        let mut conn = state.store.pool().acquire().await?;
        relationships::as_member(&mut conn, relationship_id, auth.account_id).await?
    };
    let attachment_id: AttachmentId = path_id(&attachment_id)?;
    let a = attachments::complete(&state.store, &seen, attachment_id, body.length, &digest).await?;
    Ok(Json(a.into()))
}

/// Where an upload stands (its uploader), or a complete attachment's
/// length and digest (members who held its epoch).
#[utoipa::path(get, path = "/api/relationships/{relationship_id}/attachments/{attachment_id}/status",
    tag = "attachments", security(("bearer" = []), ("cookie" = [])),
    params(("relationship_id" = String, Path, description = "the relationship"),
           ("attachment_id" = String, Path, description = "the attachment")),
    responses((status = 200, body = AttachmentStatus), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn attachment_status(
    State(state): State<AppState>,
    auth: Auth,
    Path((relationship_id, attachment_id)): Path<(String, String)>,
) -> Result<Json<AttachmentStatus>, ApiError> {
    let relationship_id: RelationshipId = path_id(&relationship_id)?;
    let mut conn = state.store.pool().acquire().await?;
    let seen = relationships::as_member(&mut conn, relationship_id, auth.account_id).await?;
    let attachment_id: AttachmentId = path_id(&attachment_id)?;
    Ok(Json(
        attachments::visible(&mut conn, &seen, attachment_id)
            .await?
            .into(),
    ))
}

/// Downloads a complete attachment, streamed.
#[utoipa::path(get, path = "/api/relationships/{relationship_id}/attachments/{attachment_id}",
    tag = "attachments", security(("bearer" = []), ("cookie" = [])),
    params(("relationship_id" = String, Path, description = "the relationship"),
           ("attachment_id" = String, Path, description = "the attachment")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn download(
    State(state): State<AppState>,
    auth: Auth,
    Path((relationship_id, attachment_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let relationship_id: RelationshipId = path_id(&relationship_id)?;
    let mut conn = state.store.pool().acquire().await?;
    let seen = relationships::as_member(&mut conn, relationship_id, auth.account_id).await?;
    let attachment_id: AttachmentId = path_id(&attachment_id)?;
    let a = attachments::visible(&mut conn, &seen, attachment_id).await?;
    let Some(sha) = a.sha256.as_deref() else {
        return Err(ApiError::NotFound);
    };
    drop(conn);
    let stream = attachments::rows(state.store.clone(), relationship_id, attachment_id);
    let mut response = Body::from_stream(stream).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&a.length.to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    if let Ok(v) = HeaderValue::from_str(&hex(sha)) {
        h.insert("x-kluis-sha256", v);
    }
    Ok(response)
}

/// Deletes an attachment (its uploader).
#[utoipa::path(delete, path = "/api/relationships/{relationship_id}/attachments/{attachment_id}",
    tag = "attachments", security(("bearer" = []), ("cookie" = [])),
    params(("relationship_id" = String, Path, description = "the relationship"),
           ("attachment_id" = String, Path, description = "the attachment")),
    responses((status = 200, body = Status), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_attachment(
    State(state): State<AppState>,
    auth: Auth,
    Path((relationship_id, attachment_id)): Path<(String, String)>,
) -> Result<Json<Status>, ApiError> {
    let relationship_id: RelationshipId = path_id(&relationship_id)?;
    let mut tx = state.store.begin().await?;
    let seen = relationships::as_member(&mut tx, relationship_id, auth.account_id).await?;
    let attachment_id: AttachmentId = path_id(&attachment_id)?;
    attachments::delete(&mut tx, &seen, attachment_id).await?;
    tx.commit().await?;
    Ok(Status::json("deleted"))
}
