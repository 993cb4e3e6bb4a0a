//! Capped exponential backoff shared by the channels.

use std::time::Duration;

/// First wait between two attempts.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What one attempt gave.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// Delivered.
    Done,
    /// Worth trying again (network error, timeout, 5xx, 429, transient SMTP error).
    Retry(String),
    /// Not worth trying again (other 4xx, permanent SMTP error, bad payload).
    GiveUp(String),
}

/// The wait after failed attempt `n` (1-based): 0.5 s, 1 s, 2 s, ... capped at 30 s.
pub fn backoff(n: u32) -> Duration {
    let factor = 1u32 << n.saturating_sub(1).min(16);
    FIRST_BACKOFF.saturating_mul(factor).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_caps() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(2));
        assert_eq!(backoff(7), Duration::from_secs(30));
        assert_eq!(backoff(40), Duration::from_secs(30));
    }
}
