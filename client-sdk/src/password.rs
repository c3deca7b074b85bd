//! How a password becomes OPAQUE's input (PROTOCOL.md §3.1: the UTF-8 of
//! its NFC form), the password rule (DESIGN: at least 8 characters, a digit
//! and an upper case letter) and a strength estimate. The server never sees
//! a password, so this is the only place the rule can be enforced.
//!
//! The estimate (zxcvbn, the `kluis-strength` crate) is linked in with the
//! `strength` feature, as the CLI is built. The WebAssembly build leaves it
//! out, a third of the module that a sign-in does not need: the web page
//! loads it as a module of its own where a password is chosen and hands it
//! over with [`use_estimator`]. Until then no password is accepted
//! ([`Error::StrengthUnavailable`]): the rule alone would let "Password1"
//! through.

use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
pub use kluis_strength::Estimate;

/// The password as every client hands it to OPAQUE: its Unicode NFC form
/// (PROTOCOL.md §3.1), whose UTF-8 bytes are OPAQUE's `password`.
///
/// A keyboard or system may deliver "ë" as one code point (U+00EB) or as
/// "e" and a combining diaeresis (NFD). Without one rule those are two
/// passwords, and an account made on one device does not open on another.
/// NFC changes nothing else: no case folding, no trimming, no mapping of
/// compatibility characters (NFKC would fold full-width letters and
/// ligatures into others). Every SDK path to OPAQUE calls this first:
/// organisation setup and sign-up, login, password change, reset, and the
/// deletion proof.
pub fn opaque_password(password: &str) -> Zeroizing<String> {
    Zeroizing::new(password.nfc().collect())
}

/// The fewest characters a password may have.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// zxcvbn's score (0–4) below which a password is refused even when it
/// meets the rule: "Password1" meets it and is among the first guesses of
/// any cracker.
pub const MIN_STRENGTH_SCORE: u8 = 2;

/// How a password measures up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordCheck {
    /// What the rule misses (empty when it is met).
    pub rule_problems: Vec<&'static str>,
    /// zxcvbn's score, 0 (guessed at once) to 4 (very strong); `None`
    /// while no estimator is loaded (WebAssembly, see the module).
    pub score: Option<u8>,
    /// zxcvbn's advice, if any.
    pub feedback: Option<String>,
}

impl PasswordCheck {
    /// Whether the password may be used.
    pub fn acceptable(&self) -> bool {
        self.rule_problems.is_empty() && self.score.is_some_and(|s| s >= MIN_STRENGTH_SCORE)
    }
}

/// An estimator handed over at run time: the web page's strength module.
#[cfg(not(feature = "strength"))]
type Estimator = Box<dyn Fn(&str, &[&str]) -> Option<Estimate>>;

#[cfg(not(feature = "strength"))]
thread_local! {
    static ESTIMATOR: std::cell::RefCell<Option<Estimator>> = const { std::cell::RefCell::new(None) };
}

/// Sets the estimator that judges passwords from now on, in a build
/// without the `strength` feature (the web page's strength module; with
/// the feature the linked-in zxcvbn is used and this is ignored). A score
/// above 4 is taken as 4.
pub fn use_estimator(estimator: impl Fn(&str, &[&str]) -> Option<Estimate> + 'static) {
    #[cfg(not(feature = "strength"))]
    ESTIMATOR.with(|e| *e.borrow_mut() = Some(Box::new(estimator) as Estimator));
    #[cfg(feature = "strength")]
    drop(estimator);
}

#[cfg(feature = "strength")]
fn estimate(password: &str, context: &[&str]) -> Option<Estimate> {
    Some(kluis_strength::estimate(password, context))
}

#[cfg(not(feature = "strength"))]
fn estimate(password: &str, context: &[&str]) -> Option<Estimate> {
    ESTIMATOR.with(|e| e.borrow().as_ref().and_then(|f| f(password, context)))
}

/// Measures a password against the rule and the strength estimate;
/// `context` holds words the password should not be built on (the e-mail
/// address, the name).
pub fn check_password(password: &str, context: &[&str]) -> PasswordCheck {
    // Judge what OPAQUE will see: the decomposed form would count its
    // combining marks as characters of their own.
    let password: &str = &opaque_password(password);
    let mut rule_problems = Vec::new();
    if password.chars().count() < MIN_PASSWORD_CHARS {
        rule_problems.push("at least 8 characters");
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        rule_problems.push("a digit");
    }
    if !password.chars().any(char::is_uppercase) {
        rule_problems.push("an uppercase letter");
    }
    let estimate = estimate(password, context);
    PasswordCheck {
        rule_problems,
        score: estimate.as_ref().map(|e| e.score.min(4)),
        feedback: estimate.and_then(|e| e.feedback),
    }
}

/// Refuses a password that fails the rule or is too easy to guess, saying
/// why.
pub fn require_acceptable(password: &str, context: &[&str]) -> Result<()> {
    let check = check_password(password, context);
    if !check.rule_problems.is_empty() {
        return Err(Error::WeakPassword(format!(
            "it needs {}",
            check.rule_problems.join(", ")
        )));
    }
    let Some(score) = check.score else {
        return Err(Error::StrengthUnavailable);
    };
    if score < MIN_STRENGTH_SCORE {
        return Err(Error::WeakPassword(format!(
            "it is too easy to guess{}",
            check.feedback.map(|f| format!(": {f}")).unwrap_or_default()
        )));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_names_what_is_missing() {
        assert_eq!(
            check_password("short1A", &[]).rule_problems,
            vec!["at least 8 characters"]
        );
        assert_eq!(
            check_password("alllowercase", &[]).rule_problems,
            vec!["a digit", "an uppercase letter"]
        );
        assert!(check_password("Vliegende-Kiwi-42", &[]).acceptable());
    }

    #[test]
    fn nfd_and_nfc_are_one_password() {
        let nfc = "Zo\u{eb}-Vliegt-42";
        let nfd = "Zoe\u{308}-Vliegt-42";
        assert_ne!(nfc.as_bytes(), nfd.as_bytes());
        assert_eq!(opaque_password(nfd).as_bytes(), nfc.as_bytes());
        assert_eq!(opaque_password(nfc).as_bytes(), nfc.as_bytes());
        // Nothing but normalisation: case, spaces and compatibility
        // characters stay.
        for kept in [" Wacht Woord 1 ", "\u{ff37}acht-\u{fb01}-1", "\tTab9"] {
            assert_eq!(*opaque_password(kept), kept);
        }
        // The rule counts characters after normalisation: seven, where the
        // NFD form has eight code points.
        assert_eq!(
            check_password("Zoe\u{308}abc1", &[]).rule_problems,
            vec!["at least 8 characters"]
        );
    }

    #[test]
    fn meeting_the_rule_is_not_enough_when_guessable() {
        let check = check_password("Password1", &[]);
        assert!(check.rule_problems.is_empty());
        assert!(!check.acceptable(), "score {:?}", check.score);
        let err = require_acceptable("Password1", &[]).unwrap_err();
        assert!(err.to_string().contains("too easy to guess"), "{err}");
        // Built on the user's own name: the estimate counts that.
        let own = check_password("Keesjanssen19", &["kees", "janssen"]);
        let other = check_password("Keesjanssen19", &[]);
        assert!(own.score <= other.score, "{own:?} vs {other:?}");
    }
}
