//! Shared test support.

pub mod mongo_server;
pub mod twoine_db;
