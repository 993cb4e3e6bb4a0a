//! The walk against the tools it replaces: on real trees, `apparent_bytes` must equal what
//! `du -sb` prints and `files` what `find ROOT -type f | wc -l` prints, whatever the tree
//! holds (hard links, symlinks of every kind, sparse files, FIFOs, sockets, unreadable
//! directories, mount points).

// Test code: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::{self, File};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use twoine_agent::collect::walk::{DirMeasure, ScanBound, Scanner, WalkLimits, walk_tree};
use twoine_agent::config::{IoPriority, ScanConfig};

const NOBODY: u32 = 65534;

fn limits(threads: usize) -> WalkLimits {
    WalkLimits {
        threads,
        io_priority: IoPriority::Normal,
        ..WalkLimits::default()
    }
}

/// Run a shell pipeline with `$1` = `root`; its stdout as a number. A non-zero exit is
/// accepted (du and find exit 1 after reporting an unreadable directory).
fn number(pipeline: &str, root: &Path) -> u64 {
    let out = Command::new("sh")
        .args(["-c", pipeline, "sh"])
        .arg(root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.split_whitespace().next().unwrap_or_default();
    first.parse().unwrap_or_else(|_| {
        panic!(
            "{pipeline}: {text:?} {:?}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// What the classic tools say about `root`.
#[derive(Debug, PartialEq, Eq)]
struct Tools {
    bytes: u64,
    files: u64,
}

fn du_and_find(root: &Path) -> Tools {
    Tools {
        bytes: number("du -sb \"$1\" 2>/dev/null", root),
        files: number("find \"$1\" -type f 2>/dev/null | wc -l", root),
    }
}

fn ours(m: &DirMeasure) -> Tools {
    Tools {
        bytes: m.apparent_bytes,
        files: m.files,
    }
}

/// A tree with everything that makes `du` and `find` disagree with a naive walk.
fn mixed_tree(root: &Path, outside: &Path) {
    let deep = root.join("a/b/c/d/e/f");
    fs::create_dir_all(&deep).unwrap();
    fs::create_dir_all(root.join("empty/dir")).unwrap();
    fs::create_dir_all(root.join("wide")).unwrap();
    for (i, size) in [0usize, 1, 511, 4095, 4096, 4097, 100_000]
        .iter()
        .enumerate()
    {
        fs::write(root.join(format!("a/size-{i}")), vec![b'x'; *size]).unwrap();
        fs::write(deep.join(format!("deep-{i}")), vec![b'y'; size / 2]).unwrap();
    }
    // Enough entries to need several getdents calls.
    for i in 0..3000 {
        fs::write(
            root.join(format!("wide/file with spaces é {i:04}")),
            i.to_string(),
        )
        .unwrap();
    }
    // One 50 kB file under four names in three directories, another twice in one directory.
    fs::write(root.join("a/linked"), vec![b'l'; 50_000]).unwrap();
    for name in ["a/b/linked-2", "a/b/c/linked-3", "empty/linked-4"] {
        fs::hard_link(root.join("a/linked"), root.join(name)).unwrap();
    }
    fs::write(root.join("a/b/pair"), vec![b'p'; 7_000]).unwrap();
    fs::hard_link(root.join("a/b/pair"), root.join("a/b/pair-again")).unwrap();
    // A file whose other name lies outside the tree.
    fs::write(outside.join("shared"), vec![b's'; 3_333]).unwrap();
    fs::hard_link(outside.join("shared"), root.join("a/shared-inside")).unwrap();
    // Symlinks: to a file, to a directory, dangling, to /etc, to /, with a long target.
    symlink("size-3", root.join("a/to-file")).unwrap();
    symlink("../a", root.join("a/b/to-dir")).unwrap();
    symlink("/no/such/target", root.join("dangling")).unwrap();
    symlink("/etc", root.join("etc")).unwrap();
    symlink("/", root.join("slash")).unwrap();
    symlink("t".repeat(200), root.join("long-target")).unwrap();
    // Sparse: 10 GiB apparent, almost nothing allocated.
    File::create(root.join("sparse"))
        .unwrap()
        .set_len(10 << 30)
        .unwrap();
    File::create(root.join("empty/zero")).unwrap();
    nix::unistd::mkfifo(
        &root.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    drop(std::os::unix::net::UnixListener::bind(root.join("socket")).unwrap());
}

#[test]
fn equals_du_and_find_on_a_mixed_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, outside) = (tmp.path().join("site"), tmp.path().join("outside"));
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&outside).unwrap();
    mixed_tree(&root, &outside);
    let tools = du_and_find(&root);
    assert!(tools.bytes > 10 << 30, "du sees the sparse file: {tools:?}");
    for threads in [1, 2, 8] {
        let m = walk_tree(&root, &limits(threads)).unwrap();
        assert_eq!(ours(&m), tools, "{threads} threads");
        assert_eq!(
            m.allocated_bytes,
            number("du -s -B1 \"$1\"", &root),
            "allocated, as du"
        );
        assert_eq!(m.directories, number("find \"$1\" -type d | wc -l", &root));
        assert_eq!(m.symlinks, number("find \"$1\" -type l | wc -l", &root));
        assert_eq!(
            m.other,
            number("find \"$1\" ! -type f ! -type d ! -type l | wc -l", &root)
        );
        assert_eq!(
            (m.errors, m.bound, m.skipped_mounts),
            (0, None, 0),
            "{:?}",
            m.error_samples
        );
    }
}

#[test]
fn a_small_max_entries_is_reported_as_the_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    mixed_tree(&tmp.path().join("site"), &outside);
    let m = walk_tree(
        &tmp.path().join("site"),
        &WalkLimits {
            max_entries: 100,
            ..limits(2)
        },
    )
    .unwrap();
    assert_eq!(m.bound, Some(ScanBound::Entries(100)));
    let counted = m.files + m.directories + m.symlinks + m.other;
    assert!((1..=100).contains(&counted), "{counted} entries counted");
    assert!(m.apparent_bytes < du_and_find(&tmp.path().join("site")).bytes);
}

/// Copy of this test executable that uid 65534 may run.
fn runnable_copy(dir: &Path) -> PathBuf {
    let exe = dir.join("walk_vs_du");
    fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
    exe
}

/// Run the ignored helper test `name` of this executable; it must pass.
fn run_helper(mut cmd: Command, name: &str) -> String {
    let out = cmd
        .args([
            "--ignored",
            "--exact",
            name,
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{name}:\n{text}");
    assert!(out.status.success(), "{name} failed:\n{text}");
    assert!(text.contains("1 passed"), "{name} did not run:\n{text}");
    text
}

#[test]
fn unreadable_directories_are_counted_errors_as_an_unprivileged_user() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    let outside = tmp.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    mixed_tree(&root, &outside);
    // Unreadable for uid 65534: two 000 directories with content, one write+search only
    // (cannot list), one read only (lists names, cannot stat them).
    for (dir, mode) in [
        ("locked", 0o000),
        ("a/b/locked", 0o000),
        ("wx", 0o311),
        ("r", 0o444),
    ] {
        let d = root.join(dir);
        fs::create_dir_all(d.join("inner")).unwrap();
        fs::write(d.join("hidden"), vec![b'h'; 12_345]).unwrap();
        fs::write(d.join("inner/deeper"), "d").unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(mode)).unwrap();
    }
    for dir in [tmp.path(), &root] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let bin = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(runnable_copy(bin.path()));
    cmd.env("TWOINE_WALK_NOBODY_ROOT", &root)
        .uid(NOBODY)
        .gid(NOBODY);
    let out = run_helper(cmd, "helper_walk_as_nobody");
    assert!(out.contains("errors="), "{out}");
    // As root, everything is readable: the same tree has no error at all.
    let m = walk_tree(&root, &limits(2)).unwrap();
    assert_eq!((ours(&m), m.errors), (du_and_find(&root), 0));
}

#[test]
#[ignore = "helper: run as uid 65534 by unreadable_directories_are_counted_errors_as_an_unprivileged_user"]
fn helper_walk_as_nobody() {
    let Some(root) = std::env::var_os("TWOINE_WALK_NOBODY_ROOT") else {
        return;
    };
    let root = PathBuf::from(root);
    assert_eq!(rustix::process::geteuid().as_raw(), NOBODY);
    let m = walk_tree(&root, &limits(2)).unwrap();
    let tools = du_and_find(&root);
    println!(
        "errors={} samples={:?} ours={:?} tools={tools:?}",
        m.errors,
        m.error_samples,
        ours(&m)
    );
    assert_eq!(ours(&m), tools);
    // 2 × 000 and the 0311 directory cannot be opened; the 3 entries of the 0444 one cannot be stat'ed.
    assert!(m.errors >= 4, "{} errors: {:?}", m.errors, m.error_samples);
    assert!(
        m.error_samples
            .iter()
            .any(|s| s.starts_with("locked: cannot open directory: Permission denied"))
    );
    assert!(
        m.error_samples
            .iter()
            .any(|s| s.starts_with("r/hidden: cannot stat"))
    );
}

#[test]
fn one_filesystem_skips_mount_points_as_du_x() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    fs::create_dir_all(root.join("mnt")).unwrap();
    fs::write(root.join("here"), vec![b'h'; 1000]).unwrap();
    // A private mount namespace: the mount disappears with the helper.
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private"])
        .arg(std::env::current_exe().unwrap())
        .env("TWOINE_WALK_MOUNT_ROOT", &root);
    run_helper(cmd, "helper_walk_across_a_mount");
}

#[test]
#[ignore = "helper: run in a private mount namespace by one_filesystem_skips_mount_points_as_du_x"]
fn helper_walk_across_a_mount() {
    let Some(root) = std::env::var_os("TWOINE_WALK_MOUNT_ROOT") else {
        return;
    };
    let root = PathBuf::from(root);
    let mnt = root.join("mnt");
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(status.success());
    fs::create_dir(mnt.join("dir")).unwrap();
    fs::write(mnt.join("dir/on-tmpfs"), vec![b't'; 50_000]).unwrap();

    let one_fs = walk_tree(&root, &limits(2)).unwrap();
    assert_eq!(one_fs.skipped_mounts, 1);
    assert_eq!(one_fs.apparent_bytes, number("du -sbx \"$1\"", &root));
    assert_eq!(
        one_fs.files,
        number("find \"$1\" -xdev -type f | wc -l", &root)
    );
    assert_eq!(one_fs.files, 1);

    let across = walk_tree(
        &root,
        &WalkLimits {
            one_filesystem: false,
            ..limits(2)
        },
    )
    .unwrap();
    assert_eq!(across.skipped_mounts, 0);
    assert_eq!(ours(&across), du_and_find(&root));
    assert_eq!(across.files, 2);
}

#[test]
fn a_wide_tree_walks_within_a_small_descriptor_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    for i in 0..2000 {
        fs::create_dir_all(root.join(format!("d{i}/sub"))).unwrap();
        fs::write(root.join(format!("d{i}/sub/f")), "x").unwrap();
    }
    let mut cmd = Command::new("prlimit");
    cmd.arg("--nofile=40:40")
        .arg(std::env::current_exe().unwrap())
        .env("TWOINE_WALK_WIDE_ROOT", &root);
    run_helper(cmd, "helper_walk_wide_tree");
}

#[test]
#[ignore = "helper: run with 40 descriptors by a_wide_tree_walks_within_a_small_descriptor_limit"]
fn helper_walk_wide_tree() {
    let Some(root) = std::env::var_os("TWOINE_WALK_WIDE_ROOT") else {
        return;
    };
    let root = PathBuf::from(root);
    let m = walk_tree(&root, &limits(8)).unwrap();
    assert_eq!(
        (m.errors, m.directories, m.files),
        (0, 4001, 2000),
        "{:?}",
        m.error_samples
    );
    assert_eq!(ours(&m), du_and_find(&root));
}

#[test]
fn a_tree_changing_under_the_walk_is_never_fatal_nor_followed_out() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("site");
    for d in 0..20 {
        for f in 0..50 {
            fs::create_dir_all(root.join(format!("d{d}"))).unwrap();
            fs::write(root.join(format!("d{d}/f{f}")), "x").unwrap();
        }
    }
    let most_files = 20 * 50 + 5 + 10;
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let (root, stop) = (root.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let swap = root.join("swap");
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // A directory repeatedly replaced by a symlink to /etc, and back.
                let _ = fs::remove_file(&swap);
                let _ = fs::create_dir(&swap);
                for f in 0..5 {
                    let _ = fs::write(swap.join(format!("f{f}")), "s");
                }
                let _ = fs::remove_dir_all(&swap);
                let _ = symlink("/etc", &swap);
                // Files created and deleted.
                for f in 0..10 {
                    let p = root.join(format!("d{}/tmp{f}", n % 20));
                    let _ = fs::write(&p, "t");
                    let _ = fs::remove_file(&p);
                }
                n += 1;
            }
            n
        })
    };
    for _ in 0..40 {
        let m = walk_tree(&root, &limits(2)).unwrap();
        assert!(
            m.files <= most_files,
            "{} files: something outside the tree was counted",
            m.files
        );
        assert!(m.files >= 20 * 50, "{} files", m.files);
        assert_eq!(m.bound, None);
    }
    stop.store(true, Ordering::Relaxed);
    assert!(churn.join().unwrap() > 0);
}

#[tokio::test]
async fn the_cache_answers_then_force_sees_a_new_file() {
    let sites = tempfile::tempdir().unwrap();
    let root = sites.path().join("alpha");
    let outside = sites.path().join("outside-of-alpha");
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&outside).unwrap();
    mixed_tree(&root, &outside);
    let config = ScanConfig {
        io_priority: IoPriority::Normal,
        ..ScanConfig::default()
    };
    let scanner = Scanner::new(sites.path(), config).unwrap();
    let roots = [root.display().to_string()];

    let first = scanner.measure(&roots, None, false).await.remove(0);
    assert!(!first.from_cache);
    assert_eq!(ours(first.outcome.as_ref().unwrap()), du_and_find(&root));
    tokio::time::sleep(Duration::from_millis(20)).await;

    fs::write(root.join("a/new-file"), vec![b'n'; 777]).unwrap();
    let second = scanner.measure(&roots, None, false).await.remove(0);
    assert!(
        second.from_cache && second.age >= Duration::from_millis(20),
        "{second:?}"
    );
    assert_eq!(second.outcome, first.outcome);

    let forced = scanner.measure(&roots, None, true).await.remove(0);
    assert!(!forced.from_cache);
    let m = forced.outcome.unwrap();
    assert_eq!(ours(&m), du_and_find(&root));
    assert_eq!(m.files, first.outcome.unwrap().files + 1);
}
