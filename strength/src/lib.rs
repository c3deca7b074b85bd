//! The password strength estimate Kluis applies before a password is used
//! (DESIGN: the server never sees a password, so the client is where weak
//! ones are turned away).
//!
//! The SDK links this crate natively. The web client loads it as a second,
//! separate WebAssembly module, only on the screens where a password is
//! chosen: zxcvbn's dictionaries, regexes and calendar are about a third of
//! the SDK's module, which every visit would otherwise download to sign in.
//! The SDK stays the one that decides: it normalises the password, checks
//! the rule and asks this estimate for the score
//! (`kluis_sdk::password::check_password`).

/// What the estimate says of a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    /// zxcvbn's score: 0 (guessed at once) to 4 (very strong).
    pub score: u8,
    /// Its warning and suggestions in one sentence, if it has any.
    pub feedback: Option<String>,
}

/// Estimates how hard `password` is to guess; `context` holds words it
/// should not be built on (the e-mail address, the name), which count as
/// guessed at once.
#[cfg(feature = "estimate")]
pub fn estimate(password: &str, context: &[&str]) -> Estimate {
    let entropy = zxcvbn::zxcvbn(password, context);
    let feedback = entropy.feedback().and_then(|f| {
        let mut parts: Vec<String> = f.warning().map(|w| w.to_string()).into_iter().collect();
        parts.extend(f.suggestions().iter().map(|s| s.to_string()));
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    Estimate {
        score: u8::from(entropy.score()),
        feedback,
    }
}

/// The estimate for the web page: `estimate(password, context)` gives
/// `{ score, feedback }`. The page hands this function to the SDK
/// (`KluisClient.useStrengthEstimate`), which calls it.
#[cfg(all(feature = "estimate", target_arch = "wasm32", target_os = "unknown"))]
mod wasm {
    use wasm_bindgen::prelude::*;

    /// `{ score, feedback }` of [`super::estimate`].
    #[wasm_bindgen(getter_with_clone)]
    #[derive(Debug)]
    pub struct Strength {
        /// 0 to 4.
        pub score: u8,
        /// Advice, if any.
        pub feedback: Option<String>,
    }

    /// Estimates `password`, with `context` the words it should not be
    /// built on.
    #[wasm_bindgen]
    #[cfg(feature = "estimate")]
    pub fn estimate(password: &str, context: Vec<String>) -> Strength {
        let context: Vec<&str> = context.iter().map(String::as_str).collect();
        let e = super::estimate(password, &context);
        Strength {
            score: e.score,
            feedback: e.feedback,
        }
    }
}

#[cfg(all(test, feature = "estimate"))]
mod tests {
    use super::*;

    #[test]
    fn common_and_personal_passwords_score_low() {
        assert!(estimate("Password1", &[]).score < 2);
        assert!(estimate("Vliegende-Kiwi-42", &[]).score >= 3);
        let own = estimate("Keesjanssen19", &["kees", "janssen"]);
        let other = estimate("Keesjanssen19", &[]);
        assert!(own.score <= other.score, "{own:?} vs {other:?}");
        assert!(estimate("Password1", &[]).feedback.is_some());
    }
}
