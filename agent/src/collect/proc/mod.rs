//! Host and per-user figures from `/proc` and `statvfs`.
//!
//! [`ProcReader`] is rooted at a configurable proc directory (and `/etc` for os-release) so
//! tests can point it at fixtures. Every parser works on the bytes of one whole read and
//! returns errors as values; procfs-core's parsers are used where they cannot panic on odd
//! input (`KernelStats`, `CpuInfo`, `LoadAverage`, `Uptime`, `InterfaceDeviceStatus`,
//! `MountInfo`), the rest is parsed by hand (`pid`, `memory`: each says why).
//!
//! A snapshot is made of sections; a section that cannot be read is absent and named in
//! [`HostSnapshot::errors`], the others are still there.

mod cpu;
mod fs;
mod memory;
mod net;
mod pid;
mod processes;
mod read;
mod system;
#[cfg(test)]
mod tests;
mod types;

pub use types::{
    Cpu, CpuTimes, Filesystem, HostSnapshot, LoadAverage, Memory, NetInterface, ProcessCounts,
    SectionError, UserUsage, UsersUsage, section,
};

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Reads host figures under a proc root. Cheap to build; holds no open file.
#[derive(Debug, Clone)]
pub struct ProcReader {
    proc_root: PathBuf,
    etc_root: PathBuf,
    clock_ticks_per_second: u64,
}

impl ProcReader {
    /// A reader of `proc_root` (e.g. `/proc`), taking os-release from `etc_root` (e.g. `/etc`).
    /// Clock ticks per second are those of the running system.
    pub fn new(proc_root: impl Into<PathBuf>, etc_root: impl Into<PathBuf>) -> Self {
        let reader = Self {
            proc_root: proc_root.into(),
            etc_root: etc_root.into(),
            clock_ticks_per_second: 0,
        };
        reader.with_clock_ticks(rustix::param::clock_ticks_per_second())
    }

    /// The running system: `/proc` and `/etc`.
    pub fn system() -> Self {
        Self::new("/proc", "/etc")
    }

    /// Replaces the clock ticks per second (USER_HZ), for fixtures captured on another
    /// machine. 0 is taken as 100.
    pub fn with_clock_ticks(mut self, clock_ticks_per_second: u64) -> Self {
        self.clock_ticks_per_second = if clock_ticks_per_second == 0 {
            100
        } else {
            clock_ticks_per_second
        };
        self
    }

    /// USER_HZ as this reader uses it.
    pub fn clock_ticks_per_second(&self) -> u64 {
        self.clock_ticks_per_second
    }

    /// One host snapshot. Blocking (called from `spawn_blocking` by the server); never
    /// fails as a whole.
    pub fn host_snapshot(&self) -> HostSnapshot {
        let mut s = HostSnapshot {
            taken_at_ms: now_ms(),
            arch: std::env::consts::ARCH,
            clock_ticks_per_second: self.clock_ticks_per_second,
            ..HostSnapshot::default()
        };
        let mut errors = Vec::new();
        let mut fail = |section: &'static str, message: String| {
            errors.push(SectionError { section, message });
        };

        let stat = self.read("stat", read::LARGE_FILE).and_then(|b| {
            cpu::parse_stat(&b, self.clock_ticks_per_second).map_err(|e| self.at("stat", e))
        });
        let info = self
            .read("cpuinfo", read::LARGE_FILE)
            .and_then(|b| cpu::parse_cpuinfo(&b).map_err(|e| self.at("cpuinfo", e)));
        let mut cpu = Cpu::default();
        let mut have_cpu = false;
        match stat {
            Ok(stat) => {
                cpu.total = Some(stat.total);
                cpu.cores = u32::try_from(stat.per_core.len()).unwrap_or(u32::MAX);
                cpu.per_core = stat.per_core;
                s.boot_time_ms = i64::try_from(stat.boot_time_secs)
                    .ok()
                    .and_then(|t| t.checked_mul(1000));
                have_cpu = true;
            }
            Err(e) => fail(section::CPU, e),
        }
        match info {
            Ok(info) => {
                if cpu.cores == 0 {
                    cpu.cores = info.processors;
                }
                cpu.model = info.model;
                cpu.mhz = info.mean_mhz;
                have_cpu = true;
            }
            Err(e) => fail(section::CPUINFO, e),
        }
        s.cpu = have_cpu.then_some(cpu);

        s.load = self.section("loadavg", system::parse_loadavg, section::LOAD, &mut fail);
        s.memory = self.section("meminfo", memory::parse_meminfo, section::MEMORY, &mut fail);
        s.uptime_seconds = self.section("uptime", system::parse_uptime, section::UPTIME, &mut fail);
        s.interfaces = self
            .section("net/dev", net::parse_net_dev, section::NETWORK, &mut fail)
            .unwrap_or_default();
        s.hostname = self.section("sys/kernel/hostname", name, section::HOSTNAME, &mut fail);
        s.kernel_release = self.section(
            "sys/kernel/osrelease",
            name,
            section::KERNEL_RELEASE,
            &mut fail,
        );
        s.os_name = self.os_name(&mut fail);

        self.filesystems(&mut s, &mut fail);

        match processes::process_counts(&self.proc_root) {
            Ok(counts) => s.processes = Some(counts),
            Err(e) => fail(section::PROCESSES, e),
        }
        s.errors = errors;
        s
    }

    /// Summed CPU time, RSS, processes and threads of each uid, in one pass over
    /// `/proc/<pid>` for all uids at once. Blocking.
    ///
    /// A process belongs to the **real** uid of its `status` (the uid `ps -U` selects on), not
    /// to the owner of its `/proc/<pid>` entries (the effective uid, or root for a process
    /// that changed credentials). Duplicate uids are answered once.
    pub fn users_usage(&self, uids: &[u32]) -> UsersUsage {
        processes::users_usage(&self.proc_root, uids, self.clock_ticks_per_second)
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.proc_root.join(relative)
    }

    /// `"<proc root>/<relative>: <message>"`.
    fn at(&self, relative: &str, message: String) -> String {
        format!("{}: {message}", self.path(relative).display())
    }

    fn read(&self, relative: &str, cap: u64) -> Result<Vec<u8>, String> {
        read::read_for_section(&self.path(relative), cap)
    }

    /// Reads and parses one file; on failure records the section error.
    fn section<T>(
        &self,
        relative: &str,
        parse: impl FnOnce(&[u8]) -> Result<T, String>,
        name: &'static str,
        fail: &mut impl FnMut(&'static str, String),
    ) -> Option<T> {
        match self
            .read(relative, read::LARGE_FILE)
            .and_then(|b| parse(&b).map_err(|e| self.at(relative, e)))
        {
            Ok(v) => Some(v),
            Err(e) => {
                fail(name, e);
                None
            }
        }
    }

    fn os_name(&self, fail: &mut impl FnMut(&'static str, String)) -> String {
        for path in system::os_release_candidates(&self.etc_root) {
            match read::read(&path, read::SMALL_FILE) {
                Ok(bytes) => return system::pretty_name(&bytes).unwrap_or_else(|| "Linux".into()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => fail(section::OS_RELEASE, format!("{}: {e}", path.display())),
            }
        }
        "Linux".into()
    }

    fn filesystems(&self, s: &mut HostSnapshot, fail: &mut impl FnMut(&'static str, String)) {
        let mounts = match self.read("self/mountinfo", read::LARGE_FILE) {
            Ok(bytes) => {
                let (mounts, errors) = fs::parse_mountinfo(&bytes);
                errors
                    .into_iter()
                    .for_each(|e| fail(section::FILESYSTEMS, e));
                mounts
            }
            Err(e) => {
                fail(section::FILESYSTEMS, e);
                Vec::new()
            }
        };
        let root = fs::root_mount(&mounts);
        let (device, fs_type) = root.map_or(("", ""), |m| (m.device.as_str(), m.fs_type.as_str()));
        match fs::measure(Path::new("/"), device, fs_type) {
            Ok(root_fs) => s.root_fs = Some(root_fs),
            Err(e) => fail(section::ROOT_FS, e),
        }
        for m in fs::select(&mounts) {
            match fs::measure(&m.mount_point, &m.device, &m.fs_type) {
                Ok(f) if f.total_bytes == 0 => {}
                Ok(f) => s.filesystems.push(f),
                Err(e) => fail(section::FILESYSTEMS, e),
            }
        }
    }
}

/// A one-line kernel name (`hostname`, `osrelease`); empty is an error.
fn name(bytes: &[u8]) -> Result<String, String> {
    let line = read::first_line(bytes);
    if line.is_empty() {
        Err("empty".into())
    } else {
        Ok(line)
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
