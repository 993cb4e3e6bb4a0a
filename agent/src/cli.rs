//! Command line: `run` (the daemon), `validate` (check a configuration), `ctl` (the client).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, DEFAULT_CONFIG_PATH};
use crate::ctl::{self, CtlCommand};

#[derive(Debug, Parser)]
#[command(
    name = "twoine-agent",
    version,
    about = "Twoine Supervision root collector"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon (as root, under systemd).
    Run {
        /// Configuration file; when the default path is absent, built-in defaults apply.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Check a configuration file and print the effective settings.
    Validate {
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Talk to a running agent and print its answers as JSON.
    Ctl {
        /// The agent's socket.
        #[arg(
            long,
            short,
            default_value = "/run/twoine/agent.sock",
            env = "TWOINE_AGENT_SOCKET"
        )]
        socket: PathBuf,
        #[command(subcommand)]
        command: CtlCommand,
    },
}

/// Load the configuration: an explicit path must exist; the default path may be absent.
fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    match path {
        Some(p) => Ok(Config::load(p)?),
        None if Path::new(DEFAULT_CONFIG_PATH).exists() => {
            Ok(Config::load(Path::new(DEFAULT_CONFIG_PATH))?)
        }
        None => Ok(Config::default()),
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Under systemd the journal adds its own timestamps.
    let under_journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if under_journal {
        builder.without_time().with_ansi(false).init();
    } else {
        builder.init();
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(16)
        .enable_all()
        .build()
}

/// Entry point of the `twoine-agent` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config } => {
            init_tracing();
            let result = load_config(config.as_deref())
                .and_then(|config| runtime()?.block_on(crate::server::run(config)));
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e:#}");
                    eprintln!("twoine-agent: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Validate { config } => match load_config(config.as_deref()) {
            Ok(config) => match crate::server::Access::resolve(&config.access) {
                Ok(_) => {
                    println!("{config:#?}");
                    println!("configuration OK");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("twoine-agent: {e}");
                    ExitCode::FAILURE
                }
            },
            Err(e) => {
                eprintln!("twoine-agent: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Ctl { socket, command } => {
            let rt = match runtime() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            // `{e}` and not `{e:#}`: the status already says all, its source would repeat it.
            match rt.block_on(ctl::run(&socket, command)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    if e.is_unavailable() {
                        eprintln!(
                            "hint: is twoine-agent running, and may this user open {}?",
                            socket.display()
                        );
                    }
                    ExitCode::FAILURE
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn ctl_parses_its_subcommands() {
        let cli = Cli::try_parse_from([
            "twoine-agent",
            "ctl",
            "--socket",
            "/tmp/x.sock",
            "scan",
            "/var/www/twoine/a",
            "--force",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Ctl {
                command: CtlCommand::Scan { force: true, .. },
                ..
            }
        ));
        assert!(Cli::try_parse_from(["twoine-agent", "ctl", "usage"]).is_err());
    }
}
