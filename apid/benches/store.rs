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
    for (label, mut v) in runs.into_iter().chain([old, site_q]) {
        v.sort_by(f64::total_cmp);
        println!(
            "history {label}: p50 {:.2} ms, p99 {:.2} ms",
            pct(&v, 0.5),
            pct(&v, 0.99)
        );
    }
    Ok(())
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
