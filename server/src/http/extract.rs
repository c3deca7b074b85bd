//! Who is asking: the session extractor (cookie or bearer token, with the
//! CSRF defence for cookies), the client-address extractor used by rate
//! limits, and the body of a request that presents a link's token, which
//! only comes out of the address's budget of link attempts.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};

use crate::auth::sessions;
use crate::auth::token::TokenHash;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::http::json::ApiJson;
use crate::ids::{SessionId, UserId};
use crate::rate_limit::address_key;
use crate::AppState;

/// The name of the browser's session cookie.
pub const SESSION_COOKIE: &str = "kluis_session";

/// How the session token arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// `Authorization: Bearer …` (command-line and native clients).
    Bearer,
    /// The HttpOnly cookie (the browser).
    Cookie,
}

/// A request made within a valid session.
#[derive(Clone, Debug)]
pub struct Auth {
    /// The account.
    pub account_id: UserId,
    /// The session.
    pub session_id: SessionId,
    /// How the token came.
    pub via: Via,
    /// The account must set up two-factor login before anything else.
    pub must_enrol_two_factor: bool,
    /// When the owner last proved the password in this session (Unix ms).
    pub reauthenticated_ms: Option<i64>,
}

impl Auth {
    /// Refuses with `403 reauthentication_required` unless the password
    /// was proven in this session within `window` before `now`: what hands
    /// an account over (a new identity, the second factor, the address)
    /// needs more than a session that may have been stolen.
    pub fn require_fresh_password(
        &self,
        window: std::time::Duration,
        now: i64,
    ) -> Result<(), ApiError> {
        // Only the upper bound: a proof another instance recorded with a
        // clock a few milliseconds ahead is still a proof.
        match self.reauthenticated_ms {
            Some(at) if now < crate::clock::ms_after(at, window) => Ok(()),
            _ => Err(ApiError::ReauthenticationRequired),
        }
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (token, via) = presented_token(&parts.headers).ok_or(ApiError::Unauthenticated)?;
        if via == Via::Cookie && !is_safe_method(&parts.method) {
            // SameSite=Strict already keeps the cookie off cross-site
            // requests in current browsers; the Origin check covers older
            // ones and same-site subdomains.
            check_origin(&parts.headers, &state.public_origin)?;
        }
        let hash = TokenHash::of_presented(&token).ok_or(ApiError::Unauthenticated)?;
        let mut conn = state.store.pool().acquire().await?;
        let owner = sessions::authenticate(&mut conn, hash, state.config.session_idle, now_ms())
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        if owner.must_enrol_two_factor && !allowed_before_enrolment(parts.uri.path()) {
            // A new account's first identity (sign-up into an organisation
            // that requires two-factor login) may still be published; a
            // replacement may not.
            let first_identity = parts.method == Method::PUT
                && parts.uri.path() == "/api/keys"
                && crate::vault::key_directory::own(&mut conn, owner.account_id)
                    .await?
                    .is_none();
            if !first_identity {
                return Err(ApiError::TwoFactorEnrolmentRequired);
            }
        }
        Ok(Self {
            account_id: owner.account_id,
            session_id: owner.session_id,
            via,
            must_enrol_two_factor: owner.must_enrol_two_factor,
            reauthenticated_ms: owner.reauthenticated_ms,
        })
    }
}

/// What a member whose organisation requires two-factor login may do
/// before setting it up: enrol, read and set their own account, read the
/// privacy notice, fetch their own keys (the SDK's login needs them), and
/// end sessions.
fn allowed_before_enrolment(path: &str) -> bool {
    const ALLOWED: [&str; 7] = [
        "/api/two-factor",
        "/api/reauth",
        "/api/me",
        "/api/privacy-notice",
        "/api/keys/mine",
        "/api/logout",
        "/api/sessions",
    ];
    ALLOWED.iter().any(|prefix| {
        path == *prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

fn is_safe_method(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The bearer token, else the session cookie.
fn presented_token(headers: &HeaderMap) -> Option<(String, Via)> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let text = value.to_str().ok()?;
        let token = text.strip_prefix("Bearer ")?;
        return Some((token.trim().to_owned(), Via::Bearer));
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE).then(|| (value.to_owned(), Via::Cookie))
        })
}

fn check_origin(headers: &HeaderMap, public_origin: &str) -> Result<(), ApiError> {
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) if origin == public_origin => Ok(()),
        _ => Err(ApiError::CrossSite),
    }
}

/// `scheme://host[:port]` of a URL, as browsers send it in `Origin`.
pub fn origin_of(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split('/').next().unwrap_or_default();
            format!("{scheme}://{host}")
        }
        None => url.to_owned(),
    }
}

/// The `Set-Cookie` value that hands a browser its session.
pub fn session_cookie(token: &str, max_age_secs: u64) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={max_age_secs}"
    ))
    .ok()
}

/// The `Set-Cookie` value that removes it.
pub fn clear_session_cookie() -> HeaderValue {
    HeaderValue::from_static("kluis_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0")
}

/// The peer's address as the listener saw it (plain or TLS).
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub SocketAddr);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for PeerAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

/// The client's address, for rate limits: the peer, or with
/// `trust_forwarded_for` the last `X-Forwarded-For` entry (the one our
/// proxy added; earlier entries are whatever the client claimed).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.config.trust_forwarded_for {
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|s| s.trim().parse::<IpAddr>().ok());
            if let Some(ip) = forwarded {
                return Ok(Self(ip));
            }
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<PeerAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0 .0.ip());
        Ok(Self(peer))
    }
}

/// The JSON body of a request that presents the token of an e-mailed or
/// printed link (setup, invitation, address verification, password reset,
/// a proposed address), after one of the client address's link attempts
/// (`limits.tokens_per_address_per_minute`) is spent: a token cannot be
/// guessed, and this keeps anyone from trying many. Handlers that take a
/// link's token take it through here, so none can forget the limit. The
/// body is read first, so one that is not JSON spends nothing; extractors
/// before it (`Auth`) run first, so a request without its session spends
/// nothing either.
#[derive(Debug)]
pub(crate) struct LinkJson<T>(pub T);

impl<T: serde::de::DeserializeOwned> FromRequest<AppState> for LinkJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let ClientAddr(ip) = ClientAddr::from_request_parts(&mut parts, state).await?;
        let ApiJson(value) = ApiJson::from_request(Request::from_parts(parts, body), state).await?;
        state.limits.tokens_by_address.check(&address_key(ip))?;
        Ok(Self(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_from_bearer_or_cookie() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; kluis_session=tok; b=2"),
        );
        assert_eq!(presented_token(&h), Some(("tok".to_owned(), Via::Cookie)));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer xyz"),
        );
        assert_eq!(presented_token(&h), Some(("xyz".to_owned(), Via::Bearer)));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic xyz"));
        assert_eq!(presented_token(&h), None);
    }

    #[test]
    fn before_two_factor_enrolment_only_enrolment_and_own_account() {
        for allowed in [
            "/api/two-factor",
            "/api/two-factor/totp/confirm",
            "/api/me",
            "/api/me/preferences",
            "/api/keys/mine",
            "/api/logout/everywhere",
        ] {
            assert!(allowed_before_enrolment(allowed), "{allowed}");
        }
        for refused in [
            "/api/relationships",
            "/api/keys",
            "/api/keys/mine-too",
            "/api/mercy",
            "/api/organisations/x/members",
        ] {
            assert!(!allowed_before_enrolment(refused), "{refused}");
        }
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("https://kluis.example.nl/app"),
            "https://kluis.example.nl"
        );
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        let mut h = HeaderMap::new();
        assert!(check_origin(&h, "https://k.nl").is_err());
        h.insert(header::ORIGIN, HeaderValue::from_static("https://evil.nl"));
        assert!(check_origin(&h, "https://k.nl").is_err());
        h.insert(header::ORIGIN, HeaderValue::from_static("https://k.nl"));
        assert!(check_origin(&h, "https://k.nl").is_ok());
    }
}
