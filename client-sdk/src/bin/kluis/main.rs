//! `kluis`, the command-line client ([`kluis_sdk::cli`]).

fn main() -> std::process::ExitCode {
    kluis_sdk::cli::main()
}
