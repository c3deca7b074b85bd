//! Attachments: per-file keys, chunked streaming AEAD and the document
//! description that carries the key (PROTOCOL.md §9).
//!
//! A file is encrypted with the STREAM construction (Hoang, Reyhanitabar,
//! Rogaway, Vizár, "Online Authenticated-Encryption and its Nonce-Reuse
//! Misuse-Resistance", CRYPTO 2015, §7) as implemented by RustCrypto's
//! `aead::stream::StreamBE32` over XChaCha20-Poly1305: the 24-byte nonce of
//! chunk *i* is `nonce_prefix(19) ‖ i as u32 big-endian ‖ last_flag(1)`.
//! Chunks hold exactly [`CHUNK_SIZE`] bytes of plaintext except the last,
//! which holds 1..=[`CHUNK_SIZE`] bytes (0 only when the whole file is
//! empty). Hence:
//!
//! * reordering or dropping a chunk changes its counter → the open fails;
//! * truncating after a non-final chunk leaves no chunk with the last flag
//!   → the stream is rejected at its end;
//! * appending after the final chunk is rejected (nothing may follow it);
//! * chunks of another file fail: each file has its own random key, its own
//!   nonce prefix, and its attachment id in every chunk's associated data.
//!
//! The stream key is `derive(file_key, ATTACHMENT_STREAM, attachment_id)`.
//! Encryption and decryption hold one chunk at a time: memory does not grow
//! with the file.
//!
//! The AEAD alone stops the server, but not a member: whoever holds the file
//! key could encrypt other content under it. So the document description,
//! signed by its author inside the item, also carries the SHA-256 of the
//! whole encrypted stream (`header ‖ chunks`), and [`decrypt_stream`] checks
//! it: a member and the server together cannot swap the file behind an
//! item.
//!
//! As with every online AEAD, [`decrypt_stream`] writes each chunk once it
//! has verified it, before the end of the stream has been seen; a caller must
//! treat the output as invalid unless it returns `Ok`.

use std::io::{self, Read, Write};

use chacha20poly1305::aead::stream::{DecryptorBE32, EncryptorBE32};
use chacha20poly1305::XChaCha20Poly1305;
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::encoding::{EnvelopeType, Reader, Writer};
use crate::ids::AttachmentId;
use crate::key_schedule::StreamKey;
use crate::secret::secret_bytes;
use crate::symmetric::TAG_LEN;
use crate::{Error, Result};

/// Plaintext bytes per chunk (64 KiB).
pub const CHUNK_SIZE: usize = 64 * 1024;
/// Ciphertext bytes per full chunk.
pub const SEALED_CHUNK_SIZE: usize = CHUNK_SIZE + TAG_LEN;
/// Length of the random nonce prefix (24 − 4 − 1).
pub const NONCE_PREFIX_LEN: usize = 19;
/// Length of an encoded [`AttachmentHeader`].
pub const ATTACHMENT_HEADER_LEN: usize = 2 + 16 + NONCE_PREFIX_LEN;
/// Largest file name in a document description, in UTF-8 bytes.
pub const MAX_FILE_NAME: usize = 1024;
/// Largest media type in a document description, in bytes (printable
/// ASCII, space allowed for parameters such as `text/plain; charset=utf-8`).
pub const MAX_MEDIA_TYPE: usize = 255;

secret_bytes! {
    /// The random per-file key, carried inside the document item.
    pub struct AttachmentKey([u8; 32]);
}

/// The clear header that starts an encrypted attachment: `version ‖ 0x05 ‖
/// attachment_id ‖ nonce_prefix(19)` (37 bytes). Its encoding is the
/// associated data of every chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttachmentHeader {
    attachment_id: AttachmentId,
    nonce_prefix: [u8; NONCE_PREFIX_LEN],
}

impl AttachmentHeader {
    /// The canonical encoding.
    pub fn encode(&self) -> [u8; ATTACHMENT_HEADER_LEN] {
        let mut w = Writer::with_capacity(EnvelopeType::AttachmentHeader, ATTACHMENT_HEADER_LEN);
        w.fixed(self.attachment_id.as_bytes())
            .fixed(&self.nonce_prefix);
        let mut out = [0u8; ATTACHMENT_HEADER_LEN];
        out.copy_from_slice(&w.finish());
        out
    }

    /// Parses the header.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(bytes, EnvelopeType::AttachmentHeader)?;
        let out = Self {
            attachment_id: AttachmentId::from_bytes(r.array()?),
            nonce_prefix: r.array()?,
        };
        r.finish()?;
        Ok(out)
    }

    /// The attachment id in the header.
    pub fn attachment_id(&self) -> AttachmentId {
        self.attachment_id
    }
}

/// Encrypts one file, chunk by chunk.
pub struct ChunkSealer {
    inner: EncryptorBE32<XChaCha20Poly1305>,
    aad: [u8; ATTACHMENT_HEADER_LEN],
    chunks: u64,
}

impl core::fmt::Debug for ChunkSealer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChunkSealer")
            .field("chunks", &self.chunks)
            .finish_non_exhaustive()
    }
}

fn too_many_chunks() -> Error {
    Error::LengthOutOfRange {
        what: "attachment",
        len: u64::from(u32::MAX),
        max: u64::from(u32::MAX) - 1,
    }
}

impl ChunkSealer {
    /// Starts a stream; draws the 19-byte nonce prefix from `rng`.
    pub fn new<R: RngCore + CryptoRng>(
        rng: &mut R,
        key: &AttachmentKey,
        attachment_id: AttachmentId,
    ) -> Result<(Self, AttachmentHeader)> {
        let mut nonce_prefix = [0u8; NONCE_PREFIX_LEN];
        rng.fill_bytes(&mut nonce_prefix);
        let header = AttachmentHeader {
            attachment_id,
            nonce_prefix,
        };
        let stream_key = StreamKey::derive(key.expose_secret(), &attachment_id)?;
        let inner = EncryptorBE32::new(stream_key.expose_secret().into(), (&nonce_prefix).into());
        Ok((
            Self {
                inner,
                aad: header.encode(),
                chunks: 0,
            },
            header,
        ))
    }

    /// Seals a full, non-final chunk (exactly [`CHUNK_SIZE`] bytes) in place:
    /// `buffer` holds the plaintext and receives ciphertext ‖ tag.
    pub fn seal_chunk_in_place(&mut self, buffer: &mut Vec<u8>) -> Result<()> {
        if buffer.len() != CHUNK_SIZE {
            return Err(Error::InvalidInput(
                "a non-final chunk holds exactly CHUNK_SIZE bytes",
            ));
        }
        self.inner
            .encrypt_next_in_place(&self.aad, buffer)
            .map_err(|_| too_many_chunks())?;
        self.chunks += 1;
        Ok(())
    }

    /// Seals a full, non-final chunk.
    pub fn seal_chunk(&mut self, chunk: &[u8]) -> Result<Vec<u8>> {
        let mut buffer = Vec::with_capacity(SEALED_CHUNK_SIZE);
        buffer.extend_from_slice(chunk);
        self.seal_chunk_in_place(&mut buffer)?;
        Ok(buffer)
    }

    /// Seals the final chunk (1..=[`CHUNK_SIZE`] bytes; 0 only if it is the
    /// only chunk) in place, and ends the stream.
    pub fn seal_last_in_place(self, buffer: &mut Vec<u8>) -> Result<()> {
        if buffer.len() > CHUNK_SIZE || (buffer.is_empty() && self.chunks > 0) {
            return Err(Error::InvalidInput(
                "the final chunk holds 1..=CHUNK_SIZE bytes (0 only for an empty file)",
            ));
        }
        self.inner
            .encrypt_last_in_place(&self.aad, buffer)
            .map_err(|_| too_many_chunks())
    }

    /// Seals the final chunk and ends the stream.
    pub fn seal_last(self, chunk: &[u8]) -> Result<Vec<u8>> {
        let mut buffer = Vec::with_capacity(chunk.len() + TAG_LEN);
        buffer.extend_from_slice(chunk);
        self.seal_last_in_place(&mut buffer)?;
        Ok(buffer)
    }
}

/// Decrypts one file, chunk by chunk.
pub struct ChunkOpener {
    inner: DecryptorBE32<XChaCha20Poly1305>,
    aad: [u8; ATTACHMENT_HEADER_LEN],
    chunks: u64,
}

impl core::fmt::Debug for ChunkOpener {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChunkOpener")
            .field("chunks", &self.chunks)
            .finish_non_exhaustive()
    }
}

impl ChunkOpener {
    /// Starts opening the stream that `header` begins, which the caller
    /// expects to be attachment `expected_id`.
    pub fn new(
        key: &AttachmentKey,
        expected_id: AttachmentId,
        header: &AttachmentHeader,
    ) -> Result<Self> {
        if header.attachment_id != expected_id {
            return Err(Error::Decryption);
        }
        let stream_key = StreamKey::derive(key.expose_secret(), &expected_id)?;
        let inner = DecryptorBE32::new(
            stream_key.expose_secret().into(),
            (&header.nonce_prefix).into(),
        );
        Ok(Self {
            inner,
            aad: header.encode(),
            chunks: 0,
        })
    }

    /// Opens a full, non-final chunk in place.
    pub fn open_chunk_in_place(&mut self, buffer: &mut Vec<u8>) -> Result<()> {
        if buffer.len() != SEALED_CHUNK_SIZE {
            return Err(Error::Decryption);
        }
        self.inner
            .decrypt_next_in_place(&self.aad, buffer)
            .map_err(|_| Error::Decryption)?;
        self.chunks += 1;
        Ok(())
    }

    /// Opens a full, non-final chunk.
    pub fn open_chunk(&mut self, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let mut buffer = Zeroizing::new(sealed.to_vec());
        self.open_chunk_in_place(&mut buffer)?;
        Ok(buffer)
    }

    /// Opens the final chunk in place and ends the stream.
    pub fn open_last_in_place(self, buffer: &mut Vec<u8>) -> Result<()> {
        if buffer.len() > SEALED_CHUNK_SIZE {
            return Err(Error::Decryption);
        }
        self.inner
            .decrypt_last_in_place(&self.aad, buffer)
            .map_err(|_| Error::Decryption)?;
        // An empty final chunk after full ones is not what an honest sealer
        // writes; refusing it keeps one encoding per file.
        if buffer.is_empty() && self.chunks > 0 {
            return Err(Error::Decryption);
        }
        Ok(())
    }

    /// Opens the final chunk and ends the stream.
    pub fn open_last(self, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let mut buffer = Zeroizing::new(sealed.to_vec());
        self.open_last_in_place(&mut buffer)?;
        Ok(buffer)
    }
}

/// Reads fixed-size blocks and tells whether a block is the last one, by
/// looking one byte ahead.
struct BlockReader<R> {
    inner: R,
    peeked: Option<u8>,
}

impl<R: Read> BlockReader<R> {
    /// Fills `buf` (of its current length) as far as the input allows;
    /// returns the number of bytes and whether the input ended.
    fn next_block(&mut self, buf: &mut [u8]) -> io::Result<(usize, bool)> {
        let mut filled = 0;
        if let (Some(b), Some(first)) = (self.peeked.take(), buf.first_mut()) {
            *first = b;
            filled = 1;
        }
        while let Some(rest) = buf.get_mut(filled..).filter(|r| !r.is_empty()) {
            match self.inner.read(rest) {
                Ok(0) => return Ok((filled, true)),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let mut one = [0u8; 1];
        loop {
            match self.inner.read(&mut one) {
                Ok(0) => return Ok((filled, true)),
                Ok(_) => {
                    self.peeked = Some(one[0]);
                    return Ok((filled, false));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// What [`encrypt_stream`] produced: the values a document description
/// records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamSummary {
    /// Plaintext bytes.
    pub plaintext_len: u64,
    /// Ciphertext bytes, header included.
    pub ciphertext_len: u64,
    /// SHA-256 of the ciphertext stream, header included.
    pub ciphertext_sha256: [u8; 32],
}

/// A writer that hashes and counts what passes through it.
struct HashingWriter<W> {
    inner: W,
    hash: Sha256,
    len: u64,
}

impl<W: Write> HashingWriter<W> {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.hash.update(bytes);
        self.len += bytes.len() as u64;
        self.inner.write_all(bytes)
    }
}

/// A reader that hashes what it hands out.
struct HashingReader<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// Encrypts everything `reader` yields into `writer` as `header ‖ chunks`,
/// calling `progress` with the plaintext bytes done so far.
pub fn encrypt_stream<G, R, W>(
    rng: &mut G,
    key: &AttachmentKey,
    attachment_id: AttachmentId,
    reader: R,
    writer: W,
    mut progress: impl FnMut(u64),
) -> Result<StreamSummary>
where
    G: RngCore + CryptoRng,
    R: Read,
    W: Write,
{
    let (mut sealer, header) = ChunkSealer::new(rng, key, attachment_id)?;
    let mut writer = HashingWriter {
        inner: writer,
        hash: Sha256::new(),
        len: 0,
    };
    writer.write_all(&header.encode())?;
    let mut reader = BlockReader {
        inner: reader,
        peeked: None,
    };
    let mut buffer = Zeroizing::new(vec![0u8; CHUNK_SIZE]);
    let mut done = 0u64;
    loop {
        buffer.resize(CHUNK_SIZE, 0);
        let (n, end) = reader.next_block(&mut buffer)?;
        buffer.truncate(n);
        done += n as u64;
        if end {
            sealer.seal_last_in_place(&mut buffer)?;
            writer.write_all(&buffer)?;
            writer.inner.flush()?;
            progress(done);
            return Ok(StreamSummary {
                plaintext_len: done,
                ciphertext_len: writer.len,
                ciphertext_sha256: writer.hash.finalize().into(),
            });
        }
        sealer.seal_chunk_in_place(&mut buffer)?;
        writer.write_all(&buffer)?;
        progress(done);
    }
}

/// Decrypts `header ‖ chunks` from `reader` into `writer`, checking that it
/// is attachment `expected_id` and that the stream's SHA-256 is
/// `expected_sha256` (from the signed document description), calling
/// `progress` with the plaintext bytes done so far. Returns the plaintext
/// length. Output written before an error must be discarded.
pub fn decrypt_stream<R: Read, W: Write>(
    key: &AttachmentKey,
    expected_id: AttachmentId,
    expected_sha256: &[u8; 32],
    reader: R,
    mut writer: W,
    mut progress: impl FnMut(u64),
) -> Result<u64> {
    let mut reader = BlockReader {
        inner: HashingReader {
            inner: reader,
            hash: Sha256::new(),
        },
        peeked: None,
    };
    let mut header = [0u8; ATTACHMENT_HEADER_LEN];
    let (n, end) = reader.next_block(&mut header)?;
    if n < ATTACHMENT_HEADER_LEN || end {
        return Err(Error::Decryption);
    }
    let header = AttachmentHeader::decode(&header)?;
    let mut opener = ChunkOpener::new(key, expected_id, &header)?;
    let mut buffer = Zeroizing::new(vec![0u8; SEALED_CHUNK_SIZE]);
    let mut done = 0u64;
    loop {
        buffer.resize(SEALED_CHUNK_SIZE, 0);
        let (n, end) = reader.next_block(&mut buffer)?;
        buffer.truncate(n);
        if end {
            opener.open_last_in_place(&mut buffer)?;
            let digest: [u8; 32] = reader.inner.hash.finalize().into();
            if !bool::from(digest.ct_eq(expected_sha256)) {
                return Err(Error::Decryption);
            }
            done += buffer.len() as u64;
            writer.write_all(&buffer)?;
            writer.flush()?;
            progress(done);
            return Ok(done);
        }
        opener.open_chunk_in_place(&mut buffer)?;
        done += buffer.len() as u64;
        writer.write_all(&buffer)?;
        progress(done);
    }
}

/// The content of a document item: which attachment, its key, and what the
/// file is. Encoding: `version ‖ 0x07 ‖ attachment_id ‖ file_key(32) ‖
/// size(8) ‖ ciphertext_sha256(32) ‖ len(4) ‖ name ‖ len(4) ‖ media_type`. It is only ever stored
/// inside a sealed item's ciphertext.
#[derive(Debug, PartialEq, Eq)]
pub struct DocumentDescription {
    /// The attachment this describes.
    pub attachment_id: AttachmentId,
    /// The attachment's key.
    pub file_key: AttachmentKey,
    /// Plaintext size in bytes.
    pub size: u64,
    /// SHA-256 of the encrypted stream ([`StreamSummary::ciphertext_sha256`]).
    pub ciphertext_sha256: [u8; 32],
    /// File name: UTF-8, 1..=[`MAX_FILE_NAME`] bytes, no control characters,
    /// no `/` or `\\`, not `.` or `..`: a peer chooses it and a client
    /// writes a file under it.
    pub name: String,
    /// Media type (printable ASCII, at most [`MAX_MEDIA_TYPE`] bytes).
    pub media_type: String,
}

impl DocumentDescription {
    /// The canonical encoding (contains the file key: kept in a zeroizing
    /// buffer).
    pub fn encode(&self) -> Result<Zeroizing<Vec<u8>>> {
        if self.name.len() > MAX_FILE_NAME {
            return Err(Error::LengthOutOfRange {
                what: "file name",
                len: self.name.len() as u64,
                max: MAX_FILE_NAME as u64,
            });
        }
        if !valid_file_name(&self.name) {
            return Err(Error::InvalidInput(
                "file name must be non-empty, without control characters, '/', '\\', '.' or '..'",
            ));
        }
        if !valid_media_type(&self.media_type) {
            return Err(Error::InvalidInput(
                "media type must be 1..=255 bytes of printable ASCII",
            ));
        }
        let mut w = Writer::new(EnvelopeType::DocumentDescription);
        w.fixed(self.attachment_id.as_bytes())
            .fixed(self.file_key.expose_secret())
            .u64(self.size)
            .fixed(&self.ciphertext_sha256);
        w.bytes(self.name.as_bytes())?;
        w.bytes(self.media_type.as_bytes())?;
        Ok(Zeroizing::new(w.finish()))
    }

    /// Parses a description (from an opened item).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(bytes, EnvelopeType::DocumentDescription)?;
        let attachment_id = AttachmentId::from_bytes(r.array()?);
        let file_key = AttachmentKey::from_boxed(Box::new(r.array()?));
        let size = r.u64()?;
        let ciphertext_sha256 = r.array()?;
        let what = r.what();
        let name = std::str::from_utf8(r.bytes(MAX_FILE_NAME)?)
            .ok()
            .filter(|n| valid_file_name(n))
            .ok_or(Error::InvalidField {
                what,
                field: "file name",
            })?
            .to_owned();
        let media_type = std::str::from_utf8(r.bytes(MAX_MEDIA_TYPE)?)
            .ok()
            .filter(|m| valid_media_type(m))
            .ok_or(Error::InvalidField {
                what,
                field: "media type",
            })?
            .to_owned();
        r.finish()?;
        Ok(Self {
            attachment_id,
            file_key,
            size,
            ciphertext_sha256,
            name,
            media_type,
        })
    }
}

fn valid_media_type(m: &str) -> bool {
    !m.is_empty() && m.len() <= MAX_MEDIA_TYPE && m.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

fn valid_file_name(n: &str) -> bool {
    !n.is_empty()
        && n != "."
        && n != ".."
        && n.len() <= MAX_FILE_NAME
        && !n.chars().any(|c| c.is_control() || c == '/' || c == '\\')
}
