//! The account takeover of issue 14 (finding 4), tried end to end against a
//! real server process through the SDK, and refused at every step that
//! would hand the account over: a manager proposes their own mailbox as a
//! client's address (nothing changes, the client is told, the reset goes
//! to the real address), an e-mailed reset link without the client's
//! second factor (oathtool) changes nothing, a session without a fresh
//! password proof cannot publish a key or switch two-factor login off, an
//! erasure right after a reset only waits (the coach is told), and a key
//! change stops the coach's sending until the new safety number is
//! accepted or the decision explicitly deferred.

use std::sync::Arc;
use std::time::Duration;

use kluis_e2e::Server;
use kluis_sdk::kluis_crypto::identity::IdentityKeyPair;
use kluis_sdk::kluis_crypto::key_schedule::ExportKey;
use kluis_sdk::kluis_crypto::recovery::RecoveryKey;
use kluis_sdk::state::MemoryStore;
use kluis_sdk::{AccountDeletion, Error, Kluis, Login, Role, SecondFactorMethod, Session};
use kluis_test_support::{b64, both_engines, oathtool, Client, Engine};
use rand::rngs::OsRng;
use reqwest::StatusCode;
use serde_json::json;

both_engines!(
    a_manager_cannot_take_an_account_over,
    a_session_without_a_fresh_password_cannot_hand_the_account_over,
    a_key_change_blocks_sending_until_accepted_or_deferred,
);

const BIN: &str = env!("CARGO_BIN_EXE_kluis-server-e2e");
const PW: &str = "Vliegende-Kiwi-42";
const NEW_PW: &str = "Zwemmende-Uil-73";
const MALLORY: &str = "mallory@evil.nl";

fn kluis(server: &Server, store: &Arc<MemoryStore>) -> Kluis {
    Kluis::new(&server.base, store.clone()).unwrap()
}

/// A manager, a coach and the coach's client in one relationship with one
/// message: (manager, coach, client, the client's store, its recovery
/// key, organisation, relationship).
async fn practice(
    server: &Server,
) -> (
    Session,
    Session,
    Session,
    Arc<MemoryStore>,
    String,
    String,
    kluis_sdk::kluis_crypto::ids::RelationshipId,
) {
    let manager = kluis(server, &Arc::new(MemoryStore::new()))
        .setup_organisation(&server.setup_link, "Praktijk", "m@p.nl", "Manon", PW)
        .await
        .unwrap()
        .session;
    let org = manager.me().await.unwrap().memberships[0]
        .organisation_id
        .clone();
    manager
        .invite(&org, "coach@p.nl", Role::Coach)
        .await
        .unwrap();
    let link = Server::link_in(&server.mail("coach@p.nl", "invitation").await);
    let mut coach = kluis(server, &Arc::new(MemoryStore::new()))
        .sign_up(&link, "Carla", PW)
        .await
        .unwrap()
        .session;
    coach.invite(&org, "kees@p.nl", Role::Client).await.unwrap();
    let link = Server::link_in(&server.mail("kees@p.nl", "invitation").await);
    let client_store = Arc::new(MemoryStore::new());
    let signed = kluis(server, &client_store)
        .sign_up(&link, "Kees", PW)
        .await
        .unwrap();
    let recovery = signed.recovery_key.to_display_string().to_string();
    let mut client = signed.session;
    let rid = coach
        .open_relationship(&org, client.account_id())
        .await
        .unwrap();
    coach.send_message(rid, "eerste sessie").await.unwrap();
    assert_eq!(client.dialogue(rid).await.unwrap().len(), 1);
    (manager, coach, client, client_store, recovery, org, rid)
}

/// Whether the server wrote any mail to `to`.
fn mailed(server: &Server, to: &str) -> bool {
    Client::new(&server.base, &server.data_dir.join("outbox"))
        .all_mail()
        .iter()
        .any(|m| m.contains(&format!("To: {to}\n")))
}

async fn a_manager_cannot_take_an_account_over(engine: Engine) {
    let server = Server::start(engine, BIN);
    let (manager, mut coach, client, client_store, recovery, org, rid) = practice(&server).await;
    let client_id = client.account_id();

    // 1. The manager "changes" the client's address to their own mailbox:
    //    only a proposal; the client is told at the current address.
    manager
        .propose_member_email(&org, client_id, MALLORY)
        .await
        .unwrap();
    let told = server.mail("kees@p.nl", "email_change_proposed").await;
    assert!(!told.contains(MALLORY), "{told}");
    let me = client.me().await.unwrap();
    assert_eq!(me.email, "kees@p.nl", "the address did not change");
    assert_eq!(me.proposed_email.as_deref(), Some(MALLORY));
    assert!(matches!(
        kluis(&server, &client_store).login("kees@p.nl", PW).await,
        Ok(Login::Ready(_))
    ));
    assert!(matches!(
        kluis(&server, &client_store).login(MALLORY, PW).await,
        Err(Error::WrongCredentials)
    ));
    // 2. The reset asked for at the manager's address sends nothing there;
    //    the worker handles requests oldest first, so once the client's
    //    own reset mail is out, the manager's request was handled.
    let anyone = kluis(&server, &Arc::new(MemoryStore::new()));
    anyone.request_password_reset(MALLORY).await.unwrap();
    anyone.request_password_reset("kees@p.nl").await.unwrap();
    let reset = Server::link_in(&server.mail("kees@p.nl", "password_reset").await);
    assert!(!mailed(&server, MALLORY), "nothing reaches the manager");
    // The client refuses the proposal.
    client.refuse_proposed_email().await.unwrap();
    assert!(client.me().await.unwrap().proposed_email.is_none());

    // 3. With two-factor login on, the e-mailed link alone changes nothing
    //    and the client is not locked out.
    let enrolment = client.enrol_totp().await.unwrap();
    let codes = client
        .confirm_totp(&oathtool(&enrolment.secret, 0))
        .await
        .unwrap();
    let refused = kluis(&server, &client_store)
        .reset_password(&reset, NEW_PW)
        .await;
    assert!(
        matches!(&refused, Err(e) if e.code() == Some("second_factor_required")),
        "{refused:?}"
    );
    let wrong = kluis(&server, &client_store)
        .reset_password_with_second_factor(&reset, NEW_PW, SecondFactorMethod::Totp, "000000")
        .await;
    assert!(
        matches!(&wrong, Err(e) if e.code() == Some("invalid_code")),
        "{wrong:?}"
    );
    let Login::SecondFactor(pending) = kluis(&server, &client_store)
        .login("kees@p.nl", PW)
        .await
        .unwrap()
    else {
        panic!("the old password still works, with the second factor");
    };
    let session = pending
        .complete(SecondFactorMethod::Totp, &oathtool(&enrolment.secret, 30))
        .await
        .unwrap()
        .ready()
        .unwrap();
    session.logout().await.unwrap();
    assert!(matches!(
        kluis(&server, &client_store)
            .login("kees@p.nl", NEW_PW)
            .await,
        Err(Error::WrongCredentials)
    ));

    // 4. The real client resets with a recovery code, restores the
    //    identity, and asks to erase the account at once: it only waits,
    //    and the coach is told (without a name).
    kluis(&server, &client_store)
        .reset_password_with_second_factor(
            &reset,
            NEW_PW,
            SecondFactorMethod::RecoveryCode,
            &codes[0],
        )
        .await
        .unwrap();
    let Login::SecondFactor(pending) = kluis(&server, &client_store)
        .login("kees@p.nl", NEW_PW)
        .await
        .unwrap()
    else {
        panic!("two-factor login stays on after a reset");
    };
    let Login::NeedsRecovery(pending) = pending
        .complete(SecondFactorMethod::RecoveryCode, &codes[1])
        .await
        .unwrap()
    else {
        panic!("the identity is sealed under the old password");
    };
    let client = pending
        .recover(&RecoveryKey::parse(&recovery).unwrap())
        .await
        .unwrap();
    let before = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let outcome = client.delete_account(NEW_PW).await.unwrap();
    let AccountDeletion::Scheduled { at_ms } = outcome else {
        panic!("erasing right after a reset waits: {outcome:?}");
    };
    assert!(at_ms >= before + 7 * 24 * 3600 * 1000, "{at_ms}");
    let coach_told = server.mail("coach@p.nl", "client_deletion_scheduled").await;
    assert!(
        !coach_told.contains("Kees") && !coach_told.contains("kees@p.nl"),
        "{coach_told}"
    );
    server.mail("kees@p.nl", "deletion_scheduled").await;
    // The coach's records are all still there.
    assert_eq!(coach.dialogue(rid).await.unwrap().len(), 1);
}

/// A keys body for `identity` (sealed under throwaway keys).
fn keys_body(identity: &IdentityKeyPair) -> serde_json::Value {
    let export = ExportKey::generate(&mut OsRng);
    let recovery = RecoveryKey::random(&mut OsRng);
    json!({
        "bundle": b64(&identity.bundle().encode()),
        "sealed_password": b64(&identity.seal_with_password(&export, &mut OsRng).unwrap().encode()),
        "sealed_recovery": b64(&identity.seal_with_recovery_key(&recovery, &mut OsRng).unwrap().encode()),
    })
}

async fn a_session_without_a_fresh_password_cannot_hand_the_account_over(engine: Engine) {
    // A window of two seconds, so that a session goes stale quickly.
    let server = Server::start_with(
        engine,
        BIN,
        &[("KLUIS_REAUTHENTICATION_WINDOW_SECONDS", "2")],
    );
    let store = Arc::new(MemoryStore::new());
    let created = kluis(&server, &store)
        .setup_organisation(&server.setup_link, "Praktijk", "m@p.nl", "Manon", PW)
        .await
        .unwrap();
    let manager = created.session;
    let enrolment = manager.enrol_totp().await.unwrap();
    let codes = manager
        .confirm_totp(&oathtool(&enrolment.secret, 0))
        .await
        .unwrap();
    // A bearer session held by someone else (stolen, or left open).
    let http = Client::new(&server.base, &server.data_dir.join("outbox"));
    let (status, body) = http.login_with("m@p.nl", PW, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, body) = http
        .post(
            "/api/login/second-factor",
            json!({"pending_login": body["pending_login"], "method": "recovery_code",
                   "code": codes[0]}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stolen = body["token"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // It cannot publish a new identity…
    let identity = IdentityKeyPair::generate(&mut OsRng, manager.account_id());
    let (status, body) = http.put("/api/keys", keys_body(&identity), &stolen).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("reauthentication_required")),
        "{body}"
    );
    // …nor switch two-factor login off, even with a valid code.
    let (status, body) = http
        .post(
            "/api/two-factor/disable",
            json!({"code": oathtool(&enrolment.secret, 30)}),
            Some(&stolen),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("reauthentication_required")),
        "{body}"
    );
    // The SDK's session is stale too; with the password proven again it
    // may (and the identity was never replaced).
    let refused = manager
        .disable_two_factor(SecondFactorMethod::Totp, &oathtool(&enrolment.secret, 30))
        .await;
    assert!(
        matches!(&refused, Err(e) if e.code() == Some("reauthentication_required")),
        "{refused:?}"
    );
    assert!(manager.two_factor().await.unwrap().totp);
    assert!(matches!(
        manager.reauthenticate("Wrong-Password-1").await,
        Err(Error::WrongCredentials)
    ));
    manager.reauthenticate(PW).await.unwrap();
    manager
        .disable_two_factor(SecondFactorMethod::Totp, &oathtool(&enrolment.secret, 30))
        .await
        .unwrap();
    assert!(!manager.two_factor().await.unwrap().totp);
    let (_, keys) = http
        .get(
            &format!("/api/users/{}/keys", manager.account_id()),
            Some(&stolen),
        )
        .await;
    assert_eq!(
        keys["history"].as_array().map(Vec::len),
        Some(1),
        "the identity was never replaced"
    );
}

async fn a_key_change_blocks_sending_until_accepted_or_deferred(engine: Engine) {
    let server = Server::start(engine, BIN);
    let (_manager, mut coach, _client, client_store, _recovery, _org, rid) =
        practice(&server).await;
    // The client starts over with a new identity (a reset without the
    // recovery key — or someone who took the account over).
    let new_identity = |password: &'static str| {
        let server = &server;
        let client_store = client_store.clone();
        async move {
            let anyone = kluis(server, &client_store);
            anyone.request_password_reset("kees@p.nl").await.unwrap();
            let reset = Server::link_in(&server.mail("kees@p.nl", "password_reset").await);
            anyone.reset_password(&reset, password).await.unwrap();
            let Login::NeedsRecovery(pending) = anyone.login("kees@p.nl", password).await.unwrap()
            else {
                panic!("needs recovery");
            };
            pending.new_identity().await.unwrap().session
        }
    };
    let client = new_identity(NEW_PW).await;
    let client_id = client.account_id();
    // The coach's cached epoch key would still work: sending stops anyway.
    assert!(matches!(
        coach.send_message(rid, "na de reset").await,
        Err(Error::KeyChanged { user, .. }) if user == client_id
    ));
    let file = coach
        .send_file(
            rid,
            &b"verslag"[..],
            "verslag.txt",
            "text/plain",
            Some(7),
            &mut |_| {},
        )
        .await;
    assert!(matches!(file, Err(Error::KeyChanged { .. })), "{file:?}");
    assert_eq!(
        coach.dialogue(rid).await.unwrap().len(),
        1,
        "nothing was sent"
    );
    // Deferring is an explicit decision; the warning stays.
    coach.defer_key_change(client_id).unwrap();
    coach.send_message(rid, "uitgesteld").await.unwrap();
    assert!(coach
        .key_changes()
        .iter()
        .any(|c| c.user == client_id.to_string()));
    assert_eq!(coach.deferred_key_changes(), vec![client_id]);
    // A further change of the key blocks again.
    let client = new_identity("Rennende-Das-58").await;
    assert!(matches!(
        coach.send_message(rid, "weer een nieuwe sleutel").await,
        Err(Error::KeyChanged { .. })
    ));
    // Accepting the new safety number lets sending go on.
    let mut client = client;
    let digits = client
        .safety_number(coach.account_id())
        .await
        .unwrap()
        .digits;
    coach.accept_key_change(client_id, &digits).await.unwrap();
    assert!(coach.deferred_key_changes().is_empty());
    coach.send_message(rid, "geaccepteerd").await.unwrap();
}
