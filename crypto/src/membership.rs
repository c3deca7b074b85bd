//! Signed membership records: the chain that says who holds each epoch of a
//! relationship (PROTOCOL.md §7.6).
//!
//! Every change of a relationship's members — opening it, adding or
//! removing someone, rotating its key — is a record signed by a coach who
//! was a member *before* the change. A record names the relationship, the
//! new epoch, the complete member list (each member's role and the
//! fingerprint of the identity bundle the change was made for), and the hash
//! of the previous record, so the records form a hash chain from the
//! opening record, which the opening coach signs. The server stores and
//! serves the chain but cannot write a link of it: a member verifies the
//! chain before unwrapping or wrapping anything, and the wrapped epoch keys
//! bind the record hash of their epoch (§7.3), so a server that shows two
//! members two different chains is caught as soon as they exchange a
//! message.

use ed25519_dalek::Signature;
use sha2::{Digest, Sha256};

use crate::encoding::{EnvelopeType, Reader, Writer};
use crate::identity::{IdentityBundle, IdentityKeyPair, KeyFingerprint};
use crate::ids::{Epoch, RelationshipId, UserId};
use crate::{Error, Result};

/// Prefix of the message a membership record's signature covers.
pub const MEMBERSHIP_SIGNATURE_LABEL: &str = "kluis/v1/membership-record";
/// Prefix of the hash input of a membership record hash.
pub const MEMBERSHIP_HASH_LABEL: &str = "kluis/v1/membership-record-hash";
/// Most members one record may name.
pub const MAX_MEMBERS: usize = 64;
/// Length of one member entry: user id, role, fingerprint.
const MEMBER_LEN: usize = 16 + 1 + 32;
/// Length of the fixed part of a record before the member entries.
const FIXED_LEN: usize = 2 + 16 + 4 + 32 + 16 + 8 + 2;
const SIGNATURE_LEN: usize = 64;

/// What a member is in a relationship, as its records state it. Only a
/// coach may sign the next record and wrap epoch keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MemberRole {
    /// A coach of the trajectory.
    Coach = 1,
    /// The client.
    Client = 2,
}

/// One member as a record names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// The account.
    pub user_id: UserId,
    /// Coach or client.
    pub role: MemberRole,
    /// Fingerprint (§5.3) of the identity bundle this epoch is for.
    pub fingerprint: KeyFingerprint,
}

/// `SHA-256(MEMBERSHIP_HASH_LABEL ‖ 0x00 ‖ record)` over the whole encoded
/// record, signature included; the opening record's `previous` is 32 zero
/// bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordHash(pub [u8; 32]);

impl RecordHash {
    /// The `previous` of an opening record.
    pub const NONE: Self = Self([0; 32]);
}

impl core::fmt::Debug for RecordHash {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "RecordHash(")?;
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

/// Why a membership record is not the valid next link of a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainFault {
    /// The record names another relationship than the chain's.
    #[error("the record belongs to another relationship")]
    WrongRelationship,
    /// The record's epoch is not one more than the previous record's (or
    /// 0 for an opening record): a gap, a reordering or a replay.
    #[error("the record's epoch does not follow the previous one")]
    EpochNotNext,
    /// `previous` is not the hash of the previous record: a fork or a
    /// record spliced in from elsewhere.
    #[error("the record does not continue the previous one")]
    PreviousMismatch,
    /// The signer was not a coach of the relationship before the change
    /// (for an opening record: is not a coach it names).
    #[error("the record is signed by someone who was not a coach member")]
    SignerNotCoach,
    /// The bundle given to check the signature is not the one the chain
    /// names for the signer.
    #[error("the signer's key is not the one the chain names")]
    SignerKey,
    /// The Ed25519 signature does not verify.
    #[error("the record's signature is invalid")]
    Signature,
    /// An opening record must name exactly its signing coach and one client.
    #[error("an opening record names its coach and one client")]
    Opening,
}

/// One signed record of a relationship's membership chain. A value of this
/// type is canonically encoded; its signature is checked by
/// [`MembershipRecord::verify_opening`] or
/// [`MembershipRecord::verify_successor`], which need the signer's bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MembershipRecord {
    encoded: Vec<u8>,
    relationship_id: RelationshipId,
    epoch: Epoch,
    previous: RecordHash,
    signer_id: UserId,
    created_ms: u64,
    members: Vec<Member>,
}

impl MembershipRecord {
    /// Signs a record as `signer`. `members` is the complete list after the
    /// change (any order; it is sorted by user id). The record is checked
    /// to be well formed (at least one coach, no one twice, at most
    /// [`MAX_MEMBERS`]); whether the signer may sign it is checked by the
    /// verifier.
    pub fn sign(
        signer: &IdentityKeyPair,
        relationship_id: RelationshipId,
        epoch: Epoch,
        previous: RecordHash,
        created_ms: u64,
        mut members: Vec<Member>,
    ) -> Result<Self> {
        members.sort_by_key(|m| m.user_id);
        check_members(&members).map_err(|_| {
            Error::InvalidInput("a record names 1 to 64 distinct members, a coach among them")
        })?;
        let mut w = Writer::with_capacity(
            EnvelopeType::MembershipRecord,
            FIXED_LEN + members.len() * MEMBER_LEN + SIGNATURE_LEN,
        );
        w.fixed(relationship_id.as_bytes())
            .u32(epoch.0)
            .fixed(&previous.0)
            .fixed(signer.user_id().as_bytes())
            .u64(created_ms)
            .fixed(&(members.len() as u16).to_be_bytes());
        for m in &members {
            w.fixed(m.user_id.as_bytes())
                .u8(m.role as u8)
                .fixed(&m.fingerprint.0);
        }
        let mut encoded = w.finish();
        let signature = signer.sign(&signature_message(&encoded));
        encoded.extend_from_slice(&signature);
        Ok(Self {
            encoded,
            relationship_id,
            epoch,
            previous,
            signer_id: signer.user_id(),
            created_ms,
            members,
        })
    }

    /// Parses a record (shape only: the signature needs the signer's
    /// bundle). Members must be sorted by user id, strictly ascending, with
    /// a known role, 1 to [`MAX_MEMBERS`] of them, a coach among them.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(bytes, EnvelopeType::MembershipRecord)?;
        let what = r.what();
        let relationship_id = RelationshipId::from_bytes(r.array()?);
        let epoch = Epoch(r.u32()?);
        let previous = RecordHash(r.array()?);
        let signer_id = UserId::from_bytes(r.array()?);
        let created_ms = r.u64()?;
        let count = usize::from(u16::from_be_bytes(r.array()?));
        if count == 0 || count > MAX_MEMBERS {
            return Err(Error::LengthOutOfRange {
                what,
                len: count as u64,
                max: MAX_MEMBERS as u64,
            });
        }
        let mut members = Vec::with_capacity(count);
        for _ in 0..count {
            let user_id = UserId::from_bytes(r.array()?);
            let role = match r.u8()? {
                1 => MemberRole::Coach,
                2 => MemberRole::Client,
                _ => {
                    return Err(Error::InvalidField {
                        what,
                        field: "member role",
                    })
                }
            };
            let fingerprint = KeyFingerprint(r.array()?);
            members.push(Member {
                user_id,
                role,
                fingerprint,
            });
        }
        let _signature: [u8; SIGNATURE_LEN] = r.array()?;
        r.finish()?;
        check_members(&members).map_err(|field| Error::InvalidField { what, field })?;
        Ok(Self {
            encoded: bytes.to_vec(),
            relationship_id,
            epoch,
            previous,
            signer_id,
            created_ms,
            members,
        })
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        self.encoded.clone()
    }

    /// The hash the next record names as `previous`, and the wrapped keys
    /// of this epoch bind.
    pub fn hash(&self) -> RecordHash {
        let mut h = Sha256::new();
        h.update(MEMBERSHIP_HASH_LABEL.as_bytes());
        h.update([0u8]);
        h.update(&self.encoded);
        RecordHash(h.finalize().into())
    }

    /// The relationship.
    pub fn relationship_id(&self) -> RelationshipId {
        self.relationship_id
    }

    /// The epoch this record starts.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// The hash of the previous record ([`RecordHash::NONE`] when opening).
    pub fn previous(&self) -> RecordHash {
        self.previous
    }

    /// Who signed it.
    pub fn signer_id(&self) -> UserId {
        self.signer_id
    }

    /// When the signer made the change, by the signer's clock (Unix ms).
    pub fn created_ms(&self) -> u64 {
        self.created_ms
    }

    /// Every member of this epoch, sorted by user id.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The entry of `user`, if they hold this epoch.
    pub fn member(&self, user: UserId) -> Option<&Member> {
        self.members
            .binary_search_by_key(&user, |m| m.user_id)
            .ok()
            .and_then(|i| self.members.get(i))
    }

    fn is_coach(&self, user: UserId) -> bool {
        self.member(user)
            .is_some_and(|m| m.role == MemberRole::Coach)
    }

    /// The fingerprint the signature must verify under: the one this record
    /// names for the signer if it names them (a signer whose key changed
    /// signs with the new key it names), otherwise the one `previous`
    /// names.
    fn signer_fingerprint(&self, previous: Option<&Self>) -> Option<KeyFingerprint> {
        self.member(self.signer_id)
            .or_else(|| previous.and_then(|p| p.member(self.signer_id)))
            .map(|m| m.fingerprint)
    }

    fn check_signature(&self, signer: &IdentityBundle, previous: Option<&Self>) -> Result<()> {
        let fault = |f| Err(Error::Membership(f));
        if signer.user_id() != self.signer_id
            || self.signer_fingerprint(previous) != Some(signer.fingerprint())
        {
            return fault(ChainFault::SignerKey);
        }
        let (body, signature) = self.encoded.split_at(self.encoded.len() - SIGNATURE_LEN);
        let signature = Signature::from_slice(signature).map_err(|_| ChainFault::Signature)?;
        signer
            .signing_public()
            .verify_strict(&signature_message(body), &signature)
            .map_err(|_| Error::Membership(ChainFault::Signature))
    }

    /// Steps 1–5 of PROTOCOL.md §7.6.2, which need no key: this record is
    /// the next link after `previous` (or an opening record when `None`):
    /// same relationship, the next epoch, `previous`'s hash, a signer who
    /// was a coach (and, opening, its coach and one client). Run before
    /// looking up the signer's key, so that a ghost signer is named as such
    /// whether or not its key can be found.
    pub fn check_link(&self, previous: Option<&Self>) -> Result<()> {
        let fault = |f| Err(Error::Membership(f));
        let Some(previous) = previous else {
            if self.epoch != Epoch(0) {
                return fault(ChainFault::EpochNotNext);
            }
            if self.previous != RecordHash::NONE {
                return fault(ChainFault::PreviousMismatch);
            }
            if !self.is_coach(self.signer_id) {
                return fault(ChainFault::SignerNotCoach);
            }
            let clients = self
                .members
                .iter()
                .filter(|m| m.role == MemberRole::Client)
                .count();
            if self.members.len() != 2 || clients != 1 {
                return fault(ChainFault::Opening);
            }
            return Ok(());
        };
        if self.relationship_id != previous.relationship_id {
            return fault(ChainFault::WrongRelationship);
        }
        if Some(self.epoch.0) != previous.epoch.0.checked_add(1) {
            return fault(ChainFault::EpochNotNext);
        }
        if self.previous != previous.hash() {
            return fault(ChainFault::PreviousMismatch);
        }
        if !previous.is_coach(self.signer_id) {
            return fault(ChainFault::SignerNotCoach);
        }
        Ok(())
    }

    /// Checks an opening record: epoch 0, no previous record, its coach and
    /// one client, signed by that coach with `signer` (the bundle whose
    /// fingerprint the record names for them).
    pub fn verify_opening(&self, signer: &IdentityBundle) -> Result<()> {
        self.check_link(None)?;
        self.check_signature(signer, None)
    }

    /// Checks that this record is the next link after `previous`: same
    /// relationship, the next epoch, `previous`'s hash, signed by a coach
    /// of `previous` with `signer` (see [`Self::verify_opening`] for which
    /// bundle). Faults are checked in the order of [`ChainFault`].
    pub fn verify_successor(&self, previous: &Self, signer: &IdentityBundle) -> Result<()> {
        self.check_link(Some(previous))?;
        self.check_signature(signer, Some(previous))
    }

    /// The fingerprint the signature is checked under (see
    /// [`Self::verify_successor`]), for a caller looking up the bundle.
    pub fn expected_signer_fingerprint(&self, previous: Option<&Self>) -> Option<KeyFingerprint> {
        self.signer_fingerprint(previous)
    }
}

/// Sorted strictly ascending (so nobody twice), 1..=MAX_MEMBERS, a coach.
fn check_members(members: &[Member]) -> core::result::Result<(), &'static str> {
    if members.is_empty() || members.len() > MAX_MEMBERS {
        return Err("member count");
    }
    if !members
        .iter()
        .zip(members.iter().skip(1))
        .all(|(a, b)| a.user_id < b.user_id)
    {
        return Err("member order");
    }
    if !members.iter().any(|m| m.role == MemberRole::Coach) {
        return Err("member roles");
    }
    Ok(())
}

fn signature_message(body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(MEMBERSHIP_SIGNATURE_LABEL.len() + 1 + body.len());
    m.extend_from_slice(MEMBERSHIP_SIGNATURE_LABEL.as_bytes());
    m.push(0);
    m.extend_from_slice(body);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn person(rng: &mut StdRng) -> IdentityKeyPair {
        let user = UserId::random(rng);
        IdentityKeyPair::generate(rng, user)
    }

    fn entry(p: &IdentityKeyPair, role: MemberRole) -> Member {
        Member {
            user_id: p.user_id(),
            role,
            fingerprint: p.bundle().fingerprint(),
        }
    }

    struct World {
        rng: StdRng,
        coach: IdentityKeyPair,
        client: IdentityKeyPair,
        other: IdentityKeyPair,
        rid: RelationshipId,
    }

    fn world() -> World {
        let mut rng = StdRng::seed_from_u64(7);
        let coach = person(&mut rng);
        let client = person(&mut rng);
        let other = person(&mut rng);
        let rid = RelationshipId::random(&mut rng);
        World {
            rng,
            coach,
            client,
            other,
            rid,
        }
    }

    fn opening(w: &World) -> MembershipRecord {
        MembershipRecord::sign(
            &w.coach,
            w.rid,
            Epoch(0),
            RecordHash::NONE,
            1,
            vec![
                entry(&w.client, MemberRole::Client),
                entry(&w.coach, MemberRole::Coach),
            ],
        )
        .unwrap()
    }

    fn fault(r: Result<()>) -> ChainFault {
        match r {
            Err(Error::Membership(f)) => f,
            other => panic!("expected a chain fault, got {other:?}"),
        }
    }

    #[test]
    fn a_chain_verifies_and_round_trips() {
        let w = world();
        let r0 = opening(&w);
        r0.verify_opening(w.coach.bundle()).unwrap();
        assert_eq!(MembershipRecord::decode(&r0.encode()).unwrap(), r0);
        let r1 = MembershipRecord::sign(
            &w.coach,
            w.rid,
            Epoch(1),
            r0.hash(),
            2,
            vec![
                entry(&w.coach, MemberRole::Coach),
                entry(&w.client, MemberRole::Client),
                entry(&w.other, MemberRole::Coach),
            ],
        )
        .unwrap();
        r1.verify_successor(&r0, w.coach.bundle()).unwrap();
        assert_eq!(r1.members().len(), 3);
        assert!(r1.members().windows(2).all(|p| p[0].user_id < p[1].user_id));
        // The new coach may sign the next record; the client may not.
        let r2 = MembershipRecord::sign(
            &w.other,
            w.rid,
            Epoch(2),
            r1.hash(),
            3,
            vec![
                entry(&w.other, MemberRole::Coach),
                entry(&w.client, MemberRole::Client),
            ],
        )
        .unwrap();
        r2.verify_successor(&r1, w.other.bundle()).unwrap();
        let by_client = MembershipRecord::sign(
            &w.client,
            w.rid,
            Epoch(2),
            r1.hash(),
            3,
            r1.members().to_vec(),
        )
        .unwrap();
        assert_eq!(
            fault(by_client.verify_successor(&r1, w.client.bundle())),
            ChainFault::SignerNotCoach
        );
    }

    #[test]
    fn every_broken_link_is_named() {
        let mut w = world();
        let r0 = opening(&w);
        let next = |w: &World, epoch, previous, signer: &IdentityKeyPair| {
            MembershipRecord::sign(
                signer,
                w.rid,
                Epoch(epoch),
                previous,
                2,
                vec![
                    entry(&w.coach, MemberRole::Coach),
                    entry(&w.client, MemberRole::Client),
                ],
            )
            .unwrap()
        };
        let gap = next(&w, 2, r0.hash(), &w.coach);
        assert_eq!(
            fault(gap.verify_successor(&r0, w.coach.bundle())),
            ChainFault::EpochNotNext
        );
        let forked = next(&w, 1, RecordHash([9; 32]), &w.coach);
        assert_eq!(
            fault(forked.verify_successor(&r0, w.coach.bundle())),
            ChainFault::PreviousMismatch
        );
        let ghost = next(&w, 1, r0.hash(), &w.other);
        assert_eq!(
            fault(ghost.verify_successor(&r0, w.other.bundle())),
            ChainFault::SignerNotCoach
        );
        let good = next(&w, 1, r0.hash(), &w.coach);
        assert_eq!(
            fault(good.verify_successor(&r0, w.client.bundle())),
            ChainFault::SignerKey
        );
        let elsewhere = MembershipRecord::sign(
            &w.coach,
            RelationshipId::random(&mut w.rng),
            Epoch(1),
            r0.hash(),
            2,
            r0.members().to_vec(),
        )
        .unwrap();
        assert_eq!(
            fault(elsewhere.verify_successor(&r0, w.coach.bundle())),
            ChainFault::WrongRelationship
        );
        let mut bytes = good.encode();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let resigned = MembershipRecord::decode(&bytes).unwrap();
        assert_eq!(
            fault(resigned.verify_successor(&r0, w.coach.bundle())),
            ChainFault::Signature
        );
        // A coach whose key changed signs with the new key it names.
        let new_key = IdentityKeyPair::generate(&mut w.rng, w.coach.user_id());
        let rekeyed = MembershipRecord::sign(
            &new_key,
            w.rid,
            Epoch(1),
            r0.hash(),
            2,
            vec![
                entry(&new_key, MemberRole::Coach),
                entry(&w.client, MemberRole::Client),
            ],
        )
        .unwrap();
        rekeyed.verify_successor(&r0, new_key.bundle()).unwrap();
        assert_eq!(
            fault(rekeyed.verify_successor(&r0, w.coach.bundle())),
            ChainFault::SignerKey
        );
    }

    #[test]
    fn an_opening_names_its_coach_and_one_client() {
        let w = world();
        let three = MembershipRecord::sign(
            &w.coach,
            w.rid,
            Epoch(0),
            RecordHash::NONE,
            1,
            vec![
                entry(&w.coach, MemberRole::Coach),
                entry(&w.client, MemberRole::Client),
                entry(&w.other, MemberRole::Client),
            ],
        )
        .unwrap();
        assert_eq!(
            fault(three.verify_opening(w.coach.bundle())),
            ChainFault::Opening
        );
        let by_client = MembershipRecord::sign(
            &w.client,
            w.rid,
            Epoch(0),
            RecordHash::NONE,
            1,
            vec![
                entry(&w.coach, MemberRole::Coach),
                entry(&w.client, MemberRole::Client),
            ],
        )
        .unwrap();
        assert_eq!(
            fault(by_client.verify_opening(w.client.bundle())),
            ChainFault::SignerNotCoach
        );
        let r0 = opening(&w);
        assert_eq!(
            fault(r0.verify_successor(&r0, w.coach.bundle())),
            ChainFault::EpochNotNext
        );
    }

    #[test]
    fn decoding_is_strict() {
        let w = world();
        let bytes = opening(&w).encode();
        let mut swapped = bytes.clone();
        // Swap the two member entries: no longer sorted.
        let start = FIXED_LEN;
        let (a, b) = swapped[start..start + 2 * MEMBER_LEN].split_at_mut(MEMBER_LEN);
        a.swap_with_slice(b);
        assert!(matches!(
            MembershipRecord::decode(&swapped),
            Err(Error::InvalidField {
                field: "member order",
                ..
            })
        ));
        let mut role = bytes.clone();
        role[start + 16] = 3;
        assert!(matches!(
            MembershipRecord::decode(&role),
            Err(Error::InvalidField {
                field: "member role",
                ..
            })
        ));
        let mut none = bytes.clone();
        none[FIXED_LEN - 2..FIXED_LEN].copy_from_slice(&[0, 0]);
        assert!(matches!(
            MembershipRecord::decode(&none),
            Err(Error::LengthOutOfRange { .. })
        ));
        assert!(matches!(
            MembershipRecord::decode(&bytes[..bytes.len() - 1]),
            Err(Error::Truncated { .. })
        ));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            MembershipRecord::decode(&longer),
            Err(Error::TrailingBytes { .. })
        ));
    }
}
