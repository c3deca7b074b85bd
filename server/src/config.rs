//! Configuration: defaults, then a TOML file, then `KLUIS_*` environment
//! variables (the last one wins). Unknown keys in the file are refused, so a
//! typo cannot silently leave a default in place.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::auth::sms::{FileSms, SmsSettings};
use crate::error::StartError;
use crate::mail::settings::{FileMail, MailSettings};

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

/// Rate limits (requests per period, as a burst that refills evenly) and
/// lifetimes of e-mailed links.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Login attempts per client address per minute.
    pub login_per_address_per_minute: u32,
    /// Login attempts per account (e-mail) per minute.
    pub login_per_account_per_minute: u32,
    /// Password-reset requests per client address per hour.
    pub reset_per_address_per_hour: u32,
    /// Password-reset requests per e-mail per hour.
    pub reset_per_account_per_hour: u32,
    /// Invitations an account may send per hour.
    pub invitations_per_account_per_hour: u32,
    /// Uses of link tokens (setup, invitation, reset, verification) per
    /// client address per minute.
    pub tokens_per_address_per_minute: u32,
    /// SMS codes sent per account per hour.
    pub sms_per_account_per_hour: u32,
    /// Largest JSON request body, bytes.
    pub max_json_body: usize,
    /// Largest attachment stream, bytes (header and tags included).
    pub max_attachment_bytes: u64,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// How long an invitation link stays valid.
    pub invitation_lifetime: Duration,
    /// How long the first-start setup link stays valid.
    pub setup_link_lifetime: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            login_per_address_per_minute: 30,
            login_per_account_per_minute: 10,
            reset_per_address_per_hour: 10,
            reset_per_account_per_hour: 3,
            invitations_per_account_per_hour: 50,
            tokens_per_address_per_minute: 20,
            sms_per_account_per_hour: 5,
            max_json_body: 64 * 1024,
            // 1 GiB of file plus STREAM's 16 bytes per 64 KiB and the header.
            max_attachment_bytes: 1025 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            invitation_lifetime: Duration::from_secs(7 * 24 * 3600),
            setup_link_lifetime: Duration::from_secs(24 * 3600),
        }
    }
}

/// A configured password (SMTP relay, SMS provider) that never appears in
/// `Debug` output, logs or `admin show-config`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretSetting(pub String);

impl std::fmt::Debug for SecretSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A password-reset link is valid for one hour (fixed: the issue and the
/// privacy statement promise it).
pub const RESET_LINK_LIFETIME: Duration = Duration::from_secs(3600);
/// An e-mail verification link is valid for two days.
pub const VERIFY_LINK_LIFETIME: Duration = Duration::from_secs(48 * 3600);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    bind: Option<String>,
    public_url: Option<String>,
    data_dir: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    session_idle_minutes: Option<u64>,
    session_lifetime_hours: Option<u64>,
    trust_forwarded_for: Option<bool>,
    log_format: Option<LogFormat>,
    web_dir: Option<PathBuf>,
    privacy_contact: Option<String>,
    #[serde(default)]
    limits: FileLimits,
    #[serde(default)]
    mail: FileMail,
    #[serde(default)]
    sms: FileSms,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    login_per_address_per_minute: Option<u32>,
    login_per_account_per_minute: Option<u32>,
    reset_per_address_per_hour: Option<u32>,
    reset_per_account_per_hour: Option<u32>,
    invitations_per_account_per_hour: Option<u32>,
    tokens_per_address_per_minute: Option<u32>,
    sms_per_account_per_hour: Option<u32>,
    max_json_body: Option<usize>,
    max_attachment_mib: Option<u64>,
    request_timeout_seconds: Option<u64>,
    invitation_lifetime_hours: Option<u64>,
    setup_link_lifetime_hours: Option<u64>,
}

/// Reads one setting: the environment wins over the file.
pub(crate) fn pick<T: std::str::FromStr>(
    env: &impl Fn(&str) -> Option<String>,
    key: &str,
    file: Option<T>,
) -> Result<Option<T>, StartError> {
    match env(key) {
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| StartError::Config(format!("{key}: cannot parse {v:?}"))),
        None => Ok(file),
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
        let f = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| StartError::Config(format!("{}: {e}", path.display())))?;
                toml::from_str::<FileConfig>(&text)
                    .map_err(|e| StartError::Config(format!("{}: {e}", path.display())))?
            }
            None => FileConfig::default(),
        };
        let data_dir = env("KLUIS_DATA_DIR")
            .map(PathBuf::from)
            .or(f.data_dir)
            .unwrap_or_else(|| PathBuf::from("kluis-data"));
        let web_dir = env("KLUIS_WEB_DIR").map(PathBuf::from).or(f.web_dir);
        let bind = env("KLUIS_BIND")
            .or(f.bind)
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let database_url = env("KLUIS_DATABASE_URL")
            .or(f.database_url)
            .unwrap_or_else(|| {
                format!("sqlite://{}?mode=rwc", data_dir.join("kluis.db").display())
            });
        let tls_cert = env("KLUIS_TLS_CERT").map(PathBuf::from).or(f.tls_cert);
        let tls_key = env("KLUIS_TLS_KEY").map(PathBuf::from).or(f.tls_key);
        if tls_cert.is_some() != tls_key.is_some() {
            return Err(StartError::Config(
                "tls_cert and tls_key must be set together".to_owned(),
            ));
        }
        let scheme = if tls_cert.is_some() { "https" } else { "http" };
        let explicit_public_url = env("KLUIS_PUBLIC_URL").or(f.public_url);
        let public_url_is_default = explicit_public_url.is_none();
        let public_url = explicit_public_url
            .unwrap_or_else(|| format!("{scheme}://{bind}"))
            .trim_end_matches('/')
            .to_owned();
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(StartError::Config(
                "KLUIS_DATABASE_URL must start with sqlite: or postgres://".to_owned(),
            ));
        }
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(StartError::Config(
                "KLUIS_PUBLIC_URL must start with http:// or https://".to_owned(),
            ));
        }
        let minutes = |m: u64| Duration::from_secs(m.saturating_mul(60));
        let hours = |h: u64| Duration::from_secs(h.saturating_mul(3600));
        let session_idle = minutes(
            pick(&env, "KLUIS_SESSION_IDLE_MINUTES", f.session_idle_minutes)?.unwrap_or(60),
        );
        let session_lifetime = hours(
            pick(
                &env,
                "KLUIS_SESSION_LIFETIME_HOURS",
                f.session_lifetime_hours,
            )?
            .unwrap_or(12),
        );
        let trust_forwarded_for =
            pick(&env, "KLUIS_TRUST_FORWARDED_FOR", f.trust_forwarded_for)?.unwrap_or(false);
        let log_format = match env("KLUIS_LOG_FORMAT").as_deref() {
            Some("json") => LogFormat::Json,
            Some("text") => LogFormat::Text,
            Some(other) => {
                return Err(StartError::Config(format!(
                    "KLUIS_LOG_FORMAT: {other:?} is neither text nor json"
                )))
            }
            None => f.log_format.unwrap_or(LogFormat::Text),
        };
        let d = Limits::default();
        let l = f.limits;
        let limits = Limits {
            login_per_address_per_minute: pick(
                &env,
                "KLUIS_LOGIN_PER_ADDRESS_PER_MINUTE",
                l.login_per_address_per_minute,
            )?
            .unwrap_or(d.login_per_address_per_minute),
            login_per_account_per_minute: pick(
                &env,
                "KLUIS_LOGIN_PER_ACCOUNT_PER_MINUTE",
                l.login_per_account_per_minute,
            )?
            .unwrap_or(d.login_per_account_per_minute),
            reset_per_address_per_hour: pick(
                &env,
                "KLUIS_RESET_PER_ADDRESS_PER_HOUR",
                l.reset_per_address_per_hour,
            )?
            .unwrap_or(d.reset_per_address_per_hour),
            reset_per_account_per_hour: pick(
                &env,
                "KLUIS_RESET_PER_ACCOUNT_PER_HOUR",
                l.reset_per_account_per_hour,
            )?
            .unwrap_or(d.reset_per_account_per_hour),
            invitations_per_account_per_hour: pick(
                &env,
                "KLUIS_INVITATIONS_PER_ACCOUNT_PER_HOUR",
                l.invitations_per_account_per_hour,
            )?
            .unwrap_or(d.invitations_per_account_per_hour),
            tokens_per_address_per_minute: pick(
                &env,
                "KLUIS_TOKENS_PER_ADDRESS_PER_MINUTE",
                l.tokens_per_address_per_minute,
            )?
            .unwrap_or(d.tokens_per_address_per_minute),
            sms_per_account_per_hour: pick(
                &env,
                "KLUIS_SMS_PER_ACCOUNT_PER_HOUR",
                l.sms_per_account_per_hour,
            )?
            .unwrap_or(d.sms_per_account_per_hour),
            max_json_body: pick(&env, "KLUIS_MAX_JSON_BODY", l.max_json_body)?
                .unwrap_or(d.max_json_body),
            max_attachment_bytes: pick(&env, "KLUIS_MAX_ATTACHMENT_MIB", l.max_attachment_mib)?
                .map_or(d.max_attachment_bytes, |m| m.saturating_mul(1024 * 1024)),
            request_timeout: pick(
                &env,
                "KLUIS_REQUEST_TIMEOUT_SECONDS",
                l.request_timeout_seconds,
            )?
            .map_or(d.request_timeout, Duration::from_secs),
            invitation_lifetime: pick(
                &env,
                "KLUIS_INVITATION_LIFETIME_HOURS",
                l.invitation_lifetime_hours,
            )?
            .map_or(d.invitation_lifetime, hours),
            setup_link_lifetime: pick(
                &env,
                "KLUIS_SETUP_LINK_LIFETIME_HOURS",
                l.setup_link_lifetime_hours,
            )?
            .map_or(d.setup_link_lifetime, hours),
        };
        for (name, v) in [
            (
                "login_per_address_per_minute",
                limits.login_per_address_per_minute,
            ),
            (
                "login_per_account_per_minute",
                limits.login_per_account_per_minute,
            ),
            (
                "reset_per_address_per_hour",
                limits.reset_per_address_per_hour,
            ),
            (
                "reset_per_account_per_hour",
                limits.reset_per_account_per_hour,
            ),
            (
                "invitations_per_account_per_hour",
                limits.invitations_per_account_per_hour,
            ),
            (
                "tokens_per_address_per_minute",
                limits.tokens_per_address_per_minute,
            ),
            ("sms_per_account_per_hour", limits.sms_per_account_per_hour),
        ] {
            if v == 0 {
                return Err(StartError::Config(format!(
                    "limits.{name} must be at least 1"
                )));
            }
        }
        let mail = MailSettings::load(&env, f.mail, &public_url)?;
        let privacy_contact = env("KLUIS_PRIVACY_CONTACT")
            .or(f.privacy_contact)
            .unwrap_or_else(|| {
                let domain = mail.from.rsplit('@').next().unwrap_or_default();
                format!("privacy@{}", domain.trim_end_matches('>'))
            });
        let sms = SmsSettings::load(&env, f.sms)?;
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
        let l = &self.limits;
        format!(
            "database_url = {db:?}\nbind = {:?}\npublic_url = {:?}\ndata_dir = {:?}\n\
             tls_cert = {:?}\ntls_key = {:?}\nsession_idle_minutes = {}\n\
             session_lifetime_hours = {}\ntrust_forwarded_for = {}\nlog_format = {:?}\nweb_dir = {:?}\n\
             privacy_contact = {:?}\n\
             [limits]\nlogin_per_address_per_minute = {}\nlogin_per_account_per_minute = {}\n\
             reset_per_address_per_hour = {}\nreset_per_account_per_hour = {}\n\
             invitations_per_account_per_hour = {}\ntokens_per_address_per_minute = {}\n\
             sms_per_account_per_hour = {}\n\
             max_json_body = {}\nmax_attachment_mib = {}\nrequest_timeout_seconds = {}\ninvitation_lifetime_hours = {}\n\
             setup_link_lifetime_hours = {}\n",
            self.bind,
            self.public_url,
            self.data_dir.display().to_string(),
            path(&self.tls_cert),
            path(&self.tls_key),
            self.session_idle.as_secs() / 60,
            self.session_lifetime.as_secs() / 3600,
            self.trust_forwarded_for,
            self.log_format,
            path(&self.web_dir),
            self.privacy_contact,
            l.login_per_address_per_minute,
            l.login_per_account_per_minute,
            l.reset_per_address_per_hour,
            l.reset_per_account_per_hour,
            l.invitations_per_account_per_hour,
            l.tokens_per_address_per_minute,
            l.sms_per_account_per_hour,
            l.max_json_body,
            l.max_attachment_bytes / (1024 * 1024),
            l.request_timeout.as_secs(),
            l.invitation_lifetime.as_secs() / 3600,
            l.setup_link_lifetime.as_secs() / 3600,
        ) + &self.mail.redacted()
            + &self.sms.redacted()
    }
}

#[cfg(test)]
mod tests {
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
