//! twoine-agent: see the crate documentation in `lib.rs`.
fn main() -> std::process::ExitCode {
    twoine_agent::cli::main()
}
