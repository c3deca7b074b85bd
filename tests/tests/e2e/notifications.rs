//! E-mail notifications over real SMTP: the server process sends to an
//! aiosmtpd server (`tests/smtp_sink.py`) whose own MIME parser decodes
//! what arrived. Checked: envelope and headers, Dutch and English by the
//! recipient's language, text and HTML parts, no content in any mail, a
//! burst of messages batched per interval, opting out, a login from a new
//! device; a relay that is down and then refuses is retried until the mail
//! arrives, once; STARTTLS is verified against the configured CA (and
//! nothing is sent when the certificate is not trusted); and two server
//! instances on one PostgreSQL deliver each of 300 notifications exactly
//! once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kluis_e2e::smtp::{free_port, Received, SmtpSink};
use kluis_e2e::{occurrences, Server};
use kluis_sdk::state::MemoryStore;
use kluis_sdk::{Kluis, Language, Role, Session};
use kluis_test_support::{both_engines, Engine};

both_engines!(mail_over_smtp, relay_down_then_refusing);

const BIN: &str = env!("CARGO_BIN_EXE_kluis-server-e2e");
const PATIENCE: Duration = Duration::from_secs(20);
/// The activity interval the servers here run with.
const INTERVAL: Duration = Duration::from_secs(3);

fn sdk(server: &Server, device: &str) -> Kluis {
    Kluis::new(&server.base, Arc::new(MemoryStore::new()))
        .unwrap()
        .with_device_label(device)
}

fn start(engine: Engine, sink: &SmtpSink, extra: &[(&str, &str)]) -> Server {
    let owned = sink.settings();
    let mut settings: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    settings.extend_from_slice(extra);
    Server::start_with(engine, BIN, &settings)
}

fn password(tag: &str) -> String {
    format!("{tag}-{}-Vlinder7", rand::random::<u32>())
}

/// Checks what every Kluis e-mail must be.
fn well_formed(m: &Received, to: &str, language: &str) {
    assert_eq!(m.rcpt_tos, vec![to.to_owned()]);
    assert_eq!(m.mail_from, "noreply@kluis.test");
    assert_eq!(m.header("from"), "Kluis <noreply@kluis.test>");
    assert_eq!(m.header("to"), to);
    assert_eq!(m.header("content-language"), language, "{:?}", m.headers);
    assert_eq!(m.header("auto-submitted"), "auto-generated");
    assert_eq!(m.content_type, "multipart/alternative");
    let id = m.header("message-id");
    assert!(
        id.starts_with('<') && id.ends_with("@kluis.test>"),
        "Message-ID {id}"
    );
    let text = m.text.as_deref().expect("a text part");
    let html = m.html.as_deref().expect("an HTML part");
    assert!(html.contains(&format!("<html lang=\"{language}\">")));
    // No remote content: an HTML mail that loads nothing cannot track.
    assert!(!html.contains("<img") && !html.contains("src="));
    assert!(text.trim_end().ends_with("Kluis"), "{text:?}");
}

async fn mail_over_smtp(engine: Engine) {
    let sink = SmtpSink::start();
    let server = start(engine, &sink, &[("KLUIS_ACTIVITY_INTERVAL_SECONDS", "3")]);
    let canary = format!("CANARY{:016x}", rand::random::<u64>());

    // The manager (Dutch by default) gets the address check in Dutch.
    let manager = sdk(&server, "laptop")
        .setup_organisation(
            &server.setup_link,
            "Praktijk Vlinder",
            "mia@vlinder.nl",
            "Mia",
            &password("Mia"),
        )
        .await
        .unwrap()
        .session;
    let verify = sink.next("mia@vlinder.nl", "verify_email", PATIENCE).await;
    well_formed(&verify, "mia@vlinder.nl", "nl");
    assert_eq!(
        verify.header("subject"),
        "Bevestig uw e-mailadres voor Kluis"
    );
    assert!(verify.link().contains("/verify#token="));
    assert!(verify.html.as_deref().unwrap().contains(&verify.link()));
    let org = manager.me().await.unwrap().memberships[0]
        .organisation_id
        .clone();

    // She switches to English; her invitation goes out in English.
    let me = manager
        .set_preferences(Some(Language::En), None)
        .await
        .unwrap();
    assert_eq!(me.language, Language::En);
    assert!(me.activity_emails);
    manager
        .invite(&org, "coen@vlinder.nl", Role::Coach)
        .await
        .unwrap();
    let invitation = sink.next("coen@vlinder.nl", "invitation", PATIENCE).await;
    well_formed(&invitation, "coen@vlinder.nl", "en");
    assert_eq!(invitation.header("subject"), "You are invited to Kluis");
    assert!(invitation
        .text
        .as_deref()
        .unwrap()
        .contains("Praktijk Vlinder"));
    let coach_password = password("Coen");
    let mut coach = sdk(&server, "coach laptop")
        .sign_up(&invitation.link(), "Coen", &coach_password)
        .await
        .unwrap()
        .session;
    assert_eq!(coach.me().await.unwrap().language, Language::En);

    // The coach invites a client in Dutch.
    coach
        .set_preferences(Some(Language::Nl), None)
        .await
        .unwrap();
    coach
        .invite(&org, "kim@example.nl", Role::Client)
        .await
        .unwrap();
    let invitation = sink.next("kim@example.nl", "invitation", PATIENCE).await;
    well_formed(&invitation, "kim@example.nl", "nl");
    assert_eq!(invitation.header("subject"), "Uitnodiging voor Kluis");
    let client_password = password("Kim");
    let mut client = sdk(&server, "kim phone")
        .sign_up(&invitation.link(), "Kim", &client_password)
        .await
        .unwrap()
        .session;
    coach
        .set_preferences(Some(Language::En), None)
        .await
        .unwrap();

    // The first message is told at once; a burst of nine right after it
    // becomes one e-mail, once the interval since the first has passed.
    let rid = coach
        .open_relationship(&org, client.account_id())
        .await
        .unwrap();
    coach
        .send_message(rid, &format!("{canary} eerste bericht"))
        .await
        .unwrap();
    let first = sink.next("kim@example.nl", "activity", PATIENCE).await;
    well_formed(&first, "kim@example.nl", "nl");
    assert_eq!(
        first.header("subject"),
        "Er staat iets nieuws voor u klaar in Kluis"
    );
    for i in 0..9 {
        coach
            .send_message(rid, &format!("{canary} bericht {i}"))
            .await
            .unwrap();
    }
    let second = sink.next("kim@example.nl", "activity", PATIENCE).await;
    let apart = arrival(&second).duration_since(arrival(&first)).unwrap();
    assert!(
        apart >= INTERVAL - Duration::from_millis(300),
        "two activity e-mails {apart:?} apart, interval {INTERVAL:?}"
    );
    // Nothing more comes of the burst.
    tokio::time::sleep(INTERVAL + Duration::from_secs(1)).await;
    assert_eq!(sink.to("kim@example.nl", "activity").len(), 2);

    // The client answers; the coach is told, in English.
    client
        .send_message(rid, &format!("{canary} antwoord"))
        .await
        .unwrap();
    let told = sink.next("coen@vlinder.nl", "activity", PATIENCE).await;
    well_formed(&told, "coen@vlinder.nl", "en");
    assert_eq!(
        told.header("subject"),
        "Something new is waiting for you in Kluis"
    );

    // The client turns activity e-mails off: more messages, no e-mail.
    let me = client.set_preferences(None, Some(false)).await.unwrap();
    assert!(!me.activity_emails);
    for i in 0..3 {
        coach
            .send_message(rid, &format!("{canary} stil {i}"))
            .await
            .unwrap();
    }
    tokio::time::sleep(INTERVAL * 2 + Duration::from_secs(1)).await;
    assert_eq!(sink.to("kim@example.nl", "activity").len(), 2);

    // A login from another device is told; one from a known device is not.
    let again = sdk(&server, "kim phone")
        .login("kim@example.nl", &client_password)
        .await
        .unwrap()
        .ready()
        .unwrap();
    again.logout().await.unwrap();
    let other = sdk(&server, "kim tablet")
        .login("kim@example.nl", &client_password)
        .await
        .unwrap()
        .ready()
        .unwrap();
    let new_login = sink.next("kim@example.nl", "new_login", PATIENCE).await;
    well_formed(&new_login, "kim@example.nl", "nl");
    assert!(!new_login.text.as_deref().unwrap().contains("tablet"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sink.to("kim@example.nl", "new_login").len(), 1);
    other.logout().await.unwrap();

    // Nothing said, no password and no other party's name in any mail.
    let all = sink.all();
    // verify, two invitations, three activity, one new login.
    assert_eq!(
        all.len(),
        7,
        "{:?}",
        all.iter().map(Received::kind).collect::<Vec<_>>()
    );
    for m in &all {
        for secret in [canary.as_str(), &coach_password, &client_password] {
            assert_eq!(
                occurrences(&m.raw, secret.as_bytes()),
                0,
                "{secret} in a mail"
            );
            for part in [&m.text, &m.html].into_iter().flatten() {
                assert!(!part.contains(secret), "{secret} in a decoded part");
            }
        }
        if m.kind() == "activity" {
            let text = m.text.as_deref().unwrap();
            assert!(!text.contains("Coen") && !text.contains("Kim"), "{text}");
        }
    }
    coach.logout().await.unwrap();
    client.logout().await.unwrap();
}

/// When the sink wrote the message (its file's modification time).
fn arrival(m: &Received) -> std::time::SystemTime {
    std::fs::metadata(&m.file).unwrap().modified().unwrap()
}

async fn relay_down_then_refusing(engine: Engine) {
    // Nothing listens on the port yet.
    let port = free_port();
    let placeholder = SmtpSink::settings_for(port);
    let settings: Vec<(&str, &str)> = placeholder.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start_with(engine, BIN, &settings);
    let _manager = sdk(&server, "laptop")
        .setup_organisation(
            &server.setup_link,
            "Praktijk Eik",
            "eva@eik.nl",
            "Eva",
            &password("Eva"),
        )
        .await
        .unwrap();
    // The first attempt fails (connection refused) and is put off.
    let started = Instant::now();
    while !server.log().contains("mail delivery failed; will retry") {
        assert!(started.elapsed() < PATIENCE, "no failed attempt logged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The relay comes up but refuses the next message with 451 once.
    let sink = SmtpSink::start_on(port, 1);
    let m = sink
        .next("eva@eik.nl", "verify_email", Duration::from_secs(40))
        .await;
    well_formed(&m, "eva@eik.nl", "nl");
    let log = server.log();
    assert!(
        log.matches("mail delivery failed; will retry").count() >= 2,
        "the refusal was retried:\n{log}"
    );
    assert!(log.contains("451"), "the relay's answer is recorded");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.all().len(), 1, "delivered once");
}

/// Two instances, one PostgreSQL, both workers running: 300 invitations
/// queued through both arrive exactly once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_deliver_each_mail_once() {
    const N: usize = 300;
    let sink = SmtpSink::start();
    let owned = sink.settings();
    let settings: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = Server::start_with(Engine::Postgres, BIN, &settings);
    let b = a.start_sharing(BIN, &settings);
    let manager_password = password("Noor");
    // The newest setup link is the one that works (each start issues one
    // and ends the earlier).
    sdk(&b, "laptop")
        .setup_organisation(
            &b.setup_link,
            "Praktijk Beuk",
            "noor@beuk.nl",
            "Noor",
            &manager_password,
        )
        .await
        .unwrap();
    let on_a = sdk(&a, "laptop")
        .login("noor@beuk.nl", &manager_password)
        .await
        .unwrap()
        .ready()
        .unwrap();
    let on_b = sdk(&b, "laptop")
        .login("noor@beuk.nl", &manager_password)
        .await
        .unwrap()
        .ready()
        .unwrap();
    let org = on_a.me().await.unwrap().memberships[0]
        .organisation_id
        .clone();
    let sessions: [&Session; 2] = [&on_a, &on_b];
    for i in 0..N {
        sessions[i % 2]
            .invite(&org, &format!("coach{i}@beuk.nl"), Role::Coach)
            .await
            .unwrap();
    }
    let queued: usize = a.pg_value("SELECT COUNT(*) FROM outbox").parse().unwrap();
    assert!(queued > N, "{queued} rows queued");
    let started = Instant::now();
    while sink.all().len() < queued {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{} of {queued} mails arrived",
            sink.all().len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Give a duplicate the time to show up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let all = sink.all();
    let mut per_message_id: HashMap<String, usize> = HashMap::new();
    let mut per_invitee: HashMap<String, usize> = HashMap::new();
    for m in &all {
        *per_message_id
            .entry(m.header("message-id").to_owned())
            .or_default() += 1;
        if m.kind() == "invitation" {
            *per_invitee.entry(m.rcpt_tos[0].clone()).or_default() += 1;
        }
    }
    assert_eq!(all.len(), queued, "every queued mail arrived once");
    assert_eq!(per_message_id.len(), queued, "no Message-ID twice");
    assert_eq!(per_invitee.len(), N);
    assert!(per_invitee.values().all(|&n| n == 1));
    assert_eq!(
        a.pg_value("SELECT COUNT(*) FROM outbox WHERE sent_ms IS NULL"),
        "0"
    );
    // Both workers took part, and between them sent each row once.
    let delivered_by = |s: &Server| s.log().matches("mail delivered").count();
    let (by_a, by_b) = (delivered_by(&a), delivered_by(&b));
    println!("two instances: {queued} mails, {by_a} sent by A, {by_b} by B, 0 twice");
    assert_eq!(by_a + by_b, queued);
    assert!(by_a > 0 && by_b > 0, "A sent {by_a}, B sent {by_b}");
    on_a.logout().await.unwrap();
    on_b.logout().await.unwrap();
}

/// STARTTLS to a relay whose certificate comes from a private CA: without
/// that CA configured the certificate is refused and nothing is sent in
/// the clear; with `KLUIS_SMTP_CA_FILE` the mail goes out under TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_is_required_and_verified() {
    let sink = SmtpSink::start_tls();
    let ca = sink.ca_file.clone().unwrap();
    let port = sink.port.to_string();
    let base = [
        ("KLUIS_SMTP_HOST", "localhost"),
        ("KLUIS_SMTP_PORT", port.as_str()),
        ("KLUIS_SMTP_TLS", "starttls"),
        ("KLUIS_MAIL_FROM", "Kluis <noreply@kluis.test>"),
    ];
    let untrusting = Server::start_with(Engine::Sqlite, BIN, &base);
    sdk(&untrusting, "laptop")
        .setup_organisation(
            &untrusting.setup_link,
            "Praktijk Es",
            "els@es.nl",
            "Els",
            &password("Els"),
        )
        .await
        .unwrap();
    let started = Instant::now();
    while !untrusting
        .log()
        .contains("mail delivery failed; will retry")
    {
        assert!(started.elapsed() < PATIENCE, "no failed attempt logged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        untrusting.log().to_lowercase().contains("certificate"),
        "{}",
        untrusting.log()
    );
    assert!(
        sink.all().is_empty(),
        "nothing sent without a trusted TLS session"
    );
    drop(untrusting);

    let ca = ca.to_str().unwrap();
    let mut settings = base.to_vec();
    settings.push(("KLUIS_SMTP_CA_FILE", ca));
    let server = Server::start_with(Engine::Sqlite, BIN, &settings);
    sdk(&server, "laptop")
        .setup_organisation(
            &server.setup_link,
            "Praktijk Es",
            "els@es.nl",
            "Els",
            &password("Els"),
        )
        .await
        .unwrap();
    let m = sink.next("els@es.nl", "verify_email", PATIENCE).await;
    assert!(m.tls, "delivered under STARTTLS");
    well_formed(&m, "els@es.nl", "nl");
}
