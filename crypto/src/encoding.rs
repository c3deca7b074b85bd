//! Canonical binary encoding of every envelope (PROTOCOL.md §2).
//!
//! An envelope is `version (1) ‖ type (1) ‖ fields`. Fixed-size fields are
//! written as raw bytes, integers big-endian with a fixed width, and
//! variable-size fields as a 4-byte big-endian length followed by the bytes.
//! With fixed widths there is exactly one encoding of every value, so a
//! decoder that also rejects unknown versions and types, out-of-range
//! lengths, unknown enum values and trailing bytes accepts only canonical
//! input. No JSON or other self-describing format is ever authenticated.

use crate::{Error, Result, PROTOCOL_VERSION};

/// The type byte that follows the version byte in every envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
#[non_exhaustive]
pub enum EnvelopeType {
    /// A signed public identity bundle ([`crate::identity::IdentityBundle`]).
    IdentityBundle = 0x01,
    /// Identity private keys sealed under a password- or recovery-derived key.
    SealedIdentity = 0x02,
    /// A relationship epoch key wrapped to one member with HPKE.
    WrappedRelationshipKey = 0x03,
    /// A sealed item: message, document description or note.
    SealedItem = 0x04,
    /// The header of an encrypted attachment stream.
    AttachmentHeader = 0x05,
    /// A coach's notes key sealed to the coach's own identity.
    SealedNotesKey = 0x06,
    /// The plaintext content of a document item (inside its ciphertext).
    DocumentDescription = 0x07,
    /// The machine-comparable form of a safety number (QR payload).
    SafetyNumber = 0x08,
    /// A client's local key store, sealed under its [`crate::key_schedule::LocalStoreKey`].
    LocalStore = 0x09,
    /// A signed record of a relationship's membership chain.
    MembershipRecord = 0x0A,
    /// An author's signed deletion of one of their items.
    ItemDeletion = 0x0B,
}

impl EnvelopeType {
    /// Human-readable name used in error messages.
    pub const fn name(self) -> &'static str {
        match self {
            Self::IdentityBundle => "identity bundle",
            Self::SealedIdentity => "sealed identity",
            Self::WrappedRelationshipKey => "wrapped relationship key",
            Self::SealedItem => "sealed item",
            Self::AttachmentHeader => "attachment header",
            Self::SealedNotesKey => "sealed notes key",
            Self::DocumentDescription => "document description",
            Self::SafetyNumber => "safety number",
            Self::LocalStore => "local store",
            Self::MembershipRecord => "membership record",
            Self::ItemDeletion => "item deletion",
        }
    }
}

/// Builds one envelope.
#[derive(Debug)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn new(kind: EnvelopeType) -> Self {
        Self::with_capacity(kind, 64)
    }

    pub(crate) fn with_capacity(kind: EnvelopeType, capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity);
        buf.push(PROTOCOL_VERSION);
        buf.push(kind as u8);
        Self { buf }
    }

    pub(crate) fn u8(&mut self, value: u8) -> &mut Self {
        self.buf.push(value);
        self
    }

    pub(crate) fn u32(&mut self, value: u32) -> &mut Self {
        self.buf.extend_from_slice(&value.to_be_bytes());
        self
    }

    pub(crate) fn u64(&mut self, value: u64) -> &mut Self {
        self.buf.extend_from_slice(&value.to_be_bytes());
        self
    }

    /// A field whose size is fixed by the format: no length prefix.
    pub(crate) fn fixed(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// A variable-size field: 4-byte big-endian length, then the bytes.
    ///
    /// Callers check their own maximum before writing (they return a typed
    /// error); this only guards the `u32` width.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> Result<&mut Self> {
        let len = u32::try_from(bytes.len()).map_err(|_| Error::LengthOutOfRange {
            what: "envelope field",
            len: bytes.len() as u64,
            max: u64::from(u32::MAX),
        })?;
        self.u32(len);
        self.buf.extend_from_slice(bytes);
        Ok(self)
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads one envelope and refuses anything not in canonical form.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// Checks the version and type bytes.
    pub(crate) fn open(input: &'a [u8], kind: EnvelopeType) -> Result<Self> {
        let what = kind.name();
        let mut reader = Self { rest: input, what };
        let version = reader.u8()?;
        if version != PROTOCOL_VERSION {
            return Err(Error::UnsupportedVersion { what, version });
        }
        let found = reader.u8()?;
        if found != kind as u8 {
            return Err(Error::WrongEnvelopeType {
                what,
                expected: kind as u8,
                found,
            });
        }
        Ok(reader)
    }

    pub(crate) fn what(&self) -> &'static str {
        self.what
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.rest.len() < n {
            return Err(Error::Truncated { what: self.what });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A length-prefixed field of at most `max` bytes.
    pub(crate) fn bytes(&mut self, max: usize) -> Result<&'a [u8]> {
        let len = self.u32()?;
        let len_usize = usize::try_from(len).unwrap_or(usize::MAX);
        if len_usize > max {
            return Err(Error::LengthOutOfRange {
                what: self.what,
                len: u64::from(len),
                max: max as u64,
            });
        }
        self.take(len_usize)
    }

    /// Everything is consumed, or the input is rejected.
    pub(crate) fn finish(self) -> Result<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(Error::TrailingBytes { what: self.what })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        let mut w = Writer::new(EnvelopeType::SealedItem);
        w.u8(7).u32(0x0102_0304).u64(9).fixed(&[1, 2, 3]);
        w.bytes(b"hello").unwrap();
        let bytes = w.finish();

        let mut r = Reader::open(&bytes, EnvelopeType::SealedItem).unwrap();
        assert_eq!(r.u8().unwrap(), 7);
        assert_eq!(r.u32().unwrap(), 0x0102_0304);
        assert_eq!(r.u64().unwrap(), 9);
        assert_eq!(r.array::<3>().unwrap(), [1, 2, 3]);
        assert_eq!(r.bytes(5).unwrap(), b"hello");
        r.finish().unwrap();

        let mut r = Reader::open(&bytes, EnvelopeType::SealedItem).unwrap();
        r.u8().unwrap();
        r.u32().unwrap();
        r.u64().unwrap();
        r.array::<3>().unwrap();
        assert!(matches!(
            r.bytes(4),
            Err(Error::LengthOutOfRange { len: 5, max: 4, .. })
        ));

        let mut longer = bytes.clone();
        longer.push(0);
        let mut r = Reader::open(&longer, EnvelopeType::SealedItem).unwrap();
        r.u8().unwrap();
        r.u32().unwrap();
        r.u64().unwrap();
        r.array::<3>().unwrap();
        r.bytes(5).unwrap();
        assert!(matches!(r.finish(), Err(Error::TrailingBytes { .. })));

        assert!(matches!(
            Reader::open(&bytes, EnvelopeType::IdentityBundle),
            Err(Error::WrongEnvelopeType {
                expected: 1,
                found: 4,
                ..
            })
        ));
        let mut v2 = bytes.clone();
        v2[0] = 2;
        assert!(matches!(
            Reader::open(&v2, EnvelopeType::SealedItem),
            Err(Error::UnsupportedVersion { version: 2, .. })
        ));
        assert!(matches!(
            Reader::open(&bytes[..1], EnvelopeType::SealedItem),
            Err(Error::Truncated { .. })
        ));
    }
}
