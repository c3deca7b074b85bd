//! The second factor of a login: a TOTP authenticator (RFC 6238 with the
//! parameters every authenticator app supports: HMAC-SHA-1, 6 digits, 30 s
//! steps) and ten one-time recovery codes.
//!
//! - A code is accepted for the current step and one step either side
//!   (clock drift), and only for a step newer than the last one accepted:
//!   a code, once used, never works again (RFC 6238 §5.2).
//! - The TOTP secret must be stored as is (the server computes the codes).
//!   It guards logins only; nothing said between coach and client depends
//!   on it, and the password (OPAQUE) is still needed.
//! - Recovery codes are 80 random bits, shown once, stored as SHA-256 like
//!   every other random token.

use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};
use totp_rs::{Algorithm, TOTP};
use zeroize::Zeroizing;

use crate::error::{ApiError, ErrorCode};
use crate::ids::{SessionId, UserId};

/// Seconds per TOTP step.
const STEP: u64 = 30;
/// Codes per enrolment.
pub(crate) const RECOVERY_CODES: usize = 10;
/// Crockford's base32: no I, L, O, U, so a code read aloud is not misread.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The authenticator for `secret`, labelled with the account's address.
pub(crate) fn authenticator(secret: &[u8], email: &str) -> Result<TOTP, ApiError> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        0,
        STEP,
        secret.to_vec(),
        Some("Kluis".to_owned()),
        // otpauth labels are "issuer:account"; a ':' in an address (legal
        // in a local part) would make the parameters invalid.
        email.replace(':', "_"),
    )
    .map_err(|e| ApiError::Internal(format!("TOTP parameters: {e:?}")))
}

/// The step whose code `code` is, among now's and its two neighbours.
pub(crate) fn matching_step(totp: &TOTP, code: &str, now_ms: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now_step = u64::try_from(now_ms).ok()? / 1000 / STEP;
    // Oldest first, so that of two equal codes the replay check sees the
    // earliest step (it only ever moves forward).
    [
        now_step.checked_sub(1),
        Some(now_step),
        now_step.checked_add(1),
    ]
    .into_iter()
    .flatten()
    .find(|step| totp.check(code, step * STEP))
    .and_then(|step| i64::try_from(step).ok())
}

/// A kind of second factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SecondFactorMethod {
    /// A code from the authenticator app.
    Totp,
    /// One of the one-time recovery codes.
    RecoveryCode,
    /// A code sent by SMS to the verified phone number (ask for it with
    /// `POST /api/login/second-factor/sms`).
    Sms,
}

/// What a second-factor code is checked for: SMS codes are sent for one
/// purpose and count only for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CodeUse {
    /// A login waiting for its second factor.
    Login,
    /// A password reset of an account with a second factor.
    PasswordReset,
    /// Within a session (renewing codes, turning it off): an SMS code has
    /// no pending login to belong to, so only the app's or a recovery code.
    InSession,
}

/// Checks and uses up a code of `method` of the account's confirmed
/// factors: the one place every second-factor check goes through.
pub(crate) async fn use_code(
    conn: &mut AnyConnection,
    account: &crate::org::accounts::Account,
    method: SecondFactorMethod,
    code: &str,
    purpose: CodeUse,
    now_ms: i64,
) -> Result<bool, ApiError> {
    use crate::auth::sms::Purpose;
    match method {
        SecondFactorMethod::Totp => {
            use_totp_code(conn, account.id, &account.email, code, false, now_ms).await
        }
        SecondFactorMethod::RecoveryCode => use_recovery_code(conn, account.id, code, now_ms).await,
        SecondFactorMethod::Sms => {
            let sms_purpose = match purpose {
                CodeUse::Login => Purpose::Login,
                CodeUse::PasswordReset => Purpose::PasswordReset,
                CodeUse::InSession => return Ok(false),
            };
            crate::auth::sms::use_code(conn, account.id, sms_purpose, code, now_ms).await
        }
    }
}

/// A new TOTP secret (160 bits).
pub(crate) fn new_secret() -> Zeroizing<Vec<u8>> {
    let mut secret = Zeroizing::new(vec![0u8; 20]);
    OsRng.fill_bytes(&mut secret);
    secret
}

/// What a user has set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Factors {
    /// A confirmed authenticator.
    pub totp: bool,
    /// A verified phone number.
    pub sms: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
}

impl Factors {
    /// Whether a login needs a second factor.
    pub(crate) fn enabled(&self) -> bool {
        self.totp || self.sms
    }

    /// The methods a login or reset of the account may use: its app, its
    /// phone (if this server sends SMS) and always a recovery code.
    pub(crate) fn methods(&self, sms_configured: bool) -> Vec<SecondFactorMethod> {
        [
            (self.totp, SecondFactorMethod::Totp),
            (self.sms && sms_configured, SecondFactorMethod::Sms),
            (true, SecondFactorMethod::RecoveryCode),
        ]
        .into_iter()
        .filter_map(|(on, m)| on.then_some(m))
        .collect()
    }
}

/// The account's factors.
pub(crate) async fn factors(
    conn: &mut AnyConnection,
    account_id: UserId,
) -> Result<Factors, ApiError> {
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM totp_factors WHERE account_id = $1 AND confirmed_ms IS NOT NULL) AS totp, \
                (SELECT COUNT(*) FROM recovery_codes WHERE account_id = $1 AND used_ms IS NULL) AS codes, \
                (SELECT COUNT(*) FROM sms_factors WHERE account_id = $1 AND verified_ms IS NOT NULL) AS sms",
    )
    .bind(account_id.to_string())
    .fetch_one(conn)
    .await?;
    Ok(Factors {
        totp: row.try_get::<i64, _>("totp")? > 0,
        sms: row.try_get::<i64, _>("sms")? > 0,
        recovery_codes_left: row.try_get("codes")?,
    })
}

/// The stored authenticator: (secret, confirmed).
pub(crate) async fn stored_totp(
    conn: &mut AnyConnection,
    account_id: UserId,
) -> Result<Option<(Zeroizing<Vec<u8>>, bool)>, ApiError> {
    let row = sqlx::query("SELECT secret, confirmed_ms FROM totp_factors WHERE account_id = $1")
        .bind(account_id.to_string())
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        Ok((
            Zeroizing::new(r.try_get::<Vec<u8>, _>("secret")?),
            r.try_get::<Option<i64>, _>("confirmed_ms")?.is_some(),
        ))
    })
    .transpose()
}

/// Checks a code of the account's authenticator (confirmed or, with
/// `enrolling`, not yet) and uses it up: `true` only once per step.
pub(crate) async fn use_totp_code(
    conn: &mut AnyConnection,
    account_id: UserId,
    email: &str,
    code: &str,
    enrolling: bool,
    now_ms: i64,
) -> Result<bool, ApiError> {
    let Some((secret, confirmed)) = stored_totp(&mut *conn, account_id).await? else {
        return Ok(false);
    };
    if confirmed == enrolling {
        return Ok(false);
    }
    let Some(step) = matching_step(&authenticator(&secret, email)?, code, now_ms) else {
        return Ok(false);
    };
    // One statement decides: of two requests with the same code, one wins.
    let done = sqlx::query(
        "UPDATE totp_factors SET last_step = $1 WHERE account_id = $2 AND last_step < $1",
    )
    .bind(step)
    .bind(account_id.to_string())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Starts (or restarts) an enrolment; refused while one is confirmed.
pub(crate) async fn begin_enrolment(
    conn: &mut AnyConnection,
    account_id: UserId,
    secret: &[u8],
    now_ms: i64,
) -> Result<(), ApiError> {
    refuse_if_enabled(&mut *conn, account_id).await?;
    sqlx::query("DELETE FROM totp_factors WHERE account_id = $1")
        .bind(account_id.to_string())
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO totp_factors (account_id, secret, created_ms) VALUES ($1, $2, $3)")
        .bind(account_id.to_string())
        .bind(secret)
        .bind(now_ms)
        .execute(conn)
        .await?;
    Ok(())
}

/// One second factor at a time: adding another while one is on would let
/// a stolen session add the thief's own (turning off needs a code).
pub(crate) async fn refuse_if_enabled(
    conn: &mut AnyConnection,
    account_id: UserId,
) -> Result<(), ApiError> {
    if factors(conn, account_id).await?.enabled() {
        return Err(ApiError::conflict(
            ErrorCode::TwoFactorEnabled,
            "two-factor login is already on: turn it off first (with a code)",
        ));
    }
    Ok(())
}

/// Once a factor is confirmed: every other session of the account ends
/// (it never passed a second factor, and may be a thief's from before),
/// and so do logins waiting for one.
pub(crate) async fn sessions_end_at_enrolment(
    conn: &mut AnyConnection,
    account_id: UserId,
    current_session: SessionId,
    now_ms: i64,
) -> Result<(), ApiError> {
    crate::auth::sessions::revoke_others(&mut *conn, account_id, current_session, now_ms).await?;
    end_pending_logins(conn, account_id).await
}

/// Logins waiting for a second factor end (the password or the factors
/// changed).
pub(crate) async fn end_pending_logins(
    conn: &mut AnyConnection,
    account_id: UserId,
) -> Result<(), ApiError> {
    crate::auth::login::end_pending(conn, account_id).await
}

/// Marks the enrolment confirmed (after [`use_totp_code`] with `enrolling`).
pub(crate) async fn confirm_enrolment(
    conn: &mut AnyConnection,
    account_id: UserId,
    now_ms: i64,
) -> Result<(), ApiError> {
    sqlx::query("UPDATE totp_factors SET confirmed_ms = $1 WHERE account_id = $2")
        .bind(now_ms)
        .bind(account_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes every factor of the account.
pub(crate) async fn disable(conn: &mut AnyConnection, account_id: UserId) -> Result<(), ApiError> {
    for sql in [
        "DELETE FROM totp_factors WHERE account_id = $1",
        "DELETE FROM recovery_codes WHERE account_id = $1",
    ] {
        sqlx::query(sql)
            .bind(account_id.to_string())
            .execute(&mut *conn)
            .await?;
    }
    crate::auth::sms::forget_phone(&mut *conn, account_id).await?;
    crate::auth::login::end_pending(conn, account_id).await
}

/// The canonical form of a recovery code as typed: upper case, without
/// separators, with the letters Crockford reads as digits mapped.
fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect()
}

fn code_hash(normalised: &str) -> Vec<u8> {
    Sha256::new()
        .chain_update(b"kluis/v1/recovery-code\0")
        .chain_update(normalised.as_bytes())
        .finalize()
        .to_vec()
}

/// One new code: 80 random bits as 16 Crockford characters in 4 groups.
fn new_code() -> Zeroizing<String> {
    let mut bits = Zeroizing::new([0u8; 10]);
    OsRng.fill_bytes(bits.as_mut());
    let mut out = Zeroizing::new(String::with_capacity(19));
    let mut acc: u64 = 0;
    let mut have = 0;
    let mut written = 0;
    for byte in bits.iter() {
        acc = (acc << 8) | u64::from(*byte);
        have += 8;
        while have >= 5 {
            have -= 5;
            let index = usize::try_from((acc >> have) & 31).unwrap_or(0);
            if written > 0 && written % 4 == 0 {
                out.push('-');
            }
            out.push(char::from(CROCKFORD.get(index).copied().unwrap_or(b'0')));
            written += 1;
        }
    }
    out
}

/// Replaces the account's recovery codes with ten new ones, returned once.
pub(crate) async fn new_recovery_codes(
    conn: &mut AnyConnection,
    account_id: UserId,
) -> Result<Vec<Zeroizing<String>>, ApiError> {
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
        .bind(account_id.to_string())
        .execute(&mut *conn)
        .await?;
    let codes: Vec<_> = (0..RECOVERY_CODES).map(|_| new_code()).collect();
    for code in &codes {
        sqlx::query("INSERT INTO recovery_codes (account_id, code_hash) VALUES ($1, $2)")
            .bind(account_id.to_string())
            .bind(code_hash(&normalise(code)))
            .execute(&mut *conn)
            .await?;
    }
    Ok(codes)
}

/// Uses up a recovery code: `true` once per code.
pub(crate) async fn use_recovery_code(
    conn: &mut AnyConnection,
    account_id: UserId,
    code: &str,
    now_ms: i64,
) -> Result<bool, ApiError> {
    let done = sqlx::query(
        "UPDATE recovery_codes SET used_ms = $1 \
         WHERE account_id = $2 AND code_hash = $3 AND used_ms IS NULL",
    )
    .bind(now_ms)
    .bind(account_id.to_string())
    .bind(code_hash(&normalise(code)))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows, last six digits (the RFC's table
    /// has eight): the secret is the ASCII of "12345678901234567890".
    #[test]
    fn rfc_6238_vectors() {
        let totp = authenticator(b"12345678901234567890", "a@b.nl").unwrap();
        for (time, code) in [
            (59u64, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(totp.generate(time), code, "T = {time}");
        }
    }

    #[test]
    fn one_step_of_drift_either_way_and_no_further() {
        let totp = authenticator(&[7u8; 20], "a@b.nl").unwrap();
        let now_ms = 1_700_000_000_000i64;
        let now = 1_700_000_000u64;
        let step = i64::try_from(now / 30).unwrap();
        assert_eq!(
            matching_step(&totp, &totp.generate(now), now_ms),
            Some(step)
        );
        assert_eq!(
            matching_step(&totp, &totp.generate(now - 30), now_ms),
            Some(step - 1)
        );
        assert_eq!(
            matching_step(&totp, &totp.generate(now + 30), now_ms),
            Some(step + 1)
        );
        assert_eq!(matching_step(&totp, &totp.generate(now - 90), now_ms), None);
        assert_eq!(matching_step(&totp, "12345", now_ms), None);
        assert_eq!(matching_step(&totp, "abcdef", now_ms), None);
    }

    #[test]
    fn recovery_codes_are_80_bits_and_forgive_typing() {
        let code = new_code();
        assert_eq!(code.len(), 19);
        assert_eq!(code.matches('-').count(), 3);
        assert!(code
            .chars()
            .all(|c| c == '-' || CROCKFORD.contains(&(c as u8))));
        assert_ne!(*new_code(), *code);
        let typed = code.to_lowercase().replace('-', " ").replace('0', "o");
        assert_eq!(normalise(&typed), normalise(&code));
    }
}
