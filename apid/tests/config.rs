//! Configuration: the shipped example is the defaults, environment overrides, the drop-in
//! `.env`, and every refusal (no secret, short secret, unknown field, bad listen...).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Duration;

use twoine_apid::config::{Config, ConfigError, Env, StoreConfig};
use twoine_apid::http::Mode;

const SECRET: &str = "0123456789abcdef0123456789abcdef-long-enough";

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, "test.toml", &Env::default())
}

fn parse_env(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_toml(text, "test.toml", &Env::from_pairs(env.iter().copied()))
}

fn invalid(r: Result<Config, ConfigError>) -> String {
    match r {
        Err(e @ (ConfigError::Invalid(_) | ConfigError::Parse { .. })) => e.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn the_shipped_example_is_the_defaults() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/apid.example.toml")).unwrap();
    let example = parse(&text).unwrap();
    assert_eq!(example, Config::default());
    assert_eq!(example.listen.to_string(), "127.0.0.1:3001");
    assert_eq!(example.mode, Mode::Standalone);
    assert_eq!(
        example.store,
        StoreConfig::Embedded {
            path: PathBuf::from("/var/lib/twoine/apid.db")
        }
    );
    assert_eq!(
        example.agent.socket,
        PathBuf::from("/run/twoine/agent.sock")
    );
    assert_eq!(example.sites_dir, PathBuf::from("/var/www/twoine"));
    assert_eq!(example.auth.access_ttl, Duration::from_secs(24 * 3600));
    assert_eq!(example.auth.refresh_ttl, Duration::from_secs(7 * 86_400));
    assert!(example.auth.jwt_secret.is_none());
    assert_eq!(
        parse("").unwrap(),
        example,
        "an empty file is the defaults too"
    );
}

#[test]
fn environment_overrides_the_file() {
    let c = parse_env(
        "listen = \"127.0.0.1:4000\"\nsites_dir = \"/srv/a\"\n[auth]\njwt_secret = \"file-secret-file-secret-file-secret!\"\naccess_ttl = 60\n",
        &[
            ("JWT_SECRET", SECRET),
            ("JWT_EXPIRES_IN", "30m"),
            ("JWT_REFRESH_EXPIRES_IN", "2d"),
            ("SITES_DIR", "/srv/sites"),
            ("TWOINE_APID_LISTEN", "0.0.0.0:3101"),
            ("MONGODB_URI", "mongodb://db.example:27017/panel?authSource=admin"),
        ],
    )
    .unwrap();
    assert_eq!(c.require_secret().unwrap().expose(), SECRET);
    assert_eq!(c.auth.access_ttl, Duration::from_secs(1800));
    assert_eq!(c.auth.refresh_ttl, Duration::from_secs(2 * 86_400));
    assert_eq!(c.sites_dir, PathBuf::from("/srv/sites"));
    assert_eq!(c.listen.to_string(), "0.0.0.0:3101");
    match &c.store {
        StoreConfig::Mongo { uri, database } => {
            assert_eq!(
                uri.expose(),
                "mongodb://db.example:27017/panel?authSource=admin"
            );
            assert_eq!(database, "panel");
        }
        other => panic!("MONGODB_URI selects MongoDB, got {other:?}"),
    }
}

#[test]
fn file_values_and_ttl_forms() {
    let c = parse(
        "[auth]\naccess_ttl = \"7d\"\nrefresh_ttl = 3600\n[store]\nkind = \"mongodb\"\nuri = \"mongodb://h\"\n[agent]\nsocket = \"/tmp/a.sock\"\ncall_timeout_secs = 5\n",
    )
    .unwrap();
    assert_eq!(c.auth.access_ttl, Duration::from_secs(7 * 86_400));
    assert_eq!(c.auth.refresh_ttl, Duration::from_secs(3600));
    assert_eq!(c.agent.call_timeout, Duration::from_secs(5));
    assert!(
        matches!(&c.store, StoreConfig::Mongo { database, .. } if database == "twoine"),
        "no database in the URI: twoine"
    );
}

#[test]
fn serve_refuses_without_a_secret_and_says_how_to_make_one() {
    let c = parse("").unwrap();
    let e = c.require_secret().unwrap_err();
    assert!(matches!(e, ConfigError::MissingSecret));
    let msg = e.to_string();
    assert!(msg.contains("openssl rand -hex 32"), "{msg}");
    assert!(msg.contains("twoine-apid gen-secret"), "{msg}");
}

#[test]
fn serve_refuses_a_short_secret() {
    let c = parse_env("", &[("JWT_SECRET", "0123456789abcdef0123456789abcde")]).unwrap();
    let e = c.require_secret().unwrap_err();
    assert!(matches!(e, ConfigError::ShortSecret(31)), "{e:?}");
    assert!(
        !e.to_string().contains("0123456789abcdef"),
        "the secret is never repeated"
    );
    let ok = parse_env("", &[("JWT_SECRET", "0123456789abcdef0123456789abcdef")]).unwrap();
    assert!(ok.require_secret().is_ok(), "32 bytes are enough");
}

#[test]
fn secret_from_a_file_and_not_both() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwt");
    std::fs::write(&path, format!("{SECRET}\n")).unwrap();
    let c = parse(&format!(
        "[auth]\njwt_secret_file = {:?}\n",
        path.to_str().unwrap()
    ))
    .unwrap();
    assert_eq!(
        c.require_secret().unwrap().expose(),
        SECRET,
        "trailing newline trimmed"
    );
    let both = parse(&format!(
        "[auth]\njwt_secret = \"{SECRET}\"\njwt_secret_file = {:?}\n",
        path.to_str().unwrap()
    ));
    assert!(invalid(both).contains("not both"));
    let missing = parse("[auth]\njwt_secret_file = \"/nonexistent/jwt\"\n");
    assert!(invalid(missing).contains("/nonexistent/jwt"));
}

#[test]
fn unknown_fields_are_refused_everywhere() {
    assert!(invalid(parse("lisen = \"127.0.0.1:1\"\n")).contains("lisen"));
    assert!(invalid(parse("[store]\nfile = \"x\"\n")).contains("file"));
    assert!(invalid(parse("[auth]\nsecret = \"x\"\n")).contains("secret"));
    assert!(invalid(parse("[notify]\nhooks = []\n")).contains("hooks"));
    assert!(invalid(parse("[other]\n")).contains("other"));
}

#[test]
fn bad_values_are_refused_with_their_field() {
    assert!(invalid(parse("listen = \"localhost\"\n")).contains("listen"));
    assert!(invalid(parse_env("", &[("TWOINE_APID_LISTEN", "3001")])).contains("listen"));
    assert!(invalid(parse("mode = \"other\"\n")).contains("other"));
    assert!(invalid(parse("[auth]\naccess_ttl = \"1y\"\n")).contains("access_ttl"));
    assert!(invalid(parse_env("", &[("JWT_EXPIRES_IN", "soon")])).contains("JWT_EXPIRES_IN"));
    assert!(invalid(parse("[agent]\ncall_timeout_secs = 0\n")).contains("call_timeout_secs"));
    assert!(invalid(parse("sites_dir = \"relative\"\n")).contains("sites_dir"));
    assert!(invalid(parse("[store]\nkind = \"mongodb\"\n")).contains("uri"));
    assert!(invalid(parse("[notify]\nqueue_capacity = 0\n")).contains("queue_capacity"));
    let bad_uri = invalid(parse(
        "[store]\nkind = \"mongodb\"\nuri = \"http://u:hunter2@h\"\n",
    ));
    assert!(
        bad_uri.contains("mongodb://") && !bad_uri.contains("hunter2"),
        "{bad_uri}"
    );
}

#[test]
fn dropin_reads_twoines_env_file_and_the_real_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join(".env");
    std::fs::write(
        &env_file,
        "# Twoine\nNODE_ENV=production\nMONGODB_URI=\"mongodb://127.0.0.1:27017/twoine\"\n\
         JWT_SECRET='from-the-env-file-0123456789abcdef'\nSITES_DIR=/var/www/twoine # installer\n\
         JWT_EXPIRES_IN=12h\n",
    )
    .unwrap();
    let text = format!(
        "mode = \"dropin\"\ndropin_env_file = {:?}\n",
        env_file.to_str().unwrap()
    );
    let c = parse(&text).unwrap();
    assert_eq!(c.mode, Mode::DropIn);
    assert_eq!(
        c.require_secret().unwrap().expose(),
        "from-the-env-file-0123456789abcdef"
    );
    assert_eq!(c.auth.access_ttl, Duration::from_secs(12 * 3600));
    assert!(matches!(&c.store, StoreConfig::Mongo { database, .. } if database == "twoine"));
    let c = parse_env(&text, &[("JWT_SECRET", SECRET), ("JWT_EXPIRES_IN", "1h")]).unwrap();
    assert_eq!(
        c.require_secret().unwrap().expose(),
        SECRET,
        "the real environment wins"
    );
    assert_eq!(c.auth.access_ttl, Duration::from_secs(3600));
}

#[test]
fn dropin_without_mongodb_is_refused() {
    assert!(invalid(parse("mode = \"dropin\"\n")).contains("MongoDB"));
}

#[test]
fn an_explicit_missing_file_is_an_error() {
    let e = Config::load(
        Some(std::path::Path::new("/nonexistent/apid.toml")),
        &Env::default(),
    )
    .unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    assert!(e.to_string().contains("/nonexistent/apid.toml"));
}

#[test]
fn secrets_never_show_in_debug_or_describe() {
    let c = parse_env(
        "[store]\nkind = \"mongodb\"\nuri = \"mongodb://user:hunter2@h/db\"\n",
        &[("JWT_SECRET", SECRET)],
    )
    .unwrap();
    for text in [format!("{c:?}"), c.describe()] {
        assert!(!text.contains(SECRET), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
    let d = c.describe();
    assert!(d.contains("jwt_secret = \"<set>\""), "{d}");
    assert!(d.contains("uri = \"<set>\""), "{d}");
    assert!(d.contains("database = \"db\""), "{d}");
}
