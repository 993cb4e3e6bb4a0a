//! Which roots may be measured: absolute paths that resolve strictly under `SITES_DIR`.

use std::io;
use std::path::{Component, Path, PathBuf};

use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;

use super::open;

/// Longest accepted root, bytes (Linux `PATH_MAX` less the final NUL).
pub const MAX_ROOT_LEN: usize = 4095;

/// Why a root was refused or could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RootError {
    /// What went wrong, as a class the caller can act on.
    pub kind: RootErrorKind,
    /// A sentence for the operator, naming the root as requested.
    pub message: String,
}

/// The class of a [`RootError`], as the `RootError.kind` string of the API says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RootErrorKind {
    /// Not an acceptable path at all (relative, NUL byte, too long, symlink loop).
    Invalid,
    /// Does not resolve strictly under `SITES_DIR`.
    OutsideSitesDir,
    NotFound,
    NotADirectory,
    /// Anything else the system refused (permission, I/O error, ...).
    Io,
}

impl RootErrorKind {
    /// `"invalid"`, `"outside_sites_dir"`, `"not_found"`, `"not_a_directory"` or `"io"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::OutsideSitesDir => "outside_sites_dir",
            Self::NotFound => "not_found",
            Self::NotADirectory => "not_a_directory",
            Self::Io => "io",
        }
    }
}

impl RootError {
    fn new(kind: RootErrorKind, message: String) -> Self {
        Self { kind, message }
    }

    /// Classify an error met while resolving or opening `shown`.
    pub(super) fn from_open(shown: &str, e: Errno) -> Self {
        use RootErrorKind::*;
        let (kind, what) = match e {
            Errno::NOENT => (NotFound, "does not exist".to_string()),
            Errno::NOTDIR => (NotADirectory, "is not a directory".to_string()),
            Errno::LOOP => (
                Invalid,
                "has too many levels of symbolic links (a symlink loop?) or is a symlink"
                    .to_string(),
            ),
            Errno::NAMETOOLONG => (Invalid, "has a name too long for the system".to_string()),
            Errno::XDEV => (OutsideSitesDir, "leads outside SITES_DIR".to_string()),
            other => (Io, format!("cannot be opened: {}", io::Error::from(other))),
        };
        Self::new(kind, format!("{shown:?} {what}"))
    }
}

/// `SITES_DIR`, canonicalized and opened once.
#[derive(Debug)]
pub(super) struct SitesDir {
    configured: PathBuf,
    canonical: PathBuf,
    fd: OwnedFd,
}

/// A root that passed every check, with its directory already open.
#[derive(Debug)]
pub(super) struct Resolved {
    /// The root with every symlink resolved: the cache key.
    pub canonical: PathBuf,
    pub fd: OwnedFd,
}

impl SitesDir {
    /// Canonicalize and open `path`, which must be an absolute directory other than `/`.
    pub fn open(path: &Path) -> io::Result<Self> {
        if !path.is_absolute() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "must be an absolute path",
            ));
        }
        let canonical = std::fs::canonicalize(path)?;
        if canonical == Path::new("/") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "must not resolve to /",
            ));
        }
        let fd = open::open_dir(&canonical)?;
        Ok(Self {
            configured: path.to_path_buf(),
            canonical,
            fd,
        })
    }

    /// `SITES_DIR` with every symlink resolved.
    pub fn canonical(&self) -> &Path {
        &self.canonical
    }

    /// Check `root` and open it. Nothing outside `SITES_DIR` is touched before the lexical
    /// check passes, so a refusal says nothing about what exists elsewhere.
    pub fn resolve(&self, root: &str) -> Result<Resolved, RootError> {
        use RootErrorKind::*;
        let refuse = |kind, why: &str| Err(RootError::new(kind, format!("{root:?} {why}")));
        if root.is_empty() {
            return Err(RootError::new(
                Invalid,
                "empty root: give an absolute path under SITES_DIR".into(),
            ));
        }
        if root.contains('\0') {
            return refuse(Invalid, "contains a NUL byte");
        }
        if root.len() > MAX_ROOT_LEN {
            let shown: String = root.chars().take(64).collect();
            return Err(RootError::new(
                Invalid,
                format!("{shown:?}... is longer than {MAX_ROOT_LEN} bytes"),
            ));
        }
        if !root.starts_with('/') {
            return refuse(
                Invalid,
                "is a relative path: give an absolute path under SITES_DIR",
            );
        }
        let lexical = normalize(Path::new(root));
        let under_configured = lexical.strip_prefix(&self.configured).ok();
        let under_canonical = lexical.strip_prefix(&self.canonical).ok();
        match (under_configured, under_canonical) {
            (None, None) => {
                return refuse(
                    OutsideSitesDir,
                    &format!("is not under SITES_DIR ({})", self.configured.display()),
                );
            }
            (Some(rel), _) | (_, Some(rel)) if rel.as_os_str().is_empty() => {
                return refuse(
                    OutsideSitesDir,
                    "is SITES_DIR itself: a root must be a site directory inside it",
                );
            }
            _ => {}
        }
        let canonical = std::fs::canonicalize(root).map_err(|e| {
            let errno = e.raw_os_error().map_or(Errno::IO, Errno::from_raw_os_error);
            RootError::from_open(root, errno)
        })?;
        let rel = match canonical.strip_prefix(&self.canonical) {
            Ok(rel) if rel.as_os_str().is_empty() => {
                return refuse(
                    OutsideSitesDir,
                    "resolves to SITES_DIR itself: a root must be a site directory inside it",
                );
            }
            Ok(rel) => rel,
            Err(_) => {
                return refuse(
                    OutsideSitesDir,
                    &format!(
                        "resolves outside SITES_DIR ({}) through a symlink",
                        self.configured.display()
                    ),
                );
            }
        };
        let noatime = rustix::process::geteuid().is_root();
        let fd = open::open_dir_beneath(self.fd.as_fd(), rel, noatime).map_err(|e| match e {
            // canonicalize saw no symlink here a moment ago: the tree changed under us.
            Errno::LOOP | Errno::XDEV => RootError::new(
                OutsideSitesDir,
                format!("{root:?} changed into a symlink while being opened"),
            ),
            other => RootError::from_open(root, other),
        })?;
        Ok(Resolved { canonical, fd })
    }
}

/// `.` dropped and `..` applied textually (`/a/b/../c` is `/a/c`; `..` at `/` stays at `/`).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => out.push(name),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

#[cfg(test)]
#[path = "root_tests.rs"]
mod tests;
