//! `collect::walk` → `twoine.agent.v1.DirMeasure`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use twoine_proto::v1 as pb;

use crate::collect::walk::{DirMeasure, Measured, RootError, ScanBound};

/// One root's answer as the wire carries it. A refused root has `error` set and zero
/// counters; a bounded walk has `bound` set (its `limit` is entries, or milliseconds for
/// `"time"`, like every other duration of the API).
pub fn measured(m: Measured) -> pb::DirMeasure {
    let base = pb::DirMeasure {
        root: m.root,
        from_cache: m.from_cache,
        age_ms: millis(m.age),
        ..Default::default()
    };
    match m.outcome {
        Ok(d) => with_measure(base, d),
        Err(e) => pb::DirMeasure {
            error: Some(root_error(e)),
            ..base
        },
    }
}

fn with_measure(base: pb::DirMeasure, d: DirMeasure) -> pb::DirMeasure {
    pb::DirMeasure {
        apparent_bytes: d.apparent_bytes,
        files: d.files,
        directories: d.directories,
        symlinks: d.symlinks,
        other: d.other,
        allocated_bytes: d.allocated_bytes,
        scanned_at_ms: epoch_millis(d.scanned_at),
        duration_ms: millis(d.duration),
        bound: d.bound.map(bound),
        errors: d.errors,
        error_samples: d.error_samples,
        skipped_mounts: d.skipped_mounts,
        ..base
    }
}

fn bound(b: ScanBound) -> pb::ScanBound {
    let limit = match b {
        ScanBound::Entries(n) => n,
        ScanBound::Time(d) => millis(d),
    };
    pb::ScanBound {
        kind: b.kind().to_string(),
        limit,
    }
}

fn root_error(e: RootError) -> pb::RootError {
    pb::RootError {
        kind: e.kind.as_str().to_string(),
        message: e.message,
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn epoch_millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::walk::RootErrorKind;

    fn sample() -> DirMeasure {
        DirMeasure {
            apparent_bytes: 10_000,
            files: 7,
            directories: 3,
            symlinks: 2,
            other: 1,
            allocated_bytes: 16_384,
            scanned_at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            duration: Duration::from_micros(42_900),
            bound: Some(ScanBound::Time(Duration::from_secs(60))),
            errors: 2,
            error_samples: vec!["a: cannot open directory: Permission denied (os error 13)".into()],
            skipped_mounts: 1,
        }
    }

    #[test]
    fn a_measure_keeps_every_counter() {
        let m = measured(Measured {
            root: "/var/www/twoine/alpha".into(),
            outcome: Ok(sample()),
            from_cache: true,
            age: Duration::from_millis(1500),
        });
        let want = pb::DirMeasure {
            root: "/var/www/twoine/alpha".into(),
            error: None,
            apparent_bytes: 10_000,
            files: 7,
            directories: 3,
            symlinks: 2,
            other: 1,
            allocated_bytes: 16_384,
            scanned_at_ms: 1_700_000_000_123,
            duration_ms: 42,
            age_ms: 1500,
            from_cache: true,
            bound: Some(pb::ScanBound {
                kind: "time".into(),
                limit: 60_000,
            }),
            errors: 2,
            error_samples: vec!["a: cannot open directory: Permission denied (os error 13)".into()],
            skipped_mounts: 1,
        };
        assert_eq!(m, want);
    }

    #[test]
    fn an_entries_bound_carries_its_count() {
        let d = DirMeasure {
            bound: Some(ScanBound::Entries(5_000_000)),
            ..sample()
        };
        let m = measured(Measured {
            root: "/r".into(),
            outcome: Ok(d),
            from_cache: false,
            age: Duration::ZERO,
        });
        let b = m.bound.unwrap();
        assert_eq!((b.kind.as_str(), b.limit), ("entries", 5_000_000));
        assert_eq!((m.age_ms, m.from_cache), (0, false));
    }

    #[test]
    fn a_refused_root_has_its_error_and_zero_counters() {
        let m = measured(Measured {
            root: "/etc".into(),
            outcome: Err(RootError {
                kind: RootErrorKind::OutsideSitesDir,
                message: "\"/etc\" is not under SITES_DIR (/var/www/twoine)".into(),
            }),
            from_cache: false,
            age: Duration::ZERO,
        });
        let e = m.error.clone().unwrap();
        assert_eq!(e.kind, "outside_sites_dir");
        assert!(e.message.contains("not under SITES_DIR"));
        assert_eq!(
            m,
            pb::DirMeasure {
                root: "/etc".into(),
                error: Some(e),
                ..Default::default()
            }
        );
    }

    #[test]
    fn every_error_kind_has_its_api_name() {
        let names: Vec<_> = [
            RootErrorKind::Invalid,
            RootErrorKind::OutsideSitesDir,
            RootErrorKind::NotFound,
            RootErrorKind::NotADirectory,
            RootErrorKind::Io,
        ]
        .iter()
        .map(|k| k.as_str())
        .collect();
        assert_eq!(
            names,
            [
                "invalid",
                "outside_sites_dir",
                "not_found",
                "not_a_directory",
                "io"
            ]
        );
    }
}
