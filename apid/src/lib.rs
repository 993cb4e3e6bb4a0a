//! twoine-apid: the unprivileged supervision daemon of Twoine.
//!
//! This first layer holds the domain model ([`model`]), the pure alert rules ([`alerts`]) and
//! the storage traits with the embedded SQLite store ([`store`]).

pub mod agent;
pub mod alerts;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod http;
pub mod model;
pub mod notify;
pub mod permissions;
pub mod poller;
pub mod store;
pub mod ws;
