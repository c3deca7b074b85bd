//! Invitations: sending one (managers invite coaches and managers, coaches
//! invite clients) and accepting one into another organisation.

use crate::Role;
use serde_json::json;

use super::only_organisation;
use crate::cli::context::{with_session, Context};
use crate::cli::failure::{Failure, Outcome};

pub(crate) async fn invite(
    ctx: &Context,
    email: String,
    role: Role,
    organisation: Option<String>,
) -> Outcome {
    let json = ctx.json;
    with_session(ctx, |s| async move {
        let out = async {
            let org = only_organisation(&s.me().await?, organisation)?;
            let sent = s.invite(&org, &email, role).await?;
            if json {
                println!("{}", json!(sent));
            } else {
                println!("Invitation sent to {email} as {role}.");
            }
            Ok(())
        }
        .await;
        (s, out)
    })
    .await
}

pub(crate) async fn accept(ctx: &Context, link: String) -> Outcome {
    with_session(ctx, |s| async move {
        let out = s.accept_invitation(&link).await.map_err(Failure::from);
        (s, out)
    })
    .await?;
    ctx.print("Invitation accepted.", json!({"status": "joined"}));
    Ok(())
}
