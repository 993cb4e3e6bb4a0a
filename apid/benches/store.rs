//! Embedded store benchmark: bytes per snapshot, history query latency (24 h of 2 880
//! snapshots → 200 points), roll-up and prune cost.
//!
//! `cargo bench -p twoine-apid --bench store`

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use twoine_apid::model::*;
use twoine_apid::store::embedded::EmbeddedStore;
use twoine_apid::store::{Retention, SnapshotStore, StoreResult, Window};

fn server(ts: Timestamp, i: i64) -> ServerStats {
    ServerStats {
        cpu: Cpu {
            percent: (i * 37 % 1000) as f64 / 10.0,
            cores: 8,
            model: "AMD EPYC 7B13 64-Core Processor".into(),
            speed: 2450,
            load_avg: LoadAvg {
                one: 1.23,
                five: 0.98,
                fifteen: 0.75,
            },
        },
        memory: Memory {
            total: 16_663_027_712,
            used: 6_000_000_000 + (i as u64 * 4096),
            free: 2_000_000_000,
            available: 10_663_027_712 - (i as u64 * 4096),
            cached: 7_000_000_000,
            buffers: 300_000_000,
            percent: 36.2,
        },
        disk: Disk {
            total: 214_748_364_800,
            used: 80_000_000_000 + i as u64 * 100_000,
            free: 120_000_000_000,
            percent: 40,
        },
        network: Network {
            bytes_in: 9_876_543_210 + i as u64 * 1_500_000,
            bytes_out: 12_345_678_901 + i as u64 * 2_500_000,
            packets_in: 98_765_432 + i as u64 * 1200,
            packets_out: 87_654_321 + i as u64 * 1100,
        },
        processes: Processes {
            total: 312,
            running: 2,
            sleeping: 309,
            stopped: 1,
        },
        uptime: 1_234_567 + i as u64 * 30,
        totals: Totals {
            sites: 40,
            services: 95,
            users: 52,
            services_running: 90,
            services_stopped: 5,
        },
        system: SystemInfo {
            hostname: "web-01.example.org".into(),
            platform: "linux".into(),
            arch: "x64".into(),
            release: "6.8.0-60-generic".into(),
            kind: "Linux".into(),
        },
        timestamp: ts,
        max: None,
    }
}

fn site(ts: Timestamp, i: i64, n: u8) -> SiteStats {
    SiteStats {
        cpu: SiteCpu {
            percent: (i % 150) as f64 / 1.5,
            time_ms: 1_000_000 + i as u64 * 300,
        },
        memory: SiteMemory {
            used_bytes: 150_000_000 + i as u64 * 10,
            percent: 27.9,
            limit: 512,
        },
        disk: SiteDisk {
            used_bytes: 600_000_000,
            percent: 55.9,
            limit: 1024,
            file_count: 23_456,
        },
        services: ServiceCounts {
            total: 3,
            running: 3,
            stopped: 0,
            failed: 0,
        },
        site: SiteInfo {
            id: Id::from_bytes([n; 12]),
            name: format!("site{n}"),
            display_name: String::new(),
            status: SiteStatus::Active,
        },
        domains: vec![],
        ports: Ports::default(),
        limits: Limits {
            memory: 512,
            cpu: 100.0,
            disk: 1024,
        },
        timestamp: ts,
        max: None,
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn bytes_of(store: &EmbeddedStore, prefix: &str) -> StoreResult<u64> {
    Ok(store
        .table_bytes()
        .await?
        .iter()
        .filter(|(n, _)| n.starts_with(prefix))
        .map(|(_, b)| b)
        .sum())
}

async fn run() -> StoreResult<()> {
    let dir =
        tempfile::tempdir().map_err(|e| twoine_apid::store::StoreError::Internal(e.to_string()))?;
    let store = EmbeddedStore::open(&dir.path().join("bench.db"))?;
    let now = Utc
        .with_ymd_and_hms(2025, 6, 1, 12, 0, 0)
        .single()
        .unwrap_or_default();
    const SITES: u8 = 20;

    // 3 days at 30 s: 8 640 server samples and 20 sites each.
    let start = now - Duration::hours(72);
    let t0 = Instant::now();
    for i in 0..8640i64 {
        let ts = start + Duration::seconds(30 * i);
        let sites: Vec<SiteStats> = (1..=SITES).map(|n| site(ts, i, n)).collect();
        store.insert_snapshot(Some(&server(ts, i)), &sites).await?;
    }
    let insert = t0.elapsed();
    let server_bytes = bytes_of(&store, "server_stats").await? as f64 / 8640.0;
    let site_bytes = bytes_of(&store, "site_stats").await? as f64 / (8640.0 * f64::from(SITES));
    let json = serde_json::to_vec(&server(now, 1))
        .map(|v| v.len())
        .unwrap_or(0);
    println!(
        "insert: {:.3} ms per poll (server + {SITES} sites, one transaction)",
        insert.as_secs_f64() * 1000.0 / 8640.0
    );
    println!(
        "bytes per server snapshot: {server_bytes:.1} (table pages / rows; its JSON is {json} bytes)"
    );
    println!("bytes per site snapshot:   {site_bytes:.1}");

    let lat = |label: &'static str| (label, Vec::new());
    let mut runs = [lat("24 h raw, 2 880 → 200"), lat("1 h raw, 120 → 60")];
    for _ in 0..300 {
        for (k, (hours, limit)) in [(24u32, 200usize), (1, 60)].into_iter().enumerate() {
            let t = Instant::now();
            let points = store
                .server_history(Window::last_hours(now, hours), limit)
                .await?;
            runs[k].1.push(t.elapsed().as_secs_f64() * 1000.0);
            assert!(!points.is_empty() && points.len() <= limit);
        }
    }
    let t = Instant::now();
    let report = store.run_retention(now, 24).await?;
    let retention = t.elapsed();
    println!(
        "retention pass (first: roll up 3 days, prune 2 days of {SITES} sites + server): {:.1} ms — {report:?}",
        retention.as_secs_f64() * 1000.0
    );
    let t = Instant::now();
    let again = store.run_retention(now + Duration::minutes(5), 24).await?;
    println!(
        "retention pass (steady state, 5 min later): {:.1} ms — {again:?}",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let mut old = ("48 h–72 h ago from roll-ups → 200", Vec::new());
    let w = Window {
        from: now - Duration::hours(72),
        to: now - Duration::hours(48),
    };
    for _ in 0..300 {
        let t = Instant::now();
        let points = store.server_history(w, 200).await?;
        old.1.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(!points.is_empty());
    }
    let site_id = Id::from_bytes([1; 12]);
    let mut site_q = ("site, 24 h raw, 2 880 → 200", Vec::new());
    for _ in 0..300 {
        let t = Instant::now();
        store
            .site_history(site_id, Window::last_hours(now, 24), 200)
            .await?;
        site_q.1.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mut day = (0.0, 0.0);
    for (label, mut v) in runs.into_iter().chain([old, site_q]) {
        v.sort_by(f64::total_cmp);
        let (p50, p99) = (pct(&v, 0.5), pct(&v, 0.99));
        if day == (0.0, 0.0) {
            day = (p50, p99);
        }
        println!("history {label}: p50 {p50:.2} ms, p99 {p99:.2} ms");
    }
    let internal = |e: rusqlite::Error| twoine_apid::store::StoreError::Internal(e.to_string());
    let mut base = baseline_v1(&dir.path().join("baseline-v1.db"), now).map_err(internal)?;
    base.sort_by(f64::total_cmp);
    let (b50, b99) = (pct(&base, 0.5), pct(&base, 0.99));
    println!(
        "baseline, schema V1 GROUP BY query alone, 24 h raw, 2 880 → 200: p50 {b50:.2} ms, p99 {b99:.2} ms"
    );
    println!(
        "24 h history / baseline: p50 {:.2}×, p99 {:.2}×",
        day.0 / b50,
        day.1 / b99
    );
    match std::env::var("MONGODB_URI").ok().filter(|u| !u.is_empty()) {
        Some(uri) => mongo::run(&uri, now).await?,
        None => match mongo::Secantus::start().await {
            Ok(Some(server)) => {
                let done = mongo::run(&server.uri, now).await;
                server.stop();
                done?;
            }
            Ok(None) => println!("MongoDB: skipped (no MONGODB_URI, no .test-tools SecantusDB)"),
            Err(e) => println!("MongoDB: skipped ({e})"),
        },
    }
    Ok(())
}

/// Baseline, measured in the same run: the store's previous layout (schema V1, one INTEGER
/// column per field) and its history query (one `GROUP BY (ts - from) / width` with an
/// aggregate per column, which SQLite sorts through a temporary B-tree), on the same 3 days
/// of server samples. Returns the latencies of the 24 h → 200 query, ms.
fn baseline_v1(path: &std::path::Path, now: chrono::DateTime<Utc>) -> rusqlite::Result<Vec<f64>> {
    const COLS: &str = "host, cpu, load1, load5, load15, mem_free, mem_available, mem_cached, \
        mem_buffers, mem_pct, disk_used, disk_free, disk_pct, net_in, net_out, pkt_in, pkt_out, \
        proc_total, proc_running, proc_sleeping, proc_stopped, uptime, sites, services, users, \
        svc_running, svc_stopped";
    const LAST: [&str; 6] = ["host", "net_in", "net_out", "pkt_in", "pkt_out", "uptime"];
    let mut c = rusqlite::Connection::open(path)?;
    let names: Vec<&str> = COLS.split(',').map(str::trim).collect();
    let defs: Vec<String> = names.iter().map(|n| format!("{n} INTEGER")).collect();
    c.execute_batch(&format!(
        "CREATE TABLE server_stats (ts INTEGER PRIMARY KEY, {})",
        defs.join(", ")
    ))?;
    let start = now - Duration::hours(72);
    let tx = c.transaction()?;
    {
        let marks: Vec<String> = (1..=names.len() + 1).map(|i| format!("?{i}")).collect();
        let mut st = tx.prepare(&format!(
            "INSERT INTO server_stats (ts, {COLS}) VALUES ({})",
            marks.join(", ")
        ))?;
        for i in 0..8640i64 {
            let ts = start + Duration::seconds(30 * i);
            let s = server(ts, i);
            let t = |v: f64| (v * 10.0).round() as i64;
            let h = |v: f64| (v * 100.0).round() as i64;
            let n = |v: u64| v as i64;
            let vals: [i64; 28] = [
                ts.timestamp_millis(),
                1,
                t(s.cpu.percent),
                h(s.cpu.load_avg.one),
                h(s.cpu.load_avg.five),
                h(s.cpu.load_avg.fifteen),
                n(s.memory.free),
                n(s.memory.available),
                n(s.memory.cached),
                n(s.memory.buffers),
                t(s.memory.percent),
                n(s.disk.used),
                n(s.disk.free),
                i64::from(s.disk.percent),
                n(s.network.bytes_in),
                n(s.network.bytes_out),
                n(s.network.packets_in),
                n(s.network.packets_out),
                i64::from(s.processes.total),
                i64::from(s.processes.running),
                i64::from(s.processes.sleeping),
                i64::from(s.processes.stopped),
                n(s.uptime),
                i64::from(s.totals.sites),
                i64::from(s.totals.services),
                i64::from(s.totals.users),
                i64::from(s.totals.services_running),
                i64::from(s.totals.services_stopped),
            ];
            st.execute(rusqlite::params_from_iter(vals))?;
        }
    }
    tx.commit()?;
    let aggs: Vec<String> = names
        .iter()
        .map(|c| {
            if LAST.contains(c) {
                format!("MAX({c})")
            } else {
                format!("TOTAL({c})")
            }
        })
        .collect();
    let q = format!(
        "SELECT (ts - :from) / :width AS b, COUNT(*), TOTAL(ts), {}, MAX(cpu), MAX(mem_pct), \
         MAX(disk_pct) FROM server_stats WHERE ts >= :lo AND ts < :hi GROUP BY b",
        aggs.join(", ")
    );
    let to = now.timestamp_millis();
    let from = to - 24 * 3_600_000;
    let width = (to - from + 199) / 200;
    let mut out = Vec::new();
    for _ in 0..300 {
        let t = Instant::now();
        let mut st = c.prepare_cached(&q)?;
        let mut rows = st.query(rusqlite::named_params! {
            ":from": from, ":width": width, ":lo": from, ":hi": to
        })?;
        let mut points = Vec::new();
        while let Some(r) = rows.next()? {
            let mut vals = Vec::with_capacity(33);
            for i in 1..33 {
                vals.push(r.get::<_, Option<f64>>(i)?.unwrap_or(0.0));
            }
            points.push((r.get::<_, i64>(0)?, vals));
        }
        out.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(points.len(), 200);
    }
    Ok(out)
}

/// The same figures on the MongoDB store: `MONGODB_URI`, or a SecantusDB started from
/// `.test-tools/venv` as the tests do (its own port and storage directory, stopped at the end).
mod mongo {
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};
    use std::time::Instant;

    use chrono::Duration;
    use mongodb::bson::doc;
    use twoine_apid::model::Timestamp;
    use twoine_apid::store::mongo::MongoStore;
    use twoine_apid::store::{SnapshotStore, StoreError, StoreResult, Window};

    use super::{pct, server};

    fn internal(e: impl std::fmt::Display) -> StoreError {
        StoreError::Internal(e.to_string())
    }

    /// A SecantusDB process of our own.
    pub struct Secantus {
        pub uri: String,
        child: Child,
        _dir: tempfile::TempDir,
    }

    impl Secantus {
        /// Starts it when `.test-tools/venv/bin/secantusd-py` exists (`None` otherwise).
        pub async fn start() -> StoreResult<Option<Self>> {
            let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../.test-tools/venv/bin/secantusd-py");
            if !bin.is_file() {
                return Ok(None);
            }
            let dir = tempfile::tempdir().map_err(internal)?;
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(internal)?
                .port();
            let child = Command::new(&bin)
                .args([
                    "--host",
                    "127.0.0.1",
                    "--port",
                    &port.to_string(),
                    "--storage-path",
                ])
                .arg(dir.path())
                .args(["--cache-size", "256M", "--standalone"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(internal)?;
            let server = Self {
                uri: format!("mongodb://127.0.0.1:{port}/?directConnection=true"),
                child,
                _dir: dir,
            };
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            for _ in 0..300 {
                if TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(100)).is_ok()
                {
                    return Ok(Some(server));
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            server.stop();
            Err(internal("SecantusDB did not listen within 30 s"))
        }

        /// Kills it and waits for it.
        pub fn stop(mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// Bytes per server snapshot and the 24 h history latency, on a fresh database.
    pub async fn run(uri: &str, now: Timestamp) -> StoreResult<()> {
        let name = format!("twoine_bench_{}", std::process::id());
        let store = MongoStore::connect(uri, &name).await?;
        let start = now - Duration::hours(24);
        let t0 = Instant::now();
        for i in 0..2880i64 {
            let ts = start + Duration::seconds(30 * i);
            store.insert_snapshot(Some(&server(ts, i)), &[]).await?;
        }
        println!(
            "MongoDB ({uri}): insert {:.2} ms per server snapshot",
            t0.elapsed().as_secs_f64() * 1000.0 / 2880.0
        );
        let db = store.database();
        let stats = db.run_command(doc! { "collStats": "server_stats" }).await;
        match stats {
            Ok(d) => {
                let get = |k: &str| {
                    d.get(k)
                        .and_then(|v| {
                            v.as_f64()
                                .or_else(|| v.as_i64().map(|x| x as f64))
                                .or_else(|| v.as_i32().map(f64::from))
                        })
                        .unwrap_or(f64::NAN)
                };
                println!(
                    "MongoDB bytes per server snapshot: {:.1} (collStats size / count, BSON), \
                     {:.1} on disk (storageSize / count), avgObjSize {:.0}",
                    get("size") / get("count"),
                    get("storageSize") / get("count"),
                    get("avgObjSize")
                );
            }
            Err(e) => println!("MongoDB collStats unavailable: {e}"),
        }
        let mut lat = Vec::new();
        for _ in 0..60 {
            let t = Instant::now();
            let points = store
                .server_history(Window::last_hours(now, 24), 200)
                .await?;
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
            assert!(points.len() >= 190);
        }
        lat.sort_by(f64::total_cmp);
        println!(
            "MongoDB history 24 h raw, 2 880 → 200: p50 {:.2} ms, p99 {:.2} ms (60 runs)",
            pct(&lat, 0.5),
            pct(&lat, 0.99)
        );
        db.drop().await.map_err(internal)?;
        Ok(())
    }
}

fn main() {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run()) {
        eprintln!("bench failed: {e}");
        std::process::exit(1);
    }
}
