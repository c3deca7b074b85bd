//! Bearer secrets the server hands out: session tokens and the tokens in
//! e-mailed links (setup, invitation, verification, reset). Each is 256
//! random bits shown once as 43 base64url characters; the database keeps
//! only SHA-256 of the bits. A plain hash suffices (no salt, no stretching)
//! because the input is uniformly random: there is nothing to guess.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::ApiError;

/// A freshly issued token, to be shown to its holder once.
pub struct Token(Zeroizing<String>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token([redacted])")
    }
}

/// What the database stores for a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenHash([u8; 32]);

impl Token {
    /// A new random token and its hash.
    pub fn generate() -> (Self, TokenHash) {
        let mut bits = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(bits.as_mut());
        let hash = TokenHash(Sha256::digest(bits.as_ref()).into());
        (
            Self(Zeroizing::new(URL_SAFE_NO_PAD.encode(bits.as_ref()))),
            hash,
        )
    }

    /// The text to hand out.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TokenHash {
    /// The hash of a presented token, or `None` if it cannot be one of ours
    /// (wrong length or alphabet).
    pub fn of_presented(text: &str) -> Option<Self> {
        if text.len() != 43 {
            return None;
        }
        let bits = Zeroizing::new(URL_SAFE_NO_PAD.decode(text).ok()?);
        (bits.len() == 32).then(|| Self(Sha256::digest(bits.as_slice()).into()))
    }

    /// The hash of the token a link presents (setup, invitation,
    /// verification, reset, a proposed address), to look it up: text that
    /// cannot be one of ours is `400 invalid_token`, the same answer as an
    /// unknown, expired or used token, so the answer says nothing about
    /// which.
    pub fn of_link(text: &str) -> Result<Self, ApiError> {
        Self::of_presented(text).ok_or(ApiError::InvalidToken)
    }

    /// The bytes to store or look up.
    pub fn to_vec(self) -> Vec<u8> {
        self.0.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_presented_token_hashes_to_its_stored_hash() {
        let (token, hash) = Token::generate();
        assert_eq!(token.as_str().len(), 43);
        assert_eq!(TokenHash::of_presented(token.as_str()), Some(hash));
        let (other, _) = Token::generate();
        assert_ne!(TokenHash::of_presented(other.as_str()), Some(hash));
        assert_eq!(TokenHash::of_presented("short"), None);
        assert_eq!(TokenHash::of_presented(&"!".repeat(43)), None);
        assert!(!format!("{token:?}").contains(token.as_str()));
    }
}
