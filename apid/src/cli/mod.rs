//! The command line of `twoine-apid`: `serve` (the daemon), `validate`, `gen-secret`, and the
//! standalone administration commands (`user`, `site`, `service`, `assign`, `unassign`,
//! `discover`) that
//! work on the configured store.
//!
//! Exit codes: 0 success, 1 failure (store, agent, conflict, refused write), 2 configuration
//! or usage error.

mod check;
mod discover;
mod sites;
mod users;

pub use check::{is_service_name, is_site_name, is_unit_name, is_username};
pub use users::{generate_password, generate_secret, random_bytes};

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{Config, ConfigError, Env};
use crate::daemon::{self, DaemonError};
use crate::http::Mode;
use crate::model::AccessLevel;
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(name = "twoine-apid", version, about = "Twoine Supervision API daemon")]
struct Cli {
    /// Configuration file; when the default path is absent, built-in defaults apply.
    #[arg(long, short, global = true, default_value = crate::config::DEFAULT_CONFIG_PATH)]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon (under systemd: Type=notify).
    Serve,
    /// Check the configuration and print the effective settings (secrets shown as <set>).
    Validate,
    /// Print a new random JWT secret (32 bytes, hex).
    GenSecret,
    /// Panel users (standalone mode).
    #[command(subcommand)]
    User(UserCommand),
    /// Sites (standalone mode).
    #[command(subcommand)]
    Site(SiteCommand),
    /// Services of a site (standalone mode).
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Give a user access to a site.
    Assign {
        /// The user.
        username: String,
        /// The site.
        site: String,
        /// Access level.
        #[arg(long, value_enum)]
        access: Access,
    },
    /// Take a user's access to a site away (a running daemon applies it within its WebSocket
    /// re-check period; the site's owner keeps the site).
    Unassign {
        /// The user.
        username: String,
        /// The site.
        site: String,
    },
    /// Register the sites found in SITES_DIR and their twoine-<site>-<service> units.
    Discover {
        /// Show what would be registered, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user; without --password-stdin a strong password is generated and printed once.
    Add {
        /// Login name (^[a-z][a-z0-9_-]{2,29}$).
        username: String,
        /// E-mail address.
        #[arg(long)]
        email: String,
        /// Role admin.
        #[arg(long, conflicts_with = "readonly")]
        admin: bool,
        /// Role readonly.
        #[arg(long)]
        readonly: bool,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password (generated and printed once without --password-stdin).
    Passwd {
        /// The user.
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum SiteCommand {
    /// Register a site.
    Add(sites::SiteAdd),
    /// List the sites.
    List,
}

#[derive(Debug, Subcommand)]
enum ServiceCommand {
    /// Register a service (a systemd unit) of a site.
    Add(sites::ServiceAdd),
}

/// `--access`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Access {
    Owner,
    Collaborator,
    Readonly,
}

impl From<Access> for AccessLevel {
    fn from(a: Access) -> Self {
        match a {
            Access::Owner => AccessLevel::Owner,
            Access::Collaborator => AccessLevel::Collaborator,
            Access::Readonly => AccessLevel::Readonly,
        }
    }
}

/// A command's failure.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Configuration (exit 2).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Bad argument (exit 2).
    #[error("{0}")]
    Usage(String),
    /// Anything else (exit 1).
    #[error("{0}")]
    Failed(String),
}

impl From<DaemonError> for CliError {
    fn from(e: DaemonError) -> Self {
        match e {
            DaemonError::Config(c) => Self::Config(c),
            other => Self::Failed(other.to_string()),
        }
    }
}

impl From<crate::store::StoreError> for CliError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Failed(e.to_string())
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The daemon logs at info; the administration commands only say what goes wrong.
    init_tracing(if matches!(cli.command, Command::Serve) {
        "info"
    } else {
        "warn"
    });
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("twoine-apid: {e}");
            match e {
                CliError::Config(_) | CliError::Usage(_) => ExitCode::from(2),
                CliError::Failed(_) => ExitCode::from(1),
            }
        }
    }
}

fn init_tracing(default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        builder.without_time().with_ansi(false).init();
    } else {
        builder.init();
    }
}

fn load(cli: &Cli) -> Result<Config, ConfigError> {
    let default = std::path::Path::new(crate::config::DEFAULT_CONFIG_PATH);
    let path = (cli.config != default).then_some(cli.config.as_path());
    Config::load(path, &Env::from_process())
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the runtime: {e}")))
}

fn dispatch(cli: Cli) -> Result<(), CliError> {
    if let Command::GenSecret = cli.command {
        println!("{}", generate_secret()?);
        return Ok(());
    }
    let config = load(&cli)?;
    match cli.command {
        Command::GenSecret => Ok(()),
        Command::Validate => {
            print!("{}", config.describe());
            config.require_secret()?;
            Ok(())
        }
        Command::Serve => {
            config.require_secret()?;
            runtime()?.block_on(async move {
                // Handlers before READY=1 (sent once bound): SIGTERM is always a clean stop.
                let shutdown = daemon::shutdown_signal().map_err(DaemonError::Io)?;
                daemon::run(config, shutdown).await
            })?;
            Ok(())
        }
        command => runtime()?.block_on(admin(config, command)),
    }
}

/// Refuses writes to Twoine's own panel data in drop-in mode.
fn writable(config: &Config) -> Result<(), CliError> {
    if config.mode == Mode::DropIn {
        return Err(CliError::Failed(
            "drop-in mode: users, sites and services belong to Twoine; manage them in Twoine's \
             admin panel (this command would write to Twoine's database)"
                .to_owned(),
        ));
    }
    Ok(())
}

async fn admin(config: Config, command: Command) -> Result<(), CliError> {
    let writes = !matches!(
        command,
        Command::Site(SiteCommand::List) | Command::Discover { dry_run: true }
    );
    if writes {
        writable(&config)?;
    }
    let store: Arc<dyn Store> = daemon::open_store(&config.store).await?;
    let store = store.as_ref();
    match command {
        Command::User(UserCommand::Add {
            username,
            email,
            admin,
            readonly,
            password_stdin,
        }) => users::add(store, &username, &email, admin, readonly, password_stdin).await,
        Command::User(UserCommand::Passwd {
            username,
            password_stdin,
        }) => users::passwd(store, &username, password_stdin).await,
        Command::Assign {
            username,
            site,
            access,
        } => users::assign(store, &username, &site, access.into()).await,
        Command::Unassign { username, site } => users::unassign(store, &username, &site).await,
        Command::Site(SiteCommand::Add(args)) => sites::add_site(store, &config, args).await,
        Command::Site(SiteCommand::List) => sites::list(store).await,
        Command::Service(ServiceCommand::Add(args)) => sites::add_service(store, args).await,
        Command::Discover { dry_run } => discover::run(store, &config, dry_run).await,
        Command::Serve | Command::Validate | Command::GenSecret => Ok(()),
    }
}
