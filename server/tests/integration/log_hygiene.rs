//! The real binary, logging at debug level in JSON, runs a full flow —
//! setup from the printed link, login, invitation, registration, password
//! reset — and its logs are then searched for every secret the flow saw:
//! link tokens, session tokens, passwords, OPAQUE messages. None may appear.

use kluis_test_support::process::server_command;
use kluis_test_support::{b64, temp_dir, token_of, unb64, Client, ServerProcess};
use reqwest::StatusCode;
use serde_json::json;

const PW: &str = "Correct-Horse-9";
const NEW_PW: &str = "Battery-Staple-7";

#[test]
fn no_secret_reaches_the_log() {
    let dir = temp_dir();
    let log_path = dir.path().join("server.log");
    let data_dir = dir.path().join("data");
    let mut command = server_command(env!("CARGO_BIN_EXE_kluis-server"), &data_dir, None);
    command
        .env("KLUIS_LOG", "debug")
        .env("KLUIS_LOG_FORMAT", "json");
    let mut server = ServerProcess::spawn(command, Some(&log_path));
    let link = server.setup_link.clone();
    let base = server.base.clone();
    let mut secrets: Vec<String> = vec![token_of(&link), PW.to_owned(), NEW_PW.to_owned()];

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let c = Client::new(&base, &data_dir.join("outbox"));
        let (org, manager, _) = c.setup_from_link(&link, "manager@a.nl", PW).await;
        secrets.push(manager.clone());
        secrets.push(token_of(&c.mail("manager@a.nl", "verify_email").await));

        // A login whose every message is kept, to look for them later.
        let (ke1, client) =
            kluis_crypto::opaque::client_login_start(&mut rand::rngs::OsRng, PW.as_bytes())
                .unwrap();
        let (_, start) = c
            .post(
                "/api/login/start",
                json!({"email": "manager@a.nl", "request": b64(&ke1)}),
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
        let (status, session) = c
            .post(
                "/api/login/finish",
                json!({"login_id": start["login_id"], "finalization": b64(&done.finalization)}),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        secrets.extend([
            b64(&ke1),
            start["response"].as_str().unwrap().to_owned(),
            b64(&done.finalization),
            session["token"].as_str().unwrap().to_owned(),
        ]);
        c.login("manager@a.nl", "Wrong-Pass-1").await.unwrap_err();

        let (status, _) = c
            .post(
                &format!("/api/organisations/{org}/invitations"),
                json!({"email": "coach@a.nl", "role": "coach"}),
                Some(&manager),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let invitation = token_of(&c.mail("coach@a.nl", "invitation").await);
        secrets.push(invitation.clone());
        let (status, coach) = c
            .register(
                "/api/invitations/register",
                &invitation,
                PW,
                json!({"display_name": "Carla"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        secrets.push(coach["token"].as_str().unwrap().to_owned());

        let (status, _) = c
            .post("/api/password-reset", json!({"email": "coach@a.nl"}), None)
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let reset = token_of(&c.mail("coach@a.nl", "password_reset").await);
        secrets.push(reset.clone());
        let (status, _) = c
            .register("/api/password-reset", &reset, NEW_PW, json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
        secrets.push(c.login("coach@a.nl", NEW_PW).await.unwrap());
    });

    assert!(server.terminate());
    assert!(server.wait().success());
    let rest = server.rest_of_stdout();
    let logs = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<&str> = logs.lines().collect();
    assert!(
        lines.len() > 20,
        "debug logging produced lines: {}",
        lines.len()
    );
    for line in &lines {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
    }
    assert!(
        logs.contains("\"login\"") && logs.contains("password reset"),
        "the flow was logged"
    );
    for secret in &secrets {
        assert!(secret.len() >= 8);
        assert!(
            !logs.contains(secret.as_str()),
            "secret {secret:.12}… in the log"
        );
    }
    assert!(
        !rest.contains("token="),
        "no further link on stdout: {rest}"
    );
}
