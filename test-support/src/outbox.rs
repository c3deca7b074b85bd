//! The development outbox (`<data dir>/outbox/*.eml`, where the server
//! writes its e-mail when no SMTP relay is configured) as a mailbox.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// How often the outbox is looked at while waiting for a mail.
const POLL: Duration = Duration::from_millis(50);

/// A server's outbox; remembers which mails a test has read.
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    patience: Duration,
    read: Mutex<HashSet<PathBuf>>,
}

impl Outbox {
    /// The outbox in `dir`, waiting up to `patience` for a mail (the
    /// server's worker delivers on its own tick).
    pub fn new(dir: &Path, patience: Duration) -> Self {
        Self {
            dir: dir.to_owned(),
            patience,
            read: Mutex::new(HashSet::new()),
        }
    }

    /// The next unread e-mail of `kind` (`X-Kluis-Kind`) to `to`.
    pub async fn mail(&self, to: &str, kind: &str) -> String {
        let tries = self.patience.as_millis() / POLL.as_millis();
        for _ in 0..tries {
            let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
                .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
                .unwrap_or_default();
            names.sort();
            for path in names {
                if path.extension().is_none_or(|e| e != "eml")
                    || self.read.lock().unwrap().contains(&path)
                {
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                if text.contains(&format!("To: {to}\n"))
                    && text.contains(&format!("X-Kluis-Kind: {kind}\n"))
                {
                    self.read.lock().unwrap().insert(path);
                    return text;
                }
            }
            tokio::time::sleep(POLL).await;
        }
        panic!("no {kind} mail to {to}");
    }

    /// Every e-mail delivered so far (read or not).
    pub fn all(&self) -> Vec<String> {
        std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .map(|e| std::fs::read_to_string(e.path()).unwrap())
                    .collect()
            })
            .unwrap_or_default()
    }
}
