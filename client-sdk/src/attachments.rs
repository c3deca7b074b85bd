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
use kluis_crypto::item::{SealedItem, SharedItemKind};
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

/// Where an upload stands between calls of [`Session::continue_upload`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Chunks to seal or segments to store.
    Sending,
    /// Every byte stored; the server has not confirmed the digest.
    Completing,
    /// The stream is complete; the document item is not stored yet.
    Describing,
    /// Shared.
    Done,
}

/// A file being shared, kept between attempts so that a failed upload
/// resumes where it stopped ([`Session::start_upload`],
/// [`Session::continue_upload`]). It lives in this device's memory only:
/// it holds the file's key and the sealer mid-stream, and is dropped with
/// them (a page reload starts the upload afresh).
pub struct Upload {
    rid: RelationshipId,
    attachment_id: AttachmentId,
    file_key: AttachmentKey,
    name: String,
    media_type: String,
    total: Option<u64>,
    /// The stream's sealer, `None` once the last chunk is sealed.
    sealer: Option<ChunkSealer>,
    /// SHA-256 of the ciphertext the server acknowledged.
    hash: Sha256,
    /// Sealed ciphertext the server has not acknowledged yet.
    segment: Vec<u8>,
    /// Ciphertext bytes the server acknowledged.
    acknowledged: u64,
    /// Plaintext bytes sealed: where the file is read from next.
    sealed: u64,
    /// The last store failed: ask the server what it holds first.
    interrupted: bool,
    /// A failure that trying again cannot mend (a refusal, a file that
    /// cannot be read, a server that broke the rules): start afresh.
    failed: bool,
    /// The document item, sealed once: a retry stores the same bytes.
    description: Option<(ItemId, SealedItem)>,
    stage: Stage,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("attachment_id", &self.attachment_id)
            .field("sealed", &self.sealed)
            .field("acknowledged", &self.acknowledged)
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

impl Upload {
    /// The plaintext offset from which the next
    /// [`Session::continue_upload`] reads the file.
    pub fn resume_at(&self) -> u64 {
        self.sealed
    }

    /// Bytes of the encrypted file the server confirmed it stored (the
    /// file's own bytes and 16 per 64 KiB chunk, 37 for the header): how
    /// far the upload got.
    pub fn stored(&self) -> u64 {
        self.acknowledged
    }

    /// The attachment.
    pub fn attachment_id(&self) -> AttachmentId {
        self.attachment_id
    }

    /// Whether the file is shared.
    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// Whether another [`Session::continue_upload`] can finish it: not
    /// after success, nor after a failure that trying again cannot mend.
    pub fn can_continue(&self) -> bool {
        !self.failed && self.stage != Stage::Done
    }
}

/// Whether an upload that failed this way may succeed when continued: the
/// connection or the server's availability, not a refusal.
fn worth_continuing(e: &Error) -> bool {
    match e {
        Error::Unreachable { .. } => true,
        Error::Refused { status, .. } => *status >= 500 || *status == 429 || *status == 408,
        _ => false,
    }
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
        reader: R,
        name: &str,
        media_type: &str,
        total: Option<u64>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<SharedFile> {
        let mut upload = self.start_upload(rid, name, media_type, total).await?;
        self.continue_upload(&mut upload, reader, progress).await
    }

    /// Starts sharing a file as `name` (`media_type`): checks that it may be
    /// shared and opens the upload on the server. Nothing of the file is
    /// read yet; [`Self::continue_upload`] sends it, and again after a
    /// failure, from where it stopped.
    pub async fn start_upload(
        &mut self,
        rid: RelationshipId,
        name: &str,
        media_type: &str,
        total: Option<u64>,
    ) -> Result<Upload> {
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
        let _: AttachmentStatus = self
            .api
            .post(
                &format!("/api/relationships/{rid}/attachments"),
                &BeginUpload {
                    attachment_id: attachment_id.to_string(),
                },
            )
            .await?;
        let (sealer, header) = ChunkSealer::new(&mut OsRng, &file_key, attachment_id)?;
        let mut segment: Vec<u8> = Vec::with_capacity(SEGMENT_BYTES + SEALED_CHUNK_SIZE);
        segment.extend_from_slice(&header.encode());
        Ok(Upload {
            rid,
            attachment_id,
            file_key,
            name: name.to_owned(),
            media_type: media_type.to_owned(),
            total,
            sealer: Some(sealer),
            hash: Sha256::new(),
            segment,
            acknowledged: 0,
            sealed: 0,
            interrupted: false,
            failed: false,
            description: None,
            stage: Stage::Sending,
        })
    }

    /// Sends the file of `upload`, `reader` yielding it from
    /// [`Upload::resume_at`] on (from its start the first time). After a
    /// failure — the connection, the server, the file unreadable — call it
    /// again with a reader from the new `resume_at`: the chunks already
    /// sealed are not sealed again (each nonce seals one plaintext only),
    /// what the server stored is not sent again, and the part of the last
    /// segment it lacks is sent from this device's memory.
    pub async fn continue_upload<R: AsyncRead + Unpin>(
        &mut self,
        upload: &mut Upload,
        reader: R,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<SharedFile> {
        if upload.stage == Stage::Done {
            return Err(Error::InvalidInput("this file is shared already".into()));
        }
        if upload.failed {
            return Err(Error::InvalidInput(
                "this upload cannot go on: share the file again".into(),
            ));
        }
        let result = self.go_on(upload, reader, progress).await;
        if result.as_ref().is_err_and(|e| !worth_continuing(e)) {
            upload.failed = true;
        }
        result
    }

    async fn go_on<R: AsyncRead + Unpin>(
        &mut self,
        upload: &mut Upload,
        mut reader: R,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<SharedFile> {
        let base = format!("/api/relationships/{}/attachments", upload.rid);
        let total = upload.total;
        if upload.stage == Stage::Sending {
            if upload.interrupted {
                // What the server holds now decides where the segment
                // resumes; it may not have lost what it acknowledged.
                upload.acknowledged = self.resume_segment(&base, upload).await?;
            }
            let mut current = Zeroizing::new(vec![0u8; CHUNK_SIZE]);
            let mut next = Zeroizing::new(vec![0u8; CHUNK_SIZE]);
            let mut current_len = read_block(&mut reader, &mut current).await?;
            while upload.sealer.is_some() {
                let next_len = if current_len == CHUNK_SIZE {
                    read_block(&mut reader, &mut next).await?
                } else {
                    0
                };
                let last = next_len == 0;
                let mut buffer =
                    Zeroizing::new(current.get(..current_len).unwrap_or_default().to_vec());
                if last {
                    upload
                        .sealer
                        .take()
                        .ok_or_else(|| Error::InvalidInput("stream already ended".into()))?
                        .seal_last_in_place(&mut buffer)?;
                } else if let Some(s) = upload.sealer.as_mut() {
                    s.seal_chunk_in_place(&mut buffer)?;
                }
                upload.sealed += current_len as u64;
                upload.segment.extend_from_slice(&buffer);
                if upload.segment.len() >= SEGMENT_BYTES || last {
                    self.flush_segment(&base, upload).await?;
                    progress(Progress {
                        done: upload.sealed,
                        total,
                    });
                }
                std::mem::swap(&mut current, &mut next);
                current_len = next_len;
            }
            if !upload.segment.is_empty() {
                // Sealed to the end on an earlier call; its last segment
                // not yet stored.
                self.flush_segment(&base, upload).await?;
            }
            upload.stage = Stage::Completing;
        }
        let ciphertext_sha256: [u8; 32] = upload.hash.clone().finalize().into();
        if upload.stage == Stage::Completing {
            let length = i64::try_from(upload.acknowledged)
                .map_err(|_| Error::InvalidInput("file too large".into()))?;
            // The same length and digest again after a lost answer is
            // accepted by the server as the completion it already did.
            let _: AttachmentStatus = self
                .api
                .post(
                    &format!("{base}/{}/complete", upload.attachment_id),
                    &CompleteUpload {
                        length,
                        sha256: hex::encode(ciphertext_sha256),
                    },
                )
                .await?;
            upload.stage = Stage::Describing;
        }
        let description = DocumentDescription {
            attachment_id: upload.attachment_id,
            file_key: AttachmentKey::from_secret_bytes(*upload.file_key.expose_secret()),
            size: upload.sealed,
            ciphertext_sha256,
            name: upload.name.clone(),
            media_type: upload.media_type.clone(),
        };
        if upload.description.is_none() {
            upload.description = Some(
                self.seal_shared(upload.rid, SharedItemKind::Document, &description.encode()?)
                    .await?,
            );
        }
        let (item_id, sealed) = upload
            .description
            .as_ref()
            .ok_or_else(|| Error::InvalidInput("the document is not sealed".into()))?;
        let item_id = self.store_item(upload.rid, *item_id, sealed).await?;
        upload.stage = Stage::Done;
        Ok(SharedFile {
            item_id,
            attachment_id: upload.attachment_id,
            size: upload.sealed,
        })
    }

    /// Stores the segment `upload` holds; only then does it count in the
    /// stream's digest and leave memory. A failure leaves it in place and
    /// marks the upload interrupted.
    async fn flush_segment(&self, base: &str, upload: &mut Upload) -> Result<()> {
        match self
            .append_segment(
                base,
                upload.attachment_id,
                upload.acknowledged,
                &upload.segment,
            )
            .await
        {
            Ok(end) => {
                upload.hash.update(&upload.segment);
                upload.segment.clear();
                upload.acknowledged = end;
                upload.interrupted = false;
                Ok(())
            }
            Err(e) => {
                upload.interrupted = true;
                Err(e)
            }
        }
    }

    /// After an interruption: sends the part of the held segment the server
    /// lacks. A server that holds less than it acknowledged, or more than
    /// was sent, is refused. Returns the acknowledged length.
    async fn resume_segment(&self, base: &str, upload: &mut Upload) -> Result<u64> {
        let status: AttachmentStatus = self
            .api
            .get(&format!("{base}/{}/status", upload.attachment_id))
            .await?;
        let stored = u64::try_from(status.length).unwrap_or(u64::MAX);
        let end = upload.acknowledged + upload.segment.len() as u64;
        if status.complete || stored < upload.acknowledged || stored > end {
            return Err(Violation::Malformed(format!(
                "the server reports {stored} bytes stored, expected {}..={end}",
                upload.acknowledged
            ))
            .into());
        }
        let held = usize::try_from(stored - upload.acknowledged).unwrap_or(usize::MAX);
        let (arrived, missing) = upload.segment.split_at(held.min(upload.segment.len()));
        upload.hash.update(arrived);
        let missing = missing.to_vec();
        upload.segment = missing;
        upload.acknowledged = stored;
        upload.interrupted = false;
        if upload.segment.is_empty() || upload.sealer.is_some() {
            // The rest goes with the next chunks.
            return Ok(stored);
        }
        self.flush_segment(base, upload).await?;
        Ok(upload.acknowledged)
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
