//! Identifiers bound into keys and associated data (PROTOCOL.md §2.3).
//!
//! Ids are 16 random bytes, written as UUID text (8-4-4-4-12 lowercase hex)
//! so that the server can store them as UUIDs. An [`Epoch`] is a `u32`,
//! encoded big-endian. Distinct types keep a relationship id from being
//! passed where an item id belongs.

use core::fmt;
use core::str::FromStr;

use rand_core::{CryptoRng, RngCore};

use crate::Error;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name([u8; 16]);

        impl $name {
            /// Wraps 16 bytes.
            pub const fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(bytes)
            }

            /// The 16 bytes, as bound into keys and associated data.
            pub const fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }

            /// A fresh random id (a version-4 UUID, RFC 9562 §5.4).
            pub fn random<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
                let mut bytes = [0u8; 16];
                rng.fill_bytes(&mut bytes);
                bytes[6] = (bytes[6] & 0x0f) | 0x40;
                bytes[8] = (bytes[8] & 0x3f) | 0x80;
                Self(bytes)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_uuid(f, &self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self, Error> {
                parse_uuid(s)
                    .map(Self)
                    .ok_or(Error::InvalidField { what: $what, field: "UUID text" })
            }
        }
    };
}

id_type!(
    /// A user (account) id.
    UserId, "user id"
);
id_type!(
    /// A relationship (trajectory) id.
    RelationshipId, "relationship id"
);
id_type!(
    /// An item id, chosen by the client so that a retried upload is idempotent.
    ItemId, "item id"
);
id_type!(
    /// An attachment id.
    AttachmentId, "attachment id"
);

/// A relationship epoch, or for notes the notes-key generation. Starts at 0
/// and increases by one with every membership change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Epoch(pub u32);

impl Epoch {
    /// The 4-byte big-endian encoding.
    pub const fn to_be_bytes(self) -> [u8; 4] {
        self.0.to_be_bytes()
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

fn write_uuid(f: &mut fmt::Formatter<'_>, bytes: &[u8; 16]) -> fmt::Result {
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            f.write_str("-")?;
        }
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let s = s.as_bytes();
    if s.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    let mut digits = s
        .iter()
        .enumerate()
        .filter(|(i, _)| !matches!(i, 8 | 13 | 18 | 23));
    for byte in &mut out {
        let (_, hi) = digits.next()?;
        let (_, lo) = digits.next()?;
        *byte = (hex_value(*hi)? << 4) | hex_value(*lo)?;
    }
    let dashes_ok = [8usize, 13, 18, 23]
        .iter()
        .all(|&i| s.get(i) == Some(&b'-'));
    dashes_ok.then_some(out)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_text_round_trip() {
        let id = UserId::from_bytes([
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
            0xcd, 0xef,
        ]);
        let text = id.to_string();
        assert_eq!(text, "01234567-89ab-cdef-0123-456789abcdef");
        assert_eq!(text.parse::<UserId>().unwrap(), id);
        assert_eq!(
            "01234567-89AB-CDEF-0123-456789ABCDEF"
                .parse::<UserId>()
                .unwrap(),
            id
        );
        for bad in [
            "",
            "01234567x89ab-cdef-0123-456789abcdef",
            "01234567-89ab-cdef-0123-456789abcdeg",
            "01234567-89ab-cdef-0123-456789abcdef0",
        ] {
            assert!(bad.parse::<UserId>().is_err(), "{bad}");
        }
    }
}
