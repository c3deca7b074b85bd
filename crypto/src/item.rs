//! Sealed items: messages, document descriptions and coach-private notes
//! (PROTOCOL.md §8).
//!
//! An item is sealed with XChaCha20-Poly1305 under an item key derived from
//! the epoch key (or, for notes, from the notes key), with a random 192-bit
//! nonce. Its clear header is the associated data, so the server can read
//! where an item belongs but cannot move it to another relationship, epoch
//! or id, change its kind or claim another author without the open failing.
//! Inside the ciphertext, the author's Ed25519 signature over the header and
//! the content's SHA-256 digest proves authorship to the other members, who share the item
//! key and could otherwise forge in each other's name.

use ed25519_dalek::Signature;
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::encoding::{EnvelopeType, Reader, Writer};
use crate::identity::{IdentityBundle, IdentityKeyPair};
use crate::ids::{Epoch, ItemId, RelationshipId, UserId};
use crate::key_schedule::{labels, ItemKey};
use crate::notes::NotesKey;
use crate::relationship::RelationshipKey;
use crate::symmetric::{xchacha_open_in_place, xchacha_seal_in_place, NONCE_LEN, TAG_LEN};
use crate::{Error, Result};

/// Largest item content (8 MiB); files go in attachments.
pub const MAX_ITEM_CONTENT: usize = 8 * 1024 * 1024;
/// Prefix of the message an item signature covers.
pub const ITEM_SIGNATURE_LABEL: &str = "kluis/v1/item-signature";
/// Length of the clear header (which is the associated data).
pub const ITEM_HEADER_LEN: usize = 2 + 16 + 4 + 16 + 1 + 16;
const SIGNATURE_LEN: usize = 64;
const MAX_CIPHERTEXT: usize = MAX_ITEM_CONTENT + SIGNATURE_LEN + TAG_LEN;

/// What an item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ItemKind {
    /// A dialogue message.
    Message = 1,
    /// A document description (carries an attachment's key, §9.4).
    Document = 2,
    /// A coach-private note (sealed under the notes key, §10).
    Note = 3,
}

/// The kinds sealed under a relationship key, seen by every member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedItemKind {
    /// A dialogue message.
    Message,
    /// A document description.
    Document,
}

impl From<SharedItemKind> for ItemKind {
    fn from(kind: SharedItemKind) -> Self {
        match kind {
            SharedItemKind::Message => Self::Message,
            SharedItemKind::Document => Self::Document,
        }
    }
}

/// The clear header of an item: `version ‖ 0x04 ‖ relationship_id ‖ epoch ‖
/// item_id ‖ kind ‖ author_id` (55 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItemHeader {
    /// The relationship the item belongs to.
    pub relationship_id: RelationshipId,
    /// The epoch (for notes: the notes-key generation).
    pub epoch: Epoch,
    /// The item id.
    pub item_id: ItemId,
    /// The kind.
    pub kind: ItemKind,
    /// The author.
    pub author_id: UserId,
}

impl ItemHeader {
    fn write(&self, w: &mut Writer) {
        w.fixed(self.relationship_id.as_bytes())
            .u32(self.epoch.0)
            .fixed(self.item_id.as_bytes())
            .u8(self.kind as u8)
            .fixed(self.author_id.as_bytes());
    }

    /// The encoded header, which is also the AEAD associated data.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(EnvelopeType::SealedItem, ITEM_HEADER_LEN);
        self.write(&mut w);
        w.finish()
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let relationship_id = RelationshipId::from_bytes(r.array()?);
        let epoch = Epoch(r.u32()?);
        let item_id = ItemId::from_bytes(r.array()?);
        let kind = match r.u8()? {
            1 => ItemKind::Message,
            2 => ItemKind::Document,
            3 => ItemKind::Note,
            _ => {
                return Err(Error::InvalidField {
                    what: r.what(),
                    field: "item kind",
                })
            }
        };
        let author_id = UserId::from_bytes(r.array()?);
        Ok(Self {
            relationship_id,
            epoch,
            item_id,
            kind,
            author_id,
        })
    }
}

/// A sealed item. Encoding: `header(55) ‖ nonce(24) ‖ len(4) ‖ ciphertext`,
/// where the ciphertext is XChaCha20-Poly1305 of `signature(64) ‖ content`
/// with the header as associated data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedItem {
    header: ItemHeader,
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
}

/// An item whose header, ciphertext and signature have all been checked.
/// Only [`SealedItem::open`] and [`SealedItem::open_note`] make one.
#[derive(Debug)]
pub struct OpenedItem {
    header: ItemHeader,
    content: Zeroizing<Vec<u8>>,
}

impl OpenedItem {
    /// The verified header.
    pub fn header(&self) -> &ItemHeader {
        &self.header
    }

    /// The verified content.
    pub fn content(&self) -> &[u8] {
        &self.content
    }
}

/// `ITEM_SIGNATURE_LABEL ‖ 0x00 ‖ header ‖ SHA-256(content)`.
///
/// The content enters through its SHA-256 digest rather than whole: pure
/// Ed25519 would hash a large item twice with SHA-512 (RFC 8032 §5.1.6),
/// which costs several times the AEAD itself, while SHA-256 runs once and
/// uses the CPU's SHA extensions where present. Collision resistance of
/// SHA-256 keeps the signature binding to the exact content.
fn signature_message(header: &[u8], content: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(ITEM_SIGNATURE_LABEL.len() + 1 + header.len() + 32);
    m.extend_from_slice(ITEM_SIGNATURE_LABEL.as_bytes());
    m.push(0);
    m.extend_from_slice(header);
    m.extend_from_slice(&Sha256::digest(content));
    m
}

fn seal_with_key<R: RngCore + CryptoRng>(
    rng: &mut R,
    key: &ItemKey,
    header: ItemHeader,
    author: &IdentityKeyPair,
    content: &[u8],
) -> Result<SealedItem> {
    if content.len() > MAX_ITEM_CONTENT {
        return Err(Error::LengthOutOfRange {
            what: "item content",
            len: content.len() as u64,
            max: MAX_ITEM_CONTENT as u64,
        });
    }
    let aad = header.encode();
    let signature = author.sign(&signature_message(&aad, content));
    let mut buffer = Zeroizing::new(Vec::with_capacity(SIGNATURE_LEN + content.len() + TAG_LEN));
    buffer.extend_from_slice(&signature);
    buffer.extend_from_slice(content);
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    xchacha_seal_in_place(key.expose_secret(), &nonce, &aad, &mut buffer)?;
    // The buffer now holds ciphertext: take it out of its zeroizing wrapper.
    let ciphertext = core::mem::take(&mut *buffer);
    Ok(SealedItem {
        header,
        nonce,
        ciphertext,
    })
}

/// Seals a message or document description under a relationship key.
pub fn seal_item<R: RngCore + CryptoRng>(
    rng: &mut R,
    key: &RelationshipKey,
    item_id: ItemId,
    kind: SharedItemKind,
    author: &IdentityKeyPair,
    content: &[u8],
) -> Result<SealedItem> {
    let header = ItemHeader {
        relationship_id: key.relationship_id(),
        epoch: key.epoch(),
        item_id,
        kind: kind.into(),
        author_id: author.user_id(),
    };
    seal_with_key(rng, &relationship_item_key(key)?, header, author, content)
}

/// Seals a coach-private note about `relationship_id` under the coach's
/// notes key. Only the notes key's own coach may author it.
pub fn seal_note<R: RngCore + CryptoRng>(
    rng: &mut R,
    key: &NotesKey,
    relationship_id: RelationshipId,
    item_id: ItemId,
    coach: &IdentityKeyPair,
    content: &[u8],
) -> Result<SealedItem> {
    if coach.user_id() != key.coach_id() {
        return Err(Error::InvalidInput(
            "a note is authored by its notes key's coach",
        ));
    }
    let header = ItemHeader {
        relationship_id,
        epoch: key.generation(),
        item_id,
        kind: ItemKind::Note,
        author_id: coach.user_id(),
    };
    seal_with_key(
        rng,
        &note_item_key(key, &relationship_id)?,
        header,
        coach,
        content,
    )
}

fn relationship_item_key(key: &RelationshipKey) -> Result<ItemKey> {
    ItemKey::derive(
        key.expose_secret(),
        labels::ITEM_KEY,
        &key.relationship_id(),
        key.epoch(),
    )
}

fn note_item_key(key: &NotesKey, relationship_id: &RelationshipId) -> Result<ItemKey> {
    ItemKey::derive(
        key.expose_secret(),
        labels::NOTE_ITEM_KEY,
        relationship_id,
        key.generation(),
    )
}

impl SealedItem {
    /// The clear header (unauthenticated until opened).
    pub fn header(&self) -> &ItemHeader {
        &self.header
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(
            EnvelopeType::SealedItem,
            ITEM_HEADER_LEN + NONCE_LEN + 4 + self.ciphertext.len(),
        );
        self.header.write(&mut w);
        w.fixed(&self.nonce);
        // Cannot fail: the length is bounded by MAX_CIPHERTEXT < u32::MAX.
        let _ = w.bytes(&self.ciphertext);
        w.finish()
    }

    /// Parses the envelope (shape and size only; nothing is decrypted).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(bytes, EnvelopeType::SealedItem)?;
        let header = ItemHeader::read(&mut r)?;
        let nonce = r.array()?;
        let ciphertext = r.bytes(MAX_CIPHERTEXT)?;
        if ciphertext.len() < SIGNATURE_LEN + TAG_LEN {
            return Err(Error::InvalidField {
                what: r.what(),
                field: "ciphertext shorter than signature and tag",
            });
        }
        let ciphertext = ciphertext.to_vec();
        r.finish()?;
        Ok(Self {
            header,
            nonce,
            ciphertext,
        })
    }

    /// Opens a message or document description that the caller expects to be
    /// item `expected_item_id` of the key's relationship and epoch, written
    /// by `author` (a pinned bundle). Any mismatch or failed check is
    /// [`Error::Decryption`].
    pub fn open(
        &self,
        key: &RelationshipKey,
        expected_item_id: ItemId,
        author: &IdentityBundle,
    ) -> Result<OpenedItem> {
        let kind_ok = matches!(self.header.kind, ItemKind::Message | ItemKind::Document);
        if !kind_ok
            || self.header.relationship_id != key.relationship_id()
            || self.header.epoch != key.epoch()
        {
            return Err(Error::Decryption);
        }
        self.open_with_key(&relationship_item_key(key)?, expected_item_id, author)
    }

    /// Opens a note the coach expects to be item `expected_item_id` about
    /// `expected_relationship`, sealed under `key`.
    pub fn open_note(
        &self,
        key: &NotesKey,
        expected_relationship: RelationshipId,
        expected_item_id: ItemId,
        coach: &IdentityBundle,
    ) -> Result<OpenedItem> {
        if self.header.kind != ItemKind::Note
            || self.header.relationship_id != expected_relationship
            || self.header.epoch != key.generation()
            || coach.user_id() != key.coach_id()
        {
            return Err(Error::Decryption);
        }
        self.open_with_key(
            &note_item_key(key, &expected_relationship)?,
            expected_item_id,
            coach,
        )
    }

    fn open_with_key(
        &self,
        key: &ItemKey,
        expected_item_id: ItemId,
        author: &IdentityBundle,
    ) -> Result<OpenedItem> {
        if self.header.item_id != expected_item_id || self.header.author_id != author.user_id() {
            return Err(Error::Decryption);
        }
        let aad = self.header.encode();
        let mut content = Zeroizing::new(self.ciphertext.clone());
        xchacha_open_in_place(key.expose_secret(), &self.nonce, &aad, &mut content)?;
        let signature: [u8; SIGNATURE_LEN] = content
            .get(..SIGNATURE_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(Error::Decryption)?;
        // One buffer, shifted down over the signature: no second copy of
        // the plaintext to zeroize.
        content.drain(..SIGNATURE_LEN);
        author
            .signing_public()
            .verify_strict(
                &signature_message(&aad, &content),
                &Signature::from_bytes(&signature),
            )
            .map_err(|_| Error::Decryption)?;
        Ok(OpenedItem {
            header: self.header,
            content,
        })
    }
}
