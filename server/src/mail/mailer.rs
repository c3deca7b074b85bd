//! Hands one outbox message to the world: over SMTP with `lettre` (plain,
//! STARTTLS or TLS, as configured), or, without a relay, as a file in the
//! development outbox directory.
//!
//! Every message is `multipart/alternative` (plain text and HTML) with a
//! `Message-ID` made of the outbox row's id, so that the rare duplicate a
//! crash between "sent" and "recorded" could cause is recognisable as the
//! same message by any receiving system.

use std::path::{Path, PathBuf};

use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::Config;
use crate::error::StartError;
use crate::mail::settings::SmtpTls;

/// A message taken from the outbox.
#[derive(Debug)]
pub struct Outgoing {
    /// The outbox row's id.
    pub id: String,
    /// The address.
    pub recipient: String,
    /// `invitation`, `activity`, …
    pub kind: String,
    /// `nl` or `en`.
    pub language: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body (rows queued before HTML existed have none).
    pub html: Option<String>,
    /// When it was queued, Unix ms (orders the development files).
    pub created_ms: i64,
}

/// Why a delivery did not happen.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again later: the relay is down, busy, or said 4xx.
    #[error("temporary: {0}")]
    Temporary(String),
    /// Will never work: a 5xx refusal or an address that cannot be written.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// Where mail goes.
pub enum Mailer {
    /// Files in a directory (no relay configured).
    Directory(PathBuf),
    /// An SMTP relay.
    Smtp {
        /// lettre's transport (connects per message); boxed, it is large.
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        /// `From:`.
        from: Mailbox,
        /// The right-hand side of our `Message-ID`s.
        domain: String,
    },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Directory(dir) => f.debug_tuple("Directory").field(dir).finish(),
            Self::Smtp { from, .. } => f
                .debug_struct("Smtp")
                .field("from", &from.to_string())
                .finish_non_exhaustive(),
        }
    }
}

/// The longest one SMTP delivery may take as a whole (lettre's timeout is
/// per step); well under the outbox lease, so no other worker takes the
/// row while this send may still be under way.
pub(crate) const SEND_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// Where the development transport writes.
pub(crate) fn mail_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("outbox")
}

impl Mailer {
    /// The mailer the configuration asks for. Nothing connects yet.
    pub fn new(config: &Config) -> Result<Self, StartError> {
        let Some(smtp) = &config.mail.smtp else {
            return Ok(Self::Directory(mail_dir(&config.data_dir)));
        };
        let from: Mailbox = config
            .mail
            .from
            .parse()
            .map_err(|e| StartError::Config(format!("mail.from: {e}")))?;
        let domain = from.email.domain().to_owned();
        let tls_error = |e: lettre::transport::smtp::Error| {
            StartError::Config(format!("mail.smtp_host {:?}: {e}", smtp.host))
        };
        let builder = match smtp.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
                .map_err(tls_error)?,
            SmtpTls::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(tls_error)?
            }
        };
        let mut builder = builder.port(smtp.port).timeout(Some(smtp.timeout));
        if let (Some(ca_file), true) = (&smtp.ca_file, smtp.tls != SmtpTls::None) {
            let fail = |e: String| {
                StartError::Config(format!("mail.smtp_ca_file {}: {e}", ca_file.display()))
            };
            let pem = std::fs::read(ca_file).map_err(|e| fail(e.to_string()))?;
            let ca = Certificate::from_pem(&pem).map_err(|e| fail(e.to_string()))?;
            let parameters = TlsParameters::builder(smtp.host.clone())
                .add_root_certificate(ca)
                .build_rustls()
                .map_err(|e| fail(e.to_string()))?;
            builder = builder.tls(match smtp.tls {
                SmtpTls::Tls => Tls::Wrapper(parameters),
                _ => Tls::Required(parameters),
            });
        }
        if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.0.clone()));
        }
        Ok(Self::Smtp {
            transport: Box::new(builder.build()),
            from,
            domain,
        })
    }

    /// Delivers one message.
    pub async fn send(&self, m: &Outgoing) -> Result<(), DeliveryError> {
        match self {
            Self::Directory(dir) => write_file(dir, m)
                .map_err(|e| DeliveryError::Temporary(format!("outbox directory: {e}"))),
            Self::Smtp {
                transport,
                from,
                domain,
            } => {
                let message = build_message(m, from, domain)?;
                match tokio::time::timeout(SEND_DEADLINE, transport.send(message)).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) if e.is_permanent() => Err(DeliveryError::Permanent(e.to_string())),
                    Ok(Err(e)) => Err(DeliveryError::Temporary(e.to_string())),
                    Err(_) => Err(DeliveryError::Temporary(format!(
                        "no answer within {} s",
                        SEND_DEADLINE.as_secs()
                    ))),
                }
            }
        }
    }
}

/// The RFC 5322 message for `m`.
fn build_message(m: &Outgoing, from: &Mailbox, domain: &str) -> Result<Message, DeliveryError> {
    let to: Mailbox = m
        .recipient
        .parse()
        .map_err(|e| DeliveryError::Permanent(format!("recipient address: {e}")))?;
    let builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(m.subject.clone())
        .message_id(Some(format!("<{}@{domain}>", m.id)))
        .header(Plain::<KluisKind>::new(&m.kind))
        .header(Plain::<ContentLanguage>::new(&m.language))
        .header(Plain::<AutoSubmitted>::new("auto-generated"));
    let message = match &m.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            m.text.clone(),
            html.clone(),
        )),
        None => builder.body(m.text.clone()),
    };
    message.map_err(|e| DeliveryError::Permanent(format!("message: {e}")))
}

/// Names of the plain headers we add.
trait PlainName: Clone {
    const NAME: &'static str;
}

#[derive(Clone)]
struct KluisKind;
impl PlainName for KluisKind {
    const NAME: &'static str = "X-Kluis-Kind";
}

#[derive(Clone)]
struct ContentLanguage;
impl PlainName for ContentLanguage {
    const NAME: &'static str = "Content-Language";
}

/// RFC 3834: tells auto-responders not to answer.
#[derive(Clone)]
struct AutoSubmitted;
impl PlainName for AutoSubmitted {
    const NAME: &'static str = "Auto-Submitted";
}

/// A header whose value is short ASCII we wrote ourselves.
#[derive(Clone)]
struct Plain<N: PlainName> {
    value: String,
    name: std::marker::PhantomData<N>,
}

impl<N: PlainName> Plain<N> {
    fn new(value: &str) -> Self {
        Self {
            value: value.to_owned(),
            name: std::marker::PhantomData,
        }
    }
}

impl<N: PlainName> Header for Plain<N> {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str(N::NAME)
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self::new(s))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.value.clone())
    }
}

/// The development transport: headers a test can read, then the text.
fn write_file(dir: &Path, m: &Outgoing) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let name = format!("{:013}-{}.eml", m.created_ms, m.id);
    let text = format!(
        "To: {}\nSubject: {}\nX-Kluis-Kind: {}\nX-Kluis-Id: {}\nContent-Language: {}\n\n{}",
        m.recipient, m.subject, m.kind, m.id, m.language, m.text
    );
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, dir.join(name))
}
