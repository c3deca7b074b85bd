//! Relationships (trajectories) and their epochs. Each epoch has exactly
//! one wrapped key per member of that epoch, addressed with the member's
//! current key fingerprint and sent by the coach who made the epoch
//! (PROTOCOL.md §7). Never a manager, never a non-member: the server
//! refuses an epoch whose keys address anyone else, or not everyone.

use std::collections::BTreeSet;

use kluis_crypto::relationship::WrappedRelationshipKey;
use sqlx::{AnyConnection, Row};

use crate::error::{ApiError, ErrorCode};
use crate::ids::{self, OrganisationId, RelationshipId, UserId};
use crate::org::accounts;
use crate::org::role::Role;
use crate::vault::envelope::{mismatch, rejected};
use crate::vault::key_directory;
use crate::vault::membership::Candidate;

/// A relationship.
#[derive(Clone, Debug)]
pub struct Relationship {
    /// Id (chosen by the client that opened it).
    pub id: RelationshipId,
    /// The organisation it belongs to.
    pub organisation_id: OrganisationId,
    /// The newest epoch.
    pub current_epoch: i64,
    /// Trajectory start (YYYY-MM-DD).
    pub trajectory_start: Option<String>,
    /// Trajectory end (YYYY-MM-DD).
    pub trajectory_end: Option<String>,
}

/// A member, over time.
#[derive(Clone, Debug)]
pub struct Member {
    /// The account.
    pub account_id: UserId,
    /// Coach or client.
    pub role: Role,
    /// First epoch held.
    pub joined_epoch: i64,
    /// First epoch no longer held; `None` while a member.
    pub left_epoch: Option<i64>,
}

impl Member {
    /// Still a member.
    pub fn is_current(&self) -> bool {
        self.left_epoch.is_none()
    }

    /// Whether this member holds (was sent the key of) `epoch`.
    pub fn holds(&self, epoch: i64) -> bool {
        epoch >= self.joined_epoch && self.left_epoch.is_none_or(|left| epoch < left)
    }
}

/// Loads a relationship.
pub(crate) async fn load(
    conn: &mut AnyConnection,
    id: RelationshipId,
) -> Result<Option<Relationship>, ApiError> {
    let row = sqlx::query(
        "SELECT id, organisation_id, current_epoch, trajectory_start, trajectory_end \
         FROM relationships WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(Relationship {
            id: ids::get(&r, "id")?,
            organisation_id: ids::get(&r, "organisation_id")?,
            current_epoch: r.try_get("current_epoch")?,
            trajectory_start: r.try_get("trajectory_start")?,
            trajectory_end: r.try_get("trajectory_end")?,
        })
    })
    .transpose()
}

/// Every member a relationship ever had.
pub(crate) async fn members(
    conn: &mut AnyConnection,
    id: RelationshipId,
) -> Result<Vec<Member>, ApiError> {
    let rows = sqlx::query(
        "SELECT account_id, role, joined_epoch, left_epoch FROM relationship_members \
         WHERE relationship_id = $1 ORDER BY joined_epoch, account_id",
    )
    .bind(id.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let role: String = r.try_get("role")?;
            Ok(Member {
                account_id: ids::get(r, "account_id")?,
                role: Role::from_stored(&role)
                    .ok_or_else(|| ApiError::Internal(format!("stored role {role:?}")))?,
                joined_epoch: r.try_get("joined_epoch")?,
                left_epoch: r.try_get("left_epoch")?,
            })
        })
        .collect()
}

/// A relationship as one of its (current or former) members sees it.
#[derive(Debug)]
pub struct Seen {
    /// The relationship.
    pub relationship: Relationship,
    /// All its members.
    pub members: Vec<Member>,
    /// The caller among them.
    pub me: Member,
}

/// The relationship if the caller is or was a member of it, and only then
/// (anyone else gets `404`: not even its existence is shown). A member
/// whose account is disabled in the organisation gets `403`.
pub(crate) async fn as_member(
    conn: &mut AnyConnection,
    id: RelationshipId,
    account_id: UserId,
) -> Result<Seen, ApiError> {
    let relationship = load(&mut *conn, id).await?.ok_or(ApiError::NotFound)?;
    let members = members(&mut *conn, id).await?;
    let me = members
        .iter()
        .find(|m| m.account_id == account_id)
        .cloned()
        .ok_or(ApiError::NotFound)?;
    crate::org::accounts::acting_member(&mut *conn, relationship.organisation_id, account_id)
        .await?;
    Ok(Seen {
        relationship,
        members,
        me,
    })
}

/// Checks the wrapped keys of one epoch: each decodes, names this
/// relationship, this epoch and this sender, and addresses one of
/// `recipients` with that recipient's current key fingerprint; together they
/// address every recipient exactly once. Returns (recipient, envelope)
/// pairs to store. `relationship_id` is `None` when the request names the
/// relationship by text that is not the stored form of an id: no key can
/// name it.
pub(crate) async fn check_epoch_keys(
    conn: &mut AnyConnection,
    relationship_id: Option<RelationshipId>,
    epoch: i64,
    sender_id: UserId,
    recipients: &BTreeSet<UserId>,
    keys: &[Vec<u8>],
) -> Result<Vec<(UserId, Vec<u8>)>, ApiError> {
    let mut addressed = BTreeSet::new();
    let mut out = Vec::with_capacity(keys.len());
    for bytes in keys {
        let key = WrappedRelationshipKey::decode(bytes)
            .map_err(|e| rejected("wrapped relationship key", e))?;
        if Some(key.relationship_id()) != relationship_id {
            return Err(mismatch("a wrapped key names another relationship"));
        }
        if i64::from(key.epoch().0) != epoch {
            return Err(mismatch("a wrapped key names another epoch"));
        }
        if key.sender_id() != sender_id {
            return Err(mismatch("a wrapped key names another sender"));
        }
        let recipient = key.recipient_id();
        if !recipients.contains(&recipient) {
            return Err(ApiError::bad_request(
                ErrorCode::NotAMember,
                "a wrapped key is addressed to someone who is not a member of this epoch",
            ));
        }
        if !addressed.insert(recipient) {
            return Err(ApiError::bad_request(
                ErrorCode::DuplicateRecipient,
                "two wrapped keys address the same member",
            ));
        }
        let current = key_directory::current_fingerprint(&mut *conn, recipient)
            .await?
            .ok_or_else(|| {
                ApiError::conflict(
                    ErrorCode::KeysMissing,
                    "a member has not published keys yet",
                )
            })?;
        if current != key.recipient_fingerprint().0 {
            return Err(ApiError::conflict(
                ErrorCode::StaleFingerprint,
                "a wrapped key is addressed to a member's old keys; fetch their current bundle",
            ));
        }
        out.push((recipient, bytes.clone()));
    }
    if addressed.len() != recipients.len() {
        return Err(ApiError::bad_request(
            ErrorCode::MissingRecipient,
            "every member of the epoch needs a wrapped key",
        ));
    }
    Ok(out)
}

/// Stores checked wrapped keys.
pub(crate) async fn store_epoch_keys(
    conn: &mut AnyConnection,
    relationship_id: RelationshipId,
    epoch: i64,
    sender_id: UserId,
    keys: &[(UserId, Vec<u8>)],
    now: i64,
) -> Result<(), ApiError> {
    for (recipient, envelope) in keys {
        sqlx::query(
            "INSERT INTO wrapped_keys (relationship_id, epoch, recipient_id, sender_id, envelope, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(relationship_id.to_string())
        .bind(epoch)
        .bind(recipient.to_string())
        .bind(sender_id.to_string())
        .bind(envelope)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The wrapped keys addressed to one member, every epoch they hold.
pub(crate) async fn keys_of(
    conn: &mut AnyConnection,
    relationship_id: RelationshipId,
    account_id: UserId,
) -> Result<Vec<(i64, Vec<u8>)>, ApiError> {
    let rows = sqlx::query(
        "SELECT epoch, envelope FROM wrapped_keys WHERE relationship_id = $1 AND recipient_id = $2 \
         ORDER BY epoch",
    )
    .bind(relationship_id.to_string())
    .bind(account_id.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("epoch")?, r.try_get("envelope")?)))
        .collect()
}

/// Deletes the relationships in which the account is the client, with
/// everything in them (items, notes, wrapped keys, files: ON DELETE
/// CASCADE).
pub(crate) async fn delete_where_client(
    conn: &mut AnyConnection,
    account_id: UserId,
) -> Result<(), ApiError> {
    sqlx::query(
        "DELETE FROM relationships WHERE id IN (SELECT relationship_id FROM relationship_members \
         WHERE account_id = $1 AND role = 'client')",
    )
    .bind(account_id.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// Opens a relationship at epoch 0 with its coach and client.
pub(crate) async fn create(
    conn: &mut AnyConnection,
    id: RelationshipId,
    organisation_id: OrganisationId,
    coach_id: UserId,
    client_id: UserId,
    now: i64,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO relationships (id, organisation_id, created_by, current_epoch, created_ms) \
         VALUES ($1, $2, $3, 0, $4)",
    )
    .bind(id.to_string())
    .bind(organisation_id.to_string())
    .bind(coach_id.to_string())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    for (account, role) in [(coach_id, Role::Coach), (client_id, Role::Client)] {
        add_member(&mut *conn, id, account, role, 0).await?;
    }
    Ok(())
}

async fn add_member(
    conn: &mut AnyConnection,
    relationship_id: RelationshipId,
    account_id: UserId,
    role: Role,
    epoch: i64,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO relationship_members (relationship_id, account_id, role, joined_epoch) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(relationship_id.to_string())
    .bind(account_id.to_string())
    .bind(role.as_str())
    .bind(epoch)
    .execute(conn)
    .await?;
    Ok(())
}

/// The ids of an organisation's relationships, oldest first.
pub(crate) async fn ids_in_organisation(
    conn: &mut AnyConnection,
    organisation_id: OrganisationId,
) -> Result<Vec<RelationshipId>, ApiError> {
    sqlx::query("SELECT id FROM relationships WHERE organisation_id = $1 ORDER BY created_ms")
        .bind(organisation_id.to_string())
        .fetch_all(conn)
        .await?
        .iter()
        .map(|r| ids::get(r, "id"))
        .collect()
}

/// The ids of the relationships an account is or was a member of, in
/// organisations where its membership is not disabled; oldest first.
pub(crate) async fn ids_of_member(
    conn: &mut AnyConnection,
    account_id: UserId,
) -> Result<Vec<RelationshipId>, ApiError> {
    sqlx::query(
        "SELECT rm.relationship_id FROM relationship_members rm \
         JOIN relationships r ON r.id = rm.relationship_id \
         JOIN memberships m ON m.organisation_id = r.organisation_id AND m.account_id = rm.account_id \
         WHERE rm.account_id = $1 AND m.disabled = 0 ORDER BY r.created_ms",
    )
    .bind(account_id.to_string())
    .fetch_all(conn)
    .await?
    .iter()
    .map(|r| ids::get(r, "relationship_id"))
    .collect()
}

/// A relationship an account is or was in, as the right of access shows
/// it: its place, never its content.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Place {
    /// The relationship.
    pub relationship_id: String,
    /// Its organisation.
    pub organisation_id: String,
    /// The account's role in it.
    pub role: String,
    /// The epoch the account joined at.
    pub joined_epoch: i64,
    /// The epoch it left at, if it did.
    pub left_epoch: Option<i64>,
    /// Trajectory dates, YYYY-MM-DD.
    pub trajectory_start: Option<String>,
    /// Trajectory dates, YYYY-MM-DD.
    pub trajectory_end: Option<String>,
    /// When the relationship was opened, Unix ms.
    pub created_ms: i64,
}

/// Every relationship the account is or was in, oldest first.
pub(crate) async fn places_of(
    conn: &mut AnyConnection,
    account_id: UserId,
) -> Result<Vec<Place>, ApiError> {
    let rows = sqlx::query(
        "SELECT r.id, r.organisation_id, rm.role, rm.joined_epoch, rm.left_epoch, \
         r.trajectory_start, r.trajectory_end, r.created_ms FROM relationship_members rm \
         JOIN relationships r ON r.id = rm.relationship_id WHERE rm.account_id = $1 \
         ORDER BY r.created_ms, r.id",
    )
    .bind(account_id.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Place {
                relationship_id: r.try_get("id")?,
                organisation_id: r.try_get("organisation_id")?,
                role: r.try_get("role")?,
                joined_epoch: r.try_get("joined_epoch")?,
                left_epoch: r.try_get("left_epoch")?,
                trajectory_start: r.try_get("trajectory_start")?,
                trajectory_end: r.try_get("trajectory_end")?,
                created_ms: r.try_get("created_ms")?,
            })
        })
        .collect()
}

/// A trajectory date of a relationship.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TrajectoryDate {
    /// When the trajectory started.
    Start,
    /// When it ended.
    End,
}

impl TrajectoryDate {
    /// The field's name, in the API and as a column.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Start => "trajectory_start",
            Self::End => "trajectory_end",
        }
    }
}

/// Sets (or with `None` clears) a trajectory date.
pub(crate) async fn set_date(
    conn: &mut AnyConnection,
    id: RelationshipId,
    which: TrajectoryDate,
    date: Option<String>,
) -> Result<(), ApiError> {
    // The column comes from the enum, never from input.
    let sql = format!(
        "UPDATE relationships SET {} = $1 WHERE id = $2",
        which.name()
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(date)
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Moves the relationship from epoch `current` to `current + 1` with the
/// planned members, compare-and-set: `false` (and nothing changed) when
/// another epoch was made first.
pub(crate) async fn advance_epoch(
    conn: &mut AnyConnection,
    id: RelationshipId,
    current: i64,
    remove: &[UserId],
    joining: &[(UserId, Role)],
) -> Result<bool, ApiError> {
    let epoch = current + 1;
    let moved = sqlx::query(
        "UPDATE relationships SET current_epoch = $1 WHERE id = $2 AND current_epoch = $3",
    )
    .bind(epoch)
    .bind(id.to_string())
    .bind(current)
    .execute(&mut *conn)
    .await?;
    if moved.rows_affected() != 1 {
        return Ok(false);
    }
    for gone in remove {
        sqlx::query(
            "UPDATE relationship_members SET left_epoch = $1 WHERE relationship_id = $2 AND account_id = $3",
        )
        .bind(epoch)
        .bind(id.to_string())
        .bind(gone.to_string())
        .execute(&mut *conn)
        .await?;
    }
    for (new, role) in joining {
        // A former member who comes back holds the new epochs again; the
        // epochs missed in between stay unheld.
        sqlx::query(
            "DELETE FROM relationship_members WHERE relationship_id = $1 AND account_id = $2",
        )
        .bind(id.to_string())
        .bind(new.to_string())
        .execute(&mut *conn)
        .await?;
        add_member(&mut *conn, id, *new, *role, epoch).await?;
    }
    Ok(true)
}

/// What `account_id` would join a relationship of the organisation as,
/// when `coach_id` adds them.
pub(crate) async fn candidate(
    conn: &mut AnyConnection,
    organisation_id: OrganisationId,
    coach_id: UserId,
    account_id: UserId,
) -> Result<Candidate, ApiError> {
    Ok(
        match accounts::membership(&mut *conn, organisation_id, account_id).await? {
            Some(m) if !m.disabled && m.role == Role::Coach => Candidate::Coach,
            Some(m) if !m.disabled && m.role == Role::Client => {
                if accounts::is_client_of(conn, organisation_id, coach_id, account_id).await? {
                    Candidate::OwnClient
                } else {
                    Candidate::OtherClient
                }
            }
            _ => Candidate::Refused,
        },
    )
}
