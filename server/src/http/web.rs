//! The web client's files, served at the server's root by the one binary.
//!
//! A release build carries the bundle (`web/dist`, which `scripts/build-web`
//! assembles: the page, its scripts with Subresource Integrity, the
//! WebAssembly SDK, the manifest) inside the executable, so a deployment
//! is one file; a debug build reads the same folder from disk,
//! so a change shows on reload. `KLUIS_WEB_DIR` serves another folder
//! instead (development). Every page a printed or e-mailed link opens
//! (`/setup`, `/invitation`, `/reset`, `/verify`, `/email-change`, with the
//! token in the fragment, which the browser never sends) is the client's
//! `index.html`; the bundle's manifest is also at
//! `/.well-known/kluis-bundle.json`; anything else that is not a file is
//! the JSON 404.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The bundle as built into this binary (empty if `web/dist` was
/// missing): what `scripts/build-web` assembled — the page with
/// Subresource Integrity on every script, its style, the compiled
/// scripts, the SDK and the bundle's manifest.
#[derive(rust_embed::Embed)]
#[folder = "../web/dist"]
#[allow_missing = true]
struct Bundle;

/// The bundle's manifest (SHA-256 of every file), also at the well-known
/// address a verifier asks first.
pub(crate) const MANIFEST: &str = "bundle-manifest.json";
pub(crate) const WELL_KNOWN_MANIFEST: &str = "/.well-known/kluis-bundle.json";

/// The pages links open: each is the single-page client.
pub(crate) const PAGES: &[&str] = &[
    "/",
    "/setup",
    "/invitation",
    "/reset",
    "/verify",
    "/email-change",
];

/// Where the files come from.
#[derive(Clone, Debug)]
pub(crate) enum Source {
    /// Built into the binary (the default).
    Embedded,
    /// A folder on disk (`KLUIS_WEB_DIR`).
    Dir(PathBuf),
}

/// The file a request path names, `None` for a path outside the bundle's
/// shape (`..`, empty segments, a backslash): such a path names no file.
fn file_name(path: &str) -> Option<String> {
    if PAGES.contains(&path) {
        return Some("index.html".into());
    }
    if path == WELL_KNOWN_MANIFEST {
        return Some(MANIFEST.into());
    }
    let name = path.strip_prefix('/')?;
    let plain = name
        .split('/')
        .all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains('\\'));
    plain.then(|| name.to_owned())
}

fn content_type(name: &str) -> &'static str {
    match Path::new(name).extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The bytes of `name` and a strong validator (SHA-256 of the content).
async fn read(source: &Source, name: &str) -> Option<(Vec<u8>, String)> {
    use sha2::{Digest, Sha256};
    match source {
        Source::Embedded => {
            let file = Bundle::get(name)?;
            let tag = hex_of(&file.metadata.sha256_hash());
            Some((file.data.into_owned(), tag))
        }
        Source::Dir(dir) => {
            let bytes = tokio::fs::read(dir.join(name)).await.ok()?;
            let tag = hex_of(&Sha256::digest(&bytes));
            Some((bytes, tag))
        }
    }
}

/// Whether one element of an Accept-Encoding list (`br;q=0.8`) takes
/// `coding`: named, and not weighted zero (RFC 9110 §12.5.3).
fn accepted(element: &str, coding: &str) -> bool {
    let mut parts = element.split(';').map(str::trim);
    if parts.next() != Some(coding) {
        return false;
    }
    parts
        .filter_map(|p| p.strip_prefix("q="))
        .all(|q| q.parse::<f32>().is_ok_and(|q| q > 0.0))
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a browser sees where the bundle was not built into this binary:
/// a sentence, not a JSON error.
fn missing_bundle() -> Response {
    let page = "<!doctype html><html lang=\"nl\"><meta charset=\"utf-8\"><title>Kluis</title>\
        <p>De webclient is niet in deze build meegenomen. Start Kluis met <code>./scripts/run</code>.</p>\
        <p lang=\"en\">The web client is not part of this build. Start Kluis with <code>./scripts/run</code>.</p></html>";
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

/// Serves one file of the web client, or the JSON 404.
pub(crate) async fn serve(
    source: Source,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return ApiError::NotFound.into_response();
    }
    let path = uri.path();
    if path.starts_with("/api/") {
        return ApiError::NotFound.into_response();
    }
    let Some(name) = file_name(path) else {
        return ApiError::NotFound.into_response();
    };
    // The bundle's Brotli or gzip copy of the file when the browser takes
    // it (the scripts and the wasm: files under SRI).
    let accepts = |coding: &str| {
        headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|c| accepted(c, coding)))
    };
    let mut coding = None;
    let mut found = None;
    for (c, ext) in [("br", "br"), ("gzip", "gz")] {
        if accepts(c) {
            if let Some(f) = read(&source, &format!("{name}.{ext}")).await {
                coding = Some(c);
                found = Some(f);
                break;
            }
        }
    }
    if found.is_none() {
        found = read(&source, &name).await;
    }
    let Some((bytes, tag)) = found else {
        if name == "index.html" {
            return missing_bundle();
        }
        return ApiError::NotFound.into_response();
    };
    let etag = format!("\"{tag}\"");
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else if method == Method::HEAD {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(bytes))
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&name)),
    );
    // Revalidated on every load (the names carry no hash yet), so a
    // deployment's new bundle is used at once.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(c) = coding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(c));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_encoding_weighted_zero_is_refused() {
        assert!(accepted("br", "br"));
        assert!(accepted(" br;q=0.5", "br"));
        assert!(!accepted("br;q=0", "br"));
        assert!(!accepted("br;q=0.0", "br"));
        assert!(!accepted("gzip", "br"));
        assert!(!accepted("br;q=x", "br"));
    }

    #[test]
    fn links_open_the_client_and_odd_paths_name_no_file() {
        for page in PAGES {
            assert_eq!(file_name(page).as_deref(), Some("index.html"));
        }
        assert_eq!(file_name("/js/app.js").as_deref(), Some("js/app.js"));
        assert_eq!(
            file_name(WELL_KNOWN_MANIFEST).as_deref(),
            Some("bundle-manifest.json")
        );
        assert_eq!(
            file_name("/pkg/kluis_sdk.js").as_deref(),
            Some("pkg/kluis_sdk.js")
        );
        for odd in [
            "/../Cargo.toml",
            "/pkg/../../x",
            "//etc",
            "/a\\b",
            "/pkg/",
            "x",
        ] {
            assert_eq!(file_name(odd), None, "{odd}");
        }
    }
}
