//! `twoine-agent ctl`: the operator's client over the same gRPC API, printing JSON.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Subcommand;
use futures_util::StreamExt;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tonic::transport::{Channel, Endpoint};
use twoine_proto::v1 as pb;
use twoine_proto::v1::agent_client::AgentClient;

/// Largest response the client accepts (matches the server's default bound).
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// One request to the agent.
#[derive(Debug, Clone, Subcommand)]
pub enum CtlCommand {
    /// Host snapshot: CPU, memory, filesystems, network, processes.
    Snapshot,
    /// CPU time, RSS and process count of the given uids.
    Usage {
        #[arg(required = true)]
        uids: Vec<u32>,
    },
    /// Measure site directories (bytes, files) under SITES_DIR.
    Scan {
        #[arg(required = true)]
        roots: Vec<String>,
        /// Rescan now, whatever the cache holds.
        #[arg(long)]
        force: bool,
        /// Accept a cached result up to this old, seconds.
        #[arg(long)]
        max_age: Option<u32>,
    },
    /// Every twoine-* unit with its load/active/sub state.
    Units,
    /// Details of site units (twoine-<site>-<service>).
    Unit {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Start a site unit and print its resulting state.
    Start { name: String },
    /// Stop a site unit and print its resulting state.
    Stop { name: String },
    /// Restart a site unit and print its resulting state.
    Restart { name: String },
    /// Print unit state changes, one JSON object per line.
    Watch {
        /// Units to watch; none = every site unit.
        names: Vec<String>,
        /// Exit after this many events.
        #[arg(long)]
        count: Option<usize>,
        /// Exit after this many seconds.
        #[arg(long)]
        timeout: Option<u64>,
    },
}

/// Open a channel to the agent's socket. The connection is made lazily by the first call.
pub fn channel(socket: &Path) -> Result<Channel, tonic::transport::Error> {
    let socket: PathBuf = socket.to_path_buf();
    // The URI is a placeholder: the connector below always dials the Unix socket.
    let endpoint = Endpoint::from_static("http://twoine-agent.invalid")
        .connect_timeout(Duration::from_secs(5));
    Ok(
        endpoint.connect_with_connector_lazy(tower::service_fn(move |_| {
            let socket = socket.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(socket).await?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        })),
    )
}

/// A gRPC client for the agent at `socket`.
pub fn client(socket: &Path) -> Result<AgentClient<Channel>, tonic::transport::Error> {
    Ok(AgentClient::new(channel(socket)?)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// Why a ctl command failed.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error("{}: {}", code_name(.0.code()), .0.message())]
    Status(#[from] tonic::Status),
    #[error("cannot reach the agent: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("cannot print the answer: {0}")]
    Json(#[from] serde_json::Error),
}

impl CtlError {
    /// The agent itself could not be reached (not running, or the socket is not ours to open).
    pub fn is_unavailable(&self) -> bool {
        match self {
            // A status made by the client from a connection failure carries its cause; one
            // the agent sent (e.g. "systemd is not reachable") does not.
            Self::Status(s) => {
                s.code() == tonic::Code::Unavailable && std::error::Error::source(s).is_some()
            }
            Self::Transport(_) => true,
            Self::Json(_) => false,
        }
    }
}

fn code_name(code: tonic::Code) -> String {
    // "PermissionDenied" -> "permission denied": what an operator reads in a terminal.
    let debug = format!("{code:?}");
    let mut out = String::new();
    for (i, c) in debug.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

fn print<T: Serialize>(value: &T) -> Result<(), CtlError> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Run one command against the agent at `socket`, printing JSON on stdout.
pub async fn run(socket: &Path, command: CtlCommand) -> Result<(), CtlError> {
    let mut client = client(socket)?;
    match command {
        CtlCommand::Snapshot => print(
            &client
                .host_snapshot(pb::HostSnapshotRequest {})
                .await?
                .into_inner(),
        ),
        CtlCommand::Usage { uids } => print(
            &client
                .users_usage(pb::UsersUsageRequest { uids })
                .await?
                .into_inner(),
        ),
        CtlCommand::Scan {
            roots,
            force,
            max_age,
        } => print(
            &client
                .measure_dirs(pb::MeasureDirsRequest {
                    roots,
                    max_age_seconds: max_age.unwrap_or(0),
                    force,
                })
                .await?
                .into_inner(),
        ),
        CtlCommand::Units => print(
            &client
                .list_units(pb::ListUnitsRequest {})
                .await?
                .into_inner(),
        ),
        CtlCommand::Unit { names } => print(
            &client
                .unit_details(pb::UnitDetailsRequest { names })
                .await?
                .into_inner(),
        ),
        CtlCommand::Start { name } => print(
            &client
                .start_unit(pb::UnitActionRequest { name })
                .await?
                .into_inner(),
        ),
        CtlCommand::Stop { name } => print(
            &client
                .stop_unit(pb::UnitActionRequest { name })
                .await?
                .into_inner(),
        ),
        CtlCommand::Restart { name } => print(
            &client
                .restart_unit(pb::UnitActionRequest { name })
                .await?
                .into_inner(),
        ),
        CtlCommand::Watch {
            names,
            count,
            timeout,
        } => {
            let stream = client
                .watch_units(pb::WatchUnitsRequest { names })
                .await?
                .into_inner();
            let limit = count.unwrap_or(usize::MAX);
            let watch = async {
                let mut stream = stream.take(limit);
                while let Some(event) = stream.next().await {
                    println!("{}", serde_json::to_string(&event?)?);
                }
                Ok::<(), CtlError>(())
            };
            match timeout {
                Some(secs) => tokio::time::timeout(Duration::from_secs(secs), watch)
                    .await
                    .unwrap_or(Ok(())),
                None => watch.await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_read_like_words() {
        assert_eq!(
            code_name(tonic::Code::PermissionDenied),
            "permission denied"
        );
        assert_eq!(code_name(tonic::Code::InvalidArgument), "invalid argument");
    }
}
