//! WebSocket fan-out benchmark: 1 000 sockets subscribed to one site, the time from publishing
//! a poller state until every socket has its `siteStats` (target ≤ 100 ms), over a few rounds,
//! and the process RSS before and after opening them.
//!
//! `cargo bench -p twoine-apid --bench ws`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/mod.rs"]
#[allow(dead_code, unused_imports)]
mod support;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::api::{Backend, TestApi, Who, alpha, sample_live};
use tokio_tungstenite::connect_async_with_config;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const SOCKETS: usize = 1000;
const ROUNDS: usize = 5;

/// Resident set size of this process (client and server sides both live here), KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let api = TestApi::start(Backend::Embedded).await;
    let url = format!(
        "{}/ws?token={}",
        api.url.replacen("http://", "ws://", 1),
        api.token(Who::Collaborator)
    );
    let rss_before = rss_kib();
    let opened = Instant::now();
    let mut sockets = Vec::with_capacity(SOCKETS);
    for _ in 0..SOCKETS {
        // Small client buffers too, so the figure is mostly the server's.
        let config = WebSocketConfig::default()
            .read_buffer_size(8 * 1024)
            .write_buffer_size(0);
        let (mut ws, _) = connect_async_with_config(url.as_str(), Some(config), true)
            .await
            .unwrap();
        let _connected = ws.next().await.unwrap().unwrap();
        let sub = json!({"type": "subscribe", "channel": "site", "siteId": alpha()});
        ws.send(Message::Text(sub.to_string().into()))
            .await
            .unwrap();
        let reply = ws.next().await.unwrap().unwrap();
        assert!(reply.to_text().unwrap().contains("subscribed"));
        sockets.push(ws);
    }
    let open_time = opened.elapsed();
    assert_eq!(api.state.hub.connection_count(), SOCKETS);
    let rss_after = rss_kib();

    // One reader task per socket, reporting when its siteStats arrives.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    for mut ws in sockets {
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = ws.next().await {
                if let Message::Text(t) = msg {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == "siteStats" {
                        let _ = tx.send(Instant::now());
                    }
                }
            }
        });
    }
    drop(tx);

    let mut times = Vec::new();
    for round in 0..ROUNDS {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let at = chrono::Utc::now() + chrono::Duration::seconds(round as i64);
        let start = Instant::now();
        api.publish(sample_live(at));
        let mut last = start;
        for _ in 0..SOCKETS {
            last = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .expect("every socket within 10 s")
                .unwrap();
        }
        times.push(last.duration_since(start));
    }
    times.sort();
    println!("websocket fan-out, {SOCKETS} sockets subscribed to one site");
    println!(
        "  opening {SOCKETS} sockets (connect + subscribe, sequential): {:?}",
        open_time
    );
    println!(
        "  publish → all {SOCKETS} received siteStats: min {:?}, median {:?}, max {:?} (target ≤ 100 ms)",
        times[0],
        times[times.len() / 2],
        times[times.len() - 1]
    );
    println!(
        "  RSS (server and clients, one process): {} KiB before, {} KiB with {SOCKETS} sockets (+{} KiB, ~{} KiB per socket pair)",
        rss_before,
        rss_after,
        rss_after.saturating_sub(rss_before),
        rss_after.saturating_sub(rss_before) / SOCKETS as u64
    );
}
