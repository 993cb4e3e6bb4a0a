//! What is sent: the webhook JSON and the e-mail subject and body.

use serde::Serialize;

use crate::model::time::Timestamp;
use crate::model::{AlertView, NamedRef};

/// Whether the alert was opened or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// Opened.
    Opened,
    /// Resolved.
    Resolved,
}

impl EventKind {
    /// `"opened"` or `"resolved"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opened => "opened",
            Self::Resolved => "resolved",
        }
    }
}

/// One notification: the alert as CONTRACT §4 shows it, and what happened to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Opened or resolved.
    pub event: EventKind,
    /// The alert (for `Resolved`: status `resolved`, `resolvedAt` set).
    pub alert: AlertView,
}

#[derive(Serialize)]
struct WebhookBody<'a> {
    event: EventKind,
    #[serde(flatten)]
    alert: &'a AlertView,
}

impl Notification {
    /// The webhook body: the alert's JSON plus `"event": "opened" | "resolved"`.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&WebhookBody {
            event: self.event,
            alert: &self.alert,
        })
    }

    /// `[Twoine] CPU critique : 93.4 %`, or `[Twoine] Résolu : CPU critique : 93.4 %`.
    pub fn subject(&self) -> String {
        match self.event {
            EventKind::Opened => format!("[Twoine] {}", self.alert.message),
            EventKind::Resolved => format!("[Twoine] Résolu : {}", self.alert.message),
        }
    }

    /// A short French/English plain-text body.
    pub fn body(&self) -> String {
        let a = &self.alert;
        let mut out = String::new();
        out.push_str(match self.event {
            EventKind::Opened => "Alerte ouverte / Alert opened\n\n",
            EventKind::Resolved => "Alerte résolue / Alert resolved\n\n",
        });
        out.push_str(&format!("Message : {}\n", a.message));
        out.push_str(&format!("Sévérité / Severity : {}\n", a.severity.as_str()));
        out.push_str(&format!("Type : {}\n", a.kind.as_str()));
        if let Some(site) = &a.site {
            out.push_str(&format!("Site : {}\n", named(site)));
        }
        if let Some(service) = &a.service {
            out.push_str(&format!("Service : {}\n", named(service)));
        }
        if let Some(value) = a.data.get("value") {
            out.push_str(&format!("Valeur / Value : {value}\n"));
        }
        if let Some(threshold) = a.data.get("threshold") {
            out.push_str(&format!("Seuil / Threshold : {threshold}\n"));
        }
        out.push_str(&format!("Ouverte le / Opened at : {}\n", iso(a.created_at)));
        if let Some(at) = a.resolved_at {
            out.push_str(&format!("Résolue le / Resolved at : {}\n", iso(at)));
        }
        out.push_str(&format!("Identifiant / Id : {}\n", a.id));
        out
    }
}

fn named(r: &NamedRef) -> String {
    if r.name.is_empty() {
        r.id.to_string()
    } else if r.display_name.is_empty() || r.display_name == r.name {
        r.name.clone()
    } else {
        format!("{} ({})", r.display_name, r.name)
    }
}

fn iso(t: Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
