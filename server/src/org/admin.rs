//! Operator commands (`kluis-server admin …`), as library functions so that
//! tests run them against both engines.

use sqlx::Row;

use crate::clock::now_ms;
use crate::config::Config;
use crate::error::{ApiError, ErrorCode};
use crate::ids::{self, OrganisationId, UserId};
use crate::language::Language;
use crate::mail::address::EmailAddress;
use crate::org::invitation::{self, Issued, Offer};
use crate::org::role::Role;
use crate::org::{accounts, organisations};
use crate::store::Store;
use crate::{auth::sessions, fields};

/// Creates an organisation and invites its first manager by e-mail;
/// returns the organisation's id as the operator reads it (text).
pub async fn create_organisation(
    store: &Store,
    config: &Config,
    name: &str,
    manager_email: &str,
) -> Result<(String, Issued), ApiError> {
    let name = fields::name("name", name, 200)?;
    let email = EmailAddress::parse(manager_email)?;
    let now = now_ms();
    let mut tx = store.begin().await?;
    let id: OrganisationId = organisations::create(&mut tx, &name, now).await?;
    let issued = invitation::issue(
        &mut tx,
        config,
        &Offer {
            organisation_id: id,
            organisation_name: &name,
            email: &email,
            role: Role::Manager,
            invited_by: None,
            language: Language::default(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((id.to_string(), issued))
}

/// One line of `admin list-accounts`.
#[derive(Debug)]
pub struct AccountLine {
    /// User id.
    pub id: UserId,
    /// E-mail.
    pub email: String,
    /// Name.
    pub display_name: String,
    /// Disabled by the operator.
    pub disabled: bool,
    /// `organisation:role` pairs.
    pub memberships: Vec<String>,
}

/// Every account, by e-mail.
pub async fn list_accounts(store: &Store) -> Result<Vec<AccountLine>, ApiError> {
    let rows = sqlx::query(
        "SELECT a.id, a.email, a.display_name, a.disabled, o.name AS organisation, m.role \
         FROM accounts a LEFT JOIN memberships m ON m.account_id = a.id \
         LEFT JOIN organisations o ON o.id = m.organisation_id ORDER BY a.email, o.name",
    )
    .fetch_all(store.pool())
    .await?;
    let mut out: Vec<AccountLine> = Vec::new();
    for row in rows {
        let id: UserId = ids::get(&row, "id")?;
        let membership = match (
            row.try_get::<Option<String>, _>("organisation")?,
            row.try_get::<Option<String>, _>("role")?,
        ) {
            (Some(o), Some(r)) => Some(format!("{o}:{r}")),
            _ => None,
        };
        match out.last_mut() {
            Some(last) if last.id == id => last.memberships.extend(membership),
            _ => out.push(AccountLine {
                id,
                email: row.try_get("email")?,
                display_name: row.try_get("display_name")?,
                disabled: row.try_get::<i64, _>("disabled")? != 0,
                memberships: membership.into_iter().collect(),
            }),
        }
    }
    Ok(out)
}

/// Disables (no login at all, every session ended) or enables an account.
pub async fn set_account_disabled(
    store: &Store,
    email: &str,
    disabled: bool,
) -> Result<(), ApiError> {
    let email = EmailAddress::parse(email)?;
    let now = now_ms();
    let mut tx = store.begin().await?;
    let id = accounts::set_disabled_by_email(&mut tx, email.as_str(), disabled)
        .await?
        .ok_or_else(|| {
            ApiError::bad_request(
                ErrorCode::UnknownAccount,
                "no account with this e-mail address",
            )
        })?;
    if disabled {
        sessions::revoke_all(&mut tx, id, now).await?;
    }
    tx.commit().await?;
    Ok(())
}
