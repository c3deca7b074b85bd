//! Export: everything this user can read, decrypted, as a directory another
//! program can read — JSON for the account, relationships and dialogue, the
//! shared files as they were, and a manifest with the SHA-256 of every file
//! (the right to data portability). The CLI writes a directory; the web
//! client gets the same files as one ZIP archive ([`ZipSink`]).
//!
//! ```text
//! manifest.json                         format, account, every file with size and SHA-256
//! account.json                          the account and its organisations
//! relationships/<id>/relationship.json  members and dates
//! relationships/<id>/dialogue.json      every entry, oldest first, checked like a read
//! relationships/<id>/files/<item id>/<file name>
//! ```

use std::io::Write;
#[cfg(not(target_arch = "wasm32"))]
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

/// Where an export's files go: a new directory (the CLI), or a ZIP
/// archive streamed to the page (the web client).
pub trait ExportSink {
    /// Starts the file `path` (relative, with `/`).
    fn begin(&mut self, path: &str) -> Result<()>;
    /// Appends to the file begun last.
    fn write(&mut self, bytes: &[u8]) -> Result<()>;
    /// Ends the file begun last.
    fn end(&mut self) -> Result<()>;
}

/// A new directory: one file per path.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug)]
pub struct DirSink {
    root: PathBuf,
    open: Option<std::io::BufWriter<std::fs::File>>,
}

#[cfg(not(target_arch = "wasm32"))]
impl DirSink {
    /// `dir`, which must not exist or be empty.
    pub fn new(dir: &Path) -> Result<Self> {
        if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
            return Err(Error::InvalidInput(format!(
                "{} is not empty; export into a new directory",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            root: dir.to_owned(),
            open: None,
        })
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl ExportSink for DirSink {
    fn begin(&mut self, path: &str) -> Result<()> {
        let path = self.root.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        self.open = Some(std::io::BufWriter::new(std::fs::File::create_new(path)?));
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let file = self
            .open
            .as_mut()
            .ok_or_else(|| Error::InvalidInput("no export file begun".into()))?;
        Ok(file.write_all(bytes)?)
    }

    fn end(&mut self) -> Result<()> {
        if let Some(mut file) = self.open.take() {
            file.flush()?;
        }
        Ok(())
    }
}

/// A ZIP archive written as a stream to `W` (no seeking): every file
/// stored as it is, dated 1980-01-01 (ZIP's zero), so that the archive
/// says nothing the manifest does not.
pub struct ZipSink<W: Write> {
    zip: zip::ZipWriter<zip::write::StreamWriter<W>>,
}

fn zip_error(e: zip::result::ZipError) -> Error {
    Error::Io(std::io::Error::other(e))
}

impl<W: Write> std::fmt::Debug for ZipSink<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZipSink").finish_non_exhaustive()
    }
}

impl<W: Write> ZipSink<W> {
    /// An archive written to `out`.
    pub fn new(out: W) -> Self {
        Self {
            zip: zip::ZipWriter::new_stream(out),
        }
    }

    /// Writes the archive's directory; returns the writer.
    pub fn finish(self) -> Result<W> {
        Ok(self.zip.finish().map_err(zip_error)?.into_inner())
    }
}

impl<W: Write> ExportSink for ZipSink<W> {
    fn begin(&mut self, path: &str) -> Result<()> {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(true);
        self.zip.start_file(path, options).map_err(zip_error)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        Ok(self.zip.write_all(bytes)?)
    }

    fn end(&mut self) -> Result<()> {
        Ok(())
    }
}

/// The files of an export as they are written: each one counted and
/// hashed on its way to the sink, for the manifest.
struct Writer<'s> {
    sink: &'s mut dyn ExportSink,
    files: Vec<ExportedFile>,
    current: Option<(String, Sha256, u64)>,
}

impl Write for Writer<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.sink.write(buf).map_err(std::io::Error::other)?;
        if let Some((_, hash, size)) = self.current.as_mut() {
            hash.update(buf);
            *size += buf.len() as u64;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Writer<'_> {
    fn begin(&mut self, relative: &str) -> Result<()> {
        self.sink.begin(relative)?;
        self.current = Some((relative.to_owned(), Sha256::new(), 0));
        Ok(())
    }

    fn end(&mut self) -> Result<()> {
        self.sink.end()?;
        if let Some((path, hash, size)) = self.current.take() {
            self.files.push(ExportedFile {
                path,
                size,
                sha256: hex::encode(hash.finalize()),
            });
        }
        Ok(())
    }

    fn json<T: Serialize>(&mut self, relative: &str, value: &T) -> Result<()> {
        self.begin(relative)?;
        serde_json::to_writer_pretty(&mut *self, value)
            .map_err(|e| Error::Io(std::io::Error::other(e)))?;
        self.end()
    }
}

impl Session {
    /// Writes everything this user can read into `dir` (which must not
    /// exist or be empty), checking every item and file as a read does;
    /// `progress` counts file bytes. Returns the files written.
    #[cfg(not(target_arch = "wasm32"))]
    pub async fn export_to(
        &mut self,
        dir: &Path,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Vec<ExportedFile>> {
        let mut sink = DirSink::new(dir)?;
        self.export_into(&mut sink, progress).await
    }

    /// [`Self::export_to`] into any [`ExportSink`] (a [`ZipSink`] for one
    /// download). On an error, what the sink received must be discarded.
    pub async fn export_into(
        &mut self,
        sink: &mut dyn ExportSink,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Vec<ExportedFile>> {
        let mut out = Writer {
            sink,
            files: Vec::new(),
            current: None,
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
                out.begin(&relative)?;
                let start = done;
                self.download_file(rid, parse_item_id(&entry.item_id)?, &mut out, &mut |p| {
                    progress(Progress {
                        done: start + p.done,
                        total: None,
                    })
                })
                .await?;
                done += doc.size;
                out.end()?;
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
