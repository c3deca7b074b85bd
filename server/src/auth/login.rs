//! The OPAQUE login engine (RFC 9807 §6): the server's first step with the
//! state it keeps between the two round trips, the last step that says
//! whose password was proven, and the logins that wait for a second factor.
//! The HTTP routes of login, password change and account deletion all
//! prove a password through here.
//!
//! An unknown e-mail is answered from opaque-ke's fake record (§10.9): the
//! same message sizes, the same computation, and a finish that fails exactly
//! like a wrong password.

use std::time::Duration;

use kluis_crypto::opaque::{server_login_start, ServerLoginState};
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use crate::auth::sessions::SessionMode;
use crate::auth::token::{Token, TokenHash};
use crate::clock::{ms_after, now_ms};
use crate::error::ApiError;
use crate::ids::{self, LoginId, UserId};
use crate::mail::address::EmailAddress;
use crate::org::accounts::{self, Account};
use crate::rate_limit::address_key;
use crate::AppState;

/// How long the server keeps its half of a login between the two steps.
const LOGIN_STATE_LIFETIME: Duration = Duration::from_secs(120);
/// How long a login may wait for its second factor.
const PENDING_LOGIN_LIFETIME: Duration = Duration::from_secs(300);
/// Wrong codes one pending login may try before it ends.
const PENDING_LOGIN_ATTEMPTS: i64 = 5;

/// The server's answer to a login's first step.
#[derive(Debug)]
pub(crate) struct Challenge {
    /// Names this attempt in the second step.
    pub(crate) login_id: LoginId,
    /// OPAQUE `CredentialResponse` (KE2).
    pub(crate) response: Vec<u8>,
}

/// The OPAQUE credential identifier of an e-mail without an account. It
/// must be stable, so that asking twice gives answers derived from the same
/// (fake) OPRF key, as for a real account; it need not be secret, because
/// the OPRF key also depends on the server's secret seed.
fn unknown_account_credential_id(email: &EmailAddress) -> [u8; 16] {
    let digest = Sha256::new()
        .chain_update(b"kluis/v1/unknown-account-credential-id\0")
        .chain_update(email.as_str().as_bytes())
        .finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(digest.get(..16).unwrap_or(&[0u8; 16]));
    id
}

/// An account's credential identifier: its id (RFC 9807 §6.3.1).
fn credential_id(account: &Account) -> [u8; 16] {
    *account.id.as_bytes()
}

/// The first step of a login by e-mail: the account's record, or the fake
/// one for an address without an account.
pub(crate) async fn begin_by_email(
    state: &AppState,
    conn: &mut AnyConnection,
    email: &EmailAddress,
    request: &[u8],
) -> Result<Challenge, ApiError> {
    let account = accounts::by_email(&mut *conn, email.as_str()).await?;
    let credential_id = match &account {
        Some(a) => credential_id(a),
        None => unknown_account_credential_id(email),
    };
    begin(
        state,
        conn,
        account.as_ref().map(|a| (a.id, a.opaque_record.as_slice())),
        &credential_id,
        request,
    )
    .await
}

/// OPAQUE's first server step for `account` (id and record; `None` for
/// the fake record), its state kept for [`verify`] under a new login id.
async fn begin(
    state: &AppState,
    conn: &mut AnyConnection,
    account: Option<(UserId, &[u8])>,
    credential_id: &[u8],
    request: &[u8],
) -> Result<Challenge, ApiError> {
    let (response, server_state) = server_login_start(
        &mut OsRng,
        &state.opaque_setup,
        account.map(|(_, record)| record),
        request,
        credential_id,
    )?;
    let login_id: LoginId = ids::fresh();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO login_attempts (id, account_id, state, expires_ms) VALUES ($1, $2, $3, $4)",
    )
    .bind(login_id.to_string())
    .bind(account.map(|(id, _)| id.to_string()))
    .bind(server_state.to_secret_bytes().to_vec())
    .bind(ms_after(now, LOGIN_STATE_LIFETIME))
    .execute(&mut *conn)
    .await?;
    Ok(Challenge { login_id, response })
}

/// The logged-in caller's account, after the login rate limits (per
/// address and per account) that proving the password again falls under.
pub(crate) async fn reauthenticating(
    state: &AppState,
    conn: &mut AnyConnection,
    account_id: UserId,
    ip: std::net::IpAddr,
) -> Result<Account, ApiError> {
    state.limits.login_by_address.check(&address_key(ip))?;
    let account = accounts::by_id(conn, account_id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    state.limits.login_by_account.check(&account.email)?;
    Ok(account)
}

/// [`begin`] for the logged-in caller's own account: proving the password
/// again before changing it or deleting the account.
pub(crate) async fn begin_for_self(
    state: &AppState,
    conn: &mut AnyConnection,
    account: &Account,
    request: &[u8],
) -> Result<Challenge, ApiError> {
    let credential_id = credential_id(account);
    begin(
        state,
        conn,
        Some((account.id, account.opaque_record.as_slice())),
        &credential_id,
        request,
    )
    .await
}

/// OPAQUE's last server step: the account whose password the client just
/// proved, or `None` (wrong password, unknown account, expired or used
/// login id — indistinguishable). The attempt is used up either way.
pub(crate) async fn verify(
    tx: &mut AnyConnection,
    login_id: LoginId,
    finalization: &[u8],
    now: i64,
) -> Result<Option<UserId>, ApiError> {
    // Taken out in one statement: a login attempt finishes at most once.
    let row = sqlx::query(
        "DELETE FROM login_attempts WHERE id = $1 RETURNING account_id, state, expires_ms",
    )
    .bind(login_id.to_string())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let expires: i64 = row.try_get("expires_ms")?;
    let account_id: Option<UserId> = ids::get_opt(&row, "account_id")?;
    let stored = zeroize::Zeroizing::new(row.try_get::<Vec<u8>, _>("state")?);
    let server_state = ServerLoginState::from_secret_bytes(&stored)
        .map_err(|e| ApiError::Internal(format!("stored login state: {e}")))?;
    let verified = now < expires && server_state.finish(finalization).is_ok();
    Ok(account_id.filter(|_| verified))
}

/// A login whose password was right, waiting for its second factor.
#[derive(Debug)]
pub(crate) struct Pending {
    /// The hash of the secret that names it.
    pub(crate) hash: TokenHash,
    /// Whose login it is.
    pub(crate) account: Account,
    /// The device label the session will get.
    pub(crate) device_label: String,
    /// How the session will be handed out.
    pub(crate) mode: SessionMode,
}

/// Keeps a login waiting for its second factor; returns the secret that
/// names it (shown once) and when it ends.
pub(crate) async fn wait_for_second_factor(
    tx: &mut AnyConnection,
    account_id: UserId,
    device_label: &str,
    mode: SessionMode,
    now: i64,
) -> Result<(Token, i64), ApiError> {
    let (token, hash) = Token::generate();
    let expires_ms = ms_after(now, PENDING_LOGIN_LIFETIME);
    sqlx::query(
        "INSERT INTO pending_logins (token_hash, account_id, device_label, session_mode, expires_ms) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash.to_vec())
    .bind(account_id.to_string())
    .bind(device_label)
    .bind(mode.as_str())
    .bind(expires_ms)
    .execute(&mut *tx)
    .await?;
    Ok((token, expires_ms))
}

impl Pending {
    /// After the per-address limit: a write transaction and the live
    /// pending login `presented` names (an ended one is removed, and the
    /// answer is `SecondFactorFailed`).
    pub(crate) async fn open(
        state: &AppState,
        ip: std::net::IpAddr,
        presented: &str,
        now: i64,
    ) -> Result<(sqlx::Transaction<'static, sqlx::Any>, Self), ApiError> {
        state.limits.login_by_address.check(&address_key(ip))?;
        let mut tx = state.store.begin().await?;
        match Self::load(&mut tx, presented, now).await? {
            Ok(pending) => Ok((tx, pending)),
            Err(ended) => {
                tx.commit().await?;
                Err(ended)
            }
        }
    }

    /// The live pending login `presented` names. `Ok(Err(…))` when it is
    /// unknown or has ended (expired, too many wrong codes, account
    /// disabled); an ended one is removed, so commit either way.
    async fn load(
        tx: &mut AnyConnection,
        presented: &str,
        now: i64,
    ) -> Result<Result<Self, ApiError>, ApiError> {
        let Some(hash) = TokenHash::of_presented(presented) else {
            return Ok(Err(ApiError::SecondFactorFailed));
        };
        let Some(row) = sqlx::query(
            "SELECT account_id, device_label, session_mode, attempts, expires_ms FROM pending_logins \
             WHERE token_hash = $1",
        )
        .bind(hash.to_vec())
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(Err(ApiError::SecondFactorFailed));
        };
        let account_id: UserId = ids::get(&row, "account_id")?;
        let account = accounts::by_id(&mut *tx, account_id).await?;
        let attempts: i64 = row.try_get("attempts")?;
        let expires_ms: i64 = row.try_get("expires_ms")?;
        let live = now < expires_ms && attempts < PENDING_LOGIN_ATTEMPTS;
        match account {
            Some(account) if live && !account.disabled => Ok(Ok(Self {
                hash,
                account,
                device_label: row.try_get("device_label")?,
                mode: SessionMode::from_stored(&row.try_get::<String, _>("session_mode")?),
            })),
            _ => {
                sqlx::query("DELETE FROM pending_logins WHERE token_hash = $1")
                    .bind(hash.to_vec())
                    .execute(&mut *tx)
                    .await?;
                Ok(Err(ApiError::SecondFactorFailed))
            }
        }
    }

    /// Counts a try before the code is looked at, in one conditional
    /// statement: parallel requests cannot all see "fewer than five".
    /// `false` when no try is left (or the login ended meanwhile).
    pub(crate) async fn count_try(
        &self,
        tx: &mut AnyConnection,
        now: i64,
    ) -> Result<bool, ApiError> {
        let counted = sqlx::query(
            "UPDATE pending_logins SET attempts = attempts + 1 \
             WHERE token_hash = $1 AND attempts < $2 AND expires_ms > $3",
        )
        .bind(self.hash.to_vec())
        .bind(PENDING_LOGIN_ATTEMPTS)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        Ok(counted.rows_affected() == 1)
    }

    /// Takes the pending login out, in the transaction that starts the
    /// session: it finishes once. `false` when another request took it.
    pub(crate) async fn take(&self, tx: &mut AnyConnection) -> Result<bool, ApiError> {
        let taken = sqlx::query("DELETE FROM pending_logins WHERE token_hash = $1")
            .bind(self.hash.to_vec())
            .execute(&mut *tx)
            .await?;
        Ok(taken.rows_affected() == 1)
    }
}

/// Ends the account's unfinished first steps (its password changed).
pub(crate) async fn end_attempts(
    conn: &mut AnyConnection,
    account_id: UserId,
) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM login_attempts WHERE account_id = $1")
        .bind(account_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends every login of the account that waits for a second factor (its
/// factors or its password changed).
pub(crate) async fn end_pending(
    conn: &mut AnyConnection,
    account_id: UserId,
) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM pending_logins WHERE account_id = $1")
        .bind(account_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes first steps whose time ran out (housekeeping).
pub(crate) async fn forget_expired_attempts(
    conn: &mut AnyConnection,
    now: i64,
) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM login_attempts WHERE expires_ms < $1")
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes logins that waited too long for their second factor
/// (housekeeping).
pub(crate) async fn forget_expired_pending(
    conn: &mut AnyConnection,
    now: i64,
) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM pending_logins WHERE expires_ms < $1")
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}
