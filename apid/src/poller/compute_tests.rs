use super::*;

fn times(user: u64, system: u64, idle: u64, iowait: u64) -> pb::CpuTimes {
    pb::CpuTimes {
        user,
        system,
        idle,
        iowait,
        ..pb::CpuTimes::default()
    }
}

#[test]
fn cpu_percent_is_the_busy_share_between_two_samples_not_since_boot() {
    // Since boot: 1000 busy of 10 000 (10 %). Over the interval: 300 busy of 400 (75 %).
    let prev = times(600, 400, 8500, 500);
    let cur = times(800, 500, 8550, 550);
    assert_eq!(cpu_percent(&prev, &cur), Some(75.0));
}

#[test]
fn cpu_percent_counts_nice_irq_softirq_steal_as_busy_and_guest_once() {
    let prev = pb::CpuTimes::default();
    let cur = pb::CpuTimes {
        user: 10,
        nice: 10,
        system: 10,
        irq: 5,
        softirq: 5,
        steal: 10,
        idle: 50,
        guest: 10, // already inside user
        ..pb::CpuTimes::default()
    };
    assert_eq!(cpu_percent(&prev, &cur), Some(50.0));
}

#[test]
fn cpu_percent_has_no_value_without_elapsed_time_or_after_a_reboot() {
    let s = times(100, 100, 100, 0);
    assert_eq!(cpu_percent(&s, &s), None);
    assert_eq!(cpu_percent(&times(900, 900, 900, 0), &s), None);
}

#[test]
fn site_cpu_is_percent_of_one_core_and_may_exceed_100() {
    // 45 s of CPU over 30 s: one and a half cores.
    assert_eq!(site_cpu(10_000, 0, 55_000, 30_000), Some((150.0, 45_000)));
    assert_eq!(site_cpu(0, 1_000, 300, 4_000), Some((10.0, 300)));
}

#[test]
fn site_cpu_clamps_a_drop_when_processes_exit() {
    assert_eq!(site_cpu(50_000, 0, 20_000, 30_000), Some((0.0, 0)));
    assert_eq!(site_cpu(1, 5_000, 2, 5_000), None);
}

#[test]
fn memory_used_is_total_minus_available() {
    let m = memory(&pb::Memory {
        total_bytes: 8_000,
        free_bytes: 1_000,
        available_bytes: 3_000,
        cached_bytes: 1_500,
        buffers_bytes: 200,
        ..pb::Memory::default()
    });
    assert_eq!(m.used, 5_000);
    assert_eq!(m.free, 1_000);
    assert_eq!(m.available, 3_000);
    assert_eq!(m.percent, 62.5);
}

#[test]
fn disk_percent_rounds_up_like_df() {
    // df: used 51 of used+avail 100 (5 reserved blocks not counted) -> 51 %; 50.5 -> 51.
    let fs = pb::Filesystem {
        total_bytes: 1_050,
        free_bytes: 1_050 - 505,
        available_bytes: 495,
        ..pb::Filesystem::default()
    };
    let d = disk(&fs);
    assert_eq!((d.total, d.used, d.free, d.percent), (1_050, 505, 495, 51));
}

#[test]
fn network_sums_every_interface_but_lo() {
    let iface = |name: &str, n: u64| pb::NetInterface {
        name: name.to_owned(),
        rx_bytes: n,
        tx_bytes: 2 * n,
        rx_packets: 3 * n,
        tx_packets: 4 * n,
        ..pb::NetInterface::default()
    };
    let n = network(&[iface("lo", 1_000_000), iface("eth0", 10), iface("wg0", 1)]);
    assert_eq!(
        n,
        Network {
            bytes_in: 11,
            bytes_out: 22,
            packets_in: 33,
            packets_out: 44
        }
    );
}

#[test]
fn service_counts_keep_unknown_units_out_of_every_state() {
    let c = service_counts([
        Some("active"),
        Some("failed"),
        Some("inactive"),
        None,
        Some("reloading"),
    ]);
    assert_eq!(
        c,
        ServiceCounts {
            total: 5,
            running: 2,
            stopped: 1,
            failed: 1
        }
    );
}

#[test]
fn server_stats_need_cpu_memory_and_root_fs() {
    let snap = pb::HostSnapshotResponse {
        cpu: Some(pb::Cpu::default()),
        memory: Some(pb::Memory::default()),
        root_fs: None,
        ..pb::HostSnapshotResponse::default()
    };
    assert!(server_stats(&snap, 0.0, Totals::default(), chrono::Utc::now()).is_none());
    let snap = pb::HostSnapshotResponse {
        root_fs: Some(pb::Filesystem::default()),
        arch: "x86_64".to_owned(),
        uptime_seconds: 12.7,
        ..snap
    };
    let s = server_stats(&snap, 12.5, Totals::default(), chrono::Utc::now()).unwrap();
    assert_eq!((s.cpu.percent, s.uptime), (12.5, 12));
    assert_eq!(s.system.arch, "x64");
}
