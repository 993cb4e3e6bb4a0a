//! Who may call: the kernel-reported credentials of the peer (SO_PEERCRED) against the
//! allow-lists of the configuration. Nothing the caller says about itself counts.

use std::collections::BTreeSet;

use tokio::net::unix::UCred;
use tonic::transport::server::UdsConnectInfo;
use tonic::{Request, Status};

use crate::config::{AccessConfig, Principal};

/// The caller of one request, as the kernel reported it when the connection was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
    pub gid: u32,
    pub pid: Option<i32>,
}

impl From<UCred> for Peer {
    fn from(c: UCred) -> Self {
        Self {
            uid: c.uid(),
            gid: c.gid(),
            pid: c.pid(),
        }
    }
}

/// Resolved allow-lists (names turned into numbers once, at start).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    read_uids: BTreeSet<u32>,
    read_gids: BTreeSet<u32>,
    control_uids: BTreeSet<u32>,
    control_gids: BTreeSet<u32>,
}

/// A name in the configuration that this system does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown {kind} {name:?} in [access]")]
pub struct UnknownPrincipal {
    kind: &'static str,
    name: String,
}

impl Access {
    /// Resolve user and group names against this system's databases.
    pub fn resolve(config: &AccessConfig) -> Result<Self, UnknownPrincipal> {
        let users = |list: &[Principal]| -> Result<BTreeSet<u32>, UnknownPrincipal> {
            list.iter().map(resolve_user).collect()
        };
        let groups = |list: &[Principal]| -> Result<BTreeSet<u32>, UnknownPrincipal> {
            list.iter().map(resolve_group).collect()
        };
        Ok(Self {
            read_uids: users(&config.read_users)?,
            read_gids: groups(&config.read_groups)?,
            control_uids: users(&config.control_users)?,
            control_gids: groups(&config.control_groups)?,
        })
    }

    /// Allow-lists given as numbers (tests, and callers that resolved names themselves).
    pub fn from_ids(
        read_uids: impl IntoIterator<Item = u32>,
        read_gids: impl IntoIterator<Item = u32>,
        control_uids: impl IntoIterator<Item = u32>,
        control_gids: impl IntoIterator<Item = u32>,
    ) -> Self {
        Self {
            read_uids: read_uids.into_iter().collect(),
            read_gids: read_gids.into_iter().collect(),
            control_uids: control_uids.into_iter().collect(),
            control_gids: control_gids.into_iter().collect(),
        }
    }

    /// May call the read-only RPCs. Whoever may control may also read.
    pub fn may_read(&self, peer: &Peer) -> bool {
        self.read_uids.contains(&peer.uid)
            || self.read_gids.contains(&peer.gid)
            || self.may_control(peer)
    }

    /// May start, stop and restart site units.
    pub fn may_control(&self, peer: &Peer) -> bool {
        self.control_uids.contains(&peer.uid) || self.control_gids.contains(&peer.gid)
    }

    /// Check a request's caller for read access; returns the caller.
    /// Fails closed: no credentials (not a Unix socket, or the kernel gave none) is a refusal.
    pub fn check_read<T>(&self, request: &Request<T>) -> Result<Peer, Status> {
        let peer = peer_of(request)?;
        if self.may_read(&peer) {
            Ok(peer)
        } else {
            tracing::warn!(uid = peer.uid, gid = peer.gid, pid = ?peer.pid, "caller refused");
            Err(Status::permission_denied(format!(
                "uid {} gid {} is not allowed to call the agent",
                peer.uid, peer.gid
            )))
        }
    }

    /// Check a request's caller for control access (start/stop/restart); returns the caller.
    pub fn check_control<T>(&self, request: &Request<T>) -> Result<Peer, Status> {
        let peer = peer_of(request)?;
        if self.may_control(&peer) {
            Ok(peer)
        } else {
            tracing::warn!(uid = peer.uid, gid = peer.gid, pid = ?peer.pid, "control refused");
            Err(Status::permission_denied(format!(
                "uid {} gid {} may not start, stop or restart units",
                peer.uid, peer.gid
            )))
        }
    }
}

/// The kernel-reported credentials of the connection a request came on.
pub fn peer_of<T>(request: &Request<T>) -> Result<Peer, Status> {
    request
        .extensions()
        .get::<UdsConnectInfo>()
        .and_then(|info| info.peer_cred)
        .map(Peer::from)
        .ok_or_else(|| Status::unauthenticated("no peer credentials on this connection"))
}

fn resolve_user(p: &Principal) -> Result<u32, UnknownPrincipal> {
    match p {
        Principal::Id(id) => Ok(*id),
        Principal::Name(name) => nix::unistd::User::from_name(name)
            .ok()
            .flatten()
            .map(|u| u.uid.as_raw())
            .ok_or_else(|| UnknownPrincipal {
                kind: "user",
                name: name.clone(),
            }),
    }
}

/// Resolve a group name or number (also used for the socket's group).
pub fn resolve_group(p: &Principal) -> Result<u32, UnknownPrincipal> {
    match p {
        Principal::Id(id) => Ok(*id),
        Principal::Name(name) => nix::unistd::Group::from_name(name)
            .ok()
            .flatten()
            .map(|g| g.gid.as_raw())
            .ok_or_else(|| UnknownPrincipal {
                kind: "group",
                name: name.clone(),
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(uid: u32, gid: u32) -> Peer {
        Peer {
            uid,
            gid,
            pid: None,
        }
    }

    #[test]
    fn read_and_control_lists() {
        let a = Access::from_ids([0], [998], [0], [997]);
        assert!(a.may_read(&peer(0, 0)));
        assert!(a.may_control(&peer(0, 0)));
        assert!(a.may_read(&peer(1000, 998)));
        assert!(!a.may_control(&peer(1000, 998)));
        assert!(a.may_read(&peer(1000, 997)), "control implies read");
        assert!(!a.may_read(&peer(65534, 65534)));
    }

    #[test]
    fn request_without_credentials_is_refused() {
        let a = Access::from_ids([0], [], [0], []);
        let status = a.check_read(&Request::new(())).unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        let status = a.check_control(&Request::new(())).unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
    }

    #[test]
    fn names_resolve_and_unknown_names_are_errors() {
        let config = AccessConfig {
            read_users: vec![Principal::Name("root".into())],
            read_groups: vec![Principal::Name("root".into())],
            control_users: vec![],
            control_groups: vec![],
        };
        let a = Access::resolve(&config).unwrap();
        assert!(a.may_read(&peer(0, 12345)));
        let config = AccessConfig {
            read_groups: vec![Principal::Name("no-such-group-here".into())],
            ..config
        };
        let err = Access::resolve(&config).unwrap_err().to_string();
        assert!(err.contains("no-such-group-here"), "{err}");
    }
}
