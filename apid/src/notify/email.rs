//! E-mail delivery through SMTP (lettre, tokio, rustls).

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::config::{EmailConfig, SmtpSecurity};
use super::payload::Notification;
use super::retry::Attempt;

/// An SMTP channel ready to send.
pub(crate) struct Mailer {
    pub(crate) config: EmailConfig,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl Mailer {
    /// Prepares a validated e-mail configuration.
    pub(crate) fn new(config: EmailConfig) -> Result<Self, String> {
        let builder = match config.security {
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.as_str())
            }
            SmtpSecurity::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                    .map_err(|e| format!("smtp: {e}"))?
            }
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)
                .map_err(|e| format!("smtp: {e}"))?,
        };
        let mut builder = builder
            .port(config.port())
            .timeout(Some(Duration::from_secs(config.timeout_secs)));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        let from = config
            .from
            .parse::<Mailbox>()
            .map_err(|_| "invalid from".to_owned())?;
        let to = config
            .to
            .iter()
            .map(|t| t.parse::<Mailbox>().map_err(|_| "invalid to".to_owned()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            transport: builder.build(),
            config,
            from,
            to,
        })
    }

    /// Where it goes, for logs (no credentials).
    pub(crate) fn target(&self) -> String {
        format!("smtp://{}:{}", self.config.host, self.config.port())
    }

    /// Builds the message once.
    pub(crate) fn message(&self, n: &Notification) -> Result<Message, String> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(n.subject())
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder.body(n.body()).map_err(|e| format!("message: {e}"))
    }

    /// One attempt (the transport has its own timeout).
    pub(crate) async fn attempt(&self, message: &Message) -> Attempt {
        match self.transport.send(message.clone()).await {
            Ok(_) => Attempt::Done,
            Err(e) if e.is_permanent() => Attempt::GiveUp(format!("smtp: {e}")),
            Err(e) => Attempt::Retry(format!("smtp: {e}")),
        }
    }
}
