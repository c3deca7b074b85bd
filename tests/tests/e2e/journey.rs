//! The full journey through the real SDK against a real server process, on
//! both engines: a manager sets up the organisation from the printed link
//! and invites a coach; the coach signs up and invites a client; they
//! compare safety numbers, exchange messages and a 20 MiB file; the coach
//! keeps notes; a second coach joins and is removed again. Then everything
//! the server wrote — database files and WAL, a PostgreSQL dump, its log,
//! every e-mail — is searched for the canaries in every plaintext, the
//! passwords and the recovery keys: none may appear. And the manager, who
//! runs the organisation, is refused every dialogue route.

use std::sync::Arc;

use kluis_e2e::{occurrences, Server};
use kluis_sdk::state::MemoryStore;
use kluis_sdk::{EntryContent, Kluis, MemberRole, Role, Session};
use kluis_test_support::{both_engines, Engine};

both_engines!(journey);

const BIN: &str = env!("CARGO_BIN_EXE_kluis-server-e2e");

fn canary() -> String {
    format!("CANARY{:016x}", rand::random::<u64>())
}

fn sdk(server: &Server) -> Kluis {
    Kluis::new(&server.base, Arc::new(MemoryStore::new()))
        .unwrap()
        .with_device_label("e2e journey")
}

async fn sign_up(server: &Server, email: &str, name: &str, password: &str) -> (Session, String) {
    let link = Server::link_in(&server.mail(email, "invitation").await);
    let info = sdk(server).lookup_invitation(&link).await.unwrap();
    assert_eq!(info.email, email);
    let account = sdk(server).sign_up(&link, name, password).await.unwrap();
    let recovery = account.recovery_key.to_display_string().to_string();
    (account.session, recovery)
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn texts(entries: &[kluis_sdk::Entry]) -> Vec<String> {
    entries
        .iter()
        .filter_map(|e| match &e.content {
            EntryContent::Message { text } | EntryContent::Note { text } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

async fn journey(engine: Engine) {
    let mut server = Server::start(engine, BIN);
    let mut secrets: Vec<String> = Vec::new();
    let mut canaries: Vec<String> = Vec::new();
    let passwords = [
        format!("Manon-{}-Beheer7", rand::random::<u32>()),
        format!("Coach-{}-Linde8", rand::random::<u32>()),
        format!("Client-{}-Eik9", rand::random::<u32>()),
        format!("Coach2-{}-Beuk6", rand::random::<u32>()),
    ];
    secrets.extend(passwords.iter().cloned());

    // The manager sets up the organisation from the printed link.
    let manager = sdk(&server)
        .setup_organisation(
            &server.setup_link,
            "Praktijk De Linde",
            "manon@linde.nl",
            "Manon",
            &passwords[0],
        )
        .await
        .unwrap();
    secrets.push(manager.recovery_key.to_display_string().to_string());
    let manager = manager.session;
    let org = manager.me().await.unwrap().memberships[0]
        .organisation_id
        .clone();
    // The link was single-use.
    assert!(matches!(
        sdk(&server)
            .setup_organisation(&server.setup_link, "Twee", "x@y.nl", "X", &passwords[0])
            .await,
        Err(kluis_sdk::Error::InvalidLink)
    ));

    // Manager → coach → client.
    manager
        .invite(&org, "carla@linde.nl", Role::Coach)
        .await
        .unwrap();
    let (mut coach, r) = sign_up(&server, "carla@linde.nl", "Carla", &passwords[1]).await;
    secrets.push(r);
    coach
        .invite(&org, "kees@example.nl", Role::Client)
        .await
        .unwrap();
    let (mut client, r) = sign_up(&server, "kees@example.nl", "Kees", &passwords[2]).await;
    secrets.push(r);

    // A weak password never leaves the client.
    coach
        .invite(&org, "zwak@example.nl", Role::Client)
        .await
        .unwrap();
    let weak_link = Server::link_in(&server.mail("zwak@example.nl", "invitation").await);
    let weak = sdk(&server).sign_up(&weak_link, "Zwak", "Password1").await;
    assert!(
        matches!(weak, Err(kluis_sdk::Error::WeakPassword(_))),
        "{weak:?}"
    );

    // Safety numbers match on both sides and are marked verified.
    let coach_id = coach.account_id();
    let client_id = client.account_id();
    let seen_by_coach = coach.safety_number(client_id).await.unwrap();
    let seen_by_client = client.safety_number(coach_id).await.unwrap();
    assert_eq!(seen_by_coach.digits, seen_by_client.digits);
    assert!(!seen_by_coach.verified);
    assert!(client
        .verify_safety_number(coach_id, "12345 67890")
        .await
        .is_err());
    client
        .verify_safety_number(coach_id, &seen_by_coach.digits)
        .await
        .unwrap();
    coach
        .verify_safety_number(client_id, &seen_by_client.qr_payload_hex)
        .await
        .unwrap();
    assert!(client.safety_number(coach_id).await.unwrap().verified);

    // Dialogue.
    let rid = coach.open_relationship(&org, client_id).await.unwrap();
    let hello = format!("Welkom, Kees. {}", canary());
    coach.send_message(rid, &hello).await.unwrap();
    let entries = client.dialogue(rid).await.unwrap();
    assert_eq!(texts(&entries), vec![hello.clone()]);
    assert_eq!(entries[0].author, coach_id.to_string());
    let reply = format!("Dank je, ik ben er klaar voor. {}", canary());
    client.send_message(rid, &reply).await.unwrap();
    assert_eq!(
        texts(&coach.dialogue(rid).await.unwrap()),
        vec![hello.clone(), reply.clone()]
    );
    canaries.extend([hello.clone(), reply.clone()]);

    // A 20 MiB file, with canaries at both ends and in the name.
    let file_canary = canary();
    let mut file = vec![0u8; 20 * 1024 * 1024];
    rand::Rng::fill(&mut rand::thread_rng(), &mut file[..]);
    file[..file_canary.len()].copy_from_slice(file_canary.as_bytes());
    let tail = file.len() - file_canary.len();
    file[tail..].copy_from_slice(file_canary.as_bytes());
    let name = format!("verslag-{}.pdf", canary());
    let mut seen_progress = 0;
    let shared = coach
        .send_file(
            rid,
            &file[..],
            &name,
            "application/pdf",
            Some(file.len() as u64),
            &mut |p| seen_progress = p.done,
        )
        .await
        .unwrap();
    assert_eq!(seen_progress, file.len() as u64);
    let mut downloaded = Vec::new();
    let info = client
        .download_file(rid, shared.item_id, &mut downloaded, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(info.name, name);
    assert!(downloaded == file, "the file comes back byte for byte");
    canaries.extend([file_canary, name.clone()]);

    // Notes: the coach's alone.
    let note = format!("Eerste indruk: gemotiveerd. {}", canary());
    coach.add_note(rid, &note).await.unwrap();
    canaries.push(note.clone());
    let coach_view = coach.dialogue(rid).await.unwrap();
    assert!(texts(&coach_view).contains(&note));
    assert!(coach_view
        .iter()
        .any(|e| matches!(&e.content, EntryContent::Document(d) if d.name == name)));
    assert!(!texts(&client.dialogue(rid).await.unwrap()).contains(&note));

    // A second coach joins (epoch 1), reads what is written from then on,
    // and is removed (epoch 2): nothing written after reaches them.
    manager
        .invite(&org, "bram@linde.nl", Role::Coach)
        .await
        .unwrap();
    let (mut coach2, r) = sign_up(&server, "bram@linde.nl", "Bram", &passwords[3]).await;
    secrets.push(r);
    assert_eq!(
        coach
            .add_member(rid, coach2.account_id(), MemberRole::Coach)
            .await
            .unwrap(),
        1
    );
    let during = format!("Bram kijkt even mee. {}", canary());
    coach.send_message(rid, &during).await.unwrap();
    canaries.push(during.clone());
    let coach2_view = texts(&coach2.dialogue(rid).await.unwrap());
    assert_eq!(
        coach2_view,
        vec![during.clone()],
        "only from the epoch they joined"
    );
    assert_eq!(
        coach.remove_member(rid, coach2.account_id()).await.unwrap(),
        2
    );
    let after = format!("Weer met z'n tweeën. {}", canary());
    client.send_message(rid, &after).await.unwrap();
    canaries.push(after.clone());
    assert_eq!(
        texts(&coach2.dialogue(rid).await.unwrap()),
        vec![during.clone()],
        "a removed member keeps what they held and reads nothing new"
    );
    assert_eq!(
        texts(&client.dialogue(rid).await.unwrap()),
        vec![hello.clone(), reply.clone(), during.clone(), after.clone()]
    );

    // The client exports everything: the export matches what was sent,
    // byte for byte, and the manifest's hashes match the files.
    let export_dir = std::env::temp_dir().join(format!("kluis-export-{}", rand::random::<u64>()));
    let files = client.export_to(&export_dir, &mut |_| {}).await.unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(export_dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["format"], kluis_sdk::EXPORT_FORMAT);
    assert_eq!(manifest["files"].as_array().unwrap().len(), files.len());
    for f in manifest["files"].as_array().unwrap() {
        let bytes = std::fs::read(export_dir.join(f["path"].as_str().unwrap())).unwrap();
        let digest = hex_sha256(&bytes);
        assert_eq!(f["sha256"], digest.as_str(), "{}", f["path"]);
        assert_eq!(f["size"], bytes.len());
    }
    let exported_file = export_dir
        .join("relationships")
        .join(rid.to_string())
        .join("files")
        .join(shared.item_id.to_string())
        .join(&name);
    assert!(
        std::fs::read(&exported_file).unwrap() == file,
        "the file, byte for byte"
    );
    let dialogue: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            export_dir
                .join("relationships")
                .join(rid.to_string())
                .join("dialogue.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let exported_texts: Vec<&str> = dialogue
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["content"]["text"].as_str())
        .collect();
    assert_eq!(
        exported_texts,
        vec![
            hello.as_str(),
            reply.as_str(),
            during.as_str(),
            after.as_str()
        ]
    );
    let _ = std::fs::remove_dir_all(&export_dir);

    // Logging in again unseals the same identity; the pins survived in the
    // sealed local store.
    let store = Arc::new(MemoryStore::new());
    let again = Kluis::new(&server.base, store.clone())
        .unwrap()
        .login("kees@example.nl", &passwords[2])
        .await
        .unwrap()
        .ready()
        .unwrap();
    assert_eq!(again.identity_bundle(), client.identity_bundle());
    assert!(matches!(
        sdk(&server)
            .login("kees@example.nl", "Wrong-Password-1")
            .await,
        Err(kluis_sdk::Error::WrongCredentials)
    ));
    assert!(matches!(
        sdk(&server).login("nobody@example.nl", &passwords[2]).await,
        Err(kluis_sdk::Error::WrongCredentials)
    ));

    // The manager sees nothing of it.
    let mut manager = manager;
    manager_is_refused(&mut manager, rid, shared.item_id, client_id).await;

    // The ciphertext is there before the deletion (a scan of an empty
    // database would prove nothing).
    let stored: usize = server
        .everything_written()
        .iter()
        .map(|(_, b)| b.len())
        .sum();
    assert!(stored > file.len(), "the 20 MiB file is stored (encrypted)");

    // The client deletes the account: a wrong password changes nothing; a
    // coach cannot delete theirs; then the client and the relationship with
    // everything in it are gone.
    assert!(matches!(
        sdk(&server)
            .login("carla@linde.nl", &passwords[1])
            .await
            .unwrap()
            .ready()
            .unwrap()
            .delete_account(&passwords[1])
            .await,
        Err(kluis_sdk::Error::Refused { status: 400, ref code, .. }) if code == "not_a_client"
    ));
    let again_client = sdk(&server)
        .login("kees@example.nl", &passwords[2])
        .await
        .unwrap()
        .ready()
        .unwrap();
    assert!(matches!(
        again_client.delete_account("Wrong-Password-1").await,
        Err(kluis_sdk::Error::WrongCredentials)
    ));
    assert_eq!(
        client.dialogue(rid).await.unwrap().len(),
        5,
        "nothing was deleted"
    );
    client.delete_account(&passwords[2]).await.unwrap();
    assert!(matches!(
        sdk(&server).login("kees@example.nl", &passwords[2]).await,
        Err(kluis_sdk::Error::WrongCredentials)
    ));
    let mut coach = sdk(&server)
        .login("carla@linde.nl", &passwords[1])
        .await
        .unwrap()
        .ready()
        .unwrap();
    assert!(matches!(
        coach.relationship(rid).await,
        Err(kluis_sdk::Error::Refused { status: 404, .. })
    ));

    // Nothing but ciphertext: stop the server (so the WAL is as it left
    // it) and search everything it wrote.
    coach.logout().await.unwrap();
    server.stop();
    let written = server.everything_written();
    assert!(
        written.iter().any(|(n, _)| n.ends_with(".eml")),
        "mail was written"
    );
    assert!(!server.log().is_empty(), "the server logged");
    for needle in canaries.iter().chain(secrets.iter()) {
        for (name, bytes) in &written {
            assert_eq!(
                occurrences(bytes, needle.as_bytes()),
                0,
                "{needle:?} found in {name}"
            );
        }
    }
    // Erased means erased: the deleted client's address is in no database
    // file (SQLite deletes securely) and no dump. (The development outbox's
    // sent mail stands for the recipient's mailbox, not for our storage.)
    for (name, bytes) in &written {
        if name.ends_with(".eml") || name.ends_with("server.log") {
            continue;
        }
        assert_eq!(occurrences(bytes, b"kees@example.nl"), 0, "found in {name}");
    }
}

/// Every dialogue operation of the manager's own SDK session is refused by
/// the server (403/404): no envelope, key or byte of a file reaches it.
async fn manager_is_refused(
    manager: &mut Session,
    rid: kluis_sdk::kluis_crypto::ids::RelationshipId,
    document: kluis_sdk::kluis_crypto::ids::ItemId,
    member: kluis_sdk::kluis_crypto::ids::UserId,
) {
    fn refused<T: std::fmt::Debug>(what: &str, r: kluis_sdk::Result<T>) {
        match r {
            Err(kluis_sdk::Error::Refused { status, .. }) if status == 403 || status == 404 => {}
            other => panic!("{what}: the manager got {other:?}"),
        }
    }
    refused("read the dialogue", manager.dialogue(rid).await);
    refused("read recent items", manager.recent(rid, 10).await);
    refused("send", manager.send_message(rid, "ik lees mee").await);
    refused("note", manager.add_note(rid, "notitie").await);
    refused(
        "join",
        manager
            .add_member(rid, manager.account_id(), MemberRole::Coach)
            .await,
    );
    refused("remove", manager.remove_member(rid, member).await);
    refused("delete", manager.delete_item(rid, document).await);
    let mut sink = Vec::new();
    refused(
        "download",
        manager
            .download_file(rid, document, &mut sink, &mut |_| {})
            .await,
    );
    assert!(sink.is_empty());
}
