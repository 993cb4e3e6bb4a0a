//! The cache in front of the walk: fresh results without disk churn, one walk per root at a
//! time however many callers ask.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};

use super::root::{Resolved, SitesDir};
use super::{DirMeasure, RootError, RootErrorKind, WalkLimits, tree};
use crate::config::ScanConfig;

/// Roots kept in the cache at most; the least recently asked for go first.
pub const CACHE_CAPACITY: usize = 16_384;
/// A cached root nobody asked for during this long (or twice `max_age`, if longer) is dropped.
const IDLE_EVICTION: Duration = Duration::from_secs(3600);
/// Walks running at once (each uses every walker thread); the others wait their turn.
const CONCURRENT_WALKS: usize = 2;

/// The answer for one requested root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measured {
    /// The root as requested.
    pub root: String,
    pub outcome: Result<DirMeasure, RootError>,
    /// True when answered from the cache without walking.
    pub from_cache: bool,
    /// Age of the result when answered; zero when walked for this request.
    pub age: Duration,
}

/// Why a [`Scanner`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ScanSetupError {
    #[error("SITES_DIR {path}: {source}")]
    SitesDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the walker threads: {0}")]
    Threads(#[from] rayon::ThreadPoolBuildError),
}

type Outcome = Result<Arc<DirMeasure>, RootError>;

enum Slot {
    Ready {
        measure: Arc<DirMeasure>,
        done: Instant,
        asked: Instant,
    },
    /// A walk under way; its result will be sent on the channel.
    Running {
        result: watch::Receiver<Option<Outcome>>,
        asked: Instant,
    },
}

impl Slot {
    fn asked(&self) -> Instant {
        match self {
            Self::Ready { asked, .. } | Self::Running { asked, .. } => *asked,
        }
    }
}

struct Inner {
    sites: SitesDir,
    max_age: Duration,
    limits: WalkLimits,
    pool: rayon::ThreadPool,
    walks: Arc<Semaphore>,
    cache: Mutex<HashMap<PathBuf, Slot>>,
    walks_started: AtomicU64,
}

/// Measures site roots under `SITES_DIR`, with a cache and single-flight walks.
/// Cheap to clone; all clones share the cache and the walker threads.
#[derive(Clone)]
pub struct Scanner {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("sites_dir", &self.inner.sites.canonical())
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl Scanner {
    /// Open `sites_dir` (canonicalized once, here) and start the walker threads.
    pub fn new(sites_dir: &Path, config: ScanConfig) -> Result<Self, ScanSetupError> {
        let sites = SitesDir::open(sites_dir).map_err(|source| ScanSetupError::SitesDir {
            path: sites_dir.to_path_buf(),
            source,
        })?;
        let limits = WalkLimits::from(&config);
        let pool = tree::build_pool(&limits)?;
        Ok(Self {
            inner: Arc::new(Inner {
                sites,
                max_age: config.max_age(),
                limits,
                pool,
                walks: Arc::new(Semaphore::new(CONCURRENT_WALKS)),
                cache: Mutex::new(HashMap::new()),
                walks_started: AtomicU64::new(0),
            }),
        })
    }

    /// `SITES_DIR` with every symlink resolved.
    pub fn sites_dir(&self) -> &Path {
        self.inner.sites.canonical()
    }

    /// Walks started since this scanner was built (cache misses that touched the disk).
    pub fn walks_started(&self) -> u64 {
        self.inner.walks_started.load(Ordering::Relaxed)
    }

    /// Measure `roots`, answering in the same order. A cached result younger than `max_age`
    /// (default: the configured age) is answered as is unless `force`; otherwise the root is
    /// walked, or the walk already under way for it is joined. A walk goes on to fill the cache
    /// even if the caller gives up waiting.
    pub async fn measure(
        &self,
        roots: &[String],
        max_age: Option<Duration>,
        force: bool,
    ) -> Vec<Measured> {
        let max_age = max_age.unwrap_or(self.inner.max_age);
        let inner = Arc::clone(&self.inner);
        let owned = roots.to_vec();
        let resolved = tokio::task::spawn_blocking(move || {
            owned
                .iter()
                .map(|r| inner.sites.resolve(r))
                .collect::<Vec<_>>()
        })
        .await;
        let resolved = match resolved {
            Ok(r) => r,
            Err(e) => roots
                .iter()
                .map(|_| Err(abandoned(&e.to_string())))
                .collect(),
        };
        let answers = roots
            .iter()
            .zip(resolved)
            .map(|(root, r)| self.measure_one(root.clone(), r, max_age, force));
        futures_util::future::join_all(answers).await
    }

    async fn measure_one(
        &self,
        root: String,
        resolved: Result<Resolved, RootError>,
        max_age: Duration,
        force: bool,
    ) -> Measured {
        let answer = |outcome, from_cache, age| Measured {
            root: root.clone(),
            outcome,
            from_cache,
            age,
        };
        let resolved = match resolved {
            Ok(r) => r,
            Err(e) => return answer(Err(e), false, Duration::ZERO),
        };
        let mut result = {
            let mut cache = self.cache();
            let now = Instant::now();
            match cache.get_mut(&resolved.canonical) {
                Some(Slot::Ready {
                    measure,
                    done,
                    asked,
                }) if !force && now.duration_since(*done) < max_age => {
                    *asked = now;
                    return answer(
                        Ok(DirMeasure::clone(measure)),
                        true,
                        now.duration_since(*done),
                    );
                }
                // A walk under way is as fresh as one started now: join it, even when forced
                // (unless its task died without an answer, at runtime shutdown: start another).
                Some(Slot::Running { result, asked }) if result.has_changed().is_ok() => {
                    *asked = now;
                    result.clone()
                }
                _ => {
                    let (tx, rx) = watch::channel(None);
                    let slot = Slot::Running {
                        result: rx.clone(),
                        asked: now,
                    };
                    cache.insert(resolved.canonical.clone(), slot);
                    self.start_walk(resolved, tx);
                    rx
                }
            }
        };
        let outcome = match result.wait_for(Option::is_some).await {
            Ok(done) => match done.as_ref() {
                Some(Ok(m)) => Ok(DirMeasure::clone(m)),
                Some(Err(e)) => Err(e.clone()),
                None => Err(abandoned("no result")),
            },
            Err(_) => Err(abandoned("the walk was dropped")),
        };
        answer(outcome, false, Duration::ZERO)
    }

    /// Walk in the background (waiting for a walk permit), store the result, then publish it.
    fn start_walk(&self, resolved: Resolved, tx: watch::Sender<Option<Outcome>>) {
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move {
            let outcome = match Arc::clone(&inner.walks).acquire_owned().await {
                Ok(permit) => {
                    let walker = Arc::clone(&inner);
                    let fd = resolved.fd;
                    let walked = tokio::task::spawn_blocking(move || {
                        let _permit = permit;
                        walker.walks_started.fetch_add(1, Ordering::Relaxed);
                        tree::walk(&walker.pool, fd, &walker.limits)
                    })
                    .await;
                    match walked {
                        Ok(r) => r.map(Arc::new),
                        Err(e) => Err(abandoned(&e.to_string())),
                    }
                }
                Err(e) => Err(abandoned(&e.to_string())),
            };
            {
                let mut cache = inner.cache.lock().unwrap_or_else(PoisonError::into_inner);
                let now = Instant::now();
                let asked = cache.get(&resolved.canonical).map_or(now, Slot::asked);
                match &outcome {
                    Ok(measure) => {
                        let slot = Slot::Ready {
                            measure: Arc::clone(measure),
                            done: now,
                            asked,
                        };
                        cache.insert(resolved.canonical, slot);
                    }
                    Err(_) => {
                        cache.remove(&resolved.canonical);
                    }
                }
                evict(&mut cache, now, inner.max_age);
            }
            tx.send_replace(Some(outcome));
        });
    }

    fn cache(&self) -> MutexGuard<'_, HashMap<PathBuf, Slot>> {
        self.inner
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Roots in the cache (results and walks under way).
    pub fn cached_roots(&self) -> usize {
        self.cache().len()
    }
}

fn abandoned(why: &str) -> RootError {
    RootError {
        kind: RootErrorKind::Io,
        message: format!("the walk could not finish: {why}"),
    }
}

/// Drop results nobody asked for lately, then the least recently asked for beyond
/// [`CACHE_CAPACITY`]. Walks under way are never dropped.
fn evict(cache: &mut HashMap<PathBuf, Slot>, now: Instant, max_age: Duration) {
    let idle = IDLE_EVICTION.max(max_age.saturating_mul(2));
    cache.retain(|_, slot| {
        matches!(slot, Slot::Running { .. }) || now.duration_since(slot.asked()) < idle
    });
    if cache.len() <= CACHE_CAPACITY {
        return;
    }
    let mut ready: Vec<(Instant, PathBuf)> = cache
        .iter()
        .filter(|(_, s)| matches!(s, Slot::Ready { .. }))
        .map(|(k, s)| (s.asked(), k.clone()))
        .collect();
    ready.sort_unstable_by_key(|(asked, _)| *asked);
    let excess = cache.len() - CACHE_CAPACITY;
    for (_, key) in ready.into_iter().take(excess) {
        cache.remove(&key);
    }
}

#[cfg(test)]
#[path = "scanner_tests.rs"]
mod tests;
