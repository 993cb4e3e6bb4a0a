//! Channel settings shared by webhooks and e-mail: secrets and severity filters.

use std::fmt;

use serde::Deserialize;

use crate::model::Severity;

/// A secret (webhook header value, SMTP password): its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Which severities a channel receives: `min_severity` or an explicit `severities` list
/// (not both); neither means every severity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityFilter {
    /// Lowest severity sent (`info < warning < error < critical`).
    #[serde(default)]
    pub min_severity: Option<Severity>,
    /// Exactly these severities.
    #[serde(default)]
    pub severities: Option<Vec<Severity>>,
}

impl SeverityFilter {
    /// Whether an alert of this severity goes to the channel.
    pub fn accepts(&self, severity: Severity) -> bool {
        match (&self.severities, self.min_severity) {
            (Some(list), _) => list.contains(&severity),
            (None, Some(min)) => severity >= min,
            (None, None) => true,
        }
    }

    pub(super) fn validate(&self, at: &str, errors: &mut Vec<String>) {
        match (&self.severities, self.min_severity) {
            (Some(_), Some(_)) => {
                errors.push(format!("{at}: give min_severity or severities, not both"));
            }
            (Some(list), None) if list.is_empty() => {
                errors.push(format!(
                    "{at}: severities is empty (the channel would never send)"
                ));
            }
            _ => {}
        }
    }
}
