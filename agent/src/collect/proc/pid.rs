//! `/proc/<pid>/stat` and `/proc/<pid>/status`: the few fields the agent needs.
//!
//! Written by hand rather than with `procfs_core::process::Stat`: that parser slices the line
//! at `'(' - 1` and `')' + 2` without checking, so a short or odd line panics, and the
//! release profile aborts on panic (the test `procfs_core_stat_panics_on_a_short_line`
//! documents it). Here every malformed line is an error value.

use std::path::{Path, PathBuf};

use super::read;

/// The fields of `/proc/<pid>/stat` the agent uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PidStat {
    /// State letter (`R`, `S`, `D`, `T`, `t`, `Z`, `I`, ...).
    pub state: u8,
    /// User and system CPU time, USER_HZ ticks.
    pub utime: u64,
    pub stime: u64,
    pub num_threads: u64,
}

/// Why a process could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PidError {
    /// It exited between the listing and the read (normal on a busy host).
    Vanished,
    /// Unreadable or malformed; the message names the file.
    Bad(String),
}

/// Parses a whole `/proc/<pid>/stat`. The command name sits between the first `(` and the
/// *last* `)`: it may itself hold spaces and parentheses (`1 (my (weird) proc) S ...`).
pub(crate) fn parse_stat(bytes: &[u8]) -> Result<PidStat, String> {
    let open = bytes
        .iter()
        .position(|&b| b == b'(')
        .ok_or("no '(' before the command name")?;
    let close = bytes
        .iter()
        .rposition(|&b| b == b')')
        .ok_or("no ')' after the command name")?;
    if close < open {
        return Err("')' before '('".into());
    }
    let rest = std::str::from_utf8(&bytes[close + 1..]).map_err(|_| "fields are not UTF-8")?;
    // Fields after the command name, numbered from 0 (= field 3, the state, in proc(5)).
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    let state = match fields.first().map(|s| s.as_bytes()) {
        Some([letter]) if letter.is_ascii_alphabetic() => *letter,
        Some(other) => return Err(format!("bad state {:?}", String::from_utf8_lossy(other))),
        None => return Err("no fields after the command name".into()),
    };
    let number = |index: usize, name: &str| -> Result<u64, String> {
        let text = fields
            .get(index)
            .ok_or_else(|| format!("line ends before {name}"))?;
        text.parse::<u64>()
            .map_err(|_| format!("bad {name} {text:?}"))
    };
    Ok(PidStat {
        state,
        utime: number(11, "utime")?,
        stime: number(12, "stime")?,
        num_threads: number(17, "num_threads")?,
    })
}

/// What the agent takes from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PidStatus {
    /// Real uid: the first figure of the `Uid:` line (`real effective saved fs`).
    pub uid: u32,
    /// `VmRSS`, bytes; 0 for a process without memory (kernel thread, zombie).
    pub rss_bytes: u64,
}

/// Parses a whole `/proc/<pid>/status`.
///
/// The uid is the *real* uid, the one `ps -U` selects on, read from `status` rather than
/// from file ownership: the `/proc/<pid>` directory belongs to the effective uid, and the
/// files in it belong to root as soon as the process is non-dumpable (a php-fpm worker that
/// dropped root with `setuid`, anything that changed credentials without an `exec`).
///
/// The resident size is `VmRSS`, not `rss` of `stat`: since Linux 6.2 the latter is a
/// per-CPU approximation (a `sleep` shows 1780 kB there and 1884 kB in `VmRSS`, and `ps`
/// prints the `VmRSS` figure), and this file is read anyway.
pub(crate) fn parse_status(bytes: &[u8]) -> Result<PidStatus, String> {
    let mut uid = None;
    let mut rss_bytes = 0;
    for line in bytes.split(|&b| b == b'\n') {
        if let Some(rest) = line.strip_prefix(b"Uid:") {
            let rest = std::str::from_utf8(rest).map_err(|_| "Uid: line is not UTF-8")?;
            let real = rest
                .split_ascii_whitespace()
                .next()
                .ok_or("empty Uid: line")?;
            uid = Some(
                real.parse::<u32>()
                    .map_err(|_| format!("bad uid {real:?}"))?,
            );
        } else if let Some(rest) = line.strip_prefix(b"VmRSS:") {
            let rest = std::str::from_utf8(rest).map_err(|_| "VmRSS: line is not UTF-8")?;
            let bad = || format!("bad VmRSS {:?}", rest.trim());
            let kib = match rest.split_ascii_whitespace().collect::<Vec<_>>()[..] {
                [n, "kB"] => n.parse::<u64>().map_err(|_| bad())?,
                _ => return Err(bad()),
            };
            rss_bytes = kib.checked_mul(1024).ok_or_else(bad)?;
            if uid.is_some() {
                break; // VmRSS follows Uid: nothing further is needed.
            }
        }
    }
    Ok(PidStatus {
        uid: uid.ok_or("no Uid: line")?,
        rss_bytes,
    })
}

/// The numeric entries of a proc root: one per process (thread-group leader).
/// `Err` when the directory itself cannot be listed.
pub(crate) fn list_pids(proc_root: &Path) -> Result<Vec<u32>, String> {
    let entries =
        std::fs::read_dir(proc_root).map_err(|e| format!("{}: {e}", proc_root.display()))?;
    let mut pids: Vec<u32> = entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

/// Reads one file of one process into `buf`, classifying the failure.
pub(crate) fn read_pid_file(
    proc_root: &Path,
    pid: u32,
    file: &str,
    buf: &mut Vec<u8>,
) -> Result<(), PidError> {
    let path: PathBuf = proc_root.join(pid.to_string()).join(file);
    match read::read_into(&path, read::SMALL_FILE, buf) {
        // A process reaped mid-read can leave an empty file behind.
        Ok(()) if buf.is_empty() => Err(PidError::Vanished),
        Ok(()) => Ok(()),
        Err(e) if read::is_vanished(&e) => Err(PidError::Vanished),
        Err(e) => Err(PidError::Bad(format!("{}: {e}", path.display()))),
    }
}

/// Reads and parses `/proc/<pid>/stat`.
pub(crate) fn read_stat(
    proc_root: &Path,
    pid: u32,
    buf: &mut Vec<u8>,
) -> Result<PidStat, PidError> {
    read_pid_file(proc_root, pid, "stat", buf)?;
    parse_stat(buf).map_err(|e| PidError::Bad(format!("/proc/{pid}/stat: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAT: &[u8] = b"475071 (cat) R 323893 475071 323893 34826 475071 4194304 94 0 0 0 \
        7 3 0 0 20 0 1 0 201288208 5738496 225 18446744073709551615 94881179934720 0 0 0 0 0 \
        0 0 0 0 0 17 4 0 0 0 0 0\n";

    #[test]
    fn reads_the_fields_of_an_ordinary_line() {
        let stat = parse_stat(CAT).unwrap();
        assert_eq!(
            stat,
            PidStat {
                state: b'R',
                utime: 7,
                stime: 3,
                num_threads: 1
            }
        );
    }

    #[test]
    fn a_command_with_spaces_and_parentheses_does_not_shift_the_fields() {
        let line = b"42 (my (weird) proc) S 1 42 42 0 -1 4194560 10 0 0 0 150 50 0 0 20 0 3 0 \
            100 1000000 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let stat = parse_stat(line).unwrap();
        assert_eq!(
            stat,
            PidStat {
                state: b'S',
                utime: 150,
                stime: 50,
                num_threads: 3
            }
        );
        // A command made only of a closing parenthesis and spaces.
        let odd = b"7 () ) ) Z 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 0 0 0";
        assert_eq!(parse_stat(odd).unwrap().state, b'Z');
    }

    #[test]
    fn short_or_garbled_lines_are_errors_not_panics() {
        for line in [
            &b""[..],
            b"(",
            b")(",
            b"(x)",
            b"1 (x)",
            b"1 (x) ",
            b"1 (x) S 1 2",
            b"(x) S 1 1 1 0 -1 0 0 0 0 0 12x 3 0 0 20 0 1 0 5 0 9",
            b"1 (x) SS 1 1 1 0 -1 0 0 0 0 0 1 3 0 0 20 0 1 0 5 0 9",
            b"1 (x) \xc3\xa9 1",
            b"1 (x)\xff S",
            b"1 (x) S 1 1 1 0 -1 0 0 0 0 0 1 3 0 0 20 0 -1 0 5 0 9",
        ] {
            assert!(
                parse_stat(line).is_err(),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn procfs_core_stat_panics_on_a_short_line() {
        // Why this module parses `stat` itself: if this starts failing, procfs-core
        // has become safe on short input and could be used instead.
        use procfs_core::FromRead;
        let outcome = std::panic::catch_unwind(|| {
            procfs_core::process::Stat::from_read(&b"1 (x)"[..]).is_err()
        });
        assert!(outcome.is_err());
    }

    #[test]
    fn the_real_uid_is_the_first_of_the_uid_line() {
        let status = b"Name:\tphp-fpm8.2\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t812\n\
            Pid:\t812\nPPid:\t1\nTracerPid:\t0\nUid:\t1001\t1001\t1001\t1001\n\
            Gid:\t1001\t1001\t1001\t1001\nVmHWM:\t   30000 kB\nVmRSS:\t   21120 kB\n";
        assert_eq!(
            parse_status(status).unwrap(),
            PidStatus {
                uid: 1001,
                rss_bytes: 21120 * 1024
            }
        );
        // setuid program: real uid differs from the effective one; ps -U uses the real one.
        let passwd = parse_status(b"Name:\tpasswd\nUid:\t1001\t0\t0\t0\n").unwrap();
        // Kernel threads and zombies have no VmRSS line.
        assert_eq!(
            passwd,
            PidStatus {
                uid: 1001,
                rss_bytes: 0
            }
        );
    }

    #[test]
    fn a_status_without_a_usable_uid_or_rss_is_an_error() {
        for status in [
            &b"Name:\tx\nGid:\t0\t0\t0\t0\n"[..],
            b"Uid:\n",
            b"Uid:\t-1\t0\t0\t0\n",
            b"Uid:\t99999999999\t0\n",
            // "Uid:" must start a line: an escaped name cannot forge it.
            b"Name:\tx\\nUid:\t0\n",
            b"Uid:\t0\t0\t0\t0\nVmRSS:\t12x kB\n",
            b"Uid:\t0\t0\t0\t0\nVmRSS:\t12 MB\n",
            b"Uid:\t0\t0\t0\t0\nVmRSS:\t18446744073709551615 kB\n",
            b"Uid:\t\xff\n",
        ] {
            assert!(
                parse_status(status).is_err(),
                "{:?}",
                String::from_utf8_lossy(status)
            );
        }
    }
}
