//! Accounts and memberships in the database.

use sqlx::{AnyConnection, Row};

use crate::clock::new_id;
use crate::error::ApiError;
use crate::language::Language;
use crate::org::role::Role;

/// An account as the server knows it.
#[derive(Clone, Debug)]
pub struct Account {
    /// The user id (also the OPAQUE credential identifier).
    pub id: String,
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

fn account_from_row(row: &sqlx::any::AnyRow) -> Result<Account, sqlx::Error> {
    Ok(Account {
        id: row.try_get("id")?,
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
pub async fn by_email(conn: &mut AnyConnection, email: &str) -> Result<Option<Account>, ApiError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} WHERE email = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(email)
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(account_from_row).transpose()?)
}

/// The account with this id.
pub async fn by_id(conn: &mut AnyConnection, id: &str) -> Result<Option<Account>, ApiError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(account_from_row).transpose()?)
}

/// Creates an account.
pub async fn insert(conn: &mut AnyConnection, account: &Account, now: i64) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO accounts (id, email, display_name, opaque_record, email_verified, disabled, \
         language, notify_activity, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&account.id)
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
            "account_exists",
            "an account with this e-mail address exists; log in to accept",
        ),
        _ => ApiError::Storage(e),
    })?;
    Ok(())
}

/// Records something that happened to an account (a password reset, a key
/// change) for the account's own history and its peers.
pub async fn record_event(
    conn: &mut AnyConnection,
    account_id: &str,
    kind: &str,
    now: i64,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO account_events (id, account_id, kind, created_ms) VALUES ($1, $2, $3, $4)",
    )
    .bind(new_id())
    .bind(account_id)
    .bind(kind)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// One organisation an account belongs to.
#[derive(Clone, Debug)]
pub struct Membership {
    /// The organisation.
    pub organisation_id: String,
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
        organisation_id: row.try_get("organisation_id")?,
        organisation_name: row.try_get("name")?,
        role: Role::from_stored(&role)
            .ok_or_else(|| ApiError::Internal(format!("stored role {role:?}")))?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
    })
}

/// Every organisation of an account.
pub async fn memberships(
    conn: &mut AnyConnection,
    account_id: &str,
) -> Result<Vec<Membership>, ApiError> {
    let rows = sqlx::query(
        "SELECT m.organisation_id, o.name, m.role, m.disabled FROM memberships m \
         JOIN organisations o ON o.id = m.organisation_id WHERE m.account_id = $1 ORDER BY o.name",
    )
    .bind(account_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(membership_from_row).collect()
}

/// The account's membership in one organisation.
pub async fn membership(
    conn: &mut AnyConnection,
    organisation_id: &str,
    account_id: &str,
) -> Result<Option<Membership>, ApiError> {
    let row = sqlx::query(
        "SELECT m.organisation_id, o.name, m.role, m.disabled FROM memberships m \
         JOIN organisations o ON o.id = m.organisation_id \
         WHERE m.organisation_id = $1 AND m.account_id = $2",
    )
    .bind(organisation_id)
    .bind(account_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(membership_from_row).transpose()
}

/// Makes an account a member of an organisation with a role, as accepting
/// an invitation does. A client invited by a coach is linked to that coach;
/// a client invited again by a second coach keeps one membership and gains
/// the second link. A different role in the same organisation is refused.
pub async fn join(
    conn: &mut AnyConnection,
    organisation_id: &str,
    account_id: &str,
    role: Role,
    invited_by: Option<&str>,
    now: i64,
) -> Result<(), ApiError> {
    match membership(&mut *conn, organisation_id, account_id).await? {
        Some(existing) if existing.role != role => {
            return Err(ApiError::conflict(
                "other_role",
                "this account already belongs to the organisation with another role",
            ))
        }
        Some(_) => {}
        None => {
            sqlx::query(
                "INSERT INTO memberships (organisation_id, account_id, role, created_ms) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(organisation_id)
            .bind(account_id)
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
                .bind(organisation_id)
                .bind(coach)
                .bind(account_id)
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
pub async fn acting_member(
    conn: &mut AnyConnection,
    organisation_id: &str,
    account_id: &str,
) -> Result<Membership, ApiError> {
    match membership(conn, organisation_id, account_id).await? {
        Some(m) if !m.disabled => Ok(m),
        _ => Err(ApiError::Forbidden),
    }
}
