//! apid's poller on the MongoDB store when the database server dies: a real agent
//! in-process, a SecantusDB server of this test's own (fixed port, own storage directory,
//! `--standalone` as production's mongod), `kill -9` between polls, polls buffered while it
//! is away, the server restarted on the same port and storage, and then every snapshot is in
//! the database exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use mongodb::bson::{Document, doc};
use twoine_apid::agent::{AgentClient, AgentClientConfig};
use twoine_apid::model::{MonitoringConfig, Timestamp};
use twoine_apid::poller::{LiveSnapshot, Poller, PollerOptions};
use twoine_apid::store::mongo::MongoStore;

#[path = "support/poller.rs"]
mod support;
use support::{absent_systemd, seed, start_agent};

/// Runs the server in the background, writes its pid to `$2`, and kills it when our end of
/// stdin closes (the kernel closes it however this process ends), so it never outlives us.
const WATCHDOG: &str = r#"log="$1"; pidfile="$2"; shift 2
"$@" >>"$log" 2>&1 &
pid=$!
echo "$pid" >"$pidfile"
cat >/dev/null
kill -9 "$pid" 2>/dev/null"#;

/// One run of the server on `port` over `storage`.
struct Server {
    pid: i32,
    _lifeline: ChildStdin,
    watchdog: Child,
}

fn secantus_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../.test-tools/venv/bin/secantusd-py")
        .canonicalize()
        .expect(
            "SecantusDB is needed: `scripts/install-deps.sh test` installs it into .test-tools/venv",
        )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// Blocking: call it from `spawn_blocking`.
fn start_server(port: u16, storage: &Path) -> Server {
    let pidfile = storage.with_extension("pid");
    let _ = std::fs::remove_file(&pidfile);
    let log = storage.with_extension("log");
    let mut watchdog = Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG)
        .arg("watchdog")
        .arg(&log)
        .arg(&pidfile)
        .arg(secantus_bin())
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--standalone",
            "--cache-size",
            "128M",
            "--storage-path",
        ])
        .arg(storage)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let lifeline = watchdog.stdin.take().unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            let mut text = String::new();
            let _ = std::fs::File::open(&log).and_then(|mut f| f.read_to_string(&mut text));
            panic!("SecantusDB did not listen on {addr} within 30 s: {text}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    Server {
        pid,
        _lifeline: lifeline,
        watchdog,
    }
}

impl Server {
    /// `kill -9` the server itself (not the watchdog) and wait until the port is closed.
    fn kill9(mut self, port: u16) {
        let pid = rustix::process::Pid::from_raw(self.pid).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
        drop(self._lifeline);
        let _ = self.watchdog.wait();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            assert!(Instant::now() < deadline, "the killed server still listens");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

async fn count(store: &MongoStore, coll: &str) -> u64 {
    store
        .database()
        .collection::<Document>(coll)
        .count_documents(doc! {})
        .await
        .unwrap()
}

/// Until the (restarted) server answers this client, at most 30 s.
async fn wait_for(store: &MongoStore) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while store
        .database()
        .run_command(doc! { "ping": 1 })
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "the restarted server never answered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One poll at `at`; returns what it published.
async fn poll(
    poller: &mut Poller,
    live: &tokio::sync::watch::Receiver<Arc<LiveSnapshot>>,
    at: Timestamp,
) -> Arc<LiveSnapshot> {
    poller.poll_once(at).await;
    let snapshot = live.borrow().clone();
    assert!(snapshot.server.is_some(), "a server sample every poll");
    assert_eq!(snapshot.sites.len(), 1, "the site measured every poll");
    assert_eq!(snapshot.store_dropped, 0);
    snapshot
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_buffered_while_mongodb_is_killed_are_all_written_once_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let sites = dir.path().join("sites");
    let root = sites.join("demo");
    std::fs::create_dir_all(root.join("public")).unwrap();
    std::fs::write(root.join("public/index.html"), "<h1>demo</h1>").unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o750)).unwrap();
    let socket_path = run.join("agent.sock");
    let agent = start_agent(&socket_path, &sites, absent_systemd());

    let storage = dir.path().join("mongo-data");
    std::fs::create_dir(&storage).unwrap();
    let port = free_port();
    let s = storage.clone();
    let server = tokio::task::spawn_blocking(move || start_server(port, &s))
        .await
        .unwrap();
    // Short timeouts: an operation against the dead server fails in about a second.
    let uri = format!(
        "mongodb://127.0.0.1:{port}/?directConnection=true&serverSelectionTimeoutMS=1000\
         &connectTimeoutMS=1000&heartbeatFrequencyMS=500"
    );
    let store = Arc::new(MongoStore::connect(&uri, "twoine").await.unwrap());
    let site = seed(&*store, &root).await;

    let options = PollerOptions {
        prime_delay: Duration::from_millis(200),
        ..PollerOptions::default()
    };
    let client = AgentClient::new(AgentClientConfig::with_socket(&socket_path));
    let mut poller = Poller::new(client, store.clone(), MonitoringConfig::default(), options);
    let live = poller.outputs().live;
    // Injected times, 30 s apart, at the millisecond precision the store keeps.
    let t0 = twoine_apid::model::time::from_millis(Utc::now().timestamp_millis());
    let mut polls = 0i32;
    let mut next = || {
        polls += 1;
        t0 + chrono::Duration::seconds(30 * i64::from(polls))
    };

    // Up: three polls written at once.
    for _ in 0..3 {
        let l = poll(&mut poller, &live, next()).await;
        assert_eq!(l.store_pending, 0);
    }
    assert_eq!(count(&store, "server_stats").await, 3);
    assert_eq!(count(&store, "site_stats").await, 3);

    // Killed: each poll is buffered.
    let port_ = port;
    tokio::task::spawn_blocking(move || server.kill9(port_))
        .await
        .unwrap();
    const DOWN: usize = 4;
    for n in 1..=DOWN {
        let l = poll(&mut poller, &live, next()).await;
        assert_eq!(
            l.store_pending, n,
            "snapshots buffered while the server is away"
        );
    }

    // Restarted on the same port and storage: one more poll flushes everything, in order.
    let s = storage.clone();
    let server = tokio::task::spawn_blocking(move || start_server(port, &s))
        .await
        .unwrap();
    wait_for(&store).await;
    let l = poll(&mut poller, &live, next()).await;
    assert_eq!(l.store_pending, 0, "the buffer is flushed");
    assert_eq!(l.store_dropped, 0);

    let total = 3 + DOWN as u64 + 1;
    assert_eq!(
        count(&store, "server_stats").await,
        total,
        "every poll's server sample, none lost (those written before the kill survived it), none twice"
    );
    assert_eq!(count(&store, "site_stats").await, total);
    let site_docs = store
        .database()
        .collection::<Document>("site_stats")
        .count_documents(doc! { "site": mongodb::bson::oid::ObjectId::from_bytes(site.id.bytes()) })
        .await
        .unwrap();
    assert_eq!(site_docs, total, "each site sample is the seeded site's");
    // Every poll's time is there once (the buffered ones with the time they were taken).
    let times = store
        .database()
        .collection::<Document>("server_stats")
        .distinct("timestamp", doc! {})
        .await
        .unwrap();
    assert_eq!(times.len() as u64, total, "one sample per poll time");

    agent.stop().await;
    tokio::task::spawn_blocking(move || server.kill9(port))
        .await
        .unwrap();
}
