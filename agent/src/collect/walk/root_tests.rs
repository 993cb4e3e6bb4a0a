use std::os::unix::fs::symlink;

use super::*;

/// SITES_DIR with one site, a file, and symlinks of every bad kind.
struct Fixture {
    _dir: tempfile::TempDir,
    sites: PathBuf,
    dir: SitesDir,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let sites = tmp.path().join("sites");
    std::fs::create_dir_all(sites.join("alpha/www")).unwrap();
    std::fs::create_dir_all(tmp.path().join("outside")).unwrap();
    std::fs::write(sites.join("file.txt"), "x").unwrap();
    symlink("/etc", sites.join("etc-link")).unwrap();
    symlink("loop", sites.join("loop")).unwrap();
    symlink("ping", sites.join("pong")).unwrap();
    symlink("pong", sites.join("ping")).unwrap();
    symlink("alpha", sites.join("alpha-link")).unwrap();
    symlink(".", sites.join("self")).unwrap();
    symlink("../../outside", sites.join("alpha/escape")).unwrap();
    let dir = SitesDir::open(&sites).unwrap();
    Fixture {
        _dir: tmp,
        sites,
        dir,
    }
}

impl Fixture {
    fn path(&self, rel: &str) -> String {
        format!("{}/{rel}", self.sites.display())
    }

    fn refused(&self, root: &str) -> RootError {
        match self.dir.resolve(root) {
            Ok(r) => panic!("{root:?} was accepted as {}", r.canonical.display()),
            Err(e) => e,
        }
    }

    fn assert_refused(&self, root: &str, kind: RootErrorKind, words: &str) {
        let e = self.refused(root);
        assert_eq!(e.kind, kind, "{root:?}: {e}");
        assert!(
            e.message.contains(words),
            "{root:?}: {:?} lacks {words:?}",
            e.message
        );
        assert!(
            e.message
                .contains(&root.chars().take(20).collect::<String>()),
            "the message names the root: {:?}",
            e.message
        );
    }
}

#[test]
fn dot_dot_that_escapes_is_outside() {
    let f = fixture();
    let kind = RootErrorKind::OutsideSitesDir;
    f.assert_refused(&f.path("../../../etc"), kind, "is not under SITES_DIR");
    f.assert_refused(
        &f.path("alpha/../../outside"),
        kind,
        "is not under SITES_DIR",
    );
    // `..` that stays inside is fine.
    let ok = f.dir.resolve(&f.path("alpha/www/../../alpha")).unwrap();
    assert_eq!(ok.canonical, f.sites.join("alpha"));
}

#[test]
fn symlink_to_etc_is_outside() {
    let f = fixture();
    let kind = RootErrorKind::OutsideSitesDir;
    f.assert_refused(&f.path("etc-link"), kind, "resolves outside SITES_DIR");
    f.assert_refused(&f.path("alpha/escape"), kind, "resolves outside SITES_DIR");
    // A symlink whose `..` goes through it lands outside too (resolved physically).
    f.assert_refused(
        &f.path("etc-link/../tmp"),
        kind,
        "resolves outside SITES_DIR",
    );
}

#[test]
fn symlink_loops_are_invalid() {
    let f = fixture();
    f.assert_refused(&f.path("loop"), RootErrorKind::Invalid, "symbolic links");
    f.assert_refused(&f.path("ping/x"), RootErrorKind::Invalid, "symbolic links");
}

#[test]
fn roots_outside_sites_dir_are_refused_without_looking() {
    let f = fixture();
    let kind = RootErrorKind::OutsideSitesDir;
    f.assert_refused("/etc", kind, "is not under SITES_DIR");
    f.assert_refused("/", kind, "is not under SITES_DIR");
    // Not reported as missing: a refusal must not reveal what exists outside.
    f.assert_refused("/no/such/dir", kind, "is not under SITES_DIR");
    // A sibling whose name starts with SITES_DIR's is not inside it.
    f.assert_refused(
        &format!("{}-evil/x", f.sites.display()),
        kind,
        "is not under SITES_DIR",
    );
}

#[test]
fn relative_paths_are_invalid() {
    let f = fixture();
    f.assert_refused("alpha", RootErrorKind::Invalid, "relative path");
    f.assert_refused("./alpha", RootErrorKind::Invalid, "relative path");
}

#[test]
fn sites_dir_itself_is_not_a_root() {
    let f = fixture();
    let kind = RootErrorKind::OutsideSitesDir;
    for root in [
        f.sites.display().to_string(),
        f.path(""),
        f.path("."),
        f.path("alpha/.."),
    ] {
        f.assert_refused(&root, kind, "SITES_DIR itself");
    }
    f.assert_refused(&f.path("self"), kind, "resolves to SITES_DIR itself");
}

#[test]
fn a_file_is_not_a_directory() {
    let f = fixture();
    f.assert_refused(
        &f.path("file.txt"),
        RootErrorKind::NotADirectory,
        "is not a directory",
    );
    f.assert_refused(
        &f.path("file.txt/x"),
        RootErrorKind::NotADirectory,
        "is not a directory",
    );
}

#[test]
fn a_missing_directory_is_not_found() {
    let f = fixture();
    f.assert_refused(
        &f.path("missing"),
        RootErrorKind::NotFound,
        "does not exist",
    );
    f.assert_refused(
        &f.path("alpha/missing/x"),
        RootErrorKind::NotFound,
        "does not exist",
    );
}

#[test]
fn malformed_strings_are_invalid() {
    let f = fixture();
    let e = f.refused("");
    assert_eq!(
        (e.kind, e.message.contains("empty")),
        (RootErrorKind::Invalid, true),
        "{e}"
    );
    f.assert_refused(&f.path("al\0pha"), RootErrorKind::Invalid, "NUL byte");
    let long = f.path(&"a/".repeat(3000));
    f.assert_refused(&long, RootErrorKind::Invalid, "longer than 4095 bytes");
    let long_name = f.path(&"n".repeat(300));
    f.assert_refused(&long_name, RootErrorKind::Invalid, "too long");
}

#[test]
fn site_directories_and_links_to_them_are_accepted() {
    let f = fixture();
    for root in [
        f.path("alpha"),
        f.path("alpha/"),
        f.path("alpha-link"),
        f.path("./alpha"),
    ] {
        let r = f.dir.resolve(&root).unwrap();
        assert_eq!(r.canonical, f.sites.join("alpha"), "{root}");
        let st = rustix::fs::fstat(&r.fd).unwrap();
        let want = std::fs::metadata(f.sites.join("alpha")).unwrap();
        assert_eq!(st.st_ino, std::os::unix::fs::MetadataExt::ino(&want));
    }
    let r = f.dir.resolve(&f.path("alpha/www")).unwrap();
    assert_eq!(r.canonical, f.sites.join("alpha/www"));
}

#[test]
fn sites_dir_reached_through_a_symlink() {
    let f = fixture();
    let link = f.sites.parent().unwrap().join("sites-link");
    symlink(&f.sites, &link).unwrap();
    let dir = SitesDir::open(&link).unwrap();
    assert_eq!(dir.canonical(), f.sites);
    for root in [format!("{}/alpha", link.display()), f.path("alpha")] {
        assert_eq!(dir.resolve(&root).unwrap().canonical, f.sites.join("alpha"));
    }
    let e = dir
        .resolve(&format!("{}/etc-link", link.display()))
        .unwrap_err();
    assert_eq!(e.kind, RootErrorKind::OutsideSitesDir, "{e}");
}

#[test]
fn sites_dir_must_be_an_absolute_directory() {
    assert!(SitesDir::open(Path::new("relative")).is_err());
    assert!(SitesDir::open(Path::new("/")).is_err());
    let f = fixture();
    assert!(SitesDir::open(&f.sites.join("file.txt")).is_err());
    assert!(SitesDir::open(&f.sites.join("missing")).is_err());
}
