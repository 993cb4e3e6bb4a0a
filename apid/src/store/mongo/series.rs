//! A time series (server or per-site samples) and its roll-ups, with the embedded store's
//! semantics: every aggregate is kept as a sample count, a sum of sample times, per "mean"
//! field a sum and per "last" field (cumulative counters) a maximum, plus the peaks of the
//! three percents, so raw samples, 5-minute and 1-hour roll-ups merge exactly.
//!
//! Raw samples are Twoine-shaped documents (`timestamp` a BSON date); roll-up documents are
//! ours: `{res, bucket, site?, n, ts, v: {<field>: sum|max}, max: {cpu, memory, disk}, host?}`.
//! Buckets are computed on the server with `$toLong`/`$subtract`/`$mod` (no `$dateTrunc`, no
//! `$merge`), which standalone mongod 7 and SecantusDB both run.

use mongodb::bson::{Bson, Document, doc};
use mongodb::options::FindOneOptions;

use super::convert::{all, date_ms, num, oid};
use super::{MongoStore, err};
use crate::model::Id;
use crate::store::history::{Buckets, Col, Extra, Plan};
use crate::store::{StoreResult, Window};

pub(super) use crate::store::rollup::{Agg, RES_1H, RES_5M, floor};

/// An aggregate, carrying the non-numeric fields by key.
pub(super) type Acc = crate::store::history::Acc<Document>;

/// A series description: numeric fields (key, path in a raw document, aggregation).
pub(super) struct Series {
    pub raw: &'static str,
    pub rollup: &'static str,
    pub keyed: bool,
    pub cols: &'static [Col],
    /// Raw paths whose maxima are kept as `max.cpu`, `max.memory`, `max.disk`.
    pub peaks: [&'static str; 3],
    /// Non-numeric raw fields carried along (any sample's value): key, raw path.
    pub carried: &'static [(&'static str, &'static str)],
}

const PEAK_KEYS: [&str; 3] = ["cpu", "memory", "disk"];

/// Carried fields: a later sample's non-null value wins.
impl Extra for Document {
    fn absorb(&mut self, other: Self) {
        for (k, v) in other {
            if !matches!(v, Bson::Null) {
                self.insert(k, v);
            }
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
        for c in self.cols {
            let src = if from_rollup {
                format!("$v.{}", c.key)
            } else {
                format!("${}", c.path)
            };
            let op = if c.agg == Agg::Mean { "$sum" } else { "$max" };
            into.insert(format!("v_{}", c.key), doc! { op: src });
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
                .map(|c| num(d.get(format!("v_{}", c.key))))
                .collect(),
            peaks: [0, 1, 2].map(|i| num(d.get(format!("p_{i}")))),
            extra: carried,
        }
    }

    /// A roll-up document from an aggregate.
    fn rollup_doc(&self, res: i64, bucket: i64, site: Option<&Bson>, a: &Acc) -> Document {
        let mut v = Document::new();
        for (i, c) in self.cols.iter().enumerate() {
            v.insert(c.key, a.vals.get(i).copied().unwrap_or(0.0));
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
            d.insert("host", a.extra.clone());
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
        into: &mut Buckets<Document>,
    ) -> StoreResult<()> {
        let cursor = s.coll(coll).aggregate(pipeline).await.map_err(err)?;
        for d in all(cursor).await? {
            let key = num(d.get("_id")).round() as i64;
            into.add(key, self.read_acc(&d), self.cols);
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
        let plan = Plan::new(w, limit)?;
        let (from, width) = (plan.from, plan.width);
        let ranges = plan.ranges(
            self.oldest(s, site, None).await?,
            self.oldest(s, site, Some(RES_5M)).await?,
            self.oldest(s, site, Some(RES_1H)).await?,
        );
        let mut buckets = Buckets::new();
        let (lo, hi) = ranges.raw;
        if lo < hi {
            let mut m = doc! { "timestamp": { "$gte": date_ms(lo), "$lt": date_ms(hi) } };
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
        for (res, lo, hi) in ranges.rollups {
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
        Ok(buckets.points())
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
