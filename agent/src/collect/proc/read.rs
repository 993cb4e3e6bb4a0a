//! Bounded reads of small kernel files, and what a failed read means.
//!
//! Every `/proc` file is read whole into memory first and parsed from the bytes: the parsers
//! then see one consistent read, never an I/O error half-way (a `BufRead` that keeps failing
//! can make a line-by-line parser spin), and a file that grows without bound cannot make the
//! agent allocate without bound.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Cap for the per-process files (`stat`, `status`) and os-release.
pub(crate) const SMALL_FILE: u64 = 64 * 1024;
/// Cap for the host files, some of which grow with the machine (`cpuinfo`, `mountinfo`).
pub(crate) const LARGE_FILE: u64 = 16 * 1024 * 1024;

/// Reads `path` into `buf` (cleared first). A file longer than `cap` is an error, not a
/// silently truncated read.
pub(crate) fn read_into(path: &Path, cap: u64, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    let file = File::open(path)?;
    file.take(cap.saturating_add(1)).read_to_end(buf)?;
    if buf.len() as u64 > cap {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {cap} bytes"),
        ));
    }
    Ok(())
}

/// Reads a whole file, see [`read_into`].
pub(crate) fn read(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    read_into(path, cap, &mut buf)?;
    Ok(buf)
}

/// Reads a file and formats any failure as `"<path>: <error>"` for a section error.
pub(crate) fn read_for_section(path: &Path, cap: u64) -> Result<Vec<u8>, String> {
    read(path, cap).map_err(|e| format!("{}: {e}", path.display()))
}

/// True when the error means "the process is gone" (it exited between the directory
/// listing and the read): `ENOENT` on open, `ESRCH` on read.
pub(crate) fn is_vanished(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
        || e.raw_os_error() == Some(rustix::io::Errno::SRCH.raw_os_error())
}

/// The first whitespace-trimmed line of a file's bytes, lossily decoded.
pub(crate) fn first_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.lines().next().unwrap_or("").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_over_the_cap_is_an_error_not_a_truncated_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read(&path, 10).unwrap(), b"0123456789");
        let err = read(&path, 9).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_missing_file_counts_as_vanished() {
        let err = read(Path::new("/proc/definitely-not-here/stat"), SMALL_FILE).unwrap_err();
        assert!(is_vanished(&err));
        let other = io::Error::from(io::ErrorKind::PermissionDenied);
        assert!(!is_vanished(&other));
        let esrch = io::Error::from_raw_os_error(rustix::io::Errno::SRCH.raw_os_error());
        assert!(is_vanished(&esrch));
    }

    #[test]
    fn first_line_trims_and_survives_invalid_utf8() {
        assert_eq!(first_line(b"  web-01 \nsecond"), "web-01");
        assert_eq!(first_line(b""), "");
        assert_eq!(first_line(b"ab\xffcd\n"), "ab\u{fffd}cd");
    }
}
