//! `/etc/twoine/agent.toml`: unknown fields rejected, defaults in code, checked before use.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Where the packaged agent reads its configuration.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/twoine/agent.toml";

/// The whole agent configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Site directories must resolve under this directory.
    pub sites_dir: PathBuf,
    /// The gRPC socket. Its parent directory must already exist (systemd's
    /// `RuntimeDirectory=twoine`, 0750 root:twoine).
    pub socket: PathBuf,
    /// Group owning the socket (mode 0660); a name or a number. `None`: the agent's own group.
    pub socket_group: Option<Principal>,
    /// Octal permission bits of the socket.
    pub socket_mode: u32,
    pub access: AccessConfig,
    pub limits: LimitsConfig,
    pub scan: ScanConfig,
    pub systemd: SystemdConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            sites_dir: PathBuf::from("/var/www/twoine"),
            socket: PathBuf::from("/run/twoine/agent.sock"),
            socket_group: Some(Principal::Name("twoine".into())),
            socket_mode: 0o660,
            access: AccessConfig::default(),
            limits: LimitsConfig::default(),
            scan: ScanConfig::default(),
            systemd: SystemdConfig::default(),
        }
    }
}

/// A user or group, by name (resolved at start) or by number.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Principal {
    Id(u32),
    Name(String),
}

/// Who may call the agent. A caller is admitted when its uid is in `*_users` or its primary
/// gid is in `*_groups`, as the kernel reports them (SO_PEERCRED). Root is never implied.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AccessConfig {
    /// May call the read-only RPCs.
    pub read_users: Vec<Principal>,
    pub read_groups: Vec<Principal>,
    /// May also start, stop and restart site units.
    pub control_users: Vec<Principal>,
    pub control_groups: Vec<Principal>,
}

impl Default for AccessConfig {
    fn default() -> Self {
        let twoine = || vec![Principal::Name("twoine".into())];
        Self {
            read_users: vec![Principal::Id(0)],
            read_groups: twoine(),
            control_users: vec![Principal::Id(0)],
            control_groups: twoine(),
        }
    }
}

/// Bounds on what one caller can make the agent do.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request or response message, bytes.
    pub max_message_bytes: usize,
    /// Requests served at once over all connections.
    pub max_concurrent_requests: usize,
    /// Connections open at once.
    pub max_connections: usize,
    /// Time limit of one unary request, seconds (a directory scan included).
    pub request_timeout_secs: u64,
    /// Entries in one request's list (uids, roots, unit names).
    pub max_list_len: usize,
    /// Concurrent `WatchUnits` streams.
    pub max_watchers: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_message_bytes: 4 * 1024 * 1024,
            max_concurrent_requests: 32,
            max_connections: 64,
            request_timeout_secs: 120,
            max_list_len: 10_000,
            max_watchers: 16,
        }
    }
}

impl LimitsConfig {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}

/// I/O scheduling of the directory walk (see ioprio_set(2)).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum IoPriority {
    /// Best-effort class, lowest level (7): yields to every normal process.
    BestEffortLow,
    /// Idle class: disk time only when nobody else wants it (may stall under constant load).
    Idle,
    /// Leave the walker threads as they are.
    Normal,
}

/// The site-tree walk and its cache.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ScanConfig {
    /// A cached result younger than this is answered without touching the disk, seconds.
    pub max_age_secs: u64,
    /// A walk stops after this many entries and reports the bound.
    pub max_entries: u64,
    /// A walk stops after this long and reports the bound, seconds.
    pub max_duration_secs: u64,
    /// Walker threads; 0 = automatic: four per CPU, at most 8 (a walk mostly waits on the disk).
    pub threads: usize,
    pub io_priority: IoPriority,
    /// Never enter a directory on another filesystem than the root's.
    pub one_filesystem: bool,
}

impl Default for ScanConfig {
    fn default() -> Self {
        Self {
            max_age_secs: 300,
            max_entries: 5_000_000,
            max_duration_secs: 60,
            threads: 0,
            io_priority: IoPriority::BestEffortLow,
            one_filesystem: true,
        }
    }
}

impl ScanConfig {
    pub fn max_age(&self) -> Duration {
        Duration::from_secs(self.max_age_secs)
    }
    pub fn max_duration(&self) -> Duration {
        Duration::from_secs(self.max_duration_secs)
    }
}

/// How the agent reaches systemd.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SystemdConfig {
    /// D-Bus address; `None` = the system bus.
    pub bus_address: Option<String>,
    /// How long a start/stop/restart waits for its job to finish, seconds.
    pub job_timeout_secs: u64,
}

impl Default for SystemdConfig {
    fn default() -> Self {
        Self {
            bus_address: None,
            job_timeout_secs: 30,
        }
    }
}

impl SystemdConfig {
    pub fn job_timeout(&self) -> Duration {
        Duration::from_secs(self.job_timeout_secs)
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is writable by group or others (mode {mode:o}); make it 0644 or stricter")]
    Writable { path: PathBuf, mode: u32 },
    #[error(
        "{path} is owned by uid {uid}, not root; the agent runs as root and trusts only root's files"
    )]
    NotRootOwned { path: PathBuf, uid: u32 },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid setting {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

impl Config {
    /// Read and check a configuration file. When the agent runs as root, the file must be
    /// owned by root and not writable by group or others.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        use std::os::unix::fs::MetadataExt;
        let read_err = |source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(read_err)?;
        let mode = meta.mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(ConfigError::Writable {
                path: path.to_path_buf(),
                mode,
            });
        }
        if rustix::process::geteuid().is_root() && meta.uid() != 0 {
            return Err(ConfigError::NotRootOwned {
                path: path.to_path_buf(),
                uid: meta.uid(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(read_err)?;
        let config = Self::parse(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })?;
        Ok(config)
    }

    /// Parse and check configuration text (no file checks).
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::new(),
            message: e.to_string(),
        })?;
        config.check()?;
        Ok(config)
    }

    /// Range and shape checks that serde cannot express.
    pub fn check(&self) -> Result<(), ConfigError> {
        let invalid = |field, message: &str| {
            Err(ConfigError::Invalid {
                field,
                message: message.to_string(),
            })
        };
        if !self.sites_dir.is_absolute() {
            return invalid("sites_dir", "must be an absolute path");
        }
        if self.sites_dir == Path::new("/") {
            return invalid("sites_dir", "must not be /");
        }
        if !self.socket.is_absolute() {
            return invalid("socket", "must be an absolute path");
        }
        if self.socket.parent().is_none_or(|p| p == Path::new("/")) {
            return invalid("socket", "must be inside a directory such as /run/twoine");
        }
        if self.socket_mode & !0o777 != 0 || self.socket_mode & 0o007 != 0 {
            return invalid("socket_mode", "must be at most 0770 (no access for others)");
        }
        let l = &self.limits;
        if !(1024..=64 * 1024 * 1024).contains(&l.max_message_bytes) {
            return invalid("limits.max_message_bytes", "must be 1 KiB to 64 MiB");
        }
        if l.max_concurrent_requests == 0 || l.max_connections == 0 || l.max_watchers == 0 {
            return invalid("limits", "counts must be at least 1");
        }
        if !(1..=3600).contains(&l.request_timeout_secs) {
            return invalid("limits.request_timeout_secs", "must be 1 to 3600");
        }
        if !(1..=1_000_000).contains(&l.max_list_len) {
            return invalid("limits.max_list_len", "must be 1 to 1000000");
        }
        let s = &self.scan;
        if s.max_entries == 0 {
            return invalid("scan.max_entries", "must be at least 1");
        }
        if !(1..=86_400).contains(&s.max_duration_secs) {
            return invalid("scan.max_duration_secs", "must be 1 to 86400");
        }
        if s.threads > 64 {
            return invalid("scan.threads", "must be 0 (auto) to 64");
        }
        if !(1..=3600).contains(&self.systemd.job_timeout_secs) {
            return invalid("systemd.job_timeout_secs", "must be 1 to 3600");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = Config::parse("sites_dri = \"/srv\"").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let err = Config::parse("[scan]\nmax_age = 3").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn ranges_are_checked() {
        for bad in [
            "sites_dir = \"relative\"",
            "sites_dir = \"/\"",
            "socket_mode = 0o666",
            "[limits]\nrequest_timeout_secs = 0",
            "[scan]\nthreads = 1000",
        ] {
            assert!(
                matches!(Config::parse(bad), Err(ConfigError::Invalid { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn principals_by_name_or_number() {
        let c =
            Config::parse("[access]\nread_users = [0, \"www-data\"]\nread_groups = []").unwrap();
        assert_eq!(
            c.access.read_users,
            vec![Principal::Id(0), Principal::Name("www-data".into())]
        );
        assert!(c.access.read_groups.is_empty());
    }

    #[test]
    fn group_writable_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.toml");
        std::fs::write(&path, "").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o664)).unwrap();
        assert!(matches!(
            Config::load(&path),
            Err(ConfigError::Writable { .. })
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        Config::load(&path).unwrap();
    }
}
