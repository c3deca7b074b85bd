//! The `kluis-server` command line: `serve` (default), `migrate`, `admin …`.
//! A library module so that the end-to-end tests' copy of the binary runs
//! exactly this code.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{Config, LogFormat};
use crate::error::StartError;
use crate::http::extract::PeerAddr;
use crate::store::Store;
use crate::{org::admin, org::setup, tls, worker};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "kluis-server", version, about = "The Kluis server")]
struct Cli {
    /// TOML configuration file; `KLUIS_*` environment variables override it.
    #[arg(long, env = "KLUIS_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Operator commands.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Print the effective configuration (database password hidden).
    ShowConfig,
    /// Create an organisation and invite its first manager by e-mail.
    CreateOrganisation {
        /// The organisation's name.
        #[arg(long)]
        name: String,
        /// The first manager's e-mail address.
        #[arg(long)]
        manager_email: String,
    },
    /// List every account with its organisations and roles.
    ListAccounts,
    /// Disable an account: no login, every session ended.
    DisableAccount {
        /// The account's e-mail address.
        email: String,
    },
    /// Enable a disabled account.
    EnableAccount {
        /// The account's e-mail address.
        email: String,
    },
    /// Issue a new one-time setup link (only while no organisation exists).
    SetupLink,
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref(), |k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kluis-server: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(config.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kluis-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kluis-server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr, so that stdout carries only what is meant for the
/// operator's eyes (the setup link, command output).
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KLUIS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn run(command: Command, config: Config) -> Result<(), StartError> {
    match command {
        Command::Serve => serve(&config).await,
        Command::Migrate => {
            let store = Store::connect(&config.database_url).await?;
            store.migrate().await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Admin { command } => admin_command(command, &config).await,
    }
}

async fn admin_command(command: AdminCommand, config: &Config) -> Result<(), StartError> {
    if let AdminCommand::ShowConfig = command {
        print!("{}", config.redacted());
        return Ok(());
    }
    let store = Store::connect(&config.database_url).await?;
    store.migrate().await?;
    let fail = |e: crate::error::ApiError| StartError::Admin(e.to_string());
    match command {
        AdminCommand::ShowConfig => {}
        AdminCommand::CreateOrganisation {
            name,
            manager_email,
        } => {
            let (id, issued) = admin::create_organisation(&store, config, &name, &manager_email)
                .await
                .map_err(fail)?;
            println!("organisation {id} created");
            println!("an invitation was queued for {manager_email}; its link (valid until it is used or expires):");
            println!("{}", issued.link);
        }
        AdminCommand::ListAccounts => {
            for a in admin::list_accounts(&store).await.map_err(fail)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    a.id,
                    a.email,
                    a.display_name,
                    if a.disabled { "disabled" } else { "active" },
                    a.memberships.join(",")
                );
            }
        }
        AdminCommand::DisableAccount { email } => {
            admin::set_account_disabled(&store, &email, true)
                .await
                .map_err(fail)?;
            println!("{email}: disabled, every session ended");
        }
        AdminCommand::EnableAccount { email } => {
            admin::set_account_disabled(&store, &email, false)
                .await
                .map_err(fail)?;
            println!("{email}: enabled");
        }
        AdminCommand::SetupLink => {
            if setup::has_organisation(&store).await.map_err(fail)? {
                return Err(StartError::Admin(
                    "an organisation exists; use `admin create-organisation`".to_owned(),
                ));
            }
            let link = setup::issue_link(&store, config).await.map_err(fail)?;
            println!("{link}");
        }
    }
    store.close().await;
    Ok(())
}

async fn serve(config: &Config) -> Result<(), StartError> {
    let tcp = tokio::net::TcpListener::bind(&config.bind).await?;
    let address = tcp.local_addr()?;
    let config = &config.clone().with_bound_address(address);
    let (router, state) = crate::build(config).await?;
    tracing::info!(%address, engine = ?state.store.engine(), tls = config.tls(), "kluis-server listening");

    let fail = |e: crate::error::ApiError| StartError::Admin(e.to_string());
    if !setup::has_organisation(&state.store).await.map_err(fail)? {
        let link = setup::issue_link(&state.store, config)
            .await
            .map_err(fail)?;
        let hours = config.limits.setup_link_lifetime.as_secs() / 3600;
        // stdout, not the log: the link is a secret shown once.
        println!(
            "\nKluis has no organisation yet. Open this link to create the first one and its \
             manager account.\nIt works once, within {hours} hours; a restart issues a new one.\n\n    {link}\n"
        );
    }
    tokio::spawn(worker::run(state.clone()));

    let app = router.into_make_service_with_connect_info::<PeerAddr>();
    match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => {
            let listener = tls::TlsListener::new(tcp, tls::server_config(cert, key)?)?;
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown_signal())
                .await?;
        }
        _ => {
            tracing::warn!(
                "no TLS certificate configured: serving plain HTTP on {address}; put a TLS-terminating reverse proxy in front"
            );
            axum::serve(tcp, app)
                .with_graceful_shutdown(shutdown_signal())
                .await?;
        }
    }
    state.store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// SIGTERM or Ctrl-C: stop accepting, finish requests in flight.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested; finishing requests in flight");
}
