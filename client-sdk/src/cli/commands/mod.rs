//! The subcommands, one module per group, and [`run`], which sends each
//! parsed command to its function; what they share (which organisation,
//! text from the arguments or standard input) is here.

mod account;
mod dialogue;
mod email;
mod files;
mod invitations;
mod notes;
mod privacy;
mod relationship;
mod sessions;
mod settings;
mod two_factor;
mod verify;
mod web;

use std::io::Read as _;

use super::args::{Cli, Command, NoteCommand};
use super::context::Context;
use super::failure::{usage, Failure, Outcome};

pub(crate) async fn run(cli: Cli) -> Outcome {
    let mut ctx = Context::new(&cli);
    match cli.command {
        Command::Setup {
            link,
            organisation,
            name,
        } => account::setup(&mut ctx, &link, &organisation, &name).await,
        Command::Signup { link, name } => account::signup(&mut ctx, &link, &name).await,
        Command::Login => account::login(&mut ctx).await,
        Command::Logout { everywhere } => account::logout(&mut ctx, everywhere).await,
        Command::Whoami => account::whoami(&ctx).await,
        Command::Privacy { acknowledge } => privacy::notice(&ctx, acknowledge).await,
        Command::Settings {
            language,
            activity_emails,
        } => settings::change(&ctx, language, activity_emails).await,
        Command::Email(cmd) => email::run(&mut ctx, cmd).await,
        Command::Invite {
            invitee,
            role,
            organisation,
        } => invitations::invite(&ctx, invitee, role, organisation).await,
        Command::Accept { link } => invitations::accept(&ctx, link).await,
        Command::Relationship(cmd) => relationship::run(&ctx, cmd).await,
        Command::TwoFactor(cmd) => two_factor::run(&ctx, cmd).await,
        Command::Send { relationship, text } => dialogue::send(&ctx, &relationship, text).await,
        Command::Read { relationship } => dialogue::read(&ctx, &relationship).await,
        Command::Follow {
            relationship,
            every,
        } => dialogue::follow(&ctx, &relationship, every).await,
        Command::Attach {
            relationship,
            file,
            media_type,
        } => files::attach(&ctx, &relationship, &file, media_type).await,
        Command::Download {
            relationship,
            item,
            out,
        } => files::download(&ctx, &relationship, &item, out).await,
        Command::Delete { relationship, item } => {
            dialogue::delete(&ctx, &relationship, &item).await
        }
        Command::Note(NoteCommand::Add { relationship, text }) => {
            notes::add(&ctx, &relationship, text).await
        }
        Command::Verify {
            user,
            compare,
            accept_change,
        } => verify::run(&ctx, &user, compare, accept_change).await,
        Command::Export { out } => privacy::export(&ctx, out).await,
        Command::Data { out } => privacy::data(&ctx, out).await,
        Command::VerifyWeb { url, manifest } => web::verify(&url, &manifest, cli.json).await,
        Command::DeleteAccount { cancel: true, .. } => account::cancel_deletion(&ctx).await,
        Command::DeleteAccount { yes, .. } => account::delete_account(&mut ctx, yes).await,
        Command::Sessions { revoke } => sessions::run(&ctx, revoke).await,
        Command::ChangePassword => account::change_password(&ctx).await,
        Command::ForgotPassword => account::forgot_password(&ctx).await,
        Command::ResetPassword { link, code, sms } => {
            account::reset_password(&ctx, &link, code, sms).await
        }
        Command::Recover { new_identity } => account::recover(&mut ctx, new_identity).await,
    }
}

/// The organisation given, or the only one the account belongs to.
fn only_organisation(me: &crate::Me, given: Option<String>) -> Result<String, Failure> {
    if let Some(o) = given {
        return Ok(o);
    }
    match me.memberships.as_slice() {
        [one] => Ok(one.organisation_id.clone()),
        [] => Err(usage("this account belongs to no organisation")),
        _ => Err(usage(
            "you belong to several organisations: give --organisation",
        )),
    }
}

/// The words given, or with a lone `-` standard input (for longer text and
/// scripts).
fn text_arg(words: Vec<String>) -> Result<String, Failure> {
    if words.len() == 1 && words.first().is_some_and(|w| w == "-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        return Ok(text.trim_end().to_owned());
    }
    let text = words.join(" ");
    if text.trim().is_empty() {
        return Err(usage("nothing to send"));
    }
    Ok(text)
}
