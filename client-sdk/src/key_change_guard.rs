//! A peer's key change blocks sending to the relationship.
//!
//! When a peer publishes a new identity (a password reset with a new
//! identity, or someone who took the account over), the SDK records the
//! change ([`Session::key_changes`]) and never wraps to the new key until
//! the user accepts it. That alone left a gap: a coach whose epoch key was
//! still cached went on sealing messages into the relationship without a
//! word, as if nothing had happened. So before anything is sealed for a
//! relationship, every current member's key is checked against its pin;
//! a change is [`Error::KeyChanged`] until the user either accepts the new
//! safety number ([`Session::accept_key_change`]) or explicitly defers the
//! decision ([`Session::defer_key_change`]). A deferral is kept in the
//! local state, bound to the key it was made for (a further change blocks
//! again), and the change stays listed in [`Session::key_changes`] so the
//! warning stays visible.

use kluis_crypto::ids::{RelationshipId, UserId};

use crate::error::{Error, Result};
use crate::session::Session;
use crate::wire::RelationshipView;

impl Session {
    /// Refuses with [`Error::KeyChanged`] when a current member of the
    /// relationship has a key change that is neither accepted nor deferred.
    /// Called before sealing anything for the relationship.
    pub(crate) async fn refuse_unaccepted_key_changes(
        &mut self,
        view: &RelationshipView,
    ) -> Result<()> {
        for member in view.members.iter().filter(|m| m.left_epoch.is_none()) {
            let Ok(user) = member.account_id.parse::<UserId>() else {
                continue;
            };
            if user == self.me {
                continue;
            }
            match self.checked_peer(user).await {
                Ok(_) => {}
                Err(Error::KeyChanged {
                    user,
                    pinned,
                    offered,
                }) => {
                    if !self.key_change_deferred(user, &offered) {
                        return Err(Error::KeyChanged {
                            user,
                            pinned,
                            offered,
                        });
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// [`Self::refuse_unaccepted_key_changes`] for a relationship by id.
    pub(crate) async fn refuse_unaccepted_key_changes_in(
        &mut self,
        rid: RelationshipId,
    ) -> Result<()> {
        let view = self.relationship(rid).await?;
        self.refuse_unaccepted_key_changes(&view).await
    }

    /// Whether the user deferred deciding on `peer`'s change to `offered`
    /// (hex fingerprint).
    fn key_change_deferred(&self, peer: UserId, offered: &str) -> bool {
        self.state
            .deferred_key_changes
            .get(&peer.to_string())
            .is_some_and(|deferred| deferred == offered)
    }

    /// Lets sending to `peer`'s relationships go on while the peer's key
    /// change is not yet accepted — the user's explicit decision to decide
    /// later. Nothing is wrapped to the new key meanwhile; the change stays
    /// in [`Self::key_changes`] (show it), and a further change of the
    /// peer's key blocks again. Kept in the local state.
    pub fn defer_key_change(&mut self, peer: UserId) -> Result<()> {
        let offered = self
            .state
            .key_changes
            .get(&peer.to_string())
            .map(|change| change.offered.clone())
            .ok_or_else(|| Error::InvalidInput(format!("no key change of {peer} is pending")))?;
        self.state
            .deferred_key_changes
            .insert(peer.to_string(), offered);
        self.save_state()
    }

    /// The peers whose key change the user deferred (and not yet accepted).
    pub fn deferred_key_changes(&self) -> Vec<UserId> {
        self.state
            .key_changes
            .iter()
            .filter(|(user, change)| {
                self.state
                    .deferred_key_changes
                    .get(*user)
                    .is_some_and(|offered| *offered == change.offered)
            })
            .filter_map(|(user, _)| user.parse().ok())
            .collect()
    }
}
