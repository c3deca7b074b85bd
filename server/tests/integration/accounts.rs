//! Organisations, invitations, OPAQUE login, sessions and members, on both
//! engines, through the real HTTP API — with the attack cases: an unknown
//! e-mail, a forged or replayed login, a link used twice or expired, a
//! revoked token, a foreign organisation, a cross-site cookie request.

use kluis_server::store::Engine;
use kluis_test_support::{both_engines, token_of, unb64};
use reqwest::StatusCode;
use serde_json::json;

use crate::common::TestServer;

const PW: &str = "Correct-Horse-9";

both_engines!(
    setup_link_creates_the_first_organisation_once,
    invitations_roles_and_registration,
    login_unknown_email_looks_like_a_wrong_password,
    sessions_list_revoke_expire,
    cookie_sessions_need_the_same_origin_to_change_state,
    members_are_seen_and_edited_by_role,
    disabled_accounts_and_memberships_are_refused_at_once,
);

async fn setup_link_creates_the_first_organisation_once(engine: Engine) {
    let s = TestServer::start(engine).await;
    let first = kluis_server::org::setup::issue_link(&s.state.store, &s.state.config)
        .await
        .unwrap();
    let second = kluis_server::org::setup::issue_link(&s.state.store, &s.state.config)
        .await
        .unwrap();
    // A newer link voids the older one.
    let (status, body) = s
        .register(
            "/api/setup",
            &token_of(&first),
            PW,
            json!({"organisation_name": "A", "email": "m@a.nl", "display_name": "M"}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_token"))
    );
    let fields =
        json!({"organisation_name": "Praktijk", "email": "Manon@A.nl", "display_name": "Manon"});
    let (status, body) = s
        .register("/api/setup", &token_of(&second), PW, fields.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let bearer = body["token"].as_str().unwrap();
    let (status, me) = s.get("/api/me", Some(bearer)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], "manon@a.nl");
    assert_eq!(me["email_verified"], false);
    assert_eq!(me["memberships"][0]["role"], "manager");
    assert_eq!(me["memberships"][0]["organisation_name"], "Praktijk");
    // Used once: a replay fails, even with a fresh registration.
    let (status, body) = s
        .register("/api/setup", &token_of(&second), PW, fields)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_token"))
    );
    // With an organisation present, even a newly issued link does nothing.
    let third = kluis_server::org::setup::issue_link(&s.state.store, &s.state.config)
        .await
        .unwrap();
    let (status, _) = s
        .register(
            "/api/setup",
            &token_of(&third),
            PW,
            json!({"organisation_name": "B", "email": "x@b.nl", "display_name": "X"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The verification mail confirms the address, once.
    let mail = s.mail("manon@a.nl", "verify_email").await;
    let token = token_of(&mail);
    let (status, _) = s
        .post("/api/email/verify", json!({"token": token}), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, me) = s.get("/api/me", Some(bearer)).await;
    assert_eq!(me["email_verified"], true);
    let (status, body) = s
        .post("/api/email/verify", json!({"token": token}), None)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_token"))
    );
    // The manager logs in with the password set up.
    s.login("manon@a.nl", PW).await.unwrap();
    s.stop().await;
}

async fn invitations_roles_and_registration(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (org, manager, _) = s.setup_organisation("manager@a.nl", PW).await;
    let invite = |who: &str, email: &str, role: &str| {
        let who = who.to_owned();
        let body = json!({"email": email, "role": role});
        let org = org.clone();
        let s = &s;
        async move {
            s.post(
                &format!("/api/organisations/{org}/invitations"),
                body,
                Some(&who),
            )
            .await
        }
    };
    let (coach, coach_id) = s
        .invite_and_register(&org, &manager, "coach@a.nl", "coach", PW)
        .await;
    let (coach2, _) = s
        .invite_and_register(&org, &manager, "coach2@a.nl", "coach", PW)
        .await;
    // Who may invite whom.
    assert_eq!(
        invite(&coach, "x@a.nl", "coach").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        invite(&coach, "x@a.nl", "manager").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        invite(&manager, "x@a.nl", "client").await.0,
        StatusCode::FORBIDDEN
    );
    let (client, client_id) = s
        .invite_and_register(&org, &coach, "client@a.nl", "client", PW)
        .await;
    assert_eq!(
        invite(&client, "y@a.nl", "client").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        invite(&coach, "coach2@a.nl", "client").await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        invite(&coach, "not an address", "client").await.0,
        StatusCode::BAD_REQUEST
    );
    // Anonymous and foreign organisations.
    let (status, _) = s
        .post(
            &format!("/api/organisations/{org}/invitations"),
            json!({"email": "z@a.nl", "role": "coach"}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let other_org = kluis_server::org::admin::create_organisation(
        &s.state.store,
        &s.state.config,
        "Ander",
        "boss@b.nl",
    )
    .await
    .unwrap()
    .0;
    assert_eq!(
        s.post(
            &format!("/api/organisations/{other_org}/invitations"),
            json!({"email": "z@b.nl", "role": "coach"}),
            Some(&manager)
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );

    // The other organisation's manager registers from the operator's
    // invitation and invites our coach, who joins with the same account.
    let boss_token = token_of(&s.mail("boss@b.nl", "invitation").await);
    let (status, boss) = s
        .register(
            "/api/invitations/register",
            &boss_token,
            PW,
            json!({"display_name": "Boss"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{boss}");
    let boss = boss["token"].as_str().unwrap().to_owned();
    let (status, _) = s
        .post(
            &format!("/api/organisations/{other_org}/invitations"),
            json!({"email": "coach@a.nl", "role": "coach"}),
            Some(&boss),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let token = token_of(&s.mail("coach@a.nl", "invitation").await);
    assert_eq!(
        s.post(
            "/api/invitations/accept",
            json!({"token": token}),
            Some(&coach)
        )
        .await
        .0,
        StatusCode::OK
    );
    let (_, me) = s.get("/api/me", Some(&coach)).await;
    let mut orgs: Vec<&str> = me["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["organisation_name"].as_str().unwrap())
        .collect();
    orgs.sort_unstable();
    assert_eq!(orgs, ["Ander", "Praktijk De Linde"]);
    // Each organisation's manager sees only its own members.
    let (_, theirs) = s
        .get(
            &format!("/api/organisations/{other_org}/members"),
            Some(&boss),
        )
        .await;
    assert_eq!(theirs.as_array().unwrap().len(), 2);
    assert_eq!(
        s.get(&format!("/api/organisations/{org}/members"), Some(&boss))
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    // A second coach invites the same client: one membership, two coaches.
    let (status, _) = invite(&coach2, "client@a.nl", "client").await;
    assert_eq!(status, StatusCode::CREATED);
    let token = token_of(&s.mail("client@a.nl", "invitation").await);
    let (status, info) = s
        .post("/api/invitations/lookup", json!({"token": token}), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (info["account_exists"].as_bool(), info["role"].as_str()),
        (Some(true), Some("client"))
    );
    // Who invites whom: the page says it (the inviter's shown name).
    assert_eq!(info["inviter_name"], "coach coach2@a.nl");
    // An existing account cannot register again from it…
    let (status, body) = s
        .register(
            "/api/invitations/register",
            &token,
            PW,
            json!({"display_name": "C"}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("account_exists"))
    );
    // …nor accept it with someone else's account…
    let (status, _) = s
        .post(
            "/api/invitations/accept",
            json!({"token": token}),
            Some(&coach),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // …but accepts it logged in, once.
    let (status, _) = s
        .post(
            "/api/invitations/accept",
            json!({"token": token}),
            Some(&client),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = s
        .post(
            "/api/invitations/accept",
            json!({"token": token}),
            Some(&client),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_token"))
    );
    let (_, coaches) = s
        .get(&format!("/api/organisations/{org}/members"), Some(&client))
        .await;
    let mut names: Vec<&str> = coaches
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["coach2@a.nl", "coach@a.nl"]);

    // A used registration link cannot register a second account.
    let (status, _) = invite(&coach, "client2@a.nl", "client").await;
    assert_eq!(status, StatusCode::CREATED);
    let token = token_of(&s.mail("client2@a.nl", "invitation").await);
    let (status, _) = s
        .register(
            "/api/invitations/register",
            &token,
            PW,
            json!({"display_name": "C2"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = s
        .register(
            "/api/invitations/register",
            &token,
            "Other-Pass-1",
            json!({"display_name": "C3"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // An expired invitation is refused with the same answer.
    let (status, _) = invite(&coach, "late@a.nl", "client").await;
    assert_eq!(status, StatusCode::CREATED);
    let token = token_of(&s.mail("late@a.nl", "invitation").await);
    sqlx::query("UPDATE invitations SET expires_ms = 1 WHERE email = 'late@a.nl'")
        .execute(s.state.store.pool())
        .await
        .unwrap();
    let (status, body) = s
        .post("/api/invitations/lookup", json!({"token": token}), None)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_token"))
    );
    let (status, _) = s
        .register(
            "/api/invitations/register",
            &token,
            PW,
            json!({"display_name": "L"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Garbage tokens: the same answer.
    for bad in ["", "short", &"A".repeat(43), &"!".repeat(43)] {
        let (status, body) = s
            .post("/api/invitations/lookup", json!({"token": bad}), None)
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_token")),
            "{bad:?}"
        );
    }
    // The invitation mail says nothing but the organisation and the role.
    let mail = s
        .all_mail()
        .into_iter()
        .find(|m| m.contains("To: client2@a.nl"))
        .unwrap();
    assert!(
        !mail.contains("coach@a.nl") && !mail.contains(&coach_id) && !mail.contains(&client_id)
    );
    s.stop().await;
}

async fn login_unknown_email_looks_like_a_wrong_password(engine: Engine) {
    let s = TestServer::start(engine).await;
    s.setup_organisation("manager@a.nl", PW).await;
    let ok = s.login("manager@a.nl", PW).await;
    assert!(ok.is_ok());
    let wrong = s.login("manager@a.nl", "Wrong-Pass-1").await.unwrap_err();
    let unknown = s.login("nobody@a.nl", PW).await.unwrap_err();
    assert_eq!(wrong, unknown, "same status and body");
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.1["error"], "login_failed");

    // KE2 for a real and an unknown account: same size, fresh each time.
    let ke2 = |email: &'static str| {
        let s = &s;
        async move {
            let (ke1, _) =
                kluis_crypto::opaque::client_login_start(&mut rand::rngs::OsRng, PW.as_bytes())
                    .unwrap();
            let (status, body) = s
                .post(
                    "/api/login/start",
                    json!({"email": email, "request": kluis_test_support::b64(&ke1)}),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK);
            (
                body["login_id"].as_str().unwrap().to_owned(),
                unb64(&body["response"]),
            )
        }
    };
    let (_, real) = ke2("manager@a.nl").await;
    let (unknown_id, fake) = ke2("nobody@a.nl").await;
    assert_eq!(real.len(), fake.len());
    assert_ne!(ke2("nobody@a.nl").await.1, fake);
    // A forged KE3 for the unknown account, and a replayed login id.
    let forged =
        json!({"login_id": unknown_id, "finalization": kluis_test_support::b64(&[7u8; 64])});
    let (status, body) = s.post("/api/login/finish", forged.clone(), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("login_failed"))
    );
    let (status, _) = s.post("/api/login/finish", forged, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A finished login cannot be finished twice.
    let (ke1, client) =
        kluis_crypto::opaque::client_login_start(&mut rand::rngs::OsRng, PW.as_bytes()).unwrap();
    let (_, start) = s
        .post(
            "/api/login/start",
            json!({"email": "manager@a.nl", "request": kluis_test_support::b64(&ke1)}),
            None,
        )
        .await;
    let done = client
        .finish(
            &mut rand::rngs::OsRng,
            PW.as_bytes(),
            &unb64(&start["response"]),
        )
        .unwrap();
    let finish = json!({"login_id": start["login_id"], "finalization": kluis_test_support::b64(&done.finalization)});
    assert_eq!(
        s.post("/api/login/finish", finish.clone(), None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        s.post("/api/login/finish", finish, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Malformed OPAQUE bytes are a 400, not a 500.
    let (status, body) = s
        .post(
            "/api/login/start",
            json!({"email": "manager@a.nl", "request": kluis_test_support::b64(&[1, 2, 3])}),
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_message"))
    );
    s.stop().await;
}

async fn sessions_list_revoke_expire(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (_, first, _) = s.setup_organisation("manager@a.nl", PW).await;
    let (status, second) = s
        .login_with("manager@a.nl", PW, json!({"device_label": "laptop"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let second_token = second["token"].as_str().unwrap().to_owned();
    let third = s.login("manager@a.nl", PW).await.unwrap();
    let (status, list) = s.get("/api/sessions", Some(&first)).await;
    assert_eq!(status, StatusCode::OK);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list.iter().filter(|x| x["current"] == true).count(), 1);
    assert!(list.iter().any(|x| x["device_label"] == "laptop"));
    // Revoking one ends it at once; others go on.
    let (status, _) = s
        .delete(
            &format!("/api/sessions/{}", second["session_id"].as_str().unwrap()),
            &first,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = s.get("/api/me", Some(&second_token)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
    );
    assert_eq!(s.get("/api/me", Some(&third)).await.0, StatusCode::OK);
    // Someone else's session id is not found (and stays alive).
    let me = s.get("/api/me", Some(&first)).await.1;
    let org = me["memberships"][0]["organisation_id"].as_str().unwrap();
    let other = s
        .invite_and_register(org, &first, "coach@a.nl", "coach", PW)
        .await
        .0;
    let (_, theirs) = s.get("/api/sessions", Some(&other)).await;
    let their_id = theirs[0]["id"].as_str().unwrap();
    assert_eq!(
        s.delete(&format!("/api/sessions/{their_id}"), &first)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(s.get("/api/me", Some(&other)).await.0, StatusCode::OK);
    // Idle too long, or past the absolute lifetime: refused.
    sqlx::query("UPDATE sessions SET last_seen_ms = last_seen_ms - 3600001")
        .execute(s.state.store.pool())
        .await
        .unwrap();
    assert_eq!(
        s.get("/api/me", Some(&third)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let fourth = s.login("manager@a.nl", PW).await.unwrap();
    sqlx::query("UPDATE sessions SET expires_ms = 1")
        .execute(s.state.store.pool())
        .await
        .unwrap();
    assert_eq!(
        s.get("/api/me", Some(&fourth)).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Log out everywhere.
    let a = s.login("manager@a.nl", PW).await.unwrap();
    let b = s.login("manager@a.nl", PW).await.unwrap();
    assert_eq!(
        s.post("/api/logout/everywhere", json!({}), Some(&a))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(s.get("/api/me", Some(&a)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(s.get("/api/me", Some(&b)).await.0, StatusCode::UNAUTHORIZED);
    // Log out ends this session only.
    let c = s.login("manager@a.nl", PW).await.unwrap();
    let d = s.login("manager@a.nl", PW).await.unwrap();
    assert_eq!(
        s.post("/api/logout", json!({}), Some(&c)).await.0,
        StatusCode::OK
    );
    assert_eq!(s.get("/api/me", Some(&c)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(s.get("/api/me", Some(&d)).await.0, StatusCode::OK);
    // Tokens are stored only as hashes.
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token_hash FROM sessions")
        .fetch_all(s.state.store.pool())
        .await
        .unwrap();
    assert!(stored.iter().all(|h| h.len() == 32));
    assert!(!stored.iter().any(|h| h.as_slice() == d.as_bytes()));
    s.stop().await;
}

async fn cookie_sessions_need_the_same_origin_to_change_state(engine: Engine) {
    let s = TestServer::start(engine).await;
    s.setup_organisation("manager@a.nl", PW).await;
    let (ke1, client) =
        kluis_crypto::opaque::client_login_start(&mut rand::rngs::OsRng, PW.as_bytes()).unwrap();
    let (_, start) = s
        .post(
            "/api/login/start",
            json!({"email": "manager@a.nl", "request": kluis_test_support::b64(&ke1)}),
            None,
        )
        .await;
    let done = client
        .finish(
            &mut rand::rngs::OsRng,
            PW.as_bytes(),
            &unb64(&start["response"]),
        )
        .unwrap();
    let response = s
        .http
        .post(s.url("/api/login/finish"))
        .json(&json!({"login_id": start["login_id"], "finalization": kluis_test_support::b64(&done.finalization), "session": "cookie"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body.get("token").is_none(),
        "cookie mode keeps the token out of reach of script"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    let send = |method: reqwest::Method, path: &str, origin: Option<&str>| {
        let mut req = s.http.request(method, s.url(path)).header("cookie", &pair);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.json(&json!({})).send()
    };
    assert_eq!(
        send(reqwest::Method::GET, "/api/me", None)
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let cross = send(
        reqwest::Method::POST,
        "/api/logout",
        Some("https://evil.example"),
    )
    .await
    .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        kluis_test_support::into_json(cross).await.1["error"],
        "cross_site"
    );
    assert_eq!(
        send(reqwest::Method::POST, "/api/logout", None)
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    // Still logged in; the page's own origin may log out.
    assert_eq!(
        send(reqwest::Method::GET, "/api/me", None)
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let ok = send(reqwest::Method::POST, "/api/logout", Some(&s.base))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(ok.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(
        send(reqwest::Method::GET, "/api/me", None)
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    s.stop().await;
}

async fn members_are_seen_and_edited_by_role(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (org, manager, _) = s.setup_organisation("manager@a.nl", PW).await;
    let (coach, coach_id) = s
        .invite_and_register(&org, &manager, "coach@a.nl", "coach", PW)
        .await;
    let (coach2, _) = s
        .invite_and_register(&org, &manager, "coach2@a.nl", "coach", PW)
        .await;
    let (client, client_id) = s
        .invite_and_register(&org, &coach, "client@a.nl", "client", PW)
        .await;
    let members = |who: String| {
        let s = &s;
        let org = org.clone();
        async move {
            let (status, body) = s
                .get(&format!("/api/organisations/{org}/members"), Some(&who))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let mut v: Vec<String> = body
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["email"].as_str().unwrap().to_owned())
                .collect();
            v.sort();
            v
        }
    };
    assert_eq!(
        members(manager.clone()).await,
        ["client@a.nl", "coach2@a.nl", "coach@a.nl", "manager@a.nl"]
    );
    // A coach: their own clients, and the colleagues they may add to a
    // relationship; never another coach's clients.
    assert_eq!(
        members(coach.clone()).await,
        ["client@a.nl", "coach2@a.nl", "coach@a.nl"]
    );
    assert_eq!(members(coach2.clone()).await, ["coach2@a.nl", "coach@a.nl"]);
    assert_eq!(members(client.clone()).await, ["coach@a.nl"]);

    let member = |id: &str| format!("/api/organisations/{org}/members/{id}");
    // Managers edit profiles; dates are checked and belong to the right role.
    let (status, body) = s
        .patch(
            &member(&coach_id),
            json!({"display_name": "Carla Coach", "contract_end": "2027-06-30"}),
            &manager,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["display_name"].as_str(), body["contract_end"].as_str()),
        (Some("Carla Coach"), Some("2027-06-30"))
    );
    let (status, body) = s
        .patch(
            &member(&client_id),
            json!({"trajectory_start": "2026-01-05", "trajectory_end": "2026-12-31"}),
            &manager,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        s.patch(
            &member(&client_id),
            json!({"contract_end": "2027-01-01"}),
            &manager
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.patch(
            &member(&coach_id),
            json!({"contract_end": "30-06-2027"}),
            &manager
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.patch(&member(&coach_id), json!({"rank": "admiral"}), &manager)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    // Only managers edit; coaches and clients get 403, strangers 404.
    assert_eq!(
        s.patch(&member(&client_id), json!({"display_name": "X"}), &coach)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.patch(&member(&coach_id), json!({"display_name": "X"}), &client)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.patch(
            &member("00000000-0000-4000-8000-000000000000"),
            json!({"display_name": "X"}),
            &manager
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    // Dates stay the organisation's business.
    let (_, seen_by_coach) = s
        .get(&format!("/api/organisations/{org}/members"), Some(&coach))
        .await;
    assert!(seen_by_coach[0]["trajectory_end"].is_null());
    // A manager only proposes an address: nothing changes until the
    // member confirms (tests/integration/takeover.rs has every rule), and
    // the link goes to the current address.
    let (status, body) = s
        .patch(
            &member(&client_id),
            json!({"email": "Client.New@A.nl"}),
            &manager,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "client@a.nl");
    s.mail("client@a.nl", "email_change_proposed").await;
    let (_, me) = s.get("/api/me", Some(&client)).await;
    assert_eq!(
        (me["email"].as_str(), me["proposed_email"].as_str()),
        (Some("client@a.nl"), Some("client.new@a.nl"))
    );
    let (status, body) = s
        .post("/api/me/email-change/confirm", json!({}), Some(&client))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = token_of(&s.mail("client.new@a.nl", "verify_email").await);
    s.mail("client@a.nl", "email_changed").await;
    assert_eq!(
        s.post("/api/email/verify", json!({"token": token}), None)
            .await
            .0,
        StatusCode::OK
    );
    let (_, me) = s.get("/api/me", Some(&client)).await;
    assert_eq!(me["email"], "client.new@a.nl");
    assert_eq!(me["email_verified"], true);
    s.login("client.new@a.nl", PW).await.unwrap();
    assert_eq!(
        s.patch(
            &member(&client_id),
            json!({"email": "coach@a.nl"}),
            &manager
        )
        .await
        .0,
        StatusCode::CONFLICT
    );
    s.stop().await;
}

async fn disabled_accounts_and_memberships_are_refused_at_once(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (org, manager, manager_id) = s.setup_organisation("manager@a.nl", PW).await;
    let (coach, coach_id) = s
        .invite_and_register(&org, &manager, "coach@a.nl", "coach", PW)
        .await;
    let path = |id: &str, what: &str| format!("/api/organisations/{org}/members/{id}/{what}");
    // An invitation the coach sent before being disabled.
    let (status, _) = s
        .post(
            &format!("/api/organisations/{org}/invitations"),
            json!({"email": "pending@a.nl", "role": "client"}),
            Some(&coach),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let pending = token_of(&s.mail("pending@a.nl", "invitation").await);
    assert_eq!(
        s.post(&path(&manager_id, "disable"), json!({}), Some(&manager))
            .await
            .0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        s.post(&path(&manager_id, "disable"), json!({}), Some(&coach))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.post(&path(&coach_id, "disable"), json!({}), Some(&manager))
            .await
            .0,
        StatusCode::OK
    );
    // The disabled coach's invitation no longer works.
    let (status, body) = s
        .post("/api/invitations/lookup", json!({"token": pending}), None)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_token"))
    );
    // The coach's session ended; logging in again gives a session that can
    // do nothing in the organisation.
    assert_eq!(
        s.get("/api/me", Some(&coach)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let coach = s.login("coach@a.nl", PW).await.unwrap();
    let (status, _) = s
        .post(
            &format!("/api/organisations/{org}/invitations"),
            json!({"email": "c@a.nl", "role": "client"}),
            Some(&coach),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        s.get(&format!("/api/organisations/{org}/members"), Some(&coach))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.post(&path(&coach_id, "enable"), json!({}), Some(&manager))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        s.get(&format!("/api/organisations/{org}/members"), Some(&coach))
            .await
            .0,
        StatusCode::OK
    );
    // The operator disables the account itself: sessions end, login is
    // refused after the password proved right.
    kluis_server::org::admin::set_account_disabled(&s.state.store, "coach@a.nl", true)
        .await
        .unwrap();
    assert_eq!(
        s.get("/api/me", Some(&coach)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = s.login("coach@a.nl", PW).await.unwrap_err();
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("account_disabled"))
    );
    let (status, body) = s.login("coach@a.nl", "Wrong-Pass-1").await.unwrap_err();
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("login_failed"))
    );
    let listed = kluis_server::org::admin::list_accounts(&s.state.store)
        .await
        .unwrap();
    let line = listed.iter().find(|a| a.email == "coach@a.nl").unwrap();
    assert!(line.disabled);
    assert_eq!(line.memberships, ["Praktijk De Linde:coach"]);
    kluis_server::org::admin::set_account_disabled(&s.state.store, "coach@a.nl", false)
        .await
        .unwrap();
    s.login("coach@a.nl", PW).await.unwrap();
    s.stop().await;
}
