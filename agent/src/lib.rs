//! `twoine-agent`, the root collector of Twoine Supervision.
//!
//! It reads `/proc` and `statvfs`, walks site directories, talks to systemd over D-Bus and
//! serves all that over gRPC (`twoine.agent.v1`) on a Unix socket, admitting callers by their
//! kernel-reported credentials only. It never runs a shell or an external program.
//!
//! Layout: `collect/*` know nothing of gRPC; `server` converts their results once, checks
//! callers and limits; `ctl` is the operator's client over the same API.

pub mod cli;
pub mod collect;
pub mod config;
pub mod ctl;
pub mod server;
