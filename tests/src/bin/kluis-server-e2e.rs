//! `kluis-server`, built inside the end-to-end test package.

fn main() -> std::process::ExitCode {
    kluis_server::cli::main()
}
