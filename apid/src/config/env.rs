//! The environment apid reads: the process environment, and in drop-in mode Twoine's `.env`
//! file (`KEY=VALUE` lines, quotes, comments), the real environment winning.

use std::collections::HashMap;
use std::time::Duration;

/// The variables the configuration takes from the environment.
pub const ENV_KEYS: [&str; 6] = [
    "JWT_SECRET",
    "JWT_EXPIRES_IN",
    "JWT_REFRESH_EXPIRES_IN",
    "MONGODB_URI",
    "SITES_DIR",
    "TWOINE_APID_LISTEN",
];

/// A snapshot of environment variables (injected, so tests never touch the process's).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Env(HashMap<String, String>);

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be secrets: only the names are shown.
        let mut keys: Vec<&String> = self.0.keys().collect();
        keys.sort();
        f.debug_tuple("Env").field(&keys).finish()
    }
}

impl Env {
    /// The process environment's [`ENV_KEYS`] (empty values count as unset).
    pub fn from_process() -> Self {
        Self(
            ENV_KEYS
                .iter()
                .filter_map(|k| {
                    std::env::var(k)
                        .ok()
                        .filter(|v| !v.is_empty())
                        .map(|v| ((*k).to_owned(), v))
                })
                .collect(),
        )
    }

    /// An environment from pairs (tests).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// One variable.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// `self` over `lower`: keys present here win.
    pub fn over(mut self, lower: Env) -> Self {
        for (k, v) in lower.0 {
            self.0.entry(k).or_insert(v);
        }
        self
    }
}

/// Parses a `.env` file: `KEY=VALUE` per line, optional `export `, `#` comments (whole line, or
/// after whitespace in an unquoted value), values in single quotes (verbatim) or double quotes
/// (`\n`, `\"`, `\\` escapes). Lines that are not assignments are ignored. Only [`ENV_KEYS`] are
/// kept.
pub fn parse_dotenv(text: &str) -> Env {
    let mut out = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if !ENV_KEYS.contains(&key) {
            continue;
        }
        let value = unquote(raw.trim());
        if !value.is_empty() {
            out.insert(key.to_owned(), value);
        }
    }
    Env(out)
}

fn unquote(raw: &str) -> String {
    if let Some(rest) = raw.strip_prefix('\'') {
        return rest.split('\'').next().unwrap_or_default().to_owned();
    }
    if let Some(rest) = raw.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some(other) => out.push(other),
                    None => break,
                },
                c => out.push(c),
            }
        }
        return out;
    }
    // Unquoted: a comment starts at whitespace followed by '#'.
    let mut end = raw.len();
    let bytes = raw.as_bytes();
    for i in 1..bytes.len() {
        if bytes[i] == b'#' && bytes[i - 1].is_ascii_whitespace() {
            end = i;
            break;
        }
    }
    raw[..end].trim().to_owned()
}

/// Parses a lifetime as Twoine writes them: `24h`, `7d`, `30m`, `45s`, `2w`, or plain seconds.
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&t[..i], t[i..].trim()),
        None => (t, ""),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration {t:?} (expected e.g. 24h, 7d, 30m or seconds)"))?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(format!(
                "invalid duration {t:?} (expected e.g. 24h, 7d, 30m or seconds)"
            ));
        }
    };
    if n == 0 {
        return Err(format!("invalid duration {t:?}: must be more than zero"));
    }
    n.checked_mul(factor)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("invalid duration {t:?}: too large"))
}

/// The database named in a MongoDB URI's path (`mongodb://h:27017/twoine?x=y` → `twoine`).
pub fn database_from_uri(uri: &str) -> Option<String> {
    let rest = uri.split_once("://")?.1;
    let path = rest.split_once('/')?.1;
    let db = path.split(['?', '#']).next().unwrap_or_default();
    (!db.is_empty()).then(|| db.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn dotenv_quotes_comments_and_export() {
        let env = parse_dotenv(
            "# Twoine\nexport JWT_SECRET='a b#c'\nMONGODB_URI=\"mongodb://h/twoine\" # db\n\
             SITES_DIR=/var/www/twoine # comment\nJWT_EXPIRES_IN=24h\nOTHER=1\nnot a line\n",
        );
        assert_eq!(env.get("JWT_SECRET"), Some("a b#c"));
        assert_eq!(env.get("MONGODB_URI"), Some("mongodb://h/twoine"));
        assert_eq!(env.get("SITES_DIR"), Some("/var/www/twoine"));
        assert_eq!(env.get("JWT_EXPIRES_IN"), Some("24h"));
        assert_eq!(env.get("OTHER"), None);
    }

    #[test]
    fn ttls_in_twoine_forms() {
        assert_eq!(parse_ttl("24h").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_ttl("7d").unwrap(), Duration::from_secs(604_800));
        assert_eq!(parse_ttl("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_ttl("3600").unwrap(), Duration::from_secs(3600));
        assert!(parse_ttl("1y").is_err());
        assert!(parse_ttl("0").is_err());
        assert!(parse_ttl("h").is_err());
    }

    #[test]
    fn database_from_uri_path() {
        assert_eq!(
            database_from_uri("mongodb://u:p@h:27017/twoine?authSource=admin").as_deref(),
            Some("twoine")
        );
        assert_eq!(database_from_uri("mongodb://h:27017"), None);
        assert_eq!(database_from_uri("mongodb://h:27017/"), None);
    }
}
