//! What the pushes carry: the alert view (names looked up in the store, shared by every socket
//! through a small cache so one alert costs one set of look-ups, not one per socket) and the
//! `serviceStatus` data.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::Mutex;

use super::protocol::iso;
use crate::model::{Alert, AlertView, DesiredState, Id, NamedRef, ServiceState, UserRef};
use crate::poller::ServiceLive;
use crate::store::{AlertStore, PanelRead, Store, StoreResult};

/// Views kept at most; the cache is cleared past this.
const CACHE_MAX: usize = 256;

/// Alert views already built, keyed by alert id and checked against the record.
#[derive(Debug, Default)]
pub struct ViewCache {
    views: Mutex<HashMap<Id, (Alert, Arc<AlertView>)>>,
}

impl ViewCache {
    /// The view of `alert` (as given by an event).
    pub async fn view(&self, store: &dyn Store, alert: &Alert) -> StoreResult<Arc<AlertView>> {
        // Held across the look-ups: the first socket builds, the others wait and reuse.
        let mut views = self.views.lock().await;
        if let Some((seen, view)) = views.get(&alert.id)
            && seen == alert
        {
            return Ok(Arc::clone(view));
        }
        let view = Arc::new(build(store, alert.clone()).await?);
        remember(&mut views, alert.clone(), Arc::clone(&view));
        Ok(view)
    }

    /// The record and view of alert `id` once resolved (after an `AlertResolved` event).
    /// `None` if the alert is gone.
    pub async fn resolved(
        &self,
        store: &dyn Store,
        id: Id,
    ) -> StoreResult<Option<(Alert, Arc<AlertView>)>> {
        let mut views = self.views.lock().await;
        if let Some((seen, view)) = views.get(&id)
            && seen.resolved_at.is_some()
        {
            return Ok(Some((seen.clone(), Arc::clone(view))));
        }
        let Some(alert) = AlertStore::alert(store, id).await? else {
            return Ok(None);
        };
        let view = Arc::new(build(store, alert.clone()).await?);
        remember(&mut views, alert.clone(), Arc::clone(&view));
        Ok(Some((alert, view)))
    }
}

fn remember(views: &mut HashMap<Id, (Alert, Arc<AlertView>)>, alert: Alert, view: Arc<AlertView>) {
    if views.len() >= CACHE_MAX {
        views.clear();
    }
    views.insert(alert.id, (alert, view));
}

/// Resolves the alert's references to names (unknown ones keep their id with empty names).
async fn build(store: &dyn Store, alert: Alert) -> StoreResult<AlertView> {
    let site = match alert.site {
        Some(id) => Some(match PanelRead::site(store, id).await? {
            Some(s) => named(id, s.name, s.display_name),
            None => named(id, String::new(), String::new()),
        }),
        None => None,
    };
    let service = match alert.service {
        Some(id) => Some(match store.service(id).await? {
            Some(s) => named(id, s.name, s.display_name),
            None => named(id, String::new(), String::new()),
        }),
        None => None,
    };
    let acknowledged_by = match alert.acknowledged_by {
        Some(id) => Some(UserRef {
            id,
            username: store
                .user(id)
                .await?
                .map(|u| u.username)
                .unwrap_or_default(),
        }),
        None => None,
    };
    Ok(AlertView::new(alert, site, service, acknowledged_by))
}

fn named(id: Id, name: String, display_name: String) -> NamedRef {
    NamedRef {
        id,
        name,
        display_name,
    }
}

/// The `data` of a `serviceStatus` push.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatusData {
    /// The service.
    pub id: Id,
    /// Its name.
    pub name: String,
    /// `{current, desired}` as `/stats/services/:siteId` shows them.
    pub status: StatusPair,
    /// The unit's state; `null` when unknown.
    pub systemd: Option<UnitView>,
}

/// `status` of [`ServiceStatusData`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StatusPair {
    /// Observed.
    pub current: ServiceState,
    /// Wanted.
    pub desired: DesiredState,
}

/// `systemd` of [`ServiceStatusData`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnitView {
    /// Unit name.
    pub service_name: String,
    /// ActiveState.
    pub active: String,
    /// SubState.
    pub sub: String,
    /// Active and running.
    pub running: bool,
    /// Main PID.
    pub pid: Option<u32>,
    /// Entered `active` at (ISO).
    pub started_at: Option<String>,
}

impl ServiceStatusData {
    /// From the poller's view of the service.
    pub fn of(s: &ServiceLive) -> Self {
        let current = match s.state.as_ref().map(|u| u.active_state.as_str()) {
            None => ServiceState::Unknown,
            Some("active" | "reloading") => ServiceState::Running,
            Some("activating") => ServiceState::Starting,
            Some("deactivating") => ServiceState::Stopping,
            Some("failed") => ServiceState::Failed,
            Some(_) => ServiceState::Stopped,
        };
        Self {
            id: s.service,
            name: s.name.clone(),
            status: StatusPair {
                current,
                desired: s.desired,
            },
            systemd: s.state.as_ref().map(|u| UnitView {
                service_name: u.name.clone(),
                active: u.active_state.clone(),
                sub: u.sub_state.clone(),
                running: u.active_state == "active" && u.sub_state == "running",
                pid: u.main_pid,
                started_at: u.active_since.map(iso),
            }),
        }
    }
}
