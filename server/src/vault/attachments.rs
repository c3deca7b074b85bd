//! Attachment streams (PROTOCOL.md §9): uploaded and downloaded as streams,
//! stored as database rows of at most 1 MiB, so memory stays flat whatever
//! the file size and every instance and every backup has them.
//!
//! An upload is resumable: each request appends at the offset the server
//! reports, and every stored row is committed with the new length, so an
//! interrupted request loses at most what had not reached the database. A
//! stream is listed and served only once its uploader completed it and the
//! server checked its length, its header and its SHA-256 (the digest the
//! signed document description binds). Unfinished uploads are removed after
//! a day.

use std::time::Duration;

use axum::body::{BodyDataStream, Bytes};
use futures_util::{Stream, StreamExt};
use kluis_crypto::attachment::{AttachmentHeader, ATTACHMENT_HEADER_LEN, SEALED_CHUNK_SIZE};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use crate::clock::now_ms;
use crate::error::{ApiError, ErrorCode};
use crate::ids::{self, AttachmentId, RelationshipId, UserId};
use crate::store::Store;
use crate::vault::envelope::{mismatch, rejected};
use crate::vault::relationships::Seen;

/// Bytes per stored row.
pub const ROW_BYTES: usize = 1024 * 1024;
/// An upload request that sends nothing for this long is cut off (what
/// arrived is kept).
const IDLE: Duration = Duration::from_secs(60);
/// After refusing an oversize upload, read and discard up to this much more
/// so that the client receives the `413` instead of a reset connection.
const DRAIN: usize = 64 * 1024 * 1024;
/// Unfinished uploads older than this are removed.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(24 * 3600);

/// An attachment's state.
#[derive(Clone, Debug)]
pub struct Attachment {
    /// Id (in the stream header).
    pub attachment_id: AttachmentId,
    /// Who uploads it.
    pub uploader_id: UserId,
    /// The relationship's epoch when the upload began.
    pub epoch: i64,
    /// Bytes stored.
    pub length: i64,
    /// SHA-256 of the stream, once complete.
    pub sha256: Option<Vec<u8>>,
}

impl Attachment {
    /// Complete and checked.
    pub fn is_complete(&self) -> bool {
        self.sha256.is_some()
    }
}

async fn load(
    conn: &mut AnyConnection,
    relationship_id: RelationshipId,
    attachment_id: AttachmentId,
) -> Result<Option<Attachment>, ApiError> {
    let row = sqlx::query(
        "SELECT attachment_id, uploader_id, epoch, length, sha256 FROM attachments \
         WHERE relationship_id = $1 AND attachment_id = $2",
    )
    .bind(relationship_id.to_string())
    .bind(attachment_id.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(Attachment {
            attachment_id: ids::get(&r, "attachment_id")?,
            uploader_id: ids::get(&r, "uploader_id")?,
            epoch: r.try_get("epoch")?,
            length: r.try_get("length")?,
            sha256: r.try_get("sha256")?,
        })
    })
    .transpose()
}

/// The attachment as the caller may see it: its uploader always; once
/// complete, every member who held the epoch it was uploaded in. Anyone
/// else: `NotFound`.
pub async fn visible(
    conn: &mut AnyConnection,
    seen: &Seen,
    attachment_id: AttachmentId,
) -> Result<Attachment, ApiError> {
    let a = load(conn, seen.relationship.id, attachment_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let mine = a.uploader_id == seen.me.account_id;
    if mine || (a.is_complete() && seen.me.holds(a.epoch)) {
        Ok(a)
    } else {
        Err(ApiError::NotFound)
    }
}

/// Starts an upload (a current member); starting the same one again is a
/// no-op that reports where it stands.
pub async fn begin(
    conn: &mut AnyConnection,
    seen: &Seen,
    attachment_id: AttachmentId,
) -> Result<(bool, Attachment), ApiError> {
    if !seen.me.is_current() {
        return Err(ApiError::Forbidden);
    }
    if let Some(existing) = load(&mut *conn, seen.relationship.id, attachment_id).await? {
        return if existing.uploader_id == seen.me.account_id {
            Ok((false, existing))
        } else {
            Err(ApiError::conflict(
                ErrorCode::AttachmentExists,
                "this attachment id is taken",
            ))
        };
    }
    sqlx::query(
        "INSERT INTO attachments (relationship_id, attachment_id, uploader_id, epoch, length, created_ms, touched_ms) \
         VALUES ($1, $2, $3, $4, 0, $5, $5)",
    )
    .bind(seen.relationship.id.to_string())
    .bind(attachment_id.to_string())
    .bind(seen.me.account_id.to_string())
    .bind(seen.relationship.current_epoch)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    let created = load(conn, seen.relationship.id, attachment_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((true, created))
}

/// Stores one row and advances the length, atomically; `false` if another
/// request moved the length first.
async fn store_row(
    store: &Store,
    relationship_id: RelationshipId,
    attachment_id: AttachmentId,
    idx: i64,
    old_length: i64,
    data: &[u8],
) -> Result<bool, ApiError> {
    let mut tx = store.begin().await?;
    let len = i64::try_from(data.len()).unwrap_or(i64::MAX);
    let moved = sqlx::query(
        "UPDATE attachments SET length = length + $1, touched_ms = $5 WHERE relationship_id = $2 \
         AND attachment_id = $3 AND length = $4 AND sha256 IS NULL",
    )
    .bind(len)
    .bind(relationship_id.to_string())
    .bind(attachment_id.to_string())
    .bind(old_length)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    if moved.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO attachment_chunks (relationship_id, attachment_id, idx, data) VALUES ($1, $2, $3, $4)",
    )
    .bind(relationship_id.to_string())
    .bind(attachment_id.to_string())
    .bind(idx)
    .bind(data)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Reads and discards what is left of a request body (bounded), so that a
/// client that is still sending receives the answer instead of a reset
/// connection, and its keep-alive connection stays usable.
pub async fn drain(stream: &mut BodyDataStream) {
    let mut drained = 0usize;
    while drained < DRAIN {
        match tokio::time::timeout(IDLE, stream.next()).await {
            Ok(Some(Ok(more))) => drained += more.len(),
            _ => break,
        }
    }
}

/// Appends the request body at `offset` (which must be the stored length).
/// Returns the new length.
pub async fn append(
    store: &Store,
    seen: &Seen,
    attachment_id: AttachmentId,
    offset: i64,
    stream: &mut BodyDataStream,
    max_bytes: u64,
) -> Result<i64, ApiError> {
    let a = {
        let mut conn = store.pool().acquire().await?;
        load(&mut conn, seen.relationship.id, attachment_id)
            .await?
            .ok_or(ApiError::NotFound)?
    };
    if a.uploader_id != seen.me.account_id {
        return Err(ApiError::NotFound);
    }
    if !seen.me.is_current() {
        return Err(ApiError::Forbidden);
    }
    if a.is_complete() {
        return Err(ApiError::conflict(
            ErrorCode::AlreadyComplete,
            "this upload is complete",
        ));
    }
    if offset != a.length {
        return Err(ApiError::conflict(
            ErrorCode::WrongOffset,
            format!("the upload continues at offset {}", a.length),
        ));
    }
    let mut idx: i64 = {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM attachment_chunks WHERE relationship_id = $1 AND attachment_id = $2",
        )
        .bind(seen.relationship.id.to_string())
        .bind(attachment_id.to_string())
        .fetch_one(store.pool())
        .await?;
        row.try_get("n")?
    };
    let max = i64::try_from(max_bytes).unwrap_or(i64::MAX);
    let mut length = a.length;
    let mut buffer: Vec<u8> = Vec::with_capacity(ROW_BYTES);
    let mut failure = None;
    loop {
        let frame = match tokio::time::timeout(IDLE, stream.next()).await {
            Err(_) => {
                failure = Some(ApiError::bad_request(
                    ErrorCode::UploadStalled,
                    "no data for 60 s",
                ));
                break;
            }
            Ok(None) => break,
            Ok(Some(Err(_))) => {
                failure = Some(ApiError::bad_request(
                    ErrorCode::UploadInterrupted,
                    "the upload was cut off",
                ));
                break;
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let incoming = i64::try_from(buffer.len() + frame.len()).unwrap_or(i64::MAX);
        if length.saturating_add(incoming) > max {
            failure = Some(ApiError::PayloadTooLarge);
            buffer.clear();
            drain(stream).await;
            break;
        }
        buffer.extend_from_slice(&frame);
        while buffer.len() >= ROW_BYTES {
            let rest = buffer.split_off(ROW_BYTES);
            if !store_row(
                store,
                seen.relationship.id,
                attachment_id,
                idx,
                length,
                &buffer,
            )
            .await?
            {
                return Err(ApiError::conflict(
                    ErrorCode::WrongOffset,
                    "another request is uploading",
                ));
            }
            length += i64::try_from(buffer.len()).unwrap_or(i64::MAX);
            idx += 1;
            buffer = rest;
            buffer.reserve(ROW_BYTES.saturating_sub(buffer.len()));
        }
    }
    // What arrived is kept, also when the request failed: the client
    // resumes from the reported length.
    if !buffer.is_empty()
        && store_row(
            store,
            seen.relationship.id,
            attachment_id,
            idx,
            length,
            &buffer,
        )
        .await?
    {
        length += i64::try_from(buffer.len()).unwrap_or(i64::MAX);
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(length),
    }
}

/// Whether `length` can be a stream: the header, then full sealed chunks
/// and one final chunk of 16 ..= 65 552 bytes.
fn plausible_length(length: i64) -> bool {
    let header = ATTACHMENT_HEADER_LEN as i64;
    let chunk = SEALED_CHUNK_SIZE as i64;
    let rest = length - header;
    if rest < 16 {
        return false;
    }
    let tail = rest % chunk;
    tail == 0 || tail >= 16
}

/// The stored rows, one at a time.
pub fn rows(
    store: Store,
    relationship_id: RelationshipId,
    attachment_id: AttachmentId,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::unfold(Some(0i64), move |state| {
        let store = store.clone();
        async move {
            let idx = state?;
            let row = sqlx::query(
                "SELECT data FROM attachment_chunks WHERE relationship_id = $1 AND attachment_id = $2 AND idx = $3",
            )
            .bind(relationship_id.to_string())
            .bind(attachment_id.to_string())
            .bind(idx)
            .fetch_optional(store.pool())
            .await;
            match row {
                Ok(Some(r)) => match r.try_get::<Vec<u8>, _>("data") {
                    Ok(data) => Some((Ok(Bytes::from(data)), Some(idx + 1))),
                    Err(e) => Some((Err(std::io::Error::other(e)), None)),
                },
                Ok(None) => None,
                Err(e) => Some((Err(std::io::Error::other(e)), None)),
            }
        }
    })
}

/// Completes an upload: the stored stream must have the length and SHA-256
/// the uploader states, a plausible STREAM length, and a header naming this
/// attachment.
pub async fn complete(
    store: &Store,
    seen: &Seen,
    attachment_id: AttachmentId,
    length: i64,
    sha256: &[u8],
) -> Result<Attachment, ApiError> {
    let a = {
        let mut conn = store.pool().acquire().await?;
        visible(&mut conn, seen, attachment_id).await?
    };
    if a.uploader_id != seen.me.account_id {
        return Err(ApiError::Forbidden);
    }
    if a.is_complete() {
        return if a.length == length && a.sha256.as_deref() == Some(sha256) {
            Ok(a)
        } else {
            Err(ApiError::conflict(
                ErrorCode::AlreadyComplete,
                "this upload is complete",
            ))
        };
    }
    if a.length != length {
        return Err(ApiError::conflict(
            ErrorCode::Incomplete,
            format!("{} of {length} bytes stored", a.length),
        ));
    }
    if !plausible_length(length) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidEnvelope,
            "attachment stream: not a whole number of chunks",
        ));
    }
    let mut hasher = Sha256::new();
    let mut header = Vec::with_capacity(ATTACHMENT_HEADER_LEN);
    let mut chunks = Box::pin(rows(store.clone(), seen.relationship.id, attachment_id));
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| ApiError::Internal(e.to_string()))?;
        if header.len() < ATTACHMENT_HEADER_LEN {
            let need = ATTACHMENT_HEADER_LEN - header.len();
            header.extend_from_slice(chunk.get(..need.min(chunk.len())).unwrap_or_default());
        }
        hasher.update(&chunk);
    }
    let decoded =
        AttachmentHeader::decode(&header).map_err(|e| rejected("attachment header", e))?;
    if decoded.attachment_id() != attachment_id {
        return Err(mismatch("the stream names another attachment"));
    }
    if hasher.finalize().as_slice() != sha256 {
        return Err(ApiError::bad_request(
            ErrorCode::DigestMismatch,
            "the stored stream has another SHA-256; delete the upload and start again",
        ));
    }
    let done = sqlx::query(
        "UPDATE attachments SET sha256 = $1, completed_ms = $2 WHERE relationship_id = $3 \
         AND attachment_id = $4 AND sha256 IS NULL AND length = $5",
    )
    .bind(sha256)
    .bind(now_ms())
    .bind(seen.relationship.id.to_string())
    .bind(attachment_id.to_string())
    .bind(length)
    .execute(store.pool())
    .await?;
    if done.rows_affected() != 1 {
        return Err(ApiError::conflict(
            ErrorCode::WrongOffset,
            "the upload changed meanwhile",
        ));
    }
    Ok(Attachment {
        sha256: Some(sha256.to_vec()),
        ..a
    })
}

/// Deletes an attachment (its uploader).
pub async fn delete(
    conn: &mut AnyConnection,
    seen: &Seen,
    attachment_id: AttachmentId,
) -> Result<(), ApiError> {
    let a = visible(&mut *conn, seen, attachment_id).await?;
    if a.uploader_id != seen.me.account_id {
        return Err(ApiError::Forbidden);
    }
    sqlx::query("DELETE FROM attachments WHERE relationship_id = $1 AND attachment_id = $2")
        .bind(seen.relationship.id.to_string())
        .bind(attachment_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes unfinished uploads untouched for [`ABANDONED_AFTER`].
pub async fn remove_abandoned(store: &Store) -> Result<u64, ApiError> {
    let cutoff = now_ms() - i64::try_from(ABANDONED_AFTER.as_millis()).unwrap_or(i64::MAX);
    let done = sqlx::query("DELETE FROM attachments WHERE sha256 IS NULL AND touched_ms < $1")
        .bind(cutoff)
        .execute(store.pool())
        .await?;
    Ok(done.rows_affected())
}

/// The files an account uploaded to one relationship, counted: for the
/// right of access.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Uploaded {
    /// The relationship.
    pub relationship_id: String,
    /// How many (complete or not).
    pub count: i64,
    /// Bytes of ciphertext stored.
    pub bytes: i64,
    /// The first and last, Unix ms.
    pub first_ms: i64,
    /// The first and last, Unix ms.
    pub last_ms: i64,
}

/// Every relationship's files `uploader` uploaded.
pub(crate) async fn uploaded_by(
    conn: &mut AnyConnection,
    uploader: UserId,
) -> Result<Vec<Uploaded>, ApiError> {
    let rows = sqlx::query(
        "SELECT relationship_id, CAST(COUNT(*) AS BIGINT) AS n, \
         CAST(COALESCE(SUM(length), 0) AS BIGINT) AS bytes, \
         MIN(created_ms) AS first_ms, MAX(created_ms) AS last_ms \
         FROM attachments WHERE uploader_id = $1 GROUP BY relationship_id ORDER BY relationship_id",
    )
    .bind(uploader.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Uploaded {
                relationship_id: r.try_get("relationship_id")?,
                count: r.try_get("n")?,
                bytes: r.try_get("bytes")?,
                first_ms: r.try_get("first_ms")?,
                last_ms: r.try_get("last_ms")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_lengths() {
        let h = ATTACHMENT_HEADER_LEN as i64;
        let c = SEALED_CHUNK_SIZE as i64;
        assert!(plausible_length(h + 16), "empty file");
        assert!(plausible_length(h + c), "one full chunk");
        assert!(plausible_length(h + c + 17));
        assert!(!plausible_length(h + 15));
        assert!(!plausible_length(h + c + 15));
        assert!(!plausible_length(10));
    }
}
