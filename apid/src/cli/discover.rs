//! `discover`: sites from the subdirectories of `SITES_DIR` (named like a site), owned by the
//! first admin (the earliest created, to the second; ties by username), and services from the
//! agent's `twoine-<site>-<service>` units. Already registered sites and units are left alone;
//! the agent away means sites only, with a warning.

use std::time::Duration;

use super::CliError;
use super::check::{is_service_name, is_site_name, is_unit_name};
use super::sites::{new_service, new_site};
use crate::agent::{AgentClient, AgentClientConfig};
use crate::config::Config;
use crate::model::{DesiredState, Role, Site};
use crate::store::Store;

/// Site directories found under `dir`, sorted (names that are not site names are skipped).
pub fn site_dirs(dir: &std::path::Path) -> Result<Vec<String>, CliError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| CliError::Failed(format!("cannot read SITES_DIR {}: {e}", dir.display())))?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| is_site_name(n))
        .collect();
    names.sort();
    Ok(names)
}

/// The site and service of a unit, given the known sites (the longest matching site wins:
/// `twoine-my-site-api` is site `my-site` when it exists).
pub fn split_unit<'a>(unit: &'a str, sites: &[Site]) -> Option<(&'a str, &'a str)> {
    let base = unit.strip_suffix(".service").unwrap_or(unit);
    let rest = base.strip_prefix("twoine-")?;
    sites
        .iter()
        .filter_map(|s| {
            let svc = rest.strip_prefix(s.name.as_str())?.strip_prefix('-')?;
            is_service_name(svc).then(|| (&rest[..s.name.len()], svc))
        })
        .max_by_key(|(site, _)| site.len())
}

pub(super) async fn run(store: &dyn Store, config: &Config, dry_run: bool) -> Result<(), CliError> {
    let verb = if dry_run {
        "would register"
    } else {
        "registered"
    };
    let mut sites = store.sites().await?;
    let admin = store
        .users()
        .await?
        .into_iter()
        .filter(|u| u.role == Role::Admin)
        // The earliest created: ids start with their creation second; ties by username.
        .min_by_key(|u| (u.id.bytes()[..4].to_vec(), u.username.clone()));
    let mut new_sites = 0;
    for name in site_dirs(&config.sites_dir)? {
        if sites.iter().any(|s| s.name == name) {
            continue;
        }
        let owner = admin.as_ref().ok_or_else(|| {
            CliError::Failed(format!(
                "no admin to own the discovered site {name}: create one first with \
                 `twoine-apid user add <name> --email <e-mail> --admin`"
            ))
        })?;
        let site = new_site(
            &name,
            &name,
            owner.id,
            config.sites_dir.join(&name),
            (None, None),
        );
        if !dry_run {
            store.create_site(&site).await?;
        }
        println!(
            "{verb} site {name} ({}, owner {})",
            site.paths.root, owner.username
        );
        sites.push(site);
        new_sites += 1;
    }

    let agent = AgentClient::new(AgentClientConfig {
        call_timeout: Duration::from_secs(15),
        ..AgentClientConfig::with_socket(&config.agent.socket)
    });
    let units = match agent.list_units().await {
        Ok(r) => r.units,
        Err(e) => {
            eprintln!(
                "warning: cannot list the units through the agent at {} ({e}): sites only, no services",
                config.agent.socket.display()
            );
            println!("{verb} {new_sites} site(s), 0 service(s)");
            return Ok(());
        }
    };
    let known = store.services().await?;
    let mut new_services = 0;
    for u in units {
        if !is_unit_name(&u.name) {
            continue;
        }
        let base = u
            .name
            .strip_suffix(".service")
            .unwrap_or(&u.name)
            .to_owned();
        if known.iter().any(|s| {
            s.systemd
                .service_name
                .strip_suffix(".service")
                .unwrap_or(&s.systemd.service_name)
                == base
        }) {
            continue;
        }
        let Some((site_name, svc)) = split_unit(&u.name, &sites) else {
            continue;
        };
        let Some(site) = sites.iter().find(|s| s.name == site_name) else {
            continue;
        };
        let desired = if u.active_state == "active" {
            DesiredState::Running
        } else {
            DesiredState::Stopped
        };
        let service = new_service(site, svc, "custom", None, base.clone(), desired);
        if !dry_run {
            store.create_service(&service).await?;
        }
        println!(
            "{verb} service {svc} of {site_name} ({base}, {})",
            u.active_state
        );
        new_services += 1;
    }
    println!("{verb} {new_sites} site(s), {new_services} service(s)");
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::Id;

    fn site(name: &str) -> Site {
        super::super::sites::new_site(
            name,
            name,
            Id::generate(),
            std::path::PathBuf::from("/x"),
            (Some(1), Some(1)),
        )
    }

    #[test]
    fn units_split_on_the_longest_known_site() {
        let sites = [site("my"), site("my-site"), site("blog")];
        assert_eq!(
            split_unit("twoine-my-site-api.service", &sites),
            Some(("my-site", "api"))
        );
        assert_eq!(split_unit("twoine-my-web", &sites), Some(("my", "web")));
        assert_eq!(
            split_unit("twoine-blog-worker_2", &sites),
            Some(("blog", "worker_2"))
        );
        assert_eq!(split_unit("twoine-shop-web", &sites), None, "unknown site");
        assert_eq!(
            split_unit("twoine-blog-x", &sites),
            None,
            "service too short"
        );
        assert_eq!(split_unit("twoine-api", &sites), None);
    }

    #[test]
    fn site_dirs_keep_site_named_directories_only() {
        let dir = tempfile::tempdir().unwrap();
        for d in ["b-site", "a", "Upper", "under_score", ".hidden"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        std::fs::write(dir.path().join("file"), "").unwrap();
        assert_eq!(site_dirs(dir.path()).unwrap(), ["a", "b-site"]);
        assert!(site_dirs(&dir.path().join("missing")).is_err());
    }
}
