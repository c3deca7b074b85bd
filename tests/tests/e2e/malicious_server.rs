//! A malicious server: a proxy between the SDK and the real server rewrites
//! answers the way a compromised host could, and the SDK must catch each
//! with the specific [`Violation`] — never showing tampered content as
//! genuine: a flipped bit; an item moved to another relationship, epoch or
//! position; an author relabelled; a wrapped key swapped for another
//! member's; a member list that demotes the coach (ignored); a peer's
//! identity key substituted; an attachment truncated, reordered or with a
//! chunk of another file; an old epoch replayed as current; sealed private
//! keys swapped between users.

use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use kluis_e2e::practice::Practice;
use kluis_e2e::proxy::Proxy;
use kluis_e2e::Server;
use kluis_sdk::kluis_crypto::attachment::{ATTACHMENT_HEADER_LEN, SEALED_CHUNK_SIZE};
use kluis_sdk::kluis_crypto::identity::IdentityKeyPair;
use kluis_sdk::state::MemoryStore;
use kluis_sdk::{Error, Kluis, Role, Session, Violation};
use kluis_test_support::{both_engines, Engine};
use serde_json::Value;

both_engines!(every_tampering_is_caught);

const BIN: &str = env!("CARGO_BIN_EXE_kluis-server-e2e");
const PW: &str = "Vliegende-Kiwi-42";

fn kluis(base: &str, store: &Arc<MemoryStore>) -> Kluis {
    Kluis::new(base, store.clone()).unwrap()
}

async fn login(base: &str, store: &Arc<MemoryStore>, email: &str) -> Session {
    kluis(base, store)
        .login(email, PW)
        .await
        .unwrap()
        .ready()
        .unwrap()
}

fn violation<T: std::fmt::Debug>(what: &str, r: kluis_sdk::Result<T>) -> Violation {
    match r {
        Err(Error::Tampered(v)) => v,
        other => panic!("{what}: expected a violation, got {other:?}"),
    }
}

/// Applies `f` to the JSON answer of requests for exactly `path` (any query).
fn json_rule(proxy: &Proxy, path: String, f: impl Fn(&mut Value) + Send + Sync + 'static) {
    proxy.set(move |_, p, body| {
        let p = p.split('?').next().unwrap_or_default();
        if p == path {
            let mut v: Value = serde_json::from_slice(body).unwrap();
            f(&mut v);
            *body = serde_json::to_vec(&v).unwrap();
        }
    });
}

/// Records the answer to `path`.
fn record(proxy: &Proxy, path: String) -> Arc<Mutex<Vec<u8>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = seen.clone();
    proxy.set(move |_, p, body| {
        if p.split('?').next() == Some(path.as_str()) {
            *keep.lock().unwrap() = body.clone();
        }
    });
    seen
}

fn b64_edit(v: &mut Value, f: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = STANDARD.decode(v.as_str().unwrap()).unwrap();
    f(&mut bytes);
    *v = Value::String(STANDARD.encode(bytes));
}

async fn every_tampering_is_caught(engine: Engine) {
    let server = Server::start(engine, BIN);
    let proxy = Proxy::start(&server.base).await;
    let practice = Practice::set_up(&server).await;
    let org = practice.org.clone();
    // Everyone but the manager talks through the proxy; each keeps their
    // pins in their own store across logins.
    let stores: Vec<Arc<MemoryStore>> = (0..4).map(|_| Arc::new(MemoryStore::new())).collect();
    let join = |inviter, email, role, i: usize| {
        practice.join(inviter, email, role, &proxy.base, stores[i].clone())
    };
    let mut coach = join(None, "coach@p.nl", Role::Coach, 0).await;
    let coach2 = join(None, "coach2@p.nl", Role::Coach, 1).await;
    let mut client = join(Some(&coach), "client@p.nl", Role::Client, 2).await;
    let mut client2 = join(Some(&coach), "client2@p.nl", Role::Client, 3).await;

    let r1 = coach
        .open_relationship(&org, client.account_id())
        .await
        .unwrap();
    let r2 = coach
        .open_relationship(&org, client2.account_id())
        .await
        .unwrap();
    coach.send_message(r1, "een").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    coach.send_message(r1, "twee").await.unwrap();
    client.send_message(r1, "drie").await.unwrap();
    coach.send_message(r2, "elders").await.unwrap();
    assert_eq!(
        client.dialogue(r1).await.unwrap().len(),
        3,
        "honest baseline"
    );
    let items = format!("/api/relationships/{r1}/items");

    // A flipped bit.
    json_rule(&proxy, items.clone(), |v| {
        b64_edit(&mut v["items"][2]["envelope"], |b| {
            let last = b.len() - 1;
            b[last] ^= 0x01;
        })
    });
    assert!(matches!(
        violation("flipped bit", client.dialogue(r1).await),
        Violation::ItemCorrupt { .. }
    ));

    // Moved from another relationship.
    let seen = record(&proxy, format!("/api/relationships/{r2}/items"));
    client2.dialogue(r2).await.unwrap();
    let other: Value = serde_json::from_slice(&seen.lock().unwrap()).unwrap();
    let foreign = other["items"][0].clone();
    json_rule(&proxy, items.clone(), move |v| {
        v["items"][1] = foreign.clone();
        v["items"][1]["seq"] = v["items"][2]["seq"]
            .as_i64()
            .unwrap()
            .saturating_add(1)
            .into();
    });
    match violation("moved relationship", client.dialogue(r1).await) {
        Violation::ItemMoved { found, .. } => assert!(found.starts_with("relationship"), "{found}"),
        v => panic!("{v:?}"),
    }

    // Moved to another epoch.
    json_rule(&proxy, items.clone(), |v| v["items"][0]["epoch"] = 7.into());
    match violation("moved epoch", client.dialogue(r1).await) {
        Violation::ItemMoved { found, .. } => assert_eq!(found, "epoch 0"),
        v => panic!("{v:?}"),
    }

    // Moved to another position: "twee" shown before "een".
    json_rule(&proxy, items.clone(), |v| {
        let list = v["items"].as_array_mut().unwrap();
        let (a, b) = (list[1]["seq"].clone(), list[2]["seq"].clone());
        list.swap(1, 2);
        list[1]["seq"] = a;
        list[2]["seq"] = b;
    });
    assert!(matches!(
        violation("reordered", client.dialogue(r1).await),
        Violation::OutOfOrder { .. }
    ));

    // The author relabelled.
    let client_id = client.account_id().to_string();
    json_rule(&proxy, items.clone(), move |v| {
        v["items"][2]["author_id"] = client_id.clone().into()
    });
    assert!(matches!(
        violation("relabelled", client.dialogue(r1).await),
        Violation::AuthorMismatch { .. }
    ));
    proxy.clear();

    // A wrapped key swapped for another member's (the coach's own).
    let keys_path = format!("/api/relationships/{r1}/keys");
    let seen = record(&proxy, keys_path.clone());
    login(&proxy.base, &stores[0], "coach@p.nl")
        .await
        .dialogue(r1)
        .await
        .unwrap();
    let coach_keys: Value = serde_json::from_slice(&seen.lock().unwrap()).unwrap();
    json_rule(&proxy, keys_path.clone(), move |v| *v = coach_keys.clone());
    let mut fresh = login(&proxy.base, &stores[2], "client@p.nl").await;
    assert!(matches!(
        violation("swapped wrapped key", fresh.dialogue(r1).await),
        Violation::WrappedKeyInvalid { epoch: 0, .. }
    ));

    // The server's member list demotes the coach who wrapped the key: the
    // SDK takes who is a coach from the signed membership chain, never from
    // the listing, so nothing changes (the chain's own attacks:
    // membership_chain.rs).
    let coach_id = coach.account_id().to_string();
    json_rule(&proxy, format!("/api/relationships/{r1}"), move |v| {
        for m in v["members"].as_array_mut().unwrap() {
            if m["account_id"] == coach_id.as_str() {
                m["role"] = "client".into();
            }
        }
    });
    let mut fresh = login(&proxy.base, &stores[2], "client@p.nl").await;
    assert_eq!(fresh.dialogue(r1).await.unwrap().len(), 3);
    proxy.clear();

    // A peer's identity key substituted: the coach's pin catches it and
    // nothing is wrapped to the substitute.
    let substitute = IdentityKeyPair::generate(&mut rand::rngs::OsRng, client.account_id());
    let forged = STANDARD.encode(substitute.bundle().encode());
    json_rule(
        &proxy,
        format!("/api/users/{}/keys", client.account_id()),
        move |v| {
            let last = v["history"].as_array().unwrap().len() - 1;
            v["history"][last]["bundle"] = forged.clone().into();
        },
    );
    let changed = coach.rotate(r1).await;
    assert!(
        matches!(changed, Err(Error::KeyChanged { user, .. }) if user == client.account_id()),
        "{changed:?}"
    );
    assert!(
        coach
            .safety_number(client.account_id())
            .await
            .unwrap()
            .key_changed
    );
    proxy.clear();
    assert_eq!(
        coach.relationship(r1).await.unwrap().current_epoch,
        0,
        "no epoch was created for the substituted key"
    );

    // Attachments: truncated, reordered, a chunk of another file.
    let file_a: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let file_b: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();
    let a = coach
        .send_file(
            r1,
            &file_a[..],
            "a.bin",
            "application/octet-stream",
            None,
            &mut |_| {},
        )
        .await
        .unwrap();
    let b = coach
        .send_file(
            r1,
            &file_b[..],
            "b.bin",
            "application/octet-stream",
            None,
            &mut |_| {},
        )
        .await
        .unwrap();
    let stream_of = |id: &kluis_sdk::kluis_crypto::ids::AttachmentId| {
        format!("/api/relationships/{r1}/attachments/{id}")
    };
    let seen = record(&proxy, stream_of(&b.attachment_id));
    let mut sink = Vec::new();
    client
        .download_file(r1, b.item_id, &mut sink, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(sink, file_b);
    let stream_b = seen.lock().unwrap().clone();
    let chunk = |i: usize| ATTACHMENT_HEADER_LEN + i * SEALED_CHUNK_SIZE;
    type Edit = Box<dyn Fn(&mut Vec<u8>) + Send + Sync>;
    let edits: Vec<(&str, Edit)> = vec![
        (
            "truncated",
            Box::new(|s: &mut Vec<u8>| s.truncate(s.len() - 100)),
        ),
        (
            "last chunk dropped",
            Box::new(move |s: &mut Vec<u8>| s.truncate(chunk(4))),
        ),
        (
            "reordered",
            Box::new(move |s: &mut Vec<u8>| {
                let first: Vec<u8> = s[chunk(0)..chunk(1)].to_vec();
                let second: Vec<u8> = s[chunk(1)..chunk(2)].to_vec();
                s[chunk(0)..chunk(1)].copy_from_slice(&second);
                s[chunk(1)..chunk(2)].copy_from_slice(&first);
            }),
        ),
        (
            "a chunk of another file",
            Box::new(move |s: &mut Vec<u8>| {
                s[chunk(1)..chunk(2)].copy_from_slice(&stream_b[chunk(1)..chunk(2)])
            }),
        ),
    ];
    let path_a = stream_of(&a.attachment_id);
    for (what, edit) in edits {
        let path = path_a.clone();
        proxy.set(move |_, p, body| {
            if p == path {
                edit(body);
            }
        });
        let mut sink = Vec::new();
        match violation(
            what,
            client
                .download_file(r1, a.item_id, &mut sink, &mut |_| {})
                .await,
        ) {
            Violation::AttachmentCorrupt { .. } => {}
            v => panic!("{what}: {v:?}"),
        }
        assert_ne!(sink, file_a, "{what}: never the whole file as if genuine");
    }
    proxy.clear();

    // An old epoch replayed as the current one.
    coach.rotate(r1).await.unwrap();
    client.dialogue(r1).await.unwrap();
    json_rule(&proxy, format!("/api/relationships/{r1}"), |v| {
        v["current_epoch"] = 0.into()
    });
    assert!(matches!(
        violation("rollback", client.dialogue(r1).await),
        Violation::EpochRollback {
            seen: 1,
            presented: 0,
            ..
        }
    ));
    proxy.clear();

    // Sealed private keys swapped between users.
    let seen = record(&proxy, "/api/keys/mine".into());
    login(&proxy.base, &stores[1], "coach2@p.nl").await;
    let coach2_keys: Value = serde_json::from_slice(&seen.lock().unwrap()).unwrap();
    json_rule(&proxy, "/api/keys/mine".into(), move |v| {
        *v = coach2_keys.clone()
    });
    let swapped = kluis(&proxy.base, &stores[2])
        .login("client@p.nl", PW)
        .await;
    assert!(
        matches!(
            swapped,
            Err(Error::Tampered(Violation::SealedIdentityInvalid))
        ),
        "{swapped:?}"
    );
    proxy.clear();

    // Honest again: everything reads.
    assert_eq!(client.dialogue(r1).await.unwrap().len(), 5);
    drop(coach2);
}
