//! `collect::proc` → `twoine.agent.v1` host snapshot and users usage messages.

use twoine_proto::v1 as pb;

use crate::collect::proc::{
    Cpu, CpuTimes, Filesystem, HostSnapshot, LoadAverage, Memory, NetInterface, ProcessCounts,
    UserUsage, UsersUsage,
};

/// A host snapshot as the wire carries it; each section error becomes one `errors` entry.
/// Absent text or times read as empty / 0, as proto3 has no other way to say it for them.
pub fn host_snapshot(s: HostSnapshot) -> pb::HostSnapshotResponse {
    pb::HostSnapshotResponse {
        taken_at_ms: s.taken_at_ms,
        cpu: s.cpu.map(cpu),
        load: s.load.map(load),
        memory: s.memory.map(memory),
        root_fs: s.root_fs.map(filesystem),
        filesystems: s.filesystems.into_iter().map(filesystem).collect(),
        interfaces: s.interfaces.into_iter().map(interface).collect(),
        processes: s.processes.map(processes),
        uptime_seconds: s.uptime_seconds.unwrap_or(0.0),
        hostname: s.hostname.unwrap_or_default(),
        kernel_release: s.kernel_release.unwrap_or_default(),
        os_name: s.os_name,
        arch: s.arch.to_owned(),
        clock_ticks_per_second: s.clock_ticks_per_second,
        boot_time_ms: s.boot_time_ms.unwrap_or(0),
        errors: s
            .errors
            .into_iter()
            .map(|e| pb::SectionError {
                section: e.section.to_owned(),
                message: e.message,
            })
            .collect(),
    }
}

/// Users usage as the wire carries it. `u.error` (the proc root could not be listed) has no
/// field here: the caller turns it into a `Status` before converting.
pub fn users_usage(u: UsersUsage) -> pb::UsersUsageResponse {
    pb::UsersUsageResponse {
        taken_at_ms: u.taken_at_ms,
        clock_ticks_per_second: u.clock_ticks_per_second,
        users: u.users.into_iter().map(user).collect(),
        skipped_processes: u.skipped_processes,
    }
}

fn user(u: UserUsage) -> pb::UserUsage {
    pb::UserUsage {
        uid: u.uid,
        cpu_ticks: u.cpu_ticks,
        cpu_time_ms: u.cpu_time_ms,
        rss_bytes: u.rss_bytes,
        processes: u.processes,
        threads: u.threads,
    }
}

fn times(t: CpuTimes) -> pb::CpuTimes {
    pb::CpuTimes {
        user: t.user,
        nice: t.nice,
        system: t.system,
        idle: t.idle,
        iowait: t.iowait,
        irq: t.irq,
        softirq: t.softirq,
        steal: t.steal,
        guest: t.guest,
        guest_nice: t.guest_nice,
    }
}

fn cpu(c: Cpu) -> pb::Cpu {
    pb::Cpu {
        total: c.total.map(times),
        per_core: c.per_core.into_iter().map(times).collect(),
        cores: c.cores,
        model: c.model,
        mhz: c.mhz,
    }
}

fn load(l: LoadAverage) -> pb::LoadAverage {
    pb::LoadAverage {
        one: l.one,
        five: l.five,
        fifteen: l.fifteen,
        runnable: l.runnable,
        entities: l.entities,
    }
}

fn memory(m: Memory) -> pb::Memory {
    pb::Memory {
        total_bytes: m.total_bytes,
        free_bytes: m.free_bytes,
        available_bytes: m.available_bytes,
        cached_bytes: m.cached_bytes,
        buffers_bytes: m.buffers_bytes,
        swap_total_bytes: m.swap_total_bytes,
        swap_free_bytes: m.swap_free_bytes,
    }
}

fn filesystem(f: Filesystem) -> pb::Filesystem {
    pb::Filesystem {
        mount_point: f.mount_point,
        device: f.device,
        fs_type: f.fs_type,
        total_bytes: f.total_bytes,
        free_bytes: f.free_bytes,
        available_bytes: f.available_bytes,
        used_bytes: f.used_bytes,
        inodes_total: f.inodes_total,
        inodes_free: f.inodes_free,
        read_only: f.read_only,
    }
}

fn interface(i: NetInterface) -> pb::NetInterface {
    pb::NetInterface {
        name: i.name,
        rx_bytes: i.rx_bytes,
        tx_bytes: i.tx_bytes,
        rx_packets: i.rx_packets,
        tx_packets: i.tx_packets,
        rx_errors: i.rx_errors,
        tx_errors: i.tx_errors,
        rx_dropped: i.rx_dropped,
        tx_dropped: i.tx_dropped,
    }
}

fn processes(p: ProcessCounts) -> pb::ProcessCounts {
    pb::ProcessCounts {
        total: p.total,
        running: p.running,
        sleeping: p.sleeping,
        disk_sleep: p.disk_sleep,
        stopped: p.stopped,
        zombie: p.zombie,
        idle: p.idle,
        other: p.other,
        threads: p.threads,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::collect::proc::ProcReader;

    fn fixture(name: &str) -> ProcReader {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/proc")
            .join(name);
        ProcReader::new(root.join("proc"), root.join("etc")).with_clock_ticks(100)
    }

    #[test]
    fn a_broken_host_reaches_the_wire_with_its_errors_and_what_it_could_read() {
        let pb = host_snapshot(fixture("broken").host_snapshot());
        let mut sections: Vec<_> = pb.errors.iter().map(|e| e.section.as_str()).collect();
        sections.sort_unstable();
        assert_eq!(
            sections,
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
        assert!(pb.errors.iter().all(|e| !e.message.is_empty()));
        let cpu = pb.cpu.unwrap();
        assert_eq!((cpu.total, cpu.cores), (None, 4));
        assert_eq!((pb.memory, pb.load), (None, None));
        assert_eq!((pb.boot_time_ms, pb.uptime_seconds), (0, 0.0));
        assert_eq!(pb.hostname, "broken-01");
        assert_eq!(pb.kernel_release, "");
        assert_eq!(pb.os_name, "Ubuntu 22.04.4 LTS");
        assert_eq!(pb.processes.unwrap().total, 1);
    }

    #[test]
    fn users_usage_keeps_order_and_figures() {
        let pb = users_usage(fixture("host").users_usage(&[1005, 4242]));
        assert_eq!(pb.clock_ticks_per_second, 100);
        // 107 (garbled Uid) and 108 (gone); 105 and 106 are uid 1001's, not asked for.
        assert_eq!(pb.skipped_processes, 2);
        let weird = &pb.users[0];
        assert_eq!(
            (
                weird.uid,
                weird.cpu_ticks,
                weird.cpu_time_ms,
                weird.rss_bytes
            ),
            (1005, 200, 2000, 10 * 1024 * 1024)
        );
        assert_eq!((weird.processes, weird.threads), (1, 3));
        assert_eq!(
            pb.users[1],
            pb::UserUsage {
                uid: 4242,
                ..Default::default()
            }
        );
    }
}
