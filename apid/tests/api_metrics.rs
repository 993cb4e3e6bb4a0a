//! `GET /metrics` over real HTTP, on both stores: admin-only, Prometheus text format parsed
//! back line by line, the published values found under their labels, label values escaped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, HashSet};

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use support::api::*;
use support::live::*;

macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                super::$name(Backend::Embedded).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mongo() {
                super::$name(Backend::Mongo).await;
            }
        }
    )*};
}

both!(
    metrics_expose_the_published_snapshot,
    metrics_need_an_admin_token,
    metrics_without_a_poll_still_describe_apid,
);

/// One parsed sample: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text format strictly: `# HELP name text`, `# TYPE name gauge|counter`, and
/// `name{label="escaped",...} value` lines; every sample's family was declared before it.
fn parse(text: &str) -> Vec<Sample> {
    let mut typed = HashSet::new();
    let mut helped = HashSet::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap();
            assert!(!help.is_empty(), "help of {name}");
            assert!(
                helped.insert(name.to_owned()),
                "one HELP per family: {line}"
            );
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(matches!(kind, "gauge" | "counter"), "{line}");
            assert!(typed.insert(name.to_owned()), "one TYPE per family: {line}");
            continue;
        }
        assert!(
            !line.is_empty() && !line.starts_with('#'),
            "unexpected line {line:?}"
        );
        let name_end = line.find(['{', ' ']).unwrap();
        let name = &line[..name_end];
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && name.starts_with("twoine_"),
            "metric name {name:?}"
        );
        assert!(
            typed.contains(name) && helped.contains(name),
            "{name} declared first"
        );
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(after) = rest.strip_prefix('{') {
            let mut chars = after.char_indices();
            let mut key = String::new();
            loop {
                let (i, c) = chars.next().unwrap();
                match c {
                    '}' => {
                        rest = &after[i + 1..];
                        break;
                    }
                    ',' => {}
                    '=' => {
                        assert_eq!(chars.next().unwrap().1, '"', "{line}");
                        let mut value = String::new();
                        loop {
                            match chars.next().unwrap().1 {
                                '\\' => match chars.next().unwrap().1 {
                                    '\\' => value.push('\\'),
                                    '"' => value.push('"'),
                                    'n' => value.push('\n'),
                                    other => panic!("bad escape \\{other} in {line}"),
                                },
                                '"' => break,
                                '\n' => panic!("raw newline in {line}"),
                                c => value.push(c),
                            }
                        }
                        labels.insert(std::mem::take(&mut key), value);
                    }
                    c => key.push(c),
                }
            }
        }
        let value = rest.strip_prefix(' ').unwrap_or_else(|| panic!("{line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().unwrap_or_else(|_| panic!("value of {line}")),
        };
        out.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    out
}

fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    samples.iter().find(|s| {
        s.name == name
            && s.labels.len() == labels.len()
            && labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
    })
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    find(samples, name, labels)
        .unwrap_or_else(|| panic!("{name}{labels:?} missing"))
        .value
}

async fn scrape(api: &TestApi, token: Option<&str>) -> (StatusCode, String, String) {
    let mut req = api.http.get(format!("{}/metrics", api.url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let ctype = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ctype, resp.text().await.unwrap())
}

async fn metrics_expose_the_published_snapshot(backend: Backend) {
    let api = TestApi::start(backend).await;
    let now = Utc::now();
    let weird = "we\"ird\\site\nname";
    let mut live = snapshot(now, Some(server_stats(now, 37.46)));
    live.sites = vec![
        site_stats(alpha(), "alpha", now, 150.25),
        site_stats(oid(120).parse().unwrap(), weird, now, 1.0),
    ];
    live.site_errors = vec![site_error(beta(), "beta", "refused")];
    live.services = vec![
        service_live(
            alpha_web(),
            alpha(),
            "web",
            "twoine-alpha-web.service",
            Some(running_unit(
                "twoine-alpha-web.service",
                now - Duration::hours(1),
                now,
            )),
        ),
        service_live(
            beta_api(),
            beta(),
            "api",
            "twoine-beta-api.service",
            Some(failed_unit("twoine-beta-api.service", now)),
        ),
    ];
    live.store_pending = 3;
    live.store_dropped = 1;
    live.polls = 42;
    live.stale_since = Some(now);
    api.publish(live);
    // A 2xx and a 4xx before the scrape.
    let admin = api.token(Who::Admin);
    assert_eq!(api.get("/api/health", None).await.0, StatusCode::OK);
    assert_eq!(api.get("/api/nope", None).await.0, StatusCode::NOT_FOUND);

    let (status, ctype, text) = scrape(&api, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    let s = parse(&text);

    assert_eq!(value(&s, "twoine_host_cpu_percent", &[]), 37.46);
    assert_eq!(value(&s, "twoine_host_load1", &[]), 0.42);
    assert_eq!(
        value(&s, "twoine_host_memory_total_bytes", &[]),
        8_264_036_352.0
    );
    assert_eq!(
        value(&s, "twoine_host_memory_used_bytes", &[]),
        3_305_614_540.0
    );
    assert_eq!(
        value(&s, "twoine_host_disk_used_bytes", &[]),
        25_204_327_219.0
    );
    assert_eq!(value(&s, "twoine_host_disk_percent", &[]), 32.0);
    assert_eq!(
        value(&s, "twoine_host_network_receive_bytes_total", &[]),
        9_876_543_210.0
    );
    assert_eq!(
        value(&s, "twoine_host_network_transmit_bytes_total", &[]),
        1_234_567_890.0
    );
    assert_eq!(value(&s, "twoine_host_uptime_seconds", &[]), 864_000.0);
    assert_eq!(
        value(&s, "twoine_host_processes", &[("state", "total")]),
        187.0
    );

    assert_eq!(
        value(&s, "twoine_site_cpu_percent", &[("site", "alpha")]),
        150.25
    );
    assert_eq!(
        value(&s, "twoine_site_memory_bytes", &[("site", "alpha")]),
        134_217_728.0
    );
    assert_eq!(
        value(&s, "twoine_site_disk_bytes", &[("site", "alpha")]),
        268_435_456.0
    );
    assert_eq!(value(&s, "twoine_site_files", &[("site", "alpha")]), 4321.0);
    assert_eq!(
        value(&s, "twoine_site_cpu_percent", &[("site", weird)]),
        1.0
    );
    assert_eq!(
        value(&s, "twoine_site_measure_error", &[("site", "alpha")]),
        0.0
    );
    assert_eq!(
        value(&s, "twoine_site_measure_error", &[("site", "beta")]),
        1.0
    );
    assert!(find(&s, "twoine_site_cpu_percent", &[("site", "beta")]).is_none());

    let web = [("unit", "twoine-alpha-web.service")];
    let api_unit = [("unit", "twoine-beta-api.service")];
    assert_eq!(value(&s, "twoine_service_active", &web), 1.0);
    assert_eq!(value(&s, "twoine_service_active", &api_unit), 0.0);
    assert_eq!(value(&s, "twoine_service_memory_bytes", &web), 52_428_800.0);
    assert_eq!(value(&s, "twoine_service_restarts", &web), 2.0);
    assert_eq!(value(&s, "twoine_service_restarts", &api_unit), 5.0);

    assert!(value(&s, "twoine_apid_http_requests_total", &[("class", "2xx")]) >= 1.0);
    assert!(value(&s, "twoine_apid_http_requests_total", &[("class", "4xx")]) >= 1.0);
    assert_eq!(
        value(&s, "twoine_apid_http_requests_total", &[("class", "5xx")]),
        0.0
    );
    assert_eq!(value(&s, "twoine_apid_polls_total", &[]), 42.0);
    assert_eq!(value(&s, "twoine_apid_store_pending", &[]), 3.0);
    assert_eq!(value(&s, "twoine_apid_store_dropped_total", &[]), 1.0);
    assert_eq!(value(&s, "twoine_apid_agent_connected", &[]), 0.0);
    assert_eq!(value(&s, "twoine_apid_stale", &[]), 1.0);

    // The scrape itself is counted once it is answered.
    let before = value(&s, "twoine_apid_http_requests_total", &[("class", "2xx")]);
    let (_, _, text) = scrape(&api, Some(&admin)).await;
    let after = value(
        &parse(&text),
        "twoine_apid_http_requests_total",
        &[("class", "2xx")],
    );
    assert_eq!(after, before + 1.0);
}

async fn metrics_need_an_admin_token(backend: Backend) {
    let api = TestApi::start(backend).await;
    let (status, _, text) = scrape(&api, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&serde_json::from_str(&text).unwrap(), "no token");
    for who in [Who::SiteOwner, Who::ReadonlyRole, Who::Blocked] {
        let (status, _, text) = scrape(&api, Some(&api.token(who))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who:?}: {text}");
        assert_error(&serde_json::from_str(&text).unwrap(), "non-admin");
    }
    let (status, _, _) = scrape(&api, Some("not.a.token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = scrape(&api, Some(&api.token(Who::InstallerAdmin))).await;
    assert_eq!(status, StatusCode::OK);
}

async fn metrics_without_a_poll_still_describe_apid(backend: Backend) {
    let api = TestApi::start(backend).await;
    let (status, _, text) = scrape(&api, Some(&api.token(Who::Admin))).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let s = parse(&text);
    assert!(
        s.iter().all(|x| !x.name.starts_with("twoine_host_")),
        "no made-up host figures"
    );
    assert!(s.iter().all(|x| !x.name.starts_with("twoine_site_")));
    assert_eq!(value(&s, "twoine_apid_stale", &[]), 0.0);
    assert_eq!(value(&s, "twoine_apid_polls_total", &[]), 0.0);
    assert_eq!(value(&s, "twoine_apid_agent_connected", &[]), 0.0);
}
