//! A server binary (`kluis-server`, or the end-to-end package's copy of it)
//! as a real process: started on a data directory and an ephemeral port,
//! its one-time setup link read from stdout, stopped with SIGTERM.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a stopping server may take before it is killed.
const STOP_PATIENCE: Duration = Duration::from_secs(10);

/// A command that runs `binary` (`serve`, its default) on `data_dir`,
/// listening on an ephemeral port of 127.0.0.1, on the database at
/// `database_url` or else SQLite in the data directory; none of the
/// caller's own `KLUIS_DATABASE_URL`, `KLUIS_PUBLIC_URL` or `KLUIS_CONFIG`.
/// Add settings with [`Command::env`], then [`ServerProcess::spawn`] it.
pub fn server_command(binary: &str, data_dir: &Path, database_url: Option<&str>) -> Command {
    let mut command = Command::new(binary);
    command
        .env("KLUIS_DATA_DIR", data_dir)
        .env("KLUIS_BIND", "127.0.0.1:0")
        .env_remove("KLUIS_PUBLIC_URL")
        .env_remove("KLUIS_CONFIG");
    match database_url {
        Some(url) => command.env("KLUIS_DATABASE_URL", url),
        None => command.env_remove("KLUIS_DATABASE_URL"),
    };
    command
}

/// A running server process, killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    /// `http://127.0.0.1:PORT`, where the setup link points.
    pub base: String,
    /// The one-time setup link it printed.
    pub setup_link: String,
    child: Child,
    rest_of_stdout: Option<JoinHandle<Vec<u8>>>,
}

impl ServerProcess {
    /// Starts `command` with its log (stderr) going to the file `log`, or
    /// nowhere, and waits for the setup link on stdout. Stdout is read on
    /// after that, so the server never blocks on a full pipe.
    pub fn spawn(mut command: Command, log: Option<&Path>) -> Self {
        let stderr = match log {
            Some(path) => Stdio::from(File::create(path).unwrap()),
            None => Stdio::null(),
        };
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("the server binary");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let setup_link = loop {
            let mut line = String::new();
            let n = stdout.read_line(&mut line).unwrap();
            if n == 0 {
                let log = log
                    .and_then(|path| std::fs::read_to_string(path).ok())
                    .unwrap_or_default();
                panic!("the server exited before printing its setup link:\n{log}");
            }
            if let Some(word) = line
                .split_whitespace()
                .find(|w| w.contains("/setup#token="))
            {
                break word.to_owned();
            }
        };
        let rest_of_stdout = std::thread::spawn(move || {
            let mut rest = Vec::new();
            let _ = stdout.read_to_end(&mut rest);
            rest
        });
        let base = setup_link
            .split("/setup#")
            .next()
            .unwrap_or_default()
            .to_owned();
        Self {
            base,
            setup_link,
            child,
            rest_of_stdout: Some(rest_of_stdout),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (a graceful stop); whether `kill` could send it.
    pub fn terminate(&self) -> bool {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Waits for the process to end, killing it after 10 seconds; how it
    /// ended.
    pub fn wait(&mut self) -> ExitStatus {
        for _ in 0..(STOP_PATIENCE.as_millis() / 50) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        self.child.wait().unwrap()
    }

    /// What it printed after the setup link, once it has ended.
    pub fn rest_of_stdout(&mut self) -> String {
        let rest = self
            .rest_of_stdout
            .take()
            .map(|reader| reader.join().unwrap_or_default())
            .unwrap_or_default();
        String::from_utf8_lossy(&rest).into_owned()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
