//! Passes over `/proc/<pid>`: process counts by state, and per-user usage.

use std::collections::HashMap;
use std::path::Path;

use super::pid::{self, PidError, PidStatus};
use super::{ProcessCounts, UserUsage, UsersUsage};

/// Counts processes by the state letter of their `stat`, and their threads.
/// `Err` only when the proc root cannot be listed.
pub(crate) fn process_counts(proc_root: &Path) -> Result<ProcessCounts, String> {
    let mut counts = ProcessCounts::default();
    let mut buf = Vec::with_capacity(1024);
    for p in pid::list_pids(proc_root)? {
        let stat = match pid::read_stat(proc_root, p, &mut buf) {
            Ok(stat) => stat,
            Err(_) => {
                counts.skipped += 1;
                continue;
            }
        };
        counts.total += 1;
        counts.threads = counts.threads.saturating_add(clamp(stat.num_threads));
        match stat.state {
            b'R' => counts.running += 1,
            b'S' => counts.sleeping += 1,
            b'D' => counts.disk_sleep += 1,
            b'T' | b't' => counts.stopped += 1,
            b'Z' => counts.zombie += 1,
            b'I' => counts.idle += 1,
            _ => counts.other += 1,
        }
    }
    Ok(counts)
}

/// Per-uid sums over one pass of `/proc`. The uid and resident size of a process come from
/// its `status` (see [`pid::parse_status`]); `stat` (CPU time, threads) is read only for the
/// processes that match.
pub(crate) fn users_usage(proc_root: &Path, uids: &[u32], ticks_per_second: u64) -> UsersUsage {
    let mut users: Vec<UserUsage> = Vec::with_capacity(uids.len());
    let mut index: HashMap<u32, usize> = HashMap::with_capacity(uids.len());
    for &uid in uids {
        index.entry(uid).or_insert_with(|| {
            users.push(UserUsage {
                uid,
                ..UserUsage::default()
            });
            users.len() - 1
        });
    }
    let mut usage = UsersUsage {
        taken_at_ms: super::now_ms(),
        clock_ticks_per_second: ticks_per_second,
        users,
        skipped_processes: 0,
        error: None,
    };
    if index.is_empty() {
        return usage;
    }
    let pids = match pid::list_pids(proc_root) {
        Ok(pids) => pids,
        Err(e) => {
            usage.error = Some(e);
            return usage;
        }
    };
    let mut buf = Vec::with_capacity(2048);
    for p in pids {
        let (slot, status) = match read_status(proc_root, p, &mut buf) {
            Ok(status) => match index.get(&status.uid) {
                Some(&slot) => (slot, status),
                None => continue,
            },
            Err(_) => {
                usage.skipped_processes = usage.skipped_processes.saturating_add(1);
                continue;
            }
        };
        let stat = match pid::read_stat(proc_root, p, &mut buf) {
            Ok(stat) => stat,
            Err(_) => {
                usage.skipped_processes = usage.skipped_processes.saturating_add(1);
                continue;
            }
        };
        let user = &mut usage.users[slot];
        user.cpu_ticks = user
            .cpu_ticks
            .saturating_add(stat.utime.saturating_add(stat.stime));
        user.rss_bytes = user.rss_bytes.saturating_add(status.rss_bytes);
        user.processes = user.processes.saturating_add(1);
        user.threads = user.threads.saturating_add(clamp(stat.num_threads));
    }
    let tps = if ticks_per_second == 0 {
        100
    } else {
        ticks_per_second
    };
    for user in &mut usage.users {
        user.cpu_time_ms =
            u64::try_from(u128::from(user.cpu_ticks) * 1000 / u128::from(tps)).unwrap_or(u64::MAX);
    }
    usage
}

fn read_status(proc_root: &Path, p: u32, buf: &mut Vec<u8>) -> Result<PidStatus, PidError> {
    pid::read_pid_file(proc_root, p, "status", buf)?;
    pid::parse_status(buf).map_err(|e| PidError::Bad(format!("/proc/{p}/status: {e}")))
}

fn clamp(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
