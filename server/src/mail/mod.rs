//! What Kluis tells people by e-mail, and how: addresses, the texts (Dutch
//! and English, never content), the outbox written in the transaction of
//! the event, the notifications gathered from activity, the `[mail]`
//! settings and the mailer that hands a message to SMTP.

pub mod address;
pub mod mailer;
pub mod notifications;
pub mod outbox;
pub mod settings;
pub mod templates;
