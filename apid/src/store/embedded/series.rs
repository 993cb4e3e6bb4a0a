//! A time series of numeric samples (server or per-site) with its roll-ups: one description,
//! from which the insert, latest, history, and roll-up SQL are generated.
//!
//! Every aggregate is computed as sums and maxima so that raw samples, 5-minute and 1-hour
//! roll-ups merge exactly: a roll-up row holds the sample count `n`, the sum of sample times,
//! per "mean" column the sum and per "last" column (cumulative counters) the maximum, and the
//! peaks of the three percents.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, ToSql};

use super::sql;
use crate::model::Id;
use crate::store::{StoreError, StoreResult, Window};

pub(super) use crate::store::rollup::{Agg, RES_1H, RES_5M, ceil, floor};

/// A series description.
pub(super) struct Series {
    pub raw: &'static str,
    pub rollup: &'static str,
    /// Whether rows carry a `site` key.
    pub keyed: bool,
    pub cols: &'static [(&'static str, Agg)],
    /// Raw columns whose maxima are kept as `cpu_max`, `mem_max`, `disk_max`.
    pub peaks: [&'static str; 3],
}

/// An aggregate of one or more samples.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Acc {
    pub n: f64,
    pub ts_sum: f64,
    pub vals: Vec<f64>,
    pub peaks: [f64; 3],
}

impl Acc {
    fn merge(&mut self, o: &Acc, cols: &[(&str, Agg)]) {
        self.n += o.n;
        self.ts_sum += o.ts_sum;
        for (i, (_, agg)) in cols.iter().enumerate() {
            let (a, b) = (
                self.vals.get(i).copied().unwrap_or(0.0),
                o.vals.get(i).copied().unwrap_or(0.0),
            );
            if let Some(v) = self.vals.get_mut(i) {
                *v = if *agg == Agg::Mean { a + b } else { a.max(b) };
            }
        }
        for (p, q) in self.peaks.iter_mut().zip(o.peaks) {
            *p = p.max(q);
        }
    }

    /// Column `i` as the bucket's value (mean or last).
    pub fn value(&self, cols: &[(&str, Agg)], i: usize) -> f64 {
        let v = self.vals.get(i).copied().unwrap_or(0.0);
        match cols.get(i) {
            Some((_, Agg::Mean)) if self.n > 0.0 => v / self.n,
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

impl Series {
    fn exprs(&self, from_rollup: bool) -> String {
        let mut e = vec![
            if from_rollup {
                "TOTAL(n)".to_owned()
            } else {
                "COUNT(*)".to_owned()
            },
            "TOTAL(ts)".to_owned(),
        ];
        for (c, agg) in self.cols {
            e.push(match agg {
                Agg::Mean => format!("TOTAL({c})"),
                Agg::Last => format!("MAX({c})"),
            });
        }
        for (raw, max) in self.peaks.iter().zip(["cpu_max", "mem_max", "disk_max"]) {
            e.push(format!("MAX({})", if from_rollup { max } else { raw }));
        }
        e.join(", ")
    }

    fn key_filter(&self) -> &'static str {
        if self.keyed { " AND site = :site" } else { "" }
    }

    fn read_acc(&self, r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Acc> {
        let f =
            |i: usize| -> rusqlite::Result<f64> { Ok(r.get::<_, Option<f64>>(i)?.unwrap_or(0.0)) };
        let n = f(first)?;
        let ts_sum = f(first + 1)?;
        let mut vals = Vec::with_capacity(self.cols.len());
        for i in 0..self.cols.len() {
            vals.push(f(first + 2 + i)?);
        }
        let p = first + 2 + self.cols.len();
        Ok(Acc {
            n,
            ts_sum,
            vals,
            peaks: [f(p)?, f(p + 1)?, f(p + 2)?],
        })
    }

    /// Inserts one raw sample (`vals` in column order).
    pub fn insert(
        &self,
        c: &Connection,
        site: Option<Id>,
        ts: i64,
        vals: &[i64],
    ) -> StoreResult<()> {
        let key = if self.keyed { "site, " } else { "" };
        let names: Vec<&str> = self.cols.iter().map(|(n, _)| *n).collect();
        let marks: Vec<String> = (0..names.len() + 1 + usize::from(self.keyed))
            .map(|i| format!("?{}", i + 1))
            .collect();
        let q = format!(
            "INSERT OR REPLACE INTO {} ({key}ts, {}) VALUES ({})",
            self.raw,
            names.join(", "),
            marks.join(", ")
        );
        let mut st = c.prepare_cached(&q).map_err(sql)?;
        let site_bytes = site.map(|s| s.bytes());
        let mut params: Vec<&dyn ToSql> = Vec::with_capacity(vals.len() + 2);
        if let Some(b) = &site_bytes {
            params.push(b);
        }
        params.push(&ts);
        for v in vals {
            params.push(v);
        }
        st.execute(params.as_slice()).map_err(sql)?;
        Ok(())
    }

    /// The newest raw sample.
    pub fn latest(&self, c: &Connection, site: Option<Id>) -> StoreResult<Option<Acc>> {
        let names: Vec<String> = self.cols.iter().map(|(n, _)| (*n).to_owned()).collect();
        let q = format!(
            "SELECT 1, ts, {}, {} FROM {} WHERE 1 = 1{} ORDER BY ts DESC LIMIT 1",
            names.join(", "),
            self.peaks.join(", "),
            self.raw,
            self.key_filter()
        );
        let mut st = c.prepare_cached(&q).map_err(sql)?;
        let site = site.map(|s| s.bytes().to_vec()).unwrap_or_default();
        let mut p: Vec<(&str, &dyn ToSql)> = Vec::new();
        if self.keyed {
            p.push((":site", &site));
        }
        st.query_row(p.as_slice(), |r| self.read_acc(r, 0))
            .optional()
            .map_err(sql)
    }

    fn min(
        &self,
        c: &Connection,
        q: String,
        site: &[u8],
        res: Option<i64>,
    ) -> StoreResult<Option<i64>> {
        let mut st = c.prepare_cached(&q).map_err(sql)?;
        let mut p: Vec<(&str, &dyn ToSql)> = Vec::new();
        if self.keyed {
            p.push((":site", &site));
        }
        if let Some(r) = &res {
            p.push((":res", r));
        }
        st.query_row(p.as_slice(), |r| r.get::<_, Option<i64>>(0))
            .map_err(sql)
    }

    /// History over `window`, at most `limit` points, ascending, each the aggregate of its
    /// bucket. Raw samples where they exist, then 5-minute roll-ups, then 1-hour roll-ups.
    pub fn history(
        &self,
        c: &Connection,
        site: Option<Id>,
        w: Window,
        limit: usize,
    ) -> StoreResult<Vec<Acc>> {
        let (from, to) = (w.from.timestamp_millis(), w.to.timestamp_millis());
        if to <= from || limit == 0 {
            return Err(StoreError::Invalid("empty window or zero limit".to_owned()));
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let width = ((to - from) + limit - 1) / limit;
        let site_b = site.map(|s| s.bytes().to_vec()).unwrap_or_default();
        let kf = self.key_filter();
        let oldest_raw = self.min(
            c,
            format!("SELECT MIN(ts) FROM {} WHERE 1 = 1{kf}", self.raw),
            &site_b,
            None,
        )?;
        let oldest_5m = self.min(
            c,
            format!(
                "SELECT MIN(bucket) FROM {} WHERE res = :res{kf}",
                self.rollup
            ),
            &site_b,
            Some(RES_5M),
        )?;
        let oldest_1h = self.min(
            c,
            format!(
                "SELECT MIN(bucket) FROM {} WHERE res = :res{kf}",
                self.rollup
            ),
            &site_b,
            Some(RES_1H),
        )?;
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

        let mut buckets: BTreeMap<i64, Acc> = BTreeMap::new();
        let q = format!(
            "SELECT (ts - :from) / :width AS b, {} FROM {} WHERE ts >= :lo AND ts < :hi{kf} GROUP BY b",
            self.exprs(false),
            self.raw
        );
        self.collect(
            c,
            &q,
            &site_b,
            &[
                (":from", from),
                (":width", width),
                (":lo", raw_lo.max(from)),
                (":hi", to),
            ],
            &mut buckets,
        )?;
        let rq = format!(
            "SELECT (MAX(bucket, :from) - :from) / :width AS b, {} FROM {} \
             WHERE res = :res AND bucket >= :lo AND bucket < :hi{kf} GROUP BY b",
            self.exprs(true),
            self.rollup
        );
        for (res, lo, hi) in [(RES_5M, m5_lo, raw_lo), (RES_1H, from, m5_lo)] {
            let hi = hi.min(to);
            if hi <= from {
                continue;
            }
            let lo = lo.max(from - res + 1);
            let p = [
                (":from", from),
                (":width", width),
                (":res", res),
                (":lo", lo),
                (":hi", hi),
            ];
            self.collect(c, &rq, &site_b, &p, &mut buckets)?;
        }
        Ok(buckets.into_values().filter(|a| a.n > 0.0).collect())
    }

    fn collect(
        &self,
        c: &Connection,
        q: &str,
        site: &[u8],
        ints: &[(&str, i64)],
        into: &mut BTreeMap<i64, Acc>,
    ) -> StoreResult<()> {
        let mut st = c.prepare_cached(q).map_err(sql)?;
        let mut p: Vec<(&str, &dyn ToSql)> =
            ints.iter().map(|(k, v)| (*k, v as &dyn ToSql)).collect();
        if self.keyed {
            p.push((":site", &site));
        }
        let rows = st
            .query_map(p.as_slice(), |r| {
                Ok((r.get::<_, i64>(0)?, self.read_acc(r, 1)?))
            })
            .map_err(sql)?;
        for row in rows {
            let (b, acc) = row.map_err(sql)?;
            match into.get_mut(&b) {
                Some(prev) => prev.merge(&acc, self.cols),
                None => {
                    into.insert(b, acc);
                }
            }
        }
        Ok(())
    }

    /// Rolls `[lo, hi)` up into `res` buckets, from raw rows (`src = None`) or from roll-ups
    /// of resolution `src`. Returns the rows written.
    pub fn roll_up(
        &self,
        c: &Connection,
        res: i64,
        src: Option<i64>,
        lo: i64,
        hi: i64,
    ) -> StoreResult<u64> {
        if hi <= lo {
            return Ok(0);
        }
        let key = if self.keyed { "site, " } else { "" };
        let names: Vec<&str> = self.cols.iter().map(|(n, _)| *n).collect();
        let (time, table, filter) = match src {
            None => ("ts", self.raw, "ts >= :lo AND ts < :hi"),
            Some(_) => (
                "bucket",
                self.rollup,
                "res = :src AND bucket >= :lo AND bucket < :hi",
            ),
        };
        let q = format!(
            "INSERT OR REPLACE INTO {} (res, {key}bucket, n, ts, {}, cpu_max, mem_max, disk_max) \
             SELECT :res, {key}{time} - {time} % :res AS bk, {} FROM {table} WHERE {filter} GROUP BY {key}bk",
            self.rollup,
            names.join(", "),
            self.exprs(src.is_some())
        );
        let mut st = c.prepare_cached(&q).map_err(sql)?;
        let mut p: Vec<(&str, &dyn ToSql)> = vec![(":res", &res), (":lo", &lo), (":hi", &hi)];
        if let Some(s) = &src {
            p.push((":src", s));
        }
        let n = st.execute(p.as_slice()).map_err(sql)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
