//! `ListUnits`: loaded `twoine-*` units merged with installed `twoine-*` unit files.

use std::collections::BTreeMap;
use std::path::Path;

use zbus::Connection;

use super::proxy::{self, ListedUnit};
use super::types::{NOT_LOADED, SystemdError, UnitSummary};

/// Every unit of the platform and its sites.
const PATTERN: &str = "twoine-*";
/// systemd refuses longer unit names.
const MAX_NAME_LEN: usize = 255;

pub(super) async fn list_units(conn: &Connection) -> Result<Vec<UnitSummary>, SystemdError> {
    let manager = proxy::manager(conn).await?;
    let (loaded, files) = futures_util::future::join(
        manager.list_units_by_patterns(&[], &[PATTERN]),
        manager.list_unit_files_by_patterns(&[], &[PATTERN]),
    )
    .await;
    Ok(merge(loaded?, files?))
}

/// A name systemd gave back that we are willing to report.
fn acceptable(name: &str) -> bool {
    name.starts_with("twoine-")
        && name.len() <= MAX_NAME_LEN
        && !name.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// Loaded units as systemd shows them; installed but unloaded ones as inactive/dead.
pub(super) fn merge(loaded: Vec<ListedUnit>, files: Vec<(String, String)>) -> Vec<UnitSummary> {
    let mut file_states: BTreeMap<String, String> = BTreeMap::new();
    for (path, state) in files {
        if let Some(name) = Path::new(&path).file_name().and_then(|n| n.to_str())
            && acceptable(name)
        {
            file_states.insert(name.to_string(), state);
        }
    }
    let mut units: BTreeMap<String, UnitSummary> = BTreeMap::new();
    for (name, description, load_state, active_state, sub_state, ..) in loaded {
        if !acceptable(&name) {
            continue;
        }
        let unit_file_state = file_states.get(&name).cloned();
        units.insert(
            name.clone(),
            UnitSummary {
                name,
                description,
                load_state,
                active_state,
                sub_state,
                unit_file_state,
            },
        );
    }
    for (name, state) in file_states {
        if units.contains_key(&name) {
            continue;
        }
        let load_state = if state.starts_with("masked") {
            "masked"
        } else {
            NOT_LOADED
        };
        units.insert(
            name.clone(),
            UnitSummary {
                name,
                description: String::new(),
                load_state: load_state.into(),
                active_state: "inactive".into(),
                sub_state: "dead".into(),
                unit_file_state: Some(state),
            },
        );
    }
    units.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::zvariant::OwnedObjectPath;

    fn loaded(name: &str, active: &str, sub: &str) -> ListedUnit {
        (
            name.into(),
            format!("{name} description"),
            "loaded".into(),
            active.into(),
            sub.into(),
            String::new(),
            OwnedObjectPath::try_from("/org/freedesktop/systemd1/unit/x").unwrap(),
            0,
            String::new(),
            OwnedObjectPath::try_from("/").unwrap(),
        )
    }

    #[test]
    fn stopped_installed_units_appear() {
        let units = merge(
            vec![
                loaded("twoine-demo-web.service", "active", "running"),
                loaded("twoine-api.service", "active", "running"),
            ],
            vec![
                (
                    "/etc/systemd/system/twoine-demo-web.service".into(),
                    "enabled".into(),
                ),
                (
                    "/etc/systemd/system/twoine-demo-worker.service".into(),
                    "disabled".into(),
                ),
                (
                    "/etc/systemd/system/twoine-old-web.service".into(),
                    "masked".into(),
                ),
            ],
        );
        let names: Vec<_> = units.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "twoine-api.service",
                "twoine-demo-web.service",
                "twoine-demo-worker.service",
                "twoine-old-web.service"
            ]
        );
        assert_eq!(units[1].unit_file_state.as_deref(), Some("enabled"));
        assert_eq!(units[1].active_state, "active");
        assert_eq!(units[0].unit_file_state, None);
        let worker = &units[2];
        assert_eq!(
            (
                worker.load_state.as_str(),
                worker.active_state.as_str(),
                worker.sub_state.as_str()
            ),
            (NOT_LOADED, "inactive", "dead")
        );
        assert_eq!(worker.unit_file_state.as_deref(), Some("disabled"));
        assert_eq!(units[3].load_state, "masked");
    }

    #[test]
    fn foreign_and_odd_names_are_dropped() {
        let units = merge(
            vec![
                loaded("sshd.service", "active", "running"),
                loaded("twoine-x\ny.service", "active", "running"),
            ],
            vec![("/etc/systemd/system/cron.service".into(), "enabled".into())],
        );
        assert!(units.is_empty(), "{units:?}");
    }
}
