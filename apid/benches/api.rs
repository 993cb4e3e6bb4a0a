//! REST throughput and server memory benchmark (`cargo bench -p twoine-apid --bench api`).
//!
//! The bench binary runs twice: as the *client* (what `cargo bench` starts) and, re-executed
//! with `TWOINE_BENCH_API_SERVER=1`, as the *server*, a separate process so that its memory is
//! apid's alone. The server is the real `http::app` router (release build, user cache as in the
//! daemon) over an embedded store in a temp dir seeded with the test world plus 98 sites (100
//! active sites, a service each), a published `LiveSnapshot` with the 100 site samples, and
//! beside it, on another port of the same runtime, a bare axum `GET /hello` → `ok`.
//!
//! 1. Memory: the client reads the server's `/proc/<pid>/status` (VmRSS, VmHWM) idle, after
//!    opening 1 000 WebSocket clients (admin, each subscribed to one of the 100 sites), and
//!    after one push (a new snapshot) reached all of them; then it closes them.
//! 2. Throughput: `wrk -t2 -c32 -d10s --latency` with the admin's bearer token, alternating
//!    bare, `/api/stats/server`, `/api/stats/sites`, twice, to cancel drift. It prints each
//!    route's requests/s, its share of the bare route's (target ≥ 50 %) and wrk's p99. A
//!    fourth target, the bare router's `GET /sites`, answers the bytes of a real
//!    `/api/stats/sites` response (about 50 KB) as a constant: the ceiling for that size.
//!
//! Needs `wrk` (Debian/Ubuntu: `apt-get install wrk`). `BENCH_SECS` changes the 10 s per run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/mod.rs"]
#[allow(dead_code, unused_imports)]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::api::{Backend, Options, TestApi, Who, alpha, alpha_web, beta, beta_api, oid};
use support::live::{running_unit, server_stats, service_live, site_stats};
use tokio_tungstenite::connect_async_with_config;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use twoine_apid::http::auth::USER_CACHE_TTL;
use twoine_apid::model::{Id, Timestamp};
use twoine_apid::poller::LiveSnapshot;

const ROLE_ENV: &str = "TWOINE_BENCH_API_SERVER";
const SITES: usize = 100;
const SOCKETS: usize = 1000;

fn main() {
    if std::env::var_os(ROLE_ENV).is_some() {
        server_main();
    } else {
        client_main();
    }
}

// ---------------------------------------------------------------- server process

/// The 100 active sites: `(site, name, service)`; alpha and beta come from the fixture.
fn sites() -> Vec<(Id, String, Id)> {
    let mut v = vec![
        (alpha(), "alpha".to_owned(), alpha_web()),
        (beta(), "beta".to_owned(), beta_api()),
    ];
    for i in 0..SITES as u32 - 2 {
        v.push((
            oid(1000 + i).parse().unwrap(),
            format!("s{i:03}"),
            oid(2000 + i).parse().unwrap(),
        ));
    }
    v
}

fn live(at: Timestamp) -> LiveSnapshot {
    let mut server = serde_json::to_value(server_stats(at, 37.5)).unwrap();
    server["totals"] = json!({"sites": SITES, "services": SITES, "users": 10,
                              "servicesRunning": SITES, "servicesStopped": 0});
    let sites = sites();
    LiveSnapshot {
        server: Some(serde_json::from_value(server).unwrap()),
        sites: sites
            .iter()
            .map(|(id, name, _)| site_stats(*id, name, at, 12.5))
            .collect(),
        services: sites
            .iter()
            .map(|(site, name, service)| {
                let unit = format!("twoine-{name}-web");
                let state = running_unit(&unit, at - chrono::Duration::hours(3), at);
                service_live(*service, *site, "web", &unit, Some(state))
            })
            .collect(),
        taken_at: Some(at),
        polls: 42,
        ..LiveSnapshot::default()
    }
}

fn server_main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    // Commands from the client on stdin; EOF (client gone) ends the process.
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
        std::process::exit(0);
    });
    rt.block_on(async move {
        let api = TestApi::start_with(Options {
            user_cache: USER_CACHE_TTL,
            ..Options::new(Backend::Embedded)
        })
        .await;
        for (id, name, service) in sites().into_iter().skip(2) {
            let n = 61100 + api_index(&name);
            let ports = 20000 + 10 * api_index(&name);
            api.import("sites", json!({
                "_id": {"$oid": id.to_string()}, "name": name, "displayName": name.to_uppercase(),
                "owner": {"$oid": Who::Admin.id().to_string()},
                "linuxUser": {"username": format!("site_{name}"), "uid": n, "gid": n},
                "paths": {"root": format!("/var/www/twoine/{name}"), "services": "", "logs": "", "data": "", "tmp": ""},
                "portRange": {"start": ports, "end": ports + 9},
                "status": "active",
                "resources": {"maxMemoryMB": 512, "maxCpuPercent": 100, "maxDiskMB": 1024},
                "__v": 0,
            }))
            .await;
            api.import("services", json!({
                "_id": {"$oid": service.to_string()}, "site": {"$oid": id.to_string()},
                "name": "web", "displayName": "WEB", "type": "node", "port": ports,
                "workingDir": format!("/var/www/twoine/{name}/web"),
                "systemd": {"serviceName": format!("twoine-{name}-web")},
                "status": {"current": "running", "desired": "running"},
                "resources": {"maxMemoryMB": 256, "maxCpuPercent": 50},
                "__v": 0,
            }))
            .await;
        }
        api.publish(live(Utc::now()));

        let bare = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let bare_url = format!("http://{}", bare.local_addr().unwrap());
        // The same bytes as a real `/api/stats/sites` answer, served as a constant: what
        // writing a response of that size costs, without building it.
        let (_, body) = api
            .get("/api/stats/sites", Some(&api.token(Who::Admin)))
            .await;
        let sites_body = axum::body::Bytes::from(body.to_string());
        let hello = axum::Router::new()
            .route("/hello", axum::routing::get(|| async { "ok" }))
            .route(
                "/sites",
                axum::routing::get(move || {
                    let b = sites_body.clone();
                    async move { ([("content-type", "application/json")], b) }
                }),
            );
        tokio::spawn(async move { axum::serve(bare, hello).await.unwrap() });

        let ready = json!({"api": api.url, "bare": bare_url, "token": api.token(Who::Admin)});
        let mut out = std::io::stdout().lock();
        writeln!(out, "{ready}").unwrap();
        out.flush().unwrap();
        drop(out);
        let mut round = 0;
        while let Some(cmd) = rx.recv().await {
            if cmd == "publish" {
                round += 1;
                api.publish(live(Utc::now() + chrono::Duration::seconds(round)));
            }
        }
    });
}

fn api_index(name: &str) -> u32 {
    name.trim_start_matches('s').parse().unwrap_or(0)
}

// ---------------------------------------------------------------- client process

/// `VmRSS` and `VmHWM` of `pid`, KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn client_main() {
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!(
            "wrk not found: this benchmark drives the API with wrk.\n\
             Install it (Debian/Ubuntu: `sudo apt-get install wrk`) and run again."
        );
        std::process::exit(1);
    }
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let mut server = Command::new(std::env::current_exe().unwrap())
        .env(ROLE_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = server.id();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: Value = serde_json::from_str(&line).expect("server ready line");
    let api = ready["api"].as_str().unwrap().to_owned();
    let bare = ready["bare"].as_str().unwrap().to_owned();
    let token = ready["token"].as_str().unwrap().to_owned();
    let mut stdin = server.stdin.take().unwrap();

    println!(
        "apid API benchmark, server pid {pid}, load average {}",
        loadavg()
    );
    println!("{SITES} active sites (+1 deleted) with a service each, embedded store");

    // 1. Memory with 1 000 sockets.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (idle, _) = memory(pid);
    let (with_sockets, push_time, after_push) = rt.block_on(sockets(&api, &token, pid, || {
        stdin.write_all(b"publish\n").unwrap();
        stdin.flush().unwrap();
    }));
    drop(rt);
    std::thread::sleep(Duration::from_millis(500));
    let (after_close, _) = memory(pid);
    println!("server memory (VmRSS of the server process only, read from /proc/{pid}/status):");
    println!("  idle, seeded, snapshot published: {}", mib(idle));
    println!(
        "  with {SOCKETS} WebSocket clients subscribed (one site each): {} (+{} KiB per socket)",
        mib(with_sockets),
        with_sockets.saturating_sub(idle) / SOCKETS as u64
    );
    println!(
        "  after one push reached all {SOCKETS} ({push_time:?}): {} (target ≤ 40 MB)",
        mib(after_push.0)
    );
    println!("  VmHWM so far: {}", mib(after_push.1));
    println!("  sockets closed: {}", mib(after_close));

    // 2. Throughput, alternating to cancel drift.
    let auth = format!("Authorization: Bearer {token}");
    let targets = [
        ("bare GET /hello", format!("{bare}/hello"), None),
        (
            "GET /api/stats/server",
            format!("{api}/api/stats/server"),
            Some(auth.as_str()),
        ),
        (
            "GET /api/stats/sites",
            format!("{api}/api/stats/sites"),
            Some(auth.as_str()),
        ),
        ("bare, constant sites body", format!("{bare}/sites"), None),
    ];
    for (_, url, header) in &targets {
        wrk(url, *header, 1); // warm-up
    }
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); targets.len()];
    for _ in 0..2 {
        for (i, (_, url, header)) in targets.iter().enumerate() {
            runs[i].push(wrk(url, *header, secs));
        }
    }
    let (after_http, hwm) = memory(pid);
    let load = loadavg();
    let mean = |r: &[Run]| r.iter().map(|r| r.rps).sum::<f64>() / r.len() as f64;
    let bare_rps = mean(&runs[0]);
    println!(
        "wrk -t2 -c32 -d{secs}s --latency, runs alternating bare/server/sites/constant, twice:"
    );
    for (i, (name, _, _)) in targets.iter().enumerate() {
        let r = &runs[i];
        println!(
            "  {name:<24} {:>9.0} req/s ({:.0} / {:.0}), p99 {:.2} / {:.2} ms{}",
            mean(r),
            r[0].rps,
            r[1].rps,
            r[0].p99_ms,
            r[1].p99_ms,
            if i == 0 {
                String::new()
            } else {
                format!(
                    ", {:.0} % of bare (target ≥ 50 %)",
                    100.0 * mean(r) / bare_rps
                )
            }
        );
    }
    println!(
        "  server after the HTTP runs: VmRSS {}, VmHWM {}; load average {load}",
        mib(after_http),
        mib(hwm)
    );
    drop(stdin);
    let _ = server.wait();
}

/// Opens the sockets; returns the server's VmRSS with them open, the time from `publish` to
/// the last socket's `siteStats`, and the server's (VmRSS, VmHWM) after that push.
async fn sockets(
    api: &str,
    token: &str,
    pid: u32,
    publish: impl FnOnce(),
) -> (u64, Duration, (u64, u64)) {
    let url = format!("{}/ws?token={token}", api.replacen("http://", "ws://", 1));
    let ids: Vec<Id> = sites().into_iter().map(|s| s.0).collect();
    let mut open = Vec::with_capacity(SOCKETS);
    for i in 0..SOCKETS {
        let config = WebSocketConfig::default()
            .read_buffer_size(8 * 1024)
            .write_buffer_size(0);
        let (mut ws, _) = connect_async_with_config(url.as_str(), Some(config), true)
            .await
            .unwrap();
        let connected = ws.next().await.unwrap().unwrap();
        assert!(connected.to_text().unwrap().contains("connected"));
        let sub = json!({"type": "subscribe", "channel": "site", "siteId": ids[i % SITES]});
        ws.send(Message::Text(sub.to_string().into()))
            .await
            .unwrap();
        // The reply, then possibly the current siteStats: read until "subscribed".
        loop {
            let msg = ws.next().await.unwrap().unwrap();
            if msg.to_text().unwrap().contains("\"subscribed\"") {
                break;
            }
        }
        open.push(ws);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (with_sockets, _) = memory(pid);

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let started = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for mut ws in open {
        let tx = tx.clone();
        let started = Arc::clone(&started);
        readers.push(tokio::spawn(async move {
            while let Some(Ok(msg)) = ws.next().await {
                if let Message::Text(t) = &msg
                    && started.load(std::sync::atomic::Ordering::SeqCst)
                    && t.contains("\"siteStats\"")
                {
                    let _ = tx.send(Instant::now());
                    break;
                }
            }
            let _ = ws.close(None).await;
        }));
    }
    drop(tx);
    tokio::time::sleep(Duration::from_millis(200)).await;
    started.store(true, std::sync::atomic::Ordering::SeqCst);
    let t0 = Instant::now();
    publish();
    let mut last = t0;
    for _ in 0..SOCKETS {
        last = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("every socket within 10 s")
            .unwrap();
    }
    let push_time = last.duration_since(t0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = memory(pid);
    for r in readers {
        let _ = r.await;
    }
    (with_sockets, push_time, after)
}

#[derive(Debug, Clone, Copy)]
struct Run {
    rps: f64,
    p99_ms: f64,
}

/// One wrk run; panics on errors or non-2xx answers (the figure would be meaningless).
fn wrk(url: &str, header: Option<&str>, secs: u64) -> Run {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c32", &format!("-d{secs}s"), "--latency"]);
    if let Some(h) = header {
        cmd.args(["-H", h]);
    }
    let out = cmd.arg(url).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wrk failed: {text}");
    assert!(
        !text.contains("Non-2xx"),
        "wrk saw failed requests on {url}:\n{text}"
    );
    if let Some(l) = text.lines().find(|l| l.contains("Socket errors")) {
        eprintln!("  warning, {url}: {}", l.trim());
    }
    let rps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk output:\n{text}"));
    let p99 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .map(|v| duration_ms(v.trim()))
        .unwrap_or_else(|| panic!("no 99% line in wrk output:\n{text}"));
    Run { rps, p99_ms: p99 }
}

/// wrk's `1.23ms` / `456.00us` / `1.02s` / `1.50m` in milliseconds.
fn duration_ms(v: &str) -> f64 {
    let split = v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len());
    let (n, unit) = v.split_at(split);
    let n: f64 = n.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => f64::NAN,
    }
}
