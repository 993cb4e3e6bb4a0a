//! Support for the real-systemd tier (`tests/tests/vm_agent.rs`), which runs only inside the
//! throw-away VM started by `tests/vm/run-agent-tests.sh`.
//!
//! - [`ctl`]: the agent's operator client as a real process, its JSON and its errors;
//! - [`host`]: independent references on the same machine (`systemctl`, `busctl`, `du`, `find`,
//!   `/proc`), read without the agent, and small waiting helpers.
//!
//! These helpers are test code: they fail loudly (panic with the command and its output) rather
//! than return errors, which is what a test wants.

pub mod ctl;
pub mod host;
pub mod procfs;

use std::time::{Duration, Instant};

/// Poll `probe` every 100 ms until it returns `Some`, or panic after `timeout` with `what`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
