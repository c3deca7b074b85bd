//! What commands print: one JSON value per result with `--json`, a line
//! for people otherwise; progress bars only for people (hidden with
//! `--json`, so scripts read clean standard output).

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::{Entry, EntryContent};

/// The human text, or with `--json` the machine value.
pub(crate) fn print(json: bool, human: &str, machine: serde_json::Value) {
    if json {
        println!("{machine}");
    } else {
        println!("{human}");
    }
}

/// One dialogue entry as a line, with the ids that other commands take.
pub(crate) fn show_entry(e: &Entry) -> String {
    let body = match &e.content {
        EntryContent::Message { text } => text.clone(),
        EntryContent::Note { text } => format!("[note] {text}"),
        EntryContent::Document(d) => format!(
            "[file] {} ({}, {} bytes) — kluis download … {}",
            d.name, d.media_type, d.size, e.item_id
        ),
        EntryContent::Deleted => "[the server reports this item as deleted]".into(),
        EntryContent::DeletedByAuthor { deleted_ms } => {
            format!("[deleted by its author on {}]", date_time(*deleted_ms))
        }
        EntryContent::Unreadable => {
            "[unreadable: its key was lost with an earlier identity]".into()
        }
    };
    format!("#{} {} {}: {}", e.seq, e.item_id, e.author, body)
}

pub(crate) fn progress_bar(total: Option<u64>, hidden: bool) -> ProgressBar {
    let bar = match total {
        _ if hidden => ProgressBar::hidden(),
        Some(t) => ProgressBar::new(t),
        None => ProgressBar::no_length(),
    };
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
    {
        bar.set_style(style);
    }
    bar
}

/// New recovery codes: shown this once, so people are told to keep them.
pub(crate) fn print_recovery_codes(json: bool, codes: &[String]) {
    if json {
        println!("{}", json!({"recovery_codes": codes}));
    } else {
        println!(
            "Two-factor login is on. Your recovery codes — each works once, when your\n\
             phone is not at hand. Keep them somewhere safe; they are shown only now:\n"
        );
        for code in codes {
            println!("    {code}");
        }
    }
}

/// A Unix time in ms as `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn date_time(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (year, month, day) = civil(i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2));
    let (hour, minute) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

/// A Unix-ms time as its UTC day, `YYYY-MM-DD (UTC)`.
pub(crate) fn utc_time(ms: i64) -> String {
    let (year, month, day) = civil(ms.div_euclid(86_400_000));
    format!("{year:04}-{month:02}-{day:02} (UTC)")
}

/// The (year, month, day) of a count of days since 1970-01-01 in the
/// proleptic Gregorian calendar (H. Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::{date_time, utc_time};

    #[test]
    fn dates_in_utc() {
        assert_eq!(date_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(date_time(1_767_225_600_000), "2026-01-01 00:00 UTC");
        assert_eq!(date_time(951_782_400_000 + 61_000), "2000-02-29 00:01 UTC");
        assert_eq!(date_time(1_796_083_199_000), "2026-11-30 23:59 UTC");
        assert_eq!(utc_time(0), "1970-01-01 (UTC)");
        assert_eq!(utc_time(1_709_251_199_000), "2024-02-29 (UTC)");
        assert_eq!(utc_time(1_735_689_600_000), "2025-01-01 (UTC)");
    }
}
