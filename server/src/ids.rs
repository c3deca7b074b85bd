//! Typed ids: a relationship id cannot be passed where an account id
//! belongs, and an id that is no id cannot get past the edge.
//!
//! The protocol's ids (`UserId` — an account —, `RelationshipId`, `ItemId`,
//! `AttachmentId`) come from [`kluis_crypto::ids`]: they are bound into keys
//! and associated data (PROTOCOL.md §2.3), and re-exported here. The ids of
//! organisations, sessions, login attempts and invitations never enter a
//! key or an envelope: they are the server's own, so they are defined here
//! and not in the protocol crate, with the same shape (16 bytes, written as
//! the protocol's UUID text, whose codec they share).
//!
//! Conventions:
//! - Ids are passed by value: they are `Copy` and 16 bytes, like a `u128`.
//! - The database holds an id as its lower-case UUID text: bind
//!   `id.to_string()`, read with [`get`] or [`get_opt`]. A stored id that
//!   is not UUID text is a bug, answered `500` ([`ApiError::Internal`]),
//!   never a panic.
//! - An id in a request (a path, a JSON body) arrives as text and is parsed
//!   once, at the edge, with [`parse`], which accepts only the lower-case
//!   text the server stores and hands out. Ids used to be compared as text
//!   with the stored ones, so text in any other form — an upper-case UUID
//!   too — named nothing; [`parse`] keeps that (`None`), and the route
//!   answers what an unknown id answers there.
//! - Answers write ids as the same lower-case text ([`as_text`] for a typed
//!   field of a serialized struct).

use core::fmt;
use core::str::FromStr;

use sqlx::Row;

use crate::error::ApiError;

pub(crate) use kluis_crypto::ids::{AttachmentId, ItemId, RelationshipId, UserId};

/// What every id is: 16 bytes with a UUID text form.
pub(crate) trait Id: Copy + Eq + fmt::Display + FromStr {
    /// Wraps 16 bytes.
    fn from_bytes(bytes: [u8; 16]) -> Self;
}

macro_rules! protocol_ids {
    ($($name:ident),*) => {
        $(impl Id for $name {
            fn from_bytes(bytes: [u8; 16]) -> Self {
                $name::from_bytes(bytes)
            }
        })*
    };
}

protocol_ids!(UserId, RelationshipId, ItemId, AttachmentId);

macro_rules! server_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name([u8; 16]);

        impl Id for $name {
            fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(bytes)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&UserId::from_bytes(self.0), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl FromStr for $name {
            type Err = kluis_crypto::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse::<UserId>()
                    .map(|id| Self(*id.as_bytes()))
                    .map_err(|_| kluis_crypto::Error::InvalidField {
                        what: $what,
                        field: "UUID text",
                    })
            }
        }
    };
}

server_id!(
    /// An organisation.
    OrganisationId, "organisation id"
);
server_id!(
    /// A login session (not a secret: the token is).
    SessionId, "session id"
);
server_id!(
    /// A login's first OPAQUE step, waiting for its second.
    LoginId, "login id"
);
server_id!(
    /// An invitation.
    InvitationId, "invitation id"
);

/// A fresh random id (a version-4 UUID).
pub(crate) fn fresh<T: Id>() -> T {
    T::from_bytes(*UserId::random(&mut rand::rngs::OsRng).as_bytes())
}

/// An id as a request gives it: `None` unless `text` is the lower-case
/// UUID text of an id (see the module comment).
pub(crate) fn parse<T: Id>(text: &str) -> Option<T> {
    let id = text.parse::<T>().ok()?;
    (!text.bytes().any(|b| b.is_ascii_uppercase())).then_some(id)
}

/// The id stored in `column` of a row.
pub(crate) fn get<T: Id>(row: &sqlx::any::AnyRow, column: &str) -> Result<T, ApiError> {
    let text: String = row.try_get(column)?;
    stored(column, &text)
}

/// The id, if any, stored in `column` of a row.
pub(crate) fn get_opt<T: Id>(row: &sqlx::any::AnyRow, column: &str) -> Result<Option<T>, ApiError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| stored(column, &t)).transpose()
}

fn stored<T: Id>(column: &str, text: &str) -> Result<T, ApiError> {
    text.parse()
        .map_err(|_| ApiError::Internal(format!("stored {column} {text:?} is not UUID text")))
}

/// Serializes an id as its text (`#[serde(serialize_with = …)]`, with
/// `#[schema(value_type = String)]` so the API document says `string` as
/// before).
pub(crate) fn as_text<T: fmt::Display, S: serde::Serializer>(
    id: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_ids_read_and_print_like_the_protocols() {
        let text = "01234567-89ab-cdef-0123-456789abcdef";
        let org: OrganisationId = text.parse().unwrap();
        assert_eq!(org.to_string(), text);
        assert_eq!(
            format!("{org:?}"),
            "OrganisationId(01234567-89ab-cdef-0123-456789abcdef)"
        );
        assert_eq!(org, "01234567-89AB-CDEF-0123-456789ABCDEF".parse().unwrap());
        assert!("not-an-id".parse::<SessionId>().is_err());
        let fresh: SessionId = fresh();
        assert_eq!(fresh.to_string().parse::<SessionId>().unwrap(), fresh);
        assert_ne!(fresh, super::fresh::<SessionId>());
    }

    #[test]
    fn requests_name_ids_only_in_the_stored_form() {
        let text = "01234567-89ab-cdef-0123-456789abcdef";
        assert_eq!(parse::<UserId>(text), text.parse().ok());
        assert_eq!(parse::<OrganisationId>(text), text.parse().ok());
        for other in [
            "01234567-89AB-CDEF-0123-456789ABCDEF",
            "01234567-89ab-cdef-0123-456789abcdeF",
            "0123456789abcdef0123456789abcdef",
            "",
            "nope",
        ] {
            assert_eq!(parse::<UserId>(other), None, "{other}");
            assert_eq!(parse::<InvitationId>(other), None, "{other}");
        }
    }

    #[test]
    fn typed_fields_serialize_as_text() {
        #[derive(serde::Serialize)]
        struct View {
            #[serde(serialize_with = "as_text")]
            id: RelationshipId,
        }
        let id: RelationshipId = "01234567-89ab-cdef-0123-456789abcdef".parse().unwrap();
        assert_eq!(
            serde_json::to_value(View { id }).unwrap(),
            serde_json::json!({"id": "01234567-89ab-cdef-0123-456789abcdef"})
        );
    }
}
