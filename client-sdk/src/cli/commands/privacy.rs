//! The user's rights from the command line: the privacy notice (shown,
//! acknowledged), what the server holds about them (access) and the export
//! of everything they can read (portability).

use std::path::PathBuf;

use crate::Error;
use serde_json::json;

use crate::cli::context::{with_session, Context};
use crate::cli::failure::{Failure, Outcome};
use crate::cli::output::progress_bar;

pub(crate) async fn notice(ctx: &Context, acknowledge: bool) -> Outcome {
    let json = ctx.json;
    with_session(ctx, |s| async move {
        let out = async {
            let mut notice = s.privacy_notice().await?;
            if acknowledge {
                notice = s.acknowledge_privacy_notice(notice.version).await?;
            }
            if json {
                println!("{}", json!(notice));
            } else {
                println!("{}", notice.text);
                match notice.acknowledged_ms {
                    Some(_) => println!("(version {}: acknowledged)", notice.version),
                    None => println!(
                        "(version {}: run `kluis privacy --acknowledge` once read)",
                        notice.version
                    ),
                }
            }
            Ok::<(), Error>(())
        }
        .await;
        (s, out.map_err(Failure::from))
    })
    .await
}

pub(crate) async fn export(ctx: &Context, out: PathBuf) -> Outcome {
    let json = ctx.json;
    with_session(ctx, |mut s| async move {
        let bar = progress_bar(None, json);
        let result = s.export_to(&out, &mut |p| bar.set_position(p.done)).await;
        bar.finish_and_clear();
        let result = result.map(|files| {
            let bytes: u64 = files.iter().map(|f| f.size).sum();
            if json {
                println!(
                    "{}",
                    json!({"path": out.display().to_string(), "files": files.len(), "bytes": bytes})
                );
            } else {
                println!(
                    "Exported {} files ({bytes} bytes) to {}; manifest.json lists each with its SHA-256.",
                    files.len(),
                    out.display()
                );
            }
        });
        (s, result.map_err(Failure::from))
    })
    .await
}

pub(crate) async fn data(ctx: &Context, out: Option<PathBuf>) -> Outcome {
    with_session(ctx, |s| async move {
        let result = async {
            let data = s.my_data().await?;
            let text = serde_json::to_string_pretty(&data)
                .map_err(|e| Error::InvalidInput(format!("the document: {e}")))?;
            match &out {
                Some(path) => {
                    use std::io::Write as _;
                    let mut file = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(path)?;
                    file.write_all(text.as_bytes())?;
                    file.write_all(b"\n")?;
                    file.sync_all()?;
                    eprintln!(
                        "Wrote what the server holds about you to {}.",
                        path.display()
                    );
                }
                None => println!("{text}"),
            }
            Ok::<(), Error>(())
        }
        .await;
        (s, result.map_err(Failure::from))
    })
    .await
}
