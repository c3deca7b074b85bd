//! The web client served by the server itself (issue 15): the bundle built
//! into the binary by default, every page a link opens is the client, the
//! security headers on each, revalidation by ETag, the JSON 404 for
//! anything else, and `KLUIS_WEB_DIR` as an override.

use kluis_server::store::Engine;
use reqwest::StatusCode;

use crate::common::TestServer;

#[tokio::test]
async fn the_links_open_the_web_client() {
    let s = TestServer::start(Engine::Sqlite).await;
    let index = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/dist/index.html"),
    )
    .unwrap();
    for page in [
        "/",
        "/setup",
        "/invitation",
        "/reset",
        "/verify",
        "/email-change",
    ] {
        let r = s.http.get(s.url(page)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{page}");
        let h = r.headers().clone();
        assert_eq!(h["content-type"], "text/html; charset=utf-8", "{page}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
            "{page}: {csp}"
        );
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(r.text().await.unwrap(), index, "{page}");
    }
    // A file, and the same file again with its ETag: not sent twice.
    let r = s.http.get(s.url("/js/app.js")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(r.headers()["cache-control"], "no-cache");
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let again = s
        .http
        .get(s.url("/js/app.js"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.bytes().await.unwrap().is_empty());
    // The page carries Subresource Integrity for its scripts; the
    // manifest is served at its well-known address too, and names every
    // file with its SHA-256.
    assert!(index.contains("<script type=\"module\" src=\"/js/app.js\" integrity=\"sha384-"));
    assert!(index.contains("rel=\"modulepreload\" href=\"/pkg/kluis_sdk.js\" integrity=\"sha384-"));
    let manifest: serde_json::Value = s
        .http
        .get(s.url("/.well-known/kluis-bundle.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let files = manifest["files"].as_object().unwrap();
    for name in ["index.html", "js/app.js", "pkg/kluis_sdk_bg.wasm"] {
        let bytes = s
            .http
            .get(s.url(&format!("/{name}")))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        use sha2::Digest as _;
        let hex: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(files[name], hex.as_str(), "{name}");
    }
    // A browser that takes Brotli (or gzip) gets the bundle's compressed
    // copy of the wasm, marked so; one that does not, the bytes as they
    // are; a cache keeps them apart.
    for (accept, coding) in [
        ("gzip, deflate, br", Some("br")),
        ("gzip", Some("gzip")),
        ("identity", None),
    ] {
        let r = s
            .http
            .get(s.url("/pkg/kluis_sdk_bg.wasm"))
            .header("accept-encoding", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["vary"], "accept-encoding");
        assert_eq!(
            r.headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap()),
            coding,
            "{accept}"
        );
        assert_eq!(r.headers()["content-type"], "application/wasm");
        let body = r.bytes().await.unwrap();
        let raw = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../web/dist/pkg/kluis_sdk_bg.wasm"),
        )
        .unwrap();
        if coding.is_some() {
            assert!(
                body.len() * 2 < raw.len(),
                "{accept}: {} of {}",
                body.len(),
                raw.len()
            );
        } else {
            assert!(body == raw, "identity: the file itself");
        }
    }
    // Anything else is the JSON 404, under /api/ too; writes name no file.
    for path in [
        "/nothing.js",
        "/setup/extra",
        "/api/nothing",
        "/pkg/",
        "/.gitignore",
        "/package.json",
        "/tsconfig.json",
        "/node_modules/typescript/package.json",
        "/src/app.ts",
    ] {
        let r = s.http.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], "not_found", "{path}");
    }
    let r = s.http.post(s.url("/setup")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    s.stop().await;
}

#[tokio::test]
async fn a_web_dir_overrides_the_built_in_bundle() {
    let dir = kluis_test_support::temp_dir();
    std::fs::write(dir.path().join("index.html"), "<!doctype html><p>eigen</p>").unwrap();
    let s = TestServer::start_with(
        Engine::Sqlite,
        &[("KLUIS_WEB_DIR", dir.path().to_str().unwrap())],
    )
    .await;
    let r = s.http.get(s.url("/invitation")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "<!doctype html><p>eigen</p>");
    let r = s.http.get(s.url("/js/app.js")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "only the folder's files");
    s.stop().await;
}
