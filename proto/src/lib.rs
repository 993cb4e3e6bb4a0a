//! `twoine.agent.v1`: the only crate both daemons share.
//!
//! The Rust code is generated from `proto/twoine/agent/v1/agent.proto` and committed, so a
//! build needs no `protoc`. `tests/codegen.rs` regenerates it with a pure-Rust compiler
//! (protox) and fails if the committed code has drifted from the `.proto`; run it with
//! `TWOINE_REGENERATE=1` to rewrite the committed file after editing the `.proto`.

/// Generated messages, client and server of package `twoine.agent.v1`.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod v1 {
    include!("gen/twoine.agent.v1.rs");
}

/// Path of the `.proto` source, relative to this crate.
pub const PROTO_FILE: &str = "proto/twoine/agent/v1/agent.proto";
/// Include directory for the `.proto` source, relative to this crate.
pub const PROTO_INCLUDE: &str = "proto";
/// Where the generated code is committed, relative to this crate.
pub const GENERATED_FILE: &str = "src/gen/twoine.agent.v1.rs";
