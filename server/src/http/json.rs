//! The JSON request extractor of the API: axum's `Json` with its rejections
//! turned into [`ApiError`]s (a clear 4xx in the common `{error, message}`
//! shape instead of axum's plain-text answers), and [`B64`], the form
//! binary fields (OPAQUE messages) take in JSON.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::RefOr;

use crate::error::{ApiError, ErrorCode};

/// A JSON request body.
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(map_rejection(rejection)),
        }
    }
}

fn map_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            // serde's message names the field and what was expected; it
            // never echoes the value.
            ApiError::bad_request(ErrorCode::InvalidField, e.body_text())
        }
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::bad_request(ErrorCode::InvalidJson, "the request body is not valid JSON")
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge
        }
        other => ApiError::bad_request(ErrorCode::InvalidBody, other.body_text()),
    }
}

/// Whether a request says its body is raw bytes (`application/octet-stream`),
/// as item and attachment uploads must.
pub(crate) fn is_binary(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/octet-stream"))
}

/// Lower-case hexadecimal, the form digests and fingerprints take in JSON.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads 64 hexadecimal digits (a SHA-256 digest).
pub(crate) fn unhex_32(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    (0..32)
        .map(|i| {
            text.get(2 * i..2 * i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect()
}

/// Bytes carried in JSON as standard base64 (RFC 4648 §4, padded).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct B64(pub Vec<u8>);

impl std::fmt::Debug for B64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "B64({} bytes)", self.0.len())
    }
}

impl Serialize for B64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for B64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map(B64)
            .map_err(|_| serde::de::Error::custom("expected standard base64"))
    }
}

impl utoipa::PartialSchema for B64 {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Byte)))
            .description(Some("bytes, standard base64"))
            .into()
    }
}

impl utoipa::ToSchema for B64 {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_refusals() {
        let digest = [0xabu8; 32];
        assert_eq!(unhex_32(&hex(&digest)), Some(digest.to_vec()));
        assert_eq!(hex(&[0x00, 0x0f]), "000f");
        assert_eq!(unhex_32("ab"), None);
        assert_eq!(unhex_32(&"zz".repeat(32)), None);
        assert_eq!(unhex_32(&"é".repeat(32)), None);
    }
}
