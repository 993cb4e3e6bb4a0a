//! Crash safety of the embedded store: a child process writing snapshots is killed with
//! SIGKILL; the file must then open, pass `PRAGMA integrity_check`, and hold every snapshot the
//! child reported committed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use chrono::{Duration, TimeZone, Utc};
use twoine_apid::model::*;
use twoine_apid::store::embedded::EmbeddedStore;
use twoine_apid::store::{SnapshotStore, Window};

const CHILD_ENV: &str = "TWOINE_APID_CRASH_CHILD_DB";

fn base() -> Timestamp {
    Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap()
}

fn sample(i: i64) -> ServerStats {
    ServerStats {
        cpu: Cpu {
            percent: (i % 100) as f64,
            cores: 2,
            model: "m".into(),
            speed: 1,
            load_avg: LoadAvg::default(),
        },
        memory: Memory {
            total: 1 << 32,
            available: 1 << 31,
            percent: 50.0,
            ..Memory::default()
        },
        disk: Disk {
            total: 1 << 40,
            used: 1 << 39,
            free: 1 << 39,
            percent: 50,
        },
        network: Network::default(),
        processes: Processes::default(),
        uptime: i as u64,
        totals: Totals::default(),
        system: SystemInfo {
            hostname: "crash".into(),
            ..SystemInfo::default()
        },
        timestamp: base() + Duration::seconds(i),
        max: None,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The child: only does something when re-executed by `kill_9_loses_at_most_the_in_flight_snapshot`.
#[test]
fn crash_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    runtime().block_on(async {
        let store = EmbeddedStore::open(std::path::Path::new(&path)).unwrap();
        for i in 0.. {
            store.insert_snapshot(Some(&sample(i)), &[]).await.unwrap();
            println!("committed {i}");
        }
    });
}

#[test]
fn kill_9_loses_at_most_the_in_flight_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("twoine.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut committed = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("committed ") {
            committed.push(n.parse::<i64>().unwrap());
            if committed.len() >= 300 {
                break;
            }
        }
    }
    // Child::kill sends SIGKILL on Unix: no destructor, no flush, no checkpoint.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child was killed, it did not finish");
    assert_eq!(committed.len(), 300, "the child reported 300 commits");

    runtime().block_on(async {
        let store = EmbeddedStore::open(&db).unwrap();
        store.integrity_check().await.unwrap();
        let last = *committed.last().unwrap();
        let w = Window {
            from: base(),
            to: base() + Duration::seconds(last + 1000),
        };
        let points = store.server_history(w, 1_000_000).await.unwrap();
        let stored: Vec<i64> = points
            .iter()
            .map(|p| (p.timestamp - base()).num_seconds())
            .collect();
        for i in &committed {
            assert!(stored.contains(i), "committed snapshot {i} is in the file");
        }
        // Commits are sequential: the file holds an unbroken prefix 0..=k, k ≥ the last reported
        // (the child may have committed a few more before the signal landed).
        let prefix: Vec<i64> = (0..stored.len() as i64).collect();
        assert_eq!(stored, prefix, "no hole, no torn row");
    });
}
