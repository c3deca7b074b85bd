//! The privacy notice every account is shown at its first login, and again
//! whenever its version changes: the GDPR rights (access, rectification,
//! erasure, restriction, portability, a complaint to the Autoriteit
//! Persoonsgegevens) and the contact address, in Dutch or English. The
//! server records which version was shown to whom, when, in which
//! language, and when it was acknowledged.

use sqlx::{AnyConnection, Row};

use crate::error::{ApiError, ErrorCode};
use crate::ids::UserId;
use crate::language::Language;

/// The current version. Raise it whenever the text changes in substance:
/// every account is then asked again.
pub(crate) const VERSION: i64 = 1;

const NL: &str = include_str!("../../privacy/notice.nl.md");
const EN: &str = include_str!("../../privacy/notice.en.md");

/// The notice's text (Markdown) in `language`, with the contact address.
pub(crate) fn text(language: Language, contact: &str) -> String {
    language.pick(NL, EN).replace("{contact}", contact)
}

/// Records that the current version was shown (the first showing counts);
/// returns when it was acknowledged, if it was.
pub(crate) async fn shown(
    conn: &mut AnyConnection,
    account_id: UserId,
    language: Language,
    now: i64,
) -> Result<Option<i64>, ApiError> {
    sqlx::query(
        "INSERT INTO privacy_notices_shown (account_id, version, language, shown_ms) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, version) DO NOTHING",
    )
    .bind(account_id.to_string())
    .bind(VERSION)
    .bind(language.code())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    acknowledged(conn, account_id).await
}

/// When the account acknowledged the current version, if it did.
pub(crate) async fn acknowledged(
    conn: &mut AnyConnection,
    account_id: UserId,
) -> Result<Option<i64>, ApiError> {
    let row = sqlx::query(
        "SELECT acknowledged_ms FROM privacy_notices_shown WHERE account_id = $1 AND version = $2",
    )
    .bind(account_id.to_string())
    .bind(VERSION)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        Some(r) => r.try_get("acknowledged_ms")?,
        None => None,
    })
}

/// Records the acknowledgement of `version`, which must be the current one
/// and must have been shown.
pub(crate) async fn acknowledge(
    conn: &mut AnyConnection,
    account_id: UserId,
    version: i64,
    now: i64,
) -> Result<i64, ApiError> {
    if version != VERSION {
        return Err(ApiError::conflict(
            ErrorCode::NoticeChanged,
            format!("the privacy notice is now version {VERSION}: read it again"),
        ));
    }
    let done = sqlx::query(
        "UPDATE privacy_notices_shown SET acknowledged_ms = COALESCE(acknowledged_ms, $1) \
         WHERE account_id = $2 AND version = $3",
    )
    .bind(now)
    .bind(account_id.to_string())
    .bind(version)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Err(ApiError::conflict(
            ErrorCode::NoticeNotShown,
            "fetch the privacy notice before acknowledging it",
        ));
    }
    acknowledged(conn, account_id)
        .await?
        .ok_or_else(|| ApiError::Internal("acknowledgement not stored".to_owned()))
}

/// Every version of the notice shown to the account: (version, language,
/// shown, acknowledged), for the right of access.
pub(crate) async fn records(
    conn: &mut AnyConnection,
    account_id: UserId,
) -> Result<Vec<(i64, String, i64, Option<i64>)>, ApiError> {
    let rows = sqlx::query(
        "SELECT version, language, shown_ms, acknowledged_ms FROM privacy_notices_shown \
         WHERE account_id = $1 ORDER BY version",
    )
    .bind(account_id.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("version")?,
                r.try_get("language")?,
                r.try_get("shown_ms")?,
                r.try_get("acknowledged_ms")?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_name_every_right_and_the_contact() {
        let nl = text(Language::Nl, "privacy@kluis.example.nl");
        for word in [
            "inzage",
            "rectificatie",
            "vergetelheid",
            "beperking",
            "overdraagbaarheid",
            "Autoriteit Persoonsgegevens",
            "privacy@kluis.example.nl",
        ] {
            assert!(nl.contains(word), "{word}");
        }
        let en = text(Language::En, "privacy@kluis.example.nl");
        for word in [
            "access",
            "rectification",
            "erasure",
            "restriction",
            "portability",
            "Autoriteit Persoonsgegevens",
            "privacy@kluis.example.nl",
        ] {
            assert!(en.contains(word), "{word}");
        }
        assert!(!en.contains("{contact}") && !nl.contains("{contact}"));
    }
}
