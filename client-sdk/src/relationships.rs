//! Relationships (trajectories) and their epochs: opening one, adding and
//! removing members with a new epoch key wrapped to exactly the members
//! after the change, and unwrapping the epoch keys this user holds — each
//! checked against the relationship, the epoch, the recipient, a sender who
//! is a coach member at that epoch, and the highest epoch already seen.

use kluis_crypto::ids::{Epoch, RelationshipId, UserId};
use kluis_crypto::relationship::{RelationshipKey, WrappedRelationshipKey};
use rand::rngs::OsRng;

use crate::api::{b64, unb64};
use crate::error::{Error, Result, Violation};
use crate::session::Session;
use crate::wire::{MemberView, NewEpoch, OpenRelationship, RelationshipView, Role, WrappedKeyView};

fn parse_user(id: &str) -> Result<UserId> {
    id.parse()
        .map_err(|_| Violation::Malformed(format!("account id {id:?}")).into())
}

fn epoch_of(value: i64) -> Result<u32> {
    u32::try_from(value).map_err(|_| Violation::Malformed(format!("epoch {value}")).into())
}

/// Whether `member` held epoch `epoch`.
fn held(member: &MemberView, epoch: u32) -> bool {
    let e = i64::from(epoch);
    member.joined_epoch <= e && member.left_epoch.is_none_or(|left| e < left)
}

impl RelationshipView {
    /// The relationship's id.
    pub fn id(&self) -> Result<RelationshipId> {
        self.relationship_id
            .parse()
            .map_err(|_| Violation::Malformed("relationship id".into()).into())
    }

    /// The members now (not removed).
    pub fn current_members(&self) -> impl Iterator<Item = &MemberView> {
        self.members.iter().filter(|m| m.left_epoch.is_none())
    }
}

impl Session {
    /// Records the epoch the server presents for a relationship, refusing
    /// one lower than this client has seen (a rollback).
    fn note_epoch(&mut self, view: &RelationshipView) -> Result<()> {
        let rid = view.id()?;
        let presented = epoch_of(view.current_epoch)?;
        let key = rid.to_string();
        let seen = self.state.epochs.get(&key).copied();
        match seen {
            Some(seen) if presented < seen => Err(Violation::EpochRollback {
                relationship: rid,
                seen,
                presented,
            }
            .into()),
            Some(seen) if presented == seen => Ok(()),
            _ => {
                self.state.epochs.insert(key, presented);
                self.save_state()
            }
        }
    }

    /// The relationships this user is or was a member of.
    pub async fn relationships(&mut self) -> Result<Vec<RelationshipView>> {
        let views: Vec<RelationshipView> = self.api.get("/api/relationships").await?;
        for view in &views {
            self.note_epoch(view)?;
        }
        Ok(views)
    }

    /// One relationship, checked for a rollback.
    pub async fn relationship(&mut self, rid: RelationshipId) -> Result<RelationshipView> {
        let view: RelationshipView = self.api.get(&format!("/api/relationships/{rid}")).await?;
        if view.id()? != rid {
            return Err(Violation::Malformed("another relationship was returned".into()).into());
        }
        self.note_epoch(&view)?;
        Ok(view)
    }

    /// Opens a relationship (a coach, with a client they invited) in
    /// `organisation`: epoch 0, its key wrapped to both.
    pub async fn open_relationship(
        &mut self,
        organisation: &str,
        client: UserId,
    ) -> Result<RelationshipId> {
        let client_bundle = self.checked_peer(client).await?;
        let rid = RelationshipId::random(&mut OsRng);
        let key = RelationshipKey::generate(&mut OsRng, rid, Epoch(0));
        let wrapped_keys = [self.identity.bundle(), &client_bundle]
            .iter()
            .map(|b| Ok(b64(&key.wrap(&mut OsRng, &self.identity, b)?.encode())))
            .collect::<Result<Vec<_>>>()?;
        let view: RelationshipView = self
            .api
            .post(
                &format!("/api/organisations/{organisation}/relationships"),
                &OpenRelationship {
                    relationship_id: rid.to_string(),
                    client_id: client.to_string(),
                    wrapped_keys,
                },
            )
            .await?;
        if view.id()? != rid {
            return Err(Violation::Malformed("another relationship was opened".into()).into());
        }
        self.note_epoch(&view)?;
        self.epoch_keys.insert((rid, 0), key);
        Ok(rid)
    }

    /// Adds a member (a coach, or the coach's own client) with a new epoch.
    pub async fn add_member(&mut self, rid: RelationshipId, user: UserId) -> Result<u32> {
        self.new_epoch(rid, &[user], &[]).await
    }

    /// Removes a member with a new epoch: they keep what they could read,
    /// and read nothing written after.
    pub async fn remove_member(&mut self, rid: RelationshipId, user: UserId) -> Result<u32> {
        self.new_epoch(rid, &[], &[user]).await
    }

    /// A new epoch key for the same members.
    pub async fn rotate(&mut self, rid: RelationshipId) -> Result<u32> {
        self.new_epoch(rid, &[], &[]).await
    }

    async fn new_epoch(
        &mut self,
        rid: RelationshipId,
        add: &[UserId],
        remove: &[UserId],
    ) -> Result<u32> {
        let view = self.relationship(rid).await?;
        let next = epoch_of(view.current_epoch)?
            .checked_add(1)
            .ok_or_else(|| Error::InvalidInput("no epochs left".into()))?;
        let mut recipients: Vec<UserId> = view
            .current_members()
            .map(|m| parse_user(&m.account_id))
            .collect::<Result<_>>()?;
        recipients.retain(|u| !remove.contains(u));
        for u in add {
            if !recipients.contains(u) {
                recipients.push(*u);
            }
        }
        let key = RelationshipKey::generate(&mut OsRng, rid, Epoch(next));
        let mut wrapped_keys = Vec::with_capacity(recipients.len());
        for user in recipients {
            let bundle = self.checked_peer(user).await?;
            wrapped_keys.push(b64(&key
                .wrap(&mut OsRng, &self.identity, &bundle)?
                .encode()));
        }
        let after: RelationshipView = self
            .api
            .post(
                &format!("/api/relationships/{rid}/epochs"),
                &NewEpoch {
                    epoch: i64::from(next),
                    add: add.iter().map(ToString::to_string).collect(),
                    remove: remove.iter().map(ToString::to_string).collect(),
                    wrapped_keys,
                },
            )
            .await?;
        self.note_epoch(&after)?;
        self.epoch_keys.insert((rid, next), key);
        Ok(next)
    }

    /// Makes sure the key of `epoch` is in memory, unwrapping (and
    /// checking) the wrapped keys this user holds if it is not.
    pub(crate) async fn ensure_epoch_key(
        &mut self,
        view: &RelationshipView,
        epoch: u32,
    ) -> Result<()> {
        let rid = view.id()?;
        if self.epoch_keys.contains_key(&(rid, epoch)) {
            return Ok(());
        }
        let wrapped: Vec<WrappedKeyView> = self
            .api
            .get(&format!("/api/relationships/{rid}/keys"))
            .await?;
        for w in wrapped {
            let e = epoch_of(w.epoch)?;
            if self.epoch_keys.contains_key(&(rid, e)) || self.lost_epochs.contains(&(rid, e)) {
                continue;
            }
            match self.unwrap_checked(view, e, &w.envelope).await? {
                Some(key) => {
                    self.epoch_keys.insert((rid, e), key);
                }
                None => {
                    self.lost_epochs.insert((rid, e));
                }
            }
        }
        Ok(())
    }

    /// The key of an epoch [`Self::ensure_epoch_key`] loaded.
    pub(crate) fn held_key(&self, rid: RelationshipId, epoch: u32) -> Result<&RelationshipKey> {
        self.epoch_keys
            .get(&(rid, epoch))
            .ok_or_else(|| Error::Refused {
                status: 404,
                code: "no_epoch_key".into(),
                message: format!("this account holds no key for epoch {epoch}"),
            })
    }

    /// Unwraps one epoch key after every check; `None` when it is addressed
    /// to an earlier identity of this user (that key is lost with it).
    async fn unwrap_checked(
        &mut self,
        view: &RelationshipView,
        epoch: u32,
        envelope: &str,
    ) -> Result<Option<RelationshipKey>> {
        let rid = view.id()?;
        let invalid = || Violation::WrappedKeyInvalid {
            relationship: rid,
            epoch,
        };
        let wrapped =
            WrappedRelationshipKey::decode(&unb64("envelope", envelope)?).map_err(|_| invalid())?;
        if wrapped.relationship_id() != rid
            || wrapped.epoch() != Epoch(epoch)
            || wrapped.recipient_id() != self.me
        {
            return Err(invalid().into());
        }
        if wrapped.recipient_fingerprint() != self.identity.bundle().fingerprint() {
            return Ok(None);
        }
        let sender = wrapped.sender_id();
        let sender_is_coach = view
            .members
            .iter()
            .any(|m| m.role == Role::Coach && m.account_id == sender.to_string() && held(m, epoch));
        if !sender_is_coach {
            return Err(Violation::SenderNotMember { epoch, sender }.into());
        }
        for bundle in self.signing_bundles(sender).await? {
            if let Ok(key) = wrapped.unwrap(&self.identity, &bundle, rid, Epoch(epoch)) {
                return Ok(Some(key));
            }
        }
        Err(invalid().into())
    }
}
