//! The authorization matrix: every route of the OpenAPI document × nine
//! actors, on both engines. Each cell asserts the exact status code. A
//! route in the document without a row here, or a row without a route,
//! fails the test, so a new route cannot ship unclassified.
//!
//! Beyond status codes: no answer to anyone contains an envelope of
//! another relationship, and no answer to a manager contains any item,
//! attachment byte, wrapped key, sealed private key or notes key.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kluis_crypto::attachment::{encrypt_stream, AttachmentKey};
use kluis_crypto::deletion::ItemDeletion;
use kluis_crypto::identity::IdentityKeyPair;
use kluis_crypto::ids::{AttachmentId, Epoch, ItemId, RelationshipId, UserId};
use kluis_crypto::item::{seal_item, seal_note, SharedItemKind};
use kluis_crypto::key_schedule::ExportKey;
use kluis_crypto::membership::{Member, MemberRole, MembershipRecord, RecordHash};
use kluis_crypto::notes::NotesKey;
use kluis_crypto::recovery::RecoveryKey;
use kluis_crypto::relationship::RelationshipKey;
use kluis_server::store::Engine;
use kluis_test_support::{b64, both_engines};
use rand::rngs::OsRng;
use serde_json::{json, Value};

use crate::common::TestServer;

const PW: &str = "Correct-Horse-9";

both_engines!(every_route_for_every_actor);

/// The actors, in the column order of the table.
const ACTORS: [&str; 9] = [
    "anonymous",
    "manager",
    "other_manager",
    "coach",
    "other_coach",
    "client",
    "other_client",
    "removed",
    "disabled",
];

/// Expected status per route, one code per actor in `ACTORS` order.
#[rustfmt::skip]
const EXPECTED: &[(&str, [u16; 9])] = &[
    // route                                                                        anon mgr  oMgr coach oCoach client oClient removed disabled
    ("GET /healthz",                                                                  [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /readyz",                                                                   [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /metrics",                                                                  [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST /api/login/start",                                                         [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST /api/login/finish",                                                        [401, 401, 401, 401, 401, 401, 401, 401, 401]),
    ("POST /api/setup/start",                                                         [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST /api/setup/finish",                                                        [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST /api/password-reset",                                                      [202, 202, 202, 202, 202, 202, 202, 202, 202]),
    ("POST /api/password-reset/start",                                                [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST /api/password-reset/finish",                                               [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST /api/email/verify",                                                        [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST /api/password-reset/sms",                                                  [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST /api/email-change/confirm",                                                [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST /api/email-change/refuse",                                                 [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    // Sessions of the matrix are fresh (a login just proved the password);
    // stale ones are refused: tests/integration/takeover.rs.
    ("PUT /api/me/email",                                                             [401, 202, 202, 202, 202, 202, 202, 202, 202]),
    // Nothing proposed for anyone here (proposals: takeover.rs).
    ("GET /api/me/email-change",                                                      [401, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("POST /api/me/email-change/confirm",                                             [401, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("POST /api/me/email-change/refuse",                                              [401, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("POST /api/reauth/start",                                                        [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST /api/reauth/finish",                                                       [401, 401, 401, 401, 401, 401, 401, 401, 401]),
    ("POST /api/account/delete/cancel",                                               [401, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("POST /api/invitations/lookup",                                                  [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST /api/invitations/register/start",                                          [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST /api/invitations/register/finish",                                         [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST /api/invitations/accept",                                                  [401, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("GET /api/me",                                                                   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/me/data",                                                              [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("PUT /api/me/preferences",                                                       [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST /api/login/second-factor",                                                 [401, 401, 401, 401, 401, 401, 401, 401, 401]),
    ("POST /api/login/second-factor/sms",                                             [401, 401, 401, 401, 401, 401, 401, 401, 401]),
    ("POST /api/two-factor/sms",                                                      [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST /api/two-factor/sms/confirm",                                              [401, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("GET /api/two-factor",                                                           [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST /api/two-factor/totp",                                                     [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    // A wrong code: refused for everyone logged in (success: tests/two_factor.rs).
    ("POST /api/two-factor/totp/confirm",                                             [401, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST /api/two-factor/recovery-codes",                                           [401, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST /api/two-factor/disable",                                                  [401, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("PUT /api/organisations/{organisation_id}/two-factor",                           [401, 200, 403, 403, 403, 403, 403, 403, 403]),
    ("GET /api/privacy-notice",                                                       [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    // A stale version: refused for everyone logged in (success: tests/privacy.rs).
    ("POST /api/privacy-notice/acknowledge",                                          [401, 409, 409, 409, 409, 409, 409, 409, 409]),
    ("GET /api/sessions",                                                             [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("DELETE /api/sessions/{session_id}",                                             [401, 404, 404, 200, 404, 404, 404, 404, 404]),
    ("POST /api/logout",                                                              [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST /api/password/start",                                                      [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST /api/password/finish",                                                     [401, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST /api/account/delete/start",                                                [401, 400, 400, 400, 400, 200, 200, 400, 200]),
    ("POST /api/account/delete/finish",                                               [401, 401, 401, 401, 401, 401, 401, 401, 401]),
    ("POST /api/logout/everywhere",                                                   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/keys/mine",                                                            [401, 404, 404, 200, 200, 200, 200, 200, 200]),
    ("GET /api/users/{account_id}/keys",                                              [401, 200, 404, 200, 200, 404, 404, 200, 404]),
    ("GET /api/notes-keys",                                                           [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("PUT /api/notes-keys/{generation}",                                              [401, 403, 403, 200, 200, 403, 403, 200, 403]),
    ("POST /api/organisations/{organisation_id}/invitations",                         [401, 201, 403, 403, 403, 403, 403, 403, 403]),
    // A manager sees and withdraws all of them, a coach their own (the
    // cell's invitation is the coach's: other coaches are answered 404).
    ("GET /api/organisations/{organisation_id}/invitations",                          [401, 200, 403, 200, 200, 403, 403, 200, 403]),
    ("DELETE /api/organisations/{organisation_id}/invitations/{invitation_id}",       [401, 200, 403, 200, 404, 403, 403, 404, 403]),
    ("GET /api/organisations/{organisation_id}/members",                              [401, 200, 403, 200, 200, 200, 200, 200, 403]),
    ("PATCH /api/organisations/{organisation_id}/members/{account_id}",               [401, 200, 403, 403, 403, 403, 403, 403, 403]),
    ("POST /api/organisations/{organisation_id}/members/{account_id}/disable",        [401, 200, 403, 403, 403, 403, 403, 403, 403]),
    ("POST /api/organisations/{organisation_id}/members/{account_id}/enable",         [401, 200, 403, 403, 403, 403, 403, 403, 403]),
    ("GET /api/organisations/{organisation_id}/relationships",                        [401, 200, 403, 403, 403, 403, 403, 403, 403]),
    ("POST /api/organisations/{organisation_id}/relationships",                       [401, 403, 403, 201, 400, 403, 403, 400, 403]),
    ("GET /api/relationships",                                                        [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/relationships/{relationship_id}",                                      [401, 404, 404, 200, 404, 200, 404, 200, 404]),
    ("PATCH /api/relationships/{relationship_id}",                                    [401, 200, 404, 200, 404, 403, 404, 403, 404]),
    ("GET /api/relationships/{relationship_id}/keys",                                 [401, 404, 404, 200, 404, 200, 404, 200, 404]),
    ("GET /api/relationships/{relationship_id}/membership",                           [401, 404, 404, 200, 404, 200, 404, 200, 404]),
    ("GET /api/relationships/{relationship_id}/items",                                [401, 404, 404, 200, 404, 200, 404, 200, 404]),
    ("GET /api/relationships/{relationship_id}/items/{item_id}",                      [401, 404, 404, 200, 404, 200, 404, 404, 404]),
    ("PUT /api/relationships/{relationship_id}/items/{item_id}",                      [401, 404, 404, 201, 404, 201, 404, 403, 404]),
    ("DELETE /api/relationships/{relationship_id}/items/{item_id}",                   [401, 404, 404, 200, 404, 403, 404, 404, 404]),
    ("POST /api/relationships/{relationship_id}/attachments",                         [401, 404, 404, 201, 404, 201, 404, 403, 404]),
    ("PATCH /api/relationships/{relationship_id}/attachments/{attachment_id}",        [401, 404, 404, 200, 404, 404, 404, 404, 404]),
    ("POST /api/relationships/{relationship_id}/attachments/{attachment_id}/complete", [401, 404, 404, 200, 404, 404, 404, 404, 404]),
    ("GET /api/relationships/{relationship_id}/attachments/{attachment_id}/status",   [401, 404, 404, 200, 404, 200, 404, 404, 404]),
    ("GET /api/relationships/{relationship_id}/attachments/{attachment_id}",          [401, 404, 404, 200, 404, 200, 404, 404, 404]),
    ("DELETE /api/relationships/{relationship_id}/attachments/{attachment_id}",       [401, 404, 404, 200, 404, 403, 404, 404, 404]),
    ("PUT /api/keys",                                                                 [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST /api/relationships/{relationship_id}/epochs",                              [401, 404, 404, 201, 404, 403, 404, 403, 404]),
];

struct Actor {
    id: Option<String>,
    identity: Option<IdentityKeyPair>,
}

struct Fixture {
    org: String,
    rel: RelationshipId,
    epoch: u32,
    /// The hash of the relationship's last membership record.
    head: RecordHash,
    actors: BTreeMap<&'static str, Actor>,
    target: String,
    item: ItemId,
    attachment: AttachmentId,
    /// Envelopes of the other relationship: nobody's answer here may hold them.
    foreign: Vec<String>,
    /// Every envelope, wrapped key, sealed identity and notes key: no
    /// answer to a manager may hold any of them.
    secrets: Vec<String>,
}

fn keys_body(identity: &IdentityKeyPair) -> (Value, [String; 2]) {
    let export = ExportKey::generate(&mut OsRng);
    let recovery = RecoveryKey::random(&mut OsRng);
    let p = b64(&identity
        .seal_with_password(&export, &mut OsRng)
        .unwrap()
        .encode());
    let r = b64(&identity
        .seal_with_recovery_key(&recovery, &mut OsRng)
        .unwrap()
        .encode());
    (
        json!({"bundle": b64(&identity.bundle().encode()), "sealed_password": p, "sealed_recovery": r}),
        [p, r],
    )
}

async fn send(
    s: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &Body,
) -> (u16, Vec<u8>) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = s.http.request(method, s.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req = match body {
        Body::None => req,
        Body::Json(v) => req.json(v),
        Body::Bytes(b) => req
            .header("content-type", "application/octet-stream")
            .body(b.clone()),
    };
    let response = req.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

async fn ok_json(s: &TestServer, method: &str, path: &str, token: &str, body: Body) -> Value {
    let (status, bytes) = send(s, method, path, Some(token), &body).await;
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {}",
        String::from_utf8_lossy(&bytes)
    );
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

enum Body {
    None,
    Json(Value),
    Bytes(Vec<u8>),
}

/// A session for an actor without running OPAQUE (that is tested
/// elsewhere): straight into the database, as a login would.
async fn token(s: &TestServer, account_id: &str) -> String {
    let mut conn = s.state.store.pool().acquire().await.unwrap();
    kluis_server::auth::sessions::start(
        &mut conn,
        account_id.parse().unwrap(),
        "matrix",
        Duration::from_secs(3600),
        kluis_server::clock::now_ms(),
    )
    .await
    .unwrap()
    .token
    .as_str()
    .to_owned()
}

fn wrap(key: &RelationshipKey, sender: &IdentityKeyPair, to: &[&IdentityKeyPair]) -> Vec<String> {
    // The server cannot check which record a wrapped key binds.
    to.iter()
        .map(|r| {
            b64(&key
                .wrap(&mut OsRng, sender, r.bundle(), &RecordHash::NONE)
                .unwrap()
                .encode())
        })
        .collect()
}

/// A membership record by `signer` for `coaches` and `clients`.
fn record(
    signer: &IdentityKeyPair,
    rel: RelationshipId,
    epoch: u32,
    previous: RecordHash,
    coaches: &[&IdentityKeyPair],
    clients: &[&IdentityKeyPair],
) -> MembershipRecord {
    let entry = |k: &&IdentityKeyPair, role| Member {
        user_id: k.user_id(),
        role,
        fingerprint: k.bundle().fingerprint(),
    };
    // An actor who is both (the client opening with themselves) appears
    // once: the record is well formed, and the server refuses the request.
    let members = coaches
        .iter()
        .map(|k| entry(k, MemberRole::Coach))
        .chain(
            clients
                .iter()
                .filter(|k| coaches.iter().all(|c| c.user_id() != k.user_id()))
                .map(|k| entry(k, MemberRole::Client)),
        )
        .collect();
    MembershipRecord::sign(signer, rel, Epoch(epoch), previous, 1, members).unwrap()
}

fn stream_for(id: AttachmentId) -> (Vec<u8>, String) {
    let key = AttachmentKey::generate(&mut OsRng);
    let mut out = Vec::new();
    let summary = encrypt_stream(&mut OsRng, &key, id, &b"verslag"[..], &mut out, |_| {}).unwrap();
    let hex: String = summary
        .ciphertext_sha256
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (out, hex)
}

async fn upload(
    s: &TestServer,
    rel: &RelationshipId,
    token: &str,
    complete: bool,
) -> (AttachmentId, Vec<u8>) {
    let id = AttachmentId::random(&mut OsRng);
    let base = format!("/api/relationships/{rel}/attachments");
    ok_json(
        s,
        "POST",
        &base,
        token,
        Body::Json(json!({"attachment_id": id.to_string()})),
    )
    .await;
    let (bytes, hex) = stream_for(id);
    if complete {
        ok_json(
            s,
            "PATCH",
            &format!("{base}/{id}?offset=0"),
            token,
            Body::Bytes(bytes.clone()),
        )
        .await;
        ok_json(
            s,
            "POST",
            &format!("{base}/{id}/complete"),
            token,
            Body::Json(json!({"length": bytes.len(), "sha256": hex})),
        )
        .await;
    }
    (id, bytes)
}

async fn fixture(s: &TestServer) -> Fixture {
    let (org, manager, manager_id) = s.setup_organisation("manager@a.nl", PW).await;
    let mut ids: BTreeMap<&'static str, String> = BTreeMap::new();
    ids.insert("manager", manager_id);
    let mut tokens: BTreeMap<&'static str, String> = BTreeMap::new();
    for (name, email) in [
        ("coach", "coach@a.nl"),
        ("other_coach", "coach2@a.nl"),
        ("removed", "removed@a.nl"),
        ("target", "target@a.nl"),
    ] {
        let (t, id) = s
            .invite_and_register(&org, &manager, email, "coach", PW)
            .await;
        ids.insert(name, id);
        tokens.insert(name, t);
    }
    for (name, inviter, email) in [
        ("client", "coach", "client@a.nl"),
        ("disabled", "coach", "disabled@a.nl"),
        ("other_client", "other_coach", "client2@a.nl"),
    ] {
        let (t, id) = s
            .invite_and_register(&org, &tokens[inviter], email, "client", PW)
            .await;
        ids.insert(name, id);
        tokens.insert(name, t);
    }
    let other_org = kluis_server::org::admin::create_organisation(
        &s.state.store,
        &s.state.config,
        "Ander",
        "boss@b.nl",
    )
    .await
    .unwrap()
    .0;
    let boss_token = kluis_test_support::token_of(&s.mail("boss@b.nl", "invitation").await);
    let (_, boss) = s
        .register(
            "/api/invitations/register",
            &boss_token,
            PW,
            json!({"display_name": "Boss"}),
        )
        .await;
    ids.insert(
        "other_manager",
        boss["account_id"].as_str().unwrap().to_owned(),
    );
    assert!(!other_org.is_empty());

    let mut secrets = Vec::new();
    let mut identities: BTreeMap<&'static str, IdentityKeyPair> = BTreeMap::new();
    for name in [
        "coach",
        "other_coach",
        "removed",
        "target",
        "client",
        "disabled",
        "other_client",
    ] {
        let identity = IdentityKeyPair::generate(&mut OsRng, ids[name].parse::<UserId>().unwrap());
        let (body, sealed) = keys_body(&identity);
        ok_json(s, "PUT", "/api/keys", &tokens[name], Body::Json(body)).await;
        secrets.extend(sealed);
        identities.insert(name, identity);
    }
    // Managers hold no published keys (they never read dialogue), but an
    // identity of their own lets their cells send well-formed requests.
    for name in ["manager", "other_manager"] {
        identities.insert(
            name,
            IdentityKeyPair::generate(&mut OsRng, ids[name].parse::<UserId>().unwrap()),
        );
    }
    let c = &identities["coach"];

    // The relationship: coach + client; `removed` joins at 1, leaves at 2.
    let rel = RelationshipId::random(&mut OsRng);
    let k0 = RelationshipKey::generate(&mut OsRng, rel, Epoch(0));
    let w0 = wrap(&k0, c, &[c, &identities["client"]]);
    let r0 = record(c, rel, 0, RecordHash::NONE, &[c], &[&identities["client"]]);
    ok_json(s, "POST", &format!("/api/organisations/{org}/relationships"), &tokens["coach"],
        Body::Json(json!({"relationship_id": rel.to_string(), "client_id": ids["client"], "wrapped_keys": w0.clone(), "membership_record": b64(&r0.encode())}))).await;
    let k1 = RelationshipKey::generate(&mut OsRng, rel, Epoch(1));
    let w1 = wrap(&k1, c, &[c, &identities["client"], &identities["removed"]]);
    let r1 = record(
        c,
        rel,
        1,
        r0.hash(),
        &[c, &identities["removed"]],
        &[&identities["client"]],
    );
    ok_json(
        s,
        "POST",
        &format!("/api/relationships/{rel}/epochs"),
        &tokens["coach"],
        Body::Json(json!({"epoch": 1, "add": [ids["removed"]], "wrapped_keys": w1.clone(), "membership_record": b64(&r1.encode())})),
    )
    .await;
    let k2 = RelationshipKey::generate(&mut OsRng, rel, Epoch(2));
    let w2 = wrap(&k2, c, &[c, &identities["client"]]);
    let r2 = record(c, rel, 2, r1.hash(), &[c], &[&identities["client"]]);
    ok_json(
        s,
        "POST",
        &format!("/api/relationships/{rel}/epochs"),
        &tokens["coach"],
        Body::Json(json!({"epoch": 2, "remove": [ids["removed"]], "wrapped_keys": w2.clone(), "membership_record": b64(&r2.encode())})),
    )
    .await;
    secrets.extend(w0.into_iter().chain(w1).chain(w2));
    let item = ItemId::random(&mut OsRng);
    let env = seal_item(&mut OsRng, &k2, item, SharedItemKind::Message, c, b"geheim")
        .unwrap()
        .encode();
    ok_json(
        s,
        "PUT",
        &format!("/api/relationships/{rel}/items/{item}"),
        &tokens["coach"],
        Body::Bytes(env.clone()),
    )
    .await;
    secrets.push(b64(&env));
    let notes = NotesKey::generate(&mut OsRng, c.user_id(), Epoch(0));
    let sealed_notes = b64(&notes.seal(&mut OsRng, c).unwrap().encode());
    ok_json(
        s,
        "PUT",
        "/api/notes-keys/0",
        &tokens["coach"],
        Body::Json(json!({"envelope": sealed_notes.clone()})),
    )
    .await;
    secrets.push(sealed_notes);
    let note_id = ItemId::random(&mut OsRng);
    let note = seal_note(&mut OsRng, &notes, rel, note_id, c, b"notitie")
        .unwrap()
        .encode();
    ok_json(
        s,
        "PUT",
        &format!("/api/relationships/{rel}/items/{note_id}"),
        &tokens["coach"],
        Body::Bytes(note.clone()),
    )
    .await;
    secrets.push(b64(&note));
    let (attachment, bytes) = upload(s, &rel, &tokens["coach"], true).await;
    secrets.push(b64(&bytes));

    // Another relationship (other coach + other client) whose envelopes
    // must never show up in the matrix.
    let oc = &identities["other_coach"];
    let orel = RelationshipId::random(&mut OsRng);
    let ok0 = RelationshipKey::generate(&mut OsRng, orel, Epoch(0));
    let ow = wrap(&ok0, oc, &[oc, &identities["other_client"]]);
    let or0 = record(
        oc,
        orel,
        0,
        RecordHash::NONE,
        &[oc],
        &[&identities["other_client"]],
    );
    ok_json(s, "POST", &format!("/api/organisations/{org}/relationships"), &tokens["other_coach"],
        Body::Json(json!({"relationship_id": orel.to_string(), "client_id": ids["other_client"], "wrapped_keys": ow.clone(), "membership_record": b64(&or0.encode())}))).await;
    let oitem = ItemId::random(&mut OsRng);
    let oenv = seal_item(
        &mut OsRng,
        &ok0,
        oitem,
        SharedItemKind::Message,
        oc,
        b"anders",
    )
    .unwrap()
    .encode();
    ok_json(
        s,
        "PUT",
        &format!("/api/relationships/{orel}/items/{oitem}"),
        &tokens["other_coach"],
        Body::Bytes(oenv.clone()),
    )
    .await;
    let (_, obytes) = upload(s, &orel, &tokens["other_coach"], true).await;
    let mut foreign = ow;
    foreign.push(b64(&oenv));
    foreign.push(b64(&obytes));
    secrets.extend(foreign.clone());

    // The disabled account: a client of the coach, in a relationship of
    // its own, disabled by the manager.
    let drel = RelationshipId::random(&mut OsRng);
    let dk = RelationshipKey::generate(&mut OsRng, drel, Epoch(0));
    ok_json(s, "POST", &format!("/api/organisations/{org}/relationships"), &tokens["coach"],
        Body::Json(json!({"relationship_id": drel.to_string(), "client_id": ids["disabled"], "wrapped_keys": wrap(&dk, c, &[c, &identities["disabled"]]),
            "membership_record": b64(&record(c, drel, 0, RecordHash::NONE, &[c], &[&identities["disabled"]]).encode())}))).await;
    ok_json(
        s,
        "POST",
        &format!(
            "/api/organisations/{org}/members/{}/disable",
            ids["disabled"]
        ),
        &manager,
        Body::None,
    )
    .await;

    let mut actors = BTreeMap::new();
    actors.insert(
        "anonymous",
        Actor {
            id: None,
            identity: None,
        },
    );
    for name in ACTORS.iter().skip(1) {
        actors.insert(
            *name,
            Actor {
                id: Some(ids[name].clone()),
                identity: identities.remove(name),
            },
        );
    }
    Fixture {
        org,
        rel,
        epoch: 2,
        head: r2.hash(),
        target: ids["target"].clone(),
        actors,
        item,
        attachment,
        foreign,
        secrets,
    }
}

/// The request one cell sends: a path with its parameters filled in and a
/// body that would succeed for an actor allowed to use the route.
async fn request(
    s: &TestServer,
    f: &Fixture,
    route: &str,
    actor: &Actor,
    n: usize,
) -> (String, Body) {
    let (method, template) = route.split_once(' ').unwrap();
    let rel = f.rel;
    let mut path = template
        .replace("{organisation_id}", &f.org)
        .replace("{relationship_id}", &rel.to_string())
        .replace("{item_id}", &f.item.to_string())
        .replace("{attachment_id}", &f.attachment.to_string())
        .replace("{account_id}", &f.target)
        .replace("{generation}", "7");
    let stranger;
    let own: &IdentityKeyPair = match &actor.identity {
        Some(identity) => identity,
        None => {
            stranger = IdentityKeyPair::generate(&mut OsRng, UserId::random(&mut OsRng));
            &stranger
        }
    };
    let bogus = "A".repeat(43);
    // A fresh coach session for setting up the cell (a logout-everywhere
    // cell may have ended earlier ones).
    let coach_token = token(s, f.actors["coach"].id.as_deref().unwrap()).await;
    let body = match (method, template) {
        ("POST", "/api/login/start") => {
            let (ke1, _) =
                kluis_crypto::opaque::client_login_start(&mut OsRng, PW.as_bytes()).unwrap();
            Body::Json(json!({"email": "coach@a.nl", "request": b64(&ke1)}))
        }
        ("POST", "/api/login/finish" | "/api/account/delete/finish" | "/api/reauth/finish") => {
            Body::Json(json!({"login_id": "none", "finalization": b64(&[0; 64])}))
        }
        ("POST", "/api/password/start") => {
            let (ke1, _) =
                kluis_crypto::opaque::client_login_start(&mut OsRng, PW.as_bytes()).unwrap();
            let (req, _) =
                kluis_crypto::opaque::client_registration_start(&mut OsRng, PW.as_bytes()).unwrap();
            Body::Json(json!({"login_request": b64(&ke1), "registration_request": b64(&req)}))
        }
        ("POST", "/api/password/finish") => Body::Json(json!({
            "login_id": "none", "finalization": b64(&[0; 64]), "upload": b64(&[0; 8]),
            "sealed_password": b64(&[0; 8])
        })),
        ("POST", "/api/account/delete/start" | "/api/reauth/start") => {
            let (ke1, _) =
                kluis_crypto::opaque::client_login_start(&mut OsRng, PW.as_bytes()).unwrap();
            Body::Json(json!({"request": b64(&ke1)}))
        }
        ("POST", "/api/password-reset") => Body::Json(json!({"email": format!("x{n}@a.nl")})),
        (
            "POST",
            "/api/setup/start" | "/api/invitations/register/start" | "/api/password-reset/start",
        ) => {
            let (req, _) =
                kluis_crypto::opaque::client_registration_start(&mut OsRng, PW.as_bytes()).unwrap();
            Body::Json(json!({"token": bogus, "request": b64(&req)}))
        }
        ("POST", "/api/setup/finish") => Body::Json(
            json!({"token": bogus, "upload": b64(&[0; 8]), "organisation_name": "X", "email": "x@x.nl", "display_name": "X"}),
        ),
        ("POST", "/api/invitations/register/finish") => {
            Body::Json(json!({"token": bogus, "upload": b64(&[0; 8]), "display_name": "X"}))
        }
        ("POST", "/api/password-reset/finish") => {
            Body::Json(json!({"token": bogus, "upload": b64(&[0; 8])}))
        }
        (
            "POST",
            "/api/email/verify"
            | "/api/invitations/lookup"
            | "/api/invitations/accept"
            | "/api/password-reset/sms"
            | "/api/email-change/confirm"
            | "/api/email-change/refuse",
        ) => Body::Json(json!({"token": bogus})),
        ("PUT", "/api/me/email") => Body::Json(json!({"email": format!("moved{n}@a.nl")})),
        ("DELETE", "/api/sessions/{session_id}") => {
            let mut conn = s.state.store.pool().acquire().await.unwrap();
            let coach = f.actors["coach"].id.clone().unwrap();
            let session = kluis_server::auth::sessions::start(
                &mut conn,
                coach.parse().unwrap(),
                "victim",
                Duration::from_secs(60),
                kluis_server::clock::now_ms(),
            )
            .await
            .unwrap();
            path = path.replace("{session_id}", &session.id.to_string());
            Body::None
        }
        ("POST", "/api/privacy-notice/acknowledge") => Body::Json(json!({"version": 0})),
        ("POST", "/api/login/second-factor/sms") => Body::Json(json!({"pending_login": bogus})),
        ("POST", "/api/two-factor/sms") => Body::Json(json!({"phone": "+31612345678"})),
        ("POST", "/api/login/second-factor") => {
            Body::Json(json!({"pending_login": bogus, "method": "totp", "code": "123456"}))
        }
        (
            "POST",
            "/api/two-factor/totp/confirm"
            | "/api/two-factor/sms/confirm"
            | "/api/two-factor/recovery-codes"
            | "/api/two-factor/disable",
        ) => Body::Json(json!({"code": "000000"})),
        ("PUT", "/api/organisations/{organisation_id}/two-factor") => {
            Body::Json(json!({"required": false}))
        }
        ("PUT", "/api/me/preferences") => {
            Body::Json(json!({"language": "en", "activity_emails": n % 2 == 0}))
        }
        ("PUT", "/api/keys") => Body::Json(keys_body(own).0),
        ("PUT", "/api/notes-keys/{generation}") => {
            let sealed = NotesKey::generate(&mut OsRng, own.user_id(), Epoch(7))
                .seal(&mut OsRng, own)
                .unwrap();
            Body::Json(json!({"envelope": b64(&sealed.encode())}))
        }
        ("POST", "/api/organisations/{organisation_id}/invitations") => {
            Body::Json(json!({"email": format!("new{n}@a.nl"), "role": "coach"}))
        }
        ("DELETE", "/api/organisations/{organisation_id}/invitations/{invitation_id}") => {
            // A fresh invitation of the coach's for each cell.
            let sent = ok_json(
                s,
                "POST",
                &format!("/api/organisations/{}/invitations", f.org),
                &coach_token,
                Body::Json(json!({"email": format!("pending{n}@a.nl"), "role": "client"})),
            )
            .await;
            path = path.replace("{invitation_id}", sent["invitation_id"].as_str().unwrap());
            Body::None
        }
        ("PATCH", "/api/organisations/{organisation_id}/members/{account_id}") => {
            Body::Json(json!({"display_name": format!("Target {n}")}))
        }
        ("POST", "/api/organisations/{organisation_id}/relationships") => {
            let client = f.actors["client"].identity.as_ref().unwrap();
            let new = RelationshipId::random(&mut OsRng);
            let k = RelationshipKey::generate(&mut OsRng, new, Epoch(0));
            let r0 = record(own, new, 0, RecordHash::NONE, &[own], &[client]);
            Body::Json(
                json!({"relationship_id": new.to_string(), "client_id": client.user_id().to_string(), "wrapped_keys": wrap(&k, own, &[own, client]), "membership_record": b64(&r0.encode())}),
            )
        }
        ("PATCH", "/api/relationships/{relationship_id}") => {
            Body::Json(json!({"trajectory_start": "2026-01-01"}))
        }
        ("PUT", "/api/relationships/{relationship_id}/items/{item_id}") => {
            // Sealed under a key of the right relationship and epoch: the
            // server can only check the header, and the author is the actor.
            let id = ItemId::random(&mut OsRng);
            path = format!("/api/relationships/{rel}/items/{id}");
            let k = RelationshipKey::generate(&mut OsRng, rel, Epoch(f.epoch));
            Body::Bytes(
                seal_item(&mut OsRng, &k, id, SharedItemKind::Message, own, b"hallo")
                    .unwrap()
                    .encode(),
            )
        }
        ("DELETE", "/api/relationships/{relationship_id}/items/{item_id}") => {
            let id = ItemId::random(&mut OsRng);
            let k = RelationshipKey::generate(&mut OsRng, rel, Epoch(f.epoch));
            let coach = f.actors["coach"].identity.as_ref().unwrap();
            let env = seal_item(&mut OsRng, &k, id, SharedItemKind::Message, coach, b"weg")
                .unwrap()
                .encode();
            ok_json(
                s,
                "PUT",
                &format!("/api/relationships/{rel}/items/{id}"),
                &coach_token,
                Body::Bytes(env),
            )
            .await;
            path = format!("/api/relationships/{rel}/items/{id}");
            // Signed by the actor: only the author's deletion is accepted.
            let deletion = ItemDeletion::sign(own, rel, id, Epoch(f.epoch), 1);
            Body::Bytes(deletion.encode())
        }
        ("POST", "/api/relationships/{relationship_id}/attachments") => {
            Body::Json(json!({"attachment_id": AttachmentId::random(&mut OsRng).to_string()}))
        }
        ("PATCH", "/api/relationships/{relationship_id}/attachments/{attachment_id}") => {
            let (id, _) = upload(s, &rel, &coach_token, false).await;
            path = format!("/api/relationships/{rel}/attachments/{id}?offset=0");
            Body::Bytes(stream_for(id).0)
        }
        ("POST", "/api/relationships/{relationship_id}/attachments/{attachment_id}/complete") => {
            let (id, _) = upload(s, &rel, &coach_token, false).await;
            let (bytes, hex) = stream_for(id);
            let base = format!("/api/relationships/{rel}/attachments/{id}");
            ok_json(
                s,
                "PATCH",
                &format!("{base}?offset=0"),
                &coach_token,
                Body::Bytes(bytes.clone()),
            )
            .await;
            path = format!("{base}/complete");
            Body::Json(json!({"length": bytes.len(), "sha256": hex}))
        }
        ("DELETE", "/api/relationships/{relationship_id}/attachments/{attachment_id}") => {
            let (id, _) = upload(s, &rel, &coach_token, true).await;
            path = format!("/api/relationships/{rel}/attachments/{id}");
            Body::None
        }
        ("POST", "/api/relationships/{relationship_id}/epochs") => {
            let k = RelationshipKey::generate(&mut OsRng, rel, Epoch(f.epoch + 1));
            let client = f.actors["client"].identity.as_ref().unwrap();
            let coach = f.actors["coach"].identity.as_ref().unwrap();
            let next = record(own, rel, f.epoch + 1, f.head, &[coach], &[client]);
            Body::Json(
                json!({"epoch": f.epoch + 1, "wrapped_keys": wrap(&k, own, &[coach, client]), "membership_record": b64(&next.encode())}),
            )
        }
        ("POST", _) | ("PATCH", _) | ("PUT", _) => Body::Json(json!({})),
        _ => Body::None,
    };
    (path, body)
}

async fn every_route_for_every_actor(engine: Engine) {
    let s = TestServer::start(engine).await;
    let f = fixture(&s).await;
    let (_, doc) = s.get("/api/openapi.json", None).await;
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let rows: BTreeSet<String> = EXPECTED.iter().map(|(r, _)| (*r).to_owned()).collect();
    let missing: Vec<_> = documented.difference(&rows).collect();
    let stale: Vec<_> = rows.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes without a row in the matrix: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "rows for routes that do not exist: {stale:?}"
    );

    let mut failures = Vec::new();
    let mut n = 0usize;
    for (route, expected) in EXPECTED {
        let mut got = [0u16; 9];
        for (i, name) in ACTORS.iter().enumerate() {
            n += 1;
            let actor = &f.actors[name];
            let bearer = match &actor.id {
                Some(id) => Some(token(&s, id).await),
                None => None,
            };
            let (path, body) = request(&s, &f, route, actor, n).await;
            let method = route.split_once(' ').unwrap().0;
            let (status, bytes) = send(&s, method, &path, bearer.as_deref(), &body).await;
            got[i] = status;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            for secret in &f.foreign {
                assert!(
                    !text.contains(secret.as_str()) && !contains(&bytes, secret),
                    "{route} as {name}: another relationship's envelope leaked"
                );
            }
            if name.ends_with("manager") {
                for secret in &f.secrets {
                    assert!(
                        !text.contains(secret.as_str()) && !contains(&bytes, secret),
                        "{route} as {name}: a manager got ciphertext or keys"
                    );
                }
            }
        }
        if got != *expected {
            failures.push(format!("(\"{route}\", {got:?}), // expected {expected:?}"));
        }
    }
    println!(
        "authorization matrix ({engine:?}): {} routes x {} actors = {} cells",
        EXPECTED.len(),
        ACTORS.len(),
        EXPECTED.len() * ACTORS.len()
    );
    assert!(
        failures.is_empty(),
        "cells differ:\n{}",
        failures.join("\n")
    );
    s.stop().await;
}

/// Whether raw bytes contain the bytes a base64 secret stands for (for
/// binary answers such as attachment downloads).
fn contains(haystack: &[u8], secret_b64: &str) -> bool {
    use base64::Engine as _;
    let Ok(needle) = base64::engine::general_purpose::STANDARD.decode(secret_b64) else {
        return false;
    };
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|w| w == needle.as_slice())
}
