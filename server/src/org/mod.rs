//! The organisation and its people: accounts and memberships, roles,
//! invitations, the first setup, the privacy notice, and the operator's
//! admin commands.

pub mod accounts;
pub mod admin;
pub mod invitation;
pub(crate) mod members;
pub(crate) mod organisations;
pub mod privacy_notice;
pub mod role;
pub mod setup;
