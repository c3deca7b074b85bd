//! Checks of free-text and date fields people type: names, device labels,
//! dates. Pure functions, so every route refuses the same things the same
//! way.

use crate::error::{ApiError, ErrorCode};

/// A name shown to others (person or organisation): trimmed, 1 to `max`
/// characters, no control characters.
pub(crate) fn name(field: &'static str, input: &str, max: usize) -> Result<String, ApiError> {
    let text = input.trim();
    if text.is_empty() || text.chars().count() > max || text.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidField,
            format!("{field}: 1 to {max} characters, no control characters"),
        ));
    }
    Ok(text.to_owned())
}

/// What a client calls its device in the session list.
pub(crate) fn device_label(input: Option<&str>) -> Result<String, ApiError> {
    match input {
        None => Ok("unnamed device".to_owned()),
        Some(s) => name("device_label", s, 100),
    }
}

/// A calendar date `YYYY-MM-DD` (ISO 8601), or `""` to clear it.
pub(crate) fn optional_date(field: &'static str, input: &str) -> Result<Option<String>, ApiError> {
    if input.is_empty() {
        return Ok(None);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(input, &format)
        .map(|d| Some(d.to_string()))
        .map_err(|_| {
            ApiError::bad_request(
                ErrorCode::InvalidField,
                format!("{field}: expected YYYY-MM-DD"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_it_should() {
        assert_eq!(name("n", "  Anna  ", 10).unwrap(), "Anna");
        assert!(name("n", "   ", 10).is_err());
        assert!(name("n", "a\u{0}b", 10).is_err());
        assert!(name("n", &"x".repeat(11), 10).is_err());
        assert_eq!(
            optional_date("d", "2027-02-28").unwrap().as_deref(),
            Some("2027-02-28")
        );
        assert_eq!(optional_date("d", "").unwrap(), None);
        assert!(optional_date("d", "2027-02-30").is_err());
        assert!(optional_date("d", "28-02-2027").is_err());
    }
}
