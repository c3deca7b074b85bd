//! A real SMTP server for the tests: `tests/smtp_sink.py` (aiosmtpd) in a
//! child process, with what it received decoded by Python's own MIME
//! parser, so the server's messages are checked by an implementation that
//! is not lettre.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

const PYTHON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python");
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/smtp_sink.py");

/// One message as the sink received and decoded it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Received {
    /// The envelope sender.
    pub mail_from: String,
    /// The envelope recipients.
    pub rcpt_tos: Vec<String>,
    /// Headers, names lower-case.
    pub headers: BTreeMap<String, String>,
    /// The top-level content type.
    pub content_type: String,
    /// The text/plain part.
    pub text: Option<String>,
    /// The text/html part.
    pub html: Option<String>,
    /// Whether the session was under STARTTLS.
    pub tls: bool,
    /// The message as it came over the wire.
    #[serde(skip)]
    pub raw: Vec<u8>,
    /// The file the sink wrote it to.
    #[serde(skip)]
    pub file: PathBuf,
}

impl Received {
    /// A header's value ("" if absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    /// The `X-Kluis-Kind` header.
    pub fn kind(&self) -> &str {
        self.header("x-kluis-kind")
    }

    /// The link in the text part.
    pub fn link(&self) -> String {
        self.text
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .find(|w| w.starts_with("http"))
            .expect("a link in the mail")
            .to_owned()
    }
}

/// The running sink.
#[allow(missing_debug_implementations)]
pub struct SmtpSink {
    /// Where it listens (127.0.0.1).
    pub port: u16,
    /// With STARTTLS required: the test CA's certificate (PEM file).
    pub ca_file: Option<PathBuf>,
    dir: PathBuf,
    child: Option<Child>,
    read: Mutex<HashSet<PathBuf>>,
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl SmtpSink {
    /// Starts a sink on a free port.
    pub fn start() -> Self {
        Self::start_on(free_port(), 0)
    }

    /// Starts a sink on `port` that refuses the first `refuse` messages
    /// with 451.
    pub fn start_on(port: u16, refuse: u32) -> Self {
        Self::spawn(port, refuse, false)
    }

    /// A sink that requires STARTTLS, with a certificate for `localhost`
    /// from a test CA (in [`Self::ca_file`]).
    pub fn start_tls() -> Self {
        Self::spawn(free_port(), 0, true)
    }

    fn spawn(port: u16, refuse: u32, tls: bool) -> Self {
        let dir = std::env::temp_dir().join(format!("kluis-smtp-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let tls_dir = dir.with_extension("tls");
        let mut cmd = Command::new(PYTHON);
        cmd.arg(SCRIPT)
            .args(["--port", &port.to_string(), "--refuse", &refuse.to_string()])
            .arg("--dir")
            .arg(&dir);
        if tls {
            std::fs::create_dir_all(&tls_dir).unwrap();
            cmd.arg("--tls-dir").arg(&tls_dir);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .expect("python with aiosmtpd in ./.venv (./scripts/test installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP sink did not start");
        Self {
            port,
            ca_file: tls.then(|| tls_dir.join("ca.pem")),
            dir,
            child: Some(child),
            read: Mutex::default(),
        }
    }

    /// The server settings that send to this sink (plain SMTP).
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        Self::settings_for(self.port)
    }

    /// The server settings that send to a sink on `port` (which may start
    /// later).
    pub fn settings_for(port: u16) -> Vec<(&'static str, String)> {
        vec![
            ("KLUIS_SMTP_HOST", "127.0.0.1".to_owned()),
            ("KLUIS_SMTP_PORT", port.to_string()),
            ("KLUIS_SMTP_TLS", "none".to_owned()),
            ("KLUIS_MAIL_FROM", "Kluis <noreply@kluis.test>".to_owned()),
        ]
    }

    /// Everything received so far.
    pub fn all(&self) -> Vec<Received> {
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return out;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            // The sink writes `.<id>.json` and renames it when complete: a
            // hidden file is one still being written.
            let hidden = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_none_or(|n| n.starts_with('.'));
            if hidden || path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let mut m: Received = serde_json::from_str(&text).unwrap();
            m.raw = std::fs::read(path.with_extension("eml")).unwrap();
            m.file = path;
            out.push(m);
        }
        out
    }

    /// Everything received so far to `to` of `kind`.
    pub fn to(&self, to: &str, kind: &str) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|m| m.rcpt_tos.iter().any(|r| r == to) && m.kind() == kind)
            .collect()
    }

    /// The next unread message of `kind` to `to`, waiting up to `patience`.
    pub async fn next(&self, to: &str, kind: &str, patience: Duration) -> Received {
        let started = std::time::Instant::now();
        loop {
            for m in self.to(to, kind) {
                if self.read.lock().unwrap().insert(m.file.clone()) {
                    return m;
                }
            }
            assert!(
                started.elapsed() < patience,
                "no {kind} mail to {to} within {patience:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(ca) = &self.ca_file {
            if let Some(tls_dir) = ca.parent() {
                let _ = std::fs::remove_dir_all(tls_dir);
            }
        }
    }
}
