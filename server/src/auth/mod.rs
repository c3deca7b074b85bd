//! Who you are: the OPAQUE login engine and the server's OPAQUE key,
//! sessions and the tokens behind them, the second factor (TOTP, recovery
//! codes, SMS), and the single-use tokens sent by e-mail.

pub(crate) mod email_token;
pub(crate) mod login;
pub(crate) mod password_reset;
pub mod server_key;
pub mod sessions;
pub mod sms;
pub(crate) mod token;
pub(crate) mod two_factor;
