//! Opening directories without ever following a symlink.

use std::path::{Component, Path};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// Cleared the first time the kernel answers `ENOSYS` to openat2 (Linux < 5.6).
static HAVE_OPENAT2: AtomicBool = AtomicBool::new(true);

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOCTTY);

/// Open `rel`, a relative path of plain components, as a directory beneath `base`.
/// No component may be a symlink, `..` or a magic link: the kernel refuses them (`ELOOP`,
/// `EXDEV`) rather than follow them, so a tree changed under our feet cannot lead us out.
/// `noatime` avoids touching access times (only root, or the owner, may ask for it).
pub(super) fn open_dir_beneath(
    base: BorrowedFd<'_>,
    rel: &Path,
    noatime: bool,
) -> Result<OwnedFd, Errno> {
    let flags = if noatime {
        DIR_FLAGS | OFlags::NOATIME
    } else {
        DIR_FLAGS
    };
    match open_beneath(base, rel, flags) {
        Err(Errno::PERM) if noatime => open_beneath(base, rel, DIR_FLAGS),
        other => other,
    }
}

fn open_beneath(base: BorrowedFd<'_>, rel: &Path, flags: OFlags) -> Result<OwnedFd, Errno> {
    if HAVE_OPENAT2.load(Ordering::Relaxed) {
        let resolve =
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        // EAGAIN: the kernel saw a concurrent rename and could not prove the lookup stayed
        // beneath `base`; it asks for a retry.
        for _ in 0..4 {
            match rustix::fs::openat2(base, rel, flags, Mode::empty(), resolve) {
                Err(Errno::AGAIN) => continue,
                Err(Errno::NOSYS) => {
                    HAVE_OPENAT2.store(false, Ordering::Relaxed);
                    break;
                }
                other => return other,
            }
        }
        if HAVE_OPENAT2.load(Ordering::Relaxed) {
            return Err(Errno::AGAIN);
        }
    }
    open_by_components(base, rel, flags)
}

/// The pre-5.6 way: one `openat(O_NOFOLLOW | O_DIRECTORY)` per component.
fn open_by_components(base: BorrowedFd<'_>, rel: &Path, flags: OFlags) -> Result<OwnedFd, Errno> {
    let mut current: Option<OwnedFd> = None;
    for component in rel.components() {
        let Component::Normal(name) = component else {
            return Err(Errno::XDEV);
        };
        let dir = current.as_ref().map_or(base, |fd| fd.as_fd());
        current = Some(rustix::fs::openat(dir, name, flags, Mode::empty())?);
    }
    current.ok_or(Errno::INVAL)
}

/// Open a directory by path for [`super::walk_tree`]: earlier components are resolved as
/// usual, the final one must not be a symlink.
pub(super) fn open_dir(path: &Path) -> Result<OwnedFd, Errno> {
    rustix::fs::open(path, DIR_FLAGS, Mode::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_and_escapes_are_refused_at_every_component() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("a/etc")).unwrap();
        let base = open_dir(dir.path()).unwrap();
        for flags_noatime in [false, true] {
            assert!(open_dir_beneath(base.as_fd(), Path::new("a/b"), flags_noatime).is_ok());
            assert_eq!(
                open_dir_beneath(base.as_fd(), Path::new("link/b"), flags_noatime).unwrap_err(),
                Errno::LOOP
            );
            // A final symlink fails O_DIRECTORY | O_NOFOLLOW before anything else.
            assert_eq!(
                open_dir_beneath(base.as_fd(), Path::new("a/etc"), flags_noatime).unwrap_err(),
                Errno::NOTDIR
            );
            assert_eq!(
                open_dir_beneath(base.as_fd(), Path::new("a/../../x"), flags_noatime).unwrap_err(),
                Errno::XDEV
            );
        }
        // The fallback refuses the same things (a symlink component fails O_DIRECTORY).
        assert!(open_by_components(base.as_fd(), Path::new("a/b"), DIR_FLAGS).is_ok());
        assert_eq!(
            open_by_components(base.as_fd(), Path::new("link/b"), DIR_FLAGS).unwrap_err(),
            Errno::NOTDIR
        );
        assert_eq!(
            open_by_components(base.as_fd(), Path::new("a/etc"), DIR_FLAGS).unwrap_err(),
            Errno::NOTDIR
        );
        assert_eq!(
            open_by_components(base.as_fd(), Path::new("a/../b"), DIR_FLAGS).unwrap_err(),
            Errno::XDEV
        );
        assert_eq!(
            open_dir(&dir.path().join("link")).unwrap_err(),
            Errno::NOTDIR
        );
    }
}
