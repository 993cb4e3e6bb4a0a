//! A MongoDB-wire server for tests: `MONGODB_URI` if set, otherwise one SecantusDB per test
//! binary, started from `<repo>/.test-tools/venv/bin/secantusd-py` on a free loopback port.
//! Each test gets a fresh database name.
//!
//! The server never outlives the test binary: it runs under a small `sh` watchdog that reads
//! our end of a pipe and kills the server (and removes its data directory) as soon as that pipe
//! closes, which the kernel does when this process exits, however it exits (even SIGKILL).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The running server, kept for the whole test binary.
struct Server {
    uri: String,
    /// Held open: closing it (at exit) makes the watchdog kill the server.
    _lifeline: Option<Mutex<ChildStdin>>,
    _watchdog: Option<Mutex<Child>>,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

const INSTALL_HINT: &str = "no MongoDB-wire server for the tests: set MONGODB_URI, or run \
    `scripts/install-deps.sh test` (installs SecantusDB into .test-tools/venv)";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("apid has a parent directory")
        .to_path_buf()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Watchdog script: `$1` data dir, then the server command. Kills the server when stdin closes.
const WATCHDOG: &str = r#"dir="$1"; shift
"$@" >"$dir.log" 2>&1 &
pid=$!
cat >/dev/null
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
rm -rf "$dir" "$dir.log""#;

fn spawn_secantus() -> Result<Server, String> {
    let bin = repo_root().join(".test-tools/venv/bin/secantusd-py");
    if !bin.is_file() {
        return Err(format!("{INSTALL_HINT} ({} is missing)", bin.display()));
    }
    let dir = tempfile::Builder::new()
        .prefix("apid-secantus-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    let port = free_port();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG)
        .arg("watchdog")
        .arg(&dir)
        .arg(&bin)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--storage-path",
        ])
        .arg(&dir)
        .args(["--cache-size", "256M"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let stdin = child.stdin.take().ok_or("no stdin pipe")?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("SecantusDB exited at start: {status}"));
        }
        if Instant::now() > deadline {
            let mut log = String::new();
            let _ = std::fs::File::open(format!("{}.log", dir.display()))
                .and_then(|mut f| f.read_to_string(&mut log));
            drop(stdin);
            let _ = child.wait();
            return Err(format!(
                "SecantusDB did not listen on {addr} within 30 s: {log}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Server {
        uri: format!("mongodb://127.0.0.1:{port}/?directConnection=true"),
        _lifeline: Some(Mutex::new(stdin)),
        _watchdog: Some(Mutex::new(child)),
    })
}

fn server() -> &'static Server {
    let s = SERVER.get_or_init(|| match std::env::var("MONGODB_URI") {
        Ok(uri) if !uri.is_empty() => Ok(Server {
            uri,
            _lifeline: None,
            _watchdog: None,
        }),
        _ => spawn_secantus(),
    });
    match s {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

/// The server's URI (starting it if needed) and a database name no other test uses.
pub fn fresh_database() -> (String, String) {
    let s = server();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!("apid_test_{}_{n}", std::process::id());
    (s.uri.clone(), name)
}

/// A client connected to the test server and a fresh database (created on first write).
pub async fn fresh_db() -> mongodb::Database {
    let (uri, name) = fresh_database();
    let client = mongodb::Client::with_uri_str(&uri)
        .await
        .expect("a client for the test server");
    client.database(&name)
}
