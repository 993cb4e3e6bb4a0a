//! Shared test support.

pub mod api;
pub mod live;
pub mod mongo_server;
pub mod twoine_db;
