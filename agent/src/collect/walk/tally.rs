//! Counters of one walk: kept per directory, merged per thread, summed at the end.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use rustix::fs::{FileType, Stat};
use rustix::io::Errno;

/// Error messages kept per walk.
pub(super) const MAX_ERROR_SAMPLES: usize = 8;

/// A file seen with more than one link: counted once, whatever the number of its names.
type InodeKey = (u64, u64);

#[derive(Debug, Default)]
pub(super) struct Tally {
    pub bytes: u64,
    pub allocated: u64,
    pub files: u64,
    pub directories: u64,
    pub symlinks: u64,
    pub other: u64,
    pub errors: u64,
    pub samples: Vec<String>,
    pub skipped_mounts: u64,
    /// Non-directories with `st_nlink > 1`: (apparent, allocated) bytes by (dev, ino).
    pub linked: HashMap<InodeKey, (u64, u64)>,
}

impl Tally {
    /// Count one entry from its `lstat`. Returns its type.
    pub fn add(&mut self, st: &Stat) -> FileType {
        let kind = FileType::from_raw_mode(st.st_mode);
        let size = u64::try_from(st.st_size).unwrap_or(0);
        let allocated = u64::try_from(st.st_blocks).unwrap_or(0).saturating_mul(512);
        match kind {
            FileType::Directory => self.directories += 1,
            FileType::RegularFile => self.files += 1,
            FileType::Symlink => self.symlinks += 1,
            _ => self.other += 1,
        }
        if kind != FileType::Directory && st.st_nlink > 1 {
            self.linked
                .insert((st.st_dev, st.st_ino), (size, allocated));
        } else {
            self.bytes += size;
            self.allocated += allocated;
        }
        kind
    }

    /// Count an entry that could not be stat'ed, by the type its directory entry gives
    /// (as `find -type f` does); it adds no bytes.
    pub fn add_unstatable(&mut self, kind: FileType) {
        match kind {
            FileType::Directory => self.directories += 1,
            FileType::RegularFile => self.files += 1,
            FileType::Symlink => self.symlinks += 1,
            FileType::Unknown => {}
            _ => self.other += 1,
        }
    }

    /// Count an error about `rel` (relative to the root; empty = the root itself).
    pub fn error(&mut self, rel: &Path, what: &str, e: Errno) {
        self.errors += 1;
        if self.samples.len() < MAX_ERROR_SAMPLES {
            let shown = if rel.as_os_str().is_empty() {
                Path::new(".")
            } else {
                rel
            };
            self.samples.push(format!(
                "{}: {what}: {}",
                shown.display(),
                io::Error::from(e)
            ));
        }
    }

    /// Count an error that is not an errno (a directory replaced mid-walk).
    pub fn error_message(&mut self, rel: &Path, message: &str) {
        self.errors += 1;
        if self.samples.len() < MAX_ERROR_SAMPLES {
            self.samples.push(format!("{}: {message}", rel.display()));
        }
    }

    /// Add `other` into `self` (hard-linked files stay deduplicated).
    pub fn merge(&mut self, other: Tally) {
        self.bytes += other.bytes;
        self.allocated += other.allocated;
        self.files += other.files;
        self.directories += other.directories;
        self.symlinks += other.symlinks;
        self.other += other.other;
        self.errors += other.errors;
        self.skipped_mounts += other.skipped_mounts;
        let room = MAX_ERROR_SAMPLES.saturating_sub(self.samples.len());
        self.samples.extend(other.samples.into_iter().take(room));
        if self.linked.is_empty() {
            self.linked = other.linked;
        } else {
            self.linked.extend(other.linked);
        }
    }

    /// Fold the hard-linked files into the byte counts (each inode once).
    pub fn settle(&mut self) {
        for (size, allocated) in std::mem::take(&mut self.linked).into_values() {
            self.bytes += size;
            self.allocated += allocated;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lstat(p: &Path) -> Stat {
        rustix::fs::lstat(p).unwrap()
    }

    #[test]
    fn hard_links_count_as_files_but_their_bytes_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, vec![1u8; 5000]).unwrap();
        std::fs::hard_link(&a, dir.path().join("b")).unwrap();
        let (mut t1, mut t2) = (Tally::default(), Tally::default());
        t1.add(&lstat(&a));
        t2.add(&lstat(&dir.path().join("b")));
        t2.add(&lstat(dir.path()));
        t1.merge(t2);
        t1.settle();
        assert_eq!(t1.files, 2);
        assert_eq!(t1.directories, 1);
        let dir_size = lstat(dir.path()).st_size as u64;
        assert_eq!(t1.bytes, 5000 + dir_size);
        assert!(t1.allocated >= 4096, "5000 bytes occupy at least one block");
    }

    #[test]
    fn error_samples_are_capped_but_errors_counted() {
        let mut t = Tally::default();
        for i in 0..20 {
            let mut other = Tally::default();
            other.error(Path::new(&format!("d{i}")), "cannot open", Errno::ACCESS);
            t.merge(other);
        }
        t.error(Path::new(""), "cannot read", Errno::IO);
        assert_eq!(t.errors, 21);
        assert_eq!(t.samples.len(), MAX_ERROR_SAMPLES);
        assert_eq!(
            t.samples[0],
            "d0: cannot open: Permission denied (os error 13)"
        );
    }
}
