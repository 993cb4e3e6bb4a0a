//! Collectors: plain Rust types in, plain Rust types out; no gRPC here.

pub mod proc;
pub mod systemd;
pub mod walk;
