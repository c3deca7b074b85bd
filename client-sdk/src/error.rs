//! The SDK's one error type.
//!
//! Every server answer is checked before anything in it is believed; a check
//! that fails is a [`Violation`] naming what was wrong, so that a user (and a
//! test) can tell a flipped bit from a substituted key from a rollback.

use kluis_crypto::ids::{RelationshipId, UserId};

/// What a check on a server answer found wrong. Each is a sign of a broken
/// or malicious server (or of an attacker between client and server); none
/// is ever skipped silently.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// An item's envelope does not open: a flipped bit, a wrong key, or an
    /// author whose key did not sign it.
    #[error("item {item} does not decrypt or its signature does not verify")]
    ItemCorrupt {
        /// The item as the server listed it.
        item: String,
    },
    /// An item's signed header names another relationship, epoch or id than
    /// the place the server put it.
    #[error("item {item} was moved: its sealed header says {found}")]
    ItemMoved {
        /// The item as the server listed it.
        item: String,
        /// What the header says instead.
        found: String,
    },
    /// The server's listing names another author than the item's signature.
    #[error("item {item} is attributed to {listed} but was written by {sealed}")]
    AuthorMismatch {
        /// The item.
        item: String,
        /// The author the server claims.
        listed: String,
        /// The author in the sealed header.
        sealed: String,
    },
    /// Items of one author came back in another order than they were
    /// written, or an item of an older epoch after a newer one.
    #[error("item {item} is out of order")]
    OutOfOrder {
        /// The first item found out of place.
        item: String,
    },
    /// A wrapped epoch key does not open for this user: swapped for another
    /// member's, re-addressed, or tampered.
    #[error(
        "the key of epoch {epoch} of relationship {relationship} does not unwrap for this user"
    )]
    WrappedKeyInvalid {
        /// The relationship.
        relationship: RelationshipId,
        /// The epoch.
        epoch: u32,
    },
    /// An epoch key was wrapped by someone who is not a coach member of the
    /// relationship at that epoch.
    #[error(
        "the key of epoch {epoch} was wrapped by {sender}, who is not a coach of the relationship"
    )]
    SenderNotMember {
        /// The epoch.
        epoch: u32,
        /// Who wrapped it.
        sender: UserId,
    },
    /// The server presented an older epoch than this client has already
    /// seen for the relationship.
    #[error("relationship {relationship} was rolled back from epoch {seen} to {presented}")]
    EpochRollback {
        /// The relationship.
        relationship: RelationshipId,
        /// The highest epoch this client saw.
        seen: u32,
        /// What the server says now.
        presented: u32,
    },
    /// A record of the relationship's membership chain is not the valid
    /// next link (PROTOCOL.md §7.6): signed by someone who was not a coach
    /// member, by a key the chain does not name, re-signed, reordered,
    /// from another relationship, or with a gap.
    #[error(
        "the membership record of epoch {epoch} of relationship {relationship} is invalid: {fault}"
    )]
    MembershipInvalid {
        /// The relationship.
        relationship: RelationshipId,
        /// The epoch of the refused record.
        epoch: u32,
        /// What the check found.
        fault: String,
    },
    /// The server showed another membership record for an epoch than this
    /// client verified before: a fork (two members shown two histories).
    #[error("relationship {relationship} forked at epoch {epoch}: its membership record changed")]
    MembershipForked {
        /// The relationship.
        relationship: RelationshipId,
        /// The epoch whose record differs.
        epoch: u32,
    },
    /// The server presents an epoch that no signed membership record
    /// starts (a "ghost" epoch or member), or withholds the records of one.
    #[error("relationship {relationship} has no membership record for epoch {epoch}")]
    MembershipMissing {
        /// The relationship.
        relationship: RelationshipId,
        /// The epoch without a record.
        epoch: u32,
    },
    /// A tombstone comes with a signed deletion that does not prove its
    /// author deleted this item: a deletion of another item replayed, one
    /// by someone else, or a signature that does not verify (PROTOCOL.md
    /// §8.7). A tombstone without a deletion is not a violation: it is
    /// shown as the server's report.
    #[error("item {item}: the deletion served with it is not its author's ({reason})")]
    DeletionForged {
        /// The item as the server listed it.
        item: String,
        /// What failed.
        reason: String,
    },
    /// A wrapped key, or an item, names a member or key the membership
    /// chain does not name for its epoch: an unexplained recipient key, or
    /// an author who was not a member.
    #[error("epoch {epoch} of relationship {relationship}: {what} is not what the membership chain names")]
    NotInChain {
        /// The relationship.
        relationship: RelationshipId,
        /// The epoch.
        epoch: u32,
        /// What disagrees.
        what: String,
    },
    /// The identity the server handed back as this user's is not: sealed
    /// for another account, under another password, or not matching the
    /// published bundle.
    #[error("the sealed identity the server returned is not this account's")]
    SealedIdentityInvalid,
    /// A peer's identity bundle is malformed, unsigned, or names another
    /// user than asked for.
    #[error("the identity bundle of {user} is invalid")]
    BundleInvalid {
        /// Whose bundle was asked for.
        user: UserId,
    },
    /// An attachment's stream is truncated, reordered, from another file or
    /// changed; what was written of it must be discarded.
    #[error("attachment {attachment} is corrupt: {reason}")]
    AttachmentCorrupt {
        /// The attachment.
        attachment: String,
        /// What was found.
        reason: &'static str,
    },
    /// A notes key does not open or belongs to someone else.
    #[error("notes key generation {generation} is invalid")]
    NotesKeyInvalid {
        /// The generation.
        generation: u32,
    },
    /// The web client a server serves is not the bundle built from source
    /// (`kluis verify-web`): these files differ or are missing.
    #[error("the served web client differs from the bundle built from source: {}", files.join(", "))]
    BundleDiffers {
        /// The files, by path in the bundle.
        files: Vec<String>,
    },
    /// An answer is not what the API documents.
    #[error("unexpected answer from the server: {0}")]
    Malformed(String),
}

/// Errors of the Kluis SDK.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No connection to the server.
    #[error("cannot reach the Kluis server at {url}: {reason}")]
    Unreachable {
        /// The server's address.
        url: String,
        /// What the network layer said.
        reason: String,
    },
    /// OPAQUE failed: the e-mail address or the password is wrong
    /// (deliberately indistinguishable).
    #[error("wrong e-mail address or password")]
    WrongCredentials,
    /// The second-factor code is wrong or was used before, or the login
    /// waiting for it ended (five minutes, five wrong codes).
    #[error("the code is wrong or was already used")]
    SecondFactorFailed,
    /// The session expired, was revoked, or the account was logged out
    /// everywhere.
    #[error("the session has ended; log in again")]
    SessionExpired,
    /// The link (setup, invitation, reset) is invalid, expired or used.
    #[error("this link is invalid, has expired or was already used")]
    InvalidLink,
    /// Too many attempts; the server says when to try again.
    #[error("too many attempts; try again in {retry_after_secs} s")]
    RateLimited {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// The server refused the request.
    #[error("the server refused: {message} ({code}, HTTP {status})")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The server's stable error code.
        code: String,
        /// Its sentence for people.
        message: String,
    },
    /// The new password does not meet the rule.
    #[error("the password is not acceptable: {0}")]
    WeakPassword(String),
    /// No strength estimate is loaded yet (the web page loads it as a
    /// module of its own), so no password can be judged or accepted.
    #[error("the password strength check is not loaded yet")]
    StrengthUnavailable,
    /// A peer's identity key differs from the one pinned; nothing is
    /// wrapped to it until the user verifies the new safety number.
    #[error("the identity key of {user} changed since it was pinned; compare the new safety number before trusting it")]
    KeyChanged {
        /// The peer.
        user: UserId,
        /// The pinned fingerprint (hex).
        pinned: String,
        /// The fingerprint the server offers now (hex).
        offered: String,
    },
    /// A check on a server answer failed.
    #[error("the server's answer failed a check: {0}")]
    Tampered(#[from] Violation),
    /// The local store does not open (another account's, or changed).
    #[error("the local key store does not open: {0}")]
    LocalStore(String),
    /// This device kept a local store for the account (pinned keys,
    /// verified peers, the last membership records) and it is gone. Never
    /// replaced silently: deleting it is how someone would make this device
    /// trust a substituted key. Starting afresh is the user's decision
    /// (`FileStore::start_fresh`, `kluis --fresh-device-state`).
    #[error("this device's local store for the account is missing: the keys you pinned and verified are gone; if you do not know why, stop and ask your coach to compare safety numbers; to start afresh, use --fresh-device-state")]
    LocalStoreMissing,
    /// The local store exists but does not open with this identity (it was
    /// changed, or belongs to an identity this account no longer has).
    /// Never overwritten silently; starting afresh sets it aside.
    #[error("this device's local store for the account does not open: it was changed, or belongs to an earlier identity; to start afresh (it is kept aside), use --fresh-device-state")]
    LocalStoreUnreadable,
    /// The caller asked for something impossible.
    #[error("{0}")]
    InvalidInput(String),
    /// A protocol operation failed (on our own input).
    #[error("cryptography: {0}")]
    Crypto(#[from] kluis_crypto::Error),
    /// Reading or writing a file or stream failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The server's error code, if the server refused.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The violation, if a check failed.
    pub fn violation(&self) -> Option<&Violation> {
        match self {
            Self::Tampered(v) => Some(v),
            _ => None,
        }
    }
}
