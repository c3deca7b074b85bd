//! Load generator against the real `kluis-server` binary, on SQLite and on
//! PostgreSQL. Two comparisons, each inside one run (docs/BENCHMARKS.md):
//!
//! 1. Server CPU per full OPAQUE login (both HTTP round trips, database
//!    writes, session) against the raw opaque-ke server steps
//!    (`ServerLogin::start` + `finish`) timed in this process. The server's
//!    CPU is read from `/proc/<pid>/task/*/schedstat` (nanoseconds on CPU,
//!    summed over its threads) before and after; clients run Argon2 here.
//!    On PostgreSQL the database's own CPU is not included.
//! 2. Requests per second of an authenticated `GET /api/me` against an
//!    unauthenticated `GET /healthz`, same client, same concurrency.
//!
//! Run: `cargo bench -p kluis-server --bench load` (LOGINS=n, SECONDS=n).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kluis_crypto::opaque;
use kluis_server::store::Engine;
use kluis_test_support::TestDb;
use rand::rngs::OsRng;
use support::start_server;

const PW: &str = "Correct-Horse-9";

/// Nanoseconds the process has spent on a CPU, all threads.
fn cpu_ns(pid: u32) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let path = task.unwrap().path().join("schedstat");
        if let Ok(text) = std::fs::read_to_string(path) {
            total += text
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Mean time of the raw opaque-ke server steps for one login, measured on
/// this thread with the client work (Argon2) outside the clock.
fn raw_server_steps(logins: usize) -> Duration {
    let setup = opaque::ServerSetupKey::generate(&mut OsRng);
    let id = [7u8; 16];
    let (req, client) = opaque::client_registration_start(&mut OsRng, PW.as_bytes()).unwrap();
    let resp = opaque::server_registration_start(&setup, &req, &id).unwrap();
    let (upload, _) = client.finish(&mut OsRng, PW.as_bytes(), &resp).unwrap();
    let record = opaque::server_registration_finish(&upload).unwrap();
    let mut server_time = Duration::ZERO;
    for _ in 0..logins {
        let (ke1, client) = opaque::client_login_start(&mut OsRng, PW.as_bytes()).unwrap();
        let t = Instant::now();
        let (ke2, state) =
            opaque::server_login_start(&mut OsRng, &setup, Some(&record), &ke1, &id).unwrap();
        let bytes = state.to_secret_bytes();
        server_time += t.elapsed();
        let done = client.finish(&mut OsRng, PW.as_bytes(), &ke2).unwrap();
        let t = Instant::now();
        let state = opaque::ServerLoginState::from_secret_bytes(&bytes).unwrap();
        state.finish(&done.finalization).unwrap();
        server_time += t.elapsed();
    }
    server_time / u32::try_from(logins).unwrap()
}

/// Requests per second, and the server's CPU per request.
async fn requests_per_second(
    pid: u32,
    client: &reqwest::Client,
    url: &str,
    bearer: Option<&str>,
    seconds: u64,
    concurrency: usize,
) -> (f64, Duration) {
    let cpu_before = cpu_ns(pid);
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, done) = (client.clone(), url.to_owned(), Arc::clone(&done));
        let bearer = bearer.map(str::to_owned);
        tasks.push(tokio::spawn(async move {
            while Instant::now() < until {
                let mut req = client.get(&url);
                if let Some(b) = &bearer {
                    req = req.bearer_auth(b);
                }
                let r = req.send().await.unwrap();
                assert!(r.status().is_success(), "{}", r.status());
                r.bytes().await.unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let n = done.load(Ordering::Relaxed);
    let cpu = Duration::from_nanos((cpu_ns(pid) - cpu_before) / n.max(1));
    (n as f64 / seconds as f64, cpu)
}

async fn run_engine(engine: Engine, logins: usize, seconds: u64) {
    let pg = match engine {
        Engine::Postgres => Some(TestDb::new(Engine::Postgres)),
        Engine::Sqlite => None,
    };
    let server = start_server(pg.as_ref().map(|d| d.url.as_str()));
    let pid = server.process.pid();
    let api = server.client();
    api.setup_from_link(&server.process.setup_link, "manager@bench.nl", PW)
        .await;

    // The server's own background work (the worker's tick), to subtract.
    let idle_before = cpu_ns(pid);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle_ns_per_s = (cpu_ns(pid) - idle_before) as f64 / 3.0;

    // 1. Logins: two client tasks (Argon2 on both cores' worth of threads).
    let before = cpu_ns(pid);
    let started = Instant::now();
    let api = Arc::new(api);
    let per_task = logins / 2;
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let api = Arc::clone(&api);
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_task {
                api.login("manager@bench.nl", PW).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let wall = started.elapsed();
    let busy = (cpu_ns(pid) - before) as f64 - idle_ns_per_s * wall.as_secs_f64();
    let server_cpu = Duration::from_nanos((busy.max(0.0) / (2 * per_task) as f64) as u64);
    let raw = tokio::task::spawn_blocking(move || raw_server_steps(logins))
        .await
        .unwrap();

    // 2. Authenticated GET against /healthz.
    let bearer = api.login("manager@bench.nl", PW).await.unwrap();
    let http = reqwest::Client::new();
    let (health, health_cpu) =
        requests_per_second(pid, &http, &api.url("/healthz"), None, seconds, 8).await;
    let (me, me_cpu) =
        requests_per_second(pid, &http, &api.url("/api/me"), Some(&bearer), seconds, 8).await;
    let (health_again, _) =
        requests_per_second(pid, &http, &api.url("/healthz"), None, seconds, 8).await;

    println!("== {engine:?} ==");
    println!(
        "logins: {} in {:.1} s ({:.1}/s, client Argon2-bound)",
        2 * per_task,
        wall.as_secs_f64(),
        (2 * per_task) as f64 / wall.as_secs_f64()
    );
    println!(
        "server idle (worker tick) {:.0} µs of CPU per second, subtracted",
        idle_ns_per_s / 1e3
    );
    println!(
        "server CPU per login {:.0} µs; raw opaque-ke server steps {:.0} µs; ratio {:.2}x (goal <= 1.5x)",
        server_cpu.as_secs_f64() * 1e6,
        raw.as_secs_f64() * 1e6,
        server_cpu.as_secs_f64() / raw.as_secs_f64()
    );
    let health_mean = (health + health_again) / 2.0;
    println!(
        "GET /healthz {health:.0}/s and {health_again:.0}/s; GET /api/me (bearer) {me:.0}/s; ratio {:.2}",
        me / health_mean
    );
    println!(
        "server CPU per request: /healthz {:.0} µs, /api/me {:.0} µs",
        health_cpu.as_secs_f64() * 1e6,
        me_cpu.as_secs_f64() * 1e6
    );
    drop(server);
    drop(pg);
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too,
    // so keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let logins = env_usize("LOGINS", if quick { 4 } else { 60 });
    let seconds = env_usize("SECONDS", if quick { 1 } else { 5 }) as u64;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        run_engine(Engine::Sqlite, logins, seconds).await;
        run_engine(Engine::Postgres, logins, seconds).await;
    });
}
