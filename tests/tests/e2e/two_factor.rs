//! Two-factor login through the real SDK and the `kluis` command line
//! against a real server process, with codes from Debian's `oathtool`: the
//! SDK's login stops at `Login::SecondFactor` and opens the same identity
//! only after a valid code; the CLI takes the code from KLUIS_2FA_CODE
//! (an app code or a recovery code) and fails with exit code 3 on a wrong
//! one.

use std::process::{Command, Output};
use std::sync::Arc;

use kluis_e2e::Server;
use kluis_sdk::state::MemoryStore;
use kluis_sdk::{Error, Kluis, Login, Role, SecondFactorMethod};
use kluis_test_support::{both_engines, oathtool, Engine};
use serde_json::Value;

both_engines!(sdk_and_cli_log_in_with_a_second_factor);

const SERVER: &str = env!("CARGO_BIN_EXE_kluis-server-e2e");
const CLI: &str = env!("CARGO_BIN_EXE_kluis-cli-e2e");

fn cli(profile: &std::path::Path, password: &str, code: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(CLI);
    cmd.args(args)
        .env("KLUIS_PROFILE", profile)
        .env("KLUIS_PASSWORD", password)
        .env_remove("KLUIS_2FA_CODE")
        .env_remove("KLUIS_SERVER")
        .env_remove("KLUIS_EMAIL");
    if let Some(code) = code {
        cmd.env("KLUIS_2FA_CODE", code);
    }
    cmd.output().unwrap()
}

async fn sdk_and_cli_log_in_with_a_second_factor(engine: Engine) {
    let server = Server::start(engine, SERVER);
    let password = format!("Twee-{}-Stappen8", rand::random::<u32>());
    let kluis = || {
        Kluis::new(&server.base, Arc::new(MemoryStore::new()))
            .unwrap()
            .with_device_label("e2e 2fa")
    };
    let created = kluis()
        .setup_organisation(
            &server.setup_link,
            "Praktijk Twee",
            "tess@twee.nl",
            "Tess",
            &password,
        )
        .await
        .unwrap();
    let session = created.session;
    let me = session.account_id();
    let enrolment = session.enrol_totp().await.unwrap();
    // A code five minutes old does not confirm the enrolment.
    assert!(session
        .confirm_totp(&oathtool(&enrolment.secret, -300))
        .await
        .is_err());
    let recovery = session
        .confirm_totp(&oathtool(&enrolment.secret, 0))
        .await
        .unwrap();
    assert_eq!(recovery.len(), 10);
    assert!(session.two_factor().await.unwrap().totp);

    // The manager requires it of everyone. A coach invited now signs up
    // (the new identity is published) and can then only set it up.
    let org = session.me().await.unwrap().memberships[0]
        .organisation_id
        .clone();
    session.require_two_factor(&org, true).await.unwrap();
    session
        .invite(&org, "coen@twee.nl", Role::Coach)
        .await
        .unwrap();
    let link = Server::link_in(&server.mail("coen@twee.nl", "invitation").await);
    let mut coach = kluis()
        .sign_up(
            &link,
            "Coen",
            &format!("Coen-{}-Stappen9", rand::random::<u32>()),
        )
        .await
        .unwrap()
        .session;
    assert!(coach.me().await.unwrap().two_factor_enrolment_required);
    assert!(matches!(
        coach.relationships().await,
        Err(Error::Refused { status: 403, .. })
    ));
    assert!(coach.two_factor().await.unwrap().required_by_organisation);

    // The SDK: the password alone gives no session.
    let Login::SecondFactor(pending) = kluis().login("tess@twee.nl", &password).await.unwrap()
    else {
        panic!("a second factor was not asked for");
    };
    assert_eq!(
        pending.methods(),
        [SecondFactorMethod::Totp, SecondFactorMethod::RecoveryCode]
    );
    let wrong = pending
        .complete(SecondFactorMethod::RecoveryCode, "0000-0000-0000-0000")
        .await;
    assert!(matches!(wrong, Err(Error::SecondFactorFailed)), "{wrong:?}");
    // After a wrong code the same pending login takes a right one, and the
    // identity opens as before.
    let again = pending
        .complete(SecondFactorMethod::Totp, &oathtool(&enrolment.secret, 30))
        .await
        .unwrap()
        .ready()
        .unwrap();
    assert_eq!(again.account_id(), me);
    assert_eq!(
        again.identity_bundle().encode(),
        session.identity_bundle().encode()
    );
    again.logout().await.unwrap();

    // The command line: a recovery code from the environment works once.
    let profile = std::env::temp_dir().join(format!("kluis-2fa-{}", rand::random::<u64>()));
    let setup = [
        "--server",
        server.base.as_str(),
        "--email",
        "tess@twee.nl",
        "login",
    ];
    let no_code = cli(&profile, &password, None, &setup);
    assert_eq!(no_code.status.code(), Some(1), "no code, no terminal");
    assert!(String::from_utf8_lossy(&no_code.stderr).contains("KLUIS_2FA_CODE"));
    let ok = cli(&profile, &password, Some(&recovery[0]), &setup);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let used = cli(&profile, &password, Some(&recovery[0]), &["login"]);
    assert_eq!(used.status.code(), Some(3), "a used recovery code");
    let status = cli(
        &profile,
        &password,
        Some(&recovery[1]),
        &["--json", "two-factor", "status"],
    );
    assert!(status.status.success());
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["totp"], true);
    assert_eq!(status["recovery_codes_left"], 8);
    // Turning it off takes a valid code; then the password is enough.
    let off = cli(
        &profile,
        &password,
        Some(&recovery[2]),
        &["two-factor", "disable", &recovery[3]],
    );
    assert!(
        off.status.success(),
        "{}",
        String::from_utf8_lossy(&off.stderr)
    );
    assert!(matches!(
        kluis().login("tess@twee.nl", &password).await.unwrap(),
        Login::Ready(_)
    ));
    let _ = std::fs::remove_dir_all(&profile);
}
