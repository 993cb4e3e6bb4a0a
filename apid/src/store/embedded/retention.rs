//! Roll-ups and pruning, one transaction per pass.

use async_trait::async_trait;
use chrono::Duration;
use rusqlite::{Connection, OptionalExtension, params};

use super::series::{RES_1H, RES_5M, Series, floor};
use super::snapshots::{SERVER, SITE};
use super::{EmbeddedStore, sql};
use crate::model::Timestamp;
use crate::model::time::to_millis;
use crate::store::{
    RESOLVED_ALERT_TTL_DAYS, ROLLUP_1H_KEEP_DAYS, ROLLUP_5M_KEEP_DAYS, Retention, RetentionReport,
    StoreResult,
};

fn mark(c: &Connection, res: i64) -> StoreResult<i64> {
    let v: Option<i64> = c
        .query_row("SELECT until FROM rollup_mark WHERE res = ?1", [res], |r| {
            r.get(0)
        })
        .optional()
        .map_err(sql)?;
    Ok(v.unwrap_or(i64::MIN / 2))
}

fn set_mark(c: &Connection, res: i64, until: i64) -> StoreResult<()> {
    c.execute(
        "INSERT INTO rollup_mark (res, until) VALUES (?1, ?2) ON CONFLICT(res) DO UPDATE SET until = excluded.until",
        params![res, until],
    )
    .map_err(sql)?;
    Ok(())
}

fn delete(c: &Connection, q: &str, p: impl rusqlite::Params) -> StoreResult<u64> {
    Ok(u64::try_from(c.execute(q, p).map_err(sql)?).unwrap_or(0))
}

fn roll(
    c: &Connection,
    series: &Series,
    r5: (i64, i64),
    r60: (i64, i64),
    report: &mut RetentionReport,
) -> StoreResult<()> {
    report.rolled_5m += series.roll_up(c, RES_5M, None, r5.0, r5.1)?;
    report.rolled_1h += series.roll_up(c, RES_1H, Some(RES_5M), r60.0, r60.1)?;
    Ok(())
}

#[async_trait]
impl Retention for EmbeddedStore {
    async fn run_retention(
        &self,
        now: Timestamp,
        retention_hours: u32,
    ) -> StoreResult<RetentionReport> {
        self.call(move |c| {
            let tx = c.transaction().map_err(sql)?;
            let mut report = RetentionReport::default();
            let now_ms = to_millis(now);
            // Completed buckets only: 5-minute ones from raw rows, hours from 5-minute rows.
            let end5 = floor(now_ms, RES_5M);
            let start5 = mark(&tx, RES_5M)?;
            let end60 = floor(end5, RES_1H);
            let start60 = mark(&tx, RES_1H)?;
            for series in [&SERVER, &SITE] {
                roll(&tx, series, (start5, end5), (start60, end60), &mut report)?;
            }
            set_mark(&tx, RES_5M, end5.max(start5))?;
            set_mark(&tx, RES_1H, end60.max(start60))?;

            let raw_cut = to_millis(now - Duration::hours(i64::from(retention_hours)));
            report.pruned_server =
                delete(&tx, "DELETE FROM server_stats WHERE ts < ?1", [raw_cut])?;
            report.pruned_site = delete(&tx, "DELETE FROM site_stats WHERE ts < ?1", [raw_cut])?;
            let cut5 = to_millis(now - Duration::days(ROLLUP_5M_KEEP_DAYS));
            let cut60 = to_millis(now - Duration::days(ROLLUP_1H_KEEP_DAYS));
            for table in ["server_rollup", "site_rollup"] {
                let q = format!("DELETE FROM {table} WHERE res = ?1 AND bucket < ?2");
                report.pruned_rollups += delete(&tx, &q, params![RES_5M, cut5])?;
                report.pruned_rollups += delete(&tx, &q, params![RES_1H, cut60])?;
            }
            let alert_cut = to_millis(now - Duration::days(RESOLVED_ALERT_TTL_DAYS));
            report.pruned_alerts = delete(
                &tx,
                "DELETE FROM alerts WHERE status = 'resolved' AND resolved_at < ?1",
                [alert_cut],
            )?;
            tx.commit().map_err(sql)?;
            Ok(report)
        })
        .await
    }
}
