//! Signed deletions: an author's proof that they deleted one of their
//! items (PROTOCOL.md §8.7).
//!
//! Deleting an item throws its envelope away; only a tombstone stays. A
//! tombstone alone proves nothing — a server could hide any item it likes
//! and call it deleted — so the author signs a small record naming the
//! relationship, the item, themselves, the epoch current when they deleted
//! it and the time. The server keeps the record with the tombstone and
//! serves it; a reader that verifies it may say "deleted by its author",
//! and one that gets no record may only say "the server reports this as
//! deleted". The record is signed with the identity key the membership
//! chain names for the author in the record's epoch (§7.6), so a key the
//! author replaced signs no deletion after it was replaced.

use ed25519_dalek::Signature;

use crate::encoding::{EnvelopeType, Reader, Writer};
use crate::identity::{IdentityBundle, IdentityKeyPair};
use crate::ids::{Epoch, ItemId, RelationshipId, UserId};
use crate::{Error, Result};

/// Prefix of the message a deletion's signature covers.
pub const DELETION_SIGNATURE_LABEL: &str = "kluis/v1/item-deletion";
/// Length of the signed part: version, type, relationship, item, author,
/// epoch, time.
const BODY_LEN: usize = 2 + 16 + 16 + 16 + 4 + 8;
const SIGNATURE_LEN: usize = 64;
/// Length of an encoded deletion (126 bytes).
pub const ITEM_DELETION_LEN: usize = BODY_LEN + SIGNATURE_LEN;

/// Why a signed deletion does not prove the deletion of the item it is
/// served with. Checked in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeletionFault {
    /// The record names another relationship or another item.
    #[error("the record deletes another item")]
    WrongItem,
    /// The record names someone other than the item's author.
    #[error("the record is not by the item's author")]
    WrongAuthor,
    /// The bundle given to check the signature is not the author's.
    #[error("the signer's key is not the author's")]
    SignerKey,
    /// The Ed25519 signature does not verify (strictly, RFC 8032 §5.1.7
    /// with canonical encodings and no small-order keys).
    #[error("the record's signature is invalid")]
    Signature,
}

/// What a reader expects a deletion to name: the item as listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeletedItem {
    /// The relationship the item is listed in.
    pub relationship_id: RelationshipId,
    /// The item's id.
    pub item_id: ItemId,
    /// The item's author as listed.
    pub author_id: UserId,
}

/// An author's signed deletion of one item: `version ‖ 0x0B ‖
/// relationship_id ‖ item_id ‖ author_id ‖ epoch ‖ deleted_ms ‖ signature`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemDeletion {
    encoded: Vec<u8>,
    item: DeletedItem,
    epoch: Epoch,
    deleted_ms: u64,
}

impl ItemDeletion {
    /// Signs the deletion of `item` by its author `author`, made in `epoch`
    /// (the relationship's current epoch) at `deleted_ms` (Unix ms, the
    /// author's clock).
    pub fn sign(
        author: &IdentityKeyPair,
        relationship_id: RelationshipId,
        item_id: ItemId,
        epoch: Epoch,
        deleted_ms: u64,
    ) -> Self {
        let mut w = Writer::with_capacity(EnvelopeType::ItemDeletion, ITEM_DELETION_LEN);
        w.fixed(relationship_id.as_bytes())
            .fixed(item_id.as_bytes())
            .fixed(author.user_id().as_bytes())
            .u32(epoch.0)
            .u64(deleted_ms);
        let mut encoded = w.finish();
        let signature = author.sign(&signature_message(&encoded));
        encoded.extend_from_slice(&signature);
        Self {
            encoded,
            item: DeletedItem {
                relationship_id,
                item_id,
                author_id: author.user_id(),
            },
            epoch,
            deleted_ms,
        }
    }

    /// Parses a deletion (shape only: the signature needs the author's
    /// bundle, see [`Self::verify`]).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(bytes, EnvelopeType::ItemDeletion)?;
        let relationship_id = RelationshipId::from_bytes(r.array()?);
        let item_id = ItemId::from_bytes(r.array()?);
        let author_id = UserId::from_bytes(r.array()?);
        let epoch = Epoch(r.u32()?);
        let deleted_ms = r.u64()?;
        let _signature: [u8; SIGNATURE_LEN] = r.array()?;
        r.finish()?;
        Ok(Self {
            encoded: bytes.to_vec(),
            item: DeletedItem {
                relationship_id,
                item_id,
                author_id,
            },
            epoch,
            deleted_ms,
        })
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        self.encoded.clone()
    }

    /// The item the record deletes, and its author.
    pub fn item(&self) -> DeletedItem {
        self.item
    }

    /// The relationship's epoch when the author deleted the item: the
    /// author's key is the one the membership chain names for this epoch.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// When the author deleted it, by the author's clock (Unix ms).
    pub fn deleted_ms(&self) -> u64 {
        self.deleted_ms
    }

    /// Steps 1–2 of PROTOCOL.md §8.7, which need no key: the record names
    /// the listed relationship, item and author. Run before looking up the
    /// author's key in the chain, so that a replayed deletion is named as
    /// such.
    pub fn check_names(&self, expected: &DeletedItem) -> Result<()> {
        let fault = |f| Err(Error::Deletion(f));
        if self.item.relationship_id != expected.relationship_id
            || self.item.item_id != expected.item_id
        {
            return fault(DeletionFault::WrongItem);
        }
        if self.item.author_id != expected.author_id {
            return fault(DeletionFault::WrongAuthor);
        }
        Ok(())
    }

    /// Checks that this record deletes `expected` and is signed by its
    /// author with `author` — the bundle the caller took from the
    /// membership chain for the author in [`Self::epoch`]. Faults come in
    /// the order of [`DeletionFault`].
    pub fn verify(&self, expected: &DeletedItem, author: &IdentityBundle) -> Result<()> {
        self.check_names(expected)?;
        if author.user_id() != self.item.author_id {
            return Err(Error::Deletion(DeletionFault::SignerKey));
        }
        let (body, signature) = self.encoded.split_at(BODY_LEN);
        let signature = Signature::from_slice(signature).map_err(|_| DeletionFault::Signature)?;
        author
            .signing_public()
            .verify_strict(&signature_message(body), &signature)
            .map_err(|_| Error::Deletion(DeletionFault::Signature))
    }
}

/// `DELETION_SIGNATURE_LABEL ‖ 0x00 ‖ body`.
fn signature_message(body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(DELETION_SIGNATURE_LABEL.len() + 1 + body.len());
    m.extend_from_slice(DELETION_SIGNATURE_LABEL.as_bytes());
    m.push(0);
    m.extend_from_slice(body);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn setup() -> (IdentityKeyPair, IdentityKeyPair, DeletedItem, ItemDeletion) {
        let mut rng = StdRng::seed_from_u64(11);
        let (author_id, other_id) = (UserId::random(&mut rng), UserId::random(&mut rng));
        let author = IdentityKeyPair::generate(&mut rng, author_id);
        let other = IdentityKeyPair::generate(&mut rng, other_id);
        let item = DeletedItem {
            relationship_id: RelationshipId::random(&mut rng),
            item_id: ItemId::random(&mut rng),
            author_id: author.user_id(),
        };
        let deletion = ItemDeletion::sign(&author, item.relationship_id, item.item_id, Epoch(3), 7);
        (author, other, item, deletion)
    }

    #[test]
    fn a_deletion_verifies_for_its_item_and_author_only() {
        let (author, other, item, deletion) = setup();
        assert_eq!(deletion.encode().len(), ITEM_DELETION_LEN);
        let decoded = ItemDeletion::decode(&deletion.encode()).unwrap();
        assert_eq!(decoded, deletion);
        decoded.verify(&item, author.bundle()).unwrap();
        let fault = |e: Error| match e {
            Error::Deletion(f) => f,
            e => panic!("{e}"),
        };
        let moved = DeletedItem {
            item_id: ItemId::from_bytes([1; 16]),
            ..item
        };
        let e = decoded.verify(&moved, author.bundle()).unwrap_err();
        assert_eq!(fault(e), DeletionFault::WrongItem);
        let by_other = DeletedItem {
            author_id: other.user_id(),
            ..item
        };
        let e = decoded.verify(&by_other, other.bundle()).unwrap_err();
        assert_eq!(fault(e), DeletionFault::WrongAuthor);
        let e = decoded.verify(&item, other.bundle()).unwrap_err();
        assert_eq!(fault(e), DeletionFault::SignerKey);
        let mut bytes = deletion.encode();
        bytes[BODY_LEN - 1] ^= 1;
        let e = ItemDeletion::decode(&bytes)
            .unwrap()
            .verify(&item, author.bundle())
            .unwrap_err();
        assert_eq!(fault(e), DeletionFault::Signature);
    }

    #[test]
    fn a_malformed_deletion_does_not_decode() {
        let (_, _, _, deletion) = setup();
        let bytes = deletion.encode();
        assert!(matches!(
            ItemDeletion::decode(&bytes[..bytes.len() - 1]),
            Err(Error::Truncated { .. })
        ));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            ItemDeletion::decode(&longer),
            Err(Error::TrailingBytes { .. })
        ));
        let mut other_type = bytes;
        other_type[1] = EnvelopeType::MembershipRecord as u8;
        assert!(matches!(
            ItemDeletion::decode(&other_type),
            Err(Error::WrongEnvelopeType { .. })
        ));
    }
}
