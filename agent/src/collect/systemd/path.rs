//! systemd's object-path labels: `/org/freedesktop/systemd1/unit/twoine_2ddemo_2dweb_2eservice`.
//!
//! systemd (`bus_label_escape`) keeps ASCII letters and digits, except a leading digit, and
//! writes every other byte as `_` followed by two lower-case hex digits; the empty string is `_`.

use super::proxy::UNIT_PATH_PREFIX;

/// The object path systemd gives `unit`.
pub fn unit_object_path(unit: &str) -> String {
    format!("{UNIT_PATH_PREFIX}/{}", escape_label(unit))
}

/// The unit name behind a unit object path, if the path is one.
pub fn unit_name_from_path(path: &str) -> Option<String> {
    let label = path.strip_prefix(UNIT_PATH_PREFIX)?.strip_prefix('/')?;
    if label.contains('/') {
        return None;
    }
    unescape_label(label)
}

fn escape_label(s: &str) -> String {
    if s.is_empty() {
        return "_".into();
    }
    let mut out = String::with_capacity(s.len() * 3);
    for (i, b) in s.bytes().enumerate() {
        if b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit()) {
            out.push(char::from(b));
        } else {
            out.push('_');
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0xf));
        }
    }
    out
}

fn hex_digit(n: u8) -> char {
    char::from_digit(u32::from(n), 16).unwrap_or('0')
}

fn unescape_label(label: &str) -> Option<String> {
    if label == "_" {
        return Some(String::new());
    }
    let bytes = label.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'_' {
            let hex = label.get(i + 1..i + 3)?;
            if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_systemd() {
        // As `busctl tree org.freedesktop.systemd1` shows them.
        assert_eq!(
            unit_object_path("twoine-demo-web.service"),
            "/org/freedesktop/systemd1/unit/twoine_2ddemo_2dweb_2eservice"
        );
        assert_eq!(
            unit_object_path("dbus.service"),
            "/org/freedesktop/systemd1/unit/dbus_2eservice"
        );
        assert_eq!(
            unit_object_path("1x.service"),
            "/org/freedesktop/systemd1/unit/_31x_2eservice"
        );
        assert_eq!(unit_object_path(""), "/org/freedesktop/systemd1/unit/_");
    }

    #[test]
    fn round_trips() {
        for name in [
            "twoine-my_site-api-v2.service",
            "twoine-a1-b2.service",
            "systemd-fsck@dev-disk-by\\x2duuid.service",
            "",
        ] {
            let path = unit_object_path(name);
            assert_eq!(unit_name_from_path(&path).as_deref(), Some(name), "{path}");
        }
    }

    #[test]
    fn refuses_other_paths() {
        for bad in [
            "/org/freedesktop/systemd1",
            "/org/freedesktop/systemd1/unit",
            "/org/freedesktop/systemd1/unitx/abc",
            "/org/freedesktop/systemd1/job/42",
            "/org/freedesktop/systemd1/unit/a/b",
            "/org/freedesktop/systemd1/unit/twoine_2",
            "/org/freedesktop/systemd1/unit/twoine_zz",
            "/org/freedesktop/systemd1/unit/twoine_+f",
            "/org/freedesktop/systemd1/unit/_ff_fe",
        ] {
            assert_eq!(unit_name_from_path(bad), None, "{bad}");
        }
    }
}
