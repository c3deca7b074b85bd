//! What every command starts from: the profile (server and address
//! remembered from the last login), the global flags, and the way to a
//! logged-in session — password, second factor, and a logout at the end
//! whatever the command did.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::Arc;

use crate::state::FileStore;
use crate::{Kluis, Login, SecondFactorMethod, Session};
use zeroize::Zeroizing;

use super::args::Cli;
use super::failure::{usage, Failure, Outcome};
use super::output;
use super::profile::{default_dir, Profile};

pub(crate) struct Context {
    profile_dir: PathBuf,
    profile: Profile,
    pub(crate) server: Option<String>,
    email: Option<String>,
    password_file: Option<PathBuf>,
    pub(crate) json: bool,
    fresh_device_state: bool,
}

impl Context {
    /// The flags given, and for what is missing the profile's.
    pub(crate) fn new(cli: &Cli) -> Self {
        let profile_dir = cli.profile.clone().unwrap_or_else(default_dir);
        let profile = Profile::load(&profile_dir);
        Self {
            server: cli.server.clone().or_else(|| profile.server.clone()),
            email: cli.email.clone().or_else(|| profile.email.clone()),
            profile_dir,
            profile,
            password_file: cli.password_file.clone(),
            json: cli.json,
            fresh_device_state: cli.fresh_device_state,
        }
    }

    pub(crate) fn kluis(&self, server: Option<&str>) -> Result<Kluis, Failure> {
        let server = server
            .map(str::to_owned)
            .or_else(|| self.server.clone())
            .ok_or_else(|| usage("which server? give --server or log in once"))?;
        let mut store = FileStore::new(self.profile_dir.join("store"))?;
        if self.fresh_device_state {
            store = store.start_fresh();
        }
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "this computer".into());
        Ok(Kluis::new(&server, Arc::new(store))?.with_device_label(format!("kluis CLI on {host}")))
    }

    /// The server for a link: the one given or remembered, else the link's
    /// own (a first command on a new machine has nothing remembered).
    pub(crate) fn server_for(&self, link: &str) -> Result<String, Failure> {
        match &self.server {
            Some(s) => Ok(s.clone()),
            None => Ok(crate::link::server_of(link)?),
        }
    }

    pub(crate) fn email(&self) -> Result<String, Failure> {
        self.email
            .clone()
            .ok_or_else(|| usage("which account? give --email or log in once"))
    }

    pub(crate) fn remember(&mut self, server: &str, email: &str) -> Outcome {
        self.profile.server = Some(server.to_owned());
        self.profile.email = Some(email.to_owned());
        self.profile.save(&self.profile_dir)?;
        Ok(())
    }

    /// Forgets the server and address (logout, a deleted account).
    pub(crate) fn forget(&mut self) -> Outcome {
        self.profile = Profile::default();
        self.profile.save(&self.profile_dir)?;
        Ok(())
    }

    /// The password: the file, the environment, or a prompt without echo.
    /// Of the file only the first line counts, its LF (or CR LF) removed
    /// and nothing else: spaces and a byte-order mark stay part of the
    /// password (PROTOCOL.md §3.1). The SDK then normalises it to NFC
    /// before OPAQUE, whatever its source.
    pub(crate) fn password(&self, prompt: &str) -> Result<Zeroizing<String>, Failure> {
        if let Some(path) = &self.password_file {
            let text = Zeroizing::new(std::fs::read_to_string(path)?);
            let line = text.lines().next().unwrap_or_default();
            return Ok(Zeroizing::new(line.to_owned()));
        }
        if let Ok(p) = std::env::var("KLUIS_PASSWORD") {
            return Ok(Zeroizing::new(p));
        }
        if !std::io::stdin().is_terminal() {
            return Err(usage(
                "no password: set KLUIS_PASSWORD or --password-file when not at a terminal",
            ));
        }
        Ok(Zeroizing::new(rpassword::prompt_password(prompt)?))
    }

    pub(crate) fn new_password(&self) -> Result<Zeroizing<String>, Failure> {
        let first =
            self.password("New password (8+ characters, a digit, an uppercase letter): ")?;
        if self.password_file.is_none()
            && std::env::var("KLUIS_PASSWORD").is_err()
            && *self.password("Once more: ")? != *first
        {
            return Err(usage("the passwords differ"));
        }
        Ok(first)
    }

    /// A login with every factor: after the password, a code from
    /// `KLUIS_2FA_CODE` or asked for (six digits: the authenticator app;
    /// otherwise a recovery code). Never `Login::SecondFactor`.
    pub(crate) async fn full_login(&self, email: &str, password: &str) -> Result<Login, Failure> {
        match self.kluis(None)?.login(email, password).await? {
            Login::SecondFactor(pending) => {
                let offered = pending.methods();
                let code = match std::env::var("KLUIS_2FA_CODE") {
                    Ok(code) => code,
                    Err(_) if std::io::stdin().is_terminal() => {
                        if offered.contains(&SecondFactorMethod::Sms)
                            && !offered.contains(&SecondFactorMethod::Totp)
                        {
                            pending.send_sms().await?;
                            eprintln!("A code was sent to your phone by SMS.");
                        }
                        eprint!("Code from your authenticator app (or a recovery code): ");
                        let mut line = String::new();
                        std::io::stdin().read_line(&mut line)?;
                        line
                    }
                    Err(_) => {
                        return Err(usage(
                            "this account uses two-factor login: set KLUIS_2FA_CODE when not at a terminal",
                        ))
                    }
                };
                let code = code.trim();
                Ok(pending
                    .complete(SecondFactorMethod::of_code(code, offered), code)
                    .await?)
            }
            other => Ok(other),
        }
    }

    /// A session for the commands that already asked for the password
    /// (they need it again): one whose identity opens, or why not.
    pub(crate) async fn ready_session(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Session, Failure> {
        match self.full_login(email, password).await? {
            Login::Ready(s) => Ok(*s),
            Login::NeedsRecovery(_) => Err(usage("restore your identity first (kluis recover)")),
            Login::SecondFactor(_) => Err(usage("a second factor is needed")),
        }
    }

    pub(crate) async fn login(&self) -> Result<Session, Failure> {
        let email = self.email()?;
        let password = self.password(&format!("Password for {email}: "))?;
        match self.full_login(&email, &password).await? {
            Login::Ready(session) => Ok(*session),
            Login::NeedsRecovery(_) => Err(usage(
                "your identity is not sealed under this password: run `kluis recover`",
            )),
            Login::SecondFactor(_) => Err(usage("a second factor is needed")),
        }
    }

    pub(crate) fn print(&self, human: &str, machine: serde_json::Value) {
        output::print(self.json, human, machine);
    }
}

/// Ends the command's session whatever happened; what the work found
/// comes back once the session is ended.
pub(crate) async fn with_session<T, F, Fut>(ctx: &Context, work: F) -> Result<T, Failure>
where
    F: FnOnce(Session) -> Fut,
    Fut: std::future::Future<Output = (Session, Result<T, Failure>)>,
{
    let session = ctx.login().await?;
    let (session, outcome) = work(session).await;
    let ended = session.logout().await;
    let found = outcome?;
    ended?;
    Ok(found)
}
