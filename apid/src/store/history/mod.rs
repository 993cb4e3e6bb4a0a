//! What both stores' histories share: the column description, the aggregate row (`Acc`) and
//! its exact merge, which source (raw samples, 5-minute or 1-hour roll-ups) serves which part
//! of a window, the buckets a window is cut into, and (in [`server`] and [`site`]) the points built from an aggregate.
//!
//! Every aggregate is kept as a sample count, a sum of sample times, per "mean" field a sum
//! and per "last" field (cumulative counters) a maximum, plus the peaks of the three percents,
//! so raw samples, 5-minute and 1-hour roll-ups merge exactly, whichever backend read them.

use std::collections::BTreeMap;

mod server;
mod site;
#[cfg(test)]
mod tests;

pub(crate) use server::{Host, SERVER_SHARED, server_cols, server_point};
pub(crate) use site::{SITE_COLS, SiteContext, site_point, u, u32_};

use super::rollup::{Agg, RES_1H, RES_5M, ceil};
use crate::store::{StoreError, StoreResult, Window};

/// One numeric field of a series.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Col {
    /// Column name (embedded) and roll-up key (MongoDB).
    pub key: &'static str,
    /// Path in a Twoine-shaped raw document (MongoDB; empty where unused).
    pub path: &'static str,
    /// How it aggregates.
    pub agg: Agg,
    /// The factor the embedded store keeps it at (10 for tenths); 1 in MongoDB documents.
    pub scale: f64,
}

impl Col {
    /// A gauge.
    pub(crate) const fn mean(key: &'static str, path: &'static str) -> Self {
        Self {
            key,
            path,
            agg: Agg::Mean,
            scale: 1.0,
        }
    }

    /// A cumulative counter.
    pub(crate) const fn last(key: &'static str, path: &'static str) -> Self {
        Self {
            key,
            path,
            agg: Agg::Last,
            scale: 1.0,
        }
    }

    /// Kept by the embedded store as an integer count of `1 / scale`.
    pub(crate) const fn per(self, scale: f64) -> Self {
        Self { scale, ..self }
    }
}

/// What a backend carries beside the numbers (MongoDB: the host's model and system).
pub(crate) trait Extra: Default {
    /// Takes what `other` knows (the later sample wins).
    fn absorb(&mut self, other: Self);
}

impl Extra for () {
    fn absorb(&mut self, _: Self) {}
}

/// An aggregate of one or more samples: the row both backends read history into.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Acc<X = ()> {
    /// Sample count.
    pub n: f64,
    /// Sum of sample times, ms.
    pub ts_sum: f64,
    /// Per column: sum (means) or maximum (counters), in stored units.
    pub vals: Vec<f64>,
    /// Peaks of the three percents, in stored units.
    pub peaks: [f64; 3],
    /// Backend-specific fields.
    pub extra: X,
}

impl<X: Extra> Acc<X> {
    /// Adds `o` to this aggregate.
    pub fn merge(&mut self, o: Self, cols: &[Col]) {
        self.n += o.n;
        self.ts_sum += o.ts_sum;
        for (i, col) in cols.iter().enumerate() {
            let b = o.vals.get(i).copied().unwrap_or(0.0);
            if let Some(v) = self.vals.get_mut(i) {
                *v = if col.agg == Agg::Mean {
                    *v + b
                } else {
                    v.max(b)
                };
            }
        }
        for (p, q) in self.peaks.iter_mut().zip(o.peaks) {
            *p = p.max(q);
        }
        self.extra.absorb(o.extra);
    }
}

impl<X> Acc<X> {
    /// Column `i` as the bucket's value (mean or last), in stored units.
    pub fn value(&self, cols: &[Col], i: usize) -> f64 {
        let v = self.vals.get(i).copied().unwrap_or(0.0);
        match cols.get(i) {
            Some(c) if c.agg == Agg::Mean && self.n > 0.0 => v / self.n,
            _ => v,
        }
    }

    /// Mean sample time, ms.
    pub fn ts(&self) -> i64 {
        if self.n > 0.0 {
            (self.ts_sum / self.n).round() as i64
        } else {
            0
        }
    }
}

/// A history request: the window in ms and the bucket width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Window start, ms.
    pub from: i64,
    /// Window end (excluded), ms.
    pub to: i64,
    /// Bucket width, ms: `ceil((to - from) / limit)`.
    pub width: i64,
}

/// Which source serves which part of a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ranges {
    /// Raw samples in `[lo, hi)` (empty when `lo >= hi`).
    pub raw: (i64, i64),
    /// Roll-ups `(res, lo, hi)` with bucket starts in `[lo, hi)`, finest first.
    pub rollups: Vec<(i64, i64, i64)>,
}

impl Plan {
    /// Checks the request: a non-empty window and at least one point.
    pub fn new(w: Window, limit: usize) -> StoreResult<Self> {
        let (from, to) = (w.from.timestamp_millis(), w.to.timestamp_millis());
        if to <= from || limit == 0 {
            return Err(StoreError::Invalid("empty window or zero limit".to_owned()));
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let width = ((to - from) + limit - 1) / limit;
        Ok(Self { from, to, width })
    }

    /// Raw samples where they exist, then 5-minute roll-ups, then 1-hour roll-ups, given the
    /// oldest raw sample time and the oldest bucket of each roll-up resolution.
    pub fn ranges(
        &self,
        oldest_raw: Option<i64>,
        oldest_5m: Option<i64>,
        oldest_1h: Option<i64>,
    ) -> Ranges {
        let (from, to) = (self.from, self.to);
        let b0 = oldest_raw.map_or(to, |t| ceil(t, RES_5M));
        let raw_lo = if oldest_5m.is_some_and(|m| m < b0) {
            b0
        } else {
            from
        };
        let b1 = oldest_5m.map_or(raw_lo, |t| ceil(t, RES_1H));
        let m5_lo = if oldest_1h.is_some_and(|h| h < b1) {
            b1
        } else {
            from
        };
        let rollups = [(RES_5M, m5_lo, raw_lo), (RES_1H, from, m5_lo)]
            .into_iter()
            .filter_map(|(res, lo, hi)| {
                let hi = hi.min(to);
                (hi > from).then_some((res, lo.max(from - res + 1), hi))
            })
            .collect();
        Ranges {
            raw: (raw_lo.max(from), to),
            rollups,
        }
    }
}

/// The buckets of a window, filled from any source in any order.
#[derive(Debug)]
pub(crate) struct Buckets<X = ()> {
    map: BTreeMap<i64, Acc<X>>,
}

impl<X: Extra> Buckets<X> {
    /// No bucket yet.
    pub fn new() -> Self {
        Self {
            map: BTreeMap::new(),
        }
    }

    /// Merges `acc` into bucket `key`.
    pub fn add(&mut self, key: i64, acc: Acc<X>, cols: &[Col]) {
        match self.map.get_mut(&key) {
            Some(prev) => prev.merge(acc, cols),
            None => {
                self.map.insert(key, acc);
            }
        }
    }

    /// The non-empty buckets, ascending.
    pub fn points(self) -> Vec<Acc<X>> {
        self.map.into_values().filter(|a| a.n > 0.0).collect()
    }
}
