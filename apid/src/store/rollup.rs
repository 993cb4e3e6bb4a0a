//! What both stores' roll-ups share: bucket sizes, how a field aggregates, bucket arithmetic.

/// 5 minutes, ms.
pub(crate) const RES_5M: i64 = 300_000;
/// 1 hour, ms.
pub(crate) const RES_1H: i64 = 3_600_000;

/// How a field aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Agg {
    /// Gauges: mean over the bucket.
    Mean,
    /// Cumulative counters: the newest (largest) value.
    Last,
}

/// `t` rounded up to a multiple of `res`.
pub(crate) fn ceil(t: i64, res: i64) -> i64 {
    let r = t.rem_euclid(res);
    if r == 0 { t } else { t - r + res }
}

/// `t` rounded down to a multiple of `res`.
pub(crate) fn floor(t: i64, res: i64) -> i64 {
    t - t.rem_euclid(res)
}
