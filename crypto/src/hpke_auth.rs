//! HPKE in Auth mode (RFC 9180 §5.1.3) with the one suite Kluis uses:
//! DHKEM(X25519, HKDF-SHA256) (KEM 0x0020), HKDF-SHA256 (KDF 0x0001),
//! ChaCha20-Poly1305 (AEAD 0x0003). Single-shot: one message per context,
//! sequence number 0 (RFC 9180 §6.1).
//!
//! Auth mode mixes the sender's static X25519 key into the shared secret, so
//! a recipient who opens a wrapped key knows which identity wrapped it
//! (PROTOCOL.md §7). Used for relationship keys and the notes key.

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use crate::{Error, Result};

type Kem = X25519HkdfSha256;
type PrivateKey = <Kem as hpke::Kem>::PrivateKey;
type PublicKey = <Kem as hpke::Kem>::PublicKey;
type EncappedKey = <Kem as hpke::Kem>::EncappedKey;

/// Length of the encapsulated key `enc` (RFC 9180 §7.1: Nenc = 32).
pub(crate) const ENC_LEN: usize = 32;

fn private_key(bytes: &[u8; 32]) -> Result<PrivateKey> {
    PrivateKey::from_bytes(bytes).map_err(|_| Error::InvalidInput("X25519 private key"))
}

fn public_key(bytes: &[u8; 32]) -> Result<PublicKey> {
    PublicKey::from_bytes(bytes).map_err(|_| Error::InvalidPublicKey)
}

/// Seals `plaintext` to `recipient_pk`, authenticated as `sender`. Returns
/// `(enc, ciphertext ‖ tag)`. The ephemeral key is `DeriveKeyPair(ikmE)` with
/// 32 bytes `ikmE` drawn from `rng` (RFC 9180 §4.1, §7.1.3).
pub fn seal<R: RngCore + CryptoRng>(
    sender_sk: &[u8; 32],
    sender_pk: &[u8; 32],
    recipient_pk: &[u8; 32],
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut R,
) -> Result<([u8; ENC_LEN], Vec<u8>)> {
    let mode = OpModeS::<Kem>::Auth((private_key(sender_sk)?, public_key(sender_pk)?));
    let (enc, ciphertext) = hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, Kem, R>(
        &mode,
        &public_key(recipient_pk)?,
        info,
        plaintext,
        aad,
        rng,
    )
    // The only failure left is a DH output of all zeros: a small-order key.
    .map_err(|_| Error::InvalidPublicKey)?;
    let mut enc_bytes = [0u8; ENC_LEN];
    enc_bytes.copy_from_slice(&enc.to_bytes());
    Ok((enc_bytes, ciphertext))
}

/// Opens what [`seal`] produced. Any failure is [`Error::Decryption`].
pub fn open(
    recipient_sk: &[u8; 32],
    sender_pk: &[u8; 32],
    enc: &[u8; ENC_LEN],
    info: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let sender = public_key(sender_pk).map_err(|_| Error::Decryption)?;
    let enc = EncappedKey::from_bytes(enc).map_err(|_| Error::Decryption)?;
    hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, Kem>(
        &OpModeR::Auth(sender),
        &private_key(recipient_sk).map_err(|_| Error::Decryption)?,
        &enc,
        info,
        ciphertext,
        aad,
    )
    .map(Zeroizing::new)
    .map_err(|_| Error::Decryption)
}

/// Length of a sealed 32-byte key: ciphertext ‖ tag.
pub(crate) const SEALED_KEY_LEN: usize = 32 + 16;

/// [`seal`] for the one thing Kluis wraps: a 256-bit key, with empty `aad`.
pub(crate) fn seal_key<R: RngCore + CryptoRng>(
    sender_sk: &[u8; 32],
    sender_pk: &[u8; 32],
    recipient_pk: &[u8; 32],
    info: &[u8],
    key: &[u8; 32],
    rng: &mut R,
) -> Result<([u8; ENC_LEN], [u8; SEALED_KEY_LEN])> {
    let (enc, ciphertext) = seal(sender_sk, sender_pk, recipient_pk, info, &[], key, rng)?;
    let ciphertext = ciphertext
        .try_into()
        .map_err(|_| Error::InvalidInput("unexpected HPKE ciphertext length"))?;
    Ok((enc, ciphertext))
}

/// [`open`] of what [`seal_key`] produced; the key comes out boxed, never
/// copied onto the stack.
pub(crate) fn open_key(
    recipient_sk: &[u8; 32],
    sender_pk: &[u8; 32],
    enc: &[u8; ENC_LEN],
    info: &[u8],
    sealed: &[u8; SEALED_KEY_LEN],
) -> Result<Box<[u8; 32]>> {
    let plaintext = open(recipient_sk, sender_pk, enc, info, &[], sealed)?;
    let mut key = Box::new([0u8; 32]);
    if plaintext.len() != key.len() {
        return Err(Error::Decryption);
    }
    key.copy_from_slice(&plaintext);
    Ok(key)
}

/// The X25519 public key of a private key (RFC 7748 §6.1).
pub(crate) fn x25519_public(secret: &[u8; 32]) -> [u8; 32] {
    x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*secret)).to_bytes()
}
