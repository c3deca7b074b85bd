//! The end-to-end harness: a real `kluis-server` process on a fresh SQLite
//! file or PostgreSQL database, its printed setup link, its outbox as a
//! mailbox, and everything it wrote (database files, a PostgreSQL dump,
//! logs, mail) for the scans that prove it holds nothing but ciphertext.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod proxy;
pub mod smtp;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The database engines every test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// An SQLite file in the data directory.
    Sqlite,
    /// A fresh database on the local PostgreSQL, dropped afterwards.
    Postgres,
}

/// Runs an async test body once per engine.
#[macro_export]
macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(kluis_e2e::Engine::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(kluis_e2e::Engine::Postgres).await;
                }
            )*
        }
    };
}

const PG: [&str; 6] = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"];

fn psql(sql: &str) {
    psql_on("test", sql);
}

/// Runs `sql` on database `db`; its output, unaligned, without headers.
fn psql_on(db: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(PG)
        .args(["-d", db, "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A running server process.
#[allow(missing_debug_implementations)]
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The one-time setup link it printed.
    pub setup_link: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Where its log (stderr) goes.
    pub log_path: PathBuf,
    /// The engine.
    pub engine: Engine,
    root: PathBuf,
    pg_name: Option<String>,
    child: Option<Child>,
    read_mail: std::sync::Mutex<std::collections::HashSet<PathBuf>>,
}

impl Server {
    /// Starts `binary` (a test's `env!("CARGO_BIN_EXE_kluis-server-e2e")`)
    /// on a fresh database, logging at debug level.
    pub fn start(engine: Engine, binary: &str) -> Self {
        Self::start_with(engine, binary, &[])
    }

    /// [`Self::start`] with more `KLUIS_*` settings.
    pub fn start_with(engine: Engine, binary: &str, settings: &[(&str, &str)]) -> Self {
        Self::spawn(engine, binary, settings, None)
    }

    /// A second instance on this one's PostgreSQL database (its own data
    /// directory and log), as a deployment with several servers runs. Start
    /// it before the organisation is set up: it waits for a setup link.
    pub fn start_sharing(&self, binary: &str, settings: &[(&str, &str)]) -> Self {
        let name = self.pg_name.as_deref().expect("instances share PostgreSQL");
        Self::spawn(Engine::Postgres, binary, settings, Some(name))
    }

    fn spawn(
        engine: Engine,
        binary: &str,
        settings: &[(&str, &str)],
        shared_pg: Option<&str>,
    ) -> Self {
        let root = std::env::temp_dir().join(format!("kluis-e2e-{}", rand::random::<u64>()));
        let data_dir = root.join("data");
        std::fs::create_dir_all(&data_dir).unwrap();
        let log_path = root.join("server.log");
        let mut cmd = Command::new(binary);
        cmd.env("KLUIS_DATA_DIR", &data_dir)
            .env("KLUIS_BIND", "127.0.0.1:0")
            .env("KLUIS_LOG", "debug")
            .env_remove("KLUIS_PUBLIC_URL")
            .env_remove("KLUIS_CONFIG");
        // Generous limits: the journeys log in many times from one address.
        for (k, v) in [
            ("KLUIS_LOGIN_PER_ADDRESS_PER_MINUTE", "100000"),
            ("KLUIS_LOGIN_PER_ACCOUNT_PER_MINUTE", "100000"),
            ("KLUIS_RESET_PER_ADDRESS_PER_HOUR", "100000"),
            ("KLUIS_RESET_PER_ACCOUNT_PER_HOUR", "100000"),
            ("KLUIS_INVITATIONS_PER_ACCOUNT_PER_HOUR", "100000"),
            ("KLUIS_TOKENS_PER_ADDRESS_PER_MINUTE", "100000"),
        ] {
            cmd.env(k, v);
        }
        for (k, v) in settings {
            cmd.env(k, v);
        }
        let pg_name = match engine {
            Engine::Sqlite => {
                cmd.env_remove("KLUIS_DATABASE_URL");
                None
            }
            Engine::Postgres => {
                let name = match shared_pg {
                    Some(name) => name.to_owned(),
                    None => {
                        let name = format!("kluis_e2e_{}", rand::random::<u32>());
                        psql(&format!("CREATE DATABASE {name}"));
                        name
                    }
                };
                cmd.env(
                    "KLUIS_DATABASE_URL",
                    format!("postgres://postgres@127.0.0.1:5432/{name}"),
                );
                // Only the instance that created the database drops it.
                shared_pg.is_none().then_some(name)
            }
        };
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .expect("the server binary");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let setup_link = loop {
            let mut line = String::new();
            let n = stdout.read_line(&mut line).unwrap();
            if n == 0 {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                panic!("the server exited before printing its setup link:\n{log}");
            }
            if let Some(word) = line
                .split_whitespace()
                .find(|w| w.contains("/setup#token="))
            {
                break word.to_owned();
            }
        };
        // Keep reading stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while stdout.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        let base = setup_link.split("/setup#").next().unwrap().to_owned();
        Self {
            base,
            setup_link,
            data_dir,
            log_path,
            engine,
            root,
            pg_name,
            child: Some(child),
            read_mail: Default::default(),
        }
    }

    fn outbox(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }

    /// The next unread e-mail of `kind` to `to`, waiting for the worker.
    pub async fn mail(&self, to: &str, kind: &str) -> String {
        for _ in 0..400 {
            let mut names: Vec<PathBuf> = std::fs::read_dir(self.outbox())
                .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
                .unwrap_or_default();
            names.sort();
            for path in names {
                if path.extension().is_none_or(|e| e != "eml")
                    || self.read_mail.lock().unwrap().contains(&path)
                {
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                if text.contains(&format!("To: {to}\n"))
                    && text.contains(&format!("X-Kluis-Kind: {kind}\n"))
                {
                    self.read_mail.lock().unwrap().insert(path);
                    return text;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {kind} mail to {to}");
    }

    /// The link in an e-mail.
    pub fn link_in(mail: &str) -> String {
        mail.split_whitespace()
            .find(|w| w.contains("#token="))
            .expect("a link in the mail")
            .to_owned()
    }

    /// Everything the server wrote that an attacker with the disk, a
    /// backup or the logs would read: database files (SQLite with its WAL)
    /// or a PostgreSQL dump, the log, and every e-mail.
    pub fn everything_written(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        collect_files(&self.root, &mut out);
        if let Some(name) = &self.pg_name {
            let dump = Command::new("pg_dump")
                .args(PG)
                .args(["-d", name])
                .output()
                .expect("pg_dump");
            assert!(
                dump.status.success(),
                "{}",
                String::from_utf8_lossy(&dump.stderr)
            );
            assert!(dump.stdout.len() > 1000, "a dump with the schema and rows");
            out.push(("pg_dump".to_owned(), dump.stdout));
        }
        out
    }

    /// One value from this instance's PostgreSQL database (`psql -tA`).
    pub fn pg_value(&self, sql: &str) -> String {
        psql_on(self.pg_name.as_deref().expect("a PostgreSQL instance"), sql)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Stops the server gracefully (SIGTERM) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            for _ in 0..100 {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn collect_files(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path.display().to_string(), bytes));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(name) = &self.pg_name {
            psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// How often `needle` occurs in `haystack`.
pub fn occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    if needle.is_empty() || haystack.len() < needle.len() {
        return 0;
    }
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}
