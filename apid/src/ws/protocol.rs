//! The messages of CONTRACT §5: what a client may send and what the server answers or pushes.
//! Pure: parsing and JSON building only.

use serde::Serialize;
use serde_json::{Value, json};

use crate::model::{Id, Role, Timestamp};

/// A subscription channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// Server statistics (admins only).
    Server,
    /// One site's statistics and service states.
    Site,
    /// Alerts.
    Alerts,
}

impl Channel {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::Site => "site",
            Self::Alerts => "alerts",
        }
    }
}

/// One subscription: a channel and, for `site`, the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// `server`.
    Server,
    /// `alerts`.
    Alerts,
    /// `site` with its id.
    Site(Id),
}

impl Topic {
    /// The reply's `{channel, siteId?}` fields.
    fn fields(self) -> Value {
        match self {
            Self::Server => json!({ "channel": Channel::Server.as_str() }),
            Self::Alerts => json!({ "channel": Channel::Alerts.as_str() }),
            Self::Site(id) => json!({ "channel": Channel::Site.as_str(), "siteId": id }),
        }
    }
}

/// A client message, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// `{type:"subscribe", channel, siteId?}`.
    Subscribe(Topic),
    /// `{type:"unsubscribe", channel, siteId?}`.
    Unsubscribe(Topic),
    /// `{type:"ping"}`.
    Ping,
}

/// Why a client message was refused (the `error` reply's message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl Refusal {
    fn new(m: impl Into<String>) -> Self {
        Self(m.into())
    }
}

/// Parses a text frame.
pub fn parse(text: &str) -> Result<ClientMessage, Refusal> {
    let v: Value = serde_json::from_str(text).map_err(|_| Refusal::new("Invalid JSON"))?;
    let obj = v
        .as_object()
        .ok_or_else(|| Refusal::new("Invalid message: an object is expected"))?;
    let kind = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal::new("Invalid message: type is missing"))?;
    let subscribe = match kind {
        "ping" => return Ok(ClientMessage::Ping),
        "subscribe" => true,
        "unsubscribe" => false,
        other => return Err(Refusal(format!("Unknown message type: {}", clip(other)))),
    };
    let channel = match obj.get("channel").and_then(Value::as_str) {
        Some("server") => Channel::Server,
        Some("site") => Channel::Site,
        Some("alerts") => Channel::Alerts,
        Some(other) => return Err(Refusal(format!("Unknown channel: {}", clip(other)))),
        None => return Err(Refusal::new("Invalid message: channel is missing")),
    };
    let site = match obj.get("siteId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            s.parse::<Id>()
                .map_err(|_| Refusal::new("Invalid site id"))?,
        ),
        Some(_) => return Err(Refusal::new("Invalid site id")),
    };
    let topic = match (channel, site) {
        (Channel::Server, _) => Topic::Server,
        (Channel::Alerts, _) => Topic::Alerts,
        (Channel::Site, Some(id)) => Topic::Site(id),
        (Channel::Site, None) => {
            return Err(Refusal::new("siteId is required for the site channel"));
        }
    };
    Ok(if subscribe {
        ClientMessage::Subscribe(topic)
    } else {
        ClientMessage::Unsubscribe(topic)
    })
}

/// At most 40 characters of client input echoed in an error.
fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

/// ISO-8601 UTC with milliseconds, as every time of the API.
pub fn iso(t: Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `{type:"connected", data:{userId, role}}`.
pub fn connected(user: Id, role: Role) -> Value {
    json!({ "type": "connected", "data": { "userId": user, "role": role } })
}

/// `{type:"subscribed", channel, siteId?}`.
pub fn subscribed(topic: Topic) -> Value {
    with_type("subscribed", topic.fields())
}

/// `{type:"unsubscribed", channel, siteId?}`.
pub fn unsubscribed(topic: Topic) -> Value {
    with_type("unsubscribed", topic.fields())
}

/// `{type:"pong"}`.
pub fn pong() -> Value {
    json!({ "type": "pong" })
}

/// `{type:"error", message}`.
pub fn error(message: &str) -> Value {
    json!({ "type": "error", "message": message })
}

/// `{type:"serverStats", data, timestamp}`.
pub fn server_stats(data: &impl Serialize, now: Timestamp) -> Value {
    json!({ "type": "serverStats", "data": data, "timestamp": iso(now) })
}

/// `{type:"siteStats", siteId, data, timestamp}`.
pub fn site_stats(site: Id, data: &impl Serialize, now: Timestamp) -> Value {
    json!({ "type": "siteStats", "siteId": site, "data": data, "timestamp": iso(now) })
}

/// `{type:"alert", data, timestamp}`.
pub fn alert(data: &impl Serialize, now: Timestamp) -> Value {
    json!({ "type": "alert", "data": data, "timestamp": iso(now) })
}

/// `{type:"serviceStatus", siteId, data, timestamp}`.
pub fn service_status(site: Id, data: &impl Serialize, now: Timestamp) -> Value {
    json!({ "type": "serviceStatus", "siteId": site, "data": data, "timestamp": iso(now) })
}

fn with_type(kind: &str, mut fields: Value) -> Value {
    if let Some(o) = fields.as_object_mut() {
        o.insert("type".to_owned(), Value::String(kind.to_owned()));
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = "0123456789abcdef01234567";

    #[test]
    fn valid_messages_parse() {
        let site: Id = SITE.parse().unwrap();
        let cases = [
            (r#"{"type":"ping"}"#, ClientMessage::Ping),
            (
                r#"{"type":"subscribe","channel":"server"}"#,
                ClientMessage::Subscribe(Topic::Server),
            ),
            (
                r#"{"type":"subscribe","channel":"alerts","siteId":null}"#,
                ClientMessage::Subscribe(Topic::Alerts),
            ),
            (
                &format!(r#"{{"type":"unsubscribe","channel":"site","siteId":"{SITE}"}}"#),
                ClientMessage::Unsubscribe(Topic::Site(site)),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn bad_messages_are_refused_with_a_reason() {
        let cases = [
            ("{nope", "Invalid JSON"),
            ("[1]", "Invalid message: an object is expected"),
            (
                r#"{"channel":"server"}"#,
                "Invalid message: type is missing",
            ),
            (r#"{"type":"hello"}"#, "Unknown message type: hello"),
            (
                r#"{"type":"subscribe","channel":"disk"}"#,
                "Unknown channel: disk",
            ),
            (
                r#"{"type":"subscribe"}"#,
                "Invalid message: channel is missing",
            ),
            (
                r#"{"type":"subscribe","channel":"site"}"#,
                "siteId is required for the site channel",
            ),
            (
                r#"{"type":"subscribe","channel":"site","siteId":"xyz"}"#,
                "Invalid site id",
            ),
            (
                r#"{"type":"subscribe","channel":"site","siteId":{"$ne":1}}"#,
                "Invalid site id",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), Err(Refusal(want.to_owned())), "{text}");
        }
    }

    #[test]
    fn replies_have_the_contract_shapes() {
        let site: Id = SITE.parse().unwrap();
        assert_eq!(
            subscribed(Topic::Site(site)),
            json!({"type": "subscribed", "channel": "site", "siteId": SITE})
        );
        assert_eq!(
            unsubscribed(Topic::Server),
            json!({"type": "unsubscribed", "channel": "server"})
        );
        assert_eq!(error("x"), json!({"type": "error", "message": "x"}));
        assert_eq!(
            connected(site, Role::Admin),
            json!({"type": "connected", "data": {"userId": SITE, "role": "admin"}})
        );
    }
}
