//! The dialogue of a relationship: sending a message, reading it all,
//! following new entries as they arrive, and deleting one's own items.

use crate::parse_item_id;
use crate::parse_relationship_id;
use serde_json::json;

use super::text_arg;
use crate::cli::context::{with_session, Context};
use crate::cli::failure::{Failure, Outcome};
use crate::cli::output::show_entry;

pub(crate) async fn send(ctx: &Context, relationship: &str, text: Vec<String>) -> Outcome {
    let rid = parse_relationship_id(relationship)?;
    let text = text_arg(text)?;
    let json = ctx.json;
    with_session(ctx, |mut s| async move {
        let out = s.send_message(rid, &text).await.map(|id| {
            if json {
                println!("{}", json!({"item_id": id.to_string()}));
            } else {
                println!("Sent ({id}).");
            }
        });
        (s, out.map_err(Failure::from))
    })
    .await
}

pub(crate) async fn read(ctx: &Context, relationship: &str) -> Outcome {
    let rid = parse_relationship_id(relationship)?;
    let json = ctx.json;
    with_session(ctx, |mut s| async move {
        let out = s.dialogue(rid).await.map(|entries| {
            if json {
                println!("{}", json!(entries));
            } else {
                for e in &entries {
                    println!("{}", show_entry(e));
                }
            }
        });
        (s, out.map_err(Failure::from))
    })
    .await
}

/// Polls every `every` seconds (at least one) until Ctrl-C, which ends it
/// as a success so the session is still logged out.
pub(crate) async fn follow(ctx: &Context, relationship: &str, every: u64) -> Outcome {
    let rid = parse_relationship_id(relationship)?;
    let json = ctx.json;
    with_session(ctx, |mut s| async move {
        let out = async {
            let mut last_seq = i64::MIN;
            loop {
                for e in s.recent(rid, 50).await? {
                    if e.seq > last_seq {
                        last_seq = e.seq;
                        if json {
                            println!("{}", json!(e));
                        } else {
                            println!("{}", show_entry(&e));
                        }
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_secs(every.max(1))) => {}
                    _ = tokio::signal::ctrl_c() => return Ok(()),
                }
            }
        }
        .await;
        (s, out)
    })
    .await
}

pub(crate) async fn delete(ctx: &Context, relationship: &str, item: &str) -> Outcome {
    let rid = parse_relationship_id(relationship)?;
    let item = parse_item_id(item)?;
    with_session(ctx, |mut s| async move {
        let out = s.delete_item(rid, item).await.map_err(Failure::from);
        (s, out)
    })
    .await?;
    ctx.print("Deleted.", json!({"status": "deleted"}));
    Ok(())
}
