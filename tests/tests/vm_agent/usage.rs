//! Per-user usage and the host snapshot, against `/proc` and `df`.

use super::*;

#[test]
#[ignore = "needs the VM: tests/vm/run-agent-tests.sh"]
fn users_usage_matches_proc() {
    host::ensure_running(WEB_UNIT);
    let uid = host::uid_of(SITE_USER);
    let hz: u64 = host::run_ok("getconf", &["CLK_TCK"]).parse().unwrap();
    // The service settles into two long-lived processes once its start-up pipeline is done.
    wait_for(
        "the demo service's two processes",
        Duration::from_secs(20),
        || (procfs::uid_usage(uid).processes == 2).then_some(()),
    );

    // Processes only gain CPU time: with the same processes before and after, the agent's sum
    // lies between the two reference sums. Retry when a process came or went in between.
    let (before, v, after) = wait_for("a stable process set", Duration::from_secs(20), || {
        let before = procfs::uid_usage(uid);
        let v = ctl().json(&["usage", &uid.to_string(), "4242"]);
        let after = procfs::uid_usage(uid);
        (before.pids == after.pids).then_some((before, v, after))
    });
    assert_eq!(u64_field(&v, "clock_ticks_per_second"), hz);
    let users = array_field(&v, "users");
    assert_eq!(users.len(), 2, "one entry per uid asked: {v}");
    let u = &users[0];
    assert_eq!(u64_field(u, "uid"), u64::from(uid));
    assert_eq!(
        u64_field(u, "processes"),
        before.processes,
        "{u} vs {before:?}"
    );
    assert_eq!(u64_field(u, "threads"), before.threads, "{u} vs {before:?}");
    let ticks = u64_field(u, "cpu_ticks");
    assert!(
        (before.cpu_ticks..=after.cpu_ticks).contains(&ticks) && ticks > 0,
        "cpu_ticks {ticks} not within /proc's {}..={}",
        before.cpu_ticks,
        after.cpu_ticks
    );
    let ms = u64_field(u, "cpu_time_ms");
    assert!(
        ms.abs_diff(ticks * 1000 / hz) <= 1000 / hz,
        "cpu_time_ms {ms} vs {ticks} ticks"
    );
    let rss = u64_field(u, "rss_bytes");
    let (lo, hi) = (
        before.rss_bytes.min(after.rss_bytes),
        before.rss_bytes.max(after.rss_bytes),
    );
    let tolerance = 512 * 1024;
    assert!(
        rss > 8_000_000 && rss + tolerance >= lo && rss <= hi + tolerance,
        "rss_bytes {rss} vs /proc's VmRSS sums {} / {}",
        before.rss_bytes,
        after.rss_bytes
    );

    let nobody_home = &users[1];
    assert_eq!(u64_field(nobody_home, "uid"), 4242);
    for key in [
        "processes",
        "threads",
        "cpu_ticks",
        "cpu_time_ms",
        "rss_bytes",
    ] {
        assert_eq!(
            u64_field(nobody_home, key),
            0,
            "{key} of a uid without processes"
        );
    }
}

#[test]
#[ignore = "needs the VM: tests/vm/run-agent-tests.sh"]
fn snapshot_describes_this_vm() {
    let v = ctl().json(&["snapshot"]);
    assert_eq!(str_field(&v, "hostname"), "twoine-vm");
    assert_eq!(
        str_field(&v, "kernel_release"),
        host::run_ok("uname", &["-r"])
    );
    assert!(
        array_field(&v, "errors").is_empty(),
        "{}",
        field(&v, "errors")
    );
    let cores: u64 = host::run_ok("getconf", &["_NPROCESSORS_ONLN"])
        .parse()
        .unwrap();
    assert_eq!(u64_field(field(&v, "cpu"), "cores"), cores);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let total_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert_eq!(
        u64_field(field(&v, "memory"), "total_bytes"),
        total_kib * 1024
    );
    let root_fs = field(&v, "root_fs");
    assert_eq!(str_field(root_fs, "mount_point"), "/");
    let df = host::run_ok("df", &["-B1", "--output=size", "/"]);
    let df_size: u64 = df.lines().last().unwrap().trim().parse().unwrap();
    assert_eq!(u64_field(root_fs, "total_bytes"), df_size, "df -B1 /");
    assert!(u64_field(field(&v, "processes"), "total") > 10);
}
