//! Who may do what (CONTRACT §4, §5): one value per caller, asked by REST and WebSocket alike.
//! Role and site access always come from the store's user record, never from the token.

use crate::model::{AccessLevel, Alert, Id, Role, Site, User};

/// A caller's rights, built from their stored user record.
#[derive(Debug, Clone, PartialEq)]
pub struct Permissions {
    user: User,
}

impl Permissions {
    /// The rights of `user` as stored.
    pub fn of(user: User) -> Self {
        Self { user }
    }

    /// The user record these rights come from.
    pub fn user(&self) -> &User {
        &self.user
    }

    /// The user's id.
    pub fn user_id(&self) -> Id {
        self.user.id
    }

    /// Admins see and do everything.
    pub fn is_admin(&self) -> bool {
        self.user.role == Role::Admin
    }

    /// The access level granted on `site` through `users.sites`, if any.
    pub fn access_level(&self, site: Id) -> Option<AccessLevel> {
        self.user
            .sites
            .iter()
            .find(|a| a.site == site)
            .map(|a| a.access_level)
    }

    /// Admin, the site's owner, or a user with the site in `sites` at any level.
    pub fn can_read_site(&self, site: &Site) -> bool {
        self.is_admin() || site.owner == self.user.id || self.access_level(site.id).is_some()
    }

    /// Start, stop or restart a service of `site`: admin; role `user` who owns the site or has
    /// owner/collaborator access. Never role `readonly`, never `readonly` access.
    pub fn can_act_on_site(&self, site: &Site) -> bool {
        match self.user.role {
            Role::Admin => true,
            Role::Readonly => false,
            Role::User => {
                site.owner == self.user.id
                    || matches!(
                        self.access_level(site.id),
                        Some(AccessLevel::Owner | AccessLevel::Collaborator)
                    )
            }
        }
    }

    /// Acknowledge an alert: admin; for a site alert, a non-readonly user who may act on the
    /// site (`site` is the alert's site, `None` for server-wide alerts).
    pub fn can_acknowledge(&self, alert: &Alert, site: Option<&Site>) -> bool {
        if self.is_admin() {
            return true;
        }
        match (alert.site, site) {
            (Some(id), Some(site)) if site.id == id => self.can_act_on_site(site),
            _ => false,
        }
    }

    /// Resolve an alert by hand: admins only.
    pub fn can_resolve(&self) -> bool {
        self.is_admin()
    }

    /// See an alert: admin; otherwise only alerts about a site the user may read.
    pub fn can_see_alert(&self, site: Option<&Site>) -> bool {
        self.is_admin() || site.is_some_and(|s| self.can_read_site(s))
    }

    /// Admin-only routes and channels (server stats, config, WebSocket stats, metrics).
    pub fn can_admin(&self) -> bool {
        self.is_admin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SiteAccess, SiteStatus, UserStatus};

    fn user(role: Role, sites: Vec<SiteAccess>) -> User {
        User {
            id: Id::generate(),
            username: "alice".into(),
            email: "alice@example.org".into(),
            password_hash: None,
            role,
            status: UserStatus::Active,
            sites,
            failed_login_attempts: 0,
            lock_until: None,
            last_login_at: None,
            must_change_password: false,
        }
    }

    fn site(owner: Id) -> Site {
        serde_json::from_value(serde_json::json!({
            "id": Id::generate(), "name": "blog", "owner": owner, "status": "active"
        }))
        .unwrap()
    }

    fn access(site: &Site, level: AccessLevel) -> Vec<SiteAccess> {
        vec![SiteAccess {
            site: site.id,
            access_level: level,
            assigned_at: None,
        }]
    }

    #[test]
    fn site_rights_by_role_and_access_level() {
        let stranger = Id::generate();
        let s = site(stranger);
        let cases = [
            (Role::Admin, None, true, true),
            (Role::User, None, false, false),
            (Role::User, Some(AccessLevel::Owner), true, true),
            (Role::User, Some(AccessLevel::Collaborator), true, true),
            (Role::User, Some(AccessLevel::Readonly), true, false),
            (Role::Readonly, Some(AccessLevel::Owner), true, false),
            (Role::Readonly, None, false, false),
        ];
        for (role, level, read, act) in cases {
            let p = Permissions::of(user(role, level.map(|l| access(&s, l)).unwrap_or_default()));
            assert_eq!(p.can_read_site(&s), read, "{role:?} {level:?} read");
            assert_eq!(p.can_act_on_site(&s), act, "{role:?} {level:?} act");
        }
    }

    #[test]
    fn the_sites_owner_field_counts_without_an_access_entry() {
        let u = user(Role::User, vec![]);
        let s = site(u.id);
        let p = Permissions::of(u);
        assert!(p.can_read_site(&s));
        assert!(p.can_act_on_site(&s));
        let mut ro = user(Role::Readonly, vec![]);
        ro.id = s.owner;
        assert!(
            !Permissions::of(ro).can_act_on_site(&s),
            "role readonly never acts"
        );
    }

    #[test]
    fn server_wide_alerts_are_for_admins_only() {
        let u = user(Role::User, vec![]);
        let p = Permissions::of(u);
        assert!(!p.can_see_alert(None));
        assert!(!p.can_resolve());
        let _ = SiteStatus::Active;
    }
}
