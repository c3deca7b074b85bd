//! The `kluis` command-line client against a real server process: set up
//! from the printed link, invite, sign up from the e-mailed links, open a
//! relationship, compare safety numbers, talk, share and fetch a file — as
//! a coach and a client would type it, with the exit codes scripts rely on;
//! and a client deciding on the new addresses a manager proposes (logged
//! in and from the mailed links) and cancelling a scheduled deletion.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kluis_e2e::Server;
use kluis_test_support::{both_engines, Engine};
use serde_json::Value;

both_engines!(cli_journey, cli_proposed_email_and_cancelled_deletion);

const SERVER: &str = env!("CARGO_BIN_EXE_kluis-server-e2e");
const CLI: &str = env!("CARGO_BIN_EXE_kluis-cli-e2e");

/// One person at their own computer: a profile directory and a password.
struct User {
    profile: PathBuf,
    password: String,
}

impl User {
    fn new(root: &Path, name: &str) -> Self {
        Self {
            profile: root.join(name),
            password: format!("{name}-{}-Kluis7", rand::random::<u32>()),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(CLI)
            .args(args)
            .env("KLUIS_PROFILE", &self.profile)
            .env("KLUIS_PASSWORD", &self.password)
            .env_remove("KLUIS_SERVER")
            .env_remove("KLUIS_EMAIL")
            .env_remove("KLUIS_PASSWORD_FILE")
            .output()
            .unwrap()
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kluis {args:?} failed ({:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(self.ok(&all).trim()).unwrap()
    }

    fn code(&self, args: &[&str]) -> i32 {
        self.run(args).status.code().unwrap()
    }
}

async fn cli_journey(engine: Engine) {
    let server = Server::start(engine, SERVER);
    let root = std::env::temp_dir().join(format!("kluis-cli-{}", rand::random::<u64>()));
    let (manager, coach, client) = practice(&server, &root).await;
    // The server and address are remembered; the link does not work twice.
    assert_eq!(
        manager.code(&[
            "--email",
            "x@y.nl",
            "setup",
            &server.setup_link,
            "--organisation",
            "B",
            "--name",
            "X"
        ]),
        4
    );

    // The first login shows the client's rights; acknowledging them ends
    // the question; settings change the language of what Kluis writes.
    let first = client.run(&["login"]);
    assert!(first.status.success());
    let shown = String::from_utf8_lossy(&first.stderr);
    assert!(
        shown.contains("Autoriteit Persoonsgegevens")
            && shown.contains("kluis privacy --acknowledge"),
        "{shown}"
    );
    assert_eq!(client.json(&["whoami"])["privacy_notice_pending"], true);
    let notice = client.json(&["privacy", "--acknowledge"]);
    assert_eq!(notice["version"], 1);
    assert!(notice["acknowledged_ms"].as_i64().is_some());
    assert_eq!(client.json(&["whoami"])["privacy_notice_pending"], false);
    let again = client.run(&["login"]);
    assert!(!String::from_utf8_lossy(&again.stderr).contains("Autoriteit"));
    let settings = client.json(&["settings", "--language", "en", "--activity-emails", "off"]);
    assert_eq!(
        (
            settings["language"].as_str(),
            settings["activity_emails"].as_bool()
        ),
        (Some("en"), Some(false))
    );
    assert!(client
        .ok(&["privacy"])
        .contains("Right to lodge a complaint"));
    assert_eq!(client.code(&["settings", "--language", "de"]), 2);

    let coach_id = coach.json(&["whoami"])["account_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let client_id = client.json(&["whoami"])["account_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Safety numbers: the same on both sides; a wrong one is refused.
    let theirs = client.json(&["verify", &coach_id]);
    let mine = coach.json(&["verify", &client_id]);
    assert_eq!(theirs["digits"], mine["digits"]);
    assert_eq!(mine["verified"], false);
    assert_eq!(
        coach.code(&["verify", &client_id, "--compare", "11111 22222"]),
        1
    );
    coach.ok(&[
        "verify",
        &client_id,
        "--compare",
        theirs["digits"].as_str().unwrap(),
    ]);
    assert_eq!(coach.json(&["verify", &client_id])["verified"], true);

    // Talk.
    let rid = coach.json(&["relationship", "open", &client_id])["relationship_id"]
        .as_str()
        .unwrap()
        .to_owned();
    coach.ok(&["send", &rid, "Welkom", "bij", "Kluis"]);
    client.ok(&["send", &rid, "Dank", "je"]);
    let read = client.json(&["read", &rid]);
    let texts: Vec<&str> = read
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["content"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, vec!["Welkom bij Kluis", "Dank je"]);
    let listed = client.json(&["relationship", "list"]);
    assert_eq!(listed[0]["relationship_id"], rid.as_str());
    // The members the signed membership chain proves, for scripts and people.
    let proven = client.json(&["relationship", "members", &rid]);
    assert_eq!(proven["epoch"], 0);
    assert_eq!(proven["members"].as_array().unwrap().len(), 2);
    assert_eq!(proven["events"][0]["opened"], true);
    let shown = client.ok(&["relationship", "members", &rid]);
    assert!(shown.contains("opened the relationship"), "{shown}");

    // A file there and back.
    std::fs::create_dir_all(root.join("out")).unwrap();
    let file = root.join("verslag.pdf");
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &bytes).unwrap();
    let shared = coach.json(&[
        "attach",
        &rid,
        file.to_str().unwrap(),
        "--media-type",
        "application/pdf",
    ]);
    let item = shared["item_id"].as_str().unwrap();
    let got = client.json(&[
        "download",
        &rid,
        item,
        "--out",
        root.join("out").to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(got["path"].as_str().unwrap()).unwrap(), bytes);
    // Never overwrites.
    assert_eq!(
        client.code(&[
            "download",
            &rid,
            item,
            "--out",
            root.join("out").to_str().unwrap()
        ]),
        1
    );
    coach.ok(&["note", "add", &rid, "Eerste", "indruk"]);
    let coach_read = coach.json(&["read", &rid]);
    assert_eq!(coach_read.as_array().unwrap().len(), 4);
    assert_eq!(client.json(&["read", &rid]).as_array().unwrap().len(), 3);

    // Export: the shared file comes back as it was.
    let export = root.join("export");
    let done = client.json(&["export", "--out", export.to_str().unwrap()]);
    assert_eq!(
        done["files"], 4,
        "account, relationship, dialogue and the file"
    );
    let exported = export
        .join("relationships")
        .join(&rid)
        .join("files")
        .join(item)
        .join("verslag.pdf");
    assert_eq!(std::fs::read(exported).unwrap(), bytes);
    assert_eq!(
        client.code(&["export", "--out", export.to_str().unwrap()]),
        1,
        "never into a directory that is not empty"
    );

    // What the server holds about Kees (the right of access): his place in
    // the relationship, described, and nothing of the coach's.
    let held = client.json(&["data"]);
    assert_eq!(held["format"], "kluis-data/1");
    assert_eq!(held["account"]["email"], "kees@example.nl");
    assert!(held["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["relationship_id"] == rid.as_str() && r["role"] == "client"));
    assert!(!held.to_string().contains(&coach_id), "{held}");
    let file = root.join("mijn-gegevens.json");
    client.ok(&["data", "--out", file.to_str().unwrap()]);
    let written: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(written["account"], held["account"]);
    assert_eq!(
        client.code(&["data", "--out", file.to_str().unwrap()]),
        1,
        "never over an existing file"
    );

    // Exit codes scripts can rely on.
    let mut wrong = User::new(&root, "Kees");
    wrong.password = "Not-The-Password-1".into();
    assert_eq!(
        wrong.code(&[
            "--email",
            "kees@example.nl",
            "--server",
            &server.base,
            "whoami"
        ]),
        3
    );
    assert_eq!(
        client.code(&["--server", "http://127.0.0.1:9", "whoami"]),
        5,
        "unreachable"
    );
    assert_eq!(client.code(&["read", "not-an-id"]), 1);
    assert_eq!(
        client.code(&["relationship", "open", &coach_id]),
        8,
        "a client opens nothing"
    );
    assert_eq!(client.code(&["bogus-command"]), 2);

    // Each command ended its own session.
    let sessions = client.json(&["sessions"]);
    assert_eq!(sessions.as_array().unwrap().len(), 1, "{sessions}");

    // Deleting the account asks for --yes, then erases it.
    assert_eq!(client.code(&["delete-account"]), 1);
    assert_eq!(
        client.json(&["delete-account", "--yes"])["status"],
        "deleted"
    );
    assert_eq!(
        client.code(&[
            "--email",
            "kees@example.nl",
            "--server",
            &server.base,
            "whoami"
        ]),
        3
    );
    assert_eq!(
        coach.code(&["read", &rid]),
        8,
        "the relationship went with it"
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// A manager (who set the organisation up from the printed link), a coach
/// and the coach's client, each signed up from the e-mailed link.
async fn practice(server: &Server, root: &Path) -> (User, User, User) {
    let manager = User::new(root, "Manon");
    let coach = User::new(root, "Carla");
    let client = User::new(root, "Kees");
    // The printed setup link is all a new operator needs.
    let created = manager.json(&[
        "--email",
        "manon@linde.nl",
        "setup",
        &server.setup_link,
        "--organisation",
        "Praktijk De Linde",
        "--name",
        "Manon",
    ]);
    kluis_sdk::kluis_crypto::recovery::RecoveryKey::parse(
        created["recovery_key"].as_str().unwrap(),
    )
    .expect("a recovery key that parses back");
    manager.ok(&["invite", "carla@linde.nl", "--role", "coach"]);
    let link = Server::link_in(&server.mail("carla@linde.nl", "invitation").await);
    coach.json(&["signup", &link, "--name", "Carla"]);
    coach.ok(&["invite", "kees@example.nl", "--role", "client"]);
    let link = Server::link_in(&server.mail("kees@example.nl", "invitation").await);
    client.json(&["signup", &link, "--name", "Kees"]);
    (manager, coach, client)
}

async fn cli_proposed_email_and_cancelled_deletion(engine: Engine) {
    let server = Server::start(engine, SERVER);
    let root = std::env::temp_dir().join(format!("kluis-cli-{}", rand::random::<u64>()));
    let (manager, _coach, client) = practice(&server, &root).await;
    let client_id = client.json(&["whoami"])["account_id"]
        .as_str()
        .unwrap()
        .to_owned();
    const FIRST: &str = "kees@example.nl";
    const SECOND: &str = "kees@nieuw.nl";
    const THIRD: &str = "kees@derde.nl";

    // A proposal changes nothing; whoami shows it, for scripts and people.
    manager.ok(&["email", "propose", &client_id, SECOND]);
    let refused_link = Server::link_in(&server.mail(FIRST, "email_change_proposed").await);
    let me = client.json(&["whoami"]);
    assert_eq!(
        (me["email"].as_str(), me["proposed_email"].as_str()),
        (Some(FIRST), Some(SECOND))
    );
    let shown = client.ok(&["whoami"]);
    assert!(
        shown.contains(SECOND) && shown.contains("kluis email confirm"),
        "{shown}"
    );
    // Refused while logged in: the address stays, nothing waits any more,
    // and the mailed link of that proposal is dead.
    assert_eq!(
        client.json(&["email", "refuse"])["status"],
        "email_change_refused"
    );
    let me = client.json(&["whoami"]);
    assert_eq!(
        (me["email"].as_str(), me["proposed_email"].as_str()),
        (Some(FIRST), None)
    );
    let none = client.run(&["email", "refuse"]);
    assert_eq!(none.status.code(), Some(8));
    assert!(
        String::from_utf8_lossy(&none.stderr).contains("no new address is proposed"),
        "{}",
        String::from_utf8_lossy(&none.stderr)
    );
    assert_eq!(
        client.code(&["email", "confirm", "--link", &refused_link]),
        4
    );
    assert_eq!(client.json(&["whoami"])["email"], FIRST);

    // Confirmed while logged in: the address changes, the CLI remembers
    // it for the next login, the old address is told and the new one gets
    // the link that proves it.
    manager.ok(&["email", "propose", &client_id, SECOND]);
    server.mail(FIRST, "email_change_proposed").await;
    assert_eq!(client.json(&["email", "confirm"])["email"], SECOND);
    let me = client.json(&["whoami"]);
    assert_eq!(
        (me["email"].as_str(), me["proposed_email"].as_str()),
        (Some(SECOND), None)
    );
    server.mail(FIRST, "email_changed").await;
    server.mail(SECOND, "verify_email").await;

    // From the mailed links, on a machine that knows nothing of the
    // account: no login; each link works once.
    let phone = User::new(&root, "Kees-phone");
    manager.ok(&["email", "propose", &client_id, THIRD]);
    let link = Server::link_in(&server.mail(SECOND, "email_change_proposed").await);
    assert_eq!(
        phone.json(&["email", "refuse", "--link", &link])["status"],
        "email_change_refused"
    );
    assert_eq!(phone.code(&["email", "refuse", "--link", &link]), 4);
    assert_eq!(client.json(&["whoami"])["email"], SECOND);
    manager.ok(&["email", "propose", &client_id, THIRD]);
    let link = Server::link_in(&server.mail(SECOND, "email_change_proposed").await);
    assert_eq!(
        phone.json(&["email", "confirm", "--link", &link])["status"],
        "email_changed"
    );
    assert_eq!(phone.code(&["email", "confirm", "--link", &link]), 4);
    // This computer still remembers the old address.
    assert_eq!(client.code(&["whoami"]), 3);
    client.ok(&["--email", THIRD, "login"]);
    assert_eq!(client.json(&["whoami"])["email"], THIRD);

    // Deleting right after an address change only schedules it; the
    // cancel stops it, and the account logs in and works as before.
    let scheduled = client.json(&["delete-account", "--yes"]);
    assert_eq!(scheduled["status"], "scheduled", "{scheduled}");
    let due = scheduled["scheduled_for_ms"].as_i64().unwrap();
    assert_eq!(client.json(&["whoami"])["deletion_scheduled_for_ms"], due);
    let shown = client.ok(&["whoami"]);
    assert!(shown.contains("kluis delete-account --cancel"), "{shown}");
    assert_eq!(client.code(&["delete-account", "--yes", "--cancel"]), 2);
    assert_eq!(
        client.json(&["delete-account", "--cancel"])["status"],
        "deletion_cancelled"
    );
    assert!(client.json(&["whoami"])["deletion_scheduled_for_ms"].is_null());
    assert_eq!(
        client.code(&["delete-account", "--cancel"]),
        8,
        "nothing is scheduled"
    );
    let login = client.json(&["login"]);
    assert_eq!(login["account_id"], client_id.as_str());
    assert_eq!(
        client.json(&["relationship", "list"]),
        serde_json::json!([])
    );
    let _ = std::fs::remove_dir_all(&root);
}
