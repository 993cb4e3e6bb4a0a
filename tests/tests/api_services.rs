//! `POST /api/services/{id}/start|stop|restart` end to end: apid's router on an ephemeral port
//! over an embedded store, a real agent in-process on a temp socket, systemd played by the
//! D-Bus fake. What the user sees (status and body), what systemd was asked, what the store
//! records and what the WebSocket would push.
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
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};
use twoine_agent::collect::systemd::Systemd;
use twoine_agent::config::SystemdConfig;
use twoine_apid::agent::{AgentClient, AgentClientConfig};
use twoine_apid::http::auth::{Auth, JwtKeys, Secret, TokenKind};
use twoine_apid::http::{AppParts, AppState, Mode, app};
use twoine_apid::model::{
    AccessLevel, DesiredState, Id, MonitoringConfig, Role, Service, ServiceResources, ServiceState,
    ServiceStatus, Site, SiteAccess, SystemdRef, User, UserStatus,
};
use twoine_apid::poller::{Clock, LiveSnapshot, PollerEvent, PollerOutputs};
use twoine_apid::store::embedded::EmbeddedStore;
use twoine_apid::store::{PanelRead, PanelWrite};

const UNIT: &str = "twoine-demo-web.service";

struct World {
    url: String,
    http: reqwest::Client,
    fake: FakeSystemd,
    agent: Option<support::RunningAgent>,
    store: Arc<EmbeddedStore>,
    events: broadcast::Sender<PollerEvent>,
    keys: JwtKeys,
    site: Site,
    service: Service,
    readonly: User,
    outsider: User,
    server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for World {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn user(name: &str, role: Role, sites: Vec<SiteAccess>) -> User {
    User {
        id: Id::generate(),
        username: name.into(),
        email: format!("{name}@example.test"),
        password_hash: None,
        role,
        status: UserStatus::Active,
        sites,
        failed_login_attempts: 0,
        lock_until: None,
        last_login_at: None,
        must_change_password: false,
    }
}

impl World {
    async fn start() -> Self {
        Self::start_with(UnitSpec::running(UNIT).user("site_demo")).await
    }

    async fn start_with(unit: UnitSpec) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let sites = dir.path().join("sites");
        let root = sites.join("demo");
        std::fs::create_dir_all(&root).unwrap();
        let run = dir.path().join("run");
        std::fs::create_dir(&run).unwrap();
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o750)).unwrap();
        let socket = run.join("agent.sock");

        let (fake, conn) = FakeSystemd::p2p(vec![unit]).await.unwrap();
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
        let readonly = user(
            "viewer",
            Role::User,
            vec![SiteAccess {
                site: site.id,
                access_level: AccessLevel::Readonly,
                assigned_at: None,
            }],
        );
        store.create_user(&readonly).await.unwrap();
        let outsider = user("outsider", Role::User, vec![]);
        store.create_user(&outsider).await.unwrap();

        let keys = JwtKeys::new(
            &Secret::new("api-services-test-secret-0123456789abcdef"),
            Duration::from_secs(3600),
            Duration::from_secs(7200),
        );
        let (_live_tx, live) = watch::channel(Arc::new(LiveSnapshot::default()));
        let (events, _) = broadcast::channel(64);
        let (monitoring, _) = watch::channel(MonitoringConfig::default());
        let state = AppState::new(AppParts {
            store: store.clone(),
            auth: Auth::with_cache_ttl(keys.clone(), Duration::ZERO),
            agent: AgentClient::new(AgentClientConfig::with_socket(&socket)),
            poller: PollerOutputs {
                live,
                events: events.clone(),
            },
            monitoring,
            mode: Mode::Standalone,
            clock: Clock::default(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let router = app(state);
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
            .unwrap();
        });
        Self {
            url,
            http: reqwest::Client::new(),
            fake,
            agent: Some(agent),
            store,
            events,
            keys,
            site,
            service,
            readonly,
            outsider,
            server,
            _dir: dir,
        }
    }

    fn token(&self, id: Id) -> String {
        let u = user("any", Role::User, vec![]);
        let u = User { id, ..u };
        self.keys
            .issue(&u, TokenKind::Access, chrono::Utc::now().timestamp())
            .unwrap()
    }

    fn owner(&self) -> String {
        self.token(self.site.owner)
    }

    async fn act(&self, action: &str, service: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self
            .http
            .post(format!("{}/api/services/{service}/{action}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn stored_status(&self) -> ServiceStatus {
        self.store
            .service(self.service.id)
            .await
            .unwrap()
            .unwrap()
            .status
    }

    fn unit_state(&self) -> String {
        self.fake.state(UNIT).unwrap().0
    }
}

/// The next `ServiceState` event of `service`.
async fn next_state(
    events: &mut broadcast::Receiver<PollerEvent>,
    service: Id,
) -> twoine_apid::poller::ServiceLive {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let PollerEvent::ServiceState(s) = events.recv().await.unwrap()
                && s.service == service
            {
                return s;
            }
        }
    })
    .await
    .expect("ServiceState published")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_stops_starts_and_restarts_the_unit() {
    let mut w = World::start().await;
    let mut events = w.events.subscribe();
    let id = w.service.id.to_string();
    let expected = |current: &str, desired: &str, message: &str| {
        json!({
            "success": true,
            "data": {
                "success": true,
                "service": {"id": id, "name": "web", "displayName": "Web"},
                "status": {"current": current, "desired": desired},
            },
            "message": message,
        })
    };

    let (status, body) = w.act("stop", &id, Some(&w.owner())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, expected("stopped", "stopped", "Service stopped"));
    assert_eq!(w.unit_state(), "inactive");
    assert_eq!(w.fake.count("StopUnit"), 1);
    assert_eq!(
        w.stored_status().await,
        ServiceStatus {
            current: ServiceState::Stopped,
            desired: DesiredState::Stopped
        }
    );
    let pushed = next_state(&mut events, w.service.id).await;
    assert_eq!(pushed.site, w.site.id);
    assert_eq!(pushed.unit, UNIT);
    assert_eq!(pushed.desired, DesiredState::Stopped);
    assert_eq!(
        pushed.state.as_ref().map(|u| u.active_state.as_str()),
        Some("inactive")
    );

    let (status, body) = w.act("start", &id, Some(&w.owner())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, expected("running", "running", "Service started"));
    assert_eq!(w.unit_state(), "active");
    assert_eq!(
        w.stored_status().await,
        ServiceStatus {
            current: ServiceState::Running,
            desired: DesiredState::Running
        }
    );
    let pushed = next_state(&mut events, w.service.id).await;
    assert_eq!(pushed.desired, DesiredState::Running);
    let unit = pushed.state.expect("unit details");
    assert_eq!(unit.active_state, "active");
    assert!(unit.main_pid.is_some_and(|p| p > 0), "{unit:?}");

    let pid_before = w.fake.state(UNIT).unwrap().2;
    let (status, body) = w.act("restart", &id, Some(&w.owner())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, expected("running", "running", "Service restarted"));
    assert_eq!(w.fake.count("RestartUnit"), 1);
    let (active, _, pid_after, _) = w.fake.state(UNIT).unwrap();
    assert_eq!(active, "active");
    assert_ne!(pid_after, pid_before, "a new main process");
    let pushed = next_state(&mut events, w.service.id).await;
    assert_eq!(pushed.state.map(|u| u.main_pid), Some(Some(pid_after)));

    w.agent.take().unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readonly_and_outsiders_are_refused_and_the_unit_untouched() {
    let mut w = World::start().await;
    let id = w.service.id.to_string();
    for who in [w.readonly.id, w.outsider.id] {
        for action in ["stop", "start", "restart"] {
            let (status, body) = w.act(action, &id, Some(&w.token(who))).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{action}: {body}");
            assert_eq!(body["success"], false);
            assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
        }
    }
    let (status, _) = w.act("stop", &id, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = w.act("stop", "not-an-id", Some(&w.owner())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = w
        .act("stop", &Id::generate().to_string(), Some(&w.owner()))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    for method in ["StartUnit", "StopUnit", "RestartUnit"] {
        assert_eq!(w.fake.count(method), 0, "{method}");
    }
    assert_eq!(w.unit_state(), "active");
    assert_eq!(w.stored_status().await, w.service.status);
    w.agent.take().unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_unit_name_that_is_not_a_site_unit_never_reaches_the_agent() {
    let mut w = World::start().await;
    let rogue = Service {
        id: Id::generate(),
        name: "api".into(),
        display_name: "API".into(),
        systemd: SystemdRef {
            // The platform's own unit, written into a service by mistake (or malice).
            service_name: "twoine-api".into(),
        },
        ..w.service.clone()
    };
    w.store.create_service(&rogue).await.unwrap();
    let (status, body) = w.act("stop", &rogue.id.to_string(), Some(&w.owner())).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("twoine-api"),
        "{body}"
    );
    assert_eq!(w.fake.count("StopUnit"), 0);
    w.agent.take().unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_from_systemd_is_a_409_with_its_reason() {
    let mut w = World::start().await;
    w.fake.deny_actions(true);
    let (status, body) = w
        .act("stop", &w.service.id.to_string(), Some(&w.owner()))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("The agent refused"),
        "{body}"
    );
    assert_eq!(w.unit_state(), "active");
    assert_eq!(w.stored_status().await, w.service.status);
    w.agent.take().unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_agent_actions_are_503_and_nothing_is_recorded() {
    let mut w = World::start().await;
    w.agent.take().unwrap().stop().await;
    let mut events = w.events.subscribe();
    let (status, body) = w
        .act("stop", &w.service.id.to_string(), Some(&w.owner()))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        body,
        json!({"success": false, "error": "Agent unavailable"})
    );
    assert_eq!(w.unit_state(), "active");
    assert_eq!(w.stored_status().await, w.service.status);
    assert!(events.try_recv().is_err(), "nothing pushed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_that_fails_is_a_409_and_the_failed_state_is_recorded() {
    let mut w = World::start_with(UnitSpec::stopped(UNIT).user("site_demo").failing_start()).await;
    let mut events = w.events.subscribe();
    let (status, body) = w
        .act("start", &w.service.id.to_string(), Some(&w.owner()))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body,
        json!({"success": false, "error": "The service did not start (systemd job: failed)"})
    );
    assert_eq!(w.unit_state(), "failed");
    assert_eq!(
        w.stored_status().await,
        ServiceStatus {
            current: ServiceState::Failed,
            desired: DesiredState::Running
        }
    );
    let pushed = next_state(&mut events, w.service.id).await;
    assert_eq!(
        pushed.state.map(|u| u.active_state),
        Some("failed".to_owned())
    );
    w.agent.take().unwrap().stop().await;
}
