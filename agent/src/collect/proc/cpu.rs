//! CPU figures: jiffies from `/proc/stat` (procfs-core's `KernelStats`), model and clock
//! from `/proc/cpuinfo` (procfs-core's `CpuInfo`).

use procfs_core::{CpuInfo, ExplicitSystemInfo, FromRead, FromReadSI, KernelStats};

use super::CpuTimes;

/// What `/proc/stat` gives: CPU times and the boot time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StatFigures {
    pub total: CpuTimes,
    pub per_core: Vec<CpuTimes>,
    /// Seconds since the epoch (`btime`).
    pub boot_time_secs: u64,
}

/// Parses a whole `/proc/stat`. Missing optional columns (old kernels) read as 0.
pub(crate) fn parse_stat(bytes: &[u8], ticks_per_second: u64) -> Result<StatFigures, String> {
    let info = ExplicitSystemInfo {
        boot_time_secs: 0,
        ticks_per_second,
        page_size: 4096,
        is_little_endian: cfg!(target_endian = "little"),
    };
    let stats = KernelStats::from_read(bytes, &info).map_err(|e| e.to_string())?;
    Ok(StatFigures {
        total: times(&stats.total),
        per_core: stats.cpu_time.iter().map(times).collect(),
        boot_time_secs: stats.btime,
    })
}

fn times(t: &procfs_core::CpuTime) -> CpuTimes {
    CpuTimes {
        user: t.user,
        nice: t.nice,
        system: t.system,
        idle: t.idle,
        iowait: t.iowait.unwrap_or(0),
        irq: t.irq.unwrap_or(0),
        softirq: t.softirq.unwrap_or(0),
        steal: t.steal.unwrap_or(0),
        guest: t.guest.unwrap_or(0),
        guest_nice: t.guest_nice.unwrap_or(0),
    }
}

/// What `/proc/cpuinfo` gives.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CpuInfoFigures {
    /// Entries with a `processor` line (online CPUs).
    pub processors: u32,
    pub model: String,
    /// Mean of the `cpu MHz` lines; 0 when there are none (most ARM kernels).
    pub mean_mhz: f64,
}

/// Fields that name the CPU model, in order of preference (x86, then other architectures).
const MODEL_FIELDS: [&str; 4] = ["model name", "cpu model", "Processor", "cpu"];

/// Parses a whole `/proc/cpuinfo`.
pub(crate) fn parse_cpuinfo(bytes: &[u8]) -> Result<CpuInfoFigures, String> {
    let info = CpuInfo::from_read(bytes).map_err(|e| e.to_string())?;
    let cpus = 0..info.num_cores();
    let processors = cpus
        .clone()
        .filter(|&i| info.get_field(i, "processor").is_some())
        .count();
    let model = MODEL_FIELDS
        .iter()
        .find_map(|field| info.get_field(0, field))
        .unwrap_or("")
        .to_owned();
    let mhz: Vec<f64> = cpus
        .filter_map(|i| info.get_field(i, "cpu MHz")?.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let mean_mhz = if mhz.is_empty() {
        0.0
    } else {
        mhz.iter().sum::<f64>() / mhz.len() as f64
    };
    Ok(CpuInfoFigures {
        processors: u32::try_from(processors).unwrap_or(u32::MAX),
        model,
        mean_mhz,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_gives_totals_per_core_times_and_boot_time() {
        let stat = b"cpu  10 1 20 300 4 5 6 7 8 9\ncpu0 5 1 10 150 2 3 3 4 4 5\n\
            cpu1 5 0 10 150 2 2 3 3 4 4\nintr 1 2\nctxt 99\nbtime 1700000000\n\
            processes 1234\nprocs_running 2\nprocs_blocked 0\n";
        let figures = parse_stat(stat, 100).unwrap();
        assert_eq!(figures.total.user, 10);
        assert_eq!(figures.total.guest_nice, 9);
        assert_eq!(figures.per_core.len(), 2);
        assert_eq!(figures.per_core[1].irq, 2);
        assert_eq!(figures.boot_time_secs, 1_700_000_000);
    }

    #[test]
    fn an_old_kernel_without_the_late_columns_reads_them_as_zero() {
        let stat = b"cpu  10 1 20 300\ncpu0 10 1 20 300\nctxt 1\nbtime 5\nprocesses 3\n";
        let figures = parse_stat(stat, 100).unwrap();
        assert_eq!(figures.total.idle, 300);
        assert_eq!(figures.total.steal, 0);
    }

    #[test]
    fn a_truncated_or_garbled_stat_is_an_error() {
        assert!(parse_stat(b"cpu  10 1 20 300 4 5 6 7 8 9\ncpu0 5 1", 100).is_err());
        assert!(parse_stat(b"", 100).is_err());
        assert!(parse_stat(b"cpu  1 x 2 3\nctxt 1\nbtime 5\nprocesses 3\n", 100).is_err());
    }

    #[test]
    fn cpuinfo_counts_processors_and_averages_the_clock() {
        let info = b"processor\t: 0\nmodel name\t: AMD EPYC 7763 64-Core Processor\n\
            cpu MHz\t\t: 2000.000\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7763 64-Core Processor\n\
            cpu MHz\t\t: 3000.500\n\n";
        let figures = parse_cpuinfo(info).unwrap();
        assert_eq!(figures.processors, 2);
        assert_eq!(figures.model, "AMD EPYC 7763 64-Core Processor");
        assert_eq!(figures.mean_mhz, 2500.25);
    }

    #[test]
    fn cpuinfo_with_one_cpu_and_no_clock() {
        // One CPU: every field is "common" to procfs-core, the count must still be 1.
        let figures = parse_cpuinfo(b"processor\t: 0\nmodel name\t: Neoverse\n").unwrap();
        assert_eq!(figures.processors, 1);
        assert_eq!(figures.model, "Neoverse");
        assert_eq!(figures.mean_mhz, 0.0);
        let empty = parse_cpuinfo(b"").unwrap();
        assert_eq!((empty.processors, empty.model.as_str()), (0, ""));
    }
}
