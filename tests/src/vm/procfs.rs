//! A deliberately naive `/proc` reader, the reference the agent's per-user usage is checked
//! against: it shares no code with the agent's collectors.

use std::fs;

/// What the processes of one real uid add up to at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UidUsage {
    /// The processes counted, sorted.
    pub pids: Vec<u32>,
    /// `/proc/<pid>/status` files whose real uid (first `Uid:` field) is the uid.
    pub processes: u64,
    /// Sum of `Threads:`.
    pub threads: u64,
    /// Sum of `VmRSS:` in bytes.
    pub rss_bytes: u64,
    /// Sum of utime + stime from `/proc/<pid>/stat`, USER_HZ ticks.
    pub cpu_ticks: u64,
}

/// Sum the live processes of `uid`. A process that exits during the pass is skipped.
pub fn uid_usage(uid: u32) -> UidUsage {
    let mut usage = UidUsage::default();
    let Ok(entries) = fs::read_dir("/proc") else {
        return usage;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let Some(status) = parse_status(&status) else {
            continue;
        };
        if status.real_uid != uid {
            continue;
        }
        let Some(ticks) = fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| parse_stat_ticks(&s))
        else {
            continue;
        };
        usage.pids.push(pid);
        usage.processes += 1;
        usage.threads += status.threads;
        usage.rss_bytes += status.rss_kib * 1024;
        usage.cpu_ticks += ticks;
    }
    usage.pids.sort_unstable();
    usage
}

struct Status {
    real_uid: u32,
    threads: u64,
    rss_kib: u64,
}

fn parse_status(text: &str) -> Option<Status> {
    let mut real_uid = None;
    let mut threads = 0;
    let mut rss_kib = 0;
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let first = rest.split_whitespace().next();
        match key {
            "Uid" => real_uid = first.and_then(|v| v.parse().ok()),
            "Threads" => threads = first.and_then(|v| v.parse().ok()).unwrap_or(0),
            "VmRSS" => rss_kib = first.and_then(|v| v.parse().ok()).unwrap_or(0),
            _ => {}
        }
    }
    Some(Status {
        real_uid: real_uid?,
        threads,
        rss_kib,
    })
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line; `comm` may hold anything.
fn parse_stat_ticks(text: &str) -> Option<u64> {
    let after_comm = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // fields[0] is field 3 (state), so field N is fields[N - 3].
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_comm() {
        let line = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 1 0 9 1 1";
        assert_eq!(parse_stat_ticks(line), Some(12));
        assert_eq!(parse_stat_ticks("42 (x) S 1"), None);
    }

    #[test]
    fn status_fields() {
        let s = parse_status(
            "Name:\tsh\nUid:\t1001\t1001\t1001\t1001\nThreads:\t3\nVmRSS:\t  1536 kB\n",
        )
        .unwrap();
        assert_eq!((s.real_uid, s.threads, s.rss_kib), (1001, 3, 1536));
        assert!(parse_status("Name:\tkthreadd\n").is_none());
    }

    #[test]
    fn own_uid_has_at_least_this_process() {
        let me = std::process::id();
        let status = fs::read_to_string(format!("/proc/{me}/status")).unwrap();
        let uid = parse_status(&status).unwrap().real_uid;
        let usage = uid_usage(uid);
        assert!(
            usage.processes >= 1 && usage.threads >= 1 && usage.rss_bytes > 0,
            "{usage:?}"
        );
    }
}
