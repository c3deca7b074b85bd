//! Relationships (trajectories): listing them, a coach opening one with a
//! client, and adding or removing a member (each a new epoch).

use crate::{parse_relationship_id, parse_user_id, Session};
use serde_json::json;

use super::only_organisation;
use crate::cli::args::RelationshipCommand;
use crate::cli::context::{with_session, Context};
use crate::cli::failure::Outcome;

pub(crate) async fn run(ctx: &Context, cmd: RelationshipCommand) -> Outcome {
    let json = ctx.json;
    with_session(ctx, |mut s| async move {
        let out = match cmd {
            RelationshipCommand::List => list(&mut s, json).await,
            RelationshipCommand::Open {
                client,
                organisation,
            } => open(&mut s, &client, organisation, json).await,
            RelationshipCommand::Add { relationship, user } => {
                add(&mut s, &relationship, &user).await
            }
            RelationshipCommand::Remove { relationship, user } => {
                remove(&mut s, &relationship, &user).await
            }
        };
        (s, out)
    })
    .await
}

async fn list(s: &mut Session, json: bool) -> Outcome {
    let list = s.relationships().await?;
    if json {
        println!("{}", json!(list));
    } else {
        for r in &list {
            let members: Vec<String> = r
                .current_members()
                .map(|m| format!("{} ({}, {})", m.display_name, m.role, m.account_id))
                .collect();
            println!(
                "{} epoch {}: {}",
                r.relationship_id,
                r.current_epoch,
                members.join(", ")
            );
        }
    }
    Ok(())
}

async fn open(s: &mut Session, client: &str, organisation: Option<String>, json: bool) -> Outcome {
    let client = parse_user_id(client)?;
    let org = only_organisation(&s.me().await?, organisation)?;
    let rid = s.open_relationship(&org, client).await?;
    if json {
        println!("{}", json!({"relationship_id": rid.to_string()}));
    } else {
        println!("Opened relationship {rid}.");
    }
    Ok(())
}

async fn add(s: &mut Session, relationship: &str, user: &str) -> Outcome {
    let epoch = s
        .add_member(parse_relationship_id(relationship)?, parse_user_id(user)?)
        .await?;
    println!("Added; the relationship is at epoch {epoch}.");
    Ok(())
}

async fn remove(s: &mut Session, relationship: &str, user: &str) -> Outcome {
    let epoch = s
        .remove_member(parse_relationship_id(relationship)?, parse_user_id(user)?)
        .await?;
    println!("Removed; the relationship is at epoch {epoch}.");
    Ok(())
}
