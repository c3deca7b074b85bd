//! Who may see whose public keys: people who share (or shared) a
//! relationship, a coach and the client they invited, an inviter and the
//! invitee of an invitation (pending or accepted), and two active coaches of
//! one organisation (a coach must wrap the relationship key to a colleague
//! before adding them as second coach, so before they share anything). No
//! one else — there is no directory listing and no lookup by e-mail.

use sqlx::AnyConnection;

use crate::error::ApiError;
use crate::ids::UserId;

/// Whether `a` may see `b`'s keys (always true for oneself).
pub(crate) async fn are_peers(
    conn: &mut AnyConnection,
    a: UserId,
    b: UserId,
) -> Result<bool, ApiError> {
    if a == b {
        return Ok(true);
    }
    let row = sqlx::query(
        "SELECT 1 AS peer WHERE \
           EXISTS (SELECT 1 FROM relationship_members x JOIN relationship_members y \
                   ON x.relationship_id = y.relationship_id \
                   WHERE x.account_id = $1 AND y.account_id = $2) \
        OR EXISTS (SELECT 1 FROM coach_clients \
                   WHERE (coach_id = $1 AND client_id = $2) OR (coach_id = $2 AND client_id = $1)) \
        OR EXISTS (SELECT 1 FROM invitations \
                   WHERE (invited_by = $1 AND new_account_id = $2) \
                      OR (invited_by = $2 AND new_account_id = $1)) \
        OR EXISTS (SELECT 1 FROM memberships x JOIN memberships y \
                   ON x.organisation_id = y.organisation_id \
                   WHERE x.account_id = $1 AND y.account_id = $2 \
                     AND x.role = 'coach' AND y.role = 'coach' \
                     AND x.disabled = 0 AND y.disabled = 0)",
    )
    .bind(a.to_string())
    .bind(b.to_string())
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}
