//! Alert notifications: webhooks (JSON `POST`) and e-mail (SMTP).
//!
//! A [`Notifier`] takes alert events without ever waiting: [`Notifier::notify`] puts them on a
//! bounded queue (overflow is counted and logged) read by one task, which sends each event to
//! every channel whose severity filter accepts it, each delivery in its own task (at most
//! [`MAX_IN_FLIGHT`] at once), retried with capped exponential backoff on network errors,
//! 5xx and 429 (or transient SMTP errors), never on other 4xx.
//!
//! Resolutions are sent too (`send_resolved`, default true), to the channels that received the
//! opening, for alerts whose opening this notifier saw. [`run`] plugs a notifier onto the
//! poller's event channel.

mod config;
mod email;
mod filter;
mod payload;
mod retry;
mod webhook;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{broadcast, mpsc};

pub use config::{
    DEFAULT_SECRET_HEADER, EmailConfig, InvalidNotifyConfig, NotifyConfig, Secret, SeverityFilter,
    SmtpSecurity, WebhookConfig,
};
pub use payload::{EventKind, Notification};
pub use retry::{FIRST_BACKOFF, MAX_BACKOFF, backoff};
pub use worker::MAX_IN_FLIGHT;

use crate::model::{Alert, AlertView, Id, NamedRef, Timestamp};
use crate::poller::PollerEvent;

/// An alert event handed to the notifier.
#[derive(Debug, Clone, PartialEq)]
pub enum NotifyEvent {
    /// An alert was opened (the view carries site and service names).
    Opened(Box<AlertView>),
    /// An alert was resolved.
    Resolved {
        /// The alert.
        id: Id,
        /// When.
        at: Timestamp,
    },
}

/// Counters, for logs and `/api/health`.
#[derive(Debug, Default)]
pub struct NotifyStats {
    dropped: AtomicU64,
    lagged: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
}

/// A copy of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NotifyCounts {
    /// Events dropped because the queue was full.
    pub dropped: u64,
    /// Poller events missed because [`run`] lagged behind the broadcast channel.
    pub lagged: u64,
    /// Deliveries that succeeded (one per channel and event).
    pub delivered: u64,
    /// Deliveries abandoned (attempts exhausted or not retryable).
    pub failed: u64,
}

impl NotifyStats {
    fn counts(&self) -> NotifyCounts {
        NotifyCounts {
            dropped: self.dropped.load(Ordering::Relaxed),
            lagged: self.lagged.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// Why a notifier could not start.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] InvalidNotifyConfig),
    /// A channel could not be prepared (TLS setup, SMTP relay).
    #[error("notification channel not ready: {0}")]
    Channel(String),
    /// Called outside a tokio runtime.
    #[error("notifications need a tokio runtime")]
    NoRuntime,
}

/// The handle fed with alert events; cheap to clone. The dispatch task stops once every handle
/// is dropped and the queue is drained.
#[derive(Clone)]
pub struct Notifier {
    tx: mpsc::Sender<NotifyEvent>,
    stats: Arc<NotifyStats>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// Validates the configuration, prepares the channels and spawns the dispatch task on the
    /// current tokio runtime (an error outside one).
    pub fn start(config: NotifyConfig) -> Result<Self, NotifyError> {
        config.validate()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| NotifyError::NoRuntime)?;
        let stats = Arc::new(NotifyStats::default());
        let (tx, rx) = mpsc::channel(config.queue_capacity);
        let worker =
            worker::Worker::new(config, Arc::clone(&stats)).map_err(NotifyError::Channel)?;
        runtime.spawn(worker.run(rx));
        Ok(Self { tx, stats })
    }

    /// Queues an event and returns at once. `false` when it was dropped (queue full, counted
    /// and logged, or the dispatch task gone).
    pub fn notify(&self, event: NotifyEvent) -> bool {
        match self.tx.try_send(event) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                let n = self.stats.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(dropped_total = n, "notification queue full: event dropped");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::warn!("notification task stopped: event dropped");
                false
            }
        }
    }

    /// The counters so far.
    pub fn counts(&self) -> NotifyCounts {
        self.stats.counts()
    }
}

/// Looks up a site's or service's names for the alert view (`None`: unknown, the reference
/// then carries the id with empty names).
pub type NameLookup = Arc<dyn Fn(Id) -> Option<NamedRef> + Send + Sync>;

/// The alert view of a freshly opened alert, names from `names`.
pub fn alert_view(alert: Alert, names: Option<&NameLookup>) -> AlertView {
    let lookup = |id: Id| {
        names.and_then(|f| f(id)).unwrap_or(NamedRef {
            id,
            name: String::new(),
            display_name: String::new(),
        })
    };
    let site = alert.site.map(lookup);
    let service = alert.service.map(lookup);
    AlertView::new(alert, site, service, None)
}

/// Feeds `notifier` with the poller's alert events until the channel closes. A lag (events
/// missed because this loop fell behind) is counted and logged, never fatal.
pub async fn run(
    notifier: Notifier,
    mut events: broadcast::Receiver<PollerEvent>,
    names: Option<NameLookup>,
) {
    loop {
        match events.recv().await {
            Ok(PollerEvent::AlertOpened(alert)) => {
                let view = alert_view(alert, names.as_ref());
                notifier.notify(NotifyEvent::Opened(Box::new(view)));
            }
            Ok(PollerEvent::AlertResolved { id, at }) => {
                notifier.notify(NotifyEvent::Resolved { id, at });
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(n)) => {
                let total = notifier.stats.lagged.fetch_add(n, Ordering::Relaxed) + n;
                tracing::warn!(
                    missed = n,
                    missed_total = total,
                    "notifications lagged behind the poller: events missed"
                );
            }
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}
