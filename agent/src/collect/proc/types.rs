//! The plain types a [`ProcReader`](super::ProcReader) returns; the server converts them to
//! `twoine.agent.v1` messages in `server::convert::proc`.

/// Cumulative USER_HZ ticks, as in `/proc/stat` (columns an old kernel lacks read 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
    pub guest: u64,
    pub guest_nice: u64,
}

/// CPU section: times from `/proc/stat`, model and clock from `/proc/cpuinfo`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cpu {
    /// All CPUs together; `None` when `/proc/stat` could not be read.
    pub total: Option<CpuTimes>,
    pub per_core: Vec<CpuTimes>,
    /// Online CPUs: the `cpuN` lines of `/proc/stat`, else the entries of `/proc/cpuinfo`.
    pub cores: u32,
    /// `model name` of the first CPU ("" when the kernel does not say).
    pub model: String,
    /// Mean `cpu MHz` over the CPUs; 0 when absent.
    pub mhz: f64,
}

/// `/proc/loadavg`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LoadAverage {
    pub one: f64,
    pub five: f64,
    pub fifteen: f64,
    /// Runnable scheduling entities (threads) now.
    pub runnable: u32,
    /// Scheduling entities that exist.
    pub entities: u32,
}

/// `/proc/meminfo`, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    pub total_bytes: u64,
    pub free_bytes: u64,
    pub available_bytes: u64,
    pub cached_bytes: u64,
    pub buffers_bytes: u64,
    pub swap_total_bytes: u64,
    pub swap_free_bytes: u64,
}

/// `statvfs` of one mounted filesystem, as `df -B1` shows it: `total = f_blocks * f_frsize`,
/// `free = f_bfree * ...`, `available = f_bavail * ...` (what unprivileged users may still
/// write), `used = total - free`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filesystem {
    pub mount_point: String,
    pub device: String,
    pub fs_type: String,
    pub total_bytes: u64,
    pub free_bytes: u64,
    pub available_bytes: u64,
    pub used_bytes: u64,
    pub inodes_total: u64,
    pub inodes_free: u64,
    pub read_only: bool,
}

/// Counters of one interface from `/proc/net/dev`, cumulative since boot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetInterface {
    pub name: String,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
}

/// Processes by the state letter of `/proc/<pid>/stat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessCounts {
    pub total: u32,
    /// `R`
    pub running: u32,
    /// `S`
    pub sleeping: u32,
    /// `D`
    pub disk_sleep: u32,
    /// `T` and `t`
    pub stopped: u32,
    /// `Z`
    pub zombie: u32,
    /// `I` (idle kernel threads)
    pub idle: u32,
    pub other: u32,
    /// Sum of the processes' thread counts.
    pub threads: u32,
    /// Processes that vanished or could not be read during the pass (not in `total`).
    pub skipped: u32,
}

/// A section of a snapshot that could not be collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionError {
    /// One of the `section::*` names.
    pub section: &'static str,
    pub message: String,
}

/// Names of the sections of a [`HostSnapshot`], as they appear in [`SectionError`].
pub mod section {
    /// `/proc/stat`: CPU times and boot time.
    pub const CPU: &str = "cpu";
    pub const CPUINFO: &str = "cpuinfo";
    pub const LOAD: &str = "load";
    pub const MEMORY: &str = "memory";
    pub const ROOT_FS: &str = "root_fs";
    /// Several errors may carry this name, one per filesystem that failed.
    pub const FILESYSTEMS: &str = "filesystems";
    pub const NETWORK: &str = "network";
    pub const PROCESSES: &str = "processes";
    pub const UPTIME: &str = "uptime";
    pub const HOSTNAME: &str = "hostname";
    pub const KERNEL_RELEASE: &str = "kernel_release";
    pub const OS_RELEASE: &str = "os_release";
}

/// One host snapshot. A section that could not be read is `None` (or empty) and has an
/// entry in `errors`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostSnapshot {
    pub taken_at_ms: i64,
    pub cpu: Option<Cpu>,
    pub load: Option<LoadAverage>,
    pub memory: Option<Memory>,
    /// The filesystem holding `/` (as `df -B1 /`).
    pub root_fs: Option<Filesystem>,
    /// Real local filesystems, one per device, sorted by mount point (see `fs.rs` for what is
    /// left out and why).
    pub filesystems: Vec<Filesystem>,
    /// Every interface, `lo` included, sorted by name.
    pub interfaces: Vec<NetInterface>,
    pub processes: Option<ProcessCounts>,
    pub uptime_seconds: Option<f64>,
    pub hostname: Option<String>,
    pub kernel_release: Option<String>,
    /// `PRETTY_NAME` of os-release, or "Linux".
    pub os_name: String,
    /// `std::env::consts::ARCH`.
    pub arch: &'static str,
    /// USER_HZ.
    pub clock_ticks_per_second: u64,
    /// From `btime` of `/proc/stat`.
    pub boot_time_ms: Option<i64>,
    pub errors: Vec<SectionError>,
}

/// Usage of one uid's live processes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserUsage {
    pub uid: u32,
    /// Sum of `utime + stime`, USER_HZ ticks.
    pub cpu_ticks: u64,
    /// The same in milliseconds.
    pub cpu_time_ms: u64,
    /// Sum of `VmRSS` (the resident sizes `ps` shows, added up).
    pub rss_bytes: u64,
    pub processes: u32,
    pub threads: u32,
}

/// Usage of a set of uids from one pass over `/proc`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsersUsage {
    pub taken_at_ms: i64,
    pub clock_ticks_per_second: u64,
    /// One entry per distinct requested uid, in request order; zeroes for a uid without
    /// processes.
    pub users: Vec<UserUsage>,
    /// Processes that vanished or could not be read during the pass.
    pub skipped_processes: u32,
    /// Set when the proc root itself could not be listed: the figures are then all zero and
    /// mean nothing.
    pub error: Option<String>,
}
