//! `site add`, `site list`, `service add`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::CliError;
use super::check::{is_service_name, is_site_name, is_unit_name};
use super::users::user_named;
use crate::config::Config;
use crate::model::{
    DesiredState, Id, LinuxUser, PortRange, Service, ServiceResources, ServiceStatus, Site,
    SitePaths, SiteResources, SiteStatus, SystemdRef,
};
use crate::store::{Store, StoreError};

/// `site add`.
#[derive(Debug, Args)]
pub struct SiteAdd {
    /// Site name (^[a-z][a-z0-9-]*$).
    pub name: String,
    /// The owning user.
    #[arg(long)]
    pub owner: String,
    /// Name shown in the panels (default: the name).
    #[arg(long)]
    pub display_name: Option<String>,
    /// The site's directory (default: SITES_DIR/<name>).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// The site's Linux user's uid (default: looked up from site_<name>).
    #[arg(long)]
    pub uid: Option<u32>,
    /// The site's Linux user's gid (default: looked up from site_<name>).
    #[arg(long)]
    pub gid: Option<u32>,
}

/// `--desired`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Desired {
    /// Alerts when the unit is not active.
    Running,
    /// Not expected to run.
    Stopped,
}

/// `service add`.
#[derive(Debug, Args)]
pub struct ServiceAdd {
    /// The site.
    pub site: String,
    /// Service name (^[a-z][a-z0-9_-]+$).
    pub name: String,
    /// Listening port.
    #[arg(long)]
    pub port: Option<u16>,
    /// Kind (node, python, php, static, custom...).
    #[arg(long = "type", default_value = "custom")]
    pub kind: String,
    /// The systemd unit (default twoine-<site>-<name>).
    #[arg(long)]
    pub unit: Option<String>,
    /// Wanted state (running: a stopped unit raises service_down).
    #[arg(long, value_enum, default_value = "running")]
    pub desired: Desired,
}

/// The site named `name` (not soft-deleted).
pub(super) async fn site_named(store: &dyn Store, name: &str) -> Result<Site, CliError> {
    store
        .sites()
        .await?
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| CliError::Failed(format!("no site named {name}")))
}

/// A site record as Twoine's installer would lay it out under `root`.
pub(super) fn new_site(
    name: &str,
    display: &str,
    owner: Id,
    root: PathBuf,
    ids: (Option<u32>, Option<u32>),
) -> Site {
    let username = format!("site_{name}");
    let (mut uid, mut gid) = ids;
    if (uid.is_none() || gid.is_none())
        && let Ok(Some(u)) = nix::unistd::User::from_name(&username)
    {
        uid = uid.or(Some(u.uid.as_raw()));
        gid = gid.or(Some(u.gid.as_raw()));
    }
    let sub = |d: &str| root.join(d).display().to_string();
    Site {
        id: Id::generate(),
        name: name.to_owned(),
        display_name: display.to_owned(),
        owner,
        linux_user: LinuxUser { username, uid, gid },
        paths: SitePaths {
            root: root.display().to_string(),
            services: sub("services"),
            logs: sub("logs"),
            data: sub("data"),
            tmp: sub("tmp"),
        },
        port_range: PortRange::default(),
        status: SiteStatus::Active,
        resources: SiteResources::default(),
    }
}

/// A service record.
pub(super) fn new_service(
    site: &Site,
    name: &str,
    kind: &str,
    port: Option<u16>,
    unit: String,
    desired: DesiredState,
) -> Service {
    Service {
        id: Id::generate(),
        site: site.id,
        name: name.to_owned(),
        display_name: name.to_owned(),
        kind: kind.to_owned(),
        port,
        working_dir: Some(format!("{}/services/{name}", site.paths.root)),
        systemd: SystemdRef { service_name: unit },
        status: ServiceStatus {
            current: crate::model::ServiceState::Unknown,
            desired,
        },
        resources: ServiceResources::default(),
    }
}

pub(super) async fn add_site(
    store: &dyn Store,
    config: &Config,
    a: SiteAdd,
) -> Result<(), CliError> {
    if !is_site_name(&a.name) {
        return Err(CliError::Usage(format!(
            "invalid site name {:?}: a lowercase letter then lowercase letters, digits or '-'",
            a.name
        )));
    }
    let owner = user_named(store, &a.owner).await?;
    let root = a.root.unwrap_or_else(|| config.sites_dir.join(&a.name));
    if !root.is_absolute() {
        return Err(CliError::Usage(format!(
            "--root {} must be absolute",
            root.display()
        )));
    }
    let display = a.display_name.unwrap_or_else(|| a.name.clone());
    let site = new_site(&a.name, &display, owner.id, root, (a.uid, a.gid));
    match store.create_site(&site).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(CliError::Failed(format!(
                "a site named {} already exists",
                a.name
            )));
        }
        Err(e) => return Err(e.into()),
    }
    let ids = match (site.linux_user.uid, site.linux_user.gid) {
        (Some(u), Some(g)) => format!("uid {u}, gid {g}"),
        _ => format!(
            "{} not found: its processes are not measured",
            site.linux_user.username
        ),
    };
    println!(
        "created site {} (id {}, owner {}, root {}, {ids})",
        site.name, site.id, owner.username, site.paths.root
    );
    Ok(())
}

pub(super) async fn list(store: &dyn Store) -> Result<(), CliError> {
    let sites = store.sites().await?;
    let users = store.users().await?;
    let services = store.services().await?;
    println!(
        "{:<20} {:<24} {:<16} {:<9} {:>8}  ROOT",
        "NAME", "DISPLAY NAME", "OWNER", "STATUS", "SERVICES"
    );
    for s in &sites {
        let owner = users
            .iter()
            .find(|u| u.id == s.owner)
            .map_or_else(|| s.owner.to_string(), |u| u.username.clone());
        let n = services.iter().filter(|x| x.site == s.id).count();
        println!(
            "{:<20} {:<24} {:<16} {:<9} {:>8}  {}",
            s.name,
            s.display_name,
            owner,
            s.status.as_str(),
            n,
            s.paths.root
        );
        for x in services.iter().filter(|x| x.site == s.id) {
            println!("  - {} ({})", x.name, x.systemd.service_name);
        }
    }
    Ok(())
}

pub(super) async fn add_service(store: &dyn Store, a: ServiceAdd) -> Result<(), CliError> {
    if !is_service_name(&a.name) {
        return Err(CliError::Usage(format!(
            "invalid service name {:?}: a lowercase letter then at least one lowercase letter, \
             digit, '_' or '-'",
            a.name
        )));
    }
    let site = site_named(store, &a.site).await?;
    let unit = a
        .unit
        .unwrap_or_else(|| format!("twoine-{}-{}", site.name, a.name));
    if !is_unit_name(&unit) {
        return Err(CliError::Usage(format!(
            "invalid unit {unit:?}: must be twoine-<site>-<service> (each part a lowercase \
             letter then at least one more character)"
        )));
    }
    let desired = match a.desired {
        Desired::Running => DesiredState::Running,
        Desired::Stopped => DesiredState::Stopped,
    };
    let service = new_service(&site, &a.name, &a.kind, a.port, unit, desired);
    match store.create_service(&service).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(CliError::Failed(format!(
                "the unit {} is already registered",
                service.systemd.service_name
            )));
        }
        Err(e) => return Err(e.into()),
    }
    println!(
        "created service {} of {} (id {}, unit {})",
        service.name, site.name, service.id, service.systemd.service_name
    );
    Ok(())
}
