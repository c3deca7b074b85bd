//! A large file up and down in Chromium — the SDK as WebAssembly, through
//! the page's screens — next to the native SDK moving the same bytes to and
//! from the same server in the same run, with the page's memory after a
//! small and after the large file (flat: the same). Not run by
//! `./scripts/test` (a benchmark); results go to docs/BENCHMARKS.md.
//!
//! ```text
//! ./scripts/build-web && cargo bench -p kluis-e2e --bench web_files
//! KLUIS_BENCH_MIB=100 ...   (default 100; the small file is a tenth)
//! ```
//!
//! The download goes through the save picker (the File System Access API,
//! here backed by the origin's private file system): written as decrypted,
//! as a user's browser does it. Every byte is checked (SHA-256 both ways).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::Instant;

use kluis_e2e::browser::Browser;
use kluis_e2e::practice::{start_conversation, Practice, PASSWORD};
use kluis_e2e::Server;
use kluis_sdk::state::MemoryStore;
use kluis_sdk::{EntryContent, Role, Session};
use kluis_test_support::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_kluis-server-e2e");

/// Resident memory of the busiest Chromium renderer, bytes: its peak
/// (VmHWM) and now (VmRSS).
fn renderer_rss() -> (u64, u64) {
    let (mut peak, mut now) = (0, 0);
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let dir = entry.path();
        let Ok(cmdline) = std::fs::read(dir.join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline);
        if !cmdline.contains("chromium") || !cmdline.contains("--type=renderer") {
            continue;
        }
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        let kib = |field: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0)
                * 1024
        };
        peak = peak.max(kib("VmHWM:"));
        now = now.max(kib("VmRSS:"));
    }
    (peak, now)
}

fn file_of(mib: usize, seed: u32) -> Vec<u8> {
    (0..(mib * 1024 * 1024) as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

fn mb_per_s(bytes: usize, seconds: f64) -> f64 {
    bytes as f64 / 1e6 / seconds
}

struct Round {
    up_s: f64,
    down_s: f64,
    memory: Value,
    renderer: (u64, u64),
}

/// One file up through the page, then down through the page; checked.
async fn through_the_page(
    b: &mut Browser,
    coach: &mut Session,
    rid: kluis_sdk::kluis_crypto::ids::RelationshipId,
    dir: &std::path::Path,
    name: &str,
    bytes: &[u8],
) -> Round {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let t0 = Instant::now();
    b.step("upload", json!(["#attach", path.to_str().unwrap()]));
    b.step("waitForTextLong", json!([".messages", name, 1_200_000]));
    let up_s = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    b.step(
        "click",
        json!([format!(".document:has-text(\"{name}\") button.download")]),
    );
    b.step(
        "waitForTextLong",
        json!([".messages", format!("{name} was downloaded"), 1_200_000]),
    );
    let down_s = t0.elapsed().as_secs_f64();
    // Before the check below, which reads the whole file into the page.
    let memory = b.step("memory", json!([]));
    let renderer = renderer_rss();
    let saved = b.step("opfsFile", json!([name]));
    assert_eq!(saved["size"], bytes.len());
    assert_eq!(saved["sha256"], format!("{:x}", Sha256::digest(bytes)));
    // What the page sent is what the coach reads.
    let entries = coach.dialogue(rid).await.unwrap();
    assert!(entries
        .iter()
        .any(|e| matches!(&e.content, EntryContent::Document(d) if d.name == name)));
    Round {
        up_s,
        down_s,
        memory,
        renderer,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mib: usize = std::env::var("KLUIS_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let web = kluis_e2e::browser::repo().join("web/dist");
    let limit = (mib + 16).to_string();
    let server = Server::start_with(
        Engine::Sqlite,
        BIN,
        &[
            ("KLUIS_WEB_DIR", web.to_str().unwrap()),
            ("KLUIS_MAX_ATTACHMENT_MIB", &limit),
        ],
    );
    let practice = Practice::set_up(&server).await;
    let mut coach = practice
        .join(
            None,
            "carla@p.nl",
            Role::Coach,
            &server.base,
            Arc::new(MemoryStore::new()),
        )
        .await;
    coach
        .invite(&practice.org, "kees@p.nl", Role::Client)
        .await
        .unwrap();
    let invitation = Server::link_in(&server.mail("kees@p.nl", "invitation").await);
    let mut b = Browser::open(&server.base);
    b.step("viewport", json!([1200, 800]));
    b.sign_up(&invitation, "Kees de Boer", PASSWORD);
    let (rid, _) = start_conversation(&practice, &mut coach, "kees@p.nl", "Welkom!").await;
    b.keep_recovery_key();
    b.acknowledge_privacy_notice("Right to lodge a complaint");
    b.step("click", json!(["button.relationship"]));
    b.step("waitForText", json!([".messages", "Welkom!"]));
    b.step("streamDownloads", json!([]));
    let dir = kluis_test_support::temp_dir();
    let before = b.step("memory", json!([]));

    let small = file_of(mib.div_ceil(10), 1);
    let large = file_of(mib, 2);
    let small_round =
        through_the_page(&mut b, &mut coach, rid, dir.path(), "klein.bin", &small).await;
    let large_round =
        through_the_page(&mut b, &mut coach, rid, dir.path(), "groot.bin", &large).await;

    // The native SDK, the same bytes, the same server, right after.
    let t0 = Instant::now();
    let shared = coach
        .send_file(
            rid,
            &large[..],
            "native.bin",
            "application/octet-stream",
            Some(large.len() as u64),
            &mut |_| {},
        )
        .await
        .unwrap();
    let native_up = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let mut got = Vec::with_capacity(large.len());
    coach
        .download_file(rid, shared.item_id, &mut got, &mut |_| {})
        .await
        .unwrap();
    let native_down = t0.elapsed().as_secs_f64();
    assert!(got == large);

    let n = large.len();
    println!("web_files: {mib} MiB, SQLite, server and SDK in the bench profile, one run");
    println!(
        "| direction | Chromium (wasm) | native SDK | Chromium / native |\n|---|---:|---:|---:|"
    );
    println!(
        "| up | {:.1} s ({:.1} MB/s) | {:.1} s ({:.1} MB/s) | {:.2}× the time |",
        large_round.up_s,
        mb_per_s(n, large_round.up_s),
        native_up,
        mb_per_s(n, native_up),
        large_round.up_s / native_up
    );
    println!(
        "| down | {:.1} s ({:.1} MB/s) | {:.1} s ({:.1} MB/s) | {:.2}× the time |",
        large_round.down_s,
        mb_per_s(n, large_round.down_s),
        native_down,
        mb_per_s(n, native_down),
        large_round.down_s / native_down
    );
    println!("page memory before: {before}");
    println!(
        "after {} MiB up and down: {} ; renderer RSS peak {} MB, now {} MB",
        small.len() >> 20,
        small_round.memory,
        small_round.renderer.0 / 1_000_000,
        small_round.renderer.1 / 1_000_000
    );
    println!(
        "after {} MiB up and down: {} ; renderer RSS peak {} MB, now {} MB",
        n >> 20,
        large_round.memory,
        large_round.renderer.0 / 1_000_000,
        large_round.renderer.1 / 1_000_000
    );
    println!(
        "small-file round: up {:.1} s, down {:.1} s",
        small_round.up_s, small_round.down_s
    );
}
