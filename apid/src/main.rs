//! twoine-apid: arrives with the apid issues. Until then it only says so.
fn main() {
    eprintln!(
        "twoine-apid {}: not built yet (see the apid issues)",
        env!("CARGO_PKG_VERSION")
    );
    std::process::exit(2);
}
