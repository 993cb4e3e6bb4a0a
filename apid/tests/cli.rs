//! The administration commands through the real binary, on a temp configuration and a temp
//! embedded store; what they wrote is read back with `EmbeddedStore` (and, for passwords,
//! through the real login route).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use twoine_apid::config::{Config, ENV_KEYS, Env};
use twoine_apid::model::{AccessLevel, DesiredState, Role, UserStatus};
use twoine_apid::store::PanelRead;
use twoine_apid::store::embedded::EmbeddedStore;

const BIN: &str = env!("CARGO_BIN_EXE_twoine-apid");
const SECRET: &str = "cli-test-secret-0123456789abcdef0123456789";

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Self::with("")
    }

    /// A configuration in a temp dir: store, SITES_DIR, an agent socket nobody serves; `extra`
    /// is prepended (top-level keys).
    fn with(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("sites")).unwrap();
        let toml = format!(
            "{extra}\nlisten = \"127.0.0.1:0\"\nsites_dir = \"{sites}\"\n[store]\npath = \"{db}\"\n\
             [agent]\nsocket = \"{sock}\"\ncall_timeout_secs = 5\n",
            sites = root.join("sites").display(),
            db = root.join("state/apid.db").display(),
            sock = root.join("agent.sock").display(),
        );
        std::fs::write(root.join("apid.toml"), toml).unwrap();
        Self { dir }
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("apid.toml")
    }

    fn sites_dir(&self) -> PathBuf {
        self.dir.path().join("sites")
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_stdin(args, None)
    }

    fn run_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.arg("--config").arg(self.config_path()).args(args);
        for k in ENV_KEYS {
            cmd.env_remove(k);
        }
        cmd.env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        {
            let mut input = child.stdin.take().unwrap();
            if let Some(s) = stdin {
                input.write_all(s.as_bytes()).unwrap();
            }
        }
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn store(&self) -> EmbeddedStore {
        EmbeddedStore::open(&self.dir.path().join("state/apid.db")).unwrap()
    }
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn printed_password(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap_or_else(|| panic!("no password printed: {stdout}"))
        .to_owned()
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

async fn login(base: &str, login: &str, password: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": login, "password": password}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_add_prints_a_password_once_that_logs_in_and_passwd_replaces_it() {
    let fx = std::sync::Arc::new(Fixture::new());
    let f = fx.clone();
    let out = blocking(move || {
        f.run(&[
            "user",
            "add",
            "alice",
            "--email",
            "Alice@Example.org",
            "--admin",
        ])
    })
    .await;
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let password = printed_password(&stdout);
    assert_eq!(password.len(), 20);
    assert_eq!(
        stdout.matches(&password).count(),
        1,
        "printed once: {stdout}"
    );
    assert!(!stderr(&out).contains(&password));

    let store = fx.store();
    let user = store.user_by_login("alice").await.unwrap().expect("stored");
    assert_eq!((user.role, user.status), (Role::Admin, UserStatus::Active));
    assert_eq!(user.email, "alice@example.org");
    let hash = user.password_hash.clone().unwrap().0;
    assert!(hash.starts_with("$2b$12$"), "bcrypt cost 12: {hash}");
    assert!(bcrypt::verify(&password, &hash).unwrap());

    // The real daemon on the same store: the printed password logs in.
    let mut config = Config::load(Some(&fx.config_path()), &Env::default()).unwrap();
    config.auth.jwt_secret = Some(twoine_apid::http::auth::Secret::new(SECRET));
    let daemon = twoine_apid::daemon::bind(config).await.unwrap();
    let base = format!("http://{}", daemon.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(daemon.serve(async {
        let _ = stopped.await;
    }));
    let (status, body) = login(&base, "alice", &password).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["data"]["user"]["username"], "alice");
    assert!(
        body["data"]["accessToken"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );

    // passwd from stdin: the new one logs in, the old one no longer does.
    let f = fx.clone();
    let out = blocking(move || {
        f.run_stdin(
            &["user", "passwd", "alice", "--password-stdin"],
            Some("New-Password-42\n"),
        )
    })
    .await;
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("New-Password-42"));
    let (status, _) = login(&base, "alice", "New-Password-42").await;
    assert_eq!(status, 200);
    let (status, body) = login(&base, "alice", &password).await;
    assert_eq!(status, 401, "{body}");

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[test]
fn user_add_from_stdin_roles_and_refusals() {
    let fx = Fixture::new();
    let out = fx.run_stdin(
        &[
            "user",
            "add",
            "bob",
            "--email",
            "bob@example.org",
            "--readonly",
            "--password-stdin",
        ],
        Some("Bob-Password-123\n"),
    );
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        !stdout.contains("password:"),
        "nothing generated, nothing printed: {stdout}"
    );
    assert!(!stdout.contains("Bob-Password-123"));
    fx.ok(&["user", "add", "carol", "--email", "carol@example.org"]);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = fx.store();
    let bob = rt.block_on(store.user_by_login("bob")).unwrap().unwrap();
    assert_eq!(bob.role, Role::Readonly);
    assert!(bcrypt::verify("Bob-Password-123", &bob.password_hash.unwrap().0).unwrap());
    let carol = rt.block_on(store.user_by_login("carol")).unwrap().unwrap();
    assert_eq!(carol.role, Role::User);

    // Bad name, bad e-mail, short password: usage errors (2), nothing written.
    for args in [
        vec!["user", "add", "Al", "--email", "al@example.org"],
        vec!["user", "add", "1alice", "--email", "al@example.org"],
        vec!["user", "add", "dave", "--email", "not-an-email"],
    ] {
        let out = fx.run(&args);
        assert_eq!(code(&out), Some(2), "{args:?}: {}", stderr(&out));
    }
    let out = fx.run_stdin(
        &[
            "user",
            "add",
            "dave",
            "--email",
            "d@example.org",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert_eq!(code(&out), Some(2));
    assert!(stderr(&out).contains("at least"));
    // Duplicate: 1, with a clear message.
    let out = fx.run(&["user", "add", "bob", "--email", "other@example.org"]);
    assert_eq!(code(&out), Some(1));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    let out = fx.run(&[
        "user",
        "add",
        "admin",
        "--email",
        "x@example.org",
        "--admin",
        "--readonly",
    ]);
    assert_eq!(code(&out), Some(2), "--admin and --readonly conflict");
    assert_eq!(rt.block_on(store.count_users()).unwrap(), 2);
}

#[test]
fn site_add_list_service_add_and_assign() {
    let fx = Fixture::new();
    fx.ok(&["user", "add", "owner", "--email", "owner@example.org"]);
    fx.ok(&["user", "add", "helper", "--email", "helper@example.org"]);
    fx.ok(&[
        "site",
        "add",
        "shop",
        "--owner",
        "owner",
        "--display-name",
        "The Shop",
        "--uid",
        "4242",
        "--gid",
        "4343",
    ]);
    fx.ok(&[
        "site",
        "add",
        "blog",
        "--owner",
        "owner",
        "--root",
        "/srv/blog",
    ]);
    fx.ok(&[
        "service", "add", "shop", "web", "--port", "3000", "--type", "node",
    ]);
    fx.ok(&[
        "service",
        "add",
        "shop",
        "worker",
        "--unit",
        "twoine-shop-jobs",
        "--desired",
        "stopped",
    ]);
    fx.ok(&["assign", "helper", "shop", "--access", "collaborator"]);

    let list = fx.ok(&["site", "list"]);
    assert!(
        list.contains("shop") && list.contains("The Shop") && list.contains("blog"),
        "{list}"
    );
    assert!(
        list.contains("twoine-shop-web") && list.contains("twoine-shop-jobs"),
        "{list}"
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = fx.store();
    let sites = rt.block_on(store.sites()).unwrap();
    let shop = sites.iter().find(|s| s.name == "shop").unwrap();
    let owner = rt.block_on(store.user_by_login("owner")).unwrap().unwrap();
    assert_eq!(shop.owner, owner.id);
    assert_eq!(shop.display_name, "The Shop");
    assert_eq!(shop.linux_user.username, "site_shop");
    assert_eq!(
        (shop.linux_user.uid, shop.linux_user.gid),
        (Some(4242), Some(4343))
    );
    assert_eq!(
        PathBuf::from(&shop.paths.root),
        fx.sites_dir().join("shop"),
        "default root: SITES_DIR/<name>"
    );
    let blog = sites.iter().find(|s| s.name == "blog").unwrap();
    assert_eq!(blog.paths.root, "/srv/blog");
    assert_eq!(blog.display_name, "blog");

    let services = rt.block_on(store.services_of_site(shop.id)).unwrap();
    let web = services.iter().find(|s| s.name == "web").unwrap();
    assert_eq!(web.systemd.service_name, "twoine-shop-web");
    assert_eq!((web.port, web.kind.as_str()), (Some(3000), "node"));
    assert_eq!(web.status.desired, DesiredState::Running);
    let worker = services.iter().find(|s| s.name == "worker").unwrap();
    assert_eq!(worker.systemd.service_name, "twoine-shop-jobs");
    assert_eq!(worker.status.desired, DesiredState::Stopped);

    let helper = rt.block_on(store.user_by_login("helper")).unwrap().unwrap();
    assert_eq!(helper.sites.len(), 1);
    assert_eq!(
        (helper.sites[0].site, helper.sites[0].access_level),
        (shop.id, AccessLevel::Collaborator)
    );
    // Assigning again replaces the level.
    fx.ok(&["assign", "helper", "shop", "--access", "readonly"]);
    let helper = rt.block_on(store.user_by_login("helper")).unwrap().unwrap();
    assert_eq!(helper.sites.len(), 1);
    assert_eq!(helper.sites[0].access_level, AccessLevel::Readonly);

    // Unassign takes the entry away; a second time changes nothing; the owner keeps the site.
    let out = fx.ok(&["unassign", "helper", "shop"]);
    assert_eq!(out, "helper no longer has access to shop\n");
    let helper = rt.block_on(store.user_by_login("helper")).unwrap().unwrap();
    assert!(helper.sites.is_empty(), "{:?}", helper.sites);
    assert!(
        rt.block_on(store.sites_of_user(helper.id))
            .unwrap()
            .is_empty()
    );
    let out = fx.ok(&["unassign", "helper", "shop"]);
    assert_eq!(
        out,
        "helper had no access entry for shop: nothing changed\n"
    );
    let out = fx.ok(&["unassign", "owner", "blog"]);
    assert_eq!(
        out,
        "owner had no access entry for blog: nothing changed\n\
         owner owns blog and keeps it (ownership is not an access entry)\n"
    );
    let owned: Vec<String> = rt
        .block_on(store.sites_of_user(owner.id))
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(owned, ["blog", "shop"]);
    fx.ok(&["assign", "helper", "shop", "--access", "readonly"]);

    // Refusals.
    let cases: [(&[&str], i32, &str); 10] = [
        (
            &["site", "add", "Bad_Name", "--owner", "owner"],
            2,
            "invalid site name",
        ),
        (
            &["site", "add", "shop", "--owner", "owner"],
            1,
            "already exists",
        ),
        (
            &["site", "add", "other", "--owner", "nobody"],
            1,
            "no user named nobody",
        ),
        (&["service", "add", "shop", "web"], 1, "already registered"),
        (
            &["service", "add", "nosite", "web"],
            1,
            "no site named nosite",
        ),
        (
            &["service", "add", "shop", "api", "--unit", "twoine-api"],
            2,
            "invalid unit",
        ),
        (&["assign", "helper", "shop", "--access", "admin"], 2, ""),
        (&["unassign", "nobody", "shop"], 1, "no user named nobody"),
        (&["unassign", "helper", "nosite"], 1, "no site named nosite"),
        (&["unassign", "helper"], 2, ""),
    ];
    for (args, want, text) in cases {
        let out = fx.run(args);
        assert_eq!(code(&out), Some(want), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(text), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(rt.block_on(store.count_sites()).unwrap(), 2);
    let helper = rt.block_on(store.user_by_login("helper")).unwrap().unwrap();
    assert_eq!(helper.sites.len(), 1, "refused unassigns change nothing");
}

#[test]
fn discover_registers_site_directories_once_and_warns_without_the_agent() {
    let fx = Fixture::new();
    for d in ["demo", "blog", "Not_A_Site", ".hidden"] {
        std::fs::create_dir(fx.sites_dir().join(d)).unwrap();
    }
    std::fs::write(fx.sites_dir().join("file"), "x").unwrap();

    // No admin yet: refused, with the command to run.
    let out = fx.run(&["discover"]);
    assert_eq!(code(&out), Some(1));
    assert!(stderr(&out).contains("user add"), "{}", stderr(&out));

    fx.ok(&[
        "user",
        "add",
        "root-admin",
        "--email",
        "r@example.org",
        "--admin",
    ]);
    fx.ok(&[
        "user",
        "add",
        "second",
        "--email",
        "s@example.org",
        "--admin",
    ]);
    let dry = fx.run(&["discover", "--dry-run"]);
    assert_eq!(code(&dry), Some(0));
    let dry_out = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry_out.contains("would register site blog")
            && dry_out.contains("would register site demo"),
        "{dry_out}"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = fx.store();
    assert_eq!(
        rt.block_on(store.count_sites()).unwrap(),
        0,
        "dry run writes nothing"
    );

    let out = fx.run(&["discover"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: cannot list the units"),
        "{}",
        stderr(&out)
    );
    let sites = rt.block_on(store.sites()).unwrap();
    let names: Vec<&str> = sites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["blog", "demo"]);
    let admin = rt
        .block_on(store.user_by_login("root-admin"))
        .unwrap()
        .unwrap();
    assert!(
        sites.iter().all(|s| s.owner == admin.id),
        "owner: the first admin"
    );
    assert_eq!(
        PathBuf::from(&sites[1].paths.root),
        fx.sites_dir().join("demo")
    );

    let again = fx.ok(&["discover"]);
    assert!(again.contains("registered 0 site(s)"), "{again}");
    assert_eq!(rt.block_on(store.count_sites()).unwrap(), 2);
}

#[test]
fn dropin_mode_refuses_writes_to_twoines_data() {
    let fx = Fixture::with("mode = \"dropin\"\n");
    // The drop-in config needs a MongoDB URI; nothing listens there, and nothing is tried.
    let out = {
        let mut cmd = Command::new(BIN);
        cmd.arg("--config").arg(fx.config_path()).args([
            "user",
            "add",
            "eve",
            "--email",
            "e@example.org",
        ]);
        for k in ENV_KEYS {
            cmd.env_remove(k);
        }
        cmd.env("MONGODB_URI", "mongodb://127.0.0.1:9/twoine")
            .output()
            .unwrap()
    };
    assert_eq!(code(&out), Some(1));
    assert!(stderr(&out).contains("drop-in mode"), "{}", stderr(&out));
}

#[test]
fn gen_secret_and_validate() {
    let fx = Fixture::new();
    let a = fx.ok(&["gen-secret"]);
    let b = fx.ok(&["gen-secret"]);
    assert_eq!(a.trim().len(), 64);
    assert!(a.trim().bytes().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);

    // Without a secret: the configuration is printed, then exit 2 with the hint.
    let out = fx.run(&["validate"]);
    assert_eq!(code(&out), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("jwt_secret = \"<unset>\""));
    assert!(stderr(&out).contains("openssl rand -hex 32"));

    let secret_file = fx.dir.path().join("jwt");
    std::fs::write(&secret_file, SECRET).unwrap();
    let text = std::fs::read_to_string(fx.config_path()).unwrap()
        + &format!("[auth]\njwt_secret_file = \"{}\"\n", secret_file.display());
    std::fs::write(fx.config_path(), text).unwrap();
    let out = fx.run(&["validate"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("jwt_secret = \"<set>\""), "{stdout}");
    assert!(!stdout.contains(SECRET) && !stderr(&out).contains(SECRET));

    // An unknown field: exit 2, the field named.
    std::fs::write(fx.config_path(), "colour = \"blue\"\n").unwrap();
    let out = fx.run(&["validate"]);
    assert_eq!(code(&out), Some(2));
    assert!(stderr(&out).contains("colour"), "{}", stderr(&out));
    let _ = Path::new(BIN);
}
