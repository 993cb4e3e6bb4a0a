//! The file's shape (what serde reads) and its resolution into [`Config`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::env::{Env, database_from_uri, parse_dotenv, parse_ttl};
use super::{
    AgentConfig, AuthConfig, Config, ConfigError, DEFAULT_DATABASE, DEFAULT_DB_PATH,
    DEFAULT_LISTEN, DEFAULT_SITES_DIR, StoreConfig,
};
use crate::http::Mode;
use crate::http::auth::Secret;
use crate::notify::NotifyConfig;

/// `mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum ModeName {
    #[default]
    Standalone,
    #[serde(alias = "drop-in")]
    Dropin,
}

/// `[store] kind`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum StoreKind {
    #[default]
    Embedded,
    #[serde(alias = "mongo")]
    Mongodb,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct StoreSection {
    kind: StoreKind,
    path: Option<PathBuf>,
    uri: Option<Secret>,
    database: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct AgentSection {
    socket: PathBuf,
    call_timeout_secs: u64,
}

impl Default for AgentSection {
    fn default() -> Self {
        Self {
            socket: PathBuf::from(crate::agent::DEFAULT_SOCKET),
            call_timeout_secs: 120,
        }
    }
}

/// A lifetime: `"24h"`-style text or a number of seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum Ttl {
    Secs(u64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct AuthSection {
    jwt_secret: Option<Secret>,
    jwt_secret_file: Option<PathBuf>,
    access_ttl: Ttl,
    refresh_ttl: Ttl,
}

impl Default for AuthSection {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            jwt_secret_file: None,
            access_ttl: Ttl::Text("24h".to_owned()),
            refresh_ttl: Ttl::Text("7d".to_owned()),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct FileConfig {
    listen: String,
    mode: ModeName,
    sites_dir: PathBuf,
    dropin_env_file: Option<PathBuf>,
    store: StoreSection,
    agent: AgentSection,
    auth: AuthSection,
    notify: NotifyConfig,
}

impl Default for FileConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.to_owned(),
            mode: ModeName::Standalone,
            sites_dir: PathBuf::from(DEFAULT_SITES_DIR),
            dropin_env_file: None,
            store: StoreSection::default(),
            agent: AgentSection::default(),
            auth: AuthSection::default(),
            notify: NotifyConfig::default(),
        }
    }
}

fn ttl(name: &str, file: &Ttl, env: Option<&str>, errors: &mut Vec<String>) -> Duration {
    let parsed = match (env, file) {
        (Some(text), _) => parse_ttl(text),
        (None, Ttl::Text(text)) => parse_ttl(text),
        (None, Ttl::Secs(0)) => Err("must be more than zero".to_owned()),
        (None, Ttl::Secs(n)) => Ok(Duration::from_secs(*n)),
    };
    parsed.unwrap_or_else(|e| {
        errors.push(format!("{name}: {e}"));
        Duration::from_secs(1)
    })
}

impl FileConfig {
    /// Applies the drop-in env file and `env`, checks everything, reports all problems at once.
    pub(super) fn resolve(self, env: &Env) -> Result<Config, ConfigError> {
        let env = match &self.dropin_env_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                env.clone().over(parse_dotenv(&text))
            }
            None => env.clone(),
        };
        let mut errors = Vec::new();

        let listen_text = env.get("TWOINE_APID_LISTEN").unwrap_or(&self.listen);
        let listen = listen_text.parse::<SocketAddr>().unwrap_or_else(|_| {
            errors.push(format!(
                "listen: {listen_text:?} is not an address:port (e.g. {DEFAULT_LISTEN})"
            ));
            SocketAddr::from(([127, 0, 0, 1], 3001))
        });

        let mode = match self.mode {
            ModeName::Standalone => Mode::Standalone,
            ModeName::Dropin => Mode::DropIn,
        };

        let sites_dir = env
            .get("SITES_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.sites_dir.clone());
        if !sites_dir.is_absolute() {
            errors.push(format!(
                "sites_dir: {} must be an absolute path",
                sites_dir.display()
            ));
        }

        let store = self.store_config(&env, &mut errors);
        if mode == Mode::DropIn && matches!(store, StoreConfig::Embedded { .. }) {
            errors.push(
                "mode = \"dropin\" needs Twoine's MongoDB: set [store] kind = \"mongodb\" with a \
                 uri, or MONGODB_URI (e.g. through dropin_env_file = \"/opt/twoine/app/.env\")"
                    .to_owned(),
            );
        }

        if !(1..=3600).contains(&self.agent.call_timeout_secs) {
            errors.push(format!(
                "agent.call_timeout_secs: {} is out of range 1-3600",
                self.agent.call_timeout_secs
            ));
        }

        let jwt_secret = match (
            env.get("JWT_SECRET"),
            self.auth.jwt_secret,
            &self.auth.jwt_secret_file,
        ) {
            (Some(s), _, _) => Some(Secret::new(s)),
            (None, Some(_), Some(_)) => {
                errors.push("auth: set jwt_secret or jwt_secret_file, not both".to_owned());
                None
            }
            (None, Some(s), None) => Some(s),
            (None, None, Some(path)) => match std::fs::read_to_string(path) {
                Ok(text) => Some(Secret::new(text.trim())).filter(|s| !s.expose().is_empty()),
                Err(e) => {
                    errors.push(format!(
                        "auth.jwt_secret_file: cannot read {}: {e}",
                        path.display()
                    ));
                    None
                }
            },
            (None, None, None) => None,
        }
        .filter(|s| !s.expose().is_empty());

        let access_ttl = ttl(
            "auth.access_ttl (JWT_EXPIRES_IN)",
            &self.auth.access_ttl,
            env.get("JWT_EXPIRES_IN"),
            &mut errors,
        );
        let refresh_ttl = ttl(
            "auth.refresh_ttl (JWT_REFRESH_EXPIRES_IN)",
            &self.auth.refresh_ttl,
            env.get("JWT_REFRESH_EXPIRES_IN"),
            &mut errors,
        );

        if let Err(e) = self.notify.validate() {
            errors.extend(e.0);
        }

        if !errors.is_empty() {
            return Err(ConfigError::Invalid(errors));
        }
        Ok(Config {
            listen,
            mode,
            store,
            agent: AgentConfig {
                socket: self.agent.socket,
                call_timeout: Duration::from_secs(self.agent.call_timeout_secs),
            },
            sites_dir,
            auth: AuthConfig {
                jwt_secret,
                access_ttl,
                refresh_ttl,
            },
            notify: self.notify,
            dropin_env_file: self.dropin_env_file,
        })
    }

    fn store_config(&self, env: &Env, errors: &mut Vec<String>) -> StoreConfig {
        let s = &self.store;
        let env_uri = env.get("MONGODB_URI").map(Secret::new);
        if env_uri.is_none() && s.kind == StoreKind::Embedded {
            if s.uri.is_some() || s.database.is_some() {
                errors.push("store: uri and database are for kind = \"mongodb\"".to_owned());
            }
            let path = s
                .path
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DB_PATH));
            if path.as_os_str().is_empty() {
                errors.push("store.path: empty".to_owned());
            }
            return StoreConfig::Embedded { path };
        }
        let Some(uri) = env_uri.or_else(|| s.uri.clone()) else {
            errors.push("store: kind = \"mongodb\" needs a uri (or MONGODB_URI)".to_owned());
            return StoreConfig::Embedded {
                path: PathBuf::from(DEFAULT_DB_PATH),
            };
        };
        if !uri.expose().starts_with("mongodb://") && !uri.expose().starts_with("mongodb+srv://") {
            // The URI itself may hold a password: never repeated.
            errors.push(
                "store.uri (MONGODB_URI): must start with mongodb:// or mongodb+srv://".to_owned(),
            );
        }
        let database = s
            .database
            .clone()
            .or_else(|| database_from_uri(uri.expose()))
            .unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
        StoreConfig::Mongo { uri, database }
    }
}
