//! The links Kluis e-mails or prints (`{public_url}/{page}#token=…`): the
//! token sits in the fragment so that it never reaches a server log.

use crate::error::{Error, Result};

/// The token of a setup, invitation, reset or verification link. A bare
/// token (what a user may paste) is accepted as is.
pub fn token_of(link: &str) -> Result<String> {
    let link = link.trim();
    let raw = match link.find("#token=") {
        Some(at) => link.get(at + 7..).unwrap_or_default(),
        None if !link.contains('/') && !link.contains('#') => link,
        None => return Err(Error::InvalidLink),
    };
    let token: String = raw
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    if token.len() < 16 || token.len() != raw.len() {
        return Err(Error::InvalidLink);
    }
    Ok(token)
}

/// The server a link points at (`https://kluis.example.nl`), for a client
/// that was given only the link.
pub fn server_of(link: &str) -> Result<String> {
    let link = link.trim();
    let scheme_end = link.find("://").ok_or(Error::InvalidLink)? + 3;
    let rest = link.get(scheme_end..).ok_or(Error::InvalidLink)?;
    let host_end = rest.find(['/', '#', '?']).unwrap_or(rest.len());
    let origin = link
        .get(..scheme_end + host_end)
        .ok_or(Error::InvalidLink)?;
    if !(origin.starts_with("https://") || origin.starts_with("http://")) || host_end == 0 {
        return Err(Error::InvalidLink);
    }
    Ok(origin.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_servers_from_links() {
        let link = "https://kluis.example.nl:8443/setup#token=AbCdEfGhIjKlMnOpQrSt_-12";
        assert_eq!(token_of(link).unwrap(), "AbCdEfGhIjKlMnOpQrSt_-12");
        assert_eq!(server_of(link).unwrap(), "https://kluis.example.nl:8443");
        assert_eq!(
            token_of(" AbCdEfGhIjKlMnOpQrSt ").unwrap(),
            "AbCdEfGhIjKlMnOpQrSt"
        );
        assert!(token_of("https://x/setup#token=short").is_err());
        assert!(token_of("https://x/setup#token=AbCdEfGhIjKlMnOpQrSt<script>").is_err());
        assert!(token_of("https://x/setup").is_err());
        assert!(server_of("kluis.example.nl/setup").is_err());
    }
}
