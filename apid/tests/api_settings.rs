//! `GET`/`PUT /api/stats/config` on both stores: admins only, partial updates merged, saved
//! and published to the poller, every bad field named.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::api::{Backend, TestApi, Who, assert_error, data};
use twoine_apid::model::MonitoringConfig;

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Embedded).await
                }
            )*
        }
        mod mongo {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Mongo).await
                }
            )*
        }
    };
}

on_both_backends!(
    only_admins_read_and_write_the_settings,
    a_partial_update_is_merged_saved_and_published,
    invalid_settings_name_every_bad_field_and_change_nothing,
);

async fn only_admins_read_and_write_the_settings(backend: Backend) {
    let api = TestApi::start(backend).await;
    let (status, body) = api
        .get("/api/stats/config", Some(&api.token(Who::Admin)))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        data(&body, "config"),
        &json!({
            "_id": "monitoring_config", "collectionInterval": 30,
            "alertThresholds": {"cpu": {"warning": 70.0, "critical": 90.0},
                                "memory": {"warning": 75.0, "critical": 90.0},
                                "disk": {"warning": 80.0, "critical": 95.0}},
            "alertsEnabled": true, "siteStatsEnabled": true, "retentionHours": 24,
            "autoResolveMinutes": 5,
        })
    );
    for who in [Who::SiteOwner, Who::ReadonlyRole] {
        let (status, body) = api.get("/api/stats/config", Some(&api.token(who))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who:?}");
        assert_error(&body, "non-admin read");
        let (status, _) = api
            .put(
                "/api/stats/config",
                Some(&api.token(who)),
                json!({"collectionInterval": 60}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who:?}");
    }
    let (status, _) = api.get("/api/stats/config", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!api.monitoring.has_changed().unwrap(), "nothing published");
    assert_eq!(
        api.store.config().await.unwrap(),
        MonitoringConfig::default()
    );
}

async fn a_partial_update_is_merged_saved_and_published(backend: Backend) {
    let api = TestApi::start(backend).await;
    let token = api.token(Who::InstallerAdmin);
    let (status, body) = api
        .put(
            "/api/stats/config",
            Some(&token),
            json!({"collectionInterval": 60, "alertsEnabled": false,
                   "alertThresholds": {"cpu": {"warning": 55.5}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut expected = MonitoringConfig {
        collection_interval: 60,
        alerts_enabled: false,
        ..MonitoringConfig::default()
    };
    expected.alert_thresholds.cpu.warning = 55.5;
    let answered: MonitoringConfig = serde_json::from_value(data(&body, "put").clone()).unwrap();
    assert_eq!(answered, expected);
    assert!(
        api.monitoring.has_changed().unwrap(),
        "published to the poller"
    );
    assert_eq!(*api.monitoring.borrow(), expected);
    assert_eq!(api.store.config().await.unwrap(), expected);
    let (_, body) = api.get("/api/stats/config", Some(&token)).await;
    assert_eq!(body["data"]["collectionInterval"], 60);
    assert_eq!(body["data"]["alertThresholds"]["cpu"]["critical"], 90.0);

    // The next partial update starts from the saved settings.
    let (status, body) = api
        .put(
            "/api/stats/config",
            Some(&token),
            json!({"retentionHours": 168}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["collectionInterval"], 60);
    assert_eq!(body["data"]["retentionHours"], 168);
    assert_eq!(api.monitoring.borrow().retention_hours, 168);
}

fn error_fields(body: &Value) -> BTreeSet<String> {
    body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("errors expected: {body}"))
        .iter()
        .map(|e| {
            assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
            e["field"].as_str().unwrap().to_owned()
        })
        .collect()
}

async fn invalid_settings_name_every_bad_field_and_change_nothing(backend: Backend) {
    let api = TestApi::start(backend).await;
    let token = api.token(Who::Admin);
    let cases = [
        (
            json!({"collectionInterval": 5, "retentionHours": 200,
                   "alertThresholds": {"cpu": {"warning": 95, "critical": 90},
                                       "disk": {"critical": 101}}}),
            vec![
                "collectionInterval",
                "retentionHours",
                "alertThresholds.cpu",
                "alertThresholds.disk.critical",
            ],
        ),
        (
            json!({"collectionInterval": 301}),
            vec!["collectionInterval"],
        ),
        (json!({"retentionHours": 0}), vec!["retentionHours"]),
        (
            json!({"alertThresholds": {"memory": {"warning": -1}}}),
            vec!["alertThresholds.memory.warning"],
        ),
        (
            json!({"foo": 1, "alertThresholds": {"gpu": {}}}),
            vec!["foo", "alertThresholds.gpu"],
        ),
        (
            json!({"collectionInterval": "60", "alertsEnabled": 1, "alertThresholds": 5}),
            vec!["collectionInterval", "alertsEnabled", "alertThresholds"],
        ),
        (
            json!({"collectionInterval": 60.5}),
            vec!["collectionInterval"],
        ),
    ];
    for (patch, fields) in cases {
        let (status, body) = api
            .put("/api/stats/config", Some(&token), patch.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{patch}: {body}");
        assert_error(&body, "invalid config");
        let expected: BTreeSet<String> = fields.into_iter().map(str::to_owned).collect();
        assert_eq!(error_fields(&body), expected, "{patch}");
    }
    for not_an_object in [json!([1, 2]), json!("x"), json!(null)] {
        let (status, body) = api
            .put("/api/stats/config", Some(&token), not_an_object.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{not_an_object}: {body}");
        assert_error(&body, "not an object");
    }
    assert!(!api.monitoring.has_changed().unwrap(), "nothing published");
    assert_eq!(
        api.store.config().await.unwrap(),
        MonitoringConfig::default()
    );
}
