//! One poll: ask the agent, compute, write, evaluate, publish.

use std::collections::HashMap;

use tokio::time::Instant;
use twoine_proto::v1 as pb;

use super::compute;
use super::unit::{UnitInfo, canonical};
use super::{Catalog, HostSample, PendingSnapshot, Poller, UsageSample};
use crate::agent::AgentError;
use crate::alerts::ServerSample;
use crate::model::{DomainInfo, ServerStats, SiteStatus, Timestamp, Totals};

impl Poller {
    /// One poll at `now` (the timestamp of the samples). Never fails: what cannot be had is
    /// left out, logged and shown as stale.
    pub async fn poll_once(&mut self, now: Timestamp) {
        self.publish(|l| l.polls += 1);
        self.refresh_catalog().await;
        let uids = self.site_uids();
        let mut host = match self.agent.host_snapshot().await {
            Ok(h) => h,
            Err(e) => return self.agent_lost(e, now).await,
        };
        if self.needs_priming(&host, &uids) {
            self.remember_host(&host);
            if let Ok(usage) = self
                .agent
                .users_usage(uids.values().copied().collect())
                .await
            {
                self.remember_usage(&usage);
            }
            tokio::time::sleep(self.options.prime_delay).await;
            host = match self.agent.host_snapshot().await {
                Ok(h) => h,
                Err(e) => return self.agent_lost(e, now).await,
            };
        }
        let usage = self.fetch_usage(&uids).await;
        self.fetch_units(now).await;
        self.fetch_dirs().await;

        let server = self.server_stats(&host, now);
        let (sites, site_errors, usages) = self.site_stats(&uids, usage.as_ref(), now);
        self.backlog.push(PendingSnapshot {
            server: server.clone(),
            sites: sites.clone(),
        });
        self.backlog.flush(self.store.as_ref()).await;

        let sample = server.as_ref().map(|s| ServerSample {
            cpu: s.cpu.percent,
            memory: s.memory.percent,
            disk: f64::from(s.disk.percent),
        });
        self.evaluate_alerts(sample, &usages, None, now).await;

        let services = self.services_live();
        self.publish(|l| {
            if server.is_some() {
                l.server = server;
            }
            l.sites = sites;
            l.site_errors = site_errors;
            l.services = services;
            l.taken_at = Some(now);
            l.stale_since = None;
        });
    }

    async fn agent_lost(&mut self, e: AgentError, now: Timestamp) {
        tracing::warn!(error = %e, "poll skipped: agent unavailable; last snapshot kept as stale");
        // Nothing new to write, but the store may be back for the buffered ones.
        self.backlog.flush(self.store.as_ref()).await;
        self.publish(|l| {
            l.stale_since.get_or_insert(now);
        });
    }

    async fn refresh_catalog(&mut self) {
        let store = &self.store;
        let read = async {
            let sites = store.sites().await?;
            let services = store.services().await?;
            let users = store.count_users().await?;
            let mut domains = HashMap::new();
            for site in sites.iter().filter(|s| s.status == SiteStatus::Active) {
                let list = store.domains_of_site(site.id).await?;
                let list = list
                    .into_iter()
                    .map(|d| DomainInfo {
                        domain: d.domain,
                        ssl: d.ssl.enabled,
                    })
                    .collect();
                domains.insert(site.id, list);
            }
            Ok::<_, crate::store::StoreError>(Catalog {
                sites,
                services,
                domains,
                users: u32::try_from(users).unwrap_or(u32::MAX),
            })
        };
        match read.await {
            Ok(c) => self.catalog = c,
            Err(e) => tracing::warn!(error = %e, "panel data unreadable: last known sites used"),
        }
    }

    fn needs_priming(
        &self,
        host: &pb::HostSnapshotResponse,
        uids: &HashMap<crate::model::Id, u32>,
    ) -> bool {
        let host_ok = self
            .prev_host
            .is_some_and(|p| p.boot_time_ms == host.boot_time_ms);
        !host_ok || uids.values().any(|u| !self.prev_usage.contains_key(u))
    }

    fn remember_host(&mut self, host: &pb::HostSnapshotResponse) {
        if let Some(cpu) = host.cpu.as_ref().and_then(|c| c.total) {
            self.prev_host = Some(HostSample {
                cpu,
                boot_time_ms: host.boot_time_ms,
            });
        }
    }

    pub(super) fn remember_usage(&mut self, usage: &pb::UsersUsageResponse) {
        for u in &usage.users {
            self.prev_usage.insert(
                u.uid,
                UsageSample {
                    cpu_ms: u.cpu_time_ms,
                    at_ms: usage.taken_at_ms,
                },
            );
        }
    }

    async fn fetch_units(&mut self, now: Timestamp) {
        let names: Vec<String> = self
            .catalog
            .services
            .iter()
            .map(|s| canonical(&s.systemd.service_name))
            .collect();
        if names.is_empty() {
            self.units.clear();
            return;
        }
        match self.agent.unit_details(names).await {
            Ok(resp) => {
                let mut units = HashMap::new();
                for d in &resp.units {
                    if let Some(info) = UnitInfo::from_details(d, now) {
                        units.insert(canonical(&d.name), info);
                    }
                }
                self.publish_unit_changes(&units);
                self.units = units;
            }
            Err(e) => {
                // Unknown, not down: no service_down from a missing answer.
                tracing::warn!(error = %e, "unit states unavailable this poll");
                self.units.clear();
            }
        }
    }

    /// Measures the roots that are due; the others keep their last measure.
    async fn fetch_dirs(&mut self) {
        if !self.config.site_stats_enabled {
            return;
        }
        let every = self.options.dir_measure_every;
        // Forget roots no longer in use (site deleted or moved).
        let roots: Vec<&str> = self
            .catalog
            .sites
            .iter()
            .map(|s| s.paths.root.as_str())
            .collect();
        self.dirs.retain(|root, _| roots.contains(&root.as_str()));
        let due: Vec<String> = self
            .catalog
            .sites
            .iter()
            .filter(|s| s.status == SiteStatus::Active && !s.paths.root.is_empty())
            .map(|s| s.paths.root.clone())
            .filter(|root| {
                self.dirs
                    .get(root)
                    .is_none_or(|(_, at)| at.elapsed() >= every)
            })
            .collect();
        if due.is_empty() {
            return;
        }
        match self.agent.measure_dirs(due, every, false).await {
            Ok(resp) => {
                let at = Instant::now();
                for m in resp.measures {
                    self.dirs.insert(m.root.clone(), (m, at));
                }
            }
            Err(e) => tracing::warn!(error = %e, "site directories not measured this poll"),
        }
    }

    fn server_stats(
        &mut self,
        host: &pb::HostSnapshotResponse,
        now: Timestamp,
    ) -> Option<ServerStats> {
        for err in &host.errors {
            tracing::warn!(section = %err.section, message = %err.message, "host snapshot section missing");
        }
        let cur = host.cpu.as_ref().and_then(|c| c.total)?;
        let percent = self
            .prev_host
            .filter(|p| p.boot_time_ms == host.boot_time_ms)
            .and_then(|p| compute::cpu_percent(&p.cpu, &cur));
        self.remember_host(host);
        let units: Vec<Option<&str>> = self
            .catalog
            .services
            .iter()
            .map(|s| {
                self.units
                    .get(&canonical(&s.systemd.service_name))
                    .map(|u| u.active_state.as_str())
            })
            .collect();
        let counts = compute::service_counts(units);
        let totals = Totals {
            sites: u32::try_from(self.catalog.sites.len()).unwrap_or(u32::MAX),
            services: counts.total,
            users: self.catalog.users,
            services_running: counts.running,
            services_stopped: counts.stopped.saturating_add(counts.failed),
        };
        compute::server_stats(host, percent?, totals, now)
    }
}
