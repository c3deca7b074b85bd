//! The `[mail]` part of the configuration: the sender, the SMTP relay (or,
//! without one, the development outbox directory) and how long activity is
//! gathered into one e-mail.

use std::time::Duration;

use serde::Deserialize;

use crate::config::{settings, trimmed, FromEnv, SecretSetting};
use crate::error::StartError;

/// How mail leaves the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailSettings {
    /// The `From:` address (`Name <addr>` or `addr`).
    pub from: String,
    /// The SMTP relay; `None` writes each message as a file in
    /// `<data_dir>/outbox/` (development and tests without SMTP).
    pub smtp: Option<SmtpSettings>,
    /// New messages and files are told at most once per this long per
    /// recipient.
    pub activity_interval: Duration,
}

/// An SMTP relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpSettings {
    /// Host name (also the TLS server name).
    pub host: String,
    /// Port; the default follows `tls` (25, 587, 465).
    pub port: u16,
    /// How the connection is protected.
    pub tls: SmtpTls,
    /// Login, if the relay wants one.
    pub username: Option<String>,
    /// Its password (only from `KLUIS_SMTP_PASSWORD` or the file; never
    /// shown).
    pub password: Option<SecretSetting>,
    /// Gives up on a connection or command after this long.
    pub timeout: Duration,
    /// A PEM file of extra root certificates to trust for the relay (an
    /// internal CA), besides the public web PKI.
    pub ca_file: Option<std::path::PathBuf>,
}

/// Transport security towards the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP (a relay on the same host or a test server only).
    None,
    /// STARTTLS, required (submission, port 587).
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
}

impl std::str::FromStr for SmtpTls {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "none" => Ok(Self::None),
            "starttls" => Ok(Self::Starttls),
            "tls" => Ok(Self::Tls),
            _ => Err(()),
        }
    }
}

impl FromEnv for SmtpTls {
    fn from_env(var: &str, text: &str) -> Result<Self, String> {
        trimmed(var, text)
    }
}

/// The sender must be an address.
fn mailbox(key: &str, from: &str) -> Result<(), String> {
    if from.parse::<lettre::message::Mailbox>().is_err() {
        return Err(format!("{key}: {from:?} is not an e-mail address"));
    }
    Ok(())
}

/// A delivery as a whole is cut off after 60 s.
fn smtp_timeout(key: &str, seconds: &u64) -> Result<(), String> {
    if !(1..=30).contains(seconds) {
        return Err(format!(
            "{key} must be 1 to 30 (a delivery as a whole may take 60 s)"
        ));
    }
    Ok(())
}

settings! {
    /// The `[mail]` table of the configuration file.
    pub(crate) struct FileMail in "mail", settings MAIL: MailSettingKeys {
        from: String = "KLUIS_MAIL_FROM", check mailbox;
        smtp_host: String = "KLUIS_SMTP_HOST";
        smtp_port: u16 = "KLUIS_SMTP_PORT";
        smtp_tls: SmtpTls = "KLUIS_SMTP_TLS", default "starttls";
        smtp_username: String = "KLUIS_SMTP_USERNAME";
        smtp_password: SecretSetting = "KLUIS_SMTP_PASSWORD";
        smtp_timeout_seconds: u64 = "KLUIS_SMTP_TIMEOUT_SECONDS", default "20", check smtp_timeout;
        smtp_ca_file: std::path::PathBuf = "KLUIS_SMTP_CA_FILE";
        activity_interval_seconds: u64 = "KLUIS_ACTIVITY_INTERVAL_SECONDS", default "900";
    }
}

impl MailSettings {
    /// Reads the settings: `KLUIS_*` variables win over the file.
    pub(crate) fn load(
        env: &impl Fn(&str) -> Option<String>,
        f: FileMail,
        public_url: &str,
    ) -> Result<Self, StartError> {
        let host_of_public_url = public_url
            .split_once("://")
            .map_or(public_url, |(_, rest)| rest)
            .split(['/', ':'])
            .next()
            .unwrap_or("localhost")
            .to_owned();
        let from = MAIL
            .from
            .read(env, f.from)?
            .unwrap_or_else(|| format!("Kluis <noreply@{host_of_public_url}>"));
        MAIL.from.check(&from)?;
        let activity_interval = Duration::from_secs(
            MAIL.activity_interval_seconds
                .value(env, f.activity_interval_seconds)?,
        );
        let smtp = match MAIL.smtp_host.get(env, f.smtp_host)? {
            None => None,
            Some(host) => {
                let tls = MAIL.smtp_tls.value(env, f.smtp_tls)?;
                let default_port = match tls {
                    SmtpTls::None => 25,
                    SmtpTls::Starttls => 587,
                    SmtpTls::Tls => 465,
                };
                let username = MAIL.smtp_username.get(env, f.smtp_username)?;
                let password = MAIL.smtp_password.get(env, f.smtp_password)?;
                if username.is_some() != password.is_some() {
                    return Err(StartError::Config(
                        "mail.smtp_username and the SMTP password must be set together".to_owned(),
                    ));
                }
                let timeout = Duration::from_secs(
                    MAIL.smtp_timeout_seconds
                        .value(env, f.smtp_timeout_seconds)?,
                );
                Some(SmtpSettings {
                    host,
                    port: MAIL
                        .smtp_port
                        .get(env, f.smtp_port)?
                        .unwrap_or(default_port),
                    tls,
                    username,
                    password,
                    timeout,
                    ca_file: MAIL.smtp_ca_file.get(env, f.smtp_ca_file)?,
                })
            }
        };
        Ok(Self {
            from,
            smtp,
            activity_interval,
        })
    }

    /// The settings as an operator reads them (no password).
    pub fn redacted(&self) -> String {
        let mut out = format!(
            "[mail]\nfrom = {:?}\nactivity_interval_seconds = {}\n",
            self.from,
            self.activity_interval.as_secs()
        );
        match &self.smtp {
            None => out.push_str("# no smtp_host: mail is written to <data_dir>/outbox/\n"),
            Some(s) => out.push_str(&format!(
                "smtp_host = {:?}\nsmtp_port = {}\nsmtp_tls = {:?}\nsmtp_username = {:?}\n\
                 smtp_password = {}\nsmtp_timeout_seconds = {}\nsmtp_ca_file = {:?}\n",
                s.host,
                s.port,
                format!("{:?}", s.tls).to_lowercase(),
                s.username.clone().unwrap_or_default(),
                if s.password.is_some() {
                    "\"[redacted]\""
                } else {
                    "\"\""
                },
                s.timeout.as_secs(),
                s.ca_file
                    .as_ref()
                    .map_or_else(String::new, |p| p.display().to_string())
            )),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<MailSettings, StartError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        MailSettings::load(
            &|k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
            FileMail::default(),
            "https://kluis.example.nl/app",
        )
    }

    #[test]
    fn defaults_follow_the_public_url_and_tls_mode() {
        let m = load(&[]).unwrap();
        assert_eq!(m.from, "Kluis <noreply@kluis.example.nl>");
        assert!(m.smtp.is_none());
        assert_eq!(m.activity_interval, Duration::from_secs(900));
        let m = load(&[("KLUIS_SMTP_HOST", "smtp.example.nl")]).unwrap();
        let smtp = m.smtp.unwrap();
        assert_eq!((smtp.port, smtp.tls), (587, SmtpTls::Starttls));
        let m = load(&[("KLUIS_SMTP_HOST", "h"), ("KLUIS_SMTP_TLS", "tls")]).unwrap();
        assert_eq!(m.smtp.unwrap().port, 465);
    }

    #[test]
    fn bad_settings_are_refused_and_the_password_is_never_shown() {
        assert!(load(&[("KLUIS_SMTP_HOST", "h"), ("KLUIS_SMTP_TLS", "maybe")]).is_err());
        assert!(load(&[("KLUIS_MAIL_FROM", "not an address")]).is_err());
        assert!(load(&[("KLUIS_SMTP_HOST", "h"), ("KLUIS_SMTP_USERNAME", "u")]).is_err());
        let m = load(&[
            ("KLUIS_SMTP_HOST", "h"),
            ("KLUIS_SMTP_USERNAME", "u"),
            ("KLUIS_SMTP_PASSWORD", "hunter2-secret"),
        ])
        .unwrap();
        assert!(!format!("{m:?}").contains("hunter2-secret"));
        assert!(!m.redacted().contains("hunter2-secret"));
        assert!(m.redacted().contains("[redacted]"));
    }
}
