//! Safety numbers: showing the one shared with someone, marking it
//! verified after comparing, and accepting a peer's changed key.

use crate::kluis_crypto::ids::UserId;
use crate::{parse_user_id, Session};
use serde_json::json;

use crate::cli::context::{with_session, Context};
use crate::cli::failure::{usage, Outcome};

pub(crate) async fn run(
    ctx: &Context,
    user: &str,
    compare: Option<String>,
    accept_change: bool,
) -> Outcome {
    let peer = parse_user_id(user)?;
    let json = ctx.json;
    with_session(ctx, |mut s| async move {
        let out = verify(&mut s, peer, compare, accept_change, json).await;
        (s, out)
    })
    .await
}

async fn verify(
    s: &mut Session,
    peer: UserId,
    compare: Option<String>,
    accept_change: bool,
    json: bool,
) -> Outcome {
    let number = s.safety_number(peer).await?;
    match compare {
        None => {
            if json {
                println!(
                    "{}",
                    json!({"peer": peer.to_string(), "digits": number.digits,
                           "qr_payload": number.qr_payload_hex, "verified": number.verified,
                           "key_changed": number.key_changed})
                );
            } else {
                if number.key_changed {
                    println!("Their key CHANGED. The new safety number:");
                }
                println!("{}", number.digits);
                println!(
                    "{}",
                    if number.verified {
                        "Verified."
                    } else {
                        "Not verified: compare it with theirs, then run kluis verify USER --compare 'DIGITS'."
                    }
                );
            }
        }
        Some(compared) if number.key_changed => {
            if !accept_change {
                return Err(usage(
                    "their key changed: add --accept-change if the new number matches",
                ));
            }
            s.accept_key_change(peer, &compared).await?;
            println!("The new key is verified and pinned.");
        }
        Some(compared) => {
            s.verify_safety_number(peer, &compared).await?;
            println!("Verified.");
        }
    }
    Ok(())
}
