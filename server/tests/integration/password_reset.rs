//! Password reset on both engines: the request cannot fish for accounts
//! (same answer, same status, indistinguishable timing), the link is
//! single-use and expires, and using it replaces the OPAQUE record, ends
//! every session and records a key event.

use std::time::Instant;

use kluis_server::store::Engine;
use kluis_test_support::{both_engines, token_of};
use rand::seq::SliceRandom;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::TestServer;

const PW: &str = "Correct-Horse-9";
const NEW_PW: &str = "Battery-Staple-7";

both_engines!(
    reset_replaces_the_password_once,
    reset_requests_cannot_tell_whether_an_account_exists,
    reset_requests_are_rate_limited_alike,
);

async fn reset_replaces_the_password_once(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (_, old_session, account_id) = s.setup_organisation("manager@a.nl", PW).await;
    let known = s
        .post(
            "/api/password-reset",
            json!({"email": "Manager@A.nl"}),
            None,
        )
        .await;
    let unknown = s
        .post("/api/password-reset", json!({"email": "nobody@a.nl"}), None)
        .await;
    assert_eq!(known.0, StatusCode::ACCEPTED);
    assert_eq!(known, unknown);
    let token = token_of(&s.mail("manager@a.nl", "password_reset").await);
    s.run_worker_once().await;
    assert!(
        !s.all_mail().iter().any(|m| m.contains("nobody@a.nl")),
        "nothing is sent to an address without an account"
    );
    // A reset token is not a verification token.
    let (status, _) = s
        .post("/api/email/verify", json!({"token": token}), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, body) = s
        .register("/api/password-reset", &token, NEW_PW, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        s.get("/api/me", Some(&old_session)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.login("manager@a.nl", PW).await.unwrap_err().0,
        StatusCode::UNAUTHORIZED
    );
    let fresh = s.login("manager@a.nl", NEW_PW).await.unwrap();
    assert_eq!(s.get("/api/me", Some(&fresh)).await.0, StatusCode::OK);
    s.mail("manager@a.nl", "password_changed").await;
    let events: Vec<String> =
        sqlx::query_scalar("SELECT kind FROM account_events WHERE account_id = $1")
            .bind(&account_id)
            .fetch_all(s.state.store.pool())
            .await
            .unwrap();
    assert_eq!(events, ["password_reset"]);

    // Used once: a second use fails at either step.
    let (status, body) = s
        .register("/api/password-reset", &token, "Third-Pass-3", json!({}))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_token"))
    );
    s.login("manager@a.nl", NEW_PW).await.unwrap();

    // Expired after an hour.
    s.post(
        "/api/password-reset",
        json!({"email": "manager@a.nl"}),
        None,
    )
    .await;
    let token = token_of(&s.mail("manager@a.nl", "password_reset").await);
    let lifetime: i64 = sqlx::query_scalar(
        "SELECT expires_ms - created_ms FROM email_tokens WHERE purpose = 'password_reset' AND used_ms IS NULL",
    )
    .fetch_one(s.state.store.pool())
    .await
    .unwrap();
    assert_eq!(lifetime, 3_600_000);
    sqlx::query("UPDATE email_tokens SET expires_ms = 1 WHERE purpose = 'password_reset'")
        .execute(s.state.store.pool())
        .await
        .unwrap();
    let (status, body) = s
        .register("/api/password-reset", &token, "Third-Pass-3", json!({}))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_token"))
    );
    // An invalid address is refused the same way whether or not it could
    // exist: by its form.
    let (status, body) = s
        .post("/api/password-reset", json!({"email": "no-at-sign"}), None)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_email"))
    );
    s.stop().await;
}

/// Two-sample Kolmogorov–Smirnov statistic: the largest distance between
/// the two empirical distribution functions.
fn ks_statistic(a: &[f64], b: &[f64]) -> f64 {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    d
}

/// Timing: requests for an existing and an unknown address, interleaved in
/// random order (so drift and the worker's later work hit both alike), 300
/// of each. The two latency distributions must not differ by a two-sample
/// Kolmogorov–Smirnov test at α = 0.001: D < 1.95·√((n+m)/(n·m)) ≈ 0.159.
/// A real difference — the account's lookup, token and outbox row done in
/// the request for existing accounts, about half a request more — shifts
/// every sample and gives D near 1, far above the threshold; identical
/// work stays below it except once in a thousand runs by chance.
async fn reset_requests_cannot_tell_whether_an_account_exists(engine: Engine) {
    let s = TestServer::start(engine).await;
    s.setup_organisation("manager@a.nl", PW).await;
    const N: usize = 300;
    // Warm the connection and the pool.
    for _ in 0..20 {
        s.post("/api/password-reset", json!({"email": "warm@a.nl"}), None)
            .await;
    }
    let threshold = 1.95 * ((2 * N) as f64 / (N * N) as f64).sqrt();
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    // Up to three rounds: the other tests of this binary run beside this
    // one, and a burst of their load can skew one round's sample. A real
    // difference (the power check below) shows in every round.
    let mut rounds = Vec::new();
    for round in 1..=3 {
        let mut order: Vec<bool> = (0..2 * N).map(|i| i % 2 == 0).collect();
        order.shuffle(&mut rand::thread_rng());
        let (mut known, mut unknown) = (Vec::new(), Vec::new());
        for (i, is_known) in order.into_iter().enumerate() {
            let email = if is_known {
                "manager@a.nl".to_owned()
            } else {
                format!("nobody{round}-{i}@a.nl")
            };
            let started = Instant::now();
            let (status, body) = s
                .post("/api/password-reset", json!({"email": email}), None)
                .await;
            let micros = started.elapsed().as_secs_f64() * 1e6;
            assert_eq!(
                (status, body),
                (StatusCode::ACCEPTED, json!({"status": "accepted"}))
            );
            if is_known {
                known.push(micros)
            } else {
                unknown.push(micros)
            }
        }
        let d = ks_statistic(&known, &unknown);
        println!(
            "reset timing ({engine:?}, round {round}): median known {:.0} µs, unknown {:.0} µs, KS D = {d:.3} (threshold {threshold:.3})",
            median(&mut known),
            median(&mut unknown)
        );
        rounds.push(d);
        if d >= threshold {
            continue;
        }
        // The check has power: doing the account's work in the request (a
        // lookup, a token, an outbox row: about as much again as the
        // request itself) would add roughly half the median on one side;
        // such a shift is caught. Relative to the median, so that a loaded
        // machine does not make the power check itself flaky.
        let extra = median(&mut unknown) / 2.0;
        let shifted: Vec<f64> = known.iter().map(|x| x + extra).collect();
        assert!(
            ks_statistic(&shifted, &unknown) >= threshold,
            "a {extra:.0} µs shift went unnoticed"
        );
        s.stop().await;
        return;
    }
    panic!("distributions differ in every round: D = {rounds:?} >= {threshold:.3}");
}

async fn reset_requests_are_rate_limited_alike(engine: Engine) {
    let s = TestServer::start_with(engine, &[("KLUIS_RESET_PER_ACCOUNT_PER_HOUR", "2")]).await;
    s.setup_organisation("manager@a.nl", PW).await;
    for email in ["manager@a.nl", "nobody@a.nl"] {
        for _ in 0..2 {
            assert_eq!(
                s.post("/api/password-reset", json!({"email": email}), None)
                    .await
                    .0,
                StatusCode::ACCEPTED
            );
        }
        let response = s
            .http
            .post(s.url("/api/password-reset"))
            .json(&json!({"email": email}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=1800).contains(&retry), "{retry}");
    }
    s.stop().await;
}
