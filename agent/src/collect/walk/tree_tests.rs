use std::os::unix::fs::{MetadataExt, symlink};

use super::*;
use crate::collect::walk::open::open_dir;
use crate::config::IoPriority;

fn limits(threads: usize) -> WalkLimits {
    WalkLimits {
        max_entries: 1_000_000,
        max_duration: Duration::from_secs(60),
        threads,
        io_priority: IoPriority::Normal,
        one_filesystem: true,
    }
}

fn run(path: &Path, limits: &WalkLimits) -> DirMeasure {
    let pool = build_pool(limits).unwrap();
    walk(&pool, open_dir(path).unwrap(), limits).unwrap()
}

fn size(p: &Path) -> u64 {
    std::fs::symlink_metadata(p).unwrap().size()
}

fn entries(m: &DirMeasure) -> u64 {
    m.files + m.directories + m.symlinks + m.other
}

#[test]
fn counts_every_kind_and_never_follows_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("sub")).unwrap();
    std::fs::write(d.join("sub/a"), vec![0u8; 1234]).unwrap();
    std::fs::hard_link(d.join("sub/a"), d.join("b")).unwrap();
    symlink("/etc", d.join("etc")).unwrap();
    symlink("sub", d.join("sub-link")).unwrap();
    for threads in [1, 2, 4] {
        let m = run(d, &limits(threads));
        assert_eq!((m.files, m.directories, m.symlinks, m.other), (2, 2, 2, 0));
        let want = size(d) + size(&d.join("sub")) + 1234 + 4 + 3;
        assert_eq!(m.apparent_bytes, want, "{threads} threads");
        assert_eq!((m.errors, m.bound, m.skipped_mounts), (0, None, 0));
    }
}

#[test]
fn entries_bound_is_exact_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..300 {
        std::fs::write(dir.path().join(format!("f{i}")), "x").unwrap();
    }
    for max in [1, 10, 64, 65, 200] {
        let m = run(
            dir.path(),
            &WalkLimits {
                max_entries: max,
                ..limits(2)
            },
        );
        assert_eq!(m.bound, Some(ScanBound::Entries(max)));
        assert_eq!(
            entries(&m),
            max,
            "one directory: exactly the budget is counted"
        );
    }
    let m = run(
        dir.path(),
        &WalkLimits {
            max_entries: 301,
            ..limits(2)
        },
    );
    assert_eq!(
        (m.bound, entries(&m)),
        (None, 301),
        "the tree fits the bound exactly"
    );
}

#[test]
fn time_bound_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let m = run(
        dir.path(),
        &WalkLimits {
            max_duration: Duration::ZERO,
            ..limits(2)
        },
    );
    assert_eq!(m.bound, Some(ScanBound::Time(Duration::ZERO)));
    assert_eq!(m.directories, 1, "the root only");
}

/// Run one job of a walk over `d` by hand and return its tally.
fn with_walk(d: &Path, job: impl for<'s> FnOnce(&'s Walk<'s>, &rayon::Scope<'s>) + Send) -> Tally {
    let lim = limits(1);
    let pool = build_pool(&lim).unwrap();
    let root = open_dir(d).unwrap();
    let st = rustix::fs::fstat(&root).unwrap();
    let walk = Walk::new(root.as_fd(), &st, &lim, 1, Instant::now());
    pool.scope(|s| job(&walk, s));
    let mut total = Tally::default();
    for slot in walk.slots {
        total.merge(slot.into_inner().unwrap());
    }
    total
}

#[test]
fn an_entry_vanishing_between_getdents_and_stat_is_a_counted_error() {
    let dir = tempfile::tempdir().unwrap();
    let tally = with_walk(dir.path(), |w, s| {
        let mut t = Tally::default();
        w.visit(
            s,
            w.root,
            Path::new("sub"),
            c"gone",
            FileType::RegularFile,
            &mut t,
        );
        w.finish(t);
    });
    assert_eq!(
        (tally.errors, tally.files),
        (1, 0),
        "a vanished file is not counted"
    );
    assert!(
        tally.samples[0].starts_with("sub/gone: vanished during the walk: No such file"),
        "{:?}",
        tally.samples
    );
}

#[test]
fn a_directory_vanishing_or_replaced_before_it_is_entered_is_a_counted_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("other")).unwrap();
    symlink("other", dir.path().join("link")).unwrap();
    let ino = std::fs::metadata(dir.path().join("other")).unwrap().ino();
    let dev = std::fs::metadata(dir.path()).unwrap().dev();
    let tally = with_walk(dir.path(), |w, s| {
        w.dir(s, PathBuf::from("gone"), Some((dev, 1)));
        w.dir(s, PathBuf::from("other"), Some((dev, ino + 1)));
        w.dir(s, PathBuf::from("link"), Some((dev, ino)));
    });
    assert_eq!(tally.errors, 3);
    assert!(
        tally.samples[0].starts_with("gone: vanished during the walk"),
        "{:?}",
        tally.samples
    );
    assert_eq!(
        tally.samples[1],
        "other: replaced during the walk; not entered"
    );
    assert!(
        tally.samples[2].starts_with("link: replaced during the walk by a symlink or a file"),
        "{:?}",
        tally.samples
    );
}

#[test]
fn every_descriptor_is_closed_after_a_wide_walk() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..3000 {
        std::fs::create_dir(dir.path().join(format!("d{i}"))).unwrap();
        std::fs::write(dir.path().join(format!("d{i}/f")), "").unwrap();
    }
    let open_before = std::fs::read_dir("/proc/self/fd").unwrap().count();
    let m = run(dir.path(), &limits(2));
    assert_eq!((m.directories, m.files, m.errors), (3001, 3000, 0));
    let open_after = std::fs::read_dir("/proc/self/fd").unwrap().count();
    assert!(
        open_after <= open_before + 2,
        "descriptors leaked: {open_before} -> {open_after}"
    );
}
