//! Vault benchmarks against the real `kluis-server` binary, on SQLite and
//! PostgreSQL (docs/BENCHMARKS.md):
//!
//! 1. A 1 GiB attachment stream up and down: the server's peak RSS
//!    (VmHWM) next to the file size, and upload/download throughput next
//!    to a raw copy of a 1 GiB file on the same disk in the same run.
//! 2. Item writes per second through HTTP (authenticated PUT of a 1 KiB
//!    envelope, all checks) next to raw sqlx inserts of the same rows into
//!    the same database; and p50/p99 latency of a 50-item page with 200
//!    concurrent clients.
//!
//! Run: `cargo bench -p kluis-server --bench vault` (ATTACHMENT_MIB=n,
//! ITEMS=n). Without `--bench` (as `cargo test --benches` runs it) it is a
//! quick smoke run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/mod.rs"]
mod support;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use kluis_crypto::attachment::{AttachmentKey, ChunkSealer};
use kluis_crypto::identity::IdentityKeyPair;
use kluis_crypto::ids::{AttachmentId, Epoch, ItemId, RelationshipId, UserId};
use kluis_crypto::item::{seal_item, SharedItemKind};
use kluis_crypto::key_schedule::ExportKey;
use kluis_crypto::membership::{self, MemberRole, MembershipRecord, RecordHash};
use kluis_crypto::recovery::RecoveryKey;
use kluis_crypto::relationship::RelationshipKey;
use kluis_server::store::{Engine, Store};
use kluis_test_support::{b64, Client, TestDb};
use rand::rngs::OsRng;
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use support::start_server;

const PW: &str = "Correct-Horse-9";
const MIB: u64 = 1024 * 1024;

/// Peak resident memory of a process so far (VmHWM), bytes.
fn peak_rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<u64>().ok())
            })
        })
        .map_or(0, |kb| kb * 1024)
}
fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Member {
    token: String,
    identity: IdentityKeyPair,
}

async fn member(api: &Client, token: String, id: String) -> Member {
    let identity = IdentityKeyPair::generate(&mut OsRng, id.parse::<UserId>().unwrap());
    let body = json!({
        "bundle": b64(&identity.bundle().encode()),
        "sealed_password": b64(&identity.seal_with_password(&ExportKey::generate(&mut OsRng), &mut OsRng).unwrap().encode()),
        "sealed_recovery": b64(&identity.seal_with_recovery_key(&RecoveryKey::random(&mut OsRng), &mut OsRng).unwrap().encode()),
    });
    let r = api
        .http
        .put(api.url("/api/keys"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    Member { token, identity }
}

/// The ciphertext of a stream of `total` bytes: a real header, then bytes
/// the server cannot tell from sealed chunks (it never decrypts); produced
/// on the fly in 1 MiB pieces cut from one random buffer, so that the load
/// generator spends its CPU on sending, not on drawing random bytes.
fn stream_pieces(id: AttachmentId, total: u64) -> (Vec<u8>, impl Iterator<Item = Vec<u8>>) {
    let (_, header) =
        ChunkSealer::new(&mut OsRng, &AttachmentKey::generate(&mut OsRng), id).unwrap();
    let header = header.encode().to_vec();
    let rest = total - header.len() as u64;
    let mut left = rest;
    let mut noise = vec![0u8; MIB as usize];
    OsRng.fill_bytes(&mut noise);
    let pieces = std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let n = left.min(MIB) as usize;
        left -= n as u64;
        Some(noise[..n].to_vec())
    });
    (header, pieces)
}

/// A stream length STREAM could produce for a file of `file` bytes.
fn stream_len(file: u64) -> u64 {
    let chunks = file.div_ceil(65_536).max(1);
    37 + file + 16 * chunks
}

/// Time to copy a file of `bytes` on the data directory's disk (written
/// first, then `std::fs::copy` and fsync of the copy).
fn raw_copy(dir: &std::path::Path, bytes: u64) -> Duration {
    let src = dir.join("raw-src.bin");
    let dst = dir.join("raw-dst.bin");
    let mut f = std::fs::File::create(&src).unwrap();
    let mut piece = vec![0u8; MIB as usize];
    for _ in 0..(bytes / MIB) {
        OsRng.fill_bytes(&mut piece);
        f.write_all(&piece).unwrap();
    }
    f.sync_all().unwrap();
    drop(f);
    let started = Instant::now();
    std::fs::copy(&src, &dst).unwrap();
    std::fs::File::open(&dst).unwrap().sync_all().unwrap();
    let took = started.elapsed();
    let _ = std::fs::remove_file(src);
    let _ = std::fs::remove_file(dst);
    took
}

async fn run_engine(engine: Engine, attachment_mib: u64, items: usize, concurrency: usize) {
    let pg = match engine {
        Engine::Postgres => Some(TestDb::new(Engine::Postgres)),
        Engine::Sqlite => None,
    };
    let server = start_server(pg.as_ref().map(|d| d.url.as_str()));
    let pid = server.process.pid();
    let api = server.client();
    let (org, manager, _) = api
        .setup_from_link(&server.process.setup_link, "manager@bench.nl", PW)
        .await;
    let (t, id) = api
        .invite_and_register(&org, &manager, "coach@bench.nl", "coach", PW)
        .await;
    let coach = member(&api, t, id).await;
    let (t, id) = api
        .invite_and_register(&org, &coach.token, "client@bench.nl", "client", PW)
        .await;
    let client = member(&api, t, id).await;
    let rel = RelationshipId::random(&mut OsRng);
    let key = RelationshipKey::generate(&mut OsRng, rel, Epoch(0));
    let members = [
        (&coach.identity, MemberRole::Coach),
        (&client.identity, MemberRole::Client),
    ]
    .iter()
    .map(|(k, role)| membership::Member {
        user_id: k.user_id(),
        role: *role,
        fingerprint: k.bundle().fingerprint(),
    })
    .collect();
    let record =
        MembershipRecord::sign(&coach.identity, rel, Epoch(0), RecordHash::NONE, 1, members)
            .unwrap();
    let wrapped: Vec<String> = [&coach.identity, &client.identity]
        .iter()
        .map(|r| {
            b64(&key
                .wrap(&mut OsRng, &coach.identity, r.bundle(), &record.hash())
                .unwrap()
                .encode())
        })
        .collect();
    let (status, body) = api
        .post(&format!("/api/organisations/{org}/relationships"),
            json!({"relationship_id": rel.to_string(), "client_id": client.identity.user_id().to_string(), "wrapped_keys": wrapped, "membership_record": b64(&record.encode())}),
            Some(&coach.token))
        .await;
    assert!(status.is_success(), "{body}");
    println!("== {engine:?} ==");

    // 1. The attachment.
    let rss_before = peak_rss(pid);
    let total = stream_len(attachment_mib * MIB);
    let aid = AttachmentId::random(&mut OsRng);
    let base = format!("/api/relationships/{rel}/attachments");
    api.post(
        &base,
        json!({"attachment_id": aid.to_string()}),
        Some(&coach.token),
    )
    .await;
    let (header, pieces) = stream_pieces(aid, total);
    let hasher = Arc::new(std::sync::Mutex::new(Sha256::new()));
    let h = Arc::clone(&hasher);
    let body_stream =
        futures_util::stream::iter(std::iter::once(header).chain(pieces).map(move |p| {
            h.lock().unwrap().update(&p);
            Ok::<_, std::io::Error>(p)
        }));
    let started = Instant::now();
    let r = api
        .http
        .patch(api.url(&format!("{base}/{aid}?offset=0")))
        .bearer_auth(&coach.token)
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(body_stream))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let upload = started.elapsed();
    let digest: String = hasher
        .lock()
        .unwrap()
        .clone()
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let started = Instant::now();
    let (status, body) = api
        .post(
            &format!("{base}/{aid}/complete"),
            json!({"length": total, "sha256": digest}),
            Some(&coach.token),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let complete = started.elapsed();
    let rss_after_upload = peak_rss(pid);
    let started = Instant::now();
    let response = api
        .http
        .get(api.url(&format!("{base}/{aid}")))
        .bearer_auth(&client.token)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let mut received = 0u64;
    let mut stream = response.bytes_stream();
    while let Some(piece) = stream.next().await {
        received += piece.unwrap().len() as u64;
    }
    assert_eq!(received, total);
    let download = started.elapsed();
    let rss_after_download = peak_rss(pid);
    let copy = raw_copy(&server.data_dir, attachment_mib * MIB);
    let mibs = |d: Duration| total as f64 / MIB as f64 / d.as_secs_f64();
    println!(
        "attachment {} MiB: server peak RSS {} MiB before, {} MiB after upload, {} MiB after download",
        total / MIB,
        rss_before / MIB,
        rss_after_upload / MIB,
        rss_after_download / MIB
    );
    println!(
        "upload {:.0} MiB/s ({:.0} % of raw copy), complete (SHA-256 of the stored stream) {:.1} s, download {:.0} MiB/s ({:.0} % of raw copy); raw copy {:.0} MiB/s",
        mibs(upload),
        100.0 * copy.as_secs_f64() / upload.as_secs_f64(),
        complete.as_secs_f64(),
        mibs(download),
        100.0 * copy.as_secs_f64() / download.as_secs_f64(),
        mibs(copy)
    );
    let _ = api.delete(&format!("{base}/{aid}"), &coach.token).await;

    // 2. Item writes: HTTP against raw inserts of the same rows.
    let envelopes: Vec<(ItemId, Vec<u8>)> = (0..items)
        .map(|_| {
            let id = ItemId::random(&mut OsRng);
            let mut content = vec![0u8; 1024];
            OsRng.fill_bytes(&mut content);
            (
                id,
                seal_item(
                    &mut OsRng,
                    &key,
                    id,
                    SharedItemKind::Message,
                    &coach.identity,
                    &content,
                )
                .unwrap()
                .encode(),
            )
        })
        .collect();
    let envelopes = Arc::new(envelopes);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let (envelopes, http, token) = (
            Arc::clone(&envelopes),
            api.http.clone(),
            coach.token.clone(),
        );
        let base = api.url(&format!("/api/relationships/{rel}/items"));
        tasks.push(tokio::spawn(async move {
            for (id, env) in envelopes.iter().skip(t).step_by(concurrency) {
                let r = http
                    .put(format!("{base}/{id}"))
                    .bearer_auth(&token)
                    .header("content-type", "application/octet-stream")
                    .body(env.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 201);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let http_rate = items as f64 / started.elapsed().as_secs_f64();
    let url = pg.as_ref().map_or_else(
        || {
            format!(
                "sqlite://{}?mode=rwc",
                server.data_dir.join("kluis.db").display()
            )
        },
        |d| d.url.clone(),
    );
    let store = Store::connect(&url).await.unwrap();
    let raw_rel = RelationshipId::random(&mut OsRng).to_string();
    sqlx::query("INSERT INTO relationships (id, organisation_id, created_by, current_epoch, created_ms) VALUES ($1, $2, 'bench', 0, 0)")
        .bind(&raw_rel).bind(&org).execute(store.pool()).await.unwrap();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let (envelopes, store, raw_rel) = (Arc::clone(&envelopes), store.clone(), raw_rel.clone());
        let author = coach.identity.user_id().to_string();
        tasks.push(tokio::spawn(async move {
            for (id, env) in envelopes.iter().skip(t).step_by(concurrency) {
                sqlx::query("INSERT INTO items (relationship_id, item_id, epoch, kind, author_id, envelope, digest, received_ms) VALUES ($1, $2, 0, 'message', $3, $4, $5, 0)")
                    .bind(&raw_rel).bind(id.to_string()).bind(&author).bind(env.clone()).bind(Sha256::digest(env).to_vec())
                    .execute(store.pool()).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let raw_rate = items as f64 / started.elapsed().as_secs_f64();
    store.close().await;
    println!(
        "item writes ({items} x 1 KiB, {concurrency} concurrent): HTTP {http_rate:.0}/s, raw sqlx {raw_rate:.0}/s, ratio {:.0} % (goal >= 50 %)",
        100.0 * http_rate / raw_rate
    );

    // 3. A 50-item page with 200 concurrent clients.
    let seconds = if items > 500 { 10 } else { 2 };
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let (http, token) = (api.http.clone(), client.token.clone());
        let url = api.url(&format!("/api/relationships/{rel}/items?limit=50"));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < until {
                let started = Instant::now();
                let r = http.get(&url).bearer_auth(&token).send().await.unwrap();
                assert!(r.status().is_success());
                r.bytes().await.unwrap();
                latencies.push(started.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let pct =
        |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1e3;
    println!(
        "50-item page, 200 concurrent clients: {} pages in {seconds} s ({:.0}/s), p50 {:.1} ms, p99 {:.1} ms",
        all.len(),
        all.len() as f64 / seconds as f64,
        pct(0.50),
        pct(0.99)
    );
    drop(server);
    drop(pg);
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let attachment_mib = env_u64("ATTACHMENT_MIB", if quick { 16 } else { 1024 });
    let items = env_u64("ITEMS", if quick { 100 } else { 2000 }) as usize;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        run_engine(Engine::Sqlite, attachment_mib, items, 8).await;
        run_engine(Engine::Postgres, attachment_mib, items, 8).await;
    });
}
