//! Alerts and the settings document in the embedded store.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, ToSql, params};

use super::{EmbeddedStore, sql};
use crate::model::time::{from_millis, to_millis};
use crate::model::{
    Alert, AlertStatus, AlertType, CONFIG_ID, Id, MonitoringConfig, ResolvedBy, Severity, Timestamp,
};
use crate::store::{AlertFilter, AlertStore, ConfigStore, MAX_ALERTS, StoreError, StoreResult};

const COLS: &str = "id, type, severity, message, data, site, service, status, acknowledged_by, \
                    acknowledged_at, created_at, resolved_at, resolved_by, clear_since";

fn bad(what: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(0, what.to_owned(), rusqlite::types::Type::Text)
}

fn opt_id(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<Id>> {
    let b: Option<Vec<u8>> = r.get(i)?;
    b.map(|b| Id::from_slice(&b).map_err(|_| bad("id")))
        .transpose()
}

fn opt_time(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<Timestamp>> {
    Ok(r.get::<_, Option<i64>>(i)?.map(from_millis))
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Alert> {
    let kind: String = r.get(1)?;
    let severity: String = r.get(2)?;
    let status: String = r.get(7)?;
    let data: String = r.get(4)?;
    let resolved_by: Option<String> = r.get(12)?;
    Ok(Alert {
        id: opt_id(r, 0)?.ok_or_else(|| bad("id"))?,
        kind: AlertType::parse(&kind).ok_or_else(|| bad("type"))?,
        severity: Severity::parse(&severity).ok_or_else(|| bad("severity"))?,
        message: r.get(3)?,
        data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
        site: opt_id(r, 5)?,
        service: opt_id(r, 6)?,
        status: AlertStatus::parse(&status).ok_or_else(|| bad("status"))?,
        acknowledged_by: opt_id(r, 8)?,
        acknowledged_at: opt_time(r, 9)?,
        created_at: from_millis(r.get(10)?),
        resolved_at: opt_time(r, 11)?,
        resolved_by: resolved_by.and_then(|s| match s.as_str() {
            "system" => Some(ResolvedBy::SYSTEM),
            other => other.parse().ok().map(ResolvedBy::User),
        }),
        clear_since: opt_time(r, 13)?,
    })
}

fn get(c: &Connection, id: Id) -> StoreResult<Option<Alert>> {
    let q = format!("SELECT {COLS} FROM alerts WHERE id = ?1");
    c.query_row(&q, [id.bytes()], row).optional().map_err(sql)
}

fn resolved_by_text(by: ResolvedBy) -> String {
    match by {
        ResolvedBy::User(id) => id.to_string(),
        ResolvedBy::System(_) => "system".to_owned(),
    }
}

#[async_trait]
impl AlertStore for EmbeddedStore {
    async fn insert_alert(&self, alert: &Alert) -> StoreResult<()> {
        let a = alert.clone();
        self.call(move |c| {
            let q = format!("INSERT INTO alerts ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
            c.execute(
                &q,
                params![
                    a.id.bytes(),
                    a.kind.as_str(),
                    a.severity.as_str(),
                    a.message,
                    a.data.to_string(),
                    a.site.map(|s| s.bytes()),
                    a.service.map(|s| s.bytes()),
                    a.status.as_str(),
                    a.acknowledged_by.map(|s| s.bytes()),
                    a.acknowledged_at.map(to_millis),
                    to_millis(a.created_at),
                    a.resolved_at.map(to_millis),
                    a.resolved_by.map(resolved_by_text),
                    a.clear_since.map(to_millis),
                ],
            )
            .map_err(sql)?;
            Ok(())
        })
        .await
    }

    async fn alert(&self, id: Id) -> StoreResult<Option<Alert>> {
        self.call(move |c| get(c, id)).await
    }

    async fn list_alerts(&self, filter: &AlertFilter) -> StoreResult<Vec<Alert>> {
        let filter = filter.clone();
        self.call(move |c| {
            let statuses = if filter.statuses.is_empty() {
                vec![AlertStatus::Active, AlertStatus::Acknowledged]
            } else {
                filter.statuses.clone()
            };
            let mut q = format!("SELECT {COLS} FROM alerts WHERE status IN (");
            let mut params: Vec<Box<dyn ToSql>> = Vec::new();
            for (i, s) in statuses.iter().enumerate() {
                q.push_str(if i == 0 { "?" } else { ", ?" });
                params.push(Box::new(s.as_str()));
            }
            q.push(')');
            if let Some(sites) = &filter.sites {
                q.push_str(" AND site IN (SELECT NULL WHERE 0");
                for s in sites {
                    q.push_str(" UNION ALL SELECT ?");
                    params.push(Box::new(s.bytes()));
                }
                q.push(')');
            }
            if !filter.severities.is_empty() {
                q.push_str(" AND severity IN (");
                for (i, s) in filter.severities.iter().enumerate() {
                    q.push_str(if i == 0 { "?" } else { ", ?" });
                    params.push(Box::new(s.as_str()));
                }
                q.push(')');
            }
            let limit = i64::try_from(filter.limit.min(MAX_ALERTS)).unwrap_or(0);
            q.push_str(" ORDER BY created_at DESC, id DESC LIMIT ?");
            params.push(Box::new(limit));
            let mut st = c.prepare(&q).map_err(sql)?;
            let refs: Vec<&dyn ToSql> = params.iter().map(|p| p.as_ref()).collect();
            let rows = st.query_map(refs.as_slice(), row).map_err(sql)?;
            rows.collect::<Result<_, _>>().map_err(sql)
        })
        .await
    }

    async fn alerts_for_evaluation(&self, since: Timestamp) -> StoreResult<Vec<Alert>> {
        self.call(move |c| {
            let q = format!(
                "SELECT {COLS} FROM alerts WHERE status IN ('active', 'acknowledged') \
                 UNION SELECT {COLS} FROM alerts WHERE created_at >= ?1"
            );
            let mut st = c.prepare_cached(&q).map_err(sql)?;
            let rows = st.query_map([to_millis(since)], row).map_err(sql)?;
            rows.collect::<Result<_, _>>().map_err(sql)
        })
        .await
    }

    async fn acknowledge_alert(&self, id: Id, by: Id, at: Timestamp) -> StoreResult<Alert> {
        self.call(move |c| {
            let a = get(c, id)?.ok_or_else(|| StoreError::NotFound(format!("alert {id}")))?;
            match a.status {
                AlertStatus::Resolved => Err(StoreError::Conflict(format!("alert {id} is resolved"))),
                AlertStatus::Acknowledged => Ok(a),
                AlertStatus::Active => {
                    c.execute(
                        "UPDATE alerts SET status = 'acknowledged', acknowledged_by = ?2, acknowledged_at = ?3 WHERE id = ?1",
                        params![id.bytes(), by.bytes(), to_millis(at)],
                    )
                    .map_err(sql)?;
                    get(c, id)?.ok_or_else(|| StoreError::NotFound(format!("alert {id}")))
                }
            }
        })
        .await
    }

    async fn resolve_alert(&self, id: Id, at: Timestamp, by: ResolvedBy) -> StoreResult<Alert> {
        self.call(move |c| {
            let a = get(c, id)?.ok_or_else(|| StoreError::NotFound(format!("alert {id}")))?;
            if a.status == AlertStatus::Resolved {
                return Err(StoreError::Conflict(format!("alert {id} is already resolved")));
            }
            c.execute(
                "UPDATE alerts SET status = 'resolved', resolved_at = ?2, resolved_by = ?3 WHERE id = ?1",
                params![id.bytes(), to_millis(at), resolved_by_text(by)],
            )
            .map_err(sql)?;
            get(c, id)?.ok_or_else(|| StoreError::NotFound(format!("alert {id}")))
        })
        .await
    }

    async fn set_alert_clear_since(&self, id: Id, since: Option<Timestamp>) -> StoreResult<()> {
        self.call(move |c| {
            let n = c
                .execute(
                    "UPDATE alerts SET clear_since = ?2 WHERE id = ?1",
                    params![id.bytes(), since.map(to_millis)],
                )
                .map_err(sql)?;
            if n == 0 {
                Err(StoreError::NotFound(format!("alert {id}")))
            } else {
                Ok(())
            }
        })
        .await
    }
}

#[async_trait]
impl ConfigStore for EmbeddedStore {
    async fn config(&self) -> StoreResult<MonitoringConfig> {
        self.call(|c| {
            let doc: Option<String> = c
                .query_row(
                    "SELECT doc FROM settings WHERE key = ?1",
                    [CONFIG_ID],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql)?;
            match doc {
                None => Ok(MonitoringConfig::default()),
                Some(d) => serde_json::from_str(&d)
                    .map_err(|e| StoreError::Internal(format!("unreadable config: {e}"))),
            }
        })
        .await
    }

    async fn put_config(&self, config: &MonitoringConfig) -> StoreResult<()> {
        if let Err(errors) = config.validate() {
            let text: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            return Err(StoreError::Invalid(text.join("; ")));
        }
        let doc = serde_json::to_string(config).map_err(|e| StoreError::Internal(e.to_string()))?;
        self.call(move |c| {
            c.execute(
                "INSERT INTO settings (key, doc) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET doc = excluded.doc",
                params![CONFIG_ID, doc],
            )
            .map_err(sql)?;
            Ok(())
        })
        .await
    }
}
