//! A database as Twoine's Node code leaves it: raw BSON documents and Mongoose's own indexes,
//! plus helpers to inspect what a store wrote.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::spec::ElementType;
use mongodb::bson::{Bson, DateTime, Document, doc};
use mongodb::{Database, IndexModel};
use twoine_apid::model::Id;

pub fn oid(n: u32) -> ObjectId {
    format!("{n:024x}").parse().unwrap()
}

pub fn id(n: u32) -> Id {
    format!("{n:024x}").parse().unwrap()
}

/// Twoine's Mongoose indexes, declared as Mongoose does (`background: true`), TTLs included.
pub async fn create_mongoose_indexes(db: &Database) {
    let specs: [(&str, Document); 7] = [
        (
            "users",
            doc! { "key": { "username": 1 }, "name": "username_1", "unique": true, "background": true },
        ),
        (
            "users",
            doc! { "key": { "email": 1 }, "name": "email_1", "unique": true, "background": true },
        ),
        (
            "sites",
            doc! { "key": { "name": 1 }, "name": "name_1", "unique": true, "background": true },
        ),
        (
            "services",
            doc! { "key": { "systemd.serviceName": 1 }, "name": "systemd.serviceName_1", "unique": true, "background": true },
        ),
        (
            "server_stats",
            doc! { "key": { "timestamp": 1 }, "name": "timestamp_1", "expireAfterSeconds": 86400, "background": true },
        ),
        (
            "site_stats",
            doc! { "key": { "timestamp": 1 }, "name": "timestamp_1", "expireAfterSeconds": 86400, "background": true },
        ),
        (
            "alerts",
            doc! { "key": { "resolvedAt": 1 }, "name": "resolvedAt_1", "expireAfterSeconds": 604800,
            "partialFilterExpression": { "status": "resolved" }, "background": true },
        ),
    ];
    for (coll, spec) in specs {
        db.run_command(doc! { "createIndexes": coll, "indexes": [spec] })
            .await
            .unwrap();
    }
    db.run_command(doc! { "createIndexes": "site_stats", "indexes": [
        { "key": { "site": 1, "timestamp": -1 }, "name": "site_1_timestamp_-1", "background": true }
    ] })
    .await
    .unwrap();
}

/// Every index of every collection, by collection and name, as raw documents.
pub async fn all_indexes(db: &Database) -> BTreeMap<(String, String), Document> {
    let mut out = BTreeMap::new();
    for coll in db.list_collection_names().await.unwrap() {
        let cursor = db
            .collection::<Document>(&coll)
            .list_indexes()
            .await
            .unwrap();
        let models: Vec<IndexModel> = cursor.try_collect().await.unwrap();
        for m in models {
            let name = m
                .options
                .as_ref()
                .and_then(|o| o.name.clone())
                .unwrap_or_default();
            let mut d = mongodb::bson::to_document(&m.options).unwrap_or_default();
            d.insert("key", m.keys.clone());
            out.insert((coll.clone(), name), d);
        }
    }
    out
}

pub async fn seed_twoine(db: &Database) {
    let now = DateTime::now();
    let users = db.collection::<Document>("users");
    users
        .insert_many([
            // The installer's admin: no status, no sites, no failedLoginAttempts.
            doc! { "_id": oid(1), "username": "admin", "email": "admin@example.org",
                "password": "$2b$12$012345678901234567890uABCDEFGHIJKLMNOPQRSTUVWXYZabcd",
                "role": "admin", "mustChangePassword": true, "createdAt": now, "updatedAt": now, "__v": 0 },
            doc! { "_id": oid(2), "username": "bob", "email": "bob@example.org", "password": "$2a$12$x",
                "role": "user", "status": "active", "failedLoginAttempts": 2i32, "lockUntil": Bson::Null,
                "sites": [ { "_id": oid(900), "site": oid(11), "accessLevel": "readonly", "assignedAt": now } ],
                "preferences": { "theme": "dark" }, "__v": 4 },
        ])
        .await
        .unwrap();
    db.collection::<Document>("sites")
        .insert_many([
            doc! { "_id": oid(10), "name": "shop", "displayName": "Shop", "owner": oid(2),
                "linuxUser": { "username": "site_shop", "uid": 1001i32, "gid": 1001i32 },
                "paths": { "root": "/var/www/twoine/shop", "services": "/var/www/twoine/shop/services" },
                "portRange": { "start": 3000i32, "end": 3009i32 }, "status": "active",
                "resources": { "maxMemoryMB": 1024i32, "maxCpuPercent": 150i32, "maxDiskMB": 2048i32 },
                "environment": { "NODE_ENV": "production" }, "createdAt": now, "__v": 0 },
            doc! { "_id": oid(11), "name": "wiki", "displayName": "Wiki", "owner": oid(1),
                "status": "stopped", "__v": 0 },
            doc! { "_id": oid(12), "name": "gone", "displayName": "Gone", "owner": oid(2),
                "status": "deleted", "deletedAt": now, "__v": 1 },
        ])
        .await
        .unwrap();
    db.collection::<Document>("services")
        .insert_many([
            doc! { "_id": oid(20), "site": oid(10), "name": "api", "displayName": "API", "type": "node",
                "port": 3001i32, "workingDir": "/var/www/twoine/shop/services/api",
                "systemd": { "serviceName": "twoine-shop-api", "enabled": true },
                "status": { "current": "running", "desired": "running", "lastChange": now },
                "resources": { "maxMemoryMB": 512i32, "maxCpuPercent": 25.5 }, "__v": 0 },
            doc! { "_id": oid(21), "site": oid(12), "name": "api", "type": "node",
                "systemd": { "serviceName": "twoine-gone-api" }, "status": { "current": "stopped", "desired": "stopped" } },
        ])
        .await
        .unwrap();
    db.collection::<Document>("domains")
        .insert_one(
            doc! { "_id": oid(30), "domain": "shop.example", "site": oid(10),
            "ssl": { "enabled": true, "certPath": "/etc/ssl/x" }, "__v": 0 },
        )
        .await
        .unwrap();
    db.collection::<Document>("databases")
        .insert_one(
            doc! { "_id": oid(40), "type": "mongodb", "site": oid(10), "name": "shopdb", "__v": 0 },
        )
        .await
        .unwrap();
}

/// Asserts the BSON type of each dotted path.
pub fn types(d: &Document, fields: &[(&str, ElementType)]) {
    for (path, want) in fields {
        let mut cur = d;
        let parts: Vec<&str> = path.split('.').collect();
        for p in &parts[..parts.len() - 1] {
            cur = cur
                .get_document(p)
                .unwrap_or_else(|_| panic!("{path}: no {p} in {d}"));
        }
        let got = cur.get(parts[parts.len() - 1]).map(Bson::element_type);
        assert_eq!(got, Some(*want), "{path} in {d}");
    }
}
