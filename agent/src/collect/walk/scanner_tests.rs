use std::os::unix::fs::symlink;
use std::time::SystemTime;

use super::*;
use crate::config::IoPriority;

struct Sites {
    dir: tempfile::TempDir,
    scanner: Scanner,
}

impl Sites {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let alpha = dir.path().join("alpha");
        std::fs::create_dir_all(alpha.join("www")).unwrap();
        std::fs::write(alpha.join("www/index.html"), "hello").unwrap();
        std::fs::write(alpha.join("app.js"), "x".repeat(100)).unwrap();
        symlink("alpha", dir.path().join("alpha-link")).unwrap();
        let config = ScanConfig {
            threads: 2,
            io_priority: IoPriority::Normal,
            ..ScanConfig::default()
        };
        let scanner = Scanner::new(dir.path(), config).unwrap();
        Self { dir, scanner }
    }

    fn root(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    async fn one(&self, name: &str, max_age: Option<Duration>, force: bool) -> Measured {
        let mut all = self
            .scanner
            .measure(&[self.root(name)], max_age, force)
            .await;
        assert_eq!(all.len(), 1);
        all.remove(0)
    }
}

fn files(m: &Measured) -> u64 {
    m.outcome.as_ref().unwrap().files
}

#[tokio::test]
async fn second_call_is_answered_from_cache_and_force_rescans() {
    let s = Sites::new();
    let first = s.one("alpha", None, false).await;
    assert_eq!(
        (files(&first), first.from_cache, first.age),
        (2, false, Duration::ZERO)
    );
    tokio::time::sleep(Duration::from_millis(30)).await;

    std::fs::write(s.dir.path().join("alpha/new.txt"), "new").unwrap();
    let cached = s.one("alpha", None, false).await;
    assert!(cached.from_cache);
    assert!(cached.age >= Duration::from_millis(30), "{:?}", cached.age);
    assert_eq!(files(&cached), 2, "the cache does not see the new file");
    assert_eq!(cached.outcome, first.outcome);
    assert_eq!(s.scanner.walks_started(), 1);

    let forced = s.one("alpha", None, true).await;
    assert_eq!(
        (files(&forced), forced.from_cache, forced.age),
        (3, false, Duration::ZERO)
    );
    assert_eq!(s.scanner.walks_started(), 2);
    let again = s.one("alpha", None, false).await;
    assert_eq!((files(&again), again.from_cache), (3, true));
}

#[tokio::test]
async fn an_old_result_is_walked_again() {
    let s = Sites::new();
    s.one("alpha", None, false).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let m = s.one("alpha", Some(Duration::from_millis(10)), false).await;
    assert!(!m.from_cache);
    let m = s.one("alpha", Some(Duration::from_secs(60)), false).await;
    assert!(m.from_cache);
    assert_eq!(s.scanner.walks_started(), 2);
}

#[tokio::test]
async fn concurrent_requests_for_one_root_share_one_walk() {
    let s = Sites::new();
    // The same directory three times, once through a symlink: one walk, even when forced.
    let roots = [s.root("alpha"), s.root("alpha/"), s.root("alpha-link")];
    let all = s.scanner.measure(&roots, None, true).await;
    assert_eq!(s.scanner.walks_started(), 1);
    for (m, root) in all.iter().zip(&roots) {
        assert_eq!(&m.root, root);
        assert_eq!((files(m), m.from_cache), (2, false));
    }
    assert_eq!(s.scanner.cached_roots(), 1);
}

#[tokio::test]
async fn refused_roots_are_answered_in_order_beside_good_ones() {
    let s = Sites::new();
    let roots = vec![
        "/etc".to_string(),
        s.root("alpha"),
        "alpha".to_string(),
        s.root("missing"),
    ];
    let all = s.scanner.measure(&roots, None, false).await;
    let kinds: Vec<_> = all
        .iter()
        .map(|m| m.outcome.as_ref().err().map(|e| e.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            Some(RootErrorKind::OutsideSitesDir),
            None,
            Some(RootErrorKind::Invalid),
            Some(RootErrorKind::NotFound)
        ]
    );
    assert_eq!(
        all.iter().map(|m| m.root.clone()).collect::<Vec<_>>(),
        roots
    );
    assert_eq!(
        s.scanner.walks_started(),
        1,
        "refused roots never start a walk"
    );
}

#[tokio::test]
async fn a_caller_giving_up_does_not_cancel_the_walk() {
    let s = Sites::new();
    for i in 0..2000 {
        std::fs::write(s.dir.path().join(format!("alpha/f{i}")), "").unwrap();
    }
    let scanner = s.scanner.clone();
    let roots = [s.root("alpha")];
    let caller = tokio::spawn(async move { scanner.measure(&roots, None, false).await });
    while s.scanner.cached_roots() == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    caller.abort();
    let m = s.one("alpha", None, false).await;
    assert_eq!(files(&m), 2002);
    assert_eq!(
        s.scanner.walks_started(),
        1,
        "the second caller joined or read the first walk"
    );
}

#[test]
fn scanner_refuses_a_bad_sites_dir() {
    let err = Scanner::new(Path::new("/no/such/sites"), ScanConfig::default()).unwrap_err();
    assert!(err.to_string().contains("/no/such/sites"), "{err}");
    assert!(Scanner::new(Path::new("relative"), ScanConfig::default()).is_err());
}

fn ready(asked: Instant) -> Slot {
    let measure = DirMeasure {
        apparent_bytes: 0,
        files: 0,
        directories: 1,
        symlinks: 0,
        other: 0,
        allocated_bytes: 0,
        scanned_at: SystemTime::now(),
        duration: Duration::ZERO,
        bound: None,
        errors: 0,
        error_samples: vec![],
        skipped_mounts: 0,
    };
    Slot::Ready {
        measure: Arc::new(measure),
        done: asked,
        asked,
    }
}

#[test]
fn eviction_drops_idle_roots_then_the_least_recently_asked() {
    let now = Instant::now() + Duration::from_secs(10_000);
    let mut cache = HashMap::new();
    cache.insert(
        PathBuf::from("/s/idle"),
        ready(now - Duration::from_secs(7200)),
    );
    cache.insert(
        PathBuf::from("/s/recent"),
        ready(now - Duration::from_secs(60)),
    );
    let (_tx, rx) = watch::channel(None);
    let running = Slot::Running {
        result: rx,
        asked: now - Duration::from_secs(7200),
    };
    cache.insert(PathBuf::from("/s/running"), running);
    evict(&mut cache, now, Duration::from_secs(300));
    let mut left: Vec<_> = cache.keys().cloned().collect();
    left.sort();
    assert_eq!(
        left,
        [PathBuf::from("/s/recent"), PathBuf::from("/s/running")]
    );

    for i in 0..CACHE_CAPACITY + 10 {
        cache.insert(
            PathBuf::from(format!("/s/{i}")),
            ready(now - Duration::from_secs(1) + Duration::from_micros(i as u64)),
        );
    }
    evict(&mut cache, now, Duration::from_secs(300));
    assert_eq!(cache.len(), CACHE_CAPACITY);
    assert!(cache.contains_key(Path::new("/s/running")));
    assert!(
        !cache.contains_key(Path::new("/s/recent")),
        "asked for longest ago"
    );
    assert!(!cache.contains_key(Path::new("/s/0")));
    assert!(cache.contains_key(Path::new(&format!("/s/{}", CACHE_CAPACITY + 9))));
}
