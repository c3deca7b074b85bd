//! How the server answers an envelope that does not decode: a 400 that says
//! which envelope and what was wrong with its shape (the server only checks
//! shapes; it never holds a key to check more).

use crate::error::{ApiError, ErrorCode};

/// Maps a decoder error of `kluis-crypto` for the envelope `what`.
pub(crate) fn rejected(what: &'static str, e: kluis_crypto::Error) -> ApiError {
    match e {
        kluis_crypto::Error::UnsupportedVersion { .. } => ApiError::bad_request(
            ErrorCode::UnsupportedVersion,
            format!("{what}: unsupported protocol version"),
        ),
        other => ApiError::bad_request(ErrorCode::InvalidEnvelope, format!("{what}: {other}")),
    }
}

/// A header field that disagrees with the request (URL, caller, epoch).
pub(crate) fn mismatch(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(ErrorCode::HeaderMismatch, message)
}
