//! E-mail addresses as the server keeps them: trimmed, lower-cased, and
//! plausible (one `@`, a dot in the domain, no spaces or control
//! characters, at most 254 bytes). Deliverability is proved by the e-mailed
//! link, not here.

use crate::error::{ApiError, ErrorCode};

/// A normalised e-mail address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EmailAddress(String);

impl EmailAddress {
    /// Normalises and checks an address typed by a person.
    pub(crate) fn parse(input: &str) -> Result<Self, ApiError> {
        let text = input.trim().to_lowercase();
        let invalid =
            || ApiError::bad_request(ErrorCode::InvalidEmail, "not a valid e-mail address");
        if text.is_empty() || text.len() > 254 {
            return Err(invalid());
        }
        if text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
        {
            return Err(invalid());
        }
        let (local, domain) = text.split_once('@').ok_or_else(invalid)?;
        if local.is_empty()
            || local.len() > 64
            || domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
        {
            return Err(invalid());
        }
        Ok(Self(text))
    }

    /// The normalised text.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_refuses() {
        assert_eq!(
            EmailAddress::parse("  Anna.de.Vries@Example.NL ")
                .unwrap()
                .as_str(),
            "anna.de.vries@example.nl"
        );
        for bad in [
            "",
            "anna",
            "anna@",
            "@example.nl",
            "anna@example",
            "a b@example.nl",
            "anna@@example.nl",
            "anna@example..nl",
            "anna@.example.nl",
            "anna@example.nl.",
            "anna@example.nl\r\nBcc: x@y.z",
            "<a@b.c>",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
        assert!(EmailAddress::parse(&format!("{}@example.nl", "a".repeat(65))).is_err());
    }
}
