//! Organisations: the row that names one, and its policy (whether its
//! members must use two-factor login).

use sqlx::{AnyConnection, Row};

use crate::error::ApiError;
use crate::ids::{self, OrganisationId, UserId};

/// Creates an organisation; returns its id.
pub(crate) async fn create(
    conn: &mut AnyConnection,
    name: &str,
    now: i64,
) -> Result<OrganisationId, ApiError> {
    let id: OrganisationId = ids::fresh();
    sqlx::query("INSERT INTO organisations (id, name, created_ms) VALUES ($1, $2, $3)")
        .bind(id.to_string())
        .bind(name)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(id)
}

/// How many organisations exist.
pub(crate) async fn count(conn: &mut AnyConnection) -> Result<i64, ApiError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM organisations")
        .fetch_one(conn)
        .await?;
    Ok(row.try_get("n")?)
}

/// Whether an organisation the account is an active member of requires
/// two-factor login.
pub(crate) async fn require_two_factor_of(
    conn: &mut AnyConnection,
    account_id: UserId,
) -> Result<bool, ApiError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM memberships m JOIN organisations o ON o.id = m.organisation_id \
         WHERE m.account_id = $1 AND m.disabled = 0 AND o.require_two_factor = 1",
    )
    .bind(account_id.to_string())
    .fetch_one(conn)
    .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

/// Requires (or stops requiring) two-factor login of the members.
pub(crate) async fn set_require_two_factor(
    conn: &mut AnyConnection,
    organisation_id: OrganisationId,
    required: bool,
) -> Result<(), ApiError> {
    sqlx::query("UPDATE organisations SET require_two_factor = $1 WHERE id = $2")
        .bind(i64::from(required))
        .bind(organisation_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}
