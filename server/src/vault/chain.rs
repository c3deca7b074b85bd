//! The membership chain (PROTOCOL.md §7.6): the signed record of every
//! epoch of a relationship. The server cannot write a record — each is
//! signed by a coach — and members verify the chain themselves; what the
//! server checks here only keeps a confused or buggy client from storing a
//! record the members would refuse: it decodes, continues the stored
//! chain, names exactly the members and roles the change leaves and each
//! one's current key, and is signed by the caller with their current key.

use kluis_crypto::identity::IdentityBundle;
use kluis_crypto::membership::{MemberRole, MembershipRecord};
use sqlx::{AnyConnection, Row};

use crate::error::{ApiError, ErrorCode};
use crate::ids::{RelationshipId, UserId};
use crate::org::role::Role;
use crate::vault::envelope::rejected;
use crate::vault::key_directory;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(ErrorCode::MembershipRecordInvalid, message)
}

fn role_of(role: MemberRole) -> Role {
    match role {
        MemberRole::Coach => Role::Coach,
        MemberRole::Client => Role::Client,
    }
}

/// Checks the record of a new epoch `epoch` of `relationship_id`, made by
/// `signer` for exactly `members` (each with their role), against the
/// stored chain. `relationship_id` is `None` when the request named the
/// relationship by text that is no stored id: no record can name it.
pub(crate) async fn check(
    conn: &mut AnyConnection,
    relationship_id: Option<RelationshipId>,
    epoch: i64,
    signer: UserId,
    members: &[(UserId, Role)],
    bytes: &[u8],
) -> Result<MembershipRecord, ApiError> {
    let record = MembershipRecord::decode(bytes).map_err(|e| rejected("membership record", e))?;
    if Some(record.relationship_id()) != relationship_id || i64::from(record.epoch().0) != epoch {
        return Err(invalid("the record names another relationship or epoch"));
    }
    if record.signer_id() != signer {
        return Err(invalid(
            "the record is signed by someone else than the caller",
        ));
    }
    let mut named: Vec<(UserId, Role)> = record
        .members()
        .iter()
        .map(|m| (m.user_id, role_of(m.role)))
        .collect();
    let mut expected = members.to_vec();
    named.sort_by_key(|(user, _)| *user);
    expected.sort_by_key(|(user, _)| *user);
    if named != expected {
        return Err(invalid(
            "the record names other members or roles than the change leaves",
        ));
    }
    for m in record.members() {
        let current = key_directory::current_fingerprint(&mut *conn, m.user_id)
            .await?
            .ok_or_else(|| {
                ApiError::conflict(
                    ErrorCode::KeysMissing,
                    "a member has not published keys yet",
                )
            })?;
        if current != m.fingerprint.0 {
            return Err(ApiError::conflict(
                ErrorCode::StaleFingerprint,
                "the record names a member's old keys; fetch their current bundle",
            ));
        }
    }
    let signer_bundle = key_directory::own(&mut *conn, signer)
        .await?
        .ok_or_else(|| ApiError::conflict(ErrorCode::KeysMissing, "publish your keys first"))?;
    let signer_bundle = IdentityBundle::decode(&signer_bundle.bundle)
        .map_err(|_| ApiError::Internal("a stored bundle does not decode".into()))?;
    let verified = match epoch {
        0 => record.verify_opening(&signer_bundle),
        _ => {
            let previous = latest(&mut *conn, record.relationship_id())
                .await?
                .ok_or_else(|| invalid("this relationship has no membership chain"))?;
            record.verify_successor(&previous, &signer_bundle)
        }
    };
    verified.map_err(|e| invalid(format!("the record does not continue the chain: {e}")))?;
    Ok(record)
}

/// Stores a checked record.
pub(crate) async fn store(
    conn: &mut AnyConnection,
    record: &MembershipRecord,
    now: i64,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO membership_records (relationship_id, epoch, signer_id, record, created_ms) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(record.relationship_id().to_string())
    .bind(i64::from(record.epoch().0))
    .bind(record.signer_id().to_string())
    .bind(record.encode())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The newest stored record of a relationship.
async fn latest(
    conn: &mut AnyConnection,
    relationship_id: RelationshipId,
) -> Result<Option<MembershipRecord>, ApiError> {
    let row = sqlx::query(
        "SELECT record FROM membership_records WHERE relationship_id = $1 \
         ORDER BY epoch DESC LIMIT 1",
    )
    .bind(relationship_id.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        let bytes: Vec<u8> = r.try_get("record")?;
        MembershipRecord::decode(&bytes)
            .map_err(|_| ApiError::Internal("a stored membership record does not decode".into()))
    })
    .transpose()
}

/// The records of epochs `0..=up_to` (all of them with `None`), oldest
/// first.
pub(crate) async fn records(
    conn: &mut AnyConnection,
    relationship_id: RelationshipId,
    up_to: Option<i64>,
) -> Result<Vec<(i64, Vec<u8>)>, ApiError> {
    let rows = sqlx::query(
        "SELECT epoch, record FROM membership_records WHERE relationship_id = $1 \
         AND epoch <= $2 ORDER BY epoch",
    )
    .bind(relationship_id.to_string())
    .bind(up_to.unwrap_or(i64::MAX))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("epoch")?, r.try_get("record")?)))
        .collect()
}
