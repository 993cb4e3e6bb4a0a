//! A time series (server or per-site samples) and its roll-ups, with the embedded store's
//! semantics: every aggregate is kept as a sample count, a sum of sample times, per "mean"
//! field a sum and per "last" field (cumulative counters) a maximum, plus the peaks of the
//! three percents, so raw samples, 5-minute and 1-hour roll-ups merge exactly.
//!
//! Raw samples are Twoine-shaped documents (`timestamp` a BSON date); roll-up documents are
//! ours: `{res, bucket, site?, n, ts, v: {<field>: sum|max}, max: {cpu, memory, disk}, host?}`.
//! Buckets are computed on the server with `$toLong`/`$subtract`/`$mod` (no `$dateTrunc`, no
//! `$merge`), which standalone mongod 7 and SecantusDB both run.

use std::collections::BTreeMap;

use mongodb::bson::{Bson, Document, doc};
use mongodb::options::FindOneOptions;

use super::convert::{all, date_ms, num, oid};
use super::{MongoStore, err};
use crate::model::Id;
use crate::store::{StoreError, StoreResult, Window};

pub(super) use crate::store::rollup::{Agg, RES_1H, RES_5M, ceil, floor};

/// A series description: field key, path in a raw document, aggregation.
pub(super) struct Series {
    pub raw: &'static str,
    pub rollup: &'static str,
    pub keyed: bool,
    pub cols: &'static [(&'static str, &'static str, Agg)],
    /// Raw paths whose maxima are kept as `max.cpu`, `max.memory`, `max.disk`.
    pub peaks: [&'static str; 3],
    /// Non-numeric raw fields carried along (any sample's value): key, raw path.
    pub carried: &'static [(&'static str, &'static str)],
}

const PEAK_KEYS: [&str; 3] = ["cpu", "memory", "disk"];

/// An aggregate of one or more samples.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Acc {
    pub n: f64,
    pub ts_sum: f64,
    pub vals: Vec<f64>,
    pub peaks: [f64; 3],
    /// The carried fields, by key.
    pub carried: Document,
}

impl Acc {
    fn merge(&mut self, o: Acc, cols: &[(&str, &str, Agg)]) {
        self.n += o.n;
        self.ts_sum += o.ts_sum;
        for (i, (_, _, agg)) in cols.iter().enumerate() {
            let b = o.vals.get(i).copied().unwrap_or(0.0);
            if let Some(v) = self.vals.get_mut(i) {
                *v = if *agg == Agg::Mean { *v + b } else { v.max(b) };
            }
        }
        for (p, q) in self.peaks.iter_mut().zip(o.peaks) {
            *p = p.max(q);
        }
        for (k, v) in o.carried {
            if !matches!(v, Bson::Null) {
                self.carried.insert(k, v);
            }
        }
    }

    /// Field `i` as the bucket's value (mean or last).
    pub fn value(&self, cols: &[(&str, &str, Agg)], i: usize) -> f64 {
        let v = self.vals.get(i).copied().unwrap_or(0.0);
        match cols.get(i) {
            Some((_, _, Agg::Mean)) if self.n > 0.0 => v / self.n,
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

/// `$toLong` of a date field.
fn long_of(field: &str) -> Bson {
    Bson::Document(doc! { "$toLong": format!("${field}") })
}

/// `x - x mod m`.
fn floor_expr(x: Bson, m: i64) -> Bson {
    Bson::Document(doc! { "$subtract": [x.clone(), { "$mod": [x, m] }] })
}

impl Series {
    fn site_filter(&self, site: Option<Id>, into: &mut Document) {
        if let (true, Some(s)) = (self.keyed, site) {
            into.insert("site", oid(s));
        }
    }

    /// The `$group` accumulators, from raw samples or from roll-ups.
    fn accumulators(&self, from_rollup: bool, into: &mut Document) {
        if from_rollup {
            into.insert("n", doc! { "$sum": "$n" });
            into.insert("ts", doc! { "$sum": "$ts" });
        } else {
            into.insert("n", doc! { "$sum": 1 });
            into.insert("ts", doc! { "$sum": long_of("timestamp") });
        }
        for (key, path, agg) in self.cols {
            let src = if from_rollup {
                format!("$v.{key}")
            } else {
                format!("${path}")
            };
            let op = if *agg == Agg::Mean { "$sum" } else { "$max" };
            into.insert(format!("v_{key}"), doc! { op: src });
        }
        for (i, path) in self.peaks.iter().enumerate() {
            let src = if from_rollup {
                format!("$max.{}", PEAK_KEYS[i])
            } else {
                format!("${path}")
            };
            into.insert(format!("p_{i}"), doc! { "$max": src });
        }
        for (key, path) in self.carried {
            let src = if from_rollup {
                format!("$host.{key}")
            } else {
                format!("${path}")
            };
            into.insert(format!("c_{key}"), doc! { "$last": src });
        }
    }

    fn read_acc(&self, d: &Document) -> Acc {
        let mut carried = Document::new();
        for (key, _) in self.carried {
            if let Some(v) = d.get(format!("c_{key}")) {
                carried.insert(*key, v.clone());
            }
        }
        Acc {
            n: num(d.get("n")),
            ts_sum: num(d.get("ts")),
            vals: self
                .cols
                .iter()
                .map(|(k, _, _)| num(d.get(format!("v_{k}"))))
                .collect(),
            peaks: [0, 1, 2].map(|i| num(d.get(format!("p_{i}")))),
            carried,
        }
    }

    /// A roll-up document from an aggregate.
    fn rollup_doc(&self, res: i64, bucket: i64, site: Option<&Bson>, a: &Acc) -> Document {
        let mut v = Document::new();
        for (i, (key, _, _)) in self.cols.iter().enumerate() {
            v.insert(*key, a.vals.get(i).copied().unwrap_or(0.0));
        }
        let mut d = doc! { "res": res, "bucket": date_ms(bucket) };
        if let Some(s) = site {
            d.insert("site", s.clone());
        }
        d.insert("n", a.n);
        d.insert("ts", a.ts_sum);
        d.insert("v", v);
        d.insert(
            "max",
            doc! { "cpu": a.peaks[0], "memory": a.peaks[1], "disk": a.peaks[2] },
        );
        if !self.carried.is_empty() {
            d.insert("host", a.carried.clone());
        }
        d
    }

    /// The newest raw sample.
    pub async fn latest(&self, s: &MongoStore, site: Option<Id>) -> StoreResult<Option<Document>> {
        let mut filter = Document::new();
        self.site_filter(site, &mut filter);
        s.coll(self.raw)
            .find_one(filter)
            .with_options(
                FindOneOptions::builder()
                    .sort(doc! { "timestamp": -1 })
                    .build(),
            )
            .await
            .map_err(err)
    }

    /// The oldest time (ms) in raw samples (`res == None`) or in roll-ups of `res`.
    async fn oldest(
        &self,
        s: &MongoStore,
        site: Option<Id>,
        res: Option<i64>,
    ) -> StoreResult<Option<i64>> {
        let mut filter = Document::new();
        self.site_filter(site, &mut filter);
        let (coll, field) = match res {
            None => (self.raw, "timestamp"),
            Some(r) => {
                filter.insert("res", r);
                (self.rollup, "bucket")
            }
        };
        let found = s
            .coll(coll)
            .find_one(filter)
            .with_options(
                FindOneOptions::builder()
                    .sort(doc! { field: 1 })
                    .projection(doc! { field: 1 })
                    .build(),
            )
            .await
            .map_err(err)?;
        Ok(found.and_then(|d| d.get_datetime(field).ok().map(|t| t.timestamp_millis())))
    }

    async fn collect(
        &self,
        s: &MongoStore,
        coll: &str,
        pipeline: Vec<Document>,
        into: &mut BTreeMap<i64, Acc>,
    ) -> StoreResult<()> {
        let cursor = s.coll(coll).aggregate(pipeline).await.map_err(err)?;
        for d in all(cursor).await? {
            let key = num(d.get("_id")).round() as i64;
            let acc = self.read_acc(&d);
            match into.get_mut(&key) {
                Some(prev) => prev.merge(acc, self.cols),
                None => {
                    into.insert(key, acc);
                }
            }
        }
        Ok(())
    }

    /// History over `w`, at most `limit` points, ascending: raw samples where they exist, then
    /// 5-minute roll-ups, then 1-hour roll-ups, merged bucket by bucket.
    pub async fn history(
        &self,
        s: &MongoStore,
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
        let oldest_raw = self.oldest(s, site, None).await?;
        let oldest_5m = self.oldest(s, site, Some(RES_5M)).await?;
        let oldest_1h = self.oldest(s, site, Some(RES_1H)).await?;
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
        let lo = raw_lo.max(from);
        if lo < to {
            let mut m = doc! { "timestamp": { "$gte": date_ms(lo), "$lt": date_ms(to) } };
            self.site_filter(site, &mut m);
            let rel = Bson::Document(doc! { "$subtract": [long_of("timestamp"), from] });
            let mut g = doc! { "_id": floor_expr(rel, width) };
            self.accumulators(false, &mut g);
            self.collect(
                s,
                self.raw,
                vec![doc! { "$match": m }, doc! { "$group": g }],
                &mut buckets,
            )
            .await?;
        }
        for (res, lo, hi) in [(RES_5M, m5_lo, raw_lo), (RES_1H, from, m5_lo)] {
            let hi = hi.min(to);
            if hi <= from {
                continue;
            }
            let lo = lo.max(from - res + 1);
            let mut m = doc! { "res": res, "bucket": { "$gte": date_ms(lo), "$lt": date_ms(hi) } };
            self.site_filter(site, &mut m);
            let rel = Bson::Document(doc! {
                "$subtract": [{ "$max": [long_of("bucket"), from] }, from]
            });
            let mut g = doc! { "_id": floor_expr(rel, width) };
            self.accumulators(true, &mut g);
            self.collect(
                s,
                self.rollup,
                vec![doc! { "$match": m }, doc! { "$group": g }],
                &mut buckets,
            )
            .await?;
        }
        Ok(buckets.into_values().filter(|a| a.n > 0.0).collect())
    }

    /// Rolls `[lo, hi)` up into `res` buckets, from raw samples (`src = None`) or from roll-ups
    /// of resolution `src`: replaces the roll-ups of that range. Returns the documents written.
    pub async fn roll_up(
        &self,
        s: &MongoStore,
        res: i64,
        src: Option<i64>,
        lo: Option<i64>,
        hi: i64,
    ) -> StoreResult<u64> {
        if lo.is_some_and(|lo| hi <= lo) {
            return Ok(0);
        }
        let (coll, field) = match src {
            None => (self.raw, "timestamp"),
            Some(_) => (self.rollup, "bucket"),
        };
        let mut range = doc! { "$lt": date_ms(hi) };
        if let Some(lo) = lo {
            range.insert("$gte", date_ms(lo));
        }
        let mut m = doc! { field: range.clone() };
        if let Some(r) = src {
            m.insert("res", r);
        }
        let b = floor_expr(long_of(field), res);
        let key = if self.keyed {
            Bson::Document(doc! { "site": "$site", "b": b })
        } else {
            b
        };
        let mut g = doc! { "_id": key };
        self.accumulators(src.is_some(), &mut g);
        let cursor = s
            .coll(coll)
            .aggregate([doc! { "$match": m }, doc! { "$group": g }])
            .await
            .map_err(err)?;
        let mut docs = Vec::new();
        for d in all(cursor).await? {
            let acc = self.read_acc(&d);
            let (bucket, site) = match d.get("_id") {
                Some(Bson::Document(k)) => (num(k.get("b")).round() as i64, k.get("site")),
                other => (num(other).round() as i64, None),
            };
            docs.push(self.rollup_doc(res, bucket, site, &acc));
        }
        let target = s.coll(self.rollup);
        target
            .delete_many(doc! { "res": res, "bucket": range })
            .await
            .map_err(err)?;
        if docs.is_empty() {
            return Ok(0);
        }
        let n = docs.len() as u64;
        target.insert_many(docs).ordered(false).await.map_err(err)?;
        Ok(n)
    }
}
