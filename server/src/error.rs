//! Errors of the server: start-up failures, and the one API error every
//! handler returns, mapped to a status code and a JSON body
//! `{ "error": code, "message": text }`. Codes are stable (clients match on
//! them); messages are for people and never carry a secret.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
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
    /// The TLS certificate or key could not be loaded.
    #[error("TLS: {0}")]
    Tls(String),
    /// An operator command failed.
    #[error("{0}")]
    Admin(String),
    /// The listener could not be bound.
    #[error("listen: {0}")]
    Io(#[from] std::io::Error),
}

/// A failed API request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request is malformed or a field is invalid.
    #[error("{message}")]
    BadRequest {
        /// Stable code.
        code: &'static str,
        /// What was wrong.
        message: String,
    },
    /// A setup, invitation, verification or reset link that is unknown,
    /// expired or already used: one answer for all three.
    #[error("this link is invalid, has expired or was already used")]
    InvalidToken,
    /// No valid session.
    #[error("not logged in, or the session has ended")]
    Unauthenticated,
    /// OPAQUE login failed: wrong password and unknown account alike.
    #[error("e-mail address or password is wrong")]
    LoginFailed,
    /// A second-factor code that is wrong, used, or for a login that is
    /// unknown or has expired.
    #[error("the code is wrong or was already used; log in again if this repeats")]
    SecondFactorFailed,
    /// The organisation requires two-factor login and the account has not
    /// set it up: only enrolment (and reading one's own account) works.
    #[error("set up two-factor login first: your organisation requires it")]
    TwoFactorEnrolmentRequired,
    /// The SMS gateway did not take the message.
    #[error("the text message could not be sent; try again later or use another method")]
    SmsUnavailable,
    /// The account has been disabled by the operator.
    #[error("this account is disabled")]
    AccountDisabled,
    /// Logged in, but not allowed.
    #[error("not allowed")]
    Forbidden,
    /// A cookie-authenticated request that changes state came from another
    /// origin.
    #[error("cross-site request refused")]
    CrossSite,
    /// Nothing there (or nothing the caller may know of).
    #[error("not found")]
    NotFound,
    /// The request conflicts with the current state.
    #[error("{message}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// What conflicts.
        message: String,
    },
    /// The route exists, the method does not.
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// The body is larger than allowed.
    #[error("request body too large")]
    PayloadTooLarge,
    /// The body is not JSON.
    #[error("send the body as JSON with Content-Type: application/json")]
    UnsupportedMediaType,
    /// Too many requests; retry after the given time.
    #[error("too many requests; retry later")]
    RateLimited {
        /// When a retry may succeed.
        retry_after: Duration,
    },
    /// The request took longer than allowed.
    #[error("the request took too long")]
    Timeout,
    /// The database failed; details go to the log, not to the client.
    #[error("storage unavailable")]
    Storage(sqlx::Error),
    /// A bug; details go to the log.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// A 400 with a code and a message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// A 409 with a code and a message.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    /// The status code and stable error code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            Self::InvalidToken => (StatusCode::BAD_REQUEST, "invalid_token"),
            Self::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Self::LoginFailed => (StatusCode::UNAUTHORIZED, "login_failed"),
            Self::SecondFactorFailed => (StatusCode::UNAUTHORIZED, "second_factor_failed"),
            Self::TwoFactorEnrolmentRequired => {
                (StatusCode::FORBIDDEN, "two_factor_enrolment_required")
            }
            Self::AccountDisabled => (StatusCode::FORBIDDEN, "account_disabled"),
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Self::CrossSite => (StatusCode::FORBIDDEN, "cross_site"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Timeout => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
            Self::SmsUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "sms_unavailable"),
            Self::Storage(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    /// A unique-key violation that no handler turned into a specific answer
    /// is a concurrent request that won (two accepts of one invitation, two
    /// uploads of one item id): a conflict to retry, not an outage.
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => Self::conflict(
                "concurrent_change",
                "a concurrent request changed this; read it again and retry",
            ),
            _ => Self::Storage(e),
        }
    }
}

impl From<kluis_crypto::Error> for ApiError {
    /// Only malformed OPAQUE messages reach here; a failed login is mapped
    /// explicitly where it happens.
    fn from(e: kluis_crypto::Error) -> Self {
        match e {
            kluis_crypto::Error::LoginFailed => Self::LoginFailed,
            other => Self::bad_request("invalid_message", other.to_string()),
        }
    }
}

/// The JSON body of every error answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable code.
    pub error: &'static str,
    /// A sentence for people.
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        match &self {
            Self::Storage(e) => tracing::error!(error = %e, "storage error"),
            Self::Internal(e) => tracing::error!(error = %e, "internal error"),
            _ => {}
        }
        let body = ErrorBody {
            error: code,
            message: self.to_string(),
        };
        let mut response = (status, Json(body)).into_response();
        if let Self::RateLimited { retry_after } = self {
            let secs = retry_after.as_secs().max(1);
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}
