//! Wall-clock time as the database stores it (Unix milliseconds), and fresh
//! record ids.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `now + d` in Unix milliseconds.
pub fn ms_after(now: i64, d: Duration) -> i64 {
    now.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A fresh record id: a random version-4 UUID in text form (the same form
/// the protocol uses for user ids).
pub fn new_id() -> String {
    kluis_crypto::ids::UserId::random(&mut rand::rngs::OsRng).to_string()
}
