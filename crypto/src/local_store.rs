//! The sealed local store (PROTOCOL.md §4.3): what a client keeps on its own
//! disk between runs (pinned peer keys, the epochs it has seen), sealed
//! under the [`LocalStoreKey`] that only a successful OPAQUE login yields.
//!
//! The content is the client's business (the SDK stores JSON); this module
//! only fixes the envelope, so that the store is confidential and any change
//! to it — by another program, or a copy of another user's store — is
//! refused rather than trusted.

use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use crate::encoding::{EnvelopeType, Reader, Writer};
use crate::ids::UserId;
use crate::key_schedule::LocalStoreKey;
use crate::symmetric::{xchacha_open, xchacha_seal, NONCE_LEN, TAG_LEN};
use crate::{Error, Result};

/// Length of the clear header, which is also the associated data:
/// `version ‖ 0x09 ‖ user_id`.
pub const LOCAL_STORE_HEADER_LEN: usize = 2 + 16;

/// The largest content a local store may hold (64 MiB): a bound for the
/// decoder, far above what pins and epochs need.
pub const MAX_LOCAL_STORE_CONTENT: usize = 64 * 1024 * 1024;

fn header(user: &UserId) -> Vec<u8> {
    let mut w = Writer::with_capacity(EnvelopeType::LocalStore, LOCAL_STORE_HEADER_LEN);
    w.fixed(user.as_bytes());
    w.finish()
}

impl LocalStoreKey {
    /// Seals `content` for `user`: `header ‖ nonce(24) ‖ ciphertext ‖ tag`.
    pub fn seal_store<R: RngCore + CryptoRng>(
        &self,
        rng: &mut R,
        user: &UserId,
        content: &[u8],
    ) -> Result<Vec<u8>> {
        if content.len() > MAX_LOCAL_STORE_CONTENT {
            return Err(Error::LengthOutOfRange {
                what: "local store",
                len: content.len() as u64,
                max: MAX_LOCAL_STORE_CONTENT as u64,
            });
        }
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let mut out = header(user);
        let ciphertext = xchacha_seal(self.expose_secret(), &nonce, &out, content)?;
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Opens a store sealed for `user`. A store of another user, a changed
    /// byte or a wrong key is [`Error::Decryption`].
    pub fn open_store(&self, user: &UserId, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let mut r = Reader::open(sealed, EnvelopeType::LocalStore)?;
        let owner = UserId::from_bytes(r.array()?);
        let nonce: [u8; NONCE_LEN] = r.array()?;
        let ciphertext =
            sealed
                .get(LOCAL_STORE_HEADER_LEN + NONCE_LEN..)
                .ok_or(Error::Truncated {
                    what: "local store",
                })?;
        if ciphertext.len() < TAG_LEN {
            return Err(Error::Truncated {
                what: "local store",
            });
        }
        if ciphertext.len() > MAX_LOCAL_STORE_CONTENT + TAG_LEN {
            return Err(Error::LengthOutOfRange {
                what: "local store",
                len: ciphertext.len() as u64,
                max: (MAX_LOCAL_STORE_CONTENT + TAG_LEN) as u64,
            });
        }
        if owner != *user {
            return Err(Error::Decryption);
        }
        xchacha_open(self.expose_secret(), &nonce, &header(user), ciphertext)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::key_schedule::ExportKey;
    use rand::rngs::OsRng;

    #[test]
    fn round_trip_and_every_tamper_refused() {
        let user = UserId::random(&mut OsRng);
        let key = ExportKey::generate(&mut OsRng)
            .local_store_key(&user)
            .unwrap();
        let sealed = key.seal_store(&mut OsRng, &user, b"{\"pins\":{}}").unwrap();
        assert_eq!(
            sealed.len(),
            LOCAL_STORE_HEADER_LEN + NONCE_LEN + 11 + TAG_LEN
        );
        assert_eq!(
            &key.open_store(&user, &sealed).unwrap()[..],
            b"{\"pins\":{}}"
        );
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(key.open_store(&user, &bad).is_err(), "byte {i}");
        }
        let other = UserId::random(&mut OsRng);
        assert!(matches!(
            key.open_store(&other, &sealed),
            Err(Error::Decryption)
        ));
        let wrong = ExportKey::generate(&mut OsRng)
            .local_store_key(&user)
            .unwrap();
        assert!(matches!(
            wrong.open_store(&user, &sealed),
            Err(Error::Decryption)
        ));
        assert!(key.open_store(&user, &sealed[..40]).is_err());
    }
}
