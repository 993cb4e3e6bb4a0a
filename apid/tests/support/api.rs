//! The API test fixture: a real apid router on an ephemeral port over a real store (embedded
//! or MongoDB), seeded with one "world" of users, sites, services and alerts covering every
//! kind of caller, and a fake poller output the test publishes into.
//!
//! ```ignore
//! let api = TestApi::start(Backend::Embedded).await;
//! let (status, body) = api.get("/api/stats/server", Some(&api.token(Who::Admin))).await;
//! ```

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use mongodb::bson::{Bson, Document};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};
use twoine_apid::agent::{AgentClient, AgentClientConfig};
use twoine_apid::http::auth::{Auth, JwtKeys, Secret, TokenKind};
use twoine_apid::http::{AppParts, AppState, Mode, app};
use twoine_apid::model::*;

pub use super::live::{server_stats, site_stats};
use twoine_apid::poller::{Clock, LiveSnapshot, PollerEvent, PollerOutputs};
use twoine_apid::store::Store;
use twoine_apid::store::embedded::EmbeddedStore;
use twoine_apid::store::mongo::MongoStore;

/// The JWT secret of every fixture.
pub const SECRET: &str = "fixture-secret-0123456789abcdef0123456789abcdef";
/// Every seeded user's password.
pub const PASSWORD: &str = "Correct-Horse-9";

/// Which store the API runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file in a temp dir.
    Embedded,
    /// The test MongoDB-wire server (or `MONGODB_URI`), fresh database.
    Mongo,
}

/// The seeded callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Who {
    /// role admin, status active.
    Admin,
    /// Created by Twoine's installer: role admin, no `status`, no `sites`.
    InstallerAdmin,
    /// role user, `Site.owner` of alpha, no `sites` entry.
    SiteOwner,
    /// role user, `owner` access on alpha.
    OwnerAccess,
    /// role user, `collaborator` access on alpha.
    Collaborator,
    /// role user, `readonly` access on alpha.
    ReadonlyAccess,
    /// role readonly, `owner` access on alpha.
    ReadonlyRole,
    /// role user, access to beta only.
    Stranger,
    /// role user, collaborator on alpha, status blocked.
    Blocked,
    /// role user, collaborator on alpha, status pending.
    Pending,
}

impl Who {
    /// Every seeded caller.
    pub const ALL: [Who; 10] = [
        Who::Admin,
        Who::InstallerAdmin,
        Who::SiteOwner,
        Who::OwnerAccess,
        Who::Collaborator,
        Who::ReadonlyAccess,
        Who::ReadonlyRole,
        Who::Stranger,
        Who::Blocked,
        Who::Pending,
    ];

    /// The seeded user's id (`0000…00NN`).
    pub fn id(self) -> Id {
        oid(self.n()).parse().unwrap()
    }

    /// The seeded username.
    pub fn username(self) -> &'static str {
        match self {
            Who::Admin => "admin",
            Who::InstallerAdmin => "installer",
            Who::SiteOwner => "siteowner",
            Who::OwnerAccess => "owneraccess",
            Who::Collaborator => "collab",
            Who::ReadonlyAccess => "roaccess",
            Who::ReadonlyRole => "rorole",
            Who::Stranger => "stranger",
            Who::Blocked => "blocked",
            Who::Pending => "pending",
        }
    }

    fn n(self) -> u32 {
        1 + Who::ALL.iter().position(|w| *w == self).unwrap() as u32
    }
}

/// 24-hex id from a number.
pub fn oid(n: u32) -> String {
    format!("{n:024x}")
}

/// Site alpha (owner [`Who::SiteOwner`]); its service `web` is `twoine-alpha-web`.
pub fn alpha() -> Id {
    oid(100).parse().unwrap()
}
/// Site beta (owner [`Who::Stranger`]); its service `api` is `twoine-beta-api`.
pub fn beta() -> Id {
    oid(101).parse().unwrap()
}
/// Site gamma, soft-deleted.
pub fn gamma_deleted() -> Id {
    oid(102).parse().unwrap()
}
/// alpha's `web` service.
pub fn alpha_web() -> Id {
    oid(200).parse().unwrap()
}
/// beta's `api` service.
pub fn beta_api() -> Id {
    oid(201).parse().unwrap()
}
/// A server-wide cpu_high alert (active).
pub fn alert_server() -> Id {
    oid(300).parse().unwrap()
}
/// A service_down alert on alpha (active).
pub fn alert_alpha() -> Id {
    oid(301).parse().unwrap()
}
/// A disk alert on beta (active).
pub fn alert_beta() -> Id {
    oid(302).parse().unwrap()
}
/// A resolved alert on alpha.
pub fn alert_alpha_resolved() -> Id {
    oid(303).parse().unwrap()
}

/// A running apid router with its world.
pub struct TestApi {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The state (store, auth, hub…).
    pub state: AppState,
    /// The store under the API.
    pub store: Arc<dyn Store>,
    /// Publish a poller state here.
    pub live: watch::Sender<Arc<LiveSnapshot>>,
    /// Poller events (service states, alerts).
    pub events: broadcast::Sender<PollerEvent>,
    /// What `PUT /api/stats/config` published.
    pub monitoring: watch::Receiver<MonitoringConfig>,
    /// The signing keys.
    pub keys: JwtKeys,
    /// HTTP client.
    pub http: reqwest::Client,
    /// Keeps the store and the agent socket directory alive.
    pub dir: tempfile::TempDir,
    importer: Importer,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Options of [`TestApi::start_with`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Store backend.
    pub backend: Backend,
    /// Deployment mode.
    pub mode: Mode,
    /// The agent socket (default: a path where nothing listens, so the agent is "away").
    pub agent_socket: Option<std::path::PathBuf>,
    /// Auth user cache lifetime.
    pub user_cache: Duration,
}

impl Options {
    /// Defaults on `backend`: standalone, no agent, no user cache.
    pub fn new(backend: Backend) -> Self {
        Self {
            backend,
            mode: Mode::Standalone,
            agent_socket: None,
            user_cache: Duration::ZERO,
        }
    }
}

impl TestApi {
    /// A seeded API on `backend`, standalone, agent away.
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(Options::new(backend)).await
    }

    /// A seeded API with `options`.
    pub async fn start_with(options: Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (store, importer): (Arc<dyn Store>, Importer) = match options.backend {
            Backend::Embedded => {
                let s = EmbeddedStore::open(&dir.path().join("twoine.db")).unwrap();
                (Arc::new(s.clone()), Importer::Embedded(s))
            }
            Backend::Mongo => {
                let db = super::mongo_server::fresh_db().await;
                let s = MongoStore::open(db.clone()).await.unwrap();
                (Arc::new(s), Importer::Mongo(db))
            }
        };
        seed(&importer, store.as_ref()).await;

        let keys = JwtKeys::new(
            &Secret::new(SECRET),
            Duration::from_secs(24 * 3600),
            Duration::from_secs(7 * 24 * 3600),
        );
        let socket = options
            .agent_socket
            .clone()
            .unwrap_or_else(|| dir.path().join("no-agent.sock"));
        let agent = AgentClient::new(AgentClientConfig::with_socket(socket));
        let (live_tx, live_rx) = watch::channel(Arc::new(LiveSnapshot::default()));
        let (events, _) = broadcast::channel(256);
        let (monitoring_tx, monitoring_rx) = watch::channel(MonitoringConfig::default());
        let state = AppState::new(AppParts {
            store: Arc::clone(&store),
            auth: Auth::with_cache_ttl(keys.clone(), options.user_cache),
            agent,
            poller: PollerOutputs {
                live: live_rx,
                events: events.clone(),
            },
            monitoring: monitoring_tx,
            mode: options.mode,
            clock: Clock::default(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let router = app(state.clone());
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
            state,
            store,
            live: live_tx,
            events,
            monitoring: monitoring_rx,
            keys,
            http: reqwest::Client::new(),
            dir,
            importer,
            server,
        }
    }

    /// A valid access token of `who`.
    pub fn token(&self, who: Who) -> String {
        self.token_of(who, TokenKind::Access)
    }

    /// A valid token of `kind` for `who`.
    pub fn token_of(&self, who: Who, kind: TokenKind) -> String {
        let user: User = serde_json::from_value(json!({
            "id": who.id(), "username": who.username(),
            "email": format!("{}@example.org", who.username()), "role": "user"
        }))
        .unwrap();
        self.keys
            .issue(&user, kind, Utc::now().timestamp())
            .unwrap()
    }

    /// `GET path` with an optional bearer token: status and JSON body (`Null` if not JSON).
    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, token, None).await
    }

    /// `POST path` with an optional JSON body.
    pub async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, token, body).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::PUT, path, token, Some(body))
            .await
    }

    /// Any request.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{}", self.url, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Publishes a poller state (what the real poller does after each poll).
    pub fn publish(&self, live: LiveSnapshot) {
        self.live.send_replace(Arc::new(live));
    }

    /// Imports a raw Twoine-shaped document (extended JSON ids and dates).
    pub async fn import(&self, collection: &str, doc: Value) {
        self.importer.import(collection, doc).await;
    }
}

enum Importer {
    Embedded(EmbeddedStore),
    Mongo(mongodb::Database),
}

impl Importer {
    async fn import(&self, collection: &str, doc: Value) {
        match self {
            Importer::Embedded(s) => s.import_document(collection, &doc).await.unwrap(),
            Importer::Mongo(db) => {
                let Bson::Document(d) = Bson::try_from(doc).unwrap() else {
                    panic!("not a document")
                };
                db.collection::<Document>(collection)
                    .insert_one(d)
                    .await
                    .unwrap();
            }
        }
    }
}

fn id_json(id: Id) -> Value {
    json!({ "$oid": id.to_string() })
}

async fn seed(db: &Importer, store: &dyn Store) {
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let access = |site: Id, level: &str| json!([{ "site": id_json(site), "accessLevel": level, "assignedAt": {"$date": "2025-01-01T00:00:00Z"} }]);
    for who in Who::ALL {
        let mut doc = json!({
            "_id": id_json(who.id()),
            "username": who.username(),
            "email": format!("{}@example.org", who.username()),
            "password": hash,
            "role": "user",
            "status": "active",
            "sites": [],
            "failedLoginAttempts": 0,
            "__v": 0,
        });
        match who {
            Who::Admin => doc["role"] = json!("admin"),
            Who::InstallerAdmin => {
                let o = doc.as_object_mut().unwrap();
                o.insert("role".into(), json!("admin"));
                o.remove("status");
                o.remove("sites");
                o.remove("failedLoginAttempts");
            }
            Who::SiteOwner => {}
            Who::OwnerAccess => doc["sites"] = access(alpha(), "owner"),
            Who::Collaborator => doc["sites"] = access(alpha(), "collaborator"),
            Who::ReadonlyAccess => doc["sites"] = access(alpha(), "readonly"),
            Who::ReadonlyRole => {
                doc["role"] = json!("readonly");
                doc["sites"] = access(alpha(), "owner");
            }
            Who::Stranger => doc["sites"] = access(beta(), "owner"),
            Who::Blocked => {
                doc["status"] = json!("blocked");
                doc["sites"] = access(alpha(), "collaborator");
            }
            Who::Pending => {
                doc["status"] = json!("pending");
                doc["sites"] = access(alpha(), "collaborator");
            }
        }
        db.import("users", doc).await;
    }
    let site = |id: Id, name: &str, owner: Who, status: &str, uid: u32, ports: u32| {
        json!({
            "_id": id_json(id), "name": name, "displayName": name.to_uppercase(),
            "owner": id_json(owner.id()),
            "linuxUser": {"username": format!("site_{name}"), "uid": uid, "gid": uid},
            "paths": {"root": format!("/var/www/twoine/{name}"), "services": "", "logs": "", "data": "", "tmp": ""},
            "portRange": {"start": ports, "end": ports + 9},
            "status": status,
            "resources": {"maxMemoryMB": 512, "maxCpuPercent": 100, "maxDiskMB": 1024},
            "__v": 0,
        })
    };
    db.import(
        "sites",
        site(alpha(), "alpha", Who::SiteOwner, "active", 61001, 10000),
    )
    .await;
    db.import(
        "sites",
        site(beta(), "beta", Who::Stranger, "active", 61002, 10010),
    )
    .await;
    db.import(
        "sites",
        site(
            gamma_deleted(),
            "gamma",
            Who::SiteOwner,
            "deleted",
            61003,
            10020,
        ),
    )
    .await;
    let service = |id: Id, site: Id, site_name: &str, name: &str, port: u32| {
        json!({
            "_id": id_json(id), "site": id_json(site), "name": name, "displayName": name.to_uppercase(),
            "type": "node", "port": port, "workingDir": format!("/var/www/twoine/{site_name}/{name}"),
            "systemd": {"serviceName": format!("twoine-{site_name}-{name}")},
            "status": {"current": "running", "desired": "running"},
            "resources": {"maxMemoryMB": 256, "maxCpuPercent": 50},
            "__v": 0,
        })
    };
    db.import(
        "services",
        service(alpha_web(), alpha(), "alpha", "web", 10000),
    )
    .await;
    db.import(
        "services",
        service(beta_api(), beta(), "beta", "api", 10010),
    )
    .await;
    db.import("domains", json!({"_id": id_json(oid(400).parse().unwrap()), "domain": "alpha.example", "site": id_json(alpha()), "ssl": {"enabled": true}})).await;
    db.import("databases", json!({"_id": id_json(oid(401).parse().unwrap()), "type": "mysql", "site": id_json(alpha()), "name": "alpha"})).await;

    let now = Utc::now();
    let alert = |id: Id,
                 kind: AlertType,
                 severity: Severity,
                 site: Option<Id>,
                 service: Option<Id>,
                 status: AlertStatus,
                 minutes_ago: i64| Alert {
        id,
        kind,
        severity,
        message: format!("{} {}", kind.as_str(), severity.as_str()),
        data: json!({"value": 93.4}),
        site,
        service,
        status,
        acknowledged_by: None,
        acknowledged_at: None,
        created_at: now - chrono::Duration::minutes(minutes_ago),
        resolved_at: (status == AlertStatus::Resolved).then_some(now),
        resolved_by: None,
        clear_since: None,
    };
    for a in [
        alert(
            alert_server(),
            AlertType::CpuHigh,
            Severity::Critical,
            None,
            None,
            AlertStatus::Active,
            4,
        ),
        alert(
            alert_alpha(),
            AlertType::ServiceDown,
            Severity::Error,
            Some(alpha()),
            Some(alpha_web()),
            AlertStatus::Active,
            3,
        ),
        alert(
            alert_beta(),
            AlertType::DiskHigh,
            Severity::Warning,
            Some(beta()),
            None,
            AlertStatus::Active,
            2,
        ),
        alert(
            alert_alpha_resolved(),
            AlertType::SiteDown,
            Severity::Critical,
            Some(alpha()),
            None,
            AlertStatus::Resolved,
            60,
        ),
    ] {
        store.insert_alert(&a).await.unwrap();
    }
}

/// Asserts the failure envelope: `{"success": false, "error": "<non-empty>"}`.
pub fn assert_error(body: &Value, context: &str) {
    assert_eq!(body["success"], json!(false), "{context}: {body}");
    assert!(
        body["error"].as_str().is_some_and(|s| !s.is_empty()),
        "{context}: error message expected: {body}"
    );
}

/// Asserts the success envelope and returns `data`.
pub fn data<'a>(body: &'a Value, context: &str) -> &'a Value {
    assert_eq!(body["success"], json!(true), "{context}: {body}");
    &body["data"]
}

/// A poller state with the server and both active sites measured at `at`, agent connected.
pub fn sample_live(at: Timestamp) -> LiveSnapshot {
    LiveSnapshot {
        server: Some(server_stats(at, 37.25)),
        sites: vec![
            site_stats(alpha(), "alpha", at, 12.5),
            site_stats(beta(), "beta", at, 12.5),
        ],
        taken_at: Some(at),
        polls: 1,
        ..LiveSnapshot::default()
    }
}
