//! Tombstones against a lying server (issue 14, finding 5; PROTOCOL.md
//! §8.7): an item its author deleted is shown as deleted by its author
//! only when the author's signed deletion proves it. A server that hides
//! an item gets it shown as "the server reports this as deleted"; one that
//! serves a deletion of another item, from another relationship or with a
//! broken signature is caught with `DeletionForged`.

use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use kluis_e2e::practice::Practice;
use kluis_e2e::proxy::Proxy;
use kluis_e2e::Server;
use kluis_sdk::state::MemoryStore;
use kluis_sdk::{EntryContent, Error, Role, Violation};
use kluis_test_support::{both_engines, Engine};
use serde_json::Value;

both_engines!(a_tombstone_says_only_what_its_signature_proves);

const BIN: &str = env!("CARGO_BIN_EXE_kluis-server-e2e");

/// Rewrites the items of every page of `path` with `f`.
fn items_rule(proxy: &Proxy, path: String, f: impl Fn(&mut Vec<Value>) + Send + Sync + 'static) {
    proxy.set(move |_, p, body| {
        if p.split('?').next() == Some(path.as_str()) {
            let mut page: Value = serde_json::from_slice(body).unwrap();
            if let Some(items) = page["items"].as_array_mut() {
                f(items);
            }
            *body = serde_json::to_vec(&page).unwrap();
        }
    });
}

/// Keeps every item listed in answers to `path`.
fn watch(proxy: &Proxy, path: String) -> Arc<Mutex<Vec<Value>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = seen.clone();
    proxy.set(move |_, p, body| {
        if p.split('?').next() == Some(path.as_str()) {
            let page: Value = serde_json::from_slice(body).unwrap();
            if let Some(items) = page["items"].as_array() {
                keep.lock().unwrap().extend(items.iter().cloned());
            }
        }
    });
    seen
}

/// The deletion served with `item` among `seen`.
fn deletion_of(seen: &Mutex<Vec<Value>>, item: &str) -> String {
    let seen = seen.lock().unwrap();
    let listed = seen
        .iter()
        .find(|i| i["item_id"] == item)
        .unwrap_or_else(|| panic!("{item} was not listed"));
    listed["deletion"].as_str().unwrap().to_owned()
}

async fn a_tombstone_says_only_what_its_signature_proves(engine: Engine) {
    let server = Server::start(engine, BIN);
    let proxy = Proxy::start(&server.base).await;
    let practice = Practice::set_up(&server).await;
    let store = || Arc::new(MemoryStore::new());
    let mut coach = practice
        .join(None, "coach@p.nl", Role::Coach, &server.base, store())
        .await;
    let mut client = practice
        .join(
            Some(&coach),
            "kees@p.nl",
            Role::Client,
            &proxy.base,
            store(),
        )
        .await;
    let mut client2 = practice
        .join(
            Some(&coach),
            "anna@p.nl",
            Role::Client,
            &proxy.base,
            store(),
        )
        .await;
    let rid = coach
        .open_relationship(&practice.org, client.account_id())
        .await
        .unwrap();
    let elsewhere = coach
        .open_relationship(&practice.org, client2.account_id())
        .await
        .unwrap();
    let gone = coach
        .send_message(rid, "verstuurd per ongeluk")
        .await
        .unwrap();
    let kept = coach.send_message(rid, "wat ik bedoelde").await.unwrap();
    let mine = client.send_message(rid, "van Kees").await.unwrap();
    let other = coach.send_message(elsewhere, "voor Anna").await.unwrap();
    coach.delete_item(rid, gone).await.unwrap();
    coach.delete_item(elsewhere, other).await.unwrap();

    // Honest: the author's deletion is proven, the rest stands.
    let dialogue = client.dialogue(rid).await.unwrap();
    assert!(
        matches!(dialogue[0].content, EntryContent::DeletedByAuthor { deleted_ms } if deleted_ms > 0),
        "{:?}",
        dialogue[0]
    );
    assert!(
        matches!(&dialogue[1].content, EntryContent::Message { text } if text == "wat ik bedoelde")
    );
    let in_other = client2.dialogue(elsewhere).await.unwrap();
    assert!(matches!(
        in_other[0].content,
        EntryContent::DeletedByAuthor { .. }
    ));

    let items = format!("/api/relationships/{rid}/items");
    let seen = watch(&proxy, items.clone());
    client.dialogue(rid).await.unwrap();
    let deletion_of_gone = deletion_of(&seen, &gone.to_string());
    let seen = watch(&proxy, format!("/api/relationships/{elsewhere}/items"));
    client2.dialogue(elsewhere).await.unwrap();
    let deletion_elsewhere = deletion_of(&seen, &other.to_string());

    // The server hides Kees's own message: shown as its report, never as
    // his act.
    let hidden_id = mine.to_string();
    items_rule(&proxy, items.clone(), move |items| {
        for item in items.iter_mut() {
            if item["item_id"] == hidden_id.as_str() {
                item["deleted"] = Value::Bool(true);
                item["envelope"] = Value::Null;
                item["deletion"] = Value::Null;
            }
        }
    });
    let dialogue = client.dialogue(rid).await.unwrap();
    assert_eq!(dialogue[2].content, EntryContent::Deleted);
    assert!(matches!(
        dialogue[0].content,
        EntryContent::DeletedByAuthor { .. }
    ));

    // A real deletion served with another item, the deletion of an item in
    // another relationship, a flipped signature bit: each is forged.
    let kept_id = kept.to_string();
    let attacks: Vec<(&str, String)> = vec![
        ("the deletion of another item", deletion_of_gone.clone()),
        ("a deletion from another relationship", deletion_elsewhere),
        ("a flipped signature bit", {
            let mut bytes = STANDARD.decode(&deletion_of_gone).unwrap();
            *bytes.last_mut().unwrap() ^= 1;
            STANDARD.encode(bytes)
        }),
    ];
    for (what, deletion) in attacks {
        let target = if what == "a flipped signature bit" {
            gone.to_string()
        } else {
            kept_id.clone()
        };
        items_rule(&proxy, items.clone(), move |items| {
            for item in items.iter_mut() {
                if item["item_id"] == target.as_str() {
                    item["deleted"] = Value::Bool(true);
                    item["envelope"] = Value::Null;
                    item["deletion"] = Value::String(deletion.clone());
                }
            }
        });
        match client.dialogue(rid).await {
            Err(Error::Tampered(Violation::DeletionForged { .. })) => {}
            other => panic!("{what}: expected DeletionForged, got {other:?}"),
        }
    }
    proxy.clear();
    let dialogue = client.dialogue(rid).await.unwrap();
    assert!(
        matches!(&dialogue[1].content, EntryContent::Message { text } if text == "wat ik bedoelde")
    );
    assert!(matches!(&dialogue[2].content, EntryContent::Message { text } if text == "van Kees"));
}
