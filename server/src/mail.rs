//! The e-mails Kluis sends. Each says only that something happened and
//! carries a link; never content, never a file name, never the name of
//! another person. (Dutch versions and HTML come with the notifications
//! issue.)

use crate::role::Role;

/// One e-mail, ready for the outbox.
#[derive(Debug)]
pub struct Mail {
    /// What kind it is (for the log and metrics; not secret).
    pub kind: &'static str,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Manager => "organisation manager",
        Role::Coach => "coach",
        Role::Client => "client",
    }
}

/// An invitation to join an organisation.
pub fn invitation(organisation: &str, role: Role, link: &str, valid_days: u64) -> Mail {
    Mail {
        kind: "invitation",
        subject: "You are invited to Kluis".to_owned(),
        body: format!(
            "You are invited to join {organisation} in Kluis as a {}.\n\n\
             Open this link within {valid_days} days to accept:\n{link}\n\n\
             If you did not expect this invitation, you can ignore this e-mail.\n",
            role_name(role)
        ),
    }
}

/// Proof of an e-mail address.
pub fn verify_email(link: &str) -> Mail {
    Mail {
        kind: "verify_email",
        subject: "Confirm your e-mail address for Kluis".to_owned(),
        body: format!(
            "Please confirm this e-mail address for your Kluis account by opening this link \
             within 48 hours:\n{link}\n\n\
             If you did not ask for this, you can ignore this e-mail.\n"
        ),
    }
}

/// A password-reset link.
pub fn password_reset(link: &str) -> Mail {
    Mail {
        kind: "password_reset",
        subject: "Reset your Kluis password".to_owned(),
        body: format!(
            "Someone asked to reset the password of your Kluis account. If that was you, \
             open this link within one hour:\n{link}\n\n\
             After the reset you restore your keys with your recovery key. If you did not \
             ask for this, ignore this e-mail: your password stays as it is.\n"
        ),
    }
}

/// A notice that the password was changed by a reset.
pub fn password_changed() -> Mail {
    Mail {
        kind: "password_changed",
        subject: "Your Kluis password was changed".to_owned(),
        body: "The password of your Kluis account was just changed and every session was \
               logged out. If this was not you, contact your organisation at once.\n"
            .to_owned(),
    }
}

/// A notice to the old address that the account's e-mail is being changed.
pub fn email_change_notice() -> Mail {
    Mail {
        kind: "email_change_notice",
        subject: "Your Kluis e-mail address is being changed".to_owned(),
        body: "A manager of your organisation asked to change the e-mail address of your \
               Kluis account. The change takes effect once the new address is confirmed. \
               If this is unexpected, contact your organisation.\n"
            .to_owned(),
    }
}
