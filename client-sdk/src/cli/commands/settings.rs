//! The account's settings: the language of e-mails and notices, and
//! whether new messages and files are announced by e-mail.

use crate::Language;
use serde_json::json;

use crate::cli::args::OnOff;
use crate::cli::context::{with_session, Context};
use crate::cli::failure::{Failure, Outcome};

pub(crate) async fn change(
    ctx: &Context,
    language: Option<Language>,
    activity_emails: Option<OnOff>,
) -> Outcome {
    let json = ctx.json;
    with_session(ctx, |s| async move {
        let out = s
            .set_preferences(language, activity_emails.map(|o| o == OnOff::On))
            .await
            .map(|me| {
                if json {
                    println!("{}", json!(me));
                } else {
                    println!(
                        "language: {}\nactivity e-mails: {}",
                        match me.language {
                            Language::Nl => "nl",
                            Language::En => "en",
                        },
                        if me.activity_emails { "on" } else { "off" }
                    );
                }
            });
        (s, out.map_err(Failure::from))
    })
    .await
}
