//! The SDK compiled to WebAssembly, in real Chromium, on a page served by
//! the real server: a client signs up from an invitation, reads the coach's
//! message (sent by the native SDK), answers it, and sees the same safety
//! number as the native side. Also times Argon2id-bound logins in Chromium
//! next to native ones (printed for docs/BENCHMARKS.md; never asserted).
//! The driver is `kluis_e2e::browser`.

use std::sync::Arc;
use std::time::Instant;

use kluis_e2e::Server;
use kluis_sdk::state::MemoryStore;
use kluis_sdk::{EntryContent, Kluis, Role};
use kluis_test_support::{both_engines, Engine};
use serde_json::json;

both_engines!(wasm_client_in_chromium, setup_screen_in_chromium);

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_kluis-server-e2e");
pub(crate) use kluis_e2e::browser::{repo, screenshot, Browser};
const PW: &str = "Vliegende-Kiwi-42";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

async fn wasm_client_in_chromium(engine: Engine) {
    let web = repo().join("web/dist");
    let server = Server::start_with(engine, BIN, &[("KLUIS_WEB_DIR", web.to_str().unwrap())]);
    let native = |store: &Arc<MemoryStore>| Kluis::new(&server.base, store.clone()).unwrap();
    let store = Arc::new(MemoryStore::new());
    let manager = native(&store)
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
    let mut coach = native(&Arc::new(MemoryStore::new()))
        .sign_up(&link, "Carla", PW)
        .await
        .unwrap()
        .session;
    coach.invite(&org, "kees@p.nl", Role::Client).await.unwrap();
    let link = Server::link_in(&server.mail("kees@p.nl", "invitation").await);

    let mut browser = Browser::open(&server.base);
    // The rule runs in the page too.
    let weak = browser.step("checkPassword", json!(["Password1"]));
    assert_eq!(weak["acceptable"], false);
    let refused = browser.try_step("signUp", json!([link, "Kees", "kort"]));
    assert!(
        refused["error"].as_str().unwrap().contains("password"),
        "{refused}"
    );

    let signed = browser.step("signUp", json!([link, "Kees", PW]));
    let client_id = signed["accountId"].as_str().unwrap().to_owned();
    assert!(signed["recoveryKey"].as_str().unwrap().len() >= 56);
    let client = kluis_sdk::parse_user_id(&client_id).unwrap();

    let rid = coach.open_relationship(&org, client).await.unwrap();
    coach
        .send_message(rid, "Hallo Kees, vanuit de native SDK")
        .await
        .unwrap();
    let listed = browser.step("relationships", json!([]));
    assert_eq!(listed[0]["relationship_id"], rid.to_string());
    let dialogue = browser.step("dialogue", json!([rid.to_string()]));
    assert_eq!(
        dialogue[0]["content"]["text"],
        "Hallo Kees, vanuit de native SDK"
    );
    assert_eq!(dialogue[0]["author"], coach.account_id().to_string());
    browser.step("send", json!([rid.to_string(), "Antwoord uit Chromium"]));
    let seen = coach.dialogue(rid).await.unwrap();
    assert!(
        matches!(&seen[1].content, EntryContent::Message { text } if text == "Antwoord uit Chromium"),
        "{seen:?}"
    );
    assert_eq!(seen[1].author, client_id);
    // The coach answers; the page reads the answer.
    coach
        .send_message(rid, "Fijn, tot donderdag")
        .await
        .unwrap();
    let dialogue = browser.step("dialogue", json!([rid.to_string()]));
    assert_eq!(dialogue[2]["content"]["text"], "Fijn, tot donderdag");
    assert_eq!(dialogue[2]["author"], coach.account_id().to_string());
    // The members the signed membership chain proves, in the page too.
    let proven = browser.step("membership", json!([rid.to_string()]));
    assert_eq!(proven["epoch"], 0);
    assert_eq!(proven["members"].as_array().unwrap().len(), 2);
    assert_eq!(proven["events"][0]["opened"], true);
    assert_eq!(proven["events"][0]["by"], coach.account_id().to_string());
    assert_eq!(browser.step("keyChanges", json!([])), json!([]));

    // The same safety number on both sides.
    let in_browser = browser.step("safetyNumber", json!([coach.account_id().to_string()]));
    let native_number = coach.safety_number(client).await.unwrap();
    assert_eq!(in_browser["digits"], native_number.digits.as_str());
    browser.step(
        "verify",
        json!([coach.account_id().to_string(), native_number.digits]),
    );
    browser.step("logout", json!([]));

    // Login time, Chromium next to native, same server, same run, the
    // two taking turns so that the machine's drift touches both alike.
    let rounds = 15;
    let (mut wasm_ms, mut native_ms) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let once = browser.step("timeLogins", json!(["kees@p.nl", PW, 1]));
        wasm_ms.push(once[0].as_f64().unwrap());
        let t0 = Instant::now();
        let s = native(&Arc::new(MemoryStore::new()))
            .login("kees@p.nl", PW)
            .await
            .unwrap()
            .ready()
            .unwrap();
        native_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
        s.logout().await.unwrap();
    }
    let spread = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        (v[0], v[v.len() - 1])
    };
    let ((wl, wh), (nl, nh)) = (spread(&wasm_ms), spread(&native_ms));
    let (w, n) = (median(wasm_ms), median(native_ms));
    println!(
        "login (Argon2id 64 MiB, t=3) median of {rounds} taking turns ({engine:?}): chromium {w:.0} ms ({wl:.0}–{wh:.0}), native {n:.0} ms ({nl:.0}–{nh:.0}), ratio {:.2}",
        w / n
    );
    // Time to interactive of the served page: from navigation to the SDK
    // loaded and the device state read (median of five loads).
    let mut ready = Vec::new();
    for _ in 0..5 {
        browser.step("reload", json!([]));
        ready.push(browser.step("readyMs", json!([])).as_f64().unwrap());
    }
    println!(
        "web client interactive after {:.0} ms (median of 5 loads, {engine:?})",
        median(ready)
    );

    // The device state survives a page reload: sealed in IndexedDB, with
    // nothing in localStorage or sessionStorage.
    let coach_id = coach.account_id().to_string();
    browser.step("reload", json!([]));
    browser.step("login", json!(["kees@p.nl", PW]));
    let after_reload = browser.step("safetyNumber", json!([coach_id]));
    assert_eq!(
        after_reload["verified"], true,
        "the verified peer is remembered"
    );
    assert_eq!(
        browser.step("webStorage", json!([])),
        json!({"local": [], "session": []})
    );
    let records = browser.step("deviceRecords", json!([]));
    assert_eq!(records["kept"], json!([client_id]));
    let sealed = records["states"][0]["sealedHex"].as_str().unwrap();
    let as_hex = |text: &str| text.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    assert!(sealed.len() > 200);
    assert!(
        !sealed.contains(&as_hex(&coach_id)) && !sealed.contains(&as_hex("verified")),
        "the stored state is ciphertext"
    );

    // The coach loses their password and starts a new identity. The page,
    // reloaded, remembers the old key: the change is shown and blocks
    // sending until compared — not pinned silently as a fresh page would.
    browser.step("logout", json!([]));
    kluis_e2e::practice::new_identity_after_reset(
        &server,
        "coach@p.nl",
        "Nieuw-Wachtwoord-73",
        Arc::new(MemoryStore::new()),
    )
    .await;
    browser.step("reload", json!([]));
    browser.step("login", json!(["kees@p.nl", PW]));
    let changed = browser.step("safetyNumber", json!([coach_id]));
    assert_eq!(changed["keyChanged"], true, "{changed}");
    assert_eq!(changed["verified"], false);
    let changes = browser.step("keyChanges", json!([]));
    assert_eq!(changes[0]["user"], coach_id.as_str(), "{changes}");
    let blocked = browser.try_step("send", json!([rid.to_string(), "Ben jij het?"]));
    assert!(
        blocked["error"].as_str().unwrap().contains("key"),
        "sending waits for the comparison: {blocked}"
    );
    browser.step("logout", json!([]));

    // A state that went missing (the records say there was one) is
    // reported; starting afresh is the user's decision, and then the
    // coach's key is pinned anew, unverified.
    browser.step("forgetDeviceState", json!([]));
    browser.step("reload", json!([]));
    let missing = browser.try_step("login", json!(["kees@p.nl", PW]));
    assert!(
        missing["error"]
            .as_str()
            .unwrap()
            .contains("local_store_missing"),
        "{missing}"
    );
    browser.step("startFresh", json!([]));
    browser.step("login", json!(["kees@p.nl", PW]));
    let fresh = browser.step("safetyNumber", json!([coach_id]));
    assert_eq!(
        (fresh["verified"].as_bool(), fresh["keyChanged"].as_bool()),
        (Some(false), Some(false))
    );
}

/// The setup screen, as the first user meets it: the link the server
/// printed, opened in Chromium; the form filled in as a person would; a
/// weak password refused in a sentence with nothing lost; the recovery key
/// shown once and confirmed by typing back its end; the link then spent.
async fn setup_screen_in_chromium(engine: Engine) {
    let web = repo().join("web/dist");
    let server = Server::start_with(engine, BIN, &[("KLUIS_WEB_DIR", web.to_str().unwrap())]);
    let mut browser = Browser::open(&server.base);
    assert_eq!(
        browser.step("missingKeys", json!([])),
        json!([]),
        "both catalogues"
    );
    let tag = format!("{engine:?}").to_lowercase();

    // Opened without its token: a sentence saying which link to use.
    browser.step("goto", json!([format!("{}/setup", server.base)]));
    let said = browser.step("text", json!(["main"]));
    assert!(
        said.as_str().unwrap().contains("link the server shows"),
        "{said}"
    );

    browser.step("goto", json!([server.setup_link]));
    screenshot(&mut browser, &format!("setup-en-{tag}"));
    browser.step("click", json!([".switch button"]));
    assert!(browser
        .step("text", json!(["h2"]))
        .as_str()
        .unwrap()
        .contains("Je praktijk"));
    browser.step("fill", json!(["#organisation", "Praktijk De Linde"]));
    browser.step("fill", json!(["#name", "Manon Bakker"]));
    browser.step("fill", json!(["#email", "manon@delinde.nl"]));
    browser.step("fill", json!(["#password", "wachtwoord"]));
    screenshot(&mut browser, &format!("setup-nl-{tag}"));
    browser.step("viewport", json!([360, 740]));
    screenshot(&mut browser, &format!("setup-nl-phone-{tag}"));
    browser.step("viewport", json!([1200, 800]));
    browser.step("click", json!(["button[type=submit]"]));
    browser.step(
        "waitForText",
        json!(["#form-message", "te makkelijk te raden"]),
    );
    // Nothing typed is lost, and the language switch keeps it too.
    browser.step("click", json!([".switch button"]));
    assert_eq!(
        browser.step("value", json!(["#organisation"])),
        "Praktijk De Linde"
    );
    assert_eq!(browser.step("value", json!(["#password"])), "wachtwoord");
    browser.step("fill", json!(["#password", PW]));
    browser.step("press", json!(["#password", "Enter"]));
    browser.step("waitForText", json!(["h2", "recovery key"]));
    let key = browser.step("text", json!(["#recovery-key"]));
    let key = key.as_str().unwrap().to_owned();
    assert!(key.len() >= 56, "{key}");
    screenshot(&mut browser, &format!("recovery-key-en-{tag}"));
    browser.step("viewport", json!([360, 740]));
    screenshot(&mut browser, &format!("recovery-key-en-phone-{tag}"));
    browser.step("viewport", json!([1200, 800]));
    let tail: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .split_off(52);
    browser.step("fill", json!(["#key-tail", "XXXX"]));
    assert_eq!(browser.step("enabled", json!(["button.primary"])), false);
    browser.step("fill", json!(["#key-tail", tail.to_lowercase()]));
    browser.step("click", json!(["button.primary"]));
    // Then the privacy notice, once; then the client, signed in.
    browser.step("waitForText", json!(["main", "Right to lodge a complaint"]));
    screenshot(&mut browser, &format!("privacy-notice-en-{tag}"));
    browser.step("click", json!(["button.primary"]));
    browser.step("waitForText", json!([".topbar", "Praktijk De Linde"]));
    browser.step(
        "waitForText",
        json!([".manager-line", "You manage profiles"]),
    );
    screenshot(&mut browser, &format!("setup-done-en-{tag}"));

    // The account is real: the manager logs in natively, sees the
    // organisation, and the recovery key opens the identity.
    let manager = Kluis::new(&server.base, Arc::new(MemoryStore::new()))
        .unwrap()
        .login("manon@delinde.nl", PW)
        .await
        .unwrap()
        .ready()
        .unwrap();
    let me = manager.me().await.unwrap();
    assert_eq!(me.memberships[0].organisation_name, "Praktijk De Linde");
    let native = || Kluis::new(&server.base, Arc::new(MemoryStore::new())).unwrap();
    native()
        .request_password_reset("manon@delinde.nl")
        .await
        .unwrap();
    let reset = Server::link_in(&server.mail("manon@delinde.nl", "password_reset").await);
    native()
        .reset_password(&reset, "Nieuw-Wachtwoord-73")
        .await
        .unwrap();
    let kluis_sdk::Login::NeedsRecovery(pending) = native()
        .login("manon@delinde.nl", "Nieuw-Wachtwoord-73")
        .await
        .unwrap()
    else {
        panic!("a reset asks for the recovery key");
    };
    let shown = kluis_sdk::kluis_crypto::recovery::RecoveryKey::parse(&key).unwrap();
    let recovered = pending.recover(&shown).await.unwrap();
    assert_eq!(
        recovered.account_id(),
        manager.account_id(),
        "the key shown opens the identity"
    );
    // The link is spent: opening it again (a new page load) says so.
    browser.step("goto", json!([format!("{}/", server.base)]));
    browser.step("goto", json!([server.setup_link]));
    browser.step("fill", json!(["#organisation", "Tweede"]));
    browser.step("fill", json!(["#name", "Iemand"]));
    browser.step("fill", json!(["#email", "iemand@delinde.nl"]));
    browser.step("fill", json!(["#password", PW]));
    browser.step("click", json!(["button[type=submit]"]));
    browser.step(
        "waitForText",
        json!(["#form-message", "expired or was used"]),
    );
    assert_eq!(browser.step("value", json!(["#organisation"])), "Tweede");
    // The phone width, for the eye.
    browser.step("viewport", json!([360, 740]));
    screenshot(&mut browser, &format!("setup-used-link-phone-{tag}"));
    browser.step("viewport", json!([1200, 800]));

    // A coach signs up from the invitation e-mail: the page says to what
    // and as what they are invited.
    let org = recovered.me().await.unwrap().memberships[0]
        .organisation_id
        .clone();
    recovered
        .invite(&org, "kees@delinde.nl", Role::Coach)
        .await
        .unwrap();
    let invitation = Server::link_in(&server.mail("kees@delinde.nl", "invitation").await);
    browser.step("goto", json!([format!("{}/", server.base)]));
    browser.step("goto", json!([invitation]));
    browser.step("waitForText", json!(["h2", "Welcome to Praktijk De Linde"]));
    let said = browser.step("text", json!(["main"]));
    let said = said.as_str().unwrap();
    assert!(
        said.contains("Manon Bakker invites you as coach") && said.contains("kees@delinde.nl"),
        "{said}"
    );
    // The promise to clients is not told to a coach.
    assert!(!said.contains("Only you and your coach"), "{said}");
    screenshot(&mut browser, &format!("invitation-en-{tag}"));
    browser.step("click", json!([".switch button"]));
    browser.step("viewport", json!([360, 740]));
    browser.step("waitForText", json!(["h2", "Welkom bij Praktijk De Linde"]));
    screenshot(&mut browser, &format!("invitation-nl-phone-{tag}"));
    browser.step("viewport", json!([1200, 800]));
    browser.step("click", json!([".switch button"]));
    browser.step("fill", json!(["#name", "Kees de Boer"]));
    browser.step("fill", json!(["#password", PW]));
    browser.step("click", json!(["button[type=submit]"]));
    browser.step("waitForText", json!(["h2", "recovery key"]));
    browser.keep_recovery_key();
    browser.acknowledge_privacy_notice("Right to lodge a complaint");
    browser.step("waitForText", json!([".list", "No conversations yet"]));
    screenshot(&mut browser, &format!("coach-home-empty-en-{tag}"));
    let kees = native()
        .login("kees@delinde.nl", PW)
        .await
        .unwrap()
        .ready()
        .unwrap();
    assert_eq!(
        kees.me().await.unwrap().memberships[0].organisation_name,
        "Praktijk De Linde"
    );
    // Spent: the same link again says what to do.
    browser.step("goto", json!([format!("{}/", server.base)]));
    browser.step("goto", json!([invitation]));
    browser.step(
        "waitForText",
        json!(["main", "Ask the person who invited you"]),
    );
}
