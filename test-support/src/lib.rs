//! What the server tests (`server/tests`), the end-to-end tests (`tests/`)
//! and the benchmarks (`server/benches`) share: both database engines and
//! the macro that runs a test on each, a fresh database per test, temporary
//! directories, the server binary as a process with its printed setup link,
//! the development outbox as a mailbox, an HTTP client that speaks the
//! client half of OPAQUE, and `oathtool` codes.
//!
//! PostgreSQL is the one at `KLUIS_TEST_POSTGRES_URL` (default
//! [`database::DEFAULT_POSTGRES_URL`]); tests create their own databases
//! there and drop them afterwards.
// Helpers of tests: a failed expectation fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod api;
pub mod database;
pub mod outbox;
pub mod process;

use std::path::{Path, PathBuf};
use std::process::Command;

pub use api::{b64, into_json, token_of, unb64, Client};
pub use database::{FreshPostgres, TestDb};
/// The database engines every test runs on: the server's own.
pub use kluis_server::store::Engine;
pub use outbox::Outbox;
pub use process::ServerProcess;

/// Runs an async test body once per engine: `both_engines!(name, ...)`
/// expects `async fn name(engine: Engine)` next to it and adds the tests
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Engine::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Engine::Postgres).await;
                }
            )*
        }
    };
}

/// Rate limits no test reaches (`KLUIS_*` settings), for tests that log in
/// or invite many times from one address.
pub const GENEROUS_LIMITS: [(&str, &str); 6] = [
    ("KLUIS_LOGIN_PER_ADDRESS_PER_MINUTE", "100000"),
    ("KLUIS_LOGIN_PER_ACCOUNT_PER_MINUTE", "100000"),
    ("KLUIS_RESET_PER_ADDRESS_PER_HOUR", "100000"),
    ("KLUIS_RESET_PER_ACCOUNT_PER_HOUR", "100000"),
    ("KLUIS_INVITATIONS_PER_ACCOUNT_PER_HOUR", "100000"),
    ("KLUIS_TOKENS_PER_ADDRESS_PER_MINUTE", "100000"),
];

/// A directory of its own under the system's temporary directory, removed
/// with everything in it when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A new, empty [`TempDir`].
pub fn temp_dir() -> TempDir {
    let dir = std::env::temp_dir().join(format!("kluis-test-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// The code Debian's `oathtool` (an independent RFC 6238 implementation,
/// as in authenticator apps) computes for the base32 `secret` at `offset`
/// seconds from now.
pub fn oathtool(secret: &str, offset: i64) -> String {
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let out = Command::new("oathtool")
        .args(["--totp", "-b", secret, "-N", &format!("@{}", now + offset)])
        .output()
        .expect("oathtool (Debian package oathtool)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
