//! `kluis`, the command-line client (a library module so that the
//! end-to-end tests build and run exactly this code): everything a coach or client does,
//! through the SDK, with the keys only in this process's memory.
//!
//! Each command logs in (OPAQUE: the password never leaves this machine),
//! does its work and logs out again; the password is read without echo, or
//! from `KLUIS_PASSWORD` / `--password-file` for scripts, never from an
//! argument.

mod args;
mod commands;
mod context;
mod failure;
mod output;
mod profile;

pub use args::Cli;

use std::process::ExitCode;

use clap::Parser;

/// Parses the command line, runs it, and says how it ended.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kluis: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kluis: {}", e.message());
            ExitCode::from(e.exit_code())
        }
    }
}
