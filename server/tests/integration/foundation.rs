//! The server foundation on both engines: migrations, the persisted OPAQUE
//! setup, SQLite durability settings, the health endpoint, and the real
//! binary starting on a fresh data directory and stopping on SIGTERM.

use std::process::Command;

use kluis_server::store::{Engine, Store};
use kluis_test_support::process::server_command;
use kluis_test_support::{temp_dir, ServerProcess, TestDb};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::config;

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: kluis.test\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

async fn health_and_key_persistence(engine: Engine) {
    let db = TestDb::new(engine);
    let config = config(&db, "http://127.0.0.1:8080", &[]);
    let (router, state) = kluis_server::build(&config).await.unwrap();
    assert_eq!(state.store.engine(), engine);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let (status, body) = get(addr, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["status"],
        "ok"
    );
    let (status, _) = get(addr, "/no-such-route").await;
    assert_eq!(status, 404);
    server.abort();

    // A second start (migrations again, key loaded) sees the same key, and
    // two instances racing to create it agree.
    let first = state.opaque_setup.to_secret_bytes();
    state.store.close().await;
    let (_, again) = kluis_server::build(&config).await.unwrap();
    assert_eq!(again.opaque_setup.to_secret_bytes(), first);
    let (a, b) = tokio::join!(
        kluis_server::auth::server_key::load_or_create(&again.store),
        kluis_server::auth::server_key::load_or_create(&again.store)
    );
    assert_eq!(a.unwrap().to_secret_bytes(), first);
    assert_eq!(b.unwrap().to_secret_bytes(), first);
    again.store.close().await;
}

#[tokio::test]
async fn sqlite_health_and_persisted_server_key() {
    health_and_key_persistence(Engine::Sqlite).await;
}

#[tokio::test]
async fn postgres_health_and_persisted_server_key() {
    health_and_key_persistence(Engine::Postgres).await;
}

#[tokio::test]
async fn sqlite_runs_with_wal_full_sync_and_foreign_keys() {
    let db = TestDb::new(Engine::Sqlite);
    let store = Store::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    let mut conn = store.pool().acquire().await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!((mode.as_str(), sync, fk), ("wal", 2, 1));
}

#[test]
fn the_binary_starts_on_a_fresh_data_dir_and_stops_on_sigterm() {
    let dir = temp_dir();
    let log_path = dir.path().join("server.log");
    let mut command = server_command(env!("CARGO_BIN_EXE_kluis-server"), dir.path(), None);
    command.env("NO_COLOR", "1");
    // Logs on stderr; stdout carries only the setup link.
    let mut server = ServerProcess::spawn(command, Some(&log_path));
    let link = server.setup_link.clone();
    let log = std::fs::read_to_string(&log_path).unwrap();
    let addr: std::net::SocketAddr = log
        .lines()
        .find_map(|line| line.split("address=").nth(1))
        .expect("server exited before listening")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        dir.path().join("kluis.db").exists(),
        "SQLite database created in the data dir"
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (status, _) = runtime.block_on(get(addr, "/healthz"));
    assert_eq!(status, 200);
    assert!(server.terminate());
    let exit = server.wait();
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
    assert!(link.starts_with("http://127.0.0.1:"), "{link}");
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        !logs.contains(&kluis_test_support::token_of(&link)),
        "the setup token is never logged"
    );
}

#[test]
fn show_config_hides_the_database_password() {
    let out = Command::new(env!("CARGO_BIN_EXE_kluis-server"))
        .args(["admin", "show-config"])
        .env("KLUIS_DATABASE_URL", "postgres://kluis:hunter2@db/kluis")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("[redacted]") && !text.contains("hunter2"),
        "{text}"
    );
}
