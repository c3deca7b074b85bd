//! The command line itself: every subcommand, flag, help text and
//! environment variable, as clap reads them. Nothing here runs anything;
//! `kluis --help` is printed from these definitions alone.

use std::path::PathBuf;

use crate::{Language, Role};
use clap::{Parser, Subcommand};

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
  9  this device's local store (pinned and verified keys) is missing or does
     not open: never replaced on its own; --fresh-device-state starts afresh

Passwords are read without echo, or from KLUIS_PASSWORD or --password-file.";

/// Kluis: an end-to-end encrypted vault for coaching.
#[derive(Debug, Parser)]
#[command(name = "kluis", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// The Kluis server (remembered after a login).
    #[arg(long, global = true, env = "KLUIS_SERVER")]
    pub(crate) server: Option<String>,
    /// The account's e-mail address (remembered after a login).
    #[arg(long, global = true, env = "KLUIS_EMAIL")]
    pub(crate) email: Option<String>,
    /// A file whose first line is the password (for scripts).
    #[arg(long, global = true, env = "KLUIS_PASSWORD_FILE")]
    pub(crate) password_file: Option<PathBuf>,
    /// Where the profile and the sealed local store live.
    #[arg(long, global = true, env = "KLUIS_PROFILE")]
    pub(crate) profile: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Start this device's local store afresh: the old one is kept aside,
    /// and every peer's key is pinned anew (compare safety numbers again).
    /// Only when you know why it is missing or does not open.
    #[arg(long, global = true)]
    pub(crate) fresh_device_state: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
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
    /// Confirm or refuse a new e-mail address a manager proposed for you
    /// (managers: propose one).
    ///
    /// A manager can only propose a new address for your account: nothing
    /// changes (login, password resets and e-mails stay with your current
    /// address) until you confirm it. `kluis whoami` shows a proposal
    /// waiting for you; the e-mail about it went to your current address.
    #[command(subcommand)]
    Email(EmailCommand),
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
    /// Check that a server's web client is the bundle built from source:
    /// every file of the local manifest is fetched and its SHA-256
    /// compared (exit 7 when one differs). Build the manifest with
    /// ./scripts/build-web from the source you trust.
    VerifyWeb {
        /// The server's address (its root, where the web client is).
        url: String,
        /// The manifest built from source.
        #[arg(long, default_value = "web/dist/bundle-manifest.json")]
        manifest: PathBuf,
    },
    /// Write everything you can read, decrypted, into a new directory
    /// (JSON, the files, and a manifest with their SHA-256).
    Export {
        /// The directory to create.
        #[arg(long)]
        out: PathBuf,
    },
    /// Everything the server holds about you (the right of access), as one
    /// JSON document: account, memberships, relationships, what you wrote
    /// and uploaded (counted: the server cannot read it), sessions,
    /// two-step methods, notices, mail (kinds and times) and events. To
    /// standard output, or --out FILE.
    Data {
        /// The file to write (it must not exist yet).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Delete your account and everything in it (clients); --cancel stops
    /// a scheduled deletion.
    ///
    /// Every conversation, note and file is erased; there is no undo. Soon
    /// after a password reset, an address change or a new identity (the
    /// server's cooling-off period, a week unless its operator chose
    /// otherwise) the deletion is only scheduled and your coaches are told;
    /// until it is due, --cancel keeps the account.
    DeleteAccount {
        /// Confirms that everything is to be erased.
        #[arg(long, conflicts_with = "cancel")]
        yes: bool,
        /// Cancel a scheduled deletion: the account stays as it is.
        #[arg(long)]
        cancel: bool,
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
    /// Set a new password from the reset link. With two-factor login on,
    /// a code of the second factor is needed too: --code, KLUIS_2FA_CODE,
    /// or asked for (six digits: the authenticator app, or with --sms the
    /// code sent by SMS; otherwise a recovery code).
    ResetPassword {
        /// The link from the e-mail.
        link: String,
        /// A code of the second factor (or a recovery code).
        #[arg(long)]
        code: Option<String>,
        /// Have an SMS code sent to the account's phone first.
        #[arg(long)]
        sms: bool,
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
pub(crate) enum TwoFactorCommand {
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
pub(crate) enum EmailCommand {
    /// Make the proposed address your account's address.
    ///
    /// Login, password resets and e-mails go to it from now on; a link to
    /// prove it is sent there, and your current address is told. Logs in
    /// (the login is the password proof the server asks for); with --link,
    /// no login is needed.
    Confirm {
        /// The link in the e-mail about the proposal, sent to your current
        /// address ("See the proposal").
        #[arg(long, value_name = "URL")]
        link: Option<String>,
    },
    /// Refuse the proposed address: nothing changes.
    ///
    /// If you did not expect the proposal, refuse it and tell your
    /// organisation. Logs in; with --link, no login is needed.
    Refuse {
        /// The link in the e-mail about the proposal, sent to your current
        /// address ("See the proposal").
        #[arg(long, value_name = "URL")]
        link: Option<String>,
    },
    /// Managers: propose a new address for a member.
    ///
    /// It changes nothing until the member confirms it; the e-mail about it
    /// goes to the member's current address. A member of several
    /// organisations changes their address only themself.
    Propose {
        /// The member's account id.
        member: String,
        /// The new address.
        #[arg(value_name = "EMAIL")]
        new_email: String,
        /// The organisation (needed when you belong to several).
        #[arg(long)]
        organisation: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RelationshipCommand {
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
    /// Add a coach or your client (a new epoch, signed by you).
    Add {
        /// The relationship.
        relationship: String,
        /// Their account id.
        user: String,
        /// They join as the client (your own client); without it, as a
        /// coach.
        #[arg(long)]
        client: bool,
    },
    /// Who holds the relationship now and every change of its members, as
    /// the coaches' signed membership records prove it.
    Members {
        /// The relationship.
        relationship: String,
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
pub(crate) enum NoteCommand {
    /// Write a note.
    Add {
        /// The relationship.
        relationship: String,
        /// The note.
        text: Vec<String>,
    },
}

/// A switch on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OnOff {
    /// Turned on.
    On,
    /// Turned off.
    Off,
}
