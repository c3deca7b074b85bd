//! The subcommands and what each does.

use std::io::{IsTerminal as _, Read as _};
use std::path::PathBuf;
use std::sync::Arc;

use crate::kluis_crypto::recovery::RecoveryKey;
use crate::state::FileStore;
use crate::{
    parse_item_id, parse_relationship_id, parse_user_id, Entry, EntryContent, Error, Kluis,
    Language, Login, NewAccount, Role, SecondFactorMethod, Session,
};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use zeroize::Zeroizing;

use super::profile::{default_dir, Profile};

const EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  other error (a file, bad input)
  2  wrong usage
  3  wrong e-mail address or password
  4  session ended, or a link that is invalid, expired or used
  5  the server cannot be reached
  6  a peer's identity key changed: compare the new safety number (kluis verify)
  7  the server's answer failed a check (tampering): nothing of it was shown
  8  the server refused (not allowed, not found, conflict, too many attempts)

Passwords are read without echo, or from KLUIS_PASSWORD or --password-file.";

/// Kluis: an end-to-end encrypted vault for coaching.
#[derive(Debug, Parser)]
#[command(name = "kluis", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// The Kluis server (remembered after a login).
    #[arg(long, global = true, env = "KLUIS_SERVER")]
    server: Option<String>,
    /// The account's e-mail address (remembered after a login).
    #[arg(long, global = true, env = "KLUIS_EMAIL")]
    email: Option<String>,
    /// A file whose first line is the password (for scripts).
    #[arg(long, global = true, env = "KLUIS_PASSWORD_FILE")]
    password_file: Option<PathBuf>,
    /// Where the profile and the sealed local store live.
    #[arg(long, global = true, env = "KLUIS_PROFILE")]
    profile: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the first organisation and its manager from the setup link
    /// the server printed at its first start.
    Setup {
        /// The setup link.
        link: String,
        /// The organisation's name.
        #[arg(long)]
        organisation: String,
        /// Your name.
        #[arg(long)]
        name: String,
    },
    /// Create your account from an invitation link.
    Signup {
        /// The link from the invitation e-mail.
        link: String,
        /// Your name.
        #[arg(long)]
        name: String,
    },
    /// Check the password and remember the server and address.
    Login,
    /// Forget the server and address; with --everywhere end every session.
    Logout {
        /// End every session of the account, on every device.
        #[arg(long)]
        everywhere: bool,
    },
    /// Show the account, its organisations and roles.
    Whoami,
    /// Show the privacy notice (your rights); --acknowledge records that
    /// you read it. Kluis asks for this at the first login and whenever
    /// the notice changes.
    Privacy {
        /// Record that you read the notice shown.
        #[arg(long)]
        acknowledge: bool,
    },
    /// Change your settings: the language of e-mails and notices, and
    /// e-mails about new messages and files.
    Settings {
        /// nl or en.
        #[arg(long)]
        language: Option<Language>,
        /// on or off.
        #[arg(long, value_name = "on|off")]
        activity_emails: Option<OnOff>,
    },
    /// Invite someone (managers: coaches and managers; coaches: clients).
    Invite {
        /// Their e-mail address.
        #[arg(value_name = "EMAIL")]
        invitee: String,
        /// manager, coach or client.
        #[arg(long)]
        role: Role,
        /// The organisation (needed when you belong to several).
        #[arg(long)]
        organisation: Option<String>,
    },
    /// Accept an invitation to another organisation with this account.
    Accept {
        /// The link from the invitation e-mail.
        link: String,
    },
    /// Relationships (trajectories) between coaches and a client.
    #[command(subcommand)]
    Relationship(RelationshipCommand),
    /// Two-factor login with an authenticator app. Once on, every login
    /// asks for a code (or takes it from KLUIS_2FA_CODE).
    #[command(subcommand, name = "two-factor")]
    TwoFactor(TwoFactorCommand),
    /// Send a message (`-` reads it from standard input).
    Send {
        /// The relationship.
        relationship: String,
        /// The message.
        text: Vec<String>,
    },
    /// Show the dialogue.
    Read {
        /// The relationship.
        relationship: String,
    },
    /// Show new messages as they arrive (Ctrl-C ends).
    Follow {
        /// The relationship.
        relationship: String,
        /// Seconds between checks.
        #[arg(long, default_value_t = 3)]
        every: u64,
    },
    /// Share a file.
    Attach {
        /// The relationship.
        relationship: String,
        /// The file.
        file: PathBuf,
        /// Its media type.
        #[arg(long, default_value = "application/octet-stream")]
        media_type: String,
    },
    /// Download a shared file (the item id from `kluis read`).
    Download {
        /// The relationship.
        relationship: String,
        /// The document item.
        item: String,
        /// The directory to write it to.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Delete one of your own items.
    Delete {
        /// The relationship.
        relationship: String,
        /// The item.
        item: String,
    },
    /// Private notes about a relationship (coaches).
    #[command(subcommand)]
    Note(NoteCommand),
    /// Show the safety number with someone; with --compare, mark it verified.
    Verify {
        /// Their account id.
        user: String,
        /// The number the other side shows (digits or QR payload).
        #[arg(long)]
        compare: Option<String>,
        /// Accept their changed key (with --compare).
        #[arg(long)]
        accept_change: bool,
    },
    /// Write everything you can read, decrypted, into a new directory
    /// (JSON, the files, and a manifest with their SHA-256).
    Export {
        /// The directory to create.
        #[arg(long)]
        out: PathBuf,
    },
    /// Delete your account and everything in it (clients): every
    /// conversation, note and file. There is no undo.
    DeleteAccount {
        /// Confirms that everything is to be erased.
        #[arg(long)]
        yes: bool,
    },
    /// List your sessions; --revoke ends one.
    Sessions {
        /// The session to end.
        #[arg(long)]
        revoke: Option<String>,
    },
    /// Change your password (the old one first; the new one twice).
    ChangePassword,
    /// Ask for a password reset link (sent to the address if it has an account).
    ForgotPassword,
    /// Set a new password from the reset link.
    ResetPassword {
        /// The link from the e-mail.
        link: String,
    },
    /// After a reset: restore your identity with the recovery key, or
    /// start a new one (--new-identity).
    Recover {
        /// Give up the old identity; peers are told your key changed.
        #[arg(long)]
        new_identity: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TwoFactorCommand {
    /// Whether it is on, and how many recovery codes are left.
    Status,
    /// Start: shows the secret and otpauth:// URI for the app (and writes
    /// the QR code as PNG with --qr); then `confirm` with a code.
    Enable {
        /// Write the QR code here (PNG).
        #[arg(long)]
        qr: Option<PathBuf>,
    },
    /// Confirm with a code from the app; shows the ten recovery codes once.
    Confirm {
        /// Six digits from the app.
        code: String,
    },
    /// New recovery codes (the old ones stop working).
    RecoveryCodes {
        /// A code from the app, or a recovery code.
        code: String,
    },
    /// Set up a phone number for SMS codes (international form, such as
    /// +31612345678); a code is sent to it for `confirm-sms`.
    Sms {
        /// The phone number.
        phone: String,
    },
    /// Confirm the phone number with the code sent to it.
    ConfirmSms {
        /// The code from the text message.
        code: String,
    },
    /// Turn two-factor login off.
    Disable {
        /// A code from the app, or a recovery code.
        code: String,
    },
    /// Managers: require it of every member of the organisation (on) or not
    /// (off).
    Require {
        /// on or off.
        #[arg(value_name = "on|off")]
        switch: OnOff,
        /// The organisation (needed when you belong to several).
        #[arg(long)]
        organisation: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum RelationshipCommand {
    /// The relationships you are in.
    List,
    /// Open one with a client you invited (coaches).
    Open {
        /// The client's account id.
        client: String,
        /// The organisation (needed when you belong to several).
        #[arg(long)]
        organisation: Option<String>,
    },
    /// Add a coach or your client (a new epoch).
    Add {
        /// The relationship.
        relationship: String,
        /// Their account id.
        user: String,
    },
    /// Remove a member (a new epoch; they read nothing after).
    Remove {
        /// The relationship.
        relationship: String,
        /// Their account id.
        user: String,
    },
}

#[derive(Debug, Subcommand)]
enum NoteCommand {
    /// Write a note.
    Add {
        /// The relationship.
        relationship: String,
        /// The note.
        text: Vec<String>,
    },
}

/// A failed command: what to say and which exit code.
#[derive(Debug)]
pub struct Failure(Error);

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Self(Error::Io(e))
    }
}

impl Failure {
    pub fn message(&self) -> String {
        self.0.to_string()
    }

    pub fn exit_code(&self) -> u8 {
        match &self.0 {
            Error::WrongCredentials | Error::SecondFactorFailed => 3,
            Error::SessionExpired | Error::InvalidLink => 4,
            Error::Unreachable { .. } => 5,
            Error::KeyChanged { .. } => 6,
            Error::Tampered(_) | Error::LocalStore(_) => 7,
            Error::Refused { .. } | Error::RateLimited { .. } => 8,
            _ => 1,
        }
    }
}

type Outcome = Result<(), Failure>;

fn usage(message: impl Into<String>) -> Failure {
    Failure(Error::InvalidInput(message.into()))
}

struct Context {
    profile_dir: PathBuf,
    profile: Profile,
    server: Option<String>,
    email: Option<String>,
    password_file: Option<PathBuf>,
    json: bool,
}

impl Context {
    fn kluis(&self, server: Option<&str>) -> Result<Kluis, Failure> {
        let server = server
            .map(str::to_owned)
            .or_else(|| self.server.clone())
            .ok_or_else(|| usage("which server? give --server or log in once"))?;
        let store = FileStore::new(self.profile_dir.join("store"))?;
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "this computer".into());
        Ok(Kluis::new(&server, Arc::new(store))?.with_device_label(format!("kluis CLI on {host}")))
    }

    fn email(&self) -> Result<String, Failure> {
        self.email
            .clone()
            .ok_or_else(|| usage("which account? give --email or log in once"))
    }

    fn remember(&mut self, server: &str, email: &str) -> Outcome {
        self.profile.server = Some(server.to_owned());
        self.profile.email = Some(email.to_owned());
        self.profile.save(&self.profile_dir)?;
        Ok(())
    }

    /// The password: the file, the environment, or a prompt without echo.
    fn password(&self, prompt: &str) -> Result<Zeroizing<String>, Failure> {
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

    fn new_password(&self) -> Result<Zeroizing<String>, Failure> {
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
    async fn full_login(&self, email: &str, password: &str) -> Result<Login, Failure> {
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

    async fn login(&self) -> Result<Session, Failure> {
        let email = self.email()?;
        let password = self.password(&format!("Password for {email}: "))?;
        match self.full_login(&email, &password).await? {
            Login::Ready(session) => {
                if session.local_state_was_reset() {
                    eprintln!(
                        "kluis: note: the local store could not be opened (password reset?); \
                         compare safety numbers with your contacts again"
                    );
                }
                Ok(*session)
            }
            Login::NeedsRecovery(_) => Err(usage(
                "your identity is not sealed under this password: run `kluis recover`",
            )),
            Login::SecondFactor(_) => Err(usage("a second factor is needed")),
        }
    }

    fn print(&self, human: &str, machine: serde_json::Value) {
        if self.json {
            println!("{machine}");
        } else {
            println!("{human}");
        }
    }

    fn new_account(&mut self, server: &str, email: &str, account: &NewAccount) -> Outcome {
        self.remember(server, email)?;
        let key = account.recovery_key.to_display_string();
        self.print(
            &format!(
                "Account created for {email} ({}).\n\n\
                 Your recovery key — write it down and keep it safe. It is shown only now;\n\
                 without it a forgotten password means losing everything:\n\n    {}\n",
                account.session.account_id(),
                key.as_str()
            ),
            json!({"account_id": account.session.account_id().to_string(), "email": email,
                   "recovery_key": key.as_str()}),
        );
        Ok(())
    }
}

/// Ends the command's session whatever happened.
async fn with_session<F, Fut>(ctx: &Context, work: F) -> Outcome
where
    F: FnOnce(Session) -> Fut,
    Fut: std::future::Future<Output = (Session, Outcome)>,
{
    let session = ctx.login().await?;
    let (session, outcome) = work(session).await;
    let ended = session.logout().await;
    outcome?;
    ended.map_err(Failure::from)
}

fn only_organisation(me: &crate::Me, given: Option<String>) -> Result<String, Failure> {
    if let Some(o) = given {
        return Ok(o);
    }
    match me.memberships.as_slice() {
        [one] => Ok(one.organisation_id.clone()),
        [] => Err(usage("this account belongs to no organisation")),
        _ => Err(usage(
            "you belong to several organisations: give --organisation",
        )),
    }
}

fn text_arg(words: Vec<String>) -> Result<String, Failure> {
    if words.len() == 1 && words.first().is_some_and(|w| w == "-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        return Ok(text.trim_end().to_owned());
    }
    let text = words.join(" ");
    if text.trim().is_empty() {
        return Err(usage("nothing to send"));
    }
    Ok(text)
}

fn show_entry(e: &Entry) -> String {
    let body = match &e.content {
        EntryContent::Message { text } => text.clone(),
        EntryContent::Note { text } => format!("[note] {text}"),
        EntryContent::Document(d) => format!(
            "[file] {} ({}, {} bytes) — kluis download … {}",
            d.name, d.media_type, d.size, e.item_id
        ),
        EntryContent::Deleted => "[deleted]".into(),
        EntryContent::Unreadable => {
            "[unreadable: its key was lost with an earlier identity]".into()
        }
    };
    format!("#{} {} {}: {}", e.seq, e.item_id, e.author, body)
}

fn progress_bar(total: Option<u64>, hidden: bool) -> ProgressBar {
    let bar = match total {
        _ if hidden => ProgressBar::hidden(),
        Some(t) => ProgressBar::new(t),
        None => ProgressBar::no_length(),
    };
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
    {
        bar.set_style(style);
    }
    bar
}

pub async fn run(cli: Cli) -> Outcome {
    let profile_dir = cli.profile.clone().unwrap_or_else(default_dir);
    let profile = Profile::load(&profile_dir);
    let mut ctx = Context {
        server: cli.server.clone().or_else(|| profile.server.clone()),
        email: cli.email.clone().or_else(|| profile.email.clone()),
        profile_dir,
        profile,
        password_file: cli.password_file.clone(),
        json: cli.json,
    };
    match cli.command {
        Command::Setup {
            link,
            organisation,
            name,
        } => {
            let server = match &ctx.server {
                Some(s) => s.clone(),
                None => crate::link::server_of(&link)?,
            };
            let email = ctx.email()?;
            let password = ctx.new_password()?;
            let account = ctx
                .kluis(Some(&server))?
                .setup_organisation(&link, &organisation, &email, &name, &password)
                .await?;
            ctx.new_account(&server, &email, &account)?;
            account.session.logout().await?;
            Ok(())
        }
        Command::Signup { link, name } => {
            let server = match &ctx.server {
                Some(s) => s.clone(),
                None => crate::link::server_of(&link)?,
            };
            let kluis = ctx.kluis(Some(&server))?;
            let info = kluis.lookup_invitation(&link).await?;
            if !ctx.json {
                eprintln!(
                    "Invitation to {} as {} for {}.",
                    info.organisation_name, info.role, info.email
                );
            }
            let password = ctx.new_password()?;
            let account = kluis.sign_up(&link, &name, &password).await?;
            ctx.new_account(&server, &info.email, &account)?;
            account.session.logout().await?;
            Ok(())
        }
        Command::Login => {
            let session = ctx.login().await?;
            let me = session.me().await?;
            ctx.remember(session.server(), &me.email)?;
            ctx.print(
                &format!("Logged in as {} ({}).", me.email, me.account_id),
                json!({"account_id": me.account_id, "email": me.email,
                       "privacy_notice_pending": me.privacy_notice_pending}),
            );
            if me.two_factor_enrolment_required && !ctx.json {
                eprintln!(
                    "Your organisation requires two-factor login: run `kluis two-factor enable` \
                     (or `kluis two-factor sms NUMBER`) before anything else."
                );
            }
            // The first login (and the first after the notice changed)
            // shows the user's rights.
            if me.privacy_notice_pending && !ctx.json {
                let notice = session.privacy_notice().await?;
                eprintln!(
                    "\n{}\nRun `kluis privacy --acknowledge` once you have read this.",
                    notice.text
                );
            }
            session.logout().await?;
            Ok(())
        }
        Command::Privacy { acknowledge } => {
            let json = ctx.json;
            with_session(&ctx, |s| async move {
                let out = async {
                    let mut notice = s.privacy_notice().await?;
                    if acknowledge {
                        notice = s.acknowledge_privacy_notice(notice.version).await?;
                    }
                    if json {
                        println!("{}", json!(notice));
                    } else {
                        println!("{}", notice.text);
                        match notice.acknowledged_ms {
                            Some(_) => println!("(version {}: acknowledged)", notice.version),
                            None => println!(
                                "(version {}: run `kluis privacy --acknowledge` once read)",
                                notice.version
                            ),
                        }
                    }
                    Ok::<(), Error>(())
                }
                .await;
                (s, out.map_err(Failure::from))
            })
            .await
        }
        Command::Settings {
            language,
            activity_emails,
        } => {
            let json = ctx.json;
            with_session(&ctx, |s| async move {
                let out = s
                    .set_preferences(language, activity_emails.map(|o| o == OnOff::On))
                    .await
                    .map(|me| {
                        if json {
                            println!("{}", json!(me));
                        } else {
                            println!(
                                "language: {}\nactivity e-mails: {}",
                                match me.language {
                                    Language::Nl => "nl",
                                    Language::En => "en",
                                },
                                if me.activity_emails { "on" } else { "off" }
                            );
                        }
                    });
                (s, out.map_err(Failure::from))
            })
            .await
        }
        Command::Logout { everywhere } => {
            if everywhere {
                ctx.login().await?.logout_everywhere().await?;
            }
            ctx.profile = Profile::default();
            ctx.profile.save(&ctx.profile_dir)?;
            ctx.print("Logged out.", json!({"status": "logged_out"}));
            Ok(())
        }
        Command::Whoami => {
            let json = ctx.json;
            with_session(&ctx, |s| async move {
                let out = s.me().await.map(|me| {
                    if json {
                        println!("{}", json!(me));
                    } else {
                        println!("{} <{}> {}", me.display_name, me.email, me.account_id);
                        for m in &me.memberships {
                            println!(
                                "  {} {} ({}){}",
                                m.role,
                                m.organisation_name,
                                m.organisation_id,
                                if m.disabled { " — disabled" } else { "" }
                            );
                        }
                    }
                });
                (s, out.map_err(Failure::from))
            })
            .await
        }
        Command::Invite {
            invitee: email,
            role,
            organisation,
        } => {
            let json = ctx.json;
            with_session(&ctx, |s| async move {
                let out = async {
                    let org = only_organisation(&s.me().await?, organisation)?;
                    let sent = s.invite(&org, &email, role).await?;
                    if json {
                        println!("{}", json!(sent));
                    } else {
                        println!("Invitation sent to {email} as {role}.");
                    }
                    Ok(())
                }
                .await;
                (s, out)
            })
            .await
        }
        Command::Accept { link } => {
            with_session(&ctx, |s| async move {
                let out = s.accept_invitation(&link).await.map_err(Failure::from);
                (s, out)
            })
            .await?;
            ctx.print("Invitation accepted.", json!({"status": "joined"}));
            Ok(())
        }
        Command::Relationship(cmd) => relationship(&ctx, cmd).await,
        Command::TwoFactor(cmd) => two_factor(&ctx, cmd).await,
        Command::Send { relationship, text } => {
            let rid = parse_relationship_id(&relationship)?;
            let text = text_arg(text)?;
            let json = ctx.json;
            with_session(&ctx, |mut s| async move {
                let out = s.send_message(rid, &text).await.map(|id| {
                    if json {
                        println!("{}", json!({"item_id": id.to_string()}));
                    } else {
                        println!("Sent ({id}).");
                    }
                });
                (s, out.map_err(Failure::from))
            })
            .await
        }
        Command::Read { relationship } => {
            let rid = parse_relationship_id(&relationship)?;
            let json = ctx.json;
            with_session(&ctx, |mut s| async move {
                let out = s.dialogue(rid).await.map(|entries| {
                    if json {
                        println!("{}", json!(entries));
                    } else {
                        for e in &entries {
                            println!("{}", show_entry(e));
                        }
                    }
                });
                (s, out.map_err(Failure::from))
            })
            .await
        }
        Command::Follow {
            relationship,
            every,
        } => {
            let rid = parse_relationship_id(&relationship)?;
            let json = ctx.json;
            with_session(&ctx, |mut s| async move {
                let out = async {
                    let mut last_seq = i64::MIN;
                    loop {
                        for e in s.recent(rid, 50).await? {
                            if e.seq > last_seq {
                                last_seq = e.seq;
                                if json {
                                    println!("{}", json!(e));
                                } else {
                                    println!("{}", show_entry(&e));
                                }
                            }
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(std::time::Duration::from_secs(every.max(1))) => {}
                            _ = tokio::signal::ctrl_c() => return Ok(()),
                        }
                    }
                }
                .await;
                (s, out)
            })
            .await
        }
        Command::Attach {
            relationship,
            file,
            media_type,
        } => {
            let rid = parse_relationship_id(&relationship)?;
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| usage("the file needs a UTF-8 name"))?
                .to_owned();
            let reader = std::fs::File::open(&file)?;
            let total = reader.metadata()?.len();
            let json = ctx.json;
            with_session(&ctx, |mut s| async move {
                let bar = progress_bar(Some(total), json);
                let out = s
                    .send_file(rid, reader, &name, &media_type, Some(total), &mut |p| {
                        bar.set_position(p.done)
                    })
                    .await;
                bar.finish_and_clear();
                let out = out.map(|f| {
                    if json {
                        println!(
                            "{}",
                            json!({"item_id": f.item_id.to_string(), "size": f.size})
                        );
                    } else {
                        println!("Shared {name} ({} bytes) as {}.", f.size, f.item_id);
                    }
                });
                (s, out.map_err(Failure::from))
            })
            .await
        }
        Command::Download {
            relationship,
            item,
            out,
        } => {
            let rid = parse_relationship_id(&relationship)?;
            let item = parse_item_id(&item)?;
            let json = ctx.json;
            with_session(&ctx, |mut s| async move {
                let result = download(&mut s, rid, item, &out, json).await;
                (s, result)
            })
            .await
        }
        Command::Delete { relationship, item } => {
            let rid = parse_relationship_id(&relationship)?;
            let item = parse_item_id(&item)?;
            with_session(&ctx, |mut s| async move {
                let out = s.delete_item(rid, item).await.map_err(Failure::from);
                (s, out)
            })
            .await?;
            ctx.print("Deleted.", json!({"status": "deleted"}));
            Ok(())
        }
        Command::Note(NoteCommand::Add { relationship, text }) => {
            let rid = parse_relationship_id(&relationship)?;
            let text = text_arg(text)?;
            with_session(&ctx, |mut s| async move {
                let out = s
                    .add_note(rid, &text)
                    .await
                    .map(|_| ())
                    .map_err(Failure::from);
                (s, out)
            })
            .await?;
            ctx.print("Note saved.", json!({"status": "saved"}));
            Ok(())
        }
        Command::Verify {
            user,
            compare,
            accept_change,
        } => {
            let peer = parse_user_id(&user)?;
            let json = ctx.json;
            with_session(&ctx, |mut s| async move {
                let out = verify(&mut s, peer, compare, accept_change, json).await;
                (s, out)
            })
            .await
        }
        Command::Export { out } => {
            let json = ctx.json;
            with_session(&ctx, |mut s| async move {
                let bar = progress_bar(None, json);
                let result = s.export_to(&out, &mut |p| bar.set_position(p.done)).await;
                bar.finish_and_clear();
                let result = result.map(|files| {
                    let bytes: u64 = files.iter().map(|f| f.size).sum();
                    if json {
                        println!(
                            "{}",
                            json!({"path": out.display().to_string(), "files": files.len(), "bytes": bytes})
                        );
                    } else {
                        println!(
                            "Exported {} files ({bytes} bytes) to {}; manifest.json lists each with its SHA-256.",
                            files.len(),
                            out.display()
                        );
                    }
                });
                (s, result.map_err(Failure::from))
            })
            .await
        }
        Command::DeleteAccount { yes } => {
            if !yes {
                return Err(usage(
                    "this erases your account and every conversation and file in it; \
                     run `kluis export` first, then again with --yes",
                ));
            }
            let email = ctx.email()?;
            let password = ctx.password(&format!("Password for {email}: "))?;
            let session = match ctx.full_login(&email, &password).await? {
                Login::Ready(s) => *s,
                Login::NeedsRecovery(_) => {
                    return Err(usage("restore your identity first (kluis recover)"))
                }
                Login::SecondFactor(_) => return Err(usage("a second factor is needed")),
            };
            session.delete_account(&password).await?;
            ctx.profile = Profile::default();
            ctx.profile.save(&ctx.profile_dir)?;
            ctx.print(
                "Your account and everything in it are deleted.",
                json!({"status": "deleted"}),
            );
            Ok(())
        }
        Command::Sessions { revoke } => {
            let json = ctx.json;
            with_session(&ctx, |s| async move {
                let out = async {
                    if let Some(id) = revoke {
                        s.revoke_session(&id).await?;
                        println!("Session {id} ended.");
                        return Ok(());
                    }
                    let list = s.sessions().await?;
                    if json {
                        println!("{}", json!(list));
                    } else {
                        for x in &list {
                            println!(
                                "{} {}{}",
                                x.id,
                                x.device_label,
                                if x.current { " (this command)" } else { "" }
                            );
                        }
                    }
                    Ok(())
                }
                .await;
                (s, out)
            })
            .await
        }
        Command::ChangePassword => {
            let email = ctx.email()?;
            let old = ctx.password(&format!("Current password for {email}: "))?;
            let new = match std::env::var("KLUIS_NEW_PASSWORD") {
                Ok(p) => Zeroizing::new(p),
                Err(_) => ctx.new_password()?,
            };
            let mut session = match ctx.full_login(&email, &old).await? {
                Login::Ready(s) => *s,
                Login::NeedsRecovery(_) => {
                    return Err(usage("restore your identity first (kluis recover)"))
                }
                Login::SecondFactor(_) => return Err(usage("a second factor is needed")),
            };
            let changed = session.change_password(&old, &new).await;
            let ended = session.logout().await;
            changed?;
            ended?;
            ctx.print(
                "Password changed; your other sessions ended.",
                json!({"status": "password_changed"}),
            );
            Ok(())
        }
        Command::ForgotPassword => {
            let email = ctx.email()?;
            ctx.kluis(None)?.request_password_reset(&email).await?;
            ctx.print(
                &format!("If {email} has an account, a reset link is on its way."),
                json!({"status": "requested"}),
            );
            Ok(())
        }
        Command::ResetPassword { link } => {
            let server = match &ctx.server {
                Some(s) => s.clone(),
                None => crate::link::server_of(&link)?,
            };
            let password = ctx.new_password()?;
            ctx.kluis(Some(&server))?
                .reset_password(&link, &password)
                .await?;
            ctx.print(
                "Password changed; every session ended. Now run `kluis recover` with your recovery key.",
                json!({"status": "reset"}),
            );
            Ok(())
        }
        Command::Recover { new_identity } => recover(&mut ctx, new_identity).await,
    }
}

async fn two_factor(ctx: &Context, cmd: TwoFactorCommand) -> Outcome {
    let json = ctx.json;
    with_session(ctx, |s| async move {
        let out = async {
            match cmd {
                TwoFactorCommand::Status => {
                    let st = s.two_factor().await?;
                    if json {
                        println!("{}", json!(st));
                    } else {
                        println!(
                            "two-factor login: {}; recovery codes left: {}{}",
                            if st.totp { "on" } else { "off" },
                            st.recovery_codes_left,
                            if st.required_by_organisation {
                                "; required by your organisation"
                            } else {
                                ""
                            }
                        );
                    }
                }
                TwoFactorCommand::Enable { qr } => {
                    let e = s.enrol_totp().await?;
                    if let Some(path) = qr {
                        use base64::Engine as _;
                        let png = base64::engine::general_purpose::STANDARD
                            .decode(&e.qr_png)
                            .map_err(|_| Error::Tampered(crate::Violation::Malformed("QR code".into())))?;
                        std::fs::write(&path, png).map_err(|e| Error::InvalidInput(format!("{}: {e}", path.display())))?;
                    }
                    if json {
                        println!("{}", json!(e));
                    } else {
                        println!(
                            "Add this to your authenticator app (scan the QR code or type the secret):\n\n    {}\n    {}\n\nThen run `kluis two-factor confirm CODE` with the code it shows.",
                            e.secret, e.otpauth_uri
                        );
                    }
                }
                TwoFactorCommand::Confirm { code } => {
                    let codes = s.confirm_totp(code.trim()).await?;
                    print_recovery_codes(json, &codes);
                }
                TwoFactorCommand::Sms { phone } => {
                    s.enrol_sms(&phone).await?;
                    if json {
                        println!("{}", json!({"status": "sms_sent"}));
                    } else {
                        println!("A code was sent to {phone}: run `kluis two-factor confirm-sms CODE`.");
                    }
                }
                TwoFactorCommand::ConfirmSms { code } => {
                    let codes = s.confirm_sms(code.trim()).await?;
                    if codes.is_empty() {
                        if json {
                            println!("{}", json!({"recovery_codes": codes}));
                        } else {
                            println!("SMS codes work for login from now; your recovery codes stay as they were.");
                        }
                    } else {
                        print_recovery_codes(json, &codes);
                    }
                }
                TwoFactorCommand::RecoveryCodes { code } => {
                    let code = code.trim();
                    let codes = s.renew_recovery_codes(SecondFactorMethod::of_code(code, &[SecondFactorMethod::Totp]), code).await?;
                    print_recovery_codes(json, &codes);
                }
                TwoFactorCommand::Disable { code } => {
                    let code = code.trim();
                    s.disable_two_factor(SecondFactorMethod::of_code(code, &[SecondFactorMethod::Totp]), code).await?;
                    if json {
                        println!("{}", json!({"status": "two_factor_disabled"}));
                    } else {
                        println!("Two-factor login is off.");
                    }
                }
                TwoFactorCommand::Require {
                    switch,
                    organisation,
                } => {
                    let org = only_organisation(&s.me().await?, organisation)?;
                    s.require_two_factor(&org, switch == OnOff::On).await?;
                    if json {
                        println!("{}", json!({"required": switch == OnOff::On}));
                    } else {
                        println!("Two-factor login is {} for the organisation's members.", if switch == OnOff::On { "required" } else { "optional" });
                    }
                }
            }
            Ok::<(), Failure>(())
        }
        .await;
        (s, out)
    })
    .await
}

fn print_recovery_codes(json: bool, codes: &[String]) {
    if json {
        println!("{}", json!({"recovery_codes": codes}));
    } else {
        println!(
            "Two-factor login is on. Your recovery codes — each works once, when your\n\
             phone is not at hand. Keep them somewhere safe; they are shown only now:\n"
        );
        for code in codes {
            println!("    {code}");
        }
    }
}

async fn relationship(ctx: &Context, cmd: RelationshipCommand) -> Outcome {
    let json = ctx.json;
    with_session(ctx, |mut s| async move {
        let out = async {
            match cmd {
                RelationshipCommand::List => {
                    let list = s.relationships().await?;
                    if json {
                        println!("{}", json!(list));
                    } else {
                        for r in &list {
                            let members: Vec<String> = r
                                .current_members()
                                .map(|m| {
                                    format!("{} ({}, {})", m.display_name, m.role, m.account_id)
                                })
                                .collect();
                            println!(
                                "{} epoch {}: {}",
                                r.relationship_id,
                                r.current_epoch,
                                members.join(", ")
                            );
                        }
                    }
                }
                RelationshipCommand::Open {
                    client,
                    organisation,
                } => {
                    let client = parse_user_id(&client)?;
                    let org = only_organisation(&s.me().await?, organisation)?;
                    let rid = s.open_relationship(&org, client).await?;
                    if json {
                        println!("{}", json!({"relationship_id": rid.to_string()}));
                    } else {
                        println!("Opened relationship {rid}.");
                    }
                }
                RelationshipCommand::Add { relationship, user } => {
                    let epoch = s
                        .add_member(parse_relationship_id(&relationship)?, parse_user_id(&user)?)
                        .await?;
                    println!("Added; the relationship is at epoch {epoch}.");
                }
                RelationshipCommand::Remove { relationship, user } => {
                    let epoch = s
                        .remove_member(parse_relationship_id(&relationship)?, parse_user_id(&user)?)
                        .await?;
                    println!("Removed; the relationship is at epoch {epoch}.");
                }
            }
            Ok(())
        }
        .await;
        (s, out)
    })
    .await
}

async fn download(
    s: &mut Session,
    rid: crate::kluis_crypto::ids::RelationshipId,
    item: crate::kluis_crypto::ids::ItemId,
    out: &std::path::Path,
    json: bool,
) -> Outcome {
    // Plaintext goes to a temporary file that becomes the file only once
    // every chunk and the digest checked out.
    let partial = out.join(format!(".kluis-download-{item}.part"));
    let file = std::fs::File::create(&partial)?;
    let bar = progress_bar(None, json);
    let result = s
        .download_file(rid, item, std::io::BufWriter::new(file), &mut |p| {
            if let Some(t) = p.total {
                bar.set_length(t);
            }
            bar.set_position(p.done);
        })
        .await;
    bar.finish_and_clear();
    let info = match result {
        Ok(info) => info,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e.into());
        }
    };
    let target = out.join(&info.name);
    if target.exists() {
        let _ = std::fs::remove_file(&partial);
        return Err(usage(format!(
            "{} exists already; nothing was overwritten",
            target.display()
        )));
    }
    std::fs::rename(&partial, &target)?;
    if json {
        println!(
            "{}",
            json!({"path": target.display().to_string(), "size": info.size})
        );
    } else {
        println!("Saved {} ({} bytes).", target.display(), info.size);
    }
    Ok(())
}

async fn verify(
    s: &mut Session,
    peer: crate::kluis_crypto::ids::UserId,
    compare: Option<String>,
    accept_change: bool,
    json: bool,
) -> Outcome {
    let number = s.safety_number(peer).await?;
    match compare {
        None => {
            if json {
                println!(
                    "{}",
                    json!({"peer": peer.to_string(), "digits": number.digits,
                           "qr_payload": number.qr_payload_hex, "verified": number.verified,
                           "key_changed": number.key_changed})
                );
            } else {
                if number.key_changed {
                    println!("Their key CHANGED. The new safety number:");
                }
                println!("{}", number.digits);
                println!(
                    "{}",
                    if number.verified {
                        "Verified."
                    } else {
                        "Not verified: compare it with theirs, then run kluis verify USER --compare 'DIGITS'."
                    }
                );
            }
        }
        Some(compared) if number.key_changed => {
            if !accept_change {
                return Err(usage(
                    "their key changed: add --accept-change if the new number matches",
                ));
            }
            s.accept_key_change(peer, &compared).await?;
            println!("The new key is verified and pinned.");
        }
        Some(compared) => {
            s.verify_safety_number(peer, &compared).await?;
            println!("Verified.");
        }
    }
    Ok(())
}

async fn recover(ctx: &mut Context, new_identity: bool) -> Outcome {
    let email = ctx.email()?;
    let password = ctx.password(&format!("Password for {email}: "))?;
    let pending = match ctx.full_login(&email, &password).await? {
        Login::Ready(session) => {
            session.logout().await?;
            ctx.print(
                "Your identity opens with this password: nothing to recover.",
                json!({"status": "nothing_to_recover"}),
            );
            return Ok(());
        }
        Login::NeedsRecovery(p) => p,
        Login::SecondFactor(_) => return Err(usage("a second factor is needed")),
    };
    if new_identity {
        let account = pending.new_identity().await?;
        let server = account.session.server().to_owned();
        ctx.new_account(&server, &email, &account)?;
        account.session.logout().await?;
        return Ok(());
    }
    let typed = match std::env::var("KLUIS_RECOVERY_KEY") {
        Ok(k) => Zeroizing::new(k),
        Err(_) => Zeroizing::new(rpassword::prompt_password("Recovery key: ")?),
    };
    let key = RecoveryKey::parse(&typed).map_err(Error::from)?;
    let session = pending.recover(&key).await?;
    ctx.print(
        "Identity restored and sealed under the new password.",
        json!({"status": "recovered"}),
    );
    session.logout().await?;
    Ok(())
}

/// A switch on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OnOff {
    /// Turned on.
    On,
    /// Turned off.
    Off,
}
