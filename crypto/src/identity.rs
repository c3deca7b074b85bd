//! Identity keys, the signed identity bundle and sealed identities
//! (PROTOCOL.md §5).
//!
//! Each user holds an X25519 key pair (RFC 7748; the HPKE key for receiving
//! wrapped keys) and an Ed25519 key pair (RFC 8032; signs the bundle and
//! every item). The *identity bundle* publishes both public keys with the
//! user id, self-signed. The two private keys are sealed with
//! XChaCha20-Poly1305 twice: once under a key from the OPAQUE export key and
//! once under a key from the recovery key.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::encoding::{EnvelopeType, Reader, Writer};
use crate::hpke_auth::x25519_public;
use crate::ids::UserId;
use crate::key_schedule::{ExportKey, IdentitySealKey};
use crate::recovery::RecoveryKey;
use crate::secret::secret_bytes;
use crate::symmetric::{xchacha_open, xchacha_seal, NONCE_LEN, TAG_LEN};
use crate::{Error, Result};

/// Prefix of the message an identity bundle's signature covers.
pub const BUNDLE_SIGNATURE_LABEL: &str = "kluis/v1/identity-bundle";
/// Prefix of the hash input of a key fingerprint.
pub const KEY_FINGERPRINT_LABEL: &str = "kluis/v1/key-fingerprint";

/// Length of the signed part of a bundle: version, type, user id, two keys.
const BUNDLE_BODY_LEN: usize = 2 + 16 + 32 + 32;
/// Length of an encoded bundle.
pub const BUNDLE_LEN: usize = BUNDLE_BODY_LEN + 64;
/// Length of the sealed plaintext: X25519 secret ‖ Ed25519 seed.
const IDENTITY_SECRET_LEN: usize = 64;
/// Length of an encoded sealed identity.
pub const SEALED_IDENTITY_LEN: usize = 2 + 1 + 16 + NONCE_LEN + IDENTITY_SECRET_LEN + TAG_LEN;

secret_bytes! {
    /// The X25519 identity private key.
    pub struct IdentityDhSecret([u8; 32]);
}

/// A user's public identity: user id, X25519 and Ed25519 public keys, and a
/// self-signature. A value of this type has always had its signature
/// verified: [`IdentityBundle::decode`] is the only way to build one from
/// bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityBundle {
    encoded: [u8; BUNDLE_LEN],
    user_id: UserId,
    dh_public: [u8; 32],
    signing_public: VerifyingKey,
}

impl core::fmt::Debug for IdentityBundle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IdentityBundle")
            .field("user_id", &self.user_id)
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

/// SHA-256 of a bundle's signed body, bound into every HPKE `info` that
/// wraps a key to this identity (PROTOCOL.md §5.3).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyFingerprint(pub [u8; 32]);

impl core::fmt::Debug for KeyFingerprint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "KeyFingerprint(")?;
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

impl IdentityBundle {
    fn sign_and_encode(user_id: UserId, dh_public: [u8; 32], signing: &SigningKey) -> Self {
        let signing_public = signing.verifying_key();
        let mut body = Writer::new(EnvelopeType::IdentityBundle);
        body.fixed(user_id.as_bytes())
            .fixed(&dh_public)
            .fixed(signing_public.as_bytes());
        let mut body = body.finish();
        let signature = signing.sign(&signature_message(&body));
        body.extend_from_slice(&signature.to_bytes());
        let mut encoded = [0u8; BUNDLE_LEN];
        encoded.copy_from_slice(&body);
        Self {
            encoded,
            user_id,
            dh_public,
            signing_public,
        }
    }

    /// Parses a bundle and verifies its self-signature (Ed25519, RFC 8032,
    /// `verify_strict`: small-order keys and non-canonical signatures are
    /// refused). Both public keys are also checked here, so that a bundle
    /// that decodes can be used: the Ed25519 key must be canonically
    /// encoded (y < p; RFC 8032 §5.1.3 decoding accepts some non-canonical
    /// forms that other libraries reject, and implementations must agree)
    /// and not of small order, and the X25519 key must not be of small order
    /// (it would make every HPKE shared secret all zeros, RFC 9180 §7.1.4).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(bytes, EnvelopeType::IdentityBundle)?;
        let user_id = UserId::from_bytes(r.array()?);
        let dh_public: [u8; 32] = r.array()?;
        let signing_public: [u8; 32] = r.array()?;
        let signature: [u8; 64] = r.array()?;
        r.finish()?;
        let signing_bytes = signing_public;
        let signing_public =
            VerifyingKey::from_bytes(&signing_bytes).map_err(|_| Error::InvalidPublicKey)?;
        if signing_public.is_weak()
            || signing_public.to_edwards().compress().to_bytes() != signing_bytes
        {
            return Err(Error::InvalidPublicKey);
        }
        if !x25519_contributory(&dh_public) {
            return Err(Error::InvalidPublicKey);
        }
        let body = bytes.get(..BUNDLE_BODY_LEN).ok_or(Error::Truncated {
            what: "identity bundle",
        })?;
        signing_public
            .verify_strict(&signature_message(body), &Signature::from_bytes(&signature))
            .map_err(|_| Error::BadSignature)?;
        let mut encoded = [0u8; BUNDLE_LEN];
        encoded.copy_from_slice(bytes);
        Ok(Self {
            encoded,
            user_id,
            dh_public,
            signing_public,
        })
    }

    /// The canonical encoding (146 bytes).
    pub fn encode(&self) -> Vec<u8> {
        self.encoded.to_vec()
    }

    /// The signed body: version, type, user id and both public keys.
    pub fn body(&self) -> &[u8] {
        &self.encoded[..BUNDLE_BODY_LEN]
    }

    /// The user this identity belongs to.
    pub fn user_id(&self) -> UserId {
        self.user_id
    }

    /// The X25519 public key.
    pub fn dh_public(&self) -> &[u8; 32] {
        &self.dh_public
    }

    /// The Ed25519 public key.
    pub fn signing_public(&self) -> &VerifyingKey {
        &self.signing_public
    }

    /// `SHA-256(KEY_FINGERPRINT_LABEL ‖ 0x00 ‖ body)`.
    pub fn fingerprint(&self) -> KeyFingerprint {
        let mut h = Sha256::new();
        h.update(KEY_FINGERPRINT_LABEL.as_bytes());
        h.update([0u8]);
        h.update(self.body());
        KeyFingerprint(h.finalize().into())
    }
}

/// Whether `public` is a point of large order: X25519 with any scalar gives
/// a non-zero result exactly then (RFC 7748 §6.1).
fn x25519_contributory(public: &[u8; 32]) -> bool {
    x25519_dalek::StaticSecret::from([0x55; 32])
        .diffie_hellman(&x25519_dalek::PublicKey::from(*public))
        .was_contributory()
}

fn signature_message(body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(BUNDLE_SIGNATURE_LABEL.len() + 1 + body.len());
    m.extend_from_slice(BUNDLE_SIGNATURE_LABEL.as_bytes());
    m.push(0);
    m.extend_from_slice(body);
    m
}

/// A user's identity private keys with their bundle.
pub struct IdentityKeyPair {
    dh_secret: IdentityDhSecret,
    signing: SigningKey,
    bundle: IdentityBundle,
}

impl core::fmt::Debug for IdentityKeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IdentityKeyPair")
            .field("bundle", &self.bundle)
            .finish_non_exhaustive()
    }
}

impl IdentityKeyPair {
    /// A new identity: 32 random bytes for the X25519 secret, then 32 for the
    /// Ed25519 seed, drawn in that order.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R, user_id: UserId) -> Self {
        let dh_secret = IdentityDhSecret::generate(rng);
        let seed = Zeroizing::new({
            let mut s = [0u8; 32];
            rng.fill_bytes(&mut s);
            s
        });
        Self::from_parts(user_id, dh_secret, &seed)
    }

    /// Rebuilds an identity from its two secrets (a local key store, a
    /// vector file). The bundle is recomputed and re-signed; Ed25519 signing
    /// is deterministic, so it is byte-identical to the published one.
    pub fn from_parts(user_id: UserId, dh_secret: IdentityDhSecret, seed: &[u8; 32]) -> Self {
        let signing = SigningKey::from_bytes(seed);
        let bundle = IdentityBundle::sign_and_encode(
            user_id,
            x25519_public(dh_secret.expose_secret()),
            &signing,
        );
        Self {
            dh_secret,
            signing,
            bundle,
        }
    }

    /// The public bundle.
    pub fn bundle(&self) -> &IdentityBundle {
        &self.bundle
    }

    /// The user id.
    pub fn user_id(&self) -> UserId {
        self.bundle.user_id
    }

    pub(crate) fn dh_secret(&self) -> &[u8; 32] {
        self.dh_secret.expose_secret()
    }

    /// The X25519 secret and the Ed25519 seed. Every caller is a place a
    /// reviewer checks.
    pub fn expose_secret_parts(&self) -> (&[u8; 32], &[u8; 32]) {
        (self.dh_secret.expose_secret(), self.signing.as_bytes())
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// Seals the private keys under the key derived from the export key.
    pub fn seal_with_password<R: RngCore + CryptoRng>(
        &self,
        export_key: &ExportKey,
        rng: &mut R,
    ) -> Result<SealedIdentity> {
        let key = export_key.identity_seal_key(&self.user_id())?;
        self.seal(SealKind::Password, &key, rng)
    }

    /// Seals the private keys under the key derived from the recovery key.
    pub fn seal_with_recovery_key<R: RngCore + CryptoRng>(
        &self,
        recovery_key: &RecoveryKey,
        rng: &mut R,
    ) -> Result<SealedIdentity> {
        let key = recovery_key.identity_seal_key(&self.user_id())?;
        self.seal(SealKind::RecoveryKey, &key, rng)
    }

    fn seal<R: RngCore + CryptoRng>(
        &self,
        kind: SealKind,
        key: &IdentitySealKey,
        rng: &mut R,
    ) -> Result<SealedIdentity> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let mut plaintext = Zeroizing::new([0u8; IDENTITY_SECRET_LEN]);
        let (dh, seed) = plaintext.split_at_mut(32);
        dh.copy_from_slice(self.dh_secret());
        seed.copy_from_slice(self.signing.as_bytes());
        let header = sealed_identity_header(kind, &self.user_id());
        let ciphertext = xchacha_seal(key.expose_secret(), &nonce, &header, &plaintext[..])?;
        Ok(SealedIdentity {
            kind,
            user_id: self.user_id(),
            nonce,
            ciphertext,
        })
    }
}

/// Which key a [`SealedIdentity`] is sealed under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SealKind {
    /// The key derived from the OPAQUE export key.
    Password = 1,
    /// The key derived from the recovery key.
    RecoveryKey = 2,
}

/// The identity private keys, sealed. Encoding (123 bytes): `version ‖ 0x02
/// ‖ kind ‖ user_id ‖ nonce(24) ‖ ciphertext(64) ‖ tag(16)`; the first 19
/// bytes are the associated data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedIdentity {
    kind: SealKind,
    user_id: UserId,
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
}

fn sealed_identity_header(kind: SealKind, user_id: &UserId) -> Vec<u8> {
    let mut w = Writer::new(EnvelopeType::SealedIdentity);
    w.u8(kind as u8).fixed(user_id.as_bytes());
    w.finish()
}

impl SealedIdentity {
    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(EnvelopeType::SealedIdentity, SEALED_IDENTITY_LEN);
        w.u8(self.kind as u8)
            .fixed(self.user_id.as_bytes())
            .fixed(&self.nonce)
            .fixed(&self.ciphertext);
        w.finish()
    }

    /// Parses the envelope (shape only; nothing is decrypted).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(bytes, EnvelopeType::SealedIdentity)?;
        let kind = match r.u8()? {
            1 => SealKind::Password,
            2 => SealKind::RecoveryKey,
            _ => {
                return Err(Error::InvalidField {
                    what: r.what(),
                    field: "seal kind",
                })
            }
        };
        let user_id = UserId::from_bytes(r.array()?);
        let nonce = r.array()?;
        let ciphertext = r.array::<{ IDENTITY_SECRET_LEN + TAG_LEN }>()?.to_vec();
        r.finish()?;
        Ok(Self {
            kind,
            user_id,
            nonce,
            ciphertext,
        })
    }

    /// Which key this is sealed under.
    pub fn kind(&self) -> SealKind {
        self.kind
    }

    /// The user id in the clear header.
    pub fn user_id(&self) -> UserId {
        self.user_id
    }

    /// Opens a password-sealed identity of `expected_user`.
    pub fn open_with_password(
        &self,
        export_key: &ExportKey,
        expected_user: UserId,
    ) -> Result<IdentityKeyPair> {
        let key = export_key.identity_seal_key(&expected_user)?;
        self.open(SealKind::Password, &key, expected_user)
    }

    /// Opens a recovery-key-sealed identity of `expected_user`.
    pub fn open_with_recovery_key(
        &self,
        recovery_key: &RecoveryKey,
        expected_user: UserId,
    ) -> Result<IdentityKeyPair> {
        let key = recovery_key.identity_seal_key(&expected_user)?;
        self.open(SealKind::RecoveryKey, &key, expected_user)
    }

    fn open(
        &self,
        kind: SealKind,
        key: &IdentitySealKey,
        expected_user: UserId,
    ) -> Result<IdentityKeyPair> {
        if self.kind != kind || self.user_id != expected_user {
            return Err(Error::Decryption);
        }
        let header = sealed_identity_header(kind, &expected_user);
        let plaintext = xchacha_open(key.expose_secret(), &self.nonce, &header, &self.ciphertext)?;
        let (dh, seed) = plaintext.split_at(32);
        let mut dh_bytes = Box::new([0u8; 32]);
        dh_bytes.copy_from_slice(dh);
        let mut seed_bytes = Zeroizing::new([0u8; 32]);
        seed_bytes.copy_from_slice(seed);
        Ok(IdentityKeyPair::from_parts(
            expected_user,
            IdentityDhSecret::from_boxed(dh_bytes),
            &seed_bytes,
        ))
    }
}
