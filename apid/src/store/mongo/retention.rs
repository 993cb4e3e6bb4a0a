//! Roll-ups and pruning. Without transactions each step is idempotent instead: a roll-up range
//! is replaced whole, its mark advanced only after, and raw samples pruned only after the
//! roll-ups that cover them are written; a crash mid-pass is repaired by the next pass.

use async_trait::async_trait;
use chrono::Duration;
use mongodb::bson::doc;

use super::collections::{
    ALERTS, ROLLUP_MARKS, SERVER_ROLLUPS, SERVER_STATS, SITE_ROLLUPS, SITE_STATS,
};
use super::convert::{date, date_ms, num};
use super::series::{RES_1H, RES_5M, floor};
use super::snapshots::{SERVER, SITE};
use super::{MongoStore, err};
use crate::model::Timestamp;
use crate::store::{
    RESOLVED_ALERT_TTL_DAYS, ROLLUP_1H_KEEP_DAYS, ROLLUP_5M_KEEP_DAYS, Retention, RetentionReport,
    StoreResult,
};

fn mark_id(res: i64) -> &'static str {
    if res == RES_5M { "5m" } else { "1h" }
}

impl MongoStore {
    /// Up to when (ms, excluded) resolution `res` has been rolled up; `None` before the first pass.
    async fn mark(&self, res: i64) -> StoreResult<Option<i64>> {
        let d = self
            .coll(ROLLUP_MARKS)
            .find_one(doc! { "_id": mark_id(res) })
            .await
            .map_err(err)?;
        Ok(d.map(|d| num(d.get("until")) as i64))
    }

    async fn set_mark(&self, res: i64, until: i64) -> StoreResult<()> {
        self.coll(ROLLUP_MARKS)
            .replace_one(
                doc! { "_id": mark_id(res) },
                doc! { "_id": mark_id(res), "until": until, "at": date_ms(until) },
            )
            .upsert(true)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn delete(&self, coll: &str, filter: mongodb::bson::Document) -> StoreResult<u64> {
        Ok(self
            .coll(coll)
            .delete_many(filter)
            .await
            .map_err(err)?
            .deleted_count)
    }
}

#[async_trait]
impl Retention for MongoStore {
    async fn run_retention(
        &self,
        now: Timestamp,
        retention_hours: u32,
    ) -> StoreResult<RetentionReport> {
        let mut report = RetentionReport::default();
        let now_ms = now.timestamp_millis();
        // Completed buckets only: 5-minute ones from raw samples, hours from 5-minute roll-ups.
        let end5 = floor(now_ms, RES_5M);
        let start5 = self.mark(RES_5M).await?;
        let end60 = floor(end5, RES_1H);
        let start60 = self.mark(RES_1H).await?;
        for series in [&SERVER, &SITE] {
            report.rolled_5m += series.roll_up(self, RES_5M, None, start5, end5).await?;
        }
        self.set_mark(RES_5M, start5.map_or(end5, |s| end5.max(s)))
            .await?;
        for series in [&SERVER, &SITE] {
            report.rolled_1h += series
                .roll_up(self, RES_1H, Some(RES_5M), start60, end60)
                .await?;
        }
        self.set_mark(RES_1H, start60.map_or(end60, |s| end60.max(s)))
            .await?;

        let raw_cut = date(now - Duration::hours(i64::from(retention_hours)));
        report.pruned_server = self
            .delete(SERVER_STATS, doc! { "timestamp": { "$lt": raw_cut } })
            .await?;
        report.pruned_site = self
            .delete(SITE_STATS, doc! { "timestamp": { "$lt": raw_cut } })
            .await?;
        let cut5 = date(now - Duration::days(ROLLUP_5M_KEEP_DAYS));
        let cut60 = date(now - Duration::days(ROLLUP_1H_KEEP_DAYS));
        for coll in [SERVER_ROLLUPS, SITE_ROLLUPS] {
            report.pruned_rollups += self
                .delete(coll, doc! { "res": RES_5M, "bucket": { "$lt": cut5 } })
                .await?;
            report.pruned_rollups += self
                .delete(coll, doc! { "res": RES_1H, "bucket": { "$lt": cut60 } })
                .await?;
        }
        let alert_cut = date(now - Duration::days(RESOLVED_ALERT_TTL_DAYS));
        report.pruned_alerts = self
            .delete(
                ALERTS,
                doc! { "status": "resolved", "resolvedAt": { "$lt": alert_cut } },
            )
            .await?;
        Ok(report)
    }
}
