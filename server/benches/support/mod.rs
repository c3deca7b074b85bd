//! What the server benchmarks share: the real binary started on a fresh
//! data directory, on SQLite there or on a given database.

use std::path::PathBuf;

use kluis_test_support::process::server_command;
use kluis_test_support::{temp_dir, Client, ServerProcess, TempDir};

/// The server under measurement, stopped when dropped.
pub struct Server {
    pub process: ServerProcess,
    pub data_dir: PathBuf,
    _dir: TempDir,
}

impl Server {
    /// A client of it, reading its outbox.
    pub fn client(&self) -> Client {
        Client::new(&self.process.base, &self.data_dir.join("outbox"))
    }
}

/// Starts `kluis-server`, logging warnings only, with login limits no
/// benchmark reaches.
pub fn start_server(database_url: Option<&str>) -> Server {
    let dir = temp_dir();
    let data_dir = dir.path().join("data");
    let mut command = server_command(env!("CARGO_BIN_EXE_kluis-server"), &data_dir, database_url);
    command
        .env("KLUIS_LOG", "warn")
        .env("KLUIS_LOGIN_PER_ADDRESS_PER_MINUTE", "1000000")
        .env("KLUIS_LOGIN_PER_ACCOUNT_PER_MINUTE", "1000000");
    Server {
        process: ServerProcess::spawn(command, None),
        data_dir,
        _dir: dir,
    }
}
