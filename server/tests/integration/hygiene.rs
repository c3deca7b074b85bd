//! Protection and hygiene on both engines: rate limits with Retry-After,
//! bad input answered with a clear 4xx (never a 500), a panic turned into a
//! 500 while the server goes on, security headers on every answer, the
//! OpenAPI document, metrics without user data, readiness.

use axum::routing::get;
use kluis_server::http::extract::PeerAddr;
use kluis_server::store::Engine;
use kluis_test_support::{b64, both_engines, into_json};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::TestServer;

const PW: &str = "Correct-Horse-9";

both_engines!(
    login_and_invitations_are_rate_limited_per_account_and_address,
    every_link_route_is_rate_limited_per_address,
    bad_input_gets_a_clear_4xx,
    every_answer_carries_the_security_headers,
    openapi_metrics_and_readiness,
);

async fn login_start(s: &TestServer, email: &str) -> reqwest::Response {
    let (ke1, _) =
        kluis_crypto::opaque::client_login_start(&mut rand::rngs::OsRng, PW.as_bytes()).unwrap();
    s.http
        .post(s.url("/api/login/start"))
        .json(&json!({"email": email, "request": b64(&ke1)}))
        .send()
        .await
        .unwrap()
}

async fn login_and_invitations_are_rate_limited_per_account_and_address(engine: Engine) {
    let s = TestServer::start_with(
        engine,
        &[
            ("KLUIS_LOGIN_PER_ACCOUNT_PER_MINUTE", "3"),
            ("KLUIS_LOGIN_PER_ADDRESS_PER_MINUTE", "8"),
            ("KLUIS_INVITATIONS_PER_ACCOUNT_PER_HOUR", "2"),
        ],
    )
    .await;
    let (org, manager, _) = s.setup_organisation("manager@a.nl", PW).await;
    for _ in 0..3 {
        assert_eq!(
            login_start(&s, "victim@a.nl").await.status(),
            StatusCode::OK
        );
    }
    let refused = login_start(&s, "victim@a.nl").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=20).contains(&retry),
        "one attempt refills every 20 s: {retry}"
    );
    assert_eq!(into_json(refused).await.1["error"], "rate_limited");
    // Another account from the same address still gets in, until the
    // address's own budget (8) is spent.
    for i in 0..4 {
        assert_eq!(
            login_start(&s, &format!("other{i}@a.nl")).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        login_start(&s, "fresh@a.nl").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    for i in 0..2 {
        let (status, _) = s
            .post(
                &format!("/api/organisations/{org}/invitations"),
                json!({"email": format!("c{i}@a.nl"), "role": "coach"}),
                Some(&manager),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, _) = s
        .post(
            &format!("/api/organisations/{org}/invitations"),
            json!({"email": "c9@a.nl", "role": "coach"}),
            Some(&manager),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    s.stop().await;
}

/// A POST from `ip` (as the trusted proxy names it in `X-Forwarded-For`).
async fn post_from(
    s: &TestServer,
    ip: &str,
    path: &str,
    body: Value,
    session: Option<&str>,
) -> StatusCode {
    let mut req = s
        .http
        .post(s.url(path))
        .header("x-forwarded-for", ip)
        .json(&body);
    if let Some(token) = session {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap().status()
}

/// Every route that takes a link's token (setup, invitation, verification,
/// reset, proposed address) spends one of the address's link attempts —
/// shared by all of them — once it has read the body and, where one is
/// needed, the session: a body that is not JSON or a request without a
/// session spends nothing. Past the burst the answer is `429`.
async fn every_link_route_is_rate_limited_per_address(engine: Engine) {
    const BURST: usize = 3;
    let s = TestServer::start_with(
        engine,
        &[
            ("KLUIS_TOKENS_PER_ADDRESS_PER_MINUTE", "3"),
            ("KLUIS_TRUST_FORWARDED_FOR", "true"),
        ],
    )
    .await;
    let (_, manager, _) = s.setup_organisation("manager@a.nl", PW).await;
    let token = "A".repeat(43);
    let opaque = b64(b"not an OPAQUE message");
    let routes: Vec<(&str, Value, Option<&str>)> = vec![
        (
            "/api/setup/start",
            json!({"token": token, "request": opaque}),
            None,
        ),
        (
            "/api/setup/finish",
            json!({"token": token, "upload": opaque, "organisation_name": "B",
                   "email": "b@b.nl", "display_name": "B"}),
            None,
        ),
        ("/api/invitations/lookup", json!({"token": token}), None),
        (
            "/api/invitations/register/start",
            json!({"token": token, "request": opaque}),
            None,
        ),
        (
            "/api/invitations/register/finish",
            json!({"token": token, "upload": opaque, "display_name": "B"}),
            None,
        ),
        (
            "/api/invitations/accept",
            json!({"token": token}),
            Some(&manager),
        ),
        ("/api/email/verify", json!({"token": token}), None),
        (
            "/api/password-reset/start",
            json!({"token": token, "request": opaque}),
            None,
        ),
        ("/api/password-reset/sms", json!({"token": token}), None),
        (
            "/api/password-reset/finish",
            json!({"token": token, "upload": opaque}),
            None,
        ),
        ("/api/email-change/confirm", json!({"token": token}), None),
        ("/api/email-change/refuse", json!({"token": token}), None),
    ];
    for (i, (path, body, session)) in routes.iter().enumerate() {
        let ip = format!("10.0.0.{i}");
        for _ in 0..BURST + 1 {
            let mut not_json = s
                .http
                .post(s.url(path))
                .header("x-forwarded-for", &ip)
                .header("content-type", "application/json")
                .body("{not json");
            if let Some(token) = session {
                not_json = not_json.bearer_auth(token);
            }
            let status = not_json.send().await.unwrap().status();
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        }
        if session.is_some() {
            for _ in 0..BURST + 1 {
                let status = post_from(&s, &ip, path, body.clone(), None).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
            }
        }
        for _ in 0..BURST {
            let status = post_from(&s, &ip, path, body.clone(), *session).await;
            assert_ne!(status, StatusCode::TOO_MANY_REQUESTS, "{path}");
            assert!(status.is_client_error(), "{path}: {status}");
        }
        let status = post_from(&s, &ip, path, body.clone(), *session).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{path}");
    }
    // One budget for all of them.
    let shared = "10.0.1.1";
    for (path, body, session) in routes.iter().take(BURST) {
        let status = post_from(&s, shared, path, body.clone(), *session).await;
        assert_ne!(status, StatusCode::TOO_MANY_REQUESTS, "{path}");
    }
    for (path, body, session) in routes.iter().skip(BURST) {
        let status = post_from(&s, shared, path, body.clone(), *session).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{path}");
    }
    s.stop().await;
}

async fn raw(
    s: &TestServer,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut req = s.http.post(s.url(path)).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    into_json(req.send().await.unwrap()).await
}

async fn bad_input_gets_a_clear_4xx(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (org, manager, _) = s.setup_organisation("manager@a.nl", PW).await;
    let json_ct = Some("application/json");
    // (path, content type, body, expected status, expected error code)
    type Case<'a> = (&'a str, Option<&'a str>, Vec<u8>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (
            "/api/login/start",
            json_ct,
            b"{not json".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "/api/login/start",
            json_ct,
            br#"{"email": 5, "request": "AA=="}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        (
            "/api/login/start",
            json_ct,
            br#"{"email": "a@b.nl"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        (
            "/api/login/start",
            json_ct,
            br#"{"email": "a@b.nl", "request": "AA==", "password": "x"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        (
            "/api/login/start",
            json_ct,
            br#"{"email": "a@b.nl", "request": "***"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        (
            "/api/login/start",
            json_ct,
            br#"{"email": "a b@nl", "request": "AA=="}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_email",
        ),
        (
            "/api/login/start",
            None,
            br#"{"email": "a@b.nl", "request": "AA=="}"#.to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "/api/login/start",
            Some("text/plain"),
            b"hello".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "/api/password-reset",
            json_ct,
            format!(r#"{{"email": "{}@a.nl"}}"#, "a".repeat(70 * 1024)).into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "/api/login/finish",
            json_ct,
            br#"{"login_id": "nope", "finalization": "AA=="}"#.to_vec(),
            StatusCode::UNAUTHORIZED,
            "login_failed",
        ),
        (
            "/api/invitations/lookup",
            json_ct,
            br#"{"token": "x"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_token",
        ),
        (
            "/api/setup/start",
            json_ct,
            br#"{"token": "x", "request": "AA=="}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_token",
        ),
        (
            "/api/no-such-route",
            json_ct,
            b"{}".to_vec(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (path, ct, body, status, code) in cases {
        let (got, answer) = raw(&s, path, ct, body).await;
        assert_eq!(
            (got, answer["error"].as_str()),
            (status, Some(code)),
            "{path}: {answer}"
        );
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
    }
    // A wrong method on a known route.
    let (status, body) = into_json(
        s.http
            .delete(s.url("/api/login/start"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
    // Invalid fields in authenticated requests.
    let (status, body) = s
        .post(
            &format!("/api/organisations/{org}/invitations"),
            json!({"email": "a@b.nl", "role": "overlord"}),
            Some(&manager),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_field"))
    );
    let (status, _) = s.get("/api/me", Some("not-a-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = s
        .post("/api/logout", json!({}), Some(&"A".repeat(43)))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // After all that the server still answers.
    assert_eq!(s.get("/api/me", Some(&manager)).await.0, StatusCode::OK);

    // A panic on a request path is a JSON 500 and the server goes on.
    let routes = axum::Router::new()
        .route("/boom", get(boom))
        .route("/fine", get(|| async { "fine" }));
    let app = kluis_server::http::with_layers(routes, s.state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<PeerAddr>(),
        )
        .await
        .unwrap();
    });
    for _ in 0..3 {
        let (status, body) =
            into_json(reqwest::get(format!("http://{addr}/boom")).await.unwrap()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::INTERNAL_SERVER_ERROR, Some("internal"))
        );
        assert!(
            !body["message"].as_str().unwrap().contains("deliberate"),
            "no internals in the answer"
        );
    }
    assert_eq!(
        reqwest::get(format!("http://{addr}/fine"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    s.stop().await;
}

async fn boom() -> &'static str {
    panic!("deliberate test panic")
}

async fn every_answer_carries_the_security_headers(engine: Engine) {
    let s = TestServer::start(engine).await;
    let answers = [
        s.http.get(s.url("/healthz")).send().await.unwrap(),
        s.http.get(s.url("/nowhere")).send().await.unwrap(),
        s.http
            .post(s.url("/api/login/start"))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        s.http.get(s.url("/api/me")).send().await.unwrap(),
    ];
    for r in &answers {
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(directive), "{csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["x-frame-options"], "DENY");
        assert!(
            h.get("strict-transport-security").is_none(),
            "HSTS only over TLS"
        );
    }
    assert_eq!(answers[3].headers()["cache-control"], "no-store");
    s.stop().await;
}

async fn openapi_metrics_and_readiness(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (_, doc) = s.get("/api/openapi.json", None).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/login/start", "post"),
        ("/api/login/finish", "post"),
        ("/api/sessions/{session_id}", "delete"),
        (
            "/api/organisations/{organisation_id}/members/{account_id}",
            "patch",
        ),
        ("/api/password-reset", "post"),
        ("/readyz", "get"),
    ] {
        assert!(
            paths[path].get(method).is_some(),
            "{method} {path} documented"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    let (_, manager, manager_id) = s.setup_organisation("manager@a.nl", PW).await;
    s.login("manager@a.nl", PW).await.unwrap();
    s.login("manager@a.nl", "Wrong-Pass-1").await.unwrap_err();
    assert_eq!(s.get("/api/me", Some(&manager)).await.0, StatusCode::OK);
    let metrics = s
        .http
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"kluis_logins_total{outcome="success"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"kluis_logins_total{outcome="failure"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"route="/api/login/start""#), "{metrics}");
    for private in [
        "manager@a.nl",
        manager_id.as_str(),
        manager.as_str(),
        "127.0.0.1",
    ] {
        assert!(!metrics.contains(private), "metrics leak {private}");
    }

    assert_eq!(s.get("/readyz", None).await.0, StatusCode::OK);
    s.state.store.close().await;
    let (status, body) = s.get("/readyz", None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("storage_unavailable"))
    );
    assert_eq!(
        s.get("/healthz", None).await.0,
        StatusCode::OK,
        "alive while the database is away"
    );
    s.stop().await;
}
