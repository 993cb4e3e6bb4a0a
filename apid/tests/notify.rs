//! Notifications against real local receivers: an HTTP server and an SMTP sink on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::broadcast;

use twoine_apid::model::{
    Alert, AlertStatus, AlertType, AlertView, Id, NamedRef, Severity, Timestamp,
};
use twoine_apid::notify::{
    EmailConfig, Notifier, NotifyConfig, NotifyCounts, NotifyEvent, Secret, SmtpSecurity,
    WebhookConfig, alert_view, run,
};
use twoine_apid::poller::PollerEvent;

// ---------------------------------------------------------------- helpers

fn alert(severity: Severity, message: &str, value: f64) -> Alert {
    Alert {
        id: Id::generate(),
        kind: AlertType::CpuHigh,
        severity,
        message: message.to_owned(),
        data: serde_json::json!({ "value": value, "threshold": 90 }),
        site: Some(Id::generate()),
        service: None,
        status: AlertStatus::Active,
        acknowledged_by: None,
        acknowledged_at: None,
        created_at: chrono::Utc::now(),
        resolved_at: None,
        resolved_by: None,
        clear_since: None,
    }
}

fn view(severity: Severity, message: &str, value: f64) -> AlertView {
    let a = alert(severity, message, value);
    let site = a.site.map(|id| NamedRef {
        id,
        name: "blog".to_owned(),
        display_name: "Mon blog".to_owned(),
    });
    AlertView::new(a, site, None, None)
}

fn opened(v: &AlertView) -> NotifyEvent {
    NotifyEvent::Opened(Box::new(v.clone()))
}

#[derive(Debug, Clone)]
struct HttpRequest {
    head: String,
    body: Vec<u8>,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

type Log = Arc<Mutex<Vec<HttpRequest>>>;

/// An HTTP server answering the statuses in order (the last one repeats); `None`: never answers.
async fn http_receiver(statuses: Vec<Option<u16>>) -> (String, Log) {
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
            let statuses = statuses.clone();
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
                let req = HttpRequest {
                    head,
                    body: Vec::new(),
                };
                let len: usize = req
                    .header("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                reader.read_exact(&mut body).await.unwrap();
                let index = {
                    let mut log = seen.lock().unwrap();
                    log.push(HttpRequest { body, ..req });
                    log.len() - 1
                };
                let status = statuses[index.min(statuses.len() - 1)];
                let Some(status) = status else {
                    // Hold the connection open without a word.
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    return;
                };
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

fn hook(url: String) -> WebhookConfig {
    WebhookConfig {
        timeout_secs: 5,
        ..WebhookConfig::new(url)
    }
}

fn start(webhooks: Vec<WebhookConfig>, email: Option<EmailConfig>) -> Notifier {
    Notifier::start(NotifyConfig {
        webhooks,
        email,
        ..NotifyConfig::default()
    })
    .unwrap()
}

/// Waits until the counts satisfy `done` (10 s at most).
async fn wait_counts(n: &Notifier, done: impl Fn(NotifyCounts) -> bool) -> NotifyCounts {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let c = n.counts();
        if done(c) {
            return c;
        }
        assert!(Instant::now() < deadline, "timed out; counts {c:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------- webhooks

#[tokio::test]
async fn webhook_receives_the_alert_json_with_the_secret_then_its_resolution() {
    let (url, log) = http_receiver(vec![Some(200)]).await;
    let mut config = hook(format!("{url}/hooks/twoine?src=apid"));
    config.secret = Some(Secret::new("s3cr3t-value"));
    let n = start(vec![config], None);
    let v = view(Severity::Critical, "CPU critique : 93.4 %", 93.4);

    assert!(n.notify(opened(&v)));
    wait_counts(&n, |c| c.delivered == 1).await;
    let resolved_at = chrono::Utc::now();
    assert!(n.notify(NotifyEvent::Resolved {
        id: v.id,
        at: resolved_at
    }));
    wait_counts(&n, |c| c.delivered == 2).await;

    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 2);
    let first = &log[0];
    assert!(
        first
            .head
            .starts_with("POST /hooks/twoine?src=apid HTTP/1.1\r\n"),
        "{}",
        first.head
    );
    assert_eq!(
        first.header("x-twoine-secret").as_deref(),
        Some("s3cr3t-value")
    );
    assert_eq!(
        first.header("content-type").as_deref(),
        Some("application/json")
    );
    let j = first.json();
    assert_eq!(j["event"], "opened");
    assert_eq!(j["id"], v.id.to_string());
    assert_eq!(j["type"], "cpu_high");
    assert_eq!(j["severity"], "critical");
    assert_eq!(j["message"], "CPU critique : 93.4 %");
    assert_eq!(j["data"]["value"], 93.4);
    assert_eq!(j["status"], "active");
    assert_eq!(j["site"]["name"], "blog");
    assert_eq!(j["site"]["displayName"], "Mon blog");
    assert!(j["service"].is_null());
    assert!(j["acknowledgedBy"].is_null());
    assert!(j["createdAt"].as_str().unwrap().ends_with('Z'));
    assert!(j["resolvedAt"].is_null());

    let second = log[1].json();
    assert_eq!(second["event"], "resolved");
    assert_eq!(second["id"], v.id.to_string());
    assert_eq!(second["status"], "resolved");
    let at: Timestamp = second["resolvedAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(at.timestamp_millis(), resolved_at.timestamp_millis());
}

#[tokio::test]
async fn webhook_retries_5xx_until_success() {
    let (url, log) = http_receiver(vec![Some(500), Some(500), Some(200)]).await;
    let n = start(vec![hook(url)], None);
    n.notify(opened(&view(Severity::Error, "Service arrêté : web", 0.0)));
    let c = wait_counts(&n, |c| c.delivered + c.failed >= 1).await;
    assert_eq!((c.delivered, c.failed), (1, 0));
    // Nothing more comes after the success.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(log.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn webhook_gives_up_after_the_last_attempt_on_429() {
    let (url, log) = http_receiver(vec![Some(429)]).await;
    let mut config = hook(url);
    config.max_attempts = 2;
    let n = start(vec![config], None);
    n.notify(opened(&view(Severity::Error, "Service arrêté : web", 0.0)));
    let c = wait_counts(&n, |c| c.delivered + c.failed >= 1).await;
    assert_eq!((c.delivered, c.failed), (0, 1));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(log.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn webhook_does_not_retry_a_4xx() {
    let (url, log) = http_receiver(vec![Some(400), Some(200)]).await;
    let n = start(vec![hook(url)], None);
    n.notify(opened(&view(
        Severity::Critical,
        "CPU critique : 93.4 %",
        93.4,
    )));
    let c = wait_counts(&n, |c| c.delivered + c.failed >= 1).await;
    assert_eq!((c.delivered, c.failed), (0, 1));
    // Longer than the first backoff: a retry would have come by now.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(log.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn webhook_retries_when_nothing_listens() {
    // A port bound then released: connections are refused.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let mut config = hook(format!("http://{addr}/"));
    config.max_attempts = 2;
    let n = start(vec![config], None);
    let started = Instant::now();
    n.notify(opened(&view(
        Severity::Critical,
        "CPU critique : 93.4 %",
        93.4,
    )));
    let c = wait_counts(&n, |c| c.failed == 1).await;
    assert_eq!(c.delivered, 0);
    // Two attempts, so at least the first backoff was waited.
    assert!(started.elapsed() >= Duration::from_millis(450));
}

#[tokio::test]
async fn severity_filters_pick_the_channels() {
    let (critical_url, critical_log) = http_receiver(vec![Some(200)]).await;
    let (all_url, all_log) = http_receiver(vec![Some(200)]).await;
    let (listed_url, listed_log) = http_receiver(vec![Some(200)]).await;
    let mut critical_only = hook(critical_url);
    critical_only.min_severity = Some(Severity::Critical);
    let mut listed = hook(listed_url);
    listed.severities = Some(vec![Severity::Info, Severity::Warning]);
    let n = start(vec![critical_only, hook(all_url), listed], None);

    n.notify(opened(&view(Severity::Warning, "CPU élevé : 75.0 %", 75.0)));
    n.notify(opened(&view(
        Severity::Critical,
        "CPU critique : 93.4 %",
        93.4,
    )));
    // warning: all + listed; critical: critical-only + all.
    wait_counts(&n, |c| c.delivered == 4).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(n.counts().delivered, 4);

    let sev = |log: &Log| -> Vec<String> {
        log.lock()
            .unwrap()
            .iter()
            .map(|r| r.json()["severity"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(sev(&critical_log), ["critical"]);
    let mut all = sev(&all_log);
    all.sort();
    assert_eq!(all, ["critical", "warning"]);
    assert_eq!(sev(&listed_log), ["warning"]);
}

#[tokio::test]
async fn notify_never_blocks_on_a_receiver_that_never_answers() {
    let (url, log) = http_receiver(vec![None]).await;
    let mut config = hook(url);
    config.timeout_secs = 120;
    let n = Notifier::start(NotifyConfig {
        webhooks: vec![config],
        queue_capacity: 4,
        ..NotifyConfig::default()
    })
    .unwrap();
    let v = view(Severity::Critical, "CPU critique : 93.4 %", 93.4);
    let started = Instant::now();
    let mut accepted = 0;
    for _ in 0..200 {
        let one = Instant::now();
        if n.notify(opened(&v)) {
            accepted += 1;
        }
        assert!(one.elapsed() < Duration::from_millis(50));
    }
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    // The receiver did get requests (it just never answers) and the overflow was counted.
    wait_counts(&n, |_| !log.lock().unwrap().is_empty()).await;
    let c = n.counts();
    assert!(c.dropped > 0, "{c:?}");
    assert_eq!(c.dropped + accepted, 200);
    assert_eq!((c.delivered, c.failed), (0, 0));
}

// ---------------------------------------------------------------- poller plug

#[tokio::test]
async fn run_forwards_poller_alerts_and_counts_lag() {
    let (url, log) = http_receiver(vec![Some(200)]).await;
    let n = start(vec![hook(url)], None);
    let (tx, rx) = broadcast::channel(2);
    let a = alert(Severity::Warning, "Mémoire élevée : 80.0 %", 80.0);
    // Overflow the channel before `run` reads it: 2 events are lost, the last 2 remain.
    for _ in 0..2 {
        tx.send(PollerEvent::AlertOpened(alert(Severity::Info, "x", 0.0)))
            .unwrap();
    }
    tx.send(PollerEvent::AlertOpened(a.clone())).unwrap();
    tx.send(PollerEvent::AlertResolved {
        id: a.id,
        at: chrono::Utc::now(),
    })
    .unwrap();
    let site = a.site.unwrap();
    let names: twoine_apid::notify::NameLookup = Arc::new(move |id| {
        (id == site).then(|| NamedRef {
            id,
            name: "shop".to_owned(),
            display_name: "Boutique".to_owned(),
        })
    });
    let task = tokio::spawn(run(n.clone(), rx, Some(names)));
    let c = wait_counts(&n, |c| c.delivered == 2).await;
    assert_eq!(c.lagged, 2);
    drop(tx);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    let log = log.lock().unwrap().clone();
    let events: Vec<_> = log.iter().map(|r| r.json()).collect();
    assert_eq!(events[0]["event"], "opened");
    assert_eq!(events[0]["site"]["name"], "shop");
    assert_eq!(events[1]["event"], "resolved");
    assert_eq!(events[1]["id"], a.id.to_string());
}

#[test]
fn alert_view_without_names_keeps_the_ids() {
    let a = alert(Severity::Info, "x", 0.0);
    let site = a.site.unwrap();
    let v = alert_view(a, None);
    let s = v.site.unwrap();
    assert_eq!((s.id, s.name.as_str()), (site, ""));
}

// ---------------------------------------------------------------- e-mail

#[derive(Debug, Default, Clone)]
struct Mail {
    from: String,
    rcpt: Vec<String>,
    data: String,
}

/// A minimal SMTP server: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
async fn smtp_sink() -> (u16, Arc<Mutex<Vec<Mail>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mails: Arc<Mutex<Vec<Mail>>> = Arc::default();
    let seen = Arc::clone(&mails);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut r = BufReader::new(r);
                w.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let mut mail = Mail::default();
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250-sink\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        mail.from = line[10..].trim().to_owned();
                        b"250 OK\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        mail.rcpt.push(line[8..].trim().to_owned());
                        b"250 OK\r\n"
                    } else if upper.starts_with("DATA") {
                        w.write_all(b"354 go\r\n").await.unwrap();
                        loop {
                            let mut l = String::new();
                            if r.read_line(&mut l).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if l == ".\r\n" {
                                break;
                            }
                            mail.data.push_str(&l);
                        }
                        seen.lock().unwrap().push(std::mem::take(&mut mail));
                        b"250 queued\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        return;
                    } else if upper.starts_with("RSET") || upper.starts_with("NOOP") {
                        b"250 OK\r\n"
                    } else {
                        b"502 no\r\n"
                    };
                    w.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, mails)
}

fn email(port: u16) -> EmailConfig {
    EmailConfig {
        host: "127.0.0.1".to_owned(),
        port: Some(port),
        security: SmtpSecurity::None,
        username: None,
        password: None,
        from: "Twoine <twoine@example.org>".to_owned(),
        to: vec!["ops@example.org".to_owned(), "admin@example.org".to_owned()],
        min_severity: Some(Severity::Error),
        severities: None,
        timeout_secs: 5,
        max_attempts: 2,
    }
}

#[tokio::test]
async fn email_reaches_the_smtp_sink_with_from_to_and_a_french_subject() {
    let (port, mails) = smtp_sink().await;
    let n = start(Vec::new(), Some(email(port)));
    // Below min_severity: not sent.
    n.notify(opened(&view(Severity::Warning, "CPU élevé : 75.0 %", 75.0)));
    n.notify(opened(&view(
        Severity::Critical,
        "CPU critique : 93.4 %",
        93.4,
    )));
    let c = wait_counts(&n, |c| c.delivered + c.failed >= 1).await;
    assert_eq!((c.delivered, c.failed), (1, 0));
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mails = mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let m = &mails[0];
    assert_eq!(m.from, "<twoine@example.org>");
    assert_eq!(m.rcpt, ["<ops@example.org>", "<admin@example.org>"]);
    let headers = m.data.split("\r\n\r\n").next().unwrap();
    assert!(
        headers.contains("From: Twoine <twoine@example.org>\r\n"),
        "{headers}"
    );
    assert!(
        headers.contains("To: ops@example.org, admin@example.org\r\n"),
        "{headers}"
    );
    assert!(
        headers.contains("Subject: [Twoine] CPU critique : 93.4 %\r\n"),
        "{headers}"
    );
}

// ---------------------------------------------------------------- configuration

#[test]
fn config_parses_from_toml_with_defaults() {
    let text = r#"
        [[webhooks]]
        url = "https://hooks.example.org/twoine"
        secret = "abc123"
        min_severity = "error"

        [[webhooks]]
        url = "http://127.0.0.1:9000/"
        severities = ["critical"]

        [email]
        host = "smtp.example.org"
        username = "twoine"
        password = "hunter2"
        from = "twoine@example.org"
        to = ["ops@example.org"]
    "#;
    let c: NotifyConfig = toml::from_str(text).unwrap();
    c.validate().unwrap();
    assert_eq!(c.webhooks.len(), 2);
    assert_eq!(c.webhooks[0].secret_header, "x-twoine-secret");
    assert_eq!(c.webhooks[0].timeout_secs, 10);
    assert_eq!(c.webhooks[0].max_attempts, 4);
    assert!(c.webhooks[0].filter().accepts(Severity::Critical));
    assert!(!c.webhooks[0].filter().accepts(Severity::Warning));
    assert!(!c.webhooks[1].filter().accepts(Severity::Error));
    let e = c.email.as_ref().unwrap();
    assert_eq!(e.security, SmtpSecurity::Starttls);
    assert_eq!(e.port(), 587);
    assert!(c.send_resolved);
    assert_eq!(c.queue_capacity, 1024);

    // Secrets never show in Debug.
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("abc123") && !debug.contains("hunter2"),
        "{debug}"
    );
    assert!(debug.contains("Secret(***)"));
}

#[test]
fn config_rejects_unknown_fields_and_bad_values() {
    assert!(
        toml::from_str::<NotifyConfig>("[[webhooks]]\nurl = \"http://x/\"\nsecrte = \"a\"\n")
            .is_err()
    );
    assert!(
        toml::from_str::<NotifyConfig>(
            "[[webhooks]]\nurl = \"http://x/\"\nmin_severity = \"fatal\"\n"
        )
        .is_err()
    );

    let mut bad = hook("ftp://example.org/".to_owned());
    bad.min_severity = Some(Severity::Error);
    bad.severities = Some(vec![Severity::Critical]);
    bad.timeout_secs = 0;
    bad.secret = Some(Secret::new("line\nbreak-secret"));
    let mut mail = email(25);
    mail.to.clear();
    mail.username = Some("u".to_owned());
    mail.from = "not an address".to_owned();
    let err = NotifyConfig {
        webhooks: vec![bad],
        email: Some(mail),
        queue_capacity: 0,
        ..NotifyConfig::default()
    }
    .validate()
    .unwrap_err();
    let text = err.to_string();
    for needle in [
        "webhooks[0].url",
        "not both",
        "timeout_secs",
        "webhooks[0].secret",
        "email.to",
        "username and password",
        "email.from",
        "queue_capacity",
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
    assert!(!text.contains("break-secret"));
    assert!(
        Notifier::start(NotifyConfig {
            queue_capacity: 0,
            ..NotifyConfig::default()
        })
        .is_err()
    );
}

// ---------------------------------------------------------------- texts

#[test]
fn subject_and_body_are_short_and_bilingual() {
    use twoine_apid::notify::{EventKind, Notification};
    let v = view(Severity::Critical, "CPU critique : 93.4 %", 93.4);
    let mut n = Notification {
        event: EventKind::Opened,
        alert: v.clone(),
    };
    assert_eq!(n.subject(), "[Twoine] CPU critique : 93.4 %");
    let body = n.body();
    assert!(
        body.starts_with("Alerte ouverte / Alert opened\n"),
        "{body}"
    );
    assert!(body.contains("Sévérité / Severity : critical\n"), "{body}");
    assert!(body.contains("Site : Mon blog (blog)\n"), "{body}");
    assert!(body.contains("Valeur / Value : 93.4\n"), "{body}");
    assert!(
        body.contains(&format!("Identifiant / Id : {}\n", v.id)),
        "{body}"
    );
    n.event = EventKind::Resolved;
    assert_eq!(n.subject(), "[Twoine] Résolu : CPU critique : 93.4 %");
    assert!(n.body().starts_with("Alerte résolue / Alert resolved\n"));
}
