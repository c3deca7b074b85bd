//! Relationship keys and their HPKE wrapping (PROTOCOL.md §7).
//!
//! Each relationship (a coach–client trajectory) has a random 256-bit key per
//! epoch. A member who creates an epoch wraps the key to every member's
//! X25519 identity key with HPKE Auth mode (RFC 9180 §5.1.3), so the
//! recipient learns which identity wrapped it. The HPKE `info` binds the
//! protocol version, relationship id, epoch, sender, recipient and the
//! recipient's key fingerprint and the hash of the epoch's membership record
//! (§7.6); the server can therefore neither redirect a wrapped key to another
//! relationship, epoch or person, nor substitute a key of its own making
//! without holding a member's identity key, nor pair a key with another
//! membership record than the one its sender signed.

use rand_core::{CryptoRng, RngCore};

use crate::encoding::{EnvelopeType, Reader, Writer};
use crate::hpke_auth::{self, ENC_LEN};
use crate::identity::{IdentityBundle, IdentityKeyPair, KeyFingerprint};
use crate::ids::{Epoch, RelationshipId, UserId};
use crate::membership::RecordHash;
use crate::secret::secret_bytes;
use crate::symmetric::TAG_LEN;
use crate::{Error, Result, PROTOCOL_VERSION};

/// Prefix of the HPKE `info` for wrapped relationship keys.
pub const WRAP_INFO_LABEL: &str = "kluis/v1/relationship-key-wrap";
/// Length of an encoded [`WrappedRelationshipKey`].
pub const WRAPPED_KEY_LEN: usize = 2 + 16 + 4 + 16 + 16 + 32 + ENC_LEN + 32 + TAG_LEN;

secret_bytes! {
    /// The raw 256-bit epoch key; only ever held inside [`RelationshipKey`].
    pub struct EpochKeyBytes([u8; 32]);
}

/// The key of one relationship epoch, carrying the (relationship, epoch) it
/// belongs to so that it cannot be used for another.
#[derive(Debug, PartialEq, Eq)]
pub struct RelationshipKey {
    relationship_id: RelationshipId,
    epoch: Epoch,
    key: EpochKeyBytes,
}

impl RelationshipKey {
    /// A fresh random key for `(relationship_id, epoch)`.
    pub fn generate<R: RngCore + CryptoRng>(
        rng: &mut R,
        relationship_id: RelationshipId,
        epoch: Epoch,
    ) -> Self {
        Self {
            relationship_id,
            epoch,
            key: EpochKeyBytes::generate(rng),
        }
    }

    /// Rebuilds a key from its parts (a vector file, a local key store).
    pub fn from_parts(relationship_id: RelationshipId, epoch: Epoch, key: EpochKeyBytes) -> Self {
        Self {
            relationship_id,
            epoch,
            key,
        }
    }

    /// The relationship this key belongs to.
    pub fn relationship_id(&self) -> RelationshipId {
        self.relationship_id
    }

    /// The epoch this key belongs to.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// The raw key. Every caller is a place a reviewer checks.
    pub fn expose_secret(&self) -> &[u8; 32] {
        self.key.expose_secret()
    }

    /// Wraps this key from `sender` to `recipient` (who may be the sender)
    /// for the epoch whose membership record hashes to `record`.
    pub fn wrap<R: RngCore + CryptoRng>(
        &self,
        rng: &mut R,
        sender: &IdentityKeyPair,
        recipient: &IdentityBundle,
        record: &RecordHash,
    ) -> Result<WrappedRelationshipKey> {
        let header = WrapHeader {
            relationship_id: self.relationship_id,
            epoch: self.epoch,
            sender_id: sender.user_id(),
            recipient_id: recipient.user_id(),
            recipient_fingerprint: recipient.fingerprint(),
        };
        let (enc, ct) = hpke_auth::seal_key(
            sender.dh_secret(),
            sender.bundle().dh_public(),
            recipient.dh_public(),
            &header.info(record),
            self.expose_secret(),
            rng,
        )?;
        Ok(WrappedRelationshipKey { header, enc, ct })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct WrapHeader {
    relationship_id: RelationshipId,
    epoch: Epoch,
    sender_id: UserId,
    recipient_id: UserId,
    recipient_fingerprint: KeyFingerprint,
}

impl WrapHeader {
    /// `info = WRAP_INFO_LABEL ‖ 0x00 ‖ version ‖ relationship_id ‖ epoch ‖
    /// sender_id ‖ recipient_id ‖ recipient_fingerprint ‖ record_hash`
    /// (fixed widths). The record hash is not in the envelope: each side
    /// takes it from the chain it verified.
    fn info(&self, record: &RecordHash) -> Vec<u8> {
        let mut info =
            Vec::with_capacity(WRAP_INFO_LABEL.len() + 1 + 1 + 16 + 4 + 16 + 16 + 32 + 32);
        info.extend_from_slice(WRAP_INFO_LABEL.as_bytes());
        info.push(0);
        info.push(PROTOCOL_VERSION);
        info.extend_from_slice(self.relationship_id.as_bytes());
        info.extend_from_slice(&self.epoch.to_be_bytes());
        info.extend_from_slice(self.sender_id.as_bytes());
        info.extend_from_slice(self.recipient_id.as_bytes());
        info.extend_from_slice(&self.recipient_fingerprint.0);
        info.extend_from_slice(&record.0);
        info
    }
}

/// A relationship key wrapped to one member. Encoding (166 bytes):
/// `version ‖ 0x03 ‖ relationship_id ‖ epoch ‖ sender_id ‖ recipient_id ‖
/// recipient_fingerprint ‖ enc(32) ‖ ciphertext(32) ‖ tag(16)`. The clear
/// header lets the server route it to the recipient and check that an epoch
/// addresses exactly the current members; all of it is bound in `info`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedRelationshipKey {
    header: WrapHeader,
    enc: [u8; ENC_LEN],
    ct: [u8; 32 + TAG_LEN],
}

impl WrappedRelationshipKey {
    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let h = &self.header;
        let mut w = Writer::with_capacity(EnvelopeType::WrappedRelationshipKey, WRAPPED_KEY_LEN);
        w.fixed(h.relationship_id.as_bytes())
            .u32(h.epoch.0)
            .fixed(h.sender_id.as_bytes())
            .fixed(h.recipient_id.as_bytes())
            .fixed(&h.recipient_fingerprint.0)
            .fixed(&self.enc)
            .fixed(&self.ct);
        w.finish()
    }

    /// Parses the envelope (shape only).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(bytes, EnvelopeType::WrappedRelationshipKey)?;
        let header = WrapHeader {
            relationship_id: RelationshipId::from_bytes(r.array()?),
            epoch: Epoch(r.u32()?),
            sender_id: UserId::from_bytes(r.array()?),
            recipient_id: UserId::from_bytes(r.array()?),
            recipient_fingerprint: KeyFingerprint(r.array()?),
        };
        let enc = r.array()?;
        let ct = r.array()?;
        r.finish()?;
        Ok(Self { header, enc, ct })
    }

    /// Relationship id in the clear header.
    pub fn relationship_id(&self) -> RelationshipId {
        self.header.relationship_id
    }

    /// Epoch in the clear header.
    pub fn epoch(&self) -> Epoch {
        self.header.epoch
    }

    /// Sender in the clear header.
    pub fn sender_id(&self) -> UserId {
        self.header.sender_id
    }

    /// Recipient in the clear header.
    pub fn recipient_id(&self) -> UserId {
        self.header.recipient_id
    }

    /// Recipient key fingerprint in the clear header.
    pub fn recipient_fingerprint(&self) -> KeyFingerprint {
        self.header.recipient_fingerprint
    }

    /// Unwraps the key for `(relationship_id, epoch)` as `recipient`, from
    /// `sender` (the bundle the membership chain names for the epoch's
    /// signer), under the epoch's verified membership record `record`. The
    /// header must name exactly these; anything else, or a failed HPKE open
    /// (another record hash included), is [`Error::Decryption`].
    pub fn unwrap(
        &self,
        recipient: &IdentityKeyPair,
        sender: &IdentityBundle,
        relationship_id: RelationshipId,
        epoch: Epoch,
        record: &RecordHash,
    ) -> Result<RelationshipKey> {
        let expected = WrapHeader {
            relationship_id,
            epoch,
            sender_id: sender.user_id(),
            recipient_id: recipient.user_id(),
            recipient_fingerprint: recipient.bundle().fingerprint(),
        };
        if self.header != expected {
            return Err(Error::Decryption);
        }
        let key = hpke_auth::open_key(
            recipient.dh_secret(),
            sender.dh_public(),
            &self.enc,
            &expected.info(record),
            &self.ct,
        )?;
        Ok(RelationshipKey {
            relationship_id,
            epoch,
            key: EpochKeyBytes::from_boxed(key),
        })
    }
}
