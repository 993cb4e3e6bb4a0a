//! Panel data reads: Twoine's `users`, `sites`, `services`, `domains`, `databases`, as its
//! Mongoose models write them (installer admin without `status`/`sites`, `__v`, extra fields,
//! soft-deleted sites).

use async_trait::async_trait;
use mongodb::bson::{Bson, Document, doc};

use super::collections::{DATABASES, DOMAINS, SERVICES, SITES, USERS};
use super::convert::{all, all_parsed, num, oid, parse};
use super::{MongoStore, err};
use crate::model::{DatabaseCounts, Domain, Id, Service, Site, User};
use crate::store::{PanelRead, StoreError, StoreResult};

/// Sites that are not soft-deleted.
fn not_deleted() -> Document {
    doc! { "status": { "$ne": "deleted" } }
}

/// `s` as a regular expression matching exactly it.
pub(super) fn exact_regex(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('^');
    for c in s.chars() {
        if "\\^$.|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('$');
    out
}

/// Strips `.service` so `twoine-a-b` and `twoine-a-b.service` are one unit.
pub(super) fn unit_key(unit: &str) -> &str {
    unit.strip_suffix(".service").unwrap_or(unit)
}

impl MongoStore {
    async fn find_one_parsed<T: serde::de::DeserializeOwned>(
        &self,
        coll: &str,
        filter: Document,
    ) -> StoreResult<Option<T>> {
        match self.coll(coll).find_one(filter).await.map_err(err)? {
            Some(d) => parse(d).map(Some),
            None => Ok(None),
        }
    }

    async fn find_sorted<T: serde::de::DeserializeOwned>(
        &self,
        coll: &str,
        filter: Document,
        sort: Document,
    ) -> StoreResult<Vec<T>> {
        let cursor = self.coll(coll).find(filter).sort(sort).await.map_err(err)?;
        all_parsed(cursor).await
    }

    pub(super) async fn exists(&self, coll: &str, filter: Document) -> StoreResult<bool> {
        let n = self
            .coll(coll)
            .count_documents(filter)
            .limit(1)
            .await
            .map_err(err)?;
        Ok(n > 0)
    }

    /// Inserts `doc` unless `taken` matches a document (`Conflict`); a duplicate key raced in
    /// by a unique index is a `Conflict` too.
    pub(super) async fn insert_unique(
        &self,
        coll: &str,
        taken: Document,
        what: String,
        doc: Document,
    ) -> StoreResult<()> {
        if self.exists(coll, taken).await? {
            return Err(StoreError::Conflict(what));
        }
        self.coll(coll).insert_one(doc).await.map_err(err)?;
        Ok(())
    }
}

#[async_trait]
impl PanelRead for MongoStore {
    async fn user(&self, id: Id) -> StoreResult<Option<User>> {
        self.find_one_parsed(USERS, doc! { "_id": oid(id) }).await
    }

    async fn user_by_login(&self, login: &str) -> StoreResult<Option<User>> {
        let filter = doc! { "$or": [
            { "username": login },
            { "email": { "$regex": exact_regex(login), "$options": "i" } },
        ] };
        self.find_one_parsed(USERS, filter).await
    }

    async fn users(&self) -> StoreResult<Vec<User>> {
        self.find_sorted(USERS, doc! {}, doc! { "username": 1 })
            .await
    }

    async fn count_users(&self) -> StoreResult<u64> {
        self.coll(USERS).count_documents(doc! {}).await.map_err(err)
    }

    async fn site(&self, id: Id) -> StoreResult<Option<Site>> {
        self.find_one_parsed(SITES, doc! { "_id": oid(id) }).await
    }

    async fn sites(&self) -> StoreResult<Vec<Site>> {
        self.find_sorted(SITES, not_deleted(), doc! { "name": 1 })
            .await
    }

    async fn sites_of_user(&self, user: Id) -> StoreResult<Vec<Site>> {
        let Some(u) = self.user(user).await? else {
            return Ok(Vec::new());
        };
        let assigned: Vec<Bson> = u
            .sites
            .iter()
            .map(|a| Bson::ObjectId(oid(a.site)))
            .collect();
        let filter = doc! {
            "status": { "$ne": "deleted" },
            "$or": [ { "owner": oid(user) }, { "_id": { "$in": assigned } } ],
        };
        self.find_sorted(SITES, filter, doc! { "name": 1 }).await
    }

    async fn count_sites(&self) -> StoreResult<u64> {
        self.coll(SITES)
            .count_documents(not_deleted())
            .await
            .map_err(err)
    }

    async fn service(&self, id: Id) -> StoreResult<Option<Service>> {
        self.find_one_parsed(SERVICES, doc! { "_id": oid(id) })
            .await
    }

    async fn service_by_unit(&self, unit: &str) -> StoreResult<Option<Service>> {
        let key = unit_key(unit);
        let filter = doc! { "systemd.serviceName": { "$in": [key, format!("{key}.service")] } };
        self.find_one_parsed(SERVICES, filter).await
    }

    async fn services(&self) -> StoreResult<Vec<Service>> {
        let sites = self.sites().await?;
        let ids: Vec<Bson> = sites.iter().map(|s| Bson::ObjectId(oid(s.id))).collect();
        let mut services: Vec<Service> = self
            .find_sorted(
                SERVICES,
                doc! { "site": { "$in": ids } },
                doc! { "name": 1 },
            )
            .await?;
        // By site name, then service name (as the embedded store).
        let rank: std::collections::HashMap<Id, usize> =
            sites.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
        services.sort_by_key(|s| rank.get(&s.site).copied().unwrap_or(usize::MAX));
        Ok(services)
    }

    async fn services_of_site(&self, site: Id) -> StoreResult<Vec<Service>> {
        self.find_sorted(SERVICES, doc! { "site": oid(site) }, doc! { "name": 1 })
            .await
    }

    async fn domains_of_site(&self, site: Id) -> StoreResult<Vec<Domain>> {
        self.find_sorted(DOMAINS, doc! { "site": oid(site) }, doc! { "domain": 1 })
            .await
    }

    async fn database_counts(&self) -> StoreResult<DatabaseCounts> {
        let pipeline = [doc! { "$group": { "_id": "$type", "n": { "$sum": 1 } } }];
        let cursor = self
            .coll(DATABASES)
            .aggregate(pipeline)
            .await
            .map_err(err)?;
        let mut c = DatabaseCounts::default();
        for d in all(cursor).await? {
            let n = num(d.get("n")) as u64;
            match d.get_str("_id").unwrap_or_default() {
                "mongodb" => c.by_type.mongodb += n,
                "mysql" => c.by_type.mysql += n,
                "postgresql" => c.by_type.postgresql += n,
                _ => continue,
            }
            c.total += n;
        }
        Ok(c)
    }
}
