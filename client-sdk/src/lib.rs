//! The Kluis client SDK: every encryption and every check happens here.
//!
//! [`Kluis`] is the way in (setup from the printed link, sign-up from an
//! invitation, login, password reset); a [`Session`] is a logged-in user
//! whose identity keys live only in its memory. The server is an untrusted
//! store: everything it returns is checked — signatures, the associated
//! data that binds an item to its place, epochs, membership, pinned keys —
//! and a failed check is an [`Error::Tampered`] naming the [`Violation`].
//!
//! The same code builds for native targets and for
//! `wasm32-unknown-unknown` (the web client).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod account;
mod api;
mod attachments;
pub mod bundle;
mod chain;
#[cfg(all(feature = "cli", not(target_arch = "wasm32")))]
pub mod cli;
mod dialogue;
mod error;
mod export;
mod key_change_guard;
pub mod link;
pub mod password;
mod peers;
pub mod qr;
mod relationships;
mod session;
pub mod state;
#[cfg(target_arch = "wasm32")]
pub mod wasm;
mod wire;

pub use account::{Kluis, Login, NewAccount, PendingRecovery, PendingSecondFactor, SessionMode};
pub use attachments::{max_file_size, Progress, SharedFile, Upload, SEGMENT_BYTES};
pub use chain::{MembershipEvent, ProvenMember, ProvenMembership};
pub use dialogue::{
    parse_item_id, parse_relationship_id, parse_user_id, DialoguePage, DocumentInfo, Entry,
    EntryContent,
};
pub use error::{Error, Result, Violation};
#[cfg(not(target_arch = "wasm32"))]
pub use export::DirSink;
pub use export::{ExportSink, ExportedFile, ZipSink, EXPORT_FORMAT};
pub use peers::SafetyNumberView;
pub use session::{AccountDeletion, Session};
pub use wire::{
    InvitationInfo, InvitationSent, Language, Me, MemberUpdate, MemberView, Membership,
    OrganisationMember, PendingInvitation, PrivacyNotice, RelationshipView, Role,
    SecondFactorMethod, SessionInfo, TotpEnrolment, TwoFactorStatus,
};

/// Re-exported so that callers name the same types.
pub use kluis_crypto;
pub use kluis_crypto::membership::MemberRole;
