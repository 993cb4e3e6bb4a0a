//! The client of `twoine-agent`: gRPC over its Unix socket, as a small state machine.
//!
//! States: *connected* (the last call reached the agent) or *retrying* (the last call could not
//! reach it; the next dial waits for a capped exponential backoff, 250 ms doubling to 10 s,
//! reset on success). While retrying, calls made before the retry time fail at once with
//! [`AgentError::Unavailable`] without dialing, so a lost agent costs nothing and never crashes
//! apid. An error *status* sent by the agent (permission denied, systemd absent...) proves the
//! agent is there: it leaves the client connected.
//!
//! The state (connected, last error, since when) is published on a `watch` channel for
//! `/api/health`.

mod backoff;
mod calls;

pub use backoff::Backoff;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::Utc;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};
use twoine_proto::v1::agent_client::AgentClient as Grpc;

use crate::model::Timestamp;
use crate::model::time::iso;

/// The agent's socket on an installed system.
pub const DEFAULT_SOCKET: &str = "/run/twoine/agent.sock";
/// Largest message accepted (the agent's default bound).
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Client settings.
#[derive(Debug, Clone)]
pub struct AgentClientConfig {
    /// The agent's socket.
    pub socket: PathBuf,
    /// Longest wait for one call (directory walks included).
    pub call_timeout: Duration,
    /// Delays between reconnection attempts.
    pub backoff: Backoff,
}

impl Default for AgentClientConfig {
    fn default() -> Self {
        Self {
            socket: PathBuf::from(DEFAULT_SOCKET),
            call_timeout: Duration::from_secs(120),
            backoff: Backoff::default(),
        }
    }
}

impl AgentClientConfig {
    /// Defaults with another socket.
    pub fn with_socket(socket: impl Into<PathBuf>) -> Self {
        Self {
            socket: socket.into(),
            ..Self::default()
        }
    }
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    /// The agent could not be reached (not running, socket refused, timed out).
    #[error("agent unavailable: {0}")]
    Unavailable(String),
    /// The agent answered with an error.
    #[error("agent refused: {code:?}: {message}")]
    Status {
        /// gRPC code.
        code: tonic::Code,
        /// The agent's message.
        message: String,
    },
}

impl AgentError {
    /// Whether the agent itself is away (as opposed to an error it sent).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    fn from_status(s: tonic::Status) -> Self {
        // A status made by the client from a connection failure carries its cause; one the
        // agent sent does not.
        if s.code() == tonic::Code::Unavailable && std::error::Error::source(&s).is_some() {
            Self::Unavailable(s.message().to_owned())
        } else {
            Self::Status {
                code: s.code(),
                message: s.message().to_owned(),
            }
        }
    }
}

/// What `/api/health` shows of the agent link.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentState {
    /// The last call reached the agent.
    pub connected: bool,
    /// Since when `connected` has had its value.
    #[serde(with = "iso")]
    pub since: Timestamp,
    /// The last transport failure (kept after reconnection, for the operator).
    pub last_error: Option<String>,
    /// Failed attempts since the last success.
    pub failures: u32,
}

struct Link {
    grpc: Option<Grpc<Channel>>,
    backoff: Backoff,
    retry_at: Option<Instant>,
}

/// The agent client; cheap to clone (shared state).
#[derive(Clone)]
pub struct AgentClient {
    config: Arc<AgentClientConfig>,
    link: Arc<Mutex<Link>>,
    state: Arc<watch::Sender<AgentState>>,
}

impl std::fmt::Debug for AgentClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentClient")
            .field("socket", &self.config.socket)
            .field("state", &*self.state.borrow())
            .finish()
    }
}

impl AgentClient {
    /// A client for the agent; nothing is dialed before the first call, which dials at once.
    /// The state reads *not connected* until a call reaches the agent.
    pub fn new(config: AgentClientConfig) -> Self {
        let (state, _) = watch::channel(AgentState {
            connected: false,
            since: Utc::now(),
            last_error: None,
            failures: 0,
        });
        let link = Link {
            grpc: None,
            backoff: config.backoff,
            retry_at: None,
        };
        Self {
            config: Arc::new(config),
            link: Arc::new(Mutex::new(link)),
            state: Arc::new(state),
        }
    }

    /// The socket dialed.
    pub fn socket(&self) -> &Path {
        &self.config.socket
    }

    /// The current link state.
    pub fn state(&self) -> AgentState {
        self.state.borrow().clone()
    }

    /// Follows the link state.
    pub fn subscribe_state(&self) -> watch::Receiver<AgentState> {
        self.state.subscribe()
    }

    /// Time left before the next dial is allowed (`None`: now).
    pub fn retry_in(&self) -> Option<Duration> {
        let at = self.lock().retry_at?;
        let now = Instant::now();
        (at > now).then(|| at - now)
    }

    /// Records that an open stream broke with `status`.
    pub fn stream_failed(&self, status: tonic::Status) {
        let err = AgentError::from_status(status);
        if let AgentError::Unavailable(msg) = err {
            self.failed(msg);
        }
    }

    pub(super) async fn call<T, F, Fut>(&self, f: F) -> Result<T, AgentError>
    where
        F: FnOnce(Grpc<Channel>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let grpc = self.ready()?;
        match tokio::time::timeout(self.config.call_timeout, f(grpc)).await {
            Ok(Ok(response)) => {
                self.succeeded();
                Ok(response.into_inner())
            }
            Ok(Err(status)) => {
                let err = AgentError::from_status(status);
                match &err {
                    AgentError::Unavailable(msg) => self.failed(msg.clone()),
                    AgentError::Status { .. } => self.succeeded(),
                }
                Err(err)
            }
            Err(_) => {
                let msg = format!(
                    "no answer within {} s",
                    self.config.call_timeout.as_secs_f64()
                );
                self.failed(msg.clone());
                Err(AgentError::Unavailable(msg))
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Link> {
        self.link.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A client to call now, or the reason not to dial yet.
    fn ready(&self) -> Result<Grpc<Channel>, AgentError> {
        let mut link = self.lock();
        if let Some(at) = link.retry_at
            && Instant::now() < at
        {
            let last = self.state.borrow().last_error.clone().unwrap_or_default();
            return Err(AgentError::Unavailable(format!(
                "retrying after backoff (last error: {last})"
            )));
        }
        let grpc = link
            .grpc
            .get_or_insert_with(|| connect(&self.config.socket))
            .clone();
        Ok(grpc)
    }

    fn succeeded(&self) {
        {
            let mut link = self.lock();
            link.backoff.reset();
            link.retry_at = None;
        }
        self.state.send_if_modified(|s| {
            let changed = !s.connected || s.failures != 0;
            if !s.connected {
                tracing::info!(socket = %self.config.socket.display(), "agent connected");
                s.connected = true;
                s.since = Utc::now();
            }
            s.failures = 0;
            changed
        });
    }

    fn failed(&self, error: String) {
        let delay = {
            let mut link = self.lock();
            // A fresh channel dials anew; the broken one may hold a dead connection.
            link.grpc = None;
            let delay = link.backoff.next_delay();
            link.retry_at = Some(Instant::now() + delay);
            delay
        };
        self.state.send_modify(|s| {
            if s.failures == 0 {
                tracing::warn!(socket = %self.config.socket.display(), %error, "agent unreachable");
            } else {
                tracing::debug!(%error, retry_in_ms = delay.as_millis() as u64, "agent still away");
            }
            if s.connected {
                s.connected = false;
                s.since = Utc::now();
            }
            s.failures = s.failures.saturating_add(1);
            s.last_error = Some(error);
        });
    }
}

/// A lazy channel to the socket: dialed by the first call, re-dialed after a failure.
fn connect(socket: &Path) -> Grpc<Channel> {
    let socket = socket.to_path_buf();
    // The URI is a placeholder: the connector always dials the Unix socket.
    let endpoint = Endpoint::from_static("http://twoine-agent.invalid")
        .connect_timeout(Duration::from_secs(5));
    let channel = endpoint.connect_with_connector_lazy(tower::service_fn(move |_| {
        let socket = socket.clone();
        async move {
            let stream = tokio::net::UnixStream::connect(socket).await?;
            Ok::<_, std::io::Error>(TokioIo::new(stream))
        }
    }));
    Grpc::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_missing_agent_is_an_error_then_calls_wait_for_the_backoff() {
        let dir = tempfile::tempdir().unwrap();
        let client = AgentClient::new(AgentClientConfig::with_socket(dir.path().join("none")));
        let err = client.host_snapshot().await.err();
        assert!(matches!(err, Some(AgentError::Unavailable(_))), "{err:?}");
        let state = client.state();
        assert!(!state.connected);
        assert_eq!(state.failures, 1);
        assert!(state.last_error.is_some());
        // Inside the backoff window no dial is made: failures do not grow.
        assert_eq!(client.retry_in(), Some(backoff::INITIAL));
        assert!(client.host_snapshot().await.is_err());
        assert_eq!(client.state().failures, 1);
        // After the window, it dials again and the next delay doubles.
        tokio::time::advance(backoff::INITIAL).await;
        assert!(client.host_snapshot().await.is_err());
        assert_eq!(client.state().failures, 2);
        assert_eq!(client.retry_in(), Some(backoff::INITIAL * 2));
    }
}
