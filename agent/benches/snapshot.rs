//! Cost of one poll of the host: `host_snapshot()` + `users_usage()` of 100 uids, in CPU time
//! of this process (user + system: reading `/proc` is kernel work done on our behalf), beside
//! baselines measured in the same run:
//! - reading `/proc/stat` alone (the floor: one small proc file);
//! - `ps -e -o uid=,rss=,time=`, the shell-based way in one command (its own CPU + ours to
//!   spawn and read it);
//! - `ps -u <uid> -o rss=,time=`, the design document's way (one run per site user and poll),
//!   scaled to 100 users.
//!
//! `cargo bench -p twoine-agent --bench snapshot`. As root it first starts `EXTRA_PROCS`
//! (default 200) sleeping processes spread over uids 1000..1100, so the pass has site users
//! to find, as on a hosting server; they are killed at the end.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use rustix::time::{ClockId, clock_gettime};
use twoine_agent::collect::proc::ProcReader;

fn cpu_now() -> Duration {
    let t = clock_gettime(ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// CPU time of the waited-for children (`cutime + cstime` of `/proc/self/stat`).
fn children_cpu(ticks_per_second: u64) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let (_, rest) = stat
        .rsplit_once(") ")
        .context("no ')' in /proc/self/stat")?;
    let fields: Vec<&str> = rest.split(' ').collect();
    let field = |i: usize| -> anyhow::Result<u64> {
        Ok(fields.get(i).context("short /proc/self/stat")?.parse()?)
    };
    let ticks = field(13)? + field(14)?; // cutime, cstime
    Ok(Duration::from_secs_f64(
        ticks as f64 / ticks_per_second as f64,
    ))
}

struct Figure {
    cpu: Duration,
    wall: Duration,
}

fn measure(iterations: u32, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Figure> {
    f()?; // warm the page cache and the allocator
    let (cpu0, wall0) = (cpu_now(), Instant::now());
    for _ in 0..iterations {
        f()?;
    }
    Ok(Figure {
        cpu: (cpu_now() - cpu0) / iterations,
        wall: wall0.elapsed() / iterations,
    })
}

struct Sleepers(Vec<Child>);

impl Drop for Sleepers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn main() -> anyhow::Result<()> {
    let root = rustix::process::geteuid().is_root();
    let extra: u32 = std::env::var("EXTRA_PROCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let mut sleepers = Sleepers(Vec::new());
    for i in 0..if root { extra } else { 0 } {
        let uid = 1000 + i % 100;
        let child = Command::new("sleep")
            .arg("600")
            .uid(uid)
            .gid(uid)
            .stdin(Stdio::null())
            .spawn();
        sleepers.0.push(child.context("spawning sleep")?);
    }
    std::thread::sleep(Duration::from_millis(300));

    let reader = ProcReader::system();
    let tps = reader.clock_ticks_per_second();
    // 100 uids: the site users above, plus a few real system ones.
    let uids: Vec<u32> = (1000..1095).chain([0, 1, 33, 100, 65534]).collect();
    let snapshot = reader.host_snapshot();
    let processes = snapshot.processes.map_or(0, |p| p.total);
    let usage = reader.users_usage(&uids);
    let matched: u32 = usage.users.iter().map(|u| u.processes).sum();
    println!(
        "host: {} CPUs, {processes} processes ({matched} owned by the 100 uids), USER_HZ {tps}",
        snapshot.cpu.map_or(0, |c| c.cores)
    );

    let n = 200;
    let both = measure(n, || {
        std::hint::black_box(reader.host_snapshot());
        std::hint::black_box(reader.users_usage(&uids));
        Ok(())
    })?;
    let snap = measure(n, || {
        std::hint::black_box(reader.host_snapshot());
        Ok(())
    })?;
    let users = measure(n, || {
        std::hint::black_box(reader.users_usage(&uids));
        Ok(())
    })?;
    let stat = measure(n * 10, || {
        std::hint::black_box(std::fs::read("/proc/stat")?);
        Ok(())
    })?;

    let runs = 40;
    let mut ps_out = 0;
    let children0 = children_cpu(tps)?;
    let ps = measure(runs, || {
        let out = Command::new("ps")
            .args(["-e", "-o", "uid=,rss=,time="])
            .output()?;
        ensure!(out.status.success(), "ps failed: {:?}", out.status);
        ps_out = out.stdout.len();
        Ok(())
    })?;
    // The warm-up run is in the children's time too: divide by runs + 1.
    let ps_children = (children_cpu(tps)? - children0) / (runs + 1);
    let ps_cpu = ps.cpu + ps_children;
    ensure!(ps_out > 0, "ps printed nothing");

    // The design document's way: one `ps -u <user>` per site and poll.
    let children0 = children_cpu(tps)?;
    let ps_u = measure(runs, || {
        let out = Command::new("ps")
            .args(["-u", "1000", "-o", "rss=,time="])
            .output()?;
        // ps exits 1 when the user has no process: that is still a complete run.
        ensure!(out.status.code().is_some(), "ps killed: {:?}", out.status);
        Ok(())
    })?;
    let ps_u_cpu = ps_u.cpu + (children_cpu(tps)? - children0) / (runs + 1);

    println!("{:<48} {:>12} {:>12}", "per iteration", "CPU", "wall");
    let row = |what: &str, cpu: Duration, wall: Duration| {
        println!("{what:<48} {:>12} {:>12}", ms(cpu), ms(wall));
    };
    row("host_snapshot + users_usage(100 uids)", both.cpu, both.wall);
    row("  host_snapshot alone", snap.cpu, snap.wall);
    row("  users_usage(100 uids) alone", users.cpu, users.wall);
    row("baseline: read /proc/stat alone", stat.cpu, stat.wall);
    row(
        "baseline: ps -e -o uid=,rss=,time= (ps + spawn)",
        ps_cpu,
        ps.wall,
    );
    row(
        "baseline: ps -u <uid> -o rss=,time=, one user",
        ps_u_cpu,
        ps_u.wall,
    );
    row("  the same for 100 users", ps_u_cpu * 100, ps_u.wall * 100);
    println!(
        "ratio (snapshot + usage) / ps: {:.2} CPU, {:.2} wall",
        both.cpu.as_secs_f64() / ps_cpu.as_secs_f64(),
        both.wall.as_secs_f64() / ps.wall.as_secs_f64()
    );
    println!(
        "ratio users_usage / ps (the same three columns): {:.2} CPU",
        users.cpu.as_secs_f64() / ps_cpu.as_secs_f64()
    );
    println!(
        "ratio users_usage / (ps -u <uid>) x 100 users: {:.3} CPU",
        users.cpu.as_secs_f64() / (ps_u_cpu * 100).as_secs_f64()
    );
    println!(
        "ratio (snapshot + usage) / read /proc/stat: {:.0} CPU",
        both.cpu.as_secs_f64() / stat.cpu.as_secs_f64()
    );
    drop(sleepers);
    Ok(())
}
