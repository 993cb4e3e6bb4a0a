//! `collect::proc` against the live `/proc` of the machine running the tests (as root).
//! Every figure is checked against an independent reading of the same kernel source.
#![cfg(test)] // helpers included: unwrap is how a test fails

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use twoine_agent::collect::proc::ProcReader;

/// Kills and reaps its child even when an assertion fails first.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn meminfo_kib(key: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn status_field(pid: u32, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(&format!("{key}:")))?;
    Some(line[key.len() + 1..].trim().to_owned())
}

fn vm_rss_bytes(pid: u32) -> u64 {
    let kib = status_field(pid, "VmRSS").unwrap();
    kib.trim_end_matches("kB").trim().parse::<u64>().unwrap() * 1024
}

/// Waits until `pid`'s real uid is `uid` and its command name is `comm` (exec and setuid
/// done), so its figures no longer move.
fn wait_settled(pid: u32, uid: u32, comm: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let real_uid =
            status_field(pid, "Uid").and_then(|v| v.split_whitespace().next().map(str::to_owned));
        let name = status_field(pid, "Name");
        if real_uid.as_deref() == Some(&uid.to_string()) && name.as_deref() == Some(comm) {
            std::thread::sleep(Duration::from_millis(100));
            return;
        }
        assert!(
            Instant::now() < deadline,
            "pid {pid} never became {comm} as uid {uid}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn require_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "these tests start processes under other uids: run them as root"
    );
}

#[test]
fn host_snapshot_matches_the_kernel() {
    let s = ProcReader::system().host_snapshot();
    assert!(s.errors.is_empty(), "{:?}", s.errors);

    let cpu = s.cpu.unwrap();
    let parallelism = std::thread::available_parallelism().unwrap().get() as u32;
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap();
    let listed = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count() as u32;
    assert!(
        cpu.cores == parallelism || cpu.cores == listed,
        "{} vs {parallelism}/{listed}",
        cpu.cores
    );
    assert_eq!(cpu.per_core.len() as u32, cpu.cores);
    let total = cpu.total.unwrap();
    let core_sum: u64 = cpu.per_core.iter().map(|c| c.user).sum();
    // The aggregate line is the sum of the per-core lines (read in the same instant).
    assert!(
        total.user.abs_diff(core_sum) <= u64::from(cpu.cores),
        "{} vs {core_sum}",
        total.user
    );

    let memory = s.memory.unwrap();
    assert_eq!(memory.total_bytes, meminfo_kib("MemTotal") * 1024);
    assert_eq!(memory.swap_total_bytes, meminfo_kib("SwapTotal") * 1024);
    assert!(memory.available_bytes <= memory.total_bytes);

    let root = s.root_fs.unwrap();
    let st = rustix::fs::statvfs("/").unwrap();
    assert_eq!(root.total_bytes, st.f_blocks * st.f_frsize);
    assert_eq!(root.used_bytes, root.total_bytes - root.free_bytes);
    assert!(
        s.filesystems.iter().any(|f| f.mount_point == "/"),
        "{:?}",
        s.filesystems
    );

    let uname = rustix::system::uname();
    assert_eq!(
        s.hostname.as_deref().unwrap(),
        uname.nodename().to_str().unwrap()
    );
    assert_eq!(
        s.kernel_release.as_deref().unwrap(),
        uname.release().to_str().unwrap()
    );
    assert!(s.interfaces.iter().any(|i| i.name == "lo"));

    let uptime_ms = (s.uptime_seconds.unwrap() * 1000.0) as i64;
    let boot = s.boot_time_ms.unwrap();
    assert!(
        (s.taken_at_ms - uptime_ms - boot).abs() < 5_000,
        "boot {boot}, uptime {uptime_ms}"
    );

    // Processes come and go on the host; count them independently around the snapshot.
    let count = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_str()
                    .unwrap()
                    .parse::<u32>()
                    .is_ok()
            })
            .count() as i64
    };
    let before = count();
    let p = ProcReader::system().host_snapshot().processes.unwrap();
    let after = count();
    let seen = i64::from(p.total + p.skipped);
    assert!(
        seen >= before.min(after) - 5 && seen <= before.max(after) + 5,
        "{p:?} vs {before}..{after}"
    );
    let by_state = p.running + p.sleeping + p.disk_sleep + p.stopped + p.zombie + p.idle + p.other;
    assert_eq!(by_state, p.total);
    assert!(p.threads >= p.total);
}

#[test]
fn own_uid_counts_this_process() {
    let me = std::process::id();
    let uid = rustix::process::getuid().as_raw();
    let rss = vm_rss_bytes(me);
    let u = ProcReader::system().users_usage(&[uid]);
    assert_eq!(u.error, None);
    let mine = u.users[0];
    assert_eq!(mine.uid, uid);
    assert!(mine.processes >= 1);
    assert!(mine.threads >= mine.processes);
    // At least this process's own resident size (it may have grown a little since), and not
    // more than all this uid's processes could hold if each were as big as the machine.
    assert!(mine.rss_bytes >= rss * 9 / 10, "{} < {rss}", mine.rss_bytes);
    let total = meminfo_kib("MemTotal") * 1024;
    assert!(
        mine.rss_bytes <= total * u64::from(mine.processes),
        "{}",
        mine.rss_bytes
    );
}

#[test]
fn a_child_under_another_uid_is_counted_for_that_uid() {
    require_root();
    const UID: u32 = 61_234;
    let child = Command::new("sleep")
        .arg("30")
        .uid(UID)
        .gid(UID)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let child = Reaped(child);
    let pid = child.0.id();
    wait_settled(pid, UID, "sleep");

    let u = ProcReader::system().users_usage(&[UID, UID]);
    assert_eq!(u.users.len(), 1);
    let usage = u.users[0];
    assert_eq!((usage.uid, usage.processes, usage.threads), (UID, 1, 1));
    assert_eq!(usage.rss_bytes, vm_rss_bytes(pid));
    assert!(usage.rss_bytes > 0);
    drop(child);

    // Gone: the same question now answers zero.
    let after = ProcReader::system().users_usage(&[UID]);
    assert_eq!(after.users[0].processes, 0);
}

#[test]
fn a_process_belongs_to_its_real_uid_whoever_owns_its_proc_entries() {
    require_root();
    const DROPPED: u32 = 61_235;
    const REAL_ONLY: u32 = 61_236;
    // setuid without exec (what php-fpm workers do) leaves the process non-dumpable: the
    // files of its /proc directory stay owned by root.
    let dropped = Command::new("perl")
        .args([
            "-e",
            &format!("$( = $) = {DROPPED}; $< = $> = {DROPPED}; sleep 30"),
        ])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let dropped = Reaped(dropped);
    // Real uid changed, effective uid still root: the directory itself is root's.
    let real_only = Command::new("perl")
        .args(["-e", &format!("$< = {REAL_ONLY}; sleep 30")])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let real_only = Reaped(real_only);
    let (a, b) = (dropped.0.id(), real_only.0.id());
    wait_settled(a, DROPPED, "perl");
    wait_settled(b, REAL_ONLY, "perl");
    let owner = |path: String| std::fs::metadata(path).unwrap().uid();
    assert_eq!(
        owner(format!("/proc/{a}/status")),
        0,
        "scenario: root-owned /proc/{a}/status"
    );
    assert_eq!(
        owner(format!("/proc/{b}")),
        0,
        "scenario: root-owned /proc/{b}"
    );

    let u = ProcReader::system().users_usage(&[DROPPED, REAL_ONLY]);
    assert_eq!((u.users[0].uid, u.users[0].processes), (DROPPED, 1));
    assert_eq!(u.users[0].rss_bytes, vm_rss_bytes(a));
    assert_eq!((u.users[1].uid, u.users[1].processes), (REAL_ONLY, 1));
    assert_eq!(u.users[1].rss_bytes, vm_rss_bytes(b));
}
