//! Login rate limiting per client address, with bounded memory.
//!
//! The client address is the TCP peer (`ConnectInfo<SocketAddr>`). Behind a reverse proxy on
//! the same host (nginx in front of apid, as on an installed Twoine) every peer is loopback, so
//! when the peer is loopback and the proxy named the client, that address is used instead:
//! `X-Real-IP` first (nginx sets it whole: `proxy_set_header X-Real-IP $remote_addr`), else the
//! **last** entry of `X-Forwarded-For` (the one the proxy appended; earlier entries come from
//! the client and are not trusted). A non-loopback peer's headers are ignored, so they cannot
//! be forged from outside. IPv6 clients are keyed by their /64, which one host usually owns.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

/// Attempts allowed per address within [`DEFAULT_WINDOW`].
pub const DEFAULT_MAX_ATTEMPTS: usize = 10;
/// The sliding window of the limit.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at most; beyond, idle ones are forgotten first, then the oldest.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// Login attempts per client address: at most `max_attempts` within a sliding `window`.
#[derive(Debug)]
pub struct LoginLimiter {
    attempts: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
    max_attempts: usize,
    window: Duration,
    capacity: usize,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_ATTEMPTS, DEFAULT_WINDOW, DEFAULT_CAPACITY)
    }
}

impl LoginLimiter {
    /// A limiter of `max_attempts` per `window`, remembering at most `capacity` addresses.
    pub fn new(max_attempts: usize, window: Duration, capacity: usize) -> Self {
        Self {
            attempts: Mutex::new(HashMap::new()),
            max_attempts: max_attempts.max(1),
            window,
            capacity: capacity.max(1),
        }
    }

    /// Records an attempt from `client` now; `Err(wait)` when over the limit (the attempt is
    /// then not recorded).
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        self.check_at(client, Instant::now())
    }

    /// [`LoginLimiter::check`] at a given instant.
    pub fn check_at(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let key = bucket_key(client);
        let mut map = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        if !map.contains_key(&key) && map.len() >= self.capacity {
            self.evict(&mut map, now);
        }
        let log = map.entry(key).or_default();
        while log
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.window)
        {
            log.pop_front();
        }
        if log.len() >= self.max_attempts {
            let oldest = log.front().copied().unwrap_or(now);
            let wait = self
                .window
                .saturating_sub(now.saturating_duration_since(oldest));
            return Err(wait.max(Duration::from_secs(1)));
        }
        log.push_back(now);
        Ok(())
    }

    /// How many addresses are remembered.
    pub fn len(&self) -> usize {
        self.attempts.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether no address is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn evict(&self, map: &mut HashMap<IpAddr, VecDeque<Instant>>, now: Instant) {
        map.retain(|_, log| {
            log.back()
                .is_some_and(|t| now.saturating_duration_since(*t) < self.window)
        });
        while map.len() >= self.capacity {
            let oldest = map
                .iter()
                .min_by_key(|(_, log)| log.back().copied())
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => {
                    map.remove(&k);
                }
                None => break,
            }
        }
    }
}

/// IPv4 as is; IPv6 by its /64 (IPv4-mapped addresses as IPv4).
fn bucket_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

/// The client's address as described in the module documentation; `None` when the server
/// runs without connection info.
pub fn client_ip(peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
    let peer = peer?.ip();
    if !peer.to_canonical().is_loopback() {
        return Some(peer);
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let real_ip = header("x-real-ip").and_then(|v| v.trim().parse::<IpAddr>().ok());
    let forwarded = || {
        header("x-forwarded-for")
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
    };
    Some(real_ip.or_else(forwarded).unwrap_or(peer))
}

/// The client address of a request (extractor; never fails).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        Ok(Self(client_ip(peer, &parts.headers)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_eleventh_attempt_within_a_minute_waits_for_the_oldest_to_expire() {
        let l = LoginLimiter::default();
        let t0 = Instant::now();
        for i in 0..10 {
            assert!(
                l.check_at(ip("203.0.113.9"), t0 + Duration::from_secs(i))
                    .is_ok()
            );
        }
        let wait = l
            .check_at(ip("203.0.113.9"), t0 + Duration::from_secs(20))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(40));
        assert!(l.check_at(ip("203.0.113.10"), t0).is_ok(), "per address");
        assert!(
            l.check_at(ip("203.0.113.9"), t0 + Duration::from_secs(60))
                .is_ok(),
            "the first attempt left the window"
        );
    }

    #[test]
    fn memory_stays_bounded_and_idle_addresses_go_first() {
        let l = LoginLimiter::new(2, Duration::from_secs(60), 3);
        let t0 = Instant::now();
        l.check_at(ip("10.0.0.1"), t0).unwrap();
        l.check_at(ip("10.0.0.2"), t0 + Duration::from_secs(1))
            .unwrap();
        l.check_at(ip("10.0.0.3"), t0 + Duration::from_secs(2))
            .unwrap();
        l.check_at(ip("10.0.0.4"), t0 + Duration::from_secs(3))
            .unwrap();
        assert_eq!(l.len(), 3);
        // 10.0.0.1 was the oldest: forgotten, so it starts afresh.
        l.check_at(ip("10.0.0.2"), t0 + Duration::from_secs(4))
            .unwrap();
        assert!(
            l.check_at(ip("10.0.0.2"), t0 + Duration::from_secs(5))
                .is_err(),
            "a remembered address keeps its count"
        );
        for n in 0..1000u32 {
            let _ = l.check_at(IpAddr::from(n.to_be_bytes()), t0 + Duration::from_secs(6));
        }
        assert_eq!(l.len(), 3);
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let l = LoginLimiter::new(1, Duration::from_secs(60), 10);
        let t0 = Instant::now();
        l.check_at(ip("2001:db8:1:2::1"), t0).unwrap();
        assert!(l.check_at(ip("2001:db8:1:2::ffff"), t0).is_err());
        assert!(l.check_at(ip("2001:db8:1:3::1"), t0).is_ok());
    }

    #[test]
    fn proxy_headers_count_only_from_a_loopback_peer() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.1.1.1, 198.51.100.7"),
        );
        let lo: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let out: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        assert_eq!(client_ip(Some(lo), &h), Some(ip("198.51.100.7")));
        assert_eq!(client_ip(Some(out), &h), Some(ip("192.0.2.1")));
        h.insert("x-real-ip", HeaderValue::from_static("198.51.100.8"));
        assert_eq!(client_ip(Some(lo), &h), Some(ip("198.51.100.8")));
        assert_eq!(
            client_ip(Some(lo), &HeaderMap::new()),
            Some(ip("127.0.0.1"))
        );
        h.insert("x-real-ip", HeaderValue::from_static("garbage"));
        h.insert("x-forwarded-for", HeaderValue::from_static("garbage"));
        assert_eq!(client_ip(Some(lo), &h), Some(ip("127.0.0.1")));
        assert_eq!(client_ip(None, &h), None);
    }
}
