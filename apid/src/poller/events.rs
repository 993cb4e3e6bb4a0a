//! Alerts (evaluate, then apply to the store) and unit state changes.

use std::collections::HashMap;

use chrono::Duration;
use twoine_proto::v1 as pb;

use super::unit::{UnitInfo, canonical};
use super::{Poller, PollerEvent, ServiceLive};
use crate::alerts::{
    self, AlertEvent, DEDUP_WINDOW_MINUTES, EvalInput, OpenAlert, ServerSample, ServiceInput,
    SiteInput, SiteUsage,
};
use crate::model::{DesiredState, Id, NamedRef, Site, SiteStatus, Timestamp};
use crate::store::StoreError;

impl Poller {
    /// Evaluates the alerts on what is known and applies the events. `only_service`: a unit
    /// event, where only that service's site is looked at (server and usage unknown).
    pub(super) async fn evaluate_alerts(
        &mut self,
        server: Option<ServerSample>,
        usages: &HashMap<Id, SiteUsage>,
        only_site: Option<Id>,
        now: Timestamp,
    ) {
        let since = now - Duration::minutes(DEDUP_WINDOW_MINUTES);
        let known = match self.store.alerts_for_evaluation(since).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "alerts not evaluated: store unavailable");
                return;
            }
        };
        let open: Vec<OpenAlert> = known.iter().map(OpenAlert::from).collect();
        let mut sites: Vec<SiteInput> = self
            .catalog
            .sites
            .iter()
            .filter(|s| only_site.is_none_or(|id| id == s.id))
            .map(|s| self.site_input(s, usages.get(&s.id).copied()))
            .collect();
        if only_site.is_none() {
            // Sites gone from the list (soft-deleted) but with open alerts: close them.
            let listed: Vec<Id> = sites.iter().map(|s| s.site.id).collect();
            let mut missing: Vec<Id> = open
                .iter()
                .filter(|a| a.status.is_open())
                .filter_map(|a| a.site)
                .filter(|id| !listed.contains(id))
                .collect();
            missing.sort();
            missing.dedup();
            for id in missing {
                if let Ok(Some(site)) = self.store.site(id).await
                    && site.status == SiteStatus::Deleted
                {
                    sites.push(self.site_input(&site, None));
                }
            }
        }
        let input = EvalInput { server, sites };
        for event in alerts::evaluate(&input, &open, &self.config, now) {
            self.apply(event, now).await;
        }
    }

    fn site_input(&self, site: &Site, usage: Option<SiteUsage>) -> SiteInput {
        let services = self
            .catalog
            .services
            .iter()
            .filter(|s| s.site == site.id)
            .map(|s| ServiceInput {
                service: NamedRef {
                    id: s.id,
                    name: s.name.clone(),
                    display_name: s.display_name.clone(),
                },
                desired: s.status.desired,
                unit: self
                    .units
                    .get(&canonical(&s.systemd.service_name))
                    .map(|u| u.active_state.clone()),
            })
            .collect();
        SiteInput {
            site: NamedRef {
                id: site.id,
                name: site.name.clone(),
                display_name: site.display_name.clone(),
            },
            status: site.status,
            limits: site.resources,
            usage,
            services,
        }
    }

    async fn apply(&self, event: AlertEvent, now: Timestamp) {
        let result = match event {
            AlertEvent::Open(new) => self.open(new, now).await,
            AlertEvent::Escalate { resolve, open } => match self.resolve(resolve, now).await {
                Ok(()) => self.open(open, now).await,
                Err(e) => Err(e),
            },
            AlertEvent::Resolve { id, at, .. } => self.resolve(id, at).await,
            AlertEvent::ClearSince { id, since } => {
                self.store.set_alert_clear_since(id, since).await
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "alert change not stored; evaluated again next poll");
        }
    }

    async fn open(&self, new: alerts::NewAlert, now: Timestamp) -> Result<(), StoreError> {
        let alert = new.into_alert(Id::generate(), now);
        self.store.insert_alert(&alert).await?;
        tracing::info!(kind = alert.kind.as_str(), severity = alert.severity.as_str(), message = %alert.message, "alert opened");
        let _ = self.events.send(PollerEvent::AlertOpened(alert));
        Ok(())
    }

    async fn resolve(&self, id: Id, at: Timestamp) -> Result<(), StoreError> {
        match self
            .store
            .resolve_alert(id, at, crate::model::ResolvedBy::SYSTEM)
            .await
        {
            // Resolved by a user meanwhile: nothing left to do.
            Ok(_) | Err(StoreError::Conflict(_)) => {
                let _ = self.events.send(PollerEvent::AlertResolved { id, at });
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Every known service with its unit as last seen.
    pub(super) fn services_live(&self) -> Vec<ServiceLive> {
        self.catalog
            .services
            .iter()
            .map(|s| {
                let unit = canonical(&s.systemd.service_name);
                ServiceLive {
                    service: s.id,
                    site: s.site,
                    name: s.name.clone(),
                    state: self.units.get(&unit).cloned(),
                    unit,
                    desired: s.status.desired,
                }
            })
            .collect()
    }

    /// Pushes a `ServiceState` event for each unit whose active/sub state differs from `new`.
    pub(super) fn publish_unit_changes(&self, new: &HashMap<String, UnitInfo>) {
        for s in self.services_live() {
            let Some(info) = new.get(&s.unit) else {
                continue;
            };
            let changed = s.state.as_ref().is_none_or(|old| {
                old.active_state != info.active_state || old.sub_state != info.sub_state
            });
            if changed {
                let _ = self.events.send(PollerEvent::ServiceState(ServiceLive {
                    state: Some(info.clone()),
                    ..s
                }));
            }
        }
    }

    /// A `WatchUnits` event: update the unit, publish it, and when a service that should run
    /// is no longer up, evaluate its site's alerts now.
    pub(super) async fn on_unit_event(&mut self, event: pb::UnitEvent, now: Timestamp) {
        let unit = canonical(&event.name);
        let Some(service) = self
            .catalog
            .services
            .iter()
            .find(|s| canonical(&s.systemd.service_name) == unit)
            .cloned()
        else {
            return;
        };
        let mut info = self
            .units
            .get(&unit)
            .cloned()
            .unwrap_or_else(|| UnitInfo::from_event(&event));
        info.apply(&event);
        let mut next = self.units.clone();
        next.insert(unit.clone(), info.clone());
        self.publish_unit_changes(&next);
        self.units = next;
        let services = self.services_live();
        self.publish(|l| l.services = services);
        if !event.initial && !info.is_up() && service.status.desired == DesiredState::Running {
            tracing::info!(unit = %unit, state = %info.active_state, "service down: evaluating now");
            self.evaluate_alerts(None, &HashMap::new(), Some(service.site), now)
                .await;
        }
    }
}
