//! The key directory and coach notes keys over HTTP.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::path_id;
use crate::clock::now_ms;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::http::extract::Auth;
use crate::http::json::{hex, ApiJson, B64};
use crate::ids::UserId;
use crate::org::role::Role;
use crate::vault::envelope::{mismatch, rejected};
use crate::{mail::notifications, vault::key_directory, vault::notes_keys, vault::peers, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(publish_keys))
        .routes(routes!(my_keys))
        .routes(routes!(user_keys))
        .routes(routes!(put_notes_key))
        .routes(routes!(my_notes_keys))
}

/// An identity to publish (PROTOCOL.md §5).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PublishKeys {
    /// Identity bundle (0x01).
    pub bundle: B64,
    /// Sealed identity, password kind (0x02).
    pub sealed_password: B64,
    /// Sealed identity, recovery-key kind (0x02).
    pub sealed_recovery: B64,
}

/// The result of publishing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct KeysPublished {
    /// Current version.
    pub version: i64,
    /// Whether the bundle changed (peers will see a key change).
    pub changed: bool,
    /// Fingerprint of the current bundle (hex).
    pub fingerprint: String,
}

/// Publishes my identity, or re-seals it (same bundle, new sealed copies).
/// Only an account's first identity needs no more than the session; a
/// replacement or a re-seal needs the password proven recently (`403
/// reauthentication_required`), so that a stolen session cannot give the
/// account a key its peers would then wrap to.
#[utoipa::path(put, path = "/api/keys", tag = "keys",
    security(("bearer" = []), ("cookie" = [])),
    request_body = PublishKeys,
    responses((status = 200, body = KeysPublished), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn publish_keys(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<PublishKeys>,
) -> Result<Json<KeysPublished>, ApiError> {
    let mut tx = state.store.begin().await?;
    let now = now_ms();
    if key_directory::own(&mut tx, auth.account_id)
        .await?
        .is_some()
    {
        auth.require_fresh_password(state.config.limits.reauthentication_window, now)?;
    }
    let published = key_directory::publish(
        &mut tx,
        auth.account_id,
        &body.bundle.0,
        &body.sealed_password.0,
        &body.sealed_recovery.0,
        now,
    )
    .await?;
    if published.changed && published.version > 1 {
        notifications::peer_keys_changed(&mut tx, auth.account_id, &state.config.public_url, now)
            .await?;
    }
    tx.commit().await?;
    state.worker_wake.notify_one();
    if published.changed {
        tracing::info!(account = %auth.account_id, version = published.version, "identity published");
    }
    Ok(Json(KeysPublished {
        version: published.version,
        changed: published.changed,
        fingerprint: hex(&published.fingerprint),
    }))
}

/// My current identity with both sealed copies (only ever to its owner).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct MyKeys {
    /// Version.
    pub version: i64,
    /// Identity bundle.
    pub bundle: B64,
    /// Sealed under the password-derived key.
    pub sealed_password: B64,
    /// Sealed under the recovery key.
    pub sealed_recovery: B64,
}

/// My keys, to unseal after login.
#[utoipa::path(get, path = "/api/keys/mine", tag = "keys",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = MyKeys), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn my_keys(State(state): State<AppState>, auth: Auth) -> Result<Json<MyKeys>, ApiError> {
    let mut conn = state.store.pool().acquire().await?;
    let own = key_directory::own(&mut conn, auth.account_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(MyKeys {
        version: own.version,
        bundle: B64(own.bundle),
        sealed_password: B64(own.sealed_password),
        sealed_recovery: B64(own.sealed_recovery),
    }))
}

/// One version of a user's public identity.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct KeyVersion {
    /// Version.
    pub version: i64,
    /// Identity bundle.
    pub bundle: B64,
    /// Its fingerprint (hex).
    pub fingerprint: String,
    /// Published, Unix ms.
    pub created_ms: i64,
}

/// A user's keys: the current bundle and every earlier one.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct UserKeys {
    /// The user.
    pub account_id: String,
    /// Oldest first; the last is current.
    pub history: Vec<KeyVersion>,
}

/// A peer's public keys and key history (only for people who share a
/// relationship, a coach-client link or an invitation with them).
#[utoipa::path(get, path = "/api/users/{account_id}/keys", tag = "keys",
    security(("bearer" = []), ("cookie" = [])),
    params(("account_id" = String, Path, description = "the user")),
    responses((status = 200, body = UserKeys), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn user_keys(
    State(state): State<AppState>,
    auth: Auth,
    Path(account_id): Path<String>,
) -> Result<Json<UserKeys>, ApiError> {
    let account_id: UserId = path_id(&account_id)?;
    let mut conn = state.store.pool().acquire().await?;
    if !peers::are_peers(&mut conn, auth.account_id, account_id).await? {
        return Err(ApiError::NotFound);
    }
    let history = key_directory::history(&mut conn, account_id).await?;
    if history.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(Json(UserKeys {
        account_id: account_id.to_string(),
        history: history
            .into_iter()
            .map(|v| KeyVersion {
                version: v.version,
                fingerprint: hex(&v.fingerprint),
                bundle: B64(v.bundle),
                created_ms: v.created_ms,
            })
            .collect(),
    }))
}

/// A sealed notes key (0x06).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NotesKeyUpload {
    /// The envelope.
    pub envelope: B64,
}

/// A stored notes key.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct NotesKeyView {
    /// Generation.
    pub generation: i64,
    /// The sealed notes key.
    pub envelope: B64,
}

/// Stores one generation of my notes key (coaches). Idempotent for the
/// same bytes; another key for a stored generation is a conflict.
#[utoipa::path(put, path = "/api/notes-keys/{generation}", tag = "notes",
    security(("bearer" = []), ("cookie" = [])),
    params(("generation" = i64, Path, description = "the notes-key generation")),
    request_body = NotesKeyUpload,
    responses((status = 200, body = NotesKeyView), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn put_notes_key(
    State(state): State<AppState>,
    auth: Auth,
    Path(generation): Path<i64>,
    ApiJson(body): ApiJson<NotesKeyUpload>,
) -> Result<Json<NotesKeyView>, ApiError> {
    let sealed = kluis_crypto::notes::SealedNotesKey::decode(&body.envelope.0)
        .map_err(|e| rejected("sealed notes key", e))?;
    if sealed.coach_id() != auth.account_id {
        return Err(mismatch("the notes key names another coach"));
    }
    if i64::from(sealed.generation().0) != generation {
        return Err(mismatch("the notes key names another generation"));
    }
    let mut tx = state.store.begin().await?;
    let is_coach = crate::org::accounts::memberships(&mut tx, auth.account_id)
        .await?
        .iter()
        .any(|m| m.role == Role::Coach && !m.disabled);
    if !is_coach {
        return Err(ApiError::Forbidden);
    }
    let stored = notes_keys::store(
        &mut tx,
        auth.account_id,
        generation,
        &body.envelope.0,
        now_ms(),
    )
    .await?;
    if stored == notes_keys::Stored::Conflict {
        return Err(ApiError::conflict(
            ErrorCode::GenerationExists,
            "this generation already has another notes key",
        ));
    }
    tx.commit().await?;
    Ok(Json(NotesKeyView {
        generation,
        envelope: body.envelope,
    }))
}

/// My notes keys, every generation.
#[utoipa::path(get, path = "/api/notes-keys", tag = "notes",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<NotesKeyView>), (status = 401, body = ErrorBody)))]
async fn my_notes_keys(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Vec<NotesKeyView>>, ApiError> {
    let mut conn = state.store.pool().acquire().await?;
    let keys = notes_keys::all_of(&mut conn, auth.account_id).await?;
    Ok(Json(
        keys.into_iter()
            .map(|(generation, envelope)| NotesKeyView {
                generation,
                envelope: B64(envelope),
            })
            .collect(),
    ))
}
