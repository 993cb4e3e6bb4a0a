//! A time series of numeric samples (server or per-site) with its roll-ups: one description,
//! from which the insert, latest, history and roll-up statements are generated.
//!
//! Raw samples keep their numbers packed in one BLOB (see [`packed`]); history and the
//! 5-minute roll-up read them in time order and aggregate in Rust, in the shared
//! [`Acc`](crate::store::history::Acc) form (sample count, sum of times, per "mean" column the
//! sum and per "last" column the maximum, peaks of the three percents), so raw samples,
//! 5-minute and 1-hour roll-ups merge exactly. Roll-up rows keep one column per field.

use rusqlite::{Connection, OptionalExtension, ToSql};

use super::{packed, sql};
use crate::model::Id;
use crate::store::history::{Acc, Buckets, Col, Plan};
use crate::store::{StoreResult, Window};

pub(super) use crate::store::rollup::{Agg, RES_1H, RES_5M, floor};

/// A series description.
pub(super) struct Series {
    pub raw: &'static str,
    pub rollup: &'static str,
    /// Whether rows carry a `site` key.
    pub keyed: bool,
    pub cols: &'static [Col],
    /// The columns (indices in `cols`) whose maxima are kept as `cpu_max`, `mem_max`,
    /// `disk_max`.
    pub peaks: [usize; 3],
}

const PEAK_COLS: [&str; 3] = ["cpu_max", "mem_max", "disk_max"];

/// A BLOB column (empty when NULL or not a BLOB).
fn blob<'a>(r: &'a rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'a [u8]> {
    Ok(match r.get_ref(i)? {
        rusqlite::types::ValueRef::Blob(b) => b,
        _ => &[],
    })
}

impl Series {
    /// One raw sample as an aggregate of one.
    fn sample(&self, ts: i64, blob: &[u8]) -> Acc {
        let mut vals = vec![0.0; self.cols.len()];
        packed::unpack(blob, vals.len(), |i, v| {
            if let Some(slot) = vals.get_mut(i) {
                *slot = v as f64;
            }
        });
        let peaks = self.peaks.map(|i| vals.get(i).copied().unwrap_or(0.0));
        Acc {
            n: 1.0,
            ts_sum: ts as f64,
            vals,
            peaks,
            extra: (),
        }
    }

    /// Adds a raw sample to `acc` in place (no allocation).
    fn add_sample(&self, acc: &mut Acc, ts: i64, blob: &[u8]) {
        acc.n += 1.0;
        acc.ts_sum += ts as f64;
        let (cols, peaks) = (self.cols, self.peaks);
        packed::unpack(blob, cols.len(), |i, v| {
            let v = v as f64;
            if let (Some(slot), Some(col)) = (acc.vals.get_mut(i), cols.get(i)) {
                *slot = if col.agg == Agg::Mean {
                    *slot + v
                } else {
                    slot.max(v)
                };
            }
            for (k, p) in peaks.iter().enumerate() {
                if *p == i {
                    acc.peaks[k] = acc.peaks[k].max(v);
                }
            }
        });
    }

    fn key_filter(&self) -> &'static str {
        if self.keyed { " AND site = :site" } else { "" }
    }

    /// Inserts one raw sample (`vals` in column order).
    pub fn insert(
        &self,
        c: &Connection,
        site: Option<Id>,
        ts: i64,
        vals: &[i64],
    ) -> StoreResult<()> {
        let blob = packed::pack(vals);
        match site.filter(|_| self.keyed) {
            Some(s) => {
                let q = format!(
                    "INSERT OR REPLACE INTO {} (site, ts, v) VALUES (?1, ?2, ?3)",
                    self.raw
                );
                let mut st = c.prepare_cached(&q).map_err(sql)?;
                st.execute((s.bytes().as_slice(), ts, blob)).map_err(sql)?;
            }
            None => {
                let q = format!(
                    "INSERT OR REPLACE INTO {} (ts, v) VALUES (?1, ?2)",
                    self.raw
                );
                let mut st = c.prepare_cached(&q).map_err(sql)?;
                st.execute((ts, blob)).map_err(sql)?;
            }
        }
        Ok(())
    }

    /// The newest raw sample.
    pub fn latest(&self, c: &Connection, site: Option<Id>) -> StoreResult<Option<Acc>> {
        let q = format!(
            "SELECT ts, v FROM {} WHERE 1 = 1{} ORDER BY ts DESC LIMIT 1",
            self.raw,
            self.key_filter()
        );
        let mut st = c.prepare_cached(&q).map_err(sql)?;
        let site = site.map(|s| s.bytes().to_vec()).unwrap_or_default();
        let mut p: Vec<(&str, &dyn ToSql)> = Vec::new();
        if self.keyed {
            p.push((":site", &site));
        }
        st.query_row(p.as_slice(), |r| {
            let ts: i64 = r.get(0)?;
            Ok(self.sample(ts, blob(r, 1)?))
        })
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

    /// Calls `f(ts, site, blob)` for each raw sample in `[lo, hi)`, in time order per site.
    fn scan_raw(
        &self,
        c: &Connection,
        site: Option<&[u8]>,
        lo: i64,
        hi: i64,
        mut f: impl FnMut(i64, &[u8], &[u8]),
    ) -> StoreResult<()> {
        let (cols, filter) = match (self.keyed, site) {
            (true, Some(_)) => ("site, ts, v", " AND site = :site ORDER BY ts"),
            (true, None) => ("site, ts, v", " ORDER BY site, ts"),
            (false, _) => ("NULL, ts, v", " ORDER BY ts"),
        };
        let q = format!(
            "SELECT {cols} FROM {} WHERE ts >= :lo AND ts < :hi{filter}",
            self.raw
        );
        let mut st = c.prepare_cached(&q).map_err(sql)?;
        let mut p: Vec<(&str, &dyn ToSql)> = vec![(":lo", &lo), (":hi", &hi)];
        if let (true, Some(s)) = (self.keyed, &site) {
            p.push((":site", s));
        }
        let mut rows = st.query(p.as_slice()).map_err(sql)?;
        while let Some(r) = rows.next().map_err(sql)? {
            let ts: i64 = r.get(1).map_err(sql)?;
            f(ts, blob(r, 0).map_err(sql)?, blob(r, 2).map_err(sql)?);
        }
        Ok(())
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
        let plan = Plan::new(w, limit)?;
        let site_b = site.map(|s| s.bytes().to_vec()).unwrap_or_default();
        let kf = self.key_filter();
        let rollup_min = format!(
            "SELECT MIN(bucket) FROM {} WHERE res = :res{kf}",
            self.rollup
        );
        let ranges = plan.ranges(
            self.min(
                c,
                format!("SELECT MIN(ts) FROM {} WHERE 1 = 1{kf}", self.raw),
                &site_b,
                None,
            )?,
            self.min(c, rollup_min.clone(), &site_b, Some(RES_5M))?,
            self.min(c, rollup_min, &site_b, Some(RES_1H))?,
        );

        let mut buckets = Buckets::new();
        let (lo, hi) = ranges.raw;
        if lo < hi {
            // Rows come in time order: one running aggregate, handed over at each new bucket.
            let mut cur: Option<(i64, Acc)> = None;
            self.scan_raw(c, Some(&site_b), lo, hi, |ts, _, blob| {
                let b = (ts - plan.from) / plan.width;
                match &mut cur {
                    Some((k, acc)) if *k == b => self.add_sample(acc, ts, blob),
                    _ => {
                        if let Some((k, acc)) = cur.replace((b, self.sample(ts, blob))) {
                            buckets.add(k, acc, self.cols);
                        }
                    }
                }
            })?;
            if let Some((k, acc)) = cur {
                buckets.add(k, acc, self.cols);
            }
        }
        let rq = format!(
            "SELECT (MAX(bucket, :from) - :from) / :width AS b, {} FROM {} \
             WHERE res = :res AND bucket >= :lo AND bucket < :hi{kf} GROUP BY b",
            self.rollup_exprs(),
            self.rollup
        );
        for (res, lo, hi) in ranges.rollups {
            let p = [
                (":from", plan.from),
                (":width", plan.width),
                (":res", res),
                (":lo", lo),
                (":hi", hi),
            ];
            self.collect(c, &rq, &site_b, &p, &mut buckets)?;
        }
        Ok(buckets.points())
    }

    /// Aggregates of roll-up rows: `n`, `ts`, one per column, the three peaks.
    fn rollup_exprs(&self) -> String {
        let mut e = vec!["TOTAL(n)".to_owned(), "TOTAL(ts)".to_owned()];
        for c in self.cols {
            e.push(match c.agg {
                Agg::Mean => format!("TOTAL({})", c.key),
                Agg::Last => format!("MAX({})", c.key),
            });
        }
        for p in PEAK_COLS {
            e.push(format!("MAX({p})"));
        }
        e.join(", ")
    }

    fn read_acc(&self, r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Acc> {
        let f =
            |i: usize| -> rusqlite::Result<f64> { Ok(r.get::<_, Option<f64>>(i)?.unwrap_or(0.0)) };
        let mut vals = Vec::with_capacity(self.cols.len());
        for i in 0..self.cols.len() {
            vals.push(f(first + 2 + i)?);
        }
        let p = first + 2 + self.cols.len();
        Ok(Acc {
            n: f(first)?,
            ts_sum: f(first + 1)?,
            vals,
            peaks: [f(p)?, f(p + 1)?, f(p + 2)?],
            extra: (),
        })
    }

    fn collect(
        &self,
        c: &Connection,
        q: &str,
        site: &[u8],
        ints: &[(&str, i64)],
        into: &mut Buckets,
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
            into.add(b, acc, self.cols);
        }
        Ok(())
    }

    fn write_rollup(
        &self,
        c: &Connection,
        res: i64,
        site: Option<&[u8]>,
        bucket: i64,
        a: &Acc,
    ) -> StoreResult<()> {
        let key = if self.keyed { "site, " } else { "" };
        let names: Vec<&str> = self.cols.iter().map(|c| c.key).collect();
        let n = 4 + usize::from(self.keyed) + names.len() + 3;
        let marks: Vec<String> = (1..=n).map(|i| format!("?{i}")).collect();
        let q = format!(
            "INSERT OR REPLACE INTO {} (res, {key}bucket, n, ts, {}, cpu_max, mem_max, disk_max) \
             VALUES ({})",
            self.rollup,
            names.join(", "),
            marks.join(", ")
        );
        let mut st = c.prepare_cached(&q).map_err(sql)?;
        let mut p: Vec<&dyn ToSql> = vec![&res];
        if let (true, Some(s)) = (self.keyed, &site) {
            p.push(s);
        }
        p.extend([&bucket as &dyn ToSql, &a.n, &a.ts_sum]);
        p.extend(a.vals.iter().map(|v| v as &dyn ToSql));
        p.extend(a.peaks.iter().map(|v| v as &dyn ToSql));
        st.execute(p.as_slice()).map_err(sql)?;
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
        if src.is_none() {
            // Per (site, bucket), in scan order: rows of one key are contiguous.
            let mut cur: Option<(Vec<u8>, i64, Acc)> = None;
            let mut done: Vec<(Vec<u8>, i64, Acc)> = Vec::new();
            self.scan_raw(c, None, lo, hi, |ts, key, blob| {
                let b = floor(ts, res);
                match &mut cur {
                    Some((k, kb, acc)) if *kb == b && k.as_slice() == key => {
                        self.add_sample(acc, ts, blob);
                    }
                    _ => done.extend(cur.replace((key.to_vec(), b, self.sample(ts, blob)))),
                }
            })?;
            done.extend(cur);
            for (site, bucket, acc) in &done {
                self.write_rollup(c, res, Some(site), *bucket, acc)?;
            }
            return Ok(u64::try_from(done.len()).unwrap_or(u64::MAX));
        }
        let key = if self.keyed { "site, " } else { "" };
        let names: Vec<&str> = self.cols.iter().map(|c| c.key).collect();
        let q = format!(
            "INSERT OR REPLACE INTO {} (res, {key}bucket, n, ts, {}, cpu_max, mem_max, disk_max) \
             SELECT :res, {key}bucket - bucket % :res AS bk, {} FROM {} \
             WHERE res = :src AND bucket >= :lo AND bucket < :hi GROUP BY {key}bk",
            self.rollup,
            names.join(", "),
            self.rollup_exprs(),
            self.rollup
        );
        let mut st = c.prepare_cached(&q).map_err(sql)?;
        let p: Vec<(&str, &dyn ToSql)> =
            vec![(":res", &res), (":lo", &lo), (":hi", &hi), (":src", &src)];
        let n = st.execute(p.as_slice()).map_err(sql)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
