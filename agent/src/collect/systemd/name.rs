//! Site unit names: the only units the agent will describe or act on.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

/// CONTRACT §1: two segments, site and service, so the platform's own units
/// (`twoine-api`, `twoine-agent`, `twoine-apid`, ...) can never be named.
static SITE_UNIT: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^twoine-[a-z][a-z0-9_-]+-[a-z][a-z0-9_-]+(\.service)?$").ok());

/// Longest accepted name (systemd's own limit is 255 bytes).
pub const MAX_UNIT_NAME_LEN: usize = 200;

/// A validated `twoine-<site>-<service>.service` unit name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnitName(String);

/// Why a unit name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid unit name {shown:?}: expected twoine-<site>-<service>[.service] in lower case")]
pub struct InvalidUnitName {
    shown: String,
}

impl UnitName {
    /// Validate `name`, adding the `.service` suffix when absent.
    pub fn parse(name: &str) -> Result<Self, InvalidUnitName> {
        let ok = name.len() <= MAX_UNIT_NAME_LEN
            && SITE_UNIT.as_ref().is_some_and(|re| re.is_match(name));
        if !ok {
            // Never echo an unbounded or binary caller string into logs or errors.
            let shown: String = name.chars().take(64).filter(|c| !c.is_control()).collect();
            return Err(InvalidUnitName { shown });
        }
        let full = if name.ends_with(".service") {
            name.to_string()
        } else {
            format!("{name}.service")
        };
        Ok(Self(full))
    }

    /// The full name, with `.service`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UnitName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_site_units() {
        assert_eq!(
            UnitName::parse("twoine-demo-web").unwrap().as_str(),
            "twoine-demo-web.service"
        );
        assert_eq!(
            UnitName::parse("twoine-my_site-api-v2.service")
                .unwrap()
                .as_str(),
            "twoine-my_site-api-v2.service"
        );
    }

    #[test]
    fn refuses_platform_and_foreign_units() {
        for bad in [
            "twoine-api",
            "twoine-agent.service",
            "twoine-apid",
            "twoine-supervisor",
            "sshd.service",
            "twoine-demo-web.socket",
            "twoine-Demo-web",
            "twoine-demo-web.service\n",
            "twoine-demo-../../etc",
            "twoine-demo-web;reboot",
            "",
            "twoine--web",
            "twoine-1site-web",
        ] {
            assert!(UnitName::parse(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("twoine-demo-{}", "a".repeat(300));
        assert!(UnitName::parse(&long).is_err());
    }

    #[test]
    fn error_does_not_echo_control_characters() {
        let err = UnitName::parse("x\u{1b}[31mred").unwrap_err().to_string();
        assert!(!err.contains('\u{1b}'), "{err}");
    }
}
