//! The daemon: in-process (`daemon::bind` + `serve`), and the real `twoine-apid serve`
//! process: health over real HTTP, SIGTERM → exit 0 within 5 s, refusals with exit code 2.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use twoine_apid::config::{Config, ENV_KEYS, Env};
use twoine_apid::daemon::{self, DaemonError};
use twoine_apid::http::auth::Secret;

const BIN: &str = env!("CARGO_BIN_EXE_twoine-apid");
const SECRET: &str = "daemon-test-secret-0123456789abcdef012345";

/// A configuration file in `dir` listening on `listen`.
fn write_config(dir: &Path, listen: &str) -> std::path::PathBuf {
    let path = dir.join("apid.toml");
    std::fs::write(
        &path,
        format!(
            "listen = \"{listen}\"\nsites_dir = \"{}\"\n[store]\npath = \"{}\"\n[agent]\nsocket = \"{}\"\n",
            dir.display(),
            dir.join("state/sub/apid.db").display(),
            dir.join("agent.sock").display()
        ),
    )
    .unwrap();
    path
}

/// A port free right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve_cmd(config: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve").arg("--config").arg(config);
    for k in ENV_KEYS {
        cmd.env_remove(k);
    }
    cmd.env_remove("NOTIFY_SOCKET")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

async fn health(base: &str) -> Option<serde_json::Value> {
    let r = reqwest::get(format!("{base}/api/health")).await.ok()?;
    (r.status() == 200).then_some(())?;
    r.json().await.ok()
}

/// Waits for the process to exit (polling, never blocking the runtime).
async fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

fn output_of(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_daemon_serves_health_and_stops_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "127.0.0.1:0");
    let mut config = Config::load(Some(&path), &Env::default()).unwrap();
    config.auth.jwt_secret = Some(Secret::new(SECRET));
    let d = daemon::bind(config).await.unwrap();
    assert!(
        dir.path().join("state/sub/apid.db").exists(),
        "store directory created"
    );
    let base = format!("http://{}", d.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(d.serve(async {
        let _ = stopped.await;
    }));
    let body = health(&base).await.expect("health answers");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["agent"]["connected"], false, "no agent here: {body}");
    // Unknown routes are JSON 404s; protected ones want a token.
    let r = reqwest::get(format!("{base}/api/stats/server"))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops within 5 s")
        .unwrap()
        .unwrap();
    assert!(
        reqwest::get(format!("{base}/api/health")).await.is_err(),
        "port closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "127.0.0.1:0");
    let config = Config::load(Some(&path), &Env::default()).unwrap();
    assert!(matches!(
        daemon::bind(config.clone()).await,
        Err(DaemonError::Config(
            twoine_apid::config::ConfigError::MissingSecret
        ))
    ));
    // A port already taken: a bind error naming the address.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut c = config;
    c.auth.jwt_secret = Some(Secret::new(SECRET));
    c.listen = taken.local_addr().unwrap();
    match daemon::bind(c).await {
        Err(e @ DaemonError::Bind { .. }) => {
            assert!(
                e.to_string()
                    .contains(&taken.local_addr().unwrap().to_string())
            )
        }
        other => panic!("expected a bind error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_process_answers_health_and_exits_0_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let path = write_config(dir.path(), &format!("127.0.0.1:{port}"));
    let mut child = serve_cmd(&path).env("JWT_SECRET", SECRET).spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    let body = loop {
        if let Some(b) = health(&base).await {
            break b;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("serve exited early ({status}): {}", output_of(child));
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no health after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(body["success"], true);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));

    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(5))
        .await
        .expect("exits within 5 s of SIGTERM");
    assert_eq!(status.code(), Some(0));
    let out = output_of(child);
    assert!(out.contains("SIGTERM"), "{out}");
    assert!(!out.contains(SECRET), "the secret never reaches the output");
}

#[test]
fn serve_without_a_secret_exits_2_with_the_hint() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &format!("127.0.0.1:{}", free_port()));
    let out = serve_cmd(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no JWT secret"), "{stderr}");
    assert!(stderr.contains("openssl rand -hex 32"), "{stderr}");
    assert!(stderr.contains("twoine-apid gen-secret"), "{stderr}");
    assert!(
        !dir.path().join("state").exists(),
        "nothing opened before the refusal"
    );
}

#[test]
fn serve_with_a_short_secret_exits_2_without_showing_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &format!("127.0.0.1:{}", free_port()));
    let short = "short-secret-abc";
    let out = serve_cmd(&path).env("JWT_SECRET", short).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let all =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(all.contains("at least 32"), "{all}");
    assert!(!all.contains(short), "{all}");
}

#[test]
fn serve_with_a_bad_config_exits_2_with_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("apid.toml");
    std::fs::write(&path, "listen = \"nowhere\"\n").unwrap();
    let out = serve_cmd(&path).env("JWT_SECRET", SECRET).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("listen") && stderr.contains("nowhere"),
        "{stderr}"
    );
    assert!(!stderr.contains(SECRET));
}
