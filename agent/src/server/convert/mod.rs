//! Collector results → `twoine.agent.v1` messages, written once per collector.

pub mod proc;
pub mod systemd;
pub mod walk;
