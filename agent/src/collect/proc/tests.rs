//! The collector against fake proc roots (`agent/tests/fixtures/proc/*`): awkward process
//! names, vanished and garbled processes, truncated and missing files. Figures are those a
//! user would see.

use std::path::PathBuf;

use super::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/proc")
        .join(name)
}

/// A reader of a fixture host, with the USER_HZ of an x86-64 Debian box.
fn reader(name: &str) -> ProcReader {
    let root = fixture(name);
    ProcReader::new(root.join("proc"), root.join("etc")).with_clock_ticks(100)
}

fn sections(s: &HostSnapshot) -> Vec<&'static str> {
    let mut names: Vec<_> = s.errors.iter().map(|e| e.section).collect();
    names.sort_unstable();
    names
}

#[test]
fn a_healthy_host_reads_as_its_files_say() {
    let s = reader("host").host_snapshot();

    let cpu = s.cpu.clone().unwrap();
    assert_eq!(cpu.cores, 2);
    assert_eq!(cpu.model, "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz");
    assert_eq!(cpu.mhz, 2100.0);
    let total = cpu.total.unwrap();
    assert_eq!(
        (total.user, total.idle, total.softirq, total.steal),
        (284_750, 9_876_543, 2210, 150)
    );
    assert_eq!(cpu.per_core.len(), 2);
    assert_eq!(cpu.per_core[1].iowait, 2221);
    assert_eq!(s.boot_time_ms, Some(1_700_000_000_000));

    assert_eq!(
        s.memory,
        Some(Memory {
            total_bytes: 4_121_862_144,
            free_bytes: 319_836_160,
            available_bytes: 2_943_508_480,
            cached_bytes: 2_356_285_440,
            buffers_bytes: 123_338_752,
            swap_total_bytes: 2_147_479_552,
            swap_free_bytes: 2_109_730_816,
        })
    );
    let load = s.load.unwrap();
    assert_eq!((load.runnable, load.entities), (2, 377));
    assert!((load.one - 0.42).abs() < 1e-6 && (load.fifteen - 0.30).abs() < 1e-6);
    assert_eq!(s.uptime_seconds, Some(86_523.17));

    let names: Vec<_> = s.interfaces.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["ens3", "lo"]);
    assert_eq!(s.interfaces[0].rx_bytes, 9_876_543_210);
    assert_eq!(s.interfaces[0].tx_packets, 3_456_789);
    assert_eq!(s.interfaces[0].rx_dropped, 5);

    assert_eq!(s.hostname.as_deref(), Some("web-01"));
    assert_eq!(s.kernel_release.as_deref(), Some("6.1.0-18-amd64"));
    assert_eq!(s.os_name, "Debian GNU/Linux 12 (bookworm)");
    assert_eq!(s.arch, std::env::consts::ARCH);
    assert_eq!(s.clock_ticks_per_second, 100);

    // `/` is measured for real; its name comes from the fixture's mountinfo. The fixture's
    // second filesystem does not exist here: it fails alone.
    let root = s.root_fs.clone().unwrap();
    assert_eq!(
        (root.device.as_str(), root.fs_type.as_str()),
        ("/dev/vda1", "ext4")
    );
    assert!(root.total_bytes > 0);
    assert_eq!(s.filesystems.len(), 1);
    assert_eq!(s.filesystems[0].mount_point, "/");
    assert_eq!(sections(&s), ["filesystems"]);
    assert!(
        s.errors[0]
            .message
            .contains("/twoine-fixture-missing mount"),
        "{:?}",
        s.errors
    );
}

#[test]
fn processes_are_counted_by_state_and_the_unreadable_ones_skipped() {
    let counts = reader("host").host_snapshot().processes.unwrap();
    assert_eq!(
        counts,
        ProcessCounts {
            total: 11,
            running: 1,
            sleeping: 4,
            disk_sleep: 1,
            stopped: 2,
            zombie: 1,
            idle: 1,
            other: 1,
            threads: 14,
            // 105 has no stat, 106 a garbled one, 108 nothing at all.
            skipped: 3,
        }
    );
}

#[test]
fn users_usage_sums_each_uid_once_in_request_order() {
    let u = reader("host").users_usage(&[1001, 1005, 1002, 4242, 1001]);
    assert_eq!(u.clock_ticks_per_second, 100);
    assert_eq!(u.error, None);
    let expect = |uid, cpu_ticks, rss_kib: u64, processes, threads| UserUsage {
        uid,
        cpu_ticks,
        cpu_time_ms: cpu_ticks * 10,
        rss_bytes: rss_kib * 1024,
        processes,
        threads,
    };
    assert_eq!(
        u.users,
        [
            // php-fpm worker, zombie, stopped python: 1200 + 10 + 0 ticks.
            expect(1001, 1210, 20_000 + 9000, 3, 3),
            // `my (weird) proc`: 10 MiB resident (VmRSS, not stat's approximate 2500 pages),
            // 2 s of CPU, 3 threads.
            expect(1005, 200, 10_240, 1, 3),
            expect(1002, 15, 400 + 2000, 2, 3),
            expect(4242, 0, 0, 0, 0),
        ]
    );
    assert_eq!(u.users[1].rss_bytes, 10 * 1024 * 1024);
    // 105 (no stat) and 106 (garbled stat) are uid 1001's; 107 has no usable Uid line;
    // 108 has no status at all.
    assert_eq!(u.skipped_processes, 4);
}

#[test]
fn root_usage_includes_kernel_threads_and_no_uid_means_no_pass() {
    let u = reader("host").users_usage(&[0]);
    assert_eq!(u.users[0].processes, 4);
    assert_eq!(u.users[0].cpu_ticks, 700 + 10 + 50 + 2);
    // Kernel threads and the dead process hold no memory: only systemd's 12000 kB.
    assert_eq!(u.users[0].rss_bytes, 12_000 * 1024);

    let none = reader("host").users_usage(&[]);
    assert!(none.users.is_empty());
    assert_eq!(none.skipped_processes, 0);
}

#[test]
fn a_broken_host_keeps_every_section_it_can_read() {
    let s = reader("broken").host_snapshot();
    assert_eq!(
        sections(&s),
        [
            "cpu",
            "filesystems",
            "kernel_release",
            "load",
            "memory",
            "network",
            "uptime"
        ]
    );
    let message = |name: &str| &s.errors.iter().find(|e| e.section == name).unwrap().message;
    assert!(
        message("memory").ends_with("proc/meminfo: no Buffers line"),
        "{}",
        message("memory")
    );
    assert!(
        message("load").contains("proc/loadavg"),
        "{}",
        message("load")
    );

    // /proc/stat is truncated: no times, but cpuinfo still names the CPUs.
    let cpu = s.cpu.clone().unwrap();
    assert_eq!(cpu.total, None);
    assert!(cpu.per_core.is_empty());
    assert_eq!(cpu.cores, 4);
    assert_eq!(cpu.model, "AMD EPYC 7763 64-Core Processor");
    assert_eq!(cpu.mhz, 1800.0);
    assert_eq!(s.boot_time_ms, None);

    assert_eq!((s.memory, s.load, s.uptime_seconds), (None, None, None));
    assert!(s.interfaces.is_empty());
    assert_eq!(s.hostname.as_deref(), Some("broken-01"));
    assert_eq!(s.kernel_release, None);
    // No etc/os-release: usr/lib/os-release beside it.
    assert_eq!(s.os_name, "Ubuntu 22.04.4 LTS");
    // No mountinfo: `/` is still measured, unnamed.
    let root = s.root_fs.unwrap();
    assert!(root.total_bytes > 0);
    assert_eq!(root.device, "");
    assert!(s.filesystems.is_empty());

    let p = s.processes.unwrap();
    assert_eq!((p.total, p.sleeping, p.skipped), (1, 1, 1));
}

#[test]
fn no_os_release_at_all_reads_linux() {
    let root = fixture("host");
    let s = ProcReader::new(root.join("proc"), fixture("nowhere/etc")).host_snapshot();
    assert_eq!(s.os_name, "Linux");
    assert!(!sections(&s).contains(&"os_release"));
}

#[test]
fn a_missing_proc_root_fails_every_proc_section_but_not_the_call() {
    let r = ProcReader::new(fixture("nowhere/proc"), fixture("nowhere/etc"));
    let s = r.host_snapshot();
    assert_eq!(
        sections(&s),
        [
            "cpu",
            "cpuinfo",
            "filesystems",
            "hostname",
            "kernel_release",
            "load",
            "memory",
            "network",
            "processes",
            "uptime",
        ]
    );
    assert!(s.cpu.is_none() && s.processes.is_none());
    assert!(s.root_fs.is_some());

    let u = r.users_usage(&[0, 1000]);
    assert!(u.error.as_deref().unwrap().contains("nowhere/proc"));
    assert_eq!(u.users.len(), 2);
    assert_eq!(
        u.users[1],
        UserUsage {
            uid: 1000,
            ..UserUsage::default()
        }
    );
}
