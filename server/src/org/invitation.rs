//! Issuing an invitation: the stored row (token hash only) and its e-mail,
//! in the caller's transaction. Used by the API and by `admin
//! create-organisation`.

use sqlx::AnyConnection;

use crate::auth::token::Token;
use crate::clock::{ms_after, new_id};
use crate::config::Config;
use crate::error::ApiError;
use crate::language::Language;
use crate::mail::address::EmailAddress;
use crate::org::role::Role;
use crate::{auth::email_token, mail::outbox, mail::templates, org::accounts};

/// An issued invitation.
#[derive(Debug)]
pub struct Issued {
    /// Its id.
    pub id: String,
    /// When the link stops working, Unix ms.
    pub expires_ms: i64,
    /// The link (holds the token: for the e-mail, and for an operator's
    /// terminal in `admin create-organisation`; never for a log).
    pub link: String,
}

/// What to invite whom to.
#[derive(Debug)]
pub struct Offer<'a> {
    /// The organisation.
    pub organisation_id: &'a str,
    /// Its name, for the e-mail.
    pub organisation_name: &'a str,
    /// The invitee.
    pub email: &'a EmailAddress,
    /// The role offered.
    pub role: Role,
    /// The inviting member; `None` for the operator.
    pub invited_by: Option<&'a str>,
    /// The language of the e-mail (and of the new account) unless the
    /// invitee already has an account with its own.
    pub language: Language,
}

/// Stores the invitation and queues its e-mail.
pub async fn issue(
    conn: &mut AnyConnection,
    config: &Config,
    offer: &Offer<'_>,
    now: i64,
) -> Result<Issued, ApiError> {
    let (token, hash) = Token::generate();
    let id = new_id();
    let expires_ms = ms_after(now, config.limits.invitation_lifetime);
    // The account id the invitee will have: theirs if they have one.
    let existing = accounts::by_email(&mut *conn, offer.email.as_str()).await?;
    let language = existing.as_ref().map_or(offer.language, |a| a.language);
    let new_account_id = existing.map_or_else(new_id, |a| a.id);
    sqlx::query(
        "INSERT INTO invitations (id, token_hash, organisation_id, email, role, invited_by, \
         new_account_id, created_ms, expires_ms, language) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(hash.to_vec())
    .bind(offer.organisation_id)
    .bind(offer.email.as_str())
    .bind(offer.role.as_str())
    .bind(offer.invited_by)
    .bind(new_account_id)
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
