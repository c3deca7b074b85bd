//! Who may join or leave a relationship in a new epoch, decided without
//! the database: the route looks up what each joining account is, and this
//! says whether the change is allowed and who the members are afterwards.
//! Kept pure so that every rule has a unit test.

use std::collections::BTreeSet;

use crate::error::{ApiError, ErrorCode};
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
    pub(crate) after: BTreeSet<String>,
    /// Who joins (or comes back), with their role.
    pub(crate) joining: Vec<(String, Role)>,
}

/// Checks a change of members: only current members leave, nobody joins
/// twice, only coaches and the caller's own clients join, and at least one
/// coach stays. Errors come in that order, so a request gets the same
/// answer whatever else is wrong with it.
pub(crate) fn plan_epoch(
    members: &[Member],
    remove: &[String],
    add: &[(String, Candidate)],
) -> Result<EpochPlan, ApiError> {
    let mut after: BTreeSet<String> = members
        .iter()
        .filter(|m| m.is_current())
        .map(|m| m.account_id.clone())
        .collect();
    for gone in remove {
        if !after.remove(gone) {
            return Err(ApiError::bad_request(
                ErrorCode::NotAMember,
                "only current members can be removed",
            ));
        }
    }
    let mut joining = Vec::new();
    for (new, candidate) in add {
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
            Candidate::Refused => {
                return Err(ApiError::bad_request(
                    ErrorCode::CannotJoin,
                    "only active coaches and clients of the organisation can join",
                ))
            }
        };
        after.insert(new.clone());
        joining.push((new.clone(), role));
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
    Ok(EpochPlan { after, joining })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, role: Role, joined: i64, left: Option<i64>) -> Member {
        Member {
            account_id: id.to_owned(),
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

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
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
        assert_eq!(plan.after, ids(&["c1", "k1"]).into_iter().collect());
        assert!(plan.joining.is_empty());
    }

    #[test]
    fn a_coach_and_an_own_client_join() {
        let add = [
            ("c2".to_owned(), Candidate::Coach),
            ("k2".to_owned(), Candidate::OwnClient),
        ];
        let plan = plan_epoch(&start(), &[], &add).unwrap();
        assert_eq!(
            plan.after,
            ids(&["c1", "c2", "k1", "k2"]).into_iter().collect()
        );
        assert_eq!(
            plan.joining,
            vec![
                ("c2".to_owned(), Role::Coach),
                ("k2".to_owned(), Role::Client)
            ]
        );
    }

    #[test]
    fn a_former_member_may_come_back() {
        let plan = plan_epoch(&start(), &[], &[("c0".to_owned(), Candidate::Coach)]).unwrap();
        assert!(plan.after.contains("c0"));
        assert_eq!(plan.joining, vec![("c0".to_owned(), Role::Coach)]);
    }

    #[test]
    fn only_current_members_leave() {
        assert_eq!(
            code(plan_epoch(&start(), &ids(&["c0"]), &[])),
            "not_a_member"
        );
        assert_eq!(
            code(plan_epoch(&start(), &ids(&["x"]), &[])),
            "not_a_member"
        );
        assert_eq!(
            code(plan_epoch(&start(), &ids(&["k1", "k1"]), &[])),
            "not_a_member"
        );
    }

    #[test]
    fn nobody_joins_twice() {
        assert_eq!(
            code(plan_epoch(
                &start(),
                &[],
                &[("k1".to_owned(), Candidate::OwnClient)]
            )),
            "already_member"
        );
        let twice = [
            ("c2".to_owned(), Candidate::Coach),
            ("c2".to_owned(), Candidate::Coach),
        ];
        assert_eq!(code(plan_epoch(&start(), &[], &twice)), "already_member");
    }

    #[test]
    fn only_coaches_and_own_clients_join() {
        let other = [("k2".to_owned(), Candidate::OtherClient)];
        assert_eq!(code(plan_epoch(&start(), &[], &other)), "not_your_client");
        let refused = [("m1".to_owned(), Candidate::Refused)];
        assert_eq!(code(plan_epoch(&start(), &[], &refused)), "cannot_join");
    }

    #[test]
    fn a_relationship_keeps_a_coach() {
        assert_eq!(
            code(plan_epoch(&start(), &ids(&["c1"]), &[])),
            "no_coach_left"
        );
        // Handing over to a new coach in the same epoch is allowed.
        let plan = plan_epoch(
            &start(),
            &ids(&["c1"]),
            &[("c2".to_owned(), Candidate::Coach)],
        )
        .unwrap();
        assert_eq!(plan.after, ids(&["c2", "k1"]).into_iter().collect());
        // A client joining does not count as a coach.
        let only_client = [("k2".to_owned(), Candidate::OwnClient)];
        assert_eq!(
            code(plan_epoch(&start(), &ids(&["c1"]), &only_client)),
            "no_coach_left"
        );
    }

    #[test]
    fn leaving_is_checked_before_joining() {
        let add = [("m1".to_owned(), Candidate::Refused)];
        assert_eq!(
            code(plan_epoch(&start(), &ids(&["x"]), &add)),
            "not_a_member"
        );
    }
}
