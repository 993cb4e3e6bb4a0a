//! Scan benchmark: our one-pass walk against `du -sb` + `find ROOT -type f | wc -l`, the two
//! processes Twoine ran per site, on a generated tree of 200 000+ files on a real disk and on
//! a real tree nobody here wrote (`~/.cargo/registry/src`). Warm cache (best of several runs)
//! and cold cache (`sync; echo 3 > /proc/sys/vm/drop_caches` before each side, root only).
//! The counts must be identical; the times are printed as ratios (baseline time / ours).
//!
//! `cargo bench -p twoine-agent --bench scan` (env `SCAN_BENCH_FILES` changes the tree size,
//! `SCAN_BENCH_KEEP=DIR` reuses or keeps a generated tree in DIR, `SCAN_BENCH_PROFILE=N` only
//! walks the generated tree N times, for `perf record`; `SCAN_BENCH_THREADS=N` overrides the
//! configured default of walker threads).

// Test code: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use twoine_agent::collect::walk::{DirMeasure, WalkLimits, walk_tree};

const WARM_RUNS: usize = 5;
const COLD_RUNS: usize = 3;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for the list of tests; there are none.
    }
    let files: usize = std::env::var("SCAN_BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let mut limits = WalkLimits::default();
    if let Some(n) = std::env::var("SCAN_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        limits.threads = n;
    }
    println!(
        "scan benchmark: {} walker threads, io priority {:?}, {} CPUs",
        limits.thread_count(),
        limits.io_priority,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let profile: Option<usize> = std::env::var("SCAN_BENCH_PROFILE")
        .ok()
        .and_then(|v| v.parse().ok());
    // Checked once, before the tree is generated: a cold run drops the caches again.
    let cold = match profile {
        Some(_) => Err("not measured in profile mode".to_string()),
        None => drop_caches().map_err(|e| e.to_string()),
    };
    if let Err(e) = &cold {
        println!("cold cache: unavailable ({e})");
    }

    let (_tmp, generated) = match std::env::var_os("SCAN_BENCH_KEEP") {
        Some(dir) => (None, PathBuf::from(dir)),
        None => {
            let tmp = tempfile::Builder::new()
                .prefix("twoine-scan-bench-")
                .tempdir_in("/var/tmp")
                .unwrap();
            let path = tmp.path().to_path_buf();
            (Some(tmp), path)
        }
    };
    if !generated.join(".complete").exists() {
        let t = Instant::now();
        generate(&generated, files);
        File::create(generated.join(".complete")).unwrap();
        println!(
            "generated {files} files in {} in {:.1?}",
            generated.display(),
            t.elapsed()
        );
    }
    if let Some(n) = profile {
        // Only our walk, `n` times: for `perf record`.
        let t = Instant::now();
        for _ in 0..n {
            walk_tree(&generated, &limits).unwrap();
        }
        println!("{n} walks in {:.1?}", t.elapsed());
        return;
    }
    bench("generated tree", &generated, &limits, cold.is_ok());

    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    match home.map(|h| h.join("registry/src")).filter(|p| p.is_dir()) {
        Some(registry) => bench("cargo registry sources", &registry, &limits, cold.is_ok()),
        None => println!("\n~/.cargo/registry/src: absent, skipped"),
    }
}

fn bench(name: &str, root: &Path, limits: &WalkLimits, cold: bool) {
    println!("\n== {name}: {}", root.display());
    let ours_once = walk_tree(root, limits).unwrap();
    let (du_bytes, find_files, _) = baseline(root);
    println!(
        "   {} bytes, {} files, {} directories, {} symlinks, {} other, {} errors",
        ours_once.apparent_bytes,
        ours_once.files,
        ours_once.directories,
        ours_once.symlinks,
        ours_once.other,
        ours_once.errors
    );
    assert_eq!(
        ours_once.apparent_bytes, du_bytes,
        "bytes differ from du -sb"
    );
    assert_eq!(
        ours_once.files, find_files,
        "files differ from find -type f | wc -l"
    );
    assert_eq!(ours_once.bound, None);
    println!("   counts identical to du -sb and find -type f | wc -l");

    let single = WalkLimits {
        threads: 1,
        ..limits.clone()
    };
    // Sides alternate run by run, so a drift of the machine hits both alike.
    let (mut ours_warm, mut ours_single, mut base_warm) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..WARM_RUNS {
        ours_warm.push(timed_walk(root, limits).1);
        ours_single.push(timed_walk(root, &single).1);
        base_warm.push(baseline(root).2);
    }
    let base_warm = best_baseline(&base_warm);
    report("warm", base_warm, best(&ours_warm), 3.0);
    let single = best(&ours_single);
    println!(
        "      (ours with 1 thread: {single:.1?}, ratio {:.2})",
        ratio(base_warm.total(), single)
    );
    if !cold {
        println!("   cold: unavailable");
        return;
    }
    let (mut ours_cold, mut base_cold) = (Vec::new(), Vec::new());
    for _ in 0..COLD_RUNS {
        drop_caches().unwrap();
        let (m, t) = timed_walk(root, limits);
        assert_eq!((m.apparent_bytes, m.files), (du_bytes, find_files));
        ours_cold.push(t);
        drop_caches().unwrap();
        base_cold.push(baseline(root).2);
    }
    report("cold", best_baseline(&base_cold), best(&ours_cold), 5.0);
}

/// Time of the baseline: `du`, then `find | wc -l`.
#[derive(Debug, Clone, Copy, Default)]
struct Time {
    du: Duration,
    find: Duration,
}

impl Time {
    fn total(&self) -> Duration {
        self.du + self.find
    }
}

fn report(what: &str, base: Time, ours: Duration, target: f64) {
    let base_total = base.total();
    let r = ratio(base_total, ours);
    let verdict = if r >= target { "meets" } else { "MISSES" };
    println!(
        "   {what}: du+find {base_total:.1?} (du {:.1?} + find {:.1?}), ours {ours:.1?}: ratio {r:.2} ({verdict} the {target}x target)",
        base.du, base.find
    );
}

fn ratio(base: Duration, ours: Duration) -> f64 {
    base.as_secs_f64() / ours.as_secs_f64().max(1e-9)
}

/// The fastest baseline run.
fn best_baseline(runs: &[Time]) -> Time {
    runs.iter()
        .copied()
        .min_by_key(Time::total)
        .unwrap_or_default()
}

/// The fastest of our runs.
fn best(runs: &[Duration]) -> Duration {
    runs.iter().copied().min().unwrap_or_default()
}

fn timed_walk(root: &Path, limits: &WalkLimits) -> (DirMeasure, Duration) {
    let t = Instant::now();
    let m = walk_tree(root, limits).unwrap();
    (m, t.elapsed())
}

/// `du -sb ROOT` then `find ROOT -type f | wc -l`, as Twoine ran them: results and total time.
fn baseline(root: &Path) -> (u64, u64, Time) {
    let t = Instant::now();
    let du = Command::new("du").arg("-sb").arg(root).output().unwrap();
    let du_time = t.elapsed();
    let t = Instant::now();
    let find = Command::new("sh")
        .args(["-c", "find \"$1\" -type f | wc -l", "sh"])
        .arg(root)
        .output()
        .unwrap();
    let elapsed = Time {
        du: du_time,
        find: t.elapsed(),
    };
    let first = |out: &[u8]| -> u64 {
        let text = String::from_utf8_lossy(out);
        text.split_whitespace()
            .next()
            .unwrap_or_default()
            .parse()
            .unwrap()
    };
    (first(&du.stdout), first(&find.stdout), elapsed)
}

fn drop_caches() -> std::io::Result<()> {
    rustix::fs::sync();
    fs::OpenOptions::new()
        .write(true)
        .open("/proc/sys/vm/drop_caches")?
        .write_all(b"3\n")
}

/// A site-like tree: 200 top directories, nested up to 6 deep, `files` regular files of
/// varied sizes (large ones sparse), hard links, symlinks, empty directories.
fn generate(root: &Path, files: usize) {
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let data = vec![b'z'; 4096];
    let per_dir = 40;
    let mut dir = PathBuf::new();
    let mut written = 0;
    for i in 0..files {
        if i % per_dir == 0 {
            let top = (i / per_dir) % 200;
            let depth = (next() % 6) as usize;
            dir = root.join(format!("site{top:03}"));
            for d in 0..depth {
                dir.push(format!("level{d}-{}", next() % 4));
            }
            dir.push(format!("batch{}", i / per_dir));
            fs::create_dir_all(&dir).unwrap();
            if next() % 10 == 0 {
                fs::create_dir_all(dir.join("empty")).unwrap();
            }
        }
        let path = dir.join(format!("file-{i}.dat"));
        let roll = next() % 100;
        let size = match roll {
            0..70 => next() % 512,
            70..98 => 512 + next() % 3584,
            _ => 4096 + next() % (4 << 20),
        } as usize;
        let mut f = File::create(&path).unwrap();
        if size <= data.len() {
            f.write_all(&data[..size]).unwrap();
            written += size;
        } else {
            f.set_len(size as u64).unwrap();
        }
        if i % 500 == 0 {
            fs::hard_link(&path, dir.join(format!("link-a-{i}"))).unwrap();
            fs::hard_link(&path, dir.join(format!("link-b-{i}"))).unwrap();
        }
        if i % 1000 == 0 {
            std::os::unix::fs::symlink(format!("file-{i}.dat"), dir.join(format!("sym-{i}")))
                .unwrap();
        }
    }
    println!("   wrote {} MB of file data", written >> 20);
}
