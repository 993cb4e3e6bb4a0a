//! Name rules (CONTRACT §2 and the agent's unit rule), without a regex engine.

fn tail_ok(s: &str, extra: &[u8]) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || extra.contains(&b))
}

fn starts_lower(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
}

/// `^[a-z][a-z0-9_-]{2,29}$`.
pub fn is_username(s: &str) -> bool {
    (3..=30).contains(&s.len()) && starts_lower(s) && tail_ok(s, b"_-")
}

/// `^[a-z][a-z0-9-]*$` (at most 63 characters).
pub fn is_site_name(s: &str) -> bool {
    (1..=63).contains(&s.len()) && starts_lower(s) && tail_ok(s, b"-")
}

/// `^[a-z][a-z0-9_-]+$` (at most 63 characters): the service segment of a unit name.
pub fn is_service_name(s: &str) -> bool {
    (2..=63).contains(&s.len()) && starts_lower(s) && tail_ok(s, b"_-")
}

/// The agent's rule: `^twoine-[a-z][a-z0-9_-]+-[a-z][a-z0-9_-]+(\.service)?$`.
pub fn is_unit_name(s: &str) -> bool {
    let s = s.strip_suffix(".service").unwrap_or(s);
    let Some(rest) = s.strip_prefix("twoine-") else {
        return false;
    };
    // Some split at a '-' must leave two valid segments (the regex backtracks the same way).
    rest.char_indices()
        .filter(|(_, c)| *c == '-')
        .any(|(i, _)| {
            let (a, b) = (&rest[..i], &rest[i + 1..]);
            let seg = |x: &str| x.len() >= 2 && starts_lower(x) && tail_ok(x, b"_-");
            seg(a) && seg(b)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_username("admin") && is_username("a_b-c"));
        assert!(!is_username("ab") && !is_username("Admin") && !is_username("1abc"));
        assert!(!is_username(&"a".repeat(31)) && is_username(&"a".repeat(30)));
        assert!(is_site_name("demo") && is_site_name("my-site2"));
        assert!(!is_site_name("my_site") && !is_site_name("-x") && !is_site_name(""));
        assert!(is_unit_name("twoine-demo-web") && is_unit_name("twoine-my-site-api.service"));
        assert!(!is_unit_name("twoine-api") && !is_unit_name("twoine-a-web"));
        assert!(!is_unit_name("other-demo-web") && !is_unit_name("twoine-demo-w"));
    }
}
