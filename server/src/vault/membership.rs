//! Who may join or leave a relationship in a new epoch, decided without
//! the database: the route looks up what each joining account is, and this
//! says whether the change is allowed and who the members are afterwards.
//! Kept pure so that every rule has a unit test.

use std::collections::BTreeSet;

use crate::error::{ApiError, ErrorCode};
use crate::ids::UserId;
use crate::org::role::Role;
use crate::vault::relationships::Member;

/// What an account asked to join is, for the coach making the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Candidate {
    /// An active coach of the organisation.
    Coach,
    /// An active client the coach invited.
    OwnClient,
    /// An active client someone else invited.
    OtherClient,
    /// A manager, a stranger, or a disabled member: never.
    Refused,
}

/// The members of the next epoch.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct EpochPlan {
    /// Everyone who holds the new epoch.
    pub(crate) after: BTreeSet<UserId>,
    /// Who leaves.
    pub(crate) leaving: Vec<UserId>,
    /// Who joins (or comes back), with their role.
    pub(crate) joining: Vec<(UserId, Role)>,
}

/// Checks a change of members: only current members leave, nobody joins
/// twice, only coaches and the caller's own clients join, and at least one
/// coach stays. Errors come in that order, so a request gets the same
/// answer whatever else is wrong with it. An entry of `remove` or `add`
/// that names no account (`None`: not an account id) is refused where it
/// stands, as an account that is no member, or one that cannot join.
pub(crate) fn plan_epoch(
    members: &[Member],
    remove: &[Option<UserId>],
    add: &[Option<(UserId, Candidate)>],
) -> Result<EpochPlan, ApiError> {
    let mut after: BTreeSet<UserId> = members
        .iter()
        .filter(|m| m.is_current())
        .map(|m| m.account_id)
        .collect();
    let mut leaving = Vec::with_capacity(remove.len());
    for gone in remove {
        match gone {
            Some(gone) if after.remove(gone) => leaving.push(*gone),
            _ => {
                return Err(ApiError::bad_request(
                    ErrorCode::NotAMember,
                    "only current members can be removed",
                ))
            }
        }
    }
    let mut joining = Vec::new();
    for proposed in add {
        let Some((new, candidate)) = proposed else {
            return Err(cannot_join());
        };
        if after.contains(new) {
            return Err(ApiError::bad_request(
                ErrorCode::AlreadyMember,
                "this account is already a member",
            ));
        }
        let role = match candidate {
            Candidate::Coach => Role::Coach,
            Candidate::OwnClient => Role::Client,
            Candidate::OtherClient => {
                return Err(ApiError::bad_request(
                    ErrorCode::NotYourClient,
                    "a coach adds clients they invited",
                ))
            }
            Candidate::Refused => return Err(cannot_join()),
        };
        after.insert(*new);
        joining.push((*new, role));
    }
    let coaches_left = members
        .iter()
        .filter(|m| m.is_current() && m.role == Role::Coach && after.contains(&m.account_id))
        .count()
        + joining.iter().filter(|(_, r)| *r == Role::Coach).count();
    if coaches_left == 0 {
        return Err(ApiError::conflict(
            ErrorCode::NoCoachLeft,
            "a relationship keeps at least one coach",
        ));
    }
    Ok(EpochPlan {
        after,
        leaving,
        joining,
    })
}

fn cannot_join() -> ApiError {
    ApiError::bad_request(
        ErrorCode::CannotJoin,
        "only active coaches and clients of the organisation can join",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A made-up account id that reads as its name in a failing test.
    fn id(name: &str) -> UserId {
        let mut bytes = [0u8; 16];
        for (slot, byte) in bytes.iter_mut().zip(name.bytes()) {
            *slot = byte;
        }
        UserId::from_bytes(bytes)
    }

    fn member(name: &str, role: Role, joined: i64, left: Option<i64>) -> Member {
        Member {
            account_id: id(name),
            role,
            joined_epoch: joined,
            left_epoch: left,
        }
    }

    /// Coach `c1`, client `k1`; `c0` was a coach and left at epoch 1.
    fn start() -> Vec<Member> {
        vec![
            member("c0", Role::Coach, 0, Some(1)),
            member("c1", Role::Coach, 0, None),
            member("k1", Role::Client, 0, None),
        ]
    }

    fn ids(list: &[&str]) -> BTreeSet<UserId> {
        list.iter().map(|s| id(s)).collect()
    }

    fn leaving(list: &[&str]) -> Vec<Option<UserId>> {
        list.iter().map(|s| Some(id(s))).collect()
    }

    fn joining(list: &[(&str, Candidate)]) -> Vec<Option<(UserId, Candidate)>> {
        list.iter().map(|(s, c)| Some((id(s), *c))).collect()
    }

    fn code(result: Result<EpochPlan, ApiError>) -> &'static str {
        match result {
            Err(e) => e.status_and_code().1.as_str(),
            Ok(_) => "ok",
        }
    }

    #[test]
    fn rotation_keeps_the_current_members() {
        let plan = plan_epoch(&start(), &[], &[]).unwrap();
        assert_eq!(plan.after, ids(&["c1", "k1"]));
        assert!(plan.leaving.is_empty());
        assert!(plan.joining.is_empty());
    }

    #[test]
    fn a_coach_and_an_own_client_join() {
        let add = joining(&[("c2", Candidate::Coach), ("k2", Candidate::OwnClient)]);
        let plan = plan_epoch(&start(), &[], &add).unwrap();
        assert_eq!(plan.after, ids(&["c1", "c2", "k1", "k2"]));
        assert_eq!(
            plan.joining,
            vec![(id("c2"), Role::Coach), (id("k2"), Role::Client)]
        );
    }

    #[test]
    fn a_former_member_may_come_back() {
        let plan = plan_epoch(&start(), &[], &joining(&[("c0", Candidate::Coach)])).unwrap();
        assert!(plan.after.contains(&id("c0")));
        assert_eq!(plan.joining, vec![(id("c0"), Role::Coach)]);
    }

    #[test]
    fn only_current_members_leave() {
        assert_eq!(
            code(plan_epoch(&start(), &leaving(&["c0"]), &[])),
            "not_a_member"
        );
        assert_eq!(
            code(plan_epoch(&start(), &leaving(&["x"]), &[])),
            "not_a_member"
        );
        assert_eq!(
            code(plan_epoch(&start(), &leaving(&["k1", "k1"]), &[])),
            "not_a_member"
        );
        assert_eq!(code(plan_epoch(&start(), &[None], &[])), "not_a_member");
        let plan = plan_epoch(
            &start(),
            &leaving(&["k1"]),
            &joining(&[("k2", Candidate::OwnClient)]),
        )
        .unwrap();
        assert_eq!(plan.leaving, vec![id("k1")]);
        assert_eq!(plan.after, ids(&["c1", "k2"]));
    }

    #[test]
    fn nobody_joins_twice() {
        assert_eq!(
            code(plan_epoch(
                &start(),
                &[],
                &joining(&[("k1", Candidate::OwnClient)])
            )),
            "already_member"
        );
        let twice = joining(&[("c2", Candidate::Coach), ("c2", Candidate::Coach)]);
        assert_eq!(code(plan_epoch(&start(), &[], &twice)), "already_member");
    }

    #[test]
    fn only_coaches_and_own_clients_join() {
        let other = joining(&[("k2", Candidate::OtherClient)]);
        assert_eq!(code(plan_epoch(&start(), &[], &other)), "not_your_client");
        let refused = joining(&[("m1", Candidate::Refused)]);
        assert_eq!(code(plan_epoch(&start(), &[], &refused)), "cannot_join");
        assert_eq!(code(plan_epoch(&start(), &[], &[None])), "cannot_join");
    }

    #[test]
    fn an_entry_that_is_no_account_is_refused_where_it_stands() {
        let mut add = joining(&[("k1", Candidate::OwnClient)]);
        add.push(None);
        assert_eq!(code(plan_epoch(&start(), &[], &add)), "already_member");
        let mut add = vec![None];
        add.extend(joining(&[("k1", Candidate::OwnClient)]));
        assert_eq!(code(plan_epoch(&start(), &[], &add)), "cannot_join");
    }

    #[test]
    fn a_relationship_keeps_a_coach() {
        assert_eq!(
            code(plan_epoch(&start(), &leaving(&["c1"]), &[])),
            "no_coach_left"
        );
        // Handing over to a new coach in the same epoch is allowed.
        let plan = plan_epoch(
            &start(),
            &leaving(&["c1"]),
            &joining(&[("c2", Candidate::Coach)]),
        )
        .unwrap();
        assert_eq!(plan.after, ids(&["c2", "k1"]));
        // A client joining does not count as a coach.
        let only_client = joining(&[("k2", Candidate::OwnClient)]);
        assert_eq!(
            code(plan_epoch(&start(), &leaving(&["c1"]), &only_client)),
            "no_coach_left"
        );
    }

    #[test]
    fn leaving_is_checked_before_joining() {
        let add = joining(&[("m1", Candidate::Refused)]);
        assert_eq!(
            code(plan_epoch(&start(), &leaving(&["x"]), &add)),
            "not_a_member"
        );
    }
}
