//! The HTTP layer: one place that sends requests to the server's `/api`,
//! turns error answers into [`Error`]s and decodes JSON. It believes
//! nothing it receives beyond its shape: every check on content happens in
//! the modules that use it.

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result, Violation};

/// A connection to one Kluis server, with or without a session.
#[derive(Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
    token: Option<std::sync::Arc<Zeroizing<String>>>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base)
            .field("session", &self.token.is_some())
            .finish()
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    message: String,
}

/// Where the server's answer body goes.
pub(crate) enum Body<'a, T: Serialize> {
    None,
    Json(&'a T),
    Bytes(Vec<u8>),
}

impl Api {
    /// A client for the server at `base` (`https://kluis.example.nl`).
    pub fn new(base: &str) -> Result<Self> {
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(Error::InvalidInput(format!(
                "the server address must start with https:// (or http:// for a local test server), not {base:?}"
            )));
        }
        #[cfg(not(target_arch = "wasm32"))]
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(15))
            .user_agent(concat!("kluis-sdk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::InvalidInput(format!("HTTP client: {e}")))?;
        #[cfg(target_arch = "wasm32")]
        let http = reqwest::Client::new();
        Ok(Self {
            base,
            http,
            token: None,
        })
    }

    /// The server's address.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The same connection acting with a session token.
    pub(crate) fn with_token(&self, token: Option<String>) -> Self {
        Self {
            base: self.base.clone(),
            http: self.http.clone(),
            token: token.map(|t| std::sync::Arc::new(Zeroizing::new(t))),
        }
    }

    pub(crate) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t.as_str());
        }
        req
    }

    /// Sends a request and turns any non-2xx answer into an error.
    pub(crate) async fn send(&self, req: RequestBuilder) -> Result<Response> {
        let response = req.send().await.map_err(|e| Error::Unreachable {
            url: self.base.clone(),
            reason: e.to_string(),
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.error_of(response).await)
    }

    async fn error_of(&self, response: Response) -> Error {
        let status = response.status();
        let retry_after_secs = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(60);
        let body: Option<ErrorBody> = response.json().await.ok();
        let (code, message) = body
            .map(|b| (b.error, b.message))
            .unwrap_or_else(|| (String::from("unknown"), status.to_string()));
        match (status, code.as_str()) {
            (StatusCode::UNAUTHORIZED, "login_failed") => Error::WrongCredentials,
            (StatusCode::UNAUTHORIZED, "second_factor_failed") => Error::SecondFactorFailed,
            (StatusCode::UNAUTHORIZED, _) => Error::SessionExpired,
            (_, "invalid_token") => Error::InvalidLink,
            (StatusCode::TOO_MANY_REQUESTS, _) => Error::RateLimited { retry_after_secs },
            _ => Error::Refused {
                status: status.as_u16(),
                code,
                message,
            },
        }
    }

    /// A JSON request with a JSON answer.
    pub(crate) async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Body<'_, B>,
    ) -> Result<T> {
        let mut req = self.request(method, path);
        req = match body {
            Body::None => req,
            Body::Json(b) => req.json(b),
            Body::Bytes(bytes) => req
                .header("content-type", "application/octet-stream")
                .body(bytes),
        };
        let response = self.send(req).await?;
        let text = response.text().await.map_err(|e| Error::Unreachable {
            url: self.base.clone(),
            reason: e.to_string(),
        })?;
        serde_json::from_str(&text).map_err(|e| Violation::Malformed(format!("{path}: {e}")).into())
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call::<(), T>(Method::GET, path, Body::None).await
    }

    pub(crate) async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        self.call(Method::POST, path, Body::Json(body)).await
    }

    pub(crate) async fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        self.call(Method::PUT, path, Body::Json(body)).await
    }

    pub(crate) async fn put_bytes<T: DeserializeOwned>(
        &self,
        path: &str,
        bytes: Vec<u8>,
    ) -> Result<T> {
        self.call::<(), T>(Method::PUT, path, Body::Bytes(bytes))
            .await
    }

    pub(crate) async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call::<(), T>(Method::DELETE, path, Body::None).await
    }

    pub(crate) async fn delete_bytes<T: DeserializeOwned>(
        &self,
        path: &str,
        bytes: Vec<u8>,
    ) -> Result<T> {
        self.call::<(), T>(Method::DELETE, path, Body::Bytes(bytes))
            .await
    }
}

/// Decodes a base64 field of an answer.
pub(crate) fn unb64(field: &str, value: &str) -> Result<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|_| Violation::Malformed(format!("{field} is not base64")).into())
}

/// Encodes bytes for a base64 field of a request.
pub(crate) fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
