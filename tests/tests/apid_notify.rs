//! Notifications through the running daemon, end to end: a real agent in-process, apid built
//! with `daemon::bind` and served in-process with a `[notify]` webhook to a local receiver.
//! Memory thresholds set low before start open a `memory_high` warning at the first poll: the
//! receiver gets the opened alert's JSON (after one 503, retried); thresholds set back high
//! through `PUT /api/stats/config` (auto-resolve 0 min) resolve it at the next poll: the receiver
//! gets the resolution. The webhook's URL path and its secret never reach apid's logs (every
//! level, captured with a tracing subscriber), though the delivery logs do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use twoine_apid::config::{Config, Env};
use twoine_apid::http::auth::{JwtKeys, Secret, TokenKind};
use twoine_apid::model::{Id, MonitoringConfig, Role, Threshold, User, UserStatus};
use twoine_apid::store::embedded::EmbeddedStore;
use twoine_apid::store::{ConfigStore, PanelWrite};

#[path = "support/poller.rs"]
mod support;
use support::{absent_systemd, start_agent};

const SECRET: &str = "notify-test-secret-0123456789abcdef0123456789";
/// In the webhook URL's path and query: must never be logged.
const URL_TOKEN: &str = "url-token-7f3a9c1e5b";
/// The webhook's secret header value: must never be logged.
const HOOK_SECRET: &str = "hook-secret-d41d8cd98f00b204";

/// Everything the tracing subscriber wrote.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct Request {
    head: String,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

type Log = Arc<Mutex<Vec<Request>>>;

/// An HTTP receiver: answers 503 to the first `memory_high` notification, 200 to everything
/// else (a busy test machine may open CPU alerts too).
async fn receiver() -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log: Log = Arc::default();
    let seen = Arc::clone(&log);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream);
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                let mut req = Request {
                    head,
                    body: Vec::new(),
                };
                let len: usize = req
                    .header("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                req.body = vec![0; len];
                reader.read_exact(&mut req.body).await.unwrap();
                let first = {
                    let mut log = seen.lock().unwrap();
                    let memory = |r: &Request| r.json()["type"] == "memory_high";
                    let first = memory(&req) && !log.iter().any(memory);
                    log.push(req);
                    first
                };
                let status = if first { 503 } else { 200 };
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
                let mut stream = reader.into_inner();
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (format!("http://{addr}"), log)
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

/// The memory_high notifications received so far, as JSON (the 503-answered attempt included).
fn memory_posts(log: &Log) -> Vec<(Request, Value)> {
    log.lock()
        .unwrap()
        .iter()
        .map(|r| (r.clone(), r.json()))
        .filter(|(_, j)| j["type"] == "memory_high")
        .collect()
}

/// Waits until `f` holds; on timeout, fails with what apid logged and what was received.
async fn wait_for(
    what: &str,
    within: Duration,
    logs: &Captured,
    received: &Log,
    mut f: impl FnMut() -> bool,
) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < within,
            "not within {within:?}: {what}\nreceived: {:?}\nlogs:\n{}",
            received
                .lock()
                .unwrap()
                .iter()
                .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                .collect::<Vec<_>>(),
            logs.text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_alert_reaches_the_webhook_opened_then_resolved_and_the_url_stays_out_of_the_logs()
{
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        // Everything apid says, and what its libraries say at debug (a `RUST_LOG=debug` run).
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "debug,twoine_apid=trace,h2=info,tower=info,tonic=info",
        ))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let sites = dir.path().join("sites");
    std::fs::create_dir_all(&sites).unwrap();
    let socket = dir.path().join("agent.sock");
    let agent = start_agent(&socket, &sites, absent_systemd());

    // Settings before start: memory warning at 0.1 % (critical out of reach), CPU and disk out
    // of reach, resolution as soon as the condition is clear, the shortest poll interval.
    let db = dir.path().join("state/apid.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let admin = admin();
    {
        let store = EmbeddedStore::open(&db).unwrap();
        store.create_user(&admin).await.unwrap();
        let mut settings = MonitoringConfig {
            collection_interval: 10,
            auto_resolve_minutes: 0,
            ..MonitoringConfig::default()
        };
        let high = Threshold {
            warning: 99.9,
            critical: 100.0,
        };
        settings.alert_thresholds.memory = Threshold {
            warning: 0.1,
            critical: 100.0,
        };
        settings.alert_thresholds.cpu = high;
        settings.alert_thresholds.disk = high;
        store.put_config(&settings).await.unwrap();
    }

    let (base_url, received) = receiver().await;
    let hook_url = format!("{base_url}/hooks/{URL_TOKEN}?token={URL_TOKEN}");
    let toml = format!(
        "listen = \"127.0.0.1:0\"\nsites_dir = \"{sites}\"\n[store]\npath = \"{db}\"\n\
         [agent]\nsocket = \"{socket}\"\n[auth]\njwt_secret = \"{SECRET}\"\n\
         [[notify.webhooks]]\nurl = \"{hook_url}\"\nsecret = \"{HOOK_SECRET}\"\n\
         max_attempts = 3\ntimeout_secs = 5\n",
        sites = sites.display(),
        db = db.display(),
        socket = socket.display(),
    );
    let config = Config::from_toml(&toml, "apid_notify.toml", &Env::default()).unwrap();
    let daemon = twoine_apid::daemon::bind(config).await.unwrap();
    let base = format!("http://{}", daemon.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(daemon.serve(async {
        let _ = stopped.await;
    }));

    // Opened at the first poll; the receiver's 503 is retried.
    wait_for(
        "the opened memory_high alert delivered after a retry",
        Duration::from_secs(30),
        &logs,
        &received,
        || memory_posts(&received).len() >= 2,
    )
    .await;
    let posts = memory_posts(&received);
    let (request, opened) = &posts[1];
    assert_eq!(posts[0].1, posts[1].1, "the retry sends the same body");
    assert!(
        request.head.starts_with(&format!(
            "POST /hooks/{URL_TOKEN}?token={URL_TOKEN} HTTP/1.1\r\n"
        )),
        "{}",
        request.head
    );
    assert_eq!(
        request.header("x-twoine-secret").as_deref(),
        Some(HOOK_SECRET)
    );
    assert_eq!(
        request.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(opened["event"], "opened", "{opened}");
    assert_eq!(opened["type"], "memory_high");
    assert_eq!(opened["severity"], "warning");
    assert_eq!(opened["status"], "active");
    assert_eq!(opened["data"]["threshold"], 0.1);
    let value = opened["data"]["value"].as_f64().unwrap();
    assert!((0.1..100.0).contains(&value), "{opened}");
    assert_eq!(
        opened["message"],
        format!("Mémoire élevée : {value:.1} %"),
        "{opened}"
    );
    assert!(opened["site"].is_null() && opened["service"].is_null());
    assert!(opened["resolvedAt"].is_null());
    assert!(opened["createdAt"].as_str().unwrap().ends_with('Z'));
    let alert_id = opened["id"].as_str().unwrap().to_owned();

    // The API shows it open.
    let token = JwtKeys::new(
        &Secret::new(SECRET),
        Duration::from_secs(3600),
        Duration::from_secs(7200),
    )
    .issue(&admin, TokenKind::Access, chrono::Utc::now().timestamp())
    .unwrap();
    let client = reqwest::Client::new();
    let listed: Value = client
        .get(format!("{base}/api/stats/alerts?severity=warning"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let open_ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"] == "memory_high")
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(open_ids, [alert_id.as_str()], "{listed}");

    // Thresholds back high: the next poll (one interval after the change) resolves it.
    let r = client
        .put(format!("{base}/api/stats/config"))
        .bearer_auth(&token)
        .json(&json!({"alertThresholds": {"memory": {"warning": 99.8, "critical": 99.9}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let changed_at = Instant::now();
    wait_for(
        "the resolution delivered",
        Duration::from_secs(30),
        &logs,
        &received,
        || memory_posts(&received).len() >= 3,
    )
    .await;
    assert!(
        changed_at.elapsed() >= Duration::from_secs(9),
        "resolved at the next poll, not before: {:?}",
        changed_at.elapsed()
    );
    let posts = memory_posts(&received);
    assert_eq!(posts.len(), 3, "one opening (two attempts), one resolution");
    let (request, resolved) = &posts[2];
    assert_eq!(
        request.header("x-twoine-secret").as_deref(),
        Some(HOOK_SECRET)
    );
    assert_eq!(resolved["event"], "resolved", "{resolved}");
    assert_eq!(resolved["id"], alert_id);
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["type"], "memory_high");
    assert_eq!(resolved["severity"], "warning");
    assert_eq!(resolved["message"], opened["message"]);
    assert!(resolved["resolvedAt"].as_str().unwrap().ends_with('Z'));

    let listed: Value = client
        .get(format!(
            "{base}/api/stats/alerts?status=resolved&severity=warning"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let gone = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == alert_id.as_str())
        .unwrap_or_else(|| panic!("resolved alert listed: {listed}"));
    assert_eq!(gone["resolvedBy"], "system", "{gone}");

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    agent.stop().await;

    // The logs tell about the deliveries (to scheme://host:port), never the URL's path or query,
    // nor the secret.
    let text = logs.text();
    let target = base_url.as_str();
    assert!(
        text.contains("notification failed: retrying") && text.contains("notification delivered"),
        "the delivery logs were captured:\n{text}"
    );
    assert!(text.contains(target), "{text}");
    assert!(!text.contains(URL_TOKEN), "the webhook URL leaked:\n{text}");
    assert!(
        !text.contains(HOOK_SECRET),
        "the webhook secret leaked:\n{text}"
    );
    assert!(!text.contains(SECRET), "the JWT secret leaked:\n{text}");
}
