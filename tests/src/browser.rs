//! Chromium for the tests and benchmarks: the Node driver
//! (`tests/browser/driver.mjs`, playwright-core) on a page the real server
//! serves, one JSON step per line, and the screenshots every screen test
//! saves (each scanned by axe-core).
//!
//! Needs what `./scripts/test` prepares: `web/dist` (the bundle, with the
//! wasm-bindgen output), `tests/browser/node_modules` (playwright-core) and
//! `/usr/bin/chromium`.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{json, Value};

/// The repository's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Node driver of Chromium, one step per line.
#[allow(missing_debug_implementations)]
pub struct Browser {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Browser {
    pub fn open(base: &str) -> Self {
        let dir = repo().join("tests").join("browser");
        assert!(
            repo().join("web/dist/pkg/kluis_sdk_bg.wasm").exists()
                && dir.join("node_modules/playwright-core").exists(),
            "run ./scripts/test (it builds web/dist and installs playwright-core)"
        );
        let mut child = Command::new("node")
            .arg("driver.mjs")
            .arg(base)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut browser = Self {
            child,
            stdin,
            stdout,
        };
        assert_eq!(browser.answer(), json!({"ok": "ready"}));
        browser
    }

    fn answer(&mut self) -> Value {
        let mut line = String::new();
        assert!(
            self.stdout.read_line(&mut line).unwrap() > 0,
            "the driver exited"
        );
        serde_json::from_str(&line).unwrap()
    }

    /// Runs a step; panics on its error.
    pub fn step(&mut self, step: &str, args: Value) -> Value {
        let answer = self.try_step(step, args.clone());
        match answer.get("ok") {
            Some(v) => v.clone(),
            None => {
                // What the page showed when the step failed, to look at.
                let dir = repo().join("target").join("screenshots");
                let _ = std::fs::create_dir_all(&dir);
                let shot = dir.join("failed-step.png");
                let _ = self.try_step("screenshot", json!([shot.to_str().unwrap()]));
                let text = self.try_step("text", json!(["body"]));
                panic!(
                    "{step} {args}: {answer}\npage ({}): {}",
                    shot.display(),
                    text.get("ok").and_then(Value::as_str).unwrap_or_default()
                )
            }
        }
    }

    pub fn try_step(&mut self, step: &str, args: Value) -> Value {
        writeln!(self.stdin, "{}", json!({"step": step, "args": args})).unwrap();
        self.answer()
    }
}

impl Browser {
    /// On the recovery-key screen: reads the key shown, types back its
    /// last four characters as the screen asks, and goes on. Returns it.
    pub fn keep_recovery_key(&mut self) -> String {
        self.step("waitFor", json!(["#recovery-key"]));
        let key = self.step("text", json!(["#recovery-key"]));
        let key = key.as_str().unwrap().to_owned();
        let tail: String = key
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .split_off(52);
        self.step("fill", json!(["#key-tail", tail]));
        self.step("click", json!(["button.primary"]));
        key
    }

    /// Signs up from `invitation` in the page as `name`; leaves the page on
    /// the recovery-key screen (the account exists then).
    pub fn sign_up(&mut self, invitation: &str, name: &str, password: &str) {
        self.step("goto", json!([invitation]));
        self.step("fill", json!(["#name", name]));
        self.step("fill", json!(["#password", password]));
        self.step("press", json!(["#password", "Enter"]));
        self.step("waitFor", json!(["#recovery-key"]));
    }

    /// The privacy notice at a first sign-in, in the account's language
    /// (`says`: a phrase of it), acknowledged.
    pub fn acknowledge_privacy_notice(&mut self, says: &str) {
        self.step("waitForText", json!(["main", says]));
        self.step("click", json!(["button.primary"]));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "{}", json!({"step": "quit", "args": []}));
        let _ = self.stdin.flush();
        // The driver exits after quit; if it hangs, do not hang the tests.
        for _ in 0..200 {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the screens' screenshots go (looked at, not compared). Every
/// screen shot is also scanned by axe-core (WCAG 2.0–2.2 A and AA, and
/// best practice): no serious or critical violation.
pub fn screenshot(browser: &mut Browser, name: &str) {
    let dir = repo().join("target").join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.png"));
    browser.step("screenshot", json!([path.to_str().unwrap()]));
    let violations = browser.step("axe", json!([]));
    assert_eq!(violations, json!([]), "axe-core on {name}");
}
