//! The SMS second factor through the HTTP gateway, against a small local
//! HTTP server that records every request the way a provider would receive
//! it (credentials, content type, body from the configured template), on
//! both engines: the number counts only once the code sent to it came back;
//! login codes are single-use; sending is rate limited; a gateway that
//! fails gives a clear 503.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use kluis_server::store::Engine;
use kluis_test_support::both_engines;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::TestServer;

const PW: &str = "Correct-Horse-9";

both_engines!(sms_codes_through_an_http_gateway);

/// One request as the provider received it.
#[derive(Clone, Debug)]
struct Received {
    authorization: String,
    content_type: String,
    body: Value,
}

#[derive(Clone, Default)]
struct Provider {
    received: Arc<Mutex<Vec<Received>>>,
    failing: Arc<AtomicBool>,
}

impl Provider {
    /// Serves on a free port; returns its URL.
    async fn start(&self) -> String {
        let me = self.clone();
        let app = axum::Router::new().route(
            "/v1/messages",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let me = me.clone();
                async move {
                    if me.failing.load(Ordering::SeqCst) {
                        return AxumStatus::INTERNAL_SERVER_ERROR;
                    }
                    let header = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    me.received.lock().unwrap().push(Received {
                        authorization: header("authorization"),
                        content_type: header("content-type"),
                        body: serde_json::from_str(&body).unwrap_or(Value::Null),
                    });
                    AxumStatus::ACCEPTED
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/messages", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// The code in the last message.
    fn last_code(&self) -> String {
        let last = self.received.lock().unwrap().last().cloned().unwrap();
        let text = last.body["message"].as_str().unwrap().to_owned();
        text.split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .unwrap()
            .to_owned()
    }
}

async fn sms_codes_through_an_http_gateway(engine: Engine) {
    let provider = Provider::default();
    let url = provider.start().await;
    let s = TestServer::start_with(
        engine,
        &[
            ("KLUIS_SMS_PROVIDER", "http"),
            ("KLUIS_SMS_HTTP_URL", &url),
            ("KLUIS_SMS_HTTP_USERNAME", "kluis"),
            ("KLUIS_SMS_HTTP_PASSWORD", "geheim"),
            (
                "KLUIS_SMS_HTTP_BODY",
                r#"{"recipient": "{to}", "message": "{text}", "sender": "Kluis"}"#,
            ),
            ("KLUIS_SMS_PER_ACCOUNT_PER_HOUR", "4"),
        ],
    )
    .await;
    let (org, token, _) = s.setup_organisation("manon@a.nl", PW).await;
    let t = Some(token.as_str());

    // Only international numbers.
    let (status, body) = s
        .post("/api/two-factor/sms", json!({"phone": "06 12345678"}), t)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_phone"))
    );
    assert_eq!(provider.count(), 0);

    // Enrolment: the provider gets the request as configured.
    let (status, body) = s
        .post(
            "/api/two-factor/sms",
            json!({"phone": "+31 6 1234 5678"}),
            t,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let first = provider.received.lock().unwrap()[0].clone();
    assert_eq!(first.authorization, "Basic a2x1aXM6Z2VoZWlt"); // kluis:geheim
    assert_eq!(first.content_type, "application/json");
    assert_eq!(first.body["recipient"], "+31612345678");
    assert_eq!(first.body["sender"], "Kluis");
    assert!(first.body["message"]
        .as_str()
        .unwrap()
        .starts_with("Uw Kluis-code is "));
    // Not verified yet: the password alone still logs in.
    assert!(s.login("manon@a.nl", PW).await.is_ok());
    let code = provider.last_code();
    let (status, _) = s
        .post(
            "/api/two-factor/sms/confirm",
            json!({"code": format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)}),
            t,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = s
        .post("/api/two-factor/sms/confirm", json!({"code": code}), t)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["recovery_codes"].as_array().unwrap().len(), 10);
    let (_, st) = s.get("/api/two-factor", t).await;
    let shown = st["sms_phone"].as_str().unwrap();
    assert!(
        shown.starts_with("+31") && shown.ends_with("78") && !shown.contains("1234"),
        "{shown}"
    );

    // Login: password, then the code the provider carried.
    let (status, pending) = s.login_with("manon@a.nl", PW, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(pending["methods"], json!(["sms", "recovery_code"]));
    let pending = pending["pending_login"].as_str().unwrap().to_owned();
    let (status, _) = s
        .post(
            "/api/login/second-factor/sms",
            json!({"pending_login": pending}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let code = provider.last_code();
    let attempt = |code: String, pending: String| {
        let s = &s;
        async move {
            s.post(
                "/api/login/second-factor",
                json!({"pending_login": pending, "method": "sms", "code": code}),
                None,
            )
            .await
            .0
        }
    };
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 7) % 1_000_000);
    assert_eq!(
        attempt(wrong, pending.clone()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(attempt(code.clone(), pending.clone()).await, StatusCode::OK);
    // Used once: not on a new login either.
    let (_, again) = s.login_with("manon@a.nl", PW, json!({})).await;
    let again = again["pending_login"].as_str().unwrap().to_owned();
    assert_eq!(attempt(code, again.clone()).await, StatusCode::UNAUTHORIZED);

    // Four texts an hour for this account (two sent so far).
    for _ in 0..2 {
        let (status, _) = s
            .post(
                "/api/login/second-factor/sms",
                json!({"pending_login": again}),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, body) = s
        .post(
            "/api/login/second-factor/sms",
            json!({"pending_login": again}),
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
    assert_eq!(provider.count(), 4);

    // A provider that fails: a clear 503, nothing half done.
    let (coach, _) = s
        .invite_and_register(&org, &token, "carla@a.nl", "coach", PW)
        .await;
    provider.failing.store(true, Ordering::SeqCst);
    let (status, body) = s
        .post(
            "/api/two-factor/sms",
            json!({"phone": "+31687654321"}),
            Some(&coach),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("sms_unavailable"))
    );
    let (_, st) = s.get("/api/two-factor", Some(&coach)).await;
    assert!(st["sms_phone"].is_null());
    s.stop().await;
}
