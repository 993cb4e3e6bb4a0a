//! The poller's `WatchUnits` path: a real agent (systemd played by the in-process D-Bus fake)
//! reports a crash of a site unit, and the running poller opens `service_down` within seconds,
//! long before its next poll, and pushes the service's new state.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../agent/tests/support/fake_systemd.rs"]
#[allow(dead_code)]
mod fake_systemd;
#[path = "support/poller.rs"]
mod support;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use fake_systemd::{FakeSystemd, UnitSpec};
use twoine_agent::collect::systemd::Systemd;
use twoine_agent::config::SystemdConfig;
use twoine_apid::agent::{AgentClient, AgentClientConfig};
use twoine_apid::model::{
    AlertType, DesiredState, Id, MonitoringConfig, Service, ServiceResources, ServiceState,
    ServiceStatus, SystemdRef,
};
use twoine_apid::poller::{Poller, PollerEvent, PollerOptions};
use twoine_apid::store::embedded::EmbeddedStore;
use twoine_apid::store::{AlertFilter, AlertStore, PanelWrite};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_reported_by_the_agent_opens_service_down_before_the_next_poll() {
    let dir = tempfile::tempdir().unwrap();
    let sites = dir.path().join("sites");
    let root = sites.join("demo");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("app.js"), "console.log(1)").unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o750)).unwrap();
    let socket = run.join("agent.sock");

    let (fake, conn) = FakeSystemd::p2p(vec![
        UnitSpec::running("twoine-demo-web.service").user("site_demo"),
    ])
    .await
    .unwrap();
    let systemd = Systemd::with_connection(conn, &SystemdConfig::default());
    let agent = support::start_agent(&socket, &sites, systemd);

    let store = Arc::new(EmbeddedStore::open(&dir.path().join("apid.db")).unwrap());
    let site = support::seed(&*store, &root).await;
    let service = Service {
        id: Id::generate(),
        site: site.id,
        name: "web".into(),
        display_name: "Web".into(),
        kind: "node".into(),
        port: Some(3000),
        working_dir: None,
        systemd: SystemdRef {
            service_name: "twoine-demo-web".into(),
        },
        status: ServiceStatus {
            current: ServiceState::Running,
            desired: DesiredState::Running,
        },
        resources: ServiceResources::default(),
    };
    store.create_service(&service).await.unwrap();

    // The longest interval: after the first poll, only the watch can notice the crash in time.
    let config = MonitoringConfig {
        collection_interval: 300,
        ..MonitoringConfig::default()
    };
    let client = AgentClient::new(AgentClientConfig::with_socket(&socket));
    let poller = Poller::new(
        client,
        store.clone(),
        config.clone(),
        PollerOptions::default(),
    );
    let outputs = poller.outputs();
    let mut live = outputs.live.clone();
    let mut events = outputs.events.subscribe();
    let (_config_tx, config_rx) = tokio::sync::watch::channel(config);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(poller.run(config_rx, async {
        let _ = stop_rx.await;
    }));

    // The first poll sees the unit running: no alert.
    tokio::time::timeout(
        Duration::from_secs(20),
        live.wait_for(|l| l.taken_at.is_some()),
    )
    .await
    .expect("first poll within 20 s")
    .unwrap();
    let polled = live.borrow().clone();
    let web = polled
        .services
        .iter()
        .find(|s| s.service == service.id)
        .expect("service published");
    assert_eq!(
        web.state.as_ref().map(|u| u.active_state.as_str()),
        Some("active")
    );
    let open = store.list_alerts(&AlertFilter::default()).await.unwrap();
    assert!(
        !open.iter().any(|a| a.kind == AlertType::ServiceDown),
        "{open:?}"
    );

    fake.kill("twoine-demo-web.service", false).await.unwrap();

    // The state change is pushed...
    let change = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let PollerEvent::ServiceState(s) = events.recv().await.unwrap()
                && s.service == service.id
                && s.state.as_ref().is_some_and(|u| u.active_state != "active")
            {
                return s;
            }
        }
    })
    .await
    .expect("service state pushed within 5 s");
    assert_eq!(change.site, site.id);

    // ...and service_down is stored within seconds, not at the next poll (300 s away).
    let alert = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let open = store.list_alerts(&AlertFilter::default()).await.unwrap();
            if let Some(a) = open.into_iter().find(|a| a.kind == AlertType::ServiceDown) {
                return a;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("service_down within 5 s");
    assert_eq!(alert.service, Some(service.id));
    assert_eq!(alert.site, Some(site.id));
    assert_eq!(live.borrow().polls, 1, "no second poll was needed");

    stop_tx.send(()).unwrap();
    task.await.unwrap();
    agent.stop().await;
}
