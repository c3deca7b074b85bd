//! What Kluis tells people by e-mail, and how: addresses, the texts (Dutch
//! and English, never content), the outbox written in the transaction of
//! the event, the notifications gathered from activity, the `[mail]`
//! settings and the mailer that hands a message to SMTP.

pub(crate) mod address;
pub(crate) mod mailer;
pub(crate) mod notifications;
pub mod outbox;
pub mod settings;
pub(crate) mod templates;
