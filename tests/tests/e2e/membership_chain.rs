//! The membership chain against a lying server (issue 14, findings 1, 2
//! and 5; PROTOCOL.md §7.6): a proxy in front of the real server invents a
//! coach, addresses a key to a fingerprint the chain does not name,
//! re-lists a removed member, shortens, reorders or re-signs the
//! chain, and shows two members two histories (a fork). Each must fail to
//! fool the SDK with the specific violation, and nothing may be sealed
//! under a key the server could hold.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use kluis_e2e::practice::Practice;
use kluis_e2e::proxy::Proxy;
use kluis_e2e::Server;
use kluis_sdk::kluis_crypto::identity::IdentityKeyPair;
use kluis_sdk::kluis_crypto::ids::{Epoch, UserId};
use kluis_sdk::kluis_crypto::membership::{Member, MembershipRecord};
use kluis_sdk::kluis_crypto::relationship::RelationshipKey;
use kluis_sdk::state::MemoryStore;
use kluis_sdk::{Error, Kluis, MemberRole, Role, Violation};
use kluis_test_support::{both_engines, Engine};
use serde_json::{json, Value};

both_engines!(the_chain_refuses_every_lie);

const BIN: &str = env!("CARGO_BIN_EXE_kluis-server-e2e");
const PW: &str = "Vliegende-Kiwi-42";

fn violation<T: std::fmt::Debug>(what: &str, r: kluis_sdk::Result<T>) -> Violation {
    match r {
        Err(Error::Tampered(v)) => v,
        other => panic!("{what}: expected a violation, got {other:?}"),
    }
}

/// Applies `f` to the JSON answer of requests for exactly `path`; several
/// rules at once, each for its own path.
/// A rewrite of one JSON answer.
type Edit = Box<dyn Fn(&mut Value) + Send + Sync>;

fn rules(proxy: &Proxy, list: Vec<(String, Edit)>) {
    proxy.set(move |_, p, body| {
        let p = p.split('?').next().unwrap_or_default();
        for (path, f) in &list {
            if p == path {
                let mut v: Value = serde_json::from_slice(body).unwrap();
                f(&mut v);
                *body = serde_json::to_vec(&v).unwrap();
            }
        }
    });
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

use kluis_e2e::message_texts as texts;

async fn the_chain_refuses_every_lie(engine: Engine) {
    let server = Server::start(engine, BIN);
    let proxy = Proxy::start(&server.base).await;
    let practice = Practice::set_up(&server).await;
    let org = practice.org.clone();
    // Everyone but the manager talks through the proxy; each keeps their
    // pins in their own store across logins.
    let stores: Vec<Arc<MemoryStore>> = (0..3).map(|_| Arc::new(MemoryStore::new())).collect();
    let join = |inviter, email, role, i: usize| {
        practice.join(inviter, email, role, &proxy.base, stores[i].clone())
    };
    let mut coach = join(None, "coach@p.nl", Role::Coach, 0).await;
    let mut coach2 = join(None, "coach2@p.nl", Role::Coach, 1).await;
    let mut client = join(Some(&coach), "client@p.nl", Role::Client, 2).await;

    let rid = coach
        .open_relationship(&org, client.account_id())
        .await
        .unwrap();
    coach.send_message(rid, "hallo").await.unwrap();
    client.send_message(rid, "dag").await.unwrap();
    // The two compared safety numbers: the strongest position a user has.
    let seen_by_client = client.safety_number(coach.account_id()).await.unwrap();
    coach
        .verify_safety_number(client.account_id(), &seen_by_client.digits)
        .await
        .unwrap();
    let seen_by_coach = coach.safety_number(client.account_id()).await.unwrap();
    client
        .verify_safety_number(coach.account_id(), &seen_by_coach.digits)
        .await
        .unwrap();
    assert_eq!(
        texts(&client.dialogue(rid).await.unwrap()),
        ["hallo", "dag"]
    );

    let rel_path = format!("/api/relationships/{rid}");
    let chain_path = format!("/api/relationships/{rid}/membership");
    let keys_path = format!("/api/relationships/{rid}/keys");
    // The honest chain, as served to the client.
    let honest_chain: Value = {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let keep = seen.clone();
        let path = chain_path.clone();
        proxy.set(move |_, p, body| {
            if p.split('?').next() == Some(path.as_str()) {
                *keep.lock().unwrap() = body.clone();
            }
        });
        // A fresh login of the client fetches the chain again.
        let mut again = Kluis::new(&proxy.base, stores[2].clone())
            .unwrap()
            .login("client@p.nl", PW)
            .await
            .unwrap()
            .ready()
            .unwrap();
        again.dialogue(rid).await.unwrap();
        proxy.clear();
        let bytes = seen.lock().unwrap().clone();
        serde_json::from_slice(&bytes).unwrap()
    };
    let record0 = MembershipRecord::decode(
        &STANDARD
            .decode(honest_chain[0]["record"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();

    // 1. A ghost coach: the server lists an account of its own as a coach
    //    from epoch 1, makes epoch 1 current, signs a record for it and
    //    wraps a key of its own to the client.
    let ghost = IdentityKeyPair::generate(
        &mut rand::rngs::OsRng,
        UserId::random(&mut rand::rngs::OsRng),
    );
    let mut members: Vec<Member> = record0.members().to_vec();
    members.push(Member {
        user_id: ghost.user_id(),
        role: MemberRole::Coach,
        fingerprint: ghost.bundle().fingerprint(),
    });
    let ghost_record =
        MembershipRecord::sign(&ghost, rid, Epoch(1), record0.hash(), 1, members).unwrap();
    let ghost_key = RelationshipKey::generate(&mut rand::rngs::OsRng, rid, Epoch(1));
    let ghost_wrapped = ghost_key
        .wrap(
            &mut rand::rngs::OsRng,
            &ghost,
            client.identity_bundle(),
            &ghost_record.hash(),
        )
        .unwrap();
    let ghost_id = ghost.user_id().to_string();
    let ghost_bundle = b64(&ghost.bundle().encode());
    let lie = |with_record: bool| -> Vec<(String, Edit)> {
        let ghost_id = ghost_id.clone();
        let ghost_id2 = ghost_id.clone();
        let ghost_bundle = ghost_bundle.clone();
        let record = b64(&ghost_record.encode());
        let wrapped = b64(&ghost_wrapped.encode());
        let mut list: Vec<(String, Edit)> = vec![
            (
                rel_path.clone(),
                Box::new(move |v: &mut Value| {
                    v["current_epoch"] = 1.into();
                    v["members"].as_array_mut().unwrap().push(json!({
                        "account_id": ghost_id, "display_name": "Nieuwe coach",
                        "role": "coach", "joined_epoch": 1, "left_epoch": null}));
                }),
            ),
            (
                keys_path.clone(),
                Box::new(move |v: &mut Value| {
                    v.as_array_mut()
                        .unwrap()
                        .push(json!({"epoch": 1, "envelope": wrapped}))
                }),
            ),
            (
                format!("/api/users/{ghost_id2}/keys"),
                Box::new(move |v: &mut Value| {
                    *v = json!({"account_id": ghost_id2, "history": [{"bundle": ghost_bundle}]})
                }),
            ),
        ];
        if with_record {
            list.push((
                chain_path.clone(),
                Box::new(move |v: &mut Value| {
                    v.as_array_mut()
                        .unwrap()
                        .push(json!({"epoch": 1, "record": record}))
                }),
            ));
        }
        list
    };
    rules(&proxy, lie(true));
    match violation("ghost coach, reading", client.dialogue(rid).await) {
        Violation::MembershipInvalid {
            epoch: 1, fault, ..
        } => {
            assert!(fault.contains("not a coach"), "{fault}")
        }
        v => panic!("ghost coach: {v:?}"),
    }
    let sent = client.send_message(rid, "geheim voor de geest").await;
    assert!(
        matches!(
            sent,
            Err(Error::Tampered(Violation::MembershipInvalid {
                epoch: 1,
                ..
            }))
        ),
        "nothing is sealed under the ghost's key: {sent:?}"
    );
    // Without a record: an epoch nobody signed.
    rules(&proxy, lie(false));
    let mut fresh = Kluis::new(&proxy.base, Arc::new(MemoryStore::new()))
        .unwrap()
        .login("client@p.nl", PW)
        .await
        .unwrap()
        .ready()
        .unwrap();
    assert!(matches!(
        violation("ghost epoch without a record", fresh.dialogue(rid).await),
        Violation::MembershipMissing { epoch: 1, .. }
    ));
    proxy.clear();
    assert_eq!(
        texts(&client.dialogue(rid).await.unwrap()),
        ["hallo", "dag"],
        "honest again; the refused message was never stored"
    );

    // A wrapped key addressed to a key of the client's that the chain does
    // not name: a violation, never shown as "unreadable".
    let other_key = IdentityKeyPair::generate(&mut rand::rngs::OsRng, client.account_id());
    let stray = RelationshipKey::generate(&mut rand::rngs::OsRng, rid, Epoch(0))
        .wrap(
            &mut rand::rngs::OsRng,
            &ghost,
            other_key.bundle(),
            &record0.hash(),
        )
        .unwrap();
    let stray = b64(&stray.encode());
    rules(
        &proxy,
        vec![(
            keys_path.clone(),
            Box::new(move |v: &mut Value| v[0]["envelope"] = stray.clone().into()),
        )],
    );
    let mut fresh = Kluis::new(&proxy.base, Arc::new(MemoryStore::new()))
        .unwrap()
        .login("client@p.nl", PW)
        .await
        .unwrap()
        .ready()
        .unwrap();
    assert!(matches!(
        violation(
            "a key for an unnamed fingerprint",
            fresh.dialogue(rid).await
        ),
        Violation::NotInChain { epoch: 0, .. }
    ));
    proxy.clear();

    // 2. A removed member listed as current again: the next rotation wraps
    //    to the members the chain names, never to them.
    assert_eq!(
        coach
            .add_member(rid, coach2.account_id(), MemberRole::Coach)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        coach.remove_member(rid, coach2.account_id()).await.unwrap(),
        2
    );
    let coach2_id = coach2.account_id().to_string();
    rules(
        &proxy,
        vec![(
            rel_path.clone(),
            Box::new(move |v: &mut Value| {
                for m in v["members"].as_array_mut().unwrap() {
                    if m["account_id"] == coach2_id.as_str() {
                        m["left_epoch"] = Value::Null;
                    }
                }
            }),
        )],
    );
    assert_eq!(
        coach.rotate(rid).await.unwrap(),
        3,
        "the server could not object: the chain names nobody else"
    );
    proxy.clear();
    let proven = coach.membership(rid).await.unwrap();
    let mut ids: Vec<String> = proven
        .members
        .iter()
        .map(|m| m.account_id.clone())
        .collect();
    ids.sort();
    let mut expected = vec![
        coach.account_id().to_string(),
        client.account_id().to_string(),
    ];
    expected.sort();
    assert_eq!(ids, expected);
    coach.send_message(rid, "na de rotatie").await.unwrap();
    assert!(
        !texts(&coach2.dialogue(rid).await.unwrap()).contains(&"na de rotatie".to_owned()),
        "the removed coach reads nothing after"
    );
    // The events every member sees.
    let events = client.membership(rid).await.unwrap().events;
    assert_eq!(events.len(), 4);
    assert!(events[0].opened);
    assert_eq!(
        events[1].added,
        [(coach2.account_id().to_string(), "coach")]
    );
    assert_eq!(events[1].by, coach.account_id().to_string());
    assert_eq!(events[2].removed, [coach2.account_id().to_string()]);
    assert!(events[3].added.is_empty() && events[3].removed.is_empty());

    // 3. The chain shortened, reordered, re-signed.
    client.dialogue(rid).await.unwrap();
    let edits: Vec<(&str, Edit)> = vec![
        (
            "shortened",
            Box::new(|v: &mut Value| {
                v.as_array_mut().unwrap().pop();
            }),
        ),
        (
            "reordered",
            Box::new(|v: &mut Value| {
                let list = v.as_array_mut().unwrap();
                let (a, b) = (list[1]["record"].clone(), list[2]["record"].clone());
                list[1]["record"] = b;
                list[2]["record"] = a;
            }),
        ),
        (
            "re-signed",
            Box::new(|v: &mut Value| {
                let mut bytes = STANDARD.decode(v[2]["record"].as_str().unwrap()).unwrap();
                let last = bytes.len() - 1;
                bytes[last] ^= 1;
                v[2]["record"] = b64(&bytes).into();
            }),
        ),
    ];
    for (what, edit) in edits {
        rules(&proxy, vec![(chain_path.clone(), edit)]);
        // A new login: nothing cached in memory, the kept head in the store.
        let mut again = Kluis::new(&proxy.base, stores[2].clone())
            .unwrap()
            .login("client@p.nl", PW)
            .await
            .unwrap()
            .ready()
            .unwrap();
        match (what, violation(what, again.dialogue(rid).await)) {
            (
                "shortened",
                Violation::EpochRollback {
                    seen: 3,
                    presented: 2,
                    ..
                },
            ) => {}
            ("reordered", Violation::MembershipInvalid { epoch: 1, .. }) => {}
            (
                "re-signed",
                Violation::MembershipInvalid {
                    epoch: 2, fault, ..
                },
            ) => {
                assert!(fault.contains("signature"), "{fault}")
            }
            (what, v) => panic!("{what}: {v:?}"),
        }
    }
    proxy.clear();
    assert_eq!(texts(&client.dialogue(rid).await.unwrap()).len(), 3);

    // 4. A fork: the server tells coach2 — a coach again — that epoch 4 is
    //    still to be made and keeps the record coach2 signs for it, though
    //    the real server refused it; then shows that history to the client.
    coach
        .add_member(rid, coach2.account_id(), MemberRole::Coach)
        .await
        .unwrap();
    client.dialogue(rid).await.unwrap();
    coach.rotate(rid).await.unwrap(); // epoch 5, which coach2 is not shown
    let epochs_path = format!("/api/relationships/{rid}/epochs");
    rules(
        &proxy,
        vec![
            (
                rel_path.clone(),
                Box::new(|v: &mut Value| v["current_epoch"] = 4.into()),
            ),
            (
                chain_path.clone(),
                Box::new(|v: &mut Value| {
                    v.as_array_mut().unwrap().pop();
                }),
            ),
        ],
    );
    let refused = coach2.rotate(rid).await;
    assert!(
        matches!(refused, Err(Error::Refused { status: 409, .. })),
        "{refused:?}"
    );
    proxy.clear();
    let forged: Value =
        serde_json::from_slice(proxy.sent_to(&epochs_path).last().unwrap()).unwrap();
    let fork_record = forged["membership_record"].as_str().unwrap().to_owned();
    let client_fp = client.identity_bundle().fingerprint();
    let fork_key_for_client = forged["wrapped_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .find(|k| {
            let bytes = STANDARD.decode(k).unwrap();
            kluis_sdk::kluis_crypto::relationship::WrappedRelationshipKey::decode(&bytes)
                .unwrap()
                .recipient_fingerprint()
                == client_fp
        })
        .unwrap();
    let fork_store = Arc::new(MemoryStore::new());
    let mut forked_client = Kluis::new(&proxy.base, fork_store.clone())
        .unwrap()
        .login("client@p.nl", PW)
        .await
        .unwrap()
        .ready()
        .unwrap();
    rules(
        &proxy,
        vec![
            (
                chain_path.clone(),
                Box::new(move |v: &mut Value| {
                    v[5]["record"] = fork_record.clone().into();
                }),
            ),
            (
                keys_path.clone(),
                Box::new(move |v: &mut Value| {
                    for k in v.as_array_mut().unwrap() {
                        if k["epoch"] == 5 {
                            k["envelope"] = fork_key_for_client.clone().into();
                        }
                    }
                }),
            ),
        ],
    );
    // The forked client reads the shared past and writes under the fork's key.
    forked_client.send_message(rid, "op de vork").await.unwrap();
    proxy.clear();
    // As soon as they exchange a message, the fork shows: the coach cannot
    // open what the client sealed under the fork's key …
    assert!(matches!(
        violation("fork, coach reading", coach.dialogue(rid).await),
        Violation::ItemCorrupt { .. }
    ));
    // … and the client, shown the real history on its next login, refuses
    // it as a fork of the record it kept.
    drop(forked_client);
    let mut forked_client = Kluis::new(&proxy.base, fork_store)
        .unwrap()
        .login("client@p.nl", PW)
        .await
        .unwrap()
        .ready()
        .unwrap();
    assert!(matches!(
        violation(
            "fork, client shown the real chain",
            forked_client.dialogue(rid).await
        ),
        Violation::MembershipForked { epoch: 5, .. }
    ));
    drop((practice, coach2));
}
