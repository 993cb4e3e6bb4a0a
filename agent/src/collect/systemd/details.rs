//! `UnitDetails`: `LoadUnit`, then the Unit and Service properties in two `GetAll` calls.

use std::collections::HashMap;

use zbus::Connection;
use zbus::fdo::PropertiesProxy;
use zbus::names::InterfaceName;
use zbus::zvariant::{OwnedValue, Value};

use super::UnitName;
use super::proxy::{self, DESTINATION, ManagerProxy, SERVICE_INTERFACE, UNIT_INTERFACE};
use super::types::{SystemdError, UnitDetails, UnitDetailsResult};

/// Units read at once.
const CONCURRENCY: usize = 16;

type Properties = HashMap<String, OwnedValue>;

/// Details of every unit, in order; a unit systemd does not know is `NoSuchUnit`.
pub(super) async fn details(conn: &Connection, names: &[UnitName]) -> Vec<UnitDetailsResult> {
    read_many(conn, names)
        .await
        .into_iter()
        .map(|(name, read)| {
            let details = read.and_then(|d| {
                if d.load_state == "not-found" {
                    Err(SystemdError::NoSuchUnit(name.to_string()))
                } else {
                    Ok(d)
                }
            });
            UnitDetailsResult { name, details }
        })
        .collect()
}

/// The units as systemd reports them, "not-found" ones included.
pub(super) async fn read_many(
    conn: &Connection,
    names: &[UnitName],
) -> Vec<(UnitName, Result<UnitDetails, SystemdError>)> {
    let manager = match proxy::manager(conn).await {
        Ok(m) => m,
        Err(e) => {
            let e = SystemdError::from(e);
            return names.iter().map(|n| (n.clone(), Err(e.clone()))).collect();
        }
    };
    let manager = &manager;
    // Chunks of concurrent reads (a Stream combinator over borrowed names would make the
    // future's Send-ness depend on higher-ranked lifetimes the compiler cannot prove).
    let mut out = Vec::with_capacity(names.len());
    for chunk in names.chunks(CONCURRENCY) {
        let results =
            futures_util::future::join_all(chunk.iter().map(|name| read_one(conn, manager, name)))
                .await;
        out.extend(chunk.iter().cloned().zip(results));
    }
    out
}

async fn read_one(
    conn: &Connection,
    manager: &ManagerProxy<'_>,
    name: &UnitName,
) -> Result<UnitDetails, SystemdError> {
    // LoadUnit, not GetUnit: GetUnit fails with NoSuchUnit on a stopped, unloaded unit.
    let path = manager.load_unit(name.as_str()).await?;
    let props = PropertiesProxy::builder(conn)
        .destination(DESTINATION)?
        .path(path.as_ref())?
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await?;
    let (unit, service) = futures_util::future::join(
        get_all(&props, UNIT_INTERFACE),
        get_all(&props, SERVICE_INTERFACE),
    )
    .await;
    let unit = unit?;
    let service = match service {
        Ok(service) => service,
        // No service part (cannot happen for a validated `.service` name): unit data only.
        Err(zbus::fdo::Error::UnknownInterface(_)) => Properties::new(),
        Err(e) => return Err(e.into()),
    };
    Ok(from_properties(&unit, &service))
}

async fn get_all(
    props: &PropertiesProxy<'_>,
    interface: &'static str,
) -> Result<Properties, zbus::fdo::Error> {
    props
        .get_all(InterfaceName::from_static_str_unchecked(interface))
        .await
}

/// Build the details from the two property maps; sentinels become `None`.
pub(super) fn from_properties(unit: &Properties, service: &Properties) -> UnitDetails {
    UnitDetails {
        load_state: text(unit, "LoadState"),
        active_state: text(unit, "ActiveState"),
        sub_state: text(unit, "SubState"),
        result: text(service, "Result"),
        main_pid: number_u32(service, "MainPID").filter(|&pid| pid != 0),
        active_enter_timestamp_us: accounted(number_u64(unit, "ActiveEnterTimestamp"))
            .filter(|&t| t != 0),
        memory_current_bytes: accounted(number_u64(service, "MemoryCurrent")),
        cpu_usage_nsec: accounted(number_u64(service, "CPUUsageNSec")),
        n_restarts: number_u32(service, "NRestarts"),
        description: text(unit, "Description"),
        user: text(service, "User"),
    }
}

/// systemd reports "not available" as `u64::MAX` (systemctl shows "[not set]").
fn accounted(value: Option<u64>) -> Option<u64> {
    value.filter(|&v| v != u64::MAX)
}

fn value<'a>(map: &'a Properties, key: &str) -> Option<&'a Value<'static>> {
    map.get(key).map(|v| match &**v {
        // A variant inside the variant: look through it.
        Value::Value(inner) => &**inner,
        other => other,
    })
}

fn text(map: &Properties, key: &str) -> String {
    match value(map, key) {
        Some(Value::Str(s)) => s.as_str().to_string(),
        _ => String::new(),
    }
}

fn number_u64(map: &Properties, key: &str) -> Option<u64> {
    match value(map, key) {
        Some(Value::U64(n)) => Some(*n),
        _ => None,
    }
}

fn number_u32(map: &Properties, key: &str) -> Option<u32> {
    match value(map, key) {
        Some(Value::U32(n)) => Some(*n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(entries: &[(&str, Value<'static>)]) -> Properties {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), OwnedValue::try_from(v.clone()).unwrap()))
            .collect()
    }

    #[test]
    fn running_service() {
        let unit = props(&[
            ("LoadState", Value::from("loaded")),
            ("ActiveState", Value::from("active")),
            ("SubState", Value::from("running")),
            ("Description", Value::from("Demo web")),
            ("ActiveEnterTimestamp", Value::U64(1_700_000_000_000_000)),
        ]);
        let service = props(&[
            ("Result", Value::from("success")),
            ("MainPID", Value::U32(4242)),
            ("MemoryCurrent", Value::U64(52_428_800)),
            ("CPUUsageNSec", Value::U64(1_500_000_000)),
            ("NRestarts", Value::U32(2)),
            ("User", Value::from("site_demo")),
        ]);
        let d = from_properties(&unit, &service);
        assert_eq!(
            d,
            UnitDetails {
                load_state: "loaded".into(),
                active_state: "active".into(),
                sub_state: "running".into(),
                result: "success".into(),
                main_pid: Some(4242),
                active_enter_timestamp_us: Some(1_700_000_000_000_000),
                memory_current_bytes: Some(52_428_800),
                cpu_usage_nsec: Some(1_500_000_000),
                n_restarts: Some(2),
                description: "Demo web".into(),
                user: "site_demo".into(),
            }
        );
    }

    #[test]
    fn unavailable_values_are_absent() {
        let unit = props(&[
            ("LoadState", Value::from("loaded")),
            ("ActiveState", Value::from("inactive")),
            ("SubState", Value::from("dead")),
            ("ActiveEnterTimestamp", Value::U64(0)),
        ]);
        let service = props(&[
            ("MainPID", Value::U32(0)),
            ("MemoryCurrent", Value::U64(u64::MAX)),
            ("CPUUsageNSec", Value::U64(u64::MAX)),
            ("NRestarts", Value::U32(0)),
        ]);
        let d = from_properties(&unit, &service);
        assert_eq!(d.main_pid, None);
        assert_eq!(d.active_enter_timestamp_us, None);
        assert_eq!(d.memory_current_bytes, None);
        assert_eq!(d.cpu_usage_nsec, None);
        assert_eq!(d.n_restarts, Some(0));
        assert_eq!(d.user, "");
    }

    #[test]
    fn wrong_types_are_ignored_not_misread() {
        let unit = props(&[("ActiveState", Value::U32(1))]);
        let service = props(&[
            ("MemoryCurrent", Value::I64(-1)),
            ("MainPID", Value::from("12")),
        ]);
        let d = from_properties(&unit, &service);
        assert_eq!(d.active_state, "");
        assert_eq!(d.memory_current_bytes, None);
        assert_eq!(d.main_pid, None);
        assert_eq!(d.n_restarts, None);
    }
}
