//! Relationships (trajectories): listing them, a coach opening one with a
//! client, adding or removing a member (each a new epoch), and the members
//! and history its signed membership chain proves.

use std::collections::BTreeMap;

use kluis_crypto::membership::MemberRole;

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
            RelationshipCommand::Add {
                relationship,
                user,
                client,
            } => add(&mut s, &relationship, &user, client).await,
            RelationshipCommand::Members { relationship } => {
                members(&mut s, &relationship, json).await
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

async fn add(s: &mut Session, relationship: &str, user: &str, client: bool) -> Outcome {
    let role = if client {
        MemberRole::Client
    } else {
        MemberRole::Coach
    };
    let epoch = s
        .add_member(
            parse_relationship_id(relationship)?,
            parse_user_id(user)?,
            role,
        )
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

async fn members(s: &mut Session, relationship: &str, json: bool) -> Outcome {
    let rid = parse_relationship_id(relationship)?;
    let proven = s.membership(rid).await?;
    if json {
        println!("{}", json!(proven));
        return Ok(());
    }
    // Names are the server's word; who is a member, with which role and
    // key, is the signed chain's.
    let view = s.relationship(rid).await?;
    let names: BTreeMap<&str, &str> = view
        .members
        .iter()
        .map(|m| (m.account_id.as_str(), m.display_name.as_str()))
        .collect();
    let name = |id: &str| {
        names
            .get(id)
            .map_or_else(|| id.to_owned(), |n| format!("{n} ({id})"))
    };
    println!("Members at epoch {} (signed by the coaches):", proven.epoch);
    for m in &proven.members {
        println!(
            "  {} — {}, since epoch {}, key {}",
            name(&m.account_id),
            m.role,
            m.since_epoch,
            &m.key_fingerprint[..16]
        );
    }
    println!("History:");
    for e in &proven.events {
        let when = crate::cli::output::date_time(e.at_ms);
        let mut what = Vec::new();
        if e.opened {
            what.push("opened the relationship".to_owned());
        }
        for (who, role) in &e.added {
            if !e.opened {
                what.push(format!("added {} as {role}", name(who)));
            }
        }
        for who in &e.removed {
            what.push(format!("removed {}", name(who)));
        }
        for who in &e.key_changed {
            what.push(format!("moved to the new key of {}", name(who)));
        }
        if what.is_empty() {
            what.push("rotated the key".to_owned());
        }
        println!(
            "  epoch {} · {when} · {} {}",
            e.epoch,
            name(&e.by),
            what.join(", ")
        );
    }
    Ok(())
}
