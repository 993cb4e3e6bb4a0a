//! Storage, behind small traits per concern, with one error type.
//!
//! Traits use `async-trait` so they stay object-safe: the daemon holds `Arc<dyn Store>` chosen
//! at start (embedded or MongoDB) and the routes never know which. The MongoDB store (next
//! session) implements the same traits; one conformance suite (`apid/tests/conformance`) runs
//! against both.

pub mod embedded;
mod error;
mod history;
pub mod mongo;
mod rollup;
mod traits;

pub use error::{StoreError, StoreResult};
pub use traits::{
    AlertFilter, AlertStore, ConfigStore, LoginState, MAX_ALERTS, PanelRead, PanelWrite,
    RESOLVED_ALERT_TTL_DAYS, ROLLUP_1H_KEEP_DAYS, ROLLUP_5M_KEEP_DAYS, Retention, RetentionReport,
    SnapshotStore, Store, Window,
};
