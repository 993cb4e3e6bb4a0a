//! `alerts` (Twoine's field names: `acknowledgedBy` an ObjectId, times BSON dates) and the one
//! `monitoring_config` document.

use async_trait::async_trait;
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::ReturnDocument;

use super::collections::{ALERTS, MONITORING_CONFIG};
use super::convert::{all, date, date_or_null, oid, oid_or_null, parse};
use super::{MongoStore, err};
use crate::model::{Alert, AlertStatus, CONFIG_ID, Id, MonitoringConfig, ResolvedBy, Timestamp};
use crate::store::{AlertFilter, AlertStore, ConfigStore, MAX_ALERTS, StoreError, StoreResult};

fn resolved_by(r: Option<ResolvedBy>) -> Bson {
    match r {
        Some(ResolvedBy::User(id)) => Bson::ObjectId(oid(id)),
        Some(ResolvedBy::System(_)) => Bson::String("system".to_owned()),
        None => Bson::Null,
    }
}

/// An alert as Twoine's Mongoose `Alert` model stores it (plus our `resolvedBy` and
/// `clearSince`, which Twoine ignores).
fn alert_doc(a: &Alert) -> StoreResult<Document> {
    let data = mongodb::bson::to_bson(&a.data).map_err(|e| StoreError::Internal(e.to_string()))?;
    let mut d = doc! {
        "_id": oid(a.id),
        "type": a.kind.as_str(),
        "severity": a.severity.as_str(),
        "message": &a.message,
        "data": data,
        "site": oid_or_null(a.site),
        "service": oid_or_null(a.service),
        "status": a.status.as_str(),
        "acknowledgedBy": oid_or_null(a.acknowledged_by),
        "acknowledgedAt": date_or_null(a.acknowledged_at),
        "createdAt": date(a.created_at),
        "resolvedAt": date_or_null(a.resolved_at),
        "resolvedBy": resolved_by(a.resolved_by),
        "__v": 0,
    };
    if let Some(t) = a.clear_since {
        d.insert("clearSince", date(t));
    }
    Ok(d)
}

fn read_alert(mut d: Document) -> StoreResult<Alert> {
    // `null` is "not set" for these; the model reads it so, except `resolvedBy` (untagged).
    if matches!(d.get("resolvedBy"), Some(Bson::Null)) {
        d.remove("resolvedBy");
    }
    if matches!(d.get("clearSince"), Some(Bson::Null)) {
        d.remove("clearSince");
    }
    parse(d)
}

/// Every readable alert of a cursor; an unreadable one is skipped with a warning.
async fn read_all(cursor: mongodb::Cursor<Document>) -> StoreResult<Vec<Alert>> {
    let mut out = Vec::new();
    for d in all(cursor).await? {
        match read_alert(d) {
            Ok(a) => out.push(a),
            Err(e) => tracing::warn!("{e}"),
        }
    }
    Ok(out)
}

const OPEN: [&str; 2] = ["active", "acknowledged"];

#[async_trait]
impl AlertStore for MongoStore {
    async fn insert_alert(&self, alert: &Alert) -> StoreResult<()> {
        self.coll(ALERTS)
            .insert_one(alert_doc(alert)?)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn alert(&self, id: Id) -> StoreResult<Option<Alert>> {
        match self
            .coll(ALERTS)
            .find_one(doc! { "_id": oid(id) })
            .await
            .map_err(err)?
        {
            Some(d) => read_alert(d).map(Some),
            None => Ok(None),
        }
    }

    async fn list_alerts(&self, filter: &AlertFilter) -> StoreResult<Vec<Alert>> {
        let statuses: Vec<&str> = if filter.statuses.is_empty() {
            OPEN.to_vec()
        } else {
            filter.statuses.iter().map(|s| s.as_str()).collect()
        };
        let mut f = doc! { "status": { "$in": statuses } };
        if let Some(sites) = &filter.sites {
            if sites.is_empty() {
                return Ok(Vec::new());
            }
            let ids: Vec<Bson> = sites.iter().map(|s| Bson::ObjectId(oid(*s))).collect();
            f.insert("site", doc! { "$in": ids });
        }
        if !filter.severities.is_empty() {
            let severities: Vec<&str> = filter.severities.iter().map(|s| s.as_str()).collect();
            f.insert("severity", doc! { "$in": severities });
        }
        let limit = i64::try_from(filter.limit.min(MAX_ALERTS)).unwrap_or(0);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let cursor = self
            .coll(ALERTS)
            .find(f)
            .sort(doc! { "createdAt": -1, "_id": -1 })
            .limit(limit)
            .await
            .map_err(err)?;
        read_all(cursor).await
    }

    async fn alerts_for_evaluation(&self, since: Timestamp) -> StoreResult<Vec<Alert>> {
        let f = doc! { "$or": [
            { "status": { "$in": OPEN.to_vec() } },
            { "createdAt": { "$gte": date(since) } },
        ] };
        let cursor = self.coll(ALERTS).find(f).await.map_err(err)?;
        read_all(cursor).await
    }

    async fn acknowledge_alert(&self, id: Id, by: Id, at: Timestamp) -> StoreResult<Alert> {
        let updated = self
            .coll(ALERTS)
            .find_one_and_update(
                doc! { "_id": oid(id), "status": "active" },
                doc! { "$set": {
                    "status": "acknowledged", "acknowledgedBy": oid(by), "acknowledgedAt": date(at),
                } },
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(err)?;
        if let Some(d) = updated {
            return read_alert(d);
        }
        match self.alert(id).await? {
            None => Err(StoreError::NotFound(format!("alert {id}"))),
            Some(a) if a.status == AlertStatus::Resolved => {
                Err(StoreError::Conflict(format!("alert {id} is resolved")))
            }
            Some(a) => Ok(a),
        }
    }

    async fn resolve_alert(&self, id: Id, at: Timestamp, by: ResolvedBy) -> StoreResult<Alert> {
        let updated = self
            .coll(ALERTS)
            .find_one_and_update(
                doc! { "_id": oid(id), "status": { "$in": OPEN.to_vec() } },
                doc! { "$set": {
                    "status": "resolved", "resolvedAt": date(at), "resolvedBy": resolved_by(Some(by)),
                } },
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(err)?;
        if let Some(d) = updated {
            return read_alert(d);
        }
        match self.alert(id).await? {
            None => Err(StoreError::NotFound(format!("alert {id}"))),
            Some(_) => Err(StoreError::Conflict(format!(
                "alert {id} is already resolved"
            ))),
        }
    }

    async fn set_alert_clear_since(&self, id: Id, since: Option<Timestamp>) -> StoreResult<()> {
        let update = match since {
            Some(t) => doc! { "$set": { "clearSince": date(t) } },
            None => doc! { "$unset": { "clearSince": "" } },
        };
        let r = self
            .coll(ALERTS)
            .update_one(doc! { "_id": oid(id) }, update)
            .await
            .map_err(err)?;
        if r.matched_count == 0 {
            return Err(StoreError::NotFound(format!("alert {id}")));
        }
        Ok(())
    }
}

#[async_trait]
impl ConfigStore for MongoStore {
    async fn config(&self) -> StoreResult<MonitoringConfig> {
        match self
            .coll(MONITORING_CONFIG)
            .find_one(doc! { "_id": CONFIG_ID })
            .await
            .map_err(err)?
        {
            Some(d) => parse(d),
            None => Ok(MonitoringConfig::default()),
        }
    }

    async fn put_config(&self, config: &MonitoringConfig) -> StoreResult<()> {
        if let Err(errors) = config.validate() {
            let text: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            return Err(StoreError::Invalid(text.join("; ")));
        }
        let c = config;
        let t = &c.alert_thresholds;
        let th = |x: crate::model::Threshold| doc! { "warning": x.warning, "critical": x.critical };
        let d = doc! {
            "_id": CONFIG_ID,
            "collectionInterval": i64::from(c.collection_interval),
            "alertThresholds": { "cpu": th(t.cpu), "memory": th(t.memory), "disk": th(t.disk) },
            "alertsEnabled": c.alerts_enabled,
            "siteStatsEnabled": c.site_stats_enabled,
            "retentionHours": i64::from(c.retention_hours),
            "autoResolveMinutes": i64::from(c.auto_resolve_minutes),
            "updatedAt": date(chrono::Utc::now()),
        };
        self.coll(MONITORING_CONFIG)
            .replace_one(doc! { "_id": CONFIG_ID }, d)
            .upsert(true)
            .await
            .map_err(err)?;
        Ok(())
    }
}
