//! Shared helpers for the system tests (filled in with the apid issues).

pub mod vm;
