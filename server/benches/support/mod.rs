//! What the server benchmarks share: the real binary started on a fresh
//! data directory (SQLite) or a given database, and readings of its CPU
//! time and memory from /proc.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::common::{temp_dir, TempDir};

/// Nanoseconds the process has spent on a CPU, all threads.
pub fn cpu_ns(pid: u32) -> u64 {
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

pub struct Server {
    pub child: Child,
    pub base: String,
    pub link: String,
    _dir: TempDir,
    pub outbox: std::path::PathBuf,
    pub data_dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_server(database_url: Option<&str>) -> Server {
    let dir = temp_dir();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kluis-server"));
    cmd.env("KLUIS_DATA_DIR", dir.0.join("data"))
        .env("KLUIS_BIND", "127.0.0.1:0")
        .env("KLUIS_LOG", "warn")
        .env("KLUIS_LOGIN_PER_ADDRESS_PER_MINUTE", "1000000")
        .env("KLUIS_LOGIN_PER_ACCOUNT_PER_MINUTE", "1000000")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    match database_url {
        Some(url) => cmd.env("KLUIS_DATABASE_URL", url),
        None => cmd.env_remove("KLUIS_DATABASE_URL"),
    };
    let mut child = cmd.spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let link = loop {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "server exited");
        if let Some(w) = line
            .split_whitespace()
            .find(|w| w.contains("/setup#token="))
        {
            break w.to_owned();
        }
    };
    let base = link.split("/setup#").next().unwrap().to_owned();
    let outbox = dir.0.join("data").join("outbox");
    Server {
        child,
        base,
        link,
        data_dir: dir.0.join("data"),
        outbox,
        _dir: dir,
    }
}

/// Peak resident memory of a process so far (VmHWM), bytes.
pub fn peak_rss(pid: u32) -> u64 {
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
