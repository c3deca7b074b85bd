//! OPAQUE login (RFC 9807 §6) in two round trips, and logout.
//!
//! An unknown e-mail is answered from opaque-ke's fake record (§10.9): the
//! same message sizes, the same computation, and a finish that fails exactly
//! like a wrong password. The server never receives a password or anything
//! derived from it but the OPAQUE messages.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kluis_crypto::ids::UserId;
use kluis_crypto::opaque::{server_login_start, ServerLoginState};
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{grant, SessionGranted, SessionMode, Status};
use crate::auth::sms;
use crate::auth::token::{Token, TokenHash};
use crate::auth::two_factor::SecondFactorMethod;
use crate::clock::{ms_after, new_id, now_ms};
use crate::error::{ApiError, ErrorBody};
use crate::http::extract::{clear_session_cookie, Auth, ClientAddr};
use crate::http::json::{ApiJson, B64};
use crate::mail::address::EmailAddress;
use crate::rate_limit::address_key;
use crate::{
    auth::sessions as store_sessions, auth::two_factor, fields, mail::notifications, mail::outbox,
    mail::templates, org::accounts, AppState,
};

/// How long the server keeps its half of a login between the two steps.
const LOGIN_STATE_LIFETIME: std::time::Duration = std::time::Duration::from_secs(120);

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login_start))
        .routes(routes!(login_finish))
        .routes(routes!(login_second_factor))
        .routes(routes!(login_sms_code))
        .routes(routes!(logout))
        .routes(routes!(logout_everywhere))
}

/// Step 1 of a login.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginStart {
    /// The account's e-mail address.
    pub email: String,
    /// OPAQUE `CredentialRequest` (KE1).
    pub request: B64,
}

/// The server's answer to step 1.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginChallenge {
    /// Names this login attempt in step 2.
    pub login_id: String,
    /// OPAQUE `CredentialResponse` (KE2).
    pub response: B64,
}

/// Step 2 of a login.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginFinish {
    /// From step 1.
    pub login_id: String,
    /// OPAQUE `CredentialFinalization` (KE3).
    pub finalization: B64,
    /// Shown in the session list.
    #[serde(default)]
    pub device_label: Option<String>,
    /// Token in the answer (default) or cookie.
    #[serde(default)]
    pub session: SessionMode,
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

/// Login step 1: answers KE1 with KE2.
#[utoipa::path(post, path = "/api/login/start", tag = "login",
    request_body = LoginStart,
    responses((status = 200, body = LoginChallenge), (status = 400, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
async fn login_start(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    ApiJson(body): ApiJson<LoginStart>,
) -> Result<Json<LoginChallenge>, ApiError> {
    state.limits.login_by_address.check(&address_key(ip))?;
    let email = EmailAddress::parse(&body.email)?;
    state.limits.login_by_account.check(email.as_str())?;
    let mut conn = state.store.pool().acquire().await?;
    let account = accounts::by_email(&mut conn, email.as_str()).await?;
    let credential_id = match &account {
        Some(a) => *a
            .id
            .parse::<UserId>()
            .map_err(|_| ApiError::Internal("stored account id is not a UUID".to_owned()))?
            .as_bytes(),
        None => unknown_account_credential_id(&email),
    };
    let challenge = begin(
        &state,
        &mut conn,
        account
            .as_ref()
            .map(|a| (a.id.as_str(), a.opaque_record.as_slice())),
        &credential_id,
        &body.request.0,
    )
    .await?;
    Ok(Json(challenge))
}

/// OPAQUE's first server step for `account` (id and record; `None` for
/// the fake record), its state kept for [`verify`] under a new login id.
pub(crate) async fn begin(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    account: Option<(&str, &[u8])>,
    credential_id: &[u8],
    request: &[u8],
) -> Result<LoginChallenge, ApiError> {
    let (response, server_state) = server_login_start(
        &mut OsRng,
        &state.opaque_setup,
        account.map(|(_, record)| record),
        request,
        credential_id,
    )?;
    let login_id = new_id();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO login_attempts (id, account_id, state, expires_ms) VALUES ($1, $2, $3, $4)",
    )
    .bind(&login_id)
    .bind(account.map(|(id, _)| id.to_owned()))
    .bind(server_state.to_secret_bytes().to_vec())
    .bind(ms_after(now, LOGIN_STATE_LIFETIME))
    .execute(&mut *conn)
    .await?;
    Ok(LoginChallenge {
        login_id,
        response: B64(response),
    })
}

/// The logged-in caller's account, after the login rate limits (per
/// address and per account) that proving the password again falls under.
pub(crate) async fn reauthenticating(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    account_id: &str,
    ip: std::net::IpAddr,
) -> Result<accounts::Account, ApiError> {
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
    conn: &mut sqlx::AnyConnection,
    account: &accounts::Account,
    request: &[u8],
) -> Result<LoginChallenge, ApiError> {
    let credential_id = *account
        .id
        .parse::<UserId>()
        .map_err(|_| ApiError::Internal("stored account id is not a UUID".to_owned()))?
        .as_bytes();
    begin(
        state,
        conn,
        Some((account.id.as_str(), account.opaque_record.as_slice())),
        &credential_id,
        request,
    )
    .await
}

/// OPAQUE's last server step: the account whose password the client just
/// proved, or `None` (wrong password, unknown account, expired or used
/// login id — indistinguishable). The attempt is used up either way.
pub(crate) async fn verify(
    tx: &mut sqlx::AnyConnection,
    login_id: &str,
    finalization: &[u8],
    now: i64,
) -> Result<Option<String>, ApiError> {
    // Taken out in one statement: a login attempt finishes at most once.
    let row = sqlx::query(
        "DELETE FROM login_attempts WHERE id = $1 RETURNING account_id, state, expires_ms",
    )
    .bind(login_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let expires: i64 = row.try_get("expires_ms")?;
    let account_id: Option<String> = row.try_get("account_id")?;
    let stored = zeroize::Zeroizing::new(row.try_get::<Vec<u8>, _>("state")?);
    let server_state = ServerLoginState::from_secret_bytes(&stored)
        .map_err(|e| ApiError::Internal(format!("stored login state: {e}")))?;
    let verified = now < expires && server_state.finish(finalization).is_ok();
    Ok(account_id.filter(|_| verified))
}

/// How long a login may wait for its second factor.
const PENDING_LOGIN_LIFETIME: std::time::Duration = std::time::Duration::from_secs(300);
/// Wrong codes one pending login may try before it ends.
const PENDING_LOGIN_ATTEMPTS: i64 = 5;

/// The password was right; the session waits for a second factor.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SecondFactorRequired {
    /// Names this login in `POST /api/login/second-factor` (a secret, valid
    /// for five minutes and five codes).
    pub pending_login: String,
    /// What may be sent: `totp`, `recovery_code`.
    pub methods: Vec<SecondFactorMethod>,
    /// When it ends, Unix ms.
    pub expires_ms: i64,
}

/// The second step of a login with two factors.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondFactor {
    /// From the login's `202` answer.
    pub pending_login: String,
    /// Which factor `code` is.
    pub method: SecondFactorMethod,
    /// The code.
    pub code: String,
}

/// Starts a session after every factor passed: tells the address of a new
/// device, and hands out the session.
async fn start_session(
    state: &AppState,
    mut tx: sqlx::Transaction<'static, sqlx::Any>,
    account: &accounts::Account,
    device_label: &str,
    mode: SessionMode,
    now: i64,
) -> Result<Response, ApiError> {
    notifications::login_from_new_device(&mut tx, account, device_label, now).await?;
    let session = store_sessions::create(
        &mut tx,
        &account.id,
        device_label,
        state.config.session_lifetime,
        now,
    )
    .await?;
    tx.commit().await?;
    state.worker_wake.notify_one();
    state.metrics.login("success");
    tracing::info!(account = %account.id, session = %session.id, "login");
    Ok(grant(state, account.id.clone(), session, mode))
}

/// Login step 2: verifies KE3 and starts a session, or, with two-factor
/// login on, answers `202` and waits for the second factor.
#[utoipa::path(post, path = "/api/login/finish", tag = "login",
    request_body = LoginFinish,
    responses((status = 200, body = SessionGranted),
              (status = 202, body = SecondFactorRequired, description = "the password was right; send the second factor"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn login_finish(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginFinish>,
) -> Result<Response, ApiError> {
    let device_label = fields::device_label(body.device_label.as_deref())?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let Some(account_id) = verify(&mut tx, &body.login_id, &body.finalization.0, now).await? else {
        tx.commit().await?;
        state.metrics.login("failure");
        return Err(ApiError::LoginFailed);
    };
    let account = accounts::by_id(&mut tx, &account_id)
        .await?
        .ok_or(ApiError::LoginFailed)?;
    if account.disabled {
        tx.commit().await?;
        state.metrics.login("disabled");
        return Err(ApiError::AccountDisabled);
    }
    let factors = two_factor::factors(&mut tx, &account.id).await?;
    if factors.enabled() {
        let (token, hash) = Token::generate();
        let expires_ms = ms_after(now, PENDING_LOGIN_LIFETIME);
        sqlx::query(
            "INSERT INTO pending_logins (token_hash, account_id, device_label, session_mode, expires_ms) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash.to_vec())
        .bind(&account.id)
        .bind(&device_label)
        .bind(match body.session {
            SessionMode::Bearer => "bearer",
            SessionMode::Cookie => "cookie",
        })
        .bind(expires_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        state.metrics.login("second_factor_required");
        let answer = SecondFactorRequired {
            pending_login: token.as_str().to_owned(),
            methods: [
                (factors.totp, SecondFactorMethod::Totp),
                (factors.sms && state.sms.is_some(), SecondFactorMethod::Sms),
                (true, SecondFactorMethod::RecoveryCode),
            ]
            .into_iter()
            .filter_map(|(on, m)| on.then_some(m))
            .collect(),
            expires_ms,
        };
        return Ok((StatusCode::ACCEPTED, Json(answer)).into_response());
    }
    start_session(&state, tx, &account, &device_label, body.session, now).await
}

/// Login step 3 with two-factor login on: a code from the authenticator or
/// a recovery code. Rate limited like password attempts (per address and
/// per account); a pending login ends after five wrong codes or five
/// minutes, and every code works once.
#[utoipa::path(post, path = "/api/login/second-factor", tag = "login",
    request_body = SecondFactor,
    responses((status = 200, body = SessionGranted), (status = 401, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
async fn login_second_factor(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    ApiJson(body): ApiJson<SecondFactor>,
) -> Result<Response, ApiError> {
    let now = now_ms();
    let (mut tx, pending) = Pending::open(&state, ip, &body.pending_login, now).await?;
    let (hash, account) = (pending.hash, pending.account);
    state.limits.login_by_account.check(&account.email)?;
    // The try is counted before the code is looked at, in one conditional
    // statement: parallel requests cannot all see "fewer than five".
    let counted = sqlx::query(
        "UPDATE pending_logins SET attempts = attempts + 1 \
         WHERE token_hash = $1 AND attempts < $2 AND expires_ms > $3",
    )
    .bind(hash.to_vec())
    .bind(PENDING_LOGIN_ATTEMPTS)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if counted.rows_affected() != 1 {
        tx.commit().await?;
        return Err(ApiError::SecondFactorFailed);
    }
    let passed =
        two_factor::use_code(&mut tx, &account, body.method, &body.code, true, now).await?;
    if !passed {
        tx.commit().await?;
        state.metrics.login("second_factor_failure");
        return Err(ApiError::SecondFactorFailed);
    }
    // Taken out in the transaction that starts the session: it finishes once.
    let taken = sqlx::query("DELETE FROM pending_logins WHERE token_hash = $1")
        .bind(hash.to_vec())
        .execute(&mut *tx)
        .await?;
    if taken.rows_affected() != 1 {
        return Err(ApiError::SecondFactorFailed);
    }
    if body.method == SecondFactorMethod::RecoveryCode {
        outbox::enqueue(
            &mut tx,
            &account.email,
            &templates::recovery_code_used(account.language),
            now,
        )
        .await?;
    }
    start_session(
        &state,
        tx,
        &account,
        &pending.device_label,
        pending.mode,
        now,
    )
    .await
}

/// A login waiting for its second factor.
struct Pending {
    hash: TokenHash,
    account: accounts::Account,
    device_label: String,
    mode: SessionMode,
}

impl Pending {
    /// After the per-address limit: a write transaction and the live
    /// pending login `presented` names (an ended one is removed, and the
    /// answer is `SecondFactorFailed`).
    async fn open(
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
        tx: &mut sqlx::AnyConnection,
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
        let account_id: String = row.try_get("account_id")?;
        let account = accounts::by_id(&mut *tx, &account_id).await?;
        let attempts: i64 = row.try_get("attempts")?;
        let expires_ms: i64 = row.try_get("expires_ms")?;
        let live = now < expires_ms && attempts < PENDING_LOGIN_ATTEMPTS;
        match account {
            Some(account) if live && !account.disabled => Ok(Ok(Self {
                hash,
                account,
                device_label: row.try_get("device_label")?,
                mode: match row.try_get::<String, _>("session_mode")?.as_str() {
                    "cookie" => SessionMode::Cookie,
                    _ => SessionMode::Bearer,
                },
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
}

/// Which pending login wants its SMS code.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PendingOnly {
    /// From the login's `202` answer.
    pub pending_login: String,
}

/// Sends the SMS code of a pending login to the account's verified phone
/// (rate limited per account and per address; a new code replaces the
/// last).
#[utoipa::path(post, path = "/api/login/second-factor/sms", tag = "login",
    request_body = PendingOnly,
    responses((status = 200, body = Status), (status = 401, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 429, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
async fn login_sms_code(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    ApiJson(body): ApiJson<PendingOnly>,
) -> Result<Json<Status>, ApiError> {
    let now = now_ms();
    let (mut tx, pending) = Pending::open(&state, ip, &body.pending_login, now).await?;
    let text = super::two_factor::prepare_sms_code(
        &state,
        &mut tx,
        &pending.account,
        sms::Purpose::Login,
        now,
    )
    .await?;
    tx.commit().await?;
    super::two_factor::deliver_sms(&state, &text).await?;
    Ok(Status::json("sms_sent"))
}

/// Ends this session.
#[utoipa::path(post, path = "/api/logout", tag = "login",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Status), (status = 401, body = ErrorBody)))]
async fn logout(State(state): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    let mut conn = state.store.pool().acquire().await?;
    store_sessions::revoke(&mut conn, &auth.account_id, &auth.session_id, now_ms()).await?;
    let mut response = Status::json("logged_out").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_session_cookie());
    Ok(response)
}

/// Ends every session of the account, this one included.
#[utoipa::path(post, path = "/api/logout/everywhere", tag = "login",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Status), (status = 401, body = ErrorBody)))]
async fn logout_everywhere(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Response, ApiError> {
    let mut conn = state.store.pool().acquire().await?;
    let n = store_sessions::revoke_all(&mut conn, &auth.account_id, now_ms()).await?;
    tracing::info!(account = %auth.account_id, sessions = n, "logged out everywhere");
    let mut response = Status::json("logged_out_everywhere").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_session_cookie());
    Ok(response)
}
