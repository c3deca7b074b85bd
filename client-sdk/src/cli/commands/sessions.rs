//! The account's sessions on every device: listing them, ending one.

use serde_json::json;

use crate::cli::context::{with_session, Context};
use crate::cli::failure::Outcome;

pub(crate) async fn run(ctx: &Context, revoke: Option<String>) -> Outcome {
    let json = ctx.json;
    with_session(ctx, |s| async move {
        let out = async {
            if let Some(id) = revoke {
                s.revoke_session(&id).await?;
                println!("Session {id} ended.");
                return Ok(());
            }
            let list = s.sessions().await?;
            if json {
                println!("{}", json!(list));
            } else {
                for x in &list {
                    println!(
                        "{} {}{}",
                        x.id,
                        x.device_label,
                        if x.current { " (this command)" } else { "" }
                    );
                }
            }
            Ok(())
        }
        .await;
        (s, out)
    })
    .await
}
