//! `kill -9` of the real `twoine-apid serve` in the middle of a burst of acknowledged writes
//! (`PUT /api/stats/config` with increasing intervals) while its poller polls a real agent:
//! the embedded store passes `integrity_check`, holds the last acknowledged value or the
//! in-flight one (never older), and apid restarted on the same file serves with health ok.
//!
//! Needs the binary built first (`cargo build -p twoine-apid --bins`; `scripts/test.sh` does).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use twoine_apid::http::auth::{JwtKeys, Secret, TokenKind};
use twoine_apid::model::{Id, Role, User, UserStatus};
use twoine_apid::store::embedded::EmbeddedStore;
use twoine_apid::store::{ConfigStore, PanelWrite, SnapshotStore};

#[path = "support/poller.rs"]
mod support;
use support::{absent_systemd, seed, start_agent};

const SECRET: &str = "crash-test-secret-0123456789abcdef0123456789";
/// The first interval written; each write adds one (10–300 allowed).
const FIRST: u32 = 11;
/// Kill once this many writes were acknowledged.
const KILL_AFTER: u32 = 40;

/// `target/debug/twoine-apid`, next to this test's own `target/debug/deps/` directory.
fn apid_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = dir.join("twoine-apid");
    assert!(
        bin.is_file(),
        "{} is missing: build it before this test (cargo build -p twoine-apid --bins; \
         scripts/test.sh does)",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_apid(config: &Path) -> Child {
    let mut cmd = Command::new(apid_binary());
    cmd.arg("serve").arg("--config").arg(config);
    for k in twoine_apid::config::ENV_KEYS {
        cmd.env_remove(k);
    }
    cmd.env("JWT_SECRET", SECRET)
        .env_remove("NOTIFY_SOCKET")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

async fn wait_healthy(base: &str, child: &mut Child) -> Value {
    let start = Instant::now();
    loop {
        if let Ok(r) = reqwest::get(format!("{base}/api/health")).await
            && r.status() == 200
        {
            return r.json().await.unwrap();
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("apid exited early: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "apid not healthy in 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn admin() -> User {
    User {
        id: Id::generate(),
        username: "admin".into(),
        email: "admin@example.test".into(),
        password_hash: None,
        role: Role::Admin,
        status: UserStatus::Active,
        sites: Vec::new(),
        failed_login_attempts: 0,
        lock_until: None,
        last_login_at: None,
        must_change_password: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_keeps_the_store_intact_and_the_last_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let sites = dir.path().join("sites");
    let site_root = sites.join("demo");
    std::fs::create_dir_all(site_root.join("public")).unwrap();
    std::fs::write(site_root.join("public/index.html"), "<h1>demo</h1>").unwrap();
    let socket = dir.path().join("agent.sock");
    let agent = start_agent(&socket, &sites, absent_systemd());

    let db = dir.path().join("state/apid.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let admin = admin();
    {
        let store = EmbeddedStore::open(&db).unwrap();
        store.create_user(&admin).await.unwrap();
        seed(&store, &site_root).await;
    }
    let token = JwtKeys::new(
        &Secret::new(SECRET),
        Duration::from_secs(3600),
        Duration::from_secs(7200),
    )
    .issue(&admin, TokenKind::Access, chrono::Utc::now().timestamp())
    .unwrap();

    let port = free_port();
    let config = dir.path().join("apid.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\nsites_dir = \"{}\"\n[store]\npath = \"{}\"\n\
             [agent]\nsocket = \"{}\"\n",
            sites.display(),
            db.display(),
            socket.display()
        ),
    )
    .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut apid = spawn_apid(&config);
    wait_healthy(&base, &mut apid).await;

    // The burst: one write at a time, each acknowledged before the next.
    let acked = Arc::new(AtomicU32::new(0));
    let sent = Arc::new(AtomicU32::new(0));
    let writer = {
        let (acked, sent, base, token) = (acked.clone(), sent.clone(), base.clone(), token.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            for interval in FIRST..=300 {
                sent.store(interval, Ordering::SeqCst);
                let r = client
                    .put(format!("{base}/api/stats/config"))
                    .bearer_auth(&token)
                    .json(&json!({ "collectionInterval": interval }))
                    .send()
                    .await;
                let Ok(r) = r else { return };
                if r.status() != 200 {
                    return;
                }
                let body: Value = match r.json().await {
                    Ok(b) => b,
                    Err(_) => return,
                };
                assert_eq!(body["data"]["collectionInterval"], interval, "{body}");
                acked.store(interval, Ordering::SeqCst);
                // Stretch the burst over the first poll (primed: about a second).
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        })
    };
    // Kill once the poller has stored a snapshot during the burst and enough writes were
    // acknowledged.
    let start = Instant::now();
    let mut polled = false;
    while !polled || acked.load(Ordering::SeqCst) < FIRST + KILL_AFTER {
        assert!(!writer.is_finished(), "the burst stopped before the kill");
        assert!(start.elapsed() < Duration::from_secs(30), "burst too slow");
        if !polled && let Ok(r) = reqwest::get(format!("{base}/api/health")).await {
            let h: Value = r.json().await.unwrap();
            polled = h["poller"]["lastPoll"].is_string();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    apid.kill().unwrap(); // SIGKILL
    apid.wait().unwrap();
    let last_acked = acked.load(Ordering::SeqCst);
    let in_flight = sent.load(Ordering::SeqCst);
    writer.await.unwrap();
    let last_acked = last_acked.max(acked.load(Ordering::SeqCst));
    assert!(last_acked >= FIRST + KILL_AFTER);

    {
        let store = EmbeddedStore::open(&db).unwrap();
        store
            .integrity_check()
            .await
            .expect("integrity_check passes");
        assert!(
            store.latest_server_stats().await.unwrap().is_some(),
            "the poller's snapshot is stored"
        );
        let stored = store.config().await.unwrap().collection_interval;
        assert!(
            stored == last_acked || stored == in_flight,
            "stored {stored}: the last acknowledged value is {last_acked}, in flight {in_flight}"
        );
    }

    // Restarted on the same file: it serves, its health is ok, and it reads the same value.
    let mut apid = spawn_apid(&config);
    let health = wait_healthy(&base, &mut apid).await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["store"]["connected"], true, "{health}");
    let r = reqwest::Client::new()
        .get(format!("{base}/api/stats/config"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let served = body["data"]["collectionInterval"].as_u64().unwrap() as u32;
    assert!(served == last_acked || served == in_flight, "{body}");

    let pid = rustix::process::Pid::from_raw(apid.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = apid.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no exit within 5 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(0));
    agent.stop().await;
}
