//! The server's HTTP API as the tests and benchmarks drive it without the
//! SDK: JSON requests with a bearer token, OPAQUE registration and login
//! with the client half of the protocol, setup and invitation flows, and the
//! server's outbox as the mailbox those flows read their links from.

use std::path::Path;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use kluis_crypto::opaque;
use rand::rngs::OsRng;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::Outbox;

/// Talks to a server over HTTP and reads its development outbox.
#[derive(Debug)]
pub struct Client {
    /// `http://host:port`.
    pub base: String,
    /// The HTTP client, for requests the helpers below do not make.
    pub http: reqwest::Client,
    /// The server's outbox.
    pub outbox: Outbox,
}

impl Client {
    /// A client of the server at `base` whose outbox is the directory
    /// `outbox`.
    pub fn new(base: &str, outbox: &Path) -> Self {
        Self {
            base: base.to_owned(),
            http: reqwest::Client::new(),
            outbox: Outbox::new(outbox, Duration::from_secs(10)),
        }
    }

    /// `path` on the server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs `body` as JSON; the status and the answer (JSON, or the text
    /// as a JSON string).
    pub async fn post(&self, path: &str, body: Value, bearer: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.post(self.url(path)).json(&body);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        into_json(req.send().await.unwrap()).await
    }

    /// PUTs `body` as JSON.
    pub async fn put(&self, path: &str, body: Value, bearer: &str) -> (StatusCode, Value) {
        let req = self
            .http
            .put(self.url(path))
            .json(&body)
            .bearer_auth(bearer);
        into_json(req.send().await.unwrap()).await
    }

    /// PATCHes `body` as JSON.
    pub async fn patch(&self, path: &str, body: Value, bearer: &str) -> (StatusCode, Value) {
        into_json(
            self.http
                .patch(self.url(path))
                .json(&body)
                .bearer_auth(bearer)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// GETs `path`.
    pub async fn get(&self, path: &str, bearer: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        into_json(req.send().await.unwrap()).await
    }

    /// DELETEs `path`.
    pub async fn delete(&self, path: &str, bearer: &str) -> (StatusCode, Value) {
        into_json(
            self.http
                .delete(self.url(path))
                .bearer_auth(bearer)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// The next unread e-mail of `kind` to `to`, waiting for the worker.
    pub async fn mail(&self, to: &str, kind: &str) -> String {
        self.outbox.mail(to, kind).await
    }

    /// Every e-mail delivered so far (read or not).
    pub fn all_mail(&self) -> Vec<String> {
        self.outbox.all()
    }

    // ----------------------------------------------------------- flows ---

    /// OPAQUE registration against `{prefix}/start` and `{prefix}/finish`;
    /// returns the finish answer.
    pub async fn register(
        &self,
        prefix: &str,
        token: &str,
        password: &str,
        finish_fields: Value,
    ) -> (StatusCode, Value) {
        let (request, client) =
            opaque::client_registration_start(&mut OsRng, password.as_bytes()).unwrap();
        let (status, body) = self
            .post(
                &format!("{prefix}/start"),
                json!({ "token": token, "request": b64(&request) }),
                None,
            )
            .await;
        if status != StatusCode::OK {
            return (status, body);
        }
        let response = unb64(&body["response"]);
        let (upload, _export) = client
            .finish(&mut OsRng, password.as_bytes(), &response)
            .unwrap();
        let mut fields = finish_fields;
        fields["token"] = json!(token);
        fields["upload"] = json!(b64(&upload));
        self.post(&format!("{prefix}/finish"), fields, None).await
    }

    /// A full OPAQUE login; returns the bearer token or the error answer.
    pub async fn login(&self, email: &str, password: &str) -> Result<String, (StatusCode, Value)> {
        let (status, body) = self.login_with(email, password, json!({})).await;
        if status == StatusCode::OK {
            Ok(body["token"].as_str().unwrap().to_owned())
        } else {
            Err((status, body))
        }
    }

    /// A full OPAQUE login with extra fields in the finish request. A wrong
    /// password fails in the client already; then a forged KE3 is sent, as
    /// an attacker would.
    pub async fn login_with(
        &self,
        email: &str,
        password: &str,
        extra: Value,
    ) -> (StatusCode, Value) {
        let (ke1, client) = opaque::client_login_start(&mut OsRng, password.as_bytes()).unwrap();
        let (status, body) = self
            .post(
                "/api/login/start",
                json!({ "email": email, "request": b64(&ke1) }),
                None,
            )
            .await;
        if status != StatusCode::OK {
            return (status, body);
        }
        let ke2 = unb64(&body["response"]);
        let finalization = match client.finish(&mut OsRng, password.as_bytes(), &ke2) {
            Ok(done) => done.finalization,
            Err(_) => vec![0x42; 64],
        };
        let mut fields = extra;
        fields["login_id"] = body["login_id"].clone();
        fields["finalization"] = json!(b64(&finalization));
        self.post("/api/login/finish", fields, None).await
    }

    /// Uses a setup link; returns (organisation id, manager token, manager
    /// account id).
    pub async fn setup_from_link(
        &self,
        link: &str,
        email: &str,
        password: &str,
    ) -> (String, String, String) {
        let token = token_of(link);
        let (status, body) = self
            .register(
                "/api/setup",
                &token,
                password,
                json!({ "organisation_name": "Praktijk De Linde", "email": email,
                        "display_name": "Manon Manager" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let bearer = body["token"].as_str().unwrap().to_owned();
        let account = body["account_id"].as_str().unwrap().to_owned();
        let (_, me) = self.get("/api/me", Some(&bearer)).await;
        let org = me["memberships"][0]["organisation_id"]
            .as_str()
            .unwrap()
            .to_owned();
        (org, bearer, account)
    }

    /// `inviter` invites `email` as `role`; the invitee registers from the
    /// e-mailed link. Returns (token, account id).
    pub async fn invite_and_register(
        &self,
        org: &str,
        inviter: &str,
        email: &str,
        role: &str,
        password: &str,
    ) -> (String, String) {
        let (status, body) = self
            .post(
                &format!("/api/organisations/{org}/invitations"),
                json!({ "email": email, "role": role }),
                Some(inviter),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let token = token_of(&self.mail(email, "invitation").await);
        let (status, body) = self
            .register(
                "/api/invitations/register",
                &token,
                password,
                json!({ "display_name": format!("{role} {email}") }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (
            body["token"].as_str().unwrap().to_owned(),
            body["account_id"].as_str().unwrap().to_owned(),
        )
    }
}

/// The status and the body of `response`: JSON, or else the text as a
/// JSON string.
pub async fn into_json(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// Standard base64, as the API carries bytes.
pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// The bytes of a base64 JSON string.
pub fn unb64(v: &Value) -> Vec<u8> {
    STANDARD.decode(v.as_str().unwrap()).unwrap()
}

/// The token in a link or e-mail (`…#token=XYZ`).
pub fn token_of(text: &str) -> String {
    let start = text.find("#token=").expect("a link with a token") + 7;
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}
