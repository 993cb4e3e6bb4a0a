//! `WatchUnits`: the current state of each watched unit, then its changes as systemd signals
//! them (`PropertiesChanged` of `org.freedesktop.systemd1.Unit` on the unit objects).

use std::collections::{HashMap, HashSet, VecDeque};
use std::pin::Pin;
use std::time::SystemTime;

use futures_util::{Stream, StreamExt};
use zbus::fdo::{DBusProxy, PropertiesChanged};
use zbus::names::{BusName, OwnedUniqueName};
use zbus::zvariant::{OwnedObjectPath, Value};
use zbus::{Connection, MatchRule, Message, MessageStream};

use super::path::unit_name_from_path;
use super::proxy::{self, DESTINATION, ServiceProxy, UNIT_INTERFACE, UNIT_PATH_PREFIX, UnitProxy};
use super::types::{SystemdError, UnitEvent};
use super::{UnitName, details, list};

/// Events of one watch; ends (after an error item) when the bus goes away.
pub type UnitEventStream =
    Pin<Box<dyn Stream<Item = Result<UnitEvent, SystemdError>> + Send + 'static>>;

/// Signals queued for a watch before the consumer reads them.
const QUEUE: usize = 256;

pub(super) async fn watch(
    conn: Connection,
    names: Vec<UnitName>,
) -> Result<UnitEventStream, SystemdError> {
    // Listen before reading the current states, so no change falls in between.
    let manager = proxy::manager(&conn).await?;
    proxy::subscribe(&manager).await?;
    let rule = MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .sender(DESTINATION)?
        .interface("org.freedesktop.DBus.Properties")?
        .member("PropertiesChanged")?
        .path_namespace(UNIT_PATH_PREFIX)?
        .arg(0, UNIT_INTERFACE)?
        .build();
    let signals = MessageStream::for_match_rule(rule, &conn, Some(QUEUE)).await?;
    let owner = systemd_owner(&conn).await?;

    let filter: Option<HashSet<UnitName>> =
        (!names.is_empty()).then(|| names.iter().cloned().collect());
    let watched = match &filter {
        Some(set) => {
            let mut unique: Vec<UnitName> = set.iter().cloned().collect();
            unique.sort();
            unique
        }
        None => site_units(&conn).await?,
    };
    let mut pending = VecDeque::new();
    let mut last = HashMap::new();
    let now = SystemTime::now();
    for (name, read) in details::read_many(&conn, &watched).await {
        match read {
            Ok(d) => {
                last.insert(name.clone(), (d.active_state.clone(), d.sub_state.clone()));
                pending.push_back(UnitEvent {
                    name,
                    active_state: d.active_state,
                    sub_state: d.sub_state,
                    result: d.result,
                    main_pid: d.main_pid,
                    at: now,
                    initial: true,
                });
            }
            Err(e) if e.is_unavailable() => return Err(e),
            Err(e) => tracing::warn!(unit = %name, error = %e, "cannot read the unit's state"),
        }
    }
    let state = Watch {
        conn,
        signals,
        owner,
        filter,
        last,
        pending,
        ended: false,
    };
    Ok(Box::pin(futures_util::stream::unfold(state, Watch::step)))
}

/// Every two-segment site unit systemd knows (loaded or installed).
async fn site_units(conn: &Connection) -> Result<Vec<UnitName>, SystemdError> {
    Ok(list::list_units(conn)
        .await?
        .into_iter()
        .filter_map(|u| site_unit(&u.name))
        .collect())
}

/// A systemd unit name that is a site service unit, exactly as systemd spells it.
fn site_unit(raw: &str) -> Option<UnitName> {
    UnitName::parse(raw).ok().filter(|n| n.as_str() == raw)
}

/// The unique name owning systemd's bus name; `None` on a peer-to-peer connection, where
/// only systemd can send.
async fn systemd_owner(conn: &Connection) -> Result<Option<OwnedUniqueName>, SystemdError> {
    if !conn.is_bus() {
        return Ok(None);
    }
    let dbus = DBusProxy::new(conn).await?;
    let owner = dbus
        .get_name_owner(BusName::from_static_str(DESTINATION).map_err(zbus::Error::from)?)
        .await?;
    Ok(Some(owner))
}

struct Watch {
    conn: Connection,
    signals: MessageStream,
    owner: Option<OwnedUniqueName>,
    /// `None`: every site unit.
    filter: Option<HashSet<UnitName>>,
    /// Last reported (ActiveState, SubState) of each unit.
    last: HashMap<UnitName, (String, String)>,
    pending: VecDeque<UnitEvent>,
    ended: bool,
}

type Step = Option<(Result<UnitEvent, SystemdError>, Watch)>;

impl Watch {
    async fn step(mut self) -> Step {
        if let Some(event) = self.pending.pop_front() {
            return Some((Ok(event), self));
        }
        if self.ended {
            return None;
        }
        loop {
            let msg = match self.signals.next().await {
                Some(Ok(msg)) => msg,
                Some(Err(e)) => return self.end(SystemdError::from(e)),
                None => {
                    return self.end(SystemdError::Unavailable("D-Bus connection closed".into()));
                }
            };
            match self.handle(&msg).await {
                Ok(Some(event)) => return Some((Ok(event), self)),
                Ok(None) => {}
                Err(e) if e.is_unavailable() => return self.end(e),
                Err(e) => tracing::debug!(error = %e, "cannot read a unit change"),
            }
        }
    }

    fn end(mut self, error: SystemdError) -> Step {
        self.ended = true;
        let error = match error {
            SystemdError::Unavailable(_) => error,
            other => SystemdError::Unavailable(other.to_string()),
        };
        Some((Err(error), self))
    }

    /// The event a signal stands for, if it is a state change of a watched unit.
    async fn handle(&mut self, msg: &Message) -> Result<Option<UnitEvent>, SystemdError> {
        let header = msg.header();
        let Some(path) = header.path().map(|p| OwnedObjectPath::from(p.to_owned())) else {
            return Ok(None);
        };
        let sender = header.sender().map(|s| s.to_owned());
        let Some(name) = unit_name_from_path(path.as_str()).and_then(|raw| site_unit(&raw)) else {
            return Ok(None);
        };
        if self.filter.as_ref().is_some_and(|f| !f.contains(&name)) {
            return Ok(None);
        }
        if !self
            .sent_by_systemd(sender.as_ref().map(|s| s.as_str()))
            .await?
        {
            tracing::debug!(unit = %name, ?sender, "ignored a unit signal not sent by systemd");
            return Ok(None);
        }
        let Some(signal) = PropertiesChanged::from_message(msg.clone()) else {
            return Ok(None);
        };
        let args = signal.args()?;
        if args.interface_name().as_str() != UNIT_INTERFACE {
            return Ok(None);
        }
        let changed = args.changed_properties();
        let invalidated = args.invalidated_properties();
        let touched = |p: &str| changed.contains_key(p) || invalidated.contains(&p);
        if !touched("ActiveState") && !touched("SubState") {
            return Ok(None);
        }
        let text = |p: &str| match changed.get(p) {
            Some(Value::Str(s)) => Some(s.as_str().to_string()),
            _ => None,
        };
        let (active, sub) = match (text("ActiveState"), text("SubState")) {
            (Some(active), Some(sub)) => (active, sub),
            (active, sub) => {
                // The signal only invalidated them: read them now.
                let unit = UnitProxy::builder(&self.conn)
                    .path(path.clone())?
                    .cache_properties(zbus::proxy::CacheProperties::No)
                    .build()
                    .await?;
                let active = match active {
                    Some(a) => a,
                    None => unit.active_state().await?,
                };
                let sub = match sub {
                    Some(s) => s,
                    None => unit.sub_state().await?,
                };
                (active, sub)
            }
        };
        let state = (active, sub);
        if self.last.get(&name) == Some(&state) {
            return Ok(None);
        }
        self.last.insert(name.clone(), state.clone());
        let (result, main_pid) = self.service_state(path).await?;
        // MainPID is read after the signal: during a crash-restart it may already be the next
        // process while the state still says inactive. A stopped unit has no process to show.
        let main_pid = main_pid.filter(|_| !matches!(state.0.as_str(), "inactive" | "failed"));
        Ok(Some(UnitEvent {
            name,
            active_state: state.0,
            sub_state: state.1,
            result,
            main_pid,
            at: SystemTime::now(),
            initial: false,
        }))
    }

    /// Whether a signal's sender is systemd. On a bus, anyone may send a signal to us.
    async fn sent_by_systemd(&mut self, sender: Option<&str>) -> Result<bool, SystemdError> {
        let Some(owner) = &self.owner else {
            return Ok(true);
        };
        let Some(sender) = sender else {
            return Ok(false);
        };
        if sender == owner.as_str() {
            return Ok(true);
        }
        // systemd may have re-executed and come back under a new unique name.
        self.owner = systemd_owner(&self.conn).await?;
        Ok(self.owner.as_ref().is_some_and(|o| o.as_str() == sender))
    }

    /// The service's Result and MainPID, read after the change ("" and `None` if unreadable).
    async fn service_state(
        &self,
        path: OwnedObjectPath,
    ) -> Result<(String, Option<u32>), SystemdError> {
        let service = ServiceProxy::builder(&self.conn)
            .path(path)?
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await?;
        let (result, pid) = futures_util::future::join(service.result(), service.main_pid()).await;
        let result = match result.map_err(SystemdError::from) {
            Ok(r) => r,
            Err(e) if e.is_unavailable() => return Err(e),
            Err(_) => String::new(),
        };
        let pid = match pid.map_err(SystemdError::from) {
            Ok(p) => Some(p).filter(|&p| p != 0),
            Err(e) if e.is_unavailable() => return Err(e),
            Err(_) => None,
        };
        Ok((result, pid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_two_segment_service_units_are_site_units() {
        assert!(site_unit("twoine-demo-web.service").is_some());
        for other in [
            "twoine-api.service",
            "twoine-demo-web",
            "twoine-demo-web.socket",
            "twoine-demo-web@1.service",
            "sshd.service",
        ] {
            assert!(site_unit(other).is_none(), "{other}");
        }
    }
}
