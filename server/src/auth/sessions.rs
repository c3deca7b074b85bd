//! Login sessions: 256-bit bearer tokens stored only as hashes, with an
//! idle timeout and an absolute lifetime. A revoked, expired or idle token,
//! or one of a disabled account, is refused on its next use.

use std::time::Duration;

use sqlx::{AnyConnection, Row};

use crate::auth::token::{Token, TokenHash};
use serde::Deserialize;

use crate::clock::ms_after;
use crate::error::ApiError;
use crate::ids::{self, SessionId, UserId};

/// How a client wants its session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionMode {
    /// The token in the JSON answer, sent back as `Authorization: Bearer`.
    #[default]
    Bearer,
    /// An HttpOnly cookie the page's script cannot read (browsers).
    Cookie,
}

impl SessionMode {
    /// As stored with a pending login.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "bearer",
            Self::Cookie => "cookie",
        }
    }

    /// From [`as_str`](Self::as_str); anything else is a bearer session.
    pub(crate) fn from_stored(stored: &str) -> Self {
        match stored {
            "cookie" => Self::Cookie,
            _ => Self::Bearer,
        }
    }
}

/// `last_seen` is written at most this often per session, so that a busy
/// client does not turn every read into a write. The idle timeout is
/// therefore exact to within this much.
const LAST_SEEN_GRANULARITY_MS: i64 = 15_000;

/// A session just created; the token is shown to the client once.
#[derive(Debug)]
pub struct NewSession {
    /// The session's id (not a secret).
    pub id: SessionId,
    /// The bearer token.
    pub token: Token,
    /// When it ends at the latest, Unix ms.
    pub expires_ms: i64,
}

/// Starts a session for an account. Every session starts from a proof of
/// the password (a login, or the registration that chose it), so it counts
/// as freshly re-authenticated until [`Config::limits`]'s window ends.
///
/// [`Config::limits`]: crate::config::Config
pub async fn start(
    conn: &mut AnyConnection,
    account_id: UserId,
    device_label: &str,
    lifetime: Duration,
    now: i64,
) -> Result<NewSession, ApiError> {
    let (token, hash) = Token::generate();
    let id: SessionId = ids::fresh();
    let expires_ms = ms_after(now, lifetime);
    sqlx::query(
        "INSERT INTO sessions (id, token_hash, account_id, device_label, created_ms, last_seen_ms, \
         expires_ms, reauthenticated_ms) VALUES ($1, $2, $3, $4, $5, $5, $6, $5)",
    )
    .bind(id.to_string())
    .bind(hash.to_vec())
    .bind(account_id.to_string())
    .bind(device_label)
    .bind(now)
    .bind(expires_ms)
    .execute(conn)
    .await?;
    Ok(NewSession {
        id,
        token,
        expires_ms,
    })
}

/// Who a valid token belongs to.
#[derive(Clone, Debug)]
pub struct SessionOwner {
    /// The session.
    pub session_id: SessionId,
    /// Its account.
    pub account_id: UserId,
    /// An organisation of the account requires two-factor login, and the
    /// account has not set it up.
    pub must_enrol_two_factor: bool,
    /// When the owner last proved the password in this session (Unix ms).
    pub reauthenticated_ms: Option<i64>,
}

/// Checks a presented token and marks the session as seen.
pub async fn authenticate(
    conn: &mut AnyConnection,
    hash: TokenHash,
    idle: Duration,
    now: i64,
) -> Result<Option<SessionOwner>, ApiError> {
    let row = sqlx::query(
        "SELECT s.id, s.account_id, s.last_seen_ms, s.expires_ms, s.revoked_ms, s.reauthenticated_ms, a.disabled, \
           (SELECT COUNT(*) FROM memberships m JOIN organisations o ON o.id = m.organisation_id \
            WHERE m.account_id = s.account_id AND m.disabled = 0 AND o.require_two_factor = 1) AS required, \
           (SELECT COUNT(*) FROM totp_factors t \
            WHERE t.account_id = s.account_id AND t.confirmed_ms IS NOT NULL) \
           + (SELECT COUNT(*) FROM sms_factors f \
            WHERE f.account_id = s.account_id AND f.verified_ms IS NOT NULL) AS enrolled \
         FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = $1",
    )
    .bind(hash.to_vec())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let last_seen: i64 = row.try_get("last_seen_ms")?;
    let expires: i64 = row.try_get("expires_ms")?;
    let revoked: Option<i64> = row.try_get("revoked_ms")?;
    let disabled = row.try_get::<i64, _>("disabled")? != 0;
    if revoked.is_some() || disabled || now >= expires || now >= ms_after(last_seen, idle) {
        return Ok(None);
    }
    let owner = SessionOwner {
        session_id: ids::get(&row, "id")?,
        account_id: ids::get(&row, "account_id")?,
        must_enrol_two_factor: row.try_get::<i64, _>("required")? > 0
            && row.try_get::<i64, _>("enrolled")? == 0,
        reauthenticated_ms: row.try_get("reauthenticated_ms")?,
    };
    if now - last_seen >= LAST_SEEN_GRANULARITY_MS {
        sqlx::query("UPDATE sessions SET last_seen_ms = $1 WHERE id = $2")
            .bind(now)
            .bind(owner.session_id.to_string())
            .execute(conn)
            .await?;
    }
    Ok(Some(owner))
}

/// Records that the session's owner just proved the password again.
pub async fn mark_reauthenticated(
    conn: &mut AnyConnection,
    session_id: SessionId,
    now: i64,
) -> Result<(), ApiError> {
    sqlx::query("UPDATE sessions SET reauthenticated_ms = $1 WHERE id = $2")
        .bind(now)
        .bind(session_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// A session as its owner sees it in the list.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    /// Id, for revoking.
    #[serde(serialize_with = "ids::as_text")]
    #[schema(value_type = String)]
    pub id: SessionId,
    /// What the client called itself at login.
    pub device_label: String,
    /// Unix ms.
    pub created_ms: i64,
    /// Unix ms.
    pub last_seen_ms: i64,
    /// Unix ms: the absolute end.
    pub expires_ms: i64,
    /// Whether this is the session making the request.
    pub current: bool,
}

/// The account's live sessions, newest first.
pub async fn list(
    conn: &mut AnyConnection,
    account_id: UserId,
    current_session: SessionId,
    now: i64,
) -> Result<Vec<SessionInfo>, ApiError> {
    let rows = sqlx::query(
        "SELECT id, device_label, created_ms, last_seen_ms, expires_ms FROM sessions \
         WHERE account_id = $1 AND revoked_ms IS NULL AND expires_ms > $2 ORDER BY created_ms DESC",
    )
    .bind(account_id.to_string())
    .bind(now)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let id: SessionId = ids::get(r, "id")?;
            Ok(SessionInfo {
                current: id == current_session,
                id,
                device_label: r.try_get("device_label")?,
                created_ms: r.try_get("created_ms")?,
                last_seen_ms: r.try_get("last_seen_ms")?,
                expires_ms: r.try_get("expires_ms")?,
            })
        })
        .collect()
}

/// Revokes one of the account's sessions; `false` if there was none.
pub async fn revoke(
    conn: &mut AnyConnection,
    account_id: UserId,
    session_id: SessionId,
    now: i64,
) -> Result<bool, ApiError> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_ms = $1 WHERE id = $2 AND account_id = $3 AND revoked_ms IS NULL",
    )
    .bind(now)
    .bind(session_id.to_string())
    .bind(account_id.to_string())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every session of an account but `current` (a password change,
/// a second factor set up).
pub async fn revoke_others(
    conn: &mut AnyConnection,
    account_id: UserId,
    current: SessionId,
    now: i64,
) -> Result<u64, ApiError> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_ms = $1 WHERE account_id = $2 AND id <> $3 AND revoked_ms IS NULL",
    )
    .bind(now)
    .bind(account_id.to_string())
    .bind(current.to_string())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Revokes every session of an account (log out everywhere, password
/// reset, disabling); returns how many.
pub async fn revoke_all(
    conn: &mut AnyConnection,
    account_id: UserId,
    now: i64,
) -> Result<u64, ApiError> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_ms = $1 WHERE account_id = $2 AND revoked_ms IS NULL",
    )
    .bind(now)
    .bind(account_id.to_string())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
