//! Panel data writes: what standalone mode and service actions need, as Twoine's Mongoose
//! models would write them (ObjectIds, BSON dates, `__v`).

use async_trait::async_trait;
use mongodb::bson::{Bson, Document, doc};
use mongodb::results::UpdateResult;

use super::collections::{DOMAINS, SERVICES, SITES, USERS};
use super::convert::{date, date_or_null, oid};
use super::panel::{exact_regex, unit_key};
use super::{MongoStore, err};
use crate::model::{Domain, Id, PasswordHash, Service, ServiceStatus, Site, SiteAccess, User};
use crate::store::{LoginState, PanelWrite, StoreError, StoreResult};

fn access_doc(a: &SiteAccess) -> Document {
    doc! {
        "site": oid(a.site),
        "accessLevel": access_str(a),
        "assignedAt": date_or_null(a.assigned_at),
    }
}

fn access_str(a: &SiteAccess) -> &'static str {
    use crate::model::AccessLevel::*;
    match a.access_level {
        Owner => "owner",
        Collaborator => "collaborator",
        Readonly => "readonly",
    }
}

/// A user as Twoine's Mongoose `User` model stores it.
fn user_doc(u: &User) -> Document {
    use crate::model::{Role, UserStatus};
    let role = match u.role {
        Role::Admin => "admin",
        Role::User => "user",
        Role::Readonly => "readonly",
    };
    let status = match u.status {
        UserStatus::Active => "active",
        UserStatus::Blocked => "blocked",
        UserStatus::Pending => "pending",
    };
    let now = date(chrono::Utc::now());
    doc! {
        "_id": oid(u.id),
        "username": &u.username,
        "email": u.email.to_lowercase(),
        "password": u.password_hash.as_ref().map(|h| h.0.clone()),
        "role": role,
        "status": status,
        "sites": u.sites.iter().map(access_doc).collect::<Vec<_>>(),
        "failedLoginAttempts": i32::try_from(u.failed_login_attempts).unwrap_or(i32::MAX),
        "lockUntil": date_or_null(u.lock_until),
        "lastLoginAt": date_or_null(u.last_login_at),
        "mustChangePassword": u.must_change_password,
        "createdAt": now,
        "updatedAt": now,
        "__v": 0,
    }
}

/// A site as Twoine's Mongoose `Site` model stores it.
fn site_doc(s: &Site) -> Document {
    let now = date(chrono::Utc::now());
    let mut linux = doc! { "username": &s.linux_user.username };
    if let Some(uid) = s.linux_user.uid {
        linux.insert("uid", i64::from(uid));
    }
    if let Some(gid) = s.linux_user.gid {
        linux.insert("gid", i64::from(gid));
    }
    doc! {
        "_id": oid(s.id),
        "name": &s.name,
        "displayName": &s.display_name,
        "owner": oid(s.owner),
        "linuxUser": linux,
        "paths": {
            "root": &s.paths.root, "services": &s.paths.services, "logs": &s.paths.logs,
            "data": &s.paths.data, "tmp": &s.paths.tmp,
        },
        "portRange": { "start": i32::from(s.port_range.start), "end": i32::from(s.port_range.end) },
        "status": s.status.as_str(),
        "resources": {
            "maxMemoryMB": super::convert::long(s.resources.max_memory_mb),
            "maxCpuPercent": s.resources.max_cpu_percent,
            "maxDiskMB": super::convert::long(s.resources.max_disk_mb),
        },
        "createdAt": now,
        "updatedAt": now,
        "__v": 0,
    }
}

fn status_doc(s: ServiceStatus) -> Document {
    let desired = match s.desired {
        crate::model::DesiredState::Running => "running",
        crate::model::DesiredState::Stopped => "stopped",
    };
    doc! { "current": s.current.as_str(), "desired": desired }
}

/// A service as Twoine's Mongoose `Service` model stores it.
fn service_doc(s: &Service) -> Document {
    let now = date(chrono::Utc::now());
    doc! {
        "_id": oid(s.id),
        "site": oid(s.site),
        "name": &s.name,
        "displayName": &s.display_name,
        "type": &s.kind,
        "port": s.port.map(i32::from),
        "workingDir": s.working_dir.clone(),
        "systemd": { "serviceName": &s.systemd.service_name },
        "status": status_doc(s.status),
        "resources": {
            "maxMemoryMB": super::convert::long(s.resources.max_memory_mb),
            "maxCpuPercent": s.resources.max_cpu_percent,
        },
        "createdAt": now,
        "updatedAt": now,
        "__v": 0,
    }
}

impl MongoStore {
    /// Applies `update` to the document `id` of `collection`; `NotFound` ("`what` `id`") when
    /// there is no such document.
    async fn update_by_id(
        &self,
        collection: &str,
        id: Id,
        update: Document,
        what: &str,
    ) -> StoreResult<UpdateResult> {
        let r = self
            .coll(collection)
            .update_one(doc! { "_id": oid(id) }, update)
            .await
            .map_err(err)?;
        if r.matched_count == 0 {
            return Err(StoreError::NotFound(format!("{what} {id}")));
        }
        Ok(r)
    }
}

#[async_trait]
impl PanelWrite for MongoStore {
    async fn create_user(&self, user: &User) -> StoreResult<()> {
        let taken = doc! { "$or": [
            { "username": &user.username },
            { "email": { "$regex": exact_regex(&user.email), "$options": "i" } },
        ] };
        let what = format!("user {} or e-mail already exists", user.username);
        self.insert_unique(USERS, taken, what, user_doc(user)).await
    }

    async fn set_login_state(&self, user: Id, state: LoginState) -> StoreResult<()> {
        let update = doc! { "$set": {
            "failedLoginAttempts": i32::try_from(state.failed_login_attempts).unwrap_or(i32::MAX),
            "lockUntil": date_or_null(state.lock_until),
            "lastLoginAt": date_or_null(state.last_login_at),
        } };
        self.update_by_id(USERS, user, update, "user")
            .await
            .map(drop)
    }

    async fn create_site(&self, site: &Site) -> StoreResult<()> {
        if !self.exists(USERS, doc! { "_id": oid(site.owner) }).await? {
            return Err(StoreError::NotFound(format!("owner {}", site.owner)));
        }
        let what = format!("site {} already exists", site.name);
        self.insert_unique(SITES, doc! { "name": &site.name }, what, site_doc(site))
            .await
    }

    async fn create_service(&self, service: &Service) -> StoreResult<()> {
        if !self
            .exists(SITES, doc! { "_id": oid(service.site) })
            .await?
        {
            return Err(StoreError::NotFound(format!("site {}", service.site)));
        }
        let key = unit_key(&service.systemd.service_name);
        let taken = doc! { "systemd.serviceName": { "$in": [key, format!("{key}.service")] } };
        let what = format!("unit {key} already exists");
        self.insert_unique(SERVICES, taken, what, service_doc(service))
            .await
    }

    async fn create_domain(&self, domain: &Domain) -> StoreResult<()> {
        if !self.exists(SITES, doc! { "_id": oid(domain.site) }).await? {
            return Err(StoreError::NotFound(format!("site {}", domain.site)));
        }
        let name = domain.domain.to_lowercase();
        let taken = doc! { "domain": { "$regex": exact_regex(&name), "$options": "i" } };
        let now = date(chrono::Utc::now());
        let d = doc! {
            "_id": oid(domain.id), "domain": &name, "site": oid(domain.site),
            "ssl": { "enabled": domain.ssl.enabled },
            "createdAt": now, "updatedAt": now, "__v": 0,
        };
        self.insert_unique(DOMAINS, taken, format!("domain {name} already exists"), d)
            .await
    }

    async fn assign_site(&self, user: Id, access: SiteAccess) -> StoreResult<()> {
        let site_ok = doc! { "_id": oid(access.site), "status": { "$ne": "deleted" } };
        if !self.exists(SITES, site_ok).await? {
            return Err(StoreError::NotFound(format!("site {}", access.site)));
        }
        // Replace a previous level for that site: pull it, then push the new entry.
        self.remove_site_access(user, access.site).await?;
        let push = doc! { "$push": { "sites": access_doc(&access) } };
        self.update_by_id(USERS, user, push, "user").await.map(drop)
    }

    async fn set_service_status(&self, service: Id, status: ServiceStatus) -> StoreResult<()> {
        let s = status_doc(status);
        let update = doc! { "$set": {
            "status.current": s.get("current").cloned().unwrap_or(Bson::Null),
            "status.desired": s.get("desired").cloned().unwrap_or(Bson::Null),
            "updatedAt": date(chrono::Utc::now()),
        } };
        self.update_by_id(SERVICES, service, update, "service")
            .await
            .map(drop)
    }

    async fn set_password(&self, user: Id, hash: &PasswordHash) -> StoreResult<()> {
        let update = doc! { "$set": {
            "password": &hash.0,
            "updatedAt": date(chrono::Utc::now()),
        } };
        self.update_by_id(USERS, user, update, "user")
            .await
            .map(drop)
    }

    async fn set_user_status(&self, user: Id, status: crate::model::UserStatus) -> StoreResult<()> {
        let status = match status {
            crate::model::UserStatus::Active => "active",
            crate::model::UserStatus::Blocked => "blocked",
            crate::model::UserStatus::Pending => "pending",
        };
        let update = doc! { "$set": { "status": status, "updatedAt": date(chrono::Utc::now()) } };
        self.update_by_id(USERS, user, update, "user")
            .await
            .map(drop)
    }

    async fn remove_site_access(&self, user: Id, site: Id) -> StoreResult<bool> {
        let pull = doc! { "$pull": { "sites": { "site": oid(site) } } };
        let r = self.update_by_id(USERS, user, pull, "user").await?;
        Ok(r.modified_count > 0)
    }
}
