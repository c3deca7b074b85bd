//! Checking the web client a server serves against the bundle built from
//! source (`kluis verify-web`). `scripts/build-web` writes
//! `web/dist/bundle-manifest.json`: the SHA-256 of every file of the
//! bundle. A server publishes its own at `/.well-known/kluis-bundle.json`;
//! what counts is not that list but the bytes it serves, so every file of
//! the local manifest is fetched and hashed here.
//!
//! What this proves, and what not, is in THREAT_MODEL.md: that the server
//! served these bytes to this request — not to every browser, every time.

use std::collections::BTreeMap;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result, Violation};

/// The manifest's format name.
pub const MANIFEST_FORMAT: &str = "kluis-web-bundle/1";

/// Where a server publishes its bundle's manifest.
pub const WELL_KNOWN_MANIFEST: &str = "/.well-known/kluis-bundle.json";

/// A bundle's manifest: file path → SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BundleManifest {
    format: String,
    /// The files, by path in the bundle.
    pub files: BTreeMap<String, String>,
}

impl BundleManifest {
    /// Reads a manifest, refusing another format or an empty one.
    pub fn parse(json: &[u8]) -> Result<Self> {
        let m: Self = serde_json::from_slice(json)
            .map_err(|e| Error::InvalidInput(format!("not a bundle manifest: {e}")))?;
        if m.format != MANIFEST_FORMAT || m.files.is_empty() {
            return Err(Error::InvalidInput(format!(
                "not a {MANIFEST_FORMAT} manifest with files"
            )));
        }
        Ok(m)
    }

    /// The files of this manifest whose served bytes (`served`, by path;
    /// `None` for a file the server did not serve) have another SHA-256.
    pub fn differing<'a>(
        &'a self,
        mut served: impl FnMut(&str) -> Option<&'a [u8]>,
    ) -> Vec<String> {
        self.files
            .iter()
            .filter(|(path, want)| match served(path) {
                Some(bytes) => hex::encode(Sha256::digest(bytes)) != want.as_str(),
                None => true,
            })
            .map(|(path, _)| path.clone())
            .collect()
    }
}

/// What a check of a served web client found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleCheck {
    /// Files compared.
    pub files: usize,
    /// Whether the server's published manifest equals the local one.
    pub published_manifest_matches: bool,
}

/// Fetches every file of `local` from `server` (its root) and compares;
/// the served files must all match ([`Violation::BundleDiffers`]
/// otherwise). The published manifest is compared too, and reported.
pub async fn verify_served(server: &str, local: &BundleManifest) -> Result<BundleCheck> {
    let base = server.trim_end_matches('/');
    let http = reqwest::Client::new();
    let fetch = |path: String| {
        let http = http.clone();
        async move {
            let r = http
                .get(&path)
                .send()
                .await
                .map_err(|e| Error::Unreachable {
                    url: path.clone(),
                    reason: e.to_string(),
                })?;
            if !r.status().is_success() {
                return Ok(None);
            }
            let bytes = r.bytes().await.map_err(|e| Error::Unreachable {
                url: path.clone(),
                reason: e.to_string(),
            })?;
            Ok::<_, Error>(Some(bytes.to_vec()))
        }
    };
    let mut served: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::new();
    for path in local.files.keys() {
        served.insert(path.clone(), fetch(format!("{base}/{path}")).await?);
    }
    let differing = local.differing(|p| served.get(p).and_then(|b| b.as_deref()));
    if !differing.is_empty() {
        return Err(Violation::BundleDiffers { files: differing }.into());
    }
    let published = fetch(format!("{base}{WELL_KNOWN_MANIFEST}"))
        .await?
        .and_then(|b| BundleManifest::parse(&b).ok());
    Ok(BundleCheck {
        files: local.files.len(),
        published_manifest_matches: published.as_ref() == Some(local),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(files: &[(&str, &[u8])]) -> BundleManifest {
        let files: BTreeMap<String, String> = files
            .iter()
            .map(|(p, b)| ((*p).to_owned(), hex::encode(Sha256::digest(b))))
            .collect();
        let json = serde_json::json!({"format": MANIFEST_FORMAT, "files": files});
        BundleManifest::parse(json.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn a_changed_or_missing_file_is_named_and_the_same_bytes_pass() {
        let m = manifest(&[("index.html", b"<p>kluis"), ("js/app.js", b"x()")]);
        let same = |p: &str| -> Option<&[u8]> {
            match p {
                "index.html" => Some(b"<p>kluis"),
                "js/app.js" => Some(b"x()"),
                _ => None,
            }
        };
        assert!(m.differing(same).is_empty());
        let altered = |p: &str| -> Option<&[u8]> {
            match p {
                "index.html" => Some(b"<p>kluis"),
                "js/app.js" => Some(b"x();steal()"),
                _ => None,
            }
        };
        assert_eq!(m.differing(altered), ["js/app.js"]);
        let missing = |p: &str| -> Option<&[u8]> { (p == "js/app.js").then_some(b"x()") };
        assert_eq!(m.differing(missing), ["index.html"]);
    }

    #[test]
    fn another_format_or_an_empty_manifest_is_refused() {
        for json in [
            r#"{"format":"other/1","files":{"a":"00"}}"#,
            r#"{"format":"kluis-web-bundle/1","files":{}}"#,
            r#"{"files":{"a":"00"}}"#,
            "not json",
        ] {
            assert!(BundleManifest::parse(json.as_bytes()).is_err(), "{json}");
        }
    }
}
