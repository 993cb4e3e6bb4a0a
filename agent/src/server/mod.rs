//! gRPC server: peer checks, limits, conversion of collector results.
//!
//! `peer` admits callers by SO_PEERCRED, `socket` binds and bounds connections, `service`
//! implements `twoine.agent.v1.Agent` over the collectors, `convert` turns collector results
//! into wire types (once, here), `run` is the daemon's life cycle.

pub mod convert;
pub mod peer;
mod run;
mod service;
pub mod socket;

pub use peer::Access;
pub use run::{run, serve, service_from_config};
pub use service::AgentService;
