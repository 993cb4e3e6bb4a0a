//! Capped exponential backoff between reconnection attempts.

use std::time::Duration;

/// First delay after a failure.
pub const INITIAL: Duration = Duration::from_millis(250);
/// Longest delay between two attempts.
pub const CAP: Duration = Duration::from_secs(10);

/// Doubling delays from `initial`, never above `cap`; [`Backoff::reset`] after a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    cap: Duration,
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(INITIAL, CAP)
    }
}

impl Backoff {
    /// Delays from `initial` doubling up to `cap` (a cap below `initial` wins).
    pub fn new(initial: Duration, cap: Duration) -> Self {
        let initial = initial.min(cap);
        Self {
            initial,
            cap,
            next: initial,
        }
    }

    /// The delay to wait now; the following one doubles, capped with `min`.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = self.next.saturating_mul(2).min(self.cap);
        delay
    }

    /// Back to the initial delay (after a success).
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_stays_there() {
        let mut b = Backoff::default();
        let delays: Vec<u64> = (0..10).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(
            delays,
            [
                250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000, 10_000
            ]
        );
    }

    #[test]
    fn reset_starts_again_from_the_initial_delay() {
        let mut b = Backoff::default();
        for _ in 0..5 {
            b.next_delay();
        }
        b.reset();
        assert_eq!(b.next_delay(), INITIAL);
    }

    #[test]
    fn never_overflows_after_many_failures() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        for _ in 0..200 {
            assert!(b.next_delay() <= Duration::from_secs(30));
        }
    }
}
