//! The crate's one error type.

/// Errors returned by `kluis-crypto`.
///
/// Decoding errors are specific (the input is public, so naming what is
/// malformed gives nothing away). Every failure while opening something
/// secret collapses into [`Error::Decryption`], whichever check failed, so
/// that no caller can build an oracle out of the difference.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Authenticated decryption or one of the checks bound to it failed: a
    /// wrong key, a tampered byte, a moved item, a forged author, a
    /// truncated or extended stream.
    #[error("decryption failed")]
    Decryption,

    /// The input ended before the structure was complete.
    #[error("malformed {what}: truncated")]
    Truncated {
        /// The structure being decoded.
        what: &'static str,
    },
    /// Bytes remained after a complete structure.
    #[error("malformed {what}: trailing bytes")]
    TrailingBytes {
        /// The structure being decoded.
        what: &'static str,
    },
    /// The envelope's version byte is not one this crate knows.
    #[error("unsupported protocol version {version} in {what}")]
    UnsupportedVersion {
        /// The structure being decoded.
        what: &'static str,
        /// The version byte found.
        version: u8,
    },
    /// The envelope's type byte is not the one expected here.
    #[error("wrong envelope type: expected {what} (0x{expected:02x}), found 0x{found:02x}")]
    WrongEnvelopeType {
        /// The structure being decoded.
        what: &'static str,
        /// The type byte that was expected.
        expected: u8,
        /// The type byte found.
        found: u8,
    },
    /// A length field is outside its allowed range.
    #[error("malformed {what}: length {len} out of range (maximum {max})")]
    LengthOutOfRange {
        /// The structure being decoded.
        what: &'static str,
        /// The length found or requested.
        len: u64,
        /// The largest length allowed.
        max: u64,
    },
    /// A field has a value that is unknown or not in canonical form.
    #[error("malformed {what}: invalid {field}")]
    InvalidField {
        /// The structure being decoded.
        what: &'static str,
        /// The offending field.
        field: &'static str,
    },
    /// An identity bundle's self-signature does not verify.
    #[error("identity bundle signature is invalid")]
    BadSignature,
    /// A membership record is not the valid next link of its chain
    /// (PROTOCOL.md §7.6).
    #[error("membership chain: {0}")]
    Membership(#[from] crate::membership::ChainFault),
    /// A signed deletion does not prove that this item's author deleted it
    /// (PROTOCOL.md §8.7).
    #[error("item deletion: {0}")]
    Deletion(#[from] crate::deletion::DeletionFault),
    /// A public key is not usable (for example an X25519 point of small order).
    #[error("invalid public key")]
    InvalidPublicKey,
    /// A recovery key has the wrong length or characters outside the alphabet.
    #[error("recovery key is not well formed: expected 56 letters and digits in groups of four")]
    RecoveryKeyFormat,
    /// A recovery key was typed with a mistake: its checksum does not match.
    #[error("recovery key checksum does not match: check for a typo")]
    RecoveryKeyChecksum,
    /// The OPAQUE exchange failed (wrong password, unknown account, or a
    /// tampered message: deliberately indistinguishable).
    #[error("login failed")]
    LoginFailed,
    /// An OPAQUE message or server state could not be parsed.
    #[error("malformed OPAQUE {what}")]
    OpaqueMessage {
        /// The message being decoded.
        what: &'static str,
    },
    /// The caller used a value that the protocol cannot represent.
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// Reading or writing a caller-supplied stream failed.
    #[cfg(feature = "std")]
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
