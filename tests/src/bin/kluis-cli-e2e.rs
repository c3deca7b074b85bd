//! `kluis`, built inside the end-to-end test package.

fn main() -> std::process::ExitCode {
    kluis_sdk::cli::main()
}
