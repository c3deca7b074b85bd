//! The account's e-mail address. It is where password-reset links go, so a
//! manager only proposes a new one for a member (`propose`); the member
//! confirms or refuses it, logged in or from the link mailed to the
//! current address, and until then nothing changes.

use serde_json::json;

use super::only_organisation;
use crate::cli::args::EmailCommand;
use crate::cli::context::{with_session, Context};
use crate::cli::failure::{none_waiting, Outcome};
use crate::parse_user_id;

/// What the server answers `404` to when no proposal waits.
const NO_PROPOSAL: &str = "no new address is proposed for your account";

pub(crate) async fn run(ctx: &mut Context, cmd: EmailCommand) -> Outcome {
    match cmd {
        EmailCommand::Confirm { link: Some(link) } => confirm_by_link(ctx, &link).await,
        EmailCommand::Confirm { link: None } => confirm(ctx).await,
        EmailCommand::Refuse { link: Some(link) } => refuse_by_link(ctx, &link).await,
        EmailCommand::Refuse { link: None } => refuse(ctx).await,
        EmailCommand::Propose {
            member,
            new_email,
            organisation,
        } => propose(ctx, &member, &new_email, organisation).await,
    }
}

/// Confirms the waiting proposal, logged in (the login is the recent
/// password proof the server asks for), and remembers the new address for
/// the next command's login.
async fn confirm(ctx: &mut Context) -> Outcome {
    let (server, old, new) = with_session(ctx, |s| async move {
        let out = async {
            s.confirm_proposed_email()
                .await
                .map_err(none_waiting(NO_PROPOSAL))?;
            let me = s.me().await?;
            Ok((s.server().to_owned(), s.email().to_owned(), me.email))
        }
        .await;
        (s, out)
    })
    .await?;
    ctx.remember(&server, &new)?;
    ctx.print(
        &format!(
            "Your account's address is now {new}: log in with it from now on. \
             Open the link sent there to prove it; {old} was told of the change."
        ),
        json!({"status": "email_changed", "email": new}),
    );
    Ok(())
}

async fn refuse(ctx: &Context) -> Outcome {
    let email = with_session(ctx, |s| async move {
        let out = s
            .refuse_proposed_email()
            .await
            .map_err(none_waiting(NO_PROPOSAL));
        let email = s.email().to_owned();
        (s, out.map(|()| email))
    })
    .await?;
    ctx.print(
        &format!("Refused: your address stays {email}."),
        json!({"status": "email_change_refused", "email": email}),
    );
    Ok(())
}

async fn confirm_by_link(ctx: &Context, link: &str) -> Outcome {
    let server = ctx.server_for(link)?;
    ctx.kluis(Some(&server))?.confirm_email_change(link).await?;
    // The answer does not name the address: the link may have come to a
    // machine that knows nothing of the account.
    ctx.print(
        "Confirmed: the proposed address is now your account's address. Log in with it \
         from now on (kluis --email NEW-ADDRESS login), and open the link sent there to prove it.",
        json!({"status": "email_changed"}),
    );
    Ok(())
}

async fn refuse_by_link(ctx: &Context, link: &str) -> Outcome {
    let server = ctx.server_for(link)?;
    ctx.kluis(Some(&server))?.refuse_email_change(link).await?;
    ctx.print(
        "Refused: your address stays as it was.",
        json!({"status": "email_change_refused"}),
    );
    Ok(())
}

async fn propose(
    ctx: &Context,
    member: &str,
    new_email: &str,
    organisation: Option<String>,
) -> Outcome {
    let member = parse_user_id(member)?;
    with_session(ctx, |s| async move {
        let out = async {
            let org = only_organisation(&s.me().await?, organisation)?;
            s.propose_member_email(&org, member, new_email).await?;
            Ok(())
        }
        .await;
        (s, out)
    })
    .await?;
    ctx.print(
        &format!(
            "Proposed {new_email} for {member}. Nothing changes until they confirm it; \
             the e-mail about it went to their current address."
        ),
        json!({"status": "proposed", "member": member.to_string(), "email": new_email}),
    );
    Ok(())
}
