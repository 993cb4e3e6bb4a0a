//! The site side of a poll: site users' uids, usage, and the site samples.

use std::collections::HashMap;

use twoine_proto::v1 as pb;

use super::compute::{self, SiteMeasure};
use super::unit::canonical;
use super::{Poller, SiteError};
use crate::alerts::SiteUsage;
use crate::model::{Id, Site, SiteCpu, SiteInfo, SiteStats, SiteStatus, Timestamp};

impl Poller {
    /// The uid of every active site (its `linuxUser.uid`, or its username resolved once).
    pub(super) fn site_uids(&mut self) -> HashMap<Id, u32> {
        let mut out = HashMap::new();
        if !self.config.site_stats_enabled {
            return out;
        }
        for site in &self.catalog.sites {
            if site.status != SiteStatus::Active {
                continue;
            }
            let uid = match site.linux_user.uid {
                Some(uid) => Some(uid),
                None => {
                    let name = if site.linux_user.username.is_empty() {
                        format!("site_{}", site.name)
                    } else {
                        site.linux_user.username.clone()
                    };
                    *self
                        .uids
                        .entry(name.clone())
                        .or_insert_with(|| resolve_user(&name))
                }
            };
            if let Some(uid) = uid {
                out.insert(site.id, uid);
            }
        }
        out
    }

    pub(super) async fn fetch_usage(
        &mut self,
        uids: &HashMap<Id, u32>,
    ) -> Option<pb::UsersUsageResponse> {
        if uids.is_empty() || !self.config.site_stats_enabled {
            return None;
        }
        let mut list: Vec<u32> = uids.values().copied().collect();
        list.sort_unstable();
        list.dedup();
        match self.agent.users_usage(list).await {
            Ok(u) => Some(u),
            Err(e) => {
                tracing::warn!(error = %e, "site usage unavailable this poll");
                None
            }
        }
    }

    #[allow(clippy::type_complexity)]
    pub(super) fn site_stats(
        &mut self,
        uids: &HashMap<Id, u32>,
        usage: Option<&pb::UsersUsageResponse>,
        now: Timestamp,
    ) -> (Vec<SiteStats>, Vec<SiteError>, HashMap<Id, SiteUsage>) {
        let mut stats = Vec::new();
        let mut errors = Vec::new();
        let mut usages = HashMap::new();
        if !self.config.site_stats_enabled {
            return (stats, errors, usages);
        }
        let sites: Vec<Site> = self
            .catalog
            .sites
            .iter()
            .filter(|s| s.status == SiteStatus::Active)
            .cloned()
            .collect();
        for site in &sites {
            match self.measure_site(site, uids, usage) {
                Ok(m) => {
                    let counts = compute::service_counts(
                        self.catalog
                            .services
                            .iter()
                            .filter(|s| s.site == site.id)
                            .map(|s| {
                                self.units
                                    .get(&canonical(&s.systemd.service_name))
                                    .map(|u| u.active_state.as_str())
                            }),
                    );
                    let domains = self
                        .catalog
                        .domains
                        .get(&site.id)
                        .cloned()
                        .unwrap_or_default();
                    let s = compute::site_stats(site, &m, counts, domains, now);
                    usages.insert(
                        site.id,
                        SiteUsage {
                            cpu_percent: s.cpu.percent,
                            memory_percent: s.memory.percent,
                            disk_percent: s.disk.percent,
                        },
                    );
                    stats.push(s);
                }
                Err(error) => errors.push(SiteError {
                    site: SiteInfo {
                        id: site.id,
                        name: site.name.clone(),
                        display_name: site.display_name.clone(),
                        status: site.status,
                    },
                    error,
                }),
            }
        }
        if let Some(u) = usage {
            self.remember_usage(u);
        }
        (stats, errors, usages)
    }

    fn measure_site(
        &mut self,
        site: &Site,
        uids: &HashMap<Id, u32>,
        usage: Option<&pb::UsersUsageResponse>,
    ) -> Result<SiteMeasure, String> {
        let uid = uids
            .get(&site.id)
            .ok_or_else(|| format!("unknown Linux user {}", site.linux_user.username))?;
        let usage_resp = usage.ok_or("usage not measured")?;
        let cur = usage_resp
            .users
            .iter()
            .find(|u| u.uid == *uid)
            .ok_or("usage not measured")?;
        let prev = self.prev_usage.get(uid).ok_or("no previous usage sample")?;
        let (percent, used_ms) = compute::site_cpu(
            prev.cpu_ms,
            prev.at_ms,
            cur.cpu_time_ms,
            usage_resp.taken_at_ms,
        )
        .ok_or("no time elapsed since the previous usage sample")?;
        let (dir, _) = self
            .dirs
            .get(&site.paths.root)
            .ok_or("directory not measured")?;
        if let Some(e) = &dir.error {
            return Err(format!("directory: {} ({})", e.message, e.kind));
        }
        let time_ms = self.cpu_time.entry(site.id).or_insert(prev.cpu_ms);
        *time_ms = time_ms.saturating_add(used_ms);
        Ok(SiteMeasure {
            cpu: SiteCpu {
                percent,
                time_ms: *time_ms,
            },
            rss_bytes: cur.rss_bytes,
            disk_bytes: dir.apparent_bytes,
            files: dir.files,
        })
    }
}

fn resolve_user(name: &str) -> Option<u32> {
    match nix::unistd::User::from_name(name) {
        Ok(Some(u)) => Some(u.uid.as_raw()),
        Ok(None) => {
            tracing::warn!(
                user = name,
                "site user unknown to the system: site not measured"
            );
            None
        }
        Err(e) => {
            tracing::warn!(user = name, error = %e, "site user lookup failed");
            None
        }
    }
}
