//! The conformance suite against the MongoDB store (SecantusDB started by the test, or
//! `MONGODB_URI`), and what only a real Twoine database shows: Mongoose-written documents and
//! indexes, and the BSON types Twoine's schema expects of what we write.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

mod conformance;
mod support;

use async_trait::async_trait;
use chrono::{Duration, Utc};
use mongodb::Database;
use mongodb::bson::spec::ElementType;
use mongodb::bson::{Bson, Document, doc};
use serde_json::{Value, json};
use twoine_apid::model::*;
use twoine_apid::store::mongo::MongoStore;
use twoine_apid::store::*;

use support::twoine_db::{all_indexes, create_mongoose_indexes, id, oid, seed_twoine, types};

struct Mongo {
    db: Database,
    store: MongoStore,
}

#[async_trait]
impl conformance::Harness for Mongo {
    fn store(&self) -> &dyn Store {
        &self.store
    }

    async fn import(&self, collection: &str, doc: Value) {
        let Bson::Document(d) = Bson::try_from(doc).unwrap() else {
            panic!("not a document")
        };
        self.db
            .collection::<Document>(collection)
            .insert_one(d)
            .await
            .unwrap();
    }
}

async fn mongo() -> Mongo {
    let db = support::mongo_server::fresh_db().await;
    let store = MongoStore::open(db.clone()).await.unwrap();
    Mongo { db, store }
}

conformance::conformance_tests!(mongo);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twoine_database_is_read_and_its_indexes_are_left_unchanged() {
    let db = support::mongo_server::fresh_db().await;
    seed_twoine(&db).await;
    create_mongoose_indexes(&db).await;
    let before = all_indexes(&db).await;
    assert!(before.len() >= 12, "{before:?}");

    let store = MongoStore::open(db.clone()).await.unwrap();
    let after = all_indexes(&db).await;
    for (key, idx) in &before {
        assert_eq!(
            after.get(key),
            Some(idx),
            "Twoine's index {key:?} is unchanged"
        );
    }
    let added: Vec<(&str, &str)> = after
        .keys()
        .filter(|k| !before.contains_key(*k))
        .map(|(c, n)| (c.as_str(), n.as_str()))
        .collect();
    assert_eq!(
        added,
        [
            ("alerts", "createdAt_-1"),
            ("alerts", "status_1_createdAt_-1"),
            ("server_stats_rollups", "_id_"),
            ("server_stats_rollups", "res_1_bucket_1"),
            ("site_stats_rollups", "_id_"),
            ("site_stats_rollups", "res_1_site_1_bucket_1"),
        ],
        "only our own indexes are added; Twoine's TTL on timestamp serves our stats reads"
    );
    // A second start changes nothing either.
    MongoStore::open(db.clone()).await.unwrap();
    assert_eq!(all_indexes(&db).await, after);

    let admin = store.user(id(1)).await.unwrap().unwrap();
    assert_eq!(
        (
            admin.status,
            admin.sites.len(),
            admin.failed_login_attempts,
            admin.must_change_password
        ),
        (UserStatus::Active, 0, 0, true)
    );
    let bob = store
        .user_by_login("BOB@example.org")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((bob.id, bob.failed_login_attempts), (id(2), 2));
    assert_eq!(bob.sites[0].access_level, AccessLevel::Readonly);
    let names = |v: Vec<Site>| v.into_iter().map(|s| s.name).collect::<Vec<_>>();
    assert_eq!(names(store.sites().await.unwrap()), ["shop", "wiki"]);
    assert_eq!(
        names(store.sites_of_user(id(2)).await.unwrap()),
        ["shop", "wiki"]
    );
    assert_eq!(store.count_sites().await.unwrap(), 2);
    let shop = store.site(id(10)).await.unwrap().unwrap();
    assert_eq!(
        (
            shop.resources.max_memory_mb,
            shop.resources.max_cpu_percent,
            shop.linux_user.uid
        ),
        (1024, 150.0, Some(1001))
    );
    let wiki = store.site(id(11)).await.unwrap().unwrap();
    assert_eq!(
        (
            wiki.resources.max_memory_mb,
            wiki.linux_user.username.as_str()
        ),
        (512, "")
    );
    assert_eq!(
        store.site(id(12)).await.unwrap().unwrap().status,
        SiteStatus::Deleted
    );
    let services: Vec<Id> = store
        .services()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(services, [id(20)], "the deleted site's service is left out");
    let api = store
        .service_by_unit("twoine-shop-api.service")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (api.port, api.resources.max_cpu_percent),
        (Some(3001), 25.5)
    );
    assert!(store.domains_of_site(id(10)).await.unwrap()[0].ssl.enabled);
    assert_eq!(store.database_counts().await.unwrap().by_type.mongodb, 1);

    // The one write to panel data keeps Twoine's other fields.
    let stopped = ServiceStatus {
        current: ServiceState::Stopped,
        desired: DesiredState::Stopped,
    };
    store.set_service_status(id(20), stopped).await.unwrap();
    let raw = db
        .collection::<Document>("services")
        .find_one(doc! { "_id": oid(20) })
        .await
        .unwrap()
        .unwrap();
    let status = raw.get_document("status").unwrap();
    assert_eq!(status.get_str("current").unwrap(), "stopped");
    assert_eq!(status.get_str("desired").unwrap(), "stopped");
    assert!(status.get_datetime("lastChange").is_ok());
    assert!(
        raw.get_document("systemd")
            .unwrap()
            .get_bool("enabled")
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn written_documents_have_twoine_field_names_and_bson_types() {
    use ElementType::*;
    let h = mongo().await;
    let s = &h.store;
    let now = Utc::now();
    let server = conformance::server_sample(now, 12.34);
    let site = conformance::site_sample(now, 5.0);
    s.insert_snapshot(Some(&server), &[site]).await.unwrap();
    let raw =
        h.db.collection::<Document>("server_stats")
            .find_one(doc! {})
            .await
            .unwrap()
            .unwrap();
    types(
        &raw,
        &[
            ("timestamp", DateTime),
            ("cpu.percent", Double),
            ("cpu.cores", Int64),
            ("cpu.model", String),
            ("cpu.loadAvg.one", Double),
            ("memory.total", Int64),
            ("memory.used", Int64),
            ("memory.percent", Double),
            ("disk.percent", Int32),
            ("network.bytesIn", Int64),
            ("processes.total", Int64),
            ("uptime", Int64),
            ("totals.servicesRunning", Int64),
            ("system.hostname", String),
            ("system.type", String),
        ],
    );
    assert_eq!(raw.get_f64("cpu.percent").ok(), None, "no dotted keys");
    assert_eq!(
        raw.get_document("cpu").unwrap().get_f64("percent").unwrap(),
        12.3
    );
    assert!(raw.get("max").is_none());
    let raw =
        h.db.collection::<Document>("site_stats")
            .find_one(doc! {})
            .await
            .unwrap()
            .unwrap();
    types(
        &raw,
        &[
            ("timestamp", DateTime),
            ("site", ObjectId),
            ("cpu.percent", Double),
            ("cpu.timeMs", Int64),
            ("memory.usedBytes", Int64),
            ("memory.percent", Double),
            ("memory.limit", Int64),
            ("disk.usedBytes", Int64),
            ("disk.fileCount", Int64),
            ("services.running", Int64),
            ("limits.cpu", Double),
        ],
    );
    assert_eq!(raw.get_object_id("site").unwrap(), oid(10));

    let mut a = Alert {
        id: id(70),
        kind: AlertType::ServiceDown,
        severity: Severity::Error,
        message: "Service arrêté : api".into(),
        data: json!({"value": 0, "unit": "twoine-shop-api"}),
        site: Some(id(10)),
        service: Some(id(20)),
        status: AlertStatus::Active,
        acknowledged_by: None,
        acknowledged_at: None,
        created_at: now,
        resolved_at: None,
        resolved_by: None,
        clear_since: None,
    };
    s.insert_alert(&a).await.unwrap();
    let alerts = h.db.collection::<Document>("alerts");
    let raw = alerts
        .find_one(doc! { "_id": oid(70) })
        .await
        .unwrap()
        .unwrap();
    types(
        &raw,
        &[
            ("type", String),
            ("severity", String),
            ("message", String),
            ("data", EmbeddedDocument),
            ("site", ObjectId),
            ("service", ObjectId),
            ("status", String),
            ("acknowledgedBy", Null),
            ("acknowledgedAt", Null),
            ("createdAt", DateTime),
            ("resolvedAt", Null),
        ],
    );
    assert_eq!(raw.get_str("type").unwrap(), "service_down");
    assert_eq!(
        raw.get_document("data").unwrap().get_str("unit").unwrap(),
        "twoine-shop-api"
    );
    s.acknowledge_alert(id(70), id(2), now).await.unwrap();
    s.resolve_alert(id(70), now, ResolvedBy::SYSTEM)
        .await
        .unwrap();
    let raw = alerts
        .find_one(doc! { "_id": oid(70) })
        .await
        .unwrap()
        .unwrap();
    types(
        &raw,
        &[
            ("status", String),
            ("acknowledgedBy", ObjectId),
            ("acknowledgedAt", DateTime),
            ("resolvedAt", DateTime),
        ],
    );
    assert_eq!(raw.get_str("status").unwrap(), "resolved");
    assert_eq!(raw.get_object_id("acknowledgedBy").unwrap(), oid(2));
    a.id = id(71);
    a.site = None;
    a.service = None;
    s.insert_alert(&a).await.unwrap();
    let raw = alerts
        .find_one(doc! { "_id": oid(71) })
        .await
        .unwrap()
        .unwrap();
    types(&raw, &[("site", Null), ("service", Null)]);

    let c = MonitoringConfig {
        retention_hours: 48,
        ..MonitoringConfig::default()
    };
    s.put_config(&c).await.unwrap();
    let raw =
        h.db.collection::<Document>("monitoring_config")
            .find_one(doc! {})
            .await
            .unwrap()
            .unwrap();
    assert_eq!(raw.get_str("_id").unwrap(), "monitoring_config");
    types(
        &raw,
        &[
            ("collectionInterval", Int64),
            ("retentionHours", Int64),
            ("alertsEnabled", Boolean),
            ("siteStatsEnabled", Boolean),
            ("autoResolveMinutes", Int64),
            ("alertThresholds.cpu.warning", Double),
            ("alertThresholds.disk.critical", Double),
        ],
    );
    assert_eq!(raw.get_i64("retentionHours").unwrap(), 48);
    let docs =
        h.db.collection::<Document>("monitoring_config")
            .count_documents(doc! {})
            .await
            .unwrap();
    assert_eq!(docs, 1, "one settings document");

    // Windows past the 24 h TTL come from our own roll-up collections.
    let old = now - Duration::hours(30);
    s.insert_snapshot(Some(&conformance::server_sample(old, 50.0)), &[])
        .await
        .unwrap();
    s.run_retention(now, 24).await.unwrap();
    let rollups = h.db.collection::<Document>("server_stats_rollups");
    let r = rollups
        .find_one(doc! { "res": 300_000i64 })
        .await
        .unwrap()
        .unwrap();
    types(
        &r,
        &[("bucket", DateTime), ("n", Double), ("v", EmbeddedDocument)],
    );
    let hist = s
        .server_history(
            Window {
                from: old - Duration::hours(1),
                to: old + Duration::hours(1),
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(hist.len(), 1);
    assert_eq!(
        (hist[0].cpu.percent, hist[0].system.hostname.as_str()),
        (50.0, "web1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_unavailable() {
    // A port nothing listens on: the store reports Unavailable, it does not panic or hang.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let uri =
        format!("mongodb://127.0.0.1:{port}/?directConnection=true&serverSelectionTimeoutMS=500");
    let r = MongoStore::connect(&uri, "x").await;
    assert!(
        matches!(r, Err(StoreError::Unavailable(_))),
        "{:?}",
        r.err()
    );
}
