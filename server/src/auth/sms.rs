//! Text messages for the SMS second factor, through an [`SmsGateway`]: the
//! console one for development (the message goes to standard output, like
//! the setup link) or an HTTP one for a real provider, configured by URL,
//! credentials and a body template (`[sms]` in the configuration).
//!
//! Codes are six random digits, valid five minutes, used once, five tries
//! each; sending is rate limited per account and per address. A phone
//! number is used for login only after a code sent to it was typed back.

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use crate::clock::ms_after;
use crate::config::{settings, trimmed, SecretSetting};
use crate::error::{ApiError, ErrorCode, StartError};
use crate::ids::UserId;
use crate::language::Language;
use crate::org::accounts::Account;

/// How long a code works.
pub const CODE_LIFETIME: Duration = Duration::from_secs(300);
/// Wrong tries per code.
const CODE_ATTEMPTS: i64 = 5;

/// Why a text was not sent.
#[derive(Debug, thiserror::Error)]
#[error("SMS not sent: {0}")]
pub struct SmsError(pub String);

/// Sends one text message.
pub trait SmsGateway: Send + Sync + std::fmt::Debug {
    /// Sends `text` to `to` (E.164, `+31612345678`).
    fn send<'a>(
        &'a self,
        to: &'a str,
        text: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), SmsError>> + Send + 'a>>;
}

/// Development: writes each message as a line to a writer (standard output
/// by default), never to the log.
pub struct ConsoleSms(Mutex<Box<dyn Write + Send>>);

impl std::fmt::Debug for ConsoleSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConsoleSms")
    }
}

impl ConsoleSms {
    /// Writing to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self(Mutex::new(out))
    }
}

impl SmsGateway for ConsoleSms {
    fn send<'a>(
        &'a self,
        to: &'a str,
        text: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), SmsError>> + Send + 'a>> {
        Box::pin(async move {
            let mut out = self
                .0
                .lock()
                .map_err(|_| SmsError("console poisoned".to_owned()))?;
            writeln!(out, "SMS to {to}: {text}")
                .and_then(|()| out.flush())
                .map_err(|e| SmsError(e.to_string()))
        })
    }
}

/// A provider's HTTP API: one POST per message.
#[derive(Debug)]
pub struct HttpSms {
    http: reqwest::Client,
    settings: HttpSmsSettings,
}

impl HttpSms {
    /// For these settings.
    pub fn new(settings: HttpSmsSettings) -> Result<Self, StartError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| StartError::Config(format!("sms: {e}")))?;
        Ok(Self { http, settings })
    }

    /// The request body: the template with `{to}` and `{text}` filled in,
    /// escaped for the content type (JSON string content, or form
    /// encoding), so a message cannot break out of its field.
    pub fn body(&self, to: &str, text: &str) -> String {
        let escape = |v: &str| {
            if self.settings.content_type.contains("json") {
                let quoted = serde_json::to_string(v).unwrap_or_default();
                quoted
                    .strip_prefix('"')
                    .and_then(|q| q.strip_suffix('"'))
                    .unwrap_or_default()
                    .to_owned()
            } else {
                form_encode(v)
            }
        };
        self.settings
            .body
            .replace("{to}", &escape(to))
            .replace("{text}", &escape(text))
    }
}

fn form_encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            b' ' => "+".to_owned(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

impl SmsGateway for HttpSms {
    fn send<'a>(
        &'a self,
        to: &'a str,
        text: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), SmsError>> + Send + 'a>> {
        Box::pin(async move {
            let mut request = self
                .http
                .post(&self.settings.url)
                .header(reqwest::header::CONTENT_TYPE, &self.settings.content_type)
                .body(self.body(to, text));
            if let Some(user) = &self.settings.username {
                request = request.basic_auth(user, self.settings.password.as_ref().map(|p| &p.0));
            }
            // Without the URL: it may carry a provider's key.
            let response = request
                .send()
                .await
                .map_err(|e| SmsError(e.without_url().to_string()))?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(SmsError(format!("provider answered {}", response.status())))
            }
        })
    }
}

/// The `[sms]` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmsSettings {
    /// No SMS: the factor cannot be set up (the default, so that codes
    /// never land in a production log by accident).
    Disabled,
    /// Messages to standard output (development; only when asked for).
    Console,
    /// A provider's HTTP API.
    Http(HttpSmsSettings),
}

/// A provider's HTTP API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpSmsSettings {
    /// Where to POST.
    pub url: String,
    /// Basic-auth user, if any.
    pub username: Option<String>,
    /// Basic-auth password (never shown).
    pub password: Option<SecretSetting>,
    /// The body, with `{to}` and `{text}`.
    pub body: String,
    /// Its content type.
    pub content_type: String,
}

/// A provider's address.
fn http_url(key: &str, url: &str) -> Result<(), String> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(format!("{key}: {url:?} is not a URL"));
    }
    Ok(())
}

/// A body says whom to send what.
fn http_body(key: &str, body: &str) -> Result<(), String> {
    if !body.contains("{to}") || !body.contains("{text}") {
        return Err(format!("{key} must hold {{to}} and {{text}}"));
    }
    Ok(())
}

settings! {
    /// The `[sms]` table of the file.
    pub(crate) struct FileSms in "sms", settings SMS: SmsSettingKeys {
        provider: String = "KLUIS_SMS_PROVIDER", default "none", parse trimmed;
        http_url: String = "KLUIS_SMS_HTTP_URL", check http_url;
        http_username: String = "KLUIS_SMS_HTTP_USERNAME";
        http_password: SecretSetting = "KLUIS_SMS_HTTP_PASSWORD";
        http_body: String = "KLUIS_SMS_HTTP_BODY", default r#"{"to": "{to}", "text": "{text}"}"#, check http_body;
        http_content_type: String = "KLUIS_SMS_HTTP_CONTENT_TYPE", default "application/json";
    }
}

impl SmsSettings {
    /// Reads the settings: `KLUIS_SMS_*` variables win over the file.
    pub(crate) fn load(
        env: &impl Fn(&str) -> Option<String>,
        f: FileSms,
    ) -> Result<Self, StartError> {
        match SMS.provider.value(env, f.provider)?.as_str() {
            "none" => Ok(Self::Disabled),
            "console" => Ok(Self::Console),
            "http" => {
                let url = SMS.http_url.get(env, f.http_url)?.ok_or_else(|| {
                    StartError::Config("sms.http_url is needed with provider = \"http\"".to_owned())
                })?;
                let body = SMS.http_body.value(env, f.http_body)?;
                Ok(Self::Http(HttpSmsSettings {
                    url,
                    username: SMS.http_username.get(env, f.http_username)?,
                    password: SMS.http_password.get(env, f.http_password)?,
                    body,
                    content_type: SMS.http_content_type.value(env, f.http_content_type)?,
                }))
            }
            other => Err(StartError::Config(format!(
                "{}: {other:?} is none of none, console, http",
                SMS.provider.key
            ))),
        }
    }

    /// The gateway these settings describe; `None` without SMS.
    pub fn gateway(&self) -> Result<Option<Box<dyn SmsGateway>>, StartError> {
        Ok(match self {
            Self::Disabled => None,
            Self::Console => Some(Box::new(ConsoleSms::new(Box::new(std::io::stdout())))),
            Self::Http(s) => Some(Box::new(HttpSms::new(s.clone())?)),
        })
    }

    /// As an operator reads it (no password).
    pub fn redacted(&self) -> String {
        match self {
            Self::Disabled => "[sms]\nprovider = \"none\"\n".to_owned(),
            Self::Console => "[sms]\nprovider = \"console\"\n".to_owned(),
            Self::Http(s) => format!(
                "[sms]\nprovider = \"http\"\nhttp_url = {:?}\nhttp_username = {:?}\nhttp_password = {}\n\
                 http_body = {:?}\nhttp_content_type = {:?}\n",
                redact_url(&s.url),
                s.username.clone().unwrap_or_default(),
                if s.password.is_some() { "\"[redacted]\"" } else { "\"\"" },
                s.body,
                s.content_type
            ),
        }
    }
}

/// A URL without user info or query (either may hold a credential).
fn redact_url(url: &str) -> String {
    let without_query = url.split(['?', '#']).next().unwrap_or_default();
    match without_query.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((_, host)) if !host.contains('/') || rest.find('@') < rest.find('/') => {
                format!("{scheme}://[redacted]@{host}")
            }
            _ => without_query.to_owned(),
        },
        None => without_query.to_owned(),
    }
}

/// A phone number in E.164 form (`+` and 8 to 15 digits; spaces and
/// dashes as typed are dropped).
pub fn phone_number(typed: &str) -> Result<String, ApiError> {
    let compact: String = typed.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let digits = compact.strip_prefix('+').unwrap_or_default();
    if (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(compact)
    } else {
        Err(ApiError::bad_request(
            ErrorCode::InvalidPhone,
            "give the number in international form, such as +31612345678",
        ))
    }
}

/// The message carrying a code.
pub fn code_text(language: Language, code: &str) -> String {
    match language {
        Language::Nl => format!("Uw Kluis-code is {code}. Deel deze code met niemand."),
        Language::En => format!("Your Kluis code is {code}. Do not share it with anyone."),
    }
}

/// What a code is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Proving the phone number at enrolment.
    VerifyPhone,
    /// A login's second factor.
    Login,
    /// The second factor of a password reset.
    PasswordReset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::VerifyPhone => "verify_phone",
            Self::Login => "login",
            Self::PasswordReset => "password_reset",
        }
    }
}

fn code_hash(account_id: UserId, purpose: Purpose, code: &str) -> Vec<u8> {
    Sha256::new()
        .chain_update(b"kluis/v1/sms-code\0")
        .chain_update(account_id.to_string().as_bytes())
        .chain_update([0])
        .chain_update(purpose.as_str().as_bytes())
        .chain_update([0])
        .chain_update(code.trim().as_bytes())
        .finalize()
        .to_vec()
}

/// A new code for `purpose`, replacing any earlier one; returned to be sent.
pub async fn new_code(
    conn: &mut AnyConnection,
    account_id: UserId,
    purpose: Purpose,
    now_ms: i64,
) -> Result<String, ApiError> {
    let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32));
    sqlx::query("DELETE FROM sms_codes WHERE account_id = $1 AND purpose = $2")
        .bind(account_id.to_string())
        .bind(purpose.as_str())
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO sms_codes (account_id, purpose, code_hash, expires_ms) VALUES ($1, $2, $3, $4)",
    )
    .bind(account_id.to_string())
    .bind(purpose.as_str())
    .bind(code_hash(account_id, purpose, &code))
    .bind(ms_after(now_ms, CODE_LIFETIME))
    .execute(conn)
    .await?;
    Ok(code)
}

/// Uses up a code: `true` once, for the right code within its lifetime and
/// its five tries.
pub async fn use_code(
    conn: &mut AnyConnection,
    account_id: UserId,
    purpose: Purpose,
    code: &str,
    now_ms: i64,
) -> Result<bool, ApiError> {
    // The try is counted first, conditionally, so parallel guesses cannot
    // exceed the five.
    let counted = sqlx::query(
        "UPDATE sms_codes SET attempts = attempts + 1 \
         WHERE account_id = $1 AND purpose = $2 AND attempts < $3 AND expires_ms > $4",
    )
    .bind(account_id.to_string())
    .bind(purpose.as_str())
    .bind(CODE_ATTEMPTS)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    if counted.rows_affected() != 1 {
        return Ok(false);
    }
    let Some(row) =
        sqlx::query("SELECT code_hash FROM sms_codes WHERE account_id = $1 AND purpose = $2")
            .bind(account_id.to_string())
            .bind(purpose.as_str())
            .fetch_optional(&mut *conn)
            .await?
    else {
        return Ok(false);
    };
    let stored: Vec<u8> = row.try_get("code_hash")?;
    if stored != code_hash(account_id, purpose, code) {
        return Ok(false);
    }
    let taken = sqlx::query(
        "DELETE FROM sms_codes WHERE account_id = $1 AND purpose = $2 AND code_hash = $3",
    )
    .bind(account_id.to_string())
    .bind(purpose.as_str())
    .bind(stored)
    .execute(conn)
    .await?;
    Ok(taken.rows_affected() == 1)
}

/// The account's verified phone number, if any.
pub(crate) async fn verified_phone(
    conn: &mut AnyConnection,
    account_id: UserId,
) -> Result<Option<String>, ApiError> {
    let row = sqlx::query(
        "SELECT phone FROM sms_factors WHERE account_id = $1 AND verified_ms IS NOT NULL",
    )
    .bind(account_id.to_string())
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.try_get("phone")).transpose()?)
}

/// Sets up `phone` (already checked by [`phone_number`]) as the account's
/// number, unverified, replacing any earlier one.
pub(crate) async fn set_up_phone(
    conn: &mut AnyConnection,
    account_id: UserId,
    phone: &str,
    now: i64,
) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM sms_factors WHERE account_id = $1")
        .bind(account_id.to_string())
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO sms_factors (account_id, phone, created_ms) VALUES ($1, $2, $3)")
        .bind(account_id.to_string())
        .bind(phone)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The number being set up came back with its code: it counts from now.
pub(crate) async fn phone_verified(
    conn: &mut AnyConnection,
    account_id: UserId,
    now: i64,
) -> Result<(), ApiError> {
    sqlx::query("UPDATE sms_factors SET verified_ms = $1 WHERE account_id = $2")
        .bind(now)
        .bind(account_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// A code for `purpose` to the account's phone (verified, or for
/// verification the one being set up), inside the caller's transaction,
/// after the per-account sending limit; returns (number, text) for
/// [`deliver`] after the commit, so no transaction waits on the gateway.
pub(crate) async fn prepare_code(
    tx: &mut AnyConnection,
    limit: &crate::rate_limit::Limit,
    account: &Account,
    purpose: Purpose,
    now: i64,
) -> Result<(String, String), ApiError> {
    limit.check(&account.id.to_string())?;
    let sql = match purpose {
        Purpose::Login | Purpose::PasswordReset => {
            "SELECT phone FROM sms_factors WHERE account_id = $1 AND verified_ms IS NOT NULL"
        }
        Purpose::VerifyPhone => {
            "SELECT phone FROM sms_factors WHERE account_id = $1 AND verified_ms IS NULL"
        }
    };
    let phone: String = match sqlx::query(sql)
        .bind(account.id.to_string())
        .fetch_optional(&mut *tx)
        .await?
    {
        Some(row) => row.try_get("phone")?,
        None => {
            return Err(ApiError::conflict(
                ErrorCode::NoPhone,
                "no phone number is set up for this",
            ))
        }
    };
    let code = new_code(tx, account.id, purpose, now).await?;
    Ok((phone, code_text(account.language, &code)))
}

/// Hands a prepared text to the gateway (`None`: SMS is not configured).
pub(crate) async fn deliver(
    gateway: Option<&dyn SmsGateway>,
    (phone, text): &(String, String),
) -> Result<(), ApiError> {
    let gateway = gateway.ok_or(ApiError::SmsUnavailable)?;
    gateway.send(phone, text).await.map_err(|e| {
        tracing::warn!(error = %e, "SMS gateway");
        ApiError::SmsUnavailable
    })
}

/// Removes the account's phone number and any code sent to it (two-factor
/// login is switched off).
pub(crate) async fn forget_phone(
    conn: &mut AnyConnection,
    account_id: UserId,
) -> Result<(), ApiError> {
    for sql in [
        "DELETE FROM sms_factors WHERE account_id = $1",
        "DELETE FROM sms_codes WHERE account_id = $1",
    ] {
        sqlx::query(sql)
            .bind(account_id.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Removes codes whose time ran out (housekeeping).
pub(crate) async fn forget_expired_codes(
    conn: &mut AnyConnection,
    now: i64,
) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM sms_codes WHERE expires_ms < $1")
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_console_gateway_writes_one_line_per_message() {
        let out = Shared::default();
        let console = ConsoleSms::new(Box::new(out.clone()));
        console
            .send("+31612345678", &code_text(Language::En, "123456"))
            .await
            .unwrap();
        let written = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            written,
            "SMS to +31612345678: Your Kluis code is 123456. Do not share it with anyone.\n"
        );
    }

    #[test]
    fn bodies_are_escaped_for_their_content_type() {
        let settings = HttpSmsSettings {
            url: "http://x".to_owned(),
            username: None,
            password: None,
            body: "{\"to\": \"{to}\", \"text\": \"{text}\"}".to_owned(),
            content_type: "application/json".to_owned(),
        };
        let json = HttpSms::new(settings.clone()).unwrap();
        let body = json.body("+31612345678", "a \"quoted\" \\ text");
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["text"], "a \"quoted\" \\ text");
        let form = HttpSms::new(HttpSmsSettings {
            body: "to={to}&body={text}".to_owned(),
            content_type: "application/x-www-form-urlencoded".to_owned(),
            ..settings
        })
        .unwrap();
        assert_eq!(form.body("+316", "a&b=c d"), "to=%2B316&body=a%26b%3Dc+d");
    }

    #[test]
    fn sms_is_off_unless_configured_and_urls_are_shown_without_secrets() {
        let load = |vars: &[(&str, &str)]| {
            let vars: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            SmsSettings::load(
                &|k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
                FileSms::default(),
            )
        };
        assert_eq!(load(&[]).unwrap(), SmsSettings::Disabled);
        assert!(load(&[]).unwrap().gateway().unwrap().is_none());
        assert_eq!(
            load(&[("KLUIS_SMS_PROVIDER", "console")]).unwrap(),
            SmsSettings::Console
        );
        assert!(load(&[("KLUIS_SMS_PROVIDER", "pigeon")]).is_err());
        let http = load(&[
            ("KLUIS_SMS_PROVIDER", "http"),
            (
                "KLUIS_SMS_HTTP_URL",
                "https://user:pw@sms.example/send?apikey=s3cret",
            ),
        ])
        .unwrap();
        let shown = http.redacted();
        assert!(
            !shown.contains("s3cret") && !shown.contains("user:pw"),
            "{shown}"
        );
        assert!(
            shown.contains("https://[redacted]@sms.example/send"),
            "{shown}"
        );
    }

    #[test]
    fn phone_numbers_must_be_international() {
        assert_eq!(phone_number("+31 6 1234-5678").unwrap(), "+31612345678");
        for bad in ["0612345678", "+31", "+31abc45678", "+1234567890123456"] {
            assert!(phone_number(bad).is_err(), "{bad}");
        }
    }
}
