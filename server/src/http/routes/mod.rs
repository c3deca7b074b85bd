//! HTTP routes: thin handlers that check who asks, call the domain modules,
//! and answer. Every route is registered through `utoipa-axum`, so the
//! OpenAPI document (`/api/openapi.json`) lists exactly the routes the
//! router serves — the authorization matrix test relies on that.

mod account_deletion;
mod attachments;
mod email;
mod email_change;
mod health;
mod invitations;
mod items;
mod keys;
mod login;
mod me;
mod members;
mod my_data;
mod password_change;
mod password_reset;
mod privacy;
mod reauth;
mod relationships;
mod sessions;
mod setup;
mod two_factor;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::auth::sessions::{NewSession, SessionMode};
use crate::error::ApiError;
use crate::http::extract::session_cookie;
use crate::http::json::B64;
use crate::ids::{self, Id, OrganisationId, UserId};
use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kluis API",
        description = "Accounts, organisations and OPAQUE login of the Kluis server. \
                       Errors are `{ \"error\": code, \"message\": text }`."
    ),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorCode)),
    modifiers(&BearerScheme)
)]
struct ApiDoc;

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::SecurityScheme;
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::http::extract::SESSION_COOKIE,
            ))),
        );
    }
}

/// Every route of the API and its OpenAPI document.
pub(crate) fn router_and_openapi() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::routes())
        .merge(login::routes())
        .merge(sessions::routes())
        .merge(me::routes())
        .merge(my_data::routes())
        .merge(privacy::routes())
        .merge(account_deletion::routes())
        .merge(setup::routes())
        .merge(invitations::routes())
        .merge(members::routes())
        .merge(email::routes())
        .merge(email_change::routes())
        .merge(password_change::routes())
        .merge(reauth::routes())
        .merge(password_reset::routes())
        .merge(two_factor::routes())
        .merge(keys::routes())
        .merge(relationships::routes())
        .merge(items::routes())
        .merge(attachments::routes())
        .split_for_parts()
}

/// A session was started.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SessionGranted {
    /// The account logged in.
    pub account_id: String,
    /// The new session.
    pub session_id: String,
    /// Its absolute end, Unix ms.
    pub expires_ms: i64,
    /// The bearer token (only in bearer mode; shown once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// The answer that hands out a new session, as token or cookie.
pub(crate) fn grant(
    state: &AppState,
    account_id: UserId,
    session: NewSession,
    mode: SessionMode,
) -> Response {
    let body = SessionGranted {
        account_id: account_id.to_string(),
        session_id: session.id.to_string(),
        expires_ms: session.expires_ms,
        token: (mode == SessionMode::Bearer).then(|| session.token.as_str().to_owned()),
    };
    let mut response = Json(body).into_response();
    if mode == SessionMode::Cookie {
        if let Some(cookie) = session_cookie(
            session.token.as_str(),
            state.config.session_lifetime.as_secs(),
        ) {
            response.headers_mut().insert(header::SET_COOKIE, cookie);
        }
    }
    response
}

/// The server's OPAQUE registration response for an account id (the id is
/// the credential identifier, RFC 9807 §6.3.1).
pub(crate) fn registration_response(
    state: &AppState,
    request: &B64,
    account_id: UserId,
) -> Result<B64, ApiError> {
    let response = kluis_crypto::opaque::server_registration_start(
        &state.opaque_setup,
        &request.0,
        account_id.as_bytes(),
    )?;
    Ok(B64(response))
}

/// An id from a path, where the lookup it is for answers `404` when it
/// finds nothing: text that is no such id names nothing, and is answered
/// alike.
pub(crate) fn path_id<T: Id>(text: &str) -> Result<T, ApiError> {
    ids::parse(text).ok_or(ApiError::NotFound)
}

/// The organisation a path names. Text that is no organisation id names
/// none, and is answered as an organisation the caller is not an active
/// member of: `403` (as `accounts::acting_member` answers).
pub(crate) fn organisation_path_id(text: &str) -> Result<OrganisationId, ApiError> {
    ids::parse(text).ok_or(ApiError::Forbidden)
}

/// OPAQUE's last step of the login attempt a request names by its
/// `login_id` (text, as sent): whose password was proven, or `None`. Text
/// that is no login id names no attempt, and is answered like an unknown
/// or used one.
pub(crate) async fn verify_login(
    tx: &mut sqlx::AnyConnection,
    login_id: &str,
    finalization: &B64,
    now: i64,
) -> Result<Option<UserId>, ApiError> {
    match ids::parse(login_id) {
        Some(login_id) => crate::auth::login::verify(tx, login_id, &finalization.0, now).await,
        None => Ok(None),
    }
}

/// Checks a `RegistrationUpload` and returns the record to store.
pub(crate) fn registration_record(upload: &B64) -> Result<Vec<u8>, ApiError> {
    Ok(kluis_crypto::opaque::server_registration_finish(&upload.0)?)
}

/// `{ "status": … }`, the answer of actions with nothing else to say.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Status {
    /// What happened.
    pub status: &'static str,
}

impl Status {
    pub(crate) fn json(status: &'static str) -> Json<Self> {
        Json(Self { status })
    }
}

#[cfg(test)]
mod tests {
    use crate::error::ErrorCode;

    #[test]
    fn the_document_lists_every_error_code() {
        let (_, doc) = super::router_and_openapi();
        let doc = serde_json::to_value(&doc).unwrap();
        let listed: Vec<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
            .as_array()
            .expect("ErrorCode is a string enum in the document")
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let all: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(listed, all);
        assert_eq!(
            doc["components"]["schemas"]["ErrorBody"]["properties"]["error"]["$ref"],
            "#/components/schemas/ErrorCode"
        );
    }
}
