//! `server_stats` and `site_stats`: one Twoine-shaped document per sample (CONTRACT §4 field
//! names, `timestamp` a BSON date, `site` an ObjectId in site samples), history from
//! [`super::series`].

use async_trait::async_trait;
use mongodb::bson::{Document, doc};

use super::collections::{DOMAINS, SERVER_ROLLUPS, SERVER_STATS, SITE_ROLLUPS, SITE_STATS, SITES};
use super::convert::{all_parsed, date, oid, parse};
use super::series::{Acc, Series};
use super::{MongoStore, err};
use crate::model::{Domain, Id, ServerStats, Site, SiteStats, SystemInfo};
use crate::store::history::{
    Col, Host, SERVER_SHARED, SITE_COLS, SiteContext, server_cols, server_point, site_point, u,
    u32_,
};
use crate::store::{SnapshotStore, StoreError, StoreResult, Window};

/// The shared server columns, then what the embedded store keeps in `host_info`.
const SERVER_COLS: [Col; SERVER_SHARED + 4] = server_cols(&[
    Col::mean("cores", "cpu.cores"),
    Col::mean("speed", "cpu.speed"),
    Col::mean("mem_total", "memory.total"),
    Col::mean("disk_total", "disk.total"),
]);

pub(super) const SERVER: Series = Series {
    raw: SERVER_STATS,
    rollup: SERVER_ROLLUPS,
    keyed: false,
    cols: &SERVER_COLS,
    peaks: ["cpu.percent", "memory.percent", "disk.percent"],
    carried: &[("model", "cpu.model"), ("system", "system")],
};

pub(super) const SITE: Series = Series {
    raw: SITE_STATS,
    rollup: SITE_ROLLUPS,
    keyed: true,
    cols: SITE_COLS,
    peaks: ["cpu.percent", "memory.percent", "disk.percent"],
    carried: &[],
};

fn to_doc<T: serde::Serialize>(v: &T) -> StoreResult<Document> {
    mongodb::bson::to_document(v).map_err(|e| StoreError::Internal(e.to_string()))
}

/// A server sample as stored: the API shape, `timestamp` a BSON date, no `max`.
pub(super) fn server_doc(s: &ServerStats) -> StoreResult<Document> {
    let mut d = to_doc(s)?;
    d.remove("max");
    d.insert("timestamp", date(s.timestamp));
    Ok(d)
}

/// A site sample as stored: `site` the site's ObjectId, `timestamp` a BSON date, no `max`.
pub(super) fn site_doc(s: &SiteStats) -> StoreResult<Document> {
    let mut d = to_doc(s)?;
    d.remove("max");
    d.insert("site", oid(s.site.id));
    d.insert("timestamp", date(s.timestamp));
    Ok(d)
}

fn to_server(a: &Acc) -> ServerStats {
    let v = |i: usize| a.value(SERVER.cols, SERVER_SHARED + i);
    let system: SystemInfo = a
        .extra
        .get_document("system")
        .ok()
        .and_then(|d| parse(d.clone()).ok())
        .unwrap_or_default();
    let host = Host {
        cores: u32_(v(0)),
        model: a.extra.get_str("model").unwrap_or_default().to_owned(),
        speed: u32_(v(1)),
        mem_total: u(v(2)),
        disk_total: u(v(3)),
        system,
    };
    server_point(a, SERVER.cols, false, host, true)
}

async fn site_context(s: &MongoStore, site: Id) -> StoreResult<SiteContext> {
    let found = s
        .coll(SITES)
        .find_one(doc! { "_id": oid(site) })
        .await
        .map_err(err)?
        .and_then(|d| parse::<Site>(d).ok());
    let cursor = s
        .coll(DOMAINS)
        .find(doc! { "site": oid(site) })
        .sort(doc! { "domain": 1 })
        .await
        .map_err(err)?;
    let domains = all_parsed::<Domain>(cursor).await?;
    Ok(SiteContext::new(site, found, domains))
}

/// A stored raw site sample, with the panel context filled in.
fn read_site_doc(mut d: Document, ctx: SiteContext) -> StoreResult<SiteStats> {
    d.remove("_id");
    let info =
        mongodb::bson::to_bson(&ctx.info).map_err(|e| StoreError::Internal(e.to_string()))?;
    d.insert("site", info);
    let domains =
        mongodb::bson::to_bson(&ctx.domains).map_err(|e| StoreError::Internal(e.to_string()))?;
    d.insert("domains", domains);
    d.insert(
        "ports",
        doc! { "start": i32::from(ctx.ports.start), "end": i32::from(ctx.ports.end) },
    );
    parse(d)
}

#[async_trait]
impl SnapshotStore for MongoStore {
    async fn insert_snapshot(
        &self,
        server: Option<&ServerStats>,
        sites: &[SiteStats],
    ) -> StoreResult<()> {
        // No transactions on a standalone mongod: site samples first, then the server sample,
        // each journaled; a crash between them loses part of this one poll only.
        if !sites.is_empty() {
            let docs = sites
                .iter()
                .map(site_doc)
                .collect::<StoreResult<Vec<_>>>()?;
            self.coll(SITE_STATS)
                .insert_many(docs)
                .ordered(false)
                .await
                .map_err(err)?;
        }
        if let Some(s) = server {
            self.coll(SERVER_STATS)
                .insert_one(server_doc(s)?)
                .await
                .map_err(err)?;
        }
        Ok(())
    }

    async fn latest_server_stats(&self) -> StoreResult<Option<ServerStats>> {
        match SERVER.latest(self, None).await? {
            Some(mut d) => {
                d.remove("_id");
                parse(d).map(Some)
            }
            None => Ok(None),
        }
    }

    async fn server_history(&self, window: Window, limit: usize) -> StoreResult<Vec<ServerStats>> {
        let points = SERVER.history(self, None, window, limit).await?;
        Ok(points.iter().map(to_server).collect())
    }

    async fn latest_site_stats(&self, site: Id) -> StoreResult<Option<SiteStats>> {
        let Some(d) = SITE.latest(self, Some(site)).await? else {
            return Ok(None);
        };
        let ctx = site_context(self, site).await?;
        read_site_doc(d, ctx).map(Some)
    }

    async fn site_history(
        &self,
        site: Id,
        window: Window,
        limit: usize,
    ) -> StoreResult<Vec<SiteStats>> {
        let points = SITE.history(self, Some(site), window, limit).await?;
        if points.is_empty() {
            return Ok(Vec::new());
        }
        let ctx = site_context(self, site).await?;
        Ok(points
            .iter()
            .map(|a| site_point(a, false, &ctx, true))
            .collect())
    }
}
