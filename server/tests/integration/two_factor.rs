//! Two-factor login on both engines, with codes from Debian's `oathtool`
//! (an independent RFC 6238 implementation, as in authenticator apps):
//! enrolment only counts once confirmed; login is OPAQUE, then a code, and
//! no session before both; wrong, old and replayed codes are refused;
//! recovery codes work once; a pending login dies after five wrong codes;
//! disabling needs a valid code; an organisation that requires two-factor
//! login confines its members to enrolment until they have it.

use base64::Engine as _;
use kluis_server::store::Engine;
use kluis_test_support::{both_engines, oathtool, token_of};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::TestServer;

const PW: &str = "Correct-Horse-9";

both_engines!(
    authenticator_codes_and_recovery_codes,
    an_organisation_can_require_two_factor_login,
);

/// Another six digits than `code`.
fn wrong(code: &str) -> String {
    code.chars()
        .map(|c| char::from(b'0' + (c.to_digit(10).unwrap() as u8 + 5) % 10))
        .collect()
}

async fn second_factor(
    s: &TestServer,
    pending: &str,
    method: &str,
    code: &str,
) -> (StatusCode, Value) {
    s.post(
        "/api/login/second-factor",
        json!({"pending_login": pending, "method": method, "code": code}),
        None,
    )
    .await
}

/// Logs in with the password; expects the 202 and returns the pending id.
async fn pending_login(s: &TestServer, email: &str) -> String {
    let (status, body) = s.login_with(email, PW, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(
        body.get("token").is_none(),
        "no session before the second factor"
    );
    assert_eq!(body["methods"], json!(["totp", "recovery_code"]));
    body["pending_login"].as_str().unwrap().to_owned()
}

/// Enrols an authenticator and confirms it with oathtool's code; returns
/// (secret, the code used, the recovery codes).
async fn enrol(s: &TestServer, token: &str) -> (String, String, Vec<String>) {
    let (status, enrolment) = s.post("/api/two-factor/totp", json!({}), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{enrolment}");
    let secret = enrolment["secret"].as_str().unwrap().to_owned();
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Kluis:"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")) && uri.contains("issuer=Kluis"));
    let png = base64::engine::general_purpose::STANDARD
        .decode(enrolment["qr_png"].as_str().unwrap())
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let code = oathtool(&secret, 0);
    let (status, _) = s
        .post(
            "/api/two-factor/totp/confirm",
            json!({"code": wrong(&code)}),
            Some(token),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = s
        .post(
            "/api/two-factor/totp/confirm",
            json!({"code": code}),
            Some(token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let codes: Vec<String> = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, code, codes)
}

async fn authenticator_codes_and_recovery_codes(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (_, token, _) = s.setup_organisation("manon@a.nl", PW).await;
    let (_, st) = s.get("/api/two-factor", Some(&token)).await;
    assert_eq!(st["totp"], false);

    // An enrolment not yet confirmed changes nothing at login.
    let (status, _) = s
        .post("/api/two-factor/totp", json!({}), Some(&token))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(s.login("manon@a.nl", PW).await.is_ok());

    // A session from before the second factor existed (perhaps a thief's
    // with a phished password) ends when it is set up.
    let earlier = s.login("manon@a.nl", PW).await.unwrap();
    let (secret, used, recovery) = enrol(&s, &token).await;
    let (status, _) = s.get("/api/me", Some(&earlier)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = s.get("/api/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "the enrolling session stays");
    // One factor at a time: a stolen session cannot add the thief's own.
    let (status, body) = s
        .post(
            "/api/two-factor/sms",
            json!({"phone": "+31612345678"}),
            Some(&token),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("two_factor_enabled"))
    );
    assert_eq!(recovery.len(), 10);
    let distinct: std::collections::HashSet<_> = recovery.iter().collect();
    assert_eq!(distinct.len(), 10);
    // A second enrolment while one is active is refused.
    let (status, body) = s
        .post("/api/two-factor/totp", json!({}), Some(&token))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("two_factor_enabled"))
    );

    // Password alone gives no session; wrong, old and replayed codes fail.
    let pending = pending_login(&s, "manon@a.nl").await;
    let now_code = oathtool(&secret, 0);
    for (what, code) in [
        ("wrong", wrong(&now_code)),
        ("two minutes old", oathtool(&secret, -120)),
        ("replayed (used to confirm)", used.clone()),
        ("not six digits", "12345".to_owned()),
    ] {
        let (status, body) = second_factor(&s, &pending, "totp", &code).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("second_factor_failed")),
            "{what}"
        );
    }
    // One step of drift ahead is accepted (the authenticator's clock runs
    // fast), and gives the session.
    let ahead = oathtool(&secret, 30);
    let (status, body) = second_factor(&s, &pending, "totp", &ahead).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let session = body["token"].as_str().unwrap().to_owned();
    let (status, _) = s.get("/api/me", Some(&session)).await;
    assert_eq!(status, StatusCode::OK);
    // The pending login is used up; the same code does not work again, nor
    // an older step's code after a newer one was used.
    let (status, _) = second_factor(&s, &pending, "totp", &ahead).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let again = pending_login(&s, "manon@a.nl").await;
    for code in [ahead.clone(), oathtool(&secret, 0)] {
        let (status, _) = second_factor(&s, &again, "totp", &code).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{code}");
    }

    // A recovery code works once, typed carelessly.
    let careless = recovery[0].to_lowercase().replace('-', " ");
    let (status, body) = second_factor(&s, &again, "recovery_code", &careless).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    s.mail("manon@a.nl", "recovery_code_used").await;
    let third = pending_login(&s, "manon@a.nl").await;
    let (status, _) = second_factor(&s, &third, "recovery_code", &recovery[0]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Five wrong codes end a pending login: then even a good code fails.
    for _ in 0..4 {
        second_factor(&s, &third, "recovery_code", "0000-0000-0000-0000").await;
    }
    let (status, _) = second_factor(&s, &third, "recovery_code", &recovery[1]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let fourth = pending_login(&s, "manon@a.nl").await;
    let (status, _) = second_factor(&s, &fourth, "recovery_code", &recovery[1]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "recovery code 2 was not used up by the dead login"
    );
    let (_, st) = s.get("/api/two-factor", Some(&token)).await;
    assert_eq!(
        (st["totp"].as_bool(), st["recovery_codes_left"].as_i64()),
        (Some(true), Some(8))
    );

    // New recovery codes (with an old one) void the rest.
    let (status, body) = s
        .post(
            "/api/two-factor/recovery-codes",
            json!({"method": "recovery_code", "code": recovery[2]}),
            Some(&token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let renewed: Vec<String> = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    s.mail("manon@a.nl", "recovery_codes_renewed").await;

    // Disabling needs a valid code: a void old one and a wrong one fail.
    for code in [&recovery[3], &"0000-0000-0000-0000".to_owned()] {
        let (status, _) = s
            .post(
                "/api/two-factor/disable",
                json!({"method": "recovery_code", "code": code}),
                Some(&token),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let (status, _) = s
        .post(
            "/api/two-factor/disable",
            json!({"method": "recovery_code", "code": renewed[0]}),
            Some(&token),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    s.mail("manon@a.nl", "two_factor_disabled").await;
    s.mail("manon@a.nl", "two_factor_enabled").await;
    assert!(s.login("manon@a.nl", PW).await.is_ok(), "one step again");
    s.stop().await;
}

async fn an_organisation_can_require_two_factor_login(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (org, manager, _) = s.setup_organisation("manon@a.nl", PW).await;
    let (coach, _) = s
        .invite_and_register(&org, &manager, "coach@a.nl", "coach", PW)
        .await;
    // Only a manager sets the policy.
    let (status, _) = s
        .put(
            &format!("/api/organisations/{org}/two-factor"),
            json!({"required": true}),
            &coach,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = s
        .put(
            &format!("/api/organisations/{org}/two-factor"),
            json!({"required": true}),
            &manager,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // The coach's session now reaches only enrolment and its own account.
    let relationships = format!("/api/organisations/{org}/members");
    let (status, body) = s.get(&relationships, Some(&coach)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("two_factor_enrolment_required"))
    );
    let (status, st) = s.get("/api/two-factor", Some(&coach)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(st["required_by_organisation"], true);
    let (status, me) = s.get("/api/me", Some(&coach)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["two_factor_enrolment_required"], true);
    let (_, _, coach_codes) = enrol(&s, &coach).await;
    let (_, me) = s.get("/api/me", Some(&coach)).await;
    assert_eq!(me["two_factor_enrolment_required"], false);
    let (status, _) = s.get(&relationships, Some(&coach)).await;
    assert_eq!(status, StatusCode::OK);
    // The manager, without two-factor login, is confined in turn.
    let (status, _) = s.get(&relationships, Some(&manager)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A password reset ends a login waiting for its second factor.
    let waiting = pending_login(&s, "coach@a.nl").await;
    let (status, _) = s
        .post("/api/password-reset", json!({"email": "coach@a.nl"}), None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    s.run_worker_once().await;
    let reset = token_of(&s.mail("coach@a.nl", "password_reset").await);
    // With a second factor the reset needs a code of it
    // (tests/integration/takeover.rs has the refusals).
    let (status, body) = s
        .register(
            "/api/password-reset",
            &reset,
            "Nieuw-Wachtwoord-7",
            json!({"method": "recovery_code", "code": coach_codes[1]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = second_factor(&s, &waiting, "recovery_code", &coach_codes[0]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let after = s
        .login_with("coach@a.nl", "Nieuw-Wachtwoord-7", json!({}))
        .await;
    assert_eq!(
        after.0,
        StatusCode::ACCEPTED,
        "two-factor login stays on after a reset"
    );
    s.stop().await;
}
