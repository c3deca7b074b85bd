//! Key schedule (PROTOCOL.md §4): every symmetric key Kluis derives, with its
//! HKDF-SHA256 (RFC 5869) label.
//!
//! `derive(ikm, label, context) = HKDF-SHA256(salt = "", ikm,
//! info = label ‖ 0x00 ‖ context, L = 32)`. Labels are ASCII, contain no NUL,
//! and all start with `kluis/v1/`; the NUL separator makes `label ‖ context`
//! unambiguous even if one label were a prefix of another. An empty salt is
//! HKDF's default (a block of zeros, RFC 5869 §2.2): every input key here is
//! already uniformly random, so a salt adds nothing.

use hkdf::Hkdf;
use sha2::Sha256;

use crate::ids::{AttachmentId, Epoch, RelationshipId, UserId};
use crate::secret::secret_bytes;
use crate::{Error, Result};

/// Every HKDF label of protocol version 1. PROTOCOL.md §4 lists the same
/// strings; `tests/spec_labels.rs` checks that the two agree.
pub mod labels {
    /// Export key → key sealing the identity private keys.
    pub const IDENTITY_SEAL_PASSWORD: &str = "kluis/v1/identity-seal/password";
    /// Recovery key → key sealing the identity private keys.
    pub const IDENTITY_SEAL_RECOVERY: &str = "kluis/v1/identity-seal/recovery";
    /// Export key → key for a client's encrypted local key store (the
    /// store of earlier versions, opened once to move it to the key below).
    pub const LOCAL_STORE: &str = "kluis/v1/local-store";
    /// Identity private keys → key for a client's encrypted local store:
    /// the same across password changes and resets with the recovery key.
    pub const LOCAL_STORE_IDENTITY: &str = "kluis/v1/device-store";
    /// Relationship epoch key → item key of that epoch.
    pub const ITEM_KEY: &str = "kluis/v1/item-key";
    /// Notes key → note item key for one relationship.
    pub const NOTE_ITEM_KEY: &str = "kluis/v1/note-item-key";
    /// Attachment file key → STREAM key.
    pub const ATTACHMENT_STREAM: &str = "kluis/v1/attachment-stream";

    /// Every label, for the specification cross-check.
    pub const ALL: &[&str] = &[
        IDENTITY_SEAL_PASSWORD,
        IDENTITY_SEAL_RECOVERY,
        LOCAL_STORE,
        LOCAL_STORE_IDENTITY,
        ITEM_KEY,
        NOTE_ITEM_KEY,
        ATTACHMENT_STREAM,
    ];
}

/// HKDF-SHA256 with an explicit salt and info, as RFC 5869 defines it; the
/// RFC and Wycheproof vectors run through this function.
pub fn hkdf_sha256_raw(salt: &[u8], ikm: &[u8], info: &[u8], out: &mut [u8]) -> Result<()> {
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, out)
        .map_err(|_| Error::InvalidInput("HKDF-SHA256 output longer than 255 blocks"))
}

/// `derive(ikm, label, context)` of PROTOCOL.md §4.1.
pub(crate) fn derive(ikm: &[u8], label: &str, context: &[&[u8]]) -> Result<Box<[u8; 32]>> {
    let mut info = Vec::with_capacity(label.len() + 1 + 64);
    info.extend_from_slice(label.as_bytes());
    info.push(0);
    for part in context {
        info.extend_from_slice(part);
    }
    let mut out = Box::new([0u8; 32]);
    hkdf_sha256_raw(&[], ikm, &info, &mut out[..])?;
    Ok(out)
}

secret_bytes! {
    /// OPAQUE's export key (RFC 9807 §6.4): 64 bytes known only to the client
    /// after a successful registration or login, and the same every time for
    /// the same password and registration.
    pub struct ExportKey([u8; 64]);
}

secret_bytes! {
    /// Key that seals the identity private keys (from the export key or the
    /// recovery key).
    pub struct IdentitySealKey([u8; 32]);
}

secret_bytes! {
    /// Key for a client's encrypted local key store (the CLI's key file).
    pub struct LocalStoreKey([u8; 32]);
}

secret_bytes! {
    /// Per-epoch (or per-relationship note) item key; never leaves the crate.
    pub(crate) struct ItemKey([u8; 32]);
}

impl ExportKey {
    /// `IdentitySealKey = derive(export_key, IDENTITY_SEAL_PASSWORD, user_id)`.
    pub fn identity_seal_key(&self, user: &UserId) -> Result<IdentitySealKey> {
        derive(
            self.expose_secret(),
            labels::IDENTITY_SEAL_PASSWORD,
            &[user.as_bytes()],
        )
        .map(IdentitySealKey::from_boxed)
    }

    /// `LocalStoreKey = derive(export_key, LOCAL_STORE, user_id)`.
    pub fn local_store_key(&self, user: &UserId) -> Result<LocalStoreKey> {
        derive(
            self.expose_secret(),
            labels::LOCAL_STORE,
            &[user.as_bytes()],
        )
        .map(LocalStoreKey::from_boxed)
    }
}

impl LocalStoreKey {
    /// `LocalStoreKey = derive(x25519_secret ‖ ed25519_seed,
    /// LOCAL_STORE_IDENTITY, user_id)`: bound to the identity, not to the
    /// password, so a device's pins and verified peers survive a password
    /// change and a reset with the recovery key, and open only for whoever
    /// holds the identity (sealed on the server under the password and the
    /// recovery key).
    pub fn for_identity(identity: &crate::identity::IdentityKeyPair) -> Result<Self> {
        let (dh, seed) = identity.expose_secret_parts();
        let mut ikm = zeroize::Zeroizing::new(Vec::with_capacity(64));
        ikm.extend_from_slice(dh);
        ikm.extend_from_slice(seed);
        derive(
            &ikm,
            labels::LOCAL_STORE_IDENTITY,
            &[identity.user_id().as_bytes()],
        )
        .map(Self::from_boxed)
    }
}

impl ItemKey {
    pub(crate) fn derive(
        root: &[u8; 32],
        label: &str,
        relationship: &RelationshipId,
        epoch: Epoch,
    ) -> Result<Self> {
        derive(
            root,
            label,
            &[relationship.as_bytes(), &epoch.to_be_bytes()],
        )
        .map(Self::from_boxed)
    }
}

secret_bytes! {
    /// The STREAM key of one attachment; never leaves the crate.
    pub(crate) struct StreamKey([u8; 32]);
}

impl StreamKey {
    /// `stream_key = derive(file_key, ATTACHMENT_STREAM, attachment_id)`.
    pub(crate) fn derive(file_key: &[u8; 32], attachment: &AttachmentId) -> Result<Self> {
        derive(
            file_key,
            labels::ATTACHMENT_STREAM,
            &[attachment.as_bytes()],
        )
        .map(Self::from_boxed)
    }
}
