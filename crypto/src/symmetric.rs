//! XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03) as used for every sealed
//! item and sealed identity (PROTOCOL.md §1.4).
//!
//! Random 192-bit nonces are safe to draw per message without a counter: the
//! birthday bound for a collision is ~2^96 messages under one key.

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use crate::{Error, Result};

/// Length of an XChaCha20-Poly1305 nonce.
pub(crate) const NONCE_LEN: usize = 24;
/// Length of a Poly1305 tag.
pub(crate) const TAG_LEN: usize = 16;

/// Seals `buffer` in place: plaintext in, ciphertext ‖ tag out. Saves a copy
/// of large items, and leaves no plaintext behind in a second buffer.
pub(crate) fn xchacha_seal_in_place(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buffer: &mut Vec<u8>,
) -> Result<()> {
    XChaCha20Poly1305::new(key.into())
        .encrypt_in_place(XNonce::from_slice(nonce), aad, buffer)
        .map_err(|_| Error::InvalidInput("plaintext too long for XChaCha20-Poly1305"))
}

/// Opens `buffer` in place: ciphertext ‖ tag in, plaintext out. On failure
/// the buffer's content is unspecified; the caller discards it.
pub(crate) fn xchacha_open_in_place(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buffer: &mut Vec<u8>,
) -> Result<()> {
    XChaCha20Poly1305::new(key.into())
        .decrypt_in_place(XNonce::from_slice(nonce), aad, buffer)
        .map_err(|_| Error::Decryption)
}

/// Seals `plaintext`; returns ciphertext ‖ tag.
pub fn xchacha_seal(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let mut buffer = Zeroizing::new(Vec::with_capacity(plaintext.len() + TAG_LEN));
    buffer.extend_from_slice(plaintext);
    xchacha_seal_in_place(key, nonce, aad, &mut buffer)?;
    // Ciphertext from here on: no need to zeroize it.
    Ok(core::mem::take(&mut *buffer))
}

/// Opens ciphertext ‖ tag; any failure is [`Error::Decryption`].
pub fn xchacha_open(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let mut buffer = Zeroizing::new(ciphertext.to_vec());
    xchacha_open_in_place(key, nonce, aad, &mut buffer)?;
    Ok(buffer)
}
