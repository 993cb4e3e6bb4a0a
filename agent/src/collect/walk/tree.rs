//! The parallel walk: one `statat` per entry, relative to its directory's descriptor.
//!
//! Each directory is a rayon job that holds the path of the directory relative to the root,
//! not a descriptor, so a wide tree never queues thousands of open directories: the job opens
//! its directory when it runs, beneath the root and without following any symlink, checks it
//! is the directory its parent saw (device and inode), reads it with `getdents64` into a
//! per-thread buffer and stats every entry with `AT_SYMLINK_NOFOLLOW`.

use std::cell::RefCell;
use std::ffi::{CStr, OsStr};
use std::io;
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, RawDir, Stat};
use rustix::io::Errno;

use super::ioprio::set_current_thread_io_priority;
use super::open::open_dir_beneath;
use super::tally::Tally;
use super::{DirMeasure, RootError, RootErrorKind, ScanBound, WalkLimits};

/// Bytes of directory entries read per `getdents64` call.
const DIRENT_BUFFER: usize = 64 * 1024;
/// Entries a thread takes from the shared budget at once.
const ALLOWANCE: u64 = 64;

thread_local! {
    static BUFFER: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(DIRENT_BUFFER));
}

/// The walker threads, at the configured I/O priority.
pub(super) fn build_pool(
    limits: &WalkLimits,
) -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    let priority = limits.io_priority;
    rayon::ThreadPoolBuilder::new()
        .num_threads(limits.thread_count())
        .thread_name(|i| format!("twoine-walk-{i}"))
        .start_handler(move |i| {
            if let Err(e) = set_current_thread_io_priority(priority) {
                tracing::warn!(thread = i, "cannot lower the walker's I/O priority: {e}");
            }
        })
        .build()
}

/// Walk the directory open as `root` on `pool`.
pub(super) fn walk(
    pool: &rayon::ThreadPool,
    root: OwnedFd,
    limits: &WalkLimits,
) -> Result<DirMeasure, RootError> {
    let started = Instant::now();
    let st = rustix::fs::fstat(&root).map_err(|e| RootError {
        kind: RootErrorKind::Io,
        message: format!("cannot stat the root: {}", io::Error::from(e)),
    })?;
    let walk = Walk::new(
        root.as_fd(),
        &st,
        limits,
        pool.current_num_threads(),
        started,
    );
    let mut total = Tally::default();
    if walk.take(1) == 1 {
        total.add(&st);
        pool.scope(|s| walk.dir(s, PathBuf::new(), None));
    } else {
        walk.hit(ScanBound::Entries(walk.max_entries));
    }
    let bound = *walk.bound.lock().unwrap_or_else(PoisonError::into_inner);
    for slot in walk.slots {
        total.merge(slot.into_inner().unwrap_or_else(PoisonError::into_inner));
    }
    total.settle();
    Ok(DirMeasure {
        apparent_bytes: total.bytes,
        files: total.files,
        directories: total.directories,
        symlinks: total.symlinks,
        other: total.other,
        allocated_bytes: total.allocated,
        scanned_at: SystemTime::now(),
        duration: started.elapsed(),
        bound,
        errors: total.errors,
        error_samples: total.samples,
        skipped_mounts: total.skipped_mounts,
    })
}

/// What every job of one walk shares.
struct Walk<'a> {
    root: BorrowedFd<'a>,
    dev: u64,
    one_filesystem: bool,
    noatime: bool,
    /// Entries still allowed.
    budget: AtomicU64,
    max_entries: u64,
    deadline: Option<Instant>,
    max_duration: Duration,
    /// Set when a bound is hit: every job returns as soon as it sees it.
    stop: AtomicBool,
    bound: Mutex<Option<ScanBound>>,
    /// One tally per pool thread, merged into at the end of each directory.
    slots: Vec<Mutex<Tally>>,
}

impl<'a> Walk<'a> {
    fn new(
        root: BorrowedFd<'a>,
        st: &Stat,
        limits: &WalkLimits,
        threads: usize,
        started: Instant,
    ) -> Self {
        Self {
            root,
            dev: st.st_dev,
            one_filesystem: limits.one_filesystem,
            noatime: rustix::process::geteuid().is_root(),
            budget: AtomicU64::new(limits.max_entries),
            max_entries: limits.max_entries,
            deadline: started.checked_add(limits.max_duration),
            max_duration: limits.max_duration,
            stop: AtomicBool::new(false),
            bound: Mutex::new(None),
            slots: (0..threads.max(1))
                .map(|_| Mutex::new(Tally::default()))
                .collect(),
        }
    }

    /// Take up to `want` entries from the budget; 0 once it is spent.
    fn take(&self, want: u64) -> u64 {
        let mut left = self.budget.load(Ordering::Relaxed);
        loop {
            let granted = left.min(want);
            if granted == 0 {
                return 0;
            }
            match self.budget.compare_exchange_weak(
                left,
                left - granted,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return granted,
                Err(now) => left = now,
            }
        }
    }

    fn give_back(&self, unused: u64) {
        if unused > 0 {
            self.budget.fetch_add(unused, Ordering::Relaxed);
        }
    }

    /// Record the first bound hit and stop every job.
    fn hit(&self, bound: ScanBound) {
        let mut first = self.bound.lock().unwrap_or_else(PoisonError::into_inner);
        first.get_or_insert(bound);
        self.stop.store(true, Ordering::Relaxed);
    }

    /// True when the walk must stop (a bound was hit here or in another job).
    fn must_stop(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return true;
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            self.hit(ScanBound::Time(self.max_duration));
            return true;
        }
        false
    }

    /// One directory: open it (unless it is the root), count its entries, queue its
    /// subdirectories. `seen` is the (device, inode) its parent's `statat` reported.
    fn dir<'s>(&'s self, scope: &rayon::Scope<'s>, rel: PathBuf, seen: Option<(u64, u64)>) {
        if self.must_stop() {
            return;
        }
        let mut tally = Tally::default();
        let opened;
        let fd = match seen {
            None => self.root,
            Some((dev, ino)) => match open_dir_beneath(self.root, &rel, self.noatime) {
                Ok(fd) => {
                    opened = fd;
                    match rustix::fs::fstat(&opened) {
                        Ok(st) if st.st_dev == dev && st.st_ino == ino => opened.as_fd(),
                        Ok(_) => {
                            tally.error_message(&rel, "replaced during the walk; not entered");
                            return self.finish(tally);
                        }
                        Err(e) => {
                            tally.error(&rel, "cannot stat directory", e);
                            return self.finish(tally);
                        }
                    }
                }
                Err(e) => {
                    let what = match e {
                        Errno::NOENT => "vanished during the walk",
                        Errno::LOOP | Errno::XDEV | Errno::NOTDIR => {
                            "replaced during the walk by a symlink or a file; not followed"
                        }
                        _ => "cannot open directory",
                    };
                    tally.error(&rel, what, e);
                    return self.finish(tally);
                }
            },
        };
        with_buffer(|buf| self.read_dir(scope, fd, &rel, buf, &mut tally));
        self.finish(tally);
    }

    fn read_dir<'s>(
        &'s self,
        scope: &rayon::Scope<'s>,
        fd: BorrowedFd<'_>,
        rel: &Path,
        buf: &mut [MaybeUninit<u8>],
        tally: &mut Tally,
    ) {
        let mut entries = RawDir::new(fd, buf);
        let mut allowance = 0;
        while let Some(entry) = entries.next() {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    tally.error(rel, "cannot read directory", e);
                    break;
                }
            };
            let name = entry.file_name();
            if name == c"." || name == c".." {
                continue;
            }
            if allowance == 0 {
                if self.must_stop() {
                    break;
                }
                allowance = self.take(ALLOWANCE);
                if allowance == 0 {
                    self.hit(ScanBound::Entries(self.max_entries));
                    break;
                }
            }
            allowance -= 1;
            self.visit(scope, fd, rel, name, entry.file_type(), tally);
        }
        self.give_back(allowance);
    }

    /// One entry of the directory open as `fd`: stat it without following it, count it,
    /// queue it when it is a directory to enter. `d_type` is what the directory entry said.
    fn visit<'s>(
        &'s self,
        scope: &rayon::Scope<'s>,
        fd: BorrowedFd<'_>,
        rel: &Path,
        name: &CStr,
        d_type: FileType,
        tally: &mut Tally,
    ) {
        let child = || rel.join(OsStr::from_bytes(name.to_bytes()));
        match rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
                if self.one_filesystem && st.st_dev != self.dev {
                    tally.skipped_mounts += 1;
                    return;
                }
                tally.add(&st);
                let (path, seen) = (child(), (st.st_dev, st.st_ino));
                scope.spawn(move |s| self.dir(s, path, Some(seen)));
            }
            Ok(st) => {
                tally.add(&st);
            }
            // Deleted between getdents and stat: normal on a live site, not counted (as du).
            Err(Errno::NOENT) => tally.error(&child(), "vanished during the walk", Errno::NOENT),
            Err(e) => {
                tally.add_unstatable(d_type);
                tally.error(&child(), "cannot stat", e);
            }
        }
    }

    /// Add a directory's tally to this thread's.
    fn finish(&self, tally: Tally) {
        let i = rayon::current_thread_index().unwrap_or(0) % self.slots.len().max(1);
        if let Some(slot) = self.slots.get(i) {
            slot.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .merge(tally);
        }
    }
}

/// Run `f` with this thread's dirent buffer (a fresh one if it is already in use).
fn with_buffer<R>(f: impl FnOnce(&mut [MaybeUninit<u8>]) -> R) -> R {
    BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            f(buf.spare_capacity_mut())
        }
        Err(_) => f(Vec::<u8>::with_capacity(DIRENT_BUFFER).spare_capacity_mut()),
    })
}

#[cfg(test)]
#[path = "tree_tests.rs"]
mod tests;
