//! Two-factor login: its status, enrolling an authenticator app or a phone
//! for SMS, recovery codes, turning it off, and a manager requiring it of
//! the organisation.

use std::path::PathBuf;

use crate::{Error, SecondFactorMethod, Session};
use serde_json::json;

use super::only_organisation;
use crate::cli::args::{OnOff, TwoFactorCommand};
use crate::cli::context::{with_session, Context};
use crate::cli::failure::Outcome;
use crate::cli::output::print_recovery_codes;

pub(crate) async fn run(ctx: &Context, cmd: TwoFactorCommand) -> Outcome {
    let json = ctx.json;
    with_session(ctx, |s| async move {
        let out = match cmd {
            TwoFactorCommand::Status => status(&s, json).await,
            TwoFactorCommand::Enable { qr } => enable(&s, qr, json).await,
            TwoFactorCommand::Confirm { code } => confirm(&s, &code, json).await,
            TwoFactorCommand::Sms { phone } => sms(&s, &phone, json).await,
            TwoFactorCommand::ConfirmSms { code } => confirm_sms(&s, &code, json).await,
            TwoFactorCommand::RecoveryCodes { code } => recovery_codes(&s, &code, json).await,
            TwoFactorCommand::Disable { code } => disable(&s, &code, json).await,
            TwoFactorCommand::Require {
                switch,
                organisation,
            } => require(&s, switch, organisation, json).await,
        };
        (s, out)
    })
    .await
}

async fn status(s: &Session, json: bool) -> Outcome {
    let st = s.two_factor().await?;
    if json {
        println!("{}", json!(st));
    } else {
        println!(
            "two-factor login: {}; recovery codes left: {}{}",
            if st.totp { "on" } else { "off" },
            st.recovery_codes_left,
            if st.required_by_organisation {
                "; required by your organisation"
            } else {
                ""
            }
        );
    }
    Ok(())
}

async fn enable(s: &Session, qr: Option<PathBuf>, json: bool) -> Outcome {
    let e = s.enrol_totp().await?;
    if let Some(path) = qr {
        use base64::Engine as _;
        let png = base64::engine::general_purpose::STANDARD
            .decode(&e.qr_png)
            .map_err(|_| Error::Tampered(crate::Violation::Malformed("QR code".into())))?;
        std::fs::write(&path, png)
            .map_err(|e| Error::InvalidInput(format!("{}: {e}", path.display())))?;
    }
    if json {
        println!("{}", json!(e));
    } else {
        println!(
            "Add this to your authenticator app (scan the QR code or type the secret):\n\n    {}\n    {}\n\nThen run `kluis two-factor confirm CODE` with the code it shows.",
            e.secret, e.otpauth_uri
        );
    }
    Ok(())
}

async fn confirm(s: &Session, code: &str, json: bool) -> Outcome {
    let codes = s.confirm_totp(code.trim()).await?;
    print_recovery_codes(json, &codes);
    Ok(())
}

async fn sms(s: &Session, phone: &str, json: bool) -> Outcome {
    s.enrol_sms(phone).await?;
    if json {
        println!("{}", json!({"status": "sms_sent"}));
    } else {
        println!("A code was sent to {phone}: run `kluis two-factor confirm-sms CODE`.");
    }
    Ok(())
}

async fn confirm_sms(s: &Session, code: &str, json: bool) -> Outcome {
    let codes = s.confirm_sms(code.trim()).await?;
    if codes.is_empty() {
        if json {
            println!("{}", json!({"recovery_codes": codes}));
        } else {
            println!("SMS codes work for login from now; your recovery codes stay as they were.");
        }
    } else {
        print_recovery_codes(json, &codes);
    }
    Ok(())
}

async fn recovery_codes(s: &Session, code: &str, json: bool) -> Outcome {
    let code = code.trim();
    let codes = s
        .renew_recovery_codes(
            SecondFactorMethod::of_code(code, &[SecondFactorMethod::Totp]),
            code,
        )
        .await?;
    print_recovery_codes(json, &codes);
    Ok(())
}

async fn disable(s: &Session, code: &str, json: bool) -> Outcome {
    let code = code.trim();
    s.disable_two_factor(
        SecondFactorMethod::of_code(code, &[SecondFactorMethod::Totp]),
        code,
    )
    .await?;
    if json {
        println!("{}", json!({"status": "two_factor_disabled"}));
    } else {
        println!("Two-factor login is off.");
    }
    Ok(())
}

async fn require(s: &Session, switch: OnOff, organisation: Option<String>, json: bool) -> Outcome {
    let org = only_organisation(&s.me().await?, organisation)?;
    s.require_two_factor(&org, switch == OnOff::On).await?;
    if json {
        println!("{}", json!({"required": switch == OnOff::On}));
    } else {
        println!(
            "Two-factor login is {} for the organisation's members.",
            if switch == OnOff::On {
                "required"
            } else {
                "optional"
            }
        );
    }
    Ok(())
}
