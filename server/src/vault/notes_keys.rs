//! Coach notes keys (PROTOCOL.md §10): one sealed key per coach and
//! generation, sealed to the coach alone. A generation, once stored, keeps
//! its key: a second upload must be the same bytes.

use sqlx::{AnyConnection, Row};

use crate::error::ApiError;
use crate::ids::UserId;

/// What storing a notes key did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Stored {
    /// New, or the same bytes again (a retried upload).
    Kept,
    /// The generation already holds another key; nothing changed.
    Conflict,
}

/// Stores the coach's sealed notes key of `generation`, once.
pub(crate) async fn store(
    conn: &mut AnyConnection,
    coach_id: UserId,
    generation: i64,
    envelope: &[u8],
    now: i64,
) -> Result<Stored, ApiError> {
    let existing =
        sqlx::query("SELECT envelope FROM notes_keys WHERE coach_id = $1 AND generation = $2")
            .bind(coach_id.to_string())
            .bind(generation)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some(row) = existing {
        let stored: Vec<u8> = row.try_get("envelope")?;
        return Ok(if stored == envelope {
            Stored::Kept
        } else {
            Stored::Conflict
        });
    }
    sqlx::query(
        "INSERT INTO notes_keys (coach_id, generation, envelope, created_ms) VALUES ($1, $2, $3, $4)",
    )
    .bind(coach_id.to_string())
    .bind(generation)
    .bind(envelope)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(Stored::Kept)
}

/// Whether the coach has published the notes key of `generation`.
pub(crate) async fn exists(
    conn: &mut AnyConnection,
    coach_id: UserId,
    generation: i64,
) -> Result<bool, ApiError> {
    let row = sqlx::query("SELECT 1 AS x FROM notes_keys WHERE coach_id = $1 AND generation = $2")
        .bind(coach_id.to_string())
        .bind(generation)
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}

/// Every generation's sealed key of a coach, oldest first.
pub(crate) async fn all_of(
    conn: &mut AnyConnection,
    coach_id: UserId,
) -> Result<Vec<(i64, Vec<u8>)>, ApiError> {
    let rows = sqlx::query(
        "SELECT generation, envelope FROM notes_keys WHERE coach_id = $1 ORDER BY generation",
    )
    .bind(coach_id.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("generation")?, r.try_get("envelope")?)))
        .collect()
}
