//! Panel data in the embedded store: each record is kept as its JSON document (so reads are as
//! tolerant as the MongoDB ones) with the looked-up fields in indexed columns.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use serde::de::DeserializeOwned;

use super::{EmbeddedStore, id_col, sql};
use crate::model::{
    DatabaseCounts, DatabaseType, Domain, Id, PasswordHash, Service, ServiceStatus, Site,
    SiteAccess, SiteStatus, User, UserStatus,
};
use crate::store::{LoginState, PanelRead, PanelWrite, StoreError, StoreResult};

const DELETED: &str = "deleted";

fn parse<T: DeserializeOwned>(doc: &str) -> StoreResult<T> {
    serde_json::from_str(doc).map_err(|e| StoreError::Internal(format!("unreadable record: {e}")))
}

fn to_doc<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(e.to_string()))
}

fn docs<T: DeserializeOwned>(
    c: &Connection,
    query: &str,
    p: impl rusqlite::Params,
) -> StoreResult<Vec<T>> {
    let mut st = c.prepare_cached(query).map_err(sql)?;
    let rows = st.query_map(p, |r| r.get::<_, String>(0)).map_err(sql)?;
    rows.map(|r| r.map_err(sql).and_then(|d| parse(&d)))
        .collect()
}

fn user_row(c: &Connection, query: &str, p: impl rusqlite::Params) -> StoreResult<Option<User>> {
    let row = c
        .query_row(query, p, |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })
        .optional()
        .map_err(sql)?;
    row.map(|(doc, password)| {
        let mut user: User = parse(&doc)?;
        if let Some(p) = password {
            user.password_hash = Some(PasswordHash(p));
        }
        Ok(user)
    })
    .transpose()
}

fn one<T: DeserializeOwned>(
    c: &Connection,
    query: &str,
    p: impl rusqlite::Params,
) -> StoreResult<Option<T>> {
    let doc: Option<String> = c
        .query_row(query, p, |r| r.get(0))
        .optional()
        .map_err(sql)?;
    doc.map(|d| parse(&d)).transpose()
}

fn exists(c: &Connection, table: &str, id: Id) -> StoreResult<bool> {
    let q = format!("SELECT 1 FROM {table} WHERE id = ?1");
    c.query_row(&q, [id.bytes()], |_| Ok(()))
        .optional()
        .map_err(sql)
        .map(|o| o.is_some())
}

fn count(c: &Connection, query: &str) -> StoreResult<u64> {
    let n: i64 = c.query_row(query, [], |r| r.get(0)).map_err(sql)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Strips `.service` so `twoine-a-b` and `twoine-a-b.service` are one unit.
fn unit_key(unit: &str) -> &str {
    unit.strip_suffix(".service").unwrap_or(unit)
}

fn insert_user(c: &Connection, user: &User, doc: &str) -> StoreResult<()> {
    c.execute(
        "INSERT INTO users (id, username, email, password, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            user.id.bytes(),
            user.username,
            user.email.to_lowercase(),
            user.password_hash.as_ref().map(|p| &p.0),
            doc
        ],
    )
    .map_err(sql)?;
    Ok(())
}

fn insert_site(c: &Connection, site: &Site, doc: &str) -> StoreResult<()> {
    c.execute(
        "INSERT INTO sites (id, name, owner, status, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            site.id.bytes(),
            site.name,
            site.owner.bytes(),
            site.status.as_str(),
            doc
        ],
    )
    .map_err(sql)?;
    Ok(())
}

fn insert_service(c: &Connection, s: &Service, doc: &str) -> StoreResult<()> {
    c.execute(
        "INSERT INTO services (id, site, unit, name, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            s.id.bytes(),
            s.site.bytes(),
            unit_key(&s.systemd.service_name),
            s.name,
            doc
        ],
    )
    .map_err(sql)?;
    Ok(())
}

fn insert_domain(c: &Connection, d: &Domain, doc: &str) -> StoreResult<()> {
    c.execute(
        "INSERT INTO domains (id, domain, site, doc) VALUES (?1, ?2, ?3, ?4)",
        params![d.id.bytes(), d.domain.to_lowercase(), d.site.bytes(), doc],
    )
    .map_err(sql)?;
    Ok(())
}

impl EmbeddedStore {
    /// Imports one document as Twoine's MongoDB holds it (extended JSON ids and dates, `__v`,
    /// extra fields), into `users`, `sites`, `services`, `domains` or `databases`. The document
    /// is kept as given and read back with the same tolerance as the MongoDB store.
    pub async fn import_document(
        &self,
        collection: &str,
        doc: &serde_json::Value,
    ) -> StoreResult<()> {
        let text = doc.to_string();
        let collection = collection.to_owned();
        self.call(move |c| match collection.as_str() {
            "users" => {
                let u: User = parse(&text)?;
                insert_user(c, &u, &text)
            }
            "sites" => insert_site(c, &parse(&text)?, &text),
            "services" => insert_service(c, &parse(&text)?, &text),
            "domains" => insert_domain(c, &parse(&text)?, &text),
            "databases" => {
                let d: crate::model::Database = parse(&text)?;
                c.execute(
                    "INSERT INTO databases (id, site, type, doc) VALUES (?1, ?2, ?3, ?4)",
                    params![d.id.bytes(), d.site.bytes(), d.kind.as_str(), text],
                )
                .map_err(sql)?;
                Ok(())
            }
            other => Err(StoreError::Invalid(format!("unknown collection {other}"))),
        })
        .await
    }
}

#[async_trait]
impl PanelRead for EmbeddedStore {
    async fn user(&self, id: Id) -> StoreResult<Option<User>> {
        self.call(move |c| {
            user_row(
                c,
                "SELECT doc, password FROM users WHERE id = ?1",
                [id.bytes()],
            )
        })
        .await
    }

    async fn user_by_login(&self, login: &str) -> StoreResult<Option<User>> {
        let login = login.to_owned();
        self.call(move |c| {
            user_row(
                c,
                "SELECT doc, password FROM users WHERE username = ?1 OR email = lower(?1)",
                [login],
            )
        })
        .await
    }

    async fn users(&self) -> StoreResult<Vec<User>> {
        self.call(|c| {
            let mut st = c
                .prepare("SELECT id FROM users ORDER BY username")
                .map_err(sql)?;
            let ids: Vec<Id> = st
                .query_map([], |r| id_col(r, 0))
                .map_err(sql)?
                .collect::<Result<_, _>>()
                .map_err(sql)?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(u) = user_row(
                    c,
                    "SELECT doc, password FROM users WHERE id = ?1",
                    [id.bytes()],
                )? {
                    out.push(u);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn count_users(&self) -> StoreResult<u64> {
        self.call(|c| count(c, "SELECT COUNT(*) FROM users")).await
    }

    async fn site(&self, id: Id) -> StoreResult<Option<Site>> {
        self.call(move |c| one(c, "SELECT doc FROM sites WHERE id = ?1", [id.bytes()]))
            .await
    }

    async fn sites(&self) -> StoreResult<Vec<Site>> {
        self.call(|c| {
            docs(
                c,
                "SELECT doc FROM sites WHERE status <> ?1 ORDER BY name",
                [DELETED],
            )
        })
        .await
    }

    async fn sites_of_user(&self, user: Id) -> StoreResult<Vec<Site>> {
        self.call(move |c| {
            let Some(u) = user_row(
                c,
                "SELECT doc, password FROM users WHERE id = ?1",
                [user.bytes()],
            )?
            else {
                return Ok(Vec::new());
            };
            let all: Vec<Site> = docs(
                c,
                "SELECT doc FROM sites WHERE status <> ?1 ORDER BY name",
                [DELETED],
            )?;
            Ok(all
                .into_iter()
                .filter(|s| s.owner == user || u.sites.iter().any(|a| a.site == s.id))
                .collect())
        })
        .await
    }

    async fn count_sites(&self) -> StoreResult<u64> {
        self.call(|c| count(c, "SELECT COUNT(*) FROM sites WHERE status <> 'deleted'"))
            .await
    }

    async fn service(&self, id: Id) -> StoreResult<Option<Service>> {
        self.call(move |c| one(c, "SELECT doc FROM services WHERE id = ?1", [id.bytes()]))
            .await
    }

    async fn service_by_unit(&self, unit: &str) -> StoreResult<Option<Service>> {
        let unit = unit_key(unit).to_owned();
        self.call(move |c| one(c, "SELECT doc FROM services WHERE unit = ?1", [unit]))
            .await
    }

    async fn services(&self) -> StoreResult<Vec<Service>> {
        self.call(|c| {
            docs(
                c,
                "SELECT s.doc FROM services s JOIN sites t ON t.id = s.site \
                 WHERE t.status <> ?1 ORDER BY t.name, s.name",
                [DELETED],
            )
        })
        .await
    }

    async fn services_of_site(&self, site: Id) -> StoreResult<Vec<Service>> {
        self.call(move |c| {
            docs(
                c,
                "SELECT doc FROM services WHERE site = ?1 ORDER BY name",
                [site.bytes()],
            )
        })
        .await
    }

    async fn domains_of_site(&self, site: Id) -> StoreResult<Vec<Domain>> {
        self.call(move |c| {
            docs(
                c,
                "SELECT doc FROM domains WHERE site = ?1 ORDER BY domain",
                [site.bytes()],
            )
        })
        .await
    }

    async fn database_counts(&self) -> StoreResult<DatabaseCounts> {
        self.call(|c| {
            let mut st = c
                .prepare("SELECT type, COUNT(*) FROM databases GROUP BY type")
                .map_err(sql)?;
            let rows = st
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .map_err(sql)?;
            let mut out = DatabaseCounts::default();
            for row in rows {
                let (kind, n) = row.map_err(sql)?;
                let n = u64::try_from(n).unwrap_or(0);
                out.total += n;
                match kind.as_str() {
                    k if k == DatabaseType::Mongodb.as_str() => out.by_type.mongodb += n,
                    k if k == DatabaseType::Mysql.as_str() => out.by_type.mysql += n,
                    k if k == DatabaseType::Postgresql.as_str() => out.by_type.postgresql += n,
                    _ => {}
                }
            }
            Ok(out)
        })
        .await
    }
}

/// Rewrites a user's document after a change.
fn update_user(c: &Connection, id: Id, f: impl FnOnce(&mut User)) -> StoreResult<()> {
    let mut user = user_row(
        c,
        "SELECT doc, password FROM users WHERE id = ?1",
        [id.bytes()],
    )?
    .ok_or_else(|| StoreError::NotFound(format!("user {id}")))?;
    f(&mut user);
    c.execute(
        "UPDATE users SET doc = ?2 WHERE id = ?1",
        params![id.bytes(), to_doc(&user)?],
    )
    .map_err(sql)?;
    Ok(())
}

#[async_trait]
impl PanelWrite for EmbeddedStore {
    async fn create_user(&self, user: &User) -> StoreResult<()> {
        let user = user.clone();
        self.call(move |c| insert_user(c, &user, &to_doc(&user)?))
            .await
    }

    async fn set_login_state(&self, user: Id, state: LoginState) -> StoreResult<()> {
        self.call(move |c| {
            update_user(c, user, |u| {
                u.failed_login_attempts = state.failed_login_attempts;
                u.lock_until = state.lock_until;
                u.last_login_at = state.last_login_at;
            })
        })
        .await
    }

    async fn create_site(&self, site: &Site) -> StoreResult<()> {
        let site = site.clone();
        self.call(move |c| {
            if !exists(c, "users", site.owner)? {
                return Err(StoreError::NotFound(format!("owner {}", site.owner)));
            }
            insert_site(c, &site, &to_doc(&site)?)
        })
        .await
    }

    async fn create_service(&self, service: &Service) -> StoreResult<()> {
        let service = service.clone();
        self.call(move |c| {
            if !exists(c, "sites", service.site)? {
                return Err(StoreError::NotFound(format!("site {}", service.site)));
            }
            insert_service(c, &service, &to_doc(&service)?)
        })
        .await
    }

    async fn create_domain(&self, domain: &Domain) -> StoreResult<()> {
        let domain = domain.clone();
        self.call(move |c| {
            if !exists(c, "sites", domain.site)? {
                return Err(StoreError::NotFound(format!("site {}", domain.site)));
            }
            insert_domain(c, &domain, &to_doc(&domain)?)
        })
        .await
    }

    async fn assign_site(&self, user: Id, access: SiteAccess) -> StoreResult<()> {
        self.call(move |c| {
            let site: Option<Site> = one(
                c,
                "SELECT doc FROM sites WHERE id = ?1",
                [access.site.bytes()],
            )?;
            match site {
                Some(s) if s.status != SiteStatus::Deleted => {}
                _ => return Err(StoreError::NotFound(format!("site {}", access.site))),
            }
            update_user(c, user, |u| {
                u.sites.retain(|a| a.site != access.site);
                u.sites.push(access);
            })
        })
        .await
    }

    async fn set_service_status(&self, service: Id, status: ServiceStatus) -> StoreResult<()> {
        self.call(move |c| {
            let mut s: Service = one(
                c,
                "SELECT doc FROM services WHERE id = ?1",
                [service.bytes()],
            )?
            .ok_or_else(|| StoreError::NotFound(format!("service {service}")))?;
            s.status = status;
            c.execute(
                "UPDATE services SET doc = ?2 WHERE id = ?1",
                params![service.bytes(), to_doc(&s)?],
            )
            .map_err(sql)?;
            Ok(())
        })
        .await
    }

    async fn set_password(&self, user: Id, hash: &PasswordHash) -> StoreResult<()> {
        let hash = hash.0.clone();
        self.call(move |c| {
            let n = c
                .execute(
                    "UPDATE users SET password = ?2 WHERE id = ?1",
                    params![user.bytes(), hash],
                )
                .map_err(sql)?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("user {user}")));
            }
            Ok(())
        })
        .await
    }

    async fn set_user_status(&self, user: Id, status: UserStatus) -> StoreResult<()> {
        self.call(move |c| update_user(c, user, |u| u.status = status))
            .await
    }

    async fn remove_site_access(&self, user: Id, site: Id) -> StoreResult<bool> {
        self.call(move |c| {
            let mut removed = false;
            update_user(c, user, |u| {
                let before = u.sites.len();
                u.sites.retain(|a| a.site != site);
                removed = u.sites.len() != before;
            })?;
            Ok(removed)
        })
        .await
    }
}
