//! Issuing an invitation: the stored row (token hash only) and its e-mail,
//! in the caller's transaction. Used by the API and by `admin
//! create-organisation`.

use sqlx::{AnyConnection, Row};

use crate::auth::token::{Token, TokenHash};
use crate::clock::ms_after;
use crate::config::Config;
use crate::error::ApiError;
use crate::ids::{self, InvitationId, OrganisationId, UserId};
use crate::language::Language;
use crate::mail::address::EmailAddress;
use crate::org::role::Role;
use crate::{auth::email_token, mail::outbox, mail::templates, org::accounts};

/// An issued invitation.
#[derive(Debug)]
pub struct Issued {
    /// Its id.
    pub id: InvitationId,
    /// When the link stops working, Unix ms.
    pub expires_ms: i64,
    /// The link (holds the token: for the e-mail, and for an operator's
    /// terminal in `admin create-organisation`; never for a log).
    pub link: String,
}

/// What to invite whom to.
#[derive(Debug)]
pub(crate) struct Offer<'a> {
    /// The organisation.
    pub organisation_id: OrganisationId,
    /// Its name, for the e-mail.
    pub organisation_name: &'a str,
    /// The invitee.
    pub email: &'a EmailAddress,
    /// The role offered.
    pub role: Role,
    /// The inviting member; `None` for the operator.
    pub invited_by: Option<UserId>,
    /// The language of the e-mail (and of the new account) unless the
    /// invitee already has an account with its own.
    pub language: Language,
}

/// Stores the invitation and queues its e-mail.
pub(crate) async fn issue(
    conn: &mut AnyConnection,
    config: &Config,
    offer: &Offer<'_>,
    now: i64,
) -> Result<Issued, ApiError> {
    let (token, hash) = Token::generate();
    let id: InvitationId = ids::fresh();
    let expires_ms = ms_after(now, config.limits.invitation_lifetime);
    // The account id the invitee will have: theirs if they have one.
    let existing = accounts::by_email(&mut *conn, offer.email.as_str()).await?;
    let language = existing.as_ref().map_or(offer.language, |a| a.language);
    let new_account_id: UserId = existing.map_or_else(ids::fresh, |a| a.id);
    sqlx::query(
        "INSERT INTO invitations (id, token_hash, organisation_id, email, role, invited_by, \
         new_account_id, created_ms, expires_ms, language) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(id.to_string())
    .bind(hash.to_vec())
    .bind(offer.organisation_id.to_string())
    .bind(offer.email.as_str())
    .bind(offer.role.as_str())
    .bind(offer.invited_by.map(|id| id.to_string()))
    .bind(new_account_id.to_string())
    .bind(now)
    .bind(expires_ms)
    .bind(language.code())
    .execute(&mut *conn)
    .await?;
    let link = email_token::link(&config.public_url, "invitation", &token);
    let days = (config.limits.invitation_lifetime.as_secs() / 86_400).max(1);
    let message = templates::invitation(language, offer.organisation_name, offer.role, &link, days);
    outbox::enqueue(conn, offer.email.as_str(), &message, now).await?;
    Ok(Issued {
        id,
        expires_ms,
        link,
    })
}

/// Forgets every invitation to an address (the account is erased).
pub(crate) async fn forget_address(
    conn: &mut sqlx::AnyConnection,
    email: &str,
) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM invitations WHERE email = $1")
        .bind(email)
        .execute(conn)
        .await?;
    Ok(())
}

/// A live invitation, as its link presents it.
#[derive(Debug)]
pub(crate) struct Invitation {
    pub(crate) id: InvitationId,
    pub(crate) organisation_id: OrganisationId,
    pub(crate) organisation_name: String,
    pub(crate) email: String,
    pub(crate) role: Role,
    pub(crate) invited_by: Option<UserId>,
    pub(crate) new_account_id: UserId,
    pub(crate) language: Language,
}

/// The live invitation a presented link token names: unused, unexpired,
/// and its inviter still allowed to invite that role.
pub(crate) async fn valid(
    conn: &mut AnyConnection,
    presented: &str,
    now: i64,
) -> Result<Invitation, ApiError> {
    let hash = TokenHash::of_link(presented)?;
    let row = sqlx::query(
        "SELECT i.id, i.organisation_id, o.name, i.email, i.role, i.invited_by, i.new_account_id, \
         i.language FROM invitations i JOIN organisations o ON o.id = i.organisation_id \
         WHERE i.token_hash = $1 AND i.accepted_ms IS NULL AND i.expires_ms > $2",
    )
    .bind(hash.to_vec())
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(ApiError::InvalidToken)?;
    let role: String = row.try_get("role")?;
    let role = Role::from_stored(&role)
        .ok_or_else(|| ApiError::Internal(format!("stored role {role:?}")))?;
    let organisation_id: OrganisationId = ids::get(&row, "organisation_id")?;
    let invited_by: Option<UserId> = ids::get_opt(&row, "invited_by")?;
    // An invitation is only as good as its inviter's standing now: one sent
    // by a member who has since been disabled (or lost the right to invite
    // that role) no longer works. Operator invitations have no inviter.
    if let Some(inviter) = invited_by {
        match accounts::membership(&mut *conn, organisation_id, inviter).await? {
            Some(m) if !m.disabled && m.role.may_invite(role) => {}
            _ => return Err(ApiError::InvalidToken),
        }
    }
    Ok(Invitation {
        id: ids::get(&row, "id")?,
        organisation_id,
        organisation_name: row.try_get("name")?,
        email: row.try_get("email")?,
        role,
        invited_by,
        new_account_id: ids::get(&row, "new_account_id")?,
        language: Language::from_stored(&row.try_get::<String, _>("language")?)?,
    })
}

/// Marks an invitation used; `InvalidToken` if another request won.
pub(crate) async fn consume(
    conn: &mut AnyConnection,
    invitation: &Invitation,
    account_id: UserId,
    now: i64,
) -> Result<(), ApiError> {
    let done = sqlx::query(
        "UPDATE invitations SET accepted_ms = $1, accepted_by = $2 \
         WHERE id = $3 AND accepted_ms IS NULL AND expires_ms > $1",
    )
    .bind(now)
    .bind(account_id.to_string())
    .bind(invitation.id.to_string())
    .execute(conn)
    .await?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(ApiError::InvalidToken)
    }
}

/// An invitation not used yet, as its inviter or a manager sees it (never
/// its token: only the hash is stored).
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) id: InvitationId,
    pub(crate) email: String,
    pub(crate) role: Role,
    pub(crate) invited_by: Option<UserId>,
    pub(crate) created_ms: i64,
    pub(crate) expires_ms: i64,
}

/// The organisation's unused, unexpired invitations, newest first; only
/// those `invited_by` sent when given (a coach sees their own).
pub(crate) async fn pending(
    conn: &mut AnyConnection,
    organisation_id: OrganisationId,
    invited_by: Option<UserId>,
    now: i64,
) -> Result<Vec<Pending>, ApiError> {
    const LIVE: &str = "SELECT id, email, role, invited_by, created_ms, expires_ms \
         FROM invitations WHERE organisation_id = $1 AND accepted_ms IS NULL AND expires_ms > $2";
    let query = match invited_by {
        None => sqlx::query(sqlx::AssertSqlSafe(format!(
            "{LIVE} ORDER BY created_ms DESC, id"
        ))),
        Some(_) => sqlx::query(sqlx::AssertSqlSafe(format!(
            "{LIVE} AND invited_by = $3 ORDER BY created_ms DESC, id"
        ))),
    }
    .bind(organisation_id.to_string())
    .bind(now);
    let query = match invited_by {
        Some(who) => query.bind(who.to_string()),
        None => query,
    };
    let rows = query.fetch_all(conn).await?;
    rows.iter()
        .map(|row| {
            let role: String = row.try_get("role")?;
            Ok(Pending {
                id: ids::get(row, "id")?,
                email: row.try_get("email")?,
                role: Role::from_stored(&role)
                    .ok_or_else(|| ApiError::Internal(format!("stored role {role:?}")))?,
                invited_by: ids::get_opt(row, "invited_by")?,
                created_ms: row.try_get("created_ms")?,
                expires_ms: row.try_get("expires_ms")?,
            })
        })
        .collect()
}

/// Withdraws an unused invitation of the organisation (only one
/// `invited_by` sent, when given): its link stops working at once. Whether
/// there was one to withdraw.
pub(crate) async fn withdraw(
    conn: &mut AnyConnection,
    organisation_id: OrganisationId,
    id: InvitationId,
    invited_by: Option<UserId>,
    now: i64,
) -> Result<bool, ApiError> {
    const LIVE: &str = "UPDATE invitations SET expires_ms = $1 WHERE id = $2 \
         AND organisation_id = $3 AND accepted_ms IS NULL AND expires_ms > $1";
    let query = match invited_by {
        None => sqlx::query(LIVE),
        Some(_) => sqlx::query(sqlx::AssertSqlSafe(format!("{LIVE} AND invited_by = $4"))),
    }
    .bind(now)
    .bind(id.to_string())
    .bind(organisation_id.to_string());
    let query = match invited_by {
        Some(who) => query.bind(who.to_string()),
        None => query,
    };
    let done = query.execute(conn).await?;
    Ok(done.rows_affected() == 1)
}
