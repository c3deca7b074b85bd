//! Relationships (trajectories) and their epochs: opening one, adding and
//! removing members with a signed membership record and a new epoch key
//! wrapped to exactly the members the record names, and unwrapping the
//! epoch keys this user holds — each checked against the verified
//! membership chain (PROTOCOL.md §7.6): the relationship, the epoch, the
//! recipient's key, the coach who signed the epoch's record as sender, and
//! the highest epoch already seen.

use kluis_crypto::identity::IdentityBundle;
use kluis_crypto::ids::{Epoch, RelationshipId, UserId};
use kluis_crypto::membership::{Member, MemberRole, MembershipRecord, RecordHash};
use kluis_crypto::relationship::{RelationshipKey, WrappedRelationshipKey};
use rand::rngs::OsRng;

use crate::api::{b64, unb64};
use crate::error::{Error, Result, Violation};
use crate::session::Session;
use crate::wire::{MemberView, NewEpoch, OpenRelationship, RelationshipView, WrappedKeyView};

pub(crate) fn epoch_of(value: i64) -> Result<u32> {
    u32::try_from(value).map_err(|_| Violation::Malformed(format!("epoch {value}")).into())
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
    /// Refuses an epoch lower than this client verified for the
    /// relationship (a rollback). What the server presents is never stored:
    /// only an epoch the membership chain proves is (§7.6.3), so a server
    /// cannot lock a member out by presenting an epoch that does not exist.
    fn note_epoch(&self, view: &RelationshipView) -> Result<()> {
        let rid = view.id()?;
        let presented = epoch_of(view.current_epoch)?;
        let key = rid.to_string();
        let seen = self
            .state
            .epochs
            .get(&key)
            .copied()
            .into_iter()
            .chain(self.state.chains.get(&key).map(|h| h.epoch))
            .max();
        match seen {
            Some(seen) if presented < seen => Err(Violation::EpochRollback {
                relationship: rid,
                seen,
                presented,
            }
            .into()),
            _ => Ok(()),
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
        // The epoch the server calls current must be one a coach signed.
        self.verified_chain(rid, epoch_of(view.current_epoch)?)
            .await?;
        Ok(view)
    }

    /// Opens a relationship (a coach, with a client they invited) in
    /// `organisation`: epoch 0, its opening membership record signed by
    /// this coach, its key wrapped to both.
    pub async fn open_relationship(
        &mut self,
        organisation: &str,
        client: UserId,
    ) -> Result<RelationshipId> {
        let client_bundle = self.checked_peer(client).await?;
        let rid = RelationshipId::random(&mut OsRng);
        let me = self.identity.bundle().clone();
        let record = MembershipRecord::sign(
            &self.identity,
            rid,
            Epoch(0),
            RecordHash::NONE,
            now_ms_u64(),
            vec![
                entry(&me, MemberRole::Coach),
                entry(&client_bundle, MemberRole::Client),
            ],
        )?;
        let key = RelationshipKey::generate(&mut OsRng, rid, Epoch(0));
        let wrapped_keys = [&me, &client_bundle]
            .iter()
            .map(|b| {
                Ok(b64(&key
                    .wrap(&mut OsRng, &self.identity, b, &record.hash())?
                    .encode()))
            })
            .collect::<Result<Vec<_>>>()?;
        let view: RelationshipView = self
            .api
            .post(
                &format!("/api/organisations/{organisation}/relationships"),
                &OpenRelationship {
                    relationship_id: rid.to_string(),
                    client_id: client.to_string(),
                    wrapped_keys,
                    membership_record: b64(&record.encode()),
                },
            )
            .await?;
        if view.id()? != rid {
            return Err(Violation::Malformed("another relationship was opened".into()).into());
        }
        self.note_epoch(&view)?;
        self.extend_chain(record)?;
        self.epoch_keys.insert((rid, 0), key);
        Ok(rid)
    }

    /// Adds a member with a new epoch: a coach of the organisation, or this
    /// coach's own client (`role` says which; the server refuses a role
    /// the account does not have).
    pub async fn add_member(
        &mut self,
        rid: RelationshipId,
        user: UserId,
        role: MemberRole,
    ) -> Result<u32> {
        self.new_epoch(rid, &[(user, role)], &[]).await
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

    /// The members after the change come from the verified chain's last
    /// record, never from the server's listing: nobody the chain does not
    /// name is wrapped to, and a removed member stays removed.
    async fn new_epoch(
        &mut self,
        rid: RelationshipId,
        add: &[(UserId, MemberRole)],
        remove: &[UserId],
    ) -> Result<u32> {
        let view = self.relationship(rid).await?;
        let current = epoch_of(view.current_epoch)?;
        let head = self.verified_chain(rid, current).await?.head().clone();
        if head.epoch().0 != current {
            return Err(Violation::MembershipMissing {
                relationship: rid,
                epoch: current.max(head.epoch().0),
            }
            .into());
        }
        if head
            .member(self.me)
            .is_none_or(|m| m.role != MemberRole::Coach)
        {
            return Err(Error::InvalidInput(
                "only a coach of this relationship changes its members".into(),
            ));
        }
        let next = current
            .checked_add(1)
            .ok_or_else(|| Error::InvalidInput("no epochs left".into()))?;
        let mut after: Vec<(UserId, MemberRole)> = head
            .members()
            .iter()
            .filter(|m| !remove.contains(&m.user_id))
            .map(|m| (m.user_id, m.role))
            .collect();
        for (user, role) in add {
            if !after.iter().any(|(u, _)| u == user) {
                after.push((*user, *role));
            }
        }
        let mut bundles = Vec::with_capacity(after.len());
        let mut members = Vec::with_capacity(after.len());
        for (user, role) in after {
            let bundle = self.checked_peer(user).await?;
            members.push(entry(&bundle, role));
            bundles.push(bundle);
        }
        let record = MembershipRecord::sign(
            &self.identity,
            rid,
            Epoch(next),
            head.hash(),
            now_ms_u64(),
            members,
        )?;
        let key = RelationshipKey::generate(&mut OsRng, rid, Epoch(next));
        let wrapped_keys = bundles
            .iter()
            .map(|b| {
                Ok(b64(&key
                    .wrap(&mut OsRng, &self.identity, b, &record.hash())?
                    .encode()))
            })
            .collect::<Result<Vec<_>>>()?;
        let after: RelationshipView = self
            .api
            .post(
                &format!("/api/relationships/{rid}/epochs"),
                &NewEpoch {
                    epoch: i64::from(next),
                    add: add.iter().map(|(u, _)| u.to_string()).collect(),
                    remove: remove.iter().map(ToString::to_string).collect(),
                    wrapped_keys,
                    membership_record: b64(&record.encode()),
                },
            )
            .await?;
        self.note_epoch(&after)?;
        self.extend_chain(record)?;
        self.epoch_keys.insert((rid, next), key);
        Ok(next)
    }

    /// Makes sure the key of `epoch` is in memory, unwrapping (and
    /// checking) the wrapped keys this user holds if it is not. The
    /// membership chain is verified up to `epoch` first.
    pub(crate) async fn ensure_epoch_key(
        &mut self,
        view: &RelationshipView,
        epoch: u32,
    ) -> Result<()> {
        let rid = view.id()?;
        if self.epoch_keys.contains_key(&(rid, epoch)) {
            return Ok(());
        }
        let current = epoch_of(view.current_epoch)?;
        self.verified_chain(rid, current.max(epoch)).await?;
        let wrapped: Vec<WrappedKeyView> = self
            .api
            .get(&format!("/api/relationships/{rid}/keys"))
            .await?;
        for w in wrapped {
            let e = epoch_of(w.epoch)?;
            if self.epoch_keys.contains_key(&(rid, e)) || self.lost_epochs.contains(&(rid, e)) {
                continue;
            }
            match self.unwrap_checked(rid, e, &w.envelope).await? {
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

    /// Unwraps one epoch key after every check against the epoch's
    /// membership record: sent by the coach who signed it, with the key the
    /// chain names for them; addressed to this user with the key the chain
    /// names for them. `None` when the chain names an earlier identity of
    /// this user (that key is lost with it).
    async fn unwrap_checked(
        &mut self,
        rid: RelationshipId,
        epoch: u32,
        envelope: &str,
    ) -> Result<Option<RelationshipKey>> {
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
        let record = self
            .verified_chain(rid, epoch)
            .await?
            .at(epoch)
            .cloned()
            .ok_or(Violation::MembershipMissing {
                relationship: rid,
                epoch,
            })?;
        let not_in_chain = |what: String| Violation::NotInChain {
            relationship: rid,
            epoch,
            what,
        };
        let mine = record
            .member(self.me)
            .ok_or_else(|| not_in_chain("a key addressed to this user".into()))?;
        if wrapped.recipient_fingerprint() != mine.fingerprint {
            return Err(not_in_chain("the wrapped key's recipient key".into()).into());
        }
        if mine.fingerprint != self.identity.bundle().fingerprint() {
            return Ok(None);
        }
        let sender = wrapped.sender_id();
        if sender != record.signer_id() {
            return Err(Violation::SenderNotMember { epoch, sender }.into());
        }
        let previous = epoch
            .checked_sub(1)
            .and_then(|p| self.chains.get(&rid).and_then(|c| c.at(p)).cloned());
        let fingerprint = record
            .expected_signer_fingerprint(previous.as_ref())
            .ok_or(Violation::SenderNotMember { epoch, sender })?;
        let bundle = self.bundle_with(sender, fingerprint).await?;
        wrapped
            .unwrap(&self.identity, &bundle, rid, Epoch(epoch), &record.hash())
            .map(Some)
            .map_err(|_| invalid().into())
    }
}

/// A record's entry for a member with this bundle.
fn entry(bundle: &IdentityBundle, role: MemberRole) -> Member {
    Member {
        user_id: bundle.user_id(),
        role,
        fingerprint: bundle.fingerprint(),
    }
}

fn now_ms_u64() -> u64 {
    u64::try_from(crate::dialogue::now_ms()).unwrap_or(0)
}
