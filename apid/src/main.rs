//! twoine-apid: see the crate documentation in `lib.rs` and [`twoine_apid::cli`].
fn main() -> std::process::ExitCode {
    twoine_apid::cli::main()
}
