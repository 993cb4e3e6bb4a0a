//! apid's configuration: `/etc/twoine/apid.toml` (TOML, unknown fields refused, every field
//! optional with its default here), then, in drop-in mode, Twoine's `.env` file
//! (`dropin_env_file`), then the environment (`JWT_SECRET`, `JWT_EXPIRES_IN`,
//! `JWT_REFRESH_EXPIRES_IN`, `MONGODB_URI`, `SITES_DIR`, `TWOINE_APID_LISTEN`), which wins.
//!
//! `MONGODB_URI` selects the MongoDB store. The JWT secret is only required by `serve` (see
//! [`Config::require_secret`]); secrets are [`Secret`]s, never shown by `Debug` or
//! [`Config::describe`].

mod env;
mod file;

pub use env::{ENV_KEYS, Env, database_from_uri, parse_dotenv, parse_ttl};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::http::Mode;
use crate::http::auth::Secret;
use crate::notify::NotifyConfig;

/// Where the configuration lives on an installed system.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/twoine/apid.toml";
/// The default listen address (nginx proxies to it).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3001";
/// The embedded store's default file (the store's own [`crate::store::embedded::DEFAULT_PATH`]).
pub const DEFAULT_DB_PATH: &str = crate::store::embedded::DEFAULT_PATH;
/// `SITES_DIR` of an installed Twoine.
pub const DEFAULT_SITES_DIR: &str = "/var/www/twoine";
/// The MongoDB database when the URI names none.
pub const DEFAULT_DATABASE: &str = "twoine";
/// The shortest JWT secret `serve` accepts, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;
/// How to make a secret (said whenever one is missing or too short).
pub const SECRET_HINT: &str = "generate one with `openssl rand -hex 32` or `twoine-apid gen-secret`, then set it as \
     [auth] jwt_secret (or jwt_secret_file) in the configuration, or in the JWT_SECRET environment variable";

/// Which store apid uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// The embedded SQLite file (standalone default).
    Embedded {
        /// The file; its directory is created if missing.
        path: PathBuf,
    },
    /// A MongoDB database (Twoine's, in drop-in mode).
    Mongo {
        /// Connection string (may hold a password: a secret).
        uri: Secret,
        /// Database name.
        database: String,
    },
}

/// `[agent]`: how to reach `twoine-agent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// The agent's Unix socket.
    pub socket: PathBuf,
    /// Longest wait for one call.
    pub call_timeout: Duration,
}

/// `[auth]`: token signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// The HS256 secret shared with Twoine (`None`: `serve` refuses to start).
    pub jwt_secret: Option<Secret>,
    /// Access token lifetime (default 24 h).
    pub access_ttl: Duration,
    /// Refresh token lifetime (default 7 d).
    pub refresh_ttl: Duration,
}

/// The effective configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// HTTP listen address.
    pub listen: SocketAddr,
    /// Standalone or drop-in.
    pub mode: Mode,
    /// The store.
    pub store: StoreConfig,
    /// The agent link.
    pub agent: AgentConfig,
    /// Where site directories live (`SITES_DIR`; discovery looks here).
    pub sites_dir: PathBuf,
    /// Tokens.
    pub auth: AuthConfig,
    /// Notification channels.
    pub notify: NotifyConfig,
    /// Twoine's `.env`, read in drop-in mode.
    pub dropin_env_file: Option<PathBuf>,
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown field.
    #[error("invalid configuration {path}: {message}")]
    Parse {
        /// The file (or `<text>`).
        path: String,
        /// The parser's message.
        message: String,
    },
    /// Values out of range or inconsistent (one line per problem).
    #[error("invalid configuration: {}", .0.join("; "))]
    Invalid(Vec<String>),
    /// `serve` needs a JWT secret.
    #[error("no JWT secret configured: {SECRET_HINT}")]
    MissingSecret,
    /// The JWT secret is too short.
    #[error(
        "the JWT secret is {0} bytes long, at least {MIN_SECRET_BYTES} are required: {SECRET_HINT}"
    )]
    ShortSecret(usize),
}

impl Default for Config {
    fn default() -> Self {
        file::FileConfig::default()
            .resolve(&Env::default())
            .unwrap_or_else(|_| Self::fallback())
    }
}

impl Config {
    /// The built-in defaults, without any file or environment (never fails).
    fn fallback() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3001)),
            mode: Mode::Standalone,
            store: StoreConfig::Embedded {
                path: PathBuf::from(DEFAULT_DB_PATH),
            },
            agent: AgentConfig {
                socket: PathBuf::from(crate::agent::DEFAULT_SOCKET),
                call_timeout: Duration::from_secs(120),
            },
            sites_dir: PathBuf::from(DEFAULT_SITES_DIR),
            auth: AuthConfig {
                jwt_secret: None,
                access_ttl: Duration::from_secs(86_400),
                refresh_ttl: Duration::from_secs(604_800),
            },
            notify: NotifyConfig::default(),
            dropin_env_file: None,
        }
    }

    /// Loads `path` (which must exist), or the default path when `None` (absent: defaults),
    /// then applies `env`.
    pub fn load(path: Option<&Path>, env: &Env) -> Result<Self, ConfigError> {
        let (text, name) = match path {
            Some(p) => (read(p)?, p.display().to_string()),
            None if Path::new(DEFAULT_CONFIG_PATH).exists() => (
                read(Path::new(DEFAULT_CONFIG_PATH))?,
                DEFAULT_CONFIG_PATH.to_owned(),
            ),
            None => (String::new(), "<defaults>".to_owned()),
        };
        Self::from_toml(&text, &name, env)
    }

    /// Parses TOML text (`name` for messages), then applies `env`.
    pub fn from_toml(text: &str, name: &str, env: &Env) -> Result<Self, ConfigError> {
        let file: file::FileConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: name.to_owned(),
            message: e.to_string(),
        })?;
        file.resolve(env)
    }

    /// The JWT secret `serve` needs: present and at least [`MIN_SECRET_BYTES`] long.
    pub fn require_secret(&self) -> Result<&Secret, ConfigError> {
        let secret = self
            .auth
            .jwt_secret
            .as_ref()
            .ok_or(ConfigError::MissingSecret)?;
        let len = secret.expose().len();
        if len < MIN_SECRET_BYTES {
            return Err(ConfigError::ShortSecret(len));
        }
        Ok(secret)
    }

    /// The effective settings as TOML-like text, secrets shown as `<set>`.
    pub fn describe(&self) -> String {
        let set = |b: bool| if b { "<set>" } else { "<unset>" };
        let mut out = format!(
            "listen = \"{}\"\nmode = \"{}\"\nsites_dir = \"{}\"\n",
            self.listen,
            match self.mode {
                Mode::Standalone => "standalone",
                Mode::DropIn => "dropin",
            },
            self.sites_dir.display()
        );
        if let Some(p) = &self.dropin_env_file {
            out += &format!("dropin_env_file = \"{}\"\n", p.display());
        }
        match &self.store {
            StoreConfig::Embedded { path } => {
                out += &format!(
                    "\n[store]\nkind = \"embedded\"\npath = \"{}\"\n",
                    path.display()
                );
            }
            StoreConfig::Mongo { database, .. } => {
                out += &format!(
                    "\n[store]\nkind = \"mongodb\"\nuri = \"<set>\"\ndatabase = \"{database}\"\n"
                );
            }
        }
        out += &format!(
            "\n[agent]\nsocket = \"{}\"\ncall_timeout_secs = {}\n",
            self.agent.socket.display(),
            self.agent.call_timeout.as_secs()
        );
        out += &format!(
            "\n[auth]\njwt_secret = \"{}\"\naccess_ttl = \"{}s\"\nrefresh_ttl = \"{}s\"\n",
            set(self.auth.jwt_secret.is_some()),
            self.auth.access_ttl.as_secs(),
            self.auth.refresh_ttl.as_secs()
        );
        out += &format!(
            "\n[notify]\nwebhooks = {}\nemail = \"{}\"\nsend_resolved = {}\nqueue_capacity = {}\n",
            self.notify.webhooks.len(),
            set(self.notify.email.is_some()),
            self.notify.send_resolved,
            self.notify.queue_capacity
        );
        out
    }
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}
