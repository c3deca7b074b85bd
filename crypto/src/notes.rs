//! Coach-private notes (PROTOCOL.md §10).
//!
//! A coach holds one random 256-bit *notes key* per generation. It is sealed
//! to the coach's own identity with HPKE Auth mode (sender = recipient =
//! the coach), so only someone holding the coach's X25519 private key can
//! open it, and it is never wrapped to anyone else. Note items use the item
//! format of §8 with kind `Note`, the relationship the note is about, the
//! notes-key generation in the epoch field, and an item key derived from the
//! notes key.

use rand_core::{CryptoRng, RngCore};

use crate::encoding::{EnvelopeType, Reader, Writer};
use crate::hpke_auth::{self, ENC_LEN};
use crate::identity::{IdentityKeyPair, KeyFingerprint};
use crate::ids::{Epoch, UserId};
use crate::secret::secret_bytes;
use crate::symmetric::TAG_LEN;
use crate::{Error, Result, PROTOCOL_VERSION};

/// Prefix of the HPKE `info` for a sealed notes key.
pub const NOTES_INFO_LABEL: &str = "kluis/v1/notes-key-seal";
/// Length of an encoded [`SealedNotesKey`].
pub const SEALED_NOTES_KEY_LEN: usize = 2 + 16 + 4 + 32 + ENC_LEN + 32 + TAG_LEN;

secret_bytes! {
    /// The raw notes key; only ever held inside [`NotesKey`].
    pub struct NotesKeyBytes([u8; 32]);
}

/// A coach's notes key of one generation.
#[derive(Debug, PartialEq, Eq)]
pub struct NotesKey {
    coach_id: UserId,
    generation: Epoch,
    key: NotesKeyBytes,
}

fn notes_info(coach_id: &UserId, generation: Epoch, fingerprint: &KeyFingerprint) -> Vec<u8> {
    let mut info = Vec::with_capacity(NOTES_INFO_LABEL.len() + 1 + 1 + 16 + 4 + 32);
    info.extend_from_slice(NOTES_INFO_LABEL.as_bytes());
    info.push(0);
    info.push(PROTOCOL_VERSION);
    info.extend_from_slice(coach_id.as_bytes());
    info.extend_from_slice(&generation.to_be_bytes());
    info.extend_from_slice(&fingerprint.0);
    info
}

impl NotesKey {
    /// A fresh notes key of `generation` for `coach_id`.
    pub fn generate<R: RngCore + CryptoRng>(
        rng: &mut R,
        coach_id: UserId,
        generation: Epoch,
    ) -> Self {
        Self {
            coach_id,
            generation,
            key: NotesKeyBytes::generate(rng),
        }
    }

    /// Rebuilds a key from its parts (a vector file, a local key store).
    pub fn from_parts(coach_id: UserId, generation: Epoch, key: NotesKeyBytes) -> Self {
        Self {
            coach_id,
            generation,
            key,
        }
    }

    /// The coach who owns this key.
    pub fn coach_id(&self) -> UserId {
        self.coach_id
    }

    /// The generation.
    pub fn generation(&self) -> Epoch {
        self.generation
    }

    /// The raw key. Every caller is a place a reviewer checks.
    pub fn expose_secret(&self) -> &[u8; 32] {
        self.key.expose_secret()
    }

    /// Seals the key to `coach` itself. Refuses any other identity.
    pub fn seal<R: RngCore + CryptoRng>(
        &self,
        rng: &mut R,
        coach: &IdentityKeyPair,
    ) -> Result<SealedNotesKey> {
        if coach.user_id() != self.coach_id {
            return Err(Error::InvalidInput(
                "a notes key is sealed only to its own coach",
            ));
        }
        let bundle = coach.bundle();
        let fingerprint = bundle.fingerprint();
        let (enc, ct) = hpke_auth::seal_key(
            coach.dh_secret(),
            bundle.dh_public(),
            bundle.dh_public(),
            &notes_info(&self.coach_id, self.generation, &fingerprint),
            self.expose_secret(),
            rng,
        )?;
        Ok(SealedNotesKey {
            coach_id: self.coach_id,
            generation: self.generation,
            fingerprint,
            enc,
            ct,
        })
    }
}

/// A notes key sealed to its coach. Encoding (134 bytes): `version ‖ 0x06 ‖
/// coach_id ‖ generation ‖ coach_fingerprint ‖ enc(32) ‖ ciphertext(32) ‖
/// tag(16)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedNotesKey {
    coach_id: UserId,
    generation: Epoch,
    fingerprint: KeyFingerprint,
    enc: [u8; ENC_LEN],
    ct: [u8; 32 + TAG_LEN],
}

impl SealedNotesKey {
    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(EnvelopeType::SealedNotesKey, SEALED_NOTES_KEY_LEN);
        w.fixed(self.coach_id.as_bytes())
            .u32(self.generation.0)
            .fixed(&self.fingerprint.0)
            .fixed(&self.enc)
            .fixed(&self.ct);
        w.finish()
    }

    /// Parses the envelope (shape only).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(bytes, EnvelopeType::SealedNotesKey)?;
        let out = Self {
            coach_id: UserId::from_bytes(r.array()?),
            generation: Epoch(r.u32()?),
            fingerprint: KeyFingerprint(r.array()?),
            enc: r.array()?,
            ct: r.array()?,
        };
        r.finish()?;
        Ok(out)
    }

    /// The coach in the clear header.
    pub fn coach_id(&self) -> UserId {
        self.coach_id
    }

    /// The generation in the clear header.
    pub fn generation(&self) -> Epoch {
        self.generation
    }

    /// Opens the notes key as `coach`.
    pub fn open(&self, coach: &IdentityKeyPair) -> Result<NotesKey> {
        let fingerprint = coach.bundle().fingerprint();
        if self.coach_id != coach.user_id() || self.fingerprint != fingerprint {
            return Err(Error::Decryption);
        }
        let key = hpke_auth::open_key(
            coach.dh_secret(),
            coach.bundle().dh_public(),
            &self.enc,
            &notes_info(&self.coach_id, self.generation, &fingerprint),
            &self.ct,
        )?;
        Ok(NotesKey {
            coach_id: self.coach_id,
            generation: self.generation,
            key: NotesKeyBytes::from_boxed(key),
        })
    }
}
