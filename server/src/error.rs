//! Errors of the server: start-up failures, and the one API error every
//! handler returns, mapped to a status code and a JSON body
//! `{ "error": code, "message": text }`. Codes are stable (clients match on
//! them); messages are for people and never carry a secret.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The stable, machine-readable codes of error answers: clients match on
/// them, so a code is never renamed or reused. The OpenAPI document lists
/// them (schema `ErrorCode`).
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $code:literal,)*) => {
        /// A stable error code (the `error` of every error answer).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($(#[doc = $doc])* #[serde(rename = $code)] $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the order declared.
            pub const ALL: &'static [ErrorCode] = &[$(Self::$variant,)*];

            /// The code as clients see it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                }
            }
        }
    };
}

// Written by hand rather than derived: the derive does not see the codes
// through the macro, and the document must list exactly `ErrorCode::ALL`.
impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "A stable, machine-readable error code; clients match on it.",
            ))
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCode {}

error_codes! {
    /// An invitation to register went to an address that already has an account (log in and accept instead).
    AccountExists = "account_exists",
    /// The attachment is already complete.
    AlreadyComplete = "already_complete",
    /// The account is already a member.
    AlreadyMember = "already_member",
    /// An attachment with this id exists with other contents.
    AttachmentExists = "attachment_exists",
    /// Only active coaches and clients of the organisation can join a relationship.
    CannotJoin = "cannot_join",
    /// A concurrent request changed this; read it again and retry.
    ConcurrentChange = "concurrent_change",
    /// The uploaded attachment does not match its declared digest.
    DigestMismatch = "digest_mismatch",
    /// A signed item deletion is malformed, names another item, author or
    /// epoch, or is not signed with the caller's current key.
    DeletionInvalid = "deletion_invalid",
    /// Two wrapped keys address the same member.
    DuplicateRecipient = "duplicate_recipient",
    /// Another account uses this e-mail address.
    EmailTaken = "email_taken",
    /// This notes-key generation already holds another key.
    GenerationExists = "generation_exists",
    /// An envelope's clear header disagrees with the request.
    HeaderMismatch = "header_mismatch",
    /// The attachment is not completely uploaded.
    Incomplete = "incomplete",
    /// The request body could not be read.
    InvalidBody = "invalid_body",
    /// A second-factor or SMS code is wrong or used.
    InvalidCode = "invalid_code",
    /// A paging cursor is malformed.
    InvalidCursor = "invalid_cursor",
    /// An e-mail address is malformed.
    InvalidEmail = "invalid_email",
    /// An envelope does not decode.
    InvalidEnvelope = "invalid_envelope",
    /// A field is missing or invalid.
    InvalidField = "invalid_field",
    /// The request body is not valid JSON.
    InvalidJson = "invalid_json",
    /// An OPAQUE message is malformed.
    InvalidMessage = "invalid_message",
    /// A phone number is malformed.
    InvalidPhone = "invalid_phone",
    /// A query parameter is invalid.
    InvalidQuery = "invalid_query",
    /// An item with this id exists with other contents.
    ItemConflict = "item_conflict",
    /// A member has not published keys yet.
    KeysMissing = "keys_missing",
    /// A membership record is malformed, does not continue the chain, names
    /// other members, roles or keys than the change, or is not signed by
    /// the calling coach.
    MembershipRecordInvalid = "membership_record_invalid",
    /// A member of the epoch has no wrapped key.
    MissingRecipient = "missing_recipient",
    /// A relationship keeps at least one coach.
    NoCoachLeft = "no_coach_left",
    /// No phone number is set up for this.
    NoPhone = "no_phone",
    /// Only clients delete their own account.
    NotAClient = "not_a_client",
    /// The account is not a current member.
    NotAMember = "not_a_member",
    /// A coach works only with clients they invited.
    NotYourClient = "not_your_client",
    /// The privacy notice acknowledged is not the current one.
    NoticeChanged = "notice_changed",
    /// The privacy notice was not shown before it was acknowledged.
    NoticeNotShown = "notice_not_shown",
    /// The account already belongs to the organisation with another role.
    OtherRole = "other_role",
    /// This relationship id is taken.
    RelationshipExists = "relationship_exists",
    /// A manager cannot disable or enable themself.
    SelfAction = "self",
    /// The account belongs to other organisations too; only its owner may change it.
    SharedAccount = "shared_account",
    /// This server sends no text messages.
    SmsNotConfigured = "sms_not_configured",
    /// The epoch is not (or no longer) the next or the current one.
    StaleEpoch = "stale_epoch",
    /// A wrapped key is addressed to a member's old keys.
    StaleFingerprint = "stale_fingerprint",
    /// Two-factor login is already on (one factor at a time).
    TwoFactorEnabled = "two_factor_enabled",
    /// No such account.
    UnknownAccount = "unknown_account",
    /// The notes key of this generation is not published yet.
    UnknownNotesGeneration = "unknown_notes_generation",
    /// An envelope of an unsupported protocol version.
    UnsupportedVersion = "unsupported_version",
    /// The upload broke off; resume at the reported offset.
    UploadInterrupted = "upload_interrupted",
    /// The upload sent nothing for too long.
    UploadStalled = "upload_stalled",
    /// An upload resumed at another offset than the server holds.
    WrongOffset = "wrong_offset",
    /// A setup, invitation, verification or reset link that is unknown, expired or used.
    InvalidToken = "invalid_token",
    /// No valid session.
    Unauthenticated = "unauthenticated",
    /// Wrong e-mail address or password (indistinguishable).
    LoginFailed = "login_failed",
    /// A second-factor code is wrong, used, or for an ended login.
    SecondFactorFailed = "second_factor_failed",
    /// The organisation requires two-factor login; set it up first.
    TwoFactorEnrolmentRequired = "two_factor_enrolment_required",
    /// The action needs a fresh proof of the password (`POST /api/reauth/start`).
    ReauthenticationRequired = "reauthentication_required",
    /// The account uses two-factor login: this needs a code of its second factor too.
    SecondFactorRequired = "second_factor_required",
    /// The account is disabled.
    AccountDisabled = "account_disabled",
    /// Logged in, but not allowed.
    Forbidden = "forbidden",
    /// A cookie request that changes state came from another origin.
    CrossSite = "cross_site",
    /// Nothing there (or nothing the caller may know of).
    NotFound = "not_found",
    /// The route exists, the method does not.
    MethodNotAllowed = "method_not_allowed",
    /// The body is larger than allowed.
    PayloadTooLarge = "payload_too_large",
    /// The body is not JSON.
    UnsupportedMediaType = "unsupported_media_type",
    /// Too many requests; retry after Retry-After.
    RateLimited = "rate_limited",
    /// The request took too long.
    Timeout = "timeout",
    /// The SMS gateway did not take the message.
    SmsUnavailable = "sms_unavailable",
    /// The database failed.
    StorageUnavailable = "storage_unavailable",
    /// A bug; details are in the server log.
    Internal = "internal",
}

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
        code: ErrorCode,
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
    /// A session alone is not enough: the action (a new identity, the
    /// second factor changed, the address changed) needs the password
    /// proven again within the last few minutes, so that a stolen session
    /// cannot hand the account over.
    #[error("prove your password again first (POST /api/reauth/start)")]
    ReauthenticationRequired,
    /// The account has a second factor, and this (a password reset) needs
    /// a code of it: the e-mailed link alone is not enough.
    #[error(
        "this account uses two-factor login: give a code of its second factor or a recovery code"
    )]
    SecondFactorRequired,
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
        code: ErrorCode,
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
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// A 409 with a code and a message.
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    /// The status code and stable error code.
    pub fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, *code),
            Self::InvalidToken => (StatusCode::BAD_REQUEST, ErrorCode::InvalidToken),
            Self::Unauthenticated => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated),
            Self::LoginFailed => (StatusCode::UNAUTHORIZED, ErrorCode::LoginFailed),
            Self::SecondFactorFailed => (StatusCode::UNAUTHORIZED, ErrorCode::SecondFactorFailed),
            Self::TwoFactorEnrolmentRequired => {
                (StatusCode::FORBIDDEN, ErrorCode::TwoFactorEnrolmentRequired)
            }
            Self::ReauthenticationRequired => {
                (StatusCode::FORBIDDEN, ErrorCode::ReauthenticationRequired)
            }
            Self::SecondFactorRequired => (StatusCode::FORBIDDEN, ErrorCode::SecondFactorRequired),
            Self::AccountDisabled => (StatusCode::FORBIDDEN, ErrorCode::AccountDisabled),
            Self::Forbidden => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            Self::CrossSite => (StatusCode::FORBIDDEN, ErrorCode::CrossSite),
            Self::NotFound => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            Self::Conflict { code, .. } => (StatusCode::CONFLICT, *code),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
            ),
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited),
            Self::Timeout => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Timeout),
            Self::SmsUnavailable => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::SmsUnavailable),
            Self::Storage(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::StorageUnavailable,
            ),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
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
                ErrorCode::ConcurrentChange,
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
            other => Self::bad_request(ErrorCode::InvalidMessage, other.to_string()),
        }
    }
}

/// The JSON body of every error answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable code.
    pub error: ErrorCode,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_serialize_as_themselves() {
        let mut seen = std::collections::BTreeSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{} twice", code.as_str());
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::Value::String(code.as_str().to_owned())
            );
            assert!(code
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
    }

    #[test]
    fn an_answer_carries_its_code() {
        let (status, code) =
            ApiError::conflict(ErrorCode::StaleEpoch, "the next epoch is 3").status_and_code();
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::CONFLICT, "stale_epoch")
        );
        assert_eq!(ApiError::NotFound.status_and_code().1, ErrorCode::NotFound);
    }
}
