//! The e-mails Kluis sends, in Dutch and English, as plain text and HTML.
//!
//! Each says only that something happened and carries a link: never
//! content, never a file name, never the name of another person, never the
//! device label a login chose (it is attacker-chosen text). The only
//! user-supplied text in any mail is the organisation's name in an
//! invitation, escaped in the HTML part.

use crate::language::Language;
use crate::org::role::Role;

/// One e-mail, ready for the outbox.
#[derive(Debug)]
pub struct Mail {
    /// What kind it is (for the log, metrics and the `X-Kluis-Kind` header;
    /// not secret).
    pub kind: &'static str,
    /// The language it is written in.
    pub language: Language,
    /// Subject line.
    pub subject: String,
    /// Paragraphs, in order; the link (if any) follows the first.
    paragraphs: Vec<String>,
    /// The one link, with the words it is shown as in HTML.
    link: Option<(String, String)>,
}

impl Mail {
    /// The plain-text body.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (i, p) in self.paragraphs.iter().enumerate() {
            out.push_str(p);
            out.push_str("\n\n");
            if i == 0 {
                if let Some((url, _)) = &self.link {
                    out.push_str(url);
                    out.push_str("\n\n");
                }
            }
        }
        out.push_str("-- \nKluis\n");
        out
    }

    /// The HTML body: the same paragraphs, escaped, and the link as a
    /// button-like anchor. No images, no remote content, no tracking.
    pub fn html(&self) -> String {
        let mut out = format!(
            "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
             <body style=\"font-family: sans-serif; max-width: 40em;\">\n",
            self.language.code(),
            escape(&self.subject)
        );
        for (i, p) in self.paragraphs.iter().enumerate() {
            out.push_str(&format!("<p>{}</p>\n", escape(p)));
            if i == 0 {
                if let Some((url, words)) = &self.link {
                    out.push_str(&format!(
                        "<p><a href=\"{}\">{}</a></p>\n<p style=\"font-size: small;\">{}</p>\n",
                        escape(url),
                        escape(words),
                        escape(url)
                    ));
                }
            }
        }
        out.push_str("<p>&mdash;<br>Kluis</p>\n</body></html>\n");
        out
    }
}

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn mail(
    kind: &'static str,
    language: Language,
    subject: &str,
    paragraphs: &[&str],
    link: Option<(&str, &str)>,
) -> Mail {
    Mail {
        kind,
        language,
        subject: subject.to_owned(),
        paragraphs: paragraphs.iter().map(|p| (*p).to_owned()).collect(),
        link: link.map(|(url, words)| (url.to_owned(), words.to_owned())),
    }
}

fn role_name(lang: Language, role: Role) -> &'static str {
    match role {
        Role::Manager => lang.pick("organisatiebeheerder", "organisation manager"),
        Role::Coach => "coach",
        Role::Client => lang.pick("cliënt", "client"),
    }
}

/// An invitation to join an organisation.
pub(crate) fn invitation(
    lang: Language,
    organisation: &str,
    role: Role,
    link: &str,
    valid_days: u64,
) -> Mail {
    let role = role_name(lang, role);
    let (first, second) = match lang {
        Language::Nl => (
            format!("U bent uitgenodigd om als {role} deel te nemen aan {organisation} in Kluis. Open deze link binnen {valid_days} dagen om de uitnodiging aan te nemen:"),
            "Verwachtte u deze uitnodiging niet, dan kunt u deze e-mail negeren.".to_owned(),
        ),
        Language::En => (
            format!("You are invited to join {organisation} in Kluis as a {role}. Open this link within {valid_days} days to accept:"),
            "If you did not expect this invitation, you can ignore this e-mail.".to_owned(),
        ),
    };
    mail(
        "invitation",
        lang,
        lang.pick("Uitnodiging voor Kluis", "You are invited to Kluis"),
        &[&first, &second],
        Some((link, lang.pick("Uitnodiging openen", "Open the invitation"))),
    )
}

/// Proof of an e-mail address.
pub(crate) fn verify_email(lang: Language, link: &str) -> Mail {
    mail(
        "verify_email",
        lang,
        lang.pick(
            "Bevestig uw e-mailadres voor Kluis",
            "Confirm your e-mail address for Kluis",
        ),
        &[
            lang.pick(
                "Bevestig dit e-mailadres voor uw Kluis-account door binnen 48 uur deze link te openen:",
                "Please confirm this e-mail address for your Kluis account by opening this link within 48 hours:",
            ),
            lang.pick(
                "Heeft u hier niet om gevraagd, dan kunt u deze e-mail negeren.",
                "If you did not ask for this, you can ignore this e-mail.",
            ),
        ],
        Some((link, lang.pick("E-mailadres bevestigen", "Confirm the address"))),
    )
}

/// A password-reset link.
pub(crate) fn password_reset(lang: Language, link: &str) -> Mail {
    mail(
        "password_reset",
        lang,
        lang.pick("Uw Kluis-wachtwoord opnieuw instellen", "Reset your Kluis password"),
        &[
            lang.pick(
                "Iemand heeft gevraagd het wachtwoord van uw Kluis-account opnieuw in te stellen. Was u dat, open dan binnen een uur deze link:",
                "Someone asked to reset the password of your Kluis account. If that was you, open this link within one hour:",
            ),
            lang.pick(
                "Na het opnieuw instellen herstelt u uw sleutels met uw herstelsleutel. Heeft u hier niet om gevraagd, negeer deze e-mail dan: uw wachtwoord blijft zoals het is.",
                "After the reset you restore your keys with your recovery key. If you did not ask for this, ignore this e-mail: your password stays as it is.",
            ),
        ],
        Some((link, lang.pick("Wachtwoord opnieuw instellen", "Reset the password"))),
    )
}

/// A notice that the password was changed.
pub(crate) fn password_changed(lang: Language) -> Mail {
    mail(
        "password_changed",
        lang,
        lang.pick("Uw Kluis-wachtwoord is gewijzigd", "Your Kluis password was changed"),
        &[lang.pick(
            "Het wachtwoord van uw Kluis-account is zojuist gewijzigd en andere sessies zijn afgemeld. Was u dit niet, neem dan direct contact op met uw organisatie.",
            "The password of your Kluis account was just changed and other sessions were logged out. If this was not you, contact your organisation at once.",
        )],
        None,
    )
}

/// A notice to the old address that the member, logged in, asked to
/// change the account's e-mail address (it takes effect from the new
/// mailbox).
pub(crate) fn email_change_notice(lang: Language) -> Mail {
    mail(
        "email_change_notice",
        lang,
        lang.pick(
            "Het e-mailadres van uw Kluis-account wordt gewijzigd",
            "Your Kluis e-mail address is being changed",
        ),
        &[lang.pick(
            "Vanuit uw Kluis-account is gevraagd het e-mailadres te wijzigen. De wijziging gaat in zodra het nieuwe adres is bevestigd. Was u dit niet, wijzig dan direct uw wachtwoord en neem contact op met uw organisatie.",
            "A change of the e-mail address was asked for from within your Kluis account. It takes effect once the new address is confirmed. If this was not you, change your password at once and contact your organisation.",
        )],
        None,
    )
}

/// To the current address: a manager proposed a new address. Nothing
/// changes unless the member confirms; the link confirms or refuses it.
/// The proposed address is not in the mail (a manager chose it); the
/// link's page and the account show it.
pub(crate) fn email_change_proposed(lang: Language, link: &str) -> Mail {
    mail(
        "email_change_proposed",
        lang,
        lang.pick(
            "Voorstel om uw Kluis-e-mailadres te wijzigen",
            "A proposal to change your Kluis e-mail address",
        ),
        &[
            lang.pick(
                "Een beheerder van uw organisatie stelt een nieuw e-mailadres voor uw Kluis-account voor. Er verandert niets tenzij u het bevestigt. Open deze link om het voorstel te bekijken en te bevestigen of te weigeren (of log in en bevestig het daar):",
                "A manager of your organisation proposes a new e-mail address for your Kluis account. Nothing changes unless you confirm it. Open this link to see the proposal and confirm or refuse it (or log in and confirm it there):",
            ),
            lang.pick(
                "Tot u bevestigt, blijven inloggen, het herstellen van uw wachtwoord en alle berichten bij dit adres. Komt dit onverwacht, weiger het voorstel dan en neem contact op met uw organisatie.",
                "Until you confirm, login, password resets and every notice stay with this address. If this is unexpected, refuse the proposal and contact your organisation.",
            ),
        ],
        Some((link, lang.pick("Voorstel bekijken", "See the proposal"))),
    )
}

/// To the old address, once a change took effect.
pub(crate) fn email_changed(lang: Language) -> Mail {
    mail(
        "email_changed",
        lang,
        lang.pick(
            "Het e-mailadres van uw Kluis-account is gewijzigd",
            "Your Kluis e-mail address was changed",
        ),
        &[lang.pick(
            "Het e-mailadres van uw Kluis-account is zojuist gewijzigd; berichten gaan voortaan naar het nieuwe adres. Was u dit niet, neem dan direct contact op met uw organisatie.",
            "The e-mail address of your Kluis account was just changed; mail now goes to the new address. If this was not you, contact your organisation at once.",
        )],
        None,
    )
}

/// To a coach: one of their clients asked to erase their account soon
/// after its password, address or keys changed, so the erasure waits. No
/// name: the coach finds out which client from their own trajectories.
pub(crate) fn client_deletion_scheduled(lang: Language, due_date: &str) -> Mail {
    let (first, second) = match lang {
        Language::Nl => (
            format!("Een van uw cliënten heeft gevraagd zijn of haar Kluis-account te verwijderen, kort nadat het wachtwoord, het e-mailadres of de sleutels van dat account zijn gewijzigd. Om uw gezamenlijke gegevens te beschermen tegen iemand die het account mogelijk heeft overgenomen, wordt het account pas op {due_date} verwijderd, met alle berichten, notities en bestanden van het traject."),
            "Twijfelt u of dit verzoek van uw cliënt komt, neem dan contact op met uw cliënt (niet door op deze e-mail te antwoorden) en met uw organisatie.".to_owned(),
        ),
        Language::En => (
            format!("One of your clients asked to delete their Kluis account shortly after its password, e-mail address or keys changed. To protect your shared records from someone who may have taken the account over, the account is deleted only on {due_date}, with every message, note and file of the trajectory."),
            "If you doubt that the request came from your client, contact your client (not by replying to this e-mail) and your organisation.".to_owned(),
        ),
    };
    mail(
        "client_deletion_scheduled",
        lang,
        lang.pick(
            "Een cliënt laat zijn Kluis-account verwijderen",
            "A client is having their Kluis account deleted",
        ),
        &[&first, &second],
        None,
    )
}

/// To the client: the erasure they asked for is scheduled, and how to
/// stop it.
pub(crate) fn deletion_scheduled(lang: Language, due_date: &str) -> Mail {
    let first = match lang {
        Language::Nl => format!("Uw Kluis-account wordt op {due_date} verwijderd, met alle gegevens van uw trajecten. Omdat kort daarvoor het wachtwoord, het e-mailadres of de sleutels van uw account zijn gewijzigd, gebeurt dat niet direct, en uw coaches zijn op de hoogte gebracht."),
        Language::En => format!("Your Kluis account will be deleted on {due_date}, with all data of your trajectories. Because its password, e-mail address or keys changed shortly before, this does not happen at once, and your coaches were told."),
    };
    mail(
        "deletion_scheduled",
        lang,
        lang.pick(
            "Uw Kluis-account wordt verwijderd",
            "Your Kluis account will be deleted",
        ),
        &[
            &first,
            lang.pick(
                "Wilt u dit niet, log dan in en annuleer de verwijdering. Heeft u er niet om gevraagd, wijzig dan ook direct uw wachtwoord en neem contact op met uw organisatie.",
                "If you do not want this, log in and cancel the deletion. If you did not ask for it, also change your password at once and contact your organisation.",
            ),
        ],
        None,
    )
}

/// Something new (a message or a file) waits in one of the user's
/// relationships. It does not say which, from whom, or how many.
pub(crate) fn activity(lang: Language, link: &str) -> Mail {
    mail(
        "activity",
        lang,
        lang.pick(
            "Er staat iets nieuws voor u klaar in Kluis",
            "Something new is waiting for you in Kluis",
        ),
        &[
            lang.pick(
                "Er is een nieuw bericht of bestand voor u in Kluis. Log in om het te lezen:",
                "There is a new message or file for you in Kluis. Log in to read it:",
            ),
            lang.pick(
                "U kunt deze meldingen uitzetten in uw instellingen in Kluis.",
                "You can turn these notifications off in your settings in Kluis.",
            ),
        ],
        Some((link, lang.pick("Naar Kluis", "Open Kluis"))),
    )
}

/// A login from a device not seen before on this account.
pub(crate) fn new_login(lang: Language) -> Mail {
    mail(
        "new_login",
        lang,
        lang.pick("Nieuwe aanmelding bij Kluis", "New login to Kluis"),
        &[
            lang.pick(
                "Er is zojuist vanaf een nieuw apparaat op uw Kluis-account ingelogd.",
                "Your Kluis account was just logged in to from a new device.",
            ),
            lang.pick(
                "Was u dit niet, wijzig dan uw wachtwoord en meld u overal af.",
                "If this was not you, change your password and log out everywhere.",
            ),
        ],
        None,
    )
}

/// Someone the user works with has new keys (after a lost password).
pub(crate) fn peer_key_changed(lang: Language, link: &str) -> Mail {
    mail(
        "peer_key_changed",
        lang,
        lang.pick(
            "Iemand met wie u werkt in Kluis heeft nieuwe sleutels",
            "Someone you work with in Kluis has new keys",
        ),
        &[
            lang.pick(
                "Iemand met wie u in Kluis samenwerkt heeft nieuwe sleutels. Vergelijk de veiligheidscode met die persoon, bij voorkeur in een gesprek, voordat u verder gaat:",
                "Someone you work with in Kluis has new keys. Compare the safety number with them, preferably in person, before you continue:",
            ),
            lang.pick(
                "Dit gebeurt na een verloren wachtwoord zonder herstelsleutel. Verwachtte u dit niet, neem dan contact op met die persoon.",
                "This happens after a lost password without the recovery key. If you did not expect it, contact that person.",
            ),
        ],
        Some((link, lang.pick("Naar Kluis", "Open Kluis"))),
    )
}

/// A change of the account's two-factor login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TwoFactorChange {
    /// An authenticator was set up.
    Enabled,
    /// Two-factor login was turned off.
    Disabled,
    /// New recovery codes replaced the old ones.
    NewRecoveryCodes,
}

/// The account's two-factor login changed.
pub(crate) fn two_factor_changed(lang: Language, change: TwoFactorChange) -> Mail {
    let (kind, subject, what) = match change {
        TwoFactorChange::Enabled => (
            "two_factor_enabled",
            lang.pick("Tweestapsverificatie staat aan", "Two-factor login is on"),
            lang.pick(
                "Voor uw Kluis-account is zojuist tweestapsverificatie ingesteld; andere sessies zijn afgemeld.",
                "Two-factor login was just set up for your Kluis account; other sessions were logged out.",
            ),
        ),
        TwoFactorChange::Disabled => (
            "two_factor_disabled",
            lang.pick("Tweestapsverificatie staat uit", "Two-factor login is off"),
            lang.pick(
                "Voor uw Kluis-account is tweestapsverificatie zojuist uitgezet.",
                "Two-factor login was just turned off for your Kluis account.",
            ),
        ),
        TwoFactorChange::NewRecoveryCodes => (
            "recovery_codes_renewed",
            lang.pick("Nieuwe herstelcodes voor Kluis", "New recovery codes for Kluis"),
            lang.pick(
                "Voor uw Kluis-account zijn nieuwe herstelcodes gemaakt; de oude werken niet meer.",
                "New recovery codes were made for your Kluis account; the old ones no longer work.",
            ),
        ),
    };
    mail(
        kind,
        lang,
        subject,
        &[
            what,
            lang.pick(
                "Was u dit niet, wijzig dan direct uw wachtwoord en neem contact op met uw organisatie.",
                "If this was not you, change your password at once and contact your organisation.",
            ),
        ],
        None,
    )
}

/// A recovery code was used to log in.
pub(crate) fn recovery_code_used(lang: Language) -> Mail {
    mail(
        "recovery_code_used",
        lang,
        lang.pick("Er is ingelogd met een herstelcode", "A recovery code was used to log in"),
        &[
            lang.pick(
                "Er is zojuist op uw Kluis-account ingelogd met een van uw herstelcodes. Die code werkt niet nog eens.",
                "Your Kluis account was just logged in to with one of your recovery codes. That code will not work again.",
            ),
            lang.pick(
                "Was u dit niet, wijzig dan direct uw wachtwoord, meld u overal af en maak nieuwe herstelcodes.",
                "If this was not you, change your password at once, log out everywhere and make new recovery codes.",
            ),
        ],
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_html_carry_the_link_and_escape_user_text() {
        let m = invitation(
            Language::En,
            "<b>Praktijk & Co</b>",
            Role::Client,
            "https://k.nl/accept#token=abc",
            7,
        );
        let text = m.text();
        assert!(text.contains("\nhttps://k.nl/accept#token=abc\n"));
        assert!(text.contains("<b>Praktijk & Co</b>"));
        let html = m.html();
        assert!(html.contains("&lt;b&gt;Praktijk &amp; Co&lt;/b&gt;"));
        assert!(!html.contains("<b>Praktijk"));
        assert!(html.contains("href=\"https://k.nl/accept#token=abc\""));
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    }

    #[test]
    fn dutch_and_english_differ() {
        let nl = activity(Language::Nl, "https://k.nl/");
        let en = activity(Language::En, "https://k.nl/");
        assert_ne!(nl.subject, en.subject);
        assert!(nl.text().contains("Log in om het te lezen"));
        assert!(en.text().contains("Log in to read it"));
        assert!(nl.html().contains("lang=\"nl\""));
    }
}
