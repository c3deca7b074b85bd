//! No account takeover by a manager (issue 14, finding 4), on both engines.
//! Each rule of THREAT_MODEL.md "The manager's powers" has a test here:
//!
//! - a manager only proposes a member's new address; login, reset and
//!   notices stay with the current address until the member confirms
//!   (logged in with a fresh password, or from the link sent to the
//!   current address), and the same link refuses it;
//! - a new identity, turning two-factor login off, a first second factor
//!   and an own address change need a fresh proof of the password;
//! - a reset of an account with a second factor needs a code of it;
//! - erasing a client soon after a reset, an address change or a new
//!   identity is only scheduled, the coach is told, and the worker erases
//!   it when due (unless cancelled).

use kluis_crypto::identity::IdentityKeyPair;
use kluis_crypto::ids::{RelationshipId, UserId};
use kluis_crypto::key_schedule::ExportKey;
use kluis_crypto::opaque;
use kluis_crypto::recovery::RecoveryKey;
use kluis_server::clock::now_ms;
use kluis_server::store::Engine;
use kluis_test_support::{b64, both_engines, oathtool, token_of, unb64};
use rand::rngs::OsRng;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

use crate::common::TestServer;

const PW: &str = "Correct-Horse-9";
const NEW_PW: &str = "Other-Horse-42";
const DAY_MS: i64 = 24 * 3600 * 1000;

both_engines!(
    a_manager_only_proposes_an_address,
    a_proposal_is_confirmed_logged_in_with_a_fresh_password,
    a_new_identity_and_second_factor_changes_need_a_fresh_password,
    a_reset_of_a_two_factor_account_needs_the_code,
    erasure_soon_after_a_reset_waits_and_the_coach_is_told,
);

fn keys_body(identity: &IdentityKeyPair) -> Value {
    let export = ExportKey::generate(&mut OsRng);
    let recovery = RecoveryKey::random(&mut OsRng);
    json!({
        "bundle": b64(&identity.bundle().encode()),
        "sealed_password": b64(&identity.seal_with_password(&export, &mut OsRng).unwrap().encode()),
        "sealed_recovery": b64(&identity.seal_with_recovery_key(&recovery, &mut OsRng).unwrap().encode()),
    })
}

fn identity_for(id: &str) -> IdentityKeyPair {
    IdentityKeyPair::generate(&mut OsRng, id.parse::<UserId>().unwrap())
}

/// A manager, a coach and the coach's client (both with published keys)
/// in one relationship: (org, manager token, coach token, client token,
/// client id).
async fn people(s: &TestServer) -> (String, String, String, String, String) {
    let (org, manager, _) = s.setup_organisation("manager@a.nl", PW).await;
    let (coach, coach_id) = s
        .invite_and_register(&org, &manager, "coach@a.nl", "coach", PW)
        .await;
    let (client, client_id) = s
        .invite_and_register(&org, &coach, "client@a.nl", "client", PW)
        .await;
    let coach_identity = identity_for(&coach_id);
    let client_identity = identity_for(&client_id);
    for (token, identity) in [(&coach, &coach_identity), (&client, &client_identity)] {
        let (status, body) = s.put("/api/keys", keys_body(identity), token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let rid = RelationshipId::random(&mut OsRng);
    let (status, body) = s
        .post(
            &format!("/api/organisations/{org}/relationships"),
            crate::common::opening_body(&coach_identity, client_identity.bundle(), rid),
            Some(&coach),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (org, manager, coach, client, client_id)
}

/// Makes every session of the account look as if its password was proven
/// an hour ago (longer than the window).
async fn make_stale(s: &TestServer, account_id: &str) {
    sqlx::query("UPDATE sessions SET reauthenticated_ms = $1 WHERE account_id = $2")
        .bind(now_ms() - 3600 * 1000)
        .bind(account_id)
        .execute(s.state.store.pool())
        .await
        .unwrap();
}

/// A fresh OPAQUE proof of `password` against `{prefix}/start|finish`.
async fn prove(s: &TestServer, prefix: &str, token: &str, password: &str) -> (StatusCode, Value) {
    let (ke1, client) = opaque::client_login_start(&mut OsRng, password.as_bytes()).unwrap();
    let (status, body) = s
        .post(
            &format!("{prefix}/start"),
            json!({"request": b64(&ke1)}),
            Some(token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let finalization =
        match client.finish(&mut OsRng, password.as_bytes(), &unb64(&body["response"])) {
            Ok(done) => done.finalization,
            Err(_) => vec![0x42; 64],
        };
    s.post(
        &format!("{prefix}/finish"),
        json!({"login_id": body["login_id"], "finalization": b64(&finalization)}),
        Some(token),
    )
    .await
}

/// Sets up an authenticator (the session must be fresh) confirmed with
/// oathtool's code; returns (secret, recovery codes).
async fn enrol_totp(s: &TestServer, token: &str) -> (String, Vec<String>) {
    let (status, enrolment) = s.post("/api/two-factor/totp", json!({}), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{enrolment}");
    let secret = enrolment["secret"].as_str().unwrap().to_owned();
    let (status, codes) = s
        .post(
            "/api/two-factor/totp/confirm",
            json!({"code": oathtool(&secret, 0)}),
            Some(token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{codes}");
    let codes = codes["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

/// Whether any mail to `to` was written.
fn mailed(s: &TestServer, to: &str) -> bool {
    s.all_mail()
        .iter()
        .any(|m| m.contains(&format!("To: {to}")))
}

async fn a_manager_only_proposes_an_address(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (org, manager, _coach, client, client_id) = people(&s).await;
    let member = format!("/api/organisations/{org}/members/{client_id}");
    let (status, body) = s
        .patch(&member, json!({"email": "mallory@evil.nl"}), &manager)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "client@a.nl", "the address did not change");
    // The member is told at the current address; nothing goes to the new.
    let proposal = s.mail("client@a.nl", "email_change_proposed").await;
    assert!(!proposal.contains("mallory@evil.nl"), "{proposal}");
    // Login and reset stay with the current address.
    s.login("client@a.nl", PW).await.unwrap();
    assert_eq!(
        s.login("mallory@evil.nl", PW).await.unwrap_err().0,
        StatusCode::UNAUTHORIZED
    );
    for email in ["mallory@evil.nl", "client@a.nl"] {
        let (status, _) = s
            .post("/api/password-reset", json!({"email": email}), None)
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    s.run_worker_once().await;
    s.mail("client@a.nl", "password_reset").await;
    assert!(
        !mailed(&s, "mallory@evil.nl"),
        "nothing reaches the proposed address"
    );
    // The link refuses it; used once.
    let link_token = token_of(&proposal);
    let (status, body) = s
        .post(
            "/api/email-change/refuse",
            json!({"token": link_token}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, me) = s.get("/api/me", Some(&client)).await;
    assert!(me["proposed_email"].is_null(), "{me}");
    for route in ["/api/email-change/confirm", "/api/email-change/refuse"] {
        let (status, body) = s.post(route, json!({"token": link_token}), None).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_token"))
        );
    }
    // A second proposal, confirmed from the current mailbox, takes effect.
    let (status, _) = s
        .patch(&member, json!({"email": "client.new@a.nl"}), &manager)
        .await;
    assert_eq!(status, StatusCode::OK);
    let link_token = token_of(&s.mail("client@a.nl", "email_change_proposed").await);
    let (status, body) = s
        .post(
            "/api/email-change/confirm",
            json!({"token": link_token}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    s.mail("client@a.nl", "email_changed").await;
    s.mail("client.new@a.nl", "verify_email").await;
    s.login("client.new@a.nl", PW).await.unwrap();
    // Another proposal replaces the last and its link.
    s.patch(&member, json!({"email": "first@a.nl"}), &manager)
        .await;
    s.patch(&member, json!({"email": "second@a.nl"}), &manager)
        .await;
    let (_, me) = s.get("/api/me", Some(&client)).await;
    assert_eq!(me["proposed_email"], "second@a.nl");
    s.stop().await;
}

async fn a_proposal_is_confirmed_logged_in_with_a_fresh_password(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (org, manager, coach, client, client_id) = people(&s).await;
    let member = format!("/api/organisations/{org}/members/{client_id}");
    // Nothing proposed: nothing to confirm or refuse.
    for route in [
        "/api/me/email-change/confirm",
        "/api/me/email-change/refuse",
    ] {
        assert_eq!(
            s.post(route, json!({}), Some(&client)).await.0,
            StatusCode::NOT_FOUND
        );
    }
    s.patch(&member, json!({"email": "client.new@a.nl"}), &manager)
        .await;
    let (status, proposal) = s.get("/api/me/email-change", Some(&client)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(proposal["new_email"], "client.new@a.nl");
    // The coach has no proposal to confirm: it is the member's alone.
    assert_eq!(
        s.post("/api/me/email-change/confirm", json!({}), Some(&coach))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // A session whose password proof is old (stolen, left open) cannot.
    make_stale(&s, &client_id).await;
    let (status, body) = s
        .post("/api/me/email-change/confirm", json!({}), Some(&client))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("reauthentication_required"))
    );
    let (_, me) = s.get("/api/me", Some(&client)).await;
    assert_eq!(me["email"], "client@a.nl");
    // A wrong password proves nothing.
    assert_eq!(
        prove(&s, "/api/reauth", &client, "Wrong-Horse-1").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.post("/api/me/email-change/confirm", json!({}), Some(&client))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = prove(&s, "/api/reauth", &client, PW).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["fresh_until_ms"].as_i64().unwrap() > now_ms());
    let (status, body) = s
        .post("/api/me/email-change/confirm", json!({}), Some(&client))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, me) = s.get("/api/me", Some(&client)).await;
    assert_eq!(
        (me["email"].as_str(), me["email_verified"].as_bool()),
        (Some("client.new@a.nl"), Some(false))
    );
    // The member's own change: needs a fresh password too, and the new
    // address confirms it from its mailbox.
    make_stale(&s, &client_id).await;
    let (status, body) = s
        .put("/api/me/email", json!({"email": "own@a.nl"}), &client)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("reauthentication_required"))
    );
    prove(&s, "/api/reauth", &client, PW).await;
    assert_eq!(
        s.put("/api/me/email", json!({"email": "coach@a.nl"}), &client)
            .await
            .0,
        StatusCode::CONFLICT
    );
    let (status, body) = s
        .put("/api/me/email", json!({"email": "own@a.nl"}), &client)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    s.mail("client.new@a.nl", "email_change_notice").await;
    let (_, me) = s.get("/api/me", Some(&client)).await;
    assert_eq!(me["email"], "client.new@a.nl", "not before it is confirmed");
    let token = token_of(&s.mail("own@a.nl", "verify_email").await);
    assert_eq!(
        s.post("/api/email/verify", json!({"token": token}), None)
            .await
            .0,
        StatusCode::OK
    );
    let (_, me) = s.get("/api/me", Some(&client)).await;
    assert_eq!(me["email"], "own@a.nl");
    s.stop().await;
}

async fn a_new_identity_and_second_factor_changes_need_a_fresh_password(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (org, manager, _) = s.setup_organisation("manager@a.nl", PW).await;
    let (coach, coach_id) = s
        .invite_and_register(&org, &manager, "coach@a.nl", "coach", PW)
        .await;
    // The first identity needs only the session.
    make_stale(&s, &coach_id).await;
    let first = identity_for(&coach_id);
    let (status, body) = s.put("/api/keys", keys_body(&first), &coach).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A replacement, or a re-seal, needs a fresh password.
    for body in [keys_body(&identity_for(&coach_id)), keys_body(&first)] {
        let (status, answer) = s.put("/api/keys", body, &coach).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (StatusCode::FORBIDDEN, Some("reauthentication_required"))
        );
    }
    let (_, history) = s
        .get(&format!("/api/users/{coach_id}/keys"), Some(&coach))
        .await;
    assert_eq!(history["history"].as_array().unwrap().len(), 1);
    prove(&s, "/api/reauth", &coach, PW).await;
    let (status, body) = s
        .put("/api/keys", keys_body(&identity_for(&coach_id)), &coach)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 2);
    // A first second factor needs a fresh password (else a stolen session
    // enrols the thief's authenticator).
    make_stale(&s, &coach_id).await;
    let (status, body) = s
        .post("/api/two-factor/totp", json!({}), Some(&coach))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("reauthentication_required"))
    );
    let (status, body) = s
        .post(
            "/api/two-factor/sms",
            json!({"phone": "+31612345678"}),
            Some(&coach),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("reauthentication_required"))
    );
    prove(&s, "/api/reauth", &coach, PW).await;
    let (secret, _) = enrol_totp(&s, &coach).await;
    // Turning it off needs a fresh password as well as a code.
    make_stale(&s, &coach_id).await;
    let (status, body) = s
        .post(
            "/api/two-factor/disable",
            json!({"code": oathtool(&secret, 30)}),
            Some(&coach),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("reauthentication_required"))
    );
    let (_, status_now) = s.get("/api/two-factor", Some(&coach)).await;
    assert_eq!(status_now["totp"], true);
    prove(&s, "/api/reauth", &coach, PW).await;
    let (status, body) = s
        .post(
            "/api/two-factor/disable",
            json!({"code": oathtool(&secret, 30)}),
            Some(&coach),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    s.stop().await;
}

async fn a_reset_of_a_two_factor_account_needs_the_code(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (org, manager, _) = s.setup_organisation("manager@a.nl", PW).await;
    let (coach, _) = s
        .invite_and_register(&org, &manager, "coach@a.nl", "coach", PW)
        .await;
    let (_, codes) = enrol_totp(&s, &coach).await;
    let recovery = codes[0].clone();
    s.post("/api/password-reset", json!({"email": "coach@a.nl"}), None)
        .await;
    s.run_worker_once().await;
    let token = token_of(&s.mail("coach@a.nl", "password_reset").await);
    // The start says what the finish will need.
    let (request, _) = opaque::client_registration_start(&mut OsRng, NEW_PW.as_bytes()).unwrap();
    let (status, start) = s
        .post(
            "/api/password-reset/start",
            json!({"token": token, "request": b64(&request)}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{start}");
    assert_eq!(start["second_factor"], json!(["totp", "recovery_code"]));
    // The link alone changes nothing.
    let (status, body) = s
        .register("/api/password-reset", &token, NEW_PW, json!({}))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("second_factor_required"))
    );
    // Nor does a wrong code, or an SMS code the account cannot have.
    for (method, code) in [
        ("totp", "000000"),
        ("recovery_code", "NOT-A-CODE"),
        ("sms", "123456"),
    ] {
        let (status, body) = s
            .register(
                "/api/password-reset",
                &token,
                NEW_PW,
                json!({"method": method, "code": code}),
            )
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_code")),
            "{method}"
        );
    }
    // The owner is not locked out: the old password still logs in.
    let (status, _) = s.login_with("coach@a.nl", PW, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _) = s.login_with("coach@a.nl", NEW_PW, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // With a recovery code the reset completes (and the owner is told).
    let (status, body) = s
        .register(
            "/api/password-reset",
            &token,
            NEW_PW,
            json!({"method": "recovery_code", "code": recovery}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    s.mail("coach@a.nl", "recovery_code_used").await;
    let (status, _) = s.login_with("coach@a.nl", NEW_PW, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "the second factor stays on");
    s.stop().await;
}

async fn erasure_soon_after_a_reset_waits_and_the_coach_is_told(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (org, _manager, coach, _client, client_id) = people(&s).await;
    let pool = s.state.store.pool();
    s.post("/api/password-reset", json!({"email": "client@a.nl"}), None)
        .await;
    s.run_worker_once().await;
    let token = token_of(&s.mail("client@a.nl", "password_reset").await);
    let (status, body) = s
        .register("/api/password-reset", &token, NEW_PW, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let client = s.login("client@a.nl", NEW_PW).await.unwrap();
    let before = now_ms();
    let (status, body) = prove(&s, "/api/account/delete", &client, NEW_PW).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "scheduled");
    let due = body["scheduled_for_ms"].as_i64().unwrap();
    assert!(
        due >= before + 7 * DAY_MS && due <= now_ms() + 7 * DAY_MS,
        "due {due}"
    );
    s.mail("coach@a.nl", "client_deletion_scheduled").await;
    s.mail("client@a.nl", "deletion_scheduled").await;
    let (_, me) = s.get("/api/me", Some(&client)).await;
    assert_eq!(me["deletion_scheduled_for_ms"], due);
    let accounts = || async {
        sqlx::query("SELECT COUNT(*) AS n FROM accounts WHERE id = $1")
            .bind(&client_id)
            .fetch_one(pool)
            .await
            .unwrap()
            .try_get::<i64, _>("n")
            .unwrap()
    };
    // Not before it is due.
    let worker = kluis_server::worker::process_due_deletions;
    assert_eq!(worker(&s.state, now_ms()).await.unwrap(), 0);
    assert_eq!(accounts().await, 1);
    // The owner can cancel; then nothing happens when it would be due.
    assert_eq!(
        s.post("/api/account/delete/cancel", json!({}), Some(&client))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        s.post("/api/account/delete/cancel", json!({}), Some(&client))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(worker(&s.state, due + 1).await.unwrap(), 0);
    assert_eq!(accounts().await, 1);
    // Asked again, and due: the worker erases it, relationships and all.
    let (_, body) = prove(&s, "/api/account/delete", &client, NEW_PW).await;
    assert_eq!(body["status"], "scheduled");
    let due = body["scheduled_for_ms"].as_i64().unwrap();
    assert_eq!(worker(&s.state, due).await.unwrap(), 1);
    assert_eq!(accounts().await, 0);
    let left: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM relationship_members WHERE account_id = $1")
            .bind(&client_id)
            .fetch_one(pool)
            .await
            .unwrap()
            .try_get("n")
            .unwrap();
    assert_eq!(left, 0);

    // A new identity counts too; an event older than the period does not.
    let (two, two_id) = s
        .invite_and_register(&org, &coach, "client2@a.nl", "client", PW)
        .await;
    s.put("/api/keys", keys_body(&identity_for(&two_id)), &two)
        .await;
    let (status, _) = s
        .put("/api/keys", keys_body(&identity_for(&two_id)), &two)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = prove(&s, "/api/account/delete", &two, PW).await;
    assert_eq!(body["status"], "scheduled");
    s.post("/api/account/delete/cancel", json!({}), Some(&two))
        .await;
    sqlx::query("UPDATE account_events SET created_ms = created_ms - $1 WHERE account_id = $2")
        .bind(8 * DAY_MS)
        .bind(&two_id)
        .execute(pool)
        .await
        .unwrap();
    let (status, body) = prove(&s, "/api/account/delete", &two, PW).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "deleted");
    assert!(body.get("scheduled_for_ms").is_none());
    // And a client with no such event at all is erased at once, as before.
    let (three, _) = s
        .invite_and_register(&org, &coach, "client3@a.nl", "client", PW)
        .await;
    let (_, body) = prove(&s, "/api/account/delete", &three, PW).await;
    assert_eq!(body["status"], "deleted");
    s.stop().await;
}
