//! The membership chain of a relationship (PROTOCOL.md §7.6), verified
//! before anything is unwrapped or wrapped: who holds each epoch, with which
//! role and key, as signed by the coaches — never as the server lists it.
//!
//! A verified chain is kept in memory per session, and its last record's
//! hash in the sealed local state, so that a later chain that does not
//! contain that record unchanged (a fork, a rewrite, a shortened chain) is
//! refused even across runs.

use kluis_crypto::identity::{IdentityBundle, KeyFingerprint};
use kluis_crypto::ids::{RelationshipId, UserId};
use kluis_crypto::membership::{MemberRole, MembershipRecord};
use serde::Serialize;

use crate::api::{b64, unb64};
use crate::error::{Error, Result, Violation};
use crate::peers::decode_bundle;
use crate::session::Session;
use crate::state::{ChainHead, KeyChange, Pin};
use crate::wire::{MembershipRecordView, UserKeys};

/// A relationship's chain after every record verified: the opening record
/// and the ones after it, the record of epoch `e` at index `e - 1`.
#[derive(Debug, Clone)]
pub(crate) struct VerifiedChain {
    opening: MembershipRecord,
    later: Vec<MembershipRecord>,
}

impl VerifiedChain {
    /// The newest record: who holds the current epoch.
    pub(crate) fn head(&self) -> &MembershipRecord {
        self.later.last().unwrap_or(&self.opening)
    }

    /// The record of `epoch`, if the chain reaches it.
    pub(crate) fn at(&self, epoch: u32) -> Option<&MembershipRecord> {
        match epoch.checked_sub(1) {
            None => Some(&self.opening),
            Some(i) => self.later.get(i as usize),
        }
    }

    /// Every record, oldest first.
    fn records(&self) -> impl DoubleEndedIterator<Item = &MembershipRecord> {
        std::iter::once(&self.opening).chain(self.later.iter())
    }

    fn push(&mut self, record: MembershipRecord) {
        self.later.push(record);
    }
}

/// A member as the chain proves them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProvenMember {
    /// The account.
    pub account_id: String,
    /// `coach` or `client`.
    pub role: &'static str,
    /// Fingerprint (hex) of the identity key the current epoch is for.
    pub key_fingerprint: String,
    /// The first epoch of their current membership.
    pub since_epoch: u32,
}

/// One change of members, as its signed record tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MembershipEvent {
    /// The epoch the change started.
    pub epoch: u32,
    /// The coach who signed it.
    pub by: String,
    /// When, by the signer's clock (Unix ms).
    pub at_ms: u64,
    /// Opened the relationship (epoch 0).
    pub opened: bool,
    /// Accounts who joined, with their role.
    pub added: Vec<(String, &'static str)>,
    /// Accounts who left.
    pub removed: Vec<String>,
    /// Members whose identity key changed with this record.
    pub key_changed: Vec<String>,
}

/// The members and history a relationship's membership chain proves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProvenMembership {
    /// The current epoch (the last record's).
    pub epoch: u32,
    /// Who holds it.
    pub members: Vec<ProvenMember>,
    /// Every change, oldest first.
    pub events: Vec<MembershipEvent>,
    /// The epoch up to which this device's user acknowledged who joined
    /// ([`Session::acknowledge_joins`]); joins in later epochs are news.
    pub acknowledged_epoch: u32,
}

pub(crate) fn role_name(role: MemberRole) -> &'static str {
    match role {
        MemberRole::Coach => "coach",
        MemberRole::Client => "client",
    }
}

fn membership_of(chain: &VerifiedChain) -> ProvenMembership {
    let head = chain.head();
    let mut events = Vec::new();
    let mut previous: Option<&MembershipRecord> = None;
    for r in chain.records() {
        let mut added = Vec::new();
        let mut key_changed = Vec::new();
        for m in r.members() {
            match previous.and_then(|p| p.member(m.user_id)) {
                None => added.push((m.user_id.to_string(), role_name(m.role))),
                Some(before) if before.fingerprint != m.fingerprint => {
                    key_changed.push(m.user_id.to_string());
                }
                Some(_) => {}
            }
        }
        let removed = previous
            .map(|p| {
                p.members()
                    .iter()
                    .filter(|m| r.member(m.user_id).is_none())
                    .map(|m| m.user_id.to_string())
                    .collect()
            })
            .unwrap_or_default();
        events.push(MembershipEvent {
            epoch: r.epoch().0,
            by: r.signer_id().to_string(),
            at_ms: r.created_ms(),
            opened: previous.is_none(),
            added,
            removed,
            key_changed,
        });
        previous = Some(r);
    }
    let members = head
        .members()
        .iter()
        .map(|m| {
            // The first epoch of the unbroken run of records naming them.
            let since = chain
                .records()
                .rev()
                .take_while(|r| r.member(m.user_id).is_some())
                .last()
                .map_or(head.epoch().0, |r| r.epoch().0);
            ProvenMember {
                account_id: m.user_id.to_string(),
                role: role_name(m.role),
                key_fingerprint: hex::encode(m.fingerprint.0),
                since_epoch: since,
            }
        })
        .collect();
    ProvenMembership {
        epoch: head.epoch().0,
        members,
        events,
        acknowledged_epoch: 0,
    }
}

impl Session {
    /// The members and history of a relationship, as its verified
    /// membership chain proves them.
    pub async fn membership(&mut self, rid: RelationshipId) -> Result<ProvenMembership> {
        let view = self.relationship(rid).await?;
        let epoch =
            u32::try_from(view.current_epoch).map_err(|_| Violation::Malformed("epoch".into()))?;
        let mut proven = membership_of(self.verified_chain(rid, epoch).await?);
        proven.acknowledged_epoch = self
            .state
            .acknowledged_joins
            .get(&rid.to_string())
            .copied()
            .unwrap_or(0);
        Ok(proven)
    }

    /// Records that the user saw who joined `rid` up to `epoch` (kept in
    /// the sealed device state, so the news is told once per device).
    pub fn acknowledge_joins(&mut self, rid: RelationshipId, epoch: u32) -> Result<()> {
        let seen = self
            .state
            .acknowledged_joins
            .entry(rid.to_string())
            .or_insert(0);
        *seen = (*seen).max(epoch);
        self.save_state()
    }

    /// The relationship's chain, verified up to at least `epoch` (fetched
    /// again when the cached one is shorter). The server claiming an epoch
    /// the chain does not reach is [`Violation::MembershipMissing`], unless
    /// the chain ends with this user's removal.
    pub(crate) async fn verified_chain(
        &mut self,
        rid: RelationshipId,
        epoch: u32,
    ) -> Result<&VerifiedChain> {
        let cached = self
            .chains
            .get(&rid)
            .is_some_and(|c| c.head().epoch().0 >= epoch);
        if !cached {
            let chain = self.fetch_chain(rid).await?;
            self.chains.insert(rid, chain);
        }
        let chain = self
            .chains
            .get(&rid)
            .ok_or_else(|| Error::LocalStore("chain cache".into()))?;
        // A former member's chain ends with the record of their removal;
        // for everyone else it reaches the epoch the server calls current.
        if chain.head().epoch().0 < epoch && chain.head().member(self.me).is_some() {
            return Err(Violation::MembershipMissing {
                relationship: rid,
                epoch,
            }
            .into());
        }
        Ok(chain)
    }

    /// Records a record this client just made and the server accepted.
    pub(crate) fn extend_chain(&mut self, record: MembershipRecord) -> Result<()> {
        let rid = record.relationship_id();
        let head = ChainHead {
            epoch: record.epoch().0,
            hash: hex::encode(record.hash().0),
        };
        match self.chains.get_mut(&rid) {
            Some(chain) if chain.head().epoch().0.checked_add(1) == Some(record.epoch().0) => {
                chain.push(record)
            }
            None if record.epoch().0 == 0 => {
                self.chains.insert(
                    rid,
                    VerifiedChain {
                        opening: record,
                        later: Vec::new(),
                    },
                );
            }
            // Not the next link of what is cached: forget the cache, the
            // next use fetches and verifies the whole chain again.
            _ => {
                self.chains.remove(&rid);
            }
        }
        self.state.chains.insert(rid.to_string(), head);
        self.save_state()
    }

    async fn fetch_chain(&mut self, rid: RelationshipId) -> Result<VerifiedChain> {
        let listed: Vec<MembershipRecordView> = self
            .api
            .get(&format!("/api/relationships/{rid}/membership"))
            .await?;
        let invalid = |epoch: u32, fault: String| Violation::MembershipInvalid {
            relationship: rid,
            epoch,
            fault,
        };
        let mut records: Vec<MembershipRecord> = Vec::with_capacity(listed.len());
        for (index, view) in listed.iter().enumerate() {
            let epoch = u32::try_from(index).map_err(|_| Violation::Malformed("chain".into()))?;
            if view.epoch != i64::from(epoch) {
                return Err(invalid(epoch, format!("listed as epoch {}", view.epoch)).into());
            }
            let record = MembershipRecord::decode(&unb64("record", &view.record)?)
                .map_err(|e| invalid(epoch, e.to_string()))?;
            if record.relationship_id() != rid {
                return Err(invalid(epoch, "it names another relationship".into()).into());
            }
            let previous = records.last();
            record
                .check_link(previous)
                .map_err(|e| invalid(epoch, e.to_string()))?;
            let fingerprint = record
                .expected_signer_fingerprint(previous)
                .ok_or_else(|| invalid(epoch, "its signer is no member".into()))?;
            let signer = self
                .bundle_with(record.signer_id(), fingerprint)
                .await
                .map_err(|_| invalid(epoch, "the signer's key is not published".into()))?;
            let checked = match previous {
                None => record.verify_opening(&signer),
                Some(p) => record.verify_successor(p, &signer),
            };
            checked.map_err(|e| invalid(epoch, e.to_string()))?;
            records.push(record);
        }
        let mut records = records.into_iter();
        let opening = records.next().ok_or(Violation::MembershipMissing {
            relationship: rid,
            epoch: 0,
        })?;
        let chain = VerifiedChain {
            opening,
            later: records.collect(),
        };
        self.check_against_head(rid, &chain)?;
        // Every key the chain names, looked up once (pins, then the key
        // directory's history), so that the pin check below has them all.
        let named: Vec<(UserId, KeyFingerprint)> = chain
            .records()
            .flat_map(|r| r.members().iter().map(|m| (m.user_id, m.fingerprint)))
            .collect();
        for (user, fingerprint) in named {
            if user != self.me {
                self.bundle_with(user, fingerprint).await?;
            }
        }
        self.check_pins(&chain)?;
        let head = chain.head();
        self.state.chains.insert(
            rid.to_string(),
            ChainHead {
                epoch: head.epoch().0,
                hash: hex::encode(head.hash().0),
            },
        );
        self.save_state()?;
        Ok(chain)
    }

    /// A chain must contain the record this client verified last, unchanged.
    fn check_against_head(&self, rid: RelationshipId, chain: &VerifiedChain) -> Result<()> {
        let Some(kept) = self.state.chains.get(&rid.to_string()) else {
            return Ok(());
        };
        match chain.at(kept.epoch) {
            None => Err(Violation::EpochRollback {
                relationship: rid,
                seen: kept.epoch,
                presented: chain.head().epoch().0,
            }
            .into()),
            Some(r) if hex::encode(r.hash().0) != kept.hash => Err(Violation::MembershipForked {
                relationship: rid,
                epoch: kept.epoch,
            }
            .into()),
            Some(_) => Ok(()),
        }
    }

    /// Every peer the chain names is compared with the pins: pinned on
    /// first sight (the key the chain names, §7.6.3); a key the user never
    /// accepted is recorded as a key change, and refused outright when it
    /// signed a record.
    fn check_pins(&mut self, chain: &VerifiedChain) -> Result<()> {
        // Newest first: a peer seen for the first time is pinned with the
        // key the newest record names, and the keys earlier records name
        // for them are kept as their earlier keys (the chain vouches for
        // each of them in its own epochs).
        let mut pinned_now: Vec<UserId> = Vec::new();
        for record in chain.records().rev() {
            for m in record.members() {
                if m.user_id == self.me {
                    continue;
                }
                let key = m.user_id.to_string();
                let fingerprint = hex::encode(m.fingerprint.0);
                match self.state.pins.get_mut(&key) {
                    Some(pin)
                        if pinned_now.contains(&m.user_id)
                            && !pin_knows(pin, m.user_id, &m.fingerprint) =>
                    {
                        let bundle = self.bundles.get(&(m.user_id, m.fingerprint)).cloned();
                        let bundle = bundle.ok_or(Violation::BundleInvalid { user: m.user_id })?;
                        if let Some(pin) = self.state.pins.get_mut(&key) {
                            pin.previous.push(b64(&bundle.encode()));
                        }
                    }
                    None => {
                        pinned_now.push(m.user_id);
                        let bundle = self.bundle_from_cache(m.user_id, m.fingerprint)?;
                        self.state.pins.insert(
                            key,
                            Pin {
                                bundle: b64(&bundle.encode()),
                                fingerprint,
                                verified: false,
                                previous: Vec::new(),
                            },
                        );
                    }
                    Some(pin) if pin_knows(pin, m.user_id, &m.fingerprint) => {}
                    Some(pin) => {
                        let pinned = pin.fingerprint.clone();
                        let offered = self.bundle_from_cache(m.user_id, m.fingerprint)?;
                        let err = Error::KeyChanged {
                            user: m.user_id,
                            pinned: pinned.clone(),
                            offered: fingerprint.clone(),
                        };
                        self.state.key_changes.insert(
                            key.clone(),
                            KeyChange {
                                user: key,
                                pinned,
                                offered: fingerprint,
                                offered_bundle: b64(&offered.encode()),
                            },
                        );
                        if m.user_id == record.signer_id() {
                            self.save_state()?;
                            return Err(err);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The bundle of `user` with `fingerprint`: this user's own, a pinned
    /// or earlier pinned one, or one of the key directory's history (a
    /// fingerprint is the hash of the bundle, so the directory cannot
    /// substitute another). Cached for [`Self::bundle_from_cache`].
    pub(crate) async fn bundle_with(
        &mut self,
        user: UserId,
        fingerprint: KeyFingerprint,
    ) -> Result<IdentityBundle> {
        if let Ok(bundle) = self.bundle_from_cache(user, fingerprint) {
            return Ok(bundle);
        }
        let keys: UserKeys = self.api.get(&format!("/api/users/{user}/keys")).await?;
        for version in &keys.history {
            let bundle = decode_bundle(user, &version.bundle)?;
            self.bundles.insert((user, bundle.fingerprint()), bundle);
        }
        self.bundle_from_cache(user, fingerprint)
    }

    fn bundle_from_cache(
        &self,
        user: UserId,
        fingerprint: KeyFingerprint,
    ) -> Result<IdentityBundle> {
        if user == self.me && self.identity.bundle().fingerprint() == fingerprint {
            return Ok(self.identity.bundle().clone());
        }
        if let Some(bundle) = self.bundles.get(&(user, fingerprint)) {
            return Ok(bundle.clone());
        }
        if let Some(pin) = self.state.pins.get(&user.to_string()) {
            for b in std::iter::once(&pin.bundle).chain(pin.previous.iter()) {
                let bundle = decode_bundle(user, b)?;
                if bundle.fingerprint() == fingerprint {
                    return Ok(bundle);
                }
            }
        }
        Err(Violation::BundleInvalid { user }.into())
    }

    /// The bundle the chain names for `user` at `epoch` (who must hold it).
    pub(crate) async fn chain_bundle(
        &mut self,
        rid: RelationshipId,
        epoch: u32,
        user: UserId,
        what: &str,
    ) -> Result<IdentityBundle> {
        let fingerprint = self
            .verified_chain(rid, epoch)
            .await?
            .at(epoch)
            .and_then(|r| r.member(user))
            .map(|m| m.fingerprint)
            .ok_or_else(|| Violation::NotInChain {
                relationship: rid,
                epoch,
                what: format!("{what} {user}"),
            })?;
        self.bundle_with(user, fingerprint).await
    }
}

/// Whether a pin holds `fingerprint` as the peer's current or an earlier
/// accepted key.
fn pin_knows(pin: &Pin, user: UserId, fingerprint: &KeyFingerprint) -> bool {
    let wanted = hex::encode(fingerprint.0);
    pin.fingerprint == wanted
        || pin
            .previous
            .iter()
            .any(|b| decode_bundle(user, b).is_ok_and(|b| b.fingerprint() == *fingerprint))
}
