//! Directory measures against `du -sb` and `find`, and their refusals.

use super::*;

#[test]
#[ignore = "needs the VM: tests/vm/run-agent-tests.sh"]
fn scan_matches_du_and_find_and_refreshes_on_force() {
    let root = Path::new(SITE_ROOT);
    let count = |kind: &str| {
        host::run_ok("find", &[SITE_ROOT, "-type", kind])
            .lines()
            .count() as u64
    };
    let v = ctl().json(&["scan", SITE_ROOT, "--force"]);
    let m = single_measure(&v);
    assert_eq!(str_field(m, "root"), SITE_ROOT);
    assert!(field(m, "error").is_null(), "{m}");
    assert!(field(m, "bound").is_null(), "{m}");
    assert_eq!(u64_field(m, "apparent_bytes"), host::du_sb(root), "du -sb");
    assert_eq!(
        u64_field(m, "files"),
        host::find_files(root),
        "find -type f | wc -l"
    );
    assert_eq!(u64_field(m, "directories"), count("d"), "find -type d");
    assert_eq!(u64_field(m, "symlinks"), count("l"), "find -type l");
    assert_eq!(field(m, "from_cache"), &Value::Bool(false));

    // A new file: a cached answer still shows the old tree, a forced one the new tree.
    let (old_bytes, old_files) = (host::du_sb(root), host::find_files(root));
    let added = root.join("data/new.bin");
    std::fs::write(&added, vec![7u8; 1_000_000]).unwrap();
    let _cleanup = RemoveOnDrop(&added);
    let cached = ctl().json(&["scan", SITE_ROOT]);
    let c = single_measure(&cached);
    assert_eq!(field(c, "from_cache"), &Value::Bool(true), "{c}");
    assert_eq!(u64_field(c, "apparent_bytes"), old_bytes);
    let fresh = ctl().json(&["scan", SITE_ROOT, "--force"]);
    let f = single_measure(&fresh);
    assert_eq!(u64_field(f, "apparent_bytes"), host::du_sb(root));
    assert_eq!(u64_field(f, "apparent_bytes"), old_bytes + 1_000_000);
    assert_eq!(u64_field(f, "files"), old_files + 1);
}

fn single_measure(response: &Value) -> &Value {
    let measures = array_field(response, "measures");
    assert_eq!(measures.len(), 1, "{response}");
    &measures[0]
}

struct RemoveOnDrop<'a>(&'a Path);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0);
    }
}

#[test]
#[ignore = "needs the VM: tests/vm/run-agent-tests.sh"]
fn scan_refuses_roots_outside_sites_dir_per_root() {
    let roots = [
        ("/etc", "outside_sites_dir"),
        ("/var/www/twoine/demo/escape", "outside_sites_dir"), // a symlink to /etc
        ("/var/www/twoine/../../etc", "outside_sites_dir"),
        ("/var/www/twoine/nothere", "not_found"),
        ("/var/www/twoine/demo/data/blob.bin", "not_a_directory"),
    ];
    let mut args = vec!["scan", "--force"];
    args.extend(roots.iter().map(|(r, _)| *r));
    let v = ctl().json(&args);
    let measures = array_field(&v, "measures");
    assert_eq!(measures.len(), roots.len(), "{v}");
    for ((root, kind), m) in roots.iter().zip(measures) {
        assert_eq!(str_field(m, "root"), *root);
        let error = field(m, "error");
        assert!(!error.is_null(), "{root} was measured: {m}");
        assert_eq!(str_field(error, "kind"), *kind, "{root}: {m}");
        assert_eq!(u64_field(m, "apparent_bytes"), 0, "{root}: {m}");
        assert_eq!(u64_field(m, "files"), 0, "{root}: {m}");
    }
}
