//! Files in a relationship: sharing one (attach) and downloading one,
//! both with a progress bar.

use std::path::{Path, PathBuf};

use crate::kluis_crypto::ids::{ItemId, RelationshipId};
use crate::{parse_item_id, parse_relationship_id, Session};
use serde_json::json;

use crate::cli::context::{with_session, Context};
use crate::cli::failure::{usage, Failure, Outcome};
use crate::cli::output::progress_bar;

pub(crate) async fn attach(
    ctx: &Context,
    relationship: &str,
    file: &Path,
    media_type: String,
) -> Outcome {
    let rid = parse_relationship_id(relationship)?;
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| usage("the file needs a UTF-8 name"))?
        .to_owned();
    let reader = std::fs::File::open(file)?;
    let total = reader.metadata()?.len();
    let json = ctx.json;
    with_session(ctx, |mut s| async move {
        let bar = progress_bar(Some(total), json);
        let out = s
            .send_file(rid, reader, &name, &media_type, Some(total), &mut |p| {
                bar.set_position(p.done)
            })
            .await;
        bar.finish_and_clear();
        let out = out.map(|f| {
            if json {
                println!(
                    "{}",
                    json!({"item_id": f.item_id.to_string(), "size": f.size})
                );
            } else {
                println!("Shared {name} ({} bytes) as {}.", f.size, f.item_id);
            }
        });
        (s, out.map_err(Failure::from))
    })
    .await
}

pub(crate) async fn download(
    ctx: &Context,
    relationship: &str,
    item: &str,
    out: PathBuf,
) -> Outcome {
    let rid = parse_relationship_id(relationship)?;
    let item = parse_item_id(item)?;
    let json = ctx.json;
    with_session(ctx, |mut s| async move {
        let result = download_into(&mut s, rid, item, &out, json).await;
        (s, result)
    })
    .await
}

async fn download_into(
    s: &mut Session,
    rid: RelationshipId,
    item: ItemId,
    out: &Path,
    json: bool,
) -> Outcome {
    // Plaintext goes to a temporary file that becomes the file only once
    // every chunk and the digest checked out.
    let partial = out.join(format!(".kluis-download-{item}.part"));
    let file = std::fs::File::create(&partial)?;
    let bar = progress_bar(None, json);
    let result = s
        .download_file(rid, item, std::io::BufWriter::new(file), &mut |p| {
            if let Some(t) = p.total {
                bar.set_length(t);
            }
            bar.set_position(p.done);
        })
        .await;
    bar.finish_and_clear();
    let info = match result {
        Ok(info) => info,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e.into());
        }
    };
    let target = out.join(&info.name);
    if target.exists() {
        let _ = std::fs::remove_file(&partial);
        return Err(usage(format!(
            "{} exists already; nothing was overwritten",
            target.display()
        )));
    }
    std::fs::rename(&partial, &target)?;
    if json {
        println!(
            "{}",
            json!({"path": target.display().to_string(), "size": info.size})
        );
    } else {
        println!("Saved {} ({} bytes).", target.display(), info.size);
    }
    Ok(())
}
