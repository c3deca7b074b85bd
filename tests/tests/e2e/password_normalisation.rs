//! One password, however it was typed: the SDK turns every password into
//! the UTF-8 of its NFC form before OPAQUE (PROTOCOL.md §3.1), so that a
//! password typed in NFD (as some keyboards and systems deliver "ë": "e"
//! and a combining diaeresis) and the same password in NFC open the same
//! account — at sign-up, login, password change, reset and the deletion
//! proof.

use std::sync::Arc;

use kluis_e2e::Server;
use kluis_sdk::state::MemoryStore;
use kluis_sdk::{Error, Kluis, Login, Role};
use kluis_test_support::{both_engines, Engine};

both_engines!(nfc_and_nfd_forms_are_one_password);

const BIN: &str = env!("CARGO_BIN_EXE_kluis-server-e2e");
/// "Zoë-Vliegt-42" with U+00EB, and with "e" + U+0308.
const PW_NFC: &str = "Zo\u{eb}-Vliegt-42";
const PW_NFD: &str = "Zoe\u{308}-Vliegt-42";
/// "Één-Zwemmende-Uil-73" with U+00C9 and U+00E9, and with combining acutes.
const NEW_NFC: &str = "\u{c9}\u{e9}n-Zwemmende-Uil-73";
const NEW_NFD: &str = "E\u{301}e\u{301}n-Zwemmende-Uil-73";

async fn nfc_and_nfd_forms_are_one_password(engine: Engine) {
    assert_ne!(PW_NFC.as_bytes(), PW_NFD.as_bytes());
    assert_ne!(NEW_NFC.as_bytes(), NEW_NFD.as_bytes());
    let server = Server::start(engine, BIN);
    let kluis = || Kluis::new(&server.base, Arc::new(MemoryStore::new())).unwrap();
    let ready = |login: Login| match login {
        Login::Ready(session) => *session,
        _ => panic!("the identity should open under the same password"),
    };

    // Set up in NFD, log in with NFC.
    let manager = kluis()
        .setup_organisation(&server.setup_link, "Praktijk", "m@p.nl", "Manon", PW_NFD)
        .await
        .unwrap()
        .session;
    let org = manager.me().await.unwrap().memberships[0]
        .organisation_id
        .clone();
    let mut manager = ready(kluis().login("m@p.nl", PW_NFC).await.unwrap());

    // Sign up in NFC, log in with NFD.
    manager
        .invite(&org, "carla@p.nl", Role::Coach)
        .await
        .unwrap();
    let link = Server::link_in(&server.mail("carla@p.nl", "invitation").await);
    kluis().sign_up(&link, "Carla", PW_NFC).await.unwrap();
    let coach = ready(kluis().login("carla@p.nl", PW_NFD).await.unwrap());

    // The password proof of account deletion, in the other form.
    coach.invite(&org, "noor@p.nl", Role::Client).await.unwrap();
    let link = Server::link_in(&server.mail("noor@p.nl", "invitation").await);
    let noor = kluis()
        .sign_up(&link, "Noor", NEW_NFD)
        .await
        .unwrap()
        .session;
    noor.delete_account(NEW_NFC).await.unwrap();
    assert!(matches!(
        kluis().login("noor@p.nl", NEW_NFC).await,
        Err(Error::WrongCredentials)
    ));

    // Change the password: the old one given in NFC (it was set in NFD),
    // the new one in NFD; then the new one opens the account in NFC.
    manager.change_password(PW_NFC, NEW_NFD).await.unwrap();
    ready(kluis().login("m@p.nl", NEW_NFC).await.unwrap());
    assert!(matches!(
        kluis().login("m@p.nl", PW_NFC).await,
        Err(Error::WrongCredentials)
    ));

    // Reset in NFD; the NFC form logs in (the identity then needs the
    // recovery key, as after any reset).
    kluis().request_password_reset("carla@p.nl").await.unwrap();
    let reset = Server::link_in(&server.mail("carla@p.nl", "password_reset").await);
    kluis().reset_password(&reset, NEW_NFD).await.unwrap();
    assert!(matches!(
        kluis().login("carla@p.nl", NEW_NFC).await.unwrap(),
        Login::NeedsRecovery(_)
    ));
}
