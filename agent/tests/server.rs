//! The agent's gRPC server in-process on a temp socket, called by real clients: the library
//! client over the Unix socket, and the `twoine-agent ctl` binary as another uid.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/fake_systemd.rs"]
#[allow(dead_code)]
mod fake_systemd;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;
use tokio::sync::oneshot;
use tonic::Code;
use twoine_agent::collect::proc::ProcReader;
use twoine_agent::collect::systemd::Systemd;
use twoine_agent::collect::walk::Scanner;
use twoine_agent::config::{LimitsConfig, ScanConfig, SystemdConfig};
use twoine_agent::server::{Access, AgentService, serve, socket};
use twoine_proto::v1 as pb;

const NOBODY: u32 = 65534;

struct TestAgent {
    _dir: TempDir,
    socket: PathBuf,
    sites: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestAgent {
    async fn start(access: Access, systemd: Systemd, limits: LimitsConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Traversable by the unprivileged child of `refuses_a_caller_not_in_the_allow_list`.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let sites = dir.path().join("sites");
        std::fs::create_dir_all(sites.join("demo/public")).unwrap();
        std::fs::write(sites.join("demo/public/index.html"), "<h1>hi</h1>").unwrap();
        std::fs::write(sites.join("demo/app.js"), "console.log(1)").unwrap();
        let run = dir.path().join("run");
        std::fs::create_dir(&run).unwrap();
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
        let socket = run.join("agent.sock");
        // 0666 so the test can prove that the uid check, not the file mode, refuses a caller.
        let listener = socket::bind(&socket, 0o666, None).unwrap();
        let scanner = Scanner::new(&sites, ScanConfig::default()).unwrap();
        let service = AgentService::new(
            access,
            ProcReader::system(),
            scanner,
            systemd,
            limits.clone(),
        );
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            serve(listener, service, &limits, async {
                let _ = stopped.await;
            })
            .await
        });
        Self {
            _dir: dir,
            socket,
            sites,
            stop: Some(stop),
            task,
        }
    }

    fn client(&self) -> pb::agent_client::AgentClient<tonic::transport::Channel> {
        twoine_agent::ctl::client(&self.socket).unwrap()
    }

    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.unwrap().unwrap();
    }
}

fn me() -> (u32, u32) {
    (
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    )
}

fn everyone_like_me() -> Access {
    let (uid, _) = me();
    Access::from_ids([uid], [], [uid], [])
}

/// No systemd at all: a bus address nobody listens on.
fn absent_systemd() -> Systemd {
    Systemd::new(&SystemdConfig {
        bus_address: Some("unix:path=/nonexistent/twoine-test-bus".into()),
        ..SystemdConfig::default()
    })
}

#[tokio::test]
async fn allowed_caller_gets_a_host_snapshot_and_usage() {
    let agent = TestAgent::start(
        everyone_like_me(),
        absent_systemd(),
        LimitsConfig::default(),
    )
    .await;
    let mut client = agent.client();
    let snap = client
        .host_snapshot(pb::HostSnapshotRequest {})
        .await
        .unwrap()
        .into_inner();
    let expected_host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(snap.hostname, expected_host.trim());
    let cpu = snap.cpu.expect("cpu section");
    assert!(cpu.cores >= 1);
    assert!(snap.memory.expect("memory section").total_bytes > 0);
    assert!(snap.root_fs.expect("root fs").total_bytes > 0);

    let (uid, _) = me();
    let usage = client
        .users_usage(pb::UsersUsageRequest { uids: vec![uid] })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(usage.users.len(), 1);
    assert_eq!(usage.users[0].uid, uid);
    assert!(
        usage.users[0].processes >= 1,
        "this test process runs as {uid}"
    );
    agent.shutdown().await;
}

#[tokio::test]
async fn refuses_a_caller_not_in_the_allow_list() {
    let (uid, _) = me();
    assert_eq!(uid, 0, "this test needs root to run a child as nobody");
    let agent = TestAgent::start(
        everyone_like_me(),
        absent_systemd(),
        LimitsConfig::default(),
    )
    .await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_twoine-agent"))
        .args(["ctl", "--socket"])
        .arg(&agent.socket)
        .arg("snapshot")
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "nobody got an answer: {stderr}");
    assert!(out.stdout.is_empty(), "nobody got output");
    assert!(
        stderr.contains("permission denied") && stderr.contains("uid 65534"),
        "{stderr}"
    );
    // The same binary as an allowed uid gets the snapshot.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_twoine-agent"))
        .args(["ctl", "--socket"])
        .arg(&agent.socket)
        .arg("snapshot")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json["memory"]["total_bytes"].as_u64().unwrap() > 0);
    agent.shutdown().await;
}

#[tokio::test]
async fn readers_may_not_control_units() {
    let (uid, _) = me();
    let read_only = Access::from_ids([uid], [], [], []);
    let agent = TestAgent::start(read_only, absent_systemd(), LimitsConfig::default()).await;
    let mut client = agent.client();
    for result in [
        client
            .start_unit(pb::UnitActionRequest {
                name: "twoine-demo-web".into(),
            })
            .await,
        client
            .stop_unit(pb::UnitActionRequest {
                name: "twoine-demo-web".into(),
            })
            .await,
        client
            .restart_unit(pb::UnitActionRequest {
                name: "twoine-demo-web".into(),
            })
            .await,
    ] {
        let status = result.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
    // Reading is still allowed.
    client
        .host_snapshot(pb::HostSnapshotRequest {})
        .await
        .unwrap();
    agent.shutdown().await;
}

#[tokio::test]
async fn bad_unit_names_are_refused_before_systemd_is_asked() {
    let agent = TestAgent::start(
        everyone_like_me(),
        absent_systemd(),
        LimitsConfig::default(),
    )
    .await;
    let mut client = agent.client();
    for name in [
        "twoine-api",
        "twoine-agent",
        "sshd.service",
        "twoine-demo-web.socket",
        "../../etc/passwd",
        "twoine-demo-web;reboot",
    ] {
        let status = client
            .stop_unit(pb::UnitActionRequest { name: name.into() })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{name}: {status:?}");
        assert!(
            status.message().contains("twoine-<site>-<service>"),
            "{status:?}"
        );
        let status = client
            .unit_details(pb::UnitDetailsRequest {
                names: vec!["twoine-demo-web".into(), name.into()],
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{name}: {status:?}");
        let status = client
            .watch_units(pb::WatchUnitsRequest {
                names: vec![name.into()],
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{name}: {status:?}");
    }
    // A valid name with systemd absent: a clear "unavailable", not a hang or a crash.
    let status = client
        .unit_details(pb::UnitDetailsRequest {
            names: vec!["twoine-demo-web".into()],
        })
        .await;
    match status {
        Ok(resp) => {
            let unit = &resp.get_ref().units[0];
            assert!(!unit.error.is_empty(), "{unit:?}");
        }
        Err(status) => assert_eq!(status.code(), Code::Unavailable, "{status:?}"),
    }
    let status = client
        .list_units(pb::ListUnitsRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    agent.shutdown().await;
}

fn error_kind(m: &pb::DirMeasure) -> &str {
    m.error.as_ref().map(|e| e.kind.as_str()).unwrap_or("")
}

#[tokio::test]
async fn scans_site_roots_and_refuses_escaping_ones() {
    let agent = TestAgent::start(
        everyone_like_me(),
        absent_systemd(),
        LimitsConfig::default(),
    )
    .await;
    let sites = agent.sites.clone();
    std::os::unix::fs::symlink("/etc", sites.join("etc-link")).unwrap();
    std::os::unix::fs::symlink(sites.join("loop-b"), sites.join("loop-a")).unwrap();
    std::os::unix::fs::symlink(sites.join("loop-a"), sites.join("loop-b")).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let roots = vec![
        s(&sites.join("demo")),
        s(&sites.join("demo/../../")),
        s(&sites.join("etc-link")),
        s(&sites.join("loop-a")),
        "/etc".to_string(),
        "relative/path".to_string(),
        s(&sites),
    ];
    let resp = agent
        .client()
        .measure_dirs(pb::MeasureDirsRequest {
            roots: roots.clone(),
            max_age_seconds: 0,
            force: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.measures.len(), roots.len());
    for (m, root) in resp.measures.iter().zip(&roots) {
        assert_eq!(&m.root, root);
    }
    let demo = &resp.measures[0];
    assert!(demo.error.is_none(), "{demo:?}");
    assert_eq!(demo.files, 2);
    assert_eq!(demo.directories, 2);
    assert!(demo.apparent_bytes >= 11 + 14, "{demo:?}");
    for m in &resp.measures[1..] {
        assert!(m.error.is_some(), "{} was measured: {m:?}", m.root);
        assert_eq!(m.files, 0);
        assert_eq!(m.apparent_bytes, 0);
    }
    assert_eq!(error_kind(&resp.measures[1]), "outside_sites_dir");
    assert_eq!(error_kind(&resp.measures[2]), "outside_sites_dir");
    assert!(
        ["invalid", "io"].contains(&error_kind(&resp.measures[3])),
        "symlink loop: {:?}",
        resp.measures[3]
    );
    assert_eq!(error_kind(&resp.measures[4]), "outside_sites_dir");
    assert_eq!(error_kind(&resp.measures[5]), "invalid");
    assert_eq!(error_kind(&resp.measures[6]), "outside_sites_dir");
    agent.shutdown().await;
}

#[tokio::test]
async fn oversized_requests_are_refused() {
    let limits = LimitsConfig {
        max_list_len: 100,
        max_message_bytes: 64 * 1024,
        ..LimitsConfig::default()
    };
    let agent = TestAgent::start(everyone_like_me(), absent_systemd(), limits).await;
    let mut client = agent.client();
    let status = client
        .users_usage(pb::UsersUsageRequest {
            uids: (0..101).collect(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("too many uids"), "{status:?}");
    let huge = "/x".repeat(50 * 1024);
    let status = client
        .measure_dirs(pb::MeasureDirsRequest {
            roots: vec![huge],
            max_age_seconds: 0,
            force: false,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            status.code(),
            Code::OutOfRange | Code::ResourceExhausted | Code::InvalidArgument
        ),
        "{status:?}"
    );
    agent.shutdown().await;
}

#[test]
fn the_daemon_binds_notifies_and_cleans_up_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let sites = dir.path().join("sites");
    std::fs::create_dir(&sites).unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o750)).unwrap();
    let socket = run.join("agent.sock");
    let (uid, gid) = me();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "sites_dir = {sites:?}\nsocket = {socket:?}\nsocket_group = {gid}\n\
             [access]\nread_users = [{uid}]\nread_groups = []\ncontrol_users = []\ncontrol_groups = []\n\
             [systemd]\nbus_address = \"unix:path=/nonexistent/bus\"\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    // A notify socket of our own stands in for systemd: READY=1 must come once the socket is bound.
    let notify_path = dir.path().join("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_twoine-agent"))
        .args(["run", "--config"])
        .arg(&config)
        .env("NOTIFY_SOCKET", &notify_path)
        .spawn()
        .unwrap();
    let mut buf = [0u8; 256];
    let n = notify.recv(&mut buf).unwrap();
    let msg = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(msg.contains("READY=1"), "{msg}");
    let meta = std::fs::metadata(&socket).expect("socket bound before READY=1");
    assert_eq!(std::os::unix::fs::MetadataExt::mode(&meta) & 0o777, 0o660);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!socket.exists(), "socket left behind after SIGTERM");
}

#[test]
fn validate_reports_bad_configurations() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(&config, "sites_dir = \"/srv/www\"\nsurprise = 1\n").unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_twoine-agent"))
        .args(["validate", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown field") && stderr.contains("surprise"),
        "{stderr}"
    );
}

#[test]
fn shipped_example_config_is_valid() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("agent.example.toml");
    let text = std::fs::read_to_string(&example).unwrap();
    let config = twoine_agent::config::Config::parse(&text).unwrap();
    assert_eq!(
        config,
        twoine_agent::config::Config::default(),
        "the example documents the defaults"
    );
}

/// Units through the whole gRPC path, with systemd played by the in-process fake.
#[tokio::test]
async fn units_are_listed_controlled_and_watched_over_grpc() {
    use fake_systemd::{FakeSystemd, UnitSpec};
    use futures_util::StreamExt;
    let (fake, conn) = FakeSystemd::p2p(vec![
        UnitSpec::running("twoine-demo-web.service").user("site_demo"),
        UnitSpec::running("twoine-api.service"),
    ])
    .await
    .unwrap();
    let systemd = Systemd::with_connection(conn, &SystemdConfig::default());
    let agent = TestAgent::start(everyone_like_me(), systemd, LimitsConfig::default()).await;
    let mut client = agent.client();

    let units = client
        .list_units(pb::ListUnitsRequest {})
        .await
        .unwrap()
        .into_inner()
        .units;
    let web = units
        .iter()
        .find(|u| u.name == "twoine-demo-web.service")
        .expect("site unit listed");
    assert_eq!(
        (web.active_state.as_str(), web.sub_state.as_str()),
        ("active", "running")
    );

    let stopped = client
        .stop_unit(pb::UnitActionRequest {
            name: "twoine-demo-web".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stopped.job_result, "done");
    let unit = stopped.unit.expect("unit after stop");
    assert_eq!(unit.active_state, "inactive");
    assert_eq!(unit.main_pid, None, "a stopped unit has no PID");

    let started = client
        .start_unit(pb::UnitActionRequest {
            name: "twoine-demo-web.service".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let unit = started.unit.expect("unit after start");
    assert_eq!(unit.active_state, "active");
    assert!(unit.main_pid.is_some());
    assert_eq!(unit.user, "site_demo");

    let mut events = client
        .watch_units(pb::WatchUnitsRequest { names: vec![] })
        .await
        .unwrap()
        .into_inner();
    let first = events.next().await.unwrap().unwrap();
    assert!(first.initial);
    assert_eq!(
        first.name, "twoine-demo-web.service",
        "twoine-api is not a site unit"
    );
    fake.kill("twoine-demo-web.service", false).await.unwrap();
    let change = tokio::time::timeout(std::time::Duration::from_secs(2), events.next())
        .await
        .expect("crash reported within 2 s")
        .unwrap()
        .unwrap();
    assert!(!change.initial);
    assert_eq!(change.name, "twoine-demo-web.service");
    assert_ne!(change.active_state, "active", "{change:?}");
    drop(events);
    agent.shutdown().await;
}
