//! Site-tree measures: bytes and file counts in one bounded, parallel, cached walk.
//!
//! What a user sees: for each requested site root, the apparent size `du -sb` would print and
//! the number of regular files `find ROOT -type f | wc -l` would count, measured natively in
//! one pass (no process is ever started), plus directories, symlinks, other entries and the
//! allocated bytes.
//!
//! Safety rules (CONTRACT §1):
//! - a root must resolve strictly under `SITES_DIR` ([`root`]); it is opened relative to
//!   `SITES_DIR`'s descriptor with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, so a symlink
//!   swapped in after the check is refused, not followed;
//! - the walk never follows a symlink (every directory is opened beneath the root with
//!   `RESOLVE_NO_SYMLINKS`, every entry is stat'ed with `AT_SYMLINK_NOFOLLOW`), stays on the
//!   root's filesystem when configured, and stops at `max_entries` or `max_duration`, reporting
//!   the bound;
//! - unreadable directories and entries vanishing mid-walk are counted errors, not failures.
//!
//! [`Scanner`] adds the cache: results younger than `max_age` are answered without touching
//! the disk and concurrent requests for one root share one walk.

mod ioprio;
mod open;
mod root;
mod scanner;
mod tally;
mod tree;

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::config::{IoPriority, ScanConfig};

pub use ioprio::{current_thread_io_priority, set_current_thread_io_priority};
pub use root::{MAX_ROOT_LEN, RootError, RootErrorKind};
pub use scanner::{Measured, ScanSetupError, Scanner};

/// The measure of one directory tree, the root directory included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirMeasure {
    /// Apparent size (`st_size`) of every entry, the root included, hard-linked files once:
    /// what `du -sb` prints.
    pub apparent_bytes: u64,
    /// Regular-file directory entries, every hard link included (`find -type f | wc -l`).
    pub files: u64,
    /// Directories, the root included (`find -type d | wc -l`).
    pub directories: u64,
    /// Symbolic links (never followed).
    pub symlinks: u64,
    /// FIFOs, sockets, device nodes.
    pub other: u64,
    /// `st_blocks * 512` of every entry, hard-linked files once (`du -s -B1`).
    pub allocated_bytes: u64,
    /// When the walk finished.
    pub scanned_at: SystemTime,
    /// How long the walk took.
    pub duration: Duration,
    /// Set when the walk stopped early; the counters are then a lower bound.
    pub bound: Option<ScanBound>,
    /// Entries that could not be read (permission, vanished mid-walk, ...).
    pub errors: u64,
    /// A few of those errors, `relative/path: reason`, for the operator.
    pub error_samples: Vec<String>,
    /// Directories not entered because they are on another filesystem (not counted either,
    /// as `du -x` does).
    pub skipped_mounts: u64,
}

/// The bound a walk stopped at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanBound {
    /// `max_entries` entries were counted.
    Entries(u64),
    /// `max_duration` elapsed.
    Time(Duration),
}

impl ScanBound {
    /// `"entries"` or `"time"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Entries(_) => "entries",
            Self::Time(_) => "time",
        }
    }
}

/// How far and how one walk may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkLimits {
    /// Entries (of every kind, the root included) after which the walk stops.
    pub max_entries: u64,
    /// Wall-clock time after which the walk stops.
    pub max_duration: Duration,
    /// Walker threads; 0 = automatic (see [`WalkLimits::thread_count`]).
    pub threads: usize,
    /// I/O priority of the walker threads.
    pub io_priority: IoPriority,
    /// Never enter a directory on another filesystem than the root's.
    pub one_filesystem: bool,
}

impl From<&ScanConfig> for WalkLimits {
    fn from(c: &ScanConfig) -> Self {
        Self {
            max_entries: c.max_entries,
            max_duration: c.max_duration(),
            threads: c.threads,
            io_priority: c.io_priority,
            one_filesystem: c.one_filesystem,
        }
    }
}

impl Default for WalkLimits {
    fn default() -> Self {
        Self::from(&ScanConfig::default())
    }
}

impl WalkLimits {
    /// The number of walker threads these limits ask for. Automatic (0): four per CPU, at
    /// most [`MAX_AUTO_THREADS`], because a walk mostly waits on the disk: on 2 CPUs, 8 threads
    /// walk a cold 200 000-file tree 1.7 times faster than 2 (see BENCHMARKS.md, "Scan").
    pub fn thread_count(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .saturating_mul(4)
                .min(MAX_AUTO_THREADS),
            n => n,
        }
    }
}

/// Most walker threads chosen automatically.
pub const MAX_AUTO_THREADS: usize = 8;

/// Measure any directory (no `SITES_DIR` check: for benchmarks and tools). The final
/// component of `path` must not be a symlink; nothing below it is ever followed.
pub fn walk_tree(path: &Path, limits: &WalkLimits) -> Result<DirMeasure, RootError> {
    let fd = open::open_dir(path).map_err(|e| RootError::from_open(&path.to_string_lossy(), e))?;
    let pool = tree::build_pool(limits).map_err(|e| RootError {
        kind: RootErrorKind::Io,
        message: format!("cannot start walker threads: {e}"),
    })?;
    tree::walk(&pool, fd, limits)
}
