//! Forgotten password, end to end: the reset link from the outbox, a new
//! password, the identity restored with the recovery key (peers see no key
//! change and the history still reads) — or, without the recovery key, a new
//! identity that the peer's pin reports as a key change until the safety
//! number is compared again.

use std::sync::Arc;

use kluis_e2e::Server;
use kluis_sdk::kluis_crypto::recovery::RecoveryKey;
use kluis_sdk::state::MemoryStore;
use kluis_sdk::{EntryContent, Error, Kluis, Login, Role};
use kluis_test_support::{both_engines, Engine};

both_engines!(reset_then_recover_or_start_over);

const BIN: &str = env!("CARGO_BIN_EXE_kluis-server-e2e");
const PW: &str = "Vliegende-Kiwi-42";
const NEW_PW: &str = "Zwemmende-Uil-73";
const NEWER_PW: &str = "Rennende-Das-58";

async fn reset_then_recover_or_start_over(engine: Engine) {
    let server = Server::start(engine, BIN);
    let kluis = |store: &Arc<MemoryStore>| Kluis::new(&server.base, store.clone()).unwrap();
    let manager = kluis(&Arc::new(MemoryStore::new()))
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
    let coach_store = Arc::new(MemoryStore::new());
    let mut coach = kluis(&coach_store)
        .sign_up(&link, "Carla", PW)
        .await
        .unwrap()
        .session;
    coach.invite(&org, "kees@p.nl", Role::Client).await.unwrap();
    let link = Server::link_in(&server.mail("kees@p.nl", "invitation").await);
    let client_store = Arc::new(MemoryStore::new());
    let signed = kluis(&client_store)
        .sign_up(&link, "Kees", PW)
        .await
        .unwrap();
    let recovery = signed.recovery_key.to_display_string().to_string();
    let mut client = signed.session;
    let client_id = client.account_id();
    let rid = coach.open_relationship(&org, client_id).await.unwrap();
    coach.send_message(rid, "voor de reset").await.unwrap();
    assert_eq!(client.dialogue(rid).await.unwrap().len(), 1);
    let before = client.identity_bundle().clone();

    // Reset: the link works once; the old password stops working.
    kluis(&client_store)
        .request_password_reset("kees@p.nl")
        .await
        .unwrap();
    let reset = Server::link_in(&server.mail("kees@p.nl", "password_reset").await);
    kluis(&client_store)
        .reset_password(&reset, NEW_PW)
        .await
        .unwrap();
    assert!(matches!(
        kluis(&client_store).reset_password(&reset, NEW_PW).await,
        Err(Error::InvalidLink)
    ));
    assert!(
        matches!(client.dialogue(rid).await, Err(Error::SessionExpired)),
        "every session ended"
    );
    assert!(matches!(
        kluis(&client_store).login("kees@p.nl", PW).await,
        Err(Error::WrongCredentials)
    ));

    // The new password opens the account but not the identity: recover it.
    let Login::NeedsRecovery(pending) = kluis(&client_store)
        .login("kees@p.nl", NEW_PW)
        .await
        .unwrap()
    else {
        panic!("the identity cannot open under the new password");
    };
    assert!(pending.has_published_identity());
    let wrong = RecoveryKey::random(&mut rand::rngs::OsRng);
    assert!(
        pending.recover(&wrong).await.is_err(),
        "another recovery key"
    );
    let Login::NeedsRecovery(pending) = kluis(&client_store)
        .login("kees@p.nl", NEW_PW)
        .await
        .unwrap()
    else {
        panic!("still needs recovery");
    };
    let mut client = pending
        .recover(&RecoveryKey::parse(&recovery).unwrap())
        .await
        .unwrap();
    assert_eq!(client.identity_bundle(), &before, "the same identity");
    let texts: Vec<_> = client
        .dialogue(rid)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.content)
        .collect();
    assert_eq!(
        texts,
        vec![EntryContent::Message {
            text: "voor de reset".into()
        }]
    );
    // Sealed under the new password from now on.
    assert!(matches!(
        kluis(&client_store)
            .login("kees@p.nl", NEW_PW)
            .await
            .unwrap(),
        Login::Ready(_)
    ));
    assert!(
        !coach.safety_number(client_id).await.unwrap().key_changed,
        "no key change"
    );

    // Without the recovery key: a new identity, which the coach's pin
    // reports until the new safety number is compared.
    kluis(&client_store)
        .request_password_reset("kees@p.nl")
        .await
        .unwrap();
    let reset = Server::link_in(&server.mail("kees@p.nl", "password_reset").await);
    kluis(&client_store)
        .reset_password(&reset, NEWER_PW)
        .await
        .unwrap();
    let Login::NeedsRecovery(pending) = kluis(&client_store)
        .login("kees@p.nl", NEWER_PW)
        .await
        .unwrap()
    else {
        panic!("needs recovery");
    };
    let fresh = pending.new_identity().await.unwrap();
    let mut client = fresh.session;
    assert_ne!(client.identity_bundle(), &before);
    // The coach is told by e-mail to compare safety numbers, without a
    // name.
    let told = server.mail("coach@p.nl", "peer_key_changed").await;
    assert!(
        !told.contains("Kees") && !told.contains("kees@p.nl"),
        "{told}"
    );
    assert!(matches!(
        coach.rotate(rid).await,
        Err(Error::KeyChanged { user, .. }) if user == client_id
    ));
    let changed = coach.safety_number(client_id).await.unwrap();
    assert!(changed.key_changed);
    let seen_by_client = client.safety_number(coach.account_id()).await.unwrap();
    assert_eq!(changed.digits, seen_by_client.digits);
    coach
        .accept_key_change(client_id, &seen_by_client.digits)
        .await
        .unwrap();
    // Now the coach wraps the next epoch to the new key and the client reads
    // what is written from then on.
    assert_eq!(coach.rotate(rid).await.unwrap(), 1);
    coach
        .send_message(rid, "na de nieuwe sleutel")
        .await
        .unwrap();
    // What was written under the old identity's key is shown as unreadable,
    // not dropped; what is written now reads.
    let after: Vec<_> = client
        .dialogue(rid)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.content)
        .collect();
    assert_eq!(
        after,
        vec![
            EntryContent::Unreadable,
            EntryContent::Message {
                text: "na de nieuwe sleutel".into()
            }
        ]
    );
}
