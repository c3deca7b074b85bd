//! Configuration: defaults, then a TOML file, then `KLUIS_*` environment
//! variables (the last one wins). Unknown keys in the file are refused, so a
//! typo cannot silently leave a default in place.
//!
//! Every setting is one line of a table made with the `settings!` macro (or,
//! for a table of the file that holds only plain values such as `[limits]`,
//! `section!`): its key in the file, the variable that overrides it, its
//! default (written as the variable would be) and the check every value must
//! pass. The macro makes the file's serde struct and a `Setting` per line;
//! loading code asks the setting for its value, so that settings whose
//! defaults derive from others (`database_url`, `public_url`, `mail.from`)
//! or that only count together (`tls_cert` and `tls_key`, the SMTP relay,
//! the SMS provider) keep their rules in code, in the order they are checked.
//! A new limit is one line of [`Limits`]; a new top-level key is one line of
//! the top-level table, a field of [`Config`] and the line that reads it in
//! [`Config::load`] (and one in [`Config::redacted`]).
//! `docs/OPERATIONS.md` lists every setting; a unit test holds it to the
//! tables.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::auth::sms::{FileSms, SmsSettings};
use crate::error::StartError;
use crate::mail::settings::{FileMail, MailSettings};

/// One setting: where it is read from and what it must satisfy.
#[derive(Debug)]
pub(crate) struct Setting<T> {
    /// The key in the file, with its table: `limits.max_json_body`.
    pub(crate) key: &'static str,
    /// The environment variable that overrides the file.
    pub(crate) var: &'static str,
    /// The default, written as the variable would be; `None`: unset, or
    /// derived from other settings by the code that reads it.
    pub(crate) default: Option<&'static str>,
    /// Reads the variable's text (and the default); an error is the whole
    /// message.
    pub(crate) parse: fn(&str, &str) -> Result<T, String>,
    /// What every value must pass, given the key (for the message).
    pub(crate) check: fn(&str, &T) -> Result<(), String>,
}

impl<T> Setting<T> {
    /// The variable if it is set (even empty), else the file, else the
    /// default; not checked.
    pub(crate) fn read(
        &self,
        env: &impl Fn(&str) -> Option<String>,
        file: Option<T>,
    ) -> Result<Option<T>, StartError> {
        let text = env(self.var);
        if text.is_none() && file.is_some() {
            return Ok(file);
        }
        text.as_deref()
            .or(self.default)
            .map(|text| (self.parse)(self.var, text))
            .transpose()
            .map_err(StartError::Config)
    }

    /// Whether `value` passes the check.
    pub(crate) fn check(&self, value: &T) -> Result<(), StartError> {
        (self.check)(self.key, value).map_err(StartError::Config)
    }

    /// [`Self::read`], checked.
    pub(crate) fn get(
        &self,
        env: &impl Fn(&str) -> Option<String>,
        file: Option<T>,
    ) -> Result<Option<T>, StartError> {
        let value = self.read(env, file)?;
        if let Some(value) = &value {
            self.check(value)?;
        }
        Ok(value)
    }

    /// [`Self::get`] of a setting with a default.
    pub(crate) fn value(
        &self,
        env: &impl Fn(&str) -> Option<String>,
        file: Option<T>,
    ) -> Result<T, StartError> {
        let value = self.get(env, file)?;
        self.defaulted(value)
    }

    /// `value`, which only a setting without a default can lack.
    fn defaulted(&self, value: Option<T>) -> Result<T, StartError> {
        value.ok_or_else(|| StartError::Config(format!("{} has no default", self.key)))
    }
}

/// How a setting's type is read from a variable: [`verbatim`] for text and
/// paths, [`trimmed`] for numbers, booleans and keywords.
pub(crate) trait FromEnv: Sized {
    /// `text` as variable `var` gave it; an error is the whole message.
    fn from_env(var: &str, text: &str) -> Result<Self, String>;
}

/// Text as it is, spaces included.
pub(crate) fn verbatim<T: for<'a> From<&'a str>>(_var: &str, text: &str) -> Result<T, String> {
    Ok(T::from(text))
}

/// Text without surrounding spaces, parsed.
pub(crate) fn trimmed<T: std::str::FromStr>(var: &str, text: &str) -> Result<T, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{var}: cannot parse {text:?}"))
}

macro_rules! from_env {
    ($how:ident: $($t:ty),*) => {
        $(impl FromEnv for $t {
            fn from_env(var: &str, text: &str) -> Result<Self, String> {
                $how(var, text)
            }
        })*
    };
}
from_env!(verbatim: String, PathBuf);
from_env!(trimmed: bool, u16, u32, u64, usize);

/// The check of a setting that has none.
pub(crate) fn no_check<T>(_key: &str, _value: &T) -> Result<(), String> {
    Ok(())
}

/// Declares a table of settings, one line each:
/// `key: Type = "KLUIS_VAR"` followed by, as needed, `, default "text"`,
/// `, parse function` (else the type's [`FromEnv`]) and `, check function`.
/// Makes the file's struct (`Option` of each type, unknown keys refused,
/// then any nested `tables`), a struct of [`Setting`]s and a `static` of it.
macro_rules! settings {
    (@default) => { None };
    (@default $default:literal) => { Some($default) };
    (@parse $ty:ty) => { <$ty as $crate::config::FromEnv>::from_env };
    (@parse $ty:ty, $parse:expr) => { $parse };
    (@check) => { $crate::config::no_check };
    (@check $check:expr) => { |key, value| $check(key, value) };
    (@key [$($part:literal),* $(,)?] $key:ident) => { concat!($($part,)* stringify!($key)) };
    (
        @table $prefix:tt
        $(#[$meta:meta])*
        $vis:vis struct $file:ident, settings $name:ident: $settings:ident {
            $(
                $key:ident: $ty:ty = $var:literal
                $(, default $default:literal)? $(, parse $parse:expr)? $(, check $check:expr)?;
            )*
        }
        $(tables { $($nested:ident: $nested_ty:ty),* $(,)? })?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Default, ::serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        $vis struct $file {
            $($key: Option<$ty>,)*
            $($(#[serde(default)] $nested: $nested_ty,)*)?
        }

        /// One [`Setting`](crate::config::Setting) per key of the file's table.
        #[derive(Debug)]
        $vis struct $settings {
            $(pub(crate) $key: $crate::config::Setting<$ty>,)*
        }

        /// The settings of the table.
        $vis static $name: $settings = $settings {
            $($key: $crate::config::Setting {
                key: $crate::config::settings!(@key $prefix $key),
                var: $var,
                default: $crate::config::settings!(@default $($default)?),
                parse: $crate::config::settings!(@parse $ty $(, $parse)?),
                check: $crate::config::settings!(@check $($check)?),
            },)*
        };

        #[cfg(test)]
        impl $settings {
            /// Every setting, for the tests of the tables.
            pub(crate) fn rows(&self) -> Vec<$crate::config::Row> {
                vec![$(self.$key.row(),)*]
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $file:ident $(in $table:literal)?, settings $name:ident: $settings:ident
        $($rest:tt)*
    ) => {
        $crate::config::settings! {
            @table [$($table, ".")?]
            $(#[$meta])*
            $vis struct $file, settings $name: $settings
            $($rest)*
        }
    };
}
pub(crate) use settings;

/// A setting as the tests of the tables see it, whatever its type.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) key: &'static str,
    pub(crate) var: &'static str,
    pub(crate) default: Option<&'static str>,
    /// Whether the default (if any) parses and passes the check.
    pub(crate) default_is_valid: Result<(), String>,
}

#[cfg(test)]
impl<T> Setting<T> {
    pub(crate) fn row(&self) -> Row {
        Row {
            key: self.key,
            var: self.var,
            default: self.default,
            default_is_valid: self.default.map_or(Ok(()), |text| {
                (self.check)(self.key, &(self.parse)(self.var, text)?)
            }),
        }
    }
}

/// How a value in the file's unit (minutes, MiB) becomes the one the server
/// uses, and back for `admin show-config`.
#[derive(Debug)]
struct Unit<F, T> {
    to: fn(F) -> T,
    back: fn(&T) -> F,
}

/// A count as it is.
const COUNT: Unit<u32, u32> = Unit {
    to: |n| n,
    back: |n| *n,
};
/// Bytes as they are.
const BYTES: Unit<usize, usize> = Unit {
    to: |n| n,
    back: |n| *n,
};
/// MiB, kept as bytes.
const MIB: Unit<u64, u64> = Unit {
    to: |m| m.saturating_mul(1024 * 1024),
    back: |b| b / (1024 * 1024),
};
/// Seconds.
const SECONDS: Unit<u64, Duration> = Unit {
    to: Duration::from_secs,
    back: Duration::as_secs,
};
/// Minutes.
const MINUTES: Unit<u64, Duration> = Unit {
    to: |m| Duration::from_secs(m.saturating_mul(60)),
    back: |d| d.as_secs() / 60,
};
/// Hours.
const HOURS: Unit<u64, Duration> = Unit {
    to: |h| Duration::from_secs(h.saturating_mul(3600)),
    back: |d| d.as_secs() / 3600,
};

/// Declares a table of the file that holds only plain values (no derived
/// defaults, no settings that depend on each other), one line each:
/// `field: Type = UNIT(key: FileType), "KLUIS_VAR", "default"` and, as
/// needed, `, check function`. Makes the struct of the values, the file's
/// table and its settings ([`settings!`]), reading (every value, then every
/// check) and the lines of `admin show-config`.
macro_rules! section {
    (
        $(#[$meta:meta])*
        pub struct $name:ident in $table:literal, file $file:ident, settings $settings_name:ident: $settings:ident {
            $(
                $(#[$field_meta:meta])*
                $field:ident: $field_ty:ty = $unit:ident($key:ident: $ty:ty), $var:literal, $default:literal
                $(, check $check:expr)?;
            )*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $($(#[$field_meta])* pub $field: $field_ty,)*
        }

        settings! {
            #[doc = concat!("The `[", $table, "]` table of the file.")]
            struct $file in $table, settings $settings_name: $settings {
                $($key: $ty = $var, default $default $(, check $check)?;)*
            }
        }

        impl $name {
            /// Reads the values: `KLUIS_*` variables win over the file.
            fn load(
                env: &impl Fn(&str) -> Option<String>,
                file: $file,
            ) -> Result<Self, StartError> {
                $(let $key = $settings_name.$key.read(env, file.$key)?;
                let $key = $settings_name.$key.defaulted($key)?;)*
                $($settings_name.$key.check(&$key)?;)*
                Ok(Self { $($field: ($unit.to)($key),)* })
            }

            /// As `admin show-config` prints it.
            pub(crate) fn redacted(&self) -> String {
                let mut out = concat!("[", $table, "]\n").to_owned();
                $(out.push_str(&format!(
                    concat!(stringify!($key), " = {}\n"),
                    ($unit.back)(&self.$field)
                ));)*
                out
            }
        }
    };
}

/// Rate limits must let at least one request through.
fn at_least_one(key: &str, n: &u32) -> Result<(), String> {
    if *n == 0 {
        return Err(format!("{key} must be at least 1"));
    }
    Ok(())
}

/// A window of zero seconds would make every action that needs a fresh
/// password impossible.
fn at_least_one_second(key: &str, n: &u64) -> Result<(), String> {
    if *n == 0 {
        return Err(format!("{key} must be at least 1"));
    }
    Ok(())
}

section! {
    /// Rate limits (requests per period, as a burst that refills evenly) and
    /// lifetimes of e-mailed links.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Limits in "limits", file FileLimits, settings LIMITS: LimitSettings {
        /// Login attempts per client address per minute.
        login_per_address_per_minute: u32 = COUNT(login_per_address_per_minute: u32), "KLUIS_LOGIN_PER_ADDRESS_PER_MINUTE", "30", check at_least_one;
        /// Login attempts per account (e-mail) per minute.
        login_per_account_per_minute: u32 = COUNT(login_per_account_per_minute: u32), "KLUIS_LOGIN_PER_ACCOUNT_PER_MINUTE", "10", check at_least_one;
        /// Password-reset requests per client address per hour.
        reset_per_address_per_hour: u32 = COUNT(reset_per_address_per_hour: u32), "KLUIS_RESET_PER_ADDRESS_PER_HOUR", "10", check at_least_one;
        /// Password-reset requests per e-mail per hour.
        reset_per_account_per_hour: u32 = COUNT(reset_per_account_per_hour: u32), "KLUIS_RESET_PER_ACCOUNT_PER_HOUR", "3", check at_least_one;
        /// Invitations an account may send per hour.
        invitations_per_account_per_hour: u32 = COUNT(invitations_per_account_per_hour: u32), "KLUIS_INVITATIONS_PER_ACCOUNT_PER_HOUR", "50", check at_least_one;
        /// Uses of link tokens (setup, invitation, reset, verification) per
        /// client address per minute.
        tokens_per_address_per_minute: u32 = COUNT(tokens_per_address_per_minute: u32), "KLUIS_TOKENS_PER_ADDRESS_PER_MINUTE", "20", check at_least_one;
        /// SMS codes sent per account per hour.
        sms_per_account_per_hour: u32 = COUNT(sms_per_account_per_hour: u32), "KLUIS_SMS_PER_ACCOUNT_PER_HOUR", "5", check at_least_one;
        /// Largest JSON request body, bytes.
        max_json_body: usize = BYTES(max_json_body: usize), "KLUIS_MAX_JSON_BODY", "65536";
        /// Largest attachment stream, bytes (header and tags included); by
        /// default 1 GiB of file plus STREAM's 16 bytes per 64 KiB and the
        /// header.
        max_attachment_bytes: u64 = MIB(max_attachment_mib: u64), "KLUIS_MAX_ATTACHMENT_MIB", "1025";
        /// Longest a request may take.
        request_timeout: Duration = SECONDS(request_timeout_seconds: u64), "KLUIS_REQUEST_TIMEOUT_SECONDS", "30";
        /// How long an invitation link stays valid (7 days by default).
        invitation_lifetime: Duration = HOURS(invitation_lifetime_hours: u64), "KLUIS_INVITATION_LIFETIME_HOURS", "168";
        /// How long the first-start setup link stays valid.
        setup_link_lifetime: Duration = HOURS(setup_link_lifetime_hours: u64), "KLUIS_SETUP_LINK_LIFETIME_HOURS", "24";
        /// How long a proof of the password (a login, or `POST
        /// /api/reauth`) lets the session publish a new identity, change
        /// the second factor or the address.
        reauthentication_window: Duration = SECONDS(reauthentication_window_seconds: u64), "KLUIS_REAUTHENTICATION_WINDOW_SECONDS", "300", check at_least_one_second;
        /// A client's erasure asked for this soon after a password reset,
        /// an address change or a new identity waits this long (7 days by
        /// default), and the coaches are told.
        deletion_cooling_off: Duration = HOURS(deletion_cooling_off_hours: u64), "KLUIS_DELETION_COOLING_OFF_HOURS", "168";
    }
}

/// The server's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `sqlite://…` (default, in the data directory) or `postgres://…`.
    pub database_url: String,
    /// Address to listen on.
    pub bind: String,
    /// The URL users reach Kluis at (used in links and as the allowed
    /// `Origin` of cookie requests).
    pub public_url: String,
    /// Whether `public_url` was derived from `bind` rather than set; then
    /// `serve` rewrites it to the address actually bound (port 0 becomes
    /// the real port).
    pub public_url_is_default: bool,
    /// Where the SQLite database, the development outbox and other local
    /// state live.
    pub data_dir: PathBuf,
    /// PEM certificate chain; with `tls_key`, the server speaks TLS itself.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Sessions end after this long without a request.
    pub session_idle: Duration,
    /// Sessions end this long after login, whatever the activity.
    pub session_lifetime: Duration,
    /// Request limits.
    pub limits: Limits,
    /// Take the client address for rate limits from the last
    /// `X-Forwarded-For` entry, the one our reverse proxy appended (only
    /// behind a proxy that sets it).
    pub trust_forwarded_for: bool,
    /// `text` (default) or `json` log lines.
    pub log_format: LogFormat,
    /// A directory of static files (the web client) served for paths
    /// outside `/api`; none by default.
    pub web_dir: Option<PathBuf>,
    /// Sender, SMTP relay and activity e-mail interval.
    pub mail: MailSettings,
    /// Where users send privacy questions and requests (shown in the
    /// privacy notice).
    pub privacy_contact: String,
    /// The SMS gateway.
    pub sms: SmsSettings,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable.
    Text,
    /// One JSON object per line.
    Json,
}

impl FromEnv for LogFormat {
    fn from_env(var: &str, text: &str) -> Result<Self, String> {
        match text {
            "json" => Ok(Self::Json),
            "text" => Ok(Self::Text),
            other => Err(format!("{var}: {other:?} is neither text nor json")),
        }
    }
}

/// A configured password (SMTP relay, SMS provider) that never appears in
/// `Debug` output, logs or `admin show-config`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SecretSetting(pub String);

impl std::fmt::Debug for SecretSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl FromEnv for SecretSetting {
    fn from_env(_var: &str, text: &str) -> Result<Self, String> {
        Ok(Self(text.to_owned()))
    }
}

/// A password-reset link is valid for one hour (fixed: the issue and the
/// privacy statement promise it).
pub const RESET_LINK_LIFETIME: Duration = Duration::from_secs(3600);
/// An e-mail verification link is valid for two days.
pub const VERIFY_LINK_LIFETIME: Duration = Duration::from_secs(48 * 3600);

/// The databases the server speaks.
fn database_url(_key: &str, url: &str) -> Result<(), String> {
    if ["sqlite:", "postgres://", "postgresql://"]
        .iter()
        .any(|scheme| url.starts_with(scheme))
    {
        return Ok(());
    }
    Err("KLUIS_DATABASE_URL must start with sqlite: or postgres://".to_owned())
}

/// Links are made from it.
fn public_url(_key: &str, url: &str) -> Result<(), String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(());
    }
    Err("KLUIS_PUBLIC_URL must start with http:// or https://".to_owned())
}

settings! {
    /// The configuration file: its top-level keys, then its tables.
    struct FileConfig, settings TOP: TopSettings {
        database_url: String = "KLUIS_DATABASE_URL", check database_url;
        bind: String = "KLUIS_BIND", default "127.0.0.1:8080";
        public_url: String = "KLUIS_PUBLIC_URL", check public_url;
        data_dir: PathBuf = "KLUIS_DATA_DIR", default "kluis-data";
        tls_cert: PathBuf = "KLUIS_TLS_CERT";
        tls_key: PathBuf = "KLUIS_TLS_KEY";
        session_idle_minutes: u64 = "KLUIS_SESSION_IDLE_MINUTES", default "60";
        session_lifetime_hours: u64 = "KLUIS_SESSION_LIFETIME_HOURS", default "12";
        trust_forwarded_for: bool = "KLUIS_TRUST_FORWARDED_FOR", default "false";
        log_format: LogFormat = "KLUIS_LOG_FORMAT", default "text";
        web_dir: PathBuf = "KLUIS_WEB_DIR";
        privacy_contact: String = "KLUIS_PRIVACY_CONTACT";
    }
    tables { limits: FileLimits, mail: FileMail, sms: FileSms }
}

impl FileConfig {
    /// The file at `path`, if any.
    fn read(path: Option<&Path>) -> Result<Self, StartError> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let failed =
            |e: &dyn std::fmt::Display| StartError::Config(format!("{}: {e}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| failed(&e))?;
        toml::from_str(&text).map_err(|e| failed(&e))
    }
}

impl Config {
    /// Loads the configuration. `file` is read if given; `env` supplies
    /// `KLUIS_*` overrides (a function so that tests need not touch the
    /// process environment).
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, StartError> {
        let f = FileConfig::read(file)?;
        let (t, env) = (&TOP, &env);
        let data_dir = t.data_dir.value(env, f.data_dir)?;
        let web_dir = t.web_dir.get(env, f.web_dir)?;
        let bind = t.bind.value(env, f.bind)?;
        let tls_cert = t.tls_cert.get(env, f.tls_cert)?;
        let tls_key = t.tls_key.get(env, f.tls_key)?;
        if tls_cert.is_some() != tls_key.is_some() {
            return Err(StartError::Config(
                "tls_cert and tls_key must be set together".to_owned(),
            ));
        }
        let scheme = if tls_cert.is_some() { "https" } else { "http" };
        let database_url = t
            .database_url
            .read(env, f.database_url)?
            .unwrap_or_else(|| {
                format!("sqlite://{}?mode=rwc", data_dir.join("kluis.db").display())
            });
        t.database_url.check(&database_url)?;
        let explicit_public_url = t.public_url.read(env, f.public_url)?;
        let public_url_is_default = explicit_public_url.is_none();
        let public_url = explicit_public_url
            .unwrap_or_else(|| format!("{scheme}://{bind}"))
            .trim_end_matches('/')
            .to_owned();
        t.public_url.check(&public_url)?;
        let session_idle = (MINUTES.to)(t.session_idle_minutes.value(env, f.session_idle_minutes)?);
        let session_lifetime = (HOURS.to)(
            t.session_lifetime_hours
                .value(env, f.session_lifetime_hours)?,
        );
        let trust_forwarded_for = t.trust_forwarded_for.value(env, f.trust_forwarded_for)?;
        let log_format = t.log_format.value(env, f.log_format)?;
        let limits = Limits::load(env, f.limits)?;
        let mail = MailSettings::load(env, f.mail, &public_url)?;
        let privacy_contact = t
            .privacy_contact
            .read(env, f.privacy_contact)?
            .unwrap_or_else(|| {
                let domain = mail.from.rsplit('@').next().unwrap_or_default();
                format!("privacy@{}", domain.trim_end_matches('>'))
            });
        let sms = SmsSettings::load(env, f.sms)?;
        Ok(Self {
            mail,
            sms,
            privacy_contact,
            database_url,
            bind,
            public_url,
            public_url_is_default,
            data_dir,
            tls_cert,
            tls_key,
            session_idle,
            session_lifetime,
            limits,
            trust_forwarded_for,
            log_format,
            web_dir,
        })
    }

    /// The default public URL for the address actually bound.
    pub fn with_bound_address(mut self, address: std::net::SocketAddr) -> Self {
        if self.public_url_is_default {
            let scheme = if self.tls() { "https" } else { "http" };
            self.public_url = format!("{scheme}://{address}");
        }
        self
    }

    /// Whether the server terminates TLS itself.
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some()
    }

    /// The configuration as an operator reads it, with the database password
    /// hidden.
    pub fn redacted(&self) -> String {
        let db = match self.database_url.split_once('@') {
            Some((creds, host)) if creds.contains("://") && creds.contains(':') => {
                let scheme_user = creds.rsplit_once(':').map_or(creds, |(a, _)| a);
                format!("{scheme_user}:[redacted]@{host}")
            }
            _ => self.database_url.clone(),
        };
        let path = |p: &Option<PathBuf>| {
            p.as_ref()
                .map_or_else(|| "(none)".to_owned(), |p| p.display().to_string())
        };
        format!(
            "database_url = {db:?}\nbind = {:?}\npublic_url = {:?}\ndata_dir = {:?}\n\
             tls_cert = {:?}\ntls_key = {:?}\nsession_idle_minutes = {}\n\
             session_lifetime_hours = {}\ntrust_forwarded_for = {}\nlog_format = {:?}\nweb_dir = {:?}\n\
             privacy_contact = {:?}\n",
            self.bind,
            self.public_url,
            self.data_dir.display().to_string(),
            path(&self.tls_cert),
            path(&self.tls_key),
            (MINUTES.back)(&self.session_idle),
            (HOURS.back)(&self.session_lifetime),
            self.trust_forwarded_for,
            self.log_format,
            path(&self.web_dir),
            self.privacy_contact,
        ) + &self.limits.redacted()
            + &self.mail.redacted()
            + &self.sms.redacted()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    #[test]
    fn env_overrides_file_overrides_defaults() {
        let dir = std::env::temp_dir().join(format!("kluis-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("kluis.toml");
        std::fs::write(
            &file,
            "bind = \"0.0.0.0:9000\"\ndata_dir = \"/var/lib/kluis\"\nsession_idle_minutes = 5\n\
             [limits]\nlogin_per_account_per_minute = 3\n",
        )
        .unwrap();
        let c = Config::load(Some(&file), |k| match k {
            "KLUIS_BIND" => Some("127.0.0.1:7000".to_owned()),
            "KLUIS_LOGIN_PER_ACCOUNT_PER_MINUTE" => Some("4".to_owned()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.bind, "127.0.0.1:7000");
        assert_eq!(c.public_url, "http://127.0.0.1:7000");
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/kluis"));
        assert_eq!(c.database_url, "sqlite:///var/lib/kluis/kluis.db?mode=rwc");
        assert_eq!(c.session_idle, Duration::from_secs(300));
        assert_eq!(c.limits.login_per_account_per_minute, 4);
        assert_eq!(c.limits.reset_per_account_per_hour, 3);

        std::fs::write(&file, "bnd = \"typo\"\n").unwrap();
        assert!(matches!(
            Config::load(Some(&file), |_| None),
            Err(StartError::Config(_))
        ));
        std::fs::write(&file, "[limits]\nlogin_per_minute = 3\n").unwrap();
        assert!(matches!(
            Config::load(Some(&file), |_| None),
            Err(StartError::Config(_))
        ));
        assert!(matches!(
            Config::load(None, |k| (k == "KLUIS_DATABASE_URL")
                .then(|| "mysql://x".to_owned())),
            Err(StartError::Config(_))
        ));
        assert!(matches!(
            Config::load(None, |k| (k == "KLUIS_SESSION_IDLE_MINUTES")
                .then(|| "soon".to_owned())),
            Err(StartError::Config(_))
        ));
        assert!(matches!(
            Config::load(None, |k| (k == "KLUIS_TLS_CERT")
                .then(|| "/c.pem".to_owned())),
            Err(StartError::Config(_))
        ));
        assert!(matches!(
            Config::load(None, |k| (k == "KLUIS_LOGIN_PER_ADDRESS_PER_MINUTE")
                .then(|| "0".to_owned())),
            Err(StartError::Config(_))
        ));
    }

    /// Every setting of every table.
    fn table() -> Vec<Row> {
        [
            TOP.rows(),
            LIMITS.rows(),
            crate::mail::settings::MAIL.rows(),
            crate::auth::sms::SMS.rows(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    #[test]
    fn every_setting_has_its_own_variable_and_key_and_a_valid_default() {
        let table = table();
        let vars: BTreeSet<_> = table.iter().map(|s| s.var).collect();
        let keys: BTreeSet<_> = table.iter().map(|s| s.key).collect();
        assert_eq!((vars.len(), keys.len()), (table.len(), table.len()));
        for s in &table {
            assert!(s.var.starts_with("KLUIS_"), "{}", s.var);
            assert_eq!(s.default_is_valid, Ok(()), "default of {}", s.key);
        }
        let defaults = Config::load(None, |_| None).unwrap();
        assert_eq!(defaults.limits.max_attachment_bytes, 1025 * 1024 * 1024);
        assert_eq!(defaults.limits.invitation_lifetime.as_secs(), 7 * 24 * 3600);
        assert_eq!(defaults.session_idle.as_secs(), 3600);
    }

    /// The rows of the settings tables in `docs/OPERATIONS.md`: variable,
    /// then key (with its table) and the default as written.
    fn documented() -> BTreeMap<String, (String, String)> {
        let mut rows = BTreeMap::new();
        let mut table = None;
        for line in include_str!("../../docs/OPERATIONS.md").lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            match cells.as_slice() {
                ["", header, ..] if header.starts_with("TOML key") => {
                    table = Some(match header.split_once("(`[") {
                        Some((_, rest)) => format!("{}.", rest.trim_end_matches("]`)")),
                        None => String::new(),
                    });
                }
                ["", key, var, default, ..] if key.starts_with('`') => {
                    if let Some(table) = &table {
                        let key = format!("{table}{}", key.trim_matches('`'));
                        let var = var.trim_matches('`').to_owned();
                        rows.insert(var, (key, (*default).to_owned()));
                    }
                }
                [_] => table = None,
                _ => {}
            }
        }
        rows
    }

    #[test]
    fn the_operations_guide_lists_every_setting_with_its_default() {
        let documented = documented();
        let table = table();
        let in_guide: BTreeMap<_, _> = documented
            .iter()
            .map(|(var, (key, _))| (var.as_str(), key.as_str()))
            .collect();
        let in_table: BTreeMap<_, _> = table.iter().map(|s| (s.var, s.key)).collect();
        assert_eq!(in_guide, in_table);
        for s in &table {
            if let Some(default) = s.default {
                let shown = &documented[s.var].1;
                assert!(
                    shown.starts_with(&format!("`{default}`")),
                    "{}: {shown}",
                    s.var
                );
            }
        }
    }

    #[test]
    fn redaction_hides_the_database_password() {
        let c = Config::load(None, |k| {
            (k == "KLUIS_DATABASE_URL").then(|| "postgres://kluis:s3cret@db:5432/kluis".to_owned())
        })
        .unwrap();
        let shown = c.redacted();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("postgres://kluis:[redacted]@db:5432/kluis"));
    }
}
