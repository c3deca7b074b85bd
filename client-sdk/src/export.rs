//! Export: everything this user can read, decrypted, as a directory another
//! program can read — JSON for the account, relationships and dialogue, the
//! shared files as they were, and a manifest with the SHA-256 of every file
//! (the right to data portability).
//!
//! ```text
//! manifest.json                         format, account, every file with size and SHA-256
//! account.json                          the account and its organisations
//! relationships/<id>/relationship.json  members and dates
//! relationships/<id>/dialogue.json      every entry, oldest first, checked like a read
//! relationships/<id>/files/<item id>/<file name>
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::attachments::Progress;
use crate::dialogue::{parse_item_id, EntryContent};
use crate::error::{Error, Result};
use crate::session::Session;

/// The export format's name and version, first in the manifest.
pub const EXPORT_FORMAT: &str = "kluis-export/1";

/// One file of an export, as the manifest lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedFile {
    /// Path relative to the export directory, with `/`.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256 of the content (hex).
    pub sha256: String,
}

#[derive(Serialize)]
struct Manifest<'a> {
    format: &'static str,
    exported_ms: i64,
    account_id: String,
    email: &'a str,
    relationships: Vec<String>,
    files: &'a [ExportedFile],
}

/// A writer that counts and hashes what passes through.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(buf.get(..n).unwrap_or_default());
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

struct Writer {
    root: PathBuf,
    files: Vec<ExportedFile>,
}

impl Writer {
    fn create(&self, relative: &str) -> Result<Hashing<std::io::BufWriter<std::fs::File>>> {
        let path = self.root.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        Ok(Hashing {
            inner: std::io::BufWriter::new(std::fs::File::create_new(path)?),
            hash: Sha256::new(),
            size: 0,
        })
    }

    fn finish(
        &mut self,
        relative: &str,
        mut w: Hashing<std::io::BufWriter<std::fs::File>>,
    ) -> Result<()> {
        w.flush()?;
        self.files.push(ExportedFile {
            path: relative.to_owned(),
            size: w.size,
            sha256: hex::encode(w.hash.finalize()),
        });
        Ok(())
    }

    fn json<T: Serialize>(&mut self, relative: &str, value: &T) -> Result<()> {
        let mut w = self.create(relative)?;
        serde_json::to_writer_pretty(&mut w, value)
            .map_err(|e| Error::Io(std::io::Error::other(e)))?;
        self.finish(relative, w)
    }
}

impl Session {
    /// Writes everything this user can read into `dir` (which must not
    /// exist or be empty), checking every item and file as a read does;
    /// `progress` counts file bytes. Returns the files written.
    pub async fn export_to(
        &mut self,
        dir: &Path,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Vec<ExportedFile>> {
        if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
            return Err(Error::InvalidInput(format!(
                "{} is not empty; export into a new directory",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir)?;
        let mut out = Writer {
            root: dir.to_owned(),
            files: Vec::new(),
        };
        let me = self.me().await?;
        out.json("account.json", &me)?;
        let relationships = self.relationships().await?;
        let mut ids = Vec::new();
        let mut done = 0u64;
        for view in &relationships {
            let rid = view.id()?;
            let base = format!("relationships/{rid}");
            out.json(&format!("{base}/relationship.json"), view)?;
            let entries = self.dialogue(rid).await?;
            out.json(&format!("{base}/dialogue.json"), &entries)?;
            for entry in &entries {
                let EntryContent::Document(doc) = &entry.content else {
                    continue;
                };
                // The name is the author's; the crypto crate already refused
                // separators, `.` and `..`, so it stays in its directory.
                let relative = format!("{base}/files/{}/{}", entry.item_id, doc.name);
                let w = out.create(&relative)?;
                let start = done;
                let mut w = w;
                self.download_file(rid, parse_item_id(&entry.item_id)?, &mut w, &mut |p| {
                    progress(Progress {
                        done: start + p.done,
                        total: None,
                    })
                })
                .await?;
                done += doc.size;
                out.finish(&relative, w)?;
            }
            ids.push(rid.to_string());
        }
        let files = out.files.clone();
        out.json(
            "manifest.json",
            &Manifest {
                format: EXPORT_FORMAT,
                exported_ms: crate::dialogue::now_ms(),
                account_id: self.account_id().to_string(),
                email: &me.email,
                relationships: ids,
                files: &files,
            },
        )?;
        Ok(files)
    }
}
