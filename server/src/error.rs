//! Errors of the server: start-up failures, and the API error every handler
//! returns (mapped to a status code and a stable JSON code).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration file or environment is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// The database could not be reached or migrated.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The stored OPAQUE server setup is unreadable.
    #[error("stored OPAQUE server setup is corrupt: {0}")]
    ServerKey(kluis_crypto::Error),
    /// The listener could not be bound.
    #[error("listen: {0}")]
    Io(#[from] std::io::Error),
}

/// A failed API request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The database failed; details go to the log, not to the client.
    #[error("storage unavailable")]
    Storage(#[from] sqlx::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::Storage(e) => {
                tracing::error!(error = %e, "storage error");
                (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable")
            }
        };
        (status, Json(serde_json::json!({ "error": code }))).into_response()
    }
}
