//! The account itself: creating it (setup, signup), logging in and out,
//! who it is, its password (change, forgot, reset), restoring the identity
//! after a reset, and deleting it (or cancelling a scheduled deletion).

use crate::kluis_crypto::recovery::RecoveryKey;
use std::io::IsTerminal as _;

use crate::{AccountDeletion, Error, Login, Me, NewAccount, SecondFactorMethod};
use serde_json::json;
use zeroize::Zeroizing;

use crate::cli::context::{with_session, Context};
use crate::cli::failure::{none_waiting, usage, Failure, Outcome};
use crate::cli::output;

pub(crate) async fn setup(
    ctx: &mut Context,
    link: &str,
    organisation: &str,
    name: &str,
) -> Outcome {
    let server = ctx.server_for(link)?;
    let email = ctx.email()?;
    let password = ctx.new_password()?;
    let account = ctx
        .kluis(Some(&server))?
        .setup_organisation(link, organisation, &email, name, &password)
        .await?;
    new_account(ctx, &server, &email, &account)?;
    account.session.logout().await?;
    Ok(())
}

pub(crate) async fn signup(ctx: &mut Context, link: &str, name: &str) -> Outcome {
    let server = ctx.server_for(link)?;
    let kluis = ctx.kluis(Some(&server))?;
    let info = kluis.lookup_invitation(link).await?;
    if !ctx.json {
        eprintln!(
            "Invitation to {} as {} for {}.",
            info.organisation_name, info.role, info.email
        );
    }
    let password = ctx.new_password()?;
    let account = kluis.sign_up(link, name, &password).await?;
    new_account(ctx, &server, &info.email, &account)?;
    account.session.logout().await?;
    Ok(())
}

/// Remembers the new account and shows its recovery key, the one time it
/// can be shown.
fn new_account(ctx: &mut Context, server: &str, email: &str, account: &NewAccount) -> Outcome {
    ctx.remember(server, email)?;
    let key = account.recovery_key.to_display_string();
    ctx.print(
        &format!(
            "Account created for {email} ({}).\n\n\
             Your recovery key — write it down and keep it safe. It is shown only now;\n\
             without it a forgotten password means losing everything:\n\n    {}\n",
            account.session.account_id(),
            key.as_str()
        ),
        json!({"account_id": account.session.account_id().to_string(), "email": email,
               "recovery_key": key.as_str()}),
    );
    Ok(())
}

pub(crate) async fn login(ctx: &mut Context) -> Outcome {
    let session = ctx.login().await?;
    let me = session.me().await?;
    ctx.remember(session.server(), &me.email)?;
    ctx.print(
        &format!("Logged in as {} ({}).", me.email, me.account_id),
        json!({"account_id": me.account_id, "email": me.email,
               "privacy_notice_pending": me.privacy_notice_pending}),
    );
    if me.two_factor_enrolment_required && !ctx.json {
        eprintln!(
            "Your organisation requires two-factor login: run `kluis two-factor enable` \
             (or `kluis two-factor sms NUMBER`) before anything else."
        );
    }
    if !ctx.json {
        for line in waiting(&me) {
            eprintln!("{line}");
        }
    }
    // The first login (and the first after the notice changed)
    // shows the user's rights.
    if me.privacy_notice_pending && !ctx.json {
        let notice = session.privacy_notice().await?;
        eprintln!(
            "\n{}\nRun `kluis privacy --acknowledge` once you have read this.",
            notice.text
        );
    }
    session.logout().await?;
    Ok(())
}

pub(crate) async fn logout(ctx: &mut Context, everywhere: bool) -> Outcome {
    if everywhere {
        ctx.login().await?.logout_everywhere().await?;
    }
    ctx.forget()?;
    ctx.print("Logged out.", json!({"status": "logged_out"}));
    Ok(())
}

pub(crate) async fn whoami(ctx: &Context) -> Outcome {
    let json = ctx.json;
    with_session(ctx, |s| async move {
        let out = s.me().await.map(|me| {
            if json {
                println!("{}", json!(me));
            } else {
                println!("{} <{}> {}", me.display_name, me.email, me.account_id);
                for m in &me.memberships {
                    println!(
                        "  {} {} ({}){}",
                        m.role,
                        m.organisation_name,
                        m.organisation_id,
                        if m.disabled { " — disabled" } else { "" }
                    );
                }
                for line in waiting(&me) {
                    println!("{line}");
                }
            }
        });
        (s, out.map_err(Failure::from))
    })
    .await
}

/// What waits for the account's owner to decide, as lines for people:
/// a new address a manager proposed, an erasure that is due.
fn waiting(me: &Me) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(proposed) = &me.proposed_email {
        lines.push(format!(
            "A manager proposed {proposed} as your new address; nothing changes until you \
             run `kluis email confirm` (or `kluis email refuse`)."
        ));
    }
    if let Some(at_ms) = me.deletion_scheduled_for_ms {
        lines.push(format!(
            "Your account is to be deleted on {}; `kluis delete-account --cancel` keeps it.",
            output::utc_time(at_ms)
        ));
    }
    lines
}

pub(crate) async fn delete_account(ctx: &mut Context, yes: bool) -> Outcome {
    if !yes {
        return Err(usage(
            "this erases your account and every conversation and file in it; \
             run `kluis export` first, then again with --yes",
        ));
    }
    let email = ctx.email()?;
    let password = ctx.password(&format!("Password for {email}: "))?;
    let session = ctx.ready_session(&email, &password).await?;
    match session.delete_account(&password).await? {
        AccountDeletion::Deleted => {
            ctx.forget()?;
            ctx.print(
                "Your account and everything in it are deleted.",
                json!({"status": "deleted"}),
            );
        }
        AccountDeletion::Scheduled { at_ms } => ctx.print(
            &format!(
                "Your password, address or keys changed recently, so the deletion waits: \
                 your account is deleted on {} and your coaches were told. \
                 Until then `kluis delete-account --cancel` keeps it.",
                output::utc_time(at_ms)
            ),
            json!({"status": "scheduled", "scheduled_for_ms": at_ms}),
        ),
    }
    Ok(())
}

pub(crate) async fn cancel_deletion(ctx: &Context) -> Outcome {
    with_session(ctx, |s| async move {
        let out = s
            .cancel_account_deletion()
            .await
            .map_err(none_waiting("no deletion of your account is scheduled"));
        (s, out)
    })
    .await?;
    ctx.print(
        "The deletion is cancelled: your account stays.",
        json!({"status": "deletion_cancelled"}),
    );
    Ok(())
}

pub(crate) async fn change_password(ctx: &Context) -> Outcome {
    let email = ctx.email()?;
    let old = ctx.password(&format!("Current password for {email}: "))?;
    let new = match std::env::var("KLUIS_NEW_PASSWORD") {
        Ok(p) => Zeroizing::new(p),
        Err(_) => ctx.new_password()?,
    };
    let mut session = ctx.ready_session(&email, &old).await?;
    let changed = session.change_password(&old, &new).await;
    let ended = session.logout().await;
    changed?;
    ended?;
    ctx.print(
        "Password changed; your other sessions ended.",
        json!({"status": "password_changed"}),
    );
    Ok(())
}

pub(crate) async fn forgot_password(ctx: &Context) -> Outcome {
    let email = ctx.email()?;
    ctx.kluis(None)?.request_password_reset(&email).await?;
    ctx.print(
        &format!("If {email} has an account, a reset link is on its way."),
        json!({"status": "requested"}),
    );
    Ok(())
}

pub(crate) async fn reset_password(
    ctx: &Context,
    link: &str,
    code: Option<String>,
    sms: bool,
) -> Outcome {
    let server = ctx.server_for(link)?;
    let kluis = ctx.kluis(Some(&server))?;
    let password = ctx.new_password()?;
    if sms {
        kluis.send_reset_sms(link).await?;
        if !ctx.json {
            eprintln!("A code was sent to your phone by SMS.");
        }
    }
    let offered: &[SecondFactorMethod] = if sms {
        &[SecondFactorMethod::Sms]
    } else {
        &[SecondFactorMethod::Totp]
    };
    // A code given up front; else the reset is tried with the link alone
    // and, if the account has a second factor, the code asked for.
    let mut code = code.or_else(|| std::env::var("KLUIS_2FA_CODE").ok());
    let outcome = loop {
        let attempt = match &code {
            Some(code) => {
                let code = code.trim();
                let method = SecondFactorMethod::of_code(code, offered);
                kluis
                    .reset_password_with_second_factor(link, &password, method, code)
                    .await
            }
            None => kluis.reset_password(link, &password).await,
        };
        match attempt {
            Err(e) if code.is_none() && e.code() == Some("second_factor_required") => {
                if !std::io::stdin().is_terminal() {
                    return Err(usage(
                        "this account uses two-factor login: give --code or set KLUIS_2FA_CODE",
                    ));
                }
                eprint!("Code from your authenticator app (or a recovery code): ");
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                code = Some(line);
            }
            other => break other,
        }
    };
    outcome?;
    ctx.print(
        "Password changed; every session ended. Now run `kluis recover` with your recovery key.",
        json!({"status": "reset"}),
    );
    Ok(())
}

pub(crate) async fn recover(ctx: &mut Context, new_identity: bool) -> Outcome {
    let email = ctx.email()?;
    let password = ctx.password(&format!("Password for {email}: "))?;
    let pending = match ctx.full_login(&email, &password).await? {
        Login::Ready(session) => {
            session.logout().await?;
            ctx.print(
                "Your identity opens with this password: nothing to recover.",
                json!({"status": "nothing_to_recover"}),
            );
            return Ok(());
        }
        Login::NeedsRecovery(p) => p,
        Login::SecondFactor(_) => return Err(usage("a second factor is needed")),
    };
    if new_identity {
        let account = pending.new_identity().await?;
        let server = account.session.server().to_owned();
        new_account(ctx, &server, &email, &account)?;
        account.session.logout().await?;
        return Ok(());
    }
    let typed = match std::env::var("KLUIS_RECOVERY_KEY") {
        Ok(k) => Zeroizing::new(k),
        Err(_) => Zeroizing::new(rpassword::prompt_password("Recovery key: ")?),
    };
    let key = RecoveryKey::parse(&typed).map_err(Error::from)?;
    let session = pending.recover(&key).await?;
    ctx.print(
        "Identity restored and sealed under the new password.",
        json!({"status": "recovered"}),
    );
    session.logout().await?;
    Ok(())
}
