//! The `[notify]` section of `/etc/twoine/apid.toml`: webhooks and e-mail.

use std::time::Duration;

use hyper::Uri;
use hyper::header::{HeaderName, HeaderValue};
use lettre::message::Mailbox;
use serde::Deserialize;

pub use super::filter::{Secret, SeverityFilter};
use crate::model::Severity;

/// Default header carrying a webhook's secret.
pub const DEFAULT_SECRET_HEADER: &str = "x-twoine-secret";

/// One webhook: a JSON `POST` per alert event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `http://` or `https://` URL.
    pub url: String,
    /// Value sent in `secret_header`, if any.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// Header name for the secret (default `x-twoine-secret`).
    #[serde(default = "default_secret_header")]
    pub secret_header: String,
    /// Lowest severity sent.
    #[serde(default)]
    pub min_severity: Option<Severity>,
    /// Exactly these severities.
    #[serde(default)]
    pub severities: Option<Vec<Severity>>,
    /// Per attempt, seconds (1–120, default 10).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Attempts on network errors, 5xx and 429 (1–10, default 4).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
}

impl WebhookConfig {
    /// A webhook to `url` with the defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            secret: None,
            secret_header: default_secret_header(),
            min_severity: None,
            severities: None,
            timeout_secs: default_timeout(),
            max_attempts: default_attempts(),
        }
    }

    /// The severity filter.
    pub fn filter(&self) -> SeverityFilter {
        SeverityFilter {
            min_severity: self.min_severity,
            severities: self.severities.clone(),
        }
    }

    /// Per-attempt timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    fn validate(&self, at: &str, errors: &mut Vec<String>) {
        match self.url.parse::<Uri>() {
            Ok(uri) => {
                if !matches!(uri.scheme_str(), Some("http" | "https")) {
                    errors.push(format!("{at}.url: must start with http:// or https://"));
                }
                if uri.host().is_none_or(str::is_empty) {
                    errors.push(format!("{at}.url: no host"));
                }
            }
            Err(_) => errors.push(format!("{at}.url: not a valid URL")),
        }
        if HeaderName::from_bytes(self.secret_header.as_bytes()).is_err() {
            errors.push(format!("{at}.secret_header: not a valid header name"));
        }
        if let Some(secret) = &self.secret
            && HeaderValue::from_str(secret.expose()).is_err()
        {
            // The value itself is never repeated.
            errors.push(format!("{at}.secret: not a valid header value"));
        }
        self.filter().validate(at, errors);
        check_range(at, "timeout_secs", self.timeout_secs, 1, 120, errors);
        check_range(
            at,
            "max_attempts",
            u64::from(self.max_attempts),
            1,
            10,
            errors,
        );
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (required), port 587 by default.
    #[default]
    Starttls,
    /// TLS from the first byte, port 465 by default.
    Tls,
    /// No encryption (a local relay), port 25 by default.
    None,
}

/// E-mail through an SMTP server.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// SMTP server host name.
    pub host: String,
    /// Port (default from `security`: 587, 465 or 25).
    #[serde(default)]
    pub port: Option<u16>,
    /// `starttls` (default), `tls` or `none`.
    #[serde(default)]
    pub security: SmtpSecurity,
    /// Login, if the server needs one (with `password`).
    #[serde(default)]
    pub username: Option<String>,
    /// Password (redacted in `Debug`).
    #[serde(default)]
    pub password: Option<Secret>,
    /// Sender, `Twoine <twoine@example.org>` or a bare address.
    pub from: String,
    /// Recipients (at least one).
    pub to: Vec<String>,
    /// Lowest severity sent.
    #[serde(default)]
    pub min_severity: Option<Severity>,
    /// Exactly these severities.
    #[serde(default)]
    pub severities: Option<Vec<Severity>>,
    /// Per attempt, seconds (1–120, default 10).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Attempts on transient failures (1–10, default 4).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
}

impl EmailConfig {
    /// The severity filter.
    pub fn filter(&self) -> SeverityFilter {
        SeverityFilter {
            min_severity: self.min_severity,
            severities: self.severities.clone(),
        }
    }

    /// The port used.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        })
    }

    fn validate(&self, errors: &mut Vec<String>) {
        let at = "notify.email";
        if self.host.trim().is_empty() {
            errors.push(format!("{at}.host: empty"));
        }
        if self.port == Some(0) {
            errors.push(format!("{at}.port: 0"));
        }
        if self.username.is_some() != self.password.is_some() {
            errors.push(format!("{at}: username and password go together"));
        }
        if self.from.parse::<Mailbox>().is_err() {
            errors.push(format!("{at}.from: not an e-mail address"));
        }
        if self.to.is_empty() {
            errors.push(format!("{at}.to: no recipient"));
        }
        for (i, to) in self.to.iter().enumerate() {
            if to.parse::<Mailbox>().is_err() {
                errors.push(format!("{at}.to[{i}]: not an e-mail address"));
            }
        }
        self.filter().validate(at, errors);
        check_range(at, "timeout_secs", self.timeout_secs, 1, 120, errors);
        check_range(
            at,
            "max_attempts",
            u64::from(self.max_attempts),
            1,
            10,
            errors,
        );
    }
}

/// The `[notify]` section. Empty by default: no channel, nothing sent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// `[[notify.webhooks]]`.
    pub webhooks: Vec<WebhookConfig>,
    /// `[notify.email]`.
    pub email: Option<EmailConfig>,
    /// Also send "resolved" when an alert this notifier announced is resolved (default true).
    pub send_resolved: bool,
    /// Events waiting to be dispatched before new ones are dropped (1–100000, default 1024).
    pub queue_capacity: usize,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            webhooks: Vec::new(),
            email: None,
            send_resolved: true,
            queue_capacity: 1024,
        }
    }
}

/// The `[notify]` section is invalid: one line per problem (secrets never repeated).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid [notify] configuration: {}", .0.join("; "))]
pub struct InvalidNotifyConfig(pub Vec<String>);

impl NotifyConfig {
    /// Checks every field; all problems are reported at once.
    pub fn validate(&self) -> Result<(), InvalidNotifyConfig> {
        let mut errors = Vec::new();
        for (i, hook) in self.webhooks.iter().enumerate() {
            hook.validate(&format!("notify.webhooks[{i}]"), &mut errors);
        }
        if let Some(email) = &self.email {
            email.validate(&mut errors);
        }
        check_range(
            "notify",
            "queue_capacity",
            self.queue_capacity as u64,
            1,
            100_000,
            &mut errors,
        );
        if errors.is_empty() {
            Ok(())
        } else {
            Err(InvalidNotifyConfig(errors))
        }
    }
}

fn check_range(at: &str, field: &str, v: u64, min: u64, max: u64, errors: &mut Vec<String>) {
    if !(min..=max).contains(&v) {
        errors.push(format!("{at}.{field}: {v} is not in {min}–{max}"));
    }
}

fn default_secret_header() -> String {
    DEFAULT_SECRET_HEADER.to_owned()
}

fn default_timeout() -> u64 {
    10
}

fn default_attempts() -> u32 {
    4
}
