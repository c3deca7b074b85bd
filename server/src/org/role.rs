//! The three roles of an organisation.

use serde::{Deserialize, Serialize};

/// A member's role in one organisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Runs the organisation: invites coaches and managers, edits profiles,
    /// disables accounts. Never reads dialogue, keys or files.
    Manager,
    /// Works with clients: invites them and opens trajectories.
    Coach,
    /// Is coached; may have several coaches.
    Client,
}

impl Role {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manager => "manager",
            Self::Coach => "coach",
            Self::Client => "client",
        }
    }

    /// Reads the stored form (the schema's CHECK constraint guarantees one
    /// of the three).
    pub fn from_stored(s: &str) -> Option<Self> {
        match s {
            "manager" => Some(Self::Manager),
            "coach" => Some(Self::Coach),
            "client" => Some(Self::Client),
            _ => None,
        }
    }

    /// Which roles a member with this role may invite.
    pub fn may_invite(self, invitee: Role) -> bool {
        matches!(
            (self, invitee),
            (Self::Manager, Self::Manager | Self::Coach) | (Self::Coach, Self::Client)
        )
    }
}
