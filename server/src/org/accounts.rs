//! Accounts and memberships in the database.

use sqlx::{AnyConnection, Row};

use crate::clock::new_id;
use crate::error::{ApiError, ErrorCode};
use crate::ids::{self, OrganisationId, UserId};
use crate::language::Language;
use crate::org::role::Role;

/// An account as the server knows it.
#[derive(Clone, Debug)]
pub(crate) struct Account {
    /// The user id (also the OPAQUE credential identifier).
    pub id: UserId,
    /// Normalised e-mail.
    pub email: String,
    /// Name shown to others.
    pub display_name: String,
    /// OPAQUE registration record.
    pub opaque_record: Vec<u8>,
    /// Whether the e-mail address is proven.
    pub email_verified: bool,
    /// Disabled by the operator.
    pub disabled: bool,
    /// The language of its e-mails and notices.
    pub language: Language,
    /// Whether it wants an e-mail when a message or file arrives.
    pub notify_activity: bool,
}

const ACCOUNT_COLUMNS: &str =
    "id, email, display_name, opaque_record, email_verified, disabled, language, notify_activity \
     FROM accounts";

fn account_from_row(row: &sqlx::any::AnyRow) -> Result<Account, ApiError> {
    Ok(Account {
        id: ids::get(row, "id")?,
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        opaque_record: row.try_get("opaque_record")?,
        email_verified: row.try_get::<i64, _>("email_verified")? != 0,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        language: Language::from_stored(&row.try_get::<String, _>("language")?)
            .map_err(|e| sqlx::Error::Decode(e.to_string().into()))?,
        notify_activity: row.try_get::<i64, _>("notify_activity")? != 0,
    })
}

/// The account with this normalised e-mail.
pub(crate) async fn by_email(
    conn: &mut AnyConnection,
    email: &str,
) -> Result<Option<Account>, ApiError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} WHERE email = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(email)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(account_from_row).transpose()
}

/// The account with this id.
pub(crate) async fn by_id(
    conn: &mut AnyConnection,
    id: UserId,
) -> Result<Option<Account>, ApiError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(account_from_row).transpose()
}

/// Creates an account.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    account: &Account,
    now: i64,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO accounts (id, email, display_name, opaque_record, email_verified, disabled, \
         language, notify_activity, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(account.id.to_string())
    .bind(&account.email)
    .bind(&account.display_name)
    .bind(&account.opaque_record)
    .bind(i64::from(account.email_verified))
    .bind(i64::from(account.disabled))
    .bind(account.language.code())
    .bind(i64::from(account.notify_activity))
    .bind(now)
    .execute(conn)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => ApiError::conflict(
            ErrorCode::AccountExists,
            "an account with this e-mail address exists; log in to accept",
        ),
        _ => ApiError::Storage(e),
    })?;
    Ok(())
}

/// Records something that happened to an account (a password reset, a key
/// change) for the account's own history and its peers.
pub(crate) async fn record_event(
    conn: &mut AnyConnection,
    account_id: UserId,
    kind: &str,
    now: i64,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO account_events (id, account_id, kind, created_ms) VALUES ($1, $2, $3, $4)",
    )
    .bind(new_id())
    .bind(account_id.to_string())
    .bind(kind)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// One organisation an account belongs to.
#[derive(Clone, Debug)]
pub(crate) struct Membership {
    /// The organisation.
    pub organisation_id: OrganisationId,
    /// Its name.
    pub organisation_name: String,
    /// The account's role there.
    pub role: Role,
    /// Disabled by a manager of that organisation.
    pub disabled: bool,
}

fn membership_from_row(row: &sqlx::any::AnyRow) -> Result<Membership, ApiError> {
    let role: String = row.try_get("role")?;
    Ok(Membership {
        organisation_id: ids::get(row, "organisation_id")?,
        organisation_name: row.try_get("name")?,
        role: Role::from_stored(&role)
            .ok_or_else(|| ApiError::Internal(format!("stored role {role:?}")))?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
    })
}

/// Every organisation of an account.
pub(crate) async fn memberships(
    conn: &mut AnyConnection,
    account_id: UserId,
) -> Result<Vec<Membership>, ApiError> {
    let rows = sqlx::query(
        "SELECT m.organisation_id, o.name, m.role, m.disabled FROM memberships m \
         JOIN organisations o ON o.id = m.organisation_id WHERE m.account_id = $1 ORDER BY o.name",
    )
    .bind(account_id.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter().map(membership_from_row).collect()
}

/// The account's membership in one organisation.
pub(crate) async fn membership(
    conn: &mut AnyConnection,
    organisation_id: OrganisationId,
    account_id: UserId,
) -> Result<Option<Membership>, ApiError> {
    let row = sqlx::query(
        "SELECT m.organisation_id, o.name, m.role, m.disabled FROM memberships m \
         JOIN organisations o ON o.id = m.organisation_id \
         WHERE m.organisation_id = $1 AND m.account_id = $2",
    )
    .bind(organisation_id.to_string())
    .bind(account_id.to_string())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(membership_from_row).transpose()
}

/// Makes an account a member of an organisation with a role, as accepting
/// an invitation does. A client invited by a coach is linked to that coach;
/// a client invited again by a second coach keeps one membership and gains
/// the second link. A different role in the same organisation is refused.
pub(crate) async fn join(
    conn: &mut AnyConnection,
    organisation_id: OrganisationId,
    account_id: UserId,
    role: Role,
    invited_by: Option<UserId>,
    now: i64,
) -> Result<(), ApiError> {
    match membership(&mut *conn, organisation_id, account_id).await? {
        Some(existing) if existing.role != role => {
            return Err(ApiError::conflict(
                ErrorCode::OtherRole,
                "this account already belongs to the organisation with another role",
            ))
        }
        Some(_) => {}
        None => {
            sqlx::query(
                "INSERT INTO memberships (organisation_id, account_id, role, created_ms) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(organisation_id.to_string())
            .bind(account_id.to_string())
            .bind(role.as_str())
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
    }
    if role == Role::Client {
        if let Some(coach) = invited_by {
            let coach_is_coach = matches!(
                membership(&mut *conn, organisation_id, coach).await?,
                Some(m) if m.role == Role::Coach
            );
            if coach_is_coach {
                sqlx::query(
                    "INSERT INTO coach_clients (organisation_id, coach_id, client_id, created_ms) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(organisation_id.to_string())
                .bind(coach.to_string())
                .bind(account_id.to_string())
                .bind(now)
                .execute(&mut *conn)
                .await?;
            }
        }
    }
    Ok(())
}

/// The caller's membership in an organisation, if it may act there: a
/// member, not disabled. Anything else is `403`.
pub(crate) async fn acting_member(
    conn: &mut AnyConnection,
    organisation_id: OrganisationId,
    account_id: UserId,
) -> Result<Membership, ApiError> {
    match membership(conn, organisation_id, account_id).await? {
        Some(m) if !m.disabled => Ok(m),
        _ => Err(ApiError::Forbidden),
    }
}

/// Whether `client_id` is a client `coach_id` invited into the
/// organisation.
pub(crate) async fn is_client_of(
    conn: &mut AnyConnection,
    organisation_id: OrganisationId,
    coach_id: UserId,
    client_id: UserId,
) -> Result<bool, ApiError> {
    coach_link(conn, organisation_id, coach_id, client_id, false).await
}

/// [`is_client_of`], and the client's membership is not disabled.
pub(crate) async fn is_active_client_of(
    conn: &mut AnyConnection,
    organisation_id: OrganisationId,
    coach_id: UserId,
    client_id: UserId,
) -> Result<bool, ApiError> {
    coach_link(conn, organisation_id, coach_id, client_id, true).await
}

async fn coach_link(
    conn: &mut AnyConnection,
    organisation_id: OrganisationId,
    coach_id: UserId,
    client_id: UserId,
    active: bool,
) -> Result<bool, ApiError> {
    let sql = if active {
        "SELECT 1 AS x FROM coach_clients c JOIN memberships m \
         ON m.organisation_id = c.organisation_id AND m.account_id = c.client_id \
         WHERE c.organisation_id = $1 AND c.coach_id = $2 AND c.client_id = $3 AND m.disabled = 0"
    } else {
        "SELECT 1 AS x FROM coach_clients WHERE organisation_id = $1 AND coach_id = $2 AND client_id = $3"
    };
    let row = sqlx::query(sql)
        .bind(organisation_id.to_string())
        .bind(coach_id.to_string())
        .bind(client_id.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}

/// Enables or disables a membership.
pub(crate) async fn set_membership_disabled(
    conn: &mut AnyConnection,
    organisation_id: OrganisationId,
    account_id: UserId,
    disabled: bool,
) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE memberships SET disabled = $1 WHERE organisation_id = $2 AND account_id = $3",
    )
    .bind(i64::from(disabled))
    .bind(organisation_id.to_string())
    .bind(account_id.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces the account's OPAQUE record (a new password).
pub(crate) async fn set_opaque_record(
    conn: &mut AnyConnection,
    account_id: UserId,
    record: &[u8],
) -> Result<(), ApiError> {
    sqlx::query("UPDATE accounts SET opaque_record = $1 WHERE id = $2")
        .bind(record)
        .bind(account_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Makes `email` the account's address, proven (its mailbox opened a
/// link) or not yet (a change the member confirmed; the new mailbox proves
/// it later). Another account with the address is a `409 email_taken`.
pub(crate) async fn set_email(
    conn: &mut AnyConnection,
    account_id: UserId,
    email: &str,
    verified: bool,
) -> Result<(), ApiError> {
    sqlx::query("UPDATE accounts SET email = $1, email_verified = $2 WHERE id = $3")
        .bind(email)
        .bind(i64::from(verified))
        .bind(account_id.to_string())
        .execute(conn)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => ApiError::conflict(
                ErrorCode::EmailTaken,
                "another account uses this e-mail address",
            ),
            _ => ApiError::Storage(e),
        })?;
    Ok(())
}

/// Whether one of the `kinds` of event happened to the account at or
/// after `since` (Unix ms).
pub(crate) async fn had_event_since(
    conn: &mut AnyConnection,
    account_id: UserId,
    kinds: &[&str],
    since: i64,
) -> Result<bool, ApiError> {
    for kind in kinds {
        let row = sqlx::query(
            "SELECT 1 AS x FROM account_events WHERE account_id = $1 AND kind = $2 \
             AND created_ms >= $3",
        )
        .bind(account_id.to_string())
        .bind(*kind)
        .bind(since)
        .fetch_optional(&mut *conn)
        .await?;
        if row.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Deletes the account row; keys, sessions, memberships, coach links,
/// e-mailed links and events go with it (ON DELETE CASCADE).
pub(crate) async fn delete(conn: &mut AnyConnection, account_id: UserId) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM accounts WHERE id = $1")
        .bind(account_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Renames the account.
pub(crate) async fn set_display_name(
    conn: &mut AnyConnection,
    account_id: UserId,
    name: &str,
) -> Result<(), ApiError> {
    sqlx::query("UPDATE accounts SET display_name = $1 WHERE id = $2")
        .bind(name)
        .bind(account_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Sets the language of the account's e-mails and notices.
pub(crate) async fn set_language(
    conn: &mut AnyConnection,
    account_id: UserId,
    language: Language,
) -> Result<(), ApiError> {
    sqlx::query("UPDATE accounts SET language = $1 WHERE id = $2")
        .bind(language.code())
        .bind(account_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether the account wants an e-mail when a message or file arrives.
pub(crate) async fn set_notify_activity(
    conn: &mut AnyConnection,
    account_id: UserId,
    on: bool,
) -> Result<(), ApiError> {
    sqlx::query("UPDATE accounts SET notify_activity = $1 WHERE id = $2")
        .bind(i64::from(on))
        .bind(account_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Disables (or enables) the account with this normalised e-mail, as the
/// operator does; its id, or `None` if there is no such account.
pub(crate) async fn set_disabled_by_email(
    conn: &mut AnyConnection,
    email: &str,
    disabled: bool,
) -> Result<Option<UserId>, ApiError> {
    let row = sqlx::query("UPDATE accounts SET disabled = $1 WHERE email = $2 RETURNING id")
        .bind(i64::from(disabled))
        .bind(email)
        .fetch_optional(conn)
        .await?;
    row.map(|r| ids::get(&r, "id")).transpose()
}

/// Records that the account was just e-mailed about activity (the next
/// such e-mail waits an interval).
pub(crate) async fn activity_mailed(
    conn: &mut AnyConnection,
    account_id: UserId,
    now: i64,
) -> Result<(), ApiError> {
    sqlx::query("UPDATE accounts SET activity_mailed_ms = $1 WHERE id = $2")
        .bind(now)
        .bind(account_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// When the account was created, Unix ms (the right of access).
pub(crate) async fn created_ms(
    conn: &mut AnyConnection,
    account_id: UserId,
) -> Result<i64, ApiError> {
    let row = sqlx::query("SELECT created_ms FROM accounts WHERE id = $1")
        .bind(account_id.to_string())
        .fetch_one(conn)
        .await?;
    Ok(row.try_get("created_ms")?)
}

/// What happened to the account (`record_event`), oldest first: kind and
/// time, for the right of access.
pub(crate) async fn events(
    conn: &mut AnyConnection,
    account_id: UserId,
) -> Result<Vec<(String, i64)>, ApiError> {
    let rows = sqlx::query(
        "SELECT kind, created_ms FROM account_events WHERE account_id = $1 \
         ORDER BY created_ms, id",
    )
    .bind(account_id.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("kind")?, r.try_get("created_ms")?)))
        .collect()
}
