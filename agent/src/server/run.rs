//! Start-up, serving and shutdown of the agent daemon.

use std::future::Future;
use std::time::Duration;

use tokio::net::UnixListener;
use twoine_proto::v1::agent_server::AgentServer;

use super::peer::{self, Access};
use super::service::AgentService;
use super::socket;
use crate::collect::proc::ProcReader;
use crate::collect::systemd::Systemd;
use crate::collect::walk::Scanner;
use crate::config::{Config, LimitsConfig};

/// Build the service from a checked configuration: resolves names, opens SITES_DIR.
pub fn service_from_config(config: &Config) -> anyhow::Result<AgentService> {
    let access = Access::resolve(&config.access)?;
    let scanner = Scanner::new(&config.sites_dir, config.scan.clone())
        .map_err(|e| anyhow::anyhow!("sites_dir {}: {e}", config.sites_dir.display()))?;
    Ok(AgentService::new(
        access,
        ProcReader::system(),
        scanner,
        Systemd::new(&config.systemd),
        config.limits.clone(),
    ))
}

/// Serve `service` on an already bound listener until `shutdown` completes.
pub async fn serve(
    listener: UnixListener,
    service: AgentService,
    limits: &LimitsConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let max = limits.max_message_bytes;
    let svc = AgentServer::new(service)
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    tonic::transport::Server::builder()
        .timeout(limits.request_timeout())
        .concurrency_limit_per_connection(limits.max_concurrent_requests)
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            limits.max_concurrent_requests,
        ))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .add_service(svc)
        .serve_with_incoming_shutdown(socket::incoming(listener, limits.max_connections), shutdown)
        .await?;
    Ok(())
}

/// The daemon: bind the socket, tell systemd we are ready, serve until SIGTERM or SIGINT.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let service = service_from_config(&config)?;
    let gid = config
        .socket_group
        .as_ref()
        .map(peer::resolve_group)
        .transpose()?;
    // Handlers first: a SIGTERM right after READY=1 must shut down cleanly, not kill us.
    let shutdown = shutdown_signal()?;
    let listener = socket::bind(&config.socket, config.socket_mode, gid)?;
    tracing::info!(
        socket = %config.socket.display(),
        sites_dir = %config.sites_dir.display(),
        "twoine-agent {} listening",
        env!("CARGO_PKG_VERSION")
    );
    // READY=1 only now that callers can connect. Outside systemd this does nothing.
    if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
    let result = serve(listener, service, &config.limits, shutdown).await;
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    if let Err(e) = std::fs::remove_file(&config.socket) {
        tracing::debug!(error = %e, "socket not removed");
    }
    tracing::info!("twoine-agent stopped");
    result
}

/// Install the SIGTERM and SIGINT handlers now; the future completes on either.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send> {
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
