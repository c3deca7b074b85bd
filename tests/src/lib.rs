//! The end-to-end harness: a real `kluis-server` process on a fresh SQLite
//! file or PostgreSQL database, its printed setup link, its outbox as a
//! mailbox, and everything it wrote (database files, a PostgreSQL dump,
//! logs, mail) for the scans that prove it holds nothing but ciphertext.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod browser;
pub mod cable;
pub mod practice;
pub mod proxy;
pub mod smtp;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kluis_test_support::process::server_command;
use kluis_test_support::{
    temp_dir, Engine, FreshPostgres, Outbox, ServerProcess, TempDir, GENEROUS_LIMITS,
};

/// A running server process.
#[derive(Debug)]
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
    outbox: Outbox,
    // Dropped in this order: the process, its database, its files.
    process: ServerProcess,
    postgres: Option<FreshPostgres>,
    root: TempDir,
}

impl Server {
    /// Starts `binary` (a test's `env!("CARGO_BIN_EXE_kluis-server-e2e")`)
    /// on a fresh database, logging at debug level.
    pub fn start(engine: Engine, binary: &str) -> Self {
        Self::start_with(engine, binary, &[])
    }

    /// [`Self::start`] with more `KLUIS_*` settings.
    pub fn start_with(engine: Engine, binary: &str, settings: &[(&str, &str)]) -> Self {
        let postgres = (engine == Engine::Postgres).then(FreshPostgres::create);
        let url = postgres.as_ref().map(|db| db.url().to_owned());
        Self::spawn(engine, binary, settings, url.as_deref(), postgres)
    }

    /// A second instance on this one's PostgreSQL database (its own data
    /// directory and log), as a deployment with several servers runs. Start
    /// it before the organisation is set up: it waits for a setup link.
    pub fn start_sharing(&self, binary: &str, settings: &[(&str, &str)]) -> Self {
        let db = self.postgres.as_ref().expect("instances share PostgreSQL");
        // Only the instance that created the database drops it.
        Self::spawn(Engine::Postgres, binary, settings, Some(db.url()), None)
    }

    fn spawn(
        engine: Engine,
        binary: &str,
        settings: &[(&str, &str)],
        database_url: Option<&str>,
        postgres: Option<FreshPostgres>,
    ) -> Self {
        let root = temp_dir();
        let data_dir = root.path().join("data");
        std::fs::create_dir_all(&data_dir).unwrap();
        let log_path = root.path().join("server.log");
        let mut cmd = server_command(binary, &data_dir, database_url);
        cmd.env("KLUIS_LOG", "debug");
        // Generous limits: the journeys log in many times from one address.
        cmd.envs(GENEROUS_LIMITS);
        for (k, v) in settings {
            cmd.env(k, v);
        }
        let process = ServerProcess::spawn(cmd, Some(&log_path));
        Self {
            base: process.base.clone(),
            setup_link: process.setup_link.clone(),
            outbox: Outbox::new(&data_dir.join("outbox"), Duration::from_secs(20)),
            data_dir,
            log_path,
            engine,
            process,
            postgres,
            root,
        }
    }

    /// The next unread e-mail of `kind` to `to`, waiting for the worker.
    pub async fn mail(&self, to: &str, kind: &str) -> String {
        self.outbox.mail(to, kind).await
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
        collect_files(self.root.path(), &mut out);
        if let Some(db) = &self.postgres {
            let dump = Command::new("pg_dump")
                .args(["-d", db.url()])
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
        self.postgres
            .as_ref()
            .expect("a PostgreSQL instance")
            .query(sql)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Stops the server gracefully (SIGTERM) and waits for it.
    pub fn stop(&mut self) {
        self.process.terminate();
        self.process.wait();
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

/// The texts of the messages among `entries`, in order (notes, files and
/// tombstones left out).
pub fn message_texts(entries: &[kluis_sdk::Entry]) -> Vec<String> {
    entries
        .iter()
        .filter_map(|e| match &e.content {
            kluis_sdk::EntryContent::Message { text } => Some(text.clone()),
            _ => None,
        })
        .collect()
}
