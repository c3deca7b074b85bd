//! The vault API on both engines: the key directory, relationships and
//! epochs, items and coach-private notes — with the attacks: a bundle or
//! sealed key for another user, a wrapped key for a non-member or for old
//! keys, a moved, relabelled or replayed item, a stale epoch, a removed
//! member, a client looking for notes, a manager looking for anything.

use kluis_crypto::attachment::{decrypt_stream, encrypt_stream, AttachmentKey, StreamSummary};
use kluis_crypto::deletion::ItemDeletion;
use kluis_crypto::identity::{IdentityBundle, IdentityKeyPair};
use kluis_crypto::ids::{AttachmentId, Epoch, ItemId, RelationshipId, UserId};
use kluis_crypto::item::{seal_item, seal_note, SealedItem, SharedItemKind};
use kluis_crypto::key_schedule::ExportKey;
use kluis_crypto::membership::{Member, MemberRole, MembershipRecord, RecordHash};
use kluis_crypto::notes::NotesKey;
use kluis_crypto::recovery::RecoveryKey;
use kluis_crypto::relationship::{RelationshipKey, WrappedRelationshipKey};
use kluis_server::store::Engine;
use kluis_test_support::{b64, both_engines, into_json, unb64};
use rand::rngs::OsRng;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::TestServer;

const PW: &str = "Correct-Horse-9";

both_engines!(
    key_directory,
    relationships_epochs_and_items,
    attachments_stream_resume_and_check,
    the_right_of_access_lists_what_is_held
);

/// A user as the tests drive them: token, id and identity.
struct User {
    token: String,
    id: String,
    identity: IdentityKeyPair,
}

fn identity_for(id: &str) -> IdentityKeyPair {
    IdentityKeyPair::generate(&mut OsRng, id.parse::<UserId>().unwrap())
}

fn keys_body(identity: &IdentityKeyPair) -> Value {
    let export = ExportKey::generate(&mut OsRng);
    let recovery = RecoveryKey::random(&mut OsRng);
    json!({
        "bundle": b64(&identity.bundle().encode()),
        "sealed_password": b64(&identity.seal_with_password(&export, &mut OsRng).unwrap().encode()),
        "sealed_recovery": b64(&identity.seal_with_recovery_key(&recovery, &mut OsRng).unwrap().encode()),
    })
}

async fn put_json(s: &TestServer, path: &str, body: Value, token: &str) -> (StatusCode, Value) {
    into_json(
        s.http
            .put(s.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Sends `bytes` as `application/octet-stream` with `method`.
async fn send_bytes(
    s: &TestServer,
    method: reqwest::Method,
    path: &str,
    bytes: Vec<u8>,
    token: &str,
) -> (StatusCode, Value) {
    into_json(
        s.http
            .request(method, s.url(path))
            .bearer_auth(token)
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn put_bytes(s: &TestServer, path: &str, bytes: Vec<u8>, token: &str) -> (StatusCode, Value) {
    send_bytes(s, reqwest::Method::PUT, path, bytes, token).await
}

async fn delete_bytes(
    s: &TestServer,
    path: &str,
    bytes: Vec<u8>,
    token: &str,
) -> (StatusCode, Value) {
    send_bytes(s, reqwest::Method::DELETE, path, bytes, token).await
}

async fn patch_bytes(
    s: &TestServer,
    path: &str,
    bytes: Vec<u8>,
    token: &str,
) -> (StatusCode, Value) {
    send_bytes(s, reqwest::Method::PATCH, path, bytes, token).await
}

async fn publish(s: &TestServer, token: String, id: String) -> User {
    let identity = identity_for(&id);
    let (status, body) = put_json(s, "/api/keys", keys_body(&identity), &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    User {
        token,
        id,
        identity,
    }
}

async fn bundle_of(s: &TestServer, asker: &User, whom: &str) -> IdentityBundle {
    let (status, body) = s
        .get(&format!("/api/users/{whom}/keys"), Some(&asker.token))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let history = body["history"].as_array().unwrap();
    IdentityBundle::decode(&unb64(&history.last().unwrap()["bundle"])).unwrap()
}

async fn key_directory(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (org, manager, manager_id) = s.setup_organisation("manager@a.nl", PW).await;
    let (coach, coach_id) = s
        .invite_and_register(&org, &manager, "coach@a.nl", "coach", PW)
        .await;
    let (client, client_id) = s
        .invite_and_register(&org, &coach, "client@a.nl", "client", PW)
        .await;
    let (client2, client2_id) = s
        .invite_and_register(&org, &coach, "client2@a.nl", "client", PW)
        .await;
    let coach = publish(&s, coach, coach_id.clone()).await;

    // What goes in comes back to its owner only.
    let (status, mine) = s.get("/api/keys/mine", Some(&coach.token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(unb64(&mine["bundle"]), coach.identity.bundle().encode());
    assert_eq!(
        mine["sealed_password"].as_str().unwrap().len(),
        164,
        "123 bytes in base64"
    );
    assert_eq!(
        s.get("/api/keys/mine", Some(&client)).await.0,
        StatusCode::NOT_FOUND
    );

    // Parts naming someone else, or of the wrong kind, or broken.
    let other = identity_for(&client_id);
    let mut body = keys_body(&other);
    assert_eq!(
        put_json(&s, "/api/keys", body.clone(), &coach.token)
            .await
            .1["error"],
        "header_mismatch"
    );
    let mine_again = keys_body(&coach.identity);
    body["bundle"] = mine_again["bundle"].clone();
    body["sealed_recovery"] = mine_again["sealed_recovery"].clone();
    assert_eq!(
        put_json(&s, "/api/keys", body, &coach.token).await.1["error"],
        "header_mismatch"
    );
    let mut swapped = keys_body(&coach.identity);
    swapped["sealed_password"] = swapped["sealed_recovery"].clone();
    assert_eq!(
        put_json(&s, "/api/keys", swapped, &coach.token).await.1["error"],
        "header_mismatch"
    );
    let mut forged = coach.identity.bundle().encode();
    forged[100] ^= 1;
    let mut bad = keys_body(&coach.identity);
    bad["bundle"] = json!(b64(&forged));
    let (status, answer) = put_json(&s, "/api/keys", bad, &coach.token).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_envelope"))
    );
    let mut future = coach.identity.bundle().encode();
    future[0] = 2;
    let mut bad = keys_body(&coach.identity);
    bad["bundle"] = json!(b64(&future));
    assert_eq!(
        put_json(&s, "/api/keys", bad, &coach.token).await.1["error"],
        "unsupported_version"
    );

    // Re-sealing keeps the version; a new identity is a key change.
    let (_, same) = put_json(&s, "/api/keys", keys_body(&coach.identity), &coach.token).await;
    assert_eq!(
        (same["version"].as_i64(), same["changed"].as_bool()),
        (Some(1), Some(false))
    );
    let renewed = identity_for(&coach_id);
    let (_, changed) = put_json(&s, "/api/keys", keys_body(&renewed), &coach.token).await;
    assert_eq!(
        (changed["version"].as_i64(), changed["changed"].as_bool()),
        (Some(2), Some(true))
    );

    // Peers see the history; others see nothing.
    let (status, seen) = s
        .get(&format!("/api/users/{coach_id}/keys"), Some(&client))
        .await;
    assert_eq!(status, StatusCode::OK);
    let history = seen["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(unb64(&history[1]["bundle"]), renewed.bundle().encode());
    assert_eq!(
        s.get(&format!("/api/users/{coach_id}/keys"), Some(&manager))
            .await
            .0,
        StatusCode::OK
    );
    let client = publish(&s, client, client_id.clone()).await;
    let client2 = publish(&s, client2, client2_id.clone()).await;
    for (asker, whom) in [
        (&client.token, &client2_id),
        (&client2.token, &client_id),
        (&manager, &client_id),
    ] {
        let (status, body) = s.get(&format!("/api/users/{whom}/keys"), Some(asker)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
    }
    assert_eq!(
        s.get(&format!("/api/users/{manager_id}/keys"), Some(&coach.token))
            .await
            .0,
        StatusCode::NOT_FOUND,
        "no keys published"
    );
    assert_eq!(
        s.get(&format!("/api/users/{coach_id}/keys"), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    s.stop().await;
}

struct Rel {
    keys: Vec<RelationshipKey>,
    /// The membership record of each epoch so far.
    records: Vec<MembershipRecord>,
}

/// The record hash these tests bind into wrapped keys: the server cannot
/// check that binding (it holds no key), so any value serves here; the
/// SDK's tests check it.
const BOUND: RecordHash = RecordHash([0x42; 32]);

fn wrap(key: &RelationshipKey, sender: &User, to: &[&IdentityBundle]) -> Vec<String> {
    to.iter()
        .map(|b| {
            b64(&key
                .wrap(&mut OsRng, &sender.identity, b, &BOUND)
                .unwrap()
                .encode())
        })
        .collect()
}

/// A membership record signed by `signer` for `members`.
fn record(
    signer: &User,
    rid: RelationshipId,
    epoch: u32,
    previous: RecordHash,
    members: &[(&IdentityBundle, MemberRole)],
) -> MembershipRecord {
    let members = members
        .iter()
        .map(|(b, role)| Member {
            user_id: b.user_id(),
            role: *role,
            fingerprint: b.fingerprint(),
        })
        .collect();
    MembershipRecord::sign(&signer.identity, rid, Epoch(epoch), previous, 1, members).unwrap()
}

fn message(rel: &Rel, epoch: usize, author: &User, text: &str) -> (ItemId, Vec<u8>) {
    let id = ItemId::random(&mut OsRng);
    let sealed = seal_item(
        &mut OsRng,
        &rel.keys[epoch],
        id,
        SharedItemKind::Message,
        &author.identity,
        text.as_bytes(),
    )
    .unwrap();
    (id, sealed.encode())
}

fn item_path(rel: &RelationshipId, item: &ItemId) -> String {
    format!("/api/relationships/{rel}/items/{item}")
}

/// The relationship scenario: an organisation with two coaches, a client
/// of the first and another client of the second, all with published keys,
/// and the key of epoch 0 of a relationship the first coach is about to open
/// with their client. The steps of [`relationships_epochs_and_items`] run on
/// it in order, each on what the one before left.
struct Relationship {
    s: TestServer,
    org: String,
    manager: String,
    coach: User,
    coach2: User,
    client: User,
    other_client: User,
    coach_bundle: IdentityBundle,
    /// The client's bundle as the coach fetched it.
    client_bundle: IdentityBundle,
    rid: RelationshipId,
    /// The keys of the epochs so far.
    rel: Rel,
}

async fn relationships_epochs_and_items(engine: Engine) {
    let mut r = Relationship::cast(engine).await;
    opening_needs_every_member_once_and_a_coach_with_their_client(&r).await;
    let (first, first_bytes) =
        the_client_reads_the_first_message_and_retries_are_idempotent(&r).await;
    moved_relabelled_or_forged_items_are_refused_and_not_stored(&r, &first_bytes).await;
    notes_are_invisible_to_the_client(&r).await;
    let (by_client, coach2_bundle) =
        a_second_coach_joins_and_holds_only_the_new_epoch(&mut r).await;
    the_removed_client_keeps_old_epochs_and_cannot_write(&mut r, &coach2_bundle).await;
    only_the_author_deletes_leaving_a_tombstone(&r, &first, &by_client).await;
    pages_are_newest_first_with_cursors_bound_to_the_relationship(&r).await;
    the_manager_sees_members_and_dates_only(&r, &by_client).await;
    the_database_holds_the_envelopes_as_sent(&r).await;
    r.s.stop().await;
}

impl Relationship {
    async fn cast(engine: Engine) -> Self {
        let s = TestServer::start(engine).await;
        let (org, manager, _) = s.setup_organisation("manager@a.nl", PW).await;
        let (t, id) = s
            .invite_and_register(&org, &manager, "coach@a.nl", "coach", PW)
            .await;
        let coach = publish(&s, t, id).await;
        let (t, id) = s
            .invite_and_register(&org, &manager, "coach2@a.nl", "coach", PW)
            .await;
        let coach2 = publish(&s, t, id).await;
        let (t, id) = s
            .invite_and_register(&org, &coach.token, "client@a.nl", "client", PW)
            .await;
        let client = publish(&s, t, id).await;
        let (t, id) = s
            .invite_and_register(&org, &coach2.token, "other@a.nl", "client", PW)
            .await;
        let other_client = publish(&s, t, id).await;

        let client_bundle = bundle_of(&s, &coach, &client.id).await;
        let coach_bundle = coach.identity.bundle().clone();
        let rid = RelationshipId::random(&mut OsRng);
        let k0 = RelationshipKey::generate(&mut OsRng, rid, Epoch(0));
        let r0 = record(
            &coach,
            rid,
            0,
            RecordHash::NONE,
            &[
                (&coach_bundle, MemberRole::Coach),
                (&client_bundle, MemberRole::Client),
            ],
        );
        Self {
            s,
            org,
            manager,
            coach,
            coach2,
            client,
            other_client,
            coach_bundle,
            client_bundle,
            rid,
            rel: Rel {
                keys: vec![k0],
                records: vec![r0],
            },
        }
    }
}

async fn opening_needs_every_member_once_and_a_coach_with_their_client(r: &Relationship) {
    let Relationship {
        s,
        org,
        manager,
        coach,
        coach2,
        client,
        other_client,
        coach_bundle,
        client_bundle,
        rid,
        rel,
    } = r;
    let rid = *rid;
    let k0 = &rel.keys[0];
    let r0 = b64(&rel.records[0].encode());
    let open = |keys: Vec<String>, client_id: &str, rid: &RelationshipId| json!({"relationship_id": rid.to_string(), "client_id": client_id, "wrapped_keys": keys, "membership_record": r0});
    let path = format!("/api/organisations/{org}/relationships");
    // Every member exactly once, nobody else, current keys, right epoch.
    let cases = [
        (wrap(k0, coach, &[coach_bundle]), "missing_recipient"),
        (
            wrap(k0, coach, &[coach_bundle, client_bundle, client_bundle]),
            "duplicate_recipient",
        ),
        (
            wrap(
                k0,
                coach,
                &[coach_bundle, client_bundle, coach2.identity.bundle()],
            ),
            "not_a_member",
        ),
        (
            wrap(
                &RelationshipKey::generate(&mut OsRng, rid, Epoch(1)),
                coach,
                &[coach_bundle, client_bundle],
            ),
            "header_mismatch",
        ),
        (
            wrap(
                &RelationshipKey::generate(
                    &mut OsRng,
                    RelationshipId::random(&mut OsRng),
                    Epoch(0),
                ),
                coach,
                &[coach_bundle, client_bundle],
            ),
            "header_mismatch",
        ),
        (vec![b64(&[1, 3, 0])], "invalid_envelope"),
    ];
    for (keys, code) in cases {
        let (status, body) = s
            .post(&path, open(keys, &client.id, &rid), Some(&coach.token))
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{body}"
        );
    }
    // Only a coach, only with their own client.
    let keys = wrap(k0, coach, &[coach_bundle, client_bundle]);
    assert_eq!(
        s.post(
            &path,
            open(keys.clone(), &client.id, &rid),
            Some(&client.token)
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.post(&path, open(keys.clone(), &client.id, &rid), Some(manager))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = s
        .post(
            &path,
            open(keys.clone(), &other_client.id, &rid),
            Some(&coach.token),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("not_your_client"))
    );
    // The opening record: signed by the calling coach, naming exactly the
    // coach and the client with their current keys, at epoch 0.
    let bad_records = [
        record(
            coach,
            rid,
            0,
            RecordHash::NONE,
            &[(coach_bundle, MemberRole::Coach)],
        ),
        record(
            coach,
            rid,
            0,
            RecordHash::NONE,
            &[
                (coach_bundle, MemberRole::Client),
                (client_bundle, MemberRole::Coach),
            ],
        ),
        record(
            coach2,
            rid,
            0,
            RecordHash::NONE,
            &[
                (coach2.identity.bundle(), MemberRole::Coach),
                (client_bundle, MemberRole::Client),
            ],
        ),
        record(
            coach,
            RelationshipId::random(&mut OsRng),
            0,
            RecordHash::NONE,
            &[
                (coach_bundle, MemberRole::Coach),
                (client_bundle, MemberRole::Client),
            ],
        ),
        record(
            coach,
            rid,
            0,
            RecordHash([1; 32]),
            &[
                (coach_bundle, MemberRole::Coach),
                (client_bundle, MemberRole::Client),
            ],
        ),
    ];
    for bad in bad_records {
        let mut body = open(keys.clone(), &client.id, &rid);
        body["membership_record"] = json!(b64(&bad.encode()));
        let (status, answer) = s.post(&path, body, Some(&coach.token)).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("membership_record_invalid")),
            "{answer}"
        );
    }
    let mut resigned = rel.records[0].encode();
    *resigned.last_mut().unwrap() ^= 1;
    let mut body = open(keys.clone(), &client.id, &rid);
    body["membership_record"] = json!(b64(&resigned));
    let (status, answer) = s.post(&path, body, Some(&coach.token)).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("membership_record_invalid")),
        "a record whose signature does not verify: {answer}"
    );
    let (status, body) = s
        .post(
            &path,
            open(keys.clone(), &client.id, &rid),
            Some(&coach.token),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["current_epoch"], 0);
    assert_eq!(
        s.post(&path, open(keys, &client.id, &rid), Some(&coach.token))
            .await
            .0,
        StatusCode::CONFLICT
    );
}

async fn the_client_reads_the_first_message_and_retries_are_idempotent(
    r: &Relationship,
) -> (ItemId, Vec<u8>) {
    let Relationship {
        s,
        coach,
        client,
        coach_bundle,
        rid,
        rel,
        ..
    } = r;
    let rid = *rid;
    // The client unwraps its key and reads the coach's message.
    let (status, wrapped) = s
        .get(
            &format!("/api/relationships/{rid}/keys"),
            Some(&client.token),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(wrapped.as_array().unwrap().len(), 1);
    let unwrapped = WrappedRelationshipKey::decode(&unb64(&wrapped[0]["envelope"]))
        .unwrap()
        .unwrap(&client.identity, coach_bundle, rid, Epoch(0), &BOUND)
        .unwrap();
    assert_eq!(unwrapped.expose_secret(), rel.keys[0].expose_secret());
    let (item, bytes) = message(rel, 0, coach, "Welkom bij Kluis");
    assert_eq!(
        put_bytes(s, &item_path(&rid, &item), bytes.clone(), &coach.token)
            .await
            .0,
        StatusCode::CREATED
    );
    // A retry with the same bytes is the same answer; other bytes conflict.
    let (status, again) = put_bytes(s, &item_path(&rid, &item), bytes.clone(), &coach.token).await;
    assert_eq!(
        (status, again["item_id"].as_str()),
        (StatusCode::OK, Some(item.to_string().as_str()))
    );
    let mut other_bytes = bytes.clone();
    let last = other_bytes.len() - 1;
    other_bytes[last] ^= 1;
    assert_eq!(
        put_bytes(s, &item_path(&rid, &item), other_bytes, &coach.token)
            .await
            .1["error"],
        "item_conflict"
    );
    let (status, got) = s.get(&item_path(&rid, &item), Some(&client.token)).await;
    assert_eq!(status, StatusCode::OK);
    let opened = SealedItem::decode(&unb64(&got["envelope"]))
        .unwrap()
        .open(&unwrapped, item, coach_bundle)
        .unwrap();
    assert_eq!(opened.content(), b"Welkom bij Kluis");
    (item, bytes)
}

async fn moved_relabelled_or_forged_items_are_refused_and_not_stored(
    r: &Relationship,
    bytes: &[u8],
) {
    let Relationship {
        s,
        coach,
        client,
        rid,
        rel,
        ..
    } = r;
    let rid = *rid;
    // Moved, relabelled or forged uploads.
    let rid2 = RelationshipId::random(&mut OsRng);
    let k_other = RelationshipKey::generate(&mut OsRng, rid2, Epoch(0));
    let (moved_id, moved) = message(
        &Rel {
            keys: vec![k_other],
            records: Vec::new(),
        },
        0,
        coach,
        "elders",
    );
    assert_eq!(
        put_bytes(s, &item_path(&rid, &moved_id), moved, &coach.token)
            .await
            .1["error"],
        "header_mismatch"
    );
    let (_, relabelled) = message(rel, 0, coach, "x");
    let other_id = ItemId::random(&mut OsRng);
    assert_eq!(
        put_bytes(s, &item_path(&rid, &other_id), relabelled, &coach.token)
            .await
            .1["error"],
        "header_mismatch"
    );
    let (in_name_of, forged) = message(rel, 0, coach, "ik ben de coach");
    assert_eq!(
        put_bytes(s, &item_path(&rid, &in_name_of), forged, &client.token)
            .await
            .1["error"],
        "header_mismatch"
    );
    let (status, body) = put_bytes(
        s,
        &item_path(&rid, &other_id),
        vec![1, 4, 0, 0],
        &coach.token,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_envelope"))
    );
    let (future_id, mut future) = message(rel, 0, coach, "uit de toekomst");
    future[0] = 2;
    let (status, body) = put_bytes(s, &item_path(&rid, &future_id), future, &coach.token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_version"))
    );
    let (json_id, json_bytes) = message(rel, 0, client, "hoi");
    let wrong_type = s
        .http
        .put(s.url(&item_path(&rid, &json_id)))
        .bearer_auth(&client.token)
        .json(&json!({"x": b64(&json_bytes)}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = vec![0u8; kluis_server::vault::items::MAX_ITEM_ENVELOPE + 1];
    assert_eq!(
        put_bytes(s, &item_path(&rid, &json_id), huge, &client.token)
            .await
            .0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // Nothing of that was stored; the first message is intact.
    let (_, page) = s
        .get(
            &format!("/api/relationships/{rid}/items"),
            Some(&client.token),
        )
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(unb64(&page["items"][0]["envelope"]), bytes);
}

async fn notes_are_invisible_to_the_client(r: &Relationship) {
    let Relationship {
        s,
        coach,
        client,
        rid,
        ..
    } = r;
    let rid = *rid;
    // Coach-private notes: the client cannot see that they exist.
    let notes = NotesKey::generate(&mut OsRng, coach.identity.user_id(), Epoch(0));
    let sealed_notes = notes.seal(&mut OsRng, &coach.identity).unwrap().encode();
    let (status, _) = put_json(
        s,
        "/api/notes-keys/0",
        json!({"envelope": b64(&sealed_notes)}),
        &coach.token,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        put_json(
            s,
            "/api/notes-keys/1",
            json!({"envelope": b64(&sealed_notes)}),
            &coach.token
        )
        .await
        .1["error"],
        "header_mismatch"
    );
    assert_eq!(
        put_json(
            s,
            "/api/notes-keys/0",
            json!({"envelope": b64(&sealed_notes)}),
            &client.token
        )
        .await
        .1["error"],
        "header_mismatch"
    );
    let client_notes = NotesKey::generate(&mut OsRng, client.identity.user_id(), Epoch(0))
        .seal(&mut OsRng, &client.identity)
        .unwrap()
        .encode();
    assert_eq!(
        put_json(
            s,
            "/api/notes-keys/0",
            json!({"envelope": b64(&client_notes)}),
            &client.token
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let note_id = ItemId::random(&mut OsRng);
    let note = seal_note(
        &mut OsRng,
        &notes,
        rid,
        note_id,
        &coach.identity,
        b"eerste indruk",
    )
    .unwrap()
    .encode();
    assert_eq!(
        put_bytes(s, &item_path(&rid, &note_id), note, &coach.token)
            .await
            .0,
        StatusCode::CREATED
    );
    let (_, coach_page) = s
        .get(
            &format!("/api/relationships/{rid}/items"),
            Some(&coach.token),
        )
        .await;
    assert_eq!(coach_page["items"].as_array().unwrap().len(), 2);
    let (_, client_page) = s
        .get(
            &format!("/api/relationships/{rid}/items"),
            Some(&client.token),
        )
        .await;
    assert_eq!(client_page["items"].as_array().unwrap().len(), 1);
    assert!(!client_page.to_string().contains("note"));
    let (status, body) = s.get(&item_path(&rid, &note_id), Some(&client.token)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    assert_eq!(
        s.get("/api/notes-keys", Some(&client.token)).await.1,
        json!([])
    );
}

/// Returns the client's message of epoch 1 and coach 2's bundle as the
/// coach fetched it.
async fn a_second_coach_joins_and_holds_only_the_new_epoch(
    r: &mut Relationship,
) -> (ItemId, IdentityBundle) {
    let Relationship {
        s,
        manager,
        coach,
        coach2,
        client,
        coach_bundle,
        client_bundle,
        rid,
        rel,
        ..
    } = r;
    let rid = *rid;
    // A second coach joins (epoch 1); then the client is removed (epoch 2).
    let coach2_bundle = bundle_of(s, coach, &coach2.id).await;
    let epochs = format!("/api/relationships/{rid}/epochs");
    let k1 = RelationshipKey::generate(&mut OsRng, rid, Epoch(1));
    let keys1 = wrap(&k1, coach, &[coach_bundle, client_bundle, &coach2_bundle]);
    let r1 = record(
        coach,
        rid,
        1,
        rel.records[0].hash(),
        &[
            (coach_bundle, MemberRole::Coach),
            (client_bundle, MemberRole::Client),
            (&coach2_bundle, MemberRole::Coach),
        ],
    );
    let rec1 = b64(&r1.encode());
    let (status, body) = s.post(&epochs, json!({"epoch": 1, "add": [manager_id(s, manager).await], "wrapped_keys": keys1.clone(), "membership_record": rec1}), Some(&coach.token)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("cannot_join")),
        "a manager never joins"
    );
    assert_eq!(
        s.post(
            &epochs,
            json!({"epoch": 1, "add": [coach2.id], "wrapped_keys": keys1.clone(), "membership_record": rec1}),
            Some(&client.token)
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.post(
            &epochs,
            json!({"epoch": 2, "add": [coach2.id], "wrapped_keys": keys1.clone(), "membership_record": rec1}),
            Some(&coach.token)
        )
        .await
        .1["error"],
        "stale_epoch"
    );
    // The record must name who the change leaves, continue the chain, and
    // be the caller's: a record leaving the second coach out, one linked to
    // another record, and one the second coach signed are refused.
    let previous = rel.records[0].hash();
    let bad_records = [
        record(
            coach,
            rid,
            1,
            previous,
            &[
                (coach_bundle, MemberRole::Coach),
                (client_bundle, MemberRole::Client),
            ],
        ),
        record(
            coach,
            rid,
            1,
            RecordHash([7; 32]),
            &[
                (coach_bundle, MemberRole::Coach),
                (client_bundle, MemberRole::Client),
                (&coach2_bundle, MemberRole::Coach),
            ],
        ),
        record(
            coach2,
            rid,
            1,
            previous,
            &[
                (coach_bundle, MemberRole::Coach),
                (client_bundle, MemberRole::Client),
                (&coach2_bundle, MemberRole::Coach),
            ],
        ),
    ];
    for bad in bad_records {
        let (status, body) = s
            .post(
                &epochs,
                json!({"epoch": 1, "add": [coach2.id], "wrapped_keys": keys1.clone(), "membership_record": b64(&bad.encode())}),
                Some(&coach.token),
            )
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("membership_record_invalid")),
            "{body}"
        );
    }
    let (status, body) = s
        .post(
            &epochs,
            json!({"epoch": 1, "add": [coach2.id], "wrapped_keys": keys1, "membership_record": rec1}),
            Some(&coach.token),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    rel.keys.push(k1);
    rel.records.push(r1);
    // Items now go under epoch 1; epoch 0 is stale.
    let (stale_id, stale) = message(rel, 0, client, "te laat");
    assert_eq!(
        put_bytes(s, &item_path(&rid, &stale_id), stale, &client.token)
            .await
            .1["error"],
        "stale_epoch"
    );
    let (by_client, bytes) = message(rel, 1, client, "dank je");
    assert_eq!(
        put_bytes(s, &item_path(&rid, &by_client), bytes, &client.token)
            .await
            .0,
        StatusCode::CREATED
    );
    // Coach 2 holds epoch 1 only: sees the client's message, not the first one.
    let (_, page) = s
        .get(
            &format!("/api/relationships/{rid}/items"),
            Some(&coach2.token),
        )
        .await;
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [by_client.to_string().as_str()]);
    (by_client, coach2_bundle)
}

async fn the_removed_client_keeps_old_epochs_and_cannot_write(
    r: &mut Relationship,
    coach2_bundle: &IdentityBundle,
) {
    let Relationship {
        s,
        coach,
        coach2,
        client,
        coach_bundle,
        client_bundle,
        rid,
        rel,
        ..
    } = r;
    let rid = *rid;
    let epochs = format!("/api/relationships/{rid}/epochs");
    let k2 = RelationshipKey::generate(&mut OsRng, rid, Epoch(2));
    let with_client = wrap(&k2, coach, &[coach_bundle, coach2_bundle, client_bundle]);
    let r2 = record(
        coach,
        rid,
        2,
        rel.records[1].hash(),
        &[
            (coach_bundle, MemberRole::Coach),
            (coach2_bundle, MemberRole::Coach),
        ],
    );
    let rec2 = b64(&r2.encode());
    assert_eq!(
        s.post(
            &epochs,
            json!({"epoch": 2, "remove": [client.id], "wrapped_keys": with_client, "membership_record": rec2}),
            Some(&coach.token)
        )
        .await
        .1["error"],
        "not_a_member"
    );
    let keys2 = wrap(&k2, coach, &[coach_bundle, coach2_bundle]);
    assert_eq!(
        s.post(
            &epochs,
            json!({"epoch": 2, "remove": [client.id], "wrapped_keys": keys2, "membership_record": rec2}),
            Some(&coach.token)
        )
        .await
        .0,
        StatusCode::CREATED
    );
    rel.keys.push(k2);
    rel.records.push(r2);
    // The chain as stored: every record byte for byte, for the removed
    // client up to the record of their removal.
    for who in [&*coach, &*client] {
        let (status, chain) = s
            .get(
                &format!("/api/relationships/{rid}/membership"),
                Some(&who.token),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{chain}");
        let served: Vec<(i64, Vec<u8>)> = chain
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["epoch"].as_i64().unwrap(), unb64(&r["record"])))
            .collect();
        let expected: Vec<(i64, Vec<u8>)> = rel
            .records
            .iter()
            .map(|r| (i64::from(r.epoch().0), r.encode()))
            .collect();
        assert_eq!(served, expected);
    }
    let (after_id, after) = message(rel, 2, coach2, "na het afscheid");
    assert_eq!(
        put_bytes(s, &item_path(&rid, &after_id), after, &coach2.token)
            .await
            .0,
        StatusCode::CREATED
    );
    // The removed client keeps epochs 0–1, gets nothing new, cannot write.
    let (_, page) = s
        .get(
            &format!("/api/relationships/{rid}/items"),
            Some(&client.token),
        )
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        s.get(&item_path(&rid, &after_id), Some(&client.token))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (_, keys) = s
        .get(
            &format!("/api/relationships/{rid}/keys"),
            Some(&client.token),
        )
        .await;
    assert_eq!(
        keys.as_array()
            .unwrap()
            .iter()
            .map(|k| k["epoch"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [0, 1]
    );
    let (late_id, late) = message(rel, 2, client, "nog één ding");
    assert_eq!(
        put_bytes(s, &item_path(&rid, &late_id), late, &client.token)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

async fn only_the_author_deletes_leaving_a_tombstone(
    r: &Relationship,
    item: &ItemId,
    by_client: &ItemId,
) {
    let Relationship {
        s,
        coach,
        coach2,
        client,
        rid,
        rel,
        ..
    } = r;
    let rid = *rid;
    let current = Epoch(u32::try_from(rel.records.len() - 1).unwrap());
    let signed = |who: &User, what: &ItemId, epoch: Epoch| {
        ItemDeletion::sign(&who.identity, rid, *what, epoch, 1_767_312_000_000).encode()
    };
    // Only the author deletes, and only with their signed deletion.
    let (status, body) = delete_bytes(
        s,
        &item_path(&rid, by_client),
        signed(coach, by_client, current),
        &coach.token,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // The client, removed by now, signs nothing any more.
    let (status, _) = delete_bytes(
        s,
        &item_path(&rid, by_client),
        signed(client, by_client, current),
        &client.token,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        s.delete(&item_path(&rid, item), &coach.token).await.0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "a deletion without its signed record"
    );
    let path = item_path(&rid, item);
    let refused = [
        (Vec::new(), "empty"),
        (signed(coach, by_client, current), "another item"),
        (signed(coach, item, Epoch(0)), "an earlier epoch"),
        (signed(coach2, item, current), "another member's signature"),
        (
            ItemDeletion::sign(
                &identity_for(&coach.id),
                rid,
                *item,
                current,
                1_767_312_000_000,
            )
            .encode(),
            "a key the coach never published",
        ),
    ];
    for (bytes, what) in refused {
        let (status, body) = delete_bytes(s, &path, bytes, &coach.token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert_eq!(body["error"], "deletion_invalid", "{what}");
        let (_, still) = s.get(&path, Some(&coach.token)).await;
        assert_eq!(still["deleted"], false, "{what}");
    }
    let deletion = signed(coach, item, current);
    let (status, body) = delete_bytes(s, &path, deletion.clone(), &coach.token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A tombstone both sides see, with the author's deletion; deleting
    // again keeps the first one.
    let (status, _) = delete_bytes(s, &path, signed(coach, item, current), &coach.token).await;
    assert_eq!(status, StatusCode::OK);
    let (_, tomb) = s.get(&path, Some(&client.token)).await;
    assert_eq!(
        (tomb["deleted"].as_bool(), tomb["envelope"].is_null()),
        (Some(true), true)
    );
    assert_eq!(unb64(&tomb["deletion"]), deletion);
}

async fn pages_are_newest_first_with_cursors_bound_to_the_relationship(r: &Relationship) {
    let Relationship {
        s,
        coach,
        coach2,
        rid,
        rel,
        ..
    } = r;
    let rid = *rid;
    // Paging: newest first, bounded, with cursors tied to the relationship.
    for n in 0..7 {
        let (id, bytes) = message(rel, 2, coach, &format!("bericht {n}"));
        assert_eq!(
            put_bytes(s, &item_path(&rid, &id), bytes, &coach.token)
                .await
                .0,
            StatusCode::CREATED
        );
    }
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let query = next
            .as_ref()
            .map_or(String::new(), |c| format!("&before={c}"));
        let (status, page) = s
            .get(
                &format!("/api/relationships/{rid}/items?limit=3{query}"),
                Some(&coach2.token),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["seq"].as_i64().unwrap()),
        );
        next = page["next"].as_str().map(str::to_owned);
        if next.is_none() {
            break;
        }
    }
    assert_eq!(
        seen.len(),
        9,
        "epochs 1 and 2: the client's message, one of coach 2, seven of coach"
    );
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seen:?}"
    );
    let first = seen[seen.len() - 1];
    let cursor = kluis_server::vault::items::encode_cursor(rid.to_string(), first);
    let (_, newer) = s
        .get(
            &format!("/api/relationships/{rid}/items?after={cursor}&limit=100"),
            Some(&coach2.token),
        )
        .await;
    assert_eq!(newer["items"].as_array().unwrap().len(), 8);
    let foreign = kluis_server::vault::items::encode_cursor(
        RelationshipId::random(&mut OsRng).to_string(),
        first,
    );
    let (status, body) = s
        .get(
            &format!("/api/relationships/{rid}/items?before={foreign}"),
            Some(&coach2.token),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_cursor"))
    );
    assert_eq!(
        s.get(
            &format!("/api/relationships/{rid}/items?limit=x"),
            Some(&coach2.token)
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
}

async fn the_manager_sees_members_and_dates_only(r: &Relationship, by_client: &ItemId) {
    let Relationship {
        s,
        org,
        manager,
        client,
        other_client,
        rid,
        ..
    } = r;
    let rid = *rid;
    // The manager sees the relationship's members and dates, nothing else.
    let (status, list) = s
        .get(
            &format!("/api/organisations/{org}/relationships"),
            Some(manager),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["current_epoch"], 2);
    assert!(!list.to_string().contains("envelope"));
    for path in [
        format!("/api/relationships/{rid}"),
        format!("/api/relationships/{rid}/keys"),
        format!("/api/relationships/{rid}/items"),
        item_path(&rid, by_client),
    ] {
        assert_eq!(
            s.get(&path, Some(manager)).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let (status, body) = s
        .patch(
            &format!("/api/relationships/{rid}"),
            json!({"trajectory_end": "2027-03-31"}),
            manager,
        )
        .await;
    assert_eq!(
        (status, body["trajectory_end"].as_str()),
        (StatusCode::OK, Some("2027-03-31"))
    );
    assert_eq!(
        s.patch(
            &format!("/api/relationships/{rid}"),
            json!({"trajectory_end": "2027-04-01"}),
            &client.token
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.patch(
            &format!("/api/relationships/{rid}"),
            json!({"trajectory_end": "2027-04-01"}),
            &other_client.token
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
}

async fn the_database_holds_the_envelopes_as_sent(r: &Relationship) {
    let s = &r.s;
    // The database holds the envelopes exactly as sent: no plaintext.
    let stored: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT envelope FROM items WHERE envelope IS NOT NULL")
            .fetch_all(s.state.store.pool())
            .await
            .unwrap();
    assert!(stored
        .iter()
        .all(|e| !e.windows(6).any(|w| w == b"bericht")));
}

async fn manager_id(s: &TestServer, token: &str) -> String {
    s.get("/api/me", Some(token)).await.1["account_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `GET /api/me/data` (the right of access): the client's account,
/// membership, relationship, the items and files they wrote (counted, not
/// read), their sessions, notices and mail — and nothing of the coach's or
/// the manager's.
async fn the_right_of_access_lists_what_is_held(engine: Engine) {
    let s = TestServer::start(engine).await;
    let (manager, coach, client, rid) = pair(&s).await;
    // Any key of the right relationship and epoch: the server checks only
    // the header.
    let rel = Rel {
        keys: vec![RelationshipKey::generate(&mut OsRng, rid, Epoch(0))],
        records: Vec::new(),
    };
    let mut written = 0;
    for (author, text) in [(&client, "een"), (&client, "twee"), (&coach, "drie")] {
        let (id, bytes) = message(&rel, 0, author, text);
        if author.id == client.id {
            written += bytes.len();
        }
        let (status, body) = put_bytes(&s, &item_path(&rid, &id), bytes, &author.token).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let aid = AttachmentId::random(&mut OsRng);
    let (status, body) = s
        .post(
            &format!("/api/relationships/{rid}/attachments"),
            json!({"attachment_id": aid.to_string()}),
            Some(&client.token),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = s.get("/api/privacy-notice", Some(&client.token)).await;
    assert_eq!(status, StatusCode::OK);

    let (status, data) = s.get("/api/me/data", Some(&client.token)).await;
    assert_eq!(status, StatusCode::OK, "{data}");
    assert_eq!(data["format"], "kluis-data/1");
    assert_eq!(data["account"]["account_id"], client.id);
    assert_eq!(data["account"]["email"], "client@a.nl");
    assert!(data["account"]["created_ms"].as_i64().unwrap() > 0);
    assert_eq!(data["memberships"].as_array().unwrap().len(), 1);
    assert_eq!(data["memberships"][0]["role"], "client");
    assert_eq!(data["relationships"][0]["relationship_id"], rid.to_string());
    assert_eq!(data["relationships"][0]["role"], "client");
    let items = data["items_written"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(
        (&items[0]["kind"], &items[0]["count"], &items[0]["bytes"]),
        (&json!("message"), &json!(2), &json!(written))
    );
    assert_eq!(data["files_uploaded"][0]["count"], 1);
    let sessions = data["sessions"].as_array().unwrap();
    assert!(
        sessions.iter().any(|x| x["current"] == true),
        "{sessions:?}"
    );
    assert_eq!(data["two_factor"]["authenticator"], false);
    assert!(data["two_factor"]["sms_phone"].is_null());
    assert_eq!(data["privacy_notices"][0]["version"], 1);
    assert!(data["mail"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["kind"] == "invitation" && m["created_ms"].as_i64().is_some()));
    assert!(data["events"].is_array());
    // Nothing of anyone else's: no other address, id or session; no
    // secret or mail text.
    let text = data.to_string();
    for foreign in [
        "coach@a.nl",
        "manager@a.nl",
        coach.id.as_str(),
        manager_id(&s, &manager).await.as_str(),
        "opaque_record",
        "body_text",
        "token",
    ] {
        assert!(!text.contains(foreign), "{foreign} in {text}");
    }
    // The coach's own document counts the coach's item, not the client's.
    let (_, theirs) = s.get("/api/me/data", Some(&coach.token)).await;
    assert_eq!(theirs["items_written"][0]["count"], 1);
    assert!(theirs["files_uploaded"].as_array().unwrap().is_empty());
    s.stop().await;
}

/// An organisation with a coach, a client and a relationship between them.
async fn pair(s: &TestServer) -> (String, User, User, RelationshipId) {
    let (org, manager, _) = s.setup_organisation("manager@a.nl", PW).await;
    let (t, id) = s
        .invite_and_register(&org, &manager, "coach@a.nl", "coach", PW)
        .await;
    let coach = publish(s, t, id).await;
    let (t, id) = s
        .invite_and_register(&org, &coach.token, "client@a.nl", "client", PW)
        .await;
    let client = publish(s, t, id).await;
    let rid = RelationshipId::random(&mut OsRng);
    let k0 = RelationshipKey::generate(&mut OsRng, rid, Epoch(0));
    let keys = wrap(
        &k0,
        &coach,
        &[coach.identity.bundle(), client.identity.bundle()],
    );
    let r0 = record(
        &coach,
        rid,
        0,
        RecordHash::NONE,
        &[
            (coach.identity.bundle(), MemberRole::Coach),
            (client.identity.bundle(), MemberRole::Client),
        ],
    );
    let (status, body) = s
        .post(
            &format!("/api/organisations/{org}/relationships"),
            json!({"relationship_id": rid.to_string(), "client_id": client.id, "wrapped_keys": keys, "membership_record": b64(&r0.encode())}),
            Some(&coach.token),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (manager, coach, client, rid)
}

/// The attachment scenario: a coach and a client in a relationship, on a
/// server that takes attachments up to 4 MiB, and a 2.6 MB file encrypted
/// as one stream. The steps of [`attachments_stream_resume_and_check`] run
/// on it in order.
struct Upload {
    s: TestServer,
    manager: String,
    coach: User,
    client: User,
    file: Vec<u8>,
    key: AttachmentKey,
    aid: AttachmentId,
    /// The encrypted stream of `file`.
    stream: Vec<u8>,
    summary: StreamSummary,
    /// The body that completes the upload of `stream`.
    complete: Value,
    /// `/api/relationships/{rid}/attachments`.
    base: String,
    /// `{base}/{aid}`.
    path: String,
}

async fn attachments_stream_resume_and_check(engine: Engine) {
    let u = Upload::cast(engine).await;
    starting_needs_a_current_member_and_a_uuid(&u).await;
    uploads_resume_at_the_reported_offset_and_only_the_uploader_appends(&u).await;
    let cut_id = a_cut_off_connection_keeps_every_byte_that_arrived(&u).await;
    completing_checks_the_digest_once_and_for_all(&u).await;
    the_client_downloads_and_decrypts_against_the_digest(&u).await;
    over_the_size_limit_nothing_completes(&u).await;
    a_stream_naming_another_attachment_cannot_complete(&u).await;
    only_the_uploader_deletes_and_abandoned_uploads_are_removed(&u, &cut_id).await;
    u.s.stop().await;
}

impl Upload {
    async fn cast(engine: Engine) -> Self {
        let s = TestServer::start_with(engine, &[("KLUIS_MAX_ATTACHMENT_MIB", "4")]).await;
        let (manager, coach, client, rid) = pair(&s).await;
        let file: Vec<u8> = (0..2_600_000u32).map(|i| (i % 251) as u8).collect();
        let key = AttachmentKey::generate(&mut OsRng);
        let aid = AttachmentId::random(&mut OsRng);
        let mut stream = Vec::new();
        let summary =
            encrypt_stream(&mut OsRng, &key, aid, file.as_slice(), &mut stream, |_| {}).unwrap();
        let base = format!("/api/relationships/{rid}/attachments");
        let path = format!("{base}/{aid}");
        let complete =
            json!({"length": summary.ciphertext_len, "sha256": hex(&summary.ciphertext_sha256)});
        Self {
            s,
            manager,
            coach,
            client,
            file,
            key,
            aid,
            stream,
            summary,
            complete,
            base,
            path,
        }
    }
}

async fn starting_needs_a_current_member_and_a_uuid(u: &Upload) {
    let Upload {
        s,
        manager,
        coach,
        client,
        aid,
        base,
        ..
    } = u;
    let aid = *aid;
    // Start; only current members; ids are UUIDs.
    assert_eq!(
        s.post(
            base,
            json!({"attachment_id": aid.to_string()}),
            Some(manager)
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.post(base, json!({"attachment_id": "nope"}), Some(&coach.token))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    // Only the streaming append lifts the JSON body limit.
    let huge = json!({"attachment_id": "x".repeat(100 * 1024)});
    assert_eq!(
        s.post(base, huge, Some(&coach.token)).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let (status, st) = s
        .post(
            base,
            json!({"attachment_id": aid.to_string()}),
            Some(&coach.token),
        )
        .await;
    assert_eq!(
        (status, st["length"].as_i64()),
        (StatusCode::CREATED, Some(0))
    );
    assert_eq!(
        s.post(
            base,
            json!({"attachment_id": aid.to_string()}),
            Some(&client.token)
        )
        .await
        .1["error"],
        "attachment_exists"
    );
}

async fn uploads_resume_at_the_reported_offset_and_only_the_uploader_appends(u: &Upload) {
    let Upload {
        s,
        coach,
        client,
        stream,
        complete,
        path,
        ..
    } = u;
    // Upload in two requests, the second resuming at the reported offset;
    // a wrong offset is refused and stores nothing.
    let cut = 1_500_000;
    let (status, st) = patch_bytes(
        s,
        &format!("{path}?offset=0"),
        stream[..cut].to_vec(),
        &coach.token,
    )
    .await;
    assert_eq!(
        (status, st["length"].as_i64()),
        (StatusCode::OK, Some(cut as i64)),
        "{st}"
    );
    let (status, body) = patch_bytes(
        s,
        &format!("{path}?offset=0"),
        stream[..10].to_vec(),
        &coach.token,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("wrong_offset"))
    );
    assert_eq!(
        patch_bytes(
            s,
            &format!("{path}?offset={cut}"),
            stream[cut..].to_vec(),
            &client.token
        )
        .await
        .0,
        StatusCode::NOT_FOUND,
        "only the uploader appends"
    );
    // Half-uploaded: not served, not visible to the other member.
    assert_eq!(
        s.get(path, Some(&client.token)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.get(&format!("{path}/status"), Some(&client.token))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (status, body) = s
        .post(
            &format!("{path}/complete"),
            complete.clone(),
            Some(&coach.token),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("incomplete"))
    );
    let (status, st) = patch_bytes(
        s,
        &format!("{path}?offset={cut}"),
        stream[cut..].to_vec(),
        &coach.token,
    )
    .await;
    assert_eq!(
        (status, st["length"].as_i64()),
        (StatusCode::OK, Some(stream.len() as i64))
    );
}

/// Returns the attachment it uploaded.
async fn a_cut_off_connection_keeps_every_byte_that_arrived(u: &Upload) -> AttachmentId {
    let Upload {
        s,
        coach,
        file,
        key,
        base,
        ..
    } = u;
    // A connection cut off mid-body keeps the rows that reached the
    // database, and the upload resumes at the reported offset.
    let cut_id = AttachmentId::random(&mut OsRng);
    s.post(
        base,
        json!({"attachment_id": cut_id.to_string()}),
        Some(&coach.token),
    )
    .await;
    let mut cut_stream = Vec::new();
    let cut_sum = encrypt_stream(
        &mut OsRng,
        key,
        cut_id,
        file.as_slice(),
        &mut cut_stream,
        |_| {},
    )
    .unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
        let head = format!(
            "PATCH {base}/{cut_id}?offset=0 HTTP/1.1\r\nHost: kluis.test\r\nAuthorization: Bearer {}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
            coach.token,
            cut_stream.len()
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        tcp.write_all(&cut_stream[..2_200_000]).await.unwrap();
        tcp.flush().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let mut stored = 0;
    for _ in 0..50 {
        let (_, st) = s
            .get(&format!("{base}/{cut_id}/status"), Some(&coach.token))
            .await;
        stored = st["length"].as_i64().unwrap();
        // Two full rows, then the tail once the server notices the cut.
        if stored == 2_200_000 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(stored, 2_200_000, "every byte that arrived is kept");
    let at = stored as usize;
    let (status, st) = patch_bytes(
        s,
        &format!("{base}/{cut_id}?offset={at}"),
        cut_stream[at..].to_vec(),
        &coach.token,
    )
    .await;
    assert_eq!(
        (status, st["length"].as_i64()),
        (StatusCode::OK, Some(cut_stream.len() as i64))
    );
    let (status, _) = s
        .post(
            &format!("{base}/{cut_id}/complete"),
            json!({"length": cut_sum.ciphertext_len, "sha256": hex(&cut_sum.ciphertext_sha256)}),
            Some(&coach.token),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    cut_id
}

async fn completing_checks_the_digest_once_and_for_all(u: &Upload) {
    let Upload {
        s,
        coach,
        stream,
        summary,
        complete,
        path,
        ..
    } = u;
    // A wrong digest is refused; the right one completes it.
    let wrong = json!({"length": summary.ciphertext_len, "sha256": hex(&[0u8; 32])});
    assert_eq!(
        s.post(&format!("{path}/complete"), wrong, Some(&coach.token))
            .await
            .1["error"],
        "digest_mismatch"
    );
    let (status, st) = s
        .post(
            &format!("{path}/complete"),
            complete.clone(),
            Some(&coach.token),
        )
        .await;
    assert_eq!(
        (status, st["complete"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{st}"
    );
    assert_eq!(
        s.post(
            &format!("{path}/complete"),
            complete.clone(),
            Some(&coach.token)
        )
        .await
        .0,
        StatusCode::OK,
        "idempotent"
    );
    assert_eq!(
        patch_bytes(
            s,
            &format!("{path}?offset={}", stream.len()),
            vec![1],
            &coach.token
        )
        .await
        .1["error"],
        "already_complete"
    );
}

async fn the_client_downloads_and_decrypts_against_the_digest(u: &Upload) {
    let Upload {
        s,
        manager,
        client,
        file,
        key,
        aid,
        stream,
        summary,
        path,
        ..
    } = u;
    let aid = *aid;
    // The client downloads the stream and decrypts it against the digest.
    let response = s
        .http
        .get(s.url(path))
        .bearer_auth(&client.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-length"].to_str().unwrap(),
        stream.len().to_string()
    );
    let downloaded = response.bytes().await.unwrap();
    assert_eq!(downloaded.as_ref(), stream.as_slice());
    let mut plain = Vec::new();
    decrypt_stream(
        key,
        aid,
        &summary.ciphertext_sha256,
        downloaded.as_ref(),
        &mut plain,
        |_| {},
    )
    .unwrap();
    assert_eq!(plain, *file);
    assert_eq!(s.get(path, Some(manager)).await.0, StatusCode::NOT_FOUND);
}

async fn over_the_size_limit_nothing_completes(u: &Upload) {
    let Upload {
        s, client, base, ..
    } = u;
    // Over the size limit (4 MiB here): 413, and nothing completes.
    let big = AttachmentId::random(&mut OsRng);
    s.post(
        base,
        json!({"attachment_id": big.to_string()}),
        Some(&client.token),
    )
    .await;
    let (status, _) = patch_bytes(
        s,
        &format!("{base}/{big}?offset=0"),
        vec![0u8; 5 * 1024 * 1024],
        &client.token,
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (_, st) = s
        .get(&format!("{base}/{big}/status"), Some(&client.token))
        .await;
    assert!(st["length"].as_i64().unwrap() <= 4 * 1024 * 1024);
    assert_eq!(st["complete"], false);
}

async fn a_stream_naming_another_attachment_cannot_complete(u: &Upload) {
    let Upload {
        s,
        coach,
        key,
        aid,
        base,
        ..
    } = u;
    let aid = *aid;
    // A stream whose header names another attachment cannot complete.
    let other = AttachmentId::random(&mut OsRng);
    s.post(
        base,
        json!({"attachment_id": other.to_string()}),
        Some(&coach.token),
    )
    .await;
    let mut foreign = Vec::new();
    let sum = encrypt_stream(&mut OsRng, key, aid, &b"kort"[..], &mut foreign, |_| {}).unwrap();
    patch_bytes(
        s,
        &format!("{base}/{other}?offset=0"),
        foreign,
        &coach.token,
    )
    .await;
    let (status, body) = s
        .post(
            &format!("{base}/{other}/complete"),
            json!({"length": sum.ciphertext_len, "sha256": hex(&sum.ciphertext_sha256)}),
            Some(&coach.token),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("header_mismatch"))
    );
}

async fn only_the_uploader_deletes_and_abandoned_uploads_are_removed(
    u: &Upload,
    cut_id: &AttachmentId,
) {
    let Upload {
        s,
        coach,
        client,
        aid,
        path,
        ..
    } = u;
    let aid = *aid;
    // Only the uploader deletes; abandoned uploads are cleaned up.
    assert_eq!(s.delete(path, &client.token).await.0, StatusCode::FORBIDDEN);
    sqlx::query("UPDATE attachments SET touched_ms = 1 WHERE sha256 IS NULL")
        .execute(s.state.store.pool())
        .await
        .unwrap();
    assert_eq!(
        kluis_server::vault::attachments::remove_abandoned(&s.state.store)
            .await
            .unwrap(),
        2
    );
    let rows: Vec<String> = sqlx::query_scalar("SELECT attachment_id FROM attachment_chunks")
        .fetch_all(s.state.store.pool())
        .await
        .unwrap();
    // Two requests: 1 MiB + the first request's tail, then 1 MiB + the rest.
    let mut rows = rows;
    rows.sort();
    let mut expected = vec![aid.to_string(); 4];
    // The cut-off upload: two full rows, the tail kept at the cut, the rest.
    expected.extend(vec![cut_id.to_string(); 4]);
    expected.sort();
    assert_eq!(rows, expected, "only the complete streams' rows remain");
    assert_eq!(s.delete(path, &coach.token).await.0, StatusCode::OK);
    assert_eq!(
        s.get(path, Some(&client.token)).await.0,
        StatusCode::NOT_FOUND
    );
}
