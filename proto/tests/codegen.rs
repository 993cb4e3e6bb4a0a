//! The committed generated code must be exactly what the `.proto` produces today.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

fn generate(out_dir: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fds = protox::compile(
        [root.join(twoine_proto::PROTO_FILE)],
        [root.join(twoine_proto::PROTO_INCLUDE)],
    )
    .expect("agent.proto compiles");
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .out_dir(out_dir)
        // JSON output for `twoine-agent ctl` and for apid's debugging.
        .type_attribute(".", "#[derive(serde::Serialize)]")
        .compile_fds(fds)
        .expect("code generation");
    std::fs::read_to_string(out_dir.join("twoine.agent.v1.rs")).expect("generated file")
}

#[test]
fn generated_code_matches_proto() {
    let tmp = tempfile::tempdir().unwrap();
    let fresh = generate(tmp.path());
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join(twoine_proto::GENERATED_FILE);
    if std::env::var_os("TWOINE_REGENERATE").is_some() {
        std::fs::write(&committed_path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap();
    assert!(
        committed == fresh,
        "{} is out of date with agent.proto: run `TWOINE_REGENERATE=1 cargo test -p twoine-proto --test codegen`",
        committed_path.display()
    );
}
