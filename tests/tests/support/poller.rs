//! Shared by the poller system tests: a real agent in-process, and a seeded embedded store.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Duration;

use tokio::sync::oneshot;
use twoine_agent::collect::proc::ProcReader;
use twoine_agent::collect::systemd::Systemd;
use twoine_agent::collect::walk::Scanner;
use twoine_agent::config::{LimitsConfig, ScanConfig, SystemdConfig};
use twoine_agent::server::{Access, AgentService, serve, socket};
use twoine_apid::model::{
    Id, LinuxUser, PortRange, Role, Site, SitePaths, SiteResources, SiteStatus, User, UserStatus,
};
use twoine_apid::store::PanelWrite;

/// No systemd: a bus address nobody listens on (units are then unknown, not down).
pub fn absent_systemd() -> Systemd {
    Systemd::new(&SystemdConfig {
        bus_address: Some("unix:path=/nonexistent/twoine-poller-test-bus".into()),
        ..SystemdConfig::default()
    })
}

/// A real agent serving on `socket` until stopped.
pub struct RunningAgent {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), String>>,
}

pub fn start_agent(socket: &Path, sites: &Path, systemd: Systemd) -> RunningAgent {
    let uid = rustix::process::getuid().as_raw();
    let listener = socket::bind(socket, 0o660, None).unwrap();
    let scanner = Scanner::new(sites, ScanConfig::default()).unwrap();
    let limits = LimitsConfig::default();
    let service = AgentService::new(
        Access::from_ids([uid], [], [uid], []),
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
        .map_err(|e| e.to_string())
    });
    RunningAgent { stop, task }
}

impl RunningAgent {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("agent stops")
            .unwrap()
            .unwrap();
    }
}

/// An owner and one active site `demo` whose Linux user is the test's own uid, in any store.
pub async fn seed(store: &(impl PanelWrite + ?Sized), root: &Path) -> Site {
    let owner = User {
        id: Id::generate(),
        username: "owner".into(),
        email: "owner@example.test".into(),
        password_hash: None,
        role: Role::User,
        status: UserStatus::Active,
        sites: Vec::new(),
        failed_login_attempts: 0,
        lock_until: None,
        last_login_at: None,
        must_change_password: false,
    };
    store.create_user(&owner).await.unwrap();
    let site = Site {
        id: Id::generate(),
        name: "demo".into(),
        display_name: "Demo".into(),
        owner: owner.id,
        linux_user: LinuxUser {
            username: "site_demo".into(),
            // The test's own uid: its processes are the site's.
            uid: Some(rustix::process::getuid().as_raw()),
            gid: Some(rustix::process::getgid().as_raw()),
        },
        paths: SitePaths {
            root: root.to_str().unwrap().to_owned(),
            ..SitePaths::default()
        },
        port_range: PortRange {
            start: 3000,
            end: 3009,
        },
        status: SiteStatus::Active,
        resources: SiteResources::default(),
    };
    store.create_site(&site).await.unwrap();
    site
}
