//! The recovery key (PROTOCOL.md §6).
//!
//! 256 random bits shown once at sign-up. Printed as 56 characters of the
//! RFC 4648 base32 alphabet in 14 groups of four, e.g.
//! `ABCD-EFGH-…`, encoding `key(32) ‖ checksum(3)` where
//! `checksum = SHA-256(RECOVERY_CHECKSUM_LABEL ‖ 0x00 ‖ key)[0..3]`. The
//! 24-bit checksum catches a typo before any decryption is tried: a wrong
//! character or a swap slips through with probability 2^-24 (and never
//! in the last five characters, which carry only checksum bits). It is not
//! a security boundary; the key is.
//!
//! Parsing is forgiving where typing is error-prone: case, spaces and dashes
//! are ignored, and the digits `0`, `1` and `8` (absent from the alphabet)
//! are read as the letters `O`, `I` and `B` they are mistaken for.

use data_encoding::BASE32_NOPAD;
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::ids::UserId;
use crate::key_schedule::{derive, labels, IdentitySealKey};
use crate::secret::secret_bytes;
use crate::{Error, Result};

/// Prefix of the checksum hash input.
pub const RECOVERY_CHECKSUM_LABEL: &str = "kluis/v1/recovery-checksum";
/// Number of characters in the printed key, without separators.
pub const RECOVERY_KEY_CHARS: usize = 56;
const CHECKSUM_LEN: usize = 3;

secret_bytes! {
    /// The 256-bit recovery key.
    pub struct RecoveryKey([u8; 32]);
}

fn checksum(key: &[u8; 32]) -> [u8; CHECKSUM_LEN] {
    let mut h = Sha256::new();
    h.update(RECOVERY_CHECKSUM_LABEL.as_bytes());
    h.update([0u8]);
    h.update(key);
    let digest = h.finalize();
    let mut out = [0u8; CHECKSUM_LEN];
    out.iter_mut().zip(digest).for_each(|(o, d)| *o = d);
    out
}

impl RecoveryKey {
    /// A fresh recovery key.
    pub fn random<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        Self::generate(rng)
    }

    /// The printable form: 14 groups of four characters joined by `-`.
    pub fn to_display_string(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new([0u8; 32 + CHECKSUM_LEN]);
        let (key, sum) = raw.split_at_mut(32);
        key.copy_from_slice(self.expose_secret());
        sum.copy_from_slice(&checksum(self.expose_secret()));
        let text = Zeroizing::new(BASE32_NOPAD.encode(&raw[..]));
        let mut out = Zeroizing::new(String::with_capacity(RECOVERY_KEY_CHARS + 13));
        for (i, c) in text.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push('-');
            }
            out.push(c);
        }
        out
    }

    /// Parses what a user typed. A wrong length or character gives
    /// [`Error::RecoveryKeyFormat`]; a typo that keeps the format gives
    /// [`Error::RecoveryKeyChecksum`].
    pub fn parse(typed: &str) -> Result<Self> {
        let mut normalized = Zeroizing::new(String::with_capacity(RECOVERY_KEY_CHARS));
        for c in typed.chars() {
            match c.to_ascii_uppercase() {
                ' ' | '-' | '\t' | '\n' | '\r' => {}
                '0' => normalized.push('O'),
                '1' => normalized.push('I'),
                '8' => normalized.push('B'),
                c @ ('A'..='Z' | '2'..='7') => normalized.push(c),
                _ => return Err(Error::RecoveryKeyFormat),
            }
            // Whatever follows cannot make it valid again: stop reading a
            // pasted wall of text rather than copying all of it.
            if normalized.len() > RECOVERY_KEY_CHARS {
                return Err(Error::RecoveryKeyFormat);
            }
        }
        if normalized.len() != RECOVERY_KEY_CHARS {
            return Err(Error::RecoveryKeyFormat);
        }
        let raw = Zeroizing::new(
            BASE32_NOPAD
                .decode(normalized.as_bytes())
                .map_err(|_| Error::RecoveryKeyFormat)?,
        );
        let (key_bytes, sum) = raw.split_at(32);
        let mut key = Box::new([0u8; 32]);
        key.copy_from_slice(key_bytes);
        if !bool::from(checksum(&key).ct_eq(sum)) {
            return Err(Error::RecoveryKeyChecksum);
        }
        Ok(Self::from_boxed(key))
    }

    /// `derive(recovery_key, IDENTITY_SEAL_RECOVERY, user_id)`.
    pub fn identity_seal_key(&self, user: &UserId) -> Result<IdentitySealKey> {
        derive(
            self.expose_secret(),
            labels::IDENTITY_SEAL_RECOVERY,
            &[user.as_bytes()],
        )
        .map(IdentitySealKey::from_boxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn display_parse_round_trip_and_typos() {
        // A fixed seed: the checksum could, with probability 2^-24 per typo,
        // accept one; a fixed key makes the outcome the same on every run.
        let key = RecoveryKey::random(&mut rand_chacha::ChaCha20Rng::seed_from_u64(7));
        let shown = key.to_display_string();
        assert_eq!(shown.len(), RECOVERY_KEY_CHARS + 13);
        assert_eq!(RecoveryKey::parse(&shown).unwrap(), key);
        assert_eq!(RecoveryKey::parse(&shown.to_lowercase()).unwrap(), key);
        assert_eq!(RecoveryKey::parse(&shown.replace('-', " ")).unwrap(), key);

        // Every single-character substitution is caught by the checksum or
        // the format, never accepted as another key.
        let compact: Vec<char> = shown.chars().filter(|c| *c != '-').collect();
        for i in 0..compact.len() {
            let mut typo = compact.clone();
            typo[i] = if typo[i] == 'A' { 'B' } else { 'A' };
            let typo: String = typo.into_iter().collect();
            assert!(matches!(
                RecoveryKey::parse(&typo),
                Err(Error::RecoveryKeyChecksum | Error::RecoveryKeyFormat)
            ));
        }
        assert!(matches!(
            RecoveryKey::parse("ABCD"),
            Err(Error::RecoveryKeyFormat)
        ));
        // A pasted wall of text: refused as soon as it is too long.
        assert!(matches!(
            RecoveryKey::parse(&shown.repeat(10_000)),
            Err(Error::RecoveryKeyFormat)
        ));
        assert!(matches!(
            RecoveryKey::parse(&format!("{}!", &shown[..shown.len() - 1])),
            Err(Error::RecoveryKeyFormat)
        ));
    }
}
