//! Members of an organisation as its people see each other: a manager sees
//! everyone, a coach their own clients, a client their coaches. Profile
//! dates (a coach's contract end, a client's trajectory) are kept with the
//! membership.

use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::error::ApiError;
use crate::ids::{self, OrganisationId, UserId};
use crate::org::accounts::Membership;
use crate::org::role::Role;

/// A member as others in the organisation see them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Member {
    /// User id.
    #[serde(serialize_with = "ids::as_text")]
    #[schema(value_type = String)]
    pub account_id: UserId,
    /// Name.
    pub display_name: String,
    /// E-mail address.
    pub email: String,
    /// Role in this organisation.
    pub role: Role,
    /// Disabled here by a manager.
    pub disabled: bool,
    /// Coaches: end of the contract (YYYY-MM-DD).
    pub contract_end: Option<String>,
    /// Clients: start of the trajectory.
    pub trajectory_start: Option<String>,
    /// Clients: end of the trajectory.
    pub trajectory_end: Option<String>,
}

/// A date a manager keeps with a membership.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MemberDate {
    /// A coach's end of contract.
    ContractEnd,
    /// A client's start of trajectory.
    TrajectoryStart,
    /// A client's end of trajectory.
    TrajectoryEnd,
}

impl MemberDate {
    /// The field's name, in the API and as a column.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::ContractEnd => "contract_end",
            Self::TrajectoryStart => "trajectory_start",
            Self::TrajectoryEnd => "trajectory_end",
        }
    }

    /// The one role the date applies to.
    pub(crate) fn role(self) -> Role {
        match self {
            Self::ContractEnd => Role::Coach,
            Self::TrajectoryStart | Self::TrajectoryEnd => Role::Client,
        }
    }
}

const MEMBER_SELECT: &str = "SELECT a.id, a.display_name, a.email, m.role, m.disabled, \
     m.contract_end, m.trajectory_start, m.trajectory_end \
     FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE m.organisation_id = $1";

fn member_from_row(row: &sqlx::any::AnyRow) -> Result<Member, ApiError> {
    let role: String = row.try_get("role")?;
    Ok(Member {
        account_id: ids::get(row, "id")?,
        display_name: row.try_get("display_name")?,
        email: row.try_get("email")?,
        role: Role::from_stored(&role)
            .ok_or_else(|| ApiError::Internal(format!("stored role {role:?}")))?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        contract_end: row.try_get("contract_end")?,
        trajectory_start: row.try_get("trajectory_start")?,
        trajectory_end: row.try_get("trajectory_end")?,
    })
}

/// The members `viewer` (acting as `me`) may see, by name: a manager
/// everyone; a coach their own clients and the organisation's active
/// coaches (the colleagues they may add to a relationship); a client their
/// coaches.
pub(crate) async fn visible_to(
    conn: &mut AnyConnection,
    organisation_id: OrganisationId,
    me: &Membership,
    viewer_id: UserId,
) -> Result<Vec<Member>, ApiError> {
    let sql = match me.role {
        Role::Manager => format!("{MEMBER_SELECT} ORDER BY a.display_name"),
        Role::Coach => format!(
            "{MEMBER_SELECT} AND ((m.role = 'coach' AND m.disabled = 0) OR m.account_id IN (SELECT client_id \
             FROM coach_clients WHERE organisation_id = $1 AND coach_id = $2)) \
             ORDER BY a.display_name"
        ),
        Role::Client => format!(
            "{MEMBER_SELECT} AND m.account_id IN (SELECT coach_id FROM coach_clients \
             WHERE organisation_id = $1 AND client_id = $2) ORDER BY a.display_name"
        ),
    };
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(organisation_id.to_string());
    if me.role != Role::Manager {
        query = query.bind(viewer_id.to_string());
    }
    let rows = query.fetch_all(conn).await?;
    let mut members = rows
        .iter()
        .map(member_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    if me.role != Role::Manager {
        // Contract and trajectory dates are the organisation's business.
        for m in &mut members {
            m.contract_end = None;
            m.trajectory_start = None;
            m.trajectory_end = None;
        }
    }
    Ok(members)
}

/// One member, as a manager sees them.
pub(crate) async fn one(
    conn: &mut AnyConnection,
    organisation_id: OrganisationId,
    account_id: UserId,
) -> Result<Member, ApiError> {
    let sql = format!("{MEMBER_SELECT} AND m.account_id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(organisation_id.to_string())
        .bind(account_id.to_string())
        .fetch_one(conn)
        .await?;
    member_from_row(&row)
}

/// Sets (or with `None` clears) one of a membership's dates.
pub(crate) async fn set_date(
    conn: &mut AnyConnection,
    organisation_id: OrganisationId,
    account_id: UserId,
    which: MemberDate,
    date: Option<String>,
) -> Result<(), ApiError> {
    // The column comes from the enum, never from input.
    let sql = format!(
        "UPDATE memberships SET {} = $1 WHERE organisation_id = $2 AND account_id = $3",
        which.name()
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(date)
        .bind(organisation_id.to_string())
        .bind(account_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}
