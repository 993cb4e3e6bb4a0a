//! One connection's rights and subscriptions: answers the client's messages, decides which
//! pushes reach it, and re-checks its rights against the store.

use std::collections::HashMap;

use serde_json::Value;

use super::hub::Registration;
use super::protocol::{self, ClientMessage, Topic};
use super::views::ServiceStatusData;
use crate::http::{ApiError, AppState};
use crate::model::{Alert, Id, Site, SiteStatus, UserStatus};
use crate::permissions::Permissions;
use crate::poller::{LiveSnapshot, PollerEvent};

/// Why a connection must end after a re-check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Revoked(pub &'static str);

/// A connection's state.
pub(super) struct Session<'a> {
    state: &'a AppState,
    perms: Permissions,
    server: bool,
    alerts: bool,
    sites: HashMap<Id, Site>,
    max_subscriptions: usize,
    registration: Registration<'a>,
}

impl<'a> Session<'a> {
    /// A session for `perms`, registered in the hub until dropped.
    pub(super) fn new(state: &'a AppState, perms: Permissions) -> Self {
        let registration = state.hub.register(perms.user_id(), perms.is_admin());
        Self {
            state,
            max_subscriptions: state.hub.options().max_subscriptions,
            perms,
            server: false,
            alerts: false,
            sites: HashMap::new(),
            registration,
        }
    }

    /// The user behind the connection.
    pub(super) fn user_id(&self) -> Id {
        self.perms.user_id()
    }

    /// `connected`.
    pub(super) fn greeting(&self) -> Value {
        protocol::connected(self.perms.user_id(), self.perms.user().role)
    }

    /// The reply to a text frame.
    pub(super) async fn handle(&mut self, text: &str) -> Value {
        match protocol::parse(text) {
            Err(refusal) => protocol::error(&refusal.0),
            Ok(ClientMessage::Ping) => protocol::pong(),
            Ok(ClientMessage::Subscribe(topic)) => match self.subscribe(topic).await {
                Ok(()) => protocol::subscribed(topic),
                Err(message) => protocol::error(&message),
            },
            Ok(ClientMessage::Unsubscribe(topic)) => {
                match topic {
                    Topic::Server => self.server = false,
                    Topic::Alerts => self.alerts = false,
                    Topic::Site(id) => {
                        self.sites.remove(&id);
                    }
                }
                self.publish();
                protocol::unsubscribed(topic)
            }
        }
    }

    async fn subscribe(&mut self, topic: Topic) -> Result<(), String> {
        let held = usize::from(self.server) + usize::from(self.alerts) + self.sites.len();
        let already = match topic {
            Topic::Server => self.server,
            Topic::Alerts => self.alerts,
            Topic::Site(id) => self.sites.contains_key(&id),
        };
        if !already && held >= self.max_subscriptions {
            return Err(format!(
                "Too many subscriptions (at most {})",
                self.max_subscriptions
            ));
        }
        match topic {
            Topic::Server if !self.perms.can_admin() => {
                return Err("Admin access required".to_owned());
            }
            Topic::Server => self.server = true,
            Topic::Alerts => self.alerts = true,
            Topic::Site(id) => {
                let site = match self.state.store.site(id).await {
                    Ok(Some(s)) if s.status != SiteStatus::Deleted => s,
                    Ok(_) => return Err("Site not found".to_owned()),
                    Err(e) => return Err(ApiError::from(e).public_message()),
                };
                if !self.perms.can_read_site(&site) {
                    return Err("Access denied to this site".to_owned());
                }
                self.sites.insert(id, site);
            }
        }
        self.publish();
        Ok(())
    }

    /// Tells the hub what this connection is now.
    fn publish(&self) {
        self.registration
            .update(self.perms.is_admin(), self.sites.keys().copied());
    }

    /// The pushes a new poller state brings (`serverStats`, `siteStats`).
    pub(super) fn on_live(&self, live: &LiveSnapshot) -> Vec<Value> {
        let now = self.state.now();
        let mut out = Vec::new();
        if self.server
            && self.perms.can_admin()
            && let Some(server) = &live.server
        {
            out.push(protocol::server_stats(server, now));
        }
        for s in &live.sites {
            if self.sites.contains_key(&s.site.id) {
                out.push(protocol::site_stats(s.site.id, s, now));
            }
        }
        out
    }

    /// The push an event brings, if this connection is to see it.
    pub(super) async fn on_event(&self, event: &PollerEvent) -> Option<Value> {
        let now = self.state.now();
        let store = self.state.store.as_ref();
        match event {
            PollerEvent::ServiceState(s) => (self.perms.is_admin()
                || self.sites.contains_key(&s.site))
            .then(|| protocol::service_status(s.site, &ServiceStatusData::of(s), now)),
            PollerEvent::AlertOpened(a) | PollerEvent::AlertUpdated(a) => {
                if !self.wants_alert(a) {
                    return None;
                }
                match self.state.hub.views.view(store, a).await {
                    Ok(view) => Some(protocol::alert(&*view, now)),
                    Err(e) => {
                        tracing::warn!(error = %e, "alert push skipped: store unavailable");
                        None
                    }
                }
            }
            PollerEvent::AlertResolved { id, .. } => {
                if !self.alerts {
                    return None;
                }
                match self.state.hub.views.resolved(store, *id).await {
                    Ok(Some((alert, view))) if self.wants_alert(&alert) => {
                        Some(protocol::alert(&*view, now))
                    }
                    Ok(_) => None,
                    Err(e) => {
                        tracing::warn!(error = %e, "alert push skipped: store unavailable");
                        None
                    }
                }
            }
        }
    }

    /// Admins subscribed to alerts; others subscribed to alerts and to the alert's site, and
    /// allowed to see it.
    fn wants_alert(&self, alert: &Alert) -> bool {
        if !self.alerts {
            return false;
        }
        if self.perms.is_admin() {
            return true;
        }
        let site = alert.site.and_then(|id| self.sites.get(&id));
        site.is_some() && self.perms.can_see_alert(site)
    }

    /// Reloads the user and rebuilds the rights: `Err` if the socket must close, otherwise the
    /// `unsubscribed` messages of the subscriptions lost. A store outage keeps things as they
    /// are until the next check.
    pub(super) async fn recheck(&mut self) -> Result<Vec<Value>, Revoked> {
        let store = self.state.store.as_ref();
        let user = match self.state.auth.load_user(store, self.user_id()).await {
            Ok(u) => u,
            Err(ApiError::Unauthorized(_)) => return Err(Revoked("User not found")),
            Err(e) => {
                tracing::debug!(error = %e, "rights re-check postponed");
                return Ok(Vec::new());
            }
        };
        if user.status == UserStatus::Blocked {
            return Err(Revoked("Account blocked"));
        }
        self.perms = Permissions::of(user);
        let mut lost = Vec::new();
        if self.server && !self.perms.can_admin() {
            self.server = false;
            lost.push(protocol::unsubscribed(Topic::Server));
        }
        let ids: Vec<Id> = self.sites.keys().copied().collect();
        for id in ids {
            match store.site(id).await {
                Ok(Some(s)) if s.status != SiteStatus::Deleted && self.perms.can_read_site(&s) => {
                    self.sites.insert(id, s);
                }
                Ok(_) => {
                    self.sites.remove(&id);
                    lost.push(protocol::unsubscribed(Topic::Site(id)));
                }
                Err(e) => tracing::debug!(error = %e, "site re-check postponed"),
            }
        }
        self.publish();
        Ok(lost)
    }
}
