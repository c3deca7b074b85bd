//! `kluis-server`: `serve` (default), `migrate`, `admin …`
//! ([`kluis_server::cli`]).

fn main() -> std::process::ExitCode {
    kluis_server::cli::main()
}
