//! The daemon (`twoine-apid serve`): the store, the agent client, the poller, the notifier and
//! the HTTP server, wired once.
//!
//! [`run`] does it all; tests that need the bound port use [`bind`] then [`Daemon::serve`].
//! The signal handlers ([`shutdown_signal`]) are installed by the caller *before* [`bind`], so
//! a SIGTERM right after READY=1 is a clean shutdown, never a kill.

mod store;

pub use store::open_store;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::agent::{AgentClient, AgentClientConfig};
use crate::config::{Config, ConfigError};
use crate::http::auth::{Auth, JwtKeys};
use crate::http::{AppParts, AppState, app};
use crate::model::NamedRef;
use crate::notify::{NameLookup, Notifier};
use crate::poller::{Clock, LiveSnapshot, Poller, PollerOptions, load_config};

/// Longest wait for open connections (WebSockets) after the shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The configuration is unusable (exit code 2).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be opened.
    #[error("store: {0}")]
    Store(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The notifier could not start.
    #[error("notifications: {0}")]
    Notify(String),
    /// Signal handlers or the server failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Everything built, the port bound, not serving yet.
pub struct Daemon {
    listener: TcpListener,
    state: AppState,
    poller: Poller,
    monitoring: watch::Receiver<crate::model::MonitoringConfig>,
    notifier: Option<Notifier>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("listener", &self.listener)
            .finish_non_exhaustive()
    }
}

/// Builds everything and binds `config.listen`. Refuses to start without a JWT secret of at
/// least 32 bytes.
pub async fn bind(config: Config) -> Result<Daemon, DaemonError> {
    let secret = config.require_secret()?.clone();
    let store = open_store(&config.store).await?;
    let agent = AgentClient::new(AgentClientConfig {
        socket: config.agent.socket.clone(),
        call_timeout: config.agent.call_timeout,
        ..AgentClientConfig::default()
    });
    let clock = Clock::default();
    let settings = load_config(store.as_ref()).await;
    let (monitoring_tx, monitoring) = watch::channel(settings.clone());
    let poller = Poller::new(
        agent.clone(),
        Arc::clone(&store),
        settings,
        PollerOptions {
            clock: clock.clone(),
            ..PollerOptions::default()
        },
    );
    let notifier = if config.notify.webhooks.is_empty() && config.notify.email.is_none() {
        None
    } else {
        Some(
            Notifier::start(config.notify.clone())
                .map_err(|e| DaemonError::Notify(e.to_string()))?,
        )
    };
    let keys = JwtKeys::new(&secret, config.auth.access_ttl, config.auth.refresh_ttl);
    let state = AppState::new(AppParts {
        store,
        auth: Auth::new(keys),
        agent,
        poller: poller.outputs(),
        monitoring: monitoring_tx,
        mode: config.mode,
        clock,
    });
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| DaemonError::Bind {
            addr: config.listen,
            source,
        })?;
    Ok(Daemon {
        listener,
        state,
        poller,
        monitoring,
        notifier,
    })
}

/// The site and service names of the latest snapshot, for notifications.
fn names(live: watch::Receiver<Arc<LiveSnapshot>>) -> NameLookup {
    Arc::new(move |id| {
        let snap = Arc::clone(&live.borrow());
        if let Some(s) = snap.sites.iter().find(|s| s.site.id == id) {
            return Some(NamedRef {
                id,
                name: s.site.name.clone(),
                display_name: s.site.display_name.clone(),
            });
        }
        snap.services
            .iter()
            .find(|s| s.service == id)
            .map(|s| NamedRef {
                id,
                name: s.name.clone(),
                display_name: s.name.clone(),
            })
    })
}

impl Daemon {
    /// The bound address (an ephemeral port resolved).
    pub fn local_addr(&self) -> Result<SocketAddr, DaemonError> {
        Ok(self.listener.local_addr()?)
    }

    /// Tells systemd READY=1 (nothing outside systemd), polls and serves until `shutdown`
    /// completes, then stops within [`SHUTDOWN_GRACE`].
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), DaemonError> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let notify_task = self.notifier.map(|n| {
            let names = names(self.state.live.clone());
            tokio::spawn(crate::notify::run(
                n,
                self.state.events.subscribe(),
                Some(names),
            ))
        });
        let poller = tokio::spawn(self.poller.run(self.monitoring, stopped()));
        let addr = self.listener.local_addr()?;
        let router = app(self.state);
        let server = axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stopped());
        let mut server = tokio::spawn(async move { server.await });
        tracing::info!(%addr, "twoine-apid {} listening", env!("CARGO_PKG_VERSION"));
        if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
            tracing::warn!(error = %e, "cannot notify systemd");
        }
        tokio::pin!(shutdown);
        let result = tokio::select! {
            () = &mut shutdown => {
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
                let _ = stop_tx.send(true);
                match tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await {
                    Ok(Ok(r)) => r.map_err(DaemonError::Io),
                    Ok(Err(e)) => Err(DaemonError::Io(std::io::Error::other(e.to_string()))),
                    Err(_) => {
                        tracing::info!("connections still open after the grace period: closed");
                        server.abort();
                        Ok(())
                    }
                }
            }
            r = &mut server => {
                let _ = stop_tx.send(true);
                match r {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(DaemonError::Io(e)),
                    Err(e) => Err(DaemonError::Io(std::io::Error::other(e.to_string()))),
                }
            }
        };
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, poller).await;
        if let Some(t) = notify_task {
            t.abort();
        }
        tracing::info!("twoine-apid stopped");
        result
    }
}

/// The daemon: [`bind`], then [`Daemon::serve`] until `shutdown`.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), DaemonError> {
    bind(config).await?.serve(shutdown).await
}

/// Installs the SIGTERM and SIGINT handlers now; the future completes on either.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = int.recv() => tracing::info!("SIGINT: shutting down"),
        }
    })
}
