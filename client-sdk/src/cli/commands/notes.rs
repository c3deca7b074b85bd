//! A coach's private notes about a relationship.

use crate::parse_relationship_id;
use serde_json::json;

use super::text_arg;
use crate::cli::context::{with_session, Context};
use crate::cli::failure::{Failure, Outcome};

pub(crate) async fn add(ctx: &Context, relationship: &str, text: Vec<String>) -> Outcome {
    let rid = parse_relationship_id(relationship)?;
    let text = text_arg(text)?;
    with_session(ctx, |mut s| async move {
        let out = s
            .add_note(rid, &text)
            .await
            .map(|_| ())
            .map_err(Failure::from);
        (s, out)
    })
    .await?;
    ctx.print("Note saved.", json!({"status": "saved"}));
    Ok(())
}
