//! Small host facts: load, uptime, names, the OS release.

use std::path::{Path, PathBuf};

use procfs_core::{FromRead, Uptime};

use super::LoadAverage;

/// Parses `/proc/loadavg` (procfs-core's `LoadAverage`).
pub(crate) fn parse_loadavg(bytes: &[u8]) -> Result<LoadAverage, String> {
    let l = procfs_core::LoadAverage::from_read(bytes).map_err(|e| e.to_string())?;
    Ok(LoadAverage {
        one: f64::from(l.one),
        five: f64::from(l.five),
        fifteen: f64::from(l.fifteen),
        runnable: l.cur,
        entities: l.max,
    })
}

/// Parses `/proc/uptime` (procfs-core's `Uptime`): seconds since boot.
pub(crate) fn parse_uptime(bytes: &[u8]) -> Result<f64, String> {
    let u = Uptime::from_read(bytes).map_err(|e| e.to_string())?;
    if u.uptime.is_finite() && u.uptime >= 0.0 {
        Ok(u.uptime)
    } else {
        Err(format!("bad uptime {}", u.uptime))
    }
}

/// Where to look for os-release(5): `<etc>/os-release`, then `usr/lib/os-release` beside
/// `<etc>` (`/usr/lib/os-release` for the default `/etc`). The first file that exists wins.
pub(crate) fn os_release_candidates(etc_root: &Path) -> [PathBuf; 2] {
    let base = etc_root.parent().unwrap_or(Path::new("/"));
    [etc_root.join("os-release"), base.join("usr/lib/os-release")]
}

/// `PRETTY_NAME` of an os-release file, unquoted; `None` when the file does not set it
/// (os-release(5) then says "Linux").
pub(crate) fn pretty_name(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let value = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("PRETTY_NAME="))
        .next_back()?;
    let value = unquote(value.trim());
    (!value.is_empty()).then_some(value)
}

/// Shell-style unquoting as os-release(5) allows: `"..."` with `\"`, `\\`, `` \` ``, `\$`
/// escapes, or `'...'` taken literally.
fn unquote(v: &str) -> String {
    if let Some(inner) = v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return inner.to_owned();
    }
    let Some(inner) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
        return v.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some(next @ ('"' | '\\' | '`' | '$'))) => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_and_uptime() {
        let l = parse_loadavg(b"0.52 0.58 0.59 3/812 123456\n").unwrap();
        assert_eq!(
            l,
            LoadAverage {
                one: 0.52f32 as f64,
                five: 0.58f32 as f64,
                fifteen: 0.59f32 as f64,
                runnable: 3,
                entities: 812
            }
        );
        assert!(parse_loadavg(b"0.52 0.58\n").is_err());
        assert_eq!(parse_uptime(b"350735.47 234388.90\n").unwrap(), 350_735.47);
        assert!(parse_uptime(b"soon 1\n").is_err());
        assert!(parse_uptime(b"-5 1\n").is_err());
        assert!(parse_uptime(b"NaN 1\n").is_err());
    }

    #[test]
    fn pretty_name_unquotes() {
        let debian = b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n";
        assert_eq!(
            pretty_name(debian).unwrap(),
            "Debian GNU/Linux 12 (bookworm)"
        );
        assert_eq!(pretty_name(b"PRETTY_NAME='A \"b\"'\n").unwrap(), "A \"b\"");
        assert_eq!(
            pretty_name(b"PRETTY_NAME=\"say \\\"hi\\\" \\$5\"\n").unwrap(),
            "say \"hi\" $5"
        );
        assert_eq!(pretty_name(b"PRETTY_NAME=Plain\n").unwrap(), "Plain");
        assert_eq!(pretty_name(b"NAME=x\n"), None);
        assert_eq!(pretty_name(b"PRETTY_NAME=\"\"\n"), None);
    }

    #[test]
    fn os_release_candidates_sit_beside_etc() {
        let [a, b] = os_release_candidates(Path::new("/etc"));
        assert_eq!(
            (a.as_path(), b.as_path()),
            (
                Path::new("/etc/os-release"),
                Path::new("/usr/lib/os-release")
            )
        );
        let [_, b] = os_release_candidates(Path::new("/tmp/root/etc"));
        assert_eq!(b, Path::new("/tmp/root/usr/lib/os-release"));
    }
}
