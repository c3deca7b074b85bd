//! Files: encrypted on this device chunk by chunk (PROTOCOL.md §9) and
//! uploaded in resumable segments; downloaded as a stream and decrypted
//! chunk by chunk. Memory stays at one segment whatever the file's size.
//!
//! A download writes plaintext before the last chunk and the stream's
//! digest are checked (that is what streaming means): on an error, what was
//! written must be thrown away. The CLI writes to a temporary file and
//! renames it only on success.

use std::io::{Read, Write};

use futures_util::io::{AllowStdIo, AsyncRead, AsyncReadExt as _};
use futures_util::StreamExt as _;
use kluis_crypto::attachment::{
    AttachmentHeader, AttachmentKey, ChunkOpener, ChunkSealer, DocumentDescription,
    ATTACHMENT_HEADER_LEN, CHUNK_SIZE, SEALED_CHUNK_SIZE,
};
use kluis_crypto::ids::{AttachmentId, ItemId, RelationshipId};
use kluis_crypto::item::SharedItemKind;
use rand::rngs::OsRng;
use reqwest::Method;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result, Violation};
use crate::session::Session;
use crate::wire::{AttachmentStatus, BeginUpload, CompleteUpload};

/// How much ciphertext goes in one upload request (64 chunks).
pub const SEGMENT_BYTES: usize = 64 * SEALED_CHUNK_SIZE;

/// How often a segment is retried after the connection failed.
const SEGMENT_ATTEMPTS: u32 = 4;

/// Progress of an upload or download, in plaintext bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes done.
    pub done: u64,
    /// Bytes in all, when known.
    pub total: Option<u64>,
}

/// A file that was shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedFile {
    /// The document item that describes it.
    pub item_id: ItemId,
    /// The attachment.
    pub attachment_id: AttachmentId,
    /// Plaintext bytes.
    pub size: u64,
}

/// The largest file, in plaintext bytes, whose encrypted stream (header,
/// chunks and their tags, PROTOCOL.md §9) fits in `stream_limit` bytes —
/// the limit a server sets on attachments, said to the user before an
/// upload starts.
pub fn max_file_size(stream_limit: u64) -> u64 {
    let (chunk, sealed) = (CHUNK_SIZE as u64, SEALED_CHUNK_SIZE as u64);
    let Some(body) = stream_limit.checked_sub(ATTACHMENT_HEADER_LEN as u64) else {
        return 0;
    };
    (body / sealed) * chunk + (body % sealed).saturating_sub(sealed - chunk)
}

/// Reads until `buf` is full or the reader ends; returns the bytes read.
async fn read_block<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = buf.get_mut(filled..).unwrap_or_default();
        match reader.read(rest).await {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

impl Session {
    /// Encrypts what `reader` yields and shares it in the relationship as
    /// `name` (`media_type`), calling `progress` as it goes.
    pub async fn send_file<R: Read>(
        &mut self,
        rid: RelationshipId,
        reader: R,
        name: &str,
        media_type: &str,
        total: Option<u64>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<SharedFile> {
        let reader = AllowStdIo::new(reader);
        self.send_stream(rid, reader, name, media_type, total, progress)
            .await
    }

    /// [`Self::send_file`] from an asynchronous source (a file a browser
    /// hands out in slices).
    pub async fn send_stream<R: AsyncRead + Unpin>(
        &mut self,
        rid: RelationshipId,
        mut reader: R,
        name: &str,
        media_type: &str,
        total: Option<u64>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<SharedFile> {
        // A peer's unaccepted key change stops sharing before any upload
        // (key_change_guard.rs).
        self.refuse_unaccepted_key_changes_in(rid).await?;
        // Refuse a bad name before uploading anything.
        let attachment_id = AttachmentId::random(&mut OsRng);
        let file_key = AttachmentKey::generate(&mut OsRng);
        DocumentDescription {
            attachment_id,
            file_key: AttachmentKey::from_secret_bytes(*file_key.expose_secret()),
            size: 0,
            ciphertext_sha256: [0; 32],
            name: name.to_owned(),
            media_type: media_type.to_owned(),
        }
        .encode()?;
        let base = format!("/api/relationships/{rid}/attachments");
        let _: AttachmentStatus = self
            .api
            .post(
                &base,
                &BeginUpload {
                    attachment_id: attachment_id.to_string(),
                },
            )
            .await?;
        let (sealer, header) = ChunkSealer::new(&mut OsRng, &file_key, attachment_id)?;
        let mut sealer = Some(sealer);
        let mut hash = Sha256::new();
        let mut segment: Vec<u8> = Vec::with_capacity(SEGMENT_BYTES + SEALED_CHUNK_SIZE);
        segment.extend_from_slice(&header.encode());
        let mut uploaded: u64 = 0;
        let mut done: u64 = 0;
        let mut current = Zeroizing::new(vec![0u8; CHUNK_SIZE]);
        let mut next = Zeroizing::new(vec![0u8; CHUNK_SIZE]);
        let mut current_len = read_block(&mut reader, &mut current).await?;
        loop {
            let next_len = if current_len == CHUNK_SIZE {
                read_block(&mut reader, &mut next).await?
            } else {
                0
            };
            let last = next_len == 0;
            let mut buffer =
                Zeroizing::new(current.get(..current_len).unwrap_or_default().to_vec());
            match (last, sealer.as_mut()) {
                (false, Some(s)) => s.seal_chunk_in_place(&mut buffer)?,
                (true, _) => sealer
                    .take()
                    .ok_or_else(|| Error::InvalidInput("stream already ended".into()))?
                    .seal_last_in_place(&mut buffer)?,
                (false, None) => return Err(Error::InvalidInput("stream already ended".into())),
            }
            done += current_len as u64;
            segment.extend_from_slice(&buffer);
            if segment.len() >= SEGMENT_BYTES || last {
                hash.update(&segment);
                uploaded = self
                    .append_segment(&base, attachment_id, uploaded, &segment)
                    .await?;
                segment.clear();
                progress(Progress { done, total });
            }
            if last {
                break;
            }
            std::mem::swap(&mut current, &mut next);
            current_len = next_len;
        }
        let ciphertext_sha256: [u8; 32] = hash.finalize().into();
        let _: AttachmentStatus = self
            .api
            .post(
                &format!("{base}/{attachment_id}/complete"),
                &CompleteUpload {
                    length: i64::try_from(uploaded)
                        .map_err(|_| Error::InvalidInput("file too large".into()))?,
                    sha256: hex::encode(ciphertext_sha256),
                },
            )
            .await?;
        let description = DocumentDescription {
            attachment_id,
            file_key,
            size: done,
            ciphertext_sha256,
            name: name.to_owned(),
            media_type: media_type.to_owned(),
        };
        let item_id = self
            .put_shared(rid, SharedItemKind::Document, &description.encode()?)
            .await?;
        Ok(SharedFile {
            item_id,
            attachment_id,
            size: done,
        })
    }

    /// Appends one segment at `offset`; after a broken connection, asks the
    /// server how much arrived and sends the rest. Returns the new length.
    async fn append_segment(
        &self,
        base: &str,
        attachment: AttachmentId,
        offset: u64,
        segment: &[u8],
    ) -> Result<u64> {
        let end = offset + segment.len() as u64;
        let mut at = offset;
        let mut attempts = 0;
        loop {
            let rest = segment
                .get(usize::try_from(at - offset).unwrap_or(usize::MAX)..)
                .ok_or_else(|| Violation::Malformed("upload offset beyond the segment".into()))?;
            let req = self
                .api
                .request(Method::PATCH, &format!("{base}/{attachment}?offset={at}"))
                .header("content-type", "application/octet-stream")
                .body(rest.to_vec());
            match self.api.send(req).await {
                Ok(response) => {
                    let status: AttachmentStatus = response
                        .json()
                        .await
                        .map_err(|e| Violation::Malformed(format!("upload status: {e}")))?;
                    if status.length != i64::try_from(end).unwrap_or(-1) || status.complete {
                        return Err(Violation::Malformed(format!(
                            "the server stored {} bytes, {end} were sent",
                            status.length
                        ))
                        .into());
                    }
                    return Ok(end);
                }
                Err(Error::Unreachable { .. }) if attempts + 1 < SEGMENT_ATTEMPTS => {
                    attempts += 1;
                    let status: AttachmentStatus =
                        self.api.get(&format!("{base}/{attachment}/status")).await?;
                    let stored = u64::try_from(status.length).unwrap_or(u64::MAX);
                    if stored < offset || stored > end {
                        return Err(Violation::Malformed(format!(
                            "the server reports {stored} bytes stored, expected {offset}..={end}"
                        ))
                        .into());
                    }
                    at = stored;
                    if at == end {
                        return Ok(end);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Downloads the file of document item `item`, decrypting into
    /// `writer`. On any error what was written must be discarded.
    pub async fn download_file<W: Write>(
        &mut self,
        rid: RelationshipId,
        item: ItemId,
        mut writer: W,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<crate::dialogue::DocumentInfo> {
        let description = self.document(rid, item).await?;
        let attachment = description.attachment_id;
        let corrupt = |reason: &'static str| Violation::AttachmentCorrupt {
            attachment: attachment.to_string(),
            reason,
        };
        let req = self.api.request(
            Method::GET,
            &format!("/api/relationships/{rid}/attachments/{attachment}"),
        );
        let response = self.api.send(req).await?;
        let mut stream = response.bytes_stream();
        let mut hash = Sha256::new();
        let mut pending: Vec<u8> = Vec::with_capacity(2 * SEALED_CHUNK_SIZE);
        let mut opener: Option<ChunkOpener> = None;
        let mut done = 0u64;
        let total = Some(description.size);
        while let Some(bytes) = stream.next().await {
            let bytes = bytes.map_err(|e| Error::Unreachable {
                url: self.api.base().to_owned(),
                reason: e.to_string(),
            })?;
            hash.update(&bytes);
            pending.extend_from_slice(&bytes);
            if opener.is_none() && pending.len() >= ATTACHMENT_HEADER_LEN {
                let header = AttachmentHeader::decode(
                    pending.get(..ATTACHMENT_HEADER_LEN).unwrap_or_default(),
                )
                .map_err(|_| corrupt("the stream header is malformed"))?;
                opener = Some(
                    ChunkOpener::new(&description.file_key, attachment, &header)
                        .map_err(|_| corrupt("the stream is another file's"))?,
                );
                pending.drain(..ATTACHMENT_HEADER_LEN);
            }
            // A full chunk is known not to be the last only once more
            // bytes follow it.
            while let Some(open) = opener.as_mut() {
                if pending.len() <= SEALED_CHUNK_SIZE {
                    break;
                }
                let mut chunk = Zeroizing::new(pending.drain(..SEALED_CHUNK_SIZE).collect());
                open.open_chunk_in_place(&mut chunk)
                    .map_err(|_| corrupt("a chunk is changed, reordered or from another file"))?;
                writer.write_all(&chunk)?;
                done += chunk.len() as u64;
                progress(Progress { done, total });
            }
        }
        let open = opener.ok_or_else(|| corrupt("the stream is truncated"))?;
        let mut last = Zeroizing::new(std::mem::take(&mut pending));
        open.open_last_in_place(&mut last)
            .map_err(|_| corrupt("the stream is truncated or its last chunk changed"))?;
        let digest: [u8; 32] = hash.finalize().into();
        if digest != description.ciphertext_sha256 {
            return Err(corrupt("the stream's digest differs from the signed description").into());
        }
        writer.write_all(&last)?;
        writer.flush()?;
        done += last.len() as u64;
        progress(Progress { done, total });
        if done != description.size {
            return Err(corrupt("the size differs from the signed description").into());
        }
        Ok(crate::dialogue::DocumentInfo {
            attachment_id: attachment.to_string(),
            name: description.name.clone(),
            media_type: description.media_type.clone(),
            size: description.size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_file_fills_the_stream_limit_exactly() {
        let (h, c, sc) = (
            ATTACHMENT_HEADER_LEN as u64,
            CHUNK_SIZE as u64,
            SEALED_CHUNK_SIZE as u64,
        );
        let tag = sc - c;
        assert_eq!(max_file_size(0), 0);
        assert_eq!(max_file_size(h), 0);
        assert_eq!(max_file_size(h + tag), 0, "only the empty file");
        assert_eq!(max_file_size(h + tag + 5), 5);
        assert_eq!(max_file_size(h + sc), c);
        assert_eq!(max_file_size(h + sc + tag), c, "a tag alone adds nothing");
        assert_eq!(max_file_size(h + 3 * sc + tag + 1), 3 * c + 1);
        // The server's default, 1025 MiB of stream: just under 1025 MiB of
        // file (a tag per 64 KiB).
        let limit = 1025 * 1024 * 1024;
        let max = max_file_size(limit);
        assert!(max < limit && max > 1024 * 1024 * 1024, "{max}");
    }
}
