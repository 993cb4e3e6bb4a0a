//! The listening socket: created only in a directory that is already locked down, owned by
//! root and the configured group, and a bounded number of connections at once.

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::transport::server::{Connected, UdsConnectInfo};

/// Why the socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error(
        "socket directory {0} does not exist (systemd's RuntimeDirectory=twoine creates it, 0750 root:twoine)"
    )]
    NoDirectory(PathBuf),
    #[error("socket directory {path} is unsafe: {why}")]
    UnsafeDirectory { path: PathBuf, why: String },
    #[error("{0} exists and is not a socket; refusing to remove it")]
    NotASocket(PathBuf),
    #[error("cannot set up socket {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// Bind `path` after checking its directory, replacing a stale socket (and only a socket),
/// then give it `mode` and group `gid`.
pub fn bind(path: &Path, mode: u32, gid: Option<u32>) -> Result<UnixListener, SocketError> {
    let io_err = |source| SocketError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .ok_or_else(|| SocketError::NoDirectory(path.to_path_buf()))?;
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(SocketError::NoDirectory(dir.to_path_buf()));
        }
        Err(e) => return Err(io_err(e)),
    };
    let unsafe_dir = |why: String| SocketError::UnsafeDirectory {
        path: dir.to_path_buf(),
        why,
    };
    if !meta.is_dir() {
        return Err(unsafe_dir("not a directory (or a symlink)".into()));
    }
    if meta.mode() & 0o002 != 0 {
        return Err(unsafe_dir(format!(
            "writable by others (mode {:o})",
            meta.mode() & 0o7777
        )));
    }
    let we_are_root = rustix::process::geteuid().is_root();
    if we_are_root && meta.uid() != 0 {
        return Err(unsafe_dir(format!("owned by uid {}, not root", meta.uid())));
    }
    if we_are_root && meta.mode() & 0o020 != 0 {
        return Err(unsafe_dir(format!(
            "writable by its group (mode {:o})",
            meta.mode() & 0o7777
        )));
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path).map_err(io_err)?,
        Ok(_) => return Err(SocketError::NotASocket(path.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(e)),
    }
    let listener = UnixListener::bind(path).map_err(io_err)?;
    if let Some(gid) = gid {
        std::os::unix::fs::chown(path, None, Some(gid)).map_err(io_err)?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io_err)?;
    Ok(listener)
}

/// Accepted connections, at most `limit` open at once: past that, new connections wait in the
/// kernel's backlog until one closes.
pub fn incoming(
    listener: UnixListener,
    limit: usize,
) -> impl Stream<Item = io::Result<LimitedStream>> + Send + 'static {
    let slots = Arc::new(Semaphore::new(limit));
    futures_util::stream::unfold((listener, slots), |(listener, slots)| async move {
        let permit = match slots.clone().acquire_owned().await {
            Ok(p) => p,
            Err(_) => return None,
        };
        let item = listener.accept().await.map(|(stream, _)| LimitedStream {
            inner: stream,
            _permit: permit,
        });
        Some((item, (listener, slots)))
    })
}

/// A connection holding one of the connection slots until it is dropped.
#[derive(Debug)]
pub struct LimitedStream {
    inner: UnixStream,
    _permit: OwnedSemaphorePermit,
}

impl Connected for LimitedStream {
    type ConnectInfo = UdsConnectInfo;
    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

impl AsyncRead for LimitedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_a_world_writable_directory_and_a_non_socket() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let sock = dir.path().join("agent.sock");
        assert!(matches!(
            bind(&sock, 0o660, None),
            Err(SocketError::UnsafeDirectory { .. })
        ));
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o750)).unwrap();
        std::fs::write(&sock, "not a socket").unwrap();
        assert!(matches!(
            bind(&sock, 0o660, None),
            Err(SocketError::NotASocket(_))
        ));
        assert_eq!(std::fs::read_to_string(&sock).unwrap(), "not a socket");
    }

    #[tokio::test]
    async fn replaces_a_stale_socket_and_sets_mode() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o750)).unwrap();
        let sock = dir.path().join("agent.sock");
        drop(bind(&sock, 0o660, None).unwrap());
        assert!(sock.exists(), "a stale socket is left behind");
        let _listener = bind(&sock, 0o640, Some(0)).unwrap();
        let meta = std::fs::metadata(&sock).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o640);
        assert_eq!(meta.gid(), 0);
        assert!(matches!(
            bind(&dir.path().join("missing/agent.sock"), 0o660, None),
            Err(SocketError::NoDirectory(_))
        ));
    }
}
