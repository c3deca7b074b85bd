//! The organisation and its people: accounts and memberships, roles,
//! invitations, the first setup, the privacy notice, address changes a
//! manager proposes, erasures waiting out their cooling-off, and the
//! operator's admin commands.

pub(crate) mod accounts;
pub mod admin;
pub(crate) mod deletion;
pub(crate) mod email_change;
pub(crate) mod invitation;
pub(crate) mod members;
pub(crate) mod organisations;
pub(crate) mod privacy_notice;
pub(crate) mod role;
pub mod setup;
