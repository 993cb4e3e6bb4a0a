//! The dispatch task: reads the queue, matches channels, spawns deliveries with retries.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use hyper::body::Bytes;
use tokio::sync::{Semaphore, mpsc};

use super::email::Mailer;
use super::payload::{EventKind, Notification};
use super::retry::{Attempt, backoff};
use super::webhook::{Webhook, tls_connector};
use super::{NotifyConfig, NotifyEvent, NotifyStats};
use crate::model::{AlertStatus, AlertView, Id, ResolvedBy};

/// Deliveries running at once; past that the dispatch task waits and the queue fills.
pub const MAX_IN_FLIGHT: usize = 32;

/// Opened alerts remembered for their resolution; past that, new ones are not remembered.
const MAX_REMEMBERED: usize = 10_000;

pub(super) struct Worker {
    webhooks: Vec<Arc<Webhook>>,
    email: Option<Arc<Mailer>>,
    send_resolved: bool,
    opened: HashMap<Id, AlertView>,
    in_flight: Arc<Semaphore>,
    stats: Arc<NotifyStats>,
}

impl Worker {
    pub(super) fn new(config: NotifyConfig, stats: Arc<NotifyStats>) -> Result<Self, String> {
        let tls = tls_connector()?;
        let webhooks = config
            .webhooks
            .into_iter()
            .map(|c| Webhook::new(c, tls.clone()).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let email = config.email.map(Mailer::new).transpose()?.map(Arc::new);
        Ok(Self {
            webhooks,
            email,
            send_resolved: config.send_resolved,
            opened: HashMap::new(),
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            stats,
        })
    }

    pub(super) async fn run(mut self, mut rx: mpsc::Receiver<NotifyEvent>) {
        while let Some(event) = rx.recv().await {
            let Some(notification) = self.notification(event) else {
                continue;
            };
            self.dispatch(notification).await;
        }
    }

    /// What to send for an event, if anything.
    fn notification(&mut self, event: NotifyEvent) -> Option<Notification> {
        match event {
            NotifyEvent::Opened(view) => {
                let alert = *view;
                if self.send_resolved && self.opened.len() < MAX_REMEMBERED {
                    self.opened.insert(alert.id, alert.clone());
                }
                Some(Notification {
                    event: EventKind::Opened,
                    alert,
                })
            }
            NotifyEvent::Resolved { id, at } => {
                let Some(mut alert) = self.opened.remove(&id) else {
                    tracing::debug!(alert = %id, "resolution of an alert not announced here: not sent");
                    return None;
                };
                alert.status = AlertStatus::Resolved;
                alert.resolved_at = Some(at);
                alert.resolved_by = Some(ResolvedBy::SYSTEM);
                Some(Notification {
                    event: EventKind::Resolved,
                    alert,
                })
            }
        }
    }

    async fn dispatch(&self, n: Notification) {
        let severity = n.alert.severity;
        let id = n.alert.id;
        let event = n.event.as_str();
        if self
            .webhooks
            .iter()
            .any(|h| h.config.filter().accepts(severity))
        {
            let body = match n.to_json() {
                Ok(b) => Bytes::from(b),
                Err(e) => {
                    tracing::warn!(error = %e, alert = %id, "alert not serialized: webhooks skipped");
                    Bytes::new()
                }
            };
            if !body.is_empty() {
                for hook in self
                    .webhooks
                    .iter()
                    .filter(|h| h.config.filter().accepts(severity))
                {
                    let hook = Arc::clone(hook);
                    let body = body.clone();
                    self.spawn(
                        hook.target(),
                        hook.config.max_attempts,
                        id,
                        event,
                        move || {
                            let hook = Arc::clone(&hook);
                            let body = body.clone();
                            async move { hook.attempt(&body).await }
                        },
                    )
                    .await;
                }
            }
        }
        if let Some(mailer) = self
            .email
            .as_ref()
            .filter(|m| m.config.filter().accepts(severity))
        {
            match mailer.message(&n) {
                Ok(message) => {
                    let m = Arc::clone(mailer);
                    self.spawn(
                        mailer.target(),
                        mailer.config.max_attempts,
                        id,
                        event,
                        move || {
                            let m = Arc::clone(&m);
                            let message = message.clone();
                            async move { m.attempt(&message).await }
                        },
                    )
                    .await;
                }
                Err(e) => {
                    self.stats.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, alert = %id, "e-mail not built");
                }
            }
        }
    }

    /// Waits for a delivery slot, then delivers in its own task.
    async fn spawn<F, Fut>(
        &self,
        target: String,
        max_attempts: u32,
        id: Id,
        event: &'static str,
        mut attempt: F,
    ) where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Attempt> + Send,
    {
        let Ok(permit) = Arc::clone(&self.in_flight).acquire_owned().await else {
            return;
        };
        let stats = Arc::clone(&self.stats);
        tokio::spawn(async move {
            let _permit = permit;
            let max = max_attempts.max(1);
            for n in 1..=max {
                match attempt().await {
                    Attempt::Done => {
                        stats.delivered.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(%target, alert = %id, event, attempt = n, "notification delivered");
                        return;
                    }
                    Attempt::GiveUp(why) => {
                        stats.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(%target, alert = %id, event, attempt = n, error = %why, "notification refused: not retried");
                        return;
                    }
                    Attempt::Retry(why) if n == max => {
                        stats.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(%target, alert = %id, event, attempts = n, error = %why, "notification failed: giving up");
                        return;
                    }
                    Attempt::Retry(why) => {
                        tracing::debug!(%target, alert = %id, event, attempt = n, error = %why, "notification failed: retrying");
                        tokio::time::sleep(backoff(n)).await;
                    }
                }
            }
        });
    }
}
