//! Device state that survives and fails closed (issue 14, finding 3;
//! PROTOCOL.md §4.3): a coach's pins and verified peers, in a real file
//! store, survive a password change and a password reset with the
//! recovery key; a store that was deleted or changed is reported, never
//! silently replaced; starting afresh is an explicit decision that keeps
//! the old store aside.

use std::path::Path;
use std::sync::Arc;

use kluis_e2e::Server;
use kluis_sdk::state::{FileStore, MemoryStore};
use kluis_sdk::{Error, Kluis, Login, Role, Session};
use kluis_test_support::{both_engines, Engine};

both_engines!(pins_survive_and_a_lost_store_is_reported);

const BIN: &str = env!("CARGO_BIN_EXE_kluis-server-e2e");
const PW: &str = "Vliegende-Kiwi-42";
const NEW_PW: &str = "Zwemmende-Uil-73";
const NEWER_PW: &str = "Rennende-Das-58";

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

async fn pins_survive_and_a_lost_store_is_reported(engine: Engine) {
    let server = Server::start(engine, BIN);
    let dir = std::env::temp_dir().join(format!("kluis-device-{}", rand::random::<u64>()));
    let file_store = || Arc::new(FileStore::new(&dir).unwrap());
    let kluis =
        |store: Arc<dyn kluis_sdk::state::StateStore>| Kluis::new(&server.base, store).unwrap();
    let login = |store: Arc<dyn kluis_sdk::state::StateStore>, pw: &'static str| {
        let k = kluis(store);
        async move { k.login("coach@p.nl", pw).await }
    };
    let ready = |l: kluis_sdk::Result<Login>| -> Session {
        match l.unwrap() {
            Login::Ready(s) => *s,
            _ => panic!("expected a ready session"),
        }
    };
    let manager = kluis(Arc::new(MemoryStore::new()))
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
    let signed = kluis(file_store())
        .sign_up(&link, "Carla", PW)
        .await
        .unwrap();
    let recovery = signed.recovery_key;
    let mut coach = signed.session;
    coach.invite(&org, "kees@p.nl", Role::Client).await.unwrap();
    let link = Server::link_in(&server.mail("kees@p.nl", "invitation").await);
    let mut client = kluis(Arc::new(MemoryStore::new()))
        .sign_up(&link, "Kees", PW)
        .await
        .unwrap()
        .session;
    let kees = client.account_id();
    coach.open_relationship(&org, kees).await.unwrap();
    let digits = client
        .safety_number(coach.account_id())
        .await
        .unwrap()
        .digits;
    coach.verify_safety_number(kees, &digits).await.unwrap();
    assert!(verified(&mut coach, kees).await);

    // A password change: the pins open under the new password.
    coach.change_password(PW, NEW_PW).await.unwrap();
    drop(coach);
    let mut coach = ready(login(file_store(), NEW_PW).await);
    assert!(
        verified(&mut coach, kees).await,
        "verified after a password change"
    );
    drop(coach);

    // A reset, then the identity restored with the recovery key: the pins
    // and the verified flag are still there.
    kluis(file_store())
        .request_password_reset("coach@p.nl")
        .await
        .unwrap();
    let reset = Server::link_in(&server.mail("coach@p.nl", "password_reset").await);
    kluis(file_store())
        .reset_password(&reset, NEWER_PW)
        .await
        .unwrap();
    let Login::NeedsRecovery(pending) = login(file_store(), NEWER_PW).await.unwrap() else {
        panic!("the identity is sealed under the old password");
    };
    let mut coach = pending.recover(&recovery).await.unwrap();
    assert!(
        verified(&mut coach, kees).await,
        "verified after a reset with the recovery key"
    );
    drop(coach);

    // The store deleted (the marker stays): reported, not started afresh.
    let store_file = dir.join(format!("{}.kluisstore", account_with_store(&dir)));
    let kept = std::fs::read(&store_file).unwrap();
    std::fs::remove_file(&store_file).unwrap();
    assert!(matches!(
        login(file_store(), NEWER_PW).await,
        Err(Error::LocalStoreMissing)
    ));
    assert!(!store_file.exists(), "nothing was written in its place");

    // The store changed: reported, and left as it is.
    let mut changed = kept.clone();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    std::fs::write(&store_file, &changed).unwrap();
    assert!(matches!(
        login(file_store(), NEWER_PW).await,
        Err(Error::LocalStoreUnreadable)
    ));
    assert_eq!(
        std::fs::read(&store_file).unwrap(),
        changed,
        "not overwritten"
    );

    // Starting afresh, explicitly: the old store is kept aside and the peer
    // is pinned anew, no longer verified.
    let fresh = Arc::new(FileStore::new(&dir).unwrap().start_fresh());
    let mut coach = ready(kluis(fresh).login("coach@p.nl", NEWER_PW).await);
    assert!(
        !verified(&mut coach, kees).await,
        "a fresh store knows no verified peer"
    );
    assert!(
        files(&dir).iter().any(|f| f.contains("set-aside")),
        "the old store is kept: {:?}",
        files(&dir)
    );
    drop((coach, client, manager));
    std::fs::remove_dir_all(&dir).ok();
}

/// Whether the user marked `peer`'s pinned key verified.
async fn verified(s: &mut Session, peer: kluis_sdk::kluis_crypto::ids::UserId) -> bool {
    s.safety_number(peer).await.unwrap().verified
}

/// The one account with a store in `dir`.
fn account_with_store(dir: &Path) -> String {
    files(dir)
        .iter()
        .find_map(|f| f.strip_suffix(".kluisstore").map(str::to_owned))
        .unwrap()
}
